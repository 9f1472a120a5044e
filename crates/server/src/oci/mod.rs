//! The OCI Distribution `/v2/` surface (dist-spec v1.1).
//!
//! Every request goes: parse once into an [`OciRoute`] (route table in
//! `route.rs`) → pick the registry by `Host` → `gate::check` the route's
//! [`Need`] → call `acrylic_registry` → map the result to the wire. Handlers
//! stay thin; the OCI rules live in the registry crate. The request frame,
//! the wire error ([`OciError`]) and the audit are `dataplane`'s, shared
//! with `/acr/v1/`; the gate's 401/403 carry the challenge and render
//! themselves.
//!
//! Bodies stream in both directions: uploads go to the BlobStore as they
//! arrive, blobs come back as a stream. axum's 2 MiB body limit is off on
//! these routes; manifests are capped at 4 MiB while they are read.

mod error;
pub(crate) mod route;

use std::net::SocketAddr;

use acrylic_authz::{Permit, RepoAction};
use acrylic_model::{Digest, RepositoryName, UploadId};
use acrylic_registry::{
    ByteRange, Distribution, Listing, MAX_MANIFEST_SIZE, MAX_PAGE, Mount, PageRequest,
    RegistryError, UploadStatus,
};
use acrylic_store::{ByteStream, Registry};
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};

pub use route::{OciRoute, RouteError};

use crate::AppState;
use crate::dataplane::{
    Audited, Call, Code, OciError, Refusal, Reply, accepted, permit_of, registry_of, upload_range,
};
use crate::gate::{self, GateError, Need};

const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const UPLOAD_UUID: HeaderName = HeaderName::from_static("docker-upload-uuid");
const OCI_SUBJECT: HeaderName = HeaderName::from_static("oci-subject");
const OCI_FILTERS_APPLIED: HeaderName = HeaderName::from_static("oci-filters-applied");

/// The `/v2/` routes. One handler takes them all, because repository names
/// contain `/` and are parsed by `route.rs`, not by axum patterns.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
        .layer(DefaultBodyLimit::disable())
}

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (call, body) = Call::new(request);
    let reply = serve(&state, &call.parts, body, call.client).await;
    call.respond("OCI", reply)
}

async fn serve(state: &AppState, parts: &Parts, body: Body, client: Option<SocketAddr>) -> Reply {
    let route = OciRoute::parse(&parts.method, parts.uri.path(), parts.uri.query())
        .map_err(OciError::from)?;
    let registry = registry_of(state, parts).await?;
    let caller = match gate::check(state, &registry, &parts.headers, &route.need(), client).await {
        Ok(caller) => caller,
        Err(refused) => {
            discard(&parts.headers, body).await;
            return Err(refused.into());
        }
    };
    let dist = Distribution::new(state.meta.clone(), state.blobs.clone());
    let repo = |name: &RepositoryName| dist.repository(registry.id.clone(), name.clone());
    let permit = || permit_of(&caller);
    let audited = |action, name| Audited::new(&registry, &caller, client, action, name);
    let headers = &parts.headers;

    match &route {
        OciRoute::ApiVersion => Ok(json(StatusCode::OK, "{}".into(), None)),
        OciRoute::Catalog { page } => {
            let listing = dist.catalog(&registry.id, page).await?;
            let link = listing
                .next
                .as_ref()
                .map(|last| next_link("/v2/_catalog", page, last));
            let body = serde_json::json!({ "repositories": listing.items });
            Ok(json(StatusCode::OK, body.to_string(), link))
        }
        OciRoute::ListTags { name, page } => {
            let Listing { items, next } = repo(name).tags(page).await?;
            let link = next
                .as_ref()
                .map(|last| next_link(&format!("/v2/{name}/tags/list"), page, last));
            let body = serde_json::json!({ "name": name, "tags": items });
            Ok(json(StatusCode::OK, body.to_string(), link))
        }
        OciRoute::GetManifest { name, reference } => {
            let (info, bytes) = repo(name).get_manifest(reference).await?;
            Ok(Built::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, &info.media_type)
                .header(header::CONTENT_LENGTH, info.size)
                .header(CONTENT_DIGEST, &info.digest)
                .body(Body::from(bytes)))
        }
        OciRoute::HeadManifest { name, reference } => {
            let info = repo(name).stat_manifest(reference).await?;
            Ok(Built::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, &info.media_type)
                .header(header::CONTENT_LENGTH, info.size)
                .header(CONTENT_DIGEST, &info.digest)
                .body(Body::empty()))
        }
        OciRoute::PutManifest { name, reference } => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let bytes = read_manifest(headers, body).await?;
            let pushed = repo(name)
                .put_manifest(permit()?, reference, content_type, bytes)
                .await;
            audited("push", name)
                .record(state, &pushed, |p| {
                    format!("manifest {} as {reference}", p.digest)
                })
                .await;
            let pushed = pushed?;
            let mut reply = Built::new(StatusCode::CREATED)
                .header(
                    header::LOCATION,
                    format!("/v2/{name}/manifests/{}", pushed.digest),
                )
                .header(CONTENT_DIGEST, &pushed.digest)
                .header(header::CONTENT_LENGTH, 0);
            // dist-spec end-7: echo the subject so clients know referrers
            // are tracked and need no fallback tag.
            if let Some(subject) = &pushed.subject {
                reply = reply.header(OCI_SUBJECT, subject);
            }
            Ok(reply.body(Body::empty()))
        }
        OciRoute::DeleteManifest { name, reference } => {
            let deleted = repo(name).delete_manifest(permit()?, reference).await;
            audited("delete", name)
                .record(state, &deleted, |()| format!("manifest {reference}"))
                .await;
            deleted?;
            Ok(accepted())
        }
        OciRoute::GetBlob { name, digest } => {
            let read = repo(name).read_blob(digest, byte_range(headers)).await?;
            let mut reply = Built::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_DIGEST, digest)
                .header(header::ACCEPT_RANGES, "bytes");
            match &read.range {
                Some(r) => {
                    reply.status = StatusCode::PARTIAL_CONTENT;
                    reply = reply
                        .header(header::CONTENT_LENGTH, r.end - r.start)
                        .header(
                            header::CONTENT_RANGE,
                            format!("bytes {}-{}/{}", r.start, r.end - 1, read.size),
                        );
                }
                None => reply = reply.header(header::CONTENT_LENGTH, read.size),
            }
            Ok(reply.body(Body::from_stream(read.body)))
        }
        OciRoute::HeadBlob { name, digest } => {
            let size = repo(name).stat_blob(digest).await?;
            Ok(Built::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, size)
                .header(CONTENT_DIGEST, digest)
                .header(header::ACCEPT_RANGES, "bytes")
                .body(Body::empty()))
        }
        OciRoute::DeleteBlob { name, digest } => {
            let deleted = repo(name).delete_blob(permit()?, digest).await;
            audited("delete", name)
                .record(state, &deleted, |()| format!("blob {digest}"))
                .await;
            deleted?;
            Ok(accepted())
        }
        OciRoute::StartUpload { name } => {
            let status = repo(name).start_upload(permit()?).await?;
            Ok(upload_reply(StatusCode::ACCEPTED, name, &status))
        }
        OciRoute::PushBlob { name, digest } => {
            let (digest, _) = repo(name)
                .push_blob(permit()?, digest, stream(body))
                .await?;
            Ok(blob_created(name, &digest))
        }
        OciRoute::MountBlob { name, digest, from } => {
            let target = repo(name);
            // dist-spec end-11: mount only when the caller may pull the
            // source; otherwise (or without `from`) open a session instead.
            let from_pull = match from {
                Some(from) => pull_permit(state, &registry, headers, from, client)
                    .await?
                    .map(|p| (from, p)),
                None => None,
            };
            let outcome = match from_pull {
                Some((from, from_permit)) => {
                    target
                        .mount_blob(permit()?, digest, from, &from_permit)
                        .await?
                }
                None => Mount::Started(target.start_upload(permit()?).await?),
            };
            match outcome {
                Mount::Mounted { digest, .. } => Ok(blob_created(name, &digest)),
                Mount::Started(status) => Ok(upload_reply(StatusCode::ACCEPTED, name, &status)),
            }
        }
        OciRoute::GetUpload { name, id } => {
            let status = repo(name).upload_status(id).await?;
            Ok(upload_reply(StatusCode::NO_CONTENT, name, &status))
        }
        OciRoute::PatchUpload { name, id } => {
            let start = chunk_start(headers)?;
            let status = repo(name)
                .append_chunk(permit()?, id, start, stream(body))
                .await
                .map_err(|e| upload_error(e, name, id))?;
            Ok(upload_reply(StatusCode::ACCEPTED, name, &status))
        }
        OciRoute::CompleteUpload { name, id, digest } => {
            let final_chunk = if body.size_hint().exact() == Some(0) {
                None
            } else {
                Some((chunk_start(headers)?, stream(body)))
            };
            let (digest, _) = repo(name)
                .complete_upload(permit()?, id, digest, final_chunk)
                .await
                .map_err(|e| upload_error(e, name, id))?;
            Ok(blob_created(name, &digest))
        }
        OciRoute::CancelUpload { name, id } => {
            repo(name).cancel_upload(permit()?, id).await?;
            Ok(Built::new(StatusCode::NO_CONTENT)
                .header(header::CONTENT_LENGTH, 0)
                .body(Body::empty()))
        }
        OciRoute::Referrers {
            name,
            digest,
            artifact_type,
        } => {
            let referrers = repo(name)
                .referrers(digest, artifact_type.as_deref())
                .await?;
            let body = serde_json::to_string(&referrers.index).map_err(OciError::internal)?;
            let mut reply = Built::new(StatusCode::OK)
                .header(header::CONTENT_TYPE, acrylic_registry::OCI_INDEX);
            if referrers.filtered {
                reply = reply.header(OCI_FILTERS_APPLIED, "artifactType");
            }
            Ok(reply.body(Body::from(body)))
        }
    }
}

/// A pull permit on the mount source, if the caller's credentials cover it.
/// A refusal is not an error here: the mount falls back to an upload.
async fn pull_permit(
    state: &AppState,
    registry: &Registry,
    headers: &HeaderMap,
    from: &RepositoryName,
    client: Option<SocketAddr>,
) -> Result<Option<Permit>, Refusal> {
    let need = Need::Repository {
        name: from.clone(),
        action: RepoAction::Pull,
    };
    match gate::check(state, registry, headers, &need, client).await {
        Ok(caller) => Ok(caller.permit),
        Err(GateError::Unauthorized { .. } | GateError::Denied { .. }) => Ok(None),
        Err(e @ GateError::Internal) => Err(e.into()),
    }
}

/// Upload errors carry the session's `Location` so a client can resume
/// after a 416 (dist-spec end-5).
fn upload_error(e: RegistryError, name: &RepositoryName, id: &UploadId) -> Refusal {
    let mut e = OciError::from(e);
    if e.code == Code::RangeInvalid {
        e = e
            .with_header(header::LOCATION, upload_location(name, id))
            .with_header(UPLOAD_UUID, id.to_string());
    }
    Refusal::Wire(e)
}

fn upload_location(name: &RepositoryName, id: &UploadId) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// 202/204 for a session: relative `Location` (azure-containerregistry
/// breaks on absolute ones), `Range` received so far, `Docker-Upload-UUID`.
fn upload_reply(status: StatusCode, name: &RepositoryName, upload: &UploadStatus) -> Response {
    Built::new(status)
        .header(header::LOCATION, upload_location(name, &upload.id))
        .header(header::RANGE, upload_range(upload.size))
        .header(UPLOAD_UUID, upload.id)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
}

/// 201 for a blob now in the repository.
fn blob_created(name: &RepositoryName, digest: &Digest) -> Response {
    Built::new(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/blobs/{digest}"))
        .header(CONTENT_DIGEST, digest)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
}

fn json(status: StatusCode, body: String, link: Option<String>) -> Response {
    let mut reply = Built::new(status).header(header::CONTENT_TYPE, "application/json");
    if let Some(link) = link {
        reply = reply.header(header::LINK, link);
    }
    reply.body(Body::from(body))
}

/// `Link: </v2/…?n=N&last=X>; rel="next"` (dist-spec end-8b). Names and tags
/// are URL-safe by their grammars, so `last` needs no escaping.
fn next_link(path: &str, page: &PageRequest, last: &str) -> String {
    let n = page.n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    format!("<{path}?n={n}&last={last}>; rel=\"next\"")
}

/// The request body as the BlobStore's stream type; nothing is buffered.
fn stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// Most of a refused request's body that `discard` reads: four of
/// azure-containerregistry's 4 MiB upload chunks.
const DISCARD_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads and drops the body of a request the gate refused, so the client
/// gets the 401/403 instead of a reset connection. azure-containerregistry
/// sends every request without a token first and writes its whole 4 MiB
/// `PATCH` chunk before it reads the challenge (clients.md "Paths,
/// headers, bodies"); closing a socket with unread data makes the kernel
/// send a reset, and the client sees "EOF occurred in violation of
/// protocol" instead of the challenge. Bodies declared larger than
/// [`DISCARD_LIMIT`] are not read: the connection is closed, as before.
async fn discard(headers: &HeaderMap, body: Body) {
    if declared_length(headers).is_some_and(|n| n > DISCARD_LIMIT) {
        return;
    }
    let mut data = body.into_data_stream();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = data.next().await {
        read += chunk.len() as u64;
        if read > DISCARD_LIMIT {
            return;
        }
    }
}

/// The request's `Content-Length`, when it declares one that parses.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads a manifest body, refusing more than 4 MiB as it arrives.
async fn read_manifest(headers: &HeaderMap, body: Body) -> Result<Bytes, Refusal> {
    let too_large = || RegistryError::ManifestTooLarge {
        limit: MAX_MANIFEST_SIZE,
    };
    if declared_length(headers).is_some_and(|n| n > MAX_MANIFEST_SIZE as u64) {
        return Err(too_large().into());
    }
    let mut data = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|e| {
            OciError::new(Code::ManifestInvalid, format!("reading the manifest: {e}"))
        })?;
        if buf.len() + chunk.len() > MAX_MANIFEST_SIZE {
            return Err(too_large().into());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The first byte of a chunk's `Content-Range`. The dist-spec form is
/// `<start>-<end>`; `bytes <start>-<end>/<total>` (RFC 9110) is accepted too.
fn chunk_start(headers: &HeaderMap) -> Result<Option<u64>, OciError> {
    let Some(value) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || OciError::new(Code::RangeInvalid, "Content-Range must be <start>-<end>");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text
        .strip_prefix("bytes")
        .map_or(text, |r| r.trim_start_matches([' ', '=']));
    let span = text.split('/').next().unwrap_or("");
    let (start, end) = span.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.trim().parse().map_err(|_| invalid())?;
    let end: u64 = end.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    Ok(Some(start))
}

/// A single `Range: bytes=…` of a blob GET. Anything else (several ranges,
/// bad syntax) is ignored and the whole blob is sent, as RFC 9110 §14.2
/// allows.
fn byte_range(headers: &HeaderMap) -> Option<ByteRange> {
    let spec = headers
        .get(header::RANGE)?
        .to_str()
        .ok()?
        .trim()
        .strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", suffix) => Some(ByteRange::Suffix {
            suffix: suffix.parse().ok()?,
        }),
        (first, "") => Some(ByteRange::From {
            first: first.parse().ok()?,
        }),
        (first, last) => {
            let (first, last) = (first.parse().ok()?, last.parse().ok()?);
            (first <= last).then_some(ByteRange::FromTo { first, last })
        }
    }
}

/// A small response builder; header values that cannot be encoded are
/// dropped (every value here comes from validated types).
struct Built {
    status: StatusCode,
    headers: HeaderMap,
}

impl Built {
    fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
        }
    }

    fn header(mut self, name: HeaderName, value: impl ToString) -> Self {
        if let Ok(v) = HeaderValue::try_from(value.to_string()) {
            self.headers.insert(name, v);
        }
        self
    }

    fn body(self, body: Body) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(name: HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn ranges() {
        let r = |v: &str| byte_range(&with(header::RANGE, v));
        assert_eq!(
            r("bytes=0-4194303"),
            Some(ByteRange::FromTo {
                first: 0,
                last: 4_194_303
            })
        );
        assert_eq!(r("bytes=5-"), Some(ByteRange::From { first: 5 }));
        assert_eq!(r("bytes=-5"), Some(ByteRange::Suffix { suffix: 5 }));
        assert_eq!(r("bytes=0-1,4-5"), None);
        assert_eq!(r("bytes=5-1"), None);
        assert_eq!(r("items=0-1"), None);
        let c = |v: &str| chunk_start(&with(header::CONTENT_RANGE, v)).map_err(|e| e.code);
        assert_eq!(c("0-99"), Ok(Some(0)));
        assert_eq!(c("100-199"), Ok(Some(100)));
        assert_eq!(c("bytes 100-199/*"), Ok(Some(100)));
        assert_eq!(c("bytes=100-199"), Ok(Some(100)));
        assert_eq!(c("abc"), Err(Code::RangeInvalid));
        assert_eq!(c("9-1"), Err(Code::RangeInvalid));
        assert_eq!(chunk_start(&HeaderMap::new()).map_err(|e| e.code), Ok(None));
    }
}
