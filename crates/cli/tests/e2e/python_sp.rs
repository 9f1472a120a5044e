//! Issue #4 §5's acceptance: Microsoft's Python clients with service
//! principals — `ClientSecretCredential`, `CertificateCredential` and
//! `ClientAssertionCredential` (a federated token from an issuer the test
//! serves on loopback) with the custom authority, and
//! `ContainerRegistryClient` with them listing and pushing as their roles
//! allow (`tests/python/test_service_principals.py`).
//!
//! The service principals are made as a customer makes them: `acrylic ad
//! sp create-for-rbac --role … --scopes <registry id>` (with
//! `--create-cert` for the certificate one), and handed to pytest in
//! `ACRYLIC_TEST_SP_*` variables beside the server's `ACRYLIC_TEST_*` ones
//! (`tests/python/conftest.py`). The Python is found as in `python.rs`:
//! `ACRYLIC_TEST_PYTHON`, else `target/test-venv`; without one the test is
//! skipped — or fails under `ACRYLIC_REQUIRE_CLIENTS=1`.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

const PYTEST_TIMEOUT: Duration = Duration::from_secs(300);

fn acrylic_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_acrylic"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

fn find_python() -> Option<PathBuf> {
    let required = std::env::var("ACRYLIC_REQUIRE_CLIENTS").is_ok_and(|v| v == "1");
    let skip = |why: String| {
        assert!(!required, "{why}, and ACRYLIC_REQUIRE_CLIENTS=1");
        eprintln!("skipped: {why} (scripts/test creates target/test-venv)");
        None
    };
    let python = match std::env::var_os("ACRYLIC_TEST_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("target/test-venv/bin/python"),
    };
    if !python.is_file() {
        return skip(format!(
            "no Python with the Azure SDKs at {}",
            python.display()
        ));
    }
    let probe = Command::new(&python)
        .args([
            "-c",
            "import azure.identity, azure.containerregistry, pytest, requests, jwt, cryptography",
        ])
        .stdin(Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => skip(format!(
            "{} lacks the pinned packages: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => skip(format!("{} does not run: {e}", python.display())),
    }
}

/// An acrylic CLI command against `server`; its JSON output.
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

fn pytest(server: &SpawnedServer, python: &Path, file: &str, env: &[(String, String)]) {
    let dir = workspace_root().join("tests").join("python");
    let scratch = server.scratch("pytest-sp");
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    let create = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut child = Command::new(python)
        .args(["-m", "pytest", file, "-q", "-p", "no:cacheprovider"])
        .current_dir(&dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(create(&out_path))
        .stderr(create(&err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {} -m pytest: {e}", python.display()));
    let deadline = Instant::now() + PYTEST_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
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
        .unwrap_or_default()
        .to_owned();
    let passed = status.is_some_and(|s| s.success())
        && summary.contains(" passed")
        && !summary.contains("skipped");
    assert!(
        passed,
        "pytest tests/python/{file} did not pass ({status:?})\n{output}\n=== acrylic serve ===\n{}",
        server.logs()
    );
    eprintln!("tests/python/{file}: {summary}");
}

#[test]
fn python_service_principals() {
    let Some(python) = find_python() else { return };
    let server = SpawnedServer::start_with_args(
        acrylic_bin(),
        &["--log-level", "acrylic_server=debug,info"],
    );
    let username = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    cli(
        &server,
        &["login", "--username", &username, "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("resourceGroup"),
        server.bootstrap_str("registry"),
    );
    let mut env: Vec<(String, String)> = vec![
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
    for (name, role, cert) in [
        ("PUSHER", "AcrPush", false),
        ("PULLER", "AcrPull", false),
        ("CERT", "AcrPush", true),
        ("FED", "AcrPull", false),
    ] {
        let display = format!("py-{}", name.to_ascii_lowercase());
        let mut args = vec![
            "ad",
            "sp",
            "create-for-rbac",
            "--name",
            &display,
            "--role",
            role,
            "--scopes",
            &scope,
            "-o",
            "json",
        ];
        if cert {
            args.push("--create-cert");
        }
        let made = cli(&server, &args, None);
        let app_id = made["appId"].as_str().expect("appId").to_owned();
        env.push((format!("ACRYLIC_TEST_SP_{name}_APP_ID"), app_id.clone()));
        if cert {
            let file = made["fileWithCertAndPrivateKey"]
                .as_str()
                .expect("fileWithCertAndPrivateKey")
                .to_owned();
            env.push((format!("ACRYLIC_TEST_SP_{name}_CERT_FILE"), file));
        } else {
            let secret = made["password"].as_str().expect("password").to_owned();
            env.push((format!("ACRYLIC_TEST_SP_{name}_SECRET"), secret));
        }
        if name == "PUSHER" {
            cli(
                &server,
                &[
                    "role",
                    "assignment",
                    "create",
                    "--assignee",
                    &app_id,
                    "--role",
                    "AcrDelete",
                    "--scope",
                    &scope,
                ],
                None,
            );
        }
    }
    pytest(&server, &python, "test_service_principals.py", &env);
}
