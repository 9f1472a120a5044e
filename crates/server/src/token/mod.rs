//! The registry token service, `/oauth2/token` (acr-auth.md §3,
//! spec/clients.md "/oauth2/token"), and ACR's token exchange,
//! `/oauth2/exchange` ([`exchange`], §2).
//!
//! One handler for GET and POST: parse the request ([`request`]), find the
//! registry by Host, check `service`, resolve the credential to a principal
//! ([`authn`]), ask `acrylic_authz::authorize` about every requested scope
//! and mint an ES256 access token whose `access` claim holds exactly the
//! granted subset — a partial grant is a 200 with the subset, as ACR does
//! (§3.1). Every issuance, refusal and failure is written to the audit log.
//!
//! Directory principals log in with a registry refresh token from
//! `/oauth2/exchange` (POST `grant_type=refresh_token`, or Basic with the
//! null GUID); the principal is re-checked at every issuance (still
//! exists, enabled, not signed out since the refresh token was issued —
//! [`authn`]) and its current role assignments decide the grant, so
//! revoke-sessions and role removal stop new access tokens at once.
//!
//! Also here, for the gate and the control plane: the start-up key loading
//! ([`load_keyring`]) and the facts `authorize` decides on
//! ([`grants_for`], [`registry_facts`]).

pub mod authn;
mod error;
pub mod exchange;
mod facts;
mod keyring;
pub mod request;

use std::net::SocketAddr;

use acrylic_authz::{
    Action, Grants, Principal, RegistryFacts, RepoAction, Resource, Scope, authorize,
};
use acrylic_model::RepositoryName;
use acrylic_store::Registry;
use acrylic_tokens::{
    ACCESS_TOKEN_LIFETIME, ANONYMOUS_TOKEN_LIFETIME, AccessClaims, AccessEntry, AcrylicClaim,
    RefreshClaims, TokenError,
};
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use authn::{AuthError, Authenticated, Credential, NULL_GUID, authenticate, basic_credentials};
pub use error::{AUTH_REQUIRED, TokenFailure};
pub use exchange::{issued_before, verify_directory_token};
pub use facts::{custom_role, grants_for, groups_of, registry_facts};
pub use keyring::{KeyringError, load_keyring};
pub(crate) use keyring::{add_stored, store_key};

use crate::AppState;

/// ACR's token responses (acr-auth.md §0.17).
pub(crate) const JSON_UTF8: &str = "application/json; charset=utf-8";
/// Token request forms are small; anything larger is not a token request.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Routes: `/oauth2/token` (GET and POST), `/oauth2/exchange` (POST) and
/// `/oauth2/jwks`, the public registry signing keys (issue #2 §5), for
/// anything that verifies our registry tokens itself (a docker-registry
/// peer, an auditor).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth2/token", get(token).post(token))
        .route("/oauth2/exchange", post(exchange::exchange))
        .route("/oauth2/jwks", get(jwks))
}

async fn jwks(State(state): State<AppState>) -> Response {
    let body = serde_json::to_string(&state.keys.registry_jwks()).unwrap_or_default();
    ([(CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8))], body).into_response()
}

/// The body of a successful answer. ACR itself sends only `access_token`
/// (§3.1); `token`, `expires_in` and `issued_at` are spec-legal and some
/// clients read `token` (distribution's token spec, spec/clients.md).
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token: String,
    expires_in: i64,
    issued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// What the audit row says about one request.
struct Audit {
    registry: Option<Registry>,
    principal: String,
    decision: &'static str,
    repository: Option<String>,
    detail: String,
}

async fn token(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let now = state.clock.now();
    let host = request_host(&parts.headers, &parts.uri);
    let body = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return TokenFailure::bad_request("the request body is too large or unreadable")
                .into_response();
        }
    };
    let query = parts.uri.query().unwrap_or("");

    let (result, audit) = issue(
        &state,
        &parts.method,
        &parts.headers,
        query,
        &body,
        &host,
        now,
    )
    .await;
    let audited = crate::audit::Event::new(audit.principal, "token", audit.decision)
        .registry(audit.registry.as_ref().map(|r| r.id.clone()))
        .repository(audit.repository)
        .client(client)
        .detail(Some(audit.detail))
        .record(&state, now)
        .await;
    match (result, audited) {
        (Ok(ok), Ok(())) => ok,
        (Ok(_), Err(e)) => {
            // Every issuance is recorded, or nothing is issued.
            tracing::error!(error = %e, "audit append failed; token withheld");
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

#[allow(clippy::too_many_arguments)]
async fn issue(
    state: &AppState,
    method: &axum::http::Method,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
    host: &str,
    now: OffsetDateTime,
) -> (Result<Response, TokenFailure>, Audit) {
    let mut audit = Audit {
        registry: None,
        principal: "unknown".into(),
        decision: "failed",
        repository: None,
        detail: String::new(),
    };
    let fail = |mut audit: Audit, f: TokenFailure| {
        audit.detail = f.message().to_owned();
        (Err(f), audit)
    };

    let registry = match state.registry_for_host(host).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return fail(
                audit,
                TokenFailure::not_found(format!("no registry answers at {host}")),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "registry lookup failed");
            return fail(audit, TokenFailure::internal());
        }
    };
    audit.registry = Some(registry.clone());

    let req = match request::parse(method, headers, query, body) {
        Ok(r) => r,
        Err(f) => return fail(audit, f),
    };
    audit.principal = req.credential.label(&registry);

    // `service` must name this registry (distribution token spec).
    if let Some(service) = &req.service
        && !service.eq_ignore_ascii_case(&registry.login_server)
        && !service.eq_ignore_ascii_case(host)
    {
        let shown: String = service.chars().take(255).collect();
        return fail(
            audit,
            TokenFailure::bad_request(format!(
                "service {shown:?} does not name this registry; expected {:?}",
                registry.login_server
            )),
        );
    }

    let unix_now = now.unix_timestamp();
    let who = match authenticate(state, &registry, &req.credential, unix_now, true).await {
        Ok(a) => a,
        Err(e) => {
            let failure = match &e {
                AuthError::Store(err) => {
                    tracing::error!(error = %err, "credential lookup failed");
                    TokenFailure::internal()
                }
                AuthError::AdminDisabled => {
                    TokenFailure::unauthorized(admin_disabled_message(&registry))
                }
                AuthError::BadToken(TokenError::Expired { .. }) => {
                    TokenFailure::unauthorized(expired_refresh_message(&registry))
                }
                AuthError::SignedOut | AuthError::WrongMode => {
                    TokenFailure::unauthorized(stale_refresh_message(&e, &registry))
                }
                AuthError::PrincipalGone => TokenFailure::unauthorized(e.to_string()),
                // Repository tokens (#4): the message says how to fix it.
                AuthError::TokenDisabled { .. } | AuthError::TokenPasswordExpired { .. } => {
                    TokenFailure::unauthorized(e.to_string())
                }
                // Service principals (#4): the expiry and the renewing
                // command, or the disabled state.
                AuthError::ClientSecretExpired { .. }
                | AuthError::ServicePrincipalDisabled { .. } => {
                    TokenFailure::unauthorized(e.to_string())
                }
                AuthError::Missing
                | AuthError::MalformedBasic
                | AuthError::BadCredentials
                | AuthError::BadToken(_)
                | AuthError::WrongRegistry
                | AuthError::RefreshNotAccepted => TokenFailure::unauthorized(AUTH_REQUIRED),
            };
            let (result, mut audit) = fail(audit, failure);
            audit.detail = format!("{e}; asked [{}]", req.scopes.join(" "));
            return (result, audit);
        }
    };
    audit.principal = who.principal.label();

    let facts = registry_facts(&registry);
    let grants = match grants_for(state, &who.principal, Some(&registry)).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "role assignment lookup failed");
            return fail(audit, TokenFailure::internal());
        }
    };
    let granted = decide_scopes(&who.principal, &facts, &grants, &req.scopes);
    audit.repository = granted.single_repository();
    audit.decision = granted.decision();
    audit.detail = granted.detail();

    let lifetime = if who.principal == Principal::Anonymous {
        ANONYMOUS_TOKEN_LIFETIME
    } else {
        ACCESS_TOKEN_LIFETIME
    };
    let claims = AccessClaims::new(
        AcrylicClaim::new(&who.principal, facts.abac),
        who.subject.clone(),
        &registry.login_server,
        registry.id.clone(),
        granted.entries,
        unix_now,
        lifetime,
    );
    let access_token = match state.keys.mint_access(&claims) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "minting an access token failed");
            return fail(audit, TokenFailure::internal());
        }
    };

    let refresh_token = match refresh_for(state, &registry, &facts, &grants, &who, &req, unix_now) {
        Ok(r) => r,
        Err(f) => return fail(audit, f),
    };
    if refresh_token.is_some() {
        audit.detail.push_str("; refresh token returned");
    }

    let body = TokenResponse {
        token: access_token.clone(),
        access_token,
        expires_in: lifetime,
        issued_at: now.format(&Rfc3339).unwrap_or_default(),
        refresh_token,
    };
    let response = (
        [
            (CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8)),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        serde_json::to_string(&body).unwrap_or_default(),
    )
        .into_response();
    (Ok(response), audit)
}

/// Whether the answer carries a registry refresh token (acr-auth.md §3.2,
/// §9.2):
/// - null-GUID login with a refresh token (Basic or `grant_type=password`):
///   yes, the same token, so docker stores it as its identity token and the
///   3-hour limit stays that of the original token. Not for
///   `grant_type=refresh_token`, whose ACR answer is `access_token` only;
/// - `offline_token=true` from another directory principal: a new 3-hour
///   refresh token;
/// - never for the admin user, repository tokens, service principals
///   logging in with `appId` + secret (#4), or anonymous: their logins are
///   stored in the wild as plain `auth` (pull secrets, CI `docker login`)
///   and replayed as Basic for months; a 3-hour identity token in their
///   place would make a long-lived login silently expire (acr-auth.md
///   §3.2: only the null-GUID case is known to get one).
fn refresh_for(
    state: &AppState,
    registry: &Registry,
    facts: &RegistryFacts,
    grants: &Grants,
    who: &Authenticated,
    req: &request::TokenRequest,
    now: i64,
) -> Result<Option<String>, TokenFailure> {
    if let Some(presented) = &who.refresh {
        return Ok((!req.refresh_grant).then(|| presented.token.clone()));
    }
    let directory_principal = who.principal.object_id().is_some()
        && !matches!(who.principal, Principal::ServicePrincipal { .. });
    if !(req.offline && directory_principal) {
        return Ok(None);
    }
    let claims = RefreshClaims::new(
        AcrylicClaim::new(&who.principal, facts.abac),
        who.subject.clone(),
        &registry.login_server,
        registry.id.clone(),
        permission_summary(&who.principal, facts, grants),
        now,
    );
    state.keys.mint_refresh(&claims).map(Some).map_err(|e| {
        tracing::error!(error = %e, "minting a refresh token failed");
        TokenFailure::internal()
    })
}

/// The refresh token's `permissions.actions`: a coarse, informational
/// summary (`read`, `write`, `delete`; acr-auth.md §2.3). Access is decided
/// again by `authorize` on every token request, so nothing relies on it.
/// Under legacy RBAC the decision does not depend on the repository name,
/// so any valid name serves as the probe.
fn permission_summary(
    principal: &Principal,
    facts: &RegistryFacts,
    grants: &Grants,
) -> Vec<String> {
    let Ok(probe) = RepositoryName::parse("permission-summary") else {
        return Vec::new();
    };
    let asked = [
        Action::Repository(RepoAction::Pull),
        Action::Repository(RepoAction::Push),
        Action::Repository(RepoAction::Delete),
    ];
    let decision = authorize(
        principal,
        Resource::Repository {
            registry: facts,
            name: &probe,
        },
        &asked,
        grants,
    );
    [
        ("read", &asked[0]),
        ("write", &asked[1]),
        ("delete", &asked[2]),
    ]
    .into_iter()
    .filter(|(_, a)| decision.allows(a))
    .map(|(word, _)| word.to_owned())
    .collect()
}

/// The granted subset of the requested scopes, as `access` entries.
struct Granted {
    entries: Vec<AccessEntry>,
    asked: Vec<String>,
    granted: Vec<String>,
    asked_actions: usize,
    granted_actions: usize,
    reasons: Vec<String>,
    repositories: Vec<String>,
}

impl Granted {
    fn decision(&self) -> &'static str {
        if self.granted_actions == self.asked_actions {
            "granted"
        } else if self.granted_actions > 0 {
            "partial"
        } else {
            "denied"
        }
    }

    fn single_repository(&self) -> Option<String> {
        match self.repositories.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    fn detail(&self) -> String {
        let mut d = format!(
            "asked [{}]; granted [{}]",
            self.asked.join(" "),
            self.granted.join(" ")
        );
        if !self.reasons.is_empty() {
            d.push_str("; ");
            d.push_str(&self.reasons.join("; "));
        }
        d
    }
}

/// Asks `authorize` about every scope. Scopes for the same resource merge
/// into one entry (containerd asks `repository:x:pull repository:x:pull,push`).
/// A resource with nothing granted still gets an entry with empty
/// `actions`, as ACR's (az CLI reports "no" permissions from it, §3.1).
/// Unparseable scopes grant nothing and are noted in the audit detail.
fn decide_scopes(
    principal: &Principal,
    facts: &RegistryFacts,
    grants: &Grants,
    raw: &[String],
) -> Granted {
    let mut out = Granted {
        entries: Vec::new(),
        asked: raw.to_vec(),
        granted: Vec::new(),
        asked_actions: 0,
        granted_actions: 0,
        reasons: Vec::new(),
        repositories: Vec::new(),
    };
    for s in raw {
        let scope = match Scope::parse(s) {
            Ok(scope) => scope,
            Err(e) => {
                out.asked_actions += 1;
                out.reasons.push(e.to_string());
                continue;
            }
        };
        let actions = scope.actions();
        let (resource, kind, name) = match &scope {
            Scope::Repository { name, .. } => (
                Resource::Repository {
                    registry: facts,
                    name,
                },
                "repository",
                name.to_string(),
            ),
            // acr-cli's `repository:*:*` (acr-auth.md §3.5): an entry named
            // `*`; `authorize` grants nothing for it on ABAC registries.
            Scope::AllRepositories { .. } => (
                Resource::AllRepositories { registry: facts },
                "repository",
                "*".to_owned(),
            ),
            Scope::Catalog => (
                Resource::Catalog { registry: facts },
                "registry",
                "catalog".to_owned(),
            ),
        };
        if kind == "repository" && !out.repositories.contains(&name) {
            out.repositories.push(name.clone());
        }
        let decision = authorize(principal, resource, &actions, grants);
        out.asked_actions += actions.len();
        out.granted_actions += decision.granted.len();
        if !decision.is_full() {
            out.reasons.push(format!("{s}: {}", decision.reason));
        }
        let names: Vec<String> = decision.granted.iter().map(|a| a.to_string()).collect();
        if !names.is_empty() {
            out.granted
                .push(format!("{kind}:{name}:{}", names.join(",")));
        }
        match out
            .entries
            .iter_mut()
            .find(|e| e.kind == kind && e.name == name)
        {
            Some(entry) => {
                for n in names {
                    if !entry.actions.contains(&n) {
                        entry.actions.push(n);
                    }
                }
            }
            None => out.entries.push(AccessEntry {
                kind: kind.into(),
                name,
                actions: names,
            }),
        }
    }
    out
}

/// The message for a disabled admin user: what is wrong and the command
/// that fixes it (acr-auth.md §6.5; DESIGN "admin user").
pub fn admin_disabled_message(registry: &Registry) -> String {
    format!(
        "the admin user of registry {name} is disabled; enable it with `acrylic acr update --name {name} --admin-enabled true`",
        name = registry.name
    )
}

/// An expired registry refresh token: the 3-hour sign-in is over, and the
/// command that starts a new one (issue #3 §2). docker, skopeo and podman
/// print it as `unauthorized: <message>`.
pub fn expired_refresh_message(registry: &Registry) -> String {
    format!(
        "the registry login has expired (registry refresh tokens live 3 hours); run `acrylic acr login --name {name}` again",
        name = registry.name
    )
}

/// A refresh token that is no longer honoured although unexpired.
fn stale_refresh_message(e: &AuthError, registry: &Registry) -> String {
    format!(
        "{e}; sign in again with `acrylic login`, then `acrylic acr login --name {name}`",
        name = registry.name
    )
}

/// The host the client addressed: `Host` (HTTP/1.1) or the URI authority
/// (HTTP/2 `:authority`).
pub(crate) fn request_host(headers: &HeaderMap, uri: &Uri) -> String {
    headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default()
}
