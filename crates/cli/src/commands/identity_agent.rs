//! `acrylic identity-agent --resource <id> --credential-file F [--listen
//! 127.0.0.1:PORT]` (issue #5 §2): what a workload on a resource talks to
//! for managed-identity tokens, the role IMDS and App Service's identity
//! endpoint play in Azure (acr-auth.md §5.4, clients.md "Managed identity,
//! as ManagedIdentityCredential picks it").
//!
//! The agent holds the resource's agent credential (issued with the
//! resource's first identity and written by `acrylic resource create` or
//! `resource identity assign`, or replaced by `acrylic resource
//! agent-credential`; never exposed to the workload), rotates it when it
//! starts and then every `--rotate-every` seconds while it runs (the file
//! is rewritten; the old value dies at once), and asks the
//! directory's managed-identity grant for tokens, which only ever names
//! identities assigned to that resource. It serves on loopback:
//! - IMDS: `GET /metadata/identity/oauth2/token?api-version&resource
//!   [&client_id|object_id|msi_res_id]` with `Metadata: true` (required);
//!   the answer has string `expires_in`/`expires_on`/`not_before`, as IMDS;
//! - App Service: `GET /msi/token?api-version=2019-08-01&resource
//!   [&client_id|principal_id|object_id|mi_res_id]` with `X-IDENTITY-HEADER`
//!   = the `IDENTITY_HEADER` it printed; the answer has a string
//!   `expires_on`.
//!
//! Every refusal is a 400 with a JSON `{"error", "error_description"}`:
//! azure-identity retries IMDS on 404, 410, 429 and 5xx, so those are never
//! used. At start it prints the environment variables a workload sets.
//! Tokens are cached per audience and identity until five minutes before
//! they expire.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::CliError;

/// What `acrylic resource agent-credential` writes (mode 0600).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialFile {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    pub tenant_id: String,
    pub resource_id: String,
    pub credential: String,
}

impl CredentialFile {
    /// Writes the file readable by its owner only.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut f = options
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The resource id of the resource this agent serves.
    #[arg(long)]
    pub resource: String,
    /// The agent credential file (`acrylic resource agent-credential`).
    #[arg(long)]
    pub credential_file: PathBuf,
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Seconds between rotations of the agent credential while running.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub rotate_every: u64,
}

struct Agent {
    http: reqwest::Client,
    /// The current credential file (its `credential` changes on rotation).
    file: Mutex<CredentialFile>,
    /// The `IDENTITY_HEADER` secret of the App Service protocol.
    header_secret: String,
    /// (audience, selector) → (token response, expires_on).
    cache: Mutex<HashMap<(String, String), (Token, i64)>>,
}

#[derive(Debug, Clone)]
struct Token {
    access_token: String,
    expires_on: i64,
    not_before: i64,
    client_id: String,
    resource: String,
}

/// A refusal: always 400 with OAuth's JSON error.
struct Refusal(String, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": self.0, "error_description": self.1})),
        )
            .into_response()
    }
}

fn bad(description: impl Into<String>) -> Refusal {
    Refusal("invalid_request".into(), description.into())
}

pub fn run(args: AgentArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--listen {} is not a loopback address: the agent serves the workload on this machine only",
            args.listen
        ))
        .into());
    }
    let text = std::fs::read_to_string(&args.credential_file)
        .with_context(|| format!("reading {}", args.credential_file.display()))?;
    let file: CredentialFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an agent credential file (write one with `acrylic resource agent-credential`)",
            args.credential_file.display()
        )
    })?;
    if !file.resource_id.eq_ignore_ascii_case(args.resource.trim()) {
        return Err(CliError::Usage(format!(
            "the credential file is for {}, not {}",
            file.resource_id, args.resource
        ))
        .into());
    }
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(path) = &file.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
        b = b.tls_certs_only(certs);
    }
    let http = b.build().context("building the HTTP client")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The agent's first act: trade the credential for a new one, so the
    // file it was handed (and any copy of it) is dead from now on.
    let file = rt.block_on(rotate(&http, file, &args.credential_file))?;
    let agent = Arc::new(Agent {
        http,
        file: Mutex::new(file),
        header_secret: format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ),
        cache: Mutex::new(HashMap::new()),
    });
    rt.spawn(keep_rotating(
        Arc::clone(&agent),
        args.credential_file,
        Duration::from_secs(args.rotate_every),
    ));
    rt.block_on(serve(agent, args.listen))
}

/// Rotates the credential every `every` while the agent runs; a failed
/// rotation is reported on stderr and tried again at the next tick (the
/// current credential stays valid until a rotation succeeds).
async fn keep_rotating(agent: Arc<Agent>, path: PathBuf, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(current) = agent.current_file() else {
            return;
        };
        match rotate(&agent.http, current, &path).await {
            Ok(next) => {
                if let Ok(mut f) = agent.file.lock() {
                    *f = next;
                }
            }
            Err(e) => eprintln!("WARNING: rotating the agent credential failed: {e:#}"),
        }
    }
}

/// Rotates the credential at the directory and saves the new one in
/// `path` (written beside it, then renamed over it).
async fn rotate(
    http: &reqwest::Client,
    mut file: CredentialFile,
    path: &Path,
) -> Result<CredentialFile> {
    let url = format!(
        "{}/{}/oauth2/managedidentity/rotate",
        file.server.trim_end_matches('/'),
        file.tenant_id
    );
    let resp = http
        .post(&url)
        .form(&[
            ("resource_id", file.resource_id.as_str()),
            ("credential", file.credential.as_str()),
        ])
        .send()
        .await
        .with_context(|| format!("reaching the directory at {}", file.server))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .context("the directory's answer is not JSON")?;
    let Some(secret) = body["credential"].as_str().filter(|_| status.is_success()) else {
        return Err(CliError::Usage(format!(
            "the directory refused the agent credential in {} ({}): issue a new one with \
             `acrylic resource agent-credential`",
            path.display(),
            body["error_description"]
                .as_str()
                .unwrap_or("no reason given")
        ))
        .into());
    };
    file.credential = secret.to_owned();
    let tmp = path.with_extension("rotating");
    file.write(&tmp)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(file)
}

async fn serve(agent: Arc<Agent>, listen: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "# App Service protocol (azure-identity picks it when both are set):"
    )?;
    writeln!(out, "IDENTITY_ENDPOINT=http://{addr}/msi/token")?;
    writeln!(out, "IDENTITY_HEADER={}", agent.header_secret)?;
    writeln!(out, "# IMDS protocol (set instead of the two above):")?;
    writeln!(out, "AZURE_POD_IDENTITY_AUTHORITY_HOST=http://{addr}")?;
    out.flush()?;
    let app = Router::new()
        .route("/metadata/identity/oauth2/token", get(imds))
        .route("/msi/token", get(app_service))
        .fallback(|| async {
            bad("no such endpoint: use /metadata/identity/oauth2/token or /msi/token")
        })
        .with_state(agent);
    axum::serve(listener, app).await.context("serving")
}

/// The query parameters both protocols use.
type Params = HashMap<String, String>;

fn param<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.get(name)
        .map(String::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

async fn imds(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let metadata = headers
        .get("metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !metadata {
        return bad("Required metadata header not specified").into_response();
    }
    if param(&q, "api-version").is_none() {
        return bad("Required query variable 'api-version' is missing").into_response();
    }
    let Some(resource) = param(&q, "resource") else {
        return bad("Required query variable 'resource' is missing").into_response();
    };
    let selector = [
        ("client_id", "client_id"),
        ("object_id", "object_id"),
        ("msi_res_id", "msi_res_id"),
    ];
    match agent.token(resource, &q, &selector).await {
        Ok(t) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            axum::Json(json!({
                "access_token": t.access_token,
                "refresh_token": "",
                "expires_in": (t.expires_on - now).max(0).to_string(),
                "expires_on": t.expires_on.to_string(),
                "ext_expires_in": (t.expires_on - now).max(0).to_string(),
                "not_before": t.not_before.to_string(),
                "resource": t.resource,
                "token_type": "Bearer",
                "client_id": t.client_id,
            }))
            .into_response()
        }
        Err(r) => r.into_response(),
    }
}

async fn app_service(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let given = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), agent.header_secret.as_bytes()) {
        return Refusal(
            "invalid_request".into(),
            "The X-IDENTITY-HEADER header is missing or wrong".into(),
        )
        .into_response();
    }
    match param(&q, "api-version") {
        Some("2019-08-01") => {}
        _ => return bad("api-version must be 2019-08-01").into_response(),
    }
    let Some(resource) = param(&q, "resource") else {
        return bad("Required query variable 'resource' is missing").into_response();
    };
    let selector = [
        ("client_id", "client_id"),
        ("principal_id", "object_id"),
        ("object_id", "object_id"),
        ("mi_res_id", "msi_res_id"),
    ];
    match agent.token(resource, &q, &selector).await {
        Ok(t) => axum::Json(json!({
            "access_token": t.access_token,
            "expires_on": t.expires_on.to_string(),
            "resource": t.resource,
            "token_type": "Bearer",
            "client_id": t.client_id,
        }))
        .into_response(),
        Err(r) => r.into_response(),
    }
}

/// Compares secrets in constant time.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Agent {
    fn current_file(&self) -> Option<CredentialFile> {
        self.file.lock().ok().map(|f| f.clone())
    }

    /// A token for `resource` as the identity the query selects (`names`
    /// maps the protocol's parameter names to the grant's).
    async fn token(
        &self,
        resource: &str,
        q: &Params,
        names: &[(&str, &'static str)],
    ) -> Result<Token, Refusal> {
        let chosen: Vec<(&'static str, &str)> = names
            .iter()
            .filter_map(|(from, to)| param(q, from).map(|v| (*to, v)))
            .collect();
        if chosen.len() > 1 {
            return Err(bad("Only one of the identity selectors may be given"));
        }
        let key = (
            resource.to_owned(),
            chosen
                .first()
                .map(|(k, v)| format!("{k}={}", v.to_ascii_lowercase()))
                .unwrap_or_default(),
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cached = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).cloned())
            .filter(|(_, exp)| *exp - 300 > now);
        if let Some((t, _)) = cached {
            return Ok(t);
        }
        let (resp, file) = self.ask_directory(resource, &chosen).await?;
        // A rotation may have replaced the credential while the request was
        // in flight: ask once more with the new one.
        let resp = if resp.status() == StatusCode::UNAUTHORIZED {
            // (The rotation may still be saving it: give it a moment.)
            tokio::time::sleep(Duration::from_millis(250)).await;
            match self.current_file() {
                Some(now) if now.credential != file.credential => {
                    self.ask_directory(resource, &chosen).await?.0
                }
                _ => resp,
            }
        } else {
            resp
        };
        let ok = resp.status().is_success();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| bad(format!("the directory's answer is not JSON: {e}")))?;
        if !ok {
            return Err(Refusal(
                body["error"]
                    .as_str()
                    .unwrap_or("invalid_request")
                    .to_owned(),
                body["error_description"]
                    .as_str()
                    .unwrap_or("the directory refused the request")
                    .to_owned(),
            ));
        }
        let expires_in = body["expires_in"].as_i64().unwrap_or(0);
        let t = Token {
            access_token: body["access_token"].as_str().unwrap_or_default().to_owned(),
            expires_on: now + expires_in,
            not_before: now,
            client_id: body["client_id"].as_str().unwrap_or_default().to_owned(),
            resource: resource.to_owned(),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, (t.clone(), t.expires_on));
        }
        Ok(t)
    }

    /// One token request to the directory with the current credential;
    /// returns the answer and the file it was made with.
    async fn ask_directory(
        &self,
        resource: &str,
        chosen: &[(&'static str, &str)],
    ) -> Result<(reqwest::Response, CredentialFile), Refusal> {
        let file = self
            .current_file()
            .ok_or_else(|| bad("the agent's credential is unavailable"))?;
        let mut form: Vec<(&str, &str)> = vec![
            ("resource_id", file.resource_id.as_str()),
            ("credential", file.credential.as_str()),
            ("resource", resource),
        ];
        form.extend(chosen.iter().copied());
        let url = format!(
            "{}/{}/oauth2/managedidentity/token",
            file.server.trim_end_matches('/'),
            file.tenant_id
        );
        let resp = self.http.post(&url).form(&form).send().await.map_err(|e| {
            bad(format!(
                "the directory at {} is unreachable: {e}",
                file.server
            ))
        })?;
        Ok((resp, file))
    }
}
