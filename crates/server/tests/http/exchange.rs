//! ACR's token exchange (`POST /oauth2/exchange`, acr-auth.md §2) and the
//! refresh-token logins of directory principals at `/oauth2/token` (§3.1,
//! §3.2), over real HTTP, with directory tokens from the real directory
//! (`/{tenant}/oauth2/v2.0/token`) or minted with the server's own key
//! ring for the attacks: every request shape clients send, and tampered,
//! `alg: none`, HS256-with-the-public-key, expired, wrong-issuer and
//! wrong-audience directory tokens, the ARM-audience policy, another
//! tenant's token, tokens of one registry replayed on another, a refresh
//! token past its 3 hours, and revocation after the exchange (user
//! disabled or deleted, sessions revoked, role removed).

#![allow(clippy::unwrap_used)]

use acrylic_authz::roles;
use acrylic_model::{ObjectId, RegistryName, TenantId};
use acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID;
use acrylic_store::{
    AuditFilter, AuditRecord, PrincipalType, Registry, RoleAssignment, Tenant, User,
};
use acrylic_testkit::TestServer;
use acrylic_tokens::{AcrylicClaim, DirectoryClaims, Purpose, RefreshClaims};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{CONTENT_TYPE, HOST};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{
    ACR_SCOPE, ARM_SCOPE, JSON_UTF8, PASSWORD, Reg, access_of, audit, b64json, create_user, now,
    owner_token, payload, refused, unauthorized,
};

/// A directory sign-in of a user [`user`] made, through the real password
/// grant.
async fn sign_in(server: &TestServer, tenant: &TenantId, upn: &str, scope: &str) -> String {
    crate::support::sign_in(server, tenant, upn, PASSWORD, scope).await
}

/// A new user of `tenant`, with `role` at the registry's scope if given.
async fn user(
    server: &TestServer,
    tenant: &TenantId,
    upn: &str,
    role: Option<(&Registry, uuid::Uuid)>,
) -> User {
    let u = create_user(server, *tenant, upn, PASSWORD, true).await;
    if let Some((registry, role)) = role {
        assign(server, &u, registry, role).await;
    }
    u
}

async fn assign(
    server: &TestServer,
    u: &User,
    registry: &Registry,
    role: uuid::Uuid,
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    server
        .state()
        .meta
        .create_role_assignment(&RoleAssignment {
            id,
            scope: registry.arm_scope(),
            role_definition_id: role,
            principal_id: u.id,
            principal_type: PrincipalType::User,
            condition: None,
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    id
}

/// A directory access token minted with the server's own key ring, shaped
/// as the directory mints them, for `u`; `edit` changes claims first.
fn mint_directory(
    server: &TestServer,
    u: &User,
    edit: impl FnOnce(&mut DirectoryClaims),
) -> String {
    let t = now();
    let mut claims = DirectoryClaims {
        aud: "https://containerregistry.azure.net".into(),
        iss: acrylic_server::directory::v1_issuer(&u.tenant_id),
        iat: t,
        nbf: t,
        exp: t + 3600,
        tid: u.tenant_id,
        oid: u.id,
        sub: u.id.to_string(),
        upn: Some(u.upn.clone()),
        name: Some(u.display_name.clone()),
        idtyp: "user".into(),
        scp: Some("user_impersonation".into()),
        appid: Some(ACRYLIC_CLI_CLIENT_ID.into()),
        ver: "1.0".into(),
    };
    edit(&mut claims);
    server.state().keys.mint_directory(&claims).unwrap()
}

async fn refresh_of(r: Response) -> String {
    let status = r.status();
    let ct = r.headers().get(CONTENT_TYPE).cloned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct.unwrap(), JSON_UTF8);
    // Exactly one field (acr-auth.md §2.2).
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["refresh_token"],
        "{body}"
    );
    body["refresh_token"].as_str().unwrap().to_owned()
}

async fn access_token(r: Response) -> String {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange_audit(server: &TestServer, registry: &Registry) -> Vec<AuditRecord> {
    audit(
        server,
        AuditFilter {
            registry_id: Some(registry.id.clone()),
            action: Some("exchange".into()),
            ..Default::default()
        },
    )
    .await
}

// ---- request shapes ----

#[tokio::test]
async fn az_exchange_returns_a_three_hour_refresh_token_bound_to_the_registry() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let b = server.bootstrap();
    let directory = owner_token(&server, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &b.tenant).await).await;

    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(refresh.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    let c = payload(&refresh);
    let owner = server
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c["iss"], "Azure Container Registry");
    assert_eq!(c["aud"], registry.login_server.as_str());
    assert_eq!(c["rid"], registry.id.as_str());
    assert_eq!(c["sub"], owner.id.to_string());
    assert_eq!(c["tenant"], b.tenant.to_string());
    assert_eq!(c["version"], "1.0");
    assert_eq!(c["grant_type"], "refresh_token");
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3 * 3600
    );
    assert!((c["iat"].as_i64().unwrap() - now()).abs() < 60);
    assert_eq!(
        c["permissions"],
        json!({"actions": ["read", "write", "delete"], "notActions": null})
    );
    assert_eq!(c["acrylic"]["kind"], "user");
    assert!(c.get("aad_identity").is_none(), "RBAC registry: {c}");

    // The refresh token buys access tokens both ways docker asks.
    let t = access_token(
        reg.refresh_grant(&refresh, "repository:team/app:pull,push")
            .await,
    )
    .await;
    assert_eq!(
        access_of(&t),
        json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}])
    );
    assert_eq!(payload(&t)["sub"], owner.id.to_string());
    let t = access_token(reg.basic_refresh(&refresh, "registry:catalog:*").await).await;
    assert_eq!(
        access_of(&t),
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
    assert_eq!(reg.v2("/v2/_catalog", &t).await.status(), StatusCode::OK);

    let audit = exchange_audit(&server, &registry).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "granted");
    assert_eq!(audit[0].principal, format!("user:{}", b.username));
    let detail = audit[0].detail.clone().unwrap();
    assert!(detail.contains("containerregistry.azure.net"), "{detail}");
    assert!(!detail.contains(&refresh) && !detail.contains(&directory));
}

#[tokio::test]
async fn every_client_shape_is_accepted() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap();
    let directory = owner_token(&server, ACR_SCOPE).await;

    // azure-containerregistry: api-version, no tenant.
    refresh_of(
        reg.exchange_form(
            "?api-version=2021-07-01",
            &[
                ("grant_type", "access_token"),
                ("service", &reg.host),
                ("access_token", &directory),
            ],
        )
        .await,
    )
    .await;
    // The tenant by its domain; no service at all.
    let tenant = server
        .state()
        .meta
        .find_tenant(&b.tenant)
        .await
        .unwrap()
        .unwrap();
    refresh_of(
        reg.exchange_form(
            "",
            &[
                ("grant_type", "access_token"),
                ("tenant", &tenant.domain.to_uppercase()),
                ("access_token", &directory),
            ],
        )
        .await,
    )
    .await;
    // cloud-provider-azure: the same access token in both fields.
    refresh_of(
        reg.exchange_form(
            "",
            &[
                ("grant_type", "access_token_refresh_token"),
                ("service", &reg.host),
                ("tenant", &b.tenant.to_string()),
                ("access_token", &directory),
                ("refresh_token", &directory),
            ],
        )
        .await,
    )
    .await;
    // PowerShell: an ARM-audience token (the policy is enabled by default).
    let arm = owner_token(&server, ARM_SCOPE).await;
    assert_eq!(payload(&arm)["aud"], "https://management.core.windows.net/");
    refresh_of(reg.exchange(&arm, &b.tenant).await).await;
}

#[tokio::test]
async fn malformed_and_unsupported_requests_are_400() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let directory = owner_token(&server, ACR_SCOPE).await;

    // The deprecated directory-refresh-token grant says what to use.
    let r = reg
        .exchange_form(
            "",
            &[
                ("grant_type", "refresh_token"),
                ("service", &reg.host),
                ("refresh_token", "opaque-directory-refresh-token"),
            ],
        )
        .await;
    let body: Value = {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        r.json().await.unwrap()
    };
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(body["errors"][0]["code"], "UNSUPPORTED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("grant_type=access_token"),
        "{body}"
    );
    let (_, m) = refused(
        reg.exchange_form("", &[("grant_type", "password"), ("username", "u")])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(m.contains("password"), "{m}");
    let (_, m) = refused(
        reg.exchange_form("", &[("access_token", &directory)]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(m.contains("grant_type is required"), "{m}");
    // access_token_refresh_token validates access_token, so it must be there.
    let (_, m) = refused(
        reg.exchange_form(
            "",
            &[
                ("grant_type", "access_token_refresh_token"),
                ("refresh_token", &directory),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(m.contains("access_token is required"), "{m}");
    let (_, m) = refused(
        reg.exchange_form(
            "",
            &[
                ("grant_type", "access_token"),
                ("service", "other.example.test"),
                ("access_token", &directory),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(m.contains("does not name this registry"), "{m}");
    // No registry at that host.
    let ghost = server
        .state()
        .settings
        .login_server(&RegistryName::parse("ghost").unwrap());
    let r = server
        .client()
        .post(format!("{}/oauth2/exchange", server.base_url()))
        .header(HOST, &ghost)
        .form(&[("grant_type", "access_token"), ("access_token", &directory)])
        .send()
        .await
        .unwrap();
    refused(r, StatusCode::NOT_FOUND).await;
}

// ---- the attacker's side ----

#[tokio::test]
async fn forged_and_stale_directory_tokens_are_refused() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let b = server.bootstrap();
    let directory = owner_token(&server, ACR_SCOPE).await;
    let parts: Vec<&str> = directory.split('.').collect();
    let owner = server
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();
    let victim = user(
        &server,
        &b.tenant,
        "victim@acrylic.local",
        Some((&registry, roles::ACR_PUSH)),
    )
    .await;

    // Someone else's oid in the payload, the owner's signature kept.
    let mut claims = payload(&directory);
    claims["oid"] = json!(victim.id.to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64json(&claims), parts[2]);
    let m = unauthorized(reg.exchange(&tampered, &b.tenant).await).await;
    assert!(m.contains("signature"), "{m}");

    // alg: none, with and without the signature.
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let none = b64json(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]}));
    for forged in [
        format!("{none}.{}.", parts[1]),
        format!("{none}.{}.{}", parts[1], parts[2]),
    ] {
        let m = unauthorized(reg.exchange(&forged, &b.tenant).await).await;
        assert!(m.contains("algorithm none"), "{m}");
    }

    // HS256 keyed with the published public key (algorithm confusion).
    let jwks: Value = server
        .client()
        .get(format!(
            "{}/{}/discovery/v2.0/keys",
            server.base_url(),
            b.tenant
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_owned);
    let confused = jsonwebtoken::encode(
        &hs,
        &payload(&directory),
        &jsonwebtoken::EncodingKey::from_secret(n.as_bytes()).unwrap(),
    )
    .unwrap();
    let m = unauthorized(reg.exchange(&confused, &b.tenant).await).await;
    assert!(m.contains("HS256"), "{m}");

    // Garbage, and a registry token in a directory token's place.
    unauthorized(reg.exchange("not.a.jwt", &b.tenant).await).await;
    let refresh = refresh_of(reg.exchange(&directory, &b.tenant).await).await;
    let m = unauthorized(reg.exchange(&refresh, &b.tenant).await).await;
    assert!(m.contains("ES256"), "{m}");

    // Expired (beyond the clock-skew leeway), and not yet valid.
    // (Signed "now": the tenant's key is only active from the server's start.)
    let expired = mint_directory(&server, &owner, |c| c.exp = now() - 120);
    let m = unauthorized(reg.exchange(&expired, &b.tenant).await).await;
    assert!(m.contains("expired") && m.contains("acrylic login"), "{m}");
    let future = mint_directory(&server, &owner, |c| c.nbf = now() + 3600);
    unauthorized(reg.exchange(&future, &b.tenant).await).await;

    // Properly signed, but not in the v1 issuer's name.
    let wrong_iss = mint_directory(&server, &owner, |c| {
        c.iss = format!("https://evil.example/{}/", c.tid);
    });
    let m = unauthorized(reg.exchange(&wrong_iss, &b.tenant).await).await;
    assert!(m.contains("not issued by this server's directory"), "{m}");

    // A user that does not exist, and an application token (#4).
    let ghost = User {
        id: ObjectId::new_random(),
        ..owner.clone()
    };
    let m = unauthorized(
        reg.exchange(&mint_directory(&server, &ghost, |_| {}), &b.tenant)
            .await,
    )
    .await;
    assert!(m.contains("no longer exists"), "{m}");
    // An app token (#4) whose `oid`/`appid` name no service principal.
    let app = mint_directory(&server, &owner, |c| c.idtyp = "app".into());
    let m = unauthorized(reg.exchange(&app, &b.tenant).await).await;
    assert!(
        m.contains("service principal") && m.contains("no longer exists"),
        "{m}"
    );

    // Every refusal is audited as a failed exchange, without the tokens.
    let audit = exchange_audit(&server, &registry).await;
    assert!(
        audit.iter().filter(|a| a.decision == "failed").count() >= 10,
        "{audit:?}"
    );
    for a in &audit {
        let d = a.detail.as_deref().unwrap_or_default();
        assert!(!d.contains(parts[2]) && !d.contains(&refresh), "{d}");
    }
}

#[tokio::test]
async fn audiences_and_the_arm_audience_policy() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let b = server.bootstrap();
    let acr = owner_token(&server, ACR_SCOPE).await;
    let arm = owner_token(&server, ARM_SCOPE).await;
    let owner = server
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();

    for aud in [
        "https://graph.microsoft.com",
        "https://management.azure.com.evil.example",
        "76c92352-c057-4cc2-9b1e-f34c32bc58bd",
    ] {
        let t = mint_directory(&server, &owner, |c| c.aud = aud.into());
        let m = unauthorized(reg.exchange(&t, &b.tenant).await).await;
        assert!(m.contains("audience"), "{aud}: {m}");
    }
    for aud in [
        "https://management.azure.com/",
        "https://management.azure.com",
        "https://management.core.windows.net",
    ] {
        let t = mint_directory(&server, &owner, |c| c.aud = aud.into());
        refresh_of(reg.exchange(&t, &b.tenant).await).await;
    }

    // azureADAuthenticationAsArmPolicy disabled: ARM audiences are refused,
    // ACR's still works; enabled again: both.
    let meta = &server.state().meta;
    meta.set_aad_auth_as_arm_policy(&registry.id, false)
        .await
        .unwrap();
    let m = unauthorized(reg.exchange(&arm, &b.tenant).await).await;
    assert!(m.contains("azureADAuthenticationAsArmPolicy"), "{m}");
    let t = mint_directory(&server, &owner, |c| {
        c.aud = "https://management.azure.com".into()
    });
    unauthorized(reg.exchange(&t, &b.tenant).await).await;
    refresh_of(reg.exchange(&acr, &b.tenant).await).await;
    // The policy is the registry's own: another registry still accepts ARM.
    server.create_registry("second").await;
    let second = Reg::named(&server, "second");
    refresh_of(second.exchange(&arm, &b.tenant).await).await;
    meta.set_aad_auth_as_arm_policy(&registry.id, true)
        .await
        .unwrap();
    refresh_of(reg.exchange(&arm, &b.tenant).await).await;
}

#[tokio::test]
async fn another_tenants_token_is_refused_naming_both_tenants() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let b = server.bootstrap();
    let meta = &server.state().meta;
    let other = Tenant {
        id: TenantId::new_random(),
        domain: "fabrikam.test".into(),
        display_name: "Fabrikam".into(),
        created_at: OffsetDateTime::now_utc(),
    };
    meta.create_tenant(&other).await.unwrap();
    acrylic_server::directory::keys::ensure(server.state(), &other.id)
        .await
        .unwrap();
    let stranger = user(&server, &other.id, "eve@fabrikam.test", None).await;
    // A genuine token of the other tenant, from the real directory.
    let token = sign_in(&server, &other.id, &stranger.upn, ACR_SCOPE).await;
    assert_eq!(payload(&token)["tid"], other.id.to_string());
    for tenant in [&other.id, &b.tenant] {
        let m = unauthorized(reg.exchange(&token, tenant).await).await;
        assert!(
            m.contains(&other.id.to_string()) && m.contains(&b.tenant.to_string()),
            "{m}"
        );
    }

    // The other tenant's token rewritten to claim the registry's tenant:
    // its signature (by the other tenant's key) no longer verifies.
    let parts: Vec<&str> = token.split('.').collect();
    let mut p = payload(&token);
    p["tid"] = json!(b.tenant.to_string());
    p["iss"] = json!(acrylic_server::directory::v1_issuer(&b.tenant));
    let forged = format!("{}.{}.{}", parts[0], b64json(&p), parts[2]);
    let m = unauthorized(reg.exchange(&forged, &b.tenant).await).await;
    assert!(m.contains("signature"), "{m}");

    // The owner's own token with a `tenant` value naming another tenant.
    let own = owner_token(&server, ACR_SCOPE).await;
    let m = unauthorized(reg.exchange(&own, &other.id).await).await;
    assert!(m.contains("tenant parameter"), "{m}");
    let m = unauthorized(
        reg.exchange_form(
            "",
            &[
                ("grant_type", "access_token"),
                ("tenant", "fabrikam.test"),
                ("access_token", &own),
            ],
        )
        .await,
    )
    .await;
    assert!(m.contains("tenant parameter"), "{m}");
}

#[tokio::test]
async fn tokens_of_registry_a_are_refused_by_registry_b() {
    let server = TestServer::start().await;
    let a = Reg::bootstrap(&server);
    server.create_registry("second").await;
    let bb = Reg::named(&server, "second");
    let t = server.bootstrap().tenant;
    let directory = owner_token(&server, ACR_SCOPE).await;
    let refresh_a = refresh_of(a.exchange(&directory, &t).await).await;

    unauthorized(bb.refresh_grant(&refresh_a, "repository:x:pull").await).await;
    unauthorized(bb.basic_refresh(&refresh_a, "repository:x:pull").await).await;
    let access_a = access_token(a.refresh_grant(&refresh_a, "repository:x:pull").await).await;
    assert_eq!(
        a.v2("/v2/x/tags/list", &access_a).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bb.v2("/v2/x/tags/list", &access_a).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A's login server as `service` at B is refused too.
    let r = bb
        .exchange_form(
            "",
            &[
                ("grant_type", "access_token"),
                ("service", &a.host),
                ("access_token", &directory),
            ],
        )
        .await;
    refused(r, StatusCode::BAD_REQUEST).await;
    // B's own exchange works and is bound to B.
    let refresh_b = refresh_of(bb.exchange(&directory, &t).await).await;
    assert_eq!(payload(&refresh_b)["rid"], bb.registry().await.id.as_str());
    unauthorized(a.refresh_grant(&refresh_b, "repository:x:pull").await).await;
}

#[tokio::test]
async fn a_refresh_token_past_three_hours_says_to_log_in_again() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let b = server.bootstrap();
    let owner = server
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();
    // A refresh token issued 3 h 5 min ago, signed by the server's own key
    // ring: a key active since then is added to it (as a key the server
    // held all along would be).
    let issued = now() - 3 * 3600 - 300;
    let key = acrylic_tokens::generate_es256().unwrap();
    server
        .state()
        .keys
        .add(&key, Purpose::Registry, None, issued - 60)
        .unwrap();
    let principal = acrylic_authz::Principal::User {
        tenant: owner.tenant_id,
        oid: owner.id,
        upn: owner.upn.clone(),
    };
    let claims = RefreshClaims::new(
        AcrylicClaim::new(&principal, false),
        owner.id.to_string(),
        &registry.login_server,
        registry.id.clone(),
        vec!["read".into()],
        issued,
    );
    assert_eq!(claims.exp, issued + 3 * 3600);
    let stale = server.state().keys.mint_refresh(&claims).unwrap();
    assert_eq!(payload(&stale)["iat"], issued);

    let want = format!("acrylic acr login --name {}", registry.name);
    let m = unauthorized(reg.refresh_grant(&stale, "repository:x:pull").await).await;
    assert!(m.contains(&want) && m.contains("expired"), "{m}");
    let m = unauthorized(reg.basic_refresh(&stale, "repository:x:pull").await).await;
    assert!(m.contains(&want), "{m}");

    // The same principal's refresh token issued now is good.
    let fresh = RefreshClaims::new(
        AcrylicClaim::new(&principal, false),
        owner.id.to_string(),
        &registry.login_server,
        registry.id.clone(),
        vec!["read".into()],
        now(),
    );
    let fresh = server.state().keys.mint_refresh(&fresh).unwrap();
    access_token(reg.refresh_grant(&fresh, "repository:x:pull").await).await;
}

// ---- revocation after the exchange ----

#[tokio::test]
async fn disabling_or_deleting_the_user_stops_new_access_tokens() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let t = server.bootstrap().tenant;
    let mut u = user(
        &server,
        &t,
        "dev@acrylic.local",
        Some((&registry, roles::ACR_PUSH)),
    )
    .await;
    let directory = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &t).await).await;
    access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;

    let meta = &server.state().meta;
    u.enabled = false;
    meta.update_user(&u).await.unwrap();
    let m = unauthorized(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
    assert!(m.contains("no longer exists or is disabled"), "{m}");
    unauthorized(reg.basic_refresh(&refresh, "repository:x:pull").await).await;
    let m = unauthorized(reg.exchange(&directory, &t).await).await;
    assert!(m.contains("disabled"), "{m}");

    u.enabled = true;
    meta.update_user(&u).await.unwrap();
    access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;

    assert!(meta.delete_user(&u.id).await.unwrap());
    unauthorized(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
    let m = unauthorized(reg.exchange(&directory, &t).await).await;
    assert!(m.contains("no longer exists"), "{m}");
}

#[tokio::test]
async fn revoked_sessions_stop_new_access_tokens() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let t = server.bootstrap().tenant;
    let mut u = user(
        &server,
        &t,
        "dev@acrylic.local",
        Some((&registry, roles::ACR_PUSH)),
    )
    .await;
    let directory = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &t).await).await;
    let before = access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;

    // revoke-sessions, rounded up to the next second as a revocation must
    // be to cover tokens of its own second.
    let meta = &server.state().meta;
    u.sessions_valid_after = OffsetDateTime::from_unix_timestamp(now() + 1).unwrap();
    meta.update_user(&u).await.unwrap();
    let m = unauthorized(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
    assert!(
        m.contains("acrylic login") && m.contains("acr login --name"),
        "{m}"
    );
    unauthorized(reg.basic_refresh(&refresh, "repository:x:pull").await).await;
    // The directory token of the revoked session cannot be exchanged again.
    let m = unauthorized(reg.exchange(&directory, &t).await).await;
    assert!(m.contains("revoked"), "{m}");
    // Access tokens already issued live out their short lifetime.
    assert_eq!(
        reg.v2("/v2/x/tags/list", &before).await.status(),
        StatusCode::NOT_FOUND
    );

    // A new sign-in after the revocation works again.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let again = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&again, &t).await).await;
    access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
}

#[tokio::test]
async fn a_removed_role_stops_new_grants_at_once() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let t = server.bootstrap().tenant;
    let u = user(&server, &t, "puller@acrylic.local", None).await;
    let assignment = assign(&server, &u, &registry, roles::ACR_PULL).await;
    let directory = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &t).await).await;
    let before = access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
    assert_eq!(
        reg.v2("/v2/x/tags/list", &before).await.status(),
        StatusCode::NOT_FOUND
    );

    let meta = &server.state().meta;
    assert!(meta.delete_role_assignment(&assignment).await.unwrap());
    // The refresh token still authenticates, but grants nothing any more
    // (ACR's partial-grant answer: 200 with empty actions).
    let after = access_token(reg.refresh_grant(&refresh, "repository:x:pull").await).await;
    assert_eq!(
        access_of(&after),
        json!([{"type": "repository", "name": "x", "actions": []}])
    );
    // The user can no longer be granted pull: DENIED, not a challenge.
    assert_eq!(
        reg.v2("/v2/x/tags/list", &after).await.status(),
        StatusCode::FORBIDDEN
    );
    // And the access token issued before is refused on its next use.
    assert_eq!(
        reg.v2("/v2/x/tags/list", &before).await.status(),
        StatusCode::FORBIDDEN
    );
    // A new exchange reports no permissions.
    let none = refresh_of(reg.exchange(&directory, &t).await).await;
    assert_eq!(payload(&none)["permissions"]["actions"], json!([]));
}

#[tokio::test]
async fn an_acr_pull_user_asking_pull_and_push_gets_pull() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let t = server.bootstrap().tenant;
    let u = user(
        &server,
        &t,
        "puller@acrylic.local",
        Some((&registry, roles::ACR_PULL)),
    )
    .await;
    let directory = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &t).await).await;
    assert_eq!(payload(&refresh)["permissions"]["actions"], json!(["read"]));

    let token = access_token(
        reg.refresh_grant(&refresh, "repository:team/app:pull,push registry:catalog:*")
            .await,
    )
    .await;
    assert_eq!(
        access_of(&token),
        json!([
            {"type": "repository", "name": "team/app", "actions": ["pull"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ])
    );
    let audit = audit(
        &server,
        AuditFilter {
            registry_id: Some(registry.id.clone()),
            principal: Some(format!("user:{}", u.upn)),
            action: Some("token".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, "partial");
}

#[tokio::test]
async fn acr_cli_wildcard_scope_covers_every_repository() {
    let server = TestServer::start().await;
    let reg = Reg::bootstrap(&server);
    let registry = reg.registry().await;
    let t = server.bootstrap().tenant;
    let u = user(
        &server,
        &t,
        "purger@acrylic.local",
        Some((&registry, roles::ACR_PULL)),
    )
    .await;
    let directory = sign_in(&server, &t, &u.upn, ACR_SCOPE).await;
    let refresh = refresh_of(reg.exchange(&directory, &t).await).await;
    // acr-cli: `registry:catalog:* repository:*:*`, space-separated.
    let token = access_token(
        reg.refresh_grant(&refresh, "registry:catalog:* repository:*:*")
            .await,
    )
    .await;
    let access = access_of(&token);
    assert_eq!(access[1]["type"], "repository", "{access}");
    assert_eq!(access[1]["name"], "*", "{access}");
    assert_eq!(
        access[1]["actions"],
        json!(["pull", "metadata_read"]),
        "AcrPull: no push or delete: {access}"
    );
    for repo in ["a", "team/b"] {
        assert_eq!(
            reg.v2(&format!("/v2/{repo}/tags/list"), &token)
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{repo}: past the gate"
        );
    }
}
