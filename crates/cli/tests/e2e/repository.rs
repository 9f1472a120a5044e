//! `acrylic acr repository …` (issue #3 §4's CLI) against a spawned
//! `acrylic serve` over HTTPS: images built with the testkit and pushed
//! over the OCI API, then every command as the signed-in owner (directory
//! sign-in → exchange → access token) and as the admin user
//! (`--username/--password`, no sign-in), in JSON, table and TSV; a lock
//! set with `update` refusing `delete` with the command that lifts it;
//! deletions disappearing from the listings; a user with AcrPull refused a
//! delete with the access it lacks.

use acrylic_testkit::image::{self, ImageInfo, MANIFEST_MEDIA_TYPE};
use acrylic_testkit::spawned::{self, SpawnedServer};
use serde_json::{Value, json};

use crate::support::{acrylic, acrylic_bin, login, owner_login, run};

/// `acrylic <args>`: stdout of a success.
fn text(server: &SpawnedServer, args: &[&str]) -> String {
    acrylic(server, args).ok().stdout()
}

/// `acrylic <args> -o json`, parsed; `null` when nothing is printed.
fn ok(server: &SpawnedServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    acrylic(server, &all).ok().json_or_null()
}

/// `acrylic <args>` must fail; its `ERROR: …` line.
fn fails(server: &SpawnedServer, args: &[&str]) -> String {
    acrylic(server, args).refused()
}

/// Enables the admin user (as the signed-in owner) and returns its password.
fn admin_password(server: &SpawnedServer, registry: &str) -> String {
    ok(
        server,
        &[
            "acr",
            "update",
            "--name",
            registry,
            "--admin-enabled",
            "true",
        ],
    );
    let creds = ok(server, &["acr", "credential", "show", "--name", registry]);
    creds["passwords"][0]["value"]
        .as_str()
        .expect("an admin password")
        .to_owned()
}

/// Pushes images over the OCI distribution API (monolithic blob uploads,
/// then manifests by tag) with a token the admin user gets at the token
/// service, as docker would.
struct Pusher {
    base: String,
    ca: Vec<u8>,
    username: String,
    password: String,
}

impl Pusher {
    /// Builds an image of `files` with the testkit and pushes it to `repo`
    /// under every one of `tags`.
    fn push(
        &self,
        server: &SpawnedServer,
        repo: &str,
        tags: &[&str],
        files: &[(&str, &[u8])],
    ) -> ImageInfo {
        let layout = server.scratch(&format!("layout-{}", repo.replace('/', "-")));
        let info = image::write_oci_layout(&layout, "t", files).expect("writing the OCI layout");
        let blob = |digest: &str| {
            std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..]))
                .expect("a layout blob")
        };
        let blobs = vec![
            (info.config_digest.clone(), blob(&info.config_digest)),
            (info.layer_digest.clone(), info.layer.clone()),
        ];
        let manifest = info.manifest.clone();
        let (base, ca, user, pass) = (
            self.base.clone(),
            self.ca.clone(),
            self.username.clone(),
            self.password.clone(),
        );
        let (repo, tags): (String, Vec<String>) = (
            repo.to_owned(),
            tags.iter().map(|t| (*t).to_owned()).collect(),
        );
        spawned::block_on(async move {
            let client = spawned::https_client(&ca).expect("HTTPS client");
            let host = base.trim_start_matches("https://").to_owned();
            let token: Value = client
                .get(format!("{base}/oauth2/token"))
                .query(&[
                    ("service", host.as_str()),
                    ("scope", &format!("repository:{repo}:pull,push")),
                ])
                .basic_auth(&user, Some(&pass))
                .send()
                .await
                .expect("GET /oauth2/token")
                .json()
                .await
                .expect("a token response");
            let token = token["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no access token: {token}"))
                .to_owned();
            for (digest, bytes) in blobs {
                let r = client
                    .post(format!("{base}/v2/{repo}/blobs/uploads/"))
                    .query(&[("digest", digest.as_str())])
                    .bearer_auth(&token)
                    .body(bytes)
                    .send()
                    .await
                    .expect("POST blob upload");
                assert_eq!(
                    r.status().as_u16(),
                    201,
                    "blob {digest}: {:?}",
                    r.text().await
                );
            }
            for tag in tags {
                let r = client
                    .put(format!("{base}/v2/{repo}/manifests/{tag}"))
                    .header("content-type", MANIFEST_MEDIA_TYPE)
                    .bearer_auth(&token)
                    .body(manifest.clone())
                    .send()
                    .await
                    .expect("PUT manifest");
                assert_eq!(
                    r.status().as_u16(),
                    201,
                    "manifest {tag}: {:?}",
                    r.text().await
                );
            }
        });
        info
    }
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap_or_else(|| panic!("not a name: {n}")))
        .collect()
}

#[test]
fn repository_commands_as_owner_and_admin() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let host = server.host();
    let r = registry.as_str();

    // Not signed in: the error says how to sign in.
    let err = fails(&server, &["acr", "repository", "list", "--name", r]);
    assert!(err.contains("acrylic login"), "{err}");

    owner_login(&server);
    let password = admin_password(&server, r);
    let pusher = Pusher {
        base: server.base_url(),
        ca: std::fs::read(server.ca_cert()).expect("the CA certificate"),
        username: registry.clone(),
        password: password.clone(),
    };
    // v1 first, v2 last, a second apart, so time order is unambiguous.
    let v1 = pusher.push(&server, "team/app", &["v1", "stable"], &[("a", b"one\n")]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fillers: Vec<String> = (0..101).map(|i| format!("t{i:03}")).collect();
    let filler_refs: Vec<&str> = fillers.iter().map(String::as_str).collect();
    pusher.push(&server, "paged", &filler_refs, &[("p", b"paged\n")]);
    pusher.push(&server, "other", &["latest"], &[("o", b"other\n")]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v2 = pusher.push(&server, "team/app", &["v2"], &[("a", b"two\n")]);

    // -- as the signed-in owner, the registry named by its name --
    let repo = |args: &[&str]| {
        let mut all = vec!["acr", "repository"];
        all.extend_from_slice(args);
        all.extend(["--name", r]);
        all.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    let call = |args: &[&str]| {
        let a = repo(args);
        ok(&server, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let call_text = |args: &[&str]| {
        let a = repo(args);
        text(&server, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let call_fails = |args: &[&str]| {
        let a = repo(args);
        fails(&server, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // list: names, JSON / table / tsv, --top.
    assert_eq!(names(&call(&["list"])), ["other", "paged", "team/app"]);
    assert_eq!(
        call_text(&["list", "-o", "table"]),
        "Result\n--------\nother\npaged\nteam/app\n"
    );
    assert_eq!(
        call_text(&["list", "-o", "tsv"]),
        "other\npaged\nteam/app\n"
    );
    assert_eq!(names(&call(&["list", "--top", "2"])), ["other", "paged"]);

    // show: the repository, a tag, a manifest.
    let shown = call(&["show", "--repository", "team/app"]);
    assert_eq!(shown["registry"], host.as_str());
    assert_eq!(shown["imageName"], "team/app");
    assert_eq!(shown["tagCount"], 3);
    assert_eq!(shown["manifestCount"], 2);
    assert_eq!(
        shown["changeableAttributes"],
        json!({"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true})
    );
    let table = call_text(&["show", "--repository", "team/app", "-o", "table"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "Registry",
            "ImageName",
            "CreatedTime",
            "LastUpdateTime",
            "ManifestCount",
            "TagCount"
        ]
    );
    assert!(
        lines
            .nth(1)
            .is_some_and(|l| l.starts_with(&host) && l.ends_with("  3")),
        "{table}"
    );
    let tag = call(&["show", "--image", "team/app:v1"]);
    assert_eq!(tag["name"], "v1");
    assert_eq!(tag["digest"], v1.manifest_digest.as_str());
    assert_eq!(tag["signed"], false);
    let by_digest = format!("team/app@{}", v1.manifest_digest);
    let manifest = call(&["show", "--image", &by_digest]);
    assert_eq!(manifest["digest"], v1.manifest_digest.as_str());
    assert_eq!(manifest["tags"], json!(["stable", "v1"]));
    assert_eq!(manifest["architecture"], "amd64");
    // A bare repository means `latest`, which team/app lacks.
    let err = call_fails(&["show", "--image", "team/app"]);
    assert!(err.contains("latest"), "{err}");
    let err = call_fails(&["show", "--image", "team/app:bad:tag"]);
    assert!(err.contains("REPOSITORY:TAG or REPOSITORY@DIGEST"), "{err}");

    // show-tags: names (paged past 100), details, order, --top.
    assert_eq!(
        names(&call(&["show-tags", "--repository", "team/app"])),
        ["stable", "v1", "v2"]
    );
    let paged = call(&["show-tags", "--repository", "paged"]);
    assert_eq!(names(&paged), filler_refs, "all 101 tags, over two pages");
    assert_eq!(
        names(&call(&[
            "show-tags",
            "--repository",
            "paged",
            "--top",
            "101"
        ]))
        .len(),
        101
    );
    assert_eq!(
        names(&call(&["show-tags", "--repository", "paged", "--top", "3"])),
        ["t000", "t001", "t002"]
    );
    let newest = call(&[
        "show-tags",
        "--repository",
        "team/app",
        "--detail",
        "--orderby",
        "time_desc",
        "--top",
        "1",
    ]);
    assert_eq!(newest.as_array().map(Vec::len), Some(1), "{newest}");
    assert_eq!(newest[0]["name"], "v2");
    assert_eq!(newest[0]["digest"], v2.manifest_digest.as_str());
    assert_eq!(newest[0]["changeableAttributes"]["writeEnabled"], true);
    let oldest = call(&[
        "show-tags",
        "--repository",
        "team/app",
        "--orderby",
        "time_asc",
        "--top",
        "1",
    ]);
    assert!(["v1", "stable"].contains(&names(&oldest)[0]), "{oldest}");
    let tsv = call_text(&[
        "show-tags",
        "--repository",
        "team/app",
        "--detail",
        "-o",
        "tsv",
    ]);
    let first: Vec<&str> = tsv.lines().next().expect("a row").split('\t').collect();
    assert_eq!(first.len(), 5, "{tsv}");
    assert_eq!(&first[..2], ["stable", v1.manifest_digest.as_str()]);
    assert_eq!(first[4], "False");
    assert_eq!(
        call_text(&["show-tags", "--repository", "team/app", "-o", "tsv"]),
        "stable\nv1\nv2\n"
    );

    // show-manifests: az's short form, and the detail.
    let manifests = call(&[
        "show-manifests",
        "--repository",
        "team/app",
        "--orderby",
        "time_asc",
    ]);
    assert_eq!(manifests.as_array().map(Vec::len), Some(2), "{manifests}");
    assert_eq!(manifests[0]["digest"], v1.manifest_digest.as_str());
    assert_eq!(manifests[0]["tags"], json!(["stable", "v1"]));
    assert!(
        manifests[0]["timestamp"]
            .as_str()
            .is_some_and(|t| t.contains('T'))
    );
    let keys: Vec<&String> = manifests[0]
        .as_object()
        .expect("an object")
        .keys()
        .collect();
    assert_eq!(keys, ["digest", "tags", "timestamp"]);
    let detail = call(&[
        "show-manifests",
        "--repository",
        "team/app",
        "--detail",
        "--orderby",
        "time_desc",
    ]);
    assert_eq!(detail[0]["digest"], v2.manifest_digest.as_str());
    assert_eq!(detail[0]["imageSize"], v2.manifest.len());
    assert_eq!(detail[0]["os"], "linux");
    let table = call_text(&["show-manifests", "--repository", "team/app", "-o", "table"]);
    assert!(table.starts_with("Digest"), "{table}");
    assert!(table.contains("stable, v1"), "{table}");

    // update: lock a tag; delete is refused and names the unlock.
    let locked = call(&[
        "update",
        "--image",
        "team/app:v1",
        "--delete-enabled",
        "false",
        "--write-enabled",
        "false",
    ]);
    assert_eq!(locked["name"], "v1");
    assert_eq!(
        locked["changeableAttributes"],
        json!({"deleteEnabled": false, "writeEnabled": false, "readEnabled": true, "listEnabled": true})
    );
    // No flags: the attributes are shown, unchanged.
    assert_eq!(call(&["update", "--image", "team/app:v1"]), locked);
    let err = call_fails(&["delete", "--image", "team/app:v1", "--yes"]);
    assert!(err.contains("deleteEnabled"), "{err}");
    assert!(
        err.contains(&format!(
            "acrylic acr repository update --name {r} --image team/app:v1 --delete-enabled true"
        )),
        "{err}"
    );
    // The manifest behind it cannot go either (by digest, or by its other tag).
    let err = call_fails(&["delete", "--image", &by_digest, "--yes"]);
    assert!(
        err.contains("--image team/app:v1 --delete-enabled true"),
        "{err}"
    );
    // Without a terminal, --yes is required.
    let err = call_fails(&["delete", "--image", "team/app:v2"]);
    assert!(err.contains("--yes"), "{err}");

    // Lock the repository: deleting it is refused, with the unlock.
    let repo_locked = call(&[
        "update",
        "--repository",
        "team/app",
        "--delete-enabled",
        "false",
    ]);
    assert_eq!(repo_locked["changeableAttributes"]["deleteEnabled"], false);
    let err = call_fails(&["delete", "--repository", "team/app", "--yes"]);
    assert!(
        err.contains(&format!(
            "acrylic acr repository update --name {r} --repository team/app --delete-enabled true"
        )),
        "{err}"
    );
    call(&[
        "update",
        "--repository",
        "team/app",
        "--delete-enabled",
        "true",
    ]);

    // Delete an image: the warning names its tags; it leaves the listings.
    let stderr = run(
        server.cli(repo(&["delete", "--image", "team/app:v2", "--yes"])),
        None,
    )
    .ok()
    .stderr;
    assert!(
        stderr.contains(&format!(
            "This operation will delete the manifest '{}' and all the following images: 'team/app:v2'",
            v2.manifest_digest
        )),
        "{stderr}"
    );
    assert_eq!(
        names(&call(&["show-tags", "--repository", "team/app"])),
        ["stable", "v1"]
    );
    assert_eq!(
        call(&["show-manifests", "--repository", "team/app"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // Delete a repository: it leaves the catalog.
    assert_eq!(
        call(&["delete", "--repository", "other", "--yes"]),
        Value::Null
    );
    assert_eq!(names(&call(&["list"])), ["paged", "team/app"]);
    let err = call_fails(&["show", "--repository", "other"]);
    assert!(err.contains("other"), "{err}");

    // -- as the admin user, by login server, with no sign-in at all --
    text(&server, &["logout"]);
    let err = call_fails(&["list"]);
    assert!(err.contains("acrylic login"), "{err}");
    let admin = |args: &[&str]| {
        let mut all = vec!["acr", "repository"];
        all.extend_from_slice(args);
        all.extend(["--name", &host, "-u", r, "-p", &password]);
        all.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    let as_admin = |args: &[&str]| {
        let a = admin(args);
        ok(&server, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let admin_fails = |args: &[&str]| {
        let a = admin(args);
        fails(&server, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    assert_eq!(names(&as_admin(&["list"])), ["paged", "team/app"]);
    let a = admin(&["list", "-o", "tsv"]);
    assert_eq!(
        text(&server, &a.iter().map(String::as_str).collect::<Vec<_>>()),
        "paged\nteam/app\n"
    );
    assert_eq!(
        as_admin(&["show", "--repository", "team/app"])["tagCount"],
        2
    );
    assert_eq!(
        names(&as_admin(&["show-tags", "--repository", "team/app"])),
        ["stable", "v1"]
    );
    assert_eq!(
        as_admin(&["show-manifests", "--repository", "team/app", "--detail"])[0]["digest"],
        v1.manifest_digest.as_str()
    );
    // The tag lock holds for the admin too, until the admin lifts it.
    let err = admin_fails(&["delete", "--image", "team/app:stable", "--yes"]);
    assert!(
        err.contains("--image team/app:v1 --delete-enabled true"),
        "{err}"
    );
    let unlocked = as_admin(&[
        "update",
        "--image",
        "team/app:v1",
        "--delete-enabled",
        "true",
        "--write-enabled",
        "true",
    ]);
    assert_eq!(unlocked["changeableAttributes"]["deleteEnabled"], true);
    as_admin(&["delete", "--image", "team/app:stable", "--yes"]);
    // Both tags went with the manifest.
    for gone in ["team/app:stable", "team/app:v1"] {
        let err = admin_fails(&["show", "--image", gone]);
        assert!(err.contains("unknown"), "{err}");
    }
    as_admin(&["delete", "--repository", "paged", "--yes"]);
    assert!(!names(&as_admin(&["list"])).contains(&"paged"));

    // A wrong password, and a registry name without a sign-in to look it up.
    let err = fails(
        &server,
        &[
            "acr",
            "repository",
            "list",
            "--name",
            &host,
            "-u",
            r,
            "-p",
            "wrong",
        ],
    );
    assert!(err.contains("refused"), "{err}");
    let err = fails(
        &server,
        &[
            "acr",
            "repository",
            "list",
            "--name",
            r,
            "-u",
            r,
            "-p",
            &password,
        ],
    );
    assert!(err.contains("--name <host:port>"), "{err}");
}

#[test]
fn a_user_with_acr_pull_lists_but_is_denied_a_delete() {
    let server = SpawnedServer::start(acrylic_bin());
    let registry = server.bootstrap_str("registry");
    let subscription = server.bootstrap_str("subscription");
    let resource_group = server.bootstrap_str("resourceGroup");
    let owner = server.bootstrap_str("username");
    let host = server.host();
    owner_login(&server);
    let password = admin_password(&server, &registry);
    let pusher = Pusher {
        base: server.base_url(),
        ca: std::fs::read(server.ca_cert()).expect("the CA certificate"),
        username: registry.clone(),
        password,
    };
    pusher.push(&server, "team/app", &["v1"], &[("a", b"one\n")]);

    let domain = owner.split('@').nth(1).expect("a UPN");
    let upn = format!("puller@{domain}");
    let secret = "Correct-Horse-Battery-7";
    ok(
        &server,
        &[
            "ad",
            "user",
            "create",
            "--display-name",
            "Puller",
            "--user-principal-name",
            &upn,
            "--password",
            secret,
        ],
    );
    let scope = format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ContainerRegistry/registries/{registry}"
    );
    ok(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &upn,
            "--role",
            "AcrPull",
            "--scope",
            &scope,
        ],
    );
    login(&server, &upn, secret).ok();

    // AcrPull reads no ARM resource: by name the login server comes from
    // the cloud's naming rule, as az finds it; by login server too.
    let listed = ok(&server, &["acr", "repository", "list", "--name", &registry]);
    assert_eq!(listed, json!(["team/app"]));
    let listed = ok(&server, &["acr", "repository", "list", "--name", &host]);
    assert_eq!(listed, json!(["team/app"]));
    let tags = ok(
        &server,
        &[
            "acr",
            "repository",
            "show-tags",
            "--name",
            &host,
            "--repository",
            "team/app",
        ],
    );
    assert_eq!(tags, json!(["v1"]));

    // Denied: the error names the access the registry did not grant.
    let err = fails(
        &server,
        &[
            "acr",
            "repository",
            "delete",
            "--name",
            &host,
            "--repository",
            "team/app",
            "--yes",
        ],
    );
    assert!(err.contains("access denied"), "{err}");
    assert!(err.contains(&upn), "{err}");
    assert!(
        err.contains("`delete` access to repository 'team/app'"),
        "{err}"
    );
    let err = fails(
        &server,
        &[
            "acr",
            "repository",
            "update",
            "--name",
            &host,
            "--image",
            "team/app:v1",
            "--write-enabled",
            "false",
        ],
    );
    assert!(
        err.contains("`metadata_write` access to repository 'team/app'"),
        "{err}"
    );
    // Nothing changed.
    let shown = ok(
        &server,
        &[
            "acr",
            "repository",
            "show",
            "--name",
            &host,
            "--image",
            "team/app:v1",
        ],
    );
    assert_eq!(shown["changeableAttributes"]["writeEnabled"], true);
}
