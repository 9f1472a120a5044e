//! Test fixtures for acrylic (STYLE §7).
//!
//! - [`TestServer`]: the whole server in-process (`acrylic_server::serve::start`)
//!   on `127.0.0.1:0`, plain HTTP, its own temporary data directory, SQLite
//!   (or a fresh database on a PostgreSQL server), bootstrapped — so tests run
//!   in parallel with no fixed ports and no ordering. Dropping it stops it.
//! - [`image`]: OCI image layouts built in the test.
//! - [`spawned`]: a real `acrylic serve` process for black-box client tests.
//!
//! Fixtures panic with a message on failure: a panic is how a test reports.

use std::net::SocketAddr;
use std::path::Path;

use acrylic_model::{RegistryName, ResourceGroupName, SubscriptionId, TenantId};
use acrylic_server::AppState;
use acrylic_server::config::{Config, Tls};
use acrylic_server::serve::Running;
use acrylic_store::Registry;
use tempfile::TempDir;

pub mod image;
pub mod spawned;

/// How a [`TestServer`] is set up.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// A PostgreSQL server URL (`postgres://user@host:port/db`): the server
    /// gets a fresh database of its own on it. `None`: SQLite in the data
    /// directory.
    pub database_url: Option<String>,
}

/// The PostgreSQL server tests should use, by the suite's convention:
/// `DATABASE_URL` when set; when it is not, `None` — unless
/// `ACRYLIC_REQUIRE_POSTGRES=1` (as `scripts/test` sets), then a panic, so
/// a missing backend fails loudly instead of skipping.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("ACRYLIC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "ACRYLIC_REQUIRE_POSTGRES=1 but DATABASE_URL is not set: start one with \
             `eval \"$(scripts/pg-throwaway.sh start)\"`"
        ),
        _ => None,
    }
}

/// What the first start created, with the owner's password.
#[derive(Debug, Clone)]
pub struct BootstrapInfo {
    pub tenant: TenantId,
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    /// The owner's UPN, `owner@acrylic.local`.
    pub username: String,
    pub password: String,
    /// The bootstrap registry, `acrylic`.
    pub registry: RegistryName,
    /// Its login server: the bare listener address, `localhost:<port>`.
    pub login_server: String,
}

/// A registry's admin user, as `acr credential show` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    /// The registry name (ACR: username = registry name).
    pub username: String,
    pub password: String,
    pub password2: String,
}

/// The server, in-process. See the crate docs.
pub struct TestServer {
    running: Option<Running>,
    base_url: String,
    bootstrap: BootstrapInfo,
    client: reqwest::Client,
    /// Dropped after the server (field order).
    dir: TempDir,
}

impl TestServer {
    /// A bootstrapped server on SQLite.
    pub async fn start() -> TestServer {
        TestServer::start_with(TestOptions::default()).await
    }

    pub async fn start_with(opts: TestOptions) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("acrylic-test-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary directory: {e}"));
        let mut config = Config::new(dir.path().join("data"));
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.tls = Tls::Off;
        config.log_level = "warn".into();
        if let Some(server) = &opts.database_url {
            let url = fresh_postgres_database(server).await;
            config.database_url = Some(acrylic_server::config::DatabaseUrl::new(url));
        }
        let running = acrylic_server::serve::start(config)
            .await
            .unwrap_or_else(|e| panic!("starting the test server: {e:#}"));
        let b = &running.bootstrap;
        let bootstrap = BootstrapInfo {
            tenant: b.tenant,
            subscription: b.subscription,
            resource_group: b.resource_group.clone(),
            username: b.username.clone(),
            password: b
                .password
                .clone()
                .unwrap_or_else(|| panic!("a fresh test server always knows the owner's password")),
            registry: b.registry.clone(),
            login_server: b.login_server.clone(),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("building the HTTP client: {e}"));
        TestServer {
            base_url: running.local_url(),
            running: Some(running),
            bootstrap,
            client,
            dir,
        }
    }

    fn running(&self) -> &Running {
        match &self.running {
            Some(r) => r,
            None => panic!("the test server was stopped"),
        }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// An HTTP client that does not follow redirects. Requests to
    /// [`base_url`](Self::base_url) reach the bootstrap registry; set the
    /// `Host` header ([`host_header`](Self::host_header)) for another.
    pub fn client(&self) -> reqwest::Client {
        self.client.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.running().state
    }

    pub fn bootstrap(&self) -> &BootstrapInfo {
        &self.bootstrap
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The temporary directory holding the data directory (for test files).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    fn registry_name(name: &str) -> RegistryName {
        RegistryName::parse(name).unwrap_or_else(|e| panic!("registry name {name:?}: {e}"))
    }

    async fn registry(&self, name: &str) -> Registry {
        let name = Self::registry_name(name);
        match self.state().meta.find_registry_by_name(&name).await {
            Ok(Some(r)) => r,
            Ok(None) => panic!("no registry named {name}"),
            Err(e) => panic!("finding registry {name}: {e}"),
        }
    }

    /// Enables the admin user of a registry (test setup through the store,
    /// not the ARM surface) and returns its credentials.
    pub async fn enable_admin(&self, registry: impl AsRef<str>) -> AdminCredentials {
        let mut r = self.registry(registry.as_ref()).await;
        r.admin_enabled = true;
        self.state()
            .meta
            .update_registry(&r)
            .await
            .unwrap_or_else(|e| panic!("enabling the admin user of {}: {e}", r.name));
        let open = |sealed: &[u8]| {
            let bytes = self
                .state()
                .sealer
                .open(sealed)
                .unwrap_or_else(|e| panic!("opening an admin password: {e}"));
            String::from_utf8(bytes).unwrap_or_else(|e| panic!("admin password is not UTF-8: {e}"))
        };
        AdminCredentials {
            username: r.name.to_string(),
            password: open(&r.admin_password1_sealed),
            password2: open(&r.admin_password2_sealed),
        }
    }

    /// Creates a registry in the bootstrap subscription and resource group
    /// (the same function the ARM surface uses). Reach it with
    /// [`host_header`](Self::host_header).
    pub async fn create_registry(&self, name: impl AsRef<str>) -> Registry {
        let name = Self::registry_name(name.as_ref());
        let b = &self.bootstrap;
        acrylic_server::bootstrap::create_registry(
            self.state(),
            &name,
            &b.subscription,
            &b.resource_group,
            &b.tenant,
            acrylic_server::bootstrap::LOCATION,
        )
        .await
        .unwrap_or_else(|e| panic!("creating registry {name}: {e}"))
    }

    /// The `Host` header that selects a registry: `<name>.<domain>:<port>`
    /// (the bootstrap registry: its login server, the bare address).
    pub fn host_header(&self, registry: impl AsRef<str>) -> String {
        let name = Self::registry_name(registry.as_ref());
        if name == self.bootstrap.registry {
            self.bootstrap.login_server.clone()
        } else {
            self.state().settings.login_server(&name)
        }
    }

    /// A registry access token from the real `GET /oauth2/token` with Basic
    /// credentials (as docker, podman and skopeo ask), for `scopes` such as
    /// `repository:team/app:pull,push`. Panics unless the answer is 200.
    pub async fn token(
        &self,
        registry: impl AsRef<str>,
        username: &str,
        password: &str,
        scopes: &[&str],
    ) -> String {
        let host = self.host_header(registry.as_ref());
        let mut query: Vec<(&str, &str)> = vec![("service", host.as_str())];
        query.extend(scopes.iter().map(|s| ("scope", *s)));
        let response = self
            .client
            .get(format!("{}/oauth2/token", self.base_url))
            .header(reqwest::header::HOST, &host)
            .query(&query)
            .basic_auth(username, Some(password))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /oauth2/token: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            panic!("GET /oauth2/token for {username} on {host}: {status}: {body}");
        }
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("token response is not JSON ({e}): {body}"));
        json.get("access_token")
            .or_else(|| json.get("token"))
            .and_then(|t| t.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("token response has no access_token: {body}"))
    }

    /// Graceful shutdown, waiting for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take()
            && let Err(e) = r.stop().await
        {
            panic!("stopping the test server: {e:#}");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(r) = &self.running {
            r.shutdown_handle().immediate();
        }
    }
}

/// Creates an empty database `acrylic_test_<random>` on the PostgreSQL
/// server of `url` and returns that database's URL (one per test server, so
/// tests share a cluster without sharing state).
pub async fn fresh_postgres_database(url: &str) -> String {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("connecting to PostgreSQL at {url}: {e} (is the throwaway cluster running?)")
    });
    let name = format!("acrylic_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = admin.close().await;
    let mut u = url::Url::parse(url).unwrap_or_else(|e| panic!("database URL {url}: {e}"));
    u.set_path(&format!("/{name}"));
    u.to_string()
}
