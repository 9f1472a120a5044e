//! Expiry under a controllable clock (issue #3 §5): the server's clock
//! (`acrylic_server::clock`) is frozen and moved forward by the test, and
//! every assertion goes through the real HTTP endpoints — the 3-hour ACR
//! refresh token from `/oauth2/exchange`, the 75-minute ACR access token at
//! `/v2/`, the one-hour directory access token at ARM and at the exchange,
//! the rotation and lifetime of directory refresh tokens, and a directory
//! key rotation under load in which no request fails.
//!
//! JWT expiry is checked with `acrylic_tokens::LEEWAY` seconds of clock
//! skew tolerated (replicas' clocks differ a little): a token whose `exp`
//! is `E` is accepted up to `E + LEEWAY - 1` and refused from
//! `E + LEEWAY`. Store-held lifetimes (directory refresh tokens) have no
//! skew and end exactly.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use acrylic_server::clock::Clock;
use acrylic_server::directory::{ACRYLIC_CLI_CLIENT_ID, keys};
use acrylic_testkit::TestServer;
use acrylic_tokens::{ACCESS_TOKEN_LIFETIME, LEEWAY, REFRESH_TOKEN_LIFETIME};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::support::{
    ACR_SCOPE, ARM_SCOPE, Reg, now, owner_token, payload, refused, sign_in, unauthorized,
};

/// The directory's access-token lifetime (acrylic_server::directory).
const DIRECTORY_TOKEN: i64 = acrylic_server::directory::ACCESS_TOKEN_LIFETIME;

/// Freezes the server's clock at the next whole second (JWT times are
/// whole seconds) and returns it with that instant.
fn frozen(server: &TestServer) -> (Clock, OffsetDateTime) {
    let clock = server.state().clock.clone();
    let t0 = OffsetDateTime::from_unix_timestamp(now() + 1).unwrap();
    clock.freeze(t0);
    (clock, t0)
}

fn secs(s: i64) -> Duration {
    Duration::seconds(s)
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

async fn ok_json(r: Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh_of(r: Response) -> String {
    ok_json(r).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn access_of(r: Response) -> String {
    ok_json(r).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `GET /subscriptions` (needs only a valid sign-in): status and body.
async fn arm_list(server: &TestServer, token: &str) -> (StatusCode, Value) {
    let r = server
        .client()
        .get(format!(
            "{}/subscriptions?api-version=2022-12-01",
            server.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// `POST /{tenant}/oauth2/v2.0/token` with the acrylic CLI's client id.
async fn directory_token(server: &TestServer, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let tenant = server.bootstrap().tenant;
    let mut all = vec![("client_id", ACRYLIC_CLI_CLIENT_ID)];
    all.extend_from_slice(form);
    let r = server
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", server.base_url()))
        .form(&all)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// The owner's password sign-in asking for a refresh token too.
async fn offline_sign_in(server: &TestServer) -> Value {
    let b = server.bootstrap();
    let scope = format!("{ARM_SCOPE} offline_access openid profile");
    let (status, body) = directory_token(
        server,
        &[
            ("grant_type", "password"),
            ("username", &b.username),
            ("password", &b.password),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn redeem(server: &TestServer, refresh_token: &str) -> (StatusCode, Value) {
    directory_token(
        server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", ARM_SCOPE),
        ],
    )
    .await
}

/// A directory `invalid_grant` refusal with AADSTS `code`.
fn invalid_grant(status: StatusCode, body: &Value, code: u32) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
}

#[tokio::test]
async fn the_acr_refresh_token_lives_three_hours() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap();
    let (clock, t0) = frozen(&server);
    let directory = owner_token(&server, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &b.tenant).await).await;
    assert_eq!(payload(&refresh)["iat"], t0.unix_timestamp());
    assert_eq!(
        payload(&refresh)["exp"],
        t0.unix_timestamp() + REFRESH_TOKEN_LIFETIME
    );
    let scope = "repository:app:pull";
    let expiry = t0 + secs(REFRESH_TOKEN_LIFETIME);

    // One second before the 3 hours, and at the last second of the skew
    // tolerance, both grant shapes still issue access tokens — long after
    // the directory token that was exchanged has expired.
    for at in [expiry - secs(1), expiry + secs(LEEWAY - 1)] {
        clock.freeze(at);
        let access = access_of(reg.refresh_grant(&refresh, scope).await).await;
        assert_eq!(payload(&access)["iat"], at.unix_timestamp());
        access_of(reg.basic_refresh(&refresh, scope).await).await;
    }

    // Then it is refused, telling how to log in again.
    clock.freeze(expiry + secs(LEEWAY));
    let want = format!("acrylic acr login --name {}", reg.name);
    let m = unauthorized(reg.refresh_grant(&refresh, scope).await).await;
    assert!(m.contains(&want) && m.contains("expired"), "{m}");
    let m = unauthorized(reg.basic_refresh(&refresh, scope).await).await;
    assert!(m.contains(&want), "{m}");
    clock.resume();
}

#[tokio::test]
async fn the_acr_access_token_lives_75_minutes() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap();
    let (clock, t0) = frozen(&server);
    let directory = owner_token(&server, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &b.tenant).await).await;
    let access = access_of(reg.refresh_grant(&refresh, "registry:catalog:*").await).await;
    let exp = t0 + secs(ACCESS_TOKEN_LIFETIME);
    assert_eq!(payload(&access)["exp"], exp.unix_timestamp());

    for at in [exp - secs(1), exp + secs(LEEWAY - 1)] {
        clock.freeze(at);
        let r = reg.v2("/v2/", &access).await;
        assert_eq!(r.status(), StatusCode::OK, "/v2/ at {at}");
        let r = reg.v2("/v2/_catalog", &access).await;
        assert_eq!(r.status(), StatusCode::OK, "/v2/_catalog at {at}");
    }

    // Just after: challenged for a new token (invalid_token).
    clock.freeze(exp + secs(LEEWAY));
    for path in ["/v2/", "/v2/_catalog"] {
        let r = reg.v2(path, &access).await;
        let challenge = r.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer realm="), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        unauthorized(r).await;
    }
    // The refresh token (3 hours) still gets a new one.
    let again = access_of(reg.refresh_grant(&refresh, "registry:catalog:*").await).await;
    assert_eq!(
        reg.v2("/v2/_catalog", &again).await.status(),
        StatusCode::OK
    );
    clock.resume();
}

#[tokio::test]
async fn the_directory_access_token_lives_one_hour() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap();
    let (clock, t0) = frozen(&server);
    let arm = owner_token(&server, ARM_SCOPE).await;
    let acr = owner_token(&server, ACR_SCOPE).await;
    let exp = t0 + secs(DIRECTORY_TOKEN);
    for t in [&arm, &acr] {
        assert_eq!(payload(t)["exp"], exp.unix_timestamp());
    }

    for at in [exp - secs(1), exp + secs(LEEWAY - 1)] {
        clock.freeze(at);
        let (status, body) = arm_list(&server, &arm).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        refresh_of(reg.exchange(&acr, &b.tenant).await).await;
    }

    clock.freeze(exp + secs(LEEWAY));
    let (status, body) = arm_list(&server, &arm).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error"]["code"], "ExpiredAuthenticationToken",
        "{body}"
    );
    let m = unauthorized(reg.exchange(&acr, &b.tenant).await).await;
    assert!(m.contains("expired") && m.contains("acrylic login"), "{m}");

    // A new sign-in at the new time is good for another hour.
    let fresh = owner_token(&server, ARM_SCOPE).await;
    assert_eq!(
        payload(&fresh)["exp"],
        (exp + secs(LEEWAY) + secs(DIRECTORY_TOKEN)).unix_timestamp()
    );
    assert_eq!(arm_list(&server, &fresh).await.0, StatusCode::OK);
    clock.resume();
}

#[tokio::test]
async fn directory_refresh_tokens_rotate_and_replays_kill_the_family() {
    let server = TestServer::start().await;
    let (clock, t0) = frozen(&server);
    let first = offline_sign_in(&server).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();

    // Each use returns a new refresh token and a new access token of the
    // moment it was used.
    clock.freeze(t0 + Duration::minutes(10));
    let (status, second) = redeem(&server, &rt1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt1);
    let access2 = second["access_token"].as_str().unwrap();
    assert_eq!(
        payload(access2)["iat"],
        (t0 + Duration::minutes(10)).unix_timestamp()
    );
    assert_eq!(arm_list(&server, access2).await.0, StatusCode::OK);

    // Hours later (the access tokens long expired) the live one still
    // rotates.
    clock.freeze(t0 + Duration::hours(5));
    let (status, third) = redeem(&server, &rt2).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let rt3 = third["refresh_token"].as_str().unwrap().to_owned();
    assert!(rt3 != rt1 && rt3 != rt2);

    // The first one, replayed days later, is recognised as a replay and
    // kills the whole family: the live token dies with it.
    clock.freeze(t0 + Duration::days(3));
    let (status, body) = redeem(&server, &rt1).await;
    invalid_grant(status, &body, 70000);
    let (status, body) = redeem(&server, &rt3).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    clock.resume();
}

#[tokio::test]
async fn directory_refresh_tokens_end_after_their_lifetime() {
    let server = TestServer::start().await;
    let (clock, t0) = frozen(&server);
    let lifetime = acrylic_server::directory::sessions::REFRESH_TOKEN_LIFETIME;
    // Two sign-ins (two families) at t0.
    let a = offline_sign_in(&server).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = offline_sign_in(&server).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The last second of the lifetime: still good, and the new token it
    // rotates into has a full lifetime of its own (sliding).
    let last = t0 + lifetime - secs(1);
    clock.freeze(last);
    let (status, body) = redeem(&server, &a).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a2 = body["refresh_token"].as_str().unwrap().to_owned();

    // Exactly at the end: refused as expired (AADSTS700082).
    clock.freeze(t0 + lifetime);
    let (status, body) = redeem(&server, &b).await;
    invalid_grant(status, &body, 700082);

    // The rotated one ends a lifetime after it was issued.
    clock.freeze(last + lifetime - secs(1));
    let (status, body) = redeem(&server, &a2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a3 = body["refresh_token"].as_str().unwrap().to_owned();
    clock.freeze(last + lifetime - secs(1) + lifetime);
    let (status, body) = redeem(&server, &a3).await;
    invalid_grant(status, &body, 700082);
    clock.resume();
}

/// What the load of [`key_rotation_without_a_failed_request`] saw.
#[derive(Default)]
struct Load {
    rounds: AtomicU32,
    stop: AtomicBool,
    kids: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Load {
    /// Waits until the load has run `n` more rounds.
    async fn rounds(&self, n: u32) {
        let start = self.rounds.load(Ordering::SeqCst);
        while self.rounds.load(Ordering::SeqCst) < start + n {
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
    }
}

/// One round of every kind of request a client makes: a directory
/// sign-in for ARM and for ACR (which mint), ARM with the fresh token and
/// with the one signed before the rotation, the exchange, the ACR refresh
/// grant and a data-plane call; each must succeed.
async fn round(server: &TestServer, reg: &Reg<'_>, load: &Load, old_arm: &str, old_acr: &str) {
    let b = server.bootstrap();
    let arm = sign_in(server, &b.tenant, &b.username, &b.password, ARM_SCOPE).await;
    let acr = sign_in(server, &b.tenant, &b.username, &b.password, ACR_SCOPE).await;
    load.kids.lock().unwrap().insert(kid(&arm));
    for t in [arm.as_str(), old_arm] {
        let (status, body) = arm_list(server, t).await;
        assert_eq!(status, StatusCode::OK, "an ARM call failed: {body}");
    }
    for t in [acr.as_str(), old_acr] {
        let refresh = refresh_of(reg.exchange(t, &b.tenant).await).await;
        let access = access_of(reg.refresh_grant(&refresh, "registry:catalog:*").await).await;
        let r = reg.v2("/v2/_catalog", &access).await;
        assert_eq!(r.status(), StatusCode::OK, "a data-plane call failed");
    }
    load.rounds.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_without_a_failed_request() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap().clone();
    let (clock, t0) = frozen(&server);
    let old_arm = owner_token(&server, ARM_SCOPE).await;
    let old_acr = owner_token(&server, ACR_SCOPE).await;
    let k1 = kid(&old_arm);
    let jwks = || async {
        let url = format!("{}/{}/discovery/v2.0/keys", server.base_url(), b.tenant);
        let v = ok_json(server.client().get(url).send().await.unwrap()).await;
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(jwks().await, vec![k1.clone()]);

    let load = Load::default();
    // Two clients at once, as long as the rotation runs.
    let client = || async {
        while !load.stop.load(Ordering::SeqCst) {
            round(&server, &reg, &load, &old_arm, &old_acr).await;
        }
    };
    let rotation = async {
        load.rounds(2).await;
        let ahead = Duration::minutes(5);
        let rotation = keys::rotate(server.state(), &b.tenant, ahead)
            .await
            .unwrap();
        assert_eq!(rotation.retired, vec![k1.clone()]);
        assert_eq!(rotation.active_from, t0 + ahead);
        let k2 = rotation.kid.clone();
        // Published at once, before it signs: JWKS lists both.
        let published = jwks().await;
        assert!(
            published.contains(&k1) && published.contains(&k2),
            "{published:?}"
        );
        load.rounds(2).await;
        clock.freeze(t0 + ahead - secs(1));
        load.rounds(2).await;
        let before = owner_token(&server, ARM_SCOPE).await;
        assert_eq!(
            kid(&before),
            k1,
            "the next key does not sign before active_from"
        );
        assert!(!load.kids.lock().unwrap().contains(&k2));

        // Past its activation the new key signs; the old one verifies.
        clock.freeze(t0 + ahead);
        load.rounds(2).await;
        let after = owner_token(&server, ARM_SCOPE).await;
        assert_eq!(kid(&after), k2, "the next key signs from active_from");
        clock.freeze(t0 + ahead + Duration::minutes(10));
        load.rounds(2).await;
        let published = jwks().await;
        assert!(
            published.contains(&k1) && published.contains(&k2),
            "{published:?}"
        );
        load.stop.store(true, Ordering::SeqCst);
        (k2, after)
    };
    let ((k2, after), (), ()) = tokio::join!(rotation, client(), client());
    let kids = load.kids.lock().unwrap().clone();
    assert_eq!(
        kids,
        [k1.clone(), k2.clone()].into(),
        "the load saw both keys"
    );
    assert!(load.rounds.load(Ordering::SeqCst) >= 10);

    // Dropping the retired key ends the old tokens' lives (before their
    // hour is up); the new key's tokens are unaffected.
    let (status, _) = arm_list(&server, &old_arm).await;
    assert_eq!(status, StatusCode::OK);
    let dropped = keys::drop_retired(server.state(), &b.tenant, clock.now())
        .await
        .unwrap();
    assert_eq!(dropped, vec![k1.clone()]);
    assert_eq!(jwks().await, vec![k2.clone()]);
    let (status, body) = arm_list(&server, &old_arm).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (code, _) = refused(
        reg.exchange(&old_acr, &b.tenant).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(code, "UNAUTHORIZED");
    assert_eq!(arm_list(&server, &after).await.0, StatusCode::OK);
    clock.resume();
}
