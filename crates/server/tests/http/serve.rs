//! `acrylic serve` as a whole: ops endpoints, the bootstrap, TLS, shutdown.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use acrylic_server::config::{Config, Tls};
use acrylic_server::serve::{self, Running};
use acrylic_testkit::TestServer;

fn config_in(dir: &Path, tls: Tls) -> Config {
    let mut c = Config::new(dir.join("data"));
    c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.tls = tls;
    c
}

async fn start(config: Config) -> Running {
    serve::start(config).await.unwrap()
}

#[tokio::test]
async fn healthz_readyz_and_metrics_answer() {
    let server = TestServer::start().await;
    let c = server.client();
    let base = server.base_url();

    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );

    let r = c.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let r = c.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("acrylic_http_requests_total"),
        "request metrics are exported: {body}"
    );
}

#[tokio::test]
async fn request_id_is_propagated_when_the_client_sends_one() {
    let server = TestServer::start().await;
    let r = server
        .client()
        .get(format!("{}/healthz", server.base_url()))
        .header("x-request-id", "my-correlation-id")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "my-correlation-id");
}

#[tokio::test]
async fn bootstrap_happens_once_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("cli").join("profile.json");
    let mut config = config_in(dir.path(), Tls::Off);
    config.profile = Some(profile.clone());

    let first = start(config.clone()).await;
    let b1 = first.bootstrap.clone();
    assert!(b1.first_start);
    let password = b1.password.clone().unwrap();
    assert_eq!(b1.username, "owner@acrylic.local");
    assert_eq!(b1.registry.as_str(), "acrylic");
    assert_eq!(b1.login_server, format!("localhost:{}", first.addr.port()));
    let stored = first
        .state
        .meta
        .find_registry_by_name(&b1.registry)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.login_server, b1.login_server);
    assert!(!stored.admin_enabled, "the admin user starts disabled");
    first.stop().await.unwrap();

    // bootstrap.json: 0600, every documented key, the password that was printed.
    let file = dir.path().join("data").join("bootstrap.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for key in [
        "tenant",
        "subscription",
        "resourceGroup",
        "username",
        "password",
        "registry",
        "loginServer",
        "caCert",
        "serverUrl",
    ] {
        assert!(
            json.get(key).is_some(),
            "bootstrap.json lacks {key}: {json}"
        );
    }
    assert_eq!(json["password"], password.as_str());
    assert_eq!(json["tenant"], b1.tenant.to_string());
    assert!(json["caCert"].is_null(), "plain HTTP has no CA");

    // The CLI profile.
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    assert_eq!(p["tenant"], b1.tenant.to_string());
    assert_eq!(p["user"], "owner@acrylic.local");
    assert!(
        p["serverUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:")
    );
    let mode = std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Restart: nothing new, same ids, the same owner password still verifies.
    let second = start(config).await;
    let b2 = second.bootstrap.clone();
    assert!(!b2.first_start);
    assert_eq!(b2.tenant, b1.tenant);
    assert_eq!(b2.subscription, b1.subscription);
    assert_eq!(b2.registry_id, b1.registry_id);
    assert_eq!(
        b2.password.as_deref(),
        Some(password.as_str()),
        "read back from bootstrap.json"
    );
    let meta = &second.state.meta;
    assert_eq!(meta.list_tenants().await.unwrap().len(), 1);
    assert_eq!(meta.list_registries(None, None).await.unwrap().len(), 1);
    let owner = meta
        .find_user_by_upn("owner@acrylic.local")
        .await
        .unwrap()
        .unwrap();
    assert!(acrylic_identity::password::verify(
        &password,
        &owner.password_hash
    ));
    let assignments = meta.list_role_assignments_for(&[owner.id]).await.unwrap();
    // Owner on the subscription, and (issue #3) Global Administrator of the
    // directory at `/` — each exactly once after the restart.
    assert_eq!(assignments.len(), 2);
    assert_eq!(
        assignments[0].role_definition_id,
        acrylic_authz::roles::OWNER
    );
    assert_eq!(
        assignments[0].scope,
        acrylic_model::ArmScope::subscription(&b1.subscription)
    );
    assert_eq!(
        assignments[1].role_definition_id,
        acrylic_authz::roles::GLOBAL_ADMINISTRATOR
    );
    assert_eq!(assignments[1].scope, acrylic_model::ArmScope::root());
    // The new port is reflected in the stored login server and the file.
    let reg = meta.find_registry(&b1.registry_id).await.unwrap().unwrap();
    assert_eq!(
        reg.login_server,
        format!("localhost:{}", second.addr.port())
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(json["loginServer"], reg.login_server.as_str());
    assert_eq!(json["password"], password.as_str());
    // So is the CLI profile, which still belongs to this server.
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    assert_eq!(
        p["serverUrl"],
        format!("http://localhost:{}", second.addr.port())
    );
    second.stop().await.unwrap();
}

#[tokio::test]
async fn registries_created_later_get_domain_login_servers_and_sealed_passwords() {
    let server = TestServer::start().await;
    let r = server.create_registry("second1").await;
    assert_eq!(
        r.login_server,
        format!("second1.acrylic.localhost:{}", server.addr().port())
    );
    assert_eq!(server.host_header("second1"), r.login_server);
    assert!(!r.admin_enabled);
    let admin = server.enable_admin("second1").await;
    assert_eq!(admin.username, "second1");
    assert_ne!(admin.password, admin.password2);
    assert!(
        !r.admin_password1_sealed
            .windows(admin.password.len())
            .any(|w| w == admin.password.as_bytes())
    );
    // The Host header selects it.
    let found = server
        .state()
        .registry_for_host(&server.host_header("second1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, r.id);
    let bare = server
        .state()
        .registry_for_host(&server.bootstrap().login_server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bare.name, server.bootstrap().registry);
}

#[tokio::test]
async fn tls_is_on_by_default_with_a_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(config_in(dir.path(), Tls::Generated)).await;
    let ca_path = running.ca_cert.clone().unwrap();
    assert_eq!(ca_path, dir.path().join("data/tls/ca.pem"));
    let key_mode = std::fs::metadata(dir.path().join("data/tls/ca-key.pem"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(key_mode, 0o600);

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_path).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let port = running.addr.port();
    let r = client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The certificate also names the domain's hosts (resolved to loopback here).
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(&ca_path).unwrap()).unwrap(),
        ])
        .resolve("myreg.acrylic.localhost", running.addr)
        .build()
        .unwrap();
    let r = client
        .get(format!("https://myreg.acrylic.localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Without trusting the CA, the handshake fails.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(
        untrusting
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .is_err()
    );

    // bootstrap.json names the CA by absolute path.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/bootstrap.json")).unwrap())
            .unwrap();
    assert_eq!(json["caCert"], ca_path.to_str().unwrap());
    assert_eq!(json["serverUrl"], format!("https://localhost:{port}"));
    running.stop().await.unwrap();

    // A restart keeps the CA.
    let ca_before = std::fs::read(&ca_path).unwrap();
    let again = start(config_in(dir.path(), Tls::Generated)).await;
    assert_eq!(std::fs::read(&ca_path).unwrap(), ca_before);
    again.stop().await.unwrap();
}

#[tokio::test]
async fn operator_certificates_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();

    let running = start(config_in(
        dir.path(),
        Tls::Files {
            cert: cert.clone(),
            key,
        },
    ))
    .await;
    assert!(
        running.ca_cert.is_none(),
        "no CA is generated for operator certificates"
    );
    assert!(!dir.path().join("data/tls/ca.pem").exists());
    let trusted = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([trusted])
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{}/healthz", running.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    use axum::routing::get;
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let entered_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(entered_tx)));
    let app = axum::Router::new().route(
        "/slow",
        get(move || {
            let entered = entered_tx.lock().unwrap().take();
            async move {
                if let Some(tx) = entered {
                    let _ = tx.send(());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let served = serve::serve(listener, None, app).await.unwrap();
    let url = format!("http://{}/slow", served.addr);
    let request = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    entered_rx.await.unwrap();

    served.shutdown.graceful();
    // The in-flight request completes with its full response...
    let body = request.await.unwrap().unwrap();
    assert_eq!(body, "finished");
    // ...the server then ends, and accepts nothing new.
    tokio::time::timeout(Duration::from_secs(5), served.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("http://{}/slow", served.addr))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_foreign_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(config_in(dir.path(), Tls::Off)).await;
    first.stop().await.unwrap();
    let key = dir.path().join("data/master.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let err = serve::start(config_in(dir.path(), Tls::Off))
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("master key"), "{err:#}");
}

fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn test_server_token_helper_reaches_the_right_registry() {
    let server = TestServer::start().await;
    let admin = server.enable_admin("acrylic").await;
    let t = server
        .token(
            "acrylic",
            &admin.username,
            &admin.password,
            &["repository:team/app:pull,push"],
        )
        .await;
    let claims = jwt_claims(&t);
    assert_eq!(claims["aud"], server.bootstrap().login_server.as_str());
    assert_eq!(claims["access"][0]["name"], "team/app");

    server.create_registry("second1").await;
    let admin2 = server.enable_admin("second1").await;
    let t2 = server
        .token(
            "second1",
            &admin2.username,
            &admin2.password2,
            &["repository:x:pull"],
        )
        .await;
    assert_eq!(
        jwt_claims(&t2)["aud"],
        server.host_header("second1").as_str()
    );
}

#[tokio::test]
async fn the_server_runs_on_postgresql() {
    let Some(url) = acrylic_testkit::postgres_url() else {
        eprintln!("skipping PostgreSQL: DATABASE_URL not set");
        return;
    };
    let server = acrylic_testkit::TestServer::start_with(acrylic_testkit::TestOptions {
        database_url: Some(url),
    })
    .await;
    let r = server
        .client()
        .get(format!("{}/readyz", server.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        !server.data_dir().join("meta.db").exists(),
        "no SQLite file beside PostgreSQL"
    );
    let meta = &server.state().meta;
    assert_eq!(meta.list_tenants().await.unwrap().len(), 1);
    server.create_registry("pgsecond").await;
    let admin = server.enable_admin("pgsecond").await;
    let token = server
        .token(
            "pgsecond",
            &admin.username,
            &admin.password,
            &["repository:a:pull"],
        )
        .await;
    assert_eq!(
        jwt_claims(&token)["aud"],
        server.host_header("pgsecond").as_str()
    );
}

/// Two replicas starting at once on one metadata store bootstrap once. They
/// share the master key, as replicas must.
async fn concurrent_starts_bootstrap_once(database_url: Option<String>) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let key: [u8; 32] = rand::random();
    let configs: Vec<Config> = dirs
        .iter()
        .map(|d| {
            let mut c = config_in(d.path(), Tls::Off);
            std::fs::create_dir_all(&c.data_dir).unwrap();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(c.data_dir.join("master.key"))
                .unwrap();
            f.write_all(&key).unwrap();
            c.database_url = database_url
                .clone()
                .map(acrylic_server::config::DatabaseUrl::new);
            if database_url.is_none() {
                // Both on the first replica's SQLite file.
                c.database_url = Some(acrylic_server::config::DatabaseUrl::new(format!(
                    "sqlite://{}?mode=rwc",
                    dirs[0].path().join("shared.db").display()
                )));
            }
            c
        })
        .collect();
    let (a, b) = tokio::join!(
        serve::start(configs[0].clone()),
        serve::start(configs[1].clone())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.bootstrap.tenant, b.bootstrap.tenant);
    assert_eq!(a.bootstrap.registry_id, b.bootstrap.registry_id);
    assert_eq!(
        [a.bootstrap.first_start, b.bootstrap.first_start]
            .iter()
            .filter(|f| **f)
            .count(),
        1,
        "exactly one replica created the owner"
    );
    let meta = &a.state.meta;
    assert_eq!(meta.list_tenants().await.unwrap().len(), 1);
    assert_eq!(meta.list_registries(None, None).await.unwrap().len(), 1);
    assert_eq!(meta.list_users(&a.bootstrap.tenant).await.unwrap().len(), 1);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_starts_bootstrap_once_on_sqlite() {
    concurrent_starts_bootstrap_once(None).await;
}

#[tokio::test]
async fn concurrent_starts_bootstrap_once_on_postgresql() {
    let Some(url) = acrylic_testkit::postgres_url() else {
        eprintln!("skipping PostgreSQL: DATABASE_URL not set");
        return;
    };
    let db = acrylic_testkit::fresh_postgres_database(&url).await;
    concurrent_starts_bootstrap_once(Some(db)).await;
}
