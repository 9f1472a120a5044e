//! Docker token scopes (`repository:<name>:<actions>`, `registry:catalog:*`),
//! as clients send them to `/oauth2/token` and as challenges name them.
//!
//! `repository:*:<actions>` (acr-cli asks `repository:*:*`, acr-auth.md
//! §3.5, §4.4) is [`Scope::AllRepositories`]: on a registry in RBAC mode it
//! yields a token usable on any repository (its `access` entry has
//! `name: "*"`), on an ABAC registry it is silently ignored — `authorize`
//! grants nothing for it there.

use std::fmt;

use acrylic_model::RepositoryName;

use crate::{Action, RepoAction};

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Repository {
        name: RepositoryName,
        actions: Vec<RepoAction>,
    },
    /// `repository:*:<actions>`: every repository of the registry.
    AllRepositories {
        actions: Vec<RepoAction>,
    },
    Catalog,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeError(pub String);

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid scope: {}", self.0)
    }
}

impl std::error::Error for ScopeError {}

impl Scope {
    /// Parses one scope. Unknown actions are dropped (distribution does the
    /// same); an unknown resource type or a bad repository name is an error.
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        let (kind, rest) = s.split_once(':').ok_or_else(|| ScopeError(s.into()))?;
        let (name, actions) = rest.rsplit_once(':').ok_or_else(|| ScopeError(s.into()))?;
        match kind {
            "registry" if name == "catalog" => Ok(Scope::Catalog),
            "repository" if name == "*" => Ok(Scope::AllRepositories {
                actions: parse_actions(actions),
            }),
            "repository" => {
                let name =
                    RepositoryName::parse(name).map_err(|e| ScopeError(format!("{s}: {e}")))?;
                Ok(Scope::Repository {
                    name,
                    actions: parse_actions(actions),
                })
            }
            _ => Err(ScopeError(s.into())),
        }
    }

    /// Parses every scope in a list of `scope` values, each of which may hold
    /// several space-separated scopes (containerd, acr-cli).
    pub fn parse_all<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Scope>, ScopeError> {
        let mut out = Vec::new();
        for v in values {
            for s in v.split(' ').filter(|s| !s.is_empty()) {
                out.push(Scope::parse(s)?);
            }
        }
        Ok(out)
    }

    pub fn actions(&self) -> Vec<Action> {
        match self {
            Scope::Repository { actions, .. } | Scope::AllRepositories { actions } => {
                actions.iter().map(|a| Action::Repository(*a)).collect()
            }
            Scope::Catalog => vec![Action::CatalogList],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Catalog => f.write_str("registry:catalog:*"),
            Scope::Repository { name, actions } => {
                write!(f, "repository:{name}:{}", join(actions))
            }
            Scope::AllRepositories { actions } => write!(f, "repository:*:{}", join(actions)),
        }
    }
}

fn join(actions: &[RepoAction]) -> String {
    let a: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
    a.join(",")
}

/// Comma-separated actions; `*` is all of them, unknown ones are dropped.
fn parse_actions(actions: &str) -> Vec<RepoAction> {
    let mut acts = Vec::new();
    for a in actions.split(',') {
        let list: Vec<RepoAction> = if a == "*" {
            RepoAction::ALL.to_vec()
        } else {
            RepoAction::parse(a).into_iter().collect()
        };
        for x in list {
            if !acts.contains(&x) {
                acts.push(x);
            }
        }
    }
    acts
}

/// Scope-map repository patterns: an exact name, `*`, or `prefix/*`
/// (one trailing wildcard only, per ACR).
pub(crate) fn repository_pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty()),
        None => pattern == name,
    }
}
