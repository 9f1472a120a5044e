//! `acrylic identity …` and `acrylic resource …` (issue #5 §1) against a
//! spawned `acrylic serve`: the owner creates a user-assigned identity and
//! a web app with a system-assigned identity, attaches and detaches the
//! user-assigned one, is refused an identity on a disk with an error that
//! says why, and deletes both (the system identity goes with its app).

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

use crate::support::{acrylic, acrylic_bin, owner_login};

fn ok(server: &SpawnedServer, args: &[&str]) -> Value {
    acrylic(server, args).ok().json_or_null()
}

#[test]
fn owner_manages_resources_and_identities_with_the_cli() {
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    owner_login(&server);

    let mi = ok(
        &server,
        &["identity", "create", "--name", "ci-id", "-g", &rg],
    );
    assert_eq!(mi["name"], "ci-id");
    assert_eq!(mi["resourceGroup"], rg.as_str());
    let client_id = mi["clientId"].as_str().expect("clientId").to_owned();
    let mi_id = mi["id"].as_str().expect("id").to_owned();
    assert!(mi["principalId"].is_string());
    let shown = ok(&server, &["identity", "show", "--name", "ci-id", "-g", &rg]);
    assert_eq!(shown["clientId"], client_id.as_str());
    let listed = ok(&server, &["identity", "list", "-g", &rg]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));

    let app = ok(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "webapp",
            "--name",
            "shop",
            "-g",
            &rg,
            "--assign-identity",
        ],
    );
    assert_eq!(app["identity"]["type"], "SystemAssigned");
    assert_eq!(app["acrylicKind"], "webapp");
    assert!(app["identity"]["principalId"].is_string());

    // A disk cannot carry an identity: the error says so.
    let stderr = acrylic(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "disk",
            "--name",
            "data",
            "-g",
            &rg,
            "--assign-identity",
        ],
    )
    .refused();
    assert!(stderr.starts_with("ERROR: "), "{stderr}");
    assert!(stderr.contains("ManagedIdentityNotSupported"), "{stderr}");
    assert!(stderr.contains("supports managed identities"), "{stderr}");

    // Attach the user-assigned identity by name; the system one stays.
    let identity = ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "webapp",
            "--name",
            "shop",
            "-g",
            &rg,
            "--identities",
            "ci-id",
        ],
    );
    assert_eq!(identity["type"], "SystemAssigned, UserAssigned");
    assert_eq!(
        identity["userAssignedIdentities"][&mi_id]["clientId"],
        client_id.as_str()
    );
    // Remove the system identity, then the user-assigned one.
    let identity = ok(
        &server,
        &[
            "resource", "identity", "remove", "--kind", "webapp", "--name", "shop", "-g", &rg,
        ],
    );
    assert_eq!(identity["type"], "UserAssigned");
    let identity = ok(
        &server,
        &[
            "resource",
            "identity",
            "remove",
            "--kind",
            "webapp",
            "--name",
            "shop",
            "-g",
            &rg,
            "--identities",
            &mi_id,
        ],
    );
    assert_eq!(identity["type"], "None");

    let listed = ok(&server, &["resource", "list", "-g", &rg]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    acrylic(
        &server,
        &[
            "resource", "delete", "--kind", "webapp", "--name", "shop", "-g", &rg,
        ],
    )
    .ok();
    acrylic(
        &server,
        &[
            "resource", "show", "--kind", "webapp", "--name", "shop", "-g", &rg,
        ],
    )
    .fails_with("ResourceNotFound");
    acrylic(
        &server,
        &["identity", "delete", "--name", "ci-id", "-g", &rg],
    )
    .ok();
    let listed = ok(&server, &["identity", "list", "-g", &rg]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
}

#[test]
fn owner_creates_a_cluster_attaches_a_registry_and_reads_its_node_config() {
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let tenant = server.bootstrap_str("tenant");
    owner_login(&server);

    let c = ok(
        &server,
        &[
            "aks",
            "create",
            "--name",
            "prod",
            "-g",
            &rg,
            "--attach-acr",
            &registry,
        ],
    );
    let kubelet = &c["properties"]["identityProfile"]["kubeletidentity"];
    let client_id = kubelet["clientId"]
        .as_str()
        .expect("kubelet client id")
        .to_owned();
    let object_id = kubelet["objectId"]
        .as_str()
        .expect("kubelet object id")
        .to_owned();
    assert!(
        kubelet["resourceId"]
            .as_str()
            .is_some_and(|id| id.ends_with("/prod-agentpool"))
    );

    // The attachment is an AcrPull role assignment of the kubelet identity.
    let assignments = ok(&server, &["role", "assignment", "list", "--all"]);
    let pulls = |v: &Value| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|a| {
                a["properties"]["principalId"] == object_id.as_str()
                    || a["principalId"] == object_id.as_str()
            })
            .count()
    };
    assert_eq!(pulls(&assignments), 1, "{assignments}");

    let cfg = ok(
        &server,
        &["aks", "get-node-config", "--name", "prod", "-g", &rg],
    );
    assert_eq!(cfg["tenantId"], tenant.as_str());
    assert_eq!(cfg["userAssignedIdentityID"], client_id.as_str());
    assert_eq!(cfg["useManagedIdentityExtension"], true);

    let shown = ok(&server, &["aks", "show", "--name", "prod", "-g", &rg]);
    assert_eq!(shown["name"], "prod");
    ok(
        &server,
        &[
            "aks",
            "update",
            "--name",
            "prod",
            "-g",
            &rg,
            "--detach-acr",
            &registry,
        ],
    );
    let assignments = ok(&server, &["role", "assignment", "list", "--all"]);
    assert_eq!(pulls(&assignments), 0, "{assignments}");
    acrylic(&server, &["aks", "update", "--name", "prod", "-g", &rg]).fails_with("--attach-acr");
    acrylic(&server, &["aks", "delete", "--name", "prod", "-g", &rg]).ok();
}

/// `acrylic identity-agent`, started in the background; killed on drop.
struct AgentProcess {
    child: std::process::Child,
    env: std::collections::HashMap<String, String>,
}

impl AgentProcess {
    fn start(server: &SpawnedServer, resource: &str, file: &std::path::Path) -> AgentProcess {
        AgentProcess::start_with(server, resource, file, &[])
    }

    fn start_with(
        server: &SpawnedServer,
        resource: &str,
        file: &std::path::Path,
        extra: &[&str],
    ) -> AgentProcess {
        use std::io::BufRead as _;
        let mut cmd = server.cli([
            "identity-agent",
            "--resource",
            resource,
            "--credential-file",
            file.to_str().expect("utf-8 path"),
        ]);
        cmd.args(extra);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .stdin(std::process::Stdio::null());
        let mut child = cmd.spawn().expect("start the identity agent");
        let stdout = child.stdout.take().expect("agent stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut env = std::collections::HashMap::new();
        while !env.contains_key("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            let line = lines
                .next()
                .expect("the agent printed its environment")
                .expect("agent stdout");
            if let Some((k, v)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                env.insert(k.to_owned(), v.to_owned());
            }
        }
        AgentProcess { child, env }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn identity_agent_serves_imds_and_app_service_only_for_assigned_identities() {
    use acrylic_testkit::spawned::block_on;

    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    owner_login(&server);
    let mine = ok(
        &server,
        &["identity", "create", "--name", "mine-id", "-g", &rg],
    );
    let theirs = ok(
        &server,
        &["identity", "create", "--name", "theirs-id", "-g", &rg],
    );
    let app = ok(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "webapp",
            "--name",
            "front",
            "-g",
            &rg,
            "--assign-identity",
        ],
    );
    let app_id = app["id"].as_str().expect("id").to_owned();
    let system = app["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "webapp",
            "--name",
            "front",
            "-g",
            &rg,
            "--identities",
            "mine-id",
        ],
    );
    let file = server.scratch("agent").join("front.json");
    let issued = ok(
        &server,
        &[
            "resource",
            "agent-credential",
            "--kind",
            "webapp",
            "--name",
            "front",
            "-g",
            &rg,
            "--file",
            file.to_str().expect("utf-8"),
        ],
    );
    assert!(
        !issued.to_string().contains("credential\""),
        "the secret is not printed: {issued}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the credential file is private");
    }

    let before: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
    let agent = AgentProcess::start(&server, &app_id, &file);
    // The agent rotated its credential: the handed-over value is dead.
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
    assert_ne!(before["credential"], after["credential"]);
    let old_status = {
        let ca = std::fs::read(server.ca_cert()).expect("CA certificate");
        let http = acrylic_testkit::spawned::https_client(&ca).expect("HTTPS client");
        let url = format!(
            "{}/{}/oauth2/managedidentity/token",
            before["server"].as_str().expect("server"),
            before["tenantId"].as_str().expect("tenant")
        );
        let form = [
            ("resource_id", app_id.clone()),
            (
                "credential",
                before["credential"].as_str().expect("c").to_owned(),
            ),
            ("resource", "https://containerregistry.azure.net".to_owned()),
        ];
        acrylic_testkit::spawned::block_on(async move {
            http.post(url)
                .form(&form)
                .send()
                .await
                .expect("directory")
                .status()
        })
    };
    assert_eq!(old_status, 401);
    let imds = format!(
        "{}/metadata/identity/oauth2/token",
        agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    );
    let endpoint = agent.env["IDENTITY_ENDPOINT"].clone();
    let header = agent.env["IDENTITY_HEADER"].clone();
    let acr = "https://containerregistry.azure.net";
    let http = reqwest::Client::new();
    let base = agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    block_on(async move {
        let get = |url: &str, q: Vec<(&str, String)>, h: Option<(&str, String)>| {
            let mut r = http.get(url).query(&q);
            if let Some((k, v)) = h {
                r = r.header(k, v);
            }
            async move {
                let r = r.send().await.expect("agent answers");
                let status = r.status();
                let body: Value = r.json().await.expect("JSON");
                (status, body)
            }
        };
        let api = |v: &str| ("api-version", v.to_owned());
        let res = ("resource", acr.to_owned());

        // IMDS: the system identity, numbers as strings.
        let (status, t) = get(
            &imds,
            vec![api("2018-02-01"), res.clone()],
            Some(("Metadata", "true".into())),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        assert!(
            t["expires_in"].is_string() && t["expires_on"].is_string(),
            "{t}"
        );
        assert_eq!(t["token_type"], "Bearer");
        assert_eq!(t["resource"], acr);
        let claims = crate::support::jwt_payload(t["access_token"].as_str().expect("token"));
        assert_eq!(claims["oid"], system.as_str());
        // IMDS by client id: the assigned user-assigned identity.
        let (status, t) = get(
            &imds,
            vec![
                api("2018-02-01"),
                res.clone(),
                (
                    "client_id",
                    mine["clientId"].as_str().expect("c").to_owned(),
                ),
            ],
            Some(("Metadata", "true".into())),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        assert_eq!(t["client_id"], mine["clientId"]);
        // Without `Metadata: true`: 400 JSON.
        let (status, e) = get(&imds, vec![api("2018-02-01"), res.clone()], None).await;
        assert_eq!(status, 400, "{e}");
        assert!(
            e["error_description"]
                .as_str()
                .expect("d")
                .contains("metadata"),
            "{e}"
        );
        // An identity not assigned to this resource: 400 JSON.
        let (status, e) = get(
            &imds,
            vec![
                api("2018-02-01"),
                res.clone(),
                (
                    "client_id",
                    theirs["clientId"].as_str().expect("c").to_owned(),
                ),
            ],
            Some(("Metadata", "true".into())),
        )
        .await;
        assert_eq!(status, 400, "{e}");
        assert!(
            e["error_description"]
                .as_str()
                .expect("d")
                .contains("not assigned"),
            "{e}"
        );

        // App Service: a string `expires_on`, the header required.
        let (status, t) = get(
            &endpoint,
            vec![
                api("2019-08-01"),
                res.clone(),
                (
                    "principal_id",
                    mine["principalId"].as_str().expect("p").to_owned(),
                ),
            ],
            Some(("X-IDENTITY-HEADER", header.clone())),
        )
        .await;
        assert_eq!(status, 200, "{t}");
        assert!(t["expires_on"].is_string(), "{t}");
        assert_eq!(t["client_id"], mine["clientId"]);
        assert!(t.get("expires_in").is_none());
        let (status, e) = get(
            &endpoint,
            vec![api("2019-08-01"), res.clone()],
            Some(("X-IDENTITY-HEADER", "wrong".into())),
        )
        .await;
        assert_eq!(status, 400, "{e}");
        let (status, _) = get(&endpoint, vec![api("2019-08-01"), res.clone()], None).await;
        assert_eq!(status, 400);
        // Unknown paths are 400 too, never 404.
        let (status, _) = get(&format!("{}/nope", base), vec![], None).await;
        assert_eq!(status, 400);
    });
    drop(agent);
}

/// `docker-credential-acrylic <action>`: the binary through a link of
/// that name, with the server's profile.
fn helper(server: &SpawnedServer, action: &str, stdin: &str) -> crate::support::Ran {
    let dir = server.scratch("helper-bin");
    let link = dir.join("docker-credential-acrylic");
    if !link.exists() {
        #[cfg(unix)]
        std::os::unix::fs::symlink(acrylic_bin(), &link).expect("link the helper");
    }
    let mut cmd = std::process::Command::new(&link);
    cmd.arg(action)
        .env("ACRYLIC_CONFIG_DIR", server.config_dir())
        .env("HOME", server.scratch("home"));
    crate::support::run(cmd, Some(stdin))
}

#[cfg(unix)]
#[test]
fn docker_credential_helper_hands_out_fresh_registry_refresh_tokens() {
    let server = SpawnedServer::start(acrylic_bin());
    let login_server = server.bootstrap_str("loginServer");
    let url = format!("https://{login_server}");

    // No sign-in: docker's "not found", on stdout, exit 1.
    let out = helper(&server, "get", &url).fails();
    assert!(
        out.contains("credentials not found in native keychain"),
        "{out}"
    );

    owner_login(&server);
    let got = helper(&server, "get", &format!("{url}\n")).ok().json();
    assert_eq!(got["ServerURL"], url.as_str());
    assert_eq!(got["Username"], "<token>");
    let claims = crate::support::jwt_payload(got["Secret"].as_str().expect("secret"));
    assert_eq!(claims["grant_type"], "refresh_token");
    assert_eq!(claims["aud"], login_server.as_str());

    // store and erase keep nothing; list is empty; unknown actions fail.
    helper(
        &server,
        "store",
        r#"{"ServerURL":"x","Username":"u","Secret":"s"}"#,
    )
    .ok();
    helper(&server, "erase", &url).ok();
    assert_eq!(
        helper(&server, "list", "").ok().json(),
        serde_json::json!({})
    );
    let out = helper(&server, "frobnicate", "").fails();
    assert!(out.contains("unknown credential action"), "{out}");
}

/// What the registry grants a refresh token for `repository:app:pull`.
fn pull_actions(server: &SpawnedServer, login_server: &str, refresh: &str) -> Value {
    let ca = std::fs::read(server.ca_cert()).expect("CA certificate");
    let http = acrylic_testkit::spawned::https_client(&ca).expect("HTTPS client");
    let (login_server, refresh) = (login_server.to_owned(), refresh.to_owned());
    acrylic_testkit::spawned::block_on(async move {
        let r = http
            .post(format!("https://{login_server}/oauth2/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("service", login_server.as_str()),
                ("scope", "repository:app:pull"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .await
            .expect("token endpoint");
        assert!(r.status().is_success(), "{}", r.status());
        let v: Value = r.json().await.expect("JSON");
        let access = crate::support::jwt_payload(v["access_token"].as_str().expect("token"));
        access["access"][0]["actions"].clone()
    })
}

#[test]
fn kubelet_credential_provider_pulls_as_the_kubelet_identity_until_detached() {
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let login_server = server.bootstrap_str("loginServer");
    owner_login(&server);
    ok(
        &server,
        &[
            "aks",
            "create",
            "--name",
            "nodes",
            "-g",
            &rg,
            "--attach-acr",
            &registry,
        ],
    );
    let config = ok(
        &server,
        &["aks", "get-node-config", "--name", "nodes", "-g", &rg],
    );
    let file = server.scratch("node").join("azure.json");
    std::fs::write(&file, config.to_string()).expect("write the node config");
    let ca = server.ca_cert();
    let provider = |image: &str| {
        let request = serde_json::json!({
            "kind": "CredentialProviderRequest",
            "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
            "image": image,
        });
        crate::support::run(
            server.cli([
                "kubelet-credential-provider",
                file.to_str().expect("utf-8"),
                "--ca-cert",
                ca.to_str().expect("utf-8"),
            ]),
            Some(&request.to_string()),
        )
    };

    let response = provider(&format!("{login_server}/app:1")).ok().json();
    assert_eq!(response["kind"], "CredentialProviderResponse");
    assert_eq!(response["cacheKeyType"], "Registry");
    let cache = response["cacheDuration"].as_str().expect("cacheDuration");
    assert!(cache.ends_with('s') && cache != "0s", "{cache}");
    let auth = &response["auth"][login_server.as_str()];
    assert_eq!(auth["username"], "00000000-0000-0000-0000-000000000000");
    let refresh = auth["password"].as_str().expect("password").to_owned();
    // The kubelet caches the credentials for less than the token lives.
    // A Go duration: `2h55m0s`.
    let (mut cached, mut digits) = (0_i64, String::new());
    for c in cache.chars() {
        match c {
            '0'..='9' => digits.push(c),
            'h' | 'm' | 's' => {
                let n: i64 = digits.parse().expect("a number");
                cached += n * [("h", 3600), ("m", 60), ("s", 1)]
                    .iter()
                    .find(|(u, _)| u.starts_with(c))
                    .map_or(0, |(_, f)| *f);
                digits.clear();
            }
            _ => panic!("unexpected cacheDuration {cache}"),
        }
    }
    let exp = crate::support::jwt_payload(&refresh)["exp"]
        .as_i64()
        .expect("exp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(cached > 0 && now + cached < exp, "{cache} vs exp {exp}");
    assert_eq!(
        pull_actions(&server, &login_server, &refresh),
        serde_json::json!(["pull"])
    );

    // Other registries get an empty auth; a malformed request fails.
    let other = provider("docker.io/library/busybox:1").ok().json();
    assert_eq!(other["auth"], serde_json::json!({}));
    let bad = crate::support::run(
        server.cli(["kubelet-credential-provider", file.to_str().expect("utf-8")]),
        Some(r#"{"kind":"Other"}"#),
    )
    .refused();
    assert!(bad.contains("CredentialProviderRequest"), "{bad}");

    // After detach, a fresh provider call yields credentials that pull nothing.
    ok(
        &server,
        &[
            "aks",
            "update",
            "--name",
            "nodes",
            "-g",
            &rg,
            "--detach-acr",
            &registry,
        ],
    );
    let response = provider(&format!("{login_server}/app:1")).ok().json();
    let refresh = response["auth"][login_server.as_str()]["password"]
        .as_str()
        .expect("password")
        .to_owned();
    let actions = pull_actions(&server, &login_server, &refresh);
    assert!(
        actions.is_null() || actions == serde_json::json!([]),
        "{actions}"
    );
}

/// The Python with Microsoft's SDKs (`ACRYLIC_TEST_PYTHON`, else the
/// `target/test-venv` that `scripts/test` makes); `None` (skipped) when
/// there is none, unless `ACRYLIC_REQUIRE_CLIENTS=1`.
fn sdk_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("ACRYLIC_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/test-venv/bin/python")
        });
    let usable = std::process::Command::new(&python)
        .args(["-c", "import azure.identity, azure.containerregistry"])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if usable {
        return Some(python);
    }
    assert!(
        !crate::support::clients_required(),
        "ACRYLIC_REQUIRE_CLIENTS=1 but {} cannot import azure-identity",
        python.display()
    );
    eprintln!(
        "skipping: no Python with azure-identity at {}",
        python.display()
    );
    None
}

/// azure-identity's ManagedIdentityCredential, picking the protocol from
/// the environment as the SDK does, then ContainerRegistryClient with it.
const MI_SCRIPT: &str = r#"
import base64, json, os
from azure.identity import ManagedIdentityCredential
from azure.containerregistry import ContainerRegistryClient
kwargs = {"client_id": os.environ["MI_CLIENT_ID"]} if os.environ.get("MI_CLIENT_ID") else {}
cred = ManagedIdentityCredential(**kwargs)
tok = cred.get_token("https://containerregistry.azure.net/.default")
part = tok.token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
client = ContainerRegistryClient(os.environ["ENDPOINT"], cred,
    audience="https://containerregistry.azure.net", connection_verify=os.environ["CA"])
repos = list(client.list_repository_names())
print(json.dumps({"oid": claims["oid"], "appid": claims["appid"], "repos": repos,
                  "expires_on": tok.expires_on}))
"#;

#[test]
fn azure_identity_managed_identity_credential_uses_the_agent_in_both_protocols() {
    let Some(python) = sdk_python() else {
        return;
    };
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let subscription = server.bootstrap_str("subscription");
    let login_server = server.bootstrap_str("loginServer");
    owner_login(&server);
    let mi = ok(
        &server,
        &["identity", "create", "--name", "sdk-id", "-g", &rg],
    );
    let app = ok(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "functionapp",
            "--name",
            "fn",
            "-g",
            &rg,
            "--assign-identity",
        ],
    );
    let system = app["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "functionapp",
            "--name",
            "fn",
            "-g",
            &rg,
            "--identities",
            "sdk-id",
        ],
    );
    let scope = format!(
        "/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    );
    for principal in [
        system.as_str(),
        mi["principalId"].as_str().expect("principal"),
    ] {
        ok(
            &server,
            &[
                "role",
                "assignment",
                "create",
                "--assignee",
                principal,
                "--assignee-principal-type",
                "service-principal",
                "--role",
                "AcrPull",
                "--scope",
                &scope,
            ],
        );
    }
    let file = server.scratch("sdk-agent").join("cred.json");
    ok(
        &server,
        &[
            "resource",
            "agent-credential",
            "--kind",
            "functionapp",
            "--name",
            "fn",
            "-g",
            &rg,
            "--file",
            file.to_str().expect("utf-8"),
        ],
    );
    let agent = AgentProcess::start(&server, app["id"].as_str().expect("id"), &file);
    let ca = server.ca_cert();
    let sdk = |env: &[(&str, &str)]| -> Value {
        let mut cmd = std::process::Command::new(&python);
        cmd.args(["-c", MI_SCRIPT])
            .env_remove("IDENTITY_ENDPOINT")
            .env_remove("IDENTITY_HEADER")
            .env_remove("MSI_ENDPOINT")
            .env_remove("MSI_SECRET")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env_remove("AZURE_CLIENT_ID")
            .env("ENDPOINT", format!("https://{login_server}"))
            .env("CA", &ca);
        for (k, v) in env {
            cmd.env(k, v);
        }
        crate::support::run(cmd, None).ok().json()
    };
    let imds_host = agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    let endpoint = agent.env["IDENTITY_ENDPOINT"].clone();
    let header = agent.env["IDENTITY_HEADER"].clone();

    // IMDS, the system-assigned identity.
    let v = sdk(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds_host)]);
    assert_eq!(v["oid"], system.as_str(), "{v}");
    assert!(v["repos"].is_array());
    // IMDS, the user-assigned identity by client id.
    let client_id = mi["clientId"].as_str().expect("client id");
    let v = sdk(&[
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds_host),
        ("MI_CLIENT_ID", client_id),
    ]);
    assert_eq!(v["appid"], client_id, "{v}");
    // App Service.
    let v = sdk(&[
        ("IDENTITY_ENDPOINT", &endpoint),
        ("IDENTITY_HEADER", &header),
    ]);
    assert_eq!(v["oid"], system.as_str(), "{v}");
    let v = sdk(&[
        ("IDENTITY_ENDPOINT", &endpoint),
        ("IDENTITY_HEADER", &header),
        ("MI_CLIENT_ID", client_id),
    ]);
    assert_eq!(v["appid"], client_id, "{v}");
    assert!(v["expires_on"].as_i64().is_some_and(|e| e > 0), "{v}");
    drop(agent);
}

#[test]
fn kubelet_credential_provider_hands_a_service_principal_cluster_its_credentials() {
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let login_server = server.bootstrap_str("loginServer");
    owner_login(&server);
    let sp = ok(
        &server,
        &["ad", "sp", "create-for-rbac", "--name", "cluster-sp"],
    );
    let app_id = sp["appId"].as_str().expect("appId").to_owned();
    let secret = sp["password"].as_str().expect("password").to_owned();
    let c = ok(
        &server,
        &[
            "aks",
            "create",
            "--name",
            "spc",
            "-g",
            &rg,
            "--service-principal",
            &app_id,
            "--client-secret",
            &secret,
            "--attach-acr",
            &registry,
        ],
    );
    assert_eq!(
        c["properties"]["servicePrincipalProfile"]["clientId"],
        app_id.as_str()
    );
    assert!(!c.to_string().contains(&secret), "the secret is not shown");
    let config = ok(
        &server,
        &["aks", "get-node-config", "--name", "spc", "-g", &rg],
    );
    assert_eq!(config["useManagedIdentityExtension"], false);
    let file = server.scratch("spnode").join("azure.json");
    std::fs::write(&file, config.to_string()).expect("write the node config");
    let request = serde_json::json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "image": format!("{login_server}/app:1"),
    });
    let response = crate::support::run(
        server.cli(["kubelet-credential-provider", file.to_str().expect("utf-8")]),
        Some(&request.to_string()),
    )
    .ok()
    .json();
    let auth = &response["auth"][login_server.as_str()];
    assert_eq!(auth["username"], app_id.as_str());
    assert_eq!(auth["password"], secret.as_str());

    // Those credentials log in at the registry (docker's Basic token
    // request) and pull: the SP holds AcrPull from --attach-acr.
    let ca = std::fs::read(server.ca_cert()).expect("CA certificate");
    let http = acrylic_testkit::spawned::https_client(&ca).expect("HTTPS client");
    let actions = acrylic_testkit::spawned::block_on(async move {
        let r = http
            .get(format!("https://{login_server}/oauth2/token"))
            .query(&[
                ("service", login_server.as_str()),
                ("scope", "repository:app:pull"),
            ])
            .basic_auth(&app_id, Some(&secret))
            .send()
            .await
            .expect("token endpoint");
        assert!(r.status().is_success(), "{}", r.status());
        let v: Value = r.json().await.expect("JSON");
        let token = v["access_token"]
            .as_str()
            .or(v["token"].as_str())
            .expect("token");
        crate::support::jwt_payload(token)["access"][0]["actions"].clone()
    });
    assert_eq!(actions, serde_json::json!(["pull"]));
}

/// skopeo with `--authfile` naming `credHelpers: {<host>: "acrylic"}`, so
/// containers/image runs `docker-credential-acrylic get` from `PATH`.
fn skopeo_with_helper(server: &SpawnedServer, args: &[&str]) -> crate::support::Ran {
    skopeo_with_helper_as(server, &server.config_dir(), args)
}

/// [`skopeo_with_helper`] with the helper reading the sign-in in `config`.
fn skopeo_with_helper_as(
    server: &SpawnedServer,
    config: &std::path::Path,
    args: &[&str],
) -> crate::support::Ran {
    let bin_dir = server.scratch("helper-bin");
    let link = bin_dir.join("docker-credential-acrylic");
    if !link.exists() {
        #[cfg(unix)]
        std::os::unix::fs::symlink(acrylic_bin(), &link).expect("link the helper");
    }
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = std::process::Command::new("skopeo");
    cmd.args(args)
        .env("PATH", path)
        .env("HOME", server.scratch("skopeo-home"))
        .env("XDG_RUNTIME_DIR", server.scratch("skopeo-home"))
        .env("ACRYLIC_CONFIG_DIR", config)
        .env_remove("REGISTRY_AUTH_FILE");
    crate::support::run(cmd, None)
}

#[cfg(unix)]
#[test]
fn skopeo_pushes_and_pulls_through_the_credential_helper() {
    if crate::support::find_client("skopeo").is_none() {
        assert!(!crate::support::clients_required(), "skopeo is required");
        eprintln!("skipping: no skopeo");
        return;
    }
    let server = SpawnedServer::start(acrylic_bin());
    let host = server.bootstrap_str("loginServer");
    owner_login(&server);
    let certs = server.scratch("helper-certs");
    std::fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copy the CA");
    let authfile = server.scratch("helper-auth").join("auth.json");
    std::fs::write(
        &authfile,
        serde_json::json!({"credHelpers": {host.clone(): "acrylic"}}).to_string(),
    )
    .expect("write the auth file");
    let layout = server.scratch("helper-layout");
    acrylic_testkit::image::write_oci_layout(
        &layout,
        "v1",
        &[("etc/motd", b"through the helper\n")],
    )
    .expect("write the OCI layout");
    let (auth, certs) = (
        authfile.to_string_lossy().into_owned(),
        certs.to_string_lossy().into_owned(),
    );
    skopeo_with_helper(
        &server,
        &[
            "copy",
            "--dest-authfile",
            &auth,
            "--dest-cert-dir",
            &certs,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/helper/app:v1"),
        ],
    )
    .ok();
    let pulled = server.scratch("helper-pulled");
    skopeo_with_helper(
        &server,
        &[
            "copy",
            "--src-authfile",
            &auth,
            "--src-cert-dir",
            &certs,
            &format!("docker://{host}/helper/app:v1"),
            &format!("oci:{}:v1", pulled.display()),
        ],
    )
    .ok();
    assert!(pulled.join("index.json").is_file());
    // The auth file still holds no secret.
    let text = std::fs::read_to_string(&authfile).expect("auth file");
    assert!(
        !text.contains("identitytoken") && !text.contains("\"auth\""),
        "{text}"
    );
}

/// `acrylic <args>` with its config (profile and sign-in) in `config`
/// instead of the owner's: another machine or workload.
fn acrylic_in(
    server: &SpawnedServer,
    config: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> crate::support::Ran {
    let mut cmd = server.cli(args);
    cmd.env("ACRYLIC_CONFIG_DIR", config)
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER")
        .env_remove("AZURE_POD_IDENTITY_AUTHORITY_HOST");
    for (k, v) in env {
        cmd.env(k, v);
    }
    crate::support::run(cmd, None)
}

#[cfg(unix)]
#[test]
fn login_identity_and_the_credential_helper_pull_for_a_user_an_sp_and_a_managed_identity() {
    if crate::support::find_client("skopeo").is_none() {
        assert!(!crate::support::clients_required(), "skopeo is required");
        eprintln!("skipping: no skopeo");
        return;
    }
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let host = server.bootstrap_str("loginServer");
    let tenant = server.bootstrap_str("tenant");
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{}",
        server.bootstrap_str("subscription"),
        server.bootstrap_str("registry")
    );
    let url = server.base_url();
    let ca = server.ca_cert();
    let ca = ca.to_str().expect("utf-8");
    owner_login(&server);

    // Skopeo's auth file names the helper only; the owner (a user) pushes.
    let certs = server.scratch("who-certs");
    std::fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copy the CA");
    let authfile = server.scratch("who-auth").join("auth.json");
    std::fs::write(
        &authfile,
        serde_json::json!({"credHelpers": {host.clone(): "acrylic"}}).to_string(),
    )
    .expect("write the auth file");
    let (auth, certs) = (
        authfile.to_string_lossy().into_owned(),
        certs.to_string_lossy().into_owned(),
    );
    let layout = server.scratch("who-layout");
    acrylic_testkit::image::write_oci_layout(&layout, "v1", &[("etc/motd", b"for all\n")])
        .expect("write the OCI layout");
    skopeo_with_helper(
        &server,
        &[
            "copy",
            "--dest-authfile",
            &auth,
            "--dest-cert-dir",
            &certs,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/shared/app:v1"),
        ],
    )
    .ok();
    let pull = |config: &std::path::Path, into: &str| {
        let dest = server.scratch(into);
        let ran = skopeo_with_helper_as(
            &server,
            config,
            &[
                "copy",
                "--src-authfile",
                &auth,
                "--src-cert-dir",
                &certs,
                &format!("docker://{host}/shared/app:v1"),
                &format!("oci:{}:v1", dest.display()),
            ],
        );
        (ran, dest.join("index.json").is_file())
    };
    let (ran, pulled) = pull(&server.config_dir(), "pulled-user");
    ran.ok();
    assert!(pulled, "the user pulled through the helper");

    // A service principal with AcrPull, signed in on another machine.
    let sp = ok(
        &server,
        &[
            "ad",
            "sp",
            "create-for-rbac",
            "--name",
            "helper-sp",
            "--role",
            "AcrPull",
            "--scopes",
            &scope,
        ],
    );
    let sp_config = server.scratch("sp-machine");
    acrylic_in(
        &server,
        &sp_config,
        &[],
        &[
            "login",
            "--service-principal",
            "-u",
            sp["appId"].as_str().expect("appId"),
            "-p",
            sp["password"].as_str().expect("password"),
            "--tenant",
            &tenant,
            "--server",
            &url,
            "--ca-cert",
            ca,
        ],
    )
    .ok();
    let (ran, pulled) = pull(&sp_config, "pulled-sp");
    ran.ok();
    assert!(pulled, "the service principal pulled through the helper");

    // A web app whose system identity holds AcrPull, and its agent.
    // Created with an identity, it comes with its agent's credential,
    // written to a private file and never printed.
    let file = server.scratch("who-agent").join("cred.json");
    let created = acrylic(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "webapp",
            "--name",
            "puller",
            "-g",
            &rg,
            "--assign-identity",
            "--agent-credential-file",
            file.to_str().expect("utf-8"),
        ],
    )
    .ok();
    let app = created.json();
    assert_eq!(app["agentCredentialFile"], file.to_str().expect("utf-8"));
    assert!(app.get("acrylicAgentCredential").is_none(), "{app}");
    let secret: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
    let secret = secret["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    assert!(!created.stdout().contains(&secret) && !created.stderr.contains(&secret));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the credential file is private");
    }
    let system = app["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    let mi = ok(
        &server,
        &["identity", "create", "--name", "puller-id", "-g", &rg],
    );
    ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "webapp",
            "--name",
            "puller",
            "-g",
            &rg,
            "--identities",
            "puller-id",
        ],
    );
    ok(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &system,
            "--assignee-principal-type",
            "service-principal",
            "--role",
            "AcrPull",
            "--scope",
            &scope,
        ],
    );
    let agent = AgentProcess::start(&server, app["id"].as_str().expect("id"), &file);
    let imds = agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    let mi_config = server.scratch("workload");
    let login_args = ["login", "--identity", "--server", &url, "--ca-cert", ca];

    // No agent in the environment: a clear error.
    let err = acrylic_in(&server, &mi_config, &[], &login_args).refused();
    assert!(err.contains("no identity agent found"), "{err}");

    // IMDS, the system identity.
    let accounts = acrylic_in(
        &server,
        &mi_config,
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds)],
        &login_args,
    )
    .ok()
    .json();
    assert_eq!(accounts[0]["user"]["name"], "systemAssignedIdentity");
    assert_eq!(accounts[0]["user"]["assignedIdentityInfo"], "MSI");
    assert_eq!(accounts[0]["tenantId"], tenant.as_str());
    let tokens: Value = serde_json::from_str(
        &std::fs::read_to_string(mi_config.join("tokens.json")).expect("tokens.json"),
    )
    .expect("JSON");
    assert_eq!(tokens["managedIdentity"]["protocol"], "imds");
    assert!(tokens.get("refreshToken").is_none(), "{tokens}");
    let claims = crate::support::jwt_payload(tokens["accessToken"].as_str().expect("token"));
    assert_eq!(claims["oid"], system.as_str());

    // `acr login` exchanges an agent token (no environment needed now).
    let exposed = acrylic_in(
        &server,
        &mi_config,
        &[],
        &["acr", "login", "--name", &host, "--expose-token"],
    )
    .ok()
    .json();
    let refresh = exposed["refreshToken"].as_str().expect("refresh token");
    assert_eq!(
        pull_actions(&server, &host, refresh),
        serde_json::json!(["pull"])
    );
    // skopeo through the helper, as the managed identity.
    let (ran, pulled) = pull(&mi_config, "pulled-mi");
    ran.ok();
    assert!(pulled, "the managed identity pulled through the helper");

    // The App Service protocol and a user-assigned identity without AcrPull:
    // signed in, but the registry grants it nothing.
    let endpoint = agent.env["IDENTITY_ENDPOINT"].clone();
    let header = agent.env["IDENTITY_HEADER"].clone();
    let client_id = mi["clientId"].as_str().expect("clientId");
    let ua_config = server.scratch("workload-ua");
    let accounts = acrylic_in(
        &server,
        &ua_config,
        &[
            ("IDENTITY_ENDPOINT", &endpoint),
            ("IDENTITY_HEADER", &header),
        ],
        &[
            "login",
            "--identity",
            "--client-id",
            client_id,
            "--server",
            &url,
            "--ca-cert",
            ca,
        ],
    )
    .ok()
    .json();
    assert_eq!(accounts[0]["user"]["name"], "userAssignedIdentity");
    let exposed = acrylic_in(
        &server,
        &ua_config,
        &[],
        &["acr", "login", "--name", &host, "--expose-token"],
    )
    .ok()
    .json();
    let claims = crate::support::jwt_payload(exposed["refreshToken"].as_str().expect("token"));
    assert_eq!(claims["grant_type"], "refresh_token");
    let actions = pull_actions(
        &server,
        &host,
        exposed["refreshToken"].as_str().expect("token"),
    );
    assert!(
        actions.is_null() || actions == serde_json::json!([]),
        "{actions}"
    );
    let (ran, pulled) = pull(&ua_config, "pulled-ua");
    assert!(!pulled, "an identity without AcrPull pulls nothing");
    ran.fails();
    drop(agent);
}

#[test]
fn the_running_agent_rotates_its_credential_and_keeps_serving() {
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    owner_login(&server);
    let bare = ok(
        &server,
        &[
            "resource", "create", "--kind", "vm", "--name", "box", "-g", &rg,
        ],
    );
    assert!(bare.get("agentCredentialFile").is_none(), "{bare}");
    // Assigning the first identity issues the credential; the CLI names
    // the file (in its config directory).
    ok(
        &server,
        &["identity", "create", "--name", "box-id", "-g", &rg],
    );
    let identity = ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "vm",
            "--name",
            "box",
            "-g",
            &rg,
            "--identities",
            "box-id",
        ],
    );
    let file = std::path::PathBuf::from(
        identity["agentCredentialFile"]
            .as_str()
            .expect("the CLI names the credential file"),
    );
    assert!(file.starts_with(server.config_dir()), "{}", file.display());
    let credential = || -> String {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("JSON");
        v["credential"].as_str().expect("credential").to_owned()
    };
    let issued = credential();
    let resource = bare["id"].as_str().expect("id").to_owned();
    let agent = AgentProcess::start_with(&server, &resource, &file, &["--rotate-every", "1"]);
    let at_start = credential();
    assert_ne!(issued, at_start, "rotated at start");
    // Rotated again while running (not only at start), and still serving.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while credential() == at_start {
        assert!(
            std::time::Instant::now() < deadline,
            "the running agent never rotated"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let url = format!(
        "{}/metadata/identity/oauth2/token",
        agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"]
    );
    let status_of = |resource: &'static str| {
        let url = url.clone();
        acrylic_testkit::spawned::block_on(async move {
            reqwest::Client::new()
                .get(url)
                .query(&[("api-version", "2018-02-01"), ("resource", resource)])
                .header("Metadata", "true")
                .send()
                .await
                .expect("agent")
                .status()
        })
    };
    // Different audiences, so each asks the directory (no cache).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(status_of("https://containerregistry.azure.net"), 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(status_of("https://management.core.windows.net/"), 200);
    // The credentials it rotated away from are dead.
    let ca = std::fs::read(server.ca_cert()).expect("CA certificate");
    let http = acrylic_testkit::spawned::https_client(&ca).expect("HTTPS client");
    let token_url = format!(
        "{}/{}/oauth2/managedidentity/token",
        server.base_url(),
        server.bootstrap_str("tenant")
    );
    for old in [issued, at_start] {
        let form = [
            ("resource_id", resource.clone()),
            ("credential", old),
            ("resource", "https://containerregistry.azure.net".to_owned()),
        ];
        let (http, token_url) = (http.clone(), token_url.clone());
        let status = acrylic_testkit::spawned::block_on(async move {
            http.post(token_url)
                .form(&form)
                .send()
                .await
                .expect("directory")
                .status()
        });
        assert_eq!(status, 401);
    }
    drop(agent);
}

/// containerd's `ctr` pulls with the username and password the kubelet
/// credential provider returned for a kubelet identity; after `aks update
/// --detach-acr` a fresh provider call yields credentials ctr is refused
/// with.
#[cfg(unix)]
#[test]
fn ctr_pulls_with_the_kubelet_providers_credentials_until_detached() {
    let (Some(ctr), Some(containerd_bin), Some(_)) = (
        crate::support::find_client("ctr"),
        crate::support::find_client("containerd"),
        crate::support::find_client("skopeo"),
    ) else {
        assert!(
            !crate::support::clients_required(),
            "ctr, containerd and skopeo are required"
        );
        eprintln!("skipping: no ctr, containerd or skopeo");
        return;
    };
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    // The bare listener address serves the bootstrap registry and is one of
    // the node configuration's registry name patterns.
    let host = server.host();
    owner_login(&server);

    // The owner pushes k8s/app:v1 (through the credential helper).
    let certs = server.scratch("k8s-certs");
    std::fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copy the CA");
    let authfile = server.scratch("k8s-auth").join("auth.json");
    std::fs::write(
        &authfile,
        serde_json::json!({"credHelpers": {host.clone(): "acrylic"}}).to_string(),
    )
    .expect("write the auth file");
    let layout = server.scratch("k8s-layout");
    acrylic_testkit::image::write_oci_layout(&layout, "v1", &[("etc/motd", b"for the nodes\n")])
        .expect("write the OCI layout");
    skopeo_with_helper(
        &server,
        &[
            "copy",
            "--dest-authfile",
            &authfile.to_string_lossy(),
            "--dest-cert-dir",
            &certs.to_string_lossy(),
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/k8s/app:v1"),
        ],
    )
    .ok();

    // A cluster whose kubelet identity may pull, and its node config.
    ok(
        &server,
        &[
            "aks",
            "create",
            "--name",
            "ctrnodes",
            "-g",
            &rg,
            "--attach-acr",
            &registry,
        ],
    );
    let config = ok(
        &server,
        &["aks", "get-node-config", "--name", "ctrnodes", "-g", &rg],
    );
    let node_config = server.scratch("ctr-node").join("azure.json");
    std::fs::write(&node_config, config.to_string()).expect("write the node config");
    let reference = format!("{host}/k8s/app:v1");
    let ca = server.ca_cert();
    let provider = || -> (String, String) {
        let request = serde_json::json!({
            "kind": "CredentialProviderRequest",
            "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
            "image": reference,
        });
        let response = crate::support::run(
            server.cli([
                "kubelet-credential-provider",
                node_config.to_str().expect("utf-8"),
                "--ca-cert",
                ca.to_str().expect("utf-8"),
            ]),
            Some(&request.to_string()),
        )
        .ok()
        .json();
        let auth = response["auth"]
            .as_object()
            .and_then(|m| m.values().next())
            .cloned()
            .unwrap_or_else(|| panic!("the provider returned no auth: {response}"));
        (
            auth["username"].as_str().expect("username").to_owned(),
            auth["password"].as_str().expect("password").to_owned(),
        )
    };

    // A private containerd that trusts the server's CA for this host.
    let scratch = server.scratch("k8s-containerd");
    let containerd = match crate::clients::Containerd::start(&containerd_bin, &scratch) {
        Ok(c) => c,
        Err(e) if !crate::support::clients_required() => {
            eprintln!("skipping: containerd cannot run here: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let hosts = scratch.join("hosts.d");
    std::fs::create_dir_all(hosts.join(&host)).expect("hosts dir");
    std::fs::write(
        hosts.join(&host).join("hosts.toml"),
        format!("server = \"https://{host}\"\n[host.\"https://{host}\"]\n  ca = {ca:?}\n"),
    )
    .expect("hosts.toml");
    let ctr_pull = |user: &str, password: &str| {
        let mut cmd = std::process::Command::new(&ctr);
        cmd.arg("-a")
            .arg(&containerd.socket)
            .args(["-n", "kubelet"])
            .args(["images", "pull", "--hosts-dir"])
            .arg(&hosts)
            .args(["--snapshotter", "native", "--user"])
            .arg(format!("{user}:{password}"))
            .arg(&reference)
            .env("HOME", &scratch);
        crate::support::run(cmd, None)
    };

    let (user, password) = provider();
    assert_eq!(user, "00000000-0000-0000-0000-000000000000");
    ctr_pull(&user, &password).ok();
    let mut ls = std::process::Command::new(&ctr);
    ls.arg("-a")
        .arg(&containerd.socket)
        .args(["-n", "kubelet", "images", "ls", "-q"]);
    let listed = crate::support::run(ls, None).ok().stdout();
    assert!(
        listed.lines().any(|l| l.trim() == reference),
        "{reference} not pulled:\n{listed}"
    );

    // Detach: a fresh provider call's credentials are refused.
    ok(
        &server,
        &[
            "aks",
            "update",
            "--name",
            "ctrnodes",
            "-g",
            &rg,
            "--detach-acr",
            &registry,
        ],
    );
    let (user, password) = provider();
    let out = ctr_pull(&user, &password).fails();
    assert!(
        out.contains("401")
            || out.contains("403")
            || out.to_ascii_lowercase().contains("unauthorized")
            || out.to_ascii_lowercase().contains("denied"),
        "{out}"
    );
}

/// A second tenant (`fabrikam.test`) with a Global Administrator
/// (`admin@fabrikam.test` / `password`), written straight into the spawned
/// server's SQLite store: acrylic has no API that creates tenants.
fn add_foreign_tenant(server: &SpawnedServer, password: &str) -> String {
    use acrylic_store::MetaStore as _;
    let url = format!(
        "sqlite://{}?mode=rwc",
        server.data_dir().join("meta.db").display()
    );
    let password = password.to_owned();
    acrylic_testkit::spawned::block_on(async move {
        let meta = acrylic_store::SqlMetaStore::connect(&url)
            .await
            .expect("open the store");
        let now = time::OffsetDateTime::now_utc();
        let tenant = acrylic_store::Tenant {
            id: acrylic_model::TenantId::new_random(),
            domain: "fabrikam.test".into(),
            display_name: "Fabrikam".into(),
            created_at: now,
        };
        meta.create_tenant(&tenant).await.expect("tenant");
        let admin = acrylic_store::User {
            id: acrylic_model::ObjectId::new_random(),
            tenant_id: tenant.id,
            upn: "admin@fabrikam.test".into(),
            display_name: "admin".into(),
            password_hash: acrylic_identity::password::hash(&password).expect("hash"),
            enabled: true,
            sessions_valid_after: now - time::Duration::hours(1),
            created_at: now,
        };
        meta.create_user(&admin).await.expect("user");
        meta.create_role_assignment(&acrylic_store::RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope: acrylic_model::ArmScope::root(),
            role_definition_id: acrylic_authz::roles::GLOBAL_ADMINISTRATOR,
            principal_id: admin.id,
            principal_type: acrylic_store::PrincipalType::User,
            condition: None,
            created_at: now,
        })
        .await
        .expect("role assignment");
        tenant.id.to_string()
    })
}

/// A multi-tenant application registered in tenant B, its service
/// principal provisioned into the registry's tenant A with `ad sp create
/// --id APPID --tenant A`, given to `aks create --service-principal …
/// --attach-acr`: the kubelet provider's credentials pull across tenants
/// (skopeo), and not before the application was provisioned in A.
#[cfg(unix)]
#[test]
fn a_cluster_with_another_tenants_service_principal_pulls_across_tenants() {
    if crate::support::find_client("skopeo").is_none() {
        assert!(!crate::support::clients_required(), "skopeo is required");
        eprintln!("skipping: no skopeo");
        return;
    }
    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let tenant_a = server.bootstrap_str("tenant");
    let host = server.bootstrap_str("loginServer");
    let password = "Fabrikam-Admin-Passw0rd!";
    let tenant_b = add_foreign_tenant(&server, password);
    owner_login(&server);

    // Tenant B's administrator registers a multi-tenant application.
    let b_config = server.scratch("fabrikam");
    let ca = server.ca_cert();
    let url = server.base_url();
    let mut login = server.cli([
        "login",
        "--tenant",
        "fabrikam.test",
        "-u",
        "admin@fabrikam.test",
        "--password-stdin",
        "--server",
        &url,
        "--ca-cert",
        ca.to_str().expect("utf-8"),
    ]);
    login.env("ACRYLIC_CONFIG_DIR", &b_config);
    crate::support::run(login, Some(&format!("{password}\n"))).ok();
    let app = acrylic_in(
        &server,
        &b_config,
        &[],
        &["ad", "sp", "create-for-rbac", "--name", "fabrikam-nodes"],
    )
    .ok()
    .json();
    assert_eq!(app["tenant"], tenant_b.as_str());
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    let secret = app["password"].as_str().expect("password").to_owned();
    acrylic_in(
        &server,
        &b_config,
        &[],
        &[
            "ad",
            "app",
            "update",
            "--id",
            &app_id,
            "--sign-in-audience",
            "AzureADMultipleOrgs",
        ],
    )
    .ok();

    // Not yet provisioned in A: the cluster cannot be made with it.
    let cluster = |name: &str| {
        acrylic(
            &server,
            &[
                "aks",
                "create",
                "--name",
                name,
                "-g",
                &rg,
                "--service-principal",
                &app_id,
                "--client-secret",
                &secret,
                "--attach-acr",
                &registry,
            ],
        )
    };
    let refused = cluster("early").refused();
    assert!(refused.contains(&tenant_a), "{refused}");

    // A's owner provisions it into A and makes the cluster.
    let sp = ok(
        &server,
        &["ad", "sp", "create", "--id", &app_id, "--tenant", &tenant_a],
    );
    assert_eq!(sp["appId"], app_id.as_str());
    let c = cluster("fabrikam").ok().json();
    assert_eq!(
        c["properties"]["servicePrincipalProfile"]["clientId"],
        app_id.as_str()
    );
    let config = ok(
        &server,
        &["aks", "get-node-config", "--name", "fabrikam", "-g", &rg],
    );
    assert_eq!(config["tenantId"], tenant_a.as_str());
    let node_config = server.scratch("fabrikam-node").join("azure.json");
    std::fs::write(&node_config, config.to_string()).expect("write the node config");

    // The owner pushes; the provider's credentials pull with skopeo.
    let certs = server.scratch("xt-certs");
    std::fs::copy(server.ca_cert(), certs.join("ca.crt")).expect("copy the CA");
    let authfile = server.scratch("xt-auth").join("auth.json");
    std::fs::write(
        &authfile,
        serde_json::json!({"credHelpers": {host.clone(): "acrylic"}}).to_string(),
    )
    .expect("write the auth file");
    let (auth, certs) = (
        authfile.to_string_lossy().into_owned(),
        certs.to_string_lossy().into_owned(),
    );
    let layout = server.scratch("xt-layout");
    acrylic_testkit::image::write_oci_layout(&layout, "v1", &[("etc/motd", b"across\n")])
        .expect("write the OCI layout");
    skopeo_with_helper(
        &server,
        &[
            "copy",
            "--dest-authfile",
            &auth,
            "--dest-cert-dir",
            &certs,
            &format!("oci:{}:v1", layout.display()),
            &format!("docker://{host}/xt/app:v1"),
        ],
    )
    .ok();
    let request = serde_json::json!({
        "kind": "CredentialProviderRequest",
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "image": format!("{host}/xt/app:v1"),
    });
    let response = crate::support::run(
        server.cli([
            "kubelet-credential-provider",
            node_config.to_str().expect("utf-8"),
            "--ca-cert",
            ca.to_str().expect("utf-8"),
        ]),
        Some(&request.to_string()),
    )
    .ok()
    .json();
    let given = &response["auth"][host.as_str()];
    assert_eq!(given["username"], app_id.as_str());
    let creds = format!(
        "{}:{}",
        given["username"].as_str().expect("username"),
        given["password"].as_str().expect("password")
    );
    let none = server.scratch("xt-none").join("auth.json");
    std::fs::write(&none, "{}").expect("empty auth file");
    let pulled = server.scratch("xt-pulled");
    let mut skopeo = std::process::Command::new("skopeo");
    skopeo
        .args(["copy", "--src-authfile"])
        .arg(&none)
        .args(["--src-cert-dir", &certs, "--src-creds", &creds])
        .arg(format!("docker://{host}/xt/app:v1"))
        .arg(format!("oci:{}:v1", pulled.display()))
        .env("HOME", server.scratch("xt-home"))
        .env("XDG_RUNTIME_DIR", server.scratch("xt-home"))
        .env_remove("REGISTRY_AUTH_FILE");
    crate::support::run(skopeo, None).ok();
    assert!(pulled.join("index.json").is_file());
}

/// The agent of a resource with no identity answers every protocol with a
/// clear error, which `acrylic login --identity` shows; a user-assigned
/// identity attached to two resources; the agent of one picks it by `object_id` and
/// `msi_res_id` (IMDS), `mi_res_id` (App Service), and `acrylic login
/// --identity --object-id|--resource-id` signs in as it.
#[test]
fn the_agent_refuses_a_resource_without_identity_and_picks_identities_by_every_selector() {
    use acrylic_testkit::spawned::block_on;

    let server = SpawnedServer::start(acrylic_bin());
    let rg = server.bootstrap_str("resourceGroup");
    let url = server.base_url();
    let ca = server.ca_cert();
    let ca = ca.to_str().expect("utf-8");
    owner_login(&server);
    let acr = "https://containerregistry.azure.net";
    let get = |url: String, q: Vec<(&'static str, String)>, h: (&'static str, String)| {
        block_on(async move {
            let r = reqwest::Client::new()
                .get(url)
                .query(&q)
                .header(h.0, h.1)
                .send()
                .await
                .expect("agent answers");
            let status = r.status();
            let body: Value = r.json().await.expect("JSON");
            (status.as_u16(), body)
        })
    };

    // A VM with no identity, and its agent.
    let bare = ok(
        &server,
        &[
            "resource", "create", "--kind", "vm", "--name", "bare", "-g", &rg,
        ],
    );
    let bare_file = server.scratch("bare-agent").join("cred.json");
    ok(
        &server,
        &[
            "resource",
            "agent-credential",
            "--kind",
            "vm",
            "--name",
            "bare",
            "-g",
            &rg,
            "--file",
            bare_file.to_str().expect("utf-8"),
        ],
    );
    let agent = AgentProcess::start(&server, bare["id"].as_str().expect("id"), &bare_file);
    let imds_host = agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    let imds = format!("{imds_host}/metadata/identity/oauth2/token");
    let (status, e) = get(
        imds.clone(),
        vec![
            ("api-version", "2018-02-01".into()),
            ("resource", acr.into()),
        ],
        ("Metadata", "true".into()),
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("No identity has been assigned")),
        "{e}"
    );
    let (status, e) = get(
        agent.env["IDENTITY_ENDPOINT"].clone(),
        vec![
            ("api-version", "2019-08-01".into()),
            ("resource", acr.into()),
        ],
        ("X-IDENTITY-HEADER", agent.env["IDENTITY_HEADER"].clone()),
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("No identity has been assigned")),
        "{e}"
    );
    let err = acrylic_in(
        &server,
        &server.scratch("bare-workload"),
        &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds_host)],
        &["login", "--identity", "--server", &url, "--ca-cert", ca],
    )
    .refused();
    assert!(err.contains("No identity has been assigned"), "{err}");
    drop(agent);

    // A container instance with only a user-assigned identity.
    let mi = ok(
        &server,
        &["identity", "create", "--name", "aci-id", "-g", &rg],
    );
    let (mi_id, mi_oid) = (
        mi["id"].as_str().expect("id").to_owned(),
        mi["principalId"].as_str().expect("principalId").to_owned(),
    );
    ok(
        &server,
        &[
            "resource",
            "create",
            "--kind",
            "containerinstance",
            "--name",
            "aci",
            "-g",
            &rg,
        ],
    );
    let assigned = ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "containerinstance",
            "--name",
            "aci",
            "-g",
            &rg,
            "--identities",
            "aci-id",
        ],
    );
    let file = std::path::PathBuf::from(
        assigned["agentCredentialFile"]
            .as_str()
            .expect("the CLI names the credential file"),
    );
    // The same identity on a second resource: both carry it.
    ok(
        &server,
        &[
            "resource", "create", "--kind", "webapp", "--name", "web2", "-g", &rg,
        ],
    );
    let second = ok(
        &server,
        &[
            "resource",
            "identity",
            "assign",
            "--kind",
            "webapp",
            "--name",
            "web2",
            "-g",
            &rg,
            "--identities",
            &mi_id,
        ],
    );
    assert_eq!(
        second["userAssignedIdentities"][&mi_id]["principalId"],
        mi_oid.as_str(),
        "{second}"
    );
    let aci = ok(
        &server,
        &[
            "resource",
            "show",
            "--kind",
            "containerinstance",
            "--name",
            "aci",
            "-g",
            &rg,
        ],
    );
    assert_eq!(
        aci["identity"]["userAssignedIdentities"][&mi_id]["principalId"],
        mi_oid.as_str(),
        "{aci}"
    );
    let agent = AgentProcess::start(&server, aci["id"].as_str().expect("id"), &file);
    let imds_host = agent.env["AZURE_POD_IDENTITY_AUTHORITY_HOST"].clone();
    let imds = format!("{imds_host}/metadata/identity/oauth2/token");
    let oid_of = |t: &Value| {
        crate::support::jwt_payload(t["access_token"].as_str().expect("token"))["oid"].clone()
    };
    for (name, value) in [("object_id", &mi_oid), ("msi_res_id", &mi_id)] {
        let (status, t) = get(
            imds.clone(),
            vec![
                ("api-version", "2018-02-01".into()),
                ("resource", acr.into()),
                (name, value.clone()),
            ],
            ("Metadata", "true".into()),
        );
        assert_eq!(status, 200, "{name}: {t}");
        assert_eq!(oid_of(&t), mi_oid.as_str(), "{name}");
    }
    let (status, t) = get(
        agent.env["IDENTITY_ENDPOINT"].clone(),
        vec![
            ("api-version", "2019-08-01".into()),
            ("resource", acr.into()),
            ("mi_res_id", mi_id.clone()),
        ],
        ("X-IDENTITY-HEADER", agent.env["IDENTITY_HEADER"].clone()),
    );
    assert_eq!(status, 200, "{t}");
    assert_eq!(oid_of(&t), mi_oid.as_str());

    for (flag, value, dir) in [
        ("--object-id", &mi_oid, "aci-by-oid"),
        ("--resource-id", &mi_id, "aci-by-rid"),
    ] {
        let config = server.scratch(dir);
        let accounts = acrylic_in(
            &server,
            &config,
            &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds_host)],
            &[
                "login",
                "--identity",
                flag,
                value,
                "--server",
                &url,
                "--ca-cert",
                ca,
            ],
        )
        .ok()
        .json();
        assert_eq!(
            accounts[0]["user"]["name"], "userAssignedIdentity",
            "{flag}"
        );
        let tokens: Value = serde_json::from_str(
            &std::fs::read_to_string(config.join("tokens.json")).expect("tokens.json"),
        )
        .expect("JSON");
        let claims = crate::support::jwt_payload(tokens["accessToken"].as_str().expect("token"));
        assert_eq!(claims["oid"], mi_oid.as_str(), "{flag}");
    }
    drop(agent);
}
