//! The composition root: `acrylic serve` from configuration to a listening
//! socket, and back down on SIGTERM/SIGINT.
//!
//! Order: configuration → logging → data directory → listener (bound first,
//! so port 0 resolves and login servers carry the real port) → TLS material
//! → stores → master key (`Sealer`) → bootstrap → token keys → [`AppState`]
//! → router → serve. Every concrete adapter is chosen here and nowhere else
//! (STYLE §1); surfaces only see `AppState`.
//!
//! Router: each surface's `routes()` merged, then (innermost first) request
//! metrics, tracing with the request id, `x-request-id` propagation and
//! generation. `DefaultBodyLimit` is disabled for the whole tree: the OCI
//! surface streams blobs of any size and enforces its own limits (4 MiB
//! manifests), the form-based surfaces theirs.
//!
//! Shutdown is graceful: the listener stops accepting, in-flight requests
//! run to completion (bounded by [`GRACE_PERIOD`]), background jobs stop,
//! the database pool closes.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use acrylic_authz::Permit;
use acrylic_identity::{CredentialCache, Sealer};
use acrylic_registry::Distribution;
use acrylic_store::{FsBlobStore, MetaStore, SqlMetaStore};
use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::bootstrap::{self, Summary};
use crate::config::{Config, LogFormat, ServeArgs, Tls};
use crate::{AppState, Settings, ops, tls};

/// How long in-flight requests may run after a shutdown signal.
pub const GRACE_PERIOD: Duration = Duration::from_secs(30);
/// Uploads untouched this long are removed by the janitor.
pub const UPLOAD_MAX_IDLE: Duration = Duration::from_secs(24 * 3600);
/// How often the janitor looks.
pub const JANITOR_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Setting holding a value sealed with the master key, to detect a master
/// key that does not match the database before anything is decrypted.
const MASTER_KEY_CHECK: &str = "master_key_check";
const MASTER_KEY_CHECK_PLAINTEXT: &[u8] = b"acrylic master key check";
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Runs `acrylic serve` until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::load(&args)?;
    if config.profile.is_none() {
        config.profile = bootstrap::default_profile_path();
    }
    init_tracing(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = start(config).await?;
        print_banner(&running);
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        running.stop().await
    })
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("log_level `{}`", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A started server.
pub struct Running {
    /// The bound listener address (the real port when configured with 0).
    pub addr: SocketAddr,
    pub state: AppState,
    /// What the bootstrap made (the password only on first start, or while
    /// `bootstrap.json` holds it).
    pub bootstrap: Summary,
    /// The generated CA clients must trust (`None`: plain HTTP or
    /// operator-supplied certificates).
    pub ca_cert: Option<PathBuf>,
    /// `true` when serving HTTPS.
    pub tls: bool,
    shutdown: Shutdown,
    server: JoinHandle<std::io::Result<()>>,
    janitor: JoinHandle<()>,
    meta: Arc<SqlMetaStore>,
    /// The extra listener (`userrealm_listen`), if configured: its bound
    /// address (the real port when configured with 0).
    pub userrealm_addr: Option<SocketAddr>,
    userrealm: Option<JoinHandle<std::io::Result<()>>>,
}

/// Stops a running server; cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    handle: axum_server::Handle<SocketAddr>,
    jobs: watch::Sender<bool>,
    /// Extra listeners serving the same app (`userrealm_listen`).
    extra: Vec<axum_server::Handle<SocketAddr>>,
}

impl Shutdown {
    /// Stops accepting connections and lets in-flight requests finish
    /// (within [`GRACE_PERIOD`]); stops background jobs.
    pub fn graceful(&self) {
        self.jobs.send_replace(true);
        self.handle.graceful_shutdown(Some(GRACE_PERIOD));
        for h in &self.extra {
            h.graceful_shutdown(Some(GRACE_PERIOD));
        }
    }

    /// Drops every connection now.
    pub fn immediate(&self) {
        self.jobs.send_replace(true);
        self.handle.shutdown();
        for h in &self.extra {
            h.shutdown();
        }
    }
}

impl Running {
    /// A handle that can stop the server from anywhere.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// `http://127.0.0.1:<port>` or `https://localhost:<port>`: a URL that
    /// reaches this process from the same machine (the certificate covers
    /// `localhost`).
    pub fn local_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!(
                "http://{}",
                SocketAddr::new(loopback_of(self.addr.ip()), self.addr.port())
            )
        }
    }

    /// Graceful shutdown; returns once in-flight requests finished and the
    /// database pool is closed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.graceful();
        let served = self.server.await;
        if let Some(extra) = self.userrealm {
            let _ = extra.await;
        }
        let _ = self.janitor.await;
        self.meta.close().await;
        served.context("server task")?.context("serving")?;
        Ok(())
    }
}

fn loopback_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// Starts the server described by `config` and returns once it listens.
/// Does not install a log subscriber or signal handlers (`run` does), so
/// tests can start many.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    tls::install_crypto_provider();
    ops::install_metrics();
    if config.is_exposed_plain_http() {
        tracing::warn!(
            listen = %config.listen,
            "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS: passwords and tokens cross the network \
             unencrypted, and registry clients and Azure SDKs will refuse it. Drop --insecure-http."
        );
    }
    create_data_dir(&config.data_dir)?;

    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let https = config.tls != Tls::Off;
    let settings = Settings {
        domain: config.domain.clone(),
        public_host: public_host(addr.ip()),
        public_port: match (https, addr.port()) {
            (true, 443) | (false, 80) => None,
            (_, p) => Some(p),
        },
        scheme: if https { "https" } else { "http" },
        bootstrap_registry: None,
    };

    let (rustls, ca_cert) = match &config.tls {
        Tls::Off => (None, None),
        Tls::Generated => {
            let dir = config.data_dir.join("tls");
            let names = tls::server_names(&config.domain, addr);
            let ca = tokio::task::spawn_blocking(move || {
                tls::ensure_local_ca(&dir, &names, time::OffsetDateTime::now_utc())
            })
            .await
            .context("certificate task")??;
            if ca.created_ca {
                tracing::info!(ca = %ca.ca_cert.display(), "generated a local certificate authority");
            } else if ca.issued_leaf {
                tracing::info!(cert = %ca.server_cert.display(), "issued a new server certificate");
            }
            (
                Some(tls::server_config(&ca.server_cert, &ca.server_key)?),
                Some(ca.ca_cert),
            )
        }
        Tls::Files { cert, key } => (Some(tls::server_config(cert, key)?), None),
    };

    let db = config.database();
    tracing::info!(database = %db, "opening the metadata store");
    let meta = Arc::new(
        SqlMetaStore::connect(db.expose())
            .await
            .with_context(|| format!("opening the metadata store {db}"))?,
    );
    let blobs = Arc::new(
        FsBlobStore::new(config.data_dir.join("blobs")).context("opening the blob store")?,
    );
    let sealer = Arc::new(
        Sealer::load_or_create(&config.data_dir.join("master.key"))
            .context("loading the master key")?,
    );
    check_master_key(meta.as_ref(), &sealer).await?;

    let mut state = AppState {
        meta: meta.clone(),
        blobs,
        settings: Arc::new(settings),
        // Replaced by the stored keys once the bootstrap made the tenant.
        keys: Arc::new(acrylic_tokens::KeyRing::new()),
        sealer,
        credentials: Arc::new(CredentialCache::default()),
        clock: crate::clock::Clock::system(),
        federation: Arc::new(crate::directory::federation::IssuerKeys::new()),
    };
    let ctx = bootstrap::Context {
        data_dir: config.data_dir.clone(),
        server_url: state.settings.server_url(),
        login_server: state.settings.bare_login_server(),
        ca_cert: ca_cert.clone(),
        profile: config.profile.clone(),
    };
    let summary = bootstrap::ensure(&state, &ctx).await.context("bootstrap")?;
    let mut settings = (*state.settings).clone();
    settings.bootstrap_registry = Some(summary.registry_id.clone());
    state.settings = Arc::new(settings);
    let tenants: Vec<_> = meta
        .list_tenants()
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let keys = crate::token::load_keyring(meta.as_ref(), &state.sealer, &tenants)
        .await
        .context("loading the token signing keys")?;
    state.keys = Arc::new(keys);
    bootstrap::refresh_login_servers(&state, &summary.registry_id, &ctx.login_server)
        .await
        .context("updating login servers")?;

    // MSAL's user-realm probe always goes to port 443 of the authority
    // host (clients.md "The directory"): an optional second listener serves
    // the same app with the same TLS there.
    let userrealm = match config.userrealm_listen {
        Some(extra) => {
            let l = std::net::TcpListener::bind(extra)
                .with_context(|| format!("listening on {extra} (userrealm_listen)"))?;
            let s = serve(l, rustls.clone(), router(state.clone())).await?;
            tracing::info!(addr = %s.addr, "extra listener (userrealm_listen)");
            Some(s)
        }
        None => None,
    };
    let mut served = serve(listener, rustls, router(state.clone())).await?;
    if let Some(extra) = &userrealm {
        served.shutdown.extra.push(extra.shutdown.handle.clone());
    }
    let janitor = tokio::spawn(janitor(state.clone(), served.shutdown.jobs.subscribe()));
    tracing::info!(%addr, tls = https, "listening");
    Ok(Running {
        addr,
        state,
        bootstrap: summary,
        ca_cert,
        tls: https,
        shutdown: served.shutdown,
        server: served.task,
        janitor,
        meta,
        userrealm_addr: userrealm.as_ref().map(|s| s.addr),
        userrealm: userrealm.map(|s| s.task),
    })
}

/// A router being served on a listener.
pub struct Served {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    /// Ends after shutdown, once every connection closed.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Serves `app` on `listener` (HTTPS with `tls`, else plain HTTP) with
/// client addresses available as `ConnectInfo<SocketAddr>`; returns once
/// the listener accepts.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: Router,
) -> anyhow::Result<Served> {
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::<SocketAddr>::new();
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = match tls {
        Some(tls) => {
            let s = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
            tokio::spawn(async move { s.serve(make).await })
        }
        None => {
            let s = axum_server::from_tcp(listener)?.handle(handle.clone());
            tokio::spawn(async move { s.serve(make).await })
        }
    };
    if handle.listening().await.is_none() {
        let outcome = task.await.context("server task")?;
        anyhow::bail!("the listener did not start: {outcome:?}");
    }
    let (jobs, _) = watch::channel(false);
    Ok(Served {
        addr,
        shutdown: Shutdown {
            handle,
            jobs,
            extra: Vec::new(),
        },
        task,
    })
}

/// The host clients use for the bare listener.
fn public_host(ip: IpAddr) -> String {
    if ip.is_loopback() || ip.is_unspecified() {
        "localhost".into()
    } else {
        ip.to_string()
    }
}

fn create_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    // 0700: the directory holds the master key, keys and credentials.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

/// Refuses to start with a master key that cannot open what the database
/// holds (a data directory paired with another server's database).
async fn check_master_key(meta: &dyn MetaStore, sealer: &Sealer) -> anyhow::Result<()> {
    let sealed = hex::encode(sealer.seal(MASTER_KEY_CHECK_PLAINTEXT)?);
    meta.insert_setting_if_absent(MASTER_KEY_CHECK, &sealed)
        .await?;
    let stored = meta
        .find_setting(MASTER_KEY_CHECK)
        .await?
        .context("master key check vanished")?;
    let opened = hex::decode(&stored)
        .ok()
        .and_then(|b| sealer.open(&b).ok())
        .is_some_and(|p| p == MASTER_KEY_CHECK_PLAINTEXT);
    anyhow::ensure!(
        opened,
        "the master key (master.key in the data directory) is not the one this database was \
         created with; secrets in the database cannot be read. Use the original master.key."
    );
    Ok(())
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::oci::routes())
        .merge(crate::acr_v1::routes())
        .merge(crate::token::routes())
        .merge(crate::directory::routes())
        .merge(crate::arm::routes())
        .merge(ops::routes())
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(ops::track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings are not logged.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Removes uploads untouched for [`UPLOAD_MAX_IDLE`], every
/// [`JANITOR_INTERVAL`], until shutdown.
async fn janitor(state: AppState, mut stop: watch::Receiver<bool>) {
    let permit = Permit::for_system_job("upload-janitor");
    let content = Distribution::new(state.meta.clone(), state.blobs.clone());
    loop {
        let idle = time::Duration::try_from(UPLOAD_MAX_IDLE).unwrap_or(time::Duration::DAY);
        let before = time::OffsetDateTime::now_utc() - idle;
        match state.meta.list_stale_uploads(before).await {
            Ok(stale) => {
                for u in stale {
                    let repo = content.repository(u.registry_id.clone(), u.repository.clone());
                    match repo.cancel_upload(&permit, &u.id).await {
                        Ok(()) => tracing::info!(upload = %u.id, "removed an abandoned upload"),
                        Err(e) => {
                            tracing::warn!(upload = %u.id, error = %e, "could not remove an abandoned upload")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "janitor: listing stale uploads failed"),
        }
        // Expired directory refresh tokens and device codes (#3), and
        // signing keys other replicas made or rotated.
        if let Err(e) = crate::directory::purge_expired(&state).await {
            tracing::warn!(error = %e, "janitor: purging expired directory sessions failed");
        }
        if let Err(e) = crate::directory::keys::load(&state).await {
            tracing::warn!(error = %e, "janitor: reloading directory signing keys failed");
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(JANITOR_INTERVAL) => {}
        }
    }
}

fn print_banner(r: &Running) {
    let b = &r.bootstrap;
    let url = r.state.settings.server_url();
    println!("acrylic is serving {url} (listening on {})", r.addr);
    if let Some(extra) = r.userrealm_addr {
        println!("  also listening on {extra} (userrealm_listen: MSAL's user-realm probe)");
    }
    println!("  registry {}: login server {}", b.registry, b.login_server);
    println!(
        "  other registries: <name>.{}{}",
        r.state.settings.domain,
        r.state
            .settings
            .public_port
            .map(|p| format!(":{p}"))
            .unwrap_or_default()
    );
    if let Some(ca) = &r.ca_cert {
        println!("{}", tls::trust_instructions(ca, &b.login_server));
    } else if !r.tls {
        println!("  plain HTTP: clients need --tls-verify=false / insecure-registry settings");
    }
    match (&b.password, b.first_start) {
        (Some(pw), true) => {
            println!(
                "First start. The owner's credentials (shown once; also in {}):",
                b.file.display()
            );
            println!("  tenant        {}", b.tenant);
            println!("  subscription  {}", b.subscription);
            println!("  username      {}", b.username);
            println!("  password      {pw}");
        }
        _ => println!(
            "Owner: {} (credentials from the first start: {})",
            b.username,
            b.file.display()
        ),
    }
}
