//! Applications and service principals (issue #4 §1): the rules every
//! surface applies to them — the Graph API ([`super::graph`]), the
//! `client_credentials` grant ([`super::client_credentials`]) and Basic
//! logins at the registry (`token::authn`).
//!
//! - Client secrets are generated here, 40 characters in Entra's current
//!   shape (three characters, `8Q~`, then 34), shown once, kept as an
//!   argon2id hash; their first three characters are the credential's
//!   `hint`, which also picks the credential a presented secret can be
//!   (so a wrong secret costs one slow hash, not one per credential).
//! - A credential is usable from `start_at` (inclusive) to `end_at`
//!   (exclusive), to the second the [`Clock`](crate::clock::Clock) says;
//!   a client secret lives exactly [`DEFAULT_SECRET_LIFETIME`] unless
//!   told otherwise.
//! - [`check_secret`] is the one place a presented secret is verified: the
//!   `CredentialCache` keeps the slow hash off the hot path, keyed by the
//!   credential's stored hash, so a reset or deleted secret misses at once;
//!   expiry is checked on every call, cached or not.
//! - Deleting a service principal removes its role assignments and group
//!   memberships with it ([`delete_service_principal`]), so the data plane
//!   refuses it at once.

use acrylic_authz::Principal;
use acrylic_identity::CacheKey;
use acrylic_model::{ObjectId, TenantId};
use acrylic_store::{
    AppCredential, AppCredentialKind, Application, ServicePrincipal, SignInAudience, StoreError,
};
use rand::Rng as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;

/// A client secret lives one year unless told otherwise: exactly 365 days
/// (issue #4 §1; az's default).
pub const DEFAULT_SECRET_LIFETIME: time::Duration = time::Duration::days(365);
/// The CLI warns about credentials that end sooner than this.
pub const EXPIRY_WARNING: time::Duration = time::Duration::days(30);
/// Credentials (secrets and certificates) one application may hold.
pub const MAX_CREDENTIALS: usize = 20;

const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";

/// A fresh client secret: `xxx8Q~` and 34 more characters (Entra's shape),
/// from the operating system's CSPRNG through rand's `ThreadRng`.
pub fn generate_secret() -> String {
    let mut rng = rand::rng();
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(SECRET_ALPHABET[rng.random_range(0..SECRET_ALPHABET.len())]))
            .collect()
    };
    let head = pick(3);
    let tail = pick(34);
    format!("{head}8Q~{tail}")
}

/// The `hint` of a secret: its first three characters.
pub fn hint_of(secret: &str) -> String {
    secret.chars().take(3).collect()
}

/// A new client secret credential of `app`, valid `[start, end)`, and the
/// secret (the only time it exists in clear). Hashing costs ~10 ms and
/// runs off the async workers.
pub async fn new_password(
    app: &Application,
    display_name: Option<String>,
    start: OffsetDateTime,
    end: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(AppCredential, String), StoreError> {
    let secret = generate_secret();
    let to_hash = secret.clone();
    let hash = tokio::task::spawn_blocking(move || acrylic_identity::password::hash(&to_hash))
        .await
        .map_err(|e| StoreError::Backend(format!("hashing task failed: {e}")))?
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let credential = AppCredential {
        key_id: uuid::Uuid::new_v4(),
        application_id: app.id,
        kind: AppCredentialKind::Password { hash },
        display_name,
        hint: Some(hint_of(&secret)),
        start_at: start,
        end_at: end,
        created_at: now,
    };
    Ok((credential, secret))
}

/// Where a credential stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    NotYetValid,
    Valid,
    Expired,
}

/// `[start_at, end_at)`: expired from the second `end_at` names.
pub fn validity(c: &AppCredential, now: OffsetDateTime) -> Validity {
    if now < c.start_at {
        Validity::NotYetValid
    } else if now < c.end_at {
        Validity::Valid
    } else {
        Validity::Expired
    }
}

/// A date as Graph and error messages write it (RFC 3339, UTC).
pub fn date(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The command that renews an application's secret (named by expiry
/// errors, issue #4 §1).
pub fn reset_command(app_id: &uuid::Uuid) -> String {
    format!("acrylic ad sp credential reset --id {app_id}")
}

/// The outcome of checking a presented client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretCheck {
    /// It is the secret of this credential, which is valid now.
    Valid(AppCredential),
    /// It is the secret of this credential, which has ended.
    Expired(AppCredential),
    /// It is the secret of this credential, which has not started yet.
    NotYetValid(AppCredential),
    /// It is no secret of the application.
    Wrong,
}

/// Checks `secret` against `app`'s client secrets for its service
/// principal `sp` (see the module docs). Only credentials whose hint
/// matches are tried, newest end first; the first match decides.
pub async fn check_secret(
    state: &AppState,
    app: &Application,
    sp: &ServicePrincipal,
    secret: &str,
) -> Result<SecretCheck, StoreError> {
    let now = state.clock.now();
    let hint = hint_of(secret);
    let mut candidates: Vec<(AppCredential, String)> = state
        .meta
        .list_app_credentials(&app.id)
        .await?
        .into_iter()
        .filter_map(|c| match &c.kind {
            AppCredentialKind::Password { hash } if c.hint.as_deref() == Some(hint.as_str()) => {
                let hash = hash.clone();
                Some((c, hash))
            }
            _ => None,
        })
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0.end_at));
    let principal = principal_of(sp);
    let realm = format!("app-secret:{}", sp.tenant_id);
    for (credential, hash) in candidates {
        let key = CacheKey::new(
            &realm,
            &credential.key_id.to_string(),
            secret,
            hash.as_bytes(),
        );
        let matched = if state.credentials.get(&key).as_ref() == Some(&principal) {
            true
        } else {
            let presented = secret.to_owned();
            let ok = tokio::task::spawn_blocking(move || {
                acrylic_identity::password::verify(&presented, &hash)
            })
            .await
            .map_err(|e| StoreError::Backend(format!("verification task failed: {e}")))?;
            if ok {
                state.credentials.insert(key, principal.clone());
            }
            ok
        };
        if matched {
            return Ok(match validity(&credential, now) {
                Validity::Valid => SecretCheck::Valid(credential),
                Validity::Expired => SecretCheck::Expired(credential),
                Validity::NotYetValid => SecretCheck::NotYetValid(credential),
            });
        }
    }
    Ok(SecretCheck::Wrong)
}

/// The principal a service principal is to `authorize`.
pub fn principal_of(sp: &ServicePrincipal) -> Principal {
    Principal::ServicePrincipal {
        tenant: sp.tenant_id,
        oid: sp.id,
        app_id: sp.app_id,
    }
}

/// Where an application may sign in: its service principal in `tenant`,
/// if the app may be used there at all (a single-tenant app only in its
/// home tenant).
pub async fn service_principal_in(
    state: &AppState,
    app: &Application,
    tenant: &TenantId,
) -> Result<Option<ServicePrincipal>, StoreError> {
    if app.sign_in_audience == SignInAudience::SingleTenant && app.tenant_id != *tenant {
        return Ok(None);
    }
    state
        .meta
        .find_service_principal_by_app(&app.app_id, tenant)
        .await
}

/// An application by object id or `appId`, within `tenant` (its home).
pub async fn find_application(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<Application>, StoreError> {
    let Ok(uuid) = uuid::Uuid::parse_str(id.trim()) else {
        return Ok(None);
    };
    let found = match state.meta.find_application_by_app_id(&uuid).await? {
        Some(a) => Some(a),
        None => match ObjectId::parse(&uuid.to_string()) {
            Ok(oid) => state.meta.find_application(&oid).await?,
            Err(_) => None,
        },
    };
    Ok(found.filter(|a| a.tenant_id == *tenant))
}

/// A service principal by object id or `appId`, within `tenant`.
pub async fn find_service_principal(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ServicePrincipal>, StoreError> {
    let Ok(uuid) = uuid::Uuid::parse_str(id.trim()) else {
        return Ok(None);
    };
    if let Some(sp) = state
        .meta
        .find_service_principal_by_app(&uuid, tenant)
        .await?
    {
        return Ok(Some(sp));
    }
    let found = match ObjectId::parse(&uuid.to_string()) {
        Ok(oid) => state.meta.find_service_principal(&oid).await?,
        Err(_) => None,
    };
    Ok(found.filter(|sp| sp.tenant_id == *tenant))
}

/// Deletes a service principal with its role assignments and group
/// memberships: it stops getting tokens, and the data plane (which
/// re-reads role assignments on every request) refuses it at once.
/// Returns how many role assignments went.
pub async fn delete_service_principal(
    state: &AppState,
    sp: &ServicePrincipal,
) -> Result<usize, StoreError> {
    let assignments = state.meta.list_role_assignments_for(&[sp.id]).await?;
    for a in &assignments {
        state.meta.delete_role_assignment(&a.id).await?;
    }
    state.meta.remove_from_all_groups(&sp.id).await?;
    state.meta.delete_service_principal(&sp.id).await?;
    Ok(assignments.len())
}

/// Deletes an application: its service principals in every tenant (as
/// [`delete_service_principal`]), then the registration with its
/// credentials.
pub async fn delete_application(state: &AppState, app: &Application) -> Result<(), StoreError> {
    for sp in state
        .meta
        .list_service_principals_of_app(&app.app_id)
        .await?
    {
        delete_service_principal(state, &sp).await?;
    }
    state.meta.delete_application(&app.id).await?;
    Ok(())
}

/// `/metrics` lines: the soonest credential end of each application, as
/// Unix seconds (`acrylic_credential_soonest_expiry_seconds{principal="sp:<appId>"}`),
/// so an operator can alert before pipelines break (issue #4 §1). Read
/// from the store on every scrape, so every replica reports the same and
/// a deleted application disappears.
pub async fn expiry_metrics(state: &AppState) -> Result<String, StoreError> {
    let ends = state.meta.list_soonest_credential_ends().await?;
    let mut out = String::from(
        "# HELP acrylic_credential_soonest_expiry_seconds When the soonest-ending credential \
         (client secret or certificate) of a service principal's application ends, in Unix seconds.\n\
         # TYPE acrylic_credential_soonest_expiry_seconds gauge\n",
    );
    for (app_id, end) in ends {
        out.push_str(&format!(
            "acrylic_credential_soonest_expiry_seconds{{principal=\"sp:{app_id}\"}} {}\n",
            end.unix_timestamp()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_entras_shape_and_a_hint() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let s = generate_secret();
            assert_eq!(s.len(), 40, "{s}");
            assert_eq!(&s[3..6], "8Q~", "{s}");
            assert!(s.bytes().all(|b| SECRET_ALPHABET.contains(&b)), "{s}");
            assert_eq!(hint_of(&s), s[..3]);
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn validity_is_half_open() {
        let start = OffsetDateTime::from_unix_timestamp(1_000).expect("time");
        let c = AppCredential {
            key_id: uuid::Uuid::new_v4(),
            application_id: ObjectId::new_random(),
            kind: AppCredentialKind::Password { hash: "x".into() },
            display_name: None,
            hint: None,
            start_at: start,
            end_at: start + DEFAULT_SECRET_LIFETIME,
            created_at: start,
        };
        let second = time::Duration::SECOND;
        assert_eq!(validity(&c, start - second), Validity::NotYetValid);
        assert_eq!(validity(&c, start), Validity::Valid);
        assert_eq!(
            validity(&c, start + DEFAULT_SECRET_LIFETIME - second),
            Validity::Valid
        );
        assert_eq!(
            validity(&c, start + DEFAULT_SECRET_LIFETIME),
            Validity::Expired
        );
        assert_eq!(DEFAULT_SECRET_LIFETIME.whole_seconds(), 365 * 86_400);
    }
}
