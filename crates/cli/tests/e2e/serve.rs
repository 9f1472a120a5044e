//! `acrylic serve` itself, as a process: the first-start banner (the CA and
//! how to trust it for docker, podman/skopeo and Python; the owner's
//! credentials, shown once), `--log-format json`, a SIGTERM restart that
//! neither bootstraps again nor reprints the password, and the warning for
//! plain HTTP on a non-loopback address.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

use crate::support::{acrylic, acrylic_bin, owner_login};

/// `SpawnedServer::logs` split into (stdout, stderr).
fn streams(server: &SpawnedServer) -> (String, String) {
    let logs = server.logs();
    let rest = logs.strip_prefix("--- stdout ---\n").unwrap_or(&logs);
    let (out, err) = rest
        .split_once("--- stderr ---\n")
        .unwrap_or_else(|| panic!("unexpected log layout:\n{logs}"));
    (out.to_owned(), err.to_owned())
}

/// Every non-empty stderr line parsed as a JSON log record.
fn json_records(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}\n{stderr}"))
        })
        .collect()
}

fn has_message(records: &[Value], message: &str) -> bool {
    records
        .iter()
        .any(|r| r["fields"]["message"].as_str() == Some(message))
}

#[test]
fn first_start_banner_json_logs_and_a_restart_without_a_second_bootstrap() {
    let mut server = SpawnedServer::start_with_args(acrylic_bin(), &["--log-format", "json"]);
    let password = server.bootstrap_str("password");
    let username = server.bootstrap_str("username");
    let ca = server.ca_cert().display().to_string();
    let host = server.host();
    assert_eq!(server.bootstrap_str("caCert"), ca);

    // The banner: the CA, how to trust it, the owner's credentials.
    let (stdout, stderr) = streams(&server);
    for needle in [
        format!("local CA {ca}"),
        format!("cp {ca} /etc/docker/certs.d/{host}/ca.crt"),
        format!("cp {ca} /etc/containers/certs.d/{host}/ca.crt"),
        format!("export REQUESTS_CA_BUNDLE={ca}"),
        format!("username      {username}"),
        format!("password      {password}"),
        format!("tenant        {}", server.bootstrap_str("tenant")),
    ] {
        assert!(
            stdout.contains(&needle),
            "banner lacks {needle:?}:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches(&password).count(), 1, "{stdout}");

    // --log-format json: every log line is a JSON record.
    let records = json_records(&stderr);
    assert!(has_message(&records, "listening"), "{stderr}");
    assert!(
        has_message(&records, "first start: bootstrapping"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&password),
        "the password must not be logged"
    );

    // SIGTERM, then start again: a graceful stop, no second bootstrap, the
    // password is not printed again, and everything is still there.
    owner_login(&server);
    acrylic(&server, &["acr", "create", "--name", "kept1"]).ok();
    let bootstrap = server.bootstrap();
    server.restart();
    let (stdout, stderr) = streams(&server);
    let records = json_records(&stderr);
    assert!(
        has_message(&records, "shutting down: finishing in-flight requests"),
        "{stderr}"
    );
    let bootstraps = records
        .iter()
        .filter(|r| r["fields"]["message"].as_str() == Some("first start: bootstrapping"))
        .count();
    assert_eq!(bootstraps, 1, "bootstrapped again on restart:\n{stderr}");
    assert_eq!(
        stdout.matches(&password).count(),
        1,
        "the password was printed again on restart:\n{stdout}"
    );
    assert!(
        stdout.contains("credentials from the first start"),
        "{stdout}"
    );
    assert_eq!(server.bootstrap(), bootstrap);
    let shown = acrylic(&server, &["acr", "show", "--name", "kept1"])
        .ok()
        .json();
    assert_eq!(shown["name"], "kept1");
    crate::support::login(&server, &username, &password).ok();
}

/// Starts `acrylic serve --insecure-http --listen <listen>` in `dir`, waits
/// for its "listening" log line, stops it, and returns its stderr.
fn insecure_http_stderr(dir: &Path, listen: &str) -> String {
    let err = dir.join("stderr.log");
    let mut child = Command::new(acrylic_bin())
        .args(["serve", "--insecure-http", "--listen", listen, "--data-dir"])
        .arg(dir.join("data"))
        .env("ACRYLIC_CONFIG_DIR", dir.join("config"))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).expect("stderr.log"))
        .spawn()
        .expect("starting acrylic serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let stderr = loop {
        let text = fs::read_to_string(&err).unwrap_or_default();
        let exited = child.try_wait().ok().flatten();
        if text.contains("listening") || exited.is_some() || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(stderr.contains("listening"), "did not start:\n{stderr}");
    stderr
}

fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn insecure_http_warns_only_off_loopback() {
    let warning = "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS";

    let loopback = tempfile::tempdir().expect("tempdir");
    let stderr = insecure_http_stderr(
        loopback.path(),
        &format!("127.0.0.1:{}", free_port("127.0.0.1")),
    );
    assert!(!stderr.contains(warning), "{stderr}");

    let exposed = tempfile::tempdir().expect("tempdir");
    let stderr = insecure_http_stderr(exposed.path(), &format!("0.0.0.0:{}", free_port("0.0.0.0")));
    assert!(stderr.contains(warning), "{stderr}");
    assert!(stderr.contains("Drop --insecure-http"), "{stderr}");
}
