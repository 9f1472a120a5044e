//! `acrylic acr login` against a spawned `acrylic serve` over HTTPS (issue
//! #3 §2): the bootstrap owner signs in with the CLI, exchanges the
//! directory sign-in for a registry refresh token, and the credentials land
//! where docker and the containers tools read them — then skopeo pushes
//! and pulls with nothing but that auth file, and stops working once the
//! owner's sessions are revoked. Also: `--expose-token`'s JSON (nothing
//! written), `--username/--password`, and a login server given as `--name`.
//!
//! Every command gets its own `DOCKER_CONFIG`, `REGISTRY_AUTH_FILE` and
//! `HOME` under the server's scratch directory, never the real home. With
//! `ACRYLIC_REQUIRE_CLIENTS=1` a missing skopeo fails the test.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use acrylic_testkit::image;
use acrylic_testkit::spawned::SpawnedServer;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::{Ran, acrylic_bin, find_client, jwt_payload, owner_login, run};

const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Where one login writes: a Docker config directory and a containers
/// auth file of its own.
struct Creds {
    docker_config: PathBuf,
    auth_file: PathBuf,
}

impl Creds {
    fn new(server: &SpawnedServer, name: &str) -> Creds {
        let dir = server.scratch(name);
        Creds {
            docker_config: dir.join("docker"),
            auth_file: dir.join("containers").join("auth.json"),
        }
    }

    /// `acrylic <args>` with this login's environment.
    fn cli(&self, server: &SpawnedServer, args: &[&str]) -> Command {
        let mut cmd = server.cli(args);
        cmd.env("DOCKER_CONFIG", &self.docker_config)
            .env("REGISTRY_AUTH_FILE", &self.auth_file)
            .env_remove("XDG_RUNTIME_DIR");
        cmd
    }

    fn docker_json(&self) -> Value {
        read_json(&self.docker_config.join("config.json"))
    }

    fn auth_json(&self) -> Value {
        read_json(&self.auth_file)
    }
}

fn read_json(path: &Path) -> Value {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn decode_auth(entry: &Value) -> String {
    let auth = entry["auth"].as_str().expect("an auth field");
    String::from_utf8(STANDARD.decode(auth).expect("base64")).expect("UTF-8")
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} holds credentials", path.display());
}

/// Revokes every session of the bootstrap owner through the directory's
/// Graph API (`POST /v1.0/users/{id}/revokeSignInSessions`), as the owner
/// with a Graph token from the directory's password grant.
fn revoke_owner_sessions(server: &SpawnedServer) {
    let base = server.base_url();
    let tenant = server.bootstrap_str("tenant");
    let username = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    let pem = fs::read(server.ca_cert()).expect("the CA certificate");
    let (status, body) = acrylic_testkit::spawned::block_on(async move {
        let client = acrylic_testkit::spawned::https_client(&pem).expect("HTTPS client");
        let signed_in: Value = client
            .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
            .form(&[
                (
                    "client_id",
                    acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID,
                ),
                ("grant_type", "password"),
                ("username", username.as_str()),
                ("password", password.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("the directory's token endpoint")
            .json()
            .await
            .expect("a token response");
        let token = signed_in["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no Graph token: {signed_in}"))
            .to_owned();
        let oid = jwt_payload(&token)["oid"]
            .as_str()
            .expect("an oid claim")
            .to_owned();
        let r = client
            .post(format!("{base}/v1.0/users/{oid}/revokeSignInSessions"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("POST revokeSignInSessions");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    });
    assert_eq!(status, 200, "revokeSignInSessions: {body}");
}

/// skopeo with only the auth file `acrylic acr login` wrote.
struct Skopeo {
    bin: PathBuf,
    home: PathBuf,
    auth_file: PathBuf,
    certs: PathBuf,
    host: String,
}

impl Skopeo {
    fn run(&self, args: &[&str]) -> Ran {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.home)
            .env("REGISTRY_AUTH_FILE", &self.auth_file);
        run(cmd, None)
    }

    fn image(&self, reference: &str) -> String {
        format!("docker://{}/{reference}", self.host)
    }

    fn authfile(&self) -> String {
        self.auth_file.to_string_lossy().into_owned()
    }

    fn certs(&self) -> String {
        self.certs.to_string_lossy().into_owned()
    }

    fn push(&self, layout: &Path, tag: &str, reference: &str) -> Ran {
        let src = format!("oci:{}:{tag}", layout.display());
        self.run(&[
            "copy",
            "--preserve-digests",
            "--dest-authfile",
            &self.authfile(),
            "--dest-cert-dir",
            &self.certs(),
            &src,
            &self.image(reference),
        ])
    }

    fn inspect_raw(&self, reference: &str) -> Ran {
        self.run(&[
            "inspect",
            "--raw",
            "--authfile",
            &self.authfile(),
            "--cert-dir",
            &self.certs(),
            &self.image(reference),
        ])
    }
}

#[test]
fn acr_login_credentials_serve_skopeo_until_sessions_are_revoked() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    owner_login(&server);

    // A Docker config with someone else's entry and settings, to be kept.
    let creds = Creds::new(&server, "login");
    fs::create_dir_all(&creds.docker_config).expect("docker config dir");
    fs::write(
        creds.docker_config.join("config.json"),
        r#"{"auths": {"other.example.test": {"auth": "dXNlcjpwYXNz"}}, "psFormat": "table"}"#,
    )
    .expect("writing config.json");

    let login = run(
        creds.cli(&server, &["acr", "login", "--name", &registry]),
        None,
    )
    .ok();
    assert!(login.stderr.contains("Login Succeeded"), "{}", login.stderr);
    assert!(login.stdout().trim().is_empty(), "{}", login.stdout());

    // Docker: null GUID with an empty password, plus the identity token.
    let docker = creds.docker_json();
    let entry = &docker["auths"][host.as_str()];
    assert_eq!(decode_auth(entry), format!("{NULL_GUID}:"));
    let refresh = entry["identitytoken"]
        .as_str()
        .expect("an identity token")
        .to_owned();
    assert_eq!(
        docker["auths"]["other.example.test"],
        json!({"auth": "dXNlcjpwYXNz"})
    );
    assert_eq!(docker["psFormat"], "table");
    // containers: the null GUID and the refresh token as the password.
    let auth = creds.auth_json();
    assert_eq!(
        decode_auth(&auth["auths"][host.as_str()]),
        format!("{NULL_GUID}:{refresh}")
    );
    #[cfg(unix)]
    {
        assert_private(&creds.docker_config.join("config.json"));
        assert_private(&creds.auth_file);
    }
    // A registry refresh token of 3 hours for this login server.
    let claims = jwt_payload(&refresh);
    assert_eq!(claims["aud"], host.as_str());
    assert_eq!(claims["grant_type"], "refresh_token");
    assert_eq!(
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"),
        3 * 3600
    );
    // The profile records what was written, for `acrylic logout`.
    let profile = read_json(&server.config_dir().join("profile.json"));
    let recorded = &profile["registryLogins"][0];
    assert_eq!(recorded["loginServer"], host.as_str());
    assert_eq!(recorded["username"], NULL_GUID);
    assert_eq!(recorded["files"].as_array().map(Vec::len), Some(2));
    assert!(
        !profile.to_string().contains(&refresh),
        "no secret in the profile"
    );

    // skopeo pushes and pulls with that auth file alone.
    let Some(bin) = find_client("skopeo") else {
        return;
    };
    let certs = server.scratch("certs");
    fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copying the CA");
    let skopeo = Skopeo {
        bin,
        home: server.scratch("skopeo-home"),
        auth_file: creds.auth_file.clone(),
        certs,
        host: host.clone(),
    };
    let layout = server.scratch("layout");
    let info = image::write_oci_layout(
        &layout,
        "v1",
        &[("etc/motd", b"pushed after acrylic acr login\n")],
    )
    .expect("writing the OCI layout");
    skopeo.push(&layout, "v1", "team/app:v1").ok();
    let raw = skopeo.inspect_raw("team/app:v1").ok();
    assert_eq!(raw.stdout, info.manifest);
    let pulled = server.scratch("pulled");
    skopeo
        .run(&[
            "copy",
            "--preserve-digests",
            "--src-authfile",
            &skopeo.authfile(),
            "--src-cert-dir",
            &skopeo.certs(),
            &skopeo.image("team/app:v1"),
            &format!("oci:{}:v1", pulled.display()),
        ])
        .ok();
    assert_eq!(
        image::layout_manifest_digest(&pulled, "v1").expect("reading the pulled layout"),
        Some(info.manifest_digest.clone())
    );

    // Revoked sessions: the stored credential stops working at once, and
    // the refusal says what to do.
    revoke_owner_sessions(&server);
    let refused = skopeo.inspect_raw("team/app:v1").fails();
    assert!(
        refused.contains("revoked")
            && refused.contains(&format!("acrylic acr login --name {registry}")),
        "{refused}"
    );
    // The CLI's own sign-in is revoked too: a new `acr login` is refused
    // until the owner signs in again.
    let again = run(
        creds.cli(&server, &["acr", "login", "--name", &registry]),
        None,
    )
    .fails();
    assert!(
        again.contains("revoked") && again.contains("acrylic login"),
        "{again}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    owner_login(&server);
    run(
        creds.cli(&server, &["acr", "login", "--name", &registry]),
        None,
    )
    .ok();
    skopeo.inspect_raw("team/app:v1").ok();

    // The exchanges were audited, with the directory token's audience: the
    // CLI asks for ACR's, as az does.
    let audit = run(
        server.cli([
            "acr", "audit", "list", "--name", &registry, "--action", "exchange", "-o", "json",
        ]),
        None,
    )
    .ok()
    .json();
    let decisions: Vec<&str> = audit
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["decision"].as_str())
        .collect();
    assert_eq!(decisions, ["granted", "failed", "granted"], "{audit}");
    assert!(
        audit[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("https://containerregistry.azure.net")),
        "{audit}"
    );

    // `acrylic logout` erases what `acr login` wrote, and nothing else.
    let out = run(server.cli(["logout"]), None).ok();
    assert!(out.stderr.contains(&host), "{}", out.stderr);
    let docker = creds.docker_json();
    assert!(docker["auths"].get(host.as_str()).is_none(), "{docker}");
    assert_eq!(
        docker["auths"]["other.example.test"],
        json!({"auth": "dXNlcjpwYXNz"})
    );
    assert!(creds.auth_json()["auths"].get(host.as_str()).is_none());
    skopeo.inspect_raw("team/app:v1").fails();
}

#[test]
fn expose_token_passwords_and_login_servers() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();

    // Not signed in: the error says how to sign in.
    let out = run(
        Creds::new(&server, "anon").cli(&server, &["acr", "login", "--name", &registry]),
        None,
    )
    .fails();
    assert!(out.contains("acrylic login"), "{out}");
    owner_login(&server);

    // --expose-token: az's JSON shape, and nothing written anywhere.
    let creds = Creds::new(&server, "expose");
    let shown = run(
        creds.cli(
            &server,
            &[
                "acr",
                "login",
                "--name",
                &registry,
                "--expose-token",
                "-o",
                "json",
            ],
        ),
        None,
    )
    .ok();
    let v = shown.json();
    let mut keys: Vec<&String> = v.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["accessToken", "loginServer", "refreshToken", "username"]
    );
    assert_eq!(v["loginServer"], host.as_str());
    assert_eq!(v["username"], NULL_GUID);
    assert_eq!(v["accessToken"], v["refreshToken"]);
    let token = v["accessToken"].as_str().expect("a token");
    assert_eq!(jwt_payload(token)["grant_type"], "refresh_token");
    assert!(
        !creds.docker_config.exists(),
        "--expose-token writes nothing"
    );
    assert!(!creds.auth_file.exists(), "--expose-token writes nothing");
    let profile = read_json(&server.config_dir().join("profile.json"));
    assert!(profile.get("registryLogins").is_none(), "{profile}");

    // The login server itself as --name; the exposed token then logs in
    // as az's instructions say (-u 00000000-… -p <token>) and is stored as
    // an identity token.
    let by_host = Creds::new(&server, "by-host");
    run(
        by_host.cli(
            &server,
            &[
                "acr",
                "login",
                "--name",
                &host,
                "--username",
                NULL_GUID,
                "--password-stdin",
            ],
        ),
        Some(&format!("{token}\n")),
    )
    .ok();
    assert_eq!(
        by_host.docker_json()["auths"][host.as_str()]["identitytoken"],
        token
    );

    // --username/--password: checked at the registry, stored as given. The
    // admin user is disabled by default and the refusal says so.
    let admin = Creds::new(&server, "admin");
    let out = run(
        admin.cli(
            &server,
            &[
                "acr", "login", "--name", &registry, "-u", &registry, "-p", "wrong",
            ],
        ),
        None,
    )
    .fails();
    assert!(out.contains("disabled"), "{out}");
    assert!(!admin.auth_file.exists());
    let update = server.cli([
        "acr",
        "update",
        "--name",
        &registry,
        "--admin-enabled",
        "true",
        "-o",
        "json",
    ]);
    run(update, None).ok();
    let shown = run(
        server.cli([
            "acr",
            "credential",
            "show",
            "--name",
            &registry,
            "-o",
            "json",
        ]),
        None,
    )
    .ok()
    .json();
    let password = shown["passwords"][0]["value"]
        .as_str()
        .expect("an admin password")
        .to_owned();
    run(
        admin.cli(
            &server,
            &[
                "acr", "login", "--name", &registry, "-u", &registry, "-p", &password,
            ],
        ),
        None,
    )
    .ok();
    let entry = &admin.docker_json()["auths"][host.as_str()];
    assert_eq!(decode_auth(entry), format!("{registry}:{password}"));
    assert!(entry.get("identitytoken").is_none(), "{entry}");
    assert_eq!(
        decode_auth(&admin.auth_json()["auths"][host.as_str()]),
        format!("{registry}:{password}")
    );

    // Flags az refuses together.
    let out = run(
        admin.cli(
            &server,
            &[
                "acr",
                "login",
                "--name",
                &registry,
                "--expose-token",
                "-u",
                &registry,
                "-p",
                "x",
            ],
        ),
        None,
    )
    .fails();
    assert!(out.contains("cannot be used with"), "{out}");
    // An unknown registry name names the way out.
    let out = run(
        admin.cli(&server, &["acr", "login", "--name", "nosuchregistry"]),
        None,
    )
    .fails();
    assert!(out.contains("--name <host:port>"), "{out}");
}

/// Issue #3 §5: a user (not the owner) with AcrPush signs in with the CLI,
/// runs `acrylic acr login`, and skopeo pushes and pulls with the stored
/// credential; once the owner deletes the role assignment, the same stored
/// refresh token gets no new access: skopeo is refused, with ACR's denial.
#[test]
fn a_user_whose_role_is_removed_gets_no_new_access_through_the_stored_login() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    owner_login(&server);

    let domain = server
        .bootstrap_str("username")
        .split('@')
        .nth(1)
        .expect("a UPN")
        .to_owned();
    let upn = format!("pusher@{domain}");
    let secret = "Correct-Horse-Battery-7";
    let user = run(
        server.cli([
            "ad",
            "user",
            "create",
            "--display-name",
            "Pusher",
            "--user-principal-name",
            &upn,
            "--password",
            secret,
            "-o",
            "json",
        ]),
        None,
    )
    .ok()
    .json();
    let user_id = user["id"].as_str().expect("a user id").to_owned();
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{registry}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("resourceGroup"),
    );
    let assignment = run(
        server.cli([
            "role",
            "assignment",
            "create",
            "--assignee",
            &upn,
            "--role",
            "AcrPush",
            "--scope",
            &scope,
            "-o",
            "json",
        ]),
        None,
    )
    .ok()
    .json();
    let assignment_id = assignment["id"]
        .as_str()
        .expect("an assignment id")
        .to_owned();

    // The user's own CLI profile and credential files. AcrPush reads no
    // ARM resource: the user names the login server.
    let creds = Creds::new(&server, "pusher");
    let user_config = server.scratch("pusher-config");
    let as_user = |args: &[&str]| {
        let mut cmd = creds.cli(&server, args);
        cmd.env("ACRYLIC_CONFIG_DIR", &user_config);
        cmd
    };
    let ca = server.ca_cert();
    run(
        as_user(&[
            "login",
            "-u",
            &upn,
            "--password-stdin",
            "--server",
            &server.base_url(),
            "--ca-cert",
            ca.to_str().expect("utf-8"),
        ]),
        Some(&format!("{secret}\n")),
    )
    .ok();
    run(as_user(&["acr", "login", "--name", &host]), None).ok();
    let refresh = creds.docker_json()["auths"][host.as_str()]["identitytoken"]
        .as_str()
        .expect("an identity token")
        .to_owned();
    assert_eq!(jwt_payload(&refresh)["sub"], user_id.as_str());

    let Some(bin) = find_client("skopeo") else {
        return;
    };
    let certs = server.scratch("certs");
    fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copying the CA");
    let skopeo = Skopeo {
        bin,
        home: server.scratch("skopeo-home"),
        auth_file: creds.auth_file.clone(),
        certs,
        host: host.clone(),
    };
    let layout = server.scratch("layout");
    let info = image::write_oci_layout(&layout, "v1", &[("etc/motd", b"pushed by a user\n")])
        .expect("writing the OCI layout");
    skopeo.push(&layout, "v1", "team/app:v1").ok();
    let raw = skopeo.inspect_raw("team/app:v1").ok();
    assert_eq!(raw.stdout, info.manifest);

    // The owner removes the role: the stored credential still
    // authenticates, but every new access token grants nothing.
    run(
        server.cli(["role", "assignment", "delete", "--ids", &assignment_id]),
        None,
    )
    .ok();
    let refused = skopeo.inspect_raw("team/app:v1").fails();
    assert!(
        refused.to_lowercase().contains("denied"),
        "a denial, not a request to authenticate: {refused}"
    );
    let refused = skopeo.push(&layout, "v1", "team/app:v2").fails();
    // (skopeo reports only the status of the blob check here.)
    assert!(
        refused.contains("403") || refused.to_lowercase().contains("denied"),
        "{refused}"
    );
    // A fresh `acr login` does not bring the permission back.
    run(as_user(&["acr", "login", "--name", &host]), None).ok();
    let refresh = creds.docker_json()["auths"][host.as_str()]["identitytoken"]
        .as_str()
        .expect("an identity token")
        .to_owned();
    assert_eq!(
        jwt_payload(&refresh)["permissions"]["actions"],
        json!([]),
        "no permissions left"
    );
    skopeo.inspect_raw("team/app:v1").fails();
}
