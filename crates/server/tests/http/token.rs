//! The token service and the data-plane gate over real HTTP: every
//! `/oauth2/token` request shape of spec/clients.md, and the attacks of
//! issue #2 §7 (no credentials, wrong password, `alg: none`, tampered
//! signature, expired token, token for another registry, scope
//! escalation), the admin user's switch, partial grants, refresh-token
//! logins and the audit trail.

#![allow(clippy::unwrap_used)]

use acrylic_authz::Principal;
use acrylic_model::ObjectId;
use acrylic_store::{AuditFilter, PrincipalType, RoleAssignment, User};
use acrylic_testkit::TestServer;
use acrylic_tokens::{AccessClaims, AccessEntry, AcrylicClaim, RefreshClaims};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{
    JSON_UTF8, NULL_GUID, Reg, access_of, audit, b64json, now, payload, unauthorized,
};

const AUTH_REQUIRED: &str =
    "authentication required, visit https://aka.ms/acr/authorization for more information.";

impl Reg<'_> {
    /// Mints a registry refresh token for `principal` with the server's own
    /// key ring (what `/oauth2/exchange` will do, #3).
    /// `expires_in` moves `exp` (signed now: the key is only active from
    /// the server's start).
    async fn refresh_token_for(&self, principal: &Principal, expires_in: i64) -> String {
        let r = self.registry().await;
        let mut claims = RefreshClaims::new(
            AcrylicClaim::new(principal, false),
            principal
                .object_id()
                .map(|o| o.to_string())
                .unwrap_or_default(),
            &r.login_server,
            r.id.clone(),
            vec!["read".into()],
            now(),
        );
        claims.exp = now() + expires_in;
        self.server.state().keys.mint_refresh(&claims).unwrap()
    }
}

/// A token answer: 200, JSON with charset, `access_token` = `token`.
async fn ok_token(r: Response) -> Value {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], JSON_UTF8);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["access_token"], body["token"], "{body}");
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    body
}

/// The owner from the bootstrap, as a directory principal.
async fn owner(server: &TestServer) -> Principal {
    let b = server.bootstrap();
    let user = server
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();
    Principal::User {
        tenant: user.tenant_id,
        oid: user.id,
        upn: user.upn,
    }
}

// ---- request shapes ----

#[tokio::test]
async fn docker_get_with_basic_issues_the_requested_scope_and_no_refresh_token() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let r = reg
        .get("/oauth2/token")
        .query(&[
            ("account", admin.username.as_str()),
            ("client_id", "docker"),
            ("offline_token", "true"),
            ("service", &reg.host),
            ("scope", "repository:team/app:pull,push"),
        ])
        .basic_auth(&admin.username, Some(&admin.password))
        .send()
        .await
        .unwrap();
    let body = ok_token(r).await;
    assert_eq!(body["expires_in"], 4500);
    assert!(body["issued_at"].as_str().unwrap().contains('T'));
    // Admin logins are stored as plain auth by docker: no identity token.
    assert!(body.get("refresh_token").is_none(), "{body}");
    let claims = payload(body["access_token"].as_str().unwrap());
    let registry = reg.registry().await;
    assert_eq!(claims["iss"], "Azure Container Registry");
    assert_eq!(claims["aud"], registry.login_server.as_str());
    assert_eq!(claims["rid"], registry.id.as_str());
    assert_eq!(claims["version"], "2.0");
    assert_eq!(claims["grant_type"], "access_token");
    assert_eq!(claims["roles"], json!([]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        4500
    );
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
    );
    assert_eq!(claims["acrylic"]["kind"], "admin");

    // password2 works as well, and the username is case-insensitive.
    let r = reg
        .basic_token(
            &admin.username.to_uppercase(),
            &admin.password2,
            &["repository:a:pull"],
        )
        .await;
    ok_token(r).await;
}

#[tokio::test]
async fn containerd_post_password_with_space_separated_scopes() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let r = reg
        .form_token(
            "",
            &[
                ("grant_type", "password"),
                ("username", &admin.username),
                ("password", &admin.password),
                ("client_id", "containerd-client"),
                ("service", &reg.host),
                (
                    "scope",
                    "repository:x:pull repository:x:pull,push registry:catalog:*",
                ),
            ],
        )
        .await;
    let body = ok_token(r).await;
    assert!(body.get("refresh_token").is_none());
    assert_eq!(
        access_of(body["token"].as_str().unwrap()),
        json!([
            {"type": "repository", "name": "x", "actions": ["pull", "push"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ])
    );
}

#[tokio::test]
async fn repeated_scope_parameters_and_the_login_probe() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let r = reg
        .basic_token(
            &admin.username,
            &admin.password,
            &[
                "repository:a:pull",
                "repository:b/c:delete,metadata_read",
                "registry:catalog:*",
            ],
        )
        .await;
    let token = ok_token(r).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        access_of(&token),
        json!([
            {"type": "repository", "name": "a", "actions": ["pull"]},
            {"type": "repository", "name": "b/c", "actions": ["delete", "metadata_read"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ])
    );
    // docker login's probe: no scope at all → a token with no access.
    let r = reg.basic_token(&admin.username, &admin.password, &[]).await;
    let token = ok_token(r).await["token"].as_str().unwrap().to_owned();
    assert_eq!(access_of(&token), json!([]));
    // No `service` at all is accepted too (the Host names the registry).
    let r = reg
        .get("/oauth2/token")
        .basic_auth(&admin.username, Some(&admin.password))
        .send()
        .await
        .unwrap();
    ok_token(r).await;
}

#[tokio::test]
async fn service_must_name_this_registry() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let r = reg
        .get("/oauth2/token")
        .query(&[
            ("service", "elsewhere.example.com"),
            ("scope", "repository:a:pull"),
        ])
        .basic_auth(&admin.username, Some(&admin.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = reg
        .form_token(
            "",
            &[("grant_type", "client_credentials"), ("service", &reg.host)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn registry_keys_are_published_and_verify_issued_tokens() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:a:pull"]).await;
    let r = reg.get("/oauth2/jwks").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], JSON_UTF8);
    let jwks: jsonwebtoken::jwk::JwkSet = r.json().await.unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let kid = header.kid.unwrap();
    // libtrust form: 12 groups of 4 base32 characters.
    assert_eq!(kid.split(':').filter(|g| g.len() == 4).count(), 12, "{kid}");
    let jwk = jwks.find(&kid).unwrap();
    let text = serde_json::to_string(jwk).unwrap();
    assert!(!text.contains("\"d\""), "no private parts: {text}");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[reg.registry().await.login_server]);
    validation.set_issuer(&["Azure Container Registry"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();

    // At rest the private key is encrypted: the stored bytes do not hold
    // the PKCS#8 key, and opened with the server's master key they are the
    // key that signs what the published JWK verifies.
    let stored = server
        .state()
        .meta
        .list_signing_keys("registry")
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == kid)
        .unwrap();
    let pkcs8 = server
        .state()
        .sealer
        .open(&stored.sealed_private_key)
        .unwrap();
    assert!(pkcs8.len() > 32);
    assert!(
        !stored
            .sealed_private_key
            .windows(pkcs8.len())
            .any(|w| w == pkcs8.as_slice()),
        "the signing key is stored in the clear"
    );
    let resigned = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &json!({"aud": reg.registry().await.login_server, "iss": "Azure Container Registry",
                "exp": OffsetDateTime::now_utc().unix_timestamp() + 60}),
        &jsonwebtoken::EncodingKey::from_ec_der(&pkcs8),
    )
    .unwrap();
    jsonwebtoken::decode::<Value>(&resigned, &key, &validation).unwrap();
}

// ---- credentials refused ----

#[tokio::test]
async fn no_credentials_and_wrong_passwords_are_401() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let r = reg
        .get("/oauth2/token")
        .query(&[
            ("service", reg.host.as_str()),
            ("scope", "repository:a:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized(r).await, AUTH_REQUIRED);
    for (user, pass) in [
        (admin.username.as_str(), "wrong"),
        (admin.username.as_str(), ""),
        (
            admin.username.as_str(),
            &admin.password[..admin.password.len() - 1],
        ),
        ("someone-else", admin.password.as_str()),
        (NULL_GUID, admin.password.as_str()),
        (NULL_GUID, "not.a.jwt"),
    ] {
        let r = reg.basic_token(user, pass, &["repository:a:pull"]).await;
        assert_eq!(unauthorized(r).await, AUTH_REQUIRED, "{user}");
    }
    let r = reg
        .form_token(
            "",
            &[
                ("grant_type", "password"),
                ("username", &admin.username),
                ("password", "wrong"),
                ("service", &reg.host),
            ],
        )
        .await;
    unauthorized(r).await;
    // A malformed Basic header is a bad request, not an anonymous one.
    let r = reg
        .get("/oauth2/token")
        .header(AUTHORIZATION, "Basic %%%")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_disabled_admin_is_told_how_to_enable_it() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    reg.update(|r| r.admin_enabled = false).await;
    let r = reg
        .basic_token(&admin.username, &admin.password, &["repository:a:pull"])
        .await;
    let message = unauthorized(r).await;
    assert!(message.contains("admin user"), "{message}");
    assert!(message.contains("disabled"), "{message}");
    assert!(
        message.contains(&format!(
            "acrylic acr update --name {} --admin-enabled true",
            reg.name
        )),
        "{message}"
    );
    // Direct Basic on the data plane says the same.
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/",
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", admin.username, admin.password))
            )),
        )
        .await;
    assert!(unauthorized(r).await.contains("--admin-enabled true"));
}

// ---- the challenge ----

#[tokio::test]
async fn unauthenticated_data_plane_requests_get_acrs_challenge() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let login_server = reg.registry().await.login_server;
    let realm = format!("http://{}/oauth2/token", reg.host);

    let r = reg.v2_with(reqwest::Method::GET, "/v2/", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> = r.headers().get_all(WWW_AUTHENTICATE).iter().collect();
    assert_eq!(challenges.len(), 1, "exactly one challenge");
    assert_eq!(
        challenges[0].to_str().unwrap(),
        format!("Bearer realm=\"{realm}\",service=\"{login_server}\"")
    );
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    assert_eq!(body["errors"][0]["message"], AUTH_REQUIRED);

    let r = reg.v2_with(reqwest::Method::DELETE, "/v2/team/app/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE].to_str().unwrap(),
        format!(
            "Bearer realm=\"{realm}\",service=\"{login_server}\",scope=\"repository:team/app:delete\""
        )
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["detail"],
        json!([{"Type": "repository", "Name": "team/app", "Action": "delete"}])
    );

    let r = reg
        .v2_with(reqwest::Method::GET, "/v2/_catalog", None)
        .await;
    assert_eq!(
        r.headers()[WWW_AUTHENTICATE].to_str().unwrap(),
        format!("Bearer realm=\"{realm}\",service=\"{login_server}\",scope=\"registry:catalog:*\"")
    );
}

// ---- attacks with tokens ----

/// An admin access token for `scopes` on `reg`.
async fn admin_token(reg: &Reg<'_>, scopes: &[&str]) -> String {
    let admin = reg.server.enable_admin(&reg.name).await;
    let r = reg
        .basic_token(&admin.username, &admin.password, scopes)
        .await;
    ok_token(r).await["token"].as_str().unwrap().to_owned()
}

/// 401 with `error="invalid_token"` in the challenge.
async fn invalid_token(r: Response) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let c = r.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(c.starts_with("Bearer realm="), "{c}");
    assert!(c.ends_with(",error=\"invalid_token\""), "{c}");
}

#[tokio::test]
async fn a_valid_token_passes_the_gate() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:team/app:pull"]).await;
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/team/app/tags/list",
            Some(format!("Bearer {token}")),
        )
        .await;
    // Past the gate: the repository simply does not exist.
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn alg_none_and_tampered_tokens_are_rejected() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:team/app:pull"]).await;
    let parts: Vec<&str> = token.split('.').collect();
    let path = "/v2/team/app/tags/list";

    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let none = b64json(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]}));
    for forged in [
        format!("{none}.{}.", parts[1]),
        format!("{none}.{}.{}", parts[1], parts[2]),
    ] {
        invalid_token(
            reg.v2_with(reqwest::Method::GET, path, Some(format!("Bearer {forged}")))
                .await,
        )
        .await;
    }

    // Widen the grant in the payload, keep the signature.
    let mut claims = payload(&token);
    claims["access"][0]["actions"] = json!(["pull", "push", "delete"]);
    let widened = format!("{}.{}.{}", parts[0], b64json(&claims), parts[2]);
    invalid_token(
        reg.v2_with(
            reqwest::Method::GET,
            path,
            Some(format!("Bearer {widened}")),
        )
        .await,
    )
    .await;

    // Flip a signature character.
    let mut sig = parts[2].as_bytes().to_vec();
    let i = sig.len() / 2;
    sig[i] = if sig[i] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).unwrap()
    );
    invalid_token(
        reg.v2_with(
            reqwest::Method::GET,
            path,
            Some(format!("Bearer {flipped}")),
        )
        .await,
    )
    .await;

    // Garbage and other schemes.
    invalid_token(
        reg.v2_with(
            reqwest::Method::GET,
            path,
            Some("Bearer not-a-token".into()),
        )
        .await,
    )
    .await;
    invalid_token(
        reg.v2_with(reqwest::Method::GET, path, Some("Digest abc".into()))
            .await,
    )
    .await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let name = acrylic_model::RepositoryName::parse("team/app").unwrap();
    // Signed now (the key is only active from the server's start), with
    // the validity window moved.
    let mint = |nbf: i64, exp: i64| {
        let mut claims = AccessClaims::new(
            AcrylicClaim::new(
                &Principal::Admin {
                    registry: registry.id.clone(),
                },
                false,
            ),
            reg.name.clone(),
            &registry.login_server,
            registry.id.clone(),
            vec![AccessEntry::repository(
                &name,
                &[acrylic_authz::RepoAction::Pull],
            )],
            now(),
            4500,
        );
        claims.nbf = nbf;
        claims.exp = exp;
        server.state().keys.mint_access(&claims).unwrap()
    };
    server.enable_admin(&reg.name).await;
    let path = "/v2/team/app/tags/list";
    let fresh = mint(now(), now() + 4500);
    assert_eq!(
        reg.v2_with(reqwest::Method::GET, path, Some(format!("Bearer {fresh}")))
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "the same token, minted now, passes"
    );
    let expired = mint(now() - 2 * 3600, now() - 3600);
    invalid_token(
        reg.v2_with(
            reqwest::Method::GET,
            path,
            Some(format!("Bearer {expired}")),
        )
        .await,
    )
    .await;
    let future = mint(now() + 3600, now() + 7200);
    invalid_token(
        reg.v2_with(reqwest::Method::GET, path, Some(format!("Bearer {future}")))
            .await,
    )
    .await;
}

#[tokio::test]
async fn tokens_and_admins_of_one_registry_are_refused_by_another() {
    let server = TestServer::start().await;
    let first = Reg::bootstrap(&server);
    server.create_registry("second").await;
    let second = Reg::named(&server, "second");
    let first_token = admin_token(&first, &["repository:a:pull"]).await;
    let second_token = admin_token(&second, &["repository:a:pull"]).await;
    let second_admin = server.enable_admin("second").await;

    let path = "/v2/a/tags/list";
    invalid_token(
        first
            .v2_with(
                reqwest::Method::GET,
                path,
                Some(format!("Bearer {second_token}")),
            )
            .await,
    )
    .await;
    invalid_token(
        second
            .v2_with(
                reqwest::Method::GET,
                path,
                Some(format!("Bearer {first_token}")),
            )
            .await,
    )
    .await;
    assert_eq!(
        second
            .v2_with(
                reqwest::Method::GET,
                path,
                Some(format!("Bearer {second_token}"))
            )
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // The admin of `second` is nobody on the first registry.
    let r = first
        .basic_token(
            &second_admin.username,
            &second_admin.password,
            &["repository:a:pull"],
        )
        .await;
    unauthorized(r).await;
    // The service of one registry cannot be asked at the other's host.
    let r = first
        .get("/oauth2/token")
        .query(&[("service", second.host.as_str())])
        .basic_auth(&second_admin.username, Some(&second_admin.password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_pull_token_used_to_push_is_challenged_for_push() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:team/app:pull"]).await;
    let r = reg
        .v2_with(
            reqwest::Method::POST,
            "/v2/team/app/blobs/uploads/",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let c = r.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(c.contains(",scope=\"repository:team/app:push\""), "{c}");
    assert!(c.ends_with(",error=\"insufficient_scope\""), "{c}");
    // Nor does it reach another repository.
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/team/other/tags/list",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refused_push_is_audited_with_the_reason() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:team/app:pull,push"]).await;
    reg.update(|r| r.admin_enabled = false).await;
    let r = reg
        .v2_with(
            reqwest::Method::POST,
            "/v2/team/app/blobs/uploads/",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let rows = audit(
        &server,
        AuditFilter {
            action: Some("push".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].decision, "denied");
    assert_eq!(rows[0].principal, "admin");
    assert_eq!(rows[0].repository.as_deref(), Some("team/app"));
    assert!(
        rows[0].detail.as_deref().unwrap_or("").contains("disabled"),
        "{:?}",
        rows[0].detail
    );
}

#[tokio::test]
async fn disabling_the_admin_takes_effect_on_the_next_request() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let token = admin_token(&reg, &["repository:team/app:pull"]).await;
    let path = "/v2/team/app/tags/list";
    assert_eq!(
        reg.v2_with(reqwest::Method::GET, path, Some(format!("Bearer {token}")))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    reg.update(|r| r.admin_enabled = false).await;
    let r = reg
        .v2_with(reqwest::Method::GET, path, Some(format!("Bearer {token}")))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("requested access to the resource is denied"),
        "{message}"
    );
    assert!(message.contains("admin user is disabled"), "{message}");
}

#[tokio::test]
async fn basic_admin_credentials_work_directly_on_the_data_plane() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    let basic = |u: &str, p: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/_catalog",
            Some(basic(&admin.username, &admin.password)),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/_catalog",
            Some(basic(&admin.username, "wrong")),
        )
        .await;
    invalid_token(r).await;
    // The null GUID with a refresh token is refused on the data plane (ACR: Azure/acr#98).
    let refresh = reg.refresh_token_for(&owner(&server).await, 3 * 3600).await;
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/_catalog",
            Some(basic(NULL_GUID, &refresh)),
        )
        .await;
    invalid_token(r).await;
    // And a refresh token is not an access token.
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/_catalog",
            Some(format!("Bearer {refresh}")),
        )
        .await;
    invalid_token(r).await;
}

// ---- anonymous, partial grants, refresh tokens ----

#[tokio::test]
async fn anonymous_pull_grants_only_pull_as_a_partial_grant() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let r = reg
        .get("/oauth2/token")
        .query(&[
            ("service", reg.host.as_str()),
            ("scope", "repository:pub/app:pull,push"),
        ])
        .send()
        .await
        .unwrap();
    unauthorized(r).await;

    reg.update(|r| r.anonymous_pull_enabled = true).await;
    // azure-containerregistry's anonymous shape.
    let r = reg
        .form_token(
            "?api-version=2021-07-01",
            &[
                ("service", &reg.host),
                ("scope", "repository:pub/app:pull,push,delete"),
                ("grant_type", "password"),
                ("refresh_token", ""),
            ],
        )
        .await;
    let body = ok_token(r).await;
    assert_eq!(body["expires_in"], 1200);
    let token = body["token"].as_str().unwrap();
    let claims = payload(token);
    assert_eq!(claims["sub"], "acr_anon_pull");
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "pub/app", "actions": ["pull"]}])
    );
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/pub/app/tags/list",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Turning anonymous pull off again refuses the token on the next request,
    // with a challenge to authenticate.
    reg.update(|r| r.anonymous_pull_enabled = false).await;
    let r = reg
        .v2_with(
            reqwest::Method::GET,
            "/v2/pub/app/tags/list",
            Some(format!("Bearer {token}")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_with_acr_pull_gets_the_pull_subset() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let b = server.bootstrap();
    let t = OffsetDateTime::now_utc();
    let user = User {
        id: ObjectId::new_random(),
        tenant_id: b.tenant,
        upn: "puller@acrylic.local".into(),
        display_name: "Puller".into(),
        password_hash: acrylic_identity::password::hash("unused-here").unwrap(),
        enabled: true,
        sessions_valid_after: t - time::Duration::hours(1),
        created_at: t,
    };
    let meta = &server.state().meta;
    meta.create_user(&user).await.unwrap();
    meta.create_role_assignment(&RoleAssignment {
        id: uuid::Uuid::new_v4(),
        scope: registry.arm_scope(),
        role_definition_id: acrylic_authz::roles::ACR_PULL,
        principal_id: user.id,
        principal_type: PrincipalType::User,
        condition: None,
        created_at: t,
    })
    .await
    .unwrap();
    let principal = Principal::User {
        tenant: user.tenant_id,
        oid: user.id,
        upn: user.upn.clone(),
    };
    let refresh = reg.refresh_token_for(&principal, 3 * 3600).await;
    let r = reg
        .basic_token(
            NULL_GUID,
            &refresh,
            &["repository:team/app:pull,push,delete", "registry:catalog:*"],
        )
        .await;
    let token = ok_token(r).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        access_of(&token),
        json!([
            {"type": "repository", "name": "team/app", "actions": ["pull"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ])
    );
    let audit = meta
        .list_audit(&AuditFilter {
            registry_id: Some(registry.id.clone()),
            principal: Some("user:puller@acrylic.local".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "partial");

    // Nothing at all for a repository action set with no pull.
    let r = reg
        .basic_token(NULL_GUID, &refresh, &["repository:team/app:push"])
        .await;
    let token = ok_token(r).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        access_of(&token),
        json!([{"type": "repository", "name": "team/app", "actions": []}])
    );
}

#[tokio::test]
async fn refresh_token_login_round_trip() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let owner = owner(&server).await;
    let refresh = reg.refresh_token_for(&owner, 3 * 3600).await;

    // docker login -u 00000000-… -p <refresh token>: the answer carries the
    // refresh token, which docker keeps as its identity token.
    let r = reg
        .get("/oauth2/token")
        .query(&[
            ("account", NULL_GUID),
            ("client_id", "docker"),
            ("offline_token", "true"),
            ("service", reg.host.as_str()),
        ])
        .basic_auth(NULL_GUID, Some(&refresh))
        .send()
        .await
        .unwrap();
    let body = ok_token(r).await;
    let identity = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(identity, refresh);

    // Later: POST grant_type=refresh_token (docker; azure-containerregistry
    // with api-version). ACR answers with an access token only.
    for query in ["", "?api-version=2021-07-01"] {
        let r = reg
            .form_token(
                query,
                &[
                    ("grant_type", "refresh_token"),
                    ("service", &reg.host),
                    ("client_id", "docker"),
                    ("scope", "repository:team/app:pull,push"),
                    ("refresh_token", &identity),
                ],
            )
            .await;
        let body = ok_token(r).await;
        assert!(body.get("refresh_token").is_none(), "{body}");
        let token = body["access_token"].as_str().unwrap();
        let claims = payload(token);
        assert_eq!(claims["sub"], owner.object_id().unwrap().to_string());
        assert_eq!(
            claims["access"],
            json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
        );
        let r = reg
            .v2_with(
                reqwest::Method::GET,
                "/v2/team/app/tags/list",
                Some(format!("Bearer {token}")),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "past the gate");
    }

    // Refused: an expired refresh token, one for another registry, an
    // access token in its place, and any after the user signed out.
    let old = reg.refresh_token_for(&owner, -3600).await;
    unauthorized(reg.basic_token(NULL_GUID, &old, &[]).await).await;
    server.create_registry("second").await;
    let other = Reg::named(&server, "second")
        .refresh_token_for(&owner, 3 * 3600)
        .await;
    unauthorized(reg.basic_token(NULL_GUID, &other, &[]).await).await;
    let access = admin_token(&reg, &[]).await;
    let r = reg
        .form_token(
            "",
            &[("grant_type", "refresh_token"), ("refresh_token", &access)],
        )
        .await;
    unauthorized(r).await;
    let meta = &server.state().meta;
    let mut user = meta
        .find_user(&owner.object_id().unwrap())
        .await
        .unwrap()
        .unwrap();
    user.sessions_valid_after = OffsetDateTime::now_utc() + time::Duration::seconds(5);
    meta.update_user(&user).await.unwrap();
    unauthorized(reg.basic_token(NULL_GUID, &refresh, &[]).await).await;
}

// ---- audit ----

#[tokio::test]
async fn every_issuance_is_audited_without_secrets() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let admin = server.enable_admin(&reg.name).await;
    ok_token(
        reg.basic_token(
            &admin.username,
            &admin.password,
            &["repository:team/app:pull,push"],
        )
        .await,
    )
    .await;
    unauthorized(
        reg.basic_token(
            &admin.username,
            "wrong-password",
            &["repository:team/app:pull"],
        )
        .await,
    )
    .await;
    unauthorized(reg.basic_token("mallory", "guess", &[]).await).await;

    let registry = reg.registry().await;
    let rows = audit(
        &server,
        AuditFilter {
            registry_id: Some(registry.id.clone()),
            action: Some("token".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(rows.len(), 3, "{rows:#?}");
    // newest first
    assert_eq!(rows[2].decision, "granted");
    assert_eq!(rows[2].principal, "admin");
    assert_eq!(rows[2].repository.as_deref(), Some("team/app"));
    assert!(
        rows[2]
            .detail
            .as_deref()
            .unwrap()
            .contains("repository:team/app:pull,push")
    );
    assert_eq!(rows[1].decision, "failed");
    assert_eq!(rows[1].principal, "admin");
    assert_eq!(rows[0].decision, "failed");
    assert_eq!(rows[0].principal, "unknown:mallory");
    for row in &rows {
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
        let text = format!("{row:?}");
        for secret in [admin.password.as_str(), "wrong-password", "guess"] {
            assert!(!text.contains(secret), "audit row leaks a secret: {text}");
        }
    }
}
