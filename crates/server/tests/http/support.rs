//! Fixtures the in-process HTTP tests share: a signed-in client of the data
//! plane that pushes images ([`Client`]), a registry addressed by its Host
//! header for the token service and the exchange ([`Reg`]), directory users
//! and password sign-ins, ARM requests, and the assertions on the data
//! plane's error body. Each helper panics with a message, as a test reports.

#![allow(clippy::unwrap_used)]

use acrylic_model::{ObjectId, RegistryName, TenantId};
use acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID;
use acrylic_store::{AuditFilter, AuditRecord, Registry, User};
use acrylic_testkit::TestServer;
use acrylic_testkit::image::sha256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{self, AUTHORIZATION, HOST, HeaderMap};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The password of every user [`create_user`] makes for sign-ins.
pub const PASSWORD: &str = "Correct-Horse-Battery-1";
/// The registry audience azure-identity and az ask the directory for.
pub const ACR_SCOPE: &str = "https://containerregistry.azure.net/.default";
/// The ARM audience.
pub const ARM_SCOPE: &str = "https://management.core.windows.net//.default";
/// The username docker sends with a refresh token (acr-auth.md §2.4).
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";
/// The token service's content type.
pub const JSON_UTF8: &str = "application/json; charset=utf-8";

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The config blob of every image [`Client::push_image`] pushes.
pub const CONFIG: &[u8] =
    br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

// ---- JWTs and time ----

/// A JWT's payload, unverified.
pub fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `v` as a JWT segment.
pub fn b64json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The audit records `filter` selects, newest first.
pub async fn audit(server: &TestServer, filter: AuditFilter) -> Vec<AuditRecord> {
    server.state().meta.list_audit(&filter).await.unwrap()
}

// ---- the directory and ARM ----

/// A directory sign-in through the real password grant; the access token.
pub async fn sign_in(
    server: &TestServer,
    tenant: &TenantId,
    upn: &str,
    password: &str,
    scope: &str,
) -> String {
    let r = server
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", server.base_url()))
        .form(&[
            ("client_id", ACRYLIC_CLI_CLIENT_ID),
            ("grant_type", "password"),
            ("username", upn),
            ("password", password),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "sign-in of {upn}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The bootstrap owner's directory token for `scope`, from the real
/// directory.
pub async fn owner_token(server: &TestServer, scope: &str) -> String {
    let b = server.bootstrap();
    sign_in(server, &b.tenant, &b.username, &b.password, scope).await
}

/// A user of `tenant` made through the store, with no role assignment.
/// Its sessions are valid from an hour ago, so a token issued in the same
/// second as the user is not taken for a revoked one.
pub async fn create_user(
    server: &TestServer,
    tenant: TenantId,
    upn: &str,
    password: &str,
    enabled: bool,
) -> User {
    let t = OffsetDateTime::now_utc();
    let u = User {
        id: ObjectId::new_random(),
        tenant_id: tenant,
        upn: upn.into(),
        display_name: upn.into(),
        password_hash: acrylic_identity::password::hash(password).unwrap(),
        enabled,
        sessions_valid_after: t - time::Duration::hours(1),
        created_at: t,
    };
    server.state().meta.create_user(&u).await.unwrap();
    u
}

/// An ARM request with `api-version=<api>` and `token` as the bearer:
/// (status, JSON body or `null`).
pub async fn arm(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    api: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut req = server
        .client()
        .request(method, format!("{}{path}{sep}{api}", server.base_url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, v)
}

// ---- the token service, by registry ----

/// One registry of a test server, addressed by its Host header.
pub struct Reg<'a> {
    pub server: &'a TestServer,
    pub name: String,
    pub host: String,
}

impl<'a> Reg<'a> {
    pub fn bootstrap(server: &'a TestServer) -> Self {
        Self::named(server, server.bootstrap().registry.as_str())
    }

    pub fn named(server: &'a TestServer, name: &str) -> Self {
        Reg {
            host: server.host_header(name),
            server,
            name: name.into(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.server
            .client()
            .get(self.url(path))
            .header(HOST, &self.host)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.server
            .client()
            .post(self.url(path))
            .header(HOST, &self.host)
    }

    /// The registry, from the store.
    pub async fn registry(&self) -> Registry {
        let name = RegistryName::parse(&self.name).unwrap();
        self.server
            .state()
            .meta
            .find_registry_by_name(&name)
            .await
            .unwrap()
            .unwrap()
    }

    /// Changes the registry in the store.
    pub async fn update(&self, f: impl FnOnce(&mut Registry)) {
        let mut r = self.registry().await;
        f(&mut r);
        self.server.state().meta.update_registry(&r).await.unwrap();
    }

    /// `GET /oauth2/token` with Basic credentials and one `scope` per item
    /// (docker, podman, skopeo).
    pub async fn basic_token(&self, user: &str, pass: &str, scopes: &[&str]) -> Response {
        let mut q: Vec<(&str, &str)> = vec![("service", &self.host)];
        q.extend(scopes.iter().map(|s| ("scope", *s)));
        self.get("/oauth2/token")
            .query(&q)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap()
    }

    /// docker after `acr login`: GET with Basic null GUID + refresh token.
    pub async fn basic_refresh(&self, refresh: &str, scope: &str) -> Response {
        self.basic_token(NULL_GUID, refresh, &[scope]).await
    }

    /// `POST /oauth2/token<query>` with a form.
    pub async fn form_token(&self, query: &str, form: &[(&str, &str)]) -> Response {
        self.post(&format!("/oauth2/token{query}"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// docker's and azure-containerregistry's refresh grant.
    pub async fn refresh_grant(&self, refresh: &str, scopes: &str) -> Response {
        self.form_token(
            "",
            &[
                ("grant_type", "refresh_token"),
                ("service", &self.host),
                ("scope", scopes),
                ("refresh_token", refresh),
            ],
        )
        .await
    }

    /// `POST /oauth2/exchange<query>` with a form.
    pub async fn exchange_form(&self, query: &str, form: &[(&str, &str)]) -> Response {
        self.post(&format!("/oauth2/exchange{query}"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// az's shape: `grant_type=access_token&service&tenant&access_token`.
    pub async fn exchange(&self, access_token: &str, tenant: &TenantId) -> Response {
        self.exchange_form(
            "",
            &[
                ("grant_type", "access_token"),
                ("service", &self.host),
                ("tenant", &tenant.to_string()),
                ("access_token", access_token),
            ],
        )
        .await
    }

    /// A data-plane request with `auth` as the `Authorization` header.
    pub async fn v2_with(&self, method: Method, path: &str, auth: Option<String>) -> Response {
        let mut r = self
            .server
            .client()
            .request(method, self.url(path))
            .header(HOST, &self.host);
        if let Some(a) = auth {
            r = r.header(AUTHORIZATION, a);
        }
        r.send().await.unwrap()
    }

    /// `GET <path>` with a bearer access token.
    pub async fn v2(&self, path: &str, access_token: &str) -> Response {
        self.v2_with(Method::GET, path, Some(format!("Bearer {access_token}")))
            .await
    }
}

/// A refusal of the token service or the gate, in the AcrErrors shape:
/// `(errors[0].code, errors[0].message)`.
pub async fn refused(r: Response, status: StatusCode) -> (String, String) {
    let got = r.status();
    let ct = r.headers().get(header::CONTENT_TYPE).cloned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    assert_eq!(ct.unwrap(), JSON_UTF8);
    let e = &body["errors"][0];
    assert!(e.get("detail").is_some(), "{body}");
    (
        e["code"].as_str().unwrap().to_owned(),
        e["message"].as_str().unwrap().to_owned(),
    )
}

/// A 401 UNAUTHORIZED refusal; its message.
pub async fn unauthorized(r: Response) -> String {
    let (code, message) = refused(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "UNAUTHORIZED");
    message
}

/// The `access` claim of a registry access token.
pub fn access_of(token: &str) -> Value {
    payload(token)["access"].clone()
}

// ---- the data plane ----

/// A client of one registry holding an admin access token.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    /// The Host header, which is the registry's login server.
    pub host: String,
    pub token: String,
}

impl Client {
    /// Enables the admin user of `registry` and takes a token for `scopes`
    /// from the real token service.
    pub async fn admin(server: &TestServer, registry: &str, scopes: &[&str]) -> Client {
        let admin = server.enable_admin(registry).await;
        let token = server
            .token(registry, &admin.username, &admin.password, scopes)
            .await;
        Client {
            http: server.client(),
            base: server.base_url().to_owned(),
            host: server.host_header(registry),
            token,
        }
    }

    /// The registry's login server (`registry` in `/acr/v1/` bodies,
    /// `service` in challenges): the host the client addresses.
    pub fn login_server(&self) -> &str {
        &self.host
    }

    /// A request with the Host header and no credentials.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(header::HOST, &self.host)
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(&self.token)
    }

    pub async fn send(&self, method: Method, path: &str) -> Response {
        self.req(method, path).send().await.unwrap()
    }

    /// Pushes a blob with one `POST ?digest=` and returns its digest.
    pub async fn push_blob(&self, repo: &str, content: &[u8]) -> String {
        let digest = sha256(content);
        let r = self
            .req(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            )
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(content.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "push blob to {repo}");
        digest
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header(header::CONTENT_TYPE, media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes config + one layer + an OCI image manifest as `reference`;
    /// returns the manifest bytes and digest.
    pub async fn push_image(&self, repo: &str, reference: &str, layer: &[u8]) -> (Vec<u8>, String) {
        self.push_blob(repo, CONFIG).await;
        self.push_blob(repo, layer).await;
        let manifest = image_manifest(layer);
        let r = self
            .put_manifest(repo, reference, OCI_MANIFEST, &manifest)
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "push manifest {repo}:{reference}"
        );
        let digest = sha256(&manifest);
        (manifest, digest)
    }
}

pub fn descriptor(media_type: &str, content: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(content), "size": content.len() })
}

/// An OCI image manifest of [`CONFIG`] and `layer`.
pub fn image_manifest(layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_TYPE, CONFIG),
        "layers": [descriptor(LAYER_TYPE, layer)],
    }))
    .unwrap()
}

/// A header that must be there, as text.
pub fn h<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name} in {headers:?}"))
        .to_str()
        .unwrap()
}

/// Asserts a data-plane error response (OCI's error body, which is ACR's
/// `AcrErrors`): status, code, the body's shape and the API version
/// header. Returns the headers and the body.
pub async fn expect_error(r: Response, status: StatusCode, code: &str) -> (HeaderMap, Value) {
    let headers = r.headers().clone();
    let got = r.status();
    let body: Value = r
        .json()
        .await
        .unwrap_or_else(|e| panic!("{got}: error body is not JSON: {e}"));
    assert_eq!(got, status, "{body}");
    let e = &body["errors"][0];
    assert_eq!(e["code"], code, "{body}");
    assert!(
        e["message"].is_string() && e.get("detail").is_some(),
        "{body}"
    );
    assert_eq!(
        h(&headers, "docker-distribution-api-version"),
        "registry/2.0"
    );
    (headers, body)
}
