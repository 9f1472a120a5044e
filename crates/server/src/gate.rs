//! The data-plane gate: who is calling, and may they do what the route needs?
//!
//! Order (STYLE §3): first the protocol check — does the bearer token's
//! `access` claim cover the route's need? If not: 401 with a challenge naming
//! the scope, so the client fetches a wider token. Then `authz::authorize`
//! against the current facts (registry settings, role assignments), so a
//! revoked role or a disabled admin takes effect on the next request.
//!
//! Accepted credentials:
//! - `Authorization: Bearer <registry access token>`: ES256, `aud` = this
//!   registry's login server, `rid` = its id, unexpired, issued under the
//!   registry's current role-assignment mode;
//! - `Authorization: Basic` with admin credentials, directly (ACR accepts
//!   it, acr-auth.md §3.2 "Direct Basic on the data plane"; acr-cli relies
//!   on it). The null GUID with a refresh token is refused here, as ACR
//!   does (§2.4).
//!
//! The challenge is exactly one `WWW-Authenticate: Bearer realm="…",
//! service="…"[,scope="…"][,error="…"]` header, values double-quoted, no
//! commas or `=` inside them (acr-auth.md §1.1: az CLI and
//! cloud-provider-azure parse it naively).

use std::net::SocketAddr;

use acrylic_authz::{Action, Permit, Principal, RepoAction, Resource, authorize};
use acrylic_model::RepositoryName;
use acrylic_store::Registry;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::dataplane::{API_VERSION, Code, render};
use crate::token::{self, AUTH_REQUIRED, AuthError, Credential};

const DENIED: &str = "requested access to the resource is denied";

/// What a data-plane route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `GET /v2/`: any authenticated caller of this registry.
    Base,
    /// `registry:catalog:*`.
    Catalog,
    /// `repository:<name>:<action>`.
    Repository {
        name: RepositoryName,
        action: RepoAction,
    },
}

impl Need {
    /// The challenge's `scope` (none for `Base`).
    fn scope(&self) -> Option<String> {
        match self {
            Need::Base => None,
            Need::Catalog => Some("registry:catalog:*".into()),
            Need::Repository { name, action } => Some(format!("repository:{name}:{action}")),
        }
    }

    /// The `detail` of ACR's UNAUTHORIZED body: `[{"Type","Name","Action"}]`
    /// with capitalised keys (acr-auth.md §1.2); `null` for `/v2/` (§1.1).
    fn detail(&self) -> serde_json::Value {
        match self {
            Need::Base => serde_json::Value::Null,
            Need::Catalog => {
                serde_json::json!([{"Type": "registry", "Name": "catalog", "Action": "*"}])
            }
            Need::Repository { name, action } => {
                serde_json::json!([{"Type": "repository", "Name": name.as_str(), "Action": action.as_str()}])
            }
        }
    }

    fn action(&self) -> Option<Action> {
        match self {
            Need::Base => None,
            Need::Catalog => Some(Action::CatalogList),
            Need::Repository { action, .. } => Some(Action::Repository(*action)),
        }
    }
}

/// An authenticated caller and the permit for the need (none for `Base`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub permit: Option<Permit>,
}

/// Why the gate refused. Renders as the data plane's error body (with ACR's
/// `application/json; charset=utf-8`) and, for 401, ACR's
/// `WWW-Authenticate: Bearer realm=…,service=…[,scope=…]`.
#[derive(Debug)]
pub enum GateError {
    /// No or invalid credentials, or a token whose `access` does not cover
    /// the need: 401 + challenge.
    Unauthorized {
        challenge: String,
        message: String,
        /// The error body's `detail` (what the route needs).
        detail: serde_json::Value,
    },
    /// Authenticated, but `authorize` refused: 403 DENIED.
    Denied {
        message: String,
        detail: serde_json::Value,
    },
    /// The store failed: 500.
    Internal,
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        let (code, message, detail, challenge) = match self {
            GateError::Unauthorized {
                challenge,
                message,
                detail,
            } => (Code::Unauthorized, message, detail, Some(challenge)),
            GateError::Denied { message, detail } => (Code::Denied, message, detail, None),
            GateError::Internal => (
                Code::Unknown,
                "internal server error".to_owned(),
                serde_json::Value::Null,
                None,
            ),
        };
        let mut response = render(code.status(), code, &message, &detail);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(token::JSON_UTF8));
        headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// The `error` parameter of a challenge (RFC 6750 §3.1).
#[derive(Debug, Clone, Copy)]
enum ChallengeError {
    /// No credentials were presented.
    None,
    /// A presented token (or Basic credential) was rejected.
    InvalidToken,
    /// A valid token whose `access` does not cover the need.
    InsufficientScope,
}

/// Authenticates the request against `registry` and authorizes `need`.
pub async fn check(
    state: &AppState,
    registry: &Registry,
    headers: &HeaderMap,
    need: &Need,
    client: Option<SocketAddr>,
) -> Result<Caller, GateError> {
    let now = state.clock.unix_now();
    let unauthorized = |why: ChallengeError| GateError::Unauthorized {
        challenge: challenge(state, registry, headers, need, why),
        message: AUTH_REQUIRED.into(),
        detail: need.detail(),
    };
    let facts = token::registry_facts(registry);
    // Set when a valid token does not name what the route needs: the caller
    // gets a 401 for a wider token only if it could be granted one.
    let mut token_short = false;

    let principal = match presented(headers) {
        Presented::None => return Err(unauthorized(ChallengeError::None)),
        Presented::Other => return Err(unauthorized(ChallengeError::InvalidToken)),
        Presented::Bearer(token) => {
            let claims = state
                .keys
                .verify_access(token, &registry.login_server, now)
                .map_err(|e| {
                    tracing::debug!(registry = %registry.name, error = %e, "bearer token refused");
                    unauthorized(ChallengeError::InvalidToken)
                })?;
            if claims.rid != registry.id || claims.acrylic.abac != facts.abac {
                return Err(unauthorized(ChallengeError::InvalidToken));
            }
            // The protocol check: the token must name what the route needs.
            if let Some(action) = need.action() {
                let repository = match need {
                    Need::Repository { name, .. } => Some(name),
                    _ => None,
                };
                token_short = !claims.allows(repository, &action);
            }
            claims.acrylic.principal()
        }
        Presented::Basic(user, pass) => {
            let credential = Credential::from_pair(user, pass);
            match token::authenticate(state, registry, &credential, now, false).await {
                // Anonymous is never a Basic outcome: an empty pair is "no
                // credentials", challenged like a missing header.
                Ok(who) if who.principal != Principal::Anonymous => who.principal,
                Ok(_) => return Err(unauthorized(ChallengeError::None)),
                Err(AuthError::Store(e)) => {
                    tracing::error!(error = %e, "credential lookup failed");
                    return Err(GateError::Internal);
                }
                Err(AuthError::AdminDisabled) => {
                    return Err(GateError::Unauthorized {
                        challenge: challenge(
                            state,
                            registry,
                            headers,
                            need,
                            ChallengeError::InvalidToken,
                        ),
                        message: token::admin_disabled_message(registry),
                        detail: need.detail(),
                    });
                }
                Err(_) => return Err(unauthorized(ChallengeError::InvalidToken)),
            }
        }
    };

    // Then `authorize` on current facts.
    let Some(action) = need.action() else {
        return Ok(Caller {
            principal,
            permit: None,
        });
    };
    let grants = token::grants_for(state, &principal, Some(registry))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "role assignment lookup failed");
            GateError::Internal
        })?;
    let resource = match need {
        Need::Repository { name, .. } => Resource::Repository {
            registry: &facts,
            name,
        },
        Need::Catalog | Need::Base => Resource::Catalog { registry: &facts },
    };
    let decision = authorize(&principal, resource, std::slice::from_ref(&action), &grants);
    match decision.permit(&action) {
        // Allowed now, but the token does not say so: challenge for a wider
        // token (the client asks /oauth2/token again with this scope).
        Some(_) if token_short => Err(unauthorized(ChallengeError::InsufficientScope)),
        Some(permit) => Ok(Caller {
            principal,
            permit: Some(permit),
        }),
        // Anonymous callers are challenged to authenticate, not told they
        // are denied (RFC 6750 §3: they may still present credentials).
        None if principal == Principal::Anonymous => Err(unauthorized(ChallengeError::None)),
        None => {
            let why = decision
                .denial(&action)
                .unwrap_or_else(|| decision.reason.clone());
            tracing::debug!(registry = %registry.name, principal = %principal.label(), reason = %why, "denied");
            // Refused changes are audited like granted ones (issue #2 §5);
            // refused reads are not, to keep the log about what matters.
            if let Need::Repository {
                name,
                action: act @ (RepoAction::Push | RepoAction::Delete | RepoAction::MetadataWrite),
            } = need
            {
                crate::audit::Event::new(principal.label(), act.as_str(), "denied")
                    .registry(Some(registry.id.clone()))
                    .repository(Some(name.to_string()))
                    .client(client)
                    .detail(Some(why.clone()))
                    .record_best_effort(state)
                    .await;
            }
            Err(GateError::Denied {
                message: format!("{DENIED}: {why}"),
                detail: need.detail(),
            })
        }
    }
}

enum Presented<'a> {
    None,
    Bearer(&'a str),
    Basic(String, String),
    /// Another scheme, or a malformed header.
    Other,
}

fn presented(headers: &HeaderMap) -> Presented<'_> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Presented::None;
    };
    let Some((scheme, rest)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Presented::Other;
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Bearer(rest.trim());
    }
    match token::basic_credentials(headers) {
        Ok(Some((u, p))) => Presented::Basic(u, p),
        _ => Presented::Other,
    }
}

/// `Bearer realm="<scheme>://<host>/oauth2/token",service="<login server>"
/// [,scope="…"][,error="…"]` (acr-auth.md §1.1, §1.2). The realm uses the
/// host the client addressed, so the token request goes where the client
/// can reach; a Host that could break the header's syntax is replaced by
/// the login server.
fn challenge(
    state: &AppState,
    registry: &Registry,
    headers: &HeaderMap,
    need: &Need,
    why: ChallengeError,
) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_safe_host(h))
        .unwrap_or(&registry.login_server);
    let mut c = format!(
        "Bearer realm=\"{}://{host}/oauth2/token\",service=\"{}\"",
        state.settings.scheme, registry.login_server
    );
    if let Some(scope) = need.scope() {
        c.push_str(&format!(",scope=\"{scope}\""));
    }
    match why {
        ChallengeError::None => {}
        ChallengeError::InvalidToken => c.push_str(",error=\"invalid_token\""),
        ChallengeError::InsufficientScope => c.push_str(",error=\"insufficient_scope\""),
    }
    c
}

fn is_safe_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_scopes_and_details() {
        let name = RepositoryName::parse("team/app").expect("name");
        let need = Need::Repository {
            name,
            action: RepoAction::Delete,
        };
        assert_eq!(need.scope().as_deref(), Some("repository:team/app:delete"));
        assert_eq!(
            need.detail(),
            serde_json::json!([{"Type": "repository", "Name": "team/app", "Action": "delete"}])
        );
        assert_eq!(Need::Catalog.scope().as_deref(), Some("registry:catalog:*"));
        assert_eq!(Need::Base.scope(), None);
        assert_eq!(Need::Base.detail(), serde_json::Value::Null);
    }

    #[test]
    fn unsafe_hosts_are_not_echoed() {
        assert!(is_safe_host("myreg.acrylic.localhost:5000"));
        assert!(is_safe_host("[::1]:5000"));
        assert!(!is_safe_host("evil\",scope=\"x"));
        assert!(!is_safe_host("a,b"));
        assert!(!is_safe_host(""));
    }
}
