//! Domain tests against the real stores: SQLite in a temp dir and the
//! file-system blob store. The manifest validation table needs no store.

use std::sync::Arc;

use acrylic_authz::{
    Action, Grants, Permit, Principal, RegistryFacts, RepoAction, Resource, authorize,
};
use acrylic_model::{
    ArmScope, Digest, DigestAlgorithm, Reference, RegistryId, RegistryName, RepositoryName,
    ResourceGroupName, SubscriptionId, Tag, TenantId, UploadId,
};
use acrylic_store::{
    BlobStore, ByteStream, FsBlobStore, MetaStore, RoleAssignmentMode, SqlMetaStore,
};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use time::OffsetDateTime;

use crate::manifest::{Parsed, digest_of, validate};
use crate::*;

// ---------------------------------------------------------------- fixture

struct Fixture {
    _dir: tempfile::TempDir,
    dist: Distribution,
    reg: RegistryId,
    other_reg: RegistryId,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let meta: Arc<dyn MetaStore> = Arc::new(SqlMetaStore::connect(&url).await.unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")).unwrap());
    let reg = registry(&meta, "firstreg").await;
    let other_reg = registry(&meta, "secondreg").await;
    Fixture {
        _dir: dir,
        dist: Distribution::new(meta, blobs),
        reg,
        other_reg,
    }
}

async fn registry(meta: &Arc<dyn MetaStore>, name: &str) -> RegistryId {
    let now = OffsetDateTime::now_utc();
    let r = acrylic_store::Registry {
        id: RegistryId::new_random(),
        name: RegistryName::parse(name).unwrap(),
        tenant_id: TenantId::new_random(),
        subscription_id: SubscriptionId::new_random(),
        resource_group: ResourceGroupName::parse("rg").unwrap(),
        location: "local".into(),
        sku: "Standard".into(),
        login_server: format!("{name}.acrylic.localhost"),
        admin_enabled: true,
        admin_password1_sealed: vec![],
        admin_password2_sealed: vec![],
        anonymous_pull_enabled: false,
        role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
        created_at: now,
        updated_at: now,
    };
    meta.create_registry(&r).await.unwrap();
    r.id
}

fn system() -> Permit {
    Permit::for_system_job("registry-tests")
}

/// A real permit from `authorize`, for one action (the admin user).
fn permit(reg: &RegistryId, repo: &RepositoryName, action: RepoAction) -> Permit {
    let facts = RegistryFacts {
        id: reg.clone(),
        tenant: TenantId::new_random(),
        scope: ArmScope::parse("/subscriptions/x").unwrap(),
        admin_enabled: true,
        anonymous_pull_enabled: false,
        abac: false,
    };
    let principal = Principal::Admin {
        registry: reg.clone(),
    };
    let wanted = Action::Repository(action);
    let decision = authorize(
        &principal,
        Resource::Repository {
            registry: &facts,
            name: repo,
        },
        std::slice::from_ref(&wanted),
        &Grants::default(),
    );
    decision.permit(&wanted).unwrap()
}

fn name(s: &str) -> RepositoryName {
    RepositoryName::parse(s).unwrap()
}

fn sha256(b: &[u8]) -> Digest {
    digest_of(DigestAlgorithm::Sha256, b)
}

fn body(chunks: &[&[u8]]) -> ByteStream {
    let owned: Vec<std::io::Result<Bytes>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(owned))
}

async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

/// Pushes a blob monolithically and returns its digest.
async fn push(repo: &Repository, content: &[u8]) -> Digest {
    let d = sha256(content);
    repo.push_blob(&system(), &d, body(&[content]))
        .await
        .unwrap();
    d
}

fn descriptor(media_type: &str, content: &[u8]) -> serde_json::Value {
    json!({ "mediaType": media_type, "digest": sha256(content).to_string(), "size": content.len() })
}

const CONFIG: &[u8] = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}";
const LAYER: &[u8] = b"layer bytes";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn image_manifest() -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_TYPE, CONFIG),
        "layers": [descriptor(LAYER_TYPE, LAYER)],
    })
    .to_string()
    .into_bytes()
}

/// Pushes config + layer + an image manifest under `tag`.
async fn push_image(repo: &Repository, tag: &str) -> Digest {
    push(repo, CONFIG).await;
    push(repo, LAYER).await;
    let reference = Reference::parse(tag).unwrap();
    repo.put_manifest(
        &system(),
        &reference,
        Some(OCI_MANIFEST),
        image_manifest().into(),
    )
    .await
    .unwrap()
    .digest
}

// ------------------------------------------------------ manifest validation

#[test]
fn manifest_validation_table() {
    let config = descriptor(CONFIG_TYPE, CONFIG);
    let layer = descriptor(LAYER_TYPE, LAYER);
    let child = descriptor(OCI_MANIFEST, b"child");
    let foreign = json!({
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": sha256(b"foreign").to_string(), "size": 7, "urls": ["https://example.com/layer"],
    });
    let ok = |ct: Option<&str>, doc: serde_json::Value| validate(ct, doc.to_string().as_bytes());
    let invalid = |r: &Result<Parsed>| matches!(r, Err(RegistryError::ManifestInvalid(_)));

    // An ordinary OCI image: artifactType falls back to the config type.
    let p = ok(
        Some(OCI_MANIFEST),
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}),
    )
    .unwrap();
    assert_eq!(p.media_type, OCI_MANIFEST);
    assert_eq!(p.blobs, vec![sha256(CONFIG), sha256(LAYER)]);
    assert_eq!(p.artifact_type.as_deref(), Some(CONFIG_TYPE));
    assert_eq!(p.subject, None);

    // Content-Type parameters are ignored; a missing Content-Type is fine
    // when the body says what it is, and the other way round.
    assert!(
        ok(
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []})
        )
        .is_ok()
    );
    assert!(
        ok(
            None,
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []})
        )
        .is_ok()
    );
    assert!(
        ok(
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "config": config, "layers": []})
        )
        .is_ok()
    );

    // Artifact with artifactType, subject and annotations.
    let p = ok(
        Some(OCI_MANIFEST),
        json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
            "config": descriptor("application/vnd.oci.empty.v1+json", b"{}"), "layers": [layer],
            "subject": child, "annotations": {"org.example": "yes"},
        }),
    )
    .unwrap();
    assert_eq!(
        p.artifact_type.as_deref(),
        Some("application/vnd.example.sbom")
    );
    assert_eq!(p.subject, Some(sha256(b"child")));
    assert_eq!(p.annotations.as_deref(), Some(r#"{"org.example":"yes"}"#));

    // Index and Docker list: children, not blobs.
    for mt in [OCI_INDEX, DOCKER_MANIFEST_LIST] {
        let p = ok(
            Some(mt),
            json!({"schemaVersion": 2, "mediaType": mt, "manifests": [child]}),
        )
        .unwrap();
        assert_eq!(
            (p.media_type, p.blobs.len(), p.children.clone()),
            (mt, 0, vec![sha256(b"child")])
        );
    }
    // Docker schema 2: foreign layers with urls are not ours to check.
    let p = ok(
        Some(DOCKER_MANIFEST),
        json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": config, "layers": [layer, foreign]}),
    )
    .unwrap();
    assert_eq!(p.blobs, vec![sha256(CONFIG), sha256(LAYER)]);

    let refused: Vec<(&str, Option<&str>, serde_json::Value)> = vec![
        (
            "Content-Type disagrees with mediaType",
            Some(DOCKER_MANIFEST),
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": []}),
        ),
        (
            "no media type at all",
            None,
            json!({"schemaVersion": 2, "config": config, "layers": []}),
        ),
        (
            "schemaVersion 1",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 1, "mediaType": OCI_MANIFEST, "config": config, "layers": []}),
        ),
        (
            "image with manifests (CVE-2021-41190)",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [], "manifests": []}),
        ),
        (
            "index with layers",
            Some(OCI_INDEX),
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "layers": []}),
        ),
        (
            "image without config",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "layers": []}),
        ),
        (
            "image without layers",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "config": config}),
        ),
        (
            "index without manifests",
            Some(OCI_INDEX),
            json!({"schemaVersion": 2}),
        ),
        (
            "descriptor without size",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "config": {"mediaType": CONFIG_TYPE, "digest": sha256(CONFIG).to_string()}, "layers": []}),
        ),
        (
            "descriptor with a bad digest",
            Some(OCI_MANIFEST),
            json!({"schemaVersion": 2, "config": {"mediaType": CONFIG_TYPE, "digest": "sha256:abc", "size": 1}, "layers": []}),
        ),
        ("not an object", Some(OCI_MANIFEST), json!([1, 2, 3])),
    ];
    for (why, ct, doc) in refused {
        let r = ok(ct, doc);
        assert!(invalid(&r), "{why}: {r:?}");
    }
    assert!(matches!(
        validate(Some(OCI_MANIFEST), b"not json"),
        Err(RegistryError::ManifestInvalid(_))
    ));
    assert!(matches!(
        ok(
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            json!({"schemaVersion": 1})
        ),
        Err(RegistryError::ManifestUnsupported(_))
    ));
}

#[test]
fn listings_cut_with_a_next_marker() {
    let l = Listing::cut(vec!["a", "b", "c"], 2, |s| s.to_string());
    assert_eq!((l.items, l.next), (vec!["a", "b"], Some("b".to_string())));
    let l = Listing::cut(vec!["a", "b"], 2, |s| s.to_string());
    assert_eq!((l.items, l.next), (vec!["a", "b"], None));
    assert_eq!(
        PageRequest {
            n: Some(0),
            last: None
        }
        .limit(),
        None
    );
    assert_eq!(
        PageRequest {
            n: Some(5000),
            last: None
        }
        .limit(),
        Some(MAX_PAGE)
    );
}

// --------------------------------------------------------------- uploads

#[tokio::test]
async fn chunked_upload_offsets_and_commit() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let s = repo.start_upload(&system()).await.unwrap();
    assert_eq!(s.size, 0);

    let s = repo
        .append_chunk(&system(), &s.id, Some(0), body(&[b"hello ", b"wor"]))
        .await
        .unwrap();
    assert_eq!(s.size, 9);
    assert_eq!(repo.upload_status(&s.id).await.unwrap().size, 9);

    // Out of order: the chunk must start where the upload ends.
    for wrong in [0, 5, 10] {
        let e = repo
            .append_chunk(&system(), &s.id, Some(wrong), body(&[b"x"]))
            .await
            .unwrap_err();
        assert!(
            matches!(e, RegistryError::RangeInvalid { current: 9 }),
            "{wrong}: {e:?}"
        );
    }
    // Without Content-Range, appended at the end.
    let s = repo
        .append_chunk(&system(), &s.id, None, body(&[b"ld"]))
        .await
        .unwrap();
    assert_eq!(s.size, 11);

    // Not visible before the commit.
    let d = sha256(b"hello world");
    assert!(matches!(
        repo.stat_blob(&d).await,
        Err(RegistryError::BlobUnknown { .. })
    ));

    // Final chunk in the PUT, at the right offset.
    let full = sha256(b"hello world!");
    let (got, size) = repo
        .complete_upload(&system(), &s.id, &full, Some((Some(11), body(&[b"!"]))))
        .await
        .unwrap();
    assert_eq!((got.clone(), size), (full.clone(), 12));
    assert_eq!(repo.stat_blob(&full).await.unwrap(), 12);
    let read = repo.read_blob(&full, None).await.unwrap();
    assert_eq!(collect(read.body).await, b"hello world!");
    // The session is over.
    assert!(matches!(
        repo.upload_status(&s.id).await,
        Err(RegistryError::UploadUnknown)
    ));
}

#[tokio::test]
async fn a_digest_mismatch_leaves_nothing_visible() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let s = repo.start_upload(&system()).await.unwrap();
    repo.append_chunk(&system(), &s.id, Some(0), body(&[b"actual"]))
        .await
        .unwrap();
    let claimed = sha256(b"claimed");
    let e = repo
        .complete_upload(&system(), &s.id, &claimed, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, RegistryError::DigestMismatch { expected, actual } if *expected == claimed && *actual == sha256(b"actual")),
        "{e:?}"
    );
    assert!(matches!(
        repo.stat_blob(&claimed).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    assert!(matches!(
        repo.stat_blob(&sha256(b"actual")).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    assert!(matches!(
        repo.upload_status(&s.id).await,
        Err(RegistryError::UploadUnknown)
    ));

    // Monolithic too.
    let e = repo
        .push_blob(&system(), &claimed, body(&[b"actual"]))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }));
    assert!(matches!(
        repo.stat_blob(&claimed).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
}

#[tokio::test]
async fn an_upload_is_bound_to_its_registry_and_repository() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let s = repo.start_upload(&system()).await.unwrap();
    let elsewhere = [
        f.dist.repository(f.reg.clone(), name("other")),
        f.dist.repository(f.other_reg.clone(), name("app")),
    ];
    for other in &elsewhere {
        assert!(matches!(
            other.upload_status(&s.id).await,
            Err(RegistryError::UploadUnknown)
        ));
        let e = other
            .append_chunk(&system(), &s.id, None, body(&[b"x"]))
            .await
            .unwrap_err();
        assert!(matches!(e, RegistryError::UploadUnknown));
        let e = other
            .complete_upload(&system(), &s.id, &sha256(b""), None)
            .await
            .unwrap_err();
        assert!(matches!(e, RegistryError::UploadUnknown));
        assert!(matches!(
            other.cancel_upload(&system(), &s.id).await,
            Err(RegistryError::UploadUnknown)
        ));
    }
    // Still alive in its own repository; then cancelled.
    assert_eq!(repo.upload_status(&s.id).await.unwrap().size, 0);
    repo.cancel_upload(&system(), &s.id).await.unwrap();
    assert!(matches!(
        repo.upload_status(&s.id).await,
        Err(RegistryError::UploadUnknown)
    ));
    assert!(matches!(
        repo.upload_status(&UploadId::new_random()).await,
        Err(RegistryError::UploadUnknown)
    ));
}

#[tokio::test]
async fn permits_must_match_the_operation() {
    let f = fixture().await;
    let app = name("app");
    let repo = f.dist.repository(f.reg.clone(), app.clone());
    let pull = permit(&f.reg, &app, RepoAction::Pull);
    let push = permit(&f.reg, &app, RepoAction::Push);
    assert!(matches!(
        repo.start_upload(&pull).await,
        Err(RegistryError::PermitMismatch { needed: "push" })
    ));
    let d = sha256(b"x");
    repo.push_blob(&push, &d, body(&[b"x"])).await.unwrap();
    assert!(matches!(
        repo.delete_blob(&push, &d).await,
        Err(RegistryError::PermitMismatch { needed: "delete" })
    ));
    repo.delete_blob(&permit(&f.reg, &app, RepoAction::Delete), &d)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_permit_for_one_repository_cannot_act_on_another() {
    let f = fixture().await;
    let (a, b) = (name("team-a/app"), name("team-b/app"));
    let push_a = permit(&f.reg, &a, RepoAction::Push);
    let repo_b = f.dist.repository(f.reg.clone(), b.clone());
    assert!(matches!(
        repo_b.start_upload(&push_a).await,
        Err(RegistryError::PermitMismatch { needed: "push" })
    ));
    // The same name in another registry is another repository.
    let foreign_a = f.dist.repository(f.other_reg.clone(), a.clone());
    assert!(matches!(
        foreign_a.start_upload(&push_a).await,
        Err(RegistryError::PermitMismatch { needed: "push" })
    ));
    // A mount source must be proven pullable with a permit for it.
    let repo_a = f.dist.repository(f.reg.clone(), a.clone());
    let d = sha256(b"layer");
    repo_a
        .push_blob(&push_a, &d, body(&[b"layer"]))
        .await
        .unwrap();
    let pull_b = permit(&f.reg, &b, RepoAction::Pull);
    let push_b = permit(&f.reg, &b, RepoAction::Push);
    assert!(matches!(
        repo_b.mount_blob(&push_b, &d, &a, &pull_b).await,
        Err(RegistryError::PermitMismatch { needed: "pull" })
    ));
    let pull_a = permit(&f.reg, &a, RepoAction::Pull);
    assert!(matches!(
        repo_b.mount_blob(&push_b, &d, &a, &pull_a).await,
        Ok(Mount::Mounted { .. })
    ));
}

// ------------------------------------------------------ mounts, isolation

#[tokio::test]
async fn mount_links_only_what_the_source_has() {
    let f = fixture().await;
    let (src, dst) = (name("src"), name("dst"));
    let source = f.dist.repository(f.reg.clone(), src.clone());
    let target = f.dist.repository(f.reg.clone(), dst.clone());
    let d = push(&source, b"shared layer").await;
    let pull_src = permit(&f.reg, &src, RepoAction::Pull);

    assert!(matches!(
        target.stat_blob(&d).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    let m = target
        .mount_blob(&system(), &d, &src, &pull_src)
        .await
        .unwrap();
    assert_eq!(
        m,
        Mount::Mounted {
            digest: d.clone(),
            size: 12
        }
    );
    assert_eq!(target.stat_blob(&d).await.unwrap(), 12);

    // Not in the source: a new session instead.
    let missing = sha256(b"missing");
    match target
        .mount_blob(&system(), &missing, &src, &pull_src)
        .await
        .unwrap()
    {
        Mount::Started(s) => assert_eq!(target.upload_status(&s.id).await.unwrap().size, 0),
        other => panic!("expected a new session, got {other:?}"),
    }
    // The source must be proven pullable with a pull permit.
    let push_src = permit(&f.reg, &src, RepoAction::Push);
    assert!(matches!(
        target.mount_blob(&system(), &d, &src, &push_src).await,
        Err(RegistryError::PermitMismatch { needed: "pull" })
    ));
    // A repository of the same name in another registry is another source.
    let foreign = f.dist.repository(f.other_reg.clone(), dst.clone());
    match foreign
        .mount_blob(&system(), &d, &src, &system())
        .await
        .unwrap()
    {
        Mount::Started(_) => {}
        other => panic!("mounted across registries: {other:?}"),
    }
    assert!(matches!(
        foreign.stat_blob(&d).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
}

#[tokio::test]
async fn blobs_are_reachable_only_where_linked() {
    let f = fixture().await;
    let a = f.dist.repository(f.reg.clone(), name("team/a"));
    let b = f.dist.repository(f.reg.clone(), name("team/b"));
    let a_elsewhere = f.dist.repository(f.other_reg.clone(), name("team/a"));
    let d = push(&a, b"secret of a").await;
    for other in [&b, &a_elsewhere] {
        assert!(matches!(
            other.stat_blob(&d).await,
            Err(RegistryError::BlobUnknown { .. })
        ));
        assert!(matches!(
            other.read_blob(&d, None).await,
            Err(RegistryError::BlobUnknown { .. })
        ));
        assert!(matches!(
            other.delete_blob(&system(), &d).await,
            Err(RegistryError::BlobUnknown { .. })
        ));
    }
    // A manifest in B cannot reference A's blob either.
    let doc = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_TYPE, b"secret of a"), "layers": [],
    });
    let e = b
        .put_manifest(
            &system(),
            &Reference::parse("v1").unwrap(),
            None,
            doc.to_string().into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestBlobUnknown { digest } if digest == d));
    // Deleting in A unlinks it there only.
    b.push_blob(&system(), &d, body(&[b"secret of a"]))
        .await
        .unwrap();
    a.delete_blob(&system(), &d).await.unwrap();
    assert!(matches!(
        a.stat_blob(&d).await,
        Err(RegistryError::BlobUnknown { .. })
    ));
    assert_eq!(b.stat_blob(&d).await.unwrap(), 11);
}

#[tokio::test]
async fn blob_ranges() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let d = push(&repo, b"0123456789").await;
    let r = repo
        .read_blob(&d, Some(ByteRange::FromTo { first: 2, last: 4 }))
        .await
        .unwrap();
    assert_eq!((r.size, r.range.clone()), (10, Some(2..5)));
    assert_eq!(collect(r.body).await, b"234");
    let r = repo
        .read_blob(&d, Some(ByteRange::Suffix { suffix: 3 }))
        .await
        .unwrap();
    assert_eq!(collect(r.body).await, b"789");
    let e = repo
        .read_blob(&d, Some(ByteRange::From { first: 10 }))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, RegistryError::RangeNotSatisfiable { size: 10 }));
}

// ------------------------------------------------------------- manifests

#[tokio::test]
async fn manifests_push_pull_and_delete() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let latest = Reference::parse("latest").unwrap();

    // Blobs first, or MANIFEST_BLOB_UNKNOWN naming the missing one.
    let e = repo
        .put_manifest(
            &system(),
            &latest,
            Some(OCI_MANIFEST),
            image_manifest().into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestBlobUnknown { digest } if digest == sha256(CONFIG)));
    push(&repo, CONFIG).await;
    let e = repo
        .put_manifest(
            &system(),
            &latest,
            Some(OCI_MANIFEST),
            image_manifest().into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestBlobUnknown { digest } if digest == sha256(LAYER)));
    push(&repo, LAYER).await;

    let digest = sha256(&image_manifest());
    let pushed = repo
        .put_manifest(
            &system(),
            &latest,
            Some(OCI_MANIFEST),
            image_manifest().into(),
        )
        .await
        .unwrap();
    assert_eq!(
        pushed,
        PushedManifest {
            digest: digest.clone(),
            subject: None
        }
    );

    // By tag and by digest, the same bytes.
    for r in [latest.clone(), Reference::Digest(digest.clone())] {
        let (info, bytes) = repo.get_manifest(&r).await.unwrap();
        assert_eq!(
            (info.digest, info.media_type.as_str()),
            (digest.clone(), OCI_MANIFEST)
        );
        assert_eq!(bytes.as_ref(), image_manifest().as_slice());
        assert_eq!(
            repo.stat_manifest(&r).await.unwrap().size,
            image_manifest().len() as u64
        );
    }
    // The manifest itself is a blob of the repository.
    assert_eq!(
        repo.stat_blob(&digest).await.unwrap(),
        image_manifest().len() as u64
    );

    // Push by digest: must match the body.
    let wrong = Reference::Digest(sha256(b"something else"));
    let e = repo
        .put_manifest(
            &system(),
            &wrong,
            Some(OCI_MANIFEST),
            image_manifest().into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }));
    repo.put_manifest(
        &system(),
        &Reference::Digest(digest.clone()),
        Some(OCI_MANIFEST),
        image_manifest().into(),
    )
    .await
    .unwrap();

    // Too large.
    let huge = vec![b' '; MAX_MANIFEST_SIZE + 1];
    let e = repo
        .put_manifest(&system(), &latest, Some(OCI_MANIFEST), huge.into())
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestTooLarge { .. }));

    // Another repository does not see it.
    let other = f.dist.repository(f.reg.clone(), name("other"));
    assert!(matches!(
        other.get_manifest(&latest).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    assert!(matches!(
        other.get_manifest(&Reference::Digest(digest.clone())).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));

    // Delete by tag removes the tag only.
    repo.put_manifest(
        &system(),
        &Reference::parse("v1").unwrap(),
        Some(OCI_MANIFEST),
        image_manifest().into(),
    )
    .await
    .unwrap();
    repo.delete_manifest(&system(), &latest).await.unwrap();
    assert!(matches!(
        repo.stat_manifest(&latest).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    assert!(
        repo.stat_manifest(&Reference::Digest(digest.clone()))
            .await
            .is_ok()
    );
    assert!(matches!(
        repo.delete_manifest(&system(), &latest).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    // Delete by digest removes the manifest and its other tags.
    repo.delete_manifest(&system(), &Reference::Digest(digest.clone()))
        .await
        .unwrap();
    assert!(matches!(
        repo.stat_manifest(&Reference::parse("v1").unwrap()).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
    assert!(matches!(
        repo.stat_manifest(&Reference::Digest(digest)).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
}

#[tokio::test]
async fn index_children_must_be_manifests_here() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("multi"));
    let child = push_image(&repo, "amd64").await;
    let child_desc = json!({"mediaType": OCI_MANIFEST, "digest": child.to_string(), "size": image_manifest().len()});
    let index =
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child_desc]}).to_string();
    repo.put_manifest(
        &system(),
        &Reference::parse("latest").unwrap(),
        Some(OCI_INDEX),
        index.clone().into(),
    )
    .await
    .unwrap();

    // A blob that is not a manifest does not do as a child.
    let blob = sha256(LAYER);
    let bad = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": blob.to_string(), "size": LAYER.len()}]});
    let e = repo
        .put_manifest(
            &system(),
            &Reference::parse("bad").unwrap(),
            Some(OCI_INDEX),
            bad.to_string().into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestBlobUnknown { digest } if digest == blob));

    // Nor does a manifest of another repository.
    let other = f.dist.repository(f.reg.clone(), name("elsewhere"));
    let e = other
        .put_manifest(
            &system(),
            &Reference::parse("latest").unwrap(),
            Some(OCI_INDEX),
            index.into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestBlobUnknown { digest } if digest == child));
}

#[tokio::test]
async fn referrers_by_subject_with_artifact_type_filter() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    let subject = push_image(&repo, "v1").await;
    let empty = push(&repo, b"{}").await;
    let subject_desc = json!({"mediaType": OCI_MANIFEST, "digest": subject.to_string(), "size": image_manifest().len()});
    let artifact = |artifact_type: &str, note: &str| {
        json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
            "layers": [], "subject": subject_desc, "annotations": {"note": note},
        })
        .to_string()
    };
    let sbom = artifact("application/vnd.example.sbom", "one");
    let sig = artifact("application/vnd.example.signature", "two");
    for doc in [&sbom, &sig] {
        let d = sha256(doc.as_bytes());
        let pushed = repo
            .put_manifest(
                &system(),
                &Reference::Digest(d),
                Some(OCI_MANIFEST),
                doc.clone().into(),
            )
            .await
            .unwrap();
        assert_eq!(pushed.subject.as_ref(), Some(&subject));
    }
    // An image manifest without artifactType reports its config type.
    let plain = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor(CONFIG_TYPE, CONFIG), "layers": [], "subject": subject_desc,
    })
    .to_string();
    repo.put_manifest(
        &system(),
        &Reference::parse("plain").unwrap(),
        None,
        plain.into(),
    )
    .await
    .unwrap();

    let all = repo.referrers(&subject, None).await.unwrap();
    assert!(!all.filtered);
    assert_eq!(all.index.media_type, OCI_INDEX);
    let mut types: Vec<_> = all
        .index
        .manifests
        .iter()
        .map(|m| m.artifact_type.clone().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "application/vnd.example.sbom",
            "application/vnd.example.signature",
            CONFIG_TYPE
        ]
    );

    let only = repo
        .referrers(&subject, Some("application/vnd.example.sbom"))
        .await
        .unwrap();
    assert!(only.filtered);
    assert_eq!(only.index.manifests.len(), 1);
    let m = &only.index.manifests[0];
    assert_eq!(m.digest, sha256(sbom.as_bytes()));
    assert_eq!(
        (m.size, m.media_type.as_str()),
        (sbom.len() as u64, OCI_MANIFEST)
    );
    assert_eq!(m.annotations, Some(json!({"note": "one"})));

    // Unknown subject, or another repository: an empty index, not an error.
    assert!(
        repo.referrers(&sha256(b"nothing"), None)
            .await
            .unwrap()
            .index
            .manifests
            .is_empty()
    );
    let other = f.dist.repository(f.reg.clone(), name("other"));
    assert!(
        other
            .referrers(&subject, None)
            .await
            .unwrap()
            .index
            .manifests
            .is_empty()
    );

    // The subject need not exist when the referrer is pushed (dist-spec v1.1).
    let orphan_subject =
        json!({"mediaType": OCI_MANIFEST, "digest": sha256(b"later").to_string(), "size": 5});
    let orphan = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [], "subject": orphan_subject,
    })
    .to_string();
    let d = sha256(orphan.as_bytes());
    repo.put_manifest(
        &system(),
        &Reference::Digest(d.clone()),
        Some(OCI_MANIFEST),
        orphan.into(),
    )
    .await
    .unwrap();
    let listed = repo.referrers(&sha256(b"later"), None).await.unwrap();
    assert_eq!(
        listed
            .index
            .manifests
            .iter()
            .map(|m| m.digest.clone())
            .collect::<Vec<_>>(),
        vec![d]
    );
}

// -------------------------------------------------------------- listings

#[tokio::test]
async fn tags_and_catalog_paginate() {
    let f = fixture().await;
    let repo = f.dist.repository(f.reg.clone(), name("app"));
    assert!(matches!(
        repo.tags(&PageRequest::default()).await,
        Err(RegistryError::NameUnknown { .. })
    ));
    for t in ["c", "a", "b", "d"] {
        push_image(&repo, t).await;
    }
    let page = |n: u32, last: Option<&str>| PageRequest {
        n: Some(n),
        last: last.map(str::to_owned),
    };
    let tags = |l: Listing<Tag>| {
        (
            l.items.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            l.next,
        )
    };
    assert_eq!(
        tags(repo.tags(&page(2, None)).await.unwrap()),
        (vec!["a".into(), "b".into()], Some("b".into()))
    );
    assert_eq!(
        tags(repo.tags(&page(2, Some("b"))).await.unwrap()),
        (vec!["c".into(), "d".into()], None)
    );
    assert_eq!(
        tags(repo.tags(&page(0, None)).await.unwrap()),
        (vec![], None)
    );
    assert_eq!(
        tags(repo.tags(&PageRequest::default()).await.unwrap())
            .0
            .len(),
        4
    );

    for n in ["z", "m/x", "a"] {
        push(&f.dist.repository(f.reg.clone(), name(n)), b"x").await;
    }
    push(
        &f.dist.repository(f.other_reg.clone(), name("hidden")),
        b"x",
    )
    .await;
    let names = |l: Listing<RepositoryName>| {
        (
            l.items.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            l.next,
        )
    };
    assert_eq!(
        names(f.dist.catalog(&f.reg, &page(3, None)).await.unwrap()),
        (
            vec!["a".into(), "app".into(), "m/x".into()],
            Some("m/x".into())
        )
    );
    assert_eq!(
        names(f.dist.catalog(&f.reg, &page(3, Some("m/x"))).await.unwrap()),
        (vec!["z".into()], None)
    );
    assert_eq!(
        names(
            f.dist
                .catalog(&f.other_reg, &PageRequest::default())
                .await
                .unwrap()
        ),
        (vec!["hidden".into()], None)
    );
}
