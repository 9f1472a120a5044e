//! Repository-scoped tokens end to end (issue #4 §3–§5): a spawned
//! `acrylic serve` over HTTPS, the real CLI, and skopeo.
//!
//! The owner creates a scope map and tokens with `acrylic acr scope-map` /
//! `acrylic acr token` (az's shapes, passwords shown once); a pushing token
//! logs in with `acrylic acr login --username --password` and skopeo pushes
//! where the scope map says yes and is refused where it says no; a reading
//! token gets a pull secret from `acrylic acr pull-secret create`, whose
//! YAML is compared with kubectl's own (`--dry-run=client -o yaml`) and
//! whose decoded `.dockerconfigjson` is skopeo's `--authfile`. Then the
//! token is disabled (refused, with the fix), enabled, its passwords
//! rotated and deleted, and the token deleted — each taking effect at once.
//!
//! With `ACRYLIC_REQUIRE_CLIENTS=1` a missing skopeo fails the test;
//! kubectl is compared with when it is installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acrylic_testkit::image;
use acrylic_testkit::spawned::SpawnedServer;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

fn acrylic_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_acrylic"))
}

struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
    what: String,
}

impl Ran {
    fn ok(self) -> Ran {
        assert!(
            self.success,
            "`{}` failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.stdout, self.stderr
        );
        self
    }

    fn fails(self) -> String {
        assert!(
            !self.success,
            "`{}` succeeded but must fail\n{}{}",
            self.what, self.stdout, self.stderr
        );
        format!("{}{}", self.stdout, self.stderr)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {}", self.what, self.stdout))
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Ran {
    use std::io::Write as _;
    let what = format!("{cmd:?}").replace('"', "");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting `{what}`: {e}"));
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes()).expect("writing stdin");
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for `{what}`: {e}"));
    Ran {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        what,
    }
}

fn find(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(bin))
            .find(|p| p.is_file())
    })
}

fn find_skopeo() -> Option<PathBuf> {
    let found = find("skopeo");
    if found.is_none() {
        if std::env::var("ACRYLIC_REQUIRE_CLIENTS").is_ok_and(|v| v == "1") {
            panic!("skopeo is not installed and ACRYLIC_REQUIRE_CLIENTS=1");
        }
        eprintln!("skipped: skopeo is not installed (ACRYLIC_REQUIRE_CLIENTS=1 makes this fail)");
    }
    found
}

/// The CLI, with its own Docker config and containers auth file.
struct Cli<'a> {
    server: &'a SpawnedServer,
    docker_config: PathBuf,
    auth_file: PathBuf,
}

impl<'a> Cli<'a> {
    fn new(server: &'a SpawnedServer, name: &str) -> Cli<'a> {
        let dir = server.scratch(name);
        Cli {
            server,
            docker_config: dir.join("docker"),
            auth_file: dir.join("containers").join("auth.json"),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.server.cli(args);
        cmd.env("DOCKER_CONFIG", &self.docker_config)
            .env("REGISTRY_AUTH_FILE", &self.auth_file)
            .env_remove("XDG_RUNTIME_DIR");
        cmd
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(self.cmd(args), None)
    }
}

/// skopeo with a given auth file and the server's CA.
struct Skopeo {
    bin: PathBuf,
    home: PathBuf,
    certs: PathBuf,
    host: String,
}

impl Skopeo {
    fn run(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.home)
            .env_remove("REGISTRY_AUTH_FILE");
        run(cmd, None)
    }

    fn image(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host)
    }

    fn push(&self, authfile: &Path, layout: &Path, reference: &str) -> Ran {
        self.run(&[
            "copy",
            "--preserve-digests",
            "--dest-authfile",
            &authfile.to_string_lossy(),
            "--dest-cert-dir",
            &self.certs.to_string_lossy(),
            &format!("oci:{}:v1", layout.display()),
            &self.image(reference),
        ])
    }

    fn pull(&self, authfile: &Path, reference: &str, into: &Path) -> Ran {
        self.run(&[
            "copy",
            "--preserve-digests",
            "--src-authfile",
            &authfile.to_string_lossy(),
            "--src-cert-dir",
            &self.certs.to_string_lossy(),
            &self.image(reference),
            &format!("oci:{}:v1", into.display()),
        ])
    }

    fn inspect(&self, authfile: &Path, reference: &str) -> Ran {
        self.run(&[
            "inspect",
            "--raw",
            "--authfile",
            &authfile.to_string_lossy(),
            "--cert-dir",
            &self.certs.to_string_lossy(),
            &self.image(reference),
        ])
    }
}

/// The owner signs in with the CLI.
fn owner_login(server: &SpawnedServer) {
    let username = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    let login = server.cli(["login", "--username", &username, "--password-stdin"]);
    run(login, Some(&format!("{password}\n"))).ok();
}

/// A pull secret's `.dockerconfigjson`, decoded and written as an auth file.
fn authfile_of(secret_yaml: &str, path: &Path) -> Value {
    let data = secret_yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix(".dockerconfigjson: "))
        .unwrap_or_else(|| panic!("no .dockerconfigjson in:\n{secret_yaml}"));
    let json = STANDARD.decode(data).expect("base64");
    fs::write(path, &json).expect("writing the auth file");
    serde_json::from_slice(&json).expect("the auth file is JSON")
}

fn password_of(token: &Value, which: usize) -> String {
    token["credentials"]["passwords"][which]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no password value in {token}"))
        .to_owned()
}

#[test]
fn tokens_push_and_pull_as_their_scope_map_says_and_pull_secrets_work() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    owner_login(&server);
    let owner = Cli::new(&server, "owner");

    // A scope map: push and pull team/app only. az's shape.
    let map = owner
        .run(&[
            "acr",
            "scope-map",
            "create",
            "--registry",
            &registry,
            "--name",
            "team-push",
            "--repository",
            "Team/App",
            "content/read",
            "content/write",
            "--description",
            "CI pushes team/app",
        ])
        .ok()
        .json();
    assert_eq!(map["name"], "team-push");
    assert_eq!(map["scopeMapType"], "UserDefined");
    assert_eq!(map["description"], "CI pushes team/app");
    assert_eq!(
        map["actions"],
        json!([
            "repositories/team/app/content/read",
            "repositories/team/app/content/write"
        ])
    );
    assert!(map["resourceGroup"].is_string(), "{map}");
    let table = owner
        .run(&["acr", "scope-map", "list", "-r", &registry, "-o", "table"])
        .ok()
        .stdout;
    for want in [
        "NAME",
        "_repositories_pull",
        "SystemDefined",
        "team-push",
        "UserDefined",
    ] {
        assert!(table.contains(want), "{want}:\n{table}");
    }

    // A pushing token: its passwords are printed once, with the token.
    let ci = owner
        .run(&[
            "acr",
            "token",
            "create",
            "--name",
            "ci-pusher",
            "--registry",
            &registry,
            "--scope-map",
            "team-push",
        ])
        .ok();
    assert!(
        ci.stderr
            .contains(&format!("docker login {host} -u ci-pusher")),
        "{}",
        ci.stderr
    );
    let ci = ci.json();
    assert_eq!(ci["status"], "enabled");
    assert_eq!(ci["credentials"]["username"], "ci-pusher");
    assert!(
        ci["scopeMapId"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/scopeMaps/team-push")
    );
    let ci_pw = password_of(&ci, 0);
    assert_eq!(ci_pw.len(), 52);

    // A reading token with its own scope map, expiring in 30 days.
    let reader = owner
        .run(&[
            "acr",
            "token",
            "create",
            "--name",
            "reader",
            "--registry",
            &registry,
            "--repository",
            "team/app",
            "content/read",
            "--expiration-in-days",
            "30",
        ])
        .ok()
        .json();
    assert!(
        reader["scopeMapId"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/scopeMaps/reader-scope-map"),
        "{reader}"
    );
    assert!(reader["credentials"]["passwords"][0]["expiry"].is_string());
    let reader_pw1 = password_of(&reader, 0);
    let auto = owner
        .run(&[
            "acr",
            "scope-map",
            "show",
            "-r",
            &registry,
            "-n",
            "reader-scope-map",
        ])
        .ok()
        .json();
    assert_eq!(auto["description"], "Created by token: reader");
    assert_eq!(
        auto["actions"],
        json!(["repositories/team/app/content/read"])
    );
    // Shown again: never the values; the expiry within 30 days is warned about.
    let shown = owner
        .run(&["acr", "token", "show", "-r", &registry, "-n", "reader"])
        .ok();
    assert!(!shown.stdout.contains(&reader_pw1));
    assert_eq!(
        shown.json()["credentials"]["passwords"][0]["value"],
        Value::Null
    );
    assert!(
        shown.stderr.contains("password1 of token reader expires"),
        "{}",
        shown.stderr
    );
    let listed = owner
        .run(&["acr", "token", "list", "-r", &registry, "-o", "tsv"])
        .ok()
        .stdout;
    assert!(
        listed.contains("ci-pusher\tteam-push\tnever\tnever\tenabled"),
        "{listed}"
    );

    // The pushing token logs in like docker login, and skopeo pushes where
    // the scope map says yes.
    let pusher = Cli::new(&server, "pusher");
    pusher
        .run(&[
            "acr",
            "login",
            "--name",
            &registry,
            "--username",
            "ci-pusher",
            "--password",
            &ci_pw,
        ])
        .ok();
    let Some(bin) = find_skopeo() else {
        return;
    };
    let certs = server.scratch("certs");
    fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copying the CA");
    let skopeo = Skopeo {
        bin,
        home: server.scratch("skopeo-home"),
        certs,
        host: host.clone(),
    };
    let layout = server.scratch("layout");
    let info = image::write_oci_layout(&layout, "v1", &[("etc/motd", b"pushed with a token\n")])
        .expect("writing the OCI layout");
    skopeo.push(&pusher.auth_file, &layout, "team/app:v1").ok();
    let refused = skopeo
        .push(&pusher.auth_file, &layout, "other/app:v1")
        .fails();
    // skopeo first asks HEAD for each blob; a 403 to a HEAD has no body, so
    // it reports the status ("403 (Forbidden)") rather than DENIED's text.
    assert!(
        refused.contains("denied") || refused.contains("403"),
        "{refused}"
    );

    // A pull secret for the reader, exactly kubectl's.
    let secret = owner
        .run(&[
            "acr",
            "pull-secret",
            "create",
            "--registry",
            &registry,
            "--token",
            "reader",
            "--password-name",
            "password1",
            "--password",
            &reader_pw1,
            "--name",
            "team-pull",
            "--namespace",
            "apps",
            "-o",
            "yaml",
        ])
        .ok();
    assert!(
        secret.stderr.contains("password1 of token reader expires"),
        "{}",
        secret.stderr
    );
    if let Some(kubectl) = find("kubectl") {
        let mut cmd = Command::new(kubectl);
        cmd.args([
            "create",
            "secret",
            "docker-registry",
            "team-pull",
            "--namespace",
            "apps",
            "--docker-server",
            &host,
            "--docker-username",
            "reader",
            "--docker-password",
            &reader_pw1,
            "--dry-run=client",
            "-o",
            "yaml",
        ]);
        let theirs = run(cmd, None).ok().stdout;
        assert_eq!(secret.stdout, theirs, "kubectl's secret differs");
    } else {
        eprintln!("kubectl is not installed: the secret is checked by decoding only");
    }
    // `-o json` with the login server as --registry (no ARM lookups).
    let as_json = owner
        .run(&[
            "acr",
            "pull-secret",
            "create",
            "--registry",
            &host,
            "--token",
            "reader",
            "--password-name",
            "password1",
            "--password",
            &reader_pw1,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(as_json["kind"], "Secret");
    assert_eq!(as_json["type"], "kubernetes.io/dockerconfigjson");
    assert_eq!(as_json["metadata"]["name"], "localhost-reader");
    assert_eq!(as_json["metadata"]["creationTimestamp"], Value::Null);
    let reader_auth = server.scratch("reader").join("auth.json");
    let config = authfile_of(&secret.stdout, &reader_auth);
    let entry = &config["auths"][host.as_str()];
    assert_eq!(entry["username"], "reader");
    assert_eq!(entry["password"], reader_pw1.as_str());
    assert_eq!(
        entry["auth"],
        STANDARD.encode(format!("reader:{reader_pw1}"))
    );
    // skopeo pulls with it, and cannot push with it.
    let pulled = server.scratch("pulled");
    skopeo.pull(&reader_auth, "team/app:v1", &pulled).ok();
    assert_eq!(
        image::layout_manifest_digest(&pulled, "v1").expect("reading the pulled layout"),
        Some(info.manifest_digest.clone())
    );
    skopeo.push(&reader_auth, &layout, "team/app:v2").fails();

    // Disabled: refused at once, saying how to enable it.
    owner
        .run(&[
            "acr", "token", "update", "-n", "reader", "-r", &registry, "--status", "disabled",
        ])
        .ok();
    let refused = skopeo.inspect(&reader_auth, "team/app:v1").fails();
    assert!(
        refused.contains("disabled")
            && refused.contains(&format!(
                "acrylic acr token update --name reader --registry {registry} --status enabled"
            )),
        "{refused}"
    );
    // A pull secret for a disabled token is not written.
    let no = owner
        .run(&[
            "acr",
            "pull-secret",
            "create",
            "-r",
            &registry,
            "--token",
            "reader",
            "--password-name",
            "password1",
            "--password",
            &reader_pw1,
        ])
        .fails();
    assert!(no.contains("disabled"), "{no}");
    owner
        .run(&[
            "acr", "token", "update", "-n", "reader", "-r", &registry, "--status", "enabled",
        ])
        .ok();
    skopeo.inspect(&reader_auth, "team/app:v1").ok();

    // Rotation: a new password2, then password1 deleted — the secret made
    // from password1 stops working at once; one from password2 works.
    let generated = owner
        .run(&[
            "acr",
            "token",
            "credential",
            "generate",
            "-n",
            "reader",
            "-r",
            &registry,
            "--password2",
        ])
        .ok()
        .json();
    assert_eq!(generated["username"], "reader");
    assert_eq!(generated["passwords"].as_array().map(Vec::len), Some(1));
    let reader_pw2 = generated["passwords"][0]["value"]
        .as_str()
        .expect("password2's value")
        .to_owned();
    let after = owner
        .run(&[
            "acr",
            "token",
            "credential",
            "delete",
            "-n",
            "reader",
            "-r",
            &registry,
            "--password1",
        ])
        .ok()
        .json();
    assert_eq!(
        after["credentials"]["passwords"]
            .as_array()
            .map(|p| p.iter().map(|x| x["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("password2")])
    );
    skopeo.inspect(&reader_auth, "team/app:v1").fails();
    let wrong = owner
        .run(&[
            "acr",
            "pull-secret",
            "create",
            "-r",
            &host,
            "--token",
            "reader",
            "--password-name",
            "password1",
            "--password",
            &reader_pw1,
        ])
        .fails();
    assert!(wrong.contains("refused reader"), "{wrong}");
    let secret2 = run(
        owner.cmd(&[
            "acr",
            "pull-secret",
            "create",
            "-r",
            &registry,
            "--token",
            "reader",
            "--password-name",
            "password2",
            "--password-stdin",
            "-o",
            "yaml",
        ]),
        Some(&format!("{reader_pw2}\n")),
    )
    .ok();
    assert!(
        secret2.stdout.contains(&format!(
            "  name: {}-reader\n",
            registry.to_ascii_lowercase()
        )),
        "{}",
        secret2.stdout
    );
    let reader_auth2 = server.scratch("reader2").join("auth.json");
    authfile_of(&secret2.stdout, &reader_auth2);
    skopeo.inspect(&reader_auth2, "team/app:v1").ok();

    // A scope map in use is not deleted; the token goes, and with it access.
    let in_use = owner
        .run(&[
            "acr",
            "scope-map",
            "delete",
            "-r",
            &registry,
            "-n",
            "team-push",
            "--yes",
        ])
        .fails();
    assert!(
        in_use.contains("ScopeMapInUse") && in_use.contains("ci-pusher"),
        "{in_use}"
    );
    owner
        .run(&[
            "acr", "token", "delete", "-r", &registry, "-n", "reader", "--yes",
        ])
        .ok();
    skopeo.inspect(&reader_auth2, "team/app:v1").fails();
    owner
        .run(&[
            "acr",
            "scope-map",
            "delete",
            "-r",
            &registry,
            "-n",
            "reader-scope-map",
            "--yes",
        ])
        .ok();
}
