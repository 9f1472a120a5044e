//! ACR's token exchange, `POST /oauth2/exchange` (acr-auth.md §2,
//! spec/clients.md "azure-cli against a self-hosted cloud"): a directory
//! access token in, a registry refresh token out.
//!
//! Request (form, `?api-version=…` accepted and ignored): `grant_type` is
//! - `access_token` (az CLI, azure-containerregistry, PowerShell, acrylic's
//!   own `acr login`): `service`, optional `tenant`, `access_token`;
//! - `access_token_refresh_token` (cloud-provider-azure's kubelet
//!   provider): the same directory *access* token in `access_token` and in
//!   `refresh_token`; `access_token` is validated and `refresh_token` is
//!   ignored (§2.1 "Implementation rule");
//! - `refresh_token` (deprecated, no current Microsoft client): 400
//!   `unsupported_grant_type` saying which grant to use instead. The
//!   directory's refresh tokens rotate on use, so redeeming one here would
//!   burn the caller's sign-in without handing back its successor.
//!
//! The directory token must be one this server's directory issued and
//! still stands behind, checked in this order, each refusal with its own
//! message: signature with the tenant's pinned RS256 key (an unknown `kid`
//! reloads the stored directory keys once), `exp`/`nbf`, `iss` (the
//! tenant's v1 issuer), `aud` (ACR's audience always; ARM's unless the
//! registry's `azureADAuthenticationAsArmPolicy` is disabled, §2.1
//! "Audience acceptance"), the registry's tenant, the `tenant` form value,
//! and the principal: a user that still exists, is enabled and has not
//! signed out since the token was issued; or (`idtyp=app`, #4) a service
//! principal that still exists in the token's tenant, is enabled, and
//! whose application may still sign in there.
//!
//! Answer: `200 {"refresh_token": "<registry refresh JWT>"}` — exactly that
//! one field (§2.2) — bound to this registry (`aud` = login server, `rid`)
//! and principal, living 3 hours (DESIGN "Tokens"; ACR was observed at
//! 3 h 15 min), with `permissions.actions` summarizing the caller's rights
//! at issuance. Access itself is decided again by `authorize` at every
//! `/oauth2/token` request, so a revoked role takes effect at once.
//! Errors are AcrErrors bodies ([`TokenFailure`]); every exchange, granted
//! or refused, is audited as action `exchange`.

use std::net::SocketAddr;

use acrylic_authz::Principal;
use acrylic_model::TenantId;
use acrylic_store::{Registry, StoreError};
use acrylic_tokens::{AcrylicClaim, DirectoryClaims, RefreshClaims, TokenError};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;

use super::error::TokenFailure;
use super::{JSON_UTF8, MAX_FORM_BYTES, grants_for, permission_summary, registry_facts};
use crate::AppState;
use crate::directory::Resource;

/// The grants of `/oauth2/exchange` (acr-auth.md §2.1). Secrets are
/// hidden from `Debug`.
pub enum Grant {
    AccessToken {
        access_token: String,
    },
    /// cloud-provider-azure: `refresh_token` carries the same directory
    /// access token and is not used.
    AccessTokenRefreshToken {
        access_token: String,
    },
    /// A directory refresh token to redeem (refused, see the module docs).
    RefreshToken,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Grant::AccessToken { .. } => "AccessToken(<redacted>)",
            Grant::AccessTokenRefreshToken { .. } => "AccessTokenRefreshToken(<redacted>)",
            Grant::RefreshToken => "RefreshToken",
        })
    }
}

/// A parsed exchange request.
#[derive(Debug)]
pub struct ExchangeRequest {
    pub grant: Grant,
    pub service: Option<String>,
    /// The `tenant` form value, when non-empty.
    pub tenant: Option<String>,
}

/// Why an exchange was refused. Each is one row of the audit log and one
/// wire error (see [`ExchangeError::failure`]).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("grant_type is required: access_token (or the deprecated access_token_refresh_token)")]
    MissingGrantType,
    #[error(
        "grant_type {0:?} is not supported by /oauth2/exchange; use access_token with a directory access token"
    )]
    UnsupportedGrant(String),
    #[error(
        "grant_type refresh_token (redeeming a directory refresh token) is not supported by /oauth2/exchange; \
         get a directory access token for https://containerregistry.azure.net/.default and send \
         grant_type=access_token with access_token=<token>"
    )]
    DirectoryRefreshUnsupported,
    #[error("{0} is required for grant_type {1}")]
    MissingField(&'static str, &'static str),
    #[error("the body is not a valid application/x-www-form-urlencoded form")]
    MalformedForm,
    #[error("service {found:?} does not name this registry; expected {expected:?}")]
    WrongService { found: String, expected: String },
    #[error("the directory access token is not valid: {0}")]
    InvalidToken(TokenError),
    #[error(
        "the directory access token expired at {exp}; sign in again (`acrylic login`) and retry"
    )]
    Expired { exp: i64 },
    #[error("the directory access token was not issued by this server's directory (iss {0:?})")]
    WrongIssuer(String),
    #[error(
        "the directory access token's audience {aud:?} is not accepted; ask for a token for https://containerregistry.azure.net/.default{arm}"
    )]
    WrongAudience { aud: String, arm: &'static str },
    #[error(
        "the directory access token is from tenant {token_tenant}, but registry {registry} belongs to tenant {registry_tenant}; \
         sign in to tenant {registry_tenant}"
    )]
    WrongTenant {
        token_tenant: TenantId,
        registry: String,
        registry_tenant: TenantId,
    },
    #[error(
        "the tenant parameter {form:?} does not match the directory access token's tenant {token_tenant}"
    )]
    TenantMismatch {
        form: String,
        token_tenant: TenantId,
    },
    #[error(
        "directory tokens of kind {0:?} cannot be exchanged yet (managed identities: issue #5)"
    )]
    UnsupportedIdentity(String),
    #[error("the service principal of application {0} no longer exists in this tenant")]
    ServicePrincipalGone(String),
    #[error("the service principal of application {0} is disabled")]
    ServicePrincipalDisabled(String),
    #[error("the user {0} no longer exists")]
    UserGone(String),
    #[error("the user {0} is disabled")]
    UserDisabled(String),
    #[error(
        "the sign-in sessions of {0} were revoked after this directory token was issued; sign in again (`acrylic login`)"
    )]
    SignedOut(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("minting the refresh token failed: {0}")]
    Mint(TokenError),
}

impl ExchangeError {
    /// The wire error: 400 for a malformed request, 401 for a credential
    /// that is refused, 500 (cause logged, not sent) for our own failures.
    pub fn failure(&self) -> TokenFailure {
        match self {
            ExchangeError::MissingGrantType
            | ExchangeError::MissingField(..)
            | ExchangeError::MalformedForm
            | ExchangeError::WrongService { .. } => TokenFailure::bad_request(self.to_string()),
            ExchangeError::UnsupportedGrant(_) | ExchangeError::DirectoryRefreshUnsupported => {
                TokenFailure::unsupported(self.to_string())
            }
            ExchangeError::InvalidToken(_)
            | ExchangeError::Expired { .. }
            | ExchangeError::WrongIssuer(_)
            | ExchangeError::WrongAudience { .. }
            | ExchangeError::WrongTenant { .. }
            | ExchangeError::TenantMismatch { .. }
            | ExchangeError::UnsupportedIdentity(_)
            | ExchangeError::ServicePrincipalGone(_)
            | ExchangeError::ServicePrincipalDisabled(_)
            | ExchangeError::UserGone(_)
            | ExchangeError::UserDisabled(_)
            | ExchangeError::SignedOut(_) => TokenFailure::unauthorized(self.to_string()),
            ExchangeError::Store(e) => {
                tracing::error!(error = %e, "exchange: metadata store failed");
                TokenFailure::internal()
            }
            ExchangeError::Mint(e) => {
                tracing::error!(error = %e, "exchange: minting a refresh token failed");
                TokenFailure::internal()
            }
        }
    }
}

/// Parses the query and the form body (form fields win; empty values count
/// as absent).
pub fn parse(query: &str, body: &[u8]) -> Result<ExchangeRequest, ExchangeError> {
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| ExchangeError::MalformedForm)?;
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| ExchangeError::MalformedForm)?;
    params.extend(form);
    let last = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let grant = match last("grant_type").as_deref() {
        None => return Err(ExchangeError::MissingGrantType),
        Some("access_token") => Grant::AccessToken {
            access_token: last("access_token")
                .ok_or(ExchangeError::MissingField("access_token", "access_token"))?,
        },
        Some("access_token_refresh_token") => Grant::AccessTokenRefreshToken {
            access_token: last("access_token").ok_or(ExchangeError::MissingField(
                "access_token",
                "access_token_refresh_token",
            ))?,
        },
        Some("refresh_token") => Grant::RefreshToken,
        Some(other) => {
            return Err(ExchangeError::UnsupportedGrant(
                other.chars().take(64).collect(),
            ));
        }
    };
    Ok(ExchangeRequest {
        grant,
        service: last("service"),
        tenant: last("tenant"),
    })
}

/// The success body: only `refresh_token` (acr-auth.md §2.2).
#[derive(Serialize)]
struct ExchangeResponse {
    refresh_token: String,
}

/// What the audit row says.
struct Audit {
    registry: Option<Registry>,
    principal: String,
    decision: &'static str,
    detail: String,
}

/// `POST /oauth2/exchange`.
pub async fn exchange(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let now = state.clock.now();
    let host = super::request_host(&parts.headers, &parts.uri);
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return TokenFailure::bad_request("the request body is too large or unreadable")
            .into_response();
    };
    let query = parts.uri.query().unwrap_or("");

    let mut audit = Audit {
        registry: None,
        principal: "unknown".into(),
        decision: "failed",
        detail: String::new(),
    };
    let result = run(&state, query, &body, &host, now, &mut audit).await;
    let result = match result {
        Ok(token) => Ok(token),
        Err(Refusal::Exchange(e)) => {
            audit.detail = e.to_string();
            Err(e.failure())
        }
        Err(Refusal::Wire(f)) => {
            audit.detail = f.message().to_owned();
            Err(f)
        }
    };
    let audited = crate::audit::Event::new(audit.principal, "exchange", audit.decision)
        .registry(audit.registry.as_ref().map(|r| r.id.clone()))
        .client(client)
        .detail(Some(audit.detail))
        .record(&state, now)
        .await;
    match (result, audited) {
        (Ok(token), Ok(())) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            serde_json::to_string(&ExchangeResponse {
                refresh_token: token,
            })
            .unwrap_or_default(),
        )
            .into_response(),
        (Ok(_), Err(e)) => {
            // Every issuance is recorded, or nothing is issued.
            tracing::error!(error = %e, "audit append failed; refresh token withheld");
            TokenFailure::internal().into_response()
        }
        (Err(f), audited) => {
            if let Err(e) = audited {
                tracing::error!(error = %e, "audit append failed");
            }
            f.into_response()
        }
    }
}

/// A refusal: a domain one, or a ready wire error (unknown registry).
enum Refusal {
    Exchange(ExchangeError),
    Wire(TokenFailure),
}

impl From<ExchangeError> for Refusal {
    fn from(e: ExchangeError) -> Self {
        Refusal::Exchange(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Exchange(ExchangeError::Store(e))
    }
}

async fn run(
    state: &AppState,
    query: &str,
    body: &[u8],
    host: &str,
    now: OffsetDateTime,
    audit: &mut Audit,
) -> Result<String, Refusal> {
    let Some(registry) = state.registry_for_host(host).await? else {
        return Err(Refusal::Wire(TokenFailure::not_found(format!(
            "no registry answers at {host}"
        ))));
    };
    audit.registry = Some(registry.clone());
    let req = parse(query, body)?;

    // `service` names this registry (as at /oauth2/token).
    if let Some(service) = &req.service
        && !service.eq_ignore_ascii_case(&registry.login_server)
        && !service.eq_ignore_ascii_case(host)
    {
        return Err(ExchangeError::WrongService {
            found: service.chars().take(255).collect(),
            expected: registry.login_server.clone(),
        }
        .into());
    }
    let access_token = match &req.grant {
        Grant::AccessToken { access_token } | Grant::AccessTokenRefreshToken { access_token } => {
            access_token
        }
        Grant::RefreshToken => return Err(ExchangeError::DirectoryRefreshUnsupported.into()),
    };

    let unix_now = now.unix_timestamp();
    let claims = verify_directory_token(state, access_token, unix_now).await?;
    audit.principal = claims
        .upn
        .as_deref()
        .map(|u| format!("user:{u}"))
        .unwrap_or_else(|| format!("{}:{}", claims.idtyp, claims.oid));
    let arm_allowed = state
        .meta
        .find_aad_auth_as_arm_policy(&registry.id)
        .await?
        .unwrap_or(true);
    check_audience(&claims.aud, arm_allowed)?;
    check_tenant(state, &claims, &registry, req.tenant.as_deref()).await?;
    let principal = current_principal(state, &claims).await?;
    audit.principal = principal.label();

    let facts = registry_facts(&registry);
    let grants = grants_for(state, &principal, Some(&registry)).await?;
    let actions = permission_summary(&principal, &facts, &grants);
    let subject = principal
        .object_id()
        .map(|o| o.to_string())
        .unwrap_or_default();
    let refresh = RefreshClaims::new(
        AcrylicClaim::new(&principal, facts.abac),
        subject,
        &registry.login_server,
        registry.id.clone(),
        actions.clone(),
        unix_now,
    );
    let token = state
        .keys
        .mint_refresh(&refresh)
        .map_err(ExchangeError::Mint)?;
    audit.decision = "granted";
    audit.detail = format!(
        "refresh token for directory audience {}; permissions [{}]",
        claims.aud,
        actions.join(",")
    );
    Ok(token)
}

/// Verifies a directory access token as this server's directory issued
/// it (`crate::directory::bearer::verify`: signature, time, v1 issuer).
/// The audience is the caller's to check.
pub async fn verify_directory_token(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<DirectoryClaims, ExchangeError> {
    use crate::directory::bearer::{self, BearerError};
    bearer::verify(state, token, now)
        .await
        .map_err(|e| match e {
            BearerError::Token(TokenError::Expired { exp }) => ExchangeError::Expired { exp },
            BearerError::Token(e) => ExchangeError::InvalidToken(e),
            BearerError::WrongIssuer(iss) => ExchangeError::WrongIssuer(iss),
            BearerError::Internal => ExchangeError::Store(StoreError::Backend(
                "reloading directory keys failed".into(),
            )),
            BearerError::Missing | BearerError::Malformed | BearerError::InvalidClaims => {
                ExchangeError::InvalidToken(TokenError::Malformed(
                    "not a directory access token".into(),
                ))
            }
        })
}

/// ACR's audience always; ARM's only while the registry's
/// `azureADAuthenticationAsArmPolicy` is enabled (acr-auth.md §2.1).
fn check_audience(aud: &str, arm_allowed: bool) -> Result<(), ExchangeError> {
    match Resource::from_uri(aud) {
        Some(Resource::ContainerRegistry) => Ok(()),
        Some(Resource::Arm) if arm_allowed => Ok(()),
        Some(Resource::Arm) => Err(ExchangeError::WrongAudience {
            aud: aud.chars().take(255).collect(),
            arm: " (this registry's azureADAuthenticationAsArmPolicy is disabled, so ARM-audience tokens are refused)",
        }),
        Some(Resource::Graph) | None => Err(ExchangeError::WrongAudience {
            aud: aud.chars().take(255).collect(),
            arm: " or for Azure Resource Manager",
        }),
    }
}

/// The token's tenant is the registry's, and the `tenant` form value (az
/// and cloud-provider-azure send it), when present, names that tenant by
/// id or domain.
async fn check_tenant(
    state: &AppState,
    claims: &DirectoryClaims,
    registry: &Registry,
    form: Option<&str>,
) -> Result<(), ExchangeError> {
    if claims.tid != registry.tenant_id {
        return Err(ExchangeError::WrongTenant {
            token_tenant: claims.tid,
            registry: registry.name.to_string(),
            registry_tenant: registry.tenant_id,
        });
    }
    let Some(form) = form else {
        return Ok(());
    };
    let matches = match TenantId::parse(form) {
        Ok(id) => id == claims.tid,
        Err(_) => state
            .meta
            .find_tenant(&claims.tid)
            .await?
            .is_some_and(|t| t.domain.eq_ignore_ascii_case(form)),
    };
    if matches {
        Ok(())
    } else {
        Err(ExchangeError::TenantMismatch {
            form: form.chars().take(255).collect(),
            token_tenant: claims.tid,
        })
    }
}

/// The principal behind the token, as the directory sees it now: a user
/// that exists in the token's tenant, is enabled, and has not signed out
/// since the token was issued.
async fn current_principal(
    state: &AppState,
    claims: &DirectoryClaims,
) -> Result<Principal, ExchangeError> {
    if claims.idtyp == "app" {
        // A managed identity's token (#5) is an app token too.
        if let Some(p) =
            crate::directory::managed_identity::current_principal(state, claims).await?
        {
            return Ok(p);
        }
        return current_service_principal(state, claims).await;
    }
    if claims.idtyp != "user" {
        return Err(ExchangeError::UnsupportedIdentity(
            claims.idtyp.chars().take(32).collect(),
        ));
    }
    let shown = claims.upn.clone().unwrap_or_else(|| claims.oid.to_string());
    let user = match state.meta.find_user(&claims.oid).await? {
        Some(u) if u.tenant_id == claims.tid => u,
        _ => return Err(ExchangeError::UserGone(shown)),
    };
    if !user.enabled {
        return Err(ExchangeError::UserDisabled(user.upn));
    }
    if issued_before(claims.iat, user.sessions_valid_after) {
        return Err(ExchangeError::SignedOut(user.upn));
    }
    Ok(Principal::User {
        tenant: user.tenant_id,
        oid: user.id,
        upn: user.upn,
    })
}

/// The service principal behind an app token (#4), as the directory sees
/// it now: it exists in the token's tenant with the token's `appid`, is
/// enabled, and its application may still sign in there (not deleted; a
/// single-tenant app only at home). Deleting it, disabling it or deleting
/// the application stops exchanges at once. Its credentials are not
/// re-checked: like Entra's, an app token lives out its hour.
async fn current_service_principal(
    state: &AppState,
    claims: &DirectoryClaims,
) -> Result<Principal, ExchangeError> {
    let shown = claims
        .appid
        .clone()
        .unwrap_or_else(|| claims.oid.to_string());
    let gone = || ExchangeError::ServicePrincipalGone(shown.chars().take(64).collect());
    let app_id = claims
        .appid
        .as_deref()
        .and_then(|a| uuid::Uuid::parse_str(a).ok())
        .ok_or_else(gone)?;
    let sp = state
        .meta
        .find_service_principal(&claims.oid)
        .await?
        .filter(|sp| sp.tenant_id == claims.tid && sp.app_id == app_id)
        .ok_or_else(gone)?;
    let app = state
        .meta
        .find_application_by_app_id(&app_id)
        .await?
        .ok_or_else(gone)?;
    if crate::directory::apps::service_principal_in(state, &app, &claims.tid)
        .await?
        .is_none()
    {
        return Err(gone());
    }
    if !sp.enabled {
        return Err(ExchangeError::ServicePrincipalDisabled(app_id.to_string()));
    }
    Ok(crate::directory::apps::principal_of(&sp))
}

/// Whether a token with `iat` (whole seconds) was issued before
/// `instant` (a `sessions_valid_after`), compared at the token's
/// precision: a token of the same second counts as after, so a user can
/// sign in the second they were created. A writer that must also kill
/// tokens of the current second (revoke-sessions) rounds `instant` up to
/// the next whole second.
pub fn issued_before(iat: i64, instant: OffsetDateTime) -> bool {
    iat < instant.unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant_of(query: &str, body: &str) -> Result<ExchangeRequest, ExchangeError> {
        parse(query, body.as_bytes())
    }

    #[test]
    fn every_grant_shape_parses() {
        let r = grant_of(
            "",
            "grant_type=access_token&service=r.test&tenant=t&access_token=a.b.c",
        )
        .map_err(|e| e.to_string());
        let r = r.as_ref().map(|r| {
            (
                matches!(&r.grant, Grant::AccessToken { access_token } if access_token == "a.b.c"),
                r.service.as_deref(),
                r.tenant.as_deref(),
            )
        });
        assert_eq!(r, Ok((true, Some("r.test"), Some("t"))));

        // azure-containerregistry: api-version in the query, no tenant.
        let r = grant_of(
            "api-version=2021-07-01",
            "grant_type=access_token&service=r.test&access_token=a.b.c",
        );
        assert!(matches!(r, Ok(ExchangeRequest { tenant: None, .. })));

        // cloud-provider-azure: the same access token twice.
        let r = grant_of(
            "",
            "grant_type=access_token_refresh_token&service=r&tenant=t&access_token=x.y.z&refresh_token=x.y.z",
        );
        assert!(matches!(
            r,
            Ok(ExchangeRequest { grant: Grant::AccessTokenRefreshToken { ref access_token }, .. }) if access_token == "x.y.z"
        ));
        assert!(matches!(
            grant_of("", "grant_type=refresh_token&service=r&refresh_token=rt"),
            Ok(ExchangeRequest {
                grant: Grant::RefreshToken,
                ..
            })
        ));
    }

    #[test]
    fn malformed_requests_are_named() {
        assert!(matches!(
            grant_of("", "service=r&access_token=a"),
            Err(ExchangeError::MissingGrantType)
        ));
        assert!(matches!(
            grant_of("", "grant_type=access_token&access_token="),
            Err(ExchangeError::MissingField("access_token", _))
        ));
        assert!(matches!(
            grant_of("", "grant_type=access_token_refresh_token&refresh_token=r"),
            Err(ExchangeError::MissingField("access_token", _))
        ));
        assert!(matches!(
            grant_of("", "grant_type=password&username=u"),
            Err(ExchangeError::UnsupportedGrant(ref g)) if g == "password"
        ));
        let shown = format!(
            "{:?}",
            grant_of("", "grant_type=access_token&access_token=secret.jwt.value")
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn audiences() {
        assert!(check_audience("https://containerregistry.azure.net", false).is_ok());
        assert!(check_audience("https://containerregistry.azure.net/", false).is_ok());
        for arm in [
            "https://management.azure.com/",
            "https://management.core.windows.net",
            "https://management.core.windows.net/",
        ] {
            assert!(check_audience(arm, true).is_ok(), "{arm}");
            assert!(check_audience(arm, false).is_err(), "{arm}");
        }
        assert!(check_audience("https://graph.microsoft.com", true).is_err());
        assert!(check_audience("04b07795-8ddb-461a-bbee-02f9e1bf7b46", true).is_err());
    }

    #[test]
    fn issued_before_compares_whole_seconds() {
        let at = |s: i64, ms: i64| {
            OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
                + time::Duration::milliseconds(ms)
        };
        assert!(issued_before(99, at(100, 0)));
        assert!(issued_before(99, at(100, 999)));
        assert!(!issued_before(100, at(100, 500)));
        assert!(!issued_before(101, at(100, 0)));
        // Revocation rounded up to the next second kills its own second.
        assert!(issued_before(100, at(101, 0)));
    }
}
