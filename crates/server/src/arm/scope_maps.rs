//! Scope maps (`Microsoft.ContainerRegistry/registries/scopeMaps`,
//! acr-auth.md §6.4, §6.7): the per-repository permissions of
//! repository-scoped tokens.
//!
//! What this module owns:
//! - the rules of a scope map's actions, `repositories/<repo>/<action>`
//!   with `<action>` one of `content/read|write|delete`,
//!   `metadata/read|write`, and the repository an exact name, `*` (the
//!   whole registry) or a prefix ending in `/*` — one trailing wildcard,
//!   nothing else (`a/*/b`, `a*` are refused). Actions are lowercased, as
//!   the CLI lowercases them, and mapped to the Docker token actions
//!   `authorize` decides on ([`parse_action`]; spec §6.3: content/read →
//!   pull, content/write → push, content/delete → delete, metadata/read →
//!   metadata_read, metadata/write → metadata_write). Rules are additive
//!   and name repositories, existing or not;
//! - the five system scope maps, which exist in every registry, are never
//!   stored and cannot be created, changed or deleted
//!   ([`SYSTEM_SCOPE_MAPS`]);
//! - the ARM handlers: list, get, PUT (create or replace), PATCH, DELETE
//!   (refused while a token uses the map), each behind the `Permit` the
//!   dispatcher obtained for `scopeMaps/read|write|delete`; changes are
//!   written to the registry's audit log;
//! - limits (§8): 500 actions and 500 repositories per scope map, scope
//!   maps per registry by SKU.
//!
//! A change to a scope map applies to its tokens at once: the token
//! service and the data-plane gate load the token's current map on every
//! decision (`crate::token::grants_for` → [`super::tokens::current_rules`]).

use acrylic_authz::{Permit, RepoAction, ScopeMapRule};
use acrylic_model::{RegistryId, RepositoryName};
use acrylic_store::{Registry, ScopeMapRecord, StoreError};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ArmError;
use super::registries;
use super::route::RegistryPath;
use super::{Request, shapes};
use crate::AppState;

pub const SCOPE_MAP_TYPE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps";

/// At most this many actions per scope map (acr-auth.md §8).
pub const MAX_ACTIONS: usize = 500;
/// At most this many repositories per scope map (acr-auth.md §8).
pub const MAX_REPOSITORIES: usize = 500;
/// ARM's `description` limit for scope maps.
pub const MAX_DESCRIPTION: usize = 256;

/// Scope maps (or tokens) per registry, by SKU (acr-auth.md §8): Basic
/// 100, Standard 500, Premium 50,000.
pub fn per_registry_limit(sku: &str) -> usize {
    match sku {
        "Premium" => 50_000,
        "Standard" => 500,
        _ => 100,
    }
}

/// A scope map's name: 5–50 of `[a-zA-Z0-9-_]` (acr-auth.md §6.7). Names
/// compare case-insensitively, as Azure resource names do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeMapName(String);

impl ScopeMapName {
    pub fn parse(s: &str) -> Result<ScopeMapName, ArmError> {
        let invalid = |reason: &str| ArmError::InvalidResourceName {
            kind: "scope map",
            name: s.chars().take(100).collect(),
            reason: reason.to_owned(),
        };
        if !(5..=50).contains(&s.len()) {
            return Err(invalid("it must be 5 to 50 characters long"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "only letters, digits, '-' and '_' are allowed (^[a-zA-Z0-9-_]*$)",
            ));
        }
        Ok(ScopeMapName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A system-defined scope map (acr-auth.md §6.4, descriptions verbatim).
#[derive(Debug)]
pub struct SystemScopeMap {
    pub name: &'static str,
    pub description: &'static str,
    pub actions: &'static [&'static str],
}

pub const SYSTEM_SCOPE_MAPS: [SystemScopeMap; 5] = [
    SystemScopeMap {
        name: "_repositories_admin",
        description: "Can perform all read, write and delete operations on the registry",
        actions: &[
            "repositories/*/metadata/read",
            "repositories/*/metadata/write",
            "repositories/*/content/read",
            "repositories/*/content/write",
            "repositories/*/content/delete",
        ],
    },
    SystemScopeMap {
        name: "_repositories_pull",
        description: "Can pull any repository of the registry",
        actions: &["repositories/*/content/read"],
    },
    SystemScopeMap {
        name: "_repositories_pull_metadata_read",
        description: "Can perform all read operations on the registry",
        actions: &[
            "repositories/*/content/read",
            "repositories/*/metadata/read",
        ],
    },
    SystemScopeMap {
        name: "_repositories_push",
        description: "Can push to any repository of the registry",
        actions: &[
            "repositories/*/content/read",
            "repositories/*/content/write",
        ],
    },
    SystemScopeMap {
        name: "_repositories_push_metadata_write",
        description: "Can perform all read and write operations on the registry",
        actions: &[
            "repositories/*/metadata/read",
            "repositories/*/metadata/write",
            "repositories/*/content/read",
            "repositories/*/content/write",
        ],
    },
];

/// The system scope map of that name (case-insensitively), if any.
pub fn system(name: &str) -> Option<&'static SystemScopeMap> {
    SYSTEM_SCOPE_MAPS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}

/// The scope-map actions and the Docker actions they grant (spec §6.3).
const ACTIONS: [(&str, RepoAction); 5] = [
    ("content/read", RepoAction::Pull),
    ("content/write", RepoAction::Push),
    ("content/delete", RepoAction::Delete),
    ("metadata/read", RepoAction::MetadataRead),
    ("metadata/write", RepoAction::MetadataWrite),
];

/// Parses one scope-map action into its normalised (lowercased) text and
/// the rule `authorize` applies; `Err` says what is wrong.
pub fn parse_action(raw: &str) -> Result<(String, ScopeMapRule), String> {
    let text = raw.trim().to_ascii_lowercase();
    if text.starts_with("gateway/") {
        return Err(format!(
            "{raw:?}: connected-registry gateway actions are not supported"
        ));
    }
    let Some(rest) = text.strip_prefix("repositories/") else {
        return Err(format!(
            "{raw:?}: an action has the form repositories/<repository>/<action>"
        ));
    };
    let Some((repository, action)) = ACTIONS.iter().find_map(|(suffix, action)| {
        rest.strip_suffix(suffix)
            .and_then(|r| r.strip_suffix('/'))
            .map(|r| (r, *action))
    }) else {
        return Err(format!(
            "{raw:?}: the action must end in one of content/read, content/write, content/delete, \
             metadata/read, metadata/write"
        ));
    };
    check_repository_pattern(repository).map_err(|why| format!("{raw:?}: {why}"))?;
    Ok((
        text.clone(),
        ScopeMapRule {
            repository: repository.to_owned(),
            action,
        },
    ))
}

/// `*`, a repository name, or a repository name followed by `/*`
/// (acr-auth.md §6.4: one trailing wildcard only).
fn check_repository_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let (name, wildcard) = match pattern.strip_suffix("/*") {
        Some(prefix) => (prefix, true),
        None => (pattern, false),
    };
    if name.contains('*') {
        return Err(format!(
            "the repository {pattern:?} has a wildcard that is not at the end: only `*` or a \
             prefix ending in `/*` (e.g. `samples/*`) is allowed"
        ));
    }
    RepositoryName::parse(name).map_err(|e| {
        if wildcard {
            format!("the repository prefix {name:?} is not a repository name: {e}")
        } else {
            format!("{pattern:?} is not a repository name: {e}")
        }
    })?;
    Ok(())
}

/// Validates and normalises a scope map's actions: each one parses, no
/// duplicates (the first is kept), within the limits, at least one.
pub fn validate_actions(actions: &[String]) -> Result<Vec<String>, ArmError> {
    let invalid = |reason: String| ArmError::InvalidParameter {
        parameter: "properties.actions",
        reason,
    };
    if actions.is_empty() {
        return Err(invalid(
            "a scope map needs at least one action, such as repositories/<repository>/content/read"
                .into(),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(actions.len());
    let mut repositories: Vec<String> = Vec::new();
    for a in actions {
        let (text, rule) = parse_action(a).map_err(invalid)?;
        if !out.contains(&text) {
            out.push(text);
        }
        if !repositories.contains(&rule.repository) {
            repositories.push(rule.repository);
        }
    }
    if out.len() > MAX_ACTIONS {
        return Err(invalid(format!(
            "{} actions: a scope map holds at most {MAX_ACTIONS}",
            out.len()
        )));
    }
    if repositories.len() > MAX_REPOSITORIES {
        return Err(invalid(format!(
            "{} repositories: a scope map names at most {MAX_REPOSITORIES}",
            repositories.len()
        )));
    }
    Ok(out)
}

/// The rules of stored actions; an action that no longer parses grants
/// nothing (deny by default) and is logged.
pub fn rules<S: AsRef<str>>(actions: &[S]) -> Vec<ScopeMapRule> {
    actions
        .iter()
        .filter_map(|a| match parse_action(a.as_ref()) {
            Ok((_, rule)) => Some(rule),
            Err(why) => {
                tracing::warn!(%why, "ignoring a stored scope-map action that does not parse");
                None
            }
        })
        .collect()
}

/// A scope map of a registry: system-defined or the registry's own.
#[derive(Debug, Clone)]
pub enum ScopeMap {
    System(&'static SystemScopeMap),
    User(ScopeMapRecord),
}

impl ScopeMap {
    pub fn name(&self) -> &str {
        match self {
            ScopeMap::System(m) => m.name,
            ScopeMap::User(m) => &m.name,
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self, ScopeMap::System(_))
    }

    pub fn rules(&self) -> Vec<ScopeMapRule> {
        match self {
            ScopeMap::System(m) => rules(m.actions),
            ScopeMap::User(m) => rules(&m.actions),
        }
    }
}

/// The scope map `name` of registry `reg` (case-insensitively), if any.
pub async fn find(
    state: &AppState,
    reg: &RegistryId,
    name: &str,
) -> Result<Option<ScopeMap>, StoreError> {
    if let Some(m) = system(name) {
        return Ok(Some(ScopeMap::System(m)));
    }
    Ok(state
        .meta
        .find_scope_map(reg, name)
        .await?
        .map(ScopeMap::User))
}

/// The ARM id of a registry's scope map.
pub fn id(registry: &Registry, name: &str) -> String {
    format!("{}/scopeMaps/{name}", registry.arm_scope())
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A scope map in ARM's shape (acr-auth.md §6.7). System maps carry the
/// registry's creation time.
pub fn shape(registry: &Registry, m: &ScopeMap) -> Value {
    let (name, description, kind, created, updated, actions): (
        &str,
        Option<&str>,
        &str,
        OffsetDateTime,
        OffsetDateTime,
        Vec<&str>,
    ) = match m {
        ScopeMap::System(s) => (
            s.name,
            Some(s.description),
            "SystemDefined",
            registry.created_at,
            registry.created_at,
            s.actions.to_vec(),
        ),
        ScopeMap::User(u) => (
            &u.name,
            u.description.as_deref(),
            "UserDefined",
            u.created_at,
            u.updated_at,
            u.actions.iter().map(String::as_str).collect(),
        ),
    };
    json!({
        "id": id(registry, name),
        "name": name,
        "type": SCOPE_MAP_TYPE,
        "systemData": {
            "createdAt": time(created),
            "lastModifiedAt": time(updated),
        },
        "properties": {
            "description": description,
            "type": kind,
            "creationDate": time(created),
            "provisioningState": "Succeeded",
            "actions": actions,
        },
    })
}

/// `PUT`/`PATCH …/scopeMaps/{name}`: `{"properties": {"description"?,
/// "actions"?}}`.
#[derive(Debug, Default, Deserialize)]
struct ScopeMapBody {
    #[serde(default)]
    properties: ScopeMapProperties,
}

#[derive(Debug, Default, Deserialize)]
struct ScopeMapProperties {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    actions: Option<Vec<String>>,
}

fn check_description(d: Option<String>) -> Result<Option<String>, ArmError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(ArmError::InvalidParameter {
            parameter: "properties.description",
            reason: format!("it is longer than {MAX_DESCRIPTION} characters"),
        }),
        Some(d) if d.is_empty() => Ok(None),
        d => Ok(d),
    }
}

fn not_found(path: &RegistryPath, name: &str) -> ArmError {
    ArmError::ChildResourceNotFound {
        kind: "scopeMaps",
        name: name.to_owned(),
        registry: path.name.to_string(),
        resource_group: path.resource_group.clone(),
    }
}

/// `GET …/scopeMaps`: the system maps, then the registry's own by name.
pub async fn list(
    state: &AppState,
    path: &RegistryPath,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let registry = registries::find(state, path).await?;
    let mut items: Vec<Value> = SYSTEM_SCOPE_MAPS
        .iter()
        .map(|m| shape(&registry, &ScopeMap::System(m)))
        .collect();
    for m in state.meta.list_scope_maps(&registry.id).await? {
        items.push(shape(&registry, &ScopeMap::User(m)));
    }
    Ok(shapes::list(items))
}

pub async fn get(
    state: &AppState,
    path: &RegistryPath,
    name: &ScopeMapName,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let registry = registries::find(state, path).await?;
    let m = find(state, &registry.id, name.as_str())
        .await?
        .ok_or_else(|| not_found(path, name.as_str()))?;
    Ok(shape(&registry, &m))
}

/// `PUT`: create (201) or replace (200) a user-defined scope map.
pub async fn put(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &ScopeMapName,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    if system(name.as_str()).is_some() {
        return Err(ArmError::SystemScopeMapReadOnly {
            name: name.as_str().to_owned(),
        });
    }
    let body: ScopeMapBody = shapes::parse_body(&req.body)?;
    let actions = validate_actions(&body.properties.actions.unwrap_or_default())?;
    let description = check_description(body.properties.description)?;
    let registry = registries::find(state, path).await?;
    let now = super::now_millis();
    let (record, status) = match state
        .meta
        .find_scope_map(&registry.id, name.as_str())
        .await?
    {
        Some(mut existing) => {
            existing.description = description;
            existing.actions = actions;
            existing.updated_at = now;
            state.meta.update_scope_map(&existing).await?;
            (existing, StatusCode::OK)
        }
        None => {
            let limit = per_registry_limit(&registry.sku);
            if state.meta.list_scope_maps(&registry.id).await?.len() >= limit {
                return Err(ArmError::QuotaExceeded {
                    what: "scope maps",
                    limit,
                    sku: registry.sku.clone(),
                });
            }
            let record = ScopeMapRecord {
                registry_id: registry.id.clone(),
                name: name.as_str().to_owned(),
                description,
                actions,
                created_at: now,
                updated_at: now,
            };
            match state.meta.create_scope_map(&record).await {
                Ok(()) => (record, StatusCode::CREATED),
                // Created meanwhile by another request: replace it, as a
                // PUT that came second would have.
                Err(StoreError::Conflict { .. }) => {
                    state.meta.update_scope_map(&record).await?;
                    (record, StatusCode::OK)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let verb = if status == StatusCode::CREATED {
        "scopemap.create"
    } else {
        "scopemap.update"
    };
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        verb,
        Some(format!("{}: {}", record.name, record.actions.join(" "))),
    )
    .await;
    Ok((status, shape(&registry, &ScopeMap::User(record))))
}

/// `PATCH`: the description and/or the actions of a user-defined map.
pub async fn patch(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &ScopeMapName,
    permit: Permit,
) -> Result<Value, ArmError> {
    let registry = registries::find(state, path).await?;
    if system(name.as_str()).is_some() {
        return Err(ArmError::SystemScopeMapReadOnly {
            name: name.as_str().to_owned(),
        });
    }
    let body: ScopeMapBody = shapes::parse_body(&req.body)?;
    let mut record = state
        .meta
        .find_scope_map(&registry.id, name.as_str())
        .await?
        .ok_or_else(|| not_found(path, name.as_str()))?;
    if let Some(actions) = body.properties.actions {
        record.actions = validate_actions(&actions)?;
    }
    if body.properties.description.is_some() {
        record.description = check_description(body.properties.description)?;
    }
    record.updated_at = super::now_millis();
    state
        .meta
        .update_scope_map(&record)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => not_found(path, name.as_str()),
            e => e.into(),
        })?;
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        "scopemap.update",
        Some(format!("{}: {}", record.name, record.actions.join(" "))),
    )
    .await;
    Ok(shape(&registry, &ScopeMap::User(record)))
}

/// `DELETE`: 200 when deleted, 204 when there was none; refused for a
/// system map and while tokens use the map.
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &ScopeMapName,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let registry = registries::find(state, path).await?;
    if system(name.as_str()).is_some() {
        return Err(ArmError::SystemScopeMapReadOnly {
            name: name.as_str().to_owned(),
        });
    }
    let in_use = || async {
        let tokens: Vec<String> = state
            .meta
            .list_repository_tokens(&registry.id)
            .await?
            .into_iter()
            .filter(|t| !t.system_scope_map && t.scope_map.eq_ignore_ascii_case(name.as_str()))
            .map(|t| t.name)
            .collect();
        Ok::<_, ArmError>(tokens)
    };
    let users = in_use().await?;
    if !users.is_empty() {
        return Err(ArmError::ScopeMapInUse {
            name: name.as_str().to_owned(),
            tokens: users,
        });
    }
    let deleted = match state
        .meta
        .delete_scope_map(&registry.id, name.as_str())
        .await
    {
        Ok(d) => d,
        // A token took it up meanwhile (the database's foreign key).
        Err(StoreError::Conflict { .. }) => {
            return Err(ArmError::ScopeMapInUse {
                name: name.as_str().to_owned(),
                tokens: in_use().await?,
            });
        }
        Err(e) => return Err(e.into()),
    };
    if !deleted {
        return Ok(StatusCode::NO_CONTENT);
    }
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        "scopemap.delete",
        Some(name.as_str().to_owned()),
    )
    .await;
    Ok(StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(repository: &str, action: RepoAction) -> ScopeMapRule {
        ScopeMapRule {
            repository: repository.into(),
            action,
        }
    }

    #[test]
    fn actions_parse_into_rules() {
        for (text, want) in [
            (
                "repositories/samples/hello-world/content/read",
                rule("samples/hello-world", RepoAction::Pull),
            ),
            ("repositories/*/content/write", rule("*", RepoAction::Push)),
            (
                "repositories/samples/*/content/delete",
                rule("samples/*", RepoAction::Delete),
            ),
            (
                "Repositories/Team/App/Metadata/Read",
                rule("team/app", RepoAction::MetadataRead),
            ),
            (
                "repositories/a/metadata/write",
                rule("a", RepoAction::MetadataWrite),
            ),
            // A repository whose last segment looks like an action word.
            (
                "repositories/content/read/content/read",
                rule("content/read", RepoAction::Pull),
            ),
        ] {
            let (normalised, got) = parse_action(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, want, "{text}");
            assert_eq!(normalised, text.to_ascii_lowercase());
        }
    }

    #[test]
    fn bad_actions_are_refused_with_a_reason() {
        for (text, says) in [
            ("repositories/a/*/b/content/read", "not at the end"),
            ("repositories/a*/content/read", "not at the end"),
            ("repositories/sample/teama*/content/read", "not at the end"),
            ("repositories/a/*/b/*/content/read", "not at the end"),
            ("repositories/*/*/content/read", "not at the end"),
            ("repositories/a/content/list", "must end in"),
            ("repositories/a/contentWrite", "must end in"),
            ("repositories/content/read", "must end in"),
            ("repositories//content/read", "not a repository name"),
            ("repositories/-bad/content/read", "not a repository name"),
            ("repositories/a//b/content/read", "not a repository name"),
            (
                "registry/catalog/read",
                "repositories/<repository>/<action>",
            ),
            ("gateway/edge/config/read", "gateway"),
            ("", "repositories/<repository>/<action>"),
        ] {
            match parse_action(text) {
                Ok(r) => panic!("{text:?} accepted as {r:?}"),
                Err(e) => assert!(e.contains(says), "{text:?}: {e}"),
            }
        }
    }

    #[test]
    fn validation_dedupes_and_enforces_limits() {
        let got = validate_actions(&[
            "repositories/a/content/read".into(),
            "REPOSITORIES/A/CONTENT/READ".into(),
            "repositories/a/content/write".into(),
        ])
        .expect("valid");
        assert_eq!(
            got,
            vec![
                "repositories/a/content/read",
                "repositories/a/content/write"
            ]
        );
        assert!(validate_actions(&[]).is_err());
        let many: Vec<String> = (0..=MAX_REPOSITORIES)
            .map(|i| format!("repositories/r{i}/content/read"))
            .collect();
        assert!(matches!(
            validate_actions(&many),
            Err(ArmError::InvalidParameter { .. })
        ));
        assert!(validate_actions(&many[..MAX_REPOSITORIES]).is_ok());
        // 500 actions over 100 repositories fit; 501 do not.
        let actions: Vec<String> = (0..100)
            .flat_map(|i| {
                ACTIONS
                    .iter()
                    .map(move |(a, _)| format!("repositories/r{i}/{a}"))
            })
            .collect();
        assert_eq!(actions.len(), MAX_ACTIONS);
        assert!(validate_actions(&actions).is_ok());
        let mut over = actions.clone();
        over.push("repositories/extra/content/read".into());
        assert!(validate_actions(&over).is_err());
    }

    #[test]
    fn system_maps_are_valid_and_found_case_insensitively() {
        for m in &SYSTEM_SCOPE_MAPS {
            let normalised: Vec<String> = m.actions.iter().map(|a| (*a).to_owned()).collect();
            assert_eq!(validate_actions(&normalised).expect("valid"), normalised);
            assert!(ScopeMapName::parse(m.name).is_ok(), "{}", m.name);
            assert_eq!(rules(m.actions).len(), m.actions.len());
        }
        assert_eq!(
            system("_REPOSITORIES_PULL").map(|m| m.name),
            Some("_repositories_pull")
        );
        assert!(system("_repositories_other").is_none());
        let admin = system("_repositories_admin").map(|m| rules(m.actions));
        assert_eq!(admin.map(|r| r.len()), Some(5));
    }

    #[test]
    fn names_follow_arm_rules() {
        for ok in ["abcde", "my-scope_map1", &"a".repeat(50)] {
            assert!(ScopeMapName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["abcd", &"a".repeat(51), "has space", "dot.ted", "sl/ash"] {
            assert!(ScopeMapName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routes_and_their_operations() {
        use super::super::route::{Access, ArmRoute, op};
        use super::super::tokens::TokenName;
        use acrylic_model::{RegistryName, ResourceGroupName, SubscriptionId};
        use axum::http::Method;

        let sub = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
        let reg = format!(
            "/subscriptions/{sub}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg1"
        );
        let path = RegistryPath {
            subscription: SubscriptionId::parse(sub).expect("guid"),
            resource_group: ResourceGroupName::parse("rg1").expect("rg"),
            name: RegistryName::parse("myreg1").expect("name"),
        };
        let map = ScopeMapName::parse("My_Map-1").expect("name");
        let token = TokenName::parse("ci-token").expect("name");
        let table = [
            (
                Method::GET,
                format!("{reg}/scopeMaps"),
                ArmRoute::ListScopeMaps(path.clone()),
                op::SCOPE_MAPS_READ,
            ),
            (
                Method::GET,
                format!("{reg}/scopemaps/My_Map-1"),
                ArmRoute::GetScopeMap(path.clone(), map.clone()),
                op::SCOPE_MAPS_READ,
            ),
            (
                Method::PUT,
                format!("{reg}/scopeMaps/My_Map-1"),
                ArmRoute::PutScopeMap(path.clone(), map.clone()),
                op::SCOPE_MAPS_WRITE,
            ),
            (
                Method::PATCH,
                format!("{reg}/scopeMaps/My_Map-1"),
                ArmRoute::PatchScopeMap(path.clone(), map.clone()),
                op::SCOPE_MAPS_WRITE,
            ),
            (
                Method::DELETE,
                format!("{reg}/scopeMaps/My_Map-1"),
                ArmRoute::DeleteScopeMap(path.clone(), map),
                op::SCOPE_MAPS_DELETE,
            ),
            (
                Method::GET,
                format!("{reg}/tokens"),
                ArmRoute::ListTokens(path.clone()),
                op::TOKENS_READ,
            ),
            (
                Method::GET,
                format!("{reg}/tokens/ci-token"),
                ArmRoute::GetToken(path.clone(), token.clone()),
                op::TOKENS_READ,
            ),
            (
                Method::PUT,
                format!("{reg}/Tokens/ci-token"),
                ArmRoute::PutToken(path.clone(), token.clone()),
                op::TOKENS_WRITE,
            ),
            (
                Method::PATCH,
                format!("{reg}/tokens/ci-token"),
                ArmRoute::PatchToken(path.clone(), token.clone()),
                op::TOKENS_WRITE,
            ),
            (
                Method::DELETE,
                format!("{reg}/tokens/ci-token"),
                ArmRoute::DeleteToken(path.clone(), token),
                op::TOKENS_DELETE,
            ),
            (
                Method::POST,
                format!("{reg}/generateCredentials"),
                ArmRoute::GenerateCredentials(path.clone()),
                op::GENERATE_CREDENTIALS,
            ),
        ];
        for (m, p, want, operation) in table {
            let got = ArmRoute::parse(&m, &p, &[]);
            assert_eq!(got.as_ref().ok(), Some(&want), "{m} {p}");
            match want.access() {
                Access::At {
                    scope,
                    operation: o,
                } => {
                    assert_eq!(o, operation, "{p}");
                    assert_eq!(scope, path.scope());
                }
                a => panic!("{p}: {a:?}"),
            }
        }
        for (m, p) in [
            (Method::POST, format!("{reg}/tokens/ci-token")),
            (Method::GET, format!("{reg}/generateCredentials")),
            (Method::PUT, format!("{reg}/tokens")),
            (Method::GET, format!("{reg}/webhooks/hook1")),
        ] {
            assert!(
                matches!(ArmRoute::parse(&m, &p, &[]), Err(ArmError::NoRoute { .. })),
                "{m} {p}"
            );
        }
        for p in [
            format!("{reg}/tokens/bad_name"),
            format!("{reg}/scopeMaps/abc"),
        ] {
            assert!(
                matches!(
                    ArmRoute::parse(&Method::GET, &p, &[]),
                    Err(ArmError::InvalidResourceName { .. })
                ),
                "{p}"
            );
        }
    }

    #[test]
    fn limits_follow_the_sku() {
        assert_eq!(per_registry_limit("Basic"), 100);
        assert_eq!(per_registry_limit("Standard"), 500);
        assert_eq!(per_registry_limit("Premium"), 50_000);
    }
}
