//! The directory over real HTTP (issue #3 §1): refresh tokens (rotation,
//! replay, sign-out, revocation by every path), the device code flow
//! through the HTML page, tenant aliases and client ids, MSAL's user-realm
//! probe (also on the extra listener), the Graph-shaped users and groups
//! API with its authorization, and signing-key rotation without a failed
//! request. The attacker's side throughout: wrong tenant, expired tokens,
//! tampered and foreign refresh tokens.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use acrylic_model::{ArmScope, ObjectId, TenantId};
use acrylic_server::directory::{
    ACRYLIC_CLI_CLIENT_ID, AZURE_CLI_CLIENT_ID, AZURE_POWERSHELL_CLIENT_ID,
};
use acrylic_store::{
    AuditFilter, DeviceCode, DeviceCodeStatus, DirectorySession, PrincipalType, RoleAssignment,
    Tenant, User,
};
use acrylic_testkit::TestServer;
use acrylic_tokens::DirectoryClaims;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

const ARM: &str = "https://management.core.windows.net/";
const ACR: &str = "https://containerregistry.azure.net";
const GRAPH: &str = "https://graph.microsoft.com";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const STRONG: &str = "Str0ng-Passw0rd!";

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// `<resource>/.default` as the SDKs write it (az's ARM resource ends in
/// `/`, giving `…//.default`), plus MSAL's OIDC scopes.
fn scope_for(resource: &str, offline: bool) -> String {
    if offline {
        format!("{resource}/.default offline_access openid profile")
    } else {
        format!("{resource}/.default openid profile")
    }
}

/// `POST /{tenant}/oauth2/v2.0/token` with any form.
async fn token(s: &TestServer, tenant: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = s
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", s.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    (status, r.json().await.unwrap())
}

async fn password_grant(
    s: &TestServer,
    tenant: &str,
    client: &str,
    user: &str,
    password: &str,
    scope: &str,
) -> (StatusCode, Value) {
    token(
        s,
        tenant,
        &[
            ("client_id", client),
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", scope),
            ("client_info", "1"),
        ],
    )
    .await
}

async fn refresh_grant(
    s: &TestServer,
    tenant: &str,
    client: &str,
    refresh_token: &str,
    scope: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("client_id", client),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_info", "1"),
    ];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    token(s, tenant, &form).await
}

/// A successful sign-in's body (asserting 200).
async fn signed_in(s: &TestServer, tenant: &str, user: &str, password: &str, scope: &str) -> Value {
    let (status, body) =
        password_grant(s, tenant, ACRYLIC_CLI_CLIENT_ID, user, password, scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn owner(s: &TestServer) -> Value {
    let b = s.bootstrap().clone();
    signed_in(
        s,
        &b.tenant.to_string(),
        &b.username,
        &b.password,
        &scope_for(ARM, true),
    )
    .await
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}"))
}

/// Asserts a Microsoft-shaped error.
fn expect_error((status, body): (StatusCode, Value), error: &str, code: u64) -> String {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let d = str_of(&body, "error_description").to_owned();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    d
}

/// An ARM call that needs only a valid sign-in (the subscription list).
async fn arm_ok(s: &TestServer, access_token: &str) -> StatusCode {
    s.client()
        .get(format!(
            "{}/subscriptions?api-version=2022-12-01",
            s.base_url()
        ))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn graph(
    s: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .client()
        .request(method, format!("{}{path}", s.base_url()));
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
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    };
    (status, v)
}

/// Creates a user through Graph with the owner's token.
async fn create_user(s: &TestServer, admin: &str, upn: &str, password: &str) -> Value {
    let (status, body) = graph(
        s,
        Some(admin),
        Method::POST,
        "/v1.0/users",
        Some(json!({
            "accountEnabled": true,
            "displayName": upn.split('@').next().unwrap(),
            "mailNickname": upn.split('@').next().unwrap(),
            "userPrincipalName": upn,
            "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": password},
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn assign(
    s: &TestServer,
    principal: ObjectId,
    role: uuid::Uuid,
    principal_type: PrincipalType,
) {
    s.state()
        .meta
        .create_role_assignment(&RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope: ArmScope::root(),
            role_definition_id: role,
            principal_id: principal,
            principal_type,
            condition: None,
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
}

/// A second tenant with one user, made through the store.
async fn other_tenant(s: &TestServer, upn: &str, password: &str) -> (TenantId, User) {
    let now = OffsetDateTime::now_utc();
    let tenant = TenantId::new_random();
    let domain = upn.split('@').nth(1).unwrap();
    s.state()
        .meta
        .create_tenant(&Tenant {
            id: tenant,
            domain: domain.into(),
            display_name: domain.into(),
            created_at: now,
        })
        .await
        .unwrap();
    let user = User {
        id: ObjectId::new_random(),
        tenant_id: tenant,
        upn: upn.into(),
        display_name: upn.into(),
        password_hash: acrylic_identity::password::hash(password).unwrap(),
        enabled: true,
        sessions_valid_after: now,
        created_at: now,
    };
    s.state().meta.create_user(&user).await.unwrap();
    (tenant, user)
}

// ---- refresh tokens -----------------------------------------------------------

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_kills_the_family() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();

    // What MSAL needs from a user flow.
    let first = owner(&s).await;
    let rt1 = str_of(&first, "refresh_token").to_owned();
    assert!(
        rt1.len() >= 40 && !rt1.contains('.'),
        "opaque, not a JWT: {rt1}"
    );
    let id = payload(str_of(&first, "id_token"));
    assert_eq!(id["aud"], ACRYLIC_CLI_CLIENT_ID);
    assert_eq!(id["upn"], b.username.as_str());
    assert_eq!(id["ver"], "2.0");
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(str_of(&first, "client_info"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["utid"], t.as_str());
    assert_eq!(info["uid"], id["oid"]);
    assert!(str_of(&first, "scope").contains("offline_access"));
    // Only the hash is stored.
    let stored = s
        .state()
        .meta
        .find_directory_session(&acrylic_server::directory::sessions::digest(&rt1))
        .await
        .unwrap()
        .expect("stored by digest");
    assert_eq!(stored.client_id, ACRYLIC_CLI_CLIENT_ID);
    assert!(
        s.state()
            .meta
            .find_directory_session(&rt1)
            .await
            .unwrap()
            .is_none()
    );

    // Without offline_access there is no refresh token.
    let plain = signed_in(&s, &t, &b.username, &b.password, &scope_for(ARM, false)).await;
    assert!(plain.get("refresh_token").is_none(), "{plain}");
    assert!(!str_of(&plain, "scope").contains("offline_access"));

    // Each use rotates; the new access token works; any resource may be asked.
    let (status, second) = refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, &rt1, None).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = str_of(&second, "refresh_token").to_owned();
    assert_ne!(rt2, rt1);
    assert_eq!(payload(str_of(&second, "access_token"))["aud"], ARM);
    assert_eq!(
        arm_ok(&s, str_of(&second, "access_token")).await,
        StatusCode::OK
    );
    let (status, third) = refresh_grant(
        &s,
        "organizations",
        ACRYLIC_CLI_CLIENT_ID,
        &rt2,
        Some(&scope_for(ACR, true)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let access = payload(str_of(&third, "access_token"));
    assert_eq!(access["aud"], ACR);
    assert_eq!(access["tid"], t.as_str());
    assert_eq!(access["appid"], ACRYLIC_CLI_CLIENT_ID);
    let rt3 = str_of(&third, "refresh_token").to_owned();

    // A second sign-in is another family.
    let other = owner(&s).await;
    let other_rt = str_of(&other, "refresh_token").to_owned();

    // Replaying a rotated token: refused, and the whole family dies —
    // including the newest token, which was never used.
    let d = expect_error(
        refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, &rt1, None).await,
        "invalid_grant",
        70000,
    );
    assert!(d.contains("already redeemed"), "{d}");
    expect_error(
        refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, &rt3, None).await,
        "invalid_grant",
        70000,
    );
    // The other family is untouched.
    let (status, body) = refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, &other_rt, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Tampered and made-up tokens.
    let mut tampered = str_of(&body, "refresh_token").to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "x", "eyJhbGciOiJub25lIn0.e30."] {
        let d = expect_error(
            refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, bad, None).await,
            "invalid_grant",
            70000,
        );
        assert!(d.contains("'refresh_token'"), "{d}");
    }
    // The untampered one still works (a failed guess consumes nothing).
    let (status, _) = refresh_grant(
        &s,
        &t,
        ACRYLIC_CLI_CLIENT_ID,
        str_of(&body, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // An expired token (planted through the store with a past expiry).
    let old = "planted-expired-refresh-token-0000000000000000";
    let now = OffsetDateTime::now_utc();
    s.state()
        .meta
        .insert_directory_session(&DirectorySession {
            token_hash: acrylic_server::directory::sessions::digest(old),
            family_id: uuid::Uuid::new_v4(),
            expires_at: now - time::Duration::minutes(1),
            created_at: now - time::Duration::days(91),
            auth_time: now - time::Duration::days(91),
            used_at: None,
            ..stored.clone()
        })
        .await
        .unwrap();
    expect_error(
        refresh_grant(&s, &t, ACRYLIC_CLI_CLIENT_ID, old, None).await,
        "invalid_grant",
        700082,
    );
    expect_error(
        token(
            &s,
            &t,
            &[
                ("client_id", ACRYLIC_CLI_CLIENT_ID),
                ("grant_type", "refresh_token"),
            ],
        )
        .await,
        "invalid_request",
        900144,
    );
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client_and_tenant() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();
    let (status, body) = password_grant(
        &s,
        &t,
        AZURE_CLI_CLIENT_ID,
        &b.username,
        &b.password,
        &scope_for(ARM, true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rt = str_of(&body, "refresh_token").to_owned();
    assert_eq!(
        payload(str_of(&body, "access_token"))["appid"],
        AZURE_CLI_CLIENT_ID
    );

    // Another (first-party) client cannot redeem it …
    for client in [ACRYLIC_CLI_CLIENT_ID, AZURE_POWERSHELL_CLIENT_ID] {
        expect_error(
            refresh_grant(&s, &t, client, &rt, None).await,
            "invalid_grant",
            70000,
        );
    }
    // … nor an unknown one, nor a request naming another tenant.
    expect_error(
        refresh_grant(&s, &t, "11111111-2222-3333-4444-555555555555", &rt, None).await,
        "unauthorized_client",
        700016,
    );
    let (other, _) = other_tenant(&s, "eve@evil.test", STRONG).await;
    expect_error(
        refresh_grant(&s, &other.to_string(), AZURE_CLI_CLIENT_ID, &rt, None).await,
        "invalid_grant",
        70000,
    );
    expect_error(
        refresh_grant(&s, "evil.test", AZURE_CLI_CLIENT_ID, &rt, None).await,
        "invalid_grant",
        70000,
    );
    // None of that consumed it: its own client still can, by tenant domain.
    let (status, body) = refresh_grant(&s, "acrylic.local", AZURE_CLI_CLIENT_ID, &rt, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        payload(str_of(&body, "access_token"))["appid"],
        AZURE_CLI_CLIENT_ID
    );
}

#[tokio::test]
async fn refresh_tokens_die_with_sign_out_revocation_disable_reset_and_delete() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();
    let admin_body = owner(&s).await;
    let admin = str_of(&admin_body, "access_token").to_owned();
    let user = create_user(&s, &admin, "carol@acrylic.local", STRONG).await;
    let oid = str_of(&user, "id").to_owned();
    let sign_in = |password: &'static str| {
        let s = &s;
        let t = t.clone();
        async move {
            let body = signed_in(
                s,
                &t,
                "carol@acrylic.local",
                password,
                &scope_for(ARM, true),
            )
            .await;
            str_of(&body, "refresh_token").to_owned()
        }
    };
    let works = |rt: String| {
        let s = &s;
        let t = t.clone();
        async move { refresh_grant(s, &t, ACRYLIC_CLI_CLIENT_ID, &rt, None).await }
    };

    // Sign-out (the client's logout) kills that sign-in only.
    let a = sign_in(STRONG).await;
    let other = sign_in(STRONG).await;
    let r = s
        .client()
        .post(format!("{}/{t}/oauth2/v2.0/logout", s.base_url()))
        .form(&[
            ("client_id", ACRYLIC_CLI_CLIENT_ID),
            ("refresh_token", a.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    expect_error(works(a).await, "invalid_grant", 70000);
    let (status, body) = works(other.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = str_of(&body, "refresh_token").to_owned();
    // A logout naming another client, or an unknown token, changes nothing
    // and says nothing.
    for (client, rt) in [
        (AZURE_CLI_CLIENT_ID, other.as_str()),
        (ACRYLIC_CLI_CLIENT_ID, "nope"),
    ] {
        let r = s
            .client()
            .post(format!("{}/{t}/oauth2/v2.0/logout", s.base_url()))
            .form(&[("client_id", client), ("refresh_token", rt)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    // revokeSignInSessions kills every sign-in of the user at once.
    let second = sign_in(STRONG).await;
    let (status, body) = graph(
        &s,
        Some(&admin),
        Method::POST,
        &format!("/v1.0/users/{oid}/revokeSignInSessions"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], true);
    expect_error(works(other).await, "invalid_grant", 70000);
    expect_error(works(second).await, "invalid_grant", 70000);
    // A sign-in after the revocation works.
    let fresh = sign_in(STRONG).await;
    let (status, body) = works(fresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = str_of(&body, "refresh_token").to_owned();
    // Even a session that survived deletion (a race) dies by the
    // revocation instant: planted with a sign-in time before it.
    let stored = s
        .state()
        .meta
        .find_directory_session(&acrylic_server::directory::sessions::digest(&fresh))
        .await
        .unwrap()
        .unwrap();
    let planted = "planted-refresh-token-from-before-revocation-00";
    s.state()
        .meta
        .insert_directory_session(&DirectorySession {
            token_hash: acrylic_server::directory::sessions::digest(planted),
            family_id: uuid::Uuid::new_v4(),
            auth_time: stored.auth_time - time::Duration::hours(1),
            ..stored.clone()
        })
        .await
        .unwrap();
    let d = expect_error(works(planted.into()).await, "invalid_grant", 50173);
    assert!(d.contains("revoked"), "{d}");

    // Password reset.
    let (status, body) = graph(
        &s,
        Some(&admin),
        Method::PATCH,
        "/v1.0/users/carol@acrylic.local",
        Some(json!({"passwordProfile": {"password": "N3w-Passw0rd!"}})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    expect_error(works(fresh).await, "invalid_grant", 70000);
    expect_error(
        password_grant(
            &s,
            &t,
            ACRYLIC_CLI_CLIENT_ID,
            "carol@acrylic.local",
            STRONG,
            &scope_for(ARM, true),
        )
        .await,
        "invalid_grant",
        50126,
    );

    // Disable.
    let c = sign_in("N3w-Passw0rd!").await;
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::PATCH,
        &format!("/v1.0/users/{oid}"),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    expect_error(works(c).await, "invalid_grant", 70000);
    expect_error(
        password_grant(
            &s,
            &t,
            ACRYLIC_CLI_CLIENT_ID,
            "carol@acrylic.local",
            "N3w-Passw0rd!",
            &scope_for(ARM, true),
        )
        .await,
        "invalid_grant",
        50057,
    );
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::PATCH,
        &format!("/v1.0/users/{oid}"),
        Some(json!({"accountEnabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Delete.
    let d = sign_in("N3w-Passw0rd!").await;
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::DELETE,
        &format!("/v1.0/users/{oid}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    expect_error(works(d).await, "invalid_grant", 70000);
    let left = s
        .state()
        .meta
        .delete_directory_sessions_of_user(&ObjectId::parse(&oid).unwrap())
        .await
        .unwrap();
    assert_eq!(left, 0, "deleting the user deleted its sessions");
}

// ---- device code ----------------------------------------------------------------

async fn device_code(
    s: &TestServer,
    tenant: &str,
    client: &str,
    scope: &str,
) -> (StatusCode, Value) {
    let r = s
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/devicecode", s.base_url()))
        .form(&[("client_id", client), ("scope", scope)])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn poll(s: &TestServer, tenant: &str, client: &str, code: &str) -> (StatusCode, Value) {
    token(
        s,
        tenant,
        &[
            ("client_id", client),
            ("grant_type", DEVICE_GRANT),
            ("device_code", code),
            ("client_info", "1"),
        ],
    )
    .await
}

/// Submits the device page's form; returns the status and the HTML.
async fn page(s: &TestServer, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = s
        .client()
        .post(format!("{}/devicelogin", s.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn device_code_flow_through_the_sign_in_page() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();

    let (status, auth) = device_code(
        &s,
        "organizations",
        ACRYLIC_CLI_CLIENT_ID,
        &scope_for(ARM, true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{auth}");
    let code = str_of(&auth, "device_code").to_owned();
    let user_code = str_of(&auth, "user_code").to_owned();
    let uri = str_of(&auth, "verification_uri").to_owned();
    assert_eq!(uri, format!("{}/devicelogin", s.base_url()));
    assert_eq!(auth["expires_in"], 900);
    assert_eq!(auth["interval"], 5);
    assert_eq!(user_code.len(), 9);
    let message = str_of(&auth, "message");
    assert!(
        message.contains(&uri) && message.contains(&user_code),
        "{message}"
    );
    // Both codes are stored hashed only.
    let meta = &s.state().meta;
    assert!(meta.find_device_code(&code).await.unwrap().is_none());
    assert!(
        meta.find_device_code(&acrylic_server::directory::device::device_code_digest(
            &code
        ))
        .await
        .unwrap()
        .is_some()
    );

    // Waiting; polling too fast is told to slow down.
    let d = expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, &code).await,
        "authorization_pending",
        70016,
    );
    assert!(d.contains("pending"), "{d}");
    let d = expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, &code).await,
        "slow_down",
        70016,
    );
    assert!(d.contains("10 seconds"), "the interval grows by 5: {d}");
    // Another client cannot poll it.
    expect_error(
        poll(&s, "organizations", AZURE_CLI_CLIENT_ID, &code).await,
        "invalid_grant",
        70000,
    );

    // The page: GET shows the form and changes nothing.
    let r = s.client().get(&uri).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    for needle in [
        "<form method=\"post\" action=\"/devicelogin\"",
        "name=\"user_code\"",
        "name=\"username\"",
        "name=\"password\"",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert!(!html.to_ascii_lowercase().contains("<script"));
    let r = s
        .client()
        .get(format!("{uri}?user_code={user_code}&action=approve"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, &code).await,
        "slow_down",
        70016,
    );

    // Wrong code, wrong password: refused, the code stays pending.
    let (status, html) = page(
        &s,
        &[
            ("user_code", "ACDEFGHJK"),
            ("username", &b.username),
            ("password", &b.password),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("not valid or has expired"), "{html}");
    let (status, html) = page(
        &s,
        &[
            ("user_code", "<b>x</b>"),
            ("username", "<i>"),
            ("password", "x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        !html.contains("<b>x</b>") && html.contains("&lt;b&gt;"),
        "echoes are escaped"
    );
    let (status, html) = page(
        &s,
        &[
            ("user_code", &user_code),
            ("username", &b.username),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("username or password is incorrect"), "{html}");

    // Approve (typed in lower case with a dash, as people do).
    let typed = format!("{}-{}", &user_code[..4].to_lowercase(), &user_code[4..]);
    let (status, html) = page(
        &s,
        &[
            ("user_code", &typed),
            ("username", &b.username),
            ("password", &b.password),
            ("action", "approve"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("You have signed in to acrylic CLI"), "{html}");

    let (status, tokens) = poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = payload(str_of(&tokens, "access_token"));
    assert_eq!(access["upn"], b.username.as_str());
    assert_eq!(access["tid"], t.as_str());
    assert_eq!(access["aud"], ARM);
    assert_eq!(
        payload(str_of(&tokens, "id_token"))["upn"],
        b.username.as_str()
    );
    assert_eq!(
        arm_ok(&s, str_of(&tokens, "access_token")).await,
        StatusCode::OK
    );
    let (status, _) = refresh_grant(
        &s,
        &t,
        ACRYLIC_CLI_CLIENT_ID,
        str_of(&tokens, "refresh_token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Redeemed once.
    expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, &code).await,
        "invalid_grant",
        70000,
    );
    let (status, html) = page(
        &s,
        &[
            ("user_code", &user_code),
            ("username", &b.username),
            ("password", &b.password),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("not valid or has expired"), "{html}");

    // Declined.
    let (_, auth) = device_code(&s, &t, AZURE_CLI_CLIENT_ID, &scope_for(ACR, true)).await;
    let (status, html) = page(
        &s,
        &[
            ("user_code", str_of(&auth, "user_code")),
            ("username", &b.username),
            ("password", &b.password),
            ("action", "deny"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("declined") && html.contains("Microsoft Azure CLI"),
        "{html}"
    );
    expect_error(
        poll(&s, &t, AZURE_CLI_CLIENT_ID, str_of(&auth, "device_code")).await,
        "access_denied",
        65004,
    );

    // A code requested for one tenant cannot be approved by a user of another.
    let (other, _) = other_tenant(&s, "mallory@other.test", STRONG).await;
    let (_, auth) = device_code(&s, &t, ACRYLIC_CLI_CLIENT_ID, &scope_for(ARM, true)).await;
    let (status, html) = page(
        &s,
        &[
            ("user_code", str_of(&auth, "user_code")),
            ("username", "mallory@other.test"),
            ("password", STRONG),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("incorrect"), "{html}");
    // … nor be polled at another tenant.
    expect_error(
        poll(
            &s,
            &other.to_string(),
            ACRYLIC_CLI_CLIENT_ID,
            str_of(&auth, "device_code"),
        )
        .await,
        "invalid_grant",
        70000,
    );

    // Expired: planted through the store with a past expiry.
    let now = OffsetDateTime::now_utc();
    let (dc, uc) = ("planted-device-code", "ACDEF3469");
    meta.insert_device_code(&DeviceCode {
        device_code_hash: acrylic_server::directory::device::device_code_digest(dc),
        user_code_hash: acrylic_server::directory::device::user_code_digest(uc),
        client_id: ACRYLIC_CLI_CLIENT_ID.into(),
        tenant_id: None,
        scope: scope_for(ARM, true),
        status: DeviceCodeStatus::Pending,
        user_id: None,
        interval_secs: 5,
        last_polled_at: None,
        created_at: now - time::Duration::minutes(20),
        expires_at: now - time::Duration::minutes(5),
    })
    .await
    .unwrap();
    let (status, html) = page(
        &s,
        &[
            ("user_code", uc),
            ("username", &b.username),
            ("password", &b.password),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("not valid or has expired"), "{html}");
    expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, dc).await,
        "expired_token",
        70020,
    );
    // Made-up codes.
    expect_error(
        poll(&s, "organizations", ACRYLIC_CLI_CLIENT_ID, "nonsense").await,
        "invalid_grant",
        70000,
    );

    // The devicecode endpoint checks the client, the scope and the tenant.
    let (status, body) = device_code(
        &s,
        &t,
        "11111111-2222-3333-4444-555555555555",
        &scope_for(ARM, true),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([700016]))
    );
    let (status, body) = device_code(&s, &t, ACRYLIC_CLI_CLIENT_ID, "openid profile").await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_scope"))
    );
    let (status, body) = device_code(
        &s,
        &TenantId::new_random().to_string(),
        ACRYLIC_CLI_CLIENT_ID,
        &scope_for(ARM, true),
    )
    .await;
    assert_eq!(
        (status, body["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([90002]))
    );

    // Every decision on the page is audited.
    let audit = meta
        .list_audit(&AuditFilter {
            principal: Some(format!("user:{}", b.username)),
            action: Some("signin".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.detail.as_deref().is_some_and(|d| d.contains("approved")))
    );
    assert!(audit.iter().any(|a| a.decision == "denied"));
}

// ---- tenants, clients, user realm ------------------------------------------------

#[tokio::test]
async fn tenant_aliases_and_public_clients() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();
    for segment in [
        "organizations",
        "common",
        "Common",
        "acrylic.local",
        t.as_str(),
    ] {
        for client in [
            ACRYLIC_CLI_CLIENT_ID,
            AZURE_CLI_CLIENT_ID,
            AZURE_POWERSHELL_CLIENT_ID,
        ] {
            let (status, body) = password_grant(
                &s,
                segment,
                client,
                &b.username,
                &b.password,
                &scope_for(ARM, true),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{segment} {client}: {body}");
            assert_eq!(payload(str_of(&body, "access_token"))["tid"], t.as_str());
        }
    }
    // The id token's issuer: the named tenant, or the user's for aliases.
    let body = signed_in(
        &s,
        "organizations",
        &b.username,
        &b.password,
        &scope_for(ARM, true),
    )
    .await;
    assert!(
        payload(str_of(&body, "id_token"))["iss"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{t}/v2.0"))
    );

    // A user of a second tenant signs in through the aliases into their own
    // tenant — and not through the first tenant.
    let (other, _) = other_tenant(&s, "dave@second.test", STRONG).await;
    for segment in ["organizations", "common", "second.test"] {
        let body = signed_in(
            &s,
            segment,
            "dave@second.test",
            STRONG,
            &scope_for(GRAPH, true),
        )
        .await;
        let access = payload(str_of(&body, "access_token"));
        assert_eq!(access["tid"], other.to_string());
        assert_eq!(access["aud"], GRAPH);
        assert_eq!(access["iss"], format!("https://sts.windows.net/{other}/"));
    }
    expect_error(
        password_grant(
            &s,
            &t,
            ACRYLIC_CLI_CLIENT_ID,
            "dave@second.test",
            STRONG,
            &scope_for(ARM, true),
        )
        .await,
        "invalid_grant",
        50126,
    );

    // Unknown client ids are refused by every grant.
    let unknown = "11111111-2222-3333-4444-555555555555";
    let d = expect_error(
        password_grant(
            &s,
            &t,
            unknown,
            &b.username,
            &b.password,
            &scope_for(ARM, true),
        )
        .await,
        "unauthorized_client",
        700016,
    );
    assert!(d.contains(unknown), "{d}");
    expect_error(
        token(
            &s,
            &t,
            &[
                ("client_id", unknown),
                ("grant_type", DEVICE_GRANT),
                ("device_code", "x"),
            ],
        )
        .await,
        "unauthorized_client",
        700016,
    );
    // The discovery document advertises the device endpoint that works.
    let doc: Value = s
        .client()
        .get(format!(
            "{}/organizations/v2.0/.well-known/openid-configuration",
            s.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = s
        .client()
        .post(str_of(&doc, "device_authorization_endpoint"))
        .form(&[
            ("client_id", AZURE_CLI_CLIENT_ID),
            ("scope", scope_for(ARM, true).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn msal_user_realm_probe_also_on_the_extra_listener() {
    // The probe MSAL sends before a password sign-in, on the main listener.
    let s = TestServer::start().await;
    let r = s
        .client()
        .get(format!(
            "{}/common/userrealm/owner@acrylic.local?api-version=1.0",
            s.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["account_type"], "Managed");
    assert_eq!(v["domain_name"], "acrylic.local");
    drop(s);

    // `userrealm_listen`: a second listener serving the same app.
    let dir = tempfile::tempdir().unwrap();
    let mut config = acrylic_server::Config::new(dir.path().join("data"));
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.tls = acrylic_server::config::Tls::Off;
    config.log_level = "warn".into();
    config.userrealm_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let running = acrylic_server::serve::start(config).await.unwrap();
    let extra = running.userrealm_addr.expect("the extra listener is bound");
    assert_ne!(extra.port(), running.addr.port());
    let client = reqwest::Client::new();
    let v: Value = client
        .get(format!(
            "http://{extra}/common/userrealm/someone@acrylic.local?api-version=1.0"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["account_type"], "Managed");
    let r = client
        .get(format!(
            "http://{extra}/organizations/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the same app");
    running.stop().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(extra).await.is_err(),
        "the extra listener stops with the server"
    );
}

// ---- Graph: users and groups ---------------------------------------------------------

#[tokio::test]
async fn graph_users_with_authorization() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();
    let admin_body = owner(&s).await;
    let admin = str_of(&admin_body, "access_token").to_owned();

    // The bootstrap owner is Global Administrator: creates users.
    let bob = create_user(&s, &admin, "bob@acrylic.local", STRONG).await;
    assert_eq!(bob["userPrincipalName"], "bob@acrylic.local");
    assert_eq!(bob["accountEnabled"], true);
    let bob_id = str_of(&bob, "id").to_owned();
    for (body, needle) in [
        (
            json!({"displayName": "x", "userPrincipalName": "weak@acrylic.local", "passwordProfile": {"password": "password"}}),
            "complexity",
        ),
        (
            json!({"displayName": "x", "userPrincipalName": "x@elsewhere.test", "passwordProfile": {"password": STRONG}}),
            "verified domain",
        ),
        (
            json!({"displayName": "x", "userPrincipalName": "bob@acrylic.local", "passwordProfile": {"password": STRONG}}),
            "already exists",
        ),
        (
            json!({"userPrincipalName": "y@acrylic.local", "passwordProfile": {"password": STRONG}}),
            "displayName",
        ),
        (json!("not an object"), "JSON"),
    ] {
        let (status, v) = graph(&s, Some(&admin), Method::POST, "/v1.0/users", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"]["code"], "Request_BadRequest");
        assert!(
            str_of(&v["error"], "message").contains(needle),
            "{needle}: {v}"
        );
    }

    // List, filter, show by id and by UPN.
    let (status, list) = graph(&s, Some(&admin), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let upns: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns, ["bob@acrylic.local", "owner@acrylic.local"]);
    let (_, one) = graph(
        &s,
        Some(&admin),
        Method::GET,
        "/v1.0/users?$filter=userPrincipalName%20eq%20'BOB@acrylic.local'",
        None,
    )
    .await;
    assert_eq!(one["value"].as_array().map(Vec::len), Some(1));
    let (status, v) = graph(
        &s,
        Some(&admin),
        Method::GET,
        "/v1.0/users?$filter=jobTitle%20eq%20'x'",
        None,
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("Request_UnsupportedQuery"))
    );
    for key in [bob_id.as_str(), "bob@acrylic.local"] {
        let (status, v) = graph(
            &s,
            Some(&admin),
            Method::GET,
            &format!("/v1.0/users/{key}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["id"], bob_id.as_str());
    }
    let (status, v) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/users/{}", ObjectId::new_random()),
        None,
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("Request_ResourceNotFound"))
    );

    // A plain user is refused, with the missing permission named.
    let bob_token = str_of(
        &signed_in(&s, &t, "bob@acrylic.local", STRONG, &scope_for(GRAPH, true)).await,
        "access_token",
    )
    .to_owned();
    let (status, v) = graph(&s, Some(&bob_token), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");
    assert!(
        str_of(&v["error"], "message").contains("microsoft.directory/users/standard/read"),
        "{v}"
    );
    let (status, v) = graph(
        &s,
        Some(&bob_token),
        Method::POST,
        "/v1.0/users",
        Some(json!({"displayName": "z", "userPrincipalName": "z@acrylic.local", "passwordProfile": {"password": STRONG}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let m = str_of(&v["error"], "message");
    assert!(
        m.contains("microsoft.directory/users/create") && m.contains("bob@acrylic.local"),
        "{m}"
    );
    // Refused before any lookup: a missing user is a 403 too, not a 404.
    let (status, _) = graph(
        &s,
        Some(&bob_token),
        Method::DELETE,
        &format!("/v1.0/users/{}", ObjectId::new_random()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let denied = s
        .state()
        .meta
        .list_audit(&AuditFilter {
            principal: Some("user:bob@acrylic.local".into()),
            action: Some("microsoft.directory/users/create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.first().map(|a| a.decision.as_str()), Some("denied"));

    // Directory Readers reads but does not write; User Administrator writes.
    let bob_oid = ObjectId::parse(&bob_id).unwrap();
    assign(
        &s,
        bob_oid,
        acrylic_authz::roles::DIRECTORY_READERS,
        PrincipalType::User,
    )
    .await;
    let (status, _) = graph(&s, Some(&bob_token), Method::GET, "/v1.0/users", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "role assignments apply on the next request"
    );
    let (status, v) = graph(
        &s,
        Some(&bob_token),
        Method::PATCH,
        "/v1.0/users/owner@acrylic.local",
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        str_of(&v["error"], "message").contains("microsoft.directory/users/disable"),
        "{v}"
    );
    assign(
        &s,
        bob_oid,
        acrylic_authz::roles::USER_ADMINISTRATOR,
        PrincipalType::User,
    )
    .await;
    create_user(&s, &bob_token, "erin@acrylic.local", STRONG).await;

    // PATCH: display name; unknown properties refused.
    let (status, _) = graph(
        &s,
        Some(&bob_token),
        Method::PATCH,
        "/v1.0/users/erin@acrylic.local",
        Some(json!({"displayName": "Erin E."})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, erin) = graph(
        &s,
        Some(&admin),
        Method::GET,
        "/v1.0/users/erin@acrylic.local",
        None,
    )
    .await;
    assert_eq!(erin["displayName"], "Erin E.");
    let (status, v) = graph(
        &s,
        Some(&admin),
        Method::PATCH,
        "/v1.0/users/erin@acrylic.local",
        Some(json!({"jobTitle": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    // Authentication: none, garbage, another audience, expired, another tenant.
    let (status, v) = graph(&s, None, Method::GET, "/v1.0/users", None).await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("InvalidAuthenticationToken")
        )
    );
    let (status, _) = graph(&s, Some("garbage"), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let acr_token = str_of(
        &signed_in(&s, &t, &b.username, &b.password, &scope_for(ACR, false)).await,
        "access_token",
    )
    .to_owned();
    let (status, v) = graph(&s, Some(&acr_token), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(str_of(&v["error"], "message").contains("audience"), "{v}");
    let graph_token = str_of(
        &signed_in(&s, &t, &b.username, &b.password, &scope_for(GRAPH, false)).await,
        "access_token",
    )
    .to_owned();
    assert_eq!(payload(&graph_token)["aud"], GRAPH);
    let (status, _) = graph(&s, Some(&graph_token), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let mut claims: DirectoryClaims = serde_json::from_value(payload(&graph_token)).unwrap();
    // Signed now (the key signs from its creation on), expired two minutes
    // ago (past the 30 s leeway).
    let now = OffsetDateTime::now_utc().unix_timestamp();
    (claims.iat, claims.nbf, claims.exp) = (now, now, now - 120);
    let expired = s.state().keys.mint_directory(&claims).unwrap();
    let (status, _) = graph(&s, Some(&expired), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A Global Administrator of another tenant sees nothing of this one.
    let (_, dave) = other_tenant(&s, "dave@second.test", STRONG).await;
    assign(
        &s,
        dave.id,
        acrylic_authz::roles::GLOBAL_ADMINISTRATOR,
        PrincipalType::User,
    )
    .await;
    let dave_token = str_of(
        &signed_in(
            &s,
            "organizations",
            "dave@second.test",
            STRONG,
            &scope_for(GRAPH, false),
        )
        .await,
        "access_token",
    )
    .to_owned();
    let (status, v) = graph(&s, Some(&dave_token), Method::GET, "/v1.0/users", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v["value"].as_array().map(Vec::len),
        Some(1),
        "only their own tenant: {v}"
    );
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"accountEnabled": false}))),
        (Method::DELETE, None),
    ] {
        let (status, _) = graph(
            &s,
            Some(&dave_token),
            method,
            &format!("/v1.0/users/{bob_id}"),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = graph(
        &s,
        Some(&dave_token),
        Method::POST,
        &format!("/v1.0/users/{bob_id}/revokeSignInSessions"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/users/{}", dave.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Delete.
    let (status, _) = graph(
        &s,
        Some(&bob_token),
        Method::DELETE,
        "/v1.0/users/erin@acrylic.local",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::GET,
        "/v1.0/users/erin@acrylic.local",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    expect_error(
        password_grant(
            &s,
            &t,
            ACRYLIC_CLI_CLIENT_ID,
            "erin@acrylic.local",
            STRONG,
            &scope_for(ARM, false),
        )
        .await,
        "invalid_grant",
        50126,
    );
}

#[tokio::test]
async fn graph_groups_and_membership() {
    let s = TestServer::start().await;
    let admin_body = owner(&s).await;
    let admin = str_of(&admin_body, "access_token").to_owned();
    let bob = create_user(&s, &admin, "bob@acrylic.local", STRONG).await;
    let bob_id = str_of(&bob, "id").to_owned();

    let new_group = |name: &'static str| {
        let s = &s;
        let admin = admin.clone();
        async move {
            let (status, g) = graph(
                s,
                Some(&admin),
                Method::POST,
                "/v1.0/groups",
                Some(json!({"displayName": name, "mailNickname": name.to_lowercase(), "mailEnabled": false, "securityEnabled": true, "description": "d"})),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{g}");
            str_of(&g, "id").to_owned()
        }
    };
    let devs = new_group("Developers").await;
    let all = new_group("Everyone").await;
    let (status, v) = graph(
        &s,
        Some(&admin),
        Method::POST,
        "/v1.0/groups",
        Some(json!({"displayName": "m", "mailNickname": "m", "mailEnabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = graph(
        &s,
        Some(&admin),
        Method::POST,
        "/v1.0/groups",
        Some(json!({"displayName": "no nickname"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");

    let (_, list) = graph(&s, Some(&admin), Method::GET, "/v1.0/groups", None).await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Developers", "Everyone"]);
    let (_, filtered) = graph(
        &s,
        Some(&admin),
        Method::GET,
        "/v1.0/groups?$filter=startswith(displayName,'dev')",
        None,
    )
    .await;
    assert_eq!(filtered["value"][0]["id"], devs.as_str());
    let (status, g) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/groups/{devs}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (g["securityEnabled"].clone(), g["mailEnabled"].clone()),
        (json!(true), json!(false))
    );

    let add = |group: String, member: String| {
        let s = &s;
        let admin = admin.clone();
        async move {
            graph(
                s,
                Some(&admin),
                Method::POST,
                &format!("/v1.0/groups/{group}/members/$ref"),
                Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")})),
            )
            .await
        }
    };
    assert_eq!(
        add(devs.clone(), bob_id.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, v) = add(devs.clone(), bob_id.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        str_of(&v["error"], "message").contains("already exist"),
        "{v}"
    );
    assert_eq!(
        add(devs.clone(), devs.clone()).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        add(all.clone(), devs.clone()).await.0,
        StatusCode::NO_CONTENT,
        "nested groups"
    );
    assert_eq!(
        add(devs.clone(), ObjectId::new_random().to_string())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, dave) = other_tenant(&s, "dave@second.test", STRONG).await;
    assert_eq!(
        add(devs.clone(), dave.id.to_string()).await.0,
        StatusCode::NOT_FOUND,
        "no members from other tenants"
    );
    let (status, _) = graph(
        &s,
        Some(&admin),
        Method::POST,
        &format!("/v1.0/groups/{devs}/members/$ref"),
        Some(json!({"@odata.id": "not-an-id"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, members) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/groups/{devs}/members"),
        None,
    )
    .await;
    assert_eq!(members["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(
        members["value"][0]["userPrincipalName"],
        "bob@acrylic.local"
    );
    let (_, members) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/groups/{all}/members"),
        None,
    )
    .await;
    assert_eq!(members["value"][0]["@odata.type"], "#microsoft.graph.group");
    // DIRECT memberships, for the RBAC engine's transitive group grants.
    let meta = &s.state().meta;
    let bob_oid = ObjectId::parse(&bob_id).unwrap();
    let devs_oid = ObjectId::parse(&devs).unwrap();
    assert_eq!(meta.list_groups_of(&bob_oid).await.unwrap(), vec![devs_oid]);
    assert_eq!(
        meta.list_groups_of(&devs_oid).await.unwrap(),
        vec![ObjectId::parse(&all).unwrap()]
    );

    // A plain user may not touch membership.
    let bob_token = str_of(
        &signed_in(
            &s,
            "organizations",
            "bob@acrylic.local",
            STRONG,
            &scope_for(ARM, false),
        )
        .await,
        "access_token",
    )
    .to_owned();
    let (status, v) = graph(
        &s,
        Some(&bob_token),
        Method::DELETE,
        &format!("/v1.0/groups/{devs}/members/{bob_id}/$ref"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        str_of(&v["error"], "message").contains("microsoft.directory/groups/members/update"),
        "{v}"
    );

    let remove = format!("/v1.0/groups/{devs}/members/{bob_id}/$ref");
    assert_eq!(
        graph(&s, Some(&admin), Method::DELETE, &remove, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        graph(&s, Some(&admin), Method::DELETE, &remove, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert!(meta.list_groups_of(&bob_oid).await.unwrap().is_empty());

    // Deleting a user or a group removes its memberships.
    assert_eq!(
        add(devs.clone(), bob_id.clone()).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        graph(
            &s,
            Some(&admin),
            Method::DELETE,
            &format!("/v1.0/users/{bob_id}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, members) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/groups/{devs}/members"),
        None,
    )
    .await;
    assert_eq!(members["value"], json!([]));
    assert_eq!(
        graph(
            &s,
            Some(&admin),
            Method::DELETE,
            &format!("/v1.0/groups/{devs}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        graph(
            &s,
            Some(&admin),
            Method::GET,
            &format!("/v1.0/groups/{devs}"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, members) = graph(
        &s,
        Some(&admin),
        Method::GET,
        &format!("/v1.0/groups/{all}/members"),
        None,
    )
    .await;
    assert_eq!(members["value"], json!([]));
}

// ---- signing keys --------------------------------------------------------------------

#[tokio::test]
async fn key_rotation_without_a_failed_request() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let t = b.tenant.to_string();
    let before = owner(&s).await;
    let t1 = str_of(&before, "access_token").to_owned();
    let k1 = kid(&t1);
    let jwks = |s: &TestServer| {
        let url = format!("{}/{t}/discovery/v2.0/keys", s.base_url());
        let c = s.client();
        async move {
            let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(jwks(&s).await, vec![k1.clone()]);

    // Requests keep flowing through the whole rotation: fresh sign-ins
    // (which mint) and the old token (which must keep verifying).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let c = s.client();
        let base = s.base_url().to_owned();
        let t = t.clone();
        let (user, pw) = (b.username.clone(), b.password.clone());
        let t1 = t1.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 0u32;
            let mut kids = std::collections::BTreeSet::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = c
                    .post(format!("{base}/{t}/oauth2/v2.0/token"))
                    .form(&[
                        ("client_id", ACRYLIC_CLI_CLIENT_ID),
                        ("grant_type", "password"),
                        ("username", user.as_str()),
                        ("password", pw.as_str()),
                        ("scope", "https://management.azure.com/.default"),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::OK,
                    "a sign-in failed during the rotation"
                );
                let body: Value = r.json().await.unwrap();
                let fresh = body["access_token"].as_str().unwrap().to_owned();
                kids.insert(kid(&fresh));
                for token in [fresh.as_str(), t1.as_str()] {
                    let r = c
                        .get(format!("{base}/subscriptions?api-version=2022-12-01"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(
                        r.status(),
                        StatusCode::OK,
                        "a request failed during the rotation"
                    );
                }
                n += 1;
            }
            (n, kids)
        })
    };

    let rotation =
        acrylic_server::directory::keys::rotate(s.state(), &b.tenant, time::Duration::seconds(2))
            .await
            .unwrap();
    assert_eq!(rotation.retired, vec![k1.clone()]);
    let k2 = rotation.kid.clone();
    // Published at once, before it signs anything.
    let published = jwks(&s).await;
    assert!(
        published.contains(&k1) && published.contains(&k2),
        "{published:?}"
    );
    let during = owner(&s).await;
    assert_eq!(
        kid(str_of(&during, "access_token")),
        k1,
        "the next key does not sign before active_from"
    );

    tokio::time::sleep(Duration::from_millis(3200)).await;
    let after = owner(&s).await;
    assert_eq!(
        kid(str_of(&after, "access_token")),
        k2,
        "the next key signs from active_from"
    );
    assert_eq!(
        arm_ok(&s, &t1).await,
        StatusCode::OK,
        "a token signed before the rotation still verifies"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, kids) = load.await.unwrap();
    assert!(n >= 3, "the load ran ({n} rounds)");
    assert!(kids.contains(&k1), "{kids:?}");

    // A replica that did not see the rotation learns it from the store: a
    // token signed by the next key verifies after a reload.
    let ring = s.state().keys.clone();
    ring.remove(&k2);
    assert_eq!(
        arm_ok(&s, str_of(&after, "access_token")).await,
        StatusCode::OK
    );

    // Dropping the retired key ends the old token's life.
    let dropped = acrylic_server::directory::keys::drop_retired(
        s.state(),
        &b.tenant,
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(dropped, vec![k1.clone()]);
    assert_eq!(jwks(&s).await, vec![k2.clone()]);
    assert_eq!(arm_ok(&s, &t1).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        arm_ok(&s, str_of(&after, "access_token")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_owner_is_global_administrator_once_even_after_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = acrylic_server::Config::new(dir.path().join("data"));
        c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        c.tls = acrylic_server::config::Tls::Off;
        c.log_level = "warn".into();
        c
    };
    let at_root = |running: &acrylic_server::serve::Running| {
        let meta = running.state.meta.clone();
        let upn = running.bootstrap.username.clone();
        async move {
            let owner = meta.find_user_by_upn(&upn).await.unwrap().unwrap();
            meta.list_role_assignments_for(&[owner.id])
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.scope == ArmScope::root())
                .collect::<Vec<_>>()
        }
    };
    let first = acrylic_server::serve::start(config()).await.unwrap();
    let granted = at_root(&first).await;
    assert_eq!(granted.len(), 1);
    assert_eq!(
        granted[0].role_definition_id,
        acrylic_authz::roles::GLOBAL_ADMINISTRATOR
    );
    let meta = first.state.meta.clone();
    assert_eq!(
        meta.find_setting("bootstrap_directory_admin")
            .await
            .unwrap(),
        Some(format!("{}:done", granted[0].id))
    );
    first.stop().await.unwrap();

    // A restart grants nothing twice.
    let second = acrylic_server::serve::start(config()).await.unwrap();
    assert_eq!(at_root(&second).await, granted);
    // Data bootstrapped before directory roles existed (no marker, no
    // assignment) gets the role at the next start.
    let meta = second.state.meta.clone();
    assert!(meta.delete_role_assignment(&granted[0].id).await.unwrap());
    meta.put_setting(
        "bootstrap_directory_admin",
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .unwrap();
    second.stop().await.unwrap();
    let third = acrylic_server::serve::start(config()).await.unwrap();
    let regranted = at_root(&third).await;
    assert_eq!(regranted.len(), 1);
    assert_eq!(
        regranted[0].role_definition_id,
        acrylic_authz::roles::GLOBAL_ADMINISTRATOR
    );
    third.stop().await.unwrap();
}
