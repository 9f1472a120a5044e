//! ACR's own metadata API, `/acr/v1/…`, as azure-containerregistry, az CLI
//! (`acr repository show|show-tags|show-manifests|update|untag|delete`)
//! and acr-cli use it (acr-auth.md §4.3, clients.md "Paths, headers,
//! bodies").
//!
//! Every request goes as on `/v2/`: parse once into an [`AcrRoute`] (route
//! table and access in `route.rs`) → pick the registry by `Host` →
//! `gate::check` the route's [`Need`](crate::gate::Need) (so a 401 carries
//! the scope of acr-auth.md §1.2) → call `acrylic_registry` → map the
//! result to the wire (`shapes.rs`; errors in ACR's `AcrErrors` shape,
//! `error.rs`). Changeable attributes are the registry crate's to enforce,
//! so `/v2/` and this API agree. Deletions and attribute changes are
//! audited like `/v2/` pushes and deletes.

mod error;
mod route;
mod shapes;

use std::net::SocketAddr;

use acrylic_model::RepositoryName;
use acrylic_registry::{
    AttributesPatch, Distribution, ListOrder, MAX_PAGE, MetadataQuery, PageRequest, RegistryError,
};
use acrylic_store::Registry;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;

pub use error::{AcrError, Code};
pub use route::{AcrRoute, RouteError};

use crate::AppState;
use crate::gate::{self, GateError};
use crate::oci::{API_VERSION, CORRELATION_ID, audit, audited};

/// PATCH bodies are a handful of booleans.
const MAX_BODY: usize = 64 * 1024;

/// The `/acr/v1/` routes. One handler takes them all, because repository
/// names contain `/` and are parsed by `route.rs`, not by axum patterns.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/acr/v1", any(dispatch))
        .route("/acr/v1/", any(dispatch))
        .route("/acr/v1/{*rest}", any(dispatch))
}

/// Why a request failed: an ACR error, or the gate's own 401/403.
enum Refusal {
    Acr(AcrError),
    Gate(GateError),
}

impl From<AcrError> for Refusal {
    fn from(e: AcrError) -> Self {
        Refusal::Acr(e)
    }
}

impl From<RegistryError> for Refusal {
    fn from(e: RegistryError) -> Self {
        Refusal::Acr(e.into())
    }
}

impl From<RouteError> for Refusal {
    fn from(e: RouteError) -> Self {
        Refusal::Acr(e.into())
    }
}

impl From<GateError> for Refusal {
    fn from(e: GateError) -> Self {
        Refusal::Gate(e)
    }
}

type Reply = Result<Response, Refusal>;

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let correlation = uuid::Uuid::new_v4();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = request.into_parts();
    let mut response = match serve(&state, &parts, body, client).await {
        Ok(r) => r,
        Err(Refusal::Gate(e)) => e.into_response(),
        Err(Refusal::Acr(e)) => {
            // Logged once, here, with the id the client also sees.
            if let Some(cause) = &e.internal {
                tracing::error!(%correlation, method = %parts.method, path = %parts.uri.path(), error = %cause, "ACR metadata request failed");
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

async fn serve(state: &AppState, parts: &Parts, body: Body, client: Option<SocketAddr>) -> Reply {
    let route = AcrRoute::parse(&parts.method, parts.uri.path(), parts.uri.query())?;
    let registry = registry_of(state, parts).await?;
    let caller = gate::check(state, &registry, &parts.headers, &route.need(), client).await?;
    let dist = Distribution::new(state.meta.clone(), state.blobs.clone());
    let repo = |name: &RepositoryName| dist.repository(registry.id.clone(), name.clone());
    let permit = || {
        caller
            .permit
            .as_ref()
            .ok_or_else(|| AcrError::internal("the gate returned no permit"))
    };
    let login_server = registry.login_server.clone();
    let image = |name: &RepositoryName| name.to_string();

    match &route {
        AcrRoute::Catalog { page } => {
            let listing = dist.catalog(&registry.id, page).await?;
            let link = listing
                .next
                .as_ref()
                .map(|last| next_link("/acr/v1/_catalog", &page_of(page), last));
            // ACR answers an empty catalog with `null` (recorded, §4.3).
            let names: Vec<String> = listing.items.iter().map(ToString::to_string).collect();
            let body = shapes::Catalog {
                repositories: (!names.is_empty()).then_some(names),
            };
            json(StatusCode::OK, &body, link)
        }
        AcrRoute::GetRepository { name } => {
            let detail = repo(name).details().await?;
            json(
                StatusCode::OK,
                &shapes::RepositoryProperties::new(&login_server, detail),
                None,
            )
        }
        AcrRoute::UpdateRepository { name } => {
            let patch = read_patch(body).await?;
            let updated = repo(name).update_attributes(permit()?, &patch).await;
            let who = audited(&registry, &caller, client, "metadata_write", name);
            audit(
                state,
                &who,
                updated.is_ok(),
                outcome(&updated, || {
                    format!("repository {name}: {}", describe(&patch))
                }),
            )
            .await;
            json(
                StatusCode::OK,
                &shapes::RepositoryProperties::new(&login_server, updated?),
                None,
            )
        }
        AcrRoute::DeleteRepository { name } => {
            let deleted = repo(name).delete_repository(permit()?).await;
            let who = audited(&registry, &caller, client, "delete", name);
            audit(
                state,
                &who,
                deleted.is_ok(),
                outcome(&deleted, || format!("repository {name}")),
            )
            .await;
            deleted?;
            Ok(accepted())
        }
        AcrRoute::ListTags { name, query } => {
            let listing = repo(name).tag_details(query).await?;
            let link = listing
                .next
                .as_ref()
                .map(|last| next_link(&format!("/acr/v1/{name}/_tags"), query, last));
            let body = shapes::TagList {
                registry: login_server,
                image_name: image(name),
                tags: listing.items.into_iter().map(Into::into).collect(),
            };
            json(StatusCode::OK, &body, link)
        }
        AcrRoute::GetTag { name, tag } => {
            let detail = repo(name).tag_detail(tag).await?;
            let body = shapes::OneTag {
                registry: login_server,
                image_name: image(name),
                tag: detail.into(),
            };
            json(StatusCode::OK, &body, None)
        }
        AcrRoute::UpdateTag { name, tag } => {
            let patch = read_patch(body).await?;
            let updated = repo(name)
                .update_tag_attributes(permit()?, tag, &patch)
                .await;
            let who = audited(&registry, &caller, client, "metadata_write", name);
            audit(
                state,
                &who,
                updated.is_ok(),
                outcome(&updated, || format!("tag {tag}: {}", describe(&patch))),
            )
            .await;
            let body = shapes::OneTag {
                registry: login_server,
                image_name: image(name),
                tag: updated?.into(),
            };
            json(StatusCode::OK, &body, None)
        }
        AcrRoute::DeleteTag { name, tag } => {
            let deleted = repo(name).untag(permit()?, tag).await;
            let who = audited(&registry, &caller, client, "delete", name);
            audit(
                state,
                &who,
                deleted.is_ok(),
                outcome(&deleted, || format!("tag {tag}")),
            )
            .await;
            deleted?;
            Ok(accepted())
        }
        AcrRoute::ListManifests { name, query } => {
            let listing = repo(name).manifest_details(query).await?;
            let link = listing
                .next
                .as_ref()
                .map(|last| next_link(&format!("/acr/v1/{name}/_manifests"), query, last));
            let body = shapes::ManifestList {
                registry: login_server,
                image_name: image(name),
                manifests: listing.items.into_iter().map(Into::into).collect(),
            };
            json(StatusCode::OK, &body, link)
        }
        AcrRoute::GetManifest { name, digest } => {
            let metadata = repo(name).manifest_metadata(digest).await?;
            let body = shapes::OneManifest {
                registry: login_server,
                image_name: image(name),
                manifest: metadata.into(),
            };
            json(StatusCode::OK, &body, None)
        }
        AcrRoute::UpdateManifest { name, digest } => {
            let patch = read_patch(body).await?;
            let updated = repo(name)
                .update_manifest_attributes(permit()?, digest, &patch)
                .await;
            let who = audited(&registry, &caller, client, "metadata_write", name);
            audit(
                state,
                &who,
                updated.is_ok(),
                outcome(&updated, || {
                    format!("manifest {digest}: {}", describe(&patch))
                }),
            )
            .await;
            let body = shapes::OneManifest {
                registry: login_server,
                image_name: image(name),
                manifest: updated?.into(),
            };
            json(StatusCode::OK, &body, None)
        }
    }
}

/// The registry the `Host` header names; unknown hosts are NAME_UNKNOWN,
/// as on `/v2/`.
async fn registry_of(state: &AppState, parts: &Parts) -> Result<Registry, AcrError> {
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    state
        .registry_for_host(host)
        .await
        .map_err(AcrError::internal)?
        .ok_or_else(|| AcrError::new(Code::NameUnknown, "no registry answers on this host name"))
}

/// A PATCH body as an attribute change. An empty body changes nothing.
async fn read_patch(body: Body) -> Result<AttributesPatch, AcrError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        AcrError::new(
            Code::InvalidRequest,
            format!("reading the request body: {e}"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(AttributesPatch::default());
    }
    let parsed: shapes::AttributesBody = serde_json::from_slice(&bytes).map_err(|e| {
        AcrError::new(
            Code::InvalidRequest,
            format!("the body must be a changeableAttributes object of booleans: {e}"),
        )
    })?;
    Ok(parsed.into())
}

/// `deleteEnabled=false, writeEnabled=true`: what a PATCH asked, for the
/// audit log.
fn describe(patch: &AttributesPatch) -> String {
    let fields = [
        ("deleteEnabled", patch.delete_enabled),
        ("writeEnabled", patch.write_enabled),
        ("readEnabled", patch.read_enabled),
        ("listEnabled", patch.list_enabled),
    ];
    let set: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
    if set.is_empty() {
        "no change".into()
    } else {
        set.join(", ")
    }
}

/// The audit detail: what was done, or why it failed.
fn outcome<T, E: std::fmt::Display>(
    result: &Result<T, E>,
    done: impl FnOnce() -> String,
) -> String {
    match result {
        Ok(_) => done(),
        Err(e) => e.to_string(),
    }
}

/// The paging of the catalog, as a metadata query (no order, no filter).
fn page_of(page: &PageRequest) -> MetadataQuery {
    MetadataQuery {
        page: page.clone(),
        ..MetadataQuery::default()
    }
}

/// `Link: </acr/v1/…?last=X&n=N&orderby=…>; rel="next"`, in ACR's form
/// (acr-auth.md §4.3: `</acr/v1/_catalog?last=b&n=2&orderby=>`), keeping
/// the `digest` filter. Names, tags and digests are URL-safe by their
/// grammars, so nothing needs escaping.
fn next_link(path: &str, query: &MetadataQuery, last: &str) -> String {
    let n = query.page.n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let order = match query.order {
        ListOrder::Name => "",
        ListOrder::TimeDesc => "timedesc",
        ListOrder::TimeAsc => "timeasc",
    };
    let mut link = format!("<{path}?last={last}&n={n}&orderby={order}");
    if let Some(d) = &query.digest {
        link.push_str(&format!("&digest={d}"));
    }
    link.push_str(">; rel=\"next\"");
    link
}

fn json(status: StatusCode, body: &impl Serialize, link: Option<String>) -> Reply {
    let text = serde_json::to_string(body).map_err(AcrError::internal)?;
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(v) = link.and_then(|l| HeaderValue::try_from(l).ok()) {
        headers.insert(header::LINK, v);
    }
    Ok(response)
}

/// 202, as ACR answers a repository delete and an untag.
fn accepted() -> Response {
    let mut response = StatusCode::ACCEPTED.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use acrylic_model::Digest;

    use super::*;

    #[test]
    fn links_in_acr_form() {
        let page = |n, order, digest| MetadataQuery {
            page: PageRequest { n, last: None },
            order,
            digest,
        };
        assert_eq!(
            next_link(
                "/acr/v1/_catalog",
                &page(Some(2), ListOrder::Name, None),
                "b"
            ),
            "</acr/v1/_catalog?last=b&n=2&orderby=>; rel=\"next\""
        );
        let d = Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
        assert_eq!(
            next_link(
                "/acr/v1/a/b/_tags",
                &page(Some(5000), ListOrder::TimeDesc, Some(d.clone())),
                "v1"
            ),
            format!(
                "</acr/v1/a/b/_tags?last=v1&n={MAX_PAGE}&orderby=timedesc&digest={d}>; rel=\"next\""
            )
        );
    }

    #[test]
    fn patches_are_described_for_the_audit() {
        let p = AttributesPatch {
            write_enabled: Some(false),
            list_enabled: Some(true),
            ..AttributesPatch::default()
        };
        assert_eq!(describe(&p), "writeEnabled=false, listEnabled=true");
        assert_eq!(describe(&AttributesPatch::default()), "no change");
    }
}
