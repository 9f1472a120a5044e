//! Issue #3 §5's acceptance: Microsoft's own Python clients (azure-identity,
//! azure-containerregistry, pinned in `tests/python/requirements.txt`) against
//! a spawned `acrylic serve`, unchanged but for their documented knobs.
//!
//! Each test starts a server, creates the users and role assignments the
//! scenario needs with the acrylic CLI (Graph users, ARM role assignments,
//! the registry's ARM settings: the real interfaces), then runs one pytest
//! file from `tests/python/` with `$ACRYLIC_TEST_PYTHON -m pytest` and the
//! server described in `ACRYLIC_TEST_*` variables (see
//! `tests/python/conftest.py`). pytest's exit status decides; its output and
//! the server's log are shown on failure.
//!
//! The Python is `ACRYLIC_TEST_PYTHON` (`scripts/test` creates the venv
//! `target/test-venv` and sets it), else that venv if it exists. Without a
//! Python that imports the pinned packages the tests are skipped with a
//! reason — or fail, under `ACRYLIC_REQUIRE_CLIENTS=1`.
//!
//! MSAL's username/password flow first asks
//! `https://localhost:443/common/userrealm/<user>` whatever the authority's
//! port (clients.md "The directory"), so that test's server also listens on
//! 127.0.0.1:443 (`--userrealm-listen`), holding [`PORT_443_LOCK`] so no
//! other test binds it at the same time.

use std::fs::{self, File};
use std::io::{ErrorKind, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

/// A file in the temporary directory that every test binding 127.0.0.1:443
/// locks (`File::lock`, exclusive) while its server runs: tests of other
/// binaries and processes serialize on it too.
const PORT_443_LOCK: &str = "acrylic-port-443.lock";

/// How long one pytest run may take before it is killed.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The users' password: a throwaway server's, strong enough for any policy.
const USER_PASSWORD: &str = "Python-Clients-Test-9f3K";

fn acrylic_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_acrylic"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

fn clients_required() -> bool {
    std::env::var("ACRYLIC_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// Skips (prints why and returns `None`) or, under
/// `ACRYLIC_REQUIRE_CLIENTS=1`, fails.
fn unavailable<T>(why: &str) -> Option<T> {
    if clients_required() {
        panic!("{why}, and ACRYLIC_REQUIRE_CLIENTS=1 (scripts/test sets up the venv)");
    }
    eprintln!(
        "skipped: {why} (scripts/test creates target/test-venv; ACRYLIC_REQUIRE_CLIENTS=1 makes this fail)"
    );
    None
}

/// The Python that has the pinned clients and pytest.
fn find_python() -> Option<PathBuf> {
    let python = match std::env::var_os("ACRYLIC_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace_root()
            .join("target")
            .join("test-venv")
            .join("bin")
            .join("python"),
    };
    if !python.is_file() {
        return unavailable(&format!(
            "no Python with the Azure SDKs at {} (ACRYLIC_TEST_PYTHON)",
            python.display()
        ));
    }
    let probe = Command::new(&python)
        .args([
            "-c",
            "import azure.identity, azure.containerregistry, pytest, requests",
        ])
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => unavailable(&format!(
            "{} lacks the packages of tests/python/requirements.txt: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => unavailable(&format!("{} does not run: {e}", python.display())),
    }
}

/// Holds [`PORT_443_LOCK`]; released when dropped (the file is closed).
struct Port443 {
    _lock: File,
}

/// Waits for [`PORT_443_LOCK`], then checks 127.0.0.1:443 can be bound
/// (root, or `CAP_NET_BIND_SERVICE`); `None` (skipped) when it cannot.
fn lock_port_443() -> Option<Port443> {
    let path = std::env::temp_dir().join(PORT_443_LOCK);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    // A server of a test that does not take the lock may still hold the
    // port for a while: wait for it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match TcpListener::bind("127.0.0.1:443") {
            Ok(_released) => break,
            Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(500))
            }
            Err(e) => {
                return unavailable(&format!(
                    "127.0.0.1:443 cannot be bound ({e}); MSAL's user-realm probe goes there"
                ));
            }
        }
    }
    Some(Port443 { _lock: file })
}

/// Runs an acrylic CLI command against `server`; its JSON output.
fn cli(server: &SpawnedServer, args: &[&str], stdin: Option<&str>) -> Value {
    let mut cmd = server.cli(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting acrylic {args:?}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to acrylic {args:?}: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for acrylic {args:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "acrylic {args:?} failed:\n{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("acrylic {args:?} printed no JSON ({e}):\n{stdout}"))
}

/// A server prepared for one scenario: the owner signed in with the CLI,
/// and the `ACRYLIC_TEST_*` variables pytest reads.
struct Scenario {
    server: SpawnedServer,
    env: Vec<(String, String)>,
    domain: String,
}

impl Scenario {
    fn start(extra_args: &[&str]) -> Scenario {
        let mut args = vec!["--log-level", "acrylic_server=debug,info"];
        args.extend_from_slice(extra_args);
        let server = SpawnedServer::start_with_args(acrylic_bin(), &args);
        let username = server.bootstrap_str("username");
        let password = server.bootstrap_str("password");
        cli(
            &server,
            &["login", "--username", &username, "--password-stdin"],
            Some(&format!("{password}\n")),
        );
        let domain = match username.split_once('@') {
            Some((_, d)) => d.to_owned(),
            None => panic!("the bootstrap username {username:?} is not a UPN"),
        };
        let env = vec![
            ("ACRYLIC_TEST_URL".into(), server.base_url()),
            (
                "ACRYLIC_TEST_CA".into(),
                server.ca_cert().display().to_string(),
            ),
            ("ACRYLIC_TEST_TENANT".into(), server.bootstrap_str("tenant")),
            (
                "ACRYLIC_TEST_LOGIN_SERVER".into(),
                server.bootstrap_str("loginServer"),
            ),
            ("ACRYLIC_TEST_OWNER_USERNAME".into(), username),
            ("ACRYLIC_TEST_OWNER_PASSWORD".into(), password),
        ];
        Scenario {
            server,
            env,
            domain,
        }
    }

    /// The bootstrap registry's ARM id (role assignment scope).
    fn registry_scope(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
            self.server.bootstrap_str("subscription"),
            self.server.bootstrap_str("resourceGroup"),
            self.server.bootstrap_str("registry"),
        )
    }

    /// Creates directory user `<name>@<domain>` holding `roles` on the
    /// registry, exported to pytest as `ACRYLIC_TEST_<NAME>_USERNAME` and
    /// `_PASSWORD`.
    fn user(&mut self, name: &str, roles: &[&str]) {
        let upn = format!("{name}@{}", self.domain);
        let created = cli(
            &self.server,
            &[
                "ad",
                "user",
                "create",
                "--display-name",
                name,
                "--user-principal-name",
                &upn,
                "--password",
                USER_PASSWORD,
            ],
            None,
        );
        assert_eq!(created["userPrincipalName"], upn.as_str(), "{created}");
        let scope = self.registry_scope();
        for role in roles {
            let assigned = cli(
                &self.server,
                &[
                    "role",
                    "assignment",
                    "create",
                    "--assignee",
                    &upn,
                    "--role",
                    role,
                    "--scope",
                    &scope,
                ],
                None,
            );
            assert_eq!(
                assigned["properties"]["principalId"], created["id"],
                "{assigned}"
            );
        }
        let var = name.to_ascii_uppercase();
        self.env.push((format!("ACRYLIC_TEST_{var}_USERNAME"), upn));
        self.env
            .push((format!("ACRYLIC_TEST_{var}_PASSWORD"), USER_PASSWORD.into()));
    }

    /// `pytest tests/python/<file>`; panics with its output and the server's
    /// log unless every test in the file passed.
    fn pytest(&self, python: &Path, file: &str) {
        let dir = workspace_root().join("tests").join("python");
        let scratch = self.server.scratch("pytest");
        let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
        let create = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut child = Command::new(python)
            .args(["-m", "pytest", file, "-q", "-p", "no:cacheprovider"])
            .current_dir(&dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // No __pycache__ in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(create(&out_path))
            .stderr(create(&err_path))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} -m pytest: {e}", python.display()));
        let deadline = Instant::now() + PYTEST_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Err(e) => panic!("waiting for pytest: {e}"),
            }
        };
        let output = format!(
            "{}{}",
            fs::read_to_string(&out_path).unwrap_or_default(),
            fs::read_to_string(&err_path).unwrap_or_default()
        );
        let summary = output
            .lines()
            .rev()
            .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))
            .unwrap_or_default();
        let all_passed = status.is_some_and(|s| s.success())
            && summary.contains(" passed")
            && !summary.contains("skipped");
        if !all_passed {
            let outcome = match status {
                Some(s) => format!("exited with {s}"),
                None => format!("was killed after {PYTEST_TIMEOUT:?}"),
            };
            panic!(
                "pytest tests/python/{file} {outcome}\n{output}\n=== acrylic serve ===\n{}",
                self.server.logs()
            );
        }
        eprintln!("tests/python/{file}: {summary}");
    }
}

/// A user signs in with UsernamePasswordCredential (MSAL's user-realm probe
/// answered on 127.0.0.1:443) and works a registry with
/// ContainerRegistryClient; a user with only AcrPull is refused pushes.
#[test]
fn python_password_sign_in_and_registry_client() {
    let Some(python) = find_python() else { return };
    let Some(_port_443) = lock_port_443() else {
        return;
    };
    let mut scenario = Scenario::start(&["--userrealm-listen", "127.0.0.1:443"]);
    scenario.user("pusher", &["AcrPush", "AcrDelete"]);
    scenario.user("puller", &["AcrPull"]);
    scenario.pytest(&python, "test_password_sign_in.py");
}

/// DeviceCodeCredential, its code approved (or declined) on the device
/// page by a person, then ContainerRegistryClient with that credential.
#[test]
fn python_device_code_sign_in() {
    let Some(python) = find_python() else { return };
    let mut scenario = Scenario::start(&[]);
    scenario.user("pusher", &["AcrPush", "AcrDelete"]);
    scenario.pytest(&python, "test_device_code.py");
}

/// Anonymous ContainerRegistryClient on a registry with anonymous pull.
#[test]
fn python_anonymous_pull() {
    let Some(python) = find_python() else { return };
    let mut scenario = Scenario::start(&[]);
    scenario.user("pusher", &["AcrPush", "AcrDelete"]);
    let registry = scenario.server.bootstrap_str("registry");
    let updated = cli(
        &scenario.server,
        &[
            "acr",
            "update",
            "--name",
            &registry,
            "--anonymous-pull-enabled",
            "true",
        ],
        None,
    );
    assert_eq!(
        updated["properties"]["anonymousPullEnabled"], true,
        "{updated}"
    );
    scenario.pytest(&python, "test_anonymous_pull.py");
}
