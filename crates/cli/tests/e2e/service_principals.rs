//! Service principals end to end (issue #4 §1–2, §5): a spawned `acrylic
//! serve`, the acrylic CLI as a user would type it (`ad sp
//! create-for-rbac`, `credential reset|list|delete`, `ad sp list
//! --expiring-within`, `login --service-principal` with a secret and with a
//! `--create-cert` certificate, `acr login`), and skopeo pushing and
//! pulling with the service principals' credentials — refused where the
//! role says no, and once the credential or the principal is gone.
//!
//! With `ACRYLIC_REQUIRE_CLIENTS=1` (set by `scripts/test`) a missing
//! skopeo fails the test; otherwise the skopeo steps are skipped with a
//! reason and the CLI steps still run.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acrylic_testkit::image;
use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

fn acrylic_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_acrylic"))
}

/// What a finished command printed.
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

/// Runs `cmd` (output in files under `scratch`), killed after a timeout.
fn run(mut cmd: Command, stdin: Option<&str>, scratch: &Path) -> Ran {
    let what = format!("{cmd:?}").replace('"', "");
    let (out_path, err_path) = (scratch.join("cmd.stdout"), scratch.join("cmd.stderr"));
    let file =
        |p: &Path| fs::File::create(p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
    cmd.stdout(file(&out_path)).stderr(file(&err_path));
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting `{what}`: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to `{what}`: {e}"));
    }
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{what}` did not finish within {COMMAND_TIMEOUT:?}");
            }
            Err(e) => panic!("waiting for `{what}`: {e}"),
        }
    };
    Ran {
        success: status.success(),
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        what,
    }
}

fn clients_required() -> bool {
    std::env::var("ACRYLIC_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

fn find_client(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !clients_required(),
            "{name} is not installed and ACRYLIC_REQUIRE_CLIENTS=1"
        );
        eprintln!("skipped the {name} steps: {name} is not installed");
    }
    found
}

/// The CLI with its own config directory (a second "machine" when
/// `config` is not the server's), `HOME` and auth files in `home`.
fn cli_in(server: &SpawnedServer, config: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(acrylic_bin());
    cmd.args(args)
        .env("ACRYLIC_CONFIG_DIR", config)
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .env("DOCKER_CONFIG", home.join(".docker"));
    let _ = server;
    cmd
}

/// skopeo with its own auth file and the server's CA.
struct Skopeo {
    bin: PathBuf,
    certs: PathBuf,
    scratch: PathBuf,
    host: String,
}

impl Skopeo {
    fn new(server: &SpawnedServer) -> Option<Skopeo> {
        let bin = find_client("skopeo")?;
        let certs = server.scratch("sp-certs");
        fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copying the CA");
        Some(Skopeo {
            bin,
            certs,
            scratch: server.scratch("sp-skopeo"),
            host: server.host(),
        })
    }

    fn cmd(&self, authfile: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", &self.scratch)
            .env("XDG_RUNTIME_DIR", &self.scratch)
            .env("REGISTRY_AUTH_FILE", authfile);
        cmd
    }

    /// `skopeo copy` of the layout's `v1` to `<repo>:<tag>` with `creds`.
    fn push(&self, layout: &Path, repo: &str, tag: &str, creds: &str) -> Ran {
        let src = format!("oci:{}:v1", layout.display());
        let dest = format!("docker://{}/{repo}:{tag}", self.host);
        let certs = self.certs.display().to_string();
        let args = [
            "copy",
            "--dest-cert-dir",
            &certs,
            "--dest-creds",
            creds,
            &src,
            &dest,
        ];
        run(
            self.cmd(&self.scratch.join("none.json"), &args),
            None,
            &self.scratch,
        )
    }

    /// `skopeo inspect --raw` with `creds` (or, when `None`, `authfile`).
    fn inspect(&self, repo: &str, tag: &str, creds: Option<&str>, authfile: &Path) -> Ran {
        let image = format!("docker://{}/{repo}:{tag}", self.host);
        let certs = self.certs.display().to_string();
        let mut args = vec!["inspect", "--raw", "--cert-dir", &certs];
        if let Some(c) = creds {
            args.extend(["--creds", c]);
        }
        args.push(&image);
        run(self.cmd(authfile, &args), None, &self.scratch)
    }
}

/// Where the owner's CLI runs.
struct Owner<'a> {
    server: &'a SpawnedServer,
    scratch: PathBuf,
}

impl Owner<'_> {
    fn cli(&self, args: &[&str]) -> Ran {
        run(self.server.cli(args), None, &self.scratch)
    }
}

fn registry_id(server: &SpawnedServer) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("resourceGroup"),
        server.bootstrap_str("registry")
    )
}

#[test]
fn service_principals_with_the_cli_and_skopeo() {
    let server = SpawnedServer::start(acrylic_bin());
    let owner = Owner {
        server: &server,
        scratch: server.scratch("sp-owner"),
    };
    let username = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    let tenant = server.bootstrap_str("tenant");
    run(
        server.cli(["login", "--username", &username, "--password-stdin"]),
        Some(&format!("{password}\n")),
        &owner.scratch,
    )
    .ok();
    let scope = registry_id(&server);

    // create-for-rbac prints az's four fields, in az's order.
    let made = owner.cli(&[
        "ad",
        "sp",
        "create-for-rbac",
        "--name",
        "ci-pusher",
        "--role",
        "AcrPush",
        "--scopes",
        &scope,
        "-o",
        "json",
    ]);
    let made = made.ok();
    assert!(
        made.stderr.contains("Creating 'AcrPush' role assignment"),
        "{}",
        made.stderr
    );
    let pusher = made.json();
    let keys: Vec<&String> = pusher.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["appId", "displayName", "password", "tenant"]);
    assert_eq!(pusher["displayName"], "ci-pusher");
    assert_eq!(pusher["tenant"], tenant.as_str());
    let pusher_id = pusher["appId"].as_str().expect("appId").to_owned();
    let pusher_secret = pusher["password"].as_str().expect("password").to_owned();
    assert_eq!(pusher_secret.len(), 40);
    let puller = owner
        .cli(&[
            "ad",
            "sp",
            "create-for-rbac",
            "--name",
            "ci-puller",
            "--role",
            "AcrPull",
            "--scopes",
            &scope,
            "-o",
            "json",
        ])
        .ok()
        .json();
    let puller_id = puller["appId"].as_str().expect("appId").to_owned();
    let puller_secret = puller["password"].as_str().expect("password").to_owned();

    // The role assignment names the service principal (by appId, as az
    // resolves it).
    let assigned = owner
        .cli(&[
            "role",
            "assignment",
            "list",
            "--assignee",
            &pusher_id,
            "--scope",
            &scope,
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(assigned.as_array().map(Vec::len), Some(1), "{assigned}");
    assert_eq!(
        assigned[0]["properties"]["principalType"],
        "ServicePrincipal"
    );

    // skopeo: the pusher pushes, the puller pulls and may not push.
    let skopeo = Skopeo::new(&server);
    let layout = server.scratch("sp-layout");
    let files: [(&str, &[u8]); 1] = [("etc/motd", b"pushed by a service principal\n")];
    image::write_oci_layout(&layout, "v1", &files).expect("writing the layout");
    let none = server.scratch("sp-skopeo").join("empty-auth.json");
    if let Some(sk) = &skopeo {
        sk.push(
            &layout,
            "team/app",
            "v1",
            &format!("{pusher_id}:{pusher_secret}"),
        )
        .ok();
        sk.inspect(
            "team/app",
            "v1",
            Some(&format!("{puller_id}:{puller_secret}")),
            &none,
        )
        .ok();
        let refused = sk
            .push(
                &layout,
                "team/app",
                "v2",
                &format!("{puller_id}:{puller_secret}"),
            )
            .fails()
            .to_lowercase();
        assert!(
            refused.contains("denied") || refused.contains("unauthorized"),
            "{refused}"
        );
        let wrong = sk
            .inspect(
                "team/app",
                "v1",
                Some(&format!("{puller_id}:not-the-secret")),
                &none,
            )
            .fails();
        assert!(
            wrong.to_lowercase().contains("unauthorized") || wrong.contains("401"),
            "{wrong}"
        );
    }

    // Rotation: --append keeps the old secret until it is deleted.
    let listed = owner
        .cli(&[
            "ad",
            "sp",
            "credential",
            "list",
            "--id",
            &puller_id,
            "-o",
            "json",
        ])
        .ok()
        .json();
    let old_key = listed[0]["keyId"].as_str().expect("keyId").to_owned();
    assert_eq!(listed[0]["hint"], &puller_secret[..3]);
    let reset = owner
        .cli(&[
            "ad",
            "sp",
            "credential",
            "reset",
            "--id",
            &puller_id,
            "--append",
            "-o",
            "json",
        ])
        .ok()
        .json();
    let keys: Vec<&String> = reset.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["appId", "password", "tenant"]);
    let new_secret = reset["password"].as_str().expect("password").to_owned();
    if let Some(sk) = &skopeo {
        for s in [&puller_secret, &new_secret] {
            sk.inspect("team/app", "v1", Some(&format!("{puller_id}:{s}")), &none)
                .ok();
        }
    }
    owner
        .cli(&[
            "ad",
            "sp",
            "credential",
            "delete",
            "--id",
            &puller_id,
            "--key-id",
            &old_key,
        ])
        .ok();
    if let Some(sk) = &skopeo {
        sk.inspect(
            "team/app",
            "v1",
            Some(&format!("{puller_id}:{puller_secret}")),
            &none,
        )
        .fails();
        sk.inspect(
            "team/app",
            "v1",
            Some(&format!("{puller_id}:{new_secret}")),
            &none,
        )
        .ok();
    }

    // A secret ending in 10 days is warned about when made and when listed,
    // and found by --expiring-within.
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::days(10))
        .date()
        .to_string();
    let short = owner.cli(&[
        "ad",
        "sp",
        "credential",
        "reset",
        "--id",
        &pusher_id,
        "--append",
        "--end-date",
        &soon,
        "-o",
        "json",
    ]);
    let short = short.ok();
    let listing = owner.cli(&[
        "ad",
        "sp",
        "credential",
        "list",
        "--id",
        &pusher_id,
        "-o",
        "json",
    ]);
    let listing = listing.ok();
    assert!(
        listing.stderr.contains("WARNING") && listing.stderr.contains(&pusher_id),
        "{}",
        listing.stderr
    );
    let expiring = owner
        .cli(&["ad", "sp", "list", "--expiring-within", "30", "-o", "json"])
        .ok()
        .json();
    let apps: Vec<&str> = expiring
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["appId"].as_str())
        .collect();
    assert!(
        apps.contains(&pusher_id.as_str()) && !apps.contains(&puller_id.as_str()),
        "{expiring}"
    );

    // Another machine: `acrylic login --service-principal`, then `acr
    // login`, then skopeo with the credentials it stored. Its use of the
    // short secret is warned about.
    let machine = server.scratch("sp-machine");
    let config = machine.join("config");
    fs::create_dir_all(&config).expect("config dir");
    let short_secret = short.json()["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let ca = server.ca_cert().display().to_string();
    let url = server.base_url();
    let login = run(
        cli_in(
            &server,
            &config,
            &machine,
            &[
                "login",
                "--service-principal",
                "-u",
                &pusher_id,
                "-p",
                &short_secret,
                "--tenant",
                &tenant,
                "--server",
                &url,
                "--ca-cert",
                &ca,
            ],
        ),
        None,
        &machine,
    )
    .ok();
    assert!(login.stderr.contains("WARNING"), "{}", login.stderr);
    let login_server = server.bootstrap_str("loginServer");
    run(
        cli_in(
            &server,
            &config,
            &machine,
            &["acr", "login", "--name", &login_server],
        ),
        None,
        &machine,
    )
    .ok();
    let auth = machine.join("auth.json");
    let stored = fs::read_to_string(&auth).expect("acr login wrote the containers auth file");
    assert!(stored.contains(&login_server), "{stored}");
    if let Some(sk) = &skopeo {
        sk.inspect("team/app", "v1", None, &auth).ok();
    }

    // A certificate: --create-cert writes a 0600 PEM file; login with it.
    let cert = owner
        .cli(&[
            "ad",
            "sp",
            "credential",
            "reset",
            "--id",
            &pusher_id,
            "--append",
            "--create-cert",
            "-o",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(cert["password"], Value::Null);
    let pem = PathBuf::from(cert["fileWithCertAndPrivateKey"].as_str().expect("a file"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&pem)
            .expect("the PEM file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = fs::read_to_string(&pem).expect("reading the PEM");
    assert!(text.contains("BEGIN CERTIFICATE") && text.contains("BEGIN PRIVATE KEY"));
    let pem_text = pem.display().to_string();
    let cert_machine = server.scratch("sp-cert-machine");
    let cert_config = cert_machine.join("config");
    fs::create_dir_all(&cert_config).expect("config dir");
    run(
        cli_in(
            &server,
            &cert_config,
            &cert_machine,
            &[
                "login",
                "--service-principal",
                "-u",
                &pusher_id,
                "--certificate",
                &pem_text,
                "--tenant",
                &tenant,
                "--server",
                &url,
                "--ca-cert",
                &ca,
            ],
        ),
        None,
        &cert_machine,
    )
    .ok();
    let exposed = run(
        cli_in(
            &server,
            &cert_config,
            &cert_machine,
            &[
                "acr",
                "login",
                "--name",
                &login_server,
                "--expose-token",
                "-o",
                "json",
            ],
        ),
        None,
        &cert_machine,
    )
    .ok()
    .json();
    assert!(
        exposed["refreshToken"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{exposed}"
    );

    // Deleting the service principal: its secrets stop at once.
    owner.cli(&["ad", "sp", "delete", "--id", &puller_id]).ok();
    if let Some(sk) = &skopeo {
        sk.inspect(
            "team/app",
            "v1",
            Some(&format!("{puller_id}:{new_secret}")),
            &none,
        )
        .fails();
    }
    let gone = owner.cli(&["ad", "sp", "show", "--id", &puller_id]).fails();
    assert!(gone.contains("does not exist"), "{gone}");
}
