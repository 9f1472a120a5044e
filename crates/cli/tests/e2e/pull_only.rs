//! A user who may push and pull but not read the registry's ARM resource
//! (AcrPush at the registry): `acrylic acr login --name <registry>` and the
//! data-plane commands find the login server through the server's cloud
//! metadata, as `az acr login` falls back to the cloud's suffix.

use acrylic_testkit::spawned::SpawnedServer;

use crate::support::{acrylic, acrylic_bin, login, owner_login};

#[test]
fn a_user_without_registry_read_logs_in_by_name() {
    let server = SpawnedServer::start(acrylic_bin());
    owner_login(&server);
    let registry_id = acrylic(&server, &["acr", "show", "--name", "acrylic"])
        .ok()
        .json()["id"]
        .as_str()
        .expect("registry id")
        .to_owned();
    acrylic(
        &server,
        &[
            "ad",
            "user",
            "create",
            "--display-name",
            "Pusher",
            "--user-principal-name",
            "pusher@acrylic.local",
            "--password",
            "Pusher-pw-1!",
        ],
    )
    .ok();
    acrylic(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            "pusher@acrylic.local",
            "--role",
            "AcrPush",
            "--scope",
            &registry_id,
        ],
    )
    .ok();
    acrylic(&server, &["logout"]).ok();
    login(&server, "pusher@acrylic.local", "Pusher-pw-1!").ok();

    // The resource itself stays hidden from this user…
    let refused = acrylic(&server, &["acr", "show", "--name", "acrylic"]).refused();
    assert!(refused.contains("acrylic"), "{refused}");
    // …but logging in to the registry by name works, and so does the data plane.
    let docker = server.scratch("docker");
    let mut cmd = server.cli(["acr", "login", "--name", "acrylic", "--expose-token"]);
    cmd.env("DOCKER_CONFIG", &docker);
    let exposed = crate::support::run(cmd, None).ok().json();
    assert_eq!(exposed["loginServer"], server.bootstrap_str("loginServer"));
    assert_eq!(exposed["username"], "00000000-0000-0000-0000-000000000000");
    let listed = acrylic(&server, &["acr", "repository", "list", "--name", "acrylic"]).ok();
    assert!(listed.json().is_array(), "{}", listed.stdout());
}

#[test]
fn cloud_metadata_names_the_login_server_suffix_and_the_bare_registry() {
    let server = SpawnedServer::start(acrylic_bin());
    let ca = std::fs::read(server.ca_cert()).expect("CA");
    let url = format!(
        "{}/metadata/endpoints?api-version=2022-09-01",
        server.base_url()
    );
    let meta: serde_json::Value = acrylic_testkit::spawned::block_on(async move {
        let client = acrylic_testkit::spawned::https_client(&ca).expect("client");
        client
            .get(url)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    });
    assert_eq!(
        meta["suffixes"]["acrLoginServer"],
        format!("acrylic.localhost:{}", server.port())
    );
    assert_eq!(meta["acrylic"]["bareAddressRegistry"]["name"], "acrylic");
    assert_eq!(
        meta["acrylic"]["bareAddressRegistry"]["loginServer"],
        server.bootstrap_str("loginServer")
    );
    assert_eq!(meta["resourceManager"], format!("{}/", server.base_url()));
}
