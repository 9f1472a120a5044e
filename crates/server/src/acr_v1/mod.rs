//! ACR's own metadata API, `/acr/v1/…`, as azure-containerregistry, az CLI
//! (`acr repository show|show-tags|show-manifests|update|untag|delete`)
//! and acr-cli use it (acr-auth.md §4.3, clients.md "Paths, headers,
//! bodies").
//!
//! Every request goes as on `/v2/`: parse once into an [`AcrRoute`] (route
//! table and access in `route.rs`) → pick the registry by `Host` →
//! `gate::check` the route's [`Need`](crate::gate::Need) (so a 401 carries
//! the scope of acr-auth.md §1.2) → call `acrylic_registry` → map the
//! result to the wire (`shapes.rs`; errors in ACR's `AcrErrors` shape, which
//! is `/v2/`'s error body). The request frame, the error table and the
//! audit are `dataplane`'s, shared with `/v2/`. Changeable attributes are
//! the registry crate's to enforce, so `/v2/` and this API agree. Deletions
//! and attribute changes are audited like `/v2/` pushes and deletes.

mod error;
mod route;
mod shapes;

use std::net::SocketAddr;

use acrylic_model::RepositoryName;
use acrylic_registry::{
    AttributesPatch, Distribution, ListOrder, MAX_PAGE, MetadataQuery, PageRequest,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Serialize;

pub use route::{AcrRoute, RouteError};

use crate::AppState;
use crate::dataplane::{Audited, Call, Code, OciError, Reply, accepted, permit_of, registry_of};
use crate::gate;

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

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (call, body) = Call::new(request);
    let reply = serve(&state, &call.parts, body, call.client).await;
    call.respond("ACR metadata", reply)
}

async fn serve(state: &AppState, parts: &Parts, body: Body, client: Option<SocketAddr>) -> Reply {
    let route = AcrRoute::parse(&parts.method, parts.uri.path(), parts.uri.query())
        .map_err(OciError::from)?;
    let registry = registry_of(state, parts).await?;
    let caller = gate::check(state, &registry, &parts.headers, &route.need(), client).await?;
    let dist = Distribution::new(state.meta.clone(), state.blobs.clone());
    let repo = |name: &RepositoryName| dist.repository(registry.id.clone(), name.clone());
    let permit = || permit_of(&caller);
    let audited = |action, name| Audited::new(&registry, &caller, client, action, name);
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
            audited("metadata_write", name)
                .record(state, &updated, |_| {
                    format!("repository {name}: {}", describe(&patch))
                })
                .await;
            json(
                StatusCode::OK,
                &shapes::RepositoryProperties::new(&login_server, updated?),
                None,
            )
        }
        AcrRoute::DeleteRepository { name } => {
            let deleted = repo(name).delete_repository(permit()?).await;
            audited("delete", name)
                .record(state, &deleted, |()| format!("repository {name}"))
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
            audited("metadata_write", name)
                .record(state, &updated, |_| {
                    format!("tag {tag}: {}", describe(&patch))
                })
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
            audited("delete", name)
                .record(state, &deleted, |()| format!("tag {tag}"))
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
            audited("metadata_write", name)
                .record(state, &updated, |_| {
                    format!("manifest {digest}: {}", describe(&patch))
                })
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

/// A PATCH body as an attribute change. An empty body changes nothing.
async fn read_patch(body: Body) -> Result<AttributesPatch, OciError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        OciError::new(
            Code::InvalidRequest,
            format!("reading the request body: {e}"),
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(AttributesPatch::default());
    }
    let parsed: shapes::AttributesBody = serde_json::from_slice(&bytes).map_err(|e| {
        OciError::new(
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
    let text = serde_json::to_string(body).map_err(OciError::internal)?;
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
