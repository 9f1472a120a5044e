//! Docker token scopes (`repository:<name>:<actions>`, `registry:catalog:*`),
//! as clients send them to `/oauth2/token` and as challenges name them.

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
            "repository" => {
                let name =
                    RepositoryName::parse(name).map_err(|e| ScopeError(format!("{s}: {e}")))?;
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
                Ok(Scope::Repository {
                    name,
                    actions: acts,
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
            Scope::Repository { actions, .. } => {
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
                let a: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
                write!(f, "repository:{name}:{}", a.join(","))
            }
        }
    }
}

/// Scope-map repository patterns: an exact name, `*`, or `prefix/*`
/// (one trailing wildcard only, per ACR).
pub(crate) fn repository_pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => {
            name.len() > prefix.len() + 1
                && name.starts_with(prefix)
                && name.as_bytes()[prefix.len()] == b'/'
        }
        None => pattern == name,
    }
}
