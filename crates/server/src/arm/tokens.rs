//! Repository-scoped tokens (`Microsoft.ContainerRegistry/registries/tokens`
//! and `generateCredentials`, acr-auth.md §6.4, §6.7) — the unattended way
//! in that is not a directory identity.
//!
//! A token belongs to one registry, has a name (its username), exactly one
//! scope map, a status (`enabled`/`disabled`), and up to two passwords,
//! `password1` and `password2`, each with a creation time and an optional
//! expiry. Password values are generated here, shown once in the
//! `generateCredentials` answer and kept only as argon2id hashes.
//!
//! What this module owns:
//! - the ARM handlers: list, get, PUT (create or replace), PATCH (status,
//!   scope map; listing only some password names deletes the others — how
//!   `az acr token credential delete` works), DELETE, `generateCredentials`;
//! - the token branch of credential checking at the registry
//!   ([`authenticate`], called by `crate::token::authn`): the password is
//!   verified first (through the credential cache, keyed with the stored
//!   hash so a regenerated or deleted password misses at once), then the
//!   token's status and the password's expiry are checked on the current
//!   row — a disabled token or an expired password is refused with a
//!   message that says how to fix it;
//! - the rules a token grants now ([`current_rules`]): the token service
//!   and the data-plane gate load them on every decision, so disabling a
//!   token or changing its scope map applies at once, to new tokens and to
//!   already-issued access tokens alike.
//!
//! Tokens are not directory principals: they never appear in role
//! assignments, and `authorize` refuses them the control plane.

use acrylic_authz::{Permit, Principal, ScopeMapRule};
use acrylic_identity::CacheKey;
use acrylic_model::RegistryId;
use acrylic_store::{
    Registry, RepositoryTokenRecord, StoreError, TokenPassword, TokenPasswordName,
};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ArmError;
use super::registries;
use super::route::RegistryPath;
use super::scope_maps::{self, ScopeMap};
use super::{Request, shapes};
use crate::AppState;
use crate::token::AuthError;

pub const TOKEN_TYPE: &str = "Microsoft.ContainerRegistry/registries/tokens";

/// A token's name: 5–50 of `[a-zA-Z0-9-]` (acr-auth.md §6.7). Names
/// compare case-insensitively, as Azure resource names do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(s: &str) -> Result<TokenName, ArmError> {
        let invalid = |reason: &str| ArmError::InvalidResourceName {
            kind: "token",
            name: s.chars().take(100).collect(),
            reason: reason.to_owned(),
        };
        if !(5..=50).contains(&s.len()) {
            return Err(invalid("it must be 5 to 50 characters long"));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid(
                "only letters, digits and '-' are allowed (^[a-zA-Z0-9-]*$)",
            ));
        }
        Ok(TokenName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---- at the registry ---------------------------------------------------------

/// Checks `username`/`password` as a token of `registry`. `Ok(None)`: the
/// registry has no token of that name (the caller tries other kinds of
/// principal). A wrong password is `BadCredentials`; only a caller who
/// knows a password learns that the token is disabled or the password
/// expired. A password is valid while the server's clock
/// (`crate::clock`, which credential validity is decided on) is before its
/// expiry, to the second.
pub(crate) async fn authenticate(
    state: &AppState,
    registry: &Registry,
    username: &str,
    password: &str,
) -> Result<Option<Principal>, AuthError> {
    let Some(token) = state
        .meta
        .find_repository_token(&registry.id, username)
        .await?
    else {
        return Ok(None);
    };
    let principal = Principal::RepositoryToken {
        registry: registry.id.clone(),
        name: token.name.clone(),
    };
    let realm = format!("token:{}", registry.id);
    let user = token.name.to_lowercase();
    let mut matched = None;
    let mut verified_any = false;
    for which in TokenPasswordName::ALL {
        let Some(stored) = token.password(which) else {
            continue;
        };
        // The stored hash is the secret's version: a regenerated or
        // removed password never hits an old entry.
        let version = format!("{}:{}", which.as_str(), stored.hash);
        let key = CacheKey::new(&realm, &user, password, version.as_bytes());
        let ok = if state.credentials.get(&key).is_some() {
            true
        } else {
            verified_any = true;
            let ok = verify(password, &stored.hash).await?;
            if ok {
                state.credentials.insert(key, principal.clone());
            }
            ok
        };
        if ok {
            matched = Some((which, stored));
            break;
        }
    }
    let Some((which, stored)) = matched else {
        if !verified_any {
            // No password to check: pay the same as a wrong one.
            decoy_verify(password).await;
        }
        return Err(AuthError::BadCredentials);
    };
    if !token.enabled {
        return Err(AuthError::TokenDisabled {
            token: token.name,
            registry: registry.name.to_string(),
        });
    }
    if let Some(expiry) = stored.expiry
        && state.clock.unix_now() >= expiry.unix_timestamp()
    {
        return Err(AuthError::TokenPasswordExpired {
            token: token.name,
            registry: registry.name.to_string(),
            password: which.as_str(),
            expiry: time_text(expiry),
        });
    }
    Ok(Some(principal))
}

/// The scope-map rules token `name` of registry `reg` grants now: none
/// when it no longer exists or is disabled (deny by default).
pub(crate) async fn current_rules(
    state: &AppState,
    reg: &RegistryId,
    name: &str,
) -> Result<Vec<ScopeMapRule>, StoreError> {
    let Some(token) = state.meta.find_repository_token(reg, name).await? else {
        return Ok(Vec::new());
    };
    if !token.enabled {
        return Ok(Vec::new());
    }
    let map = if token.system_scope_map {
        scope_maps::system(&token.scope_map).map(ScopeMap::System)
    } else {
        state
            .meta
            .find_scope_map(reg, &token.scope_map)
            .await?
            .map(ScopeMap::User)
    };
    Ok(map.map(|m| m.rules()).unwrap_or_default())
}

async fn verify(password: &str, hash: &str) -> Result<bool, AuthError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || acrylic_identity::password::verify(&password, &hash))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token password verification task failed");
            AuthError::Store(StoreError::Backend(
                "token password verification failed".into(),
            ))
        })
}

/// Verifies `password` against a hash of a random password nobody knows,
/// so a login for a name no credential has costs what a wrong password
/// costs, and timing does not tell which names exist.
pub(crate) async fn decoy_verify(password: &str) {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = password.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        let hash = DECOY.get_or_init(|| {
            let pw = acrylic_identity::admin::generate_password();
            acrylic_identity::password::hash(&pw).unwrap_or_default()
        });
        acrylic_identity::password::verify(&password, hash)
    })
    .await;
}

// ---- ARM ---------------------------------------------------------------------

fn time_text(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// To the millisecond, as the store keeps times.
fn millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

pub fn id(registry: &Registry, name: &str) -> String {
    format!("{}/tokens/{name}", registry.arm_scope())
}

fn status_text(enabled: bool) -> &'static str {
    if enabled { "enabled" } else { "disabled" }
}

fn password_shape(which: TokenPasswordName, p: &TokenPassword) -> Value {
    json!({
        "name": which.as_str(),
        "creationTime": time_text(p.created_at),
        "expiry": p.expiry.map(time_text),
    })
}

/// A token in ARM's shape (acr-auth.md §6.7): password names, creation
/// times and expiries, never values.
pub fn shape(registry: &Registry, t: &RepositoryTokenRecord) -> Value {
    let passwords: Vec<Value> = TokenPasswordName::ALL
        .into_iter()
        .filter_map(|w| t.password(w).map(|p| password_shape(w, p)))
        .collect();
    json!({
        "id": id(registry, &t.name),
        "name": t.name,
        "type": TOKEN_TYPE,
        "systemData": {
            "createdAt": time_text(t.created_at),
            "lastModifiedAt": time_text(t.updated_at),
        },
        "properties": {
            "creationDate": time_text(t.created_at),
            "scopeMapId": scope_maps::id(registry, &t.scope_map),
            "provisioningState": "Succeeded",
            "status": status_text(t.enabled),
            "credentials": {
                "certificates": [],
                "passwords": passwords,
            },
        },
    })
}

/// `PUT`/`PATCH …/tokens/{name}`.
#[derive(Debug, Default, Deserialize)]
struct TokenBody {
    #[serde(default)]
    properties: TokenProperties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenProperties {
    #[serde(default)]
    scope_map_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    credentials: Option<CredentialsBody>,
}

#[derive(Debug, Default, Deserialize)]
struct CredentialsBody {
    #[serde(default)]
    passwords: Option<Vec<PasswordRef>>,
    #[serde(default)]
    certificates: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct PasswordRef {
    name: String,
}

/// `POST …/generateCredentials`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateBody {
    token_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expiry: Option<String>,
}

fn not_found(path: &RegistryPath, name: &str) -> ArmError {
    ArmError::ChildResourceNotFound {
        kind: "tokens",
        name: name.to_owned(),
        registry: path.name.to_string(),
        resource_group: path.resource_group.clone(),
    }
}

fn parse_status(s: &str) -> Result<bool, ArmError> {
    match s.to_ascii_lowercase().as_str() {
        "enabled" => Ok(true),
        "disabled" => Ok(false),
        _ => Err(ArmError::InvalidParameter {
            parameter: "properties.status",
            reason: format!("{s:?}: expected enabled or disabled"),
        }),
    }
}

fn parse_password_name(s: &str, parameter: &'static str) -> Result<TokenPasswordName, ArmError> {
    TokenPasswordName::parse(s).ok_or_else(|| ArmError::InvalidParameter {
        parameter,
        reason: format!("{s:?}: expected password1 or password2"),
    })
}

/// The last segment of `id` after `<registry id>/<kind>/`, compared
/// case-insensitively, or why not.
fn child_of<'a>(registry: &Registry, id: &'a str, kind: &str) -> Result<&'a str, String> {
    let prefix = format!("{}/{kind}/", registry.arm_scope());
    let head = id.get(..prefix.len());
    match (head, id.get(prefix.len()..)) {
        (Some(h), Some(rest))
            if h.eq_ignore_ascii_case(&prefix) && !rest.is_empty() && !rest.contains('/') =>
        {
            Ok(rest)
        }
        _ => Err(format!(
            "{id:?} is not the id of one of registry {}'s {kind} ({prefix}<name>)",
            registry.name
        )),
    }
}

/// The scope map a `scopeMapId` names: one of this registry's, existing.
async fn scope_map_of(
    state: &AppState,
    registry: &Registry,
    id: &str,
) -> Result<ScopeMap, ArmError> {
    let invalid = |reason: String| ArmError::InvalidParameter {
        parameter: "properties.scopeMapId",
        reason,
    };
    let name = child_of(registry, id.trim_end_matches('/'), "scopeMaps").map_err(invalid)?;
    let name = scope_maps::ScopeMapName::parse(name)
        .map_err(|_| invalid(format!("{name:?} is not a scope map name")))?;
    scope_maps::find(state, &registry.id, name.as_str())
        .await?
        .ok_or_else(|| {
            invalid(format!(
                "the scope map '{}' does not exist in registry {}",
                name.as_str(),
                registry.name
            ))
        })
}

fn refuse_certificates(c: &Option<CredentialsBody>) -> Result<(), ArmError> {
    match c.as_ref().and_then(|c| c.certificates.as_ref()) {
        Some(certs) if !certs.is_empty() => Err(ArmError::InvalidParameter {
            parameter: "properties.credentials.certificates",
            reason: "certificate credentials of tokens are not supported; use passwords".into(),
        }),
        _ => Ok(()),
    }
}

/// `credentials.passwords` lists the passwords to keep: the others are
/// deleted (ARM cannot create a password whose value it would not show;
/// `generateCredentials` does that).
async fn keep_only(
    state: &AppState,
    t: &mut RepositoryTokenRecord,
    listed: &[PasswordRef],
    at: OffsetDateTime,
) -> Result<Vec<&'static str>, ArmError> {
    let keep = listed
        .iter()
        .map(|p| parse_password_name(&p.name, "properties.credentials.passwords[].name"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut deleted = Vec::new();
    for which in TokenPasswordName::ALL {
        if t.password(which).is_some() && !keep.contains(&which) {
            state
                .meta
                .set_repository_token_password(&t.registry_id, &t.name, which, None, at)
                .await?;
            match which {
                TokenPasswordName::Password1 => t.password1 = None,
                TokenPasswordName::Password2 => t.password2 = None,
            }
            deleted.push(which.as_str());
        }
    }
    Ok(deleted)
}

pub async fn list(
    state: &AppState,
    path: &RegistryPath,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let registry = registries::find(state, path).await?;
    let items = state
        .meta
        .list_repository_tokens(&registry.id)
        .await?
        .iter()
        .map(|t| shape(&registry, t))
        .collect();
    Ok(shapes::list(items))
}

async fn find_token(
    state: &AppState,
    registry: &Registry,
    path: &RegistryPath,
    name: &str,
) -> Result<RepositoryTokenRecord, ArmError> {
    state
        .meta
        .find_repository_token(&registry.id, name)
        .await?
        .ok_or_else(|| not_found(path, name))
}

pub async fn get(
    state: &AppState,
    path: &RegistryPath,
    name: &TokenName,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let registry = registries::find(state, path).await?;
    let t = find_token(state, &registry, path, name.as_str()).await?;
    Ok(shape(&registry, &t))
}

/// `PUT`: create (201, no passwords yet) or replace the scope map and
/// status of an existing token (200).
pub async fn put(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &TokenName,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: TokenBody = shapes::parse_body(&req.body)?;
    let p = body.properties;
    refuse_certificates(&p.credentials)?;
    let Some(scope_map_id) = p.scope_map_id.as_deref() else {
        return Err(ArmError::InvalidParameter {
            parameter: "properties.scopeMapId",
            reason: "a token needs exactly one scope map".into(),
        });
    };
    let enabled = p.status.as_deref().map(parse_status).transpose()?;
    let registry = registries::find(state, path).await?;
    let map = scope_map_of(state, &registry, scope_map_id).await?;
    let now = millis(state.clock.now());
    let existing = state
        .meta
        .find_repository_token(&registry.id, name.as_str())
        .await?;
    let (mut token, status, verb) = match existing {
        Some(mut t) => {
            t.scope_map = map.name().to_owned();
            t.system_scope_map = map.is_system();
            if let Some(e) = enabled {
                t.enabled = e;
            }
            t.updated_at = now;
            store_update(state, &t, path).await?;
            (t, StatusCode::OK, "token.update")
        }
        None => {
            let limit = scope_maps::per_registry_limit(&registry.sku);
            if state.meta.list_repository_tokens(&registry.id).await?.len() >= limit {
                return Err(ArmError::QuotaExceeded {
                    what: "tokens",
                    limit,
                    sku: registry.sku.clone(),
                });
            }
            let t = RepositoryTokenRecord {
                registry_id: registry.id.clone(),
                name: name.as_str().to_owned(),
                scope_map: map.name().to_owned(),
                system_scope_map: map.is_system(),
                enabled: enabled.unwrap_or(true),
                password1: None,
                password2: None,
                created_at: now,
                updated_at: now,
            };
            match state.meta.create_repository_token(&t).await {
                Ok(()) => (t, StatusCode::CREATED, "token.create"),
                Err(StoreError::Conflict { .. }) => {
                    // Created meanwhile: this PUT replaces it.
                    let mut current = find_token(state, &registry, path, name.as_str()).await?;
                    current.scope_map = t.scope_map;
                    current.system_scope_map = t.system_scope_map;
                    current.enabled = t.enabled;
                    current.updated_at = now;
                    store_update(state, &current, path).await?;
                    (current, StatusCode::OK, "token.update")
                }
                Err(StoreError::NotFound { .. }) => {
                    return Err(ArmError::InvalidParameter {
                        parameter: "properties.scopeMapId",
                        reason: format!("the scope map '{}' was deleted meanwhile", map.name()),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let mut detail = format!(
        "{}: scope map {}, {}",
        token.name,
        token.scope_map,
        status_text(token.enabled)
    );
    if status == StatusCode::OK
        && let Some(listed) = p.credentials.as_ref().and_then(|c| c.passwords.as_deref())
    {
        let deleted = keep_only(state, &mut token, listed, now).await?;
        if !deleted.is_empty() {
            detail.push_str(&format!("; deleted {}", deleted.join(", ")));
        }
    }
    registries::audit(state, req, &registry, &permit, verb, Some(detail)).await;
    Ok((status, shape(&registry, &token)))
}

async fn store_update(
    state: &AppState,
    t: &RepositoryTokenRecord,
    path: &RegistryPath,
) -> Result<(), ArmError> {
    state
        .meta
        .update_repository_token(t)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => {
                // The token, or its user-defined scope map, is gone.
                ArmError::InvalidParameter {
                    parameter: "properties.scopeMapId",
                    reason: format!(
                        "the token '{}' or the scope map '{}' of registry {} no longer exists",
                        t.name, t.scope_map, path.name
                    ),
                }
            }
            e => e.into(),
        })
}

/// `PATCH`: status, scope map, and which passwords survive.
pub async fn patch(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &TokenName,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: TokenBody = shapes::parse_body(&req.body)?;
    let p = body.properties;
    refuse_certificates(&p.credentials)?;
    let enabled = p.status.as_deref().map(parse_status).transpose()?;
    let registry = registries::find(state, path).await?;
    let mut token = find_token(state, &registry, path, name.as_str()).await?;
    let now = millis(state.clock.now());
    let mut changes = Vec::new();
    if let Some(id) = p.scope_map_id.as_deref() {
        let map = scope_map_of(state, &registry, id).await?;
        token.scope_map = map.name().to_owned();
        token.system_scope_map = map.is_system();
        changes.push(format!("scope map {}", token.scope_map));
    }
    if let Some(e) = enabled {
        token.enabled = e;
        changes.push(status_text(e).to_owned());
    }
    if p.scope_map_id.is_some() || enabled.is_some() {
        token.updated_at = now;
        store_update(state, &token, path).await?;
    }
    if let Some(listed) = p.credentials.as_ref().and_then(|c| c.passwords.as_deref()) {
        let deleted = keep_only(state, &mut token, listed, now).await?;
        if !deleted.is_empty() {
            changes.push(format!("deleted {}", deleted.join(", ")));
        }
    }
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        "token.update",
        Some(format!("{}: {}", token.name, changes.join("; "))),
    )
    .await;
    // Re-read: the stored row is the truth (updated_at of password changes).
    let token = find_token(state, &registry, path, name.as_str()).await?;
    Ok(shape(&registry, &token))
}

/// `DELETE`: 200 when deleted, 204 when there was none.
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    name: &TokenName,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let registry = registries::find(state, path).await?;
    if !state
        .meta
        .delete_repository_token(&registry.id, name.as_str())
        .await?
    {
        return Ok(StatusCode::NO_CONTENT);
    }
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        "token.delete",
        Some(name.as_str().to_owned()),
    )
    .await;
    Ok(StatusCode::OK)
}

/// `POST …/generateCredentials` (acr-auth.md §6.7): new values for one
/// password (`name`) or both, with an optional expiry; the values appear
/// in this answer and nowhere else. Logins with a replaced password fail
/// at once: the credential cache is keyed by the stored hash.
pub async fn generate_credentials(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: GenerateBody = shapes::parse_body(&req.body)?;
    let which: Vec<TokenPasswordName> = match body.name.as_deref() {
        Some(n) => vec![parse_password_name(n, "name")?],
        None => TokenPasswordName::ALL.to_vec(),
    };
    let now = millis(state.clock.now());
    let expiry = match body.expiry.as_deref() {
        None | Some("") => None,
        Some(e) => {
            let t =
                OffsetDateTime::parse(e, &Rfc3339).map_err(|err| ArmError::InvalidParameter {
                    parameter: "expiry",
                    reason: format!("{e:?} is not an RFC 3339 time: {err}"),
                })?;
            if t <= now {
                return Err(ArmError::InvalidParameter {
                    parameter: "expiry",
                    reason: format!("{e} is not in the future"),
                });
            }
            Some(millis(t))
        }
    };
    let registry = registries::find(state, path).await?;
    let name =
        child_of(&registry, body.token_id.trim_end_matches('/'), "tokens").map_err(|reason| {
            ArmError::InvalidParameter {
                parameter: "tokenId",
                reason,
            }
        })?;
    let token = find_token(state, &registry, path, name).await?;
    let mut passwords = Vec::new();
    for w in which {
        let value = acrylic_identity::admin::generate_password();
        let to_hash = value.clone();
        let hash = tokio::task::spawn_blocking(move || acrylic_identity::password::hash(&to_hash))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "hashing a token password: task failed");
                ArmError::Internal
            })?
            .map_err(|e| {
                tracing::error!(error = %e, "hashing a token password failed");
                ArmError::Internal
            })?;
        let stored = TokenPassword {
            hash,
            created_at: now,
            expiry,
        };
        state
            .meta
            .set_repository_token_password(&registry.id, &token.name, w, Some(&stored), now)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => not_found(path, &token.name),
                e => e.into(),
            })?;
        let mut shown = password_shape(w, &stored);
        if let Some(o) = shown.as_object_mut() {
            o.insert("value".into(), Value::String(value));
        }
        passwords.push(shown);
    }
    let names: Vec<&str> = passwords
        .iter()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    registries::audit(
        state,
        req,
        &registry,
        &permit,
        "token.credential.generate",
        Some(format!(
            "{}: generated {}{}",
            token.name,
            names.join(", "),
            expiry
                .map(|e| format!(", expiring {}", time_text(e)))
                .unwrap_or_default()
        )),
    )
    .await;
    Ok(json!({
        "username": token.name,
        "passwords": passwords,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_arm_rules() {
        for ok in ["abcde", "ci-token-1", "ABCDE", &"a".repeat(50)] {
            assert!(TokenName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["abcd", &"a".repeat(51), "under_score", "dot.ted", "sp ace"] {
            assert!(TokenName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_and_password_names() {
        assert!(matches!(parse_status("Enabled"), Ok(true)));
        assert!(matches!(parse_status("disabled"), Ok(false)));
        assert!(parse_status("off").is_err());
        assert!(parse_password_name("password2", "name").is_ok());
        assert!(parse_password_name("password", "name").is_err());
    }
}
