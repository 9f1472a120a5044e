//! ACR metadata and changeable-attribute enforcement, against the real
//! stores (SQLite in a temp dir, the file-system blob store).

use std::sync::Arc;

use acrylic_authz::{
    Action, Grants, Permit, Principal, RegistryFacts, RepoAction, Resource, authorize,
};
use acrylic_model::{
    ArmScope, Digest, DigestAlgorithm, Reference, RegistryId, RegistryName, RepositoryName,
    ResourceGroupName, SubscriptionId, Tag, TenantId,
};
use acrylic_store::{BlobStore, FsBlobStore, MetaStore, RoleAssignmentMode, SqlMetaStore};
use bytes::Bytes;
use serde_json::json;
use time::OffsetDateTime;

use crate::manifest::digest_of;
use crate::*;

struct Fixture {
    _dir: tempfile::TempDir,
    dist: Distribution,
    reg: RegistryId,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let meta: Arc<dyn MetaStore> = Arc::new(SqlMetaStore::connect(&url).await.unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path().join("blobs")).unwrap());
    let now = OffsetDateTime::now_utc();
    let reg = RegistryId::new_random();
    meta.create_registry(&acrylic_store::Registry {
        id: reg.clone(),
        name: RegistryName::parse("metareg").unwrap(),
        tenant_id: TenantId::new_random(),
        subscription_id: SubscriptionId::new_random(),
        resource_group: ResourceGroupName::parse("rg").unwrap(),
        location: "local".into(),
        sku: "Standard".into(),
        login_server: "metareg.acrylic.localhost".into(),
        admin_enabled: true,
        admin_password1_sealed: vec![],
        admin_password2_sealed: vec![],
        anonymous_pull_enabled: false,
        role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
        created_at: now,
        updated_at: now,
    })
    .await
    .unwrap();
    Fixture {
        _dir: dir,
        dist: Distribution::new(meta, blobs),
        reg,
    }
}

impl Fixture {
    fn repo(&self, name: &str) -> Repository {
        self.dist
            .repository(self.reg.clone(), RepositoryName::parse(name).unwrap())
    }
}

/// A real permit from `authorize` for the admin user.
fn permit(reg: &RegistryId, repo: &Repository, action: RepoAction) -> Permit {
    let facts = RegistryFacts {
        id: reg.clone(),
        tenant: TenantId::new_random(),
        scope: ArmScope::parse("/subscriptions/x").unwrap(),
        admin_enabled: true,
        anonymous_pull_enabled: false,
        abac: false,
    };
    let wanted = Action::Repository(action);
    authorize(
        &Principal::Admin {
            registry: reg.clone(),
        },
        Resource::Repository {
            registry: &facts,
            name: repo.name(),
        },
        std::slice::from_ref(&wanted),
        &Grants::default(),
    )
    .permit(&wanted)
    .unwrap()
}

fn system() -> Permit {
    Permit::for_system_job("metadata-tests")
}

fn tag(s: &str) -> Tag {
    Tag::parse(s).unwrap()
}

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

const CONFIG: &[u8] =
    br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

fn sha256(b: &[u8]) -> Digest {
    digest_of(DigestAlgorithm::Sha256, b)
}

async fn push_blob(repo: &Repository, content: &[u8]) {
    let stream: acrylic_store::ByteStream = Box::pin(futures::stream::iter(vec![Ok(
        Bytes::copy_from_slice(content),
    )]));
    repo.push_blob(&system(), &sha256(content), stream)
        .await
        .unwrap();
}

/// An image manifest whose layer is `layer`.
fn manifest(layer: &[u8]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(CONFIG).to_string(), "size": CONFIG.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer).to_string(), "size": layer.len()}],
    })
    .to_string()
    .into_bytes()
}

/// Pushes an image with layer `layer` as `reference`; returns its digest.
async fn push(repo: &Repository, reference: &str, layer: &[u8]) -> Result<Digest> {
    push_blob(repo, CONFIG).await;
    push_blob(repo, layer).await;
    repo.put_manifest(
        &system(),
        &r(reference),
        Some(OCI_MANIFEST),
        manifest(layer).into(),
    )
    .await
    .map(|p| p.digest)
}

fn patch(f: impl FnOnce(&mut AttributesPatch)) -> AttributesPatch {
    let mut p = AttributesPatch::default();
    f(&mut p);
    p
}

/// Asserts `result` is refused by `attribute` on `on`, with a message that
/// says how to change it.
#[track_caller]
fn disallowed<T: std::fmt::Debug>(result: Result<T>, on: Locked, attribute: Attribute) {
    match result {
        Err(RegistryError::Disallowed(d)) => {
            assert_eq!((&d.on, d.attribute), (&on, attribute));
            let message = d.to_string();
            assert!(
                message.contains(attribute.as_str())
                    && message.contains(&format!("PATCH {}", on.path()))
                    && message.contains("az acr repository update"),
                "{message}"
            );
        }
        other => panic!("expected {attribute:?} on {on} to refuse, got {other:?}"),
    }
}

#[tokio::test]
async fn tag_locks_refuse_overwrite_delete_and_pull() {
    let f = fixture().await;
    let repo = f.repo("team/app");
    let name = repo.name().clone();
    let d1 = push(&repo, "v1", b"one").await.unwrap();
    let write = permit(&f.reg, &repo, RepoAction::MetadataWrite);
    let delete = permit(&f.reg, &repo, RepoAction::Delete);

    repo.update_tag_attributes(
        &write,
        &tag("v1"),
        &patch(|p| p.write_enabled = Some(false)),
    )
    .await
    .unwrap();
    let locked_v1 = Locked::Tag(name.clone(), tag("v1"));
    // Overwriting the tag, even with the same content, is refused.
    disallowed(
        push(&repo, "v1", b"two").await,
        locked_v1.clone(),
        Attribute::Write,
    );
    disallowed(
        push(&repo, "v1", b"one").await,
        locked_v1.clone(),
        Attribute::Write,
    );
    // Untagging, deleting by tag, and deleting the manifest it points at.
    disallowed(
        repo.untag(&delete, &tag("v1")).await,
        locked_v1.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_manifest(&delete, &r("v1")).await,
        locked_v1.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_manifest(&delete, &Reference::Digest(d1.clone()))
            .await,
        locked_v1.clone(),
        Attribute::Write,
    );
    // Other tags, and a new tag for the same manifest, are not locked.
    push(&repo, "v2", b"two").await.unwrap();
    assert_eq!(push(&repo, "same", b"one").await.unwrap(), d1);
    repo.untag(&delete, &tag("same")).await.unwrap();
    // Pulls still work.
    assert_eq!(repo.stat_manifest(&r("v1")).await.unwrap().digest, d1);

    // deleteEnabled alone allows overwriting but not deleting.
    repo.update_tag_attributes(
        &write,
        &tag("v1"),
        &patch(|p| {
            p.write_enabled = Some(true);
            p.delete_enabled = Some(false);
        }),
    )
    .await
    .unwrap();
    let d3 = push(&repo, "v1", b"three").await.unwrap();
    disallowed(
        repo.untag(&delete, &tag("v1")).await,
        locked_v1.clone(),
        Attribute::Delete,
    );
    // The old manifest lost its locked tag: it may go now.
    repo.delete_manifest(&delete, &Reference::Digest(d1.clone()))
        .await
        .unwrap();

    // readEnabled refuses pulls by the tag, not by digest.
    repo.update_tag_attributes(&write, &tag("v1"), &patch(|p| p.read_enabled = Some(false)))
        .await
        .unwrap();
    disallowed(
        repo.get_manifest(&r("v1")).await,
        locked_v1.clone(),
        Attribute::Read,
    );
    disallowed(
        repo.stat_manifest(&r("v1")).await,
        locked_v1.clone(),
        Attribute::Read,
    );
    assert_eq!(
        repo.stat_manifest(&Reference::Digest(d3.clone()))
            .await
            .unwrap()
            .digest,
        d3
    );

    // Unlocked, it can go.
    repo.update_tag_attributes(
        &write,
        &tag("v1"),
        &patch(|p| p.delete_enabled = Some(true)),
    )
    .await
    .unwrap();
    repo.untag(&delete, &tag("v1")).await.unwrap();
    assert!(matches!(
        repo.tag_detail(&tag("v1")).await,
        Err(RegistryError::TagUnknown { .. })
    ));
    assert!(matches!(
        repo.untag(&delete, &tag("v1")).await,
        Err(RegistryError::TagUnknown { .. })
    ));
}

#[tokio::test]
async fn manifest_and_repository_locks() {
    let f = fixture().await;
    let repo = f.repo("team/app");
    let name = repo.name().clone();
    let d1 = push(&repo, "v1", b"one").await.unwrap();
    let write = permit(&f.reg, &repo, RepoAction::MetadataWrite);
    let delete = permit(&f.reg, &repo, RepoAction::Delete);
    let by_digest = Reference::Digest(d1.clone());
    let locked_m1 = Locked::Manifest(name.clone(), d1.clone());

    // A write-locked manifest: no re-push by digest, no deletion; a new
    // tag may still point at it, and the tag may be removed.
    repo.update_manifest_attributes(&write, &d1, &patch(|p| p.write_enabled = Some(false)))
        .await
        .unwrap();
    disallowed(
        push(&repo, &d1.to_string(), b"one").await,
        locked_m1.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_manifest(&delete, &by_digest).await,
        locked_m1.clone(),
        Attribute::Write,
    );
    push(&repo, "v1-again", b"one").await.unwrap();
    repo.untag(&delete, &tag("v1-again")).await.unwrap();
    // readEnabled on the manifest refuses every way of pulling it.
    repo.update_manifest_attributes(&write, &d1, &patch(|p| p.read_enabled = Some(false)))
        .await
        .unwrap();
    disallowed(
        repo.get_manifest(&r("v1")).await,
        locked_m1.clone(),
        Attribute::Read,
    );
    disallowed(
        repo.stat_manifest(&by_digest).await,
        locked_m1.clone(),
        Attribute::Read,
    );
    repo.update_manifest_attributes(
        &write,
        &d1,
        &patch(|p| {
            p.write_enabled = Some(true);
            p.read_enabled = Some(true);
        }),
    )
    .await
    .unwrap();

    // A write-locked repository: no pushes, no deletions of anything in it.
    let locked_repo = Locked::Repository(name.clone());
    repo.update_attributes(&write, &patch(|p| p.write_enabled = Some(false)))
        .await
        .unwrap();
    disallowed(
        push(&repo, "v2", b"two").await,
        locked_repo.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_manifest(&delete, &by_digest).await,
        locked_repo.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.untag(&delete, &tag("v1")).await,
        locked_repo.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_blob(&delete, &sha256(CONFIG)).await,
        locked_repo.clone(),
        Attribute::Write,
    );
    disallowed(
        repo.delete_repository(&delete).await,
        locked_repo.clone(),
        Attribute::Write,
    );
    // Absent things are still unknown, not refused.
    assert!(matches!(
        repo.untag(&delete, &tag("nope")).await,
        Err(RegistryError::TagUnknown { .. })
    ));

    // deleteEnabled on the repository protects only the repository.
    repo.update_attributes(
        &write,
        &patch(|p| {
            p.write_enabled = Some(true);
            p.delete_enabled = Some(false);
        }),
    )
    .await
    .unwrap();
    let d2 = push(&repo, "v2", b"two").await.unwrap();
    repo.delete_manifest(&delete, &Reference::Digest(d2))
        .await
        .unwrap();
    disallowed(
        repo.delete_repository(&delete).await,
        locked_repo.clone(),
        Attribute::Delete,
    );
    // readEnabled on the repository refuses every pull in it.
    repo.update_attributes(
        &write,
        &patch(|p| {
            p.delete_enabled = Some(true);
            p.read_enabled = Some(false);
        }),
    )
    .await
    .unwrap();
    disallowed(
        repo.get_manifest(&r("v1")).await,
        locked_repo.clone(),
        Attribute::Read,
    );
    repo.update_attributes(&write, &patch(|p| p.read_enabled = Some(true)))
        .await
        .unwrap();

    // A locked manifest inside keeps the repository from being deleted.
    repo.update_manifest_attributes(&write, &d1, &patch(|p| p.delete_enabled = Some(false)))
        .await
        .unwrap();
    disallowed(
        repo.delete_repository(&delete).await,
        locked_m1,
        Attribute::Delete,
    );
    repo.update_manifest_attributes(&write, &d1, &patch(|p| p.delete_enabled = Some(true)))
        .await
        .unwrap();
    repo.delete_repository(&delete).await.unwrap();
    assert!(matches!(
        repo.details().await,
        Err(RegistryError::NameUnknown { .. })
    ));
    assert!(matches!(
        repo.delete_repository(&delete).await,
        Err(RegistryError::NameUnknown { .. })
    ));
    assert!(matches!(
        repo.stat_manifest(&r("v1")).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
}

#[tokio::test]
async fn details_listings_and_list_enabled() {
    let f = fixture().await;
    let repo = f.repo("team/app");
    let write = permit(&f.reg, &repo, RepoAction::MetadataWrite);
    let d1 = push(&repo, "v1", b"one").await.unwrap();
    let d2 = push(&repo, "v2", b"two").await.unwrap();
    push(&repo, "v3", b"two").await.unwrap();
    push(&f.repo("team/hidden"), "x", b"x").await.unwrap();

    let details = repo.details().await.unwrap();
    assert_eq!((details.manifest_count, details.tag_count), (2, 3));
    assert_eq!(details.attributes, ChangeableAttributes::default());

    // Config details are recorded at push.
    let m = repo.manifest_metadata(&d2).await.unwrap();
    assert_eq!(
        (
            m.detail.config.media_type.as_deref(),
            m.detail.config.architecture.as_deref(),
            m.detail.config.os.as_deref(),
            m.tags.clone()
        ),
        (
            Some(CONFIG_TYPE),
            Some("arm64"),
            Some("linux"),
            vec![tag("v2"), tag("v3")]
        )
    );
    assert_eq!(m.detail.record.media_type, OCI_MANIFEST);

    // Time order follows the last update; `next` names the last item.
    repo.update_tag_attributes(&write, &tag("v1"), &AttributesPatch::default())
        .await
        .unwrap();
    let query = |order, n, last: Option<&str>| MetadataQuery {
        page: PageRequest {
            n,
            last: last.map(str::to_owned),
        },
        order,
        digest: None,
    };
    let names = |l: &Listing<TagDetail>| {
        l.items
            .iter()
            .map(|t| t.record.name.to_string())
            .collect::<Vec<_>>()
    };
    let page1 = repo
        .tag_details(&query(ListOrder::TimeDesc, Some(1), None))
        .await
        .unwrap();
    assert_eq!(
        (names(&page1), page1.next.as_deref()),
        (vec!["v1".to_owned()], Some("v1"))
    );
    let all = repo
        .tag_details(&query(ListOrder::Name, None, None))
        .await
        .unwrap();
    assert_eq!(
        (names(&all), all.next),
        (vec!["v1".into(), "v2".into(), "v3".into()], None)
    );
    let for_d2 = repo
        .tag_details(&MetadataQuery {
            digest: Some(d2.clone()),
            ..MetadataQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(names(&for_d2), vec!["v2", "v3"]);

    // listEnabled hides a tag from every listing, not from a direct read.
    repo.update_tag_attributes(&write, &tag("v3"), &patch(|p| p.list_enabled = Some(false)))
        .await
        .unwrap();
    let listed = repo.tags(&PageRequest::default()).await.unwrap();
    assert_eq!(listed.items, vec![tag("v1"), tag("v2")]);
    let all = repo
        .tag_details(&query(ListOrder::Name, None, None))
        .await
        .unwrap();
    assert_eq!(names(&all), vec!["v1", "v2"]);
    assert!(
        !repo
            .tag_detail(&tag("v3"))
            .await
            .unwrap()
            .attributes
            .list_enabled
    );
    let manifests = repo
        .manifest_details(&MetadataQuery::default())
        .await
        .unwrap();
    let with_tags: Vec<(Digest, Vec<Tag>)> = manifests
        .items
        .iter()
        .map(|m| (m.detail.record.digest.clone(), m.tags.clone()))
        .collect();
    let mut want = vec![(d1.clone(), vec![tag("v1")]), (d2.clone(), vec![tag("v2")])];
    want.sort();
    assert_eq!(with_tags, want);
    // …and a manifest from `_manifests`, and a repository from the catalog.
    repo.update_manifest_attributes(&write, &d1, &patch(|p| p.list_enabled = Some(false)))
        .await
        .unwrap();
    let manifests = repo
        .manifest_details(&MetadataQuery::default())
        .await
        .unwrap();
    assert_eq!(manifests.items.len(), 1);
    assert_eq!(manifests.items[0].detail.record.digest, d2);
    let hidden = f.repo("team/hidden");
    hidden
        .update_attributes(
            &permit(&f.reg, &hidden, RepoAction::MetadataWrite),
            &patch(|p| p.list_enabled = Some(false)),
        )
        .await
        .unwrap();
    let catalog = f
        .dist
        .catalog(&f.reg, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(catalog.items, vec![repo.name().clone()]);
    assert!(hidden.details().await.is_ok());

    // Missing things have their own errors.
    let absent = f.repo("absent");
    assert!(matches!(
        absent.details().await,
        Err(RegistryError::NameUnknown { .. })
    ));
    assert!(matches!(
        absent.tag_details(&MetadataQuery::default()).await,
        Err(RegistryError::NameUnknown { .. })
    ));
    assert!(matches!(
        absent.manifest_details(&MetadataQuery::default()).await,
        Err(RegistryError::NameUnknown { .. })
    ));
    assert!(matches!(
        repo.manifest_metadata(&sha256(b"none")).await,
        Err(RegistryError::ManifestUnknown { .. })
    ));
}

#[tokio::test]
async fn metadata_changes_need_their_permits() {
    let f = fixture().await;
    let repo = f.repo("team/app");
    let d1 = push(&repo, "v1", b"one").await.unwrap();
    let push_permit = permit(&f.reg, &repo, RepoAction::Push);
    let read = permit(&f.reg, &repo, RepoAction::MetadataRead);
    let mismatch = |r: Result<()>| matches!(r, Err(RegistryError::PermitMismatch { .. }));
    let none = AttributesPatch::default();
    assert!(mismatch(
        repo.update_attributes(&read, &none).await.map(|_| ())
    ));
    assert!(mismatch(
        repo.update_tag_attributes(&push_permit, &tag("v1"), &none)
            .await
            .map(|_| ())
    ));
    assert!(mismatch(
        repo.update_manifest_attributes(&read, &d1, &none)
            .await
            .map(|_| ())
    ));
    assert!(mismatch(repo.untag(&read, &tag("v1")).await));
    assert!(mismatch(repo.delete_repository(&push_permit).await));
    // Nothing changed.
    assert_eq!(repo.details().await.unwrap().tag_count, 1);
}
