//! `SpawnedServer`: a real `acrylic serve` *process* for black-box tests
//! (STYLE §7 tier 4: real clients against a spawned server).
//!
//! Each server gets its own temporary directory holding the data directory
//! (`data/`), the CLI profile directory (`config/`, passed as
//! `ACRYLIC_CONFIG_DIR` to the server and to every [`SpawnedServer::cli`]
//! command) and the process's stdout/stderr logs, a free port on 127.0.0.1,
//! and TLS with the CA the server generates on first start. `start` returns
//! once `https://localhost:<port>/healthz` answers 200 through that CA.
//! The process is killed when the value is dropped.
//!
//! The functions here panic with the server's logs on failure: they are test
//! fixtures, and a panic is how a test reports.

use std::fs;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer `/healthz` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `acrylic serve` process on 127.0.0.1 with TLS.
pub struct SpawnedServer {
    bin: PathBuf,
    port: u16,
    extra_args: Vec<String>,
    child: Option<Child>,
    /// Deleted last: holds the data directory, profile and logs.
    dir: TempDir,
}

impl SpawnedServer {
    /// Starts `bin serve` with a fresh data directory on a free port.
    pub fn start(bin: &Path) -> SpawnedServer {
        SpawnedServer::start_with_args(bin, &[])
    }

    /// Like [`start`](Self::start), with extra `acrylic serve` flags.
    pub fn start_with_args(bin: &Path, extra_args: &[&str]) -> SpawnedServer {
        let dir = tempfile::Builder::new()
            .prefix("acrylic-spawned.")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a temporary directory: {e}"));
        for sub in ["data", "config"] {
            fs::create_dir_all(dir.path().join(sub))
                .unwrap_or_else(|e| panic!("creating {sub}/: {e}"));
        }
        let mut server = SpawnedServer {
            bin: bin.to_path_buf(),
            port: free_port(),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            dir,
        };
        server.spawn();
        server
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `localhost:<port>`: the bare listener address clients use (it serves
    /// the bootstrap registry, and the certificate names `localhost`).
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// `https://localhost:<port>`.
    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The `ACRYLIC_CONFIG_DIR` of the server and of [`cli`](Self::cli).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// A scratch directory that lives as long as the server (for client
    /// configuration, auth files, image layouts).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("scratch").join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        path
    }

    /// The generated CA certificate, `<data>/tls/ca.pem`.
    pub fn ca_cert(&self) -> PathBuf {
        self.data_dir().join("tls").join("ca.pem")
    }

    /// `<data>/bootstrap.json`: `tenant`, `subscription`, `resourceGroup`,
    /// `username`, `password`, `registry`, `loginServer`, `caCert`, `serverUrl`.
    pub fn bootstrap(&self) -> serde_json::Value {
        let path = self.data_dir().join("bootstrap.json");
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    /// A bootstrap string field, e.g. `bootstrap_str("password")`.
    pub fn bootstrap_str(&self, key: &str) -> String {
        match self.bootstrap().get(key).and_then(|v| v.as_str()) {
            Some(value) => value.to_owned(),
            None => panic!("bootstrap.json has no string {key:?}"),
        }
    }

    /// The same binary as a CLI command, pointed at this server's profile
    /// (`ACRYLIC_CONFIG_DIR`). `HOME` is the scratch directory, so nothing is
    /// written to the real home.
    pub fn cli<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("ACRYLIC_CONFIG_DIR", self.config_dir())
            .env("HOME", self.scratch("home"))
            .stdin(Stdio::null());
        cmd
    }

    /// What the server process printed so far (stdout, then stderr).
    pub fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            read("stdout.log"),
            read("stderr.log")
        )
    }

    /// Kills the process with SIGKILL (a crash), and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process with SIGTERM (graceful shutdown) and waits for it;
    /// panics if it does not exit within 30 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "acrylic serve did not stop on SIGTERM within 30 s\n{}",
                        self.logs()
                    );
                }
            }
        }
    }

    /// Stops the server if it runs (SIGTERM) and starts it again on the same
    /// port and data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let open = |name: &str| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .unwrap_or_else(|e| panic!("opening {name}: {e}"))
        };
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra_args)
            .env("ACRYLIC_CONFIG_DIR", self.config_dir())
            .env("HOME", self.scratch("home"))
            .stdin(Stdio::null())
            .stdout(open("stdout.log"))
            .stderr(open("stderr.log"))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} serve: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = format!("{}/healthz", self.base_url());
        let mut last_error = String::from("no CA certificate yet");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "acrylic serve exited during start-up ({status})\n{}",
                    self.logs()
                );
            }
            if let Ok(pem) = fs::read(self.ca_cert()) {
                let url = url.clone();
                match block_on(async move { get_status(&url, &pem).await }) {
                    Ok(200) => return,
                    Ok(status) => last_error = format!("/healthz answered {status}"),
                    Err(e) => last_error = e,
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "acrylic serve not healthy after {START_TIMEOUT:?}: {last_error}\n{}",
            self.logs()
        );
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A reqwest client that trusts only `ca_pem` (the server's generated CA).
pub fn https_client(ca_pem: &[u8]) -> Result<reqwest::Client, String> {
    let cert =
        reqwest::Certificate::from_pem(ca_pem).map_err(|e| format!("CA certificate: {e}"))?;
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("building an HTTPS client: {e}"))
}

async fn get_status(url: &str, ca_pem: &[u8]) -> Result<u16, String> {
    let client = https_client(ca_pem)?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    Ok(response.status().as_u16())
}

/// Runs a future to completion on its own thread and runtime, so sync test
/// code can call async clients whether or not it runs inside a runtime.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("building a tokio runtime: {e}"));
        runtime.block_on(future)
    });
    match thread.join() {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener =
        TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding 127.0.0.1:0: {e}"));
    match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => panic!("local address: {e}"),
    }
}
