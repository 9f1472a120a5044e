//! OCI Distribution conformance-style tests over real HTTP: every `/v2/`
//! endpoint, its headers and error codes, pagination and repository
//! isolation. Each test starts its own server and signs in as the admin user
//! with a real access token from `/oauth2/token`.

#![allow(clippy::unwrap_used)]

use acrylic_store::AuditFilter;
use acrylic_testkit::TestServer;
use acrylic_testkit::image::sha256;
use reqwest::header;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{
    CONFIG, Client, OCI_MANIFEST, audit, descriptor, expect_error, h, image_manifest,
};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A server, its bootstrap registry's admin enabled, and a client holding a
/// token for `scopes`.
async fn signed_in(scopes: &[&str]) -> (TestServer, Client) {
    let server = TestServer::start().await;
    let registry = server.bootstrap().registry.clone();
    let oci = Client::admin(&server, registry.as_str(), scopes).await;
    (server, oci)
}

/// Sends a raw HTTP/1.1 request, so paths reach the server exactly as
/// written (reqwest would normalise `..`). Returns status and body.
async fn raw(server: &TestServer, oci: &Client, method: &str, path: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        oci.host, oci.token
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // The body may be chunked; the JSON object is what lies between braces.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, json)
}

// ------------------------------------------------------------------ base

#[tokio::test]
async fn api_version_check_and_common_headers() {
    let (server, oci) = signed_in(&[]).await;
    let r = oci.send(Method::GET, "/v2/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        h(r.headers(), "docker-distribution-api-version"),
        "registry/2.0"
    );
    let correlation = h(r.headers(), "x-ms-correlation-request-id");
    assert_eq!(correlation.len(), 36, "{correlation}");

    // Without credentials: 401 with a Bearer challenge, still versioned.
    let r = server
        .client()
        .get(format!("{}/v2/", server.base_url()))
        .header(header::HOST, &oci.host)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(h(r.headers(), "www-authenticate").starts_with("Bearer realm="));
    assert_eq!(
        h(r.headers(), "docker-distribution-api-version"),
        "registry/2.0"
    );
}

// ----------------------------------------------------------------- blobs

#[tokio::test]
async fn monolithic_push_then_pull_with_ranges() {
    let (_server, oci) = signed_in(&["repository:app:pull,push"]).await;
    let content = b"0123456789abcdef";
    let digest = sha256(content);

    let r = oci
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={digest}"),
        )
        .body(content.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        h(r.headers(), "location"),
        format!("/v2/app/blobs/{digest}")
    );
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);

    let r = oci
        .send(Method::HEAD, &format!("/v2/app/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(r.headers(), "content-length"), "16");
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);
    assert!(r.bytes().await.unwrap().is_empty());

    let r = oci
        .send(Method::GET, &format!("/v2/app/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(r.headers(), "content-length"), "16");
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);
    assert_eq!(r.bytes().await.unwrap().as_ref(), content);

    // azure-containerregistry downloads with `Range: bytes=0-4194303`.
    let ranged = |range: &'static str| {
        oci.req(Method::GET, &format!("/v2/app/blobs/{digest}"))
            .header(header::RANGE, range)
            .send()
    };
    let r = ranged("bytes=0-4194303").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(h(r.headers(), "content-range"), "bytes 0-15/16");
    assert_eq!(r.bytes().await.unwrap().as_ref(), content);
    let r = ranged("bytes=4-7").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(h(r.headers(), "content-range"), "bytes 4-7/16");
    assert_eq!(h(r.headers(), "content-length"), "4");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"4567");
    let r = ranged("bytes=16-").await.unwrap();
    let (headers, _) = expect_error(r, StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_INVALID").await;
    assert_eq!(h(&headers, "content-range"), "bytes */16");

    // POST then PUT, the whole blob in the PUT.
    let other = b"second blob";
    let r = oci.send(Method::POST, "/v2/app/blobs/uploads/").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = h(r.headers(), "location").to_owned();
    let r = oci
        .req(Method::PUT, &format!("{location}?digest={}", sha256(other)))
        .body(other.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = oci
        .send(Method::GET, &format!("/v2/app/blobs/{}", sha256(other)))
        .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), other);

    let r = oci
        .send(Method::GET, &format!("/v2/app/blobs/{}", sha256(b"nope")))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
}

#[tokio::test]
async fn chunked_upload_with_offsets_status_and_resume() {
    let (_server, oci) = signed_in(&["repository:team/app:pull,push"]).await;
    let r = oci.send(Method::POST, "/v2/team/app/blobs/uploads/").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = h(r.headers(), "location").to_owned();
    let uuid = h(r.headers(), "docker-upload-uuid").to_owned();
    assert_eq!(
        location,
        format!("/v2/team/app/blobs/uploads/{uuid}"),
        "Location must be relative"
    );
    assert_eq!(h(r.headers(), "range"), "0-0");

    let patch = |range: Option<&'static str>, body: &'static [u8]| {
        let mut b = oci
            .req(Method::PATCH, &location)
            .header(header::CONTENT_TYPE, "application/octet-stream");
        if let Some(range) = range {
            b = b.header(header::CONTENT_RANGE, range);
        }
        b.body(body).send()
    };
    let r = patch(Some("0-4"), b"hello").await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(h(r.headers(), "range"), "0-4");
    assert_eq!(h(r.headers(), "location"), location);
    assert_eq!(h(r.headers(), "docker-upload-uuid"), uuid);

    // Out of order: 416 with the range received so far and the Location.
    let r = patch(Some("10-14"), b"xxxxx").await.unwrap();
    let (headers, _) = expect_error(r, StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_INVALID").await;
    assert_eq!(h(&headers, "range"), "0-4");
    assert_eq!(h(&headers, "location"), location);
    let r = patch(Some("0-4"), b"HELLO").await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Status, as a client resuming after a disconnect asks it.
    let r = oci.send(Method::GET, &location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(h(r.headers(), "range"), "0-4");
    assert_eq!(h(r.headers(), "docker-upload-uuid"), uuid);

    // A streamed chunk without Content-Range is appended.
    let r = patch(None, b" wor").await.unwrap();
    assert_eq!(h(r.headers(), "range"), "0-8");

    // Not visible before the final PUT.
    let digest = sha256(b"hello world");
    let r = oci
        .send(Method::HEAD, &format!("/v2/team/app/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = oci
        .req(Method::PUT, &format!("{location}?digest={digest}"))
        .header(header::CONTENT_RANGE, "9-10")
        .body(&b"ld"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        h(r.headers(), "location"),
        format!("/v2/team/app/blobs/{digest}")
    );
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);
    let r = oci
        .send(Method::GET, &format!("/v2/team/app/blobs/{digest}"))
        .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello world");

    // The session is over.
    let r = oci.send(Method::GET, &location).await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn an_upload_resumes_after_the_client_disconnects() {
    let (server, oci) = signed_in(&["repository:app:pull,push"]).await;
    let r = oci.send(Method::POST, "/v2/app/blobs/uploads/").await;
    let location = h(r.headers(), "location").to_owned();
    let r = oci
        .req(Method::PATCH, &location)
        .header(header::CONTENT_RANGE, "0-4")
        .body(&b"hello"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(h(r.headers(), "range"), "0-4");

    // A chunk announced as 100 bytes; the client vanishes after 50.
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Range: 5-104\r\nContent-Length: 100\r\n\r\n",
        oci.host, oci.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[b'x'; 50]).await.unwrap();
    drop(s);

    // The broken chunk is not kept; the status says where to resume.
    let mut range = String::new();
    for _ in 0..50 {
        let r = oci.send(Method::GET, &location).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        range = h(r.headers(), "range").to_owned();
        if range == "0-4" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(range, "0-4");
    let r = oci
        .req(Method::PATCH, &location)
        .header(header::CONTENT_RANGE, "5-10")
        .body(&b" world"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(h(r.headers(), "range"), "0-10");
    let digest = sha256(b"hello world");
    let r = oci
        .send(Method::PUT, &format!("{location}?digest={digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = oci
        .send(Method::GET, &format!("/v2/app/blobs/{digest}"))
        .await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello world");
}

#[tokio::test]
async fn digest_mismatch_cancel_and_unknown_uploads() {
    let (_server, oci) = signed_in(&["repository:app:pull,push"]).await;
    let r = oci.send(Method::POST, "/v2/app/blobs/uploads/").await;
    let location = h(r.headers(), "location").to_owned();
    let claimed = sha256(b"claimed");
    let r = oci
        .req(Method::PUT, &format!("{location}?digest={claimed}"))
        .body(&b"actual"[..])
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    for d in [&claimed, &sha256(b"actual")] {
        let r = oci.send(Method::GET, &format!("/v2/app/blobs/{d}")).await;
        expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    }
    let r = oci
        .req(
            Method::POST,
            &format!("/v2/app/blobs/uploads/?digest={claimed}"),
        )
        .body(&b"actual"[..])
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;

    // PUT without ?digest=, and a malformed digest.
    let r = oci.send(Method::POST, "/v2/app/blobs/uploads/").await;
    let location = h(r.headers(), "location").to_owned();
    let r = oci.send(Method::PUT, &location).await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let r = oci
        .send(Method::PUT, &format!("{location}?digest=sha256:abc"))
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;

    // Cancel.
    let r = oci.send(Method::DELETE, &location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = oci.send(Method::GET, &location).await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
    let r = oci
        .send(Method::GET, "/v2/app/blobs/uploads/not-a-session")
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

#[tokio::test]
async fn delete_blob_unlinks_it() {
    let (_server, oci) = signed_in(&["repository:app:pull,push,delete"]).await;
    let digest = oci.push_blob("app", b"to delete").await;
    let r = oci
        .send(Method::DELETE, &format!("/v2/app/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = oci
        .send(Method::HEAD, &format!("/v2/app/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = oci
        .send(Method::DELETE, &format!("/v2/app/blobs/{digest}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
}

// ------------------------------------------------------------- manifests

#[tokio::test]
async fn manifest_push_pull_head_and_validation() {
    let (server, oci) = signed_in(&["repository:app:pull,push,delete"]).await;
    let registry_id = server
        .state()
        .meta
        .find_registry_by_name(&server.bootstrap().registry)
        .await
        .unwrap()
        .unwrap()
        .id;
    let layer = b"layer one";
    let manifest = image_manifest(layer);
    let digest = sha256(&manifest);

    // Blobs first: MANIFEST_BLOB_UNKNOWN.
    let r = oci
        .put_manifest("app", "latest", OCI_MANIFEST, &manifest)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;
    oci.push_blob("app", CONFIG).await;
    oci.push_blob("app", layer).await;

    let r = oci
        .put_manifest("app", "latest", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        h(r.headers(), "location"),
        format!("/v2/app/manifests/{digest}")
    );
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);
    assert!(r.headers().get("oci-subject").is_none());

    for reference in ["latest", digest.as_str()] {
        let r = oci
            .req(Method::GET, &format!("/v2/app/manifests/{reference}"))
            .header(
                header::ACCEPT,
                format!("*/*, {OCI_MANIFEST}, {DOCKER_MANIFEST}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(h(r.headers(), "content-type"), OCI_MANIFEST);
        assert_eq!(h(r.headers(), "docker-content-digest"), digest);
        assert_eq!(h(r.headers(), "content-length"), manifest.len().to_string());
        assert_eq!(r.bytes().await.unwrap().as_ref(), manifest.as_slice());

        let r = oci
            .send(Method::HEAD, &format!("/v2/app/manifests/{reference}"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(h(r.headers(), "content-length"), manifest.len().to_string());
        assert_eq!(h(r.headers(), "docker-content-digest"), digest);
        assert_eq!(h(r.headers(), "content-type"), OCI_MANIFEST);
    }

    // Push by digest: the digest is verified.
    let r = oci
        .put_manifest("app", &digest, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = oci
        .put_manifest("app", &sha256(b"other"), OCI_MANIFEST, &manifest)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;

    // Content-Type must agree with mediaType; unknown types are refused.
    let r = oci
        .put_manifest("app", "x", DOCKER_MANIFEST, &manifest)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_INVALID").await;
    let r = oci
        .put_manifest("app", "x", OCI_MANIFEST, b"{not json")
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_INVALID").await;
    let schema1 = br#"{"schemaVersion":1,"name":"app","tag":"x","fsLayers":[]}"#;
    let r = oci
        .put_manifest(
            "app",
            "x",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            schema1,
        )
        .await;
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED").await;
    let r = oci
        .put_manifest("app", "-bad-tag", OCI_MANIFEST, &manifest)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_INVALID").await;

    // 4 MiB limit: 413 SIZE_INVALID.
    let mut huge = manifest.clone();
    huge.truncate(huge.len() - 1);
    huge.extend(std::iter::repeat_n(b' ', 4 * 1024 * 1024));
    huge.push(b'}');
    let r = oci.put_manifest("app", "huge", OCI_MANIFEST, &huge).await;
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID").await;

    let r = oci.send(Method::GET, "/v2/app/manifests/nosuchtag").await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let r = oci
        .send(
            Method::HEAD,
            &format!("/v2/app/manifests/{}", sha256(b"none")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Delete by tag removes only the tag; by digest, the manifest.
    let r = oci.put_manifest("app", "v1", OCI_MANIFEST, &manifest).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = oci.send(Method::DELETE, "/v2/app/manifests/latest").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = oci.send(Method::GET, "/v2/app/manifests/latest").await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    assert_eq!(
        oci.send(Method::GET, &format!("/v2/app/manifests/{digest}"))
            .await
            .status(),
        StatusCode::OK
    );
    let r = oci
        .send(Method::DELETE, &format!("/v2/app/manifests/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for reference in [digest.as_str(), "v1"] {
        let r = oci
            .send(Method::GET, &format!("/v2/app/manifests/{reference}"))
            .await;
        expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    }
    let r = oci
        .send(Method::DELETE, &format!("/v2/app/manifests/{digest}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;

    // Pushes and deletes are audited with principal, repository, decision
    // and client address.
    let filter = AuditFilter {
        registry_id: Some(registry_id),
        ..Default::default()
    };
    let records = audit(&server, filter).await;
    let find = |action: &str, decision: &str| {
        records
            .iter()
            .find(|a| a.action == action && a.decision == decision)
            .unwrap_or_else(|| panic!("no {action}/{decision} audit record in {records:?}"))
    };
    let push = find("push", "granted");
    assert_eq!(push.principal, "admin");
    assert_eq!(push.repository.as_deref(), Some("app"));
    assert_eq!(push.client_addr.as_deref(), Some("127.0.0.1"));
    assert!(
        push.detail.as_deref().is_some_and(|d| d.contains(&digest)),
        "{push:?}"
    );
    find("push", "failed");
    find("delete", "granted");
    find("delete", "failed");
}

#[tokio::test]
async fn index_and_docker_types() {
    let (_server, oci) = signed_in(&["repository:multi:pull,push"]).await;
    let (amd64, amd64_digest) = oci.push_image("multi", "amd64", b"amd64 layer").await;

    for (list_type, child_type) in [(OCI_INDEX, OCI_MANIFEST), (DOCKER_LIST, OCI_MANIFEST)] {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": list_type,
            "manifests": [{"mediaType": child_type, "digest": amd64_digest, "size": amd64.len(),
                           "platform": {"architecture": "amd64", "os": "linux"}}],
        }))
        .unwrap();
        let r = oci.put_manifest("multi", "latest", list_type, &index).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{list_type}");
        let r = oci.send(Method::GET, "/v2/multi/manifests/latest").await;
        assert_eq!(h(r.headers(), "content-type"), list_type);
        assert_eq!(r.bytes().await.unwrap().as_ref(), index.as_slice());
    }
    // A child that is not a manifest of this repository.
    let missing = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256(b"absent"), "size": 6}],
    }))
    .unwrap();
    let r = oci
        .put_manifest("multi", "broken", OCI_INDEX, &missing)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;

    // Docker schema 2 image manifest.
    let docker = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": descriptor("application/vnd.docker.container.image.v1+json", CONFIG),
        "layers": [descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", b"amd64 layer")],
    }))
    .unwrap();
    let r = oci
        .put_manifest("multi", "docker", DOCKER_MANIFEST, &docker)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = oci.send(Method::HEAD, "/v2/multi/manifests/docker").await;
    assert_eq!(h(r.headers(), "content-type"), DOCKER_MANIFEST);
    assert_eq!(h(r.headers(), "docker-content-digest"), sha256(&docker));
}

// ------------------------------------------------------------- referrers

#[tokio::test]
async fn referrers_and_subject() {
    let (_server, oci) = signed_in(&["repository:app:pull,push"]).await;
    let (subject, subject_digest) = oci.push_image("app", "v1", b"layer").await;
    let empty = oci.push_blob("app", b"{}").await;
    let artifact = |artifact_type: &str| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": subject.len()},
            "annotations": {"org.opencontainers.image.created": "2026-12-01T00:00:00Z"},
        }))
        .unwrap()
    };
    let sbom = artifact("application/vnd.example.sbom");
    let sig = artifact("application/vnd.example.signature");
    for doc in [&sbom, &sig] {
        let r = oci
            .put_manifest("app", &sha256(doc), OCI_MANIFEST, doc)
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(h(r.headers(), "oci-subject"), subject_digest);
    }

    let r = oci
        .send(Method::GET, &format!("/v2/app/referrers/{subject_digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(r.headers(), "content-type"), OCI_INDEX);
    assert!(r.headers().get("oci-filters-applied").is_none());
    let index: Value = r.json().await.unwrap();
    assert_eq!(
        (index["schemaVersion"].clone(), index["mediaType"].clone()),
        (json!(2), json!(OCI_INDEX))
    );
    let mut digests: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    digests.sort();
    let mut want = vec![sha256(&sbom), sha256(&sig)];
    want.sort();
    assert_eq!(digests, want);

    let r = oci
        .send(
            Method::GET,
            &format!(
                "/v2/app/referrers/{subject_digest}?artifactType=application%2Fvnd.example.sbom"
            ),
        )
        .await;
    assert_eq!(h(r.headers(), "oci-filters-applied"), "artifactType");
    let index: Value = r.json().await.unwrap();
    let only = &index["manifests"].as_array().unwrap()[..];
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["digest"], sha256(&sbom));
    assert_eq!(only[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(only[0]["size"], sbom.len());
    assert_eq!(
        only[0]["annotations"]["org.opencontainers.image.created"],
        "2026-12-01T00:00:00Z"
    );

    // Nothing refers to it: still 200 and an index.
    let r = oci
        .send(
            Method::GET,
            &format!("/v2/app/referrers/{}", sha256(b"lonely")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let index: Value = r.json().await.unwrap();
    assert_eq!(index["manifests"], json!([]));
    let r = oci.send(Method::GET, "/v2/app/referrers/sha256:123").await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
}

// ------------------------------------------------------------- listings

#[tokio::test]
async fn tags_list_and_catalog_paginate_with_link() {
    let scopes = [
        "repository:app:pull,push",
        "repository:lib/b:pull,push",
        "repository:lib/c:pull,push",
        "repository:never:pull",
        "registry:catalog:*",
    ];
    let (_server, oci) = signed_in(&scopes).await;
    for tag in ["c", "a", "b"] {
        oci.push_image("app", tag, b"layer").await;
    }
    let r = oci.send(Method::GET, "/v2/app/tags/list").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"name": "app", "tags": ["a", "b", "c"]})
    );

    let r = oci.send(Method::GET, "/v2/app/tags/list?n=2").await;
    assert_eq!(
        h(r.headers(), "link"),
        "</v2/app/tags/list?n=2&last=b>; rel=\"next\""
    );
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["a", "b"]));
    let r = oci.send(Method::GET, "/v2/app/tags/list?n=2&last=b").await;
    assert!(r.headers().get("link").is_none());
    assert_eq!(r.json::<Value>().await.unwrap()["tags"], json!(["c"]));
    let r = oci.send(Method::GET, "/v2/app/tags/list?n=x").await;
    expect_error(r, StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID").await;
    let r = oci.send(Method::GET, "/v2/never/tags/list").await;
    expect_error(r, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;

    oci.push_blob("lib/b", b"x").await;
    oci.push_blob("lib/c", b"x").await;
    let r = oci.send(Method::GET, "/v2/_catalog?n=2").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        h(r.headers(), "link"),
        "</v2/_catalog?n=2&last=lib/b>; rel=\"next\""
    );
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"repositories": ["app", "lib/b"]})
    );
    let r = oci.send(Method::GET, "/v2/_catalog?n=2&last=lib/b").await;
    assert!(r.headers().get("link").is_none());
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"repositories": ["lib/c"]})
    );
    let r = oci.send(Method::GET, "/v2/_catalog").await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"repositories": ["app", "lib/b", "lib/c"]})
    );
}

// ----------------------------------------------------- mount, isolation

#[tokio::test]
async fn cross_repository_mount_needs_pull_on_the_source() {
    let server = TestServer::start().await;
    let registry = server.bootstrap().registry.to_string();
    let both = Client::admin(
        &server,
        &registry,
        &["repository:src:pull,push", "repository:dst:pull,push"],
    )
    .await;
    let digest = both.push_blob("src", b"shared layer").await;

    let r = both
        .send(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={digest}&from=src"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        h(r.headers(), "location"),
        format!("/v2/dst/blobs/{digest}")
    );
    assert_eq!(h(r.headers(), "docker-content-digest"), digest);
    assert_eq!(
        both.send(Method::HEAD, &format!("/v2/dst/blobs/{digest}"))
            .await
            .status(),
        StatusCode::OK
    );

    // A blob the source does not have: a new session (202), as the spec says.
    let missing = sha256(b"missing");
    let r = both
        .send(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={missing}&from=src"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(h(r.headers(), "location").starts_with("/v2/dst/blobs/uploads/"));

    // A caller who may not pull the source gets a session, not the blob.
    let push_only = Client::admin(&server, &registry, &["repository:other:pull,push"]).await;
    let r = push_only
        .send(
            Method::POST,
            &format!("/v2/other/blobs/uploads/?mount={digest}&from=src"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = push_only
        .send(Method::HEAD, &format!("/v2/other/blobs/{digest}"))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn repositories_are_isolated() {
    let server = TestServer::start().await;
    let registry = server.bootstrap().registry.to_string();
    let a = Client::admin(&server, &registry, &["repository:team/a:pull,push"]).await;
    let b = Client::admin(&server, &registry, &["repository:team/b:pull,push,delete"]).await;
    let (_, manifest_digest) = a.push_image("team/a", "v1", b"secret layer of a").await;
    let layer = sha256(b"secret layer of a");

    // B's caller guesses A's digests through B: unknown.
    for path in [
        format!("/v2/team/b/blobs/{layer}"),
        format!("/v2/team/b/blobs/{manifest_digest}"),
    ] {
        let r = b.send(Method::GET, &path).await;
        expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    }
    let r = b
        .send(
            Method::GET,
            &format!("/v2/team/b/manifests/{manifest_digest}"),
        )
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let r = b
        .send(Method::DELETE, &format!("/v2/team/b/blobs/{layer}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    // Nor can B's manifest reference them.
    let r = b
        .put_manifest(
            "team/b",
            "stolen",
            OCI_MANIFEST,
            &image_manifest(b"secret layer of a"),
        )
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN").await;
    // And B's token does not open A.
    let r = b
        .send(Method::GET, &format!("/v2/team/a/blobs/{layer}"))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // An upload session of A is unknown under B.
    let r = a.send(Method::POST, "/v2/team/a/blobs/uploads/").await;
    let uuid = h(r.headers(), "docker-upload-uuid").to_owned();
    let r = b
        .send(Method::GET, &format!("/v2/team/b/blobs/uploads/{uuid}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;

    // The same repository name in another registry is another repository.
    server.create_registry("secondreg").await;
    let other = Client::admin(&server, "secondreg", &["repository:team/a:pull,push"]).await;
    let r = other
        .send(Method::GET, &format!("/v2/team/a/blobs/{layer}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UNKNOWN").await;
    let r = other.send(Method::GET, "/v2/team/a/manifests/v1").await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let r = other
        .send(Method::GET, &format!("/v2/team/a/blobs/uploads/{uuid}"))
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN").await;
}

// ------------------------------------------------------- names and paths

#[tokio::test]
async fn names_paths_methods_and_hosts() {
    let (server, oci) = signed_in(&["repository:team/app:pull,push"]).await;

    // azure-containerregistry percent-encodes the slash: decoded once.
    let r = oci
        .send(Method::POST, "/v2/team%2Fapp/blobs/uploads/")
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert!(h(r.headers(), "location").starts_with("/v2/team/app/blobs/uploads/"));

    for path in [
        "/v2/Team/app/tags/list".to_owned(),
        "/v2/team/../app/tags/list".to_owned(),
        "/v2/team/%2E%2E/app/tags/list".to_owned(),
        "/v2/team%252Fapp/tags/list".to_owned(),
        "/v2/team//app/tags/list".to_owned(),
        format!("/v2/{}/tags/list", "a".repeat(256)),
    ] {
        let (status, body) = raw(&server, &oci, "GET", &path).await;
        assert_eq!(
            (status, body["errors"][0]["code"].as_str()),
            (400, Some("NAME_INVALID")),
            "{path}"
        );
    }

    let r = oci.send(Method::PUT, "/v2/_catalog").await;
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
    let r = oci
        .send(Method::POST, "/v2/team/app/manifests/latest")
        .await;
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;

    // A host no registry answers on.
    let unknown = server
        .state()
        .settings
        .login_server(&"nosuchreg".parse::<acrylic_model::RegistryName>().unwrap());
    let r = oci
        .http
        .get(format!("{}/v2/", oci.base))
        .header(header::HOST, unknown)
        .bearer_auth(&oci.token)
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
}
