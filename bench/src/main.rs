//! `acrylic-bench`: the client side of the loopback benchmark that `bench/run`
//! drives (issue #2 §8). `bench/run` starts acrylic and Debian's
//! docker-registry; this binary measures both, one at a time (never both at
//! once, so they do not share the two cores), and prints one table:
//! - 1 GiB blob push, monolithic (POST, then one streamed `PUT ?digest=`) and
//!   chunked (POST, `PATCH` chunks with `Content-Range`, `PUT ?digest=`),
//!   streamed from a generated file;
//! - 1 GiB blob pull, streamed and hashed: the digest is verified;
//! - manifest GET requests/s with auth (a bearer token for acrylic, Basic for
//!   an htpasswd docker-registry), `--concurrency` connections;
//! - credential checks/s: acrylic's `/oauth2/token` with Basic credentials;
//!   docker-registry has no token service, so its row is `GET /v2/` with Basic,
//!   which makes it check the htpasswd password;
//! - peak RSS (`VmHWM` in `/proc/<pid>/status`) of each server: at idle, after
//!   the 1 GiB pushes and pulls, and at the end.
//!
//! Every loop is bounded by a request count and a duration, and only loopback
//! addresses are accepted as targets.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use futures::StreamExt as _;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Client, Response, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

const MIB: f64 = 1024.0 * 1024.0;
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Parser, Debug)]
#[command(
    about = "Benchmark acrylic against docker-registry on loopback (run it through bench/run)"
)]
struct Args {
    /// acrylic's base URL (loopback only).
    #[arg(long)]
    acrylic_url: Url,
    /// acrylic's admin username (the registry name).
    #[arg(long)]
    acrylic_user: String,
    #[arg(long, env = "BENCH_ACRYLIC_PASSWORD", hide_env_values = true)]
    acrylic_password: String,
    /// acrylic's process id, for its RSS.
    #[arg(long)]
    acrylic_pid: u32,
    /// docker-registry's base URL (loopback only).
    #[arg(long)]
    peer_url: Url,
    #[arg(long)]
    peer_user: String,
    #[arg(long, env = "BENCH_PEER_PASSWORD", hide_env_values = true)]
    peer_password: String,
    #[arg(long)]
    peer_pid: u32,
    /// Optional: a second docker-registry without auth, measured for manifest
    /// GET only, to show what the peer's htpasswd check costs it.
    #[arg(long)]
    peer_noauth_url: Option<Url>,
    /// Where the generated blob files go.
    #[arg(long)]
    work_dir: PathBuf,
    /// Size of each generated blob, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    blob_size: u64,
    /// Size of each PATCH in the chunked push, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    chunk_size: u64,
    /// Blob pushes and pulls per server and kind; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Duration of each request-rate measurement, in seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent connections for the request-rate measurements.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Upper bound on requests in one request-rate measurement.
    #[arg(long, default_value_t = 500_000)]
    max_requests: u64,
}

/// How a registry wants to be authenticated, read from its `/v2/` challenge.
#[derive(Debug, Clone)]
enum Auth {
    /// Token auth: `Bearer realm=…,service=…`. The bench sends token requests
    /// to the realm's path on the address it measures (the bootstrap registry
    /// answers on the bare listener address).
    Bearer { realm_path: String, service: String },
    /// Basic on every request (htpasswd).
    Basic,
    /// No authentication (only for the reference registry).
    Anonymous,
}

struct Target {
    name: &'static str,
    base: Url,
    user: String,
    password: String,
    pid: u32,
    client: Client,
    auth: Auth,
}

impl Target {
    async fn connect(
        name: &'static str,
        base: Url,
        user: String,
        password: String,
        pid: u32,
    ) -> Result<Target> {
        Target::connect_with(name, base, user, password, pid, false).await
    }

    /// `anonymous`: accept a registry that needs no authentication.
    async fn connect_with(
        name: &'static str,
        base: Url,
        user: String,
        password: String,
        pid: u32,
        anonymous: bool,
    ) -> Result<Target> {
        ensure_loopback(&base)?;
        let client = Client::builder()
            .timeout(Duration::from_secs(600))
            .pool_max_idle_per_host(64)
            .build()?;
        let response = client
            .get(base.join("/v2/")?)
            .send()
            .await
            .with_context(|| format!("GET {base}v2/"))?;
        if anonymous && response.status() == StatusCode::OK {
            let auth = Auth::Anonymous;
            return Ok(Target {
                name,
                base,
                user,
                password,
                pid,
                client,
                auth,
            });
        }
        ensure!(
            response.status() == StatusCode::UNAUTHORIZED,
            "{name}: anonymous GET /v2/ answered {}, expected 401 (the bench measures authenticated access)",
            response.status()
        );
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .context("401 without WWW-Authenticate")?
            .to_owned();
        let auth = if let Some(params) = challenge.strip_prefix("Bearer ") {
            let param = |key: &str| {
                params.split(',').find_map(|kv| {
                    let (k, v) = kv.trim().split_once('=')?;
                    (k == key).then(|| v.trim_matches('"').to_owned())
                })
            };
            let realm = Url::parse(&param("realm").context("challenge without realm")?)?;
            Auth::Bearer {
                realm_path: realm.path().to_owned(),
                service: param("service").unwrap_or_default(),
            }
        } else if challenge.starts_with("Basic") {
            Auth::Basic
        } else {
            bail!("{name}: unknown challenge {challenge}");
        };
        Ok(Target {
            name,
            base,
            user,
            password,
            pid,
            client,
            auth,
        })
    }

    fn basic(&self) -> Result<HeaderValue> {
        let raw = format!("{}:{}", self.user, self.password);
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        );
        Ok(HeaderValue::from_str(&value)?)
    }

    fn token_url(&self, scope: &str) -> Result<Option<Url>> {
        let Auth::Bearer {
            realm_path,
            service,
        } = &self.auth
        else {
            return Ok(None);
        };
        let mut url = self.base.join(realm_path)?;
        url.query_pairs_mut()
            .append_pair("service", service)
            .append_pair("scope", scope);
        Ok(Some(url))
    }

    /// The `Authorization` value for requests needing `scope`.
    async fn authorization(&self, scope: &str) -> Result<HeaderValue> {
        let Some(url) = self.token_url(scope)? else {
            return self.basic();
        };
        let response = self
            .client
            .get(url)
            .header(AUTHORIZATION, self.basic()?)
            .send()
            .await?;
        let body: serde_json::Value = expect(response, StatusCode::OK, "token request")
            .await?
            .json()
            .await?;
        let token = body["access_token"]
            .as_str()
            .or(body["token"].as_str())
            .context("no access_token")?;
        Ok(HeaderValue::from_str(&format!("Bearer {token}"))?)
    }

    fn url(&self, path: &str) -> Result<Url> {
        Ok(self.base.join(path)?)
    }

    /// `POST /v2/<repo>/blobs/uploads/`: the upload's URL.
    async fn start_upload(&self, auth: &HeaderValue, repo: &str) -> Result<Url> {
        let response = self
            .client
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/"))?)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_LENGTH, 0)
            .send()
            .await?;
        let response = expect(response, StatusCode::ACCEPTED, "start upload").await?;
        self.location(&response)
    }

    fn location(&self, response: &Response) -> Result<Url> {
        let location = response
            .headers()
            .get(LOCATION)
            .context("no Location")?
            .to_str()?;
        Ok(self.base.join(location)?)
    }

    /// Monolithic: POST, then one `PUT ?digest=` streaming `body`.
    async fn put_blob(
        &self,
        auth: &HeaderValue,
        repo: &str,
        digest: &str,
        size: u64,
        body: reqwest::Body,
    ) -> Result<()> {
        let url = with_digest(self.start_upload(auth, repo).await?, digest);
        let response = self
            .client
            .put(url)
            .header(AUTHORIZATION, auth)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(body)
            .send()
            .await?;
        check_digest(
            expect(response, StatusCode::CREATED, "PUT blob").await?,
            digest,
        )
    }

    /// Chunked: POST, `PATCH` chunks of `chunk` bytes from `path`, `PUT ?digest=`.
    async fn patch_blob(
        &self,
        auth: &HeaderValue,
        repo: &str,
        path: &Path,
        digest: &str,
        chunk: u64,
    ) -> Result<()> {
        let mut location = self.start_upload(auth, repo).await?;
        let mut file = tokio::fs::File::open(path).await?;
        let size = file.metadata().await?.len();
        let mut offset = 0u64;
        while offset < size {
            let len = chunk.min(size - offset);
            let mut buf = vec![0u8; usize::try_from(len)?];
            file.read_exact(&mut buf).await?;
            let response = self
                .client
                .patch(location.clone())
                .header(AUTHORIZATION, auth)
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, len)
                .header("Content-Range", format!("{offset}-{}", offset + len - 1))
                .body(Bytes::from(buf))
                .send()
                .await?;
            location =
                self.location(&expect(response, StatusCode::ACCEPTED, "PATCH chunk").await?)?;
            offset += len;
        }
        let response = self
            .client
            .put(with_digest(location, digest))
            .header(AUTHORIZATION, auth)
            .header(CONTENT_LENGTH, 0)
            .send()
            .await?;
        check_digest(
            expect(response, StatusCode::CREATED, "closing PUT").await?,
            digest,
        )
    }

    /// Streams a blob, verifying its digest and size.
    async fn pull_blob(
        &self,
        auth: &HeaderValue,
        repo: &str,
        digest: &str,
        size: u64,
    ) -> Result<()> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"))?;
        let response = self
            .client
            .get(url)
            .header(AUTHORIZATION, auth)
            .send()
            .await?;
        let mut stream = expect(response, StatusCode::OK, "GET blob")
            .await?
            .bytes_stream();
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            received += chunk.len() as u64;
            hasher.update(&chunk);
        }
        ensure!(
            received == size,
            "{}: pulled {received} bytes, expected {size}",
            self.name
        );
        let actual = format!("sha256:{}", hex(&hasher.finalize()));
        ensure!(
            actual == digest,
            "{}: pulled blob has digest {actual}, expected {digest}",
            self.name
        );
        Ok(())
    }

    /// Best effort: keeps the disk from filling across runs.
    async fn delete_blob(&self, auth: &HeaderValue, repo: &str, digest: &str) {
        if let Ok(url) = self.url(&format!("/v2/{repo}/blobs/{digest}")) {
            let _ = self
                .client
                .delete(url)
                .header(AUTHORIZATION, auth)
                .send()
                .await;
        }
    }

    fn rss(&self) -> Result<Rss> {
        Rss::read(self.pid)
            .with_context(|| format!("{}: reading /proc/{}/status", self.name, self.pid))
    }
}

fn ensure_loopback(url: &Url) -> Result<()> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    ensure!(
        loopback,
        "{url} is not a loopback address: the bench only talks to this machine"
    );
    Ok(())
}

fn with_digest(mut url: Url, digest: &str) -> Url {
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

async fn expect(response: Response, status: StatusCode, what: &str) -> Result<Response> {
    if response.status() == status {
        return Ok(response);
    }
    let got = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!(
        "{what}: HTTP {got} (expected {status}): {}",
        body.chars().take(500).collect::<String>()
    )
}

fn check_digest(response: Response, digest: &str) -> Result<()> {
    let header = response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok());
    ensure!(
        header == Some(digest),
        "Docker-Content-Digest {header:?}, expected {digest}"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

// ---------------------------------------------------------------------------
// Generated blobs

struct BlobFile {
    path: PathBuf,
    digest: String,
    size: u64,
}

/// Writes `size` pseudo-random (incompressible) bytes from `seed`, hashing
/// them on the way.
async fn generate(dir: &Path, name: &str, size: u64, seed: u64) -> Result<BlobFile> {
    let path = dir.join(name);
    let mut file =
        tokio::io::BufWriter::with_capacity(4 << 20, tokio::fs::File::create(&path).await?);
    let mut hasher = Sha256::new();
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = usize::try_from(left.min(buf.len() as u64))?;
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    file.flush().await?;
    Ok(BlobFile {
        path,
        digest: format!("sha256:{}", hex(&hasher.finalize())),
        size,
    })
}

async fn file_body(path: &Path) -> Result<reqwest::Body> {
    let file = tokio::fs::File::open(path).await?;
    Ok(reqwest::Body::wrap_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
    ))
}

// ---------------------------------------------------------------------------
// Measurements

#[derive(Debug, Clone, Copy)]
struct Rss {
    rss_kib: u64,
    hwm_kib: u64,
}

impl Rss {
    fn read(pid: u32) -> Result<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name}"))?;
            Ok(line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?)
        };
        Ok(Rss {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }
}

#[derive(Default)]
struct Results {
    push_monolithic: Vec<f64>,
    push_chunked: Vec<f64>,
    pull: Vec<f64>,
    manifest_rps: f64,
    credential_rps: f64,
    idle: Option<Rss>,
    after_blobs: Option<Rss>,
    end: Option<Rss>,
}

fn mib_per_s(size: u64, elapsed: Duration) -> f64 {
    size as f64 / MIB / elapsed.as_secs_f64()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs `request` from `concurrency` tasks until `seconds` pass or `max`
/// requests were sent; requests per second. Any failed request fails the run.
async fn rate<F, Fut>(concurrency: usize, seconds: u64, max: u64, request: F) -> Result<f64>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let request = Arc::new(request);
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (request, count) = (request.clone(), count.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline && count.fetch_add(1, Ordering::Relaxed) < max {
                request().await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let done = count.load(Ordering::Relaxed).min(max);
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

async fn blob_runs(
    targets: &[Target],
    results: &mut [Results],
    args: &Args,
    blobs: &[BlobFile; 2],
) -> Result<()> {
    let [mono, chunked] = blobs;
    let repo = "bench/blob";
    let scope = format!("repository:{repo}:pull,push,delete");
    for run in 1..=args.runs {
        for (target, result) in targets.iter().zip(results.iter_mut()) {
            let auth = target.authorization(&scope).await?;
            let t = Instant::now();
            target
                .put_blob(
                    &auth,
                    repo,
                    &mono.digest,
                    mono.size,
                    file_body(&mono.path).await?,
                )
                .await?;
            result
                .push_monolithic
                .push(mib_per_s(mono.size, t.elapsed()));

            let t = Instant::now();
            target
                .patch_blob(&auth, repo, &chunked.path, &chunked.digest, args.chunk_size)
                .await?;
            result
                .push_chunked
                .push(mib_per_s(chunked.size, t.elapsed()));

            let t = Instant::now();
            target
                .pull_blob(&auth, repo, &mono.digest, mono.size)
                .await?;
            result.pull.push(mib_per_s(mono.size, t.elapsed()));

            target.delete_blob(&auth, repo, &mono.digest).await;
            target.delete_blob(&auth, repo, &chunked.digest).await;
            eprintln!(
                "  run {run}/{}: {:<16} push {:>7.0} MiB/s, chunked push {:>7.0} MiB/s, pull {:>7.0} MiB/s",
                args.runs,
                target.name,
                result.push_monolithic.last().copied().unwrap_or(f64::NAN),
                result.push_chunked.last().copied().unwrap_or(f64::NAN),
                result.pull.last().copied().unwrap_or(f64::NAN),
            );
        }
    }
    Ok(())
}

/// Pushes a small image (layer, config, manifest) to `bench/manifest:v1`;
/// returns the manifest digest.
async fn push_small_image(target: &Target) -> Result<String> {
    let repo = "bench/manifest";
    let auth = target
        .authorization(&format!("repository:{repo}:pull,push"))
        .await?;
    let layer = Bytes::from_static(b"acrylic bench layer\n");
    let config = Bytes::from_static(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    for blob in [&layer, &config] {
        target
            .put_blob(
                &auth,
                repo,
                &sha256(blob),
                blob.len() as u64,
                blob.clone().into(),
            )
            .await?;
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}],
    }))?;
    let digest = sha256(&manifest);
    let response = target
        .client
        .put(target.url(&format!("/v2/{repo}/manifests/v1"))?)
        .header(AUTHORIZATION, &auth)
        .header(CONTENT_TYPE, MANIFEST_TYPE)
        .body(manifest)
        .send()
        .await?;
    check_digest(
        expect(response, StatusCode::CREATED, "PUT manifest").await?,
        &digest,
    )?;
    Ok(digest)
}

async fn manifest_rate(target: &Target, args: &Args) -> Result<f64> {
    let digest = push_small_image(target).await?;
    let auth = target
        .authorization("repository:bench/manifest:pull")
        .await?;
    let client = target.client.clone();
    let url = target.url("/v2/bench/manifest/manifests/v1")?;
    rate(
        args.concurrency,
        args.seconds,
        args.max_requests,
        move || {
            let (client, url, auth, digest) =
                (client.clone(), url.clone(), auth.clone(), digest.clone());
            async move {
                let response = client
                    .get(url)
                    .header(AUTHORIZATION, auth)
                    .header(ACCEPT, MANIFEST_TYPE)
                    .send()
                    .await?;
                let response = expect(response, StatusCode::OK, "GET manifest").await?;
                let header = response.headers().get("Docker-Content-Digest").cloned();
                ensure!(
                    header.as_ref().and_then(|h| h.to_str().ok()) == Some(digest.as_str()),
                    "wrong digest"
                );
                response.bytes().await?;
                Ok(())
            }
        },
    )
    .await
}

/// acrylic: `/oauth2/token` with Basic; docker-registry: `GET /v2/` with Basic.
async fn credential_rate(target: &Target, args: &Args) -> Result<f64> {
    let basic = target.basic()?;
    let client = target.client.clone();
    let (url, token_service) = match target.token_url("repository:bench/manifest:pull")? {
        Some(url) => (url, true),
        None => (target.url("/v2/")?, false),
    };
    rate(
        args.concurrency,
        args.seconds,
        args.max_requests,
        move || {
            let (client, url, basic) = (client.clone(), url.clone(), basic.clone());
            async move {
                let response = client.get(url).header(AUTHORIZATION, basic).send().await?;
                let response = expect(response, StatusCode::OK, "credential check").await?;
                if token_service {
                    let body: serde_json::Value = response.json().await?;
                    ensure!(
                        body["access_token"].is_string() || body["token"].is_string(),
                        "no token in {body}"
                    );
                } else {
                    response.bytes().await?;
                }
                Ok(())
            }
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// Report

fn print_table(
    targets: &[Target],
    results: &[Results],
    args: &Args,
    reference_manifest_rps: Option<f64>,
) {
    let [a, p] = results else { return };
    let peer = targets.get(1).map_or("peer", |t| t.name);
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let size = format!("{:.0} MiB", args.blob_size as f64 / MIB);
    let rows: Vec<(String, f64, f64, &str)> = vec![
        (
            format!("blob push, monolithic PUT, {size} (MiB/s)"),
            median(&a.push_monolithic),
            median(&p.push_monolithic),
            "higher",
        ),
        (
            format!(
                "blob push, chunked PATCH {} MiB, {size} (MiB/s)",
                args.chunk_size >> 20
            ),
            median(&a.push_chunked),
            median(&p.push_chunked),
            "higher",
        ),
        (
            format!("blob pull, {size} (MiB/s)"),
            median(&a.pull),
            median(&p.pull),
            "higher",
        ),
        (
            "manifest GET with auth (req/s)".into(),
            a.manifest_rps,
            p.manifest_rps,
            "higher",
        ),
        (
            format!("manifest GET: acrylic with auth, {peer} without (req/s)"),
            reference_manifest_rps.map_or(f64::NAN, |_| a.manifest_rps),
            reference_manifest_rps.unwrap_or(f64::NAN),
            "higher",
        ),
        (
            "credential check: acrylic /oauth2/token, peer GET /v2/, Basic (req/s)".into(),
            a.credential_rps,
            p.credential_rps,
            "higher",
        ),
        (
            "RSS at idle (MiB)".into(),
            mib(a.idle.map(|r| r.rss_kib)),
            mib(p.idle.map(|r| r.rss_kib)),
            "lower",
        ),
        (
            format!("peak RSS through the {size} pushes and pulls (MiB)"),
            mib(a.after_blobs.map(|r| r.hwm_kib)),
            mib(p.after_blobs.map(|r| r.hwm_kib)),
            "lower",
        ),
        (
            "peak RSS, whole run (MiB)".into(),
            mib(a.end.map(|r| r.hwm_kib)),
            mib(p.end.map(|r| r.hwm_kib)),
            "lower",
        ),
    ];
    println!();
    println!("| metric | acrylic | {peer} | acrylic / {peer} | better |");
    println!("|---|---:|---:|---:|---|");
    for (name, x, y, better) in rows {
        if x.is_nan() && y.is_nan() {
            continue;
        }
        println!("| {name} | {x:.0} | {y:.0} | {:.2} | {better} |", x / y);
    }
    println!();
    let runs = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (target, r) in targets.iter().zip(results) {
        println!(
            "{}: runs (MiB/s) push [{}], chunked push [{}], pull [{}]",
            target.name,
            runs(&r.push_monolithic),
            runs(&r.push_chunked),
            runs(&r.pull)
        );
    }
    println!(
        "settings: {} runs per blob measurement (median shown), request rates over {} s with {} connections",
        args.runs, args.seconds, args.concurrency
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let targets = [
        Target::connect(
            "acrylic",
            args.acrylic_url.clone(),
            args.acrylic_user.clone(),
            args.acrylic_password.clone(),
            args.acrylic_pid,
        )
        .await?,
        Target::connect(
            "docker-registry",
            args.peer_url.clone(),
            args.peer_user.clone(),
            args.peer_password.clone(),
            args.peer_pid,
        )
        .await?,
    ];
    let mut results: Vec<Results> = targets.iter().map(|_| Results::default()).collect();
    for (target, result) in targets.iter().zip(results.iter_mut()) {
        result.idle = Some(target.rss()?);
        eprintln!("{}: {:?} auth", target.name, target.auth);
    }

    eprintln!(
        "generating two {} MiB blobs in {}",
        args.blob_size >> 20,
        args.work_dir.display()
    );
    tokio::fs::create_dir_all(&args.work_dir).await?;
    let blobs = [
        generate(
            &args.work_dir,
            "blob-monolithic",
            args.blob_size,
            0x9e37_79b9_7f4a_7c15,
        )
        .await?,
        generate(
            &args.work_dir,
            "blob-chunked",
            args.blob_size,
            0xd1b5_4a32_d192_ed03,
        )
        .await?,
    ];

    eprintln!("blob push and pull ({} runs)", args.runs);
    blob_runs(&targets, &mut results, &args, &blobs).await?;
    for (target, result) in targets.iter().zip(results.iter_mut()) {
        result.after_blobs = Some(target.rss()?);
    }
    for blob in &blobs {
        let _ = tokio::fs::remove_file(&blob.path).await;
    }

    for (target, result) in targets.iter().zip(results.iter_mut()) {
        eprintln!("{}: manifest GET for {} s", target.name, args.seconds);
        result.manifest_rps = manifest_rate(target, &args).await?;
        eprintln!("{}: credential checks for {} s", target.name, args.seconds);
        result.credential_rps = credential_rate(target, &args).await?;
        result.end = Some(target.rss()?);
    }

    let mut reference_manifest_rps = None;
    if let Some(url) = &args.peer_noauth_url {
        let reference = Target::connect_with(
            "docker-registry (no auth)",
            url.clone(),
            String::new(),
            String::new(),
            0,
            true,
        )
        .await?;
        eprintln!("{}: manifest GET for {} s", reference.name, args.seconds);
        reference_manifest_rps = Some(manifest_rate(&reference, &args).await?);
    }

    print_table(&targets, &results, &args, reference_manifest_rps);
    Ok(())
}
