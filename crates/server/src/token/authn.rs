//! Who is calling: credentials as the token service and the data plane
//! receive them, resolved to a [`Principal`].
//!
//! Principal sources (acr-auth.md §3.2 "Accepted Basic principals"):
//! - the admin user: username = registry name, `password` or `password2`,
//!   only while enabled (§6.5);
//! - the null GUID with a registry refresh token (§2.4);
//! - anonymous, only with anonymous pull enabled (§3.4);
//! - a repository-scoped token: username = token name, `password1` or
//!   `password2`, only while enabled and the password unexpired
//!   (`crate::arm::tokens::authenticate`, #4).
//!
//! - a service principal: username = its application's `appId`, password =
//!   a client secret of the application, the service principal provisioned
//!   in the registry's tenant and enabled, the secret started and not
//!   ended to the second (`crate::directory::apps::check_secret`, through
//!   the `CredentialCache`, #4).
//!
//! Each refusal is a distinct [`AuthError`], for the audit log; clients
//! see 401.

use acrylic_authz::Principal;
use acrylic_identity::constant_time_eq;
use acrylic_store::{Registry, StoreError};
use acrylic_tokens::{RefreshClaims, TokenError};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::AppState;

/// The username that says "the password is a registry refresh token"
/// (acr-auth.md §2.4).
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// A credential as presented, before it is checked. `Debug` hides secrets.
pub enum Credential {
    None,
    Password { username: String, password: String },
    RefreshToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Password { username, .. } => write!(f, "Password({username:?}, <redacted>)"),
            Self::RefreshToken(_) => f.write_str("RefreshToken(<redacted>)"),
        }
    }
}

impl Credential {
    /// A username and password pair; the null GUID turns the password into
    /// a refresh token, and an empty pair means no credential at all.
    pub fn from_pair(username: String, password: String) -> Credential {
        if username.is_empty() && password.is_empty() {
            Credential::None
        } else if username == NULL_GUID {
            Credential::RefreshToken(password)
        } else {
            Credential::Password { username, password }
        }
    }

    /// How the audit log names the claimed identity (never the secret).
    pub fn label(&self, registry: &Registry) -> String {
        match self {
            Self::None => "anonymous".into(),
            Self::RefreshToken(_) => "refresh_token".into(),
            Self::Password { username, .. } if is_admin_username(username, registry) => {
                "admin".into()
            }
            Self::Password { username, .. } => {
                let short: String = username.chars().take(64).collect();
                format!("unknown:{short}")
            }
        }
    }
}

/// `Authorization: Basic …`, if present and well-formed. `Err` for a Basic
/// header that does not decode (a malformed credential is not "none").
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let Some((scheme, rest)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(AuthError::MalformedBasic)?;
    let (user, pass) = decoded.split_once(':').ok_or(AuthError::MalformedBasic)?;
    Ok(Some((user.to_owned(), pass.to_owned())))
}

/// A credential that checked out.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// The JWT `sub` for tokens issued to it.
    pub subject: String,
    /// Set when the caller logged in with a refresh token.
    pub refresh: Option<PresentedRefresh>,
}

/// A verified refresh token and its claims.
#[derive(Debug, Clone)]
pub struct PresentedRefresh {
    pub token: String,
    pub claims: RefreshClaims,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials, and anonymous pull is disabled")]
    Missing,
    #[error("malformed Basic credentials")]
    MalformedBasic,
    #[error("the admin user is disabled")]
    AdminDisabled,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("invalid refresh token: {0}")]
    BadToken(TokenError),
    #[error("refresh token issued for another registry")]
    WrongRegistry,
    #[error("refresh token issued under another role-assignment mode")]
    WrongMode,
    #[error("the principal no longer exists or is disabled")]
    PrincipalGone,
    #[error("the sign-in sessions of this credential's user were revoked after it was issued")]
    SignedOut,
    #[error("refresh tokens are not accepted here")]
    RefreshNotAccepted,
    /// A repository token whose password matched, but which is disabled
    /// (#4). The message says how to enable it.
    #[error(
        "the token {token} is disabled; enable it with `acrylic acr token update --name {token} --registry {registry} --status enabled`"
    )]
    TokenDisabled { token: String, registry: String },
    /// A repository token password that matched but has expired (#4). The
    /// message names the expiry and the command that makes a new one.
    #[error(
        "the {password} of token {token} expired at {expiry}; generate a new one with `acrylic acr token credential generate --name {token} --registry {registry} --{password}`"
    )]
    TokenPasswordExpired {
        token: String,
        registry: String,
        password: &'static str,
        expiry: String,
    },
    /// A service principal's client secret that matched but has ended
    /// (#4). The message names the end and the command that renews it.
    #[error(
        "the client secret {key_id} of service principal {app_id} expired at {end}; create a new one with `acrylic ad sp credential reset --id {app_id}`"
    )]
    ClientSecretExpired {
        app_id: uuid::Uuid,
        key_id: uuid::Uuid,
        end: String,
    },
    /// A service principal whose secret matched, but which is disabled
    /// (`accountEnabled: false`, #4).
    #[error("the service principal {app_id} is disabled")]
    ServicePrincipalDisabled { app_id: uuid::Uuid },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves `credential` against `registry` at `now` (Unix seconds).
/// `accept_refresh` is false on the data plane: ACR refuses the null GUID
/// with a refresh token there (acr-auth.md §2.4, Azure/acr#98).
pub async fn authenticate(
    state: &AppState,
    registry: &Registry,
    credential: &Credential,
    now: i64,
    accept_refresh: bool,
) -> Result<Authenticated, AuthError> {
    match credential {
        Credential::None => {
            if registry.anonymous_pull_enabled {
                Ok(Authenticated {
                    principal: Principal::Anonymous,
                    subject: "acr_anon_pull".into(),
                    refresh: None,
                })
            } else {
                Err(AuthError::Missing)
            }
        }
        Credential::Password { username, password } => {
            authenticate_password(state, registry, username, password).await
        }
        Credential::RefreshToken(token) if accept_refresh => {
            authenticate_refresh(state, registry, token, now).await
        }
        Credential::RefreshToken(_) => Err(AuthError::RefreshNotAccepted),
    }
}

fn is_admin_username(username: &str, registry: &Registry) -> bool {
    // Registry names are case-insensitive, as login servers are.
    username.eq_ignore_ascii_case(registry.name.as_str())
}

async fn authenticate_password(
    state: &AppState,
    registry: &Registry,
    username: &str,
    password: &str,
) -> Result<Authenticated, AuthError> {
    if is_admin_username(username, registry) {
        if !registry.admin_enabled {
            return Err(AuthError::AdminDisabled);
        }
        // Sealed, not hashed (listCredentials shows them again): opening
        // costs microseconds, so no cache is needed. Both are compared, in
        // constant time, whichever matches.
        let mut ok = false;
        for sealed in [
            &registry.admin_password1_sealed,
            &registry.admin_password2_sealed,
        ] {
            if sealed.is_empty() {
                continue;
            }
            let stored = state.sealer.open(sealed).map_err(|e| {
                tracing::error!(registry = %registry.name, error = %e, "cannot open an admin password");
                AuthError::BadCredentials
            })?;
            ok |= !stored.is_empty() && constant_time_eq(&stored, password.as_bytes());
        }
        return if ok {
            Ok(Authenticated {
                principal: Principal::Admin {
                    registry: registry.id.clone(),
                },
                subject: registry.name.to_string(),
                refresh: None,
            })
        } else {
            Err(AuthError::BadCredentials)
        };
    }
    // Repository-scoped tokens: token name + password1/password2 (#4,
    // acr-auth.md §3.2, §6.4).
    if let Some(principal) =
        crate::arm::tokens::authenticate(state, registry, username, password).await?
    {
        // The token's name, as the username it logs in with.
        let subject = match &principal {
            Principal::RepositoryToken { name, .. } => name.clone(),
            other => other.label(),
        };
        return Ok(Authenticated {
            principal,
            subject,
            refresh: None,
        });
    }
    // Service principals: appId + client secret (#4, acr-auth.md §3.2).
    if let Ok(app_id) = uuid::Uuid::parse_str(username)
        && let Some(who) =
            authenticate_service_principal(state, registry, &app_id, password).await?
    {
        return Ok(who);
    }
    // A name no credential has costs what a wrong password costs.
    crate::arm::tokens::decoy_verify(password).await;
    Err(AuthError::BadCredentials)
}

/// `appId` + client secret (#4): `None` when no application has that
/// `appId` (the caller then spends a decoy verify), an error when its
/// secret is wrong, ended or not yet started, or its service principal is
/// missing from the registry's tenant or disabled.
async fn authenticate_service_principal(
    state: &AppState,
    registry: &Registry,
    app_id: &uuid::Uuid,
    secret: &str,
) -> Result<Option<Authenticated>, AuthError> {
    use crate::directory::apps::{self, SecretCheck, date};
    let Some(app) = state.meta.find_application_by_app_id(app_id).await? else {
        return Ok(None);
    };
    // Only in the registry's tenant: a multi-tenant application must be
    // provisioned there (acr-auth.md §7: cluster service principals).
    let Some(sp) = apps::service_principal_in(state, &app, &registry.tenant_id).await? else {
        return Ok(None);
    };
    match apps::check_secret(state, &app, &sp, secret).await? {
        SecretCheck::Valid(_) => {}
        SecretCheck::Expired(c) => {
            return Err(AuthError::ClientSecretExpired {
                app_id: app.app_id,
                key_id: c.key_id,
                end: date(c.end_at),
            });
        }
        SecretCheck::NotYetValid(_) | SecretCheck::Wrong => {
            return Err(AuthError::BadCredentials);
        }
    }
    if !sp.enabled {
        return Err(AuthError::ServicePrincipalDisabled { app_id: app.app_id });
    }
    Ok(Some(Authenticated {
        principal: apps::principal_of(&sp),
        subject: sp.id.to_string(),
        refresh: None,
    }))
}

async fn authenticate_refresh(
    state: &AppState,
    registry: &Registry,
    token: &str,
    now: i64,
) -> Result<Authenticated, AuthError> {
    let claims = state
        .keys
        .verify_refresh(token, &registry.login_server, now)
        .map_err(AuthError::BadToken)?;
    if claims.rid != registry.id {
        return Err(AuthError::WrongRegistry);
    }
    let facts = super::registry_facts(registry);
    if claims.acrylic.abac != facts.abac {
        // acr-auth.md §2.3: a mode switch invalidates earlier credentials.
        return Err(AuthError::WrongMode);
    }
    let principal = claims.acrylic.principal();
    // Revocation (DESIGN "Tokens"): a deleted or disabled user, or one who
    // signed out after the token was issued, gets no new access tokens.
    if let Principal::User { oid, tenant, .. } = &principal {
        let user = state
            .meta
            .find_user(oid)
            .await?
            .filter(|u| u.tenant_id == *tenant)
            .ok_or(AuthError::PrincipalGone)?;
        if !user.enabled {
            return Err(AuthError::PrincipalGone);
        }
        if super::issued_before(claims.iat, user.sessions_valid_after) {
            return Err(AuthError::SignedOut);
        }
    }
    // A deleted or disabled service principal gets no new access tokens
    // (#4); its role assignments went with it anyway.
    if let Principal::ServicePrincipal { oid, tenant, .. } = &principal {
        let sp = state
            .meta
            .find_service_principal(oid)
            .await?
            .filter(|sp| sp.tenant_id == *tenant)
            .ok_or(AuthError::PrincipalGone)?;
        if !sp.enabled {
            return Err(AuthError::PrincipalGone);
        }
    }
    // A deleted managed identity gets no new access tokens (#5).
    if let Principal::ManagedIdentity { oid, tenant, .. } = &principal {
        state
            .meta
            .find_managed_identity(oid)
            .await?
            .filter(|mi| mi.tenant_id == *tenant)
            .ok_or(AuthError::PrincipalGone)?;
    }
    Ok(Authenticated {
        principal,
        subject: claims.sub.clone(),
        refresh: Some(PresentedRefresh {
            token: token.to_owned(),
            claims,
        }),
    })
}
