//! Service principals over real HTTP (issue #4 §1–2), from the attacker's
//! side: the Graph-shaped application and service-principal API, the
//! directory's `client_credentials` grant with client secrets, certificate
//! assertions and federated tokens from an OIDC issuer the test serves on
//! 127.0.0.1, expiry to the second under the server's frozen clock, Basic
//! `appId` + secret logins at the registry's token service, the exchange
//! of app tokens, multi-tenant provisioning, revocation (deleted credential,
//! deleted or disabled service principal, removed role) and `/metrics`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use acrylic_authz::roles;
use acrylic_model::{ObjectId, TenantId};
use acrylic_server::directory::{ACRYLIC_CLI_CLIENT_ID, CREDENTIAL_EXPIRES_HEADER};
use acrylic_store::{PrincipalType, RoleAssignment, Tenant, User};
use acrylic_testkit::TestServer;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HOST;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const ACR_SCOPE: &str = "https://containerregistry.azure.net/.default";
const ARM_SCOPE: &str = "https://management.core.windows.net//.default";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const PASSWORD: &str = "Correct-Horse-Battery-1";
const API: &str = "api-version=2022-04-01";

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn parse_date(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap()
}

/// A response's status, JSON body (Null when empty) and headers.
struct Answer {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        body,
        headers,
    }
}

/// An application with its service principal and a client secret.
#[derive(Clone)]
struct App {
    app_id: String,
    object_id: String,
    sp: ObjectId,
    secret: String,
    key_id: String,
}

/// The test server, the owner's Graph and ARM tokens, the registry host.
struct World {
    s: TestServer,
    graph: String,
    arm: String,
    host: String,
}

impl World {
    async fn start() -> World {
        let s = TestServer::start().await;
        let b = s.bootstrap().clone();
        let graph = password_token(
            &s,
            &b.tenant.to_string(),
            &b.username,
            &b.password,
            GRAPH_SCOPE,
        )
        .await;
        let arm = password_token(
            &s,
            &b.tenant.to_string(),
            &b.username,
            &b.password,
            ARM_SCOPE,
        )
        .await;
        let host = s.host_header(b.registry.as_str());
        World {
            s,
            graph,
            arm,
            host,
        }
    }

    fn tenant(&self) -> TenantId {
        self.s.bootstrap().tenant
    }

    fn registry_scope(&self) -> String {
        let b = self.s.bootstrap();
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
            b.subscription, b.resource_group, b.registry
        )
    }

    async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .s
            .client()
            .request(method, format!("{}{path}", self.s.base_url()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn graph(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.call(&self.graph, method, path, body).await
    }

    /// Application + service principal + one secret, as create-for-rbac.
    async fn app(&self, name: &str) -> App {
        self.app_with(name, "AzureADMyOrg").await
    }

    async fn app_with(&self, name: &str, audience: &str) -> App {
        let a = self
            .graph(
                Method::POST,
                "/v1.0/applications",
                Some(json!({"displayName": name, "signInAudience": audience})),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        let app_id = a.body["appId"].as_str().unwrap().to_owned();
        let object_id = a.body["id"].as_str().unwrap().to_owned();
        let sp = self
            .graph(
                Method::POST,
                "/v1.0/servicePrincipals",
                Some(json!({"appId": app_id})),
            )
            .await;
        assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.body);
        let (secret, key_id) = self.add_password(&app_id, json!({})).await;
        App {
            sp: ObjectId::parse(sp.body["id"].as_str().unwrap()).unwrap(),
            app_id,
            object_id,
            secret,
            key_id,
        }
    }

    /// `addPassword`: (secretText, keyId).
    async fn add_password(&self, app: &str, credential: Value) -> (String, String) {
        let r = self
            .graph(
                Method::POST,
                &format!("/v1.0/applications/{app}/addPassword"),
                Some(json!({"passwordCredential": credential})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (
            r.body["secretText"].as_str().unwrap().to_owned(),
            r.body["keyId"].as_str().unwrap().to_owned(),
        )
    }

    async fn assign(&self, role: uuid::Uuid, principal: &ObjectId) -> Answer {
        let b = self.s.bootstrap();
        let path = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}?{API}",
            self.registry_scope(),
            uuid::Uuid::new_v4()
        );
        self.call(
            &self.arm,
            Method::PUT,
            &path,
            Some(json!({"properties": {
                "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}", b.subscription),
                "principalId": principal.to_string(),
                "principalType": "ServicePrincipal",
            }})),
        )
        .await
    }

    /// `POST /{tenant}/oauth2/v2.0/token` with a form.
    async fn directory_token(&self, tenant: &str, form: &[(&str, &str)]) -> Answer {
        answer(
            self.s
                .client()
                .post(format!("{}/{tenant}/oauth2/v2.0/token", self.s.base_url()))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn secret_login(&self, tenant: &str, app_id: &str, secret: &str, scope: &str) -> Answer {
        self.directory_token(
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app_id),
                ("client_secret", secret),
                ("scope", scope),
                ("client_info", "1"),
            ],
        )
        .await
    }

    async fn assertion_login(&self, tenant: &str, app_id: &str, assertion: &str) -> Answer {
        self.directory_token(
            tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", app_id),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
                ("scope", ACR_SCOPE),
            ],
        )
        .await
    }

    /// The token endpoint an assertion's `aud` names.
    fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.s.base_url(), self.tenant())
    }

    /// docker/skopeo's `GET /oauth2/token` with Basic credentials.
    async fn basic(&self, user: &str, password: &str, scope: &str) -> Answer {
        answer(
            self.s
                .client()
                .get(format!("{}/oauth2/token", self.s.base_url()))
                .header(HOST, &self.host)
                .query(&[("service", self.host.as_str()), ("scope", scope)])
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The `access` a Basic login is granted.
    async fn granted(&self, user: &str, password: &str, scope: &str) -> Value {
        let a = self.basic(user, password, scope).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        payload(a.body["access_token"].as_str().unwrap())["access"].clone()
    }

    async fn v2(&self, method: Method, path: &str, bearer: &str) -> Answer {
        answer(
            self.s
                .client()
                .request(method, format!("{}{path}", self.s.base_url()))
                .header(HOST, &self.host)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

async fn password_token(
    s: &TestServer,
    tenant: &str,
    upn: &str,
    password: &str,
    scope: &str,
) -> String {
    let r = s
        .client()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", s.base_url()))
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
    let a = answer(r).await;
    assert_eq!(a.status, StatusCode::OK, "sign-in of {upn}: {}", a.body);
    a.body["access_token"].as_str().unwrap().to_owned()
}

fn error_of(a: &Answer) -> (String, u64, String) {
    (
        a.body["error"].as_str().unwrap_or_default().to_owned(),
        a.body["error_codes"][0].as_u64().unwrap_or_default(),
        a.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn refused(a: &Answer, status: StatusCode, error: &str, code: u64) -> String {
    let (e, c, d) = error_of(a);
    assert_eq!(
        (a.status, e.as_str(), c),
        (status, error, code),
        "{}",
        a.body
    );
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    d
}

fn entry(name: &str, actions: &[&str]) -> Value {
    json!([{"type": "repository", "name": name, "actions": actions}])
}

// ---- the Graph surface ------------------------------------------------------

#[tokio::test]
async fn applications_and_service_principals_through_graph() {
    let w = World::start().await;
    let created = w
        .graph(
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "ci-pipeline"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["signInAudience"], "AzureADMyOrg");
    assert_eq!(created.body["passwordCredentials"], json!([]));
    let app_id = created.body["appId"].as_str().unwrap().to_owned();
    let object_id = created.body["id"].as_str().unwrap().to_owned();
    assert_ne!(app_id, object_id);

    // By appId or object id; filters.
    for id in [&app_id, &object_id] {
        let shown = w
            .graph(Method::GET, &format!("/v1.0/applications/{id}"), None)
            .await;
        assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
        assert_eq!(shown.body["appId"], app_id.as_str());
    }
    let listed = w
        .graph(
            Method::GET,
            &format!("/v1.0/applications?$filter=appId eq '{app_id}'"),
            None,
        )
        .await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    let none = w
        .graph(
            Method::GET,
            "/v1.0/applications?$filter=displayName eq 'nope'",
            None,
        )
        .await;
    assert_eq!(none.body["value"], json!([]));

    // A secret: shown once, 40 characters, its hint its first three, one
    // year exactly by default; later reads show the hint only.
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let added = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{app_id}/addPassword"),
            Some(json!({"passwordCredential": {"displayName": "rbac"}})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let secret = added.body["secretText"].as_str().unwrap();
    assert_eq!(secret.len(), 40);
    assert_eq!(added.body["hint"], &secret[..3]);
    let start = parse_date(added.body["startDateTime"].as_str().unwrap());
    let end = parse_date(added.body["endDateTime"].as_str().unwrap());
    assert_eq!(end - start, time::Duration::days(365));
    assert!(start >= t0 - time::Duration::seconds(1));
    let shown = w
        .graph(Method::GET, &format!("/v1.0/applications/{app_id}"), None)
        .await;
    let creds = shown.body["passwordCredentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0]["secretText"], Value::Null);
    assert!(!shown.body.to_string().contains(secret));

    // Dates given; an end before the start is refused.
    let (_, _) = w
        .add_password(&app_id, json!({"endDateTime": "2099-01-01T00:00:00Z"}))
        .await;
    let bad = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{app_id}/addPassword"),
            Some(json!({"passwordCredential": {"startDateTime": "2030-01-02T00:00:00Z", "endDateTime": "2030-01-01T00:00:00Z"}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // Update, service principal, list.
    let patched = w
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{object_id}"),
            Some(json!({"displayName": "ci"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let unknown_field = w
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{object_id}"),
            Some(json!({"requiredResourceAccess": []})),
        )
        .await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    let sp = w
        .graph(
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.body);
    assert_eq!(sp.body["displayName"], "ci");
    assert_eq!(sp.body["appOwnerOrganizationId"], w.tenant().to_string());
    assert_eq!(
        sp.body["passwordCredentials"].as_array().unwrap().len(),
        2,
        "{}",
        sp.body
    );
    let again = w
        .graph(
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    let sps = w.graph(Method::GET, "/v1.0/servicePrincipals", None).await;
    assert!(
        sps.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["appId"] == app_id.as_str())
    );

    // Deleting the application takes its service principal with it.
    let deleted = w
        .graph(
            Method::DELETE,
            &format!("/v1.0/applications/{app_id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = w
        .graph(
            Method::GET,
            &format!("/v1.0/servicePrincipals/{app_id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        w.s.state()
            .meta
            .find_service_principal(&ObjectId::parse(sp.body["id"].as_str().unwrap()).unwrap())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn managing_applications_needs_a_directory_role() {
    let w = World::start().await;
    let t = OffsetDateTime::now_utc();
    let user = User {
        id: ObjectId::new_random(),
        tenant_id: w.tenant(),
        upn: "dev@acrylic.local".into(),
        display_name: "dev".into(),
        password_hash: acrylic_identity::password::hash(PASSWORD).unwrap(),
        enabled: true,
        sessions_valid_after: t - time::Duration::hours(1),
        created_at: t,
    };
    w.s.state().meta.create_user(&user).await.unwrap();
    let token = password_token(
        &w.s,
        &w.tenant().to_string(),
        &user.upn,
        PASSWORD,
        GRAPH_SCOPE,
    )
    .await;
    let refused = w
        .call(
            &token,
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("microsoft.directory/applications/create"),
        "{message}"
    );
    let app = w.app("owned-by-admin").await;
    let peek = w
        .call(
            &token,
            Method::POST,
            &format!("/v1.0/applications/{}/addPassword", app.app_id),
            Some(json!({})),
        )
        .await;
    assert_eq!(peek.status, StatusCode::FORBIDDEN, "{}", peek.body);

    // Application Administrator may.
    w.s.state()
        .meta
        .create_role_assignment(&RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope: acrylic_model::ArmScope::root(),
            role_definition_id: roles::APPLICATION_ADMINISTRATOR,
            principal_id: user.id,
            principal_type: PrincipalType::User,
            condition: None,
            created_at: t,
        })
        .await
        .unwrap();
    let allowed = w
        .call(
            &token,
            Method::POST,
            "/v1.0/applications",
            Some(json!({"displayName": "x"})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.body);
}

// ---- client secrets at the directory ----------------------------------------

#[tokio::test]
async fn client_secret_sign_in_and_its_refusals() {
    let w = World::start().await;
    let app = w.app("secret-app").await;
    let tenant = w.tenant().to_string();

    let ok = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "Bearer");
    assert_eq!(ok.body["expires_in"], 3600);
    assert!(ok.body.get("refresh_token").is_none());
    assert!(ok.body.get("id_token").is_none());
    let claims = payload(ok.body["access_token"].as_str().unwrap());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["appid"], app.app_id.as_str());
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["oid"], app.sp.to_string());
    assert_eq!(claims["sub"], app.sp.to_string());
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["aud"], "https://containerregistry.azure.net");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{tenant}/"));
    assert!(claims.get("upn").is_none());
    let ends = ok.headers[CREDENTIAL_EXPIRES_HEADER].to_str().unwrap();
    let ends = parse_date(ends);
    assert!(
        (ends - OffsetDateTime::now_utc() - time::Duration::days(365)).abs()
            < time::Duration::minutes(1)
    );

    // By domain too; for ARM.
    let arm = w
        .secret_login("acrylic.local", &app.app_id, &app.secret, ARM_SCOPE)
        .await;
    assert_eq!(arm.status, StatusCode::OK, "{}", arm.body);

    // Wrong secret, another app's secret, the secret's hint alone.
    let other = w.app("other-app").await;
    for wrong in [
        format!("{}x", app.secret),
        other.secret.clone(),
        app.secret[..3].to_owned(),
    ] {
        let r = w
            .secret_login(&tenant, &app.app_id, &wrong, ACR_SCOPE)
            .await;
        let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 7000215);
        assert!(d.contains(&app.app_id), "{d}");
    }
    // Unknown client, no credential, multi-tenant path, non-.default scope.
    let r = w
        .secret_login(
            &tenant,
            &uuid::Uuid::new_v4().to_string(),
            &app.secret,
            ACR_SCOPE,
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "unauthorized_client", 700016);
    let r = w
        .directory_token(
            &tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app.app_id),
                ("scope", ACR_SCOPE),
            ],
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_request", 7000216);
    let r = w
        .secret_login("organizations", &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_request", 50059);
    let r = w
        .secret_login(
            &tenant,
            &app.app_id,
            &app.secret,
            "https://management.azure.com/user_impersonation",
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_scope", 1002012);

    // A disabled service principal gets nothing, even with the right secret.
    let patched = w
        .graph(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{}", app.sp),
            Some(json!({"accountEnabled": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let r = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "unauthorized_client", 7000112);

    // Sign-ins are audited under the app, never with the secret.
    let audit =
        w.s.state()
            .meta
            .list_audit(&acrylic_store::AuditFilter {
                principal: Some(format!("sp:{}", app.app_id)),
                ..Default::default()
            })
            .await
            .unwrap();
    assert!(audit.iter().any(|a| a.decision == "granted"));
    assert!(audit.iter().any(|a| a.decision == "failed"));
    assert!(audit.iter().all(|a| {
        !a.detail
            .as_deref()
            .unwrap_or_default()
            .contains(&app.secret)
    }));
}

#[tokio::test]
async fn a_secret_works_until_365_days_and_not_a_second_longer() {
    let mut w = World::start().await;
    let mut app = w.app("expiring").await;
    // The credential's start, as the server recorded it.
    let shown = w
        .graph(
            Method::GET,
            &format!("/v1.0/applications/{}", app.app_id),
            None,
        )
        .await;
    let start = parse_date(
        shown.body["passwordCredentials"][0]["startDateTime"]
            .as_str()
            .unwrap(),
    );
    let end = parse_date(
        shown.body["passwordCredentials"][0]["endDateTime"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(end - start, time::Duration::days(365));
    w.assign(roles::ACR_PULL, &app.sp).await;
    let tenant = w.tenant().to_string();
    let clock = w.s.state().clock.clone();

    // 365 days minus one second: still good, at the directory and at the
    // registry.
    clock.freeze(end - time::Duration::SECOND);
    let ok = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let basic = w.basic(&app.app_id, &app.secret, "repository:x:pull").await;
    assert_eq!(basic.status, StatusCode::OK, "{}", basic.body);

    // 365 days: refused, naming the date and the command that renews it —
    // also through the cache that now holds the verified secret.
    clock.freeze(end);
    let r = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 7000222);
    let end_text = end.format(&Rfc3339).unwrap();
    assert!(d.contains(&end_text), "{d}");
    assert!(
        d.contains(&format!(
            "acrylic ad sp credential reset --id {}",
            app.app_id
        )),
        "{d}"
    );
    let basic = w.basic(&app.app_id, &app.secret, "repository:x:pull").await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED, "{}", basic.body);
    let m = basic.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        m.contains(&end_text) && m.contains("acrylic ad sp credential reset"),
        "{m}"
    );

    // A new secret (the reset) works at that instant. The owner's Graph
    // token from the start is a year old by the server's clock: the owner
    // signs in again (and the old token is used again once it resumes).
    let b = w.s.bootstrap().clone();
    let fresh = password_token(&w.s, &tenant, &b.username, &b.password, GRAPH_SCOPE).await;
    let year_old = std::mem::replace(&mut w.graph, fresh);
    let (secret, _) = w.add_password(&app.app_id, json!({})).await;
    app.secret = secret;
    let ok = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // ... minted at the frozen time.
    assert_eq!(
        payload(ok.body["access_token"].as_str().unwrap())["iat"],
        end.unix_timestamp()
    );

    // Not valid before its start.
    clock.resume();
    w.graph = year_old;
    let (future, _) = w
        .add_password(
            &app.app_id,
            json!({"startDateTime": "2090-01-01T00:00:00Z", "endDateTime": "2091-01-01T00:00:00Z"}),
        )
        .await;
    let r = w
        .secret_login(&tenant, &app.app_id, &future, ACR_SCOPE)
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 7000222);
}

#[tokio::test]
async fn an_appended_secret_keeps_the_old_one_until_it_is_deleted() {
    let w = World::start().await;
    let app = w.app("rotating").await;
    w.assign(roles::ACR_PUSH, &app.sp).await;
    let tenant = w.tenant().to_string();
    let scope = "repository:team/app:pull,push";

    // Old secret verified (and cached).
    assert_eq!(
        w.granted(&app.app_id, &app.secret, scope).await,
        entry("team/app", &["pull", "push"])
    );
    let (new, _) = w.add_password(&app.app_id, json!({})).await;
    for s in [&app.secret, &new] {
        assert_eq!(
            w.granted(&app.app_id, s, scope).await,
            entry("team/app", &["pull", "push"])
        );
        let ok = w.secret_login(&tenant, &app.app_id, s, ACR_SCOPE).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }

    // Removing the old one: refused at once, though it was just cached.
    let removed = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/removePassword", app.app_id),
            Some(json!({"keyId": app.key_id})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let r = w.basic(&app.app_id, &app.secret, scope).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 7000215);
    assert_eq!(
        w.granted(&app.app_id, &new, scope).await,
        entry("team/app", &["pull", "push"])
    );

    // Removing it twice, or a key of another kind, is a 404.
    let again = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/removePassword", app.app_id),
            Some(json!({"keyId": app.key_id})),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

// ---- the registry ------------------------------------------------------------

#[tokio::test]
async fn basic_logins_at_the_registry_follow_the_role_and_the_principal() {
    let w = World::start().await;
    let pusher = w.app("pusher").await;
    let puller = w.app("puller").await;
    let pushing = w.assign(roles::ACR_PUSH, &pusher.sp).await;
    assert_eq!(pushing.status, StatusCode::CREATED, "{}", pushing.body);
    assert_eq!(
        pushing.body["properties"]["principalType"],
        "ServicePrincipal"
    );
    w.assign(roles::ACR_PULL, &puller.sp).await;
    let scope = "repository:team/app:pull,push";

    let a = w.basic(&pusher.app_id, &pusher.secret, scope).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // No identity token for an appId + secret login (docker keeps the secret).
    assert!(a.body.get("refresh_token").is_none(), "{}", a.body);
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let claims = payload(&access);
    assert_eq!(claims["access"], entry("team/app", &["pull", "push"]));
    assert_eq!(claims["sub"], pusher.sp.to_string());
    assert_eq!(
        w.granted(&puller.app_id, &puller.secret, scope).await,
        entry("team/app", &["pull"])
    );
    // The data plane: the pusher may start an upload, the puller's token
    // does not even carry push.
    let upload = w
        .v2(Method::POST, "/v2/team/app/blobs/uploads/", &access)
        .await;
    assert_eq!(upload.status, StatusCode::ACCEPTED, "{}", upload.body);

    // Wrong secret; the right secret under another appId; no such app.
    for (user, pass) in [
        (pusher.app_id.as_str(), "wrong-secret"),
        (puller.app_id.as_str(), pusher.secret.as_str()),
        (
            "6b2a1d2e-0000-4000-8000-000000000000",
            pusher.secret.as_str(),
        ),
    ] {
        let r = w.basic(user, pass, scope).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{user}: {}", r.body);
    }

    // Deleting the service principal: no new token, and the access token
    // already held is refused by the data plane at once (its role
    // assignment went with it).
    let deleted = w
        .graph(
            Method::DELETE,
            &format!("/v1.0/servicePrincipals/{}", pusher.sp),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let r = w.basic(&pusher.app_id, &pusher.secret, scope).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let upload = w
        .v2(Method::POST, "/v2/team/app/blobs/uploads/", &access)
        .await;
    assert_eq!(upload.status, StatusCode::FORBIDDEN, "{}", upload.body);
    assert!(
        w.s.state()
            .meta
            .list_role_assignments_for(&[pusher.sp])
            .await
            .unwrap()
            .is_empty()
    );

    // Removing the puller's role: the next token grants nothing.
    let assignments =
        w.s.state()
            .meta
            .list_role_assignments_for(&[puller.sp])
            .await
            .unwrap();
    for a in assignments {
        w.s.state()
            .meta
            .delete_role_assignment(&a.id)
            .await
            .unwrap();
    }
    assert_eq!(
        w.granted(&puller.app_id, &puller.secret, scope).await,
        entry("team/app", &[])
    );
}

/// Issue #3 §1: groups have service principals as members, and a role
/// assigned to the group reaches them, through Graph and ARM, until the
/// principal leaves the group.
#[tokio::test]
async fn a_role_assigned_to_a_group_reaches_its_service_principal_members() {
    let w = World::start().await;
    let app = w.app("grouped").await;
    let scope = "repository:team/app:pull,push";
    assert_eq!(
        w.granted(&app.app_id, &app.secret, scope).await,
        entry("team/app", &[]),
        "no role yet"
    );

    let g = w
        .graph(
            Method::POST,
            "/v1.0/groups",
            Some(json!({"displayName": "Pullers", "mailNickname": "pullers",
                        "mailEnabled": false, "securityEnabled": true})),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let group = g.body["id"].as_str().unwrap().to_owned();
    let added = w
        .graph(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            Some(json!({"@odata.id": format!(
                "https://graph.microsoft.com/v1.0/servicePrincipals/{}", app.sp
            )})),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    let members = w
        .graph(Method::GET, &format!("/v1.0/groups/{group}/members"), None)
        .await;
    assert_eq!(
        members.body["value"][0]["@odata.type"], "#microsoft.graph.servicePrincipal",
        "{}",
        members.body
    );
    assert_eq!(members.body["value"][0]["id"], app.sp.to_string());

    let b = w.s.bootstrap();
    let assigned = w
        .call(
            &w.arm,
            Method::PUT,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments/{}?{API}",
                w.registry_scope(),
                uuid::Uuid::new_v4()
            ),
            Some(json!({"properties": {
                "roleDefinitionId": format!(
                    "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}",
                    b.subscription,
                    roles::ACR_PULL
                ),
                "principalId": group,
                "principalType": "Group",
            }})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    assert_eq!(assigned.body["properties"]["principalType"], "Group");

    // The member gets the group's AcrPull: pull, not push.
    assert_eq!(
        w.granted(&app.app_id, &app.secret, scope).await,
        entry("team/app", &["pull"])
    );

    // Out of the group: the next token grants nothing.
    let removed = w
        .graph(
            Method::DELETE,
            &format!("/v1.0/groups/{group}/members/{}/$ref", app.sp),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_eq!(
        w.granted(&app.app_id, &app.secret, scope).await,
        entry("team/app", &[])
    );
}

#[tokio::test]
async fn role_assignments_name_service_principals_that_exist() {
    let w = World::start().await;
    let r = w.assign(roles::ACR_PULL, &ObjectId::new_random()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "PrincipalNotFound", "{}", r.body);
    let app = w.app("real").await;
    let r = w.assign(roles::ACR_PULL, &app.sp).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn app_tokens_are_exchanged_for_registry_refresh_tokens() {
    let w = World::start().await;
    let app = w.app("exchanger").await;
    w.assign(roles::ACR_PUSH, &app.sp).await;
    let tenant = w.tenant().to_string();
    let login = w
        .secret_login(&tenant, &app.app_id, &app.secret, ACR_SCOPE)
        .await;
    let aad = login.body["access_token"].as_str().unwrap().to_owned();
    let exchange = |aad: String| {
        let w = &w;
        let tenant = tenant.clone();
        async move {
            answer(
                w.s.client()
                    .post(format!("{}/oauth2/exchange", w.s.base_url()))
                    .header(HOST, &w.host)
                    .form(&[
                        ("grant_type", "access_token"),
                        ("service", w.host.as_str()),
                        ("tenant", tenant.as_str()),
                        ("access_token", aad.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let ex = exchange(aad.clone()).await;
    assert_eq!(ex.status, StatusCode::OK, "{}", ex.body);
    let refresh = ex.body["refresh_token"].as_str().unwrap().to_owned();
    let rc = payload(&refresh);
    assert_eq!(rc["sub"], app.sp.to_string());
    assert_eq!(rc["permissions"]["actions"], json!(["read", "write"]));
    let refresh_grant = |refresh: String| {
        let w = &w;
        async move {
            answer(
                w.s.client()
                    .post(format!("{}/oauth2/token", w.s.base_url()))
                    .header(HOST, &w.host)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("service", w.host.as_str()),
                        ("scope", "repository:team/app:push"),
                        ("refresh_token", refresh.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let t = refresh_grant(refresh.clone()).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(
        payload(t.body["access_token"].as_str().unwrap())["access"],
        entry("team/app", &["push"])
    );

    // Disabling the service principal stops both at once.
    w.graph(
        Method::PATCH,
        &format!("/v1.0/servicePrincipals/{}", app.app_id),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    let t = refresh_grant(refresh.clone()).await;
    assert_eq!(t.status, StatusCode::UNAUTHORIZED, "{}", t.body);
    let ex = exchange(aad.clone()).await;
    assert_eq!(ex.status, StatusCode::UNAUTHORIZED, "{}", ex.body);
    assert!(
        ex.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    // Deleting it: the exchange says it is gone.
    w.graph(
        Method::DELETE,
        &format!("/v1.0/servicePrincipals/{}", app.app_id),
        None,
    )
    .await;
    let ex = exchange(aad).await;
    assert_eq!(ex.status, StatusCode::UNAUTHORIZED, "{}", ex.body);
    assert!(
        ex.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
}

// ---- certificates ------------------------------------------------------------

/// An RSA key and a self-signed certificate valid from an hour ago for a
/// year: (certificate DER, key PEM).
fn certificate() -> (Vec<u8>, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["ci-cert".into()]).unwrap();
    params.not_before = OffsetDateTime::now_utc() - time::Duration::hours(1);
    params.not_after = OffsetDateTime::now_utc() + time::Duration::days(365);
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key.serialize_pem())
}

fn thumbprint_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

fn thumbprint_sha1(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// A client assertion as MSAL makes it, with `edit` applied to the claims.
fn assertion(
    app_id: &str,
    aud: &str,
    header: Header,
    key_pem: &str,
    edit: impl FnOnce(&mut Value),
) -> String {
    let t = now();
    let mut claims = json!({
        "aud": aud,
        "iss": app_id,
        "sub": app_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": t,
        "nbf": t,
        "exp": t + 600,
    });
    edit(&mut claims);
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn ps256(der: &[u8]) -> Header {
    let mut h = Header::new(Algorithm::PS256);
    h.x5t_s256 = Some(thumbprint_s256(der));
    h
}

#[tokio::test]
async fn certificate_assertions_and_their_attacks() {
    let w = World::start().await;
    let app = w.app("cert-app").await;
    let (der, key) = certificate();
    let added = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/addKey", app.app_id),
            Some(json!({"keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": STANDARD.encode(&der), "displayName": "CN=ci-cert"}})),
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.body["type"], "AsymmetricX509Cert");
    // Its dates are the certificate's.
    let end = parse_date(added.body["endDateTime"].as_str().unwrap());
    assert!(
        (end - OffsetDateTime::now_utc() - time::Duration::days(365)).abs()
            < time::Duration::minutes(1)
    );
    let tenant = w.tenant().to_string();
    let aud = w.token_endpoint();

    // PS256 + x5t#S256 (MSAL for Entra), and RS256 + x5t.
    let good = assertion(&app.app_id, &aud, ps256(&der), &key, |_| {});
    let ok = w.assertion_login(&tenant, &app.app_id, &good).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let claims = payload(ok.body["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["appidacr"].as_str(), claims["idtyp"].as_str()),
        (Some("2"), Some("app"))
    );
    assert!(ok.headers.contains_key(CREDENTIAL_EXPIRES_HEADER));
    let mut rs = Header::new(Algorithm::RS256);
    rs.x5t = Some(thumbprint_sha1(&der));
    let ok = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &assertion(&app.app_id, &aud, rs.clone(), &key, |_| {}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The domain form of the endpoint and a v1 path are accepted audiences.
    let domain_aud = format!("{}/acrylic.local/oauth2/v2.0/token", w.s.base_url());
    let ok = w
        .assertion_login(
            "acrylic.local",
            &app.app_id,
            &assertion(&app.app_id, &domain_aud, ps256(&der), &key, |_| {}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    // Replayed.
    let r = w.assertion_login(&tenant, &app.app_id, &good).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700025);

    // Wrong audience: another tenant's endpoint, another host.
    for bad_aud in [
        format!(
            "{}/{}/oauth2/v2.0/token",
            w.s.base_url(),
            TenantId::new_random()
        ),
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
    ] {
        let a = assertion(&app.app_id, &bad_aud, ps256(&der), &key, |_| {});
        let r = w.assertion_login(&tenant, &app.app_id, &a).await;
        refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700023);
    }

    // A certificate the app does not have; a registered thumbprint over
    // another key's signature.
    let (other_der, other_key) = certificate();
    let a = assertion(&app.app_id, &aud, ps256(&other_der), &other_key, |_| {});
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);
    assert!(d.contains("not registered"), "{d}");
    let a = assertion(&app.app_id, &aud, ps256(&der), &other_key, |_| {});
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);
    assert!(d.contains("signature"), "{d}");
    // No thumbprint at all.
    let a = assertion(
        &app.app_id,
        &aud,
        Header::new(Algorithm::PS256),
        &key,
        |_| {},
    );
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);

    // alg none and HS256 (keyed with the public certificate), whatever the claims.
    let good_claims = good.split('.').nth(1).unwrap().to_owned();
    let none_header = URL_SAFE_NO_PAD.encode(
        json!({"alg": "none", "typ": "JWT", "x5t#S256": thumbprint_s256(&der)}).to_string(),
    );
    let r = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &format!("{none_header}.{good_claims}."),
        )
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 5002738);
    let mut hs = Header::new(Algorithm::HS256);
    hs.x5t_s256 = Some(thumbprint_s256(&der));
    let hs_token = jsonwebtoken::encode(
        &hs,
        &payload(&good),
        &EncodingKey::from_secret(&der).unwrap(),
    )
    .unwrap();
    let r = w.assertion_login(&tenant, &app.app_id, &hs_token).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 5002738);

    // Expired, not yet valid, far too long.
    for edit in [
        Box::new(|c: &mut Value| c["exp"] = json!(now() - 120)) as Box<dyn FnOnce(&mut Value)>,
        Box::new(|c: &mut Value| c["nbf"] = json!(now() + 600)),
        Box::new(|c: &mut Value| c["exp"] = json!(now() + 3 * 86_400)),
    ] {
        let a = assertion(&app.app_id, &aud, ps256(&der), &key, edit);
        let r = w.assertion_login(&tenant, &app.app_id, &a).await;
        refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700024);
    }
    // sub not the client; client_id of another app with this app's assertion.
    let a = assertion(&app.app_id, &aud, ps256(&der), &key, |c| {
        c["sub"] = json!("someone")
    });
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700021);
    let other = w.app("other").await;
    let a = assertion(&app.app_id, &aud, ps256(&der), &key, |_| {});
    let r = w.assertion_login(&tenant, &other.app_id, &a).await;
    // For another client id the assertion is not self-issued: read as a
    // federated token from an issuer the app does not trust.
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700211);
    // No jti.
    let a = assertion(&app.app_id, &aud, ps256(&der), &key, |c| {
        c.as_object_mut().unwrap().remove("jti");
    });
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 50027);
    // Garbage.
    let r = w.assertion_login(&tenant, &app.app_id, "not.a.jwt").await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_request", 50027);

    // An expired certificate credential names its end.
    let key_id = added.body["keyId"].as_str().unwrap();
    let clock = w.s.state().clock.clone();
    clock.freeze(end + time::Duration::SECOND);
    let a = assertion(&app.app_id, &aud, ps256(&der), &key, |c| {
        let t = end.unix_timestamp() + 1;
        c["iat"] = json!(t);
        c["nbf"] = json!(t);
        c["exp"] = json!(t + 600);
    });
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);
    assert!(d.contains("expired") && d.contains(key_id), "{d}");
    clock.resume();

    // Removed: refused at once.
    let removed = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/removeKey", app.app_id),
            Some(json!({"keyId": key_id})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let a = assertion(&app.app_id, &aud, ps256(&der), &key, |_| {});
    let r = w.assertion_login(&tenant, &app.app_id, &a).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);

    // Uploads that are not RSA certificates are refused.
    let bad = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/addKey", app.app_id),
            Some(json!({"keyCredential": {"key": STANDARD.encode(b"garbage")}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

// ---- federated credentials ---------------------------------------------------

/// An OIDC issuer on 127.0.0.1: discovery and JWKS, keys replaceable.
struct Issuer {
    url: String,
    keys: Arc<Mutex<Vec<(String, String)>>>,
    fetches: Arc<Mutex<u32>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start() -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let keys: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
        let fetches = Arc::new(Mutex::new(0));
        let (k, f, u) = (keys.clone(), fetches.clone(), url.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let u = u.clone();
                    async move { axum::Json(json!({"issuer": u, "jwks_uri": format!("{u}/keys")})) }
                }),
            )
            .route(
                "/keys",
                axum::routing::get(move || {
                    let (k, f) = (k.clone(), f.clone());
                    async move {
                        *f.lock().unwrap() += 1;
                        let set = JwkSet {
                            keys: k
                                .lock()
                                .unwrap()
                                .iter()
                                .map(|(kid, pem)| {
                                    let mut jwk = Jwk::from_encoding_key(
                                        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
                                        Algorithm::RS256,
                                    )
                                    .unwrap();
                                    jwk.common.key_id = Some(kid.clone());
                                    jwk
                                })
                                .collect(),
                        };
                        axum::Json(set)
                    }
                }),
            );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Issuer {
            url,
            keys,
            fetches,
            _task: task,
        }
    }

    /// A new signing key, published; its kid.
    fn add_key(&self) -> String {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let kid = uuid::Uuid::new_v4().to_string();
        self.keys
            .lock()
            .unwrap()
            .push((kid.clone(), key.serialize_pem()));
        kid
    }

    fn pem(&self, kid: &str) -> String {
        self.keys
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, p)| p.clone())
            .unwrap()
    }

    /// A token like a CI system's: `iss` this issuer.
    fn token(&self, kid: &str, pem: &str, edit: impl FnOnce(&mut Value)) -> String {
        let t = now();
        let mut claims = json!({
            "iss": self.url,
            "sub": "repo:org/app:ref:refs/heads/main",
            "aud": "api://AzureADTokenExchange",
            "iat": t,
            "nbf": t,
            "exp": t + 300,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        edit(&mut claims);
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

#[tokio::test]
async fn federated_tokens_from_an_issuer_the_test_serves() {
    let w = World::start().await;
    let app = w.app("ci-federated").await;
    let issuer = Issuer::start().await;
    let kid = issuer.add_key();
    let created = w
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{}/federatedIdentityCredentials", app.object_id),
            Some(json!({"name": "main-branch", "issuer": issuer.url, "subject": "repo:org/app:ref:refs/heads/main"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["audiences"],
        json!(["api://AzureADTokenExchange"])
    );
    let listed = w
        .graph(
            Method::GET,
            &format!(
                "/v1.0/applications/{}/federatedIdentityCredentials",
                app.app_id
            ),
            None,
        )
        .await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    // Issuers must be https (or http on loopback); names unique.
    for (name, iss) in [
        ("insecure", "http://example.com"),
        ("main-branch", issuer.url.as_str()),
    ] {
        let r = w
            .graph(
                Method::POST,
                &format!(
                    "/v1.0/applications/{}/federatedIdentityCredentials",
                    app.app_id
                ),
                Some(json!({"name": name, "issuer": iss, "subject": "x"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.body);
    }

    let tenant = w.tenant().to_string();
    let pem = issuer.pem(&kid);
    let ok = w
        .assertion_login(&tenant, &app.app_id, &issuer.token(&kid, &pem, |_| {}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let claims = payload(ok.body["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["appidacr"].as_str(), claims["oid"].as_str()),
        (Some("2"), Some(app.sp.to_string().as_str()))
    );
    assert!(!ok.headers.contains_key(CREDENTIAL_EXPIRES_HEADER));
    // Cached: a second token causes no new fetch.
    let fetched = *issuer.fetches.lock().unwrap();
    let ok = w
        .assertion_login(&tenant, &app.app_id, &issuer.token(&kid, &pem, |_| {}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(*issuer.fetches.lock().unwrap(), fetched);

    // Wrong subject, wrong audience, expired.
    let r = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &issuer.token(&kid, &pem, |c| {
                c["sub"] = json!("repo:org/app:pull_request")
            }),
        )
        .await;
    let d = refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 70021);
    assert!(d.contains("pull_request"), "{d}");
    let r = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &issuer.token(&kid, &pem, |c| c["aud"] = json!(["other"])),
        )
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700212);
    let r = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &issuer.token(&kid, &pem, |c| c["exp"] = json!(now() - 600)),
        )
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700024);

    // An issuer the app does not trust (another one the test serves, with
    // a valid signature of its own).
    let stranger = Issuer::start().await;
    let skid = stranger.add_key();
    let t = stranger.token(&skid, &stranger.pem(&skid), |_| {});
    let r = w.assertion_login(&tenant, &app.app_id, &t).await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700211);
    // Forged: the trusted issuer's name, a key it never published.
    let forger = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let r = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &issuer.token(&kid, &forger.serialize_pem(), |_| {}),
        )
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700027);

    // Key rotation: an unknown kid makes one refetch, then verifies.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let rotated = issuer.add_key();
    let ok = w
        .assertion_login(
            &tenant,
            &app.app_id,
            &issuer.token(&rotated, &issuer.pem(&rotated), |_| {}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    // Deleting the credential: refused at once.
    let del = w
        .graph(
            Method::DELETE,
            &format!(
                "/v1.0/applications/{}/federatedIdentityCredentials/main-branch",
                app.app_id
            ),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);
    let r = w
        .assertion_login(&tenant, &app.app_id, &issuer.token(&kid, &pem, |_| {}))
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "invalid_client", 700211);
}

// ---- multi-tenant ------------------------------------------------------------

#[tokio::test]
async fn another_tenant_mints_only_once_the_app_is_provisioned_there() {
    let w = World::start().await;
    // A second tenant with its own administrator.
    let t = OffsetDateTime::now_utc();
    let fabrikam = Tenant {
        id: TenantId::new_random(),
        domain: "fabrikam.test".into(),
        display_name: "Fabrikam".into(),
        created_at: t,
    };
    w.s.state().meta.create_tenant(&fabrikam).await.unwrap();
    let admin = User {
        id: ObjectId::new_random(),
        tenant_id: fabrikam.id,
        upn: "admin@fabrikam.test".into(),
        display_name: "admin".into(),
        password_hash: acrylic_identity::password::hash(PASSWORD).unwrap(),
        enabled: true,
        sessions_valid_after: t - time::Duration::hours(1),
        created_at: t,
    };
    w.s.state().meta.create_user(&admin).await.unwrap();
    w.s.state()
        .meta
        .create_role_assignment(&RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope: acrylic_model::ArmScope::root(),
            role_definition_id: roles::GLOBAL_ADMINISTRATOR,
            principal_id: admin.id,
            principal_type: PrincipalType::User,
            condition: None,
            created_at: t,
        })
        .await
        .unwrap();
    let fab_graph = password_token(&w.s, "fabrikam.test", &admin.upn, PASSWORD, GRAPH_SCOPE).await;

    let single = w.app("single-tenant").await;
    let multi = w.app_with("multi-tenant", "AzureADMultipleOrgs").await;
    let foreign = fabrikam.id.to_string();

    // Not provisioned: AADSTS700016 naming the tenant as asked.
    for app in [&single, &multi] {
        let r = w
            .secret_login(&foreign, &app.app_id, &app.secret, ACR_SCOPE)
            .await;
        let d = refused(&r, StatusCode::BAD_REQUEST, "unauthorized_client", 700016);
        assert!(d.contains(&foreign) && d.contains(&app.app_id), "{d}");
    }
    // The consent step: a single-tenant app cannot be provisioned there.
    let r = w
        .call(
            &fab_graph,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": single.app_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = w
        .call(
            &fab_graph,
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({"appId": multi.app_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let fab_sp = r.body["id"].as_str().unwrap().to_owned();
    assert_ne!(fab_sp, multi.sp.to_string());
    assert_eq!(r.body["appOwnerOrganizationId"], w.tenant().to_string());
    // Credentials stay with the application's home tenant.
    assert_eq!(r.body["passwordCredentials"], json!([]));

    // Provisioned: a token of that tenant, for its service principal.
    let ok = w
        .secret_login(&foreign, &multi.app_id, &multi.secret, ACR_SCOPE)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let claims = payload(ok.body["access_token"].as_str().unwrap());
    assert_eq!(claims["tid"], foreign.as_str());
    assert_eq!(claims["oid"], fab_sp.as_str());
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{foreign}/"));
    // Home still works, with the home identity.
    let home = w
        .secret_login(
            &w.tenant().to_string(),
            &multi.app_id,
            &multi.secret,
            ACR_SCOPE,
        )
        .await;
    assert_eq!(
        payload(home.body["access_token"].as_str().unwrap())["oid"],
        multi.sp.to_string()
    );
    // The foreign tenant's token is nothing at the home registry's exchange.
    let ex = answer(
        w.s.client()
            .post(format!("{}/oauth2/exchange", w.s.base_url()))
            .header(HOST, &w.host)
            .form(&[
                ("grant_type", "access_token"),
                ("service", w.host.as_str()),
                ("access_token", ok.body["access_token"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ex.status, StatusCode::UNAUTHORIZED, "{}", ex.body);

    // Made single-tenant again: the foreign service principal is refused.
    let p = w
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{}", multi.app_id),
            Some(json!({"signInAudience": "AzureADMyOrg"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::NO_CONTENT, "{}", p.body);
    let r = w
        .secret_login(&foreign, &multi.app_id, &multi.secret, ACR_SCOPE)
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "unauthorized_client", 700016);
}

// ---- metrics -----------------------------------------------------------------

#[tokio::test]
async fn metrics_expose_the_soonest_credential_expiry() {
    let w = World::start().await;
    let app = w.app("metered").await;
    // Sooner than the default one-year secret it already has.
    let soonest = now() + 10 * 86_400;
    let end = OffsetDateTime::from_unix_timestamp(soonest)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    w.add_password(&app.app_id, json!({"endDateTime": end}))
        .await;
    let scrape = || async {
        w.s.client()
            .get(format!("{}/metrics", w.s.base_url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let text = scrape().await;
    let line = format!(
        "acrylic_credential_soonest_expiry_seconds{{principal=\"sp:{}\"}} {soonest}",
        app.app_id
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("# TYPE acrylic_credential_soonest_expiry_seconds gauge"));
    // Deleted: the series goes.
    w.graph(
        Method::DELETE,
        &format!("/v1.0/applications/{}", app.app_id),
        None,
    )
    .await;
    assert!(!scrape().await.contains(&app.app_id));
}
