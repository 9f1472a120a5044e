//! The data-plane gate: who is calling, and may they do what the route needs?
//!
//! Order (STYLE §3): first the protocol check — does the bearer token's
//! `access` claim cover the route's need? If not: 401 with a challenge naming
//! the scope, so the client fetches a wider token. Then `authz::authorize`
//! against the current facts (registry settings, role assignments), so a
//! revoked role or a disabled admin takes effect on the next request.
//!
//! INTERFACE (used by `oci`, implemented by the tokens engineer; the body
//! below is a placeholder that refuses everything).

use std::net::SocketAddr;

use acrylic_authz::{Permit, Principal, RepoAction};
use acrylic_model::RepositoryName;
use acrylic_store::Registry;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// What a data-plane route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `GET /v2/`: any authenticated caller of this registry.
    Base,
    /// `registry:catalog:*`.
    Catalog,
    /// `repository:<name>:<action>`.
    Repository { name: RepositoryName, action: RepoAction },
}

/// An authenticated caller and the permit for the need (none for `Base`).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub permit: Option<Permit>,
}

/// Why the gate refused. Renders as an OCI error body with the right status
/// and, for 401, ACR's `WWW-Authenticate: Bearer realm=…,service=…[,scope=…]`.
#[derive(Debug)]
pub enum GateError {
    /// No or invalid credentials, or a token whose `access` does not cover
    /// the need: 401 + challenge.
    Unauthorized { challenge: String, message: String },
    /// Authenticated, but `authorize` refused: 403 DENIED.
    Denied { message: String },
    /// The store failed: 500.
    Internal,
}

impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        axum::http::StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Authenticates the request against `registry` and authorizes `need`.
pub async fn check(
    _state: &AppState,
    _registry: &Registry,
    _headers: &HeaderMap,
    _need: &Need,
    _client: Option<SocketAddr>,
) -> Result<Caller, GateError> {
    Err(GateError::Internal)
}
