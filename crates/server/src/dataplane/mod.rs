//! What the two data-plane surfaces, OCI's `/v2/` (`oci`) and ACR's
//! `/acr/v1/` (`acr_v1`), share: the request frame (a correlation id per
//! request, an internal error's cause logged once, the
//! `Docker-Distribution-Api-Version` and correlation headers on every
//! answer), the registry picked by `Host`, the wire error and its one table
//! of codes (`error.rs`), the path and query grammar (`path.rs`), and the
//! audit of pushes, deletes and attribute changes.
//!
//! Calls go one way: a surface's handler wraps its request in a [`Call`],
//! serves it, and hands the outcome back to [`Call::respond`]; nothing here
//! knows the surfaces' routes.

mod error;
pub(crate) mod path;

use std::net::SocketAddr;

use acrylic_authz::Permit;
use acrylic_model::RepositoryName;
use acrylic_registry::RegistryError;
use acrylic_store::Registry;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) use error::render;
pub use error::{Code, OciError, upload_range};

use crate::gate::{Caller, GateError};
use crate::{AppState, audit};

pub(crate) const API_VERSION: HeaderName =
    HeaderName::from_static("docker-distribution-api-version");
const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");

/// Why a request failed: a wire error, or the gate's own 401/403.
pub(crate) enum Refusal {
    Wire(OciError),
    Gate(GateError),
}

impl From<OciError> for Refusal {
    fn from(e: OciError) -> Self {
        Refusal::Wire(e)
    }
}

impl From<RegistryError> for Refusal {
    fn from(e: RegistryError) -> Self {
        Refusal::Wire(e.into())
    }
}

impl From<GateError> for Refusal {
    fn from(e: GateError) -> Self {
        Refusal::Gate(e)
    }
}

/// What a surface's `serve` returns.
pub(crate) type Reply = Result<Response, Refusal>;

/// One data-plane request: its head, the client's address, and the id the
/// response and the log will carry.
pub(crate) struct Call {
    pub(crate) parts: Parts,
    pub(crate) client: Option<SocketAddr>,
    correlation: uuid::Uuid,
}

impl Call {
    pub(crate) fn new(request: Request) -> (Call, Body) {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let (parts, body) = request.into_parts();
        let call = Call {
            parts,
            client,
            correlation: uuid::Uuid::new_v4(),
        };
        (call, body)
    }

    /// The answer to send for `reply`, with the common headers. `surface`
    /// names the API in the log line of an internal error.
    pub(crate) fn respond(&self, surface: &str, reply: Reply) -> Response {
        let correlation = self.correlation;
        let parts = &self.parts;
        let mut response = match reply {
            Ok(r) => r,
            Err(Refusal::Gate(e)) => e.into_response(),
            Err(Refusal::Wire(e)) => {
                // Logged once, here, with the id the client also sees.
                if let Some(cause) = &e.internal {
                    tracing::error!(%correlation, method = %parts.method, path = %parts.uri.path(), error = %cause, "{surface} request failed");
                }
                e.into_response()
            }
        };
        let headers = response.headers_mut();
        headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
        if let Ok(v) = HeaderValue::try_from(correlation.to_string()) {
            headers.insert(CORRELATION_ID, v);
        }
        response
    }
}

/// The registry the `Host` header names; unknown hosts are NAME_UNKNOWN.
pub(crate) async fn registry_of(state: &AppState, parts: &Parts) -> Result<Registry, OciError> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    state
        .registry_for_host(host)
        .await
        .map_err(OciError::internal)?
        .ok_or_else(|| OciError::new(Code::NameUnknown, "no registry answers on this host name"))
}

/// The permit the gate issued for the route's need. Only `Need::Base`
/// comes without one, so a handler asking for it there is a bug: a 500.
pub(crate) fn permit_of(caller: &Caller) -> Result<&Permit, OciError> {
    caller
        .permit
        .as_ref()
        .ok_or_else(|| OciError::internal("the gate returned no permit"))
}

/// 202 with an empty body: a deleted manifest or blob (dist-spec end-9,
/// end-10), and ACR's answer to a repository delete and an untag.
pub(crate) fn accepted() -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// Who did what where, for the audit log.
pub(crate) struct Audited<'a> {
    registry: &'a Registry,
    principal: String,
    client: Option<SocketAddr>,
    action: &'static str,
    repository: &'a RepositoryName,
}

impl<'a> Audited<'a> {
    pub(crate) fn new(
        registry: &'a Registry,
        caller: &Caller,
        client: Option<SocketAddr>,
        action: &'static str,
        repository: &'a RepositoryName,
    ) -> Self {
        Audited {
            registry,
            principal: caller.principal.label(),
            client,
            action,
            repository,
        }
    }

    /// Records a push, delete or attribute change that the gate let through
    /// (issue #2 §5: every push/delete is audited; refusals are the gate's
    /// to record): `granted` with `done`'s description when it took effect,
    /// `failed` with the registry's reason when it did not. Best effort:
    /// the change has happened either way, so a failing audit store is
    /// logged, not turned into an error.
    pub(crate) async fn record<T, E: std::fmt::Display>(
        &self,
        state: &AppState,
        outcome: &Result<T, E>,
        done: impl FnOnce(&T) -> String,
    ) {
        let (decision, detail) = match outcome {
            Ok(value) => ("granted", done(value)),
            Err(e) => ("failed", e.to_string()),
        };
        audit::Event::new(self.principal.clone(), self.action, decision)
            .registry(Some(self.registry.id.clone()))
            .repository(Some(self.repository.to_string()))
            .client(self.client)
            .detail(Some(detail))
            .record_best_effort(state)
            .await;
    }
}
