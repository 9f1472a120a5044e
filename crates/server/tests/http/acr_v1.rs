//! ACR's metadata API `/acr/v1/…` over real HTTP: every endpoint's JSON
//! shape, paging with ACR's `Link`, `orderby`, `%2F`-encoded and unencoded
//! names, the 401 challenge scopes of acr-auth.md §1.2, and changeable
//! attributes enforced through both `/acr/v1/` and `/v2/`. Each test starts
//! its own server and signs in as the admin user with real access tokens
//! from `/oauth2/token`.

#![allow(clippy::unwrap_used)]

use acrylic_testkit::TestServer;
use acrylic_testkit::image::sha256;
use reqwest::header::{self, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use acrylic_store::AuditFilter;

use crate::support::{CONFIG_TYPE, Client, OCI_MANIFEST, audit, expect_error, h, image_manifest};

/// Every repository action, as az CLI and acr-cli ask for them.
fn all_on(repo: &str) -> String {
    format!("repository:{repo}:pull,push,delete,metadata_read,metadata_write")
}

/// A server whose admin holds a token for the catalog and everything on
/// `repos`.
async fn start(repos: &[&str]) -> (TestServer, Client) {
    let server = TestServer::start().await;
    let acr = signed_in(&server, repos).await;
    (server, acr)
}

async fn signed_in(server: &TestServer, repos: &[&str]) -> Client {
    let mut scopes: Vec<String> = repos.iter().map(|r| all_on(r)).collect();
    scopes.push("registry:catalog:*".into());
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    with_scopes(server, &scopes).await
}

/// The bootstrap registry's admin with a token for `scopes`.
async fn with_scopes(server: &TestServer, scopes: &[&str]) -> Client {
    Client::admin(server, server.bootstrap().registry.as_str(), scopes).await
}

/// `/acr/v1/` requests on the shared data-plane client.
impl Client {
    /// GET, expecting 200 and JSON; returns the headers and body.
    async fn get(&self, path: &str) -> (HeaderMap, Value) {
        let r = self.send(Method::GET, path).await;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
        (headers, serde_json::from_str(&text).unwrap())
    }

    async fn patch(&self, path: &str, body: Value) -> Response {
        self.req(Method::PATCH, path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// PATCH, expecting 200; returns the body.
    async fn patch_ok(&self, path: &str, body: Value) -> Value {
        let r = self.patch(path, body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "PATCH {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// Asserts a changeable attribute refused the request (405 DENIED) with a
/// message naming it and how to set it back.
async fn expect_locked(r: Response, attribute: &str, patch_path: &str) {
    let (_, body) = expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "DENIED").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("its {attribute} attribute is false"))
            && message.contains(&format!("PATCH {patch_path} with {{\"{attribute}\":true}}"))
            && message.contains("az acr repository update"),
        "{message}"
    );
    assert_eq!(body["errors"][0]["detail"]["attribute"], attribute);
}

fn time(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap(), &Rfc3339)
        .unwrap_or_else(|e| panic!("{v} is not RFC 3339: {e}"))
}

fn all_enabled() -> Value {
    json!({"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true})
}

fn names(list: &Value, key: &str, field: &str) -> Vec<String> {
    list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} array in {list}"))
        .iter()
        .map(|t| t[field].as_str().unwrap().to_owned())
        .collect()
}

/// The `Link` target, as azure-containerregistry reads it.
fn next_of(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().unwrap();
    assert!(link.ends_with(">; rel=\"next\""), "{link}");
    Some(link[1..link.find('>').unwrap()].to_owned())
}

/// Lets the store's millisecond clock move on, so update times differ.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
}

// ------------------------------------------------------------------ catalog

#[tokio::test]
async fn catalog_is_null_when_empty_and_pages_with_acr_links() {
    let (_server, acr) = start(&["a", "b/c", "d"]).await;
    let (headers, body) = acr.get("/acr/v1/_catalog").await;
    assert_eq!(body, json!({"repositories": null}));
    assert_eq!(
        h(&headers, "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(
        h(&headers, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(h(&headers, "x-ms-correlation-request-id").len(), 36);
    assert!(headers.get(header::LINK).is_none());

    for repo in ["d", "b/c", "a"] {
        acr.push_image(repo, "v1", repo.as_bytes()).await;
    }
    let (headers, body) = acr.get("/acr/v1/_catalog?n=2").await;
    assert_eq!(body, json!({"repositories": ["a", "b/c"]}));
    let next = next_of(&headers).unwrap();
    assert_eq!(next, "/acr/v1/_catalog?last=b/c&n=2&orderby=");
    let (headers, body) = acr.get(&next).await;
    assert_eq!(body, json!({"repositories": ["d"]}));
    assert_eq!(next_of(&headers), None);
    let (_, body) = acr.get("/acr/v1/_catalog?last=d").await;
    assert_eq!(body, json!({"repositories": null}));
    // The API version query the SDKs add is accepted and ignored.
    let (_, body) = acr.get("/acr/v1/_catalog?api-version=2021-07-01").await;
    assert_eq!(body["repositories"].as_array().unwrap().len(), 3);
}

// --------------------------------------------------------------- repository

#[tokio::test]
async fn repository_show_update_and_delete() {
    let (_server, acr) = start(&["team/app"]).await;
    let (_, digest) = acr.push_image("team/app", "v1", b"one").await;
    acr.push_image("team/app", "v2", b"two").await;
    assert_eq!(
        acr.put_manifest("team/app", "v3", OCI_MANIFEST, &image_manifest(b"two"))
            .await
            .status(),
        StatusCode::CREATED
    );

    // The SDKs' %2F and az CLI's unencoded slash name the same repository.
    let (_, body) = acr.get("/acr/v1/team%2Fapp").await;
    let (_, same) = acr.get("/acr/v1/team/app").await;
    assert_eq!(body, same);
    assert_eq!(body["registry"], acr.login_server());
    assert_eq!(body["imageName"], "team/app");
    assert_eq!(
        (body["manifestCount"].as_u64(), body["tagCount"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(body["changeableAttributes"], all_enabled());
    assert!(time(&body["createdTime"]) <= time(&body["lastUpdateTime"]));
    assert!(
        body["createdTime"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );

    // PATCH changes only what it names, and answers with the repository.
    let body = acr
        .patch_ok(
            "/acr/v1/team%2Fapp",
            json!({"deleteEnabled": false, "teleportEnabled": true}),
        )
        .await;
    assert_eq!(
        body["changeableAttributes"],
        json!({"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": true})
    );
    assert_eq!(body["tagCount"], 3);
    let (_, shown) = acr.get("/acr/v1/team/app").await;
    assert_eq!(shown["changeableAttributes"], body["changeableAttributes"]);
    let r = acr
        .patch("/acr/v1/team/app", json!({"writeEnabled": "no"}))
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;

    // deleteEnabled=false refuses the delete, with how to change it.
    let r = acr.send(Method::DELETE, "/acr/v1/team/app").await;
    expect_locked(r, "deleteEnabled", "/acr/v1/team/app").await;
    acr.patch_ok("/acr/v1/team/app", json!({"deleteEnabled": true}))
        .await;

    let r = acr.send(Method::DELETE, "/acr/v1/team%2Fapp").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Gone, with its tags and manifests, on both surfaces.
    for path in [
        "/acr/v1/team/app".to_owned(),
        "/acr/v1/team/app/_tags".to_owned(),
        "/acr/v1/team/app/_manifests".to_owned(),
        "/v2/team/app/tags/list".to_owned(),
    ] {
        let r = acr.send(Method::GET, &path).await;
        expect_error(r, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
    }
    let r = acr.send(Method::GET, "/acr/v1/team/app/_tags/v1").await;
    expect_error(r, StatusCode::NOT_FOUND, "TAG_UNKNOWN").await;
    let r = acr
        .send(
            Method::GET,
            &format!("/acr/v1/team/app/_manifests/{digest}"),
        )
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    for reference in ["v1", digest.as_str()] {
        let r = acr
            .send(Method::GET, &format!("/v2/team/app/manifests/{reference}"))
            .await;
        expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    }
    let (_, catalog) = acr.get("/acr/v1/_catalog").await;
    assert_eq!(catalog, json!({"repositories": null}));
    let r = acr.send(Method::DELETE, "/acr/v1/team/app").await;
    expect_error(r, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;

    // A new push starts a new repository with default attributes.
    acr.push_image("team/app", "v1", b"one").await;
    let (_, body) = acr.get("/acr/v1/team/app").await;
    assert_eq!(
        (body["tagCount"].as_u64(), &body["changeableAttributes"]),
        (Some(1), &all_enabled())
    );
}

#[tokio::test]
async fn repository_attributes_are_enforced_on_v2() {
    let (_server, acr) = start(&["team/app", "other"]).await;
    let (_, digest) = acr.push_image("team/app", "v1", b"one").await;
    acr.push_image("other", "v1", b"other").await;
    let repo_path = "/acr/v1/team/app";

    // writeEnabled=false locks the repository and all images in it.
    acr.patch_ok(repo_path, json!({"writeEnabled": false}))
        .await;
    acr.push_blob("team/app", b"two").await;
    let r = acr
        .put_manifest("team/app", "v2", OCI_MANIFEST, &image_manifest(b"two"))
        .await;
    expect_locked(r, "writeEnabled", repo_path).await;
    let r = acr
        .send(Method::DELETE, &format!("/v2/team/app/manifests/{digest}"))
        .await;
    expect_locked(r, "writeEnabled", repo_path).await;
    let r = acr.send(Method::DELETE, "/acr/v1/team/app/_tags/v1").await;
    expect_locked(r, "writeEnabled", repo_path).await;
    let r = acr.send(Method::DELETE, repo_path).await;
    expect_locked(r, "writeEnabled", repo_path).await;
    // Reads still work.
    let r = acr.send(Method::GET, "/v2/team/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);

    // readEnabled=false refuses every pull in it, GET and HEAD.
    acr.patch_ok(
        repo_path,
        json!({"writeEnabled": true, "readEnabled": false}),
    )
    .await;
    for reference in ["v1", digest.as_str()] {
        let path = format!("/v2/team/app/manifests/{reference}");
        let r = acr.send(Method::GET, &path).await;
        expect_locked(r, "readEnabled", repo_path).await;
        let r = acr.send(Method::HEAD, &path).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "HEAD {path}");
    }
    // Metadata stays readable: that is how one finds the lock.
    let (_, body) = acr.get(repo_path).await;
    assert_eq!(body["changeableAttributes"]["readEnabled"], false);

    // listEnabled=false hides it from both catalogs, not from direct reads.
    acr.patch_ok(
        repo_path,
        json!({"readEnabled": true, "listEnabled": false}),
    )
    .await;
    let (_, body) = acr.get("/acr/v1/_catalog").await;
    assert_eq!(body, json!({"repositories": ["other"]}));
    let (_, body) = acr.get("/v2/_catalog").await;
    assert_eq!(body["repositories"], json!(["other"]));
    let (_, body) = acr.get("/v2/team/app/tags/list").await;
    assert_eq!(body["tags"], json!(["v1"]));
}

// --------------------------------------------------------------------- tags

#[tokio::test]
async fn tags_list_shape_orderby_paging_and_digest_filter() {
    let (_server, acr) = start(&["team/app", "absent"]).await;
    let (_, d1) = acr.push_image("team/app", "v1", b"one").await;
    tick().await;
    let (_, d2) = acr.push_image("team/app", "v2", b"two").await;
    tick().await;
    acr.put_manifest("team/app", "v3", OCI_MANIFEST, &image_manifest(b"two"))
        .await;
    tick().await;
    // A PATCH updates v1: it becomes the most recently updated.
    acr.patch_ok("/acr/v1/team/app/_tags/v1", json!({})).await;

    // az CLI's `show-tags`: unencoded slash, n=100.
    let (headers, body) = acr.get("/acr/v1/team/app/_tags?n=100").await;
    assert!(headers.get(header::LINK).is_none());
    let (_, encoded) = acr.get("/acr/v1/team%2Fapp/_tags?n=100").await;
    assert_eq!(body, encoded);
    assert_eq!(body["registry"], acr.login_server());
    assert_eq!(body["imageName"], "team/app");
    assert_eq!(names(&body, "tags", "name"), ["v1", "v2", "v3"]);
    let v1 = &body["tags"][0];
    assert_eq!(v1["digest"], d1.as_str());
    assert_eq!(v1["signed"], false);
    assert_eq!(v1["changeableAttributes"], all_enabled());
    assert!(
        time(&v1["createdTime"]) < time(&v1["lastUpdateTime"]),
        "{v1}"
    );
    assert_eq!(body["tags"][2]["digest"], d2.as_str());

    let (_, body) = acr.get("/acr/v1/team/app/_tags?orderby=timedesc").await;
    assert_eq!(names(&body, "tags", "name"), ["v1", "v3", "v2"]);
    let (_, body) = acr.get("/acr/v1/team/app/_tags?orderby=timeasc").await;
    assert_eq!(names(&body, "tags", "name"), ["v2", "v3", "v1"]);

    // Paging keeps the order: follow ACR's Link to the end.
    let mut path = "/acr/v1/team%2Fapp/_tags?n=1&orderby=timedesc".to_owned();
    let mut seen = Vec::new();
    let mut links = Vec::new();
    loop {
        let (headers, body) = acr.get(&path).await;
        seen.extend(names(&body, "tags", "name"));
        match next_of(&headers) {
            Some(next) => {
                links.push(next.clone());
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(seen, ["v1", "v3", "v2"]);
    assert_eq!(
        links,
        [
            "/acr/v1/team/app/_tags?last=v1&n=1&orderby=timedesc",
            "/acr/v1/team/app/_tags?last=v3&n=1&orderby=timedesc"
        ]
    );

    // `digest=` keeps the tags of one manifest, and its Link keeps it too.
    let (headers, body) = acr
        .get(&format!("/acr/v1/team/app/_tags?digest={d2}&n=1"))
        .await;
    assert_eq!(names(&body, "tags", "name"), ["v2"]);
    assert_eq!(
        next_of(&headers).unwrap(),
        format!("/acr/v1/team/app/_tags?last=v2&n=1&orderby=&digest={d2}")
    );

    // One tag, under "tag".
    let (_, one) = acr.get("/acr/v1/team%2Fapp/_tags/v3").await;
    assert_eq!(one["registry"], acr.login_server());
    assert_eq!(one["imageName"], "team/app");
    assert_eq!(one["tag"]["name"], "v3");
    assert_eq!(one["tag"]["digest"], d2.as_str());
    assert_eq!(one["tag"]["changeableAttributes"], all_enabled());

    let r = acr.send(Method::GET, "/acr/v1/team/app/_tags/nope").await;
    expect_error(r, StatusCode::NOT_FOUND, "TAG_UNKNOWN").await;
    let r = acr.send(Method::GET, "/acr/v1/absent/_tags").await;
    expect_error(r, StatusCode::NOT_FOUND, "NAME_UNKNOWN").await;
    let r = acr
        .send(Method::GET, "/acr/v1/team/app/_tags?orderby=size")
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    let r = acr.send(Method::GET, "/acr/v1/team/app/_tags?n=lots").await;
    expect_error(r, StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID").await;
    let r = acr
        .send(Method::GET, "/acr/v1/team/app/_tags?digest=sha256:xyz")
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn tag_attributes_lock_overwrite_untag_pull_and_listing() {
    let (_server, acr) = start(&["team/app"]).await;
    let (_, d1) = acr.push_image("team/app", "v1", b"one").await;
    acr.push_image("team/app", "v2", b"two").await;
    let tag_path = "/acr/v1/team/app/_tags/v1";

    // writeEnabled=false: the answer is the updated tag.
    let body = acr
        .patch_ok(
            "/acr/v1/team%2Fapp/_tags/v1",
            json!({"writeEnabled": false}),
        )
        .await;
    assert_eq!(body["tag"]["name"], "v1");
    assert_eq!(body["tag"]["changeableAttributes"]["writeEnabled"], false);
    assert_eq!(body["tag"]["changeableAttributes"]["deleteEnabled"], true);
    // Overwriting through /v2/ is refused…
    acr.push_blob("team/app", b"three").await;
    let r = acr
        .put_manifest("team/app", "v1", OCI_MANIFEST, &image_manifest(b"three"))
        .await;
    expect_locked(r, "writeEnabled", tag_path).await;
    // …and so are untagging, deleting by tag and deleting its manifest.
    let r = acr.send(Method::DELETE, tag_path).await;
    expect_locked(r, "writeEnabled", tag_path).await;
    let r = acr.send(Method::DELETE, "/v2/team/app/manifests/v1").await;
    expect_locked(r, "writeEnabled", tag_path).await;
    let r = acr
        .send(Method::DELETE, &format!("/v2/team/app/manifests/{d1}"))
        .await;
    expect_locked(r, "writeEnabled", tag_path).await;
    // The tag still points where it did.
    let (_, body) = acr.get(tag_path).await;
    assert_eq!(body["tag"]["digest"], d1.as_str());

    // deleteEnabled=false alone allows overwriting but not untagging.
    acr.patch_ok(
        tag_path,
        json!({"writeEnabled": true, "deleteEnabled": false}),
    )
    .await;
    let r = acr
        .put_manifest("team/app", "v1", OCI_MANIFEST, &image_manifest(b"three"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = acr.send(Method::DELETE, tag_path).await;
    expect_locked(r, "deleteEnabled", tag_path).await;

    // readEnabled=false refuses pulls by the tag.
    acr.patch_ok(
        tag_path,
        json!({"deleteEnabled": true, "readEnabled": false}),
    )
    .await;
    let r = acr.send(Method::GET, "/v2/team/app/manifests/v1").await;
    expect_locked(r, "readEnabled", tag_path).await;

    // listEnabled=false hides it from /acr/v1 and /v2 listings only.
    acr.patch_ok(tag_path, json!({"readEnabled": true, "listEnabled": false}))
        .await;
    let (_, body) = acr.get("/acr/v1/team/app/_tags").await;
    assert_eq!(names(&body, "tags", "name"), ["v2"]);
    let (_, body) = acr.get("/v2/team/app/tags/list").await;
    assert_eq!(body["tags"], json!(["v2"]));
    let (_, body) = acr.get(tag_path).await;
    assert_eq!(body["tag"]["changeableAttributes"]["listEnabled"], false);
    let r = acr.send(Method::GET, "/v2/team/app/manifests/v1").await;
    assert_eq!(r.status(), StatusCode::OK);

    // Untag: 202; the tag is gone, its manifest stays.
    let r = acr.send(Method::DELETE, tag_path).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = acr.send(Method::GET, tag_path).await;
    expect_error(r, StatusCode::NOT_FOUND, "TAG_UNKNOWN").await;
    let r = acr.send(Method::DELETE, tag_path).await;
    expect_error(r, StatusCode::NOT_FOUND, "TAG_UNKNOWN").await;
    let r = acr.send(Method::GET, "/v2/team/app/manifests/v1").await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let r = acr
        .send(
            Method::GET,
            &format!(
                "/v2/team/app/manifests/{}",
                sha256(&image_manifest(b"three"))
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = acr.patch("/acr/v1/team/app/_tags/v1", json!({})).await;
    expect_error(r, StatusCode::NOT_FOUND, "TAG_UNKNOWN").await;
}

// ---------------------------------------------------------------- manifests

#[tokio::test]
async fn manifests_shape_paging_and_attributes() {
    let (_server, acr) = start(&["team/app"]).await;
    let (m1, d1) = acr.push_image("team/app", "v1", b"one").await;
    acr.put_manifest("team/app", "latest", OCI_MANIFEST, &m1)
        .await;
    tick().await;
    let (_, d2) = acr.push_image("team/app", "v2", b"two").await;

    let (headers, body) = acr.get("/acr/v1/team/app/_manifests").await;
    assert!(headers.get(header::LINK).is_none());
    assert_eq!(body["registry"], acr.login_server());
    assert_eq!(body["imageName"], "team/app");
    let mut want = vec![d1.clone(), d2.clone()];
    want.sort();
    assert_eq!(names(&body, "manifests", "digest"), want);
    let first = body["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["digest"] == d1.as_str())
        .unwrap();
    assert_eq!(first["imageSize"], m1.len());
    assert_eq!(first["architecture"], "amd64");
    assert_eq!(first["os"], "linux");
    assert_eq!(first["mediaType"], OCI_MANIFEST);
    assert_eq!(first["configMediaType"], CONFIG_TYPE);
    assert_eq!(first["tags"], json!(["latest", "v1"]));
    assert_eq!(first["changeableAttributes"], all_enabled());
    assert!(time(&first["createdTime"]) <= time(&first["lastUpdateTime"]));

    // orderby and paging, with the Link ACR sends.
    let (headers, body) = acr
        .get("/acr/v1/team%2Fapp/_manifests?n=1&orderby=timedesc")
        .await;
    assert_eq!(names(&body, "manifests", "digest"), [d2.as_str()]);
    let next = next_of(&headers).unwrap();
    assert_eq!(
        next,
        format!("/acr/v1/team/app/_manifests?last={d2}&n=1&orderby=timedesc")
    );
    let (headers, body) = acr.get(&next).await;
    assert_eq!(names(&body, "manifests", "digest"), [d1.as_str()]);
    assert_eq!(next_of(&headers), None);
    let (_, body) = acr.get("/acr/v1/team/app/_manifests?orderby=timeasc").await;
    assert_eq!(
        names(&body, "manifests", "digest"),
        [d1.clone(), d2.clone()]
    );

    // One manifest, under "manifest"; PATCH answers with it.
    let path = format!("/acr/v1/team/app/_manifests/{d1}");
    let (_, one) = acr.get(&path).await;
    assert_eq!(one["manifest"]["digest"], d1.as_str());
    assert_eq!(one["manifest"]["tags"], json!(["latest", "v1"]));
    let body = acr
        .patch_ok(&path, json!({"readEnabled": false, "deleteEnabled": false}))
        .await;
    assert_eq!(
        body["manifest"]["changeableAttributes"],
        json!({"deleteEnabled": false, "writeEnabled": true, "readEnabled": false, "listEnabled": true})
    );
    assert!(time(&body["manifest"]["lastUpdateTime"]) > time(&body["manifest"]["createdTime"]));

    // readEnabled=false: no pull by digest or by any of its tags.
    for reference in [d1.as_str(), "v1", "latest"] {
        let r = acr
            .send(Method::GET, &format!("/v2/team/app/manifests/{reference}"))
            .await;
        expect_locked(r, "readEnabled", &path).await;
    }
    // deleteEnabled=false: no delete through /v2/; untagging is fine.
    let r = acr
        .send(Method::DELETE, &format!("/v2/team/app/manifests/{d1}"))
        .await;
    expect_locked(r, "deleteEnabled", &path).await;
    let r = acr
        .send(Method::DELETE, "/acr/v1/team/app/_tags/latest")
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // A locked manifest inside keeps its repository from being deleted.
    let r = acr.send(Method::DELETE, "/acr/v1/team/app").await;
    expect_locked(r, "deleteEnabled", &path).await;

    // writeEnabled=false: no re-push by digest; a new tag may point at it.
    acr.patch_ok(&path, json!({"writeEnabled": false, "readEnabled": true}))
        .await;
    let r = acr.put_manifest("team/app", &d1, OCI_MANIFEST, &m1).await;
    expect_locked(r, "writeEnabled", &path).await;
    let r = acr
        .put_manifest("team/app", "again", OCI_MANIFEST, &m1)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // listEnabled=false hides it from `_manifests`.
    acr.patch_ok(&path, json!({"listEnabled": false})).await;
    let (_, body) = acr.get("/acr/v1/team/app/_manifests").await;
    assert_eq!(names(&body, "manifests", "digest"), [d2.as_str()]);

    let r = acr
        .send(
            Method::GET,
            &format!("/acr/v1/team/app/_manifests/{}", sha256(b"none")),
        )
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN").await;
    let r = acr
        .send(Method::GET, "/acr/v1/team/app/_manifests/sha256:xyz")
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "DIGEST_INVALID").await;
    let r = acr.send(Method::DELETE, &path).await;
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
}

// ------------------------------------------------------------ the challenge

#[tokio::test]
async fn every_endpoint_challenges_for_its_scope() {
    let server = TestServer::start().await;
    let acr = signed_in(&server, &["team/app"]).await;
    let (_, digest) = acr.push_image("team/app", "v1", b"one").await;
    let login_server = acr.login_server().to_owned();
    let realm = format!("http://{}/oauth2/token", acr.host);
    let m = format!("/acr/v1/team%2Fapp/_manifests/{digest}");
    let cases: Vec<(Method, &str, &str)> = vec![
        (Method::GET, "/acr/v1/_catalog", "registry:catalog:*"),
        (
            Method::GET,
            "/acr/v1/team%2Fapp",
            "repository:team/app:metadata_read",
        ),
        (
            Method::GET,
            "/acr/v1/team/app/_tags?n=100",
            "repository:team/app:metadata_read",
        ),
        (
            Method::GET,
            "/acr/v1/team%2Fapp/_tags/v1",
            "repository:team/app:metadata_read",
        ),
        (
            Method::GET,
            "/acr/v1/team%2Fapp/_manifests",
            "repository:team/app:metadata_read",
        ),
        (Method::GET, &m, "repository:team/app:metadata_read"),
        (
            Method::PATCH,
            "/acr/v1/team%2Fapp",
            "repository:team/app:metadata_write",
        ),
        (
            Method::PATCH,
            "/acr/v1/team%2Fapp/_tags/v1",
            "repository:team/app:metadata_write",
        ),
        (Method::PATCH, &m, "repository:team/app:metadata_write"),
        (
            Method::DELETE,
            "/acr/v1/team%2Fapp",
            "repository:team/app:delete",
        ),
        (
            Method::DELETE,
            "/acr/v1/team%2Fapp/_tags/v1",
            "repository:team/app:delete",
        ),
    ];
    for (method, path, scope) in cases {
        let r = acr.anonymous(method.clone(), path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let challenges: Vec<_> = r.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(
            challenges.len(),
            1,
            "{method} {path}: exactly one challenge"
        );
        assert_eq!(
            challenges[0].to_str().unwrap(),
            format!("Bearer realm=\"{realm}\",service=\"{login_server}\",scope=\"{scope}\""),
            "{method} {path}"
        );
        let (_, body) = expect_error(r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
        let (kind, name, action) = match scope.split(':').collect::<Vec<_>>()[..] {
            [kind, name, action] => (kind, name, action),
            _ => unreachable!(),
        };
        assert_eq!(
            body["errors"][0]["detail"],
            json!([{"Type": kind, "Name": name, "Action": action}]),
            "{method} {path}"
        );
    }

    // A token that covers less than the route needs is challenged for the
    // one action the route needs.
    let reader = with_scopes(&server, &["repository:team/app:metadata_read"]).await;
    let (_, body) = reader.get("/acr/v1/team/app/_tags").await;
    assert_eq!(names(&body, "tags", "name"), ["v1"]);
    let r = reader
        .patch("/acr/v1/team/app/_tags/v1", json!({"writeEnabled": false}))
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        h(r.headers(), "www-authenticate"),
        format!(
            "Bearer realm=\"{realm}\",service=\"{login_server}\",scope=\"repository:team/app:metadata_write\",error=\"insufficient_scope\""
        )
    );
    // Untag needs `delete` (what az CLI asks for), not `metadata_write`.
    let writer = with_scopes(&server, &["repository:team/app:metadata_write"]).await;
    let r = writer
        .send(Method::DELETE, "/acr/v1/team/app/_tags/v1")
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        h(r.headers(), "www-authenticate").contains("scope=\"repository:team/app:delete\""),
        "{:?}",
        r.headers()
    );
    let deleter = with_scopes(&server, &["repository:team/app:delete"]).await;
    let r = deleter
        .send(Method::DELETE, "/acr/v1/team/app/_tags/v1")
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // A token for one repository does not reach another.
    let r = reader.send(Method::GET, "/acr/v1/team/other").await;
    assert!(
        h(r.headers(), "www-authenticate")
            .contains("scope=\"repository:team/other:metadata_read\"")
    );
}

#[tokio::test]
async fn admin_basic_auth_and_malformed_requests() {
    let (server, acr) = start(&["team/app"]).await;
    acr.push_image("team/app", "v1", b"one").await;
    // acr-cli sends Basic with the admin credentials on every call.
    let registry = server.bootstrap().registry.clone();
    let admin = server.enable_admin(registry.as_str()).await;
    let r = acr
        .anonymous(Method::GET, "/acr/v1/_catalog")
        .basic_auth(&admin.username, Some(&admin.password2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"repositories": ["team/app"]})
    );
    let r = acr
        .anonymous(Method::GET, "/acr/v1/team/app/_tags")
        .basic_auth(&admin.username, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let r = acr.send(Method::GET, "/acr/v1/Team/App").await;
    expect_error(r, StatusCode::BAD_REQUEST, "NAME_INVALID").await;
    let r = acr.send(Method::GET, "/acr/v1/team%252Fapp").await;
    expect_error(r, StatusCode::BAD_REQUEST, "NAME_INVALID").await;
    let r = acr.send(Method::GET, "/acr/v1/team/app/_deleted").await;
    expect_error(r, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let r = acr.send(Method::POST, "/acr/v1/team/app").await;
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED").await;
    let r = acr
        .req(Method::PATCH, "/acr/v1/team/app")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    // A PATCH with no body changes nothing.
    let r = acr
        .req(Method::PATCH, "/acr/v1/team/app")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["changeableAttributes"],
        all_enabled()
    );
    // Another registry's host is another registry: unknown names there.
    server.create_registry("otherreg").await;
    let r = acr
        .http
        .get(format!("{}/acr/v1/team/app", acr.base))
        .header(header::HOST, server.host_header("otherreg"))
        .bearer_auth(&acr.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a token of another registry"
    );
}

#[tokio::test]
async fn deletions_and_attribute_changes_are_audited() {
    let (server, acr) = start(&["team/app"]).await;
    acr.push_image("team/app", "v1", b"one").await;
    acr.patch_ok("/acr/v1/team/app/_tags/v1", json!({"deleteEnabled": false}))
        .await;
    let r = acr.send(Method::DELETE, "/acr/v1/team/app/_tags/v1").await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let records = audit(
        &server,
        AuditFilter {
            repository: Some("team/app".into()),
            ..Default::default()
        },
    )
    .await;
    let seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r.action.clone(),
                r.decision.clone(),
                r.detail.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        seen.iter().any(|(a, d, detail)| a == "metadata_write"
            && d == "granted"
            && detail == "tag v1: deleteEnabled=false"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(a, d, detail)| a == "delete"
            && d == "failed"
            && detail.contains("deleteEnabled")),
        "{seen:?}"
    );
}
