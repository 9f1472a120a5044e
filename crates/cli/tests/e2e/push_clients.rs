//! Pushes with podman and containerd's `ctr` (issue #4 §5): a service
//! principal with AcrPush and a repository token whose scope map allows
//! `content/read` + `content/write` on `team/app` only both push, and the
//! token is refused outside its scope map. Every pushed manifest digest is
//! read back with `skopeo inspect --raw`.
//!
//! podman runs with `--storage-driver vfs` and a private root/runroot, and
//! containerd is the private one from `clients.rs` (spec/clients.md).

use std::fs;
use std::process::Command;

use acrylic_testkit::image;
use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

use crate::clients::{Containerd, LowercaseLink, cert_dir, test_image};
use crate::support::{Ran, acrylic, acrylic_bin, clients_required, find_client, owner_login, run};

fn ok(server: &SpawnedServer, args: &[&str]) -> Value {
    acrylic(server, args).ok().json()
}

#[test]
fn podman_and_ctr_push_with_sp_and_token_credentials() {
    let server = SpawnedServer::start(acrylic_bin());
    let (Some(podman_bin), Some(skopeo), Some(ctr), Some(containerd_bin)) = (
        find_client("podman"),
        find_client("skopeo"),
        find_client("ctr"),
        find_client("containerd"),
    ) else {
        return;
    };
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    owner_login(&server);

    // A service principal with AcrPush on the registry.
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("resourceGroup"),
        registry
    );
    let sp = ok(
        &server,
        &[
            "ad",
            "sp",
            "create-for-rbac",
            "--name",
            "pusher",
            "--role",
            "AcrPush",
            "--scopes",
            &scope,
        ],
    );
    let sp_id = sp["appId"].as_str().expect("appId").to_owned();
    let sp_secret = sp["password"].as_str().expect("password").to_owned();

    // A token whose scope map reads and writes team/app, nothing else.
    let map = ok(
        &server,
        &[
            "acr",
            "scope-map",
            "create",
            "-r",
            &registry,
            "-n",
            "team-push",
            "--repository",
            "team/app",
            "content/read",
            "content/write",
        ],
    );
    assert_eq!(
        map["actions"],
        serde_json::json!([
            "repositories/team/app/content/read",
            "repositories/team/app/content/write"
        ]),
        "{map}"
    );
    let token = ok(
        &server,
        &[
            "acr",
            "token",
            "create",
            "-n",
            "ci-push",
            "-r",
            &registry,
            "--scope-map",
            "team-push",
        ],
    );
    let token_pw = token["credentials"]["passwords"][0]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no password in {token}"))
        .to_owned();
    let token_creds = format!("ci-push:{token_pw}");
    let sp_creds = format!("{sp_id}:{sp_secret}");

    let (layout, info) = test_image(&server, "v1");
    let certs = cert_dir(&server);
    let certs_arg = certs.display().to_string();
    let scratch = server.scratch("push-clients");

    // The manifest digest the registry serves for `reference`, read with the
    // service principal's credentials.
    let served_digest = |reference: &str| -> String {
        let mut cmd = Command::new(&skopeo);
        cmd.args([
            "inspect",
            "--raw",
            "--cert-dir",
            &certs_arg,
            "--creds",
            &sp_creds,
            &format!("docker://{host}/{reference}"),
        ])
        .env("HOME", &scratch)
        .env("XDG_RUNTIME_DIR", &scratch)
        .env_remove("REGISTRY_AUTH_FILE");
        image::sha256(&run(cmd, None).ok().stdout)
    };

    // ---- podman: private vfs storage, its own auth file.
    let pm = server.scratch("ppm");
    let authfile = pm.join("auth.json");
    fs::write(&authfile, "{}").expect("writing an empty auth file");
    let podman = |args: &[&str]| {
        let mut cmd = Command::new(&podman_bin);
        cmd.arg("--root")
            .arg(pm.join("root"))
            .arg("--runroot")
            .arg(pm.join("run"))
            .arg("--tmpdir")
            .arg(pm.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--events-backend",
                "file",
                "--cgroup-manager",
                "cgroupfs",
            ])
            .args(args)
            .env("HOME", &pm)
            .env("XDG_RUNTIME_DIR", &pm)
            .env("REGISTRY_AUTH_FILE", &authfile);
        cmd
    };
    // Into local storage from the layout (through a lower-case path, as
    // podman names the image after it).
    let link = LowercaseLink::new(&layout, server.port());
    let source = format!("oci:{}:v1", link.path.display());
    let local_id = run(podman(&["pull", "--quiet", &source]), None)
        .ok()
        .stdout()
        .trim()
        .to_owned();
    assert!(info.config_digest.ends_with(&local_id), "{local_id}");
    let push = |reference: &str, creds: Option<&str>| -> (Ran, String) {
        let remote = format!("{host}/{reference}");
        run(podman(&["tag", &local_id, &remote]), None).ok();
        let digestfile = pm.join("pushed.digest");
        let _ = fs::remove_file(&digestfile);
        let digestfile_arg = digestfile.display().to_string();
        let mut args = vec![
            "push",
            "--cert-dir",
            &certs_arg,
            "--digestfile",
            &digestfile_arg,
        ];
        if let Some(creds) = creds {
            args.extend(["--creds", creds]);
        }
        args.push(&remote);
        let ran = run(podman(&args), None);
        let digest = fs::read_to_string(&digestfile)
            .unwrap_or_default()
            .trim()
            .to_owned();
        (ran, digest)
    };

    // The service principal: `podman login`, then push.
    run(
        podman(&[
            "login",
            "--cert-dir",
            &certs_arg,
            "-u",
            &sp_id,
            "--password-stdin",
            &host,
        ]),
        Some(&format!("{sp_secret}\n")),
    )
    .ok();
    let (ran, sp_digest) = push("team/app:podman-sp", None);
    ran.ok();
    assert!(sp_digest.starts_with("sha256:"), "{sp_digest}");
    assert_eq!(served_digest("team/app:podman-sp"), sp_digest);
    run(podman(&["logout", &host]), None).ok();

    // The token: `podman login` then push, and `--creds` too.
    run(
        podman(&[
            "login",
            "--cert-dir",
            &certs_arg,
            "-u",
            "ci-push",
            "--password-stdin",
            &host,
        ]),
        Some(&format!("{token_pw}\n")),
    )
    .ok();
    let (ran, token_digest) = push("team/app:podman-token", None);
    ran.ok();
    assert_eq!(served_digest("team/app:podman-token"), token_digest);
    run(podman(&["logout", &host]), None).ok();
    let (ran, creds_digest) = push("team/app:podman-creds", Some(&token_creds));
    ran.ok();
    assert_eq!(served_digest("team/app:podman-creds"), creds_digest);

    // Outside the scope map the token is refused, and nothing lands there.
    let (ran, _) = push("other/app:podman-token", Some(&token_creds));
    let refused = ran.fails().to_lowercase();
    assert!(
        refused.contains("denied") || refused.contains("unauthorized") || refused.contains("403"),
        "{refused}"
    );
    // The service principal (AcrPush on the registry) may push there.
    let (ran, other_digest) = push("other/app:podman-sp", Some(&sp_creds));
    ran.ok();
    assert_eq!(served_digest("other/app:podman-sp"), other_digest);

    // ---- containerd: a private daemon; `ctr images pull` then `push`.
    let dir = server.scratch("pctr");
    let containerd = match Containerd::start(&containerd_bin, &dir) {
        Ok(c) => c,
        Err(e) if !clients_required() => {
            eprintln!("skipped the ctr steps: containerd cannot run here: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let hosts = dir.join("hosts.d");
    fs::create_dir_all(hosts.join(&host)).expect("hosts dir");
    fs::write(
        hosts.join(&host).join("hosts.toml"),
        format!(
            "server = \"https://{host}\"\n[host.\"https://{host}\"]\n  ca = {:?}\n",
            server.ca_cert()
        ),
    )
    .expect("hosts.toml");
    let hosts_arg = hosts.display().to_string();
    let ctr_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&ctr);
        cmd.arg("-a")
            .arg(&containerd.socket)
            .args(["-n", "acrylic"])
            .args(args)
            .env("HOME", &dir);
        cmd
    };
    let pulled = format!("{host}/team/app:podman-sp");
    run(
        ctr_cmd(&[
            "images",
            "pull",
            "--hosts-dir",
            &hosts_arg,
            "--snapshotter",
            "native",
            "--user",
            &sp_creds,
            &pulled,
        ]),
        None,
    )
    .ok();
    let ctr_push = |reference: &str, creds: &str| -> Ran {
        let remote = format!("{host}/{reference}");
        let _ = run(ctr_cmd(&["images", "rm", &remote]), None);
        run(ctr_cmd(&["images", "tag", &pulled, &remote]), None).ok();
        run(
            ctr_cmd(&[
                "images",
                "push",
                "--hosts-dir",
                &hosts_arg,
                "--user",
                creds,
                &remote,
            ]),
            None,
        )
    };
    // ctr pushes the content it pulled, unchanged: the same digest.
    ctr_push("team/app:ctr-sp", &sp_creds).ok();
    assert_eq!(served_digest("team/app:ctr-sp"), sp_digest);
    ctr_push("team/app:ctr-token", &token_creds).ok();
    assert_eq!(served_digest("team/app:ctr-token"), sp_digest);
    let refused = ctr_push("other/app:ctr-token", &token_creds)
        .fails()
        .to_lowercase();
    assert!(
        refused.contains("denied") || refused.contains("unauthorized") || refused.contains("403"),
        "{refused}"
    );
    ctr_push("team/app:ctr-bad", &format!("{sp_id}:not-the-secret")).fails();

    // Nothing landed where the pushes were refused.
    let missing = |reference: &str| {
        let mut cmd = Command::new(&skopeo);
        cmd.args([
            "inspect",
            "--raw",
            "--cert-dir",
            &certs_arg,
            "--creds",
            &sp_creds,
            &format!("docker://{host}/{reference}"),
        ])
        .env("HOME", &scratch)
        .env("XDG_RUNTIME_DIR", &scratch)
        .env_remove("REGISTRY_AUTH_FILE");
        run(cmd, None).fails();
    };
    missing("other/app:podman-token");
    missing("other/app:ctr-token");
    missing("team/app:ctr-bad");
    drop(link);
}
