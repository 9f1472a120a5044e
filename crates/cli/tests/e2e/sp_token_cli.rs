//! The issue #4 CLI verbs the larger flows do not type (`repo_tokens.rs`,
//! `service_principals.rs`): `ad app create|update|show|delete` and `ad app
//! federated-credential create|list|delete`, `create-for-rbac --years`, `acr scope-map
//! update --add-repository/--remove-repository`, `acr token create
//! --no-passwords` then `token credential generate --expiration DATE`, and
//! `acr pull-secret create --service-principal`, whose decoded
//! `.dockerconfigjson` is skopeo's and podman's auth file to pull; podman
//! and ctr pull with the service principal's and the token's credentials
//! (refused outside the token's scope map); and
//! `role assignment delete` stops the principal's next login at once.

use std::fs;
use std::path::Path;
use std::process::Command;

use acrylic_testkit::image;
use acrylic_testkit::spawned::SpawnedServer;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{Ran, acrylic, acrylic_bin, find_client, owner_login, run};

fn ok(server: &SpawnedServer, args: &[&str]) -> Value {
    acrylic(server, args).ok().json()
}

fn date_of(v: &Value) -> OffsetDateTime {
    let text = v.as_str().unwrap_or_else(|| panic!("no date: {v}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn applications_scope_map_updates_passwordless_tokens_and_sp_pull_secrets() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    owner_login(&server);

    // ad app create|update|federated-credential|delete.
    let app = ok(
        &server,
        &[
            "ad",
            "app",
            "create",
            "--display-name",
            "gh-actions",
            "--sign-in-audience",
            "AzureADMyOrg",
        ],
    );
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    assert_eq!(app["displayName"], "gh-actions");
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    acrylic(
        &server,
        &[
            "ad",
            "app",
            "update",
            "--id",
            &app_id,
            "--display-name",
            "gh-actions-2",
            "--sign-in-audience",
            "AzureADMultipleOrgs",
        ],
    )
    .ok();
    let shown = ok(&server, &["ad", "app", "show", "--id", &app_id]);
    assert_eq!(shown["displayName"], "gh-actions-2");
    assert_eq!(shown["signInAudience"], "AzureADMultipleOrgs");
    let fic = ok(
        &server,
        &[
            "ad",
            "app",
            "federated-credential",
            "create",
            "--id",
            &app_id,
            "--name",
            "main-branch",
            "--issuer",
            "https://token.actions.example.com",
            "--subject",
            "repo:org/app:ref:refs/heads/main",
        ],
    );
    assert_eq!(fic["name"], "main-branch");
    assert_eq!(fic["audiences"], json!(["api://AzureADTokenExchange"]));
    let listed = ok(
        &server,
        &["ad", "app", "federated-credential", "list", "--id", &app_id],
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["subject"], "repo:org/app:ref:refs/heads/main");
    acrylic(
        &server,
        &[
            "ad",
            "app",
            "federated-credential",
            "delete",
            "--id",
            &app_id,
            "--federated-credential-id",
            "main-branch",
        ],
    )
    .ok();
    let listed = ok(
        &server,
        &["ad", "app", "federated-credential", "list", "--id", &app_id],
    );
    assert_eq!(listed, json!([]));
    acrylic(&server, &["ad", "app", "delete", "--id", &app_id]).ok();
    acrylic(&server, &["ad", "app", "show", "--id", &app_id]).fails();

    // create-for-rbac --years 2: the secret ends 730 days from now.
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("resourceGroup"),
        registry
    );
    let before = OffsetDateTime::now_utc();
    let sp = ok(
        &server,
        &[
            "ad",
            "sp",
            "create-for-rbac",
            "--name",
            "puller",
            "--role",
            "AcrPull",
            "--scopes",
            &scope,
            "--years",
            "2",
        ],
    );
    let sp_id = sp["appId"].as_str().expect("appId").to_owned();
    let sp_secret = sp["password"].as_str().expect("password").to_owned();
    let creds = ok(&server, &["ad", "sp", "credential", "list", "--id", &sp_id]);
    let end = date_of(&creds[0]["endDateTime"]);
    let days = (end - before).whole_days();
    assert!((729..=730).contains(&days), "{days} days: {creds}");

    // scope-map update adds and removes repositories.
    ok(
        &server,
        &[
            "acr",
            "scope-map",
            "create",
            "-r",
            &registry,
            "-n",
            "ci-pull",
            "--repository",
            "team/app",
            "content/read",
        ],
    );
    let updated = ok(
        &server,
        &[
            "acr",
            "scope-map",
            "update",
            "-r",
            &registry,
            "-n",
            "ci-pull",
            "--add-repository",
            "samples/*",
            "content/read",
            "metadata/read",
            "--remove-repository",
            "team/app",
            "content/read",
        ],
    );
    assert_eq!(
        updated["actions"],
        json!([
            "repositories/samples/*/content/read",
            "repositories/samples/*/metadata/read"
        ]),
        "{updated}"
    );

    // token create --no-passwords, then a password with a fixed expiry.
    let token = ok(
        &server,
        &[
            "acr",
            "token",
            "create",
            "-n",
            "later",
            "-r",
            &registry,
            "--scope-map",
            "ci-pull",
            "--no-passwords",
        ],
    );
    let none = token["credentials"]["passwords"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(none, 0, "{token}");
    let expiry = (OffsetDateTime::now_utc() + time::Duration::days(90))
        .date()
        .to_string();
    let generated = ok(
        &server,
        &[
            "acr",
            "token",
            "credential",
            "generate",
            "-n",
            "later",
            "-r",
            &registry,
            "--password1",
            "--expiration",
            &expiry,
        ],
    );
    let pw = &generated["passwords"][0];
    assert_eq!(pw["name"], "password1");
    assert!(
        pw["expiry"]
            .as_str()
            .is_some_and(|e| e.starts_with(&expiry)),
        "{generated}"
    );
    assert!(pw["value"].as_str().is_some_and(|v| !v.is_empty()));

    // A pull secret for the service principal; skopeo and podman pull with
    // its decoded .dockerconfigjson.
    let secret = ok(
        &server,
        &[
            "acr",
            "pull-secret",
            "create",
            "-r",
            &registry,
            "--service-principal",
            &sp_id,
            "--password",
            &sp_secret,
            "-o",
            "json",
        ],
    );
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let data = secret["data"][".dockerconfigjson"]
        .as_str()
        .expect(".dockerconfigjson");
    let config: Value = serde_json::from_slice(&STANDARD.decode(data).expect("base64"))
        .expect("the auth file is JSON");
    assert_eq!(config["auths"][host.as_str()]["username"], sp_id.as_str());
    let refused = acrylic(
        &server,
        &[
            "acr",
            "pull-secret",
            "create",
            "-r",
            &registry,
            "--service-principal",
            &sp_id,
            "--password",
            "not-the-secret",
        ],
    )
    .fails();
    assert!(refused.contains("No secret was written"), "{refused}");

    let Some(skopeo) = find_client("skopeo") else {
        return;
    };
    let scratch = server.scratch("sp-pull-secret");
    let auth = scratch.join("auth.json");
    fs::write(&auth, config.to_string()).expect("writing the auth file");
    let certs = server.scratch("sp-pull-secret-certs");
    fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copying the CA");
    let certs_arg = certs.display().to_string();
    // The owner pushes after `acr login`, which writes its auth file.
    let owner_auth = scratch.join("owner-auth.json");
    let mut login = server.cli(["acr", "login", "--name", &registry]);
    login.env("REGISTRY_AUTH_FILE", &owner_auth);
    run(login, None).ok();
    let layout = scratch.join("layout");
    let info = image::write_oci_layout(&layout, "v1", &[("etc/motd", b"sp pull secret\n")])
        .expect("writing the layout");
    let skopeo_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&skopeo);
        cmd.args(args)
            .env("HOME", &scratch)
            .env("XDG_RUNTIME_DIR", &scratch)
            .env_remove("REGISTRY_AUTH_FILE");
        cmd
    };
    let image_ref = format!("docker://{host}/team/app:v1");
    run(
        skopeo_cmd(&[
            "copy",
            "--preserve-digests",
            "--dest-authfile",
            &owner_auth.display().to_string(),
            "--dest-cert-dir",
            &certs_arg,
            &format!("oci:{}:v1", layout.display()),
            &image_ref,
        ]),
        None,
    )
    .ok();
    let pulled = scratch.join("pulled");
    run(
        skopeo_cmd(&[
            "copy",
            "--src-authfile",
            &auth.display().to_string(),
            "--src-cert-dir",
            &certs_arg,
            &image_ref,
            &format!("oci:{}:v1", pulled.display()),
        ]),
        None,
    )
    .ok();
    assert_eq!(
        image::layout_manifest_digest(&pulled, "v1").expect("reading the pulled layout"),
        Some(info.manifest_digest.clone())
    );
    // AcrPull: the same auth file cannot push.
    run(
        skopeo_cmd(&[
            "copy",
            "--dest-authfile",
            &auth.display().to_string(),
            "--dest-cert-dir",
            &certs_arg,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/team/app:v2"),
        ]),
        None,
    )
    .fails();

    // containerd's ctr pulls with the service principal's appId + secret,
    // and with the token's password where its scope map says so.
    let later_pw = pw["value"].as_str().expect("password1").to_owned();
    run(
        skopeo_cmd(&[
            "copy",
            "--preserve-digests",
            "--dest-authfile",
            &owner_auth.display().to_string(),
            "--dest-cert-dir",
            &certs_arg,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/samples/app:v1"),
        ]),
        None,
    )
    .ok();
    // podman pulls with the pull secret's auth file (the service principal)
    // and with the token's password; the token's scope map has no team/app.
    if let Some(podman) = find_client("podman") {
        let pm = server.scratch("pm");
        let token_auth = pm.join("token-auth.json");
        let entry = json!({"auth": STANDARD.encode(format!("later:{later_pw}"))});
        fs::write(&token_auth, json!({"auths": {&host: entry}}).to_string())
            .expect("writing the token's auth file");
        podman_pull(&podman, &pm, &auth, &certs, &host, "team/app:v1").ok();
        podman_pull(&podman, &pm, &token_auth, &certs, &host, "samples/app:v1").ok();
        podman_pull(&podman, &pm, &token_auth, &certs, &host, "team/app:v1").fails();
    }
    if let (Some(ctr), Some(containerd_bin)) = (find_client("ctr"), find_client("containerd")) {
        let dir = server.scratch("ctr");
        let containerd = match crate::clients::Containerd::start(&containerd_bin, &dir) {
            Ok(c) => c,
            Err(e) if !crate::support::clients_required() => {
                eprintln!("skipped the ctr steps: containerd cannot run here: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        let hosts = dir.join("hosts.d");
        fs::create_dir_all(hosts.join(&host)).expect("hosts dir");
        let ca = server.ca_cert();
        fs::write(
            hosts.join(&host).join("hosts.toml"),
            format!("server = \"https://{host}\"\n[host.\"https://{host}\"]\n  ca = {ca:?}\n"),
        )
        .expect("hosts.toml");
        let ctr_pull = |user: &str, password: &str, reference: &str| {
            let mut cmd = Command::new(&ctr);
            cmd.arg("-a")
                .arg(&containerd.socket)
                .args(["-n", "acrylic", "images", "pull", "--hosts-dir"])
                .arg(&hosts)
                .args(["--snapshotter", "native", "--user"])
                .arg(format!("{user}:{password}"))
                .arg(format!("{host}/{reference}"))
                .env("HOME", &dir);
            run(cmd, None)
        };
        ctr_pull(&sp_id, &sp_secret, "team/app:v1").ok();
        ctr_pull("later", &later_pw, "samples/app:v1").ok();
        ctr_pull("later", &later_pw, "team/app:v1").fails();
    }

    // Removing the role: the next login with the same secret gets nothing.
    acrylic(
        &server,
        &[
            "role",
            "assignment",
            "delete",
            "--assignee",
            &sp_id,
            "--role",
            "AcrPull",
            "--scope",
            &scope,
        ],
    )
    .ok();
    let denied = run(
        skopeo_cmd(&[
            "inspect",
            "--raw",
            "--authfile",
            &auth.display().to_string(),
            "--cert-dir",
            &certs_arg,
            &image_ref,
        ]),
        None,
    )
    .fails()
    .to_lowercase();
    assert!(
        denied.contains("denied") || denied.contains("unauthorized") || denied.contains("403"),
        "{denied}"
    );
}

/// `podman pull --authfile` into private storage (vfs), as `clients.rs`.
fn podman_pull(
    podman: &Path,
    scratch: &Path,
    auth: &Path,
    certs: &Path,
    host: &str,
    reference: &str,
) -> Ran {
    let root = scratch.join("root");
    let runroot = scratch.join("run"); // podman wants at most 50 characters
    let tmp = scratch.join("tmp");
    fs::create_dir_all(&tmp).expect("tmp dir");
    let mut cmd = Command::new(podman);
    cmd.args([
        "--root",
        &root.display().to_string(),
        "--runroot",
        &runroot.display().to_string(),
        "--storage-driver",
        "vfs",
        "--events-backend",
        "file",
        "--cgroup-manager",
        "cgroupfs",
        "--tmpdir",
        &tmp.display().to_string(),
        "pull",
        "--authfile",
        &auth.display().to_string(),
        "--cert-dir",
        &certs.display().to_string(),
        &format!("{host}/{reference}"),
    ])
    .env("HOME", scratch)
    .env("XDG_RUNTIME_DIR", scratch)
    .env("TMPDIR", &tmp)
    .env_remove("REGISTRY_AUTH_FILE");
    run(cmd, None)
}
