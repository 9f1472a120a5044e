//! The directory's password sign-in and the ARM control plane over real
//! HTTP: Entra-shaped token responses and errors, discovery and JWKS (the
//! token verifies with the published key), registry CRUD, admin
//! credentials (show, renew one password), and the refusals — no, garbage,
//! tampered, expired and wrong-audience tokens (401), a user without a role
//! (403 AuthorizationFailed naming the action and scope).

#![allow(clippy::unwrap_used)]

use acrylic_model::{ResourceGroupName, TenantId};
use acrylic_server::directory::{ACRYLIC_CLI_CLIENT_ID, AZURE_CLI_CLIENT_ID};
use acrylic_store::{ResourceGroup, Tenant};
use acrylic_testkit::TestServer;
use acrylic_tokens::DirectoryClaims;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{create_user, payload};

const ARM: &str = "https://management.core.windows.net/";
const API: &str = "api-version=2023-07-01";

/// `POST /{tenant}/oauth2/v2.0/token` with the password grant.
async fn sign_in_raw(
    s: &TestServer,
    tenant: &str,
    client_id: &str,
    user: &str,
    password: &str,
    scope: &str,
) -> (StatusCode, Value) {
    let r = s
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", s.base_url()))
        .form(&[
            ("client_id", client_id),
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", scope),
            ("client_info", "1"),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/json; charset=utf-8");
    (status, r.json().await.unwrap())
}

/// The owner's ARM access token.
async fn owner_token(s: &TestServer) -> String {
    let b = s.bootstrap();
    let (status, body) = sign_in_raw(
        s,
        &b.tenant.to_string(),
        ACRYLIC_CLI_CLIENT_ID,
        &b.username,
        &b.password,
        &format!("{ARM}/.default openid profile offline_access"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// An ARM request at this surface's API version.
async fn arm(
    s: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    crate::support::arm(s, token, method, path, API, body).await
}

fn registries_path(s: &TestServer) -> String {
    let b = s.bootstrap();
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries",
        b.subscription, b.resource_group
    )
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn password_sign_in_returns_entra_shaped_tokens() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let (status, body) = sign_in_raw(
        &s,
        &b.tenant.to_string(),
        AZURE_CLI_CLIENT_ID,
        &b.username,
        &b.password,
        "https://management.core.windows.net//.default offline_access openid profile",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["ext_expires_in"], 3600);
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .contains("https://management.core.windows.net//.default")
    );
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["utid"], b.tenant.to_string());

    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], "https://management.core.windows.net/");
    assert_eq!(
        access["iss"],
        format!("https://sts.windows.net/{}/", b.tenant)
    );
    assert_eq!(access["tid"], b.tenant.to_string());
    assert_eq!(access["oid"], info["uid"]);
    assert_eq!(access["upn"], b.username);
    assert_eq!(access["idtyp"], "user");
    assert_eq!(access["appid"], AZURE_CLI_CLIENT_ID);
    assert_eq!(access["ver"], "1.0");
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        3600
    );
    let id = payload(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], AZURE_CLI_CLIENT_ID);
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["upn"], b.username);

    // The tenant by domain, and `organizations` (resolved by the UPN).
    for tenant in ["acrylic.local", "organizations", "common"] {
        let (status, body) = sign_in_raw(
            &s,
            tenant,
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            "https://management.azure.com/.default",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{tenant}: {body}");
        let access = payload(body["access_token"].as_str().unwrap());
        assert_eq!(access["tid"], b.tenant.to_string(), "{tenant}");
        assert_eq!(access["aud"], "https://management.azure.com", "{tenant}");
    }
}

#[tokio::test]
async fn password_sign_in_failures_speak_aadsts() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let tenant = b.tenant.to_string();
    let scope = "https://management.azure.com/.default";

    let expect =
        |(status, body): (StatusCode, Value), error: &str, code: u64, description: &str| {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], error, "{body}");
            assert_eq!(body["error_codes"], json!([code]), "{body}");
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with(description),
                "{body}"
            );
            for k in ["timestamp", "trace_id", "correlation_id"] {
                assert!(body[k].is_string(), "{k} missing: {body}");
            }
        };
    let invalid = "AADSTS50126: Error validating credentials due to invalid username or password.";
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            "wrong",
            scope,
        )
        .await,
        "invalid_grant",
        50126,
        invalid,
    );
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            "nobody@acrylic.local",
            &b.password,
            scope,
        )
        .await,
        "invalid_grant",
        50126,
        invalid,
    );
    // A tenant that does not exist, and a real tenant the user is not in.
    expect(
        sign_in_raw(
            &s,
            &TenantId::new_random().to_string(),
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            scope,
        )
        .await,
        "invalid_request",
        90002,
        "AADSTS90002: Tenant",
    );
    let other = TenantId::new_random();
    s.state()
        .meta
        .create_tenant(&Tenant {
            id: other,
            domain: "other.example".into(),
            display_name: "other".into(),
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    expect(
        sign_in_raw(
            &s,
            &other.to_string(),
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            scope,
        )
        .await,
        "invalid_grant",
        50126,
        invalid,
    );
    expect(
        sign_in_raw(
            &s,
            "other.example",
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            scope,
        )
        .await,
        "invalid_grant",
        50126,
        invalid,
    );
    // A disabled user with the right password gets its own error; with a
    // wrong one, the generic one.
    create_user(&s, b.tenant, "off@acrylic.local", "pw-of-off", false).await;
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            "off@acrylic.local",
            "pw-of-off",
            scope,
        )
        .await,
        "invalid_grant",
        50057,
        "AADSTS50057: The user account is disabled.",
    );
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            "off@acrylic.local",
            "guess",
            scope,
        )
        .await,
        "invalid_grant",
        50126,
        invalid,
    );
    // Unknown client, unknown resource, bad scope, missing field, other grants.
    expect(
        sign_in_raw(
            &s,
            &tenant,
            "11111111-2222-3333-4444-555555555555",
            &b.username,
            &b.password,
            scope,
        )
        .await,
        "unauthorized_client",
        700016,
        "AADSTS700016:",
    );
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            "https://vault.azure.net/.default",
        )
        .await,
        "invalid_resource",
        500011,
        "AADSTS500011:",
    );
    expect(
        sign_in_raw(
            &s,
            &tenant,
            ACRYLIC_CLI_CLIENT_ID,
            &b.username,
            &b.password,
            "openid profile",
        )
        .await,
        "invalid_scope",
        70011,
        "AADSTS70011:",
    );
    let post = |form: Vec<(&'static str, &'static str)>| {
        let url = format!("{}/{tenant}/oauth2/v2.0/token", s.base_url());
        let c = s.client();
        async move {
            let r = c.post(url).form(&form).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    expect(
        post(vec![
            ("client_id", ACRYLIC_CLI_CLIENT_ID),
            ("username", "x"),
        ])
        .await,
        "invalid_request",
        900144,
        "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
    );
    expect(
        post(vec![
            ("grant_type", "authorization_code"),
            ("client_id", "x"),
            ("code", "y"),
        ])
        .await,
        "unsupported_grant_type",
        70003,
        "AADSTS70003:",
    );
}

#[tokio::test]
async fn discovery_and_jwks_verify_the_token() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let base = s.base_url().to_owned();
    let r = s
        .client()
        .get(format!(
            "{base}/organizations/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(
        doc["token_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{base}/organizations/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{base}/organizations/discovery/v2.0/keys")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    for k in [
        "issuer",
        "response_types_supported",
        "scopes_supported",
        "subject_types_supported",
        "end_session_endpoint",
    ] {
        assert!(!doc[k].is_null(), "{k} missing");
    }

    let t = b.tenant.to_string();
    let doc: Value = s
        .client()
        .get(format!("{base}/{t}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], format!("{base}/{t}/v2.0"));
    let r = s
        .client()
        .get(format!(
            "{base}/{}/v2.0/.well-known/openid-configuration",
            TenantId::new_random()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // The published key verifies the access token (and only the right
    // audience passes validation).
    let jwks: jsonwebtoken::jwk::JwkSet = s
        .client()
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks.keys.is_empty());
    let token = owner_token(&s).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("the token's kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[ARM]);
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    assert_eq!(data.claims["tid"], t);
    validation.set_audience(&["https://containerregistry.azure.net"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &key, &validation).is_err());
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    validation.set_audience(&[ARM]);
    assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err());
}

#[tokio::test]
async fn registry_crud() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let token = owner_token(&s).await;
    let t = Some(token.as_str());
    let regs = registries_path(&s);

    let (status, subs) = arm(&s, t, Method::GET, "/subscriptions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        subs["value"][0]["subscriptionId"],
        b.subscription.to_string()
    );
    assert_eq!(subs["value"][0]["tenantId"], b.tenant.to_string());

    let (status, rg) = arm(
        &s,
        t,
        Method::GET,
        &format!(
            "/subscriptions/{}/resourcegroups/{}",
            b.subscription, b.resource_group
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rg}");
    assert_eq!(rg["name"], b.resource_group.to_string());

    // Create (201), then PUT again: ARM's create-or-update (200).
    let body = json!({"location": "local", "sku": {"name": "basic"}, "properties": {"adminUserEnabled": false}});
    let (status, reg) = arm(
        &s,
        t,
        Method::PUT,
        &format!("{regs}/ArmTest1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let id = format!("{regs}/armtest1");
    assert_eq!(reg["id"], id);
    assert_eq!(reg["name"], "armtest1");
    assert_eq!(reg["type"], "Microsoft.ContainerRegistry/registries");
    assert_eq!(reg["location"], "local");
    assert_eq!(reg["sku"]["name"], "Basic");
    let props = &reg["properties"];
    assert_eq!(
        props["loginServer"],
        s.state()
            .settings
            .login_server(&"armtest1".parse().unwrap())
    );
    assert_eq!(props["provisioningState"], "Succeeded");
    assert_eq!(props["adminUserEnabled"], false);
    assert_eq!(props["anonymousPullEnabled"], false);
    assert_eq!(props["roleAssignmentMode"], "LegacyRegistryPermissions");
    assert_eq!(
        props["policies"]["azureADAuthenticationAsArmPolicy"]["status"],
        "enabled"
    );
    assert!(props["creationDate"].as_str().unwrap().ends_with('Z'));
    let (status, again) = arm(
        &s,
        t,
        Method::PUT,
        &id,
        Some(json!({"location": "local", "sku": {"name": "Premium"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["sku"]["name"], "Premium");

    let (status, got) = arm(&s, t, Method::GET, &id, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["properties"]["loginServer"], props["loginServer"]);

    // Listings: resource group, subscription, and az's resource filter.
    let names = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, list) = arm(&s, t, Method::GET, &regs, None).await;
    assert!(
        names(&list).contains(&"armtest1".to_owned())
            && names(&list).contains(&b.registry.to_string())
    );
    let (_, list) = arm(
        &s,
        t,
        Method::GET,
        &format!(
            "/subscriptions/{}/providers/Microsoft.ContainerRegistry/registries",
            b.subscription
        ),
        None,
    )
    .await;
    assert!(names(&list).contains(&"armtest1".to_owned()));
    let (status, list) = arm(
        &s,
        t,
        Method::GET,
        &format!(
            "/subscriptions/{}/resources?$filter=resourceType%20eq%20%27Microsoft.ContainerRegistry%2Fregistries%27",
            b.subscription
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let found = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "armtest1")
        .unwrap();
    assert_eq!(found["id"], id);
    assert_eq!(found["type"], "Microsoft.ContainerRegistry/registries");

    // Name availability, and the name taken from another resource group.
    let check = format!(
        "/subscriptions/{}/providers/Microsoft.ContainerRegistry/checkNameAvailability",
        b.subscription
    );
    let (_, avail) = arm(
        &s,
        t,
        Method::POST,
        &check,
        Some(json!({"name": "armtest1", "type": "Microsoft.ContainerRegistry/registries"})),
    )
    .await;
    assert_eq!(avail["nameAvailable"], false);
    assert_eq!(avail["reason"], "AlreadyExists");
    let (_, avail) = arm(
        &s,
        t,
        Method::POST,
        &check,
        Some(json!({"name": "freename1", "type": "Microsoft.ContainerRegistry/registries"})),
    )
    .await;
    assert_eq!(avail["nameAvailable"], true);
    s.state()
        .meta
        .put_resource_group(&ResourceGroup {
            subscription_id: b.subscription,
            name: ResourceGroupName::parse("other").unwrap(),
            location: "local".into(),
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .unwrap();
    let other_rg = format!(
        "/subscriptions/{}/resourceGroups/other/providers/Microsoft.ContainerRegistry/registries",
        b.subscription
    );
    let (status, err) = arm(
        &s,
        t,
        Method::PUT,
        &format!("{other_rg}/armtest1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::CONFLICT, "RegistryNameNotAvailable"),
        "{err}"
    );
    let (status, err) = arm(&s, t, Method::GET, &format!("{other_rg}/armtest1"), None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::NOT_FOUND, "ResourceNotFound"),
        "{err}"
    );

    // Bad requests.
    let (status, err) = arm(
        &s,
        t,
        Method::PUT,
        &format!("{regs}/armtest2"),
        Some(json!({"sku": {"name": "Basic"}})),
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent"),
        "{err}"
    );
    let (status, err) = arm(
        &s,
        t,
        Method::PUT,
        &format!("{regs}/armtest2"),
        Some(json!({"location": "x", "sku": {"name": "Gold"}})),
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent"),
        "{err}"
    );
    let (status, err) = arm(
        &s,
        t,
        Method::PATCH,
        &id,
        Some(json!({"properties": {"adminUserEnabled": "yes"}})),
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent"),
        "{err}"
    );
    let (status, err) = arm(&s, t, Method::GET, &format!("{regs}/bad-name"), None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidResourceName"),
        "{err}"
    );
    let missing_rg = format!(
        "/subscriptions/{}/resourceGroups/nope/providers/Microsoft.ContainerRegistry/registries/armtest2",
        b.subscription
    );
    let (status, err) = arm(&s, t, Method::PUT, &missing_rg, Some(body.clone())).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::NOT_FOUND, "ResourceGroupNotFound"),
        "{err}"
    );
    let (status, err) = arm(
        &s,
        t,
        Method::GET,
        &format!("/subscriptions/{}", TenantId::new_random()),
        None,
    )
    .await;
    // The owner's role is on the bootstrap subscription only.
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::FORBIDDEN, "AuthorizationFailed"),
        "{err}"
    );

    // PATCH the settings.
    let (status, patched) = arm(
        &s,
        t,
        Method::PATCH,
        &id,
        Some(json!({"properties": {"adminUserEnabled": true, "anonymousPullEnabled": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["properties"]["adminUserEnabled"], true);
    assert_eq!(patched["properties"]["anonymousPullEnabled"], true);
    let stored = s
        .state()
        .meta
        .find_registry_by_name(&"armtest1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.admin_enabled && stored.anonymous_pull_enabled);

    // Delete (200), then it is gone (404), and deleting again is a 204.
    let (status, _) = arm(&s, t, Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = arm(&s, t, Method::GET, &id, None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::NOT_FOUND, "ResourceNotFound"),
        "{err}"
    );
    let (status, _) = arm(&s, t, Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        s.state()
            .meta
            .find_registry_by_name(&"armtest1".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn admin_credentials_show_and_renew() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let token = owner_token(&s).await;
    let t = Some(token.as_str());
    let id = format!("{}/{}", registries_path(&s), b.registry);

    // Disabled by default: ACR's 400 and message (acr-auth.md §6.5).
    for op in ["listCredentials", "regenerateCredential"] {
        let body = (op == "regenerateCredential").then(|| json!({"name": "password"}));
        let (status, err) = arm(&s, t, Method::POST, &format!("{id}/{op}"), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{op}: {err}");
        assert_eq!(error_code(&err), "AdminUserDisabled");
        assert_eq!(
            err["error"]["message"],
            format!(
                "Cannot perform credential operations for {id} as Admin user is disabled. Enable Admin user feature and try again."
            )
        );
    }

    let (status, _) = arm(
        &s,
        t,
        Method::PATCH,
        &id,
        Some(json!({"properties": {"adminUserEnabled": true}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, creds) = arm(&s, t, Method::POST, &format!("{id}/listCredentials"), None).await;
    assert_eq!(status, StatusCode::OK, "{creds}");
    assert_eq!(creds["username"], b.registry.to_string());
    assert_eq!(creds["passwords"][0]["name"], "password");
    assert_eq!(creds["passwords"][1]["name"], "password2");
    let p1 = creds["passwords"][0]["value"].as_str().unwrap().to_owned();
    let p2 = creds["passwords"][1]["value"].as_str().unwrap().to_owned();
    assert_eq!(p1.len(), 52);
    assert_ne!(p1, p2);
    // The shown password logs in at the token service.
    s.token(
        b.registry.as_str(),
        b.registry.as_str(),
        &p2,
        &["repository:x/y:pull"],
    )
    .await;

    // Renewing password2 changes only password2.
    let (status, renewed) = arm(
        &s,
        t,
        Method::POST,
        &format!("{id}/regenerateCredential"),
        Some(json!({"name": "password2"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["passwords"][0]["value"], p1.as_str());
    let new2 = renewed["passwords"][1]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new2, p2);
    let (_, again) = arm(&s, t, Method::POST, &format!("{id}/listCredentials"), None).await;
    assert_eq!(again, renewed);
    // The old password2 stops working at once; the new one and password work.
    let old = s
        .client()
        .get(format!("{}/oauth2/token", s.base_url()))
        .header("host", s.host_header(b.registry.as_str()))
        .query(&[
            ("service", s.host_header(b.registry.as_str())),
            ("scope", "repository:x/y:pull".into()),
        ])
        .basic_auth(b.registry.as_str(), Some(&p2))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    s.token(
        b.registry.as_str(),
        b.registry.as_str(),
        &new2,
        &["repository:x/y:pull"],
    )
    .await;
    s.token(
        b.registry.as_str(),
        b.registry.as_str(),
        &p1,
        &["repository:x/y:pull"],
    )
    .await;

    let (status, err) = arm(
        &s,
        t,
        Method::POST,
        &format!("{id}/regenerateCredential"),
        Some(json!({"name": "password3"})),
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent"),
        "{err}"
    );

    // The audit log records the credential reads and the renewal.
    let (status, log) = arm(
        &s,
        t,
        Method::GET,
        &format!("{id}/auditLogs?action=credential.renew"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["principal"], format!("user:{}", b.username));
    assert_eq!(entries[0]["decision"], "granted");
    let (_, log) = arm(
        &s,
        t,
        Method::GET,
        &format!("{id}/auditLogs?action=credential.show&top=1"),
        None,
    )
    .await;
    assert_eq!(log["value"].as_array().unwrap().len(), 1, "{log}");
    let (status, err) = arm(
        &s,
        t,
        Method::GET,
        &format!("{id}/auditLogs?since=yesterday"),
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::BAD_REQUEST, "InvalidRequestContent"),
        "{err}"
    );
}

#[tokio::test]
async fn a_user_without_a_role_is_refused_with_authorization_failed() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let user = create_user(
        &s,
        b.tenant,
        "nobody@acrylic.local",
        "nobody-password",
        true,
    )
    .await;
    let (status, body) = sign_in_raw(
        &s,
        "organizations",
        ACRYLIC_CLI_CLIENT_ID,
        "nobody@acrylic.local",
        "nobody-password",
        "https://management.azure.com/.default",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    let id = format!("{}/{}", registries_path(&s), b.registry);

    for (method, path, action, body) in [
        (
            Method::GET,
            id.clone(),
            "Microsoft.ContainerRegistry/registries/read",
            None,
        ),
        (
            Method::PATCH,
            id.clone(),
            "Microsoft.ContainerRegistry/registries/write",
            Some(json!({"properties": {"adminUserEnabled": true}})),
        ),
        (
            Method::DELETE,
            id.clone(),
            "Microsoft.ContainerRegistry/registries/delete",
            None,
        ),
        (
            Method::POST,
            format!("{id}/listCredentials"),
            "Microsoft.ContainerRegistry/registries/listCredentials/action",
            None,
        ),
        (
            Method::PUT,
            format!("{}/another1", registries_path(&s)),
            "Microsoft.ContainerRegistry/registries/write",
            Some(json!({"location": "local", "sku": {"name": "Basic"}})),
        ),
    ] {
        let (status, err) = arm(&s, t, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {err}");
        assert_eq!(error_code(&err), "AuthorizationFailed");
        let msg = err["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("'{action}'")), "{msg}");
        let scope = path.trim_end_matches("/listCredentials");
        assert!(msg.contains(&format!("over scope '{scope}'")), "{msg}");
        assert!(
            msg.contains(&user.id.to_string()) && msg.contains("nobody@acrylic.local"),
            "{msg}"
        );
    }
    // Listings leave out what the caller cannot read.
    let (status, list) = arm(&s, t, Method::GET, &registries_path(&s), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"], json!([]));
    let (_, subs) = arm(&s, t, Method::GET, "/subscriptions", None).await;
    assert_eq!(subs["value"], json!([]));
    // Nothing changed.
    let stored = s
        .state()
        .meta
        .find_registry_by_name(&b.registry)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.admin_enabled);
}

#[tokio::test]
async fn missing_garbage_tampered_expired_and_wrong_audience_tokens_get_401() {
    let s = TestServer::start().await;
    let b = s.bootstrap().clone();
    let path = registries_path(&s);

    let (status, err) = arm(&s, None, Method::GET, &path, None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNAUTHORIZED, "AuthenticationFailed"),
        "{err}"
    );
    let r = s
        .client()
        .get(format!("{}{path}", s.base_url()))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0."] {
        let (status, err) = arm(&s, Some(garbage), Method::GET, &path, None).await;
        assert_eq!(
            (status, error_code(&err)),
            (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"),
            "{garbage}: {err}"
        );
    }
    let good = owner_token(&s).await;
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut claims = payload(&good);
    claims["upn"] = json!("someone-else@acrylic.local");
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let (status, err) = arm(&s, Some(&parts.join(".")), Method::GET, &path, None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"),
        "{err}"
    );

    // Properly signed, but expired: minted with the server's own key ring
    // (which signs only with keys active at `iat`, hence `iat` = now).
    let owner = s
        .state()
        .meta
        .find_user_by_upn(&b.username)
        .await
        .unwrap()
        .unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let expired = DirectoryClaims {
        aud: ARM.into(),
        iss: acrylic_server::directory::v1_issuer(&b.tenant),
        iat: now,
        nbf: now,
        exp: now - 3600,
        tid: b.tenant,
        oid: owner.id,
        sub: owner.id.to_string(),
        upn: Some(owner.upn.clone()),
        name: None,
        idtyp: "user".into(),
        scp: Some("user_impersonation".into()),
        appid: Some(ACRYLIC_CLI_CLIENT_ID.into()),
        ver: "1.0".into(),
    };
    let token = s.state().keys.mint_directory(&expired).unwrap();
    let (status, err) = arm(&s, Some(&token), Method::GET, &path, None).await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNAUTHORIZED, "ExpiredAuthenticationToken"),
        "{err}"
    );
    // The same claims, not expired, pass: only `exp` was wrong.
    let fresh = DirectoryClaims {
        iat: now,
        nbf: now,
        exp: now + 600,
        ..expired.clone()
    };
    let (status, _) = arm(
        &s,
        Some(&s.state().keys.mint_directory(&fresh).unwrap()),
        Method::GET,
        &path,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A foreign issuer is refused even with a good signature.
    let foreign = DirectoryClaims {
        iss: "https://evil.example/".into(),
        ..fresh.clone()
    };
    let (status, err) = arm(
        &s,
        Some(&s.state().keys.mint_directory(&foreign).unwrap()),
        Method::GET,
        &path,
        None,
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken"),
        "{err}"
    );

    // A token for the registry audience is not a control-plane token.
    let (status, body) = sign_in_raw(
        &s,
        &b.tenant.to_string(),
        ACRYLIC_CLI_CLIENT_ID,
        &b.username,
        &b.password,
        "https://containerregistry.azure.net/.default",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, err) = arm(&s, body["access_token"].as_str(), Method::GET, &path, None).await;
    assert_eq!(
        (status, error_code(&err)),
        (
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationTokenAudience"
        ),
        "{err}"
    );
}
