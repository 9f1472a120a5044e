//! Operations endpoints and request metrics.
//!
//! - `GET /healthz` — liveness: 200 while the process serves requests;
//! - `GET /readyz` — readiness: 200 when the metadata store answers a ping,
//!   503 otherwise (a load balancer stops sending traffic, the process lives);
//! - `GET /metrics` — Prometheus text format, rendered from the process-wide
//!   recorder installed by [`install_metrics`], plus gauges read from the
//!   store at each scrape (credential expiry, #4:
//!   `crate::directory::apps::expiry_metrics`);
//! - `GET /metadata/endpoints` — the cloud's endpoints, shaped like Azure
//!   Resource Manager's (`az cloud register --endpoint-resource-manager`
//!   reads it): where sign-in happens and the registry login-server suffix,
//!   so a client can find `<registry>.<suffix>` without reading the registry
//!   resource (as `az acr login` falls back to the cloud's suffix). It also
//!   names the registry that answers on the bare listener address;
//! - [`track`] — middleware counting every request by surface, method and
//!   status, and timing it.
//!
//! These answer on every host and need no credentials (they reveal nothing
//! about registries or principals).

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Histogram buckets of request durations, in seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's `metrics` recorder,
/// once. Returns `None` if another recorder was installed first (then
/// `/metrics` answers 503).
pub fn install_metrics() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(DURATION_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics is disabled");
                    None
                }
            }
        })
        .as_ref()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .route("/metadata/endpoints", get(cloud_endpoints))
}

async fn cloud_endpoints(State(state): State<AppState>) -> Response {
    let s = &state.settings;
    let suffix = match s.public_port {
        Some(p) => format!("{}:{p}", s.domain),
        None => s.domain.clone(),
    };
    let bare = match &s.bootstrap_registry {
        Some(id) => match state.meta.find_registry(id).await {
            Ok(found) => found.map(
                |r| serde_json::json!({"name": r.name.as_str(), "loginServer": r.login_server}),
            ),
            Err(e) => {
                tracing::error!(error = %e, "cloud metadata: registry lookup failed");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        },
        None => None,
    };
    let server = s.server_url();
    axum::Json(serde_json::json!({
        "name": "acrylic",
        "resourceManager": format!("{server}/"),
        "authentication": {
            "loginEndpoint": format!("{server}/"),
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "organizations",
            "identityProvider": "AAD"
        },
        "suffixes": { "acrLoginServer": suffix },
        "acrylic": { "bareAddressRegistry": bare }
    }))
    .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.meta.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: metadata store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "metadata store unreachable\n",
            )
                .into_response()
        }
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    match install_metrics() {
        Some(handle) => {
            handle.run_upkeep();
            let mut text = handle.render();
            // Per-server facts from the store, so every replica reports the
            // same and a deleted principal's series disappears.
            match crate::directory::apps::expiry_metrics(&state).await {
                Ok(lines) => text.push_str(&lines),
                Err(e) => tracing::warn!(error = %e, "metrics: reading credential expiries failed"),
            }
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics are disabled\n").into_response(),
    }
}

/// Which surface a path belongs to (a bounded label: paths themselves
/// would make one time series per repository).
fn surface(path: &str) -> &'static str {
    if path.starts_with("/v2/") || path == "/v2" {
        "oci"
    } else if path.starts_with("/oauth2/") {
        "token"
    } else if path.starts_with("/subscriptions") || path.starts_with("/providers") {
        "arm"
    } else if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        "ops"
    } else {
        "directory"
    }
}

/// Counts and times every request (`acrylic_http_requests_total`,
/// `acrylic_http_request_duration_seconds`).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let surface = surface(req.uri().path());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("acrylic_http_requests_total", "surface" => surface, "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("acrylic_http_request_duration_seconds", "surface" => surface, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::surface;

    #[test]
    fn surfaces_are_a_small_fixed_set() {
        for (path, want) in [
            ("/v2/", "oci"),
            ("/v2/team/app/manifests/latest", "oci"),
            ("/oauth2/token", "token"),
            ("/subscriptions/x/resourceGroups/y", "arm"),
            ("/healthz", "ops"),
            ("/metrics", "ops"),
            (
                "/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
                "directory",
            ),
        ] {
            assert_eq!(surface(path), want, "{path}");
        }
    }
}
