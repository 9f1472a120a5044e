//! The directory from the CLI (issue #3 §1) against a spawned `acrylic
//! serve` over HTTPS: sign-in keeps a refresh token and `account
//! get-access-token` uses it for any resource; `acrylic ad user|group …`
//! manage the directory as the owner (Global Administrator) and are refused
//! to a plain user with the missing permission named; a password reset or
//! revoke-sessions ends another sign-in, which then asks for `acrylic
//! login`; `--use-device-code` signs in through the device page; `logout`
//! revokes the sign-in at the server and erases the registry credentials
//! `acrylic acr login` recorded.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acrylic_testkit::spawned::{SpawnedServer, block_on, https_client};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const STRONG: &str = "Str0ng-Passw0rd!";

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

    fn fails_with(self, needle: &str) -> Ran {
        assert!(
            !self.success,
            "`{}` succeeded but must fail:\n{}",
            self.what, self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "`{}`: stderr lacks {needle:?}:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {}", self.what, self.stdout))
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Ran {
    let what = format!("{:?}", cmd.get_args().collect::<Vec<_>>());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Ran {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        what,
    }
}

/// The CLI with its own config directory (a user of its own) and registry
/// credential files under the server's scratch directory.
fn cli(server: &SpawnedServer, config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(acrylic_bin());
    cmd.args(args)
        .env("ACRYLIC_CONFIG_DIR", config)
        .env("HOME", server.scratch("home"))
        .env("DOCKER_CONFIG", server.scratch("docker"))
        .env(
            "REGISTRY_AUTH_FILE",
            server.scratch("containers").join("auth.json"),
        )
        .stdin(Stdio::null());
    cmd
}

fn login(server: &SpawnedServer, config: &Path, user: &str, password: &str) -> Ran {
    let ca = server.ca_cert();
    let url = server.base_url();
    run(
        cli(
            server,
            config,
            &[
                "login",
                "-u",
                user,
                "--password-stdin",
                "--server",
                &url,
                "--ca-cert",
                ca.to_str().expect("utf-8"),
            ],
        ),
        Some(&format!("{password}\n")),
    )
}

fn tokens(config: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(config.join("tokens.json")).expect("tokens.json"))
        .expect("json")
}

fn expire(config: &Path) {
    let mut t = tokens(config);
    t["expiresOn"] = Value::from(1_000_000_000);
    std::fs::write(
        config.join("tokens.json"),
        serde_json::to_vec(&t).expect("json"),
    )
    .expect("write tokens.json");
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// A refresh grant straight at the directory: the HTTP status.
fn refresh_status(server: &SpawnedServer, tenant: &str, refresh_token: &str) -> u16 {
    let ca = std::fs::read(server.ca_cert()).expect("CA");
    let url = format!("{}/{tenant}/oauth2/v2.0/token", server.base_url());
    let rt = refresh_token.to_owned();
    block_on(async move {
        let c = https_client(&ca).expect("client");
        c.post(url)
            .form(&[
                (
                    "client_id",
                    acrylic_server::directory::ACRYLIC_CLI_CLIENT_ID,
                ),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .send()
            .await
            .expect("POST token")
            .status()
            .as_u16()
    })
}

#[test]
fn directory_commands_of_the_cli() {
    let server = SpawnedServer::start(acrylic_bin());
    let owner = server.bootstrap_str("username");
    let tenant = server.bootstrap_str("tenant");
    let admin_cfg = server.scratch("admin-config");
    login(
        &server,
        &admin_cfg,
        &owner,
        &server.bootstrap_str("password"),
    )
    .ok();
    let first_refresh = tokens(&admin_cfg)["refreshToken"].clone();
    assert!(first_refresh.is_string());
    let a = |args: &[&str]| run(cli(&server, &admin_cfg, args), None);

    // get-access-token, in az's shape, for ARM and other resources.
    let t = a(&["account", "get-access-token"]).ok().json();
    for k in [
        "accessToken",
        "expiresOn",
        "expires_on",
        "subscription",
        "tenant",
        "tokenType",
    ] {
        assert!(!t[k].is_null(), "{k}: {t}");
    }
    assert_eq!(t["tokenType"], "Bearer");
    assert_eq!(t["tenant"], tenant.as_str());
    assert!(t["expires_on"].as_i64().is_some());
    assert_eq!(
        claims(t["accessToken"].as_str().expect("token"))["aud"],
        "https://management.core.windows.net/"
    );
    let acr = a(&[
        "account",
        "get-access-token",
        "--resource",
        "https://containerregistry.azure.net",
    ])
    .ok()
    .json();
    assert_eq!(
        claims(acr["accessToken"].as_str().expect("token"))["aud"],
        "https://containerregistry.azure.net"
    );
    assert_ne!(
        tokens(&admin_cfg)["refreshToken"],
        first_refresh,
        "the rotated refresh token was saved"
    );
    let graph = a(&[
        "account",
        "get-access-token",
        "--scope",
        "https://graph.microsoft.com/.default",
    ])
    .ok()
    .json();
    assert_eq!(
        claims(graph["accessToken"].as_str().expect("token"))["aud"],
        "https://graph.microsoft.com"
    );

    // Users.
    let bob = a(&[
        "ad",
        "user",
        "create",
        "--display-name",
        "Bob",
        "--user-principal-name",
        "bob@acrylic.local",
        "--password",
        STRONG,
    ])
    .ok()
    .json();
    assert_eq!(bob["userPrincipalName"], "bob@acrylic.local");
    assert!(bob.get("@odata.context").is_none());
    let bob_id = bob["id"].as_str().expect("id").to_owned();
    a(&[
        "ad",
        "user",
        "create",
        "--display-name",
        "Weak",
        "--user-principal-name",
        "weak@acrylic.local",
        "--password",
        "password",
    ])
    .fails_with("password complexity");
    let all = a(&["ad", "user", "list"]).ok().json();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");
    let one = a(&["ad", "user", "list", "--upn", "bob@acrylic.local"])
        .ok()
        .json();
    assert_eq!(one[0]["id"], bob_id.as_str());
    let table = a(&["ad", "user", "list", "-o", "table"]).ok().stdout;
    assert!(
        table.starts_with("DisplayName") && table.contains("bob@acrylic.local"),
        "{table}"
    );
    a(&[
        "ad",
        "user",
        "update",
        "--id",
        "bob@acrylic.local",
        "--display-name",
        "Bob B.",
    ])
    .ok();
    let shown = a(&["ad", "user", "show", "--id", &bob_id]).ok().json();
    assert_eq!(shown["displayName"], "Bob B.");

    // Groups and members (by display name and UPN, as az resolves them).
    let devs = a(&[
        "ad",
        "group",
        "create",
        "--display-name",
        "Developers",
        "--mail-nickname",
        "devs",
    ])
    .ok()
    .json();
    let devs_id = devs["id"].as_str().expect("id").to_owned();
    a(&[
        "ad",
        "group",
        "member",
        "add",
        "--group",
        "Developers",
        "--member-id",
        "bob@acrylic.local",
    ])
    .ok();
    let members = a(&["ad", "group", "member", "list", "--group", &devs_id])
        .ok()
        .json();
    assert_eq!(members[0]["id"], bob_id.as_str());
    let groups = a(&["ad", "group", "list"]).ok().json();
    assert_eq!(groups[0]["displayName"], "Developers");
    assert_eq!(
        a(&["ad", "group", "show", "--group", "Developers"])
            .ok()
            .json()["id"],
        devs_id.as_str()
    );
    a(&["ad", "group", "show", "--group", "Nobody"]).fails_with("no group is named 'Nobody'");

    // Bob, a plain user, is refused with the permission named.
    let bob_cfg = server.scratch("bob-config");
    login(&server, &bob_cfg, "bob@acrylic.local", STRONG).ok();
    run(cli(&server, &bob_cfg, &["ad", "user", "list"]), None)
        .fails_with("microsoft.directory/users/standard/read");
    run(
        cli(
            &server,
            &bob_cfg,
            &["ad", "user", "revoke-sessions", "--id", &owner],
        ),
        None,
    )
    .fails_with("microsoft.directory/users/invalidateAllRefreshTokens");

    // A password reset ends Bob's sign-in: once his access token expires,
    // the CLI cannot renew it and says to sign in again.
    let reset = a(&["ad", "user", "reset-password", "--id", "bob@acrylic.local"])
        .ok()
        .json();
    let new_password = reset["password"].as_str().expect("generated").to_owned();
    expire(&bob_cfg);
    run(cli(&server, &bob_cfg, &["account", "show"]), None)
        .fails_with("your sign-in has expired. Run `acrylic login`");
    login(&server, &bob_cfg, "bob@acrylic.local", STRONG)
        .fails_with("invalid username or password");
    login(&server, &bob_cfg, "bob@acrylic.local", &new_password).ok();
    // … and so does revoke-sessions.
    a(&["ad", "user", "revoke-sessions", "--id", &bob_id]).ok();
    expire(&bob_cfg);
    run(cli(&server, &bob_cfg, &["account", "show"]), None)
        .fails_with("your sign-in has expired. Run `acrylic login`");
    // Disabled: sign-in refused with the reason.
    a(&[
        "ad",
        "user",
        "update",
        "--id",
        &bob_id,
        "--account-enabled",
        "false",
    ])
    .ok();
    login(&server, &bob_cfg, "bob@acrylic.local", &new_password).fails_with("disabled");

    a(&[
        "ad",
        "group",
        "member",
        "remove",
        "--group",
        &devs_id,
        "--member-id",
        &bob_id,
    ])
    .ok();
    let members = a(&["ad", "group", "member", "list", "--group", &devs_id])
        .ok()
        .json();
    assert_eq!(members, json!([]));
    a(&["ad", "group", "delete", "--group", &devs_id]).ok();
    a(&["ad", "user", "delete", "--id", &bob_id]).ok();
    a(&["ad", "user", "show", "--id", &bob_id]).fails_with("Request_ResourceNotFound");

    // Logout: the sign-in is revoked at the server, and the registry
    // credentials `acrylic acr login` recorded are erased (here planted as
    // it writes them), other entries kept.
    let login_server = server.bootstrap_str("loginServer");
    let docker = server.scratch("docker").join("config.json");
    let containers = server.scratch("containers").join("auth.json");
    let ours =
        base64::engine::general_purpose::STANDARD.encode("00000000-0000-0000-0000-000000000000:rt");
    for f in [&docker, &containers] {
        std::fs::write(
            f,
            serde_json::to_vec(&json!({"auths": {
                login_server.as_str(): {"auth": ours},
                "other.example": {"auth": "eDp5"},
            }}))
            .expect("json"),
        )
        .expect("write");
    }
    let profile_path = admin_cfg.join("profile.json");
    let mut profile: Value =
        serde_json::from_slice(&std::fs::read(&profile_path).expect("profile")).expect("json");
    profile["registryLogins"] = json!([{
        "loginServer": login_server,
        "username": "00000000-0000-0000-0000-000000000000",
        "files": [docker, containers],
    }]);
    std::fs::write(&profile_path, serde_json::to_vec(&profile).expect("json")).expect("write");
    let live = tokens(&admin_cfg)["refreshToken"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let out = a(&["logout"]).ok();
    assert!(
        out.stderr.contains(&format!(
            "Removed the registry credentials for {login_server}"
        )),
        "{}",
        out.stderr
    );
    assert!(!admin_cfg.join("tokens.json").exists());
    assert_eq!(
        refresh_status(&server, &tenant, &live),
        400,
        "logout revoked the refresh token at the server"
    );
    for f in [&docker, &containers] {
        let doc: Value = serde_json::from_slice(&std::fs::read(f).expect("read")).expect("json");
        assert!(doc["auths"].get(&login_server).is_none(), "{doc}");
        assert_eq!(doc["auths"]["other.example"]["auth"], "eDp5");
    }
    a(&["logout"]).fails_with("not logged in");
    a(&["ad", "user", "list"]).fails_with("Run `acrylic login`");
}

#[test]
fn device_code_login_through_the_page() {
    let server = SpawnedServer::start(acrylic_bin());
    let owner = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    let config: PathBuf = server.scratch("device-config");
    let ca = server.ca_cert();
    let url = server.base_url();
    let mut child = cli(
        &server,
        &config,
        &[
            "login",
            "--use-device-code",
            "--server",
            &url,
            "--ca-cert",
            ca.to_str().expect("utf-8"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn acrylic login");

    // The message az prints: the page and the code.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let message = lines.next().expect("a message").expect("utf-8 message");
    assert!(
        message.starts_with("To sign in, use a web browser to open the page"),
        "{message}"
    );
    assert!(message.contains(&format!("{url}/devicelogin")), "{message}");
    let code = message
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("a code in the message")
        .to_owned();

    // The user approves in a browser: the plain HTML form.
    let pem = std::fs::read(&ca).expect("CA");
    let page = format!("{url}/devicelogin");
    let (status, html) = block_on(async move {
        let c = https_client(&pem).expect("client");
        let form = c.get(&page).send().await.expect("GET page");
        assert_eq!(form.status().as_u16(), 200);
        let r = c
            .post(&page)
            .form(&[
                ("user_code", code.as_str()),
                ("username", owner.as_str()),
                ("password", password.as_str()),
                ("action", "approve"),
            ])
            .send()
            .await
            .expect("POST page");
        (r.status().as_u16(), r.text().await.expect("html"))
    });
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("You have signed in to acrylic CLI"), "{html}");

    let out = child.wait_with_output().expect("wait for acrylic login");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "login failed: {stdout}");
    let accounts: Value = serde_json::from_str(&stdout).expect("accounts JSON");
    assert_eq!(
        accounts[0]["user"]["name"],
        server.bootstrap_str("username").as_str()
    );
    let t = tokens(&config);
    assert_eq!(t["user"], server.bootstrap_str("username").as_str());
    assert!(t["refreshToken"].is_string());
    run(cli(&server, &config, &["account", "show"]), None).ok();
}

/// Issue #3 §1: `acrylic login` with no flags prompts for the username and
/// the password on the terminal (a pseudo-terminal from util-linux
/// `script`), does not echo the password, and signs in.
#[test]
fn login_prompts_for_the_username_and_password_on_a_terminal() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let Some(script) = ["/usr/bin/script", "/bin/script"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        assert!(
            std::env::var("ACRYLIC_REQUIRE_CLIENTS").as_deref() != Ok("1"),
            "util-linux `script` is required for the terminal prompt test"
        );
        eprintln!("skipping: no util-linux `script` for a pseudo-terminal");
        return;
    };
    let server = SpawnedServer::start(acrylic_bin());
    let owner = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");
    let config: PathBuf = server.scratch("prompt-config");
    let ca = server.ca_cert();
    let command = format!(
        "{} login --server {} --ca-cert {}",
        acrylic_bin().display(),
        server.base_url(),
        ca.display()
    );
    let mut child = Command::new(script)
        .args(["-qfec", &command, "/dev/null"])
        .env("ACRYLIC_CONFIG_DIR", &config)
        .env("HOME", server.scratch("home"))
        .env("DOCKER_CONFIG", server.scratch("docker"))
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        let mut out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = |seen: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&seen.lock().expect("lock")).into_owned()
    };
    let wait_for = |needle: &str| {
        let start = Instant::now();
        while !text(&seen).contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {needle:?} prompt: {}",
                text(&seen)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut stdin = child.stdin.take().expect("stdin");
    wait_for("Username");
    stdin
        .write_all(format!("{owner}\r").as_bytes())
        .expect("type the username");
    wait_for("Password");
    std::thread::sleep(Duration::from_millis(200));
    stdin
        .write_all(format!("{password}\r").as_bytes())
        .expect("type the password");
    let status = child.wait().expect("wait for script");
    drop(stdin);
    reader.join().expect("reader");
    let shown = text(&seen);
    assert!(status.success(), "login failed:\n{shown}");
    assert!(
        !shown.contains(&password),
        "the password was echoed:\n{shown}"
    );
    assert_eq!(tokens(&config)["user"], owner.as_str(), "{shown}");
    run(cli(&server, &config, &["account", "show"]), None).ok();
}
