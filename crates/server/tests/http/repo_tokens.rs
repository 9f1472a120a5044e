//! Repository-scoped tokens and scope maps over real HTTP (issue #4 §3),
//! mostly from the attacker's side: the owner manages scope maps and
//! tokens through the ARM surface, then the token logs in at
//! `/oauth2/token` (Basic, as docker does, and `grant_type=password`) and
//! uses the data plane. Covered: the access token carries exactly the scope
//! map's actions; a disabled token, an expired password (at the second
//! boundary), a deleted token, a replaced password, another registry and a
//! widened scope are all refused; changing the scope map or disabling the
//! token takes effect at once, on new tokens and on the data plane; tokens
//! cannot use the control plane and are not role-assignment principals;
//! the system scope maps; the ARM rules and shapes.

#![allow(clippy::unwrap_used)]

use acrylic_model::{ObjectId, RegistryName};
use acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID;
use acrylic_store::{TokenPassword, TokenPasswordName, User};
use acrylic_testkit::TestServer;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{HOST, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ARM_SCOPE: &str = "https://management.core.windows.net//.default";
const API: &str = "api-version=2023-07-01";
const PASSWORD: &str = "Correct-Horse-Battery-1";

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The test server, the owner's ARM token, and the bootstrap registry.
struct World {
    s: TestServer,
    owner: String,
    registry: String,
    host: String,
    /// The registry's ARM id.
    reg: String,
}

impl World {
    async fn start() -> World {
        let s = TestServer::start().await;
        let b = s.bootstrap().clone();
        let owner = sign_in(&s, &b.username, &b.password).await;
        let reg = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
            b.subscription, b.resource_group, b.registry
        );
        World {
            host: s.host_header(b.registry.as_str()),
            registry: b.registry.to_string(),
            owner,
            reg,
            s,
        }
    }

    /// The ARM id of another registry of the same resource group.
    fn sibling(&self, name: &str) -> String {
        let (parent, _) = self.reg.rsplit_once('/').unwrap();
        format!("{parent}/{name}")
    }

    async fn arm_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .s
            .client()
            .request(method, format!("{}{path}?{API}", self.s.base_url()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn arm(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.arm_as(&self.owner, method, path, body).await
    }

    async fn put_map(&self, name: &str, actions: &[&str]) -> Value {
        let (status, body) = self
            .arm(
                Method::PUT,
                &format!("{}/scopeMaps/{name}", self.reg),
                Some(json!({"properties": {"actions": actions, "description": "test map"}})),
            )
            .await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "PUT scope map {name}: {status} {body}"
        );
        body
    }

    async fn patch_map(&self, name: &str, actions: &[&str]) {
        let (status, body) = self
            .arm(
                Method::PATCH,
                &format!("{}/scopeMaps/{name}", self.reg),
                Some(json!({"properties": {"actions": actions}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn put_token(&self, name: &str, map: &str) -> Value {
        let (status, body) = self
            .arm(
                Method::PUT,
                &format!("{}/tokens/{name}", self.reg),
                Some(
                    json!({"properties": {"scopeMapId": format!("{}/scopeMaps/{map}", self.reg)}}),
                ),
            )
            .await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "PUT token {name}: {status} {body}"
        );
        body
    }

    async fn patch_token(&self, name: &str, properties: Value) -> Value {
        let (status, body) = self
            .arm(
                Method::PATCH,
                &format!("{}/tokens/{name}", self.reg),
                Some(json!({ "properties": properties })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `generateCredentials`: (status, body).
    async fn generate(&self, token: &str, extra: Value) -> (StatusCode, Value) {
        let mut body = json!({"tokenId": format!("{}/tokens/{token}", self.reg)});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.arm(
            Method::POST,
            &format!("{}/generateCredentials", self.reg),
            Some(body),
        )
        .await
    }

    /// A token with fresh passwords: (password1, password2).
    async fn token_with_passwords(&self, name: &str, map: &str) -> (String, String) {
        self.put_token(name, map).await;
        let (status, body) = self.generate(name, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["username"], name);
        let value = |i: usize| body["passwords"][i]["value"].as_str().unwrap().to_owned();
        assert_eq!(body["passwords"][0]["name"], "password1");
        assert_eq!(body["passwords"][1]["name"], "password2");
        (value(0), value(1))
    }

    /// `GET /oauth2/token` with Basic credentials at `host`, as docker asks.
    async fn login_at(
        &self,
        host: &str,
        user: &str,
        pass: &str,
        scopes: &[&str],
    ) -> (StatusCode, Value) {
        let mut query: Vec<(&str, &str)> = vec![("service", host)];
        query.extend(scopes.iter().map(|s| ("scope", *s)));
        let r = self
            .s
            .client()
            .get(format!("{}/oauth2/token", self.s.base_url()))
            .header(HOST, host)
            .query(&query)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, user: &str, pass: &str, scopes: &[&str]) -> (StatusCode, Value) {
        self.login_at(&self.host, user, pass, scopes).await
    }

    /// An access token, asserting 200.
    async fn access(&self, user: &str, pass: &str, scopes: &[&str]) -> String {
        let (status, body) = self.login(user, pass, scopes).await;
        assert_eq!(status, StatusCode::OK, "login of {user}: {body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// The `access` claim of a fresh token for `scopes`.
    async fn granted(&self, user: &str, pass: &str, scopes: &[&str]) -> Value {
        payload(&self.access(user, pass, scopes).await)["access"].clone()
    }

    /// A data-plane request with a bearer token: (status, body, challenge).
    async fn data(&self, method: Method, path: &str, bearer: &str) -> (StatusCode, Value, String) {
        let r = self
            .s
            .client()
            .request(method, format!("{}{path}", self.s.base_url()))
            .header(HOST, &self.host)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let challenge = r
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, r.json().await.unwrap_or(Value::Null), challenge)
    }

    /// Starts a blob upload (needs `push`): the status.
    async fn start_upload(&self, repo: &str, bearer: &str) -> StatusCode {
        self.data(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), bearer)
            .await
            .0
    }
}

async fn sign_in(s: &TestServer, upn: &str, password: &str) -> String {
    let tenant = s.bootstrap().tenant;
    let r = s
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", s.base_url()))
        .form(&[
            ("client_id", ACRYLIC_CLI_CLIENT_ID),
            ("grant_type", "password"),
            ("username", upn),
            ("password", password),
            ("scope", ARM_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "sign-in of {upn}: {body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn entry(name: &str, actions: &[&str]) -> Value {
    json!({"type": "repository", "name": name, "actions": actions})
}

fn message(body: &Value) -> String {
    body.pointer("/errors/0/message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

// ---- the access token carries exactly the scope map --------------------------

#[tokio::test]
async fn a_token_gets_exactly_what_its_scope_map_says() {
    let w = World::start().await;
    w.put_map(
        "team-map",
        &[
            "repositories/team/*/content/read",
            "repositories/team/app/content/write",
            "repositories/docs/metadata/read",
        ],
    )
    .await;
    let (pw1, pw2) = w.token_with_passwords("team-token", "team-map").await;

    // Asking for everything yields the subset, per repository.
    let access = w
        .granted(
            "team-token",
            &pw1,
            &[
                "repository:team/app:pull,push,delete,metadata_read,metadata_write",
                "repository:team/lib:pull,push",
                "repository:team:pull",
                "repository:other/app:pull",
                "repository:docs:*",
                "registry:catalog:*",
                "repository:*:pull",
            ],
        )
        .await;
    assert_eq!(
        access,
        json!([
            entry("team/app", &["pull", "push"]),
            entry("team/lib", &["pull"]),
            entry("team", &[]),
            entry("other/app", &[]),
            entry("docs", &["metadata_read"]),
            {"type": "registry", "name": "catalog", "actions": []},
            entry("*", &[]),
        ])
    );
    // password2 works the same; the username is case-insensitive (ACR
    // names are), and the token's own spelling is its subject.
    let token = w
        .access("TEAM-TOKEN", &pw2, &["repository:team/app:pull"])
        .await;
    let claims = payload(&token);
    assert_eq!(claims["sub"], "team-token");
    assert_eq!(claims["access"], json!([entry("team/app", &["pull"])]));
    // Repositories that do not exist yet are covered: a push creates them.
    let push = w
        .access("team-token", &pw1, &["repository:team/app:pull,push"])
        .await;
    assert_eq!(
        w.start_upload("team/app", &push).await,
        StatusCode::ACCEPTED
    );

    // `grant_type=password` (az CLI's `-u/-p`, docker forced into OAuth).
    let r =
        w.s.client()
            .post(format!("{}/oauth2/token", w.s.base_url()))
            .header(HOST, &w.host)
            .form(&[
                ("grant_type", "password"),
                ("service", w.host.as_str()),
                ("username", "team-token"),
                ("password", pw1.as_str()),
                ("scope", "repository:team/lib:pull,push"),
                ("offline_token", "true"),
                ("client_id", "docker"),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "tokens get no refresh token: {body}"
    );
    assert_eq!(
        payload(body["access_token"].as_str().unwrap())["access"],
        json!([entry("team/lib", &["pull"])])
    );

    // Direct Basic on the data plane: the same scope map decides.
    let basic = |repo: &str| {
        w.s.client()
            .post(format!("{}/v2/{repo}/blobs/uploads/", w.s.base_url()))
            .header(HOST, &w.host)
            .basic_auth("team-token", Some(pw1.clone()))
            .send()
    };
    assert_eq!(
        basic("team/app").await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        basic("team/lib").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // Issuances are audited under the token's name, never its password.
    let records =
        w.s.state()
            .meta
            .list_audit(&acrylic_store::AuditFilter {
                principal: Some("token:team-token".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert!(records.iter().any(|r| r.action == "token"), "{records:?}");
    assert!(
        records
            .iter()
            .all(|r| !r.detail.as_deref().unwrap_or("").contains(&pw1))
    );
}

#[tokio::test]
async fn scope_escalation_is_refused() {
    let w = World::start().await;
    w.put_map("reader-map", &["repositories/team/app/content/read"])
        .await;
    let (pw, _) = w.token_with_passwords("reader-1", "reader-map").await;
    let pull = w
        .access("reader-1", &pw, &["repository:team/app:pull,push"])
        .await;
    assert_eq!(
        payload(&pull)["access"],
        json!([entry("team/app", &["pull"])])
    );
    // The pull token does not push, nor reach another repository: the scope
    // map will never grant either, so the answer is DENIED, not a challenge
    // for a wider token the client could not get.
    let (status, body, _) = w
        .data(Method::POST, "/v2/team/app/blobs/uploads/", &pull)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    let (status, _, _) = w.data(Method::GET, "/v2/other/app/tags/list", &pull).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A forged access claim does not verify.
    let mut parts: Vec<String> = pull.split('.').map(str::to_owned).collect();
    let mut claims = payload(&pull);
    claims["access"] = json!([entry("team/app", &["pull", "push", "delete"])]);
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let forged = parts.join(".");
    assert_eq!(
        w.start_upload("team/app", &forged).await,
        StatusCode::UNAUTHORIZED
    );
    // The catalog is never a token's.
    let cat = w.access("reader-1", &pw, &["registry:catalog:*"]).await;
    let (status, _, _) = w.data(Method::GET, "/v2/_catalog", &cat).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

// ---- status, expiry, deletion, rotation ----------------------------------------

#[tokio::test]
async fn a_disabled_token_is_refused_at_once_with_how_to_enable_it() {
    let w = World::start().await;
    w.put_map(
        "push-map",
        &[
            "repositories/app/content/read",
            "repositories/app/content/write",
        ],
    )
    .await;
    let (pw, _) = w.token_with_passwords("pusher-1", "push-map").await;
    let access = w
        .access("pusher-1", &pw, &["repository:app:pull,push"])
        .await;
    assert_eq!(w.start_upload("app", &access).await, StatusCode::ACCEPTED);

    let shown = w
        .patch_token("pusher-1", json!({"status": "disabled"}))
        .await;
    assert_eq!(shown["properties"]["status"], "disabled");
    // New tokens: 401 saying so and how to fix it.
    let (status, body) = w.login("pusher-1", &pw, &["repository:app:pull"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let m = message(&body);
    assert!(
        m.contains("disabled")
            && m.contains(&format!(
                "acrylic acr token update --name pusher-1 --registry {} --status enabled",
                w.registry
            )),
        "{m}"
    );
    // The access token already issued: refused on the next request.
    let (status, body, _) = w
        .data(Method::POST, "/v2/app/blobs/uploads/", &access)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["errors"][0]["code"], "DENIED");
    // A wrong password learns nothing about the status.
    let (status, body) = w
        .login("pusher-1", "not-the-password", &["repository:app:pull"])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!message(&body).contains("disabled"), "{body}");

    w.patch_token("pusher-1", json!({"status": "enabled"}))
        .await;
    assert_eq!(w.start_upload("app", &access).await, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn an_expired_password_is_refused_at_the_second_with_its_expiry_and_the_fix() {
    let w = World::start().await;
    w.put_token("expiring", "_repositories_pull").await;
    let reg =
        w.s.state()
            .meta
            .find_registry_by_name(&RegistryName::parse(&w.registry).unwrap())
            .await
            .unwrap()
            .unwrap();
    let now = OffsetDateTime::now_utc();
    let second = now.replace_nanosecond(0).unwrap();
    let set = |which: TokenPasswordName, value: &'static str, expiry: OffsetDateTime| {
        let meta = w.s.state().meta.clone();
        let reg_id = reg.id.clone();
        async move {
            let stored = TokenPassword {
                hash: acrylic_identity::password::hash(value).unwrap(),
                created_at: second - time::Duration::days(1),
                expiry: Some(expiry),
            };
            meta.set_repository_token_password(
                &reg_id,
                "expiring",
                which,
                Some(&stored),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        }
    };
    // password1 expired at the start of this very second; password2
    // expires two seconds on.
    set(TokenPasswordName::Password1, "first-Secret-1", second).await;
    let later = second + time::Duration::seconds(2);
    set(TokenPasswordName::Password2, "second-Secret-2", later).await;

    let (status, body) = w.login("expiring", "first-Secret-1", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let m = message(&body);
    let at = second.format(&Rfc3339).unwrap();
    assert!(
        m.contains("expired")
            && m.contains(&at)
            && m.contains(&format!(
                "acrylic acr token credential generate --name expiring --registry {} --password1",
                w.registry
            )),
        "{m}"
    );
    // Before its expiry password2 works (and is cached)...
    let (status, body) = w
        .login("expiring", "second-Secret-2", &["repository:x:pull"])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...up to the last second before it (the server's clock, frozen)...
    let clock = &w.s.state().clock;
    clock.freeze(later - time::Duration::milliseconds(1));
    let (status, body) = w.login("expiring", "second-Secret-2", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...and from its expiry second on it does not, cache or not.
    clock.freeze(later);
    let (status, body) = w.login("expiring", "second-Secret-2", &[]).await;
    clock.resume();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        message(&body).contains(&later.format(&Rfc3339).unwrap()),
        "{body}"
    );
    assert!(message(&body).contains("--password2"), "{body}");
    // A year on, the same (no clock skew makes an expired password live).
    clock.freeze(later + time::Duration::days(365));
    assert_eq!(
        w.login("expiring", "second-Secret-2", &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    clock.resume();
    // ARM refuses an expiry in the past; GET shows the stored ones.
    let (status, body) = w
        .generate(
            "expiring",
            json!({"name": "password1", "expiry": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "InvalidParameter");
    let (_, shown) = w
        .arm(Method::GET, &format!("{}/tokens/expiring", w.reg), None)
        .await;
    assert_eq!(
        shown["properties"]["credentials"]["passwords"][0]["expiry"],
        at
    );
    // A regenerated password1 with a future expiry works again.
    let future = (now + time::Duration::days(7)).format(&Rfc3339).unwrap();
    let (status, body) = w
        .generate("expiring", json!({"name": "password1", "expiry": future}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["passwords"].as_array().map(Vec::len), Some(1));
    let fresh = body["passwords"][0]["value"].as_str().unwrap();
    let (status, _) = w.login("expiring", fresh, &[]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn deleted_tokens_replaced_passwords_and_other_registries_get_nothing() {
    let w = World::start().await;
    let (pw1, pw2) = w
        .token_with_passwords("rotated", "_repositories_pull")
        .await;
    // Cached successes first, so what follows proves the cache misses.
    for pw in [&pw1, &pw2] {
        let (status, _) = w.login("rotated", pw, &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
    // A token of registry A is nothing on registry B.
    let other = w.s.create_registry("otherreg").await;
    let other_host = w.s.host_header(other.name.as_str());
    let (status, body) = w
        .login_at(&other_host, "rotated", &pw1, &["repository:x:pull"])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Its access token is refused there too.
    let access = w.access("rotated", &pw1, &["repository:x:pull"]).await;
    let r =
        w.s.client()
            .get(format!("{}/v2/x/tags/list", w.s.base_url()))
            .header(HOST, &other_host)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // password1 replaced: the old value fails at once, password2 works.
    let (status, body) = w.generate("rotated", json!({"name": "password1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new1 = body["passwords"][0]["value"].as_str().unwrap().to_owned();
    assert_ne!(new1, pw1);
    assert_eq!(
        w.login("rotated", &pw1, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(w.login("rotated", &new1, &[]).await.0, StatusCode::OK);
    assert_eq!(w.login("rotated", &pw2, &[]).await.0, StatusCode::OK);

    // `credential delete --password2`: PATCH listing only password1.
    let shown = w
        .patch_token(
            "rotated",
            json!({"credentials": {"passwords": [{"name": "password1"}]}}),
        )
        .await;
    assert_eq!(
        shown["properties"]["credentials"]["passwords"]
            .as_array()
            .map(|p| p.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("password1")])
    );
    assert_eq!(
        w.login("rotated", &pw2, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(w.login("rotated", &new1, &[]).await.0, StatusCode::OK);

    // Deleted: nothing works, and the data plane stops honouring its
    // access token at once.
    let pull = w.access("rotated", &new1, &["repository:x:pull"]).await;
    let (status, _, _) = w.data(Method::GET, "/v2/x/tags/list", &pull).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "authorized; x does not exist"
    );
    let (status, _) = w
        .arm(Method::DELETE, &format!("{}/tokens/rotated", w.reg), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        w.login("rotated", &new1, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = w.data(Method::GET, "/v2/x/tags/list", &pull).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w
        .arm(Method::DELETE, &format!("{}/tokens/rotated", w.reg), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // An unknown name: the same 401 as a wrong password.
    let (status, body) = w.login("no-such-token", "whatever", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("authentication required"), "{body}");
}

#[tokio::test]
async fn a_changed_scope_map_applies_at_once_to_new_and_issued_tokens() {
    let w = World::start().await;
    w.put_map(
        "changing",
        &[
            "repositories/app/content/read",
            "repositories/app/content/write",
        ],
    )
    .await;
    let (pw, _) = w.token_with_passwords("changer", "changing").await;
    let issued = w
        .access("changer", &pw, &["repository:app:pull,push"])
        .await;
    assert_eq!(w.start_upload("app", &issued).await, StatusCode::ACCEPTED);

    // Read only now: the issued token can no longer push, and a new one
    // is not granted push.
    w.patch_map("changing", &["repositories/app/content/read"])
        .await;
    let (status, body, _) = w
        .data(Method::POST, "/v2/app/blobs/uploads/", &issued)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        w.granted("changer", &pw, &["repository:app:pull,push"])
            .await,
        json!([entry("app", &["pull"])])
    );

    // Another scope map for the token: the system push map.
    let shown = w
        .patch_token(
            "changer",
            json!({"scopeMapId": format!("{}/scopeMaps/_repositories_push", w.reg)}),
        )
        .await;
    assert!(
        shown["properties"]["scopeMapId"]
            .as_str()
            .unwrap()
            .ends_with("/scopeMaps/_repositories_push")
    );
    assert_eq!(w.start_upload("app", &issued).await, StatusCode::ACCEPTED);
    assert_eq!(
        w.granted(
            "changer",
            &pw,
            &["repository:anything/else:pull,push,delete"]
        )
        .await,
        json!([entry("anything/else", &["pull", "push"])])
    );
}

// ---- scope maps over ARM ----------------------------------------------------------

#[tokio::test]
async fn system_scope_maps_exist_everywhere_and_cannot_change() {
    let w = World::start().await;
    let (status, list) = w
        .arm(Method::GET, &format!("{}/scopeMaps", w.reg), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let system: Vec<(String, String, Value)> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["properties"]["type"] == "SystemDefined")
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["properties"]["description"].as_str().unwrap().to_owned(),
                m["properties"]["actions"].clone(),
            )
        })
        .collect();
    let want = [
        (
            "_repositories_admin",
            "Can perform all read, write and delete operations on the registry",
            json!([
                "repositories/*/metadata/read",
                "repositories/*/metadata/write",
                "repositories/*/content/read",
                "repositories/*/content/write",
                "repositories/*/content/delete"
            ]),
        ),
        (
            "_repositories_pull",
            "Can pull any repository of the registry",
            json!(["repositories/*/content/read"]),
        ),
        (
            "_repositories_pull_metadata_read",
            "Can perform all read operations on the registry",
            json!([
                "repositories/*/content/read",
                "repositories/*/metadata/read"
            ]),
        ),
        (
            "_repositories_push",
            "Can push to any repository of the registry",
            json!([
                "repositories/*/content/read",
                "repositories/*/content/write"
            ]),
        ),
        (
            "_repositories_push_metadata_write",
            "Can perform all read and write operations on the registry",
            json!([
                "repositories/*/metadata/read",
                "repositories/*/metadata/write",
                "repositories/*/content/read",
                "repositories/*/content/write"
            ]),
        ),
    ];
    assert_eq!(system.len(), 5);
    for ((n, d, a), (wn, wd, wa)) in system.iter().zip(want.iter()) {
        assert_eq!((n.as_str(), d.as_str(), a), (*wn, *wd, wa));
    }
    // In every registry, another one included.
    let other = w.s.create_registry("secondreg").await;
    let other_reg = w.sibling(other.name.as_str());
    let (status, shown) = w
        .arm(
            Method::GET,
            &format!("{other_reg}/scopeMaps/_REPOSITORIES_PULL"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["name"], "_repositories_pull");
    assert_eq!(
        shown["type"],
        "Microsoft.ContainerRegistry/registries/scopeMaps"
    );
    // They cannot be created, changed or deleted.
    let path = format!("{}/scopeMaps/_repositories_pull", w.reg);
    for (method, body) in [
        (
            Method::PUT,
            Some(json!({"properties": {"actions": ["repositories/*/content/write"]}})),
        ),
        (
            Method::PATCH,
            Some(json!({"properties": {"description": "mine now"}})),
        ),
        (Method::DELETE, None),
    ] {
        let (status, body) = w.arm(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method}: {body}");
        assert_eq!(body["error"]["code"], "SystemScopeMapReadOnly");
    }
    // A token of the admin system map may do everything but the catalog.
    let (pw, _) = w
        .token_with_passwords("admin-tok", "_repositories_admin")
        .await;
    assert_eq!(
        w.granted("admin-tok", &pw, &["repository:a/b:*"]).await,
        json!([entry(
            "a/b",
            &["pull", "push", "delete", "metadata_read", "metadata_write"]
        )])
    );
}

#[tokio::test]
async fn scope_maps_follow_acrs_rules() {
    let w = World::start().await;
    let created = w
        .put_map(
            "Team_Map-1",
            &[
                "repositories/Samples/Hello/content/read",
                "repositories/samples/*/metadata/read",
                "repositories/*/content/read",
            ],
        )
        .await;
    assert_eq!(created["name"], "Team_Map-1");
    assert_eq!(created["properties"]["type"], "UserDefined");
    assert_eq!(created["properties"]["description"], "test map");
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        created["properties"]["actions"],
        json!([
            "repositories/samples/hello/content/read",
            "repositories/samples/*/metadata/read",
            "repositories/*/content/read"
        ]),
        "lowercased, as the CLI sends them"
    );
    assert_eq!(created["id"], format!("{}/scopeMaps/Team_Map-1", w.reg));
    let (status, got) = w
        .arm(
            Method::GET,
            &format!("{}/scopeMaps/team_map-1", w.reg),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);
    // PUT again replaces (200); PATCH changes one property.
    let (status, _) = w
        .arm(
            Method::PUT,
            &format!("{}/scopeMaps/team_map-1", w.reg),
            Some(json!({"properties": {"actions": ["repositories/a/content/read"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, patched) = w
        .arm(
            Method::PATCH,
            &format!("{}/scopeMaps/team_map-1", w.reg),
            Some(json!({"properties": {"description": "patched"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["properties"]["description"], "patched");
    assert_eq!(
        patched["properties"]["actions"],
        json!(["repositories/a/content/read"])
    );

    // Refused actions, each with a reason.
    let too_many: Vec<String> = (0..501)
        .map(|i| format!("repositories/r{i}/content/read"))
        .collect();
    for (actions, says) in [
        (json!(["repositories/a/*/b/content/read"]), "not at the end"),
        (json!(["repositories/a*/content/read"]), "not at the end"),
        (json!(["repositories/a/content/list"]), "must end in"),
        (json!(["repositories/a/contentWrite"]), "must end in"),
        (json!(["gateway/edge/config/read"]), "gateway"),
        (json!([]), "at least one action"),
        (json!(too_many), "at most 500"),
    ] {
        let (status, body) = w
            .arm(
                Method::PUT,
                &format!("{}/scopeMaps/refused-map", w.reg),
                Some(json!({"properties": {"actions": actions}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "InvalidParameter");
        let m = body["error"]["message"].as_str().unwrap();
        assert!(m.contains(says), "{m}");
    }
    // Names: 5–50 of [a-zA-Z0-9-_].
    for bad in ["abcd", "has.dot", &"x".repeat(51)] {
        let (status, body) = w
            .arm(
                Method::PUT,
                &format!("{}/scopeMaps/{bad}", w.reg),
                Some(json!({"properties": {"actions": ["repositories/a/content/read"]}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "InvalidResourceName");
    }
    // In use: not deleted, and the message names the token.
    w.put_token("user-of-map", "team_map-1").await;
    let (status, body) = w
        .arm(
            Method::DELETE,
            &format!("{}/scopeMaps/Team_Map-1", w.reg),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "ScopeMapInUse");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user-of-map")
    );
    w.patch_token(
        "user-of-map",
        json!({"scopeMapId": format!("{}/scopeMaps/_repositories_pull", w.reg)}),
    )
    .await;
    let (status, _) = w
        .arm(
            Method::DELETE,
            &format!("{}/scopeMaps/Team_Map-1", w.reg),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = w
        .arm(
            Method::GET,
            &format!("{}/scopeMaps/Team_Map-1", w.reg),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn tokens_follow_acrs_rules_and_never_show_passwords_again() {
    let w = World::start().await;
    w.put_map("some-map", &["repositories/a/content/read"])
        .await;
    let created = w.put_token("Shown-Token", "some-map").await;
    assert_eq!(created["name"], "Shown-Token");
    assert_eq!(
        created["type"],
        "Microsoft.ContainerRegistry/registries/tokens"
    );
    assert_eq!(created["properties"]["status"], "enabled");
    assert_eq!(
        created["properties"]["scopeMapId"],
        format!("{}/scopeMaps/some-map", w.reg)
    );
    assert_eq!(
        created["properties"]["credentials"],
        json!({"certificates": [], "passwords": []})
    );

    let (status, generated) = w
        .generate("shown-token", json!({"expiry": "2099-12-31T15:59:59.07Z"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{generated}");
    assert_eq!(generated["username"], "Shown-Token");
    let values: Vec<String> = generated["passwords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(values.len(), 2);
    assert_ne!(values[0], values[1]);
    assert!(values.iter().all(|v| v.len() == 52 && v.contains("+ACR")));
    assert_eq!(
        generated["passwords"][0]["expiry"],
        "2099-12-31T15:59:59.07Z"
    );
    // Never again: not in GET, not in the list, not in the store.
    let (_, shown) = w
        .arm(Method::GET, &format!("{}/tokens/SHOWN-token", w.reg), None)
        .await;
    let (_, listed) = w.arm(Method::GET, &format!("{}/tokens", w.reg), None).await;
    for v in &values {
        assert!(!shown.to_string().contains(v.as_str()));
        assert!(!listed.to_string().contains(v.as_str()));
    }
    let passwords = shown["properties"]["credentials"]["passwords"]
        .as_array()
        .unwrap();
    assert_eq!(passwords.len(), 2);
    assert!(passwords.iter().all(|p| p.get("value").is_none()
        && p["creationTime"].is_string()
        && p["expiry"] == "2099-12-31T15:59:59.07Z"));
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(1));

    // Refusals.
    let bad = |scope_map_id: String| json!({"properties": {"scopeMapId": scope_map_id}});
    let other = w.s.create_registry("thirdreg").await;
    let other_reg = w.sibling(other.name.as_str());
    for (name, body, code) in [
        (
            "under_score",
            bad(format!("{}/scopeMaps/some-map", w.reg)),
            "InvalidResourceName",
        ),
        (
            "good-name",
            bad(format!("{}/scopeMaps/no-such-map", w.reg)),
            "InvalidParameter",
        ),
        (
            "good-name",
            bad(format!("{other_reg}/scopeMaps/some-map")),
            "InvalidParameter",
        ),
        ("good-name", json!({"properties": {}}), "InvalidParameter"),
        (
            "good-name",
            json!({"properties": {"scopeMapId": format!("{}/scopeMaps/some-map", w.reg), "status": "paused"}}),
            "InvalidParameter",
        ),
    ] {
        let (status, got) = w
            .arm(Method::PUT, &format!("{}/tokens/{name}", w.reg), Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
        assert_eq!(got["error"]["code"], code, "{got}");
    }
    let (status, got) = w.generate("missing-token", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{got}");
    let (status, got) = w
        .arm(
            Method::POST,
            &format!("{}/generateCredentials", w.reg),
            Some(json!({"tokenId": format!("{other_reg}/tokens/Shown-Token")})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    let (status, got) = w
        .generate("shown-token", json!({"name": "password3"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{got}");
    let (status, _) = w
        .arm(
            Method::GET,
            &format!("{}/tokens/missing-token", w.reg),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let records =
        w.s.state()
            .meta
            .list_audit(&acrylic_store::AuditFilter {
                action: Some("token.credential.generate".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(values.iter().all(|v| {
        !records[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains(v.as_str())
    }));
}

// ---- tokens are not directory principals ----------------------------------------

#[tokio::test]
async fn tokens_cannot_use_the_control_plane_nor_hold_roles() {
    let w = World::start().await;
    let (pw, _) = w
        .token_with_passwords("sneaky-1", "_repositories_admin")
        .await;
    let access = w.access("sneaky-1", &pw, &["repository:a:*"]).await;
    // A registry access token is not an ARM token.
    let (status, body) = w.arm_as(&access, Method::GET, &w.reg, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = w
        .arm_as(&access, Method::GET, &format!("{}/tokens", w.reg), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nor does Basic with the token's password work there.
    let r =
        w.s.client()
            .get(format!("{}{}/tokens?{API}", w.s.base_url(), w.reg))
            .basic_auth("sneaky-1", Some(&pw))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nor at the directory.
    let tenant = w.s.bootstrap().tenant;
    let r =
        w.s.client()
            .post(format!("{}/{tenant}/oauth2/v2.0/token", w.s.base_url()))
            .form(&[
                ("client_id", ACRYLIC_CLI_CLIENT_ID),
                ("grant_type", "password"),
                ("username", "sneaky-1"),
                ("password", pw.as_str()),
                ("scope", ARM_SCOPE),
            ])
            .send()
            .await
            .unwrap();
    assert!(r.status().is_client_error());
    // A token is no principal a role can be assigned to.
    let sub = format!("/subscriptions/{}", w.s.bootstrap().subscription);
    for principal in ["sneaky-1", &ObjectId::new_random().to_string()] {
        let (status, body) = w
            .arm(
                Method::PUT,
                &format!(
                    "{}/providers/Microsoft.Authorization/roleAssignments/{}",
                    w.reg,
                    uuid::Uuid::new_v4()
                ),
                Some(json!({"properties": {
                    "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/8311e382-0749-4cb8-b61a-304f252e45ec"),
                    "principalId": principal,
                }})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{principal}: {body}");
    }
}

#[tokio::test]
async fn managing_tokens_needs_the_control_plane_permissions() {
    let w = World::start().await;
    let t = OffsetDateTime::now_utc();
    let user = User {
        id: ObjectId::new_random(),
        tenant_id: w.s.bootstrap().tenant,
        upn: "nobody@acrylic.local".into(),
        display_name: "Nobody".into(),
        password_hash: acrylic_identity::password::hash(PASSWORD).unwrap(),
        enabled: true,
        sessions_valid_after: t - time::Duration::hours(1),
        created_at: t,
    };
    w.s.state().meta.create_user(&user).await.unwrap();
    let nobody = sign_in(&w.s, &user.upn, PASSWORD).await;
    for (method, path, body) in [
        (Method::GET, format!("{}/tokens", w.reg), None),
        (Method::GET, format!("{}/scopeMaps", w.reg), None),
        (
            Method::PUT,
            format!("{}/tokens/my-token", w.reg),
            Some(
                json!({"properties": {"scopeMapId": format!("{}/scopeMaps/_repositories_admin", w.reg)}}),
            ),
        ),
        (
            Method::POST,
            format!("{}/generateCredentials", w.reg),
            Some(json!({"tokenId": format!("{}/tokens/my-token", w.reg)})),
        ),
    ] {
        let (status, got) = w.arm_as(&nobody, method, &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {got}");
        assert_eq!(got["error"]["code"], "AuthorizationFailed");
    }
}
