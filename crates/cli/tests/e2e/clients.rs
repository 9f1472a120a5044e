//! Real registry clients — skopeo, podman, containerd's `ctr` — against a
//! spawned `acrylic serve` over HTTPS with its generated CA (issue #2 §7).
//!
//! The admin-user flow is the one ACR documents: the admin user is disabled
//! by default and a login is refused with a message saying so; the owner
//! signs in with the CLI, enables it (`acrylic acr update --admin-enabled
//! true`), reads both passwords (`acrylic acr credential show`), and clients
//! log in with either. `credential renew` stops the old password and leaves
//! the other working. Images come from an OCI layout written by the test
//! (`acrylic_testkit::image`) and their manifest digests must round-trip
//! byte-for-byte.
//!
//! How each client must be run on these machines is in
//! `shared/spec/clients.md`: podman with `--storage-driver vfs` and a private
//! `--root`/`--runroot`; containerd with a private config (own root, state and
//! socket, CRI disabled) and `ctr --hosts-dir` to trust the CA. Every client
//! gets its own auth file and config directories under the server's scratch
//! directory (`HOME` and `XDG_RUNTIME_DIR` point there), never the real home.
//!
//! With `ACRYLIC_REQUIRE_CLIENTS=1` (set by `scripts/test`) a missing client
//! binary fails the test; otherwise the test says why it skipped.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use acrylic_testkit::image::{self, ImageInfo};
use acrylic_testkit::spawned::SpawnedServer;

use crate::support::{Ran, acrylic_bin, clients_required, find_client, owner_login};

/// Any one client command must finish within this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------
// Running commands

/// Runs `cmd` with `stdin` as its input, output captured in files under
/// `scratch` (no pipe can fill up), killed after [`COMMAND_TIMEOUT`].
fn run(mut cmd: Command, stdin: Option<&str>, scratch: &Path) -> Ran {
    let what = format!("{cmd:?}").replace('"', "");
    let out_path = scratch.join("cmd.stdout");
    let err_path = scratch.join("cmd.stderr");
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
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(input.as_bytes()).expect("writing stdin");
    }
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{what}` did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        success: status.success(),
        stdout: fs::read(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        what,
    }
}

// ---------------------------------------------------------------------------
// The admin user, through the acrylic CLI

struct Admin {
    registry: String,
    username: String,
    password: String,
    password2: String,
}

/// Parses `acrylic acr credential show|renew -o json`:
/// `{"username": R, "passwords": [{"name": "password", "value": …}, …]}`.
fn parse_credentials(registry: &str, json: &serde_json::Value) -> Admin {
    let password = |name: &str| -> String {
        json["passwords"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .and_then(|p| p["value"].as_str())
            .unwrap_or_else(|| panic!("no {name} in {json}"))
            .to_owned()
    };
    Admin {
        registry: registry.to_owned(),
        username: json["username"]
            .as_str()
            .unwrap_or_else(|| panic!("no username in {json}"))
            .to_owned(),
        password: password("password"),
        password2: password("password2"),
    }
}

/// Turns the bootstrap registry's admin user on or off.
fn set_admin_enabled(server: &SpawnedServer, enabled: bool) {
    let registry = server.bootstrap_str("registry");
    let flag = if enabled { "true" } else { "false" };
    let update = server.cli([
        "acr",
        "update",
        "--name",
        &registry,
        "--admin-enabled",
        flag,
        "-o",
        "json",
    ]);
    let shown = run(update, None, &server.scratch("cli")).ok().json();
    // The ARM resource (`properties.adminUserEnabled`), or az's flattened form.
    let value = shown
        .get("adminUserEnabled")
        .unwrap_or(&shown["properties"]["adminUserEnabled"]);
    assert_eq!(value, enabled, "acr update printed {shown}");
}

/// Signs in as the owner, enables the admin user and reads its passwords.
fn enable_admin(server: &SpawnedServer) -> Admin {
    owner_login(server);
    set_admin_enabled(server, true);
    let registry = server.bootstrap_str("registry");
    let show = server.cli([
        "acr",
        "credential",
        "show",
        "--name",
        &registry,
        "-o",
        "json",
    ]);
    let admin = parse_credentials(
        &registry,
        &run(show, None, &server.scratch("cli")).ok().json(),
    );
    assert_eq!(
        admin.username, registry,
        "the admin username is the registry name"
    );
    assert_ne!(admin.password, admin.password2);
    admin
}

/// `acrylic acr credential renew --password-name <which>`: the new passwords.
fn renew(server: &SpawnedServer, admin: &Admin, which: &str) -> Admin {
    let renew = server.cli([
        "acr",
        "credential",
        "renew",
        "--name",
        &admin.registry,
        "--password-name",
        which,
        "-o",
        "json",
    ]);
    parse_credentials(
        &admin.registry,
        &run(renew, None, &server.scratch("cli")).ok().json(),
    )
}

/// The refusal must say the admin user is disabled (issue #2 §5), and the
/// client must surface it.
fn assert_says_admin_disabled(output: &str) {
    let lower = output.to_lowercase();
    assert!(
        lower.contains("admin") && lower.contains("disabled"),
        "the refusal must say the admin user is disabled; the client printed:\n{output}"
    );
}

/// A test image in an OCI layout under the server's scratch directory.
pub(crate) fn test_image(server: &SpawnedServer, tag: &str) -> (PathBuf, ImageInfo) {
    let dir = server.scratch("layout");
    let motd = format!("hello from the acrylic client tests ({tag})\n");
    let files: [(&str, &[u8]); 2] = [
        ("etc/motd", motd.as_bytes()),
        ("bin/hello", b"#!/bin/sh\necho hello\n"),
    ];
    let info = image::write_oci_layout(&dir, tag, &files).expect("writing the OCI layout");
    (dir, info)
}

/// A directory with the server's CA as `ca.crt`: containers/image's
/// `--cert-dir` / `certs.d` form.
pub(crate) fn cert_dir(server: &SpawnedServer) -> PathBuf {
    let dir = server.scratch("certs");
    fs::copy(server.ca_cert(), dir.join("ca.crt")).expect("copying the CA certificate");
    dir
}

// ---------------------------------------------------------------------------
// skopeo

struct Skopeo {
    bin: PathBuf,
    authfile: PathBuf,
    certs: PathBuf,
    scratch: PathBuf,
    host: String,
}

impl Skopeo {
    fn new(server: &SpawnedServer) -> Option<Skopeo> {
        let bin = find_client("skopeo")?;
        let scratch = server.scratch("skopeo");
        Some(Skopeo {
            bin,
            authfile: scratch.join("auth.json"),
            certs: cert_dir(server),
            scratch,
            host: server.host(),
        })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", &self.scratch)
            .env("XDG_RUNTIME_DIR", &self.scratch)
            .env("REGISTRY_AUTH_FILE", &self.authfile);
        cmd
    }

    fn run(&self, args: &[&str]) -> Ran {
        run(self.cmd(args), None, &self.scratch)
    }

    fn login(&self, username: &str, password: &str) -> Ran {
        let certs = self.certs.to_string_lossy();
        let authfile = self.authfile.to_string_lossy();
        let args = [
            "login",
            "--authfile",
            &authfile,
            "--cert-dir",
            &certs,
            "-u",
            username,
            "--password-stdin",
            &self.host,
        ];
        run(
            self.cmd(&args),
            Some(&format!("{password}\n")),
            &self.scratch,
        )
    }

    /// A disabled admin user is refused. `skopeo login` (containers/common)
    /// prints only "invalid username/password" and keeps the registry's
    /// message for `--debug`; other commands print it, so `inspect --creds`
    /// is how a user sees it.
    fn assert_refused_as_disabled(&self, username: &str, password: &str) {
        self.login(username, password).fails();
        let certs = self.certs.to_string_lossy();
        let creds = format!("{username}:{password}");
        let image = self.image("demo/hello:v1");
        assert_says_admin_disabled(
            &self
                .run(&["inspect", "--cert-dir", &certs, "--creds", &creds, &image])
                .fails(),
        );
    }

    fn image(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host)
    }

    /// `skopeo copy --preserve-digests oci:<layout>:<tag> docker://…`.
    fn push(&self, layout: &Path, tag: &str, reference: &str) -> Ran {
        let src = format!("oci:{}:{tag}", layout.display());
        let certs = self.certs.to_string_lossy();
        self.run(&[
            "copy",
            "--preserve-digests",
            "--dest-cert-dir",
            &certs,
            &src,
            &self.image(reference),
        ])
    }
}

#[test]
fn skopeo_admin_user_flow() {
    let mut server = SpawnedServer::start(acrylic_bin());
    let Some(skopeo) = Skopeo::new(&server) else {
        return;
    };
    let registry = server.bootstrap_str("registry");
    let (layout, info) = test_image(&server, "v1");
    let certs = skopeo.certs.to_string_lossy().into_owned();

    // Disabled by default: the login is refused, and skopeo shows why.
    skopeo.assert_refused_as_disabled(&registry, "any-password");

    let admin = enable_admin(&server);
    assert!(
        skopeo
            .login(&admin.username, &admin.password)
            .ok()
            .stdout()
            .contains("Login Succeeded")
    );
    skopeo.login(&admin.username, &admin.password2).ok();
    skopeo.login(&admin.username, "not-the-password").fails();

    // Copy in, with the manifest kept byte-for-byte.
    skopeo.push(&layout, "v1", "demo/hello:v1").ok();
    let raw = skopeo
        .run(&[
            "inspect",
            "--raw",
            "--cert-dir",
            &certs,
            &skopeo.image("demo/hello:v1"),
        ])
        .ok();
    assert_eq!(
        raw.stdout, info.manifest,
        "the registry must return the pushed manifest bytes"
    );
    assert_eq!(image::sha256(&raw.stdout), info.manifest_digest);
    let by_digest = format!("demo/hello@{}", info.manifest_digest);
    let inspected = skopeo
        .run(&["inspect", "--cert-dir", &certs, &skopeo.image(&by_digest)])
        .ok()
        .json();
    assert_eq!(inspected["Digest"], info.manifest_digest.as_str());
    assert_eq!(inspected["Layers"], serde_json::json!([info.layer_digest]));

    skopeo.push(&layout, "v1", "demo/hello:v2").ok();
    let tags = skopeo
        .run(&[
            "list-tags",
            "--cert-dir",
            &certs,
            &skopeo.image("demo/hello"),
        ])
        .ok()
        .json();
    let mut tags: Vec<&str> = tags["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["v1", "v2"]);

    // Copy out into a fresh layout: same manifest digest, same layer bytes.
    let out = server.scratch("copied-out");
    let dst = format!("oci:{}:v1", out.display());
    skopeo
        .run(&[
            "copy",
            "--preserve-digests",
            "--src-cert-dir",
            &certs,
            &skopeo.image("demo/hello:v1"),
            &dst,
        ])
        .ok();
    assert_eq!(
        image::layout_manifest_digest(&out, "v1").expect("index.json"),
        Some(info.manifest_digest.clone())
    );
    let layer = fs::read(
        out.join("blobs/sha256")
            .join(&info.layer_digest["sha256:".len()..]),
    )
    .expect("layer blob");
    assert_eq!(layer, info.layer);

    // Delete (by digest, as skopeo does): both tags are gone.
    skopeo
        .run(&[
            "delete",
            "--cert-dir",
            &certs,
            &skopeo.image("demo/hello:v1"),
        ])
        .ok();
    skopeo
        .run(&[
            "inspect",
            "--raw",
            "--cert-dir",
            &certs,
            &skopeo.image("demo/hello:v1"),
        ])
        .fails();

    // Renew `password`: the old one stops working, password2 keeps working.
    let renewed = renew(&server, &admin, "password");
    assert_ne!(renewed.password, admin.password);
    assert_eq!(renewed.password2, admin.password2);
    skopeo.login(&admin.username, &admin.password).fails();
    skopeo.login(&admin.username, &admin.password2).ok();
    skopeo.login(&admin.username, &renewed.password).ok();
    skopeo.push(&layout, "v1", "demo/hello:v3").ok();

    // Everything survives a restart; disabling refuses logins again, clearly.
    server.restart();
    skopeo.login(&admin.username, &renewed.password2).ok();
    set_admin_enabled(&server, false);
    skopeo.assert_refused_as_disabled(&admin.username, &renewed.password2);
}

// ---------------------------------------------------------------------------
// podman

#[test]
fn podman_login_push_pull() {
    let server = SpawnedServer::start(acrylic_bin());
    let Some(bin) = find_client("podman") else {
        return;
    };
    let (layout, info) = test_image(&server, "v1");
    let admin = enable_admin(&server);

    let scratch = server.scratch("podman");
    let certs = cert_dir(&server);
    let authfile = scratch.join("auth.json");
    let podman = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.arg("--root")
            .arg(scratch.join("root"))
            .arg("--runroot")
            .arg(scratch.join("runroot"))
            .arg("--tmpdir")
            .arg(scratch.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--events-backend",
                "file",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(args)
            .env("HOME", &scratch)
            .env("XDG_RUNTIME_DIR", &scratch)
            .env("REGISTRY_AUTH_FILE", &authfile);
        cmd
    };
    let host = server.host();
    let certs_arg = certs.to_string_lossy().into_owned();
    let remote = format!("{host}/demo/podman:v1");

    let login = podman(&[
        "login",
        "--cert-dir",
        &certs_arg,
        "-u",
        &admin.username,
        "--password-stdin",
        &host,
    ]);
    run(login, Some(&format!("{}\n", admin.password2)), &scratch).ok();

    // Into local storage from the layout, then push. podman names an image
    // pulled from a layout after the layout's path, which must then be a
    // valid (lower-case) repository name: pull it through a lower-case link.
    // podman recompresses layers from its storage, so the pushed digest is
    // the one it reports.
    let link = LowercaseLink::new(&layout, server.port());
    let source = format!("oci:{}:v1", link.path.display());
    let local_id = run(podman(&["pull", "--quiet", &source]), None, &scratch).ok();
    let local_id = local_id.stdout().trim().to_owned();
    assert!(
        info.config_digest.ends_with(&local_id),
        "podman's image id is the config digest"
    );
    run(podman(&["tag", &local_id, &remote]), None, &scratch).ok();
    let digestfile = scratch.join("pushed.digest");
    let digestfile_arg = digestfile.to_string_lossy().into_owned();
    run(
        podman(&[
            "push",
            "--cert-dir",
            &certs_arg,
            "--digestfile",
            &digestfile_arg,
            &remote,
        ]),
        None,
        &scratch,
    )
    .ok();
    let pushed = fs::read_to_string(&digestfile)
        .expect("podman --digestfile")
        .trim()
        .to_owned();
    assert!(pushed.starts_with("sha256:"), "pushed digest {pushed}");

    // Forget everything locally, pull back: the same manifest digest.
    run(podman(&["rmi", "--all", "--force"]), None, &scratch).ok();
    run(
        podman(&["pull", "--cert-dir", &certs_arg, &remote]),
        None,
        &scratch,
    )
    .ok();
    let pulled = run(
        podman(&["image", "inspect", "--format", "{{.Digest}}", &remote]),
        None,
        &scratch,
    )
    .ok();
    assert_eq!(
        pulled.stdout().trim(),
        pushed,
        "the pulled manifest digest must be the pushed one"
    );
    let pulled_id = run(
        podman(&["image", "inspect", "--format", "{{.Id}}", &remote]),
        None,
        &scratch,
    )
    .ok();
    assert_eq!(
        pulled_id.stdout().trim(),
        local_id,
        "same config, same image id"
    );

    // A wrong password is refused.
    let bad = podman(&[
        "login",
        "--cert-dir",
        &certs_arg,
        "-u",
        &admin.username,
        "--password-stdin",
        &host,
    ]);
    run(bad, Some("wrong-password\n"), &scratch).fails();
}

/// A symbolic link with an all-lower-case path in the system temporary
/// directory, removed on drop.
pub(crate) struct LowercaseLink {
    pub(crate) path: PathBuf,
}

impl LowercaseLink {
    pub(crate) fn new(target: &Path, port: u16) -> LowercaseLink {
        let path = std::env::temp_dir().join(format!("acrylic-oci-{}-{port}", std::process::id()));
        let _ = fs::remove_file(&path);
        std::os::unix::fs::symlink(target, &path).expect("creating a symbolic link");
        LowercaseLink { path }
    }
}

impl Drop for LowercaseLink {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------------------
// containerd / ctr

/// A private containerd (spec/clients.md): own root, state and socket, the
/// CRI plugin disabled. Killed on drop.
pub(crate) struct Containerd {
    child: Child,
    pub(crate) socket: PathBuf,
}

impl Containerd {
    pub(crate) fn start(bin: &Path, dir: &Path) -> Result<Containerd, String> {
        let socket = dir.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = {root:?}\nstate = {state:?}\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = {sock:?}\n[ttrpc]\n  address = {ttrpc:?}\n",
            root = dir.join("root"),
            state = dir.join("state"),
            sock = socket,
            ttrpc = dir.join("containerd.sock.ttrpc"),
        );
        fs::write(dir.join("config.toml"), config).map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting containerd: {e}"))?;
        let mut containerd = Containerd { child, socket };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !containerd.socket.exists() {
            if Instant::now() > deadline || matches!(containerd.child.try_wait(), Ok(Some(_))) {
                let log = fs::read_to_string(dir.join("containerd.log")).unwrap_or_default();
                return Err(format!("containerd did not start:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(containerd)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn ctr_pull_with_user() {
    let server = SpawnedServer::start(acrylic_bin());
    let (Some(ctr), Some(containerd_bin)) = (find_client("ctr"), find_client("containerd")) else {
        return;
    };
    let Some(skopeo) = Skopeo::new(&server) else {
        return;
    };
    let scratch = server.scratch("containerd");
    let containerd = match Containerd::start(&containerd_bin, &scratch) {
        Ok(c) => c,
        Err(e) if !clients_required() => {
            eprintln!("skipped: containerd cannot run here: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };

    let (layout, info) = test_image(&server, "v1");
    let admin = enable_admin(&server);
    skopeo.login(&admin.username, &admin.password).ok();
    skopeo.push(&layout, "v1", "demo/ctr:v1").ok();

    // ctr uses plain HTTP for localhost unless hosts.toml says otherwise.
    let host = server.host();
    let hosts = scratch.join("hosts.d");
    fs::create_dir_all(hosts.join(&host)).expect("hosts dir");
    let hosts_toml = format!(
        "server = \"https://{host}\"\n[host.\"https://{host}\"]\n  ca = {ca:?}\n",
        ca = server.ca_cert()
    );
    fs::write(hosts.join(&host).join("hosts.toml"), hosts_toml).expect("hosts.toml");

    let reference = format!("{host}/demo/ctr:v1");
    let ctr_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&ctr);
        cmd.arg("-a")
            .arg(&containerd.socket)
            .args(["-n", "acrylic"])
            .args(args)
            .env("HOME", &scratch);
        cmd
    };
    let pull = |user: &str| {
        let hosts_arg = hosts.to_string_lossy();
        let args = [
            "images",
            "pull",
            "--hosts-dir",
            &hosts_arg,
            "--user",
            user,
            "--snapshotter",
            "native",
            &reference,
        ];
        run(ctr_cmd(&args), None, &scratch)
    };

    pull(&format!("{}:wrong-password", admin.username)).fails();
    pull(&format!("{}:{}", admin.username, admin.password2)).ok();

    // `ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS
    let listed = run(ctr_cmd(&["images", "ls"]), None, &scratch)
        .ok()
        .stdout();
    let digest = listed
        .lines()
        .find(|line| line.split_whitespace().next() == Some(reference.as_str()))
        .and_then(|line| line.split_whitespace().nth(2))
        .unwrap_or_else(|| panic!("{reference} not in `ctr images ls`:\n{listed}"));
    assert_eq!(
        digest, info.manifest_digest,
        "ctr must pull the manifest that was pushed"
    );
}
