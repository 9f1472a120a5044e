//! Crash safety of a real `acrylic serve` process (issue #2 §4): a `kill -9`
//! in the middle of a push leaves no visible partial blob and no dangling
//! manifest, the server restarts cleanly on the same data, and the upload
//! session that was open before the crash can be resumed and completed.

// Test code: a panic is how a test reports.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use acrylic_testkit::spawned::{SpawnedServer, https_client};
use base64::Engine as _;
use serde_json::{Value, json};

const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const REPO: &str = "crash/test";
const CHUNK: usize = 4 * 1024 * 1024;

use acrylic_testkit::image::sha256;

/// The bootstrap owner enables the admin user through the control plane
/// and reads its password, as an operator would.
async fn admin_password(client: &reqwest::Client, server: &SpawnedServer) -> (String, String) {
    let b = server.bootstrap();
    let s = |k: &str| b[k].as_str().unwrap().to_owned();
    let base = server.base_url();
    let token: Value = client
        .post(format!("{base}/{}/oauth2/v2.0/token", s("tenant")))
        .form(&[
            ("grant_type", "password"),
            ("client_id", AZURE_CLI),
            ("scope", "https://management.azure.com/.default"),
            ("username", &s("username")),
            ("password", &s("password")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let registry = format!(
        "{base}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
        s("subscription"),
        s("resourceGroup"),
        s("registry")
    );
    let patched = client
        .patch(format!("{registry}?api-version=2023-07-01"))
        .header("Authorization", &bearer)
        .json(&json!({"properties": {"adminUserEnabled": true}}))
        .send()
        .await
        .unwrap();
    assert!(
        patched.status().is_success(),
        "{}",
        patched.text().await.unwrap()
    );
    let creds: Value = client
        .post(format!("{registry}/listCredentials?api-version=2023-07-01"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        creds["username"].as_str().unwrap().to_owned(),
        creds["passwords"][0]["value"].as_str().unwrap().to_owned(),
    )
}

async fn push_token(
    client: &reqwest::Client,
    server: &SpawnedServer,
    user: &str,
    pass: &str,
) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let r: Value = client
        .get(format!("{}/oauth2/token", server.base_url()))
        .query(&[
            ("service", server.bootstrap_str("loginServer").as_str()),
            ("scope", &format!("repository:{REPO}:pull,push")),
        ])
        .header("Authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    format!("Bearer {}", r["access_token"].as_str().unwrap())
}

/// Committed blob files: every one must hash to its own name.
fn assert_blob_files_are_whole(data: &Path) {
    let mut stack = vec![data.join("blobs").join("blobs")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.contains('#') {
                // object_store's put-if-absent temp name: never a blob key.
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                sha256(&bytes),
                format!("sha256:{name}"),
                "{} holds bytes that do not match its name",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn kill_9_mid_push_leaves_nothing_half_visible_and_the_upload_resumes() {
    let bin = Path::new(env!("CARGO_BIN_EXE_acrylic"));
    let mut server = SpawnedServer::start(bin);
    let ca = std::fs::read(server.ca_cert()).unwrap();
    let client = https_client(&ca).unwrap();
    let (user, pass) = admin_password(&client, &server).await;
    let bearer = push_token(&client, &server, &user, &pass).await;
    let base = server.base_url();

    // A 12 MiB blob, pushed in three 4 MiB chunks.
    let blob: Vec<u8> = (0..3 * CHUNK).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&blob);

    // Open a session and stage the first chunk.
    let started = client
        .post(format!("{base}/v2/{REPO}/blobs/uploads/"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/v2/"),
        "relative Location: {location}"
    );
    let first = client
        .patch(format!("{base}{location}"))
        .header("Authorization", &bearer)
        .header("Content-Range", format!("0-{}", CHUNK - 1))
        .body(blob[..CHUNK].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].to_str().unwrap().to_owned();

    // The second chunk is in flight (half of it sent, the rest held back)
    // when the server is killed.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let in_flight = {
        let client = client.clone();
        let url = format!("{base}{location}");
        let bearer = bearer.clone();
        tokio::spawn(async move {
            client
                .patch(url)
                .header("Authorization", bearer)
                .header("Content-Range", format!("{CHUNK}-{}", 2 * CHUNK - 1))
                .header("Content-Length", CHUNK.to_string())
                .body(body)
                .send()
                .await
        })
    };
    tx.send(Ok(blob[CHUNK..CHUNK + CHUNK / 2].to_vec()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill9();
    assert!(
        in_flight.await.unwrap().is_err(),
        "the killed server cannot have answered"
    );
    drop(tx);

    // A manifest naming the never-committed blob is refused after the restart.
    server.restart();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": blob.len()}]
    })
    .to_string();
    let refused = client
        .put(format!("{base}/v2/{REPO}/manifests/v1"))
        .header("Authorization", &bearer)
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "{}", refused.text().await.unwrap());
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("MANIFEST_BLOB_UNKNOWN")
    );

    // Nothing half-written is visible: not the blob, not a tag.
    let head = client
        .head(format!("{base}/v2/{REPO}/blobs/{digest}"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    let tags = client
        .get(format!("{base}/v2/{REPO}/tags/list"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    let tags_body = tags.text().await.unwrap();
    assert!(!tags_body.contains("\"v1\""), "{tags_body}");
    assert_blob_files_are_whole(&server.data_dir());

    // The session survived: its status says where to continue.
    let status = client
        .get(format!("{base}{location}"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 204);
    let range = status.headers()["range"].to_str().unwrap().to_owned();
    let end: usize = range.trim_start_matches("0-").parse().unwrap();
    assert!(end + 1 >= CHUNK && end < 2 * CHUNK, "staged range {range}");
    let location = status.headers()["location"].to_str().unwrap().to_owned();

    // Resume from the server's offset and finish; the digest is verified.
    let resumed = client
        .patch(format!("{base}{location}"))
        .header("Authorization", &bearer)
        .header("Content-Range", format!("{}-{}", end + 1, blob.len() - 1))
        .body(blob[end + 1..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 202);
    let location = resumed.headers()["location"].to_str().unwrap().to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = client
        .put(format!("{base}{location}{sep}digest={digest}"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201, "{}", done.text().await.unwrap());
    let pulled = client
        .get(format!("{base}/v2/{REPO}/blobs/{digest}"))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256(&pulled), digest);
    assert_blob_files_are_whole(&server.data_dir());
}

/// A body stream fed by a channel, so the test decides when bytes go out.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
