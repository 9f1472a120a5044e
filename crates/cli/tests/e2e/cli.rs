//! The `acrylic` CLI (this package's binary) against a spawned `acrylic
//! serve` over HTTPS with its generated CA: sign-in with the bootstrap
//! owner, the registry commands in az's shapes (`-o json|table|tsv`), the
//! admin-credential flow and its refusals, and the errors that name the
//! command that fixes them (not logged in, expired sign-in, admin disabled).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

use crate::support::{Ran, acrylic, acrylic_bin, run};

/// `acrylic login` as the bootstrap owner with `password`.
fn login(server: &SpawnedServer, password: &str) -> Ran {
    crate::support::login(server, &server.bootstrap_str("username"), password)
}

#[test]
fn owner_manages_registries_with_the_cli() {
    let server = SpawnedServer::start(acrylic_bin());
    let subscription = server.bootstrap_str("subscription");
    let resource_group = server.bootstrap_str("resourceGroup");
    let username = server.bootstrap_str("username");
    let password = server.bootstrap_str("password");

    // `acrylic serve` wrote the profile the CLI reads.
    let profile: Value = serde_json::from_slice(
        &std::fs::read(server.config_dir().join("profile.json")).expect("profile.json"),
    )
    .expect("profile JSON");
    assert_eq!(profile["subscription"], subscription.as_str());
    assert_eq!(profile["resourceGroup"], resource_group.as_str());

    // Not signed in yet: the error names the fix.
    acrylic(&server, &["acr", "list"]).fails_with("Run `acrylic login`");
    login(&server, "not-the-password").fails_with(
        "AADSTS50126: Error validating credentials due to invalid username or password.",
    );

    let accounts = login(&server, &password).ok().json();
    assert_eq!(accounts[0]["id"], subscription.as_str());
    assert_eq!(accounts[0]["isDefault"], true);
    assert_eq!(accounts[0]["user"]["name"], username.as_str());
    assert_eq!(
        accounts[0]["tenantId"],
        server.bootstrap_str("tenant").as_str()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.config_dir().join("tokens.json"))
            .expect("tokens.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let account = acrylic(&server, &["account", "show"]).ok().json();
    assert_eq!(account["id"], subscription.as_str());
    assert_eq!(
        account["user"],
        serde_json::json!({"name": username, "type": "user"})
    );

    // create / show / list.
    let created = acrylic(
        &server,
        &["acr", "create", "--name", "CliTest1", "--sku", "Premium"],
    )
    .ok()
    .json();
    assert_eq!(created["name"], "clitest1");
    assert_eq!(created["sku"]["name"], "Premium");
    assert_eq!(created["properties"]["adminUserEnabled"], false);
    let login_server = created["properties"]["loginServer"]
        .as_str()
        .expect("loginServer")
        .to_owned();
    acrylic(&server, &["acr", "create", "--name", "clitest1"]).fails_with("already in use");
    let shown = acrylic(&server, &["acr", "show", "--name", "clitest1"])
        .ok()
        .json();
    assert_eq!(shown["id"], created["id"]);
    let listed = acrylic(&server, &["acr", "list"]).ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"clitest1") && names.contains(&server.bootstrap_str("registry").as_str()),
        "{names:?}"
    );

    let table = acrylic(&server, &["acr", "list", "-o", "table"])
        .ok()
        .stdout();
    let mut lines = table.lines();
    let header = lines.next().expect("a header");
    for col in [
        "NAME",
        "RESOURCE GROUP",
        "LOCATION",
        "SKU",
        "LOGIN SERVER",
        "CREATION DATE",
        "ADMIN ENABLED",
    ] {
        assert!(header.contains(col), "{table}");
    }
    assert!(lines.next().expect("a rule").starts_with("----"), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("clitest1 "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains(&resource_group) && row.contains(&login_server) && row.ends_with("False"),
        "{row}"
    );
    let tsv = acrylic(&server, &["acr", "show", "--name", "clitest1", "-o", "tsv"])
        .ok()
        .stdout();
    let fields: Vec<&str> = tsv.trim_end().split('\t').collect();
    assert_eq!(
        fields[..5],
        [
            "clitest1",
            resource_group.as_str(),
            "local",
            "Premium",
            login_server.as_str()
        ],
        "{tsv}"
    );

    // The admin user is off: credential show says so and how to fix it.
    acrylic(
        &server,
        &["acr", "credential", "show", "--name", "clitest1"],
    )
    .fails_with("Run 'acrylic acr update -n clitest1 --admin-enabled true' to enable admin first.");
    let updated = acrylic(
        &server,
        &[
            "acr",
            "update",
            "--name",
            "clitest1",
            "--admin-enabled",
            "true",
        ],
    )
    .ok()
    .json();
    assert_eq!(updated["properties"]["adminUserEnabled"], true);
    acrylic(&server, &["acr", "update", "--name", "clitest1"]).fails_with("nothing to update");

    let creds = acrylic(
        &server,
        &[
            "acr",
            "credential",
            "show",
            "--name",
            "clitest1",
            "-o",
            "json",
        ],
    )
    .ok()
    .json();
    let keys: Vec<&String> = creds.as_object().expect("an object").keys().collect();
    assert_eq!(keys.len(), 2, "{creds}");
    assert_eq!(creds["username"], "clitest1");
    assert_eq!(creds["passwords"][0]["name"], "password");
    assert_eq!(creds["passwords"][1]["name"], "password2");
    assert_eq!(creds["passwords"].as_array().map(Vec::len), Some(2));
    let p1 = creds["passwords"][0]["value"]
        .as_str()
        .expect("password")
        .to_owned();
    let p2 = creds["passwords"][1]["value"]
        .as_str()
        .expect("password2")
        .to_owned();
    let tsv = acrylic(
        &server,
        &["acr", "credential", "show", "-n", "clitest1", "-o", "tsv"],
    )
    .ok()
    .stdout();
    assert_eq!(tsv, format!("clitest1\t{p1}\t{p2}\n"));
    let table = acrylic(
        &server,
        &["acr", "credential", "show", "-n", "clitest1", "-o", "table"],
    )
    .ok()
    .stdout();
    assert!(table.starts_with("USERNAME"), "{table}");
    assert!(
        table.contains("PASSWORD2") && table.contains(&p1) && table.contains(&p2),
        "{table}"
    );

    let renewed = acrylic(
        &server,
        &[
            "acr",
            "credential",
            "renew",
            "-n",
            "clitest1",
            "--password-name",
            "password",
        ],
    )
    .ok()
    .json();
    assert_ne!(renewed["passwords"][0]["value"], p1.as_str());
    assert_eq!(renewed["passwords"][1]["value"], p2.as_str());

    // The audit log saw the renewal, in every format.
    let audit = acrylic(
        &server,
        &[
            "acr",
            "audit",
            "list",
            "-n",
            "clitest1",
            "--action",
            "credential.renew",
        ],
    )
    .ok()
    .json();
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
    assert_eq!(audit[0]["principal"], format!("user:{username}"));
    let table = acrylic(
        &server,
        &[
            "acr", "audit", "list", "-n", "clitest1", "--since", "1h", "--top", "5", "-o", "table",
        ],
    )
    .ok()
    .stdout();
    assert!(
        table.starts_with("TIME") && table.contains("credential.renew"),
        "{table}"
    );

    // Turning the admin user off makes credential commands refuse again.
    acrylic(
        &server,
        &[
            "acr",
            "update",
            "-n",
            "clitest1",
            "--admin-enabled",
            "false",
        ],
    )
    .ok();
    acrylic(
        &server,
        &[
            "acr",
            "credential",
            "renew",
            "-n",
            "clitest1",
            "--password-name",
            "password2",
        ],
    )
    .fails_with("--admin-enabled true' to enable admin first.");

    // delete: refuses to guess without a terminal, then deletes.
    acrylic(&server, &["acr", "delete", "-n", "clitest1"]).fails_with("--yes");
    let deleted = acrylic(&server, &["acr", "delete", "-n", "clitest1", "--yes"]).ok();
    assert!(deleted.stdout.is_empty(), "{}", deleted.stdout());
    acrylic(&server, &["acr", "show", "-n", "clitest1"]).fails_with("ResourceNotFound");

    // logout: every command now asks for a login.
    acrylic(&server, &["logout"]).ok();
    assert!(!server.config_dir().join("tokens.json").exists());
    acrylic(&server, &["acr", "list"]).fails_with("not logged in. Run `acrylic login`");
    acrylic(&server, &["account", "show"]).fails_with("Run `acrylic login`");
    acrylic(&server, &["logout"]).fails_with("not logged in");
}

#[test]
fn login_without_a_profile_and_an_expired_sign_in() {
    let server = SpawnedServer::start(acrylic_bin());
    let password = server.bootstrap_str("password");
    let username = server.bootstrap_str("username");

    // A second machine: no profile, so the server and CA come from flags.
    let config = server.scratch("other-config");
    let cli = |args: &[&str]| -> Command {
        let mut cmd = Command::new(acrylic_bin());
        cmd.args(args)
            .env("ACRYLIC_CONFIG_DIR", &config)
            .env("HOME", server.scratch("other-home"))
            .stdin(Stdio::null());
        cmd
    };
    run(cli(&["acr", "list"]), None).fails_with("not logged in");
    run(
        cli(&["login", "-u", &username, "--password-stdin"]),
        Some(&password),
    )
    .fails_with("no acrylic server is configured");
    let ca = server.ca_cert();
    let ca = ca.to_str().expect("utf-8 path");
    let url = server.base_url();
    // Without the CA, the server's certificate is not trusted.
    run(
        cli(&[
            "login",
            "-u",
            &username,
            "--password-stdin",
            "--server",
            &url,
        ]),
        Some(&password),
    )
    .fails_with("cannot reach the acrylic server");
    let accounts = run(
        cli(&[
            "login",
            "-u",
            &username,
            "--password-stdin",
            "--server",
            &url,
            "--ca-cert",
            ca,
        ]),
        Some(&password),
    )
    .ok()
    .json();
    assert_eq!(
        accounts[0]["id"],
        server.bootstrap_str("subscription").as_str()
    );
    let profile: Value =
        serde_json::from_slice(&std::fs::read(config.join("profile.json")).expect("profile"))
            .expect("json");
    assert_eq!(profile["serverUrl"], url.as_str());
    assert_eq!(
        PathBuf::from(profile["caCert"].as_str().expect("caCert")),
        std::fs::canonicalize(ca).expect("ca")
    );
    assert_eq!(
        profile["subscription"],
        server.bootstrap_str("subscription").as_str()
    );
    // No resource group in this profile: registries are found by name.
    let shown = run(
        cli(&["acr", "show", "-n", &server.bootstrap_str("registry")]),
        None,
    )
    .ok()
    .json();
    assert_eq!(shown["name"], server.bootstrap_str("registry").as_str());
    run(cli(&["acr", "create", "-n", "another1"]), None).fails_with("pass --resource-group");

    // An expired access token is renewed silently with the refresh token
    // (which rotates: the file holds the new one).
    let tokens_path = config.join("tokens.json");
    let read_tokens = || -> Value {
        serde_json::from_slice(&std::fs::read(&tokens_path).expect("tokens")).expect("json")
    };
    let mut tokens = read_tokens();
    let first_refresh = tokens["refreshToken"].clone();
    assert!(first_refresh.is_string(), "{tokens}");
    tokens["expiresOn"] = Value::from(1_000_000_000);
    std::fs::write(&tokens_path, serde_json::to_vec(&tokens).expect("json")).expect("write");
    run(
        cli(&["acr", "show", "-n", &server.bootstrap_str("registry")]),
        None,
    )
    .ok();
    let renewed = read_tokens();
    assert!(
        renewed["expiresOn"].as_i64() > Some(1_000_000_000),
        "{renewed}"
    );
    assert_ne!(renewed["refreshToken"], first_refresh, "rotated");
    // An expired sign-in whose refresh token the directory refuses is
    // caught before any other request, with the fix.
    let mut tokens = renewed;
    tokens["expiresOn"] = Value::from(1_000_000_000);
    tokens["refreshToken"] = Value::from("not-a-refresh-token");
    std::fs::write(&tokens_path, serde_json::to_vec(&tokens).expect("json")).expect("write");
    run(cli(&["acr", "list"]), None).fails_with("your sign-in has expired. Run `acrylic login`");
    assert!(
        read_tokens().get("refreshToken").is_none(),
        "a refused refresh token is forgotten"
    );
    // And a token the server refuses (here: garbage) gets the same hint.
    tokens["expiresOn"] = Value::from(4_000_000_000_i64);
    tokens["accessToken"] = Value::from("garbage");
    std::fs::write(&tokens_path, serde_json::to_vec(&tokens).expect("json")).expect("write");
    run(cli(&["acr", "list"]), None).fails_with("The access token is invalid. Run `acrylic login`");
}
