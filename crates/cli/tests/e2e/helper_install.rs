//! `acrylic install-credential-helper`: the install step of
//! `docker-credential-acrylic` (issue #5 §4) — a link to this binary, and
//! `credHelpers` entries docker, podman and skopeo read.

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::Value;

use crate::support::{acrylic_bin, owner_login, run};

#[test]
fn the_install_step_links_the_helper_and_registers_it() {
    let server = SpawnedServer::start(acrylic_bin());
    let bin_dir = server.scratch("bin");
    let docker = server.scratch("docker");
    let auth = server.scratch("containers").join("auth.json");
    let login_server = server.bootstrap_str("loginServer");
    let env = |cmd: &mut std::process::Command| {
        cmd.env("DOCKER_CONFIG", &docker)
            .env("REGISTRY_AUTH_FILE", &auth);
    };

    let mut install = server.cli([
        "install-credential-helper",
        "--dir",
        bin_dir.to_str().expect("utf-8"),
        "--login-server",
        &login_server,
    ]);
    env(&mut install);
    run(install, None).ok();
    // Twice is fine: a stale link is replaced.
    let mut again = server.cli([
        "install-credential-helper",
        "--dir",
        bin_dir.to_str().expect("utf-8"),
    ]);
    env(&mut again);
    run(again, None).ok();

    let link = bin_dir.join("docker-credential-acrylic");
    let target = std::fs::read_link(&link).expect("a symlink");
    assert_eq!(
        target.canonicalize().expect("target"),
        acrylic_bin().canonicalize().expect("binary")
    );
    for file in [docker.join("config.json"), auth.clone()] {
        let doc: Value =
            serde_json::from_slice(&std::fs::read(&file).expect("written")).expect("JSON");
        assert_eq!(
            doc["credHelpers"][&login_server],
            "acrylic",
            "{}",
            file.display()
        );
    }

    // The link speaks the helper protocol with the CLI's sign-in.
    let helper = |action: &str, stdin: Option<&str>| {
        let mut cmd = std::process::Command::new(&link);
        cmd.arg(action)
            .env("ACRYLIC_CONFIG_DIR", server.config_dir());
        run(cmd, stdin)
    };
    assert_eq!(helper("list", None).ok().json(), serde_json::json!({}));
    let not_signed_in = helper("get", Some(&login_server)).fails();
    assert!(
        not_signed_in.contains("credentials not found"),
        "{not_signed_in}"
    );
    owner_login(&server);
    let got = helper("get", Some(&login_server)).ok().json();
    assert_eq!(got["Username"], "<token>");
    assert!(
        got["Secret"]
            .as_str()
            .is_some_and(|s| s.split('.').count() == 3),
        "{got}"
    );

    // Something that is not a link is never overwritten.
    let blocked = server.scratch("blocked");
    std::fs::write(blocked.join("docker-credential-acrylic"), b"not ours").expect("file");
    let refused = run(
        server.cli([
            "install-credential-helper",
            "--dir",
            blocked.to_str().expect("utf-8"),
        ]),
        None,
    )
    .fails();
    assert!(refused.contains("is not a link"), "{refused}");
}
