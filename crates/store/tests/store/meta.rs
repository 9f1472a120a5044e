//! The `MetaStore` conformance suite: written once against
//! `Arc<dyn MetaStore>`, run against every adapter.
//!
//! - SQLite: always, on a temporary file.
//! - PostgreSQL: when `DATABASE_URL` is set, in a fresh database created for
//!   the run and dropped afterwards. `ACRYLIC_REQUIRE_POSTGRES=1` turns a
//!   missing or unreachable server into a failure instead of a skip.
//!   `scripts/pg-throwaway.sh` starts a throwaway server.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use acrylic_model::{
    ArmScope, Digest, ObjectId, RegistryId, RegistryName, RepositoryName, ResourceGroupName,
    SubscriptionId, Tag, TenantId, UploadId,
};
use acrylic_store::{
    AttributeTarget, AuditFilter, AuditRecord, ChangeableAttributes, ListOrder, ManifestConfig,
    ManifestQuery, ManifestRecord, MetaStore, Page, PrincipalType, Registry, ResourceGroup,
    RoleAssignment, RoleAssignmentMode, SigningKey, SqlMetaStore, StoreError, Subscription,
    TagQuery, Tenant, UploadRecord, User,
};
use futures::FutureExt;
use sqlx::migrate::MigrateDatabase;
use time::{Duration, OffsetDateTime};

// ---- adapters ---------------------------------------------------------------

#[tokio::test]
async fn sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("meta.db").display());
    let store = SqlMetaStore::connect(&url)
        .await
        .expect("connect to SQLite");
    assert_eq!(store.backend(), "sqlite");
    conformance(Arc::new(store.clone())).await;
    store.close().await;

    // Migrations are idempotent and the data is on disk.
    let again = SqlMetaStore::connect(&url)
        .await
        .expect("reconnect to SQLite");
    assert_eq!(
        again.find_setting("suite").await.expect("find_setting"),
        Some("done".to_owned())
    );
    again.close().await;
}

#[tokio::test]
async fn postgres() {
    let required = std::env::var("ACRYLIC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let base = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if required => panic!(
            "ACRYLIC_REQUIRE_POSTGRES=1 but DATABASE_URL is not set: start a server with \
             `eval \"$(scripts/pg-throwaway.sh start 55432)\"`"
        ),
        _ => {
            eprintln!("skipping PostgreSQL: DATABASE_URL not set");
            return;
        }
    };
    sqlx::any::install_default_drivers();
    let mut url = url::Url::parse(&base).expect("DATABASE_URL is not a URL");
    let db = format!("acrylic_test_{}", uuid::Uuid::new_v4().simple());
    url.set_path(&format!("/{db}"));
    let url = url.to_string();
    // DATABASE_URL is set, so the caller wants PostgreSQL tested: an
    // unreachable server is a failure whether or not it is required.
    if let Err(e) = sqlx::Any::create_database(&url).await {
        panic!("PostgreSQL at DATABASE_URL is unreachable or refused CREATE DATABASE {db}: {e}");
    }

    let outcome = AssertUnwindSafe(async {
        let store = SqlMetaStore::connect(&url)
            .await
            .expect("connect to PostgreSQL");
        assert_eq!(store.backend(), "postgres");
        conformance(Arc::new(store.clone())).await;
        store.close().await;
        // A second connect finds the schema migrated (and the lock free).
        let again = SqlMetaStore::connect(&url)
            .await
            .expect("reconnect to PostgreSQL");
        assert_eq!(
            again.find_setting("suite").await.expect("find_setting"),
            Some("done".to_owned())
        );
        again.close().await;
    })
    .catch_unwind()
    .await;

    if let Err(e) = sqlx::Any::force_drop_database(&url).await {
        eprintln!("could not drop test database {db}: {e}");
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// ---- helpers ----------------------------------------------------------------

/// Now, at the store's precision (milliseconds), so records round-trip equal.
fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

fn digest(n: u32) -> Digest {
    Digest::parse(&format!("sha256:{n:064x}")).expect("valid digest")
}

fn repo(s: &str) -> RepositoryName {
    RepositoryName::parse(s).expect("valid repository name")
}

fn tag(s: &str) -> Tag {
    Tag::parse(s).expect("valid tag")
}

fn rg(s: &str) -> ResourceGroupName {
    ResourceGroupName::parse(s).expect("valid resource group")
}

fn page(last: Option<&str>, n: Option<u32>) -> Page {
    Page {
        last: last.map(str::to_owned),
        n,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

fn registry(name: &str, sub: SubscriptionId, group: &str, tenant: TenantId) -> Registry {
    let name = RegistryName::parse(name).expect("valid registry name");
    let at = now();
    Registry {
        id: RegistryId::new_random(),
        login_server: format!("{name}.acrylic.localhost:5000"),
        name,
        tenant_id: tenant,
        subscription_id: sub,
        resource_group: rg(group),
        location: "westeurope".into(),
        sku: "Standard".into(),
        admin_enabled: false,
        admin_password1_sealed: vec![1, 2, 3, 0, 255],
        admin_password2_sealed: vec![4, 5, 6],
        anonymous_pull_enabled: false,
        role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
        created_at: at,
        updated_at: at,
    }
}

fn manifest(
    reg: &RegistryId,
    repository: &RepositoryName,
    d: Digest,
    subject: Option<Digest>,
) -> ManifestRecord {
    ManifestRecord {
        registry_id: reg.clone(),
        repository: repository.clone(),
        digest: d,
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 1234,
        artifact_type: subject
            .as_ref()
            .map(|_| "application/vnd.example.sbom".to_owned()),
        subject,
        annotations: Some(r#"{"org.opencontainers.image.created":"2026-12-01T00:00:00Z"}"#.into()),
        created_at: now(),
    }
}

/// Everything the suite needs from the directory, made once.
struct World {
    tenant: TenantId,
    sub: SubscriptionId,
}

// ---- the suite --------------------------------------------------------------

async fn conformance(store: Arc<dyn MetaStore>) {
    let s = store.as_ref();
    s.ping().await.expect("ping");
    settings(&store).await;
    let world = directory(s).await;
    users(s, &world).await;
    role_assignments(s, &world).await;
    signing_keys(s, &world).await;
    registries(s, &world).await;
    aad_auth_as_arm_policy(s, &world).await;
    content(s, &world).await;
    attributes(s, &world).await;
    uploads(s, &world).await;
    audit(s).await;
    delete_registry(s, &world).await;
    concurrent_writes(&store, &world).await;
    crate::directory::suite(s, world.tenant).await;
    crate::rbac::suite(s, world.tenant, world.sub).await;
    crate::repo_tokens::suite(&store, world.tenant, world.sub).await;
    crate::apps::suite(s, world.tenant).await;
    crate::identities::suite(s, world.tenant, world.sub).await;
    s.put_setting("suite", "done").await.expect("put_setting");
}

async fn settings(store: &Arc<dyn MetaStore>) {
    let s = store.as_ref();
    assert_eq!(s.find_setting("bootstrap").await.expect("find"), None);
    assert!(
        s.insert_setting_if_absent("bootstrap", "one")
            .await
            .expect("insert")
    );
    assert!(
        !s.insert_setting_if_absent("bootstrap", "two")
            .await
            .expect("insert again")
    );
    assert_eq!(
        s.find_setting("bootstrap").await.expect("find"),
        Some("one".into())
    );
    s.put_setting("bootstrap", "three").await.expect("put over");
    s.put_setting("fresh", "x").await.expect("put new");
    assert_eq!(
        s.find_setting("bootstrap").await.expect("find"),
        Some("three".into())
    );
    assert_eq!(
        s.find_setting("fresh").await.expect("find"),
        Some("x".into())
    );

    // Replicas racing to bootstrap: exactly one insert wins.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.insert_setting_if_absent("race", &i.to_string()).await },
            )
        })
        .collect();
    let mut winners = 0;
    for r in racers {
        if r.await.expect("join").expect("insert_setting_if_absent") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn directory(s: &dyn MetaStore) -> World {
    let at = now();
    let t1 = Tenant {
        id: TenantId::new_random(),
        domain: "Contoso.Example".into(),
        display_name: "Contoso".into(),
        created_at: at,
    };
    let t2 = Tenant {
        id: TenantId::new_random(),
        domain: "fabrikam.example".into(),
        display_name: "Fabrikam".into(),
        created_at: at + Duration::milliseconds(1),
    };
    s.create_tenant(&t1).await.expect("create tenant");
    s.create_tenant(&t2).await.expect("create second tenant");
    assert_eq!(s.find_tenant(&t1.id).await.expect("find"), Some(t1.clone()));
    assert_eq!(
        s.find_tenant(&TenantId::new_random()).await.expect("find"),
        None
    );
    assert_eq!(
        s.find_tenant_by_domain("contoso.EXAMPLE")
            .await
            .expect("by domain"),
        Some(t1.clone())
    );
    assert_eq!(
        s.find_tenant_by_domain("nowhere.example")
            .await
            .expect("by domain"),
        None
    );
    // Same id, or same domain in another case: both taken.
    assert!(is_conflict(
        s.create_tenant(&Tenant {
            domain: "other.example".into(),
            ..t1.clone()
        })
        .await
    ));
    assert!(is_conflict(
        s.create_tenant(&Tenant {
            id: TenantId::new_random(),
            domain: "CONTOSO.example".into(),
            ..t1.clone()
        })
        .await
    ));
    assert_eq!(
        s.list_tenants().await.expect("list"),
        vec![t1.clone(), t2.clone()]
    );

    let sub = Subscription {
        id: SubscriptionId::new_random(),
        tenant_id: t1.id,
        display_name: "Pay-As-You-Go".into(),
        created_at: at,
    };
    let sub2 = Subscription {
        id: SubscriptionId::new_random(),
        tenant_id: t2.id,
        display_name: "Other".into(),
        created_at: at + Duration::milliseconds(1),
    };
    s.create_subscription(&sub)
        .await
        .expect("create subscription");
    s.create_subscription(&sub2)
        .await
        .expect("create subscription 2");
    assert!(is_conflict(s.create_subscription(&sub).await));
    assert_eq!(
        s.find_subscription(&sub.id).await.expect("find"),
        Some(sub.clone())
    );
    assert_eq!(
        s.find_subscription(&SubscriptionId::new_random())
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        s.list_subscriptions().await.expect("list"),
        vec![sub.clone(), sub2.clone()]
    );

    let group = ResourceGroup {
        subscription_id: sub.id,
        name: rg("Prod-RG"),
        location: "westeurope".into(),
        created_at: at,
    };
    s.put_resource_group(&group).await.expect("put group");
    s.put_resource_group(&ResourceGroup {
        name: rg("dev"),
        ..group.clone()
    })
    .await
    .expect("put second group");
    s.put_resource_group(&ResourceGroup {
        subscription_id: sub2.id,
        ..group.clone()
    })
    .await
    .expect("same name in another subscription");
    assert_eq!(
        s.find_resource_group(&sub.id, &rg("prod-rg"))
            .await
            .expect("find, other case"),
        Some(group.clone())
    );
    // Updating in another case moves the location and keeps the first spelling.
    s.put_resource_group(&ResourceGroup {
        name: rg("PROD-RG"),
        location: "northeurope".into(),
        ..group.clone()
    })
    .await
    .expect("update group");
    let updated = s
        .find_resource_group(&sub.id, &rg("Prod-RG"))
        .await
        .expect("find")
        .expect("group exists");
    assert_eq!(updated.location, "northeurope");
    assert_eq!(updated.name.as_str(), "Prod-RG");
    assert_eq!(
        s.find_resource_group(&sub.id, &rg("nope"))
            .await
            .expect("find"),
        None
    );
    let names: Vec<String> = s
        .list_resource_groups(&sub.id)
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["dev", "Prod-RG"]);

    World {
        tenant: t1.id,
        sub: sub.id,
    }
}

async fn users(s: &dyn MetaStore, w: &World) {
    let at = now();
    let alice = User {
        id: ObjectId::new_random(),
        tenant_id: w.tenant,
        upn: "Alice@Contoso.Example".into(),
        display_name: "Alice".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        enabled: true,
        sessions_valid_after: at,
        created_at: at,
    };
    let bob = User {
        id: ObjectId::new_random(),
        upn: "bob@contoso.example".into(),
        display_name: "Bob".into(),
        ..alice.clone()
    };
    let carol = User {
        id: ObjectId::new_random(),
        tenant_id: TenantId::new_random(),
        upn: "carol@elsewhere.example".into(),
        ..alice.clone()
    };
    for u in [&alice, &bob, &carol] {
        s.create_user(u).await.expect("create user");
    }
    assert_eq!(
        s.find_user(&alice.id).await.expect("find"),
        Some(alice.clone())
    );
    assert_eq!(
        s.find_user(&ObjectId::new_random()).await.expect("find"),
        None
    );
    assert_eq!(
        s.find_user_by_upn("ALICE@contoso.example")
            .await
            .expect("by upn"),
        Some(alice.clone())
    );
    assert_eq!(
        s.find_user_by_upn("nobody@contoso.example")
            .await
            .expect("by upn"),
        None
    );
    // A UPN is unique whatever its case; an id is unique too.
    assert!(is_conflict(
        s.create_user(&User {
            id: ObjectId::new_random(),
            upn: "alice@CONTOSO.example".into(),
            ..alice.clone()
        })
        .await
    ));
    assert!(is_conflict(
        s.create_user(&User {
            upn: "new@contoso.example".into(),
            ..alice.clone()
        })
        .await
    ));
    assert_eq!(
        s.list_users(&w.tenant).await.expect("list"),
        vec![alice.clone(), bob.clone()]
    );

    let changed = User {
        display_name: "Alice A.".into(),
        enabled: false,
        password_hash: "$argon2id$new".into(),
        sessions_valid_after: at + Duration::minutes(5),
        ..alice.clone()
    };
    s.update_user(&changed).await.expect("update");
    assert_eq!(
        s.find_user(&alice.id).await.expect("find"),
        Some(changed.clone())
    );
    // Renaming onto someone else's UPN is a conflict; an unknown user is not found.
    assert!(is_conflict(
        s.update_user(&User {
            upn: "BOB@contoso.example".into(),
            ..changed.clone()
        })
        .await
    ));
    assert!(is_not_found(
        s.update_user(&User {
            id: ObjectId::new_random(),
            ..changed.clone()
        })
        .await
    ));
    // A rename is visible through the new UPN only.
    s.update_user(&User {
        upn: "alice.a@contoso.example".into(),
        ..changed.clone()
    })
    .await
    .expect("rename");
    assert!(
        s.find_user_by_upn("Alice@Contoso.Example")
            .await
            .expect("old upn")
            .is_none()
    );
    assert!(
        s.find_user_by_upn("ALICE.A@contoso.example")
            .await
            .expect("new upn")
            .is_some()
    );

    assert!(s.delete_user(&carol.id).await.expect("delete"));
    assert!(!s.delete_user(&carol.id).await.expect("delete again"));
    assert_eq!(s.find_user(&carol.id).await.expect("find"), None);
}

async fn role_assignments(s: &dyn MetaStore, w: &World) {
    let at = now();
    let user = ObjectId::new_random();
    let group = ObjectId::new_random();
    let other = ObjectId::new_random();
    let reg_name = RegistryName::parse("myregistry").expect("name");
    let sub_scope = ArmScope::subscription(&w.sub);
    let rg_scope = ArmScope::resource_group(&w.sub, &rg("Prod-RG"));
    let reg_scope = ArmScope::registry(&w.sub, &rg("Prod-RG"), &reg_name);
    // Shares a prefix with Prod-RG but is not below it.
    let sibling = ArmScope::resource_group(&w.sub, &rg("Prod-RG2"));
    let acr_pull = uuid::Uuid::parse_str("7f951dda-4ed3-4680-a7ca-43fe172d538d").expect("uuid");
    let make =
        |scope: &ArmScope, principal: ObjectId, kind: PrincipalType, offset: i64| RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope: scope.clone(),
            role_definition_id: acr_pull,
            principal_id: principal,
            principal_type: kind,
            condition: None,
            created_at: at + Duration::milliseconds(offset),
        };
    let on_sub = make(&sub_scope, user, PrincipalType::User, 0);
    let on_rg = make(&rg_scope, group, PrincipalType::Group, 1);
    let on_reg = RoleAssignment {
        condition: Some(
            "@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team/'".into(),
        ),
        ..make(&reg_scope, user, PrincipalType::User, 2)
    };
    let on_sibling = make(&sibling, other, PrincipalType::ServicePrincipal, 3);
    let elsewhere = make(
        &ArmScope::subscription(&SubscriptionId::new_random()),
        user,
        PrincipalType::User,
        4,
    );
    for a in [&on_sub, &on_rg, &on_reg, &on_sibling, &elsewhere] {
        s.create_role_assignment(a)
            .await
            .expect("create assignment");
    }
    assert!(is_conflict(s.create_role_assignment(&on_sub).await));

    assert_eq!(
        s.list_role_assignments_for(&[user])
            .await
            .expect("for user"),
        vec![on_sub.clone(), on_reg.clone(), elsewhere.clone()]
    );
    assert_eq!(
        s.list_role_assignments_for(&[user, group, user])
            .await
            .expect("for user and group"),
        vec![
            on_sub.clone(),
            on_rg.clone(),
            on_reg.clone(),
            elsewhere.clone()
        ]
    );
    assert!(
        s.list_role_assignments_for(&[])
            .await
            .expect("for nobody")
            .is_empty()
    );
    assert!(
        s.list_role_assignments_for(&[ObjectId::new_random()])
            .await
            .expect("stranger")
            .is_empty()
    );

    assert_eq!(
        s.list_role_assignments_under(&rg_scope)
            .await
            .expect("under group"),
        vec![on_rg.clone(), on_reg.clone()]
    );
    // Scopes compare case-insensitively, as ARM does.
    let shouted = ArmScope::parse(&rg_scope.as_str().to_uppercase()).expect("scope");
    assert_eq!(
        s.list_role_assignments_under(&shouted)
            .await
            .expect("under, other case"),
        vec![on_rg.clone(), on_reg.clone()]
    );
    assert_eq!(
        s.list_role_assignments_under(&sub_scope)
            .await
            .expect("under subscription"),
        vec![
            on_sub.clone(),
            on_rg.clone(),
            on_reg.clone(),
            on_sibling.clone()
        ]
    );
    assert_eq!(
        s.list_role_assignments_under(&reg_scope)
            .await
            .expect("under registry"),
        vec![on_reg.clone()]
    );
    let root = ArmScope::parse("/").expect("root scope");
    assert_eq!(
        s.list_role_assignments_under(&root)
            .await
            .expect("under root")
            .len(),
        5
    );

    assert!(s.delete_role_assignment(&on_reg.id).await.expect("delete"));
    assert!(
        !s.delete_role_assignment(&on_reg.id)
            .await
            .expect("delete again")
    );
    assert_eq!(
        s.list_role_assignments_under(&reg_scope)
            .await
            .expect("under registry"),
        Vec::<RoleAssignment>::new()
    );
}

async fn signing_keys(s: &dyn MetaStore, w: &World) {
    let at = now();
    let registry_key = SigningKey {
        kid: "reg-1".into(),
        algorithm: "ES256".into(),
        purpose: "registry".into(),
        tenant_id: None,
        sealed_private_key: vec![0, 1, 2, 254, 255],
        created_at: at,
        active_from: at,
        retired_at: None,
    };
    let next = SigningKey {
        kid: "reg-2".into(),
        created_at: at + Duration::milliseconds(1),
        active_from: at + Duration::hours(1),
        ..registry_key.clone()
    };
    let directory_key = SigningKey {
        kid: "dir-1".into(),
        algorithm: "RS256".into(),
        purpose: "directory".into(),
        tenant_id: Some(w.tenant),
        ..registry_key.clone()
    };
    for k in [&registry_key, &next, &directory_key] {
        s.insert_signing_key(k).await.expect("insert key");
    }
    assert!(is_conflict(s.insert_signing_key(&registry_key).await));
    assert_eq!(
        s.list_signing_keys("registry").await.expect("list"),
        vec![registry_key.clone(), next.clone()]
    );
    assert_eq!(
        s.list_signing_keys("directory").await.expect("list"),
        vec![directory_key.clone()]
    );
    assert!(
        s.list_signing_keys("nothing")
            .await
            .expect("list")
            .is_empty()
    );

    let retired = at + Duration::days(1);
    s.retire_signing_key("reg-1", retired)
        .await
        .expect("retire");
    let keys = s.list_signing_keys("registry").await.expect("list");
    assert_eq!(keys[0].retired_at, Some(retired));
    assert_eq!(keys[1].retired_at, None);
    assert!(is_not_found(s.retire_signing_key("missing", retired).await));
}

async fn registries(s: &dyn MetaStore, w: &World) {
    let one = registry("RegistryOne", w.sub, "Prod-RG", w.tenant);
    let two = registry("registrytwo", w.sub, "dev", w.tenant);
    let other_sub = SubscriptionId::new_random();
    let three = registry("registrythree", other_sub, "Prod-RG", w.tenant);
    for r in [&one, &two, &three] {
        s.create_registry(r).await.expect("create registry");
    }
    assert_eq!(one.name.as_str(), "registryone");
    // Names are unique server-wide, even across subscriptions.
    let clash = Registry {
        id: RegistryId::new_random(),
        subscription_id: SubscriptionId::new_random(),
        ..one.clone()
    };
    assert!(is_conflict(s.create_registry(&clash).await));
    assert_eq!(
        s.find_registry(&one.id).await.expect("find"),
        Some(one.clone())
    );
    assert_eq!(
        s.find_registry(&RegistryId::new_random())
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        s.find_registry_by_name(&one.name).await.expect("by name"),
        Some(one.clone())
    );
    assert_eq!(
        s.find_registry_by_name(&RegistryName::parse("absentname").expect("name"))
            .await
            .expect("by name"),
        None
    );

    let names = |list: Vec<Registry>| {
        list.into_iter()
            .map(|r| r.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.list_registries(None, None).await.expect("all")),
        ["registryone", "registrythree", "registrytwo"]
    );
    assert_eq!(
        names(
            s.list_registries(Some(&w.sub), None)
                .await
                .expect("by subscription")
        ),
        ["registryone", "registrytwo"]
    );
    assert_eq!(
        names(
            s.list_registries(Some(&w.sub), Some(&rg("prod-rg")))
                .await
                .expect("by group")
        ),
        ["registryone"]
    );
    assert_eq!(
        names(
            s.list_registries(None, Some(&rg("PROD-RG")))
                .await
                .expect("by group name")
        ),
        ["registryone", "registrythree"]
    );

    let updated = Registry {
        admin_enabled: true,
        anonymous_pull_enabled: true,
        admin_password1_sealed: vec![9; 40],
        sku: "Premium".into(),
        role_assignment_mode: RoleAssignmentMode::AbacRepositoryPermissions,
        updated_at: one.updated_at + Duration::seconds(3),
        ..one.clone()
    };
    s.update_registry(&updated).await.expect("update");
    assert_eq!(
        s.find_registry(&one.id).await.expect("find"),
        Some(updated.clone())
    );
    assert!(is_not_found(
        s.update_registry(&Registry {
            id: RegistryId::new_random(),
            ..updated.clone()
        })
        .await
    ));
    assert!(is_conflict(
        s.update_registry(&Registry {
            name: two.name.clone(),
            ..updated.clone()
        })
        .await
    ));

    assert!(s.delete_registry(&three.id).await.expect("delete"));
    assert!(!s.delete_registry(&three.id).await.expect("delete again"));
    assert_eq!(
        s.find_registry_by_name(&three.name).await.expect("by name"),
        None
    );
}

// -- token exchange (exchange, #3) --

async fn aad_auth_as_arm_policy(s: &dyn MetaStore, w: &World) {
    let r = registry("armpolicy", w.sub, "prod-rg", w.tenant);
    s.create_registry(&r).await.expect("create registry");
    // Enabled by default, as in ACR.
    assert_eq!(
        s.find_aad_auth_as_arm_policy(&r.id).await.expect("find"),
        Some(true)
    );
    s.set_aad_auth_as_arm_policy(&r.id, false)
        .await
        .expect("disable");
    assert_eq!(
        s.find_aad_auth_as_arm_policy(&r.id).await.expect("find"),
        Some(false)
    );
    // A registry update does not touch the policy, nor the policy the record.
    let updated = Registry {
        admin_enabled: true,
        ..r.clone()
    };
    s.update_registry(&updated).await.expect("update");
    assert_eq!(
        s.find_aad_auth_as_arm_policy(&r.id).await.expect("find"),
        Some(false)
    );
    assert_eq!(s.find_registry(&r.id).await.expect("find"), Some(updated));
    s.set_aad_auth_as_arm_policy(&r.id, true)
        .await
        .expect("enable");
    assert_eq!(
        s.find_aad_auth_as_arm_policy(&r.id).await.expect("find"),
        Some(true)
    );
    let absent = RegistryId::new_random();
    assert_eq!(
        s.find_aad_auth_as_arm_policy(&absent).await.expect("find"),
        None
    );
    assert!(is_not_found(
        s.set_aad_auth_as_arm_policy(&absent, false).await
    ));
    assert!(s.delete_registry(&r.id).await.expect("delete"));
}

async fn content(s: &dyn MetaStore, w: &World) {
    let reg = registry("contentreg", w.sub, "Prod-RG", w.tenant);
    let other_reg = registry("contentother", w.sub, "Prod-RG", w.tenant);
    s.create_registry(&reg).await.expect("create registry");
    s.create_registry(&other_reg)
        .await
        .expect("create registry");
    let (a, b) = (repo("team/app"), repo("team/other"));
    let layer = digest(1);

    // -- blob links: a blob is visible only where it is linked --
    assert_eq!(
        s.find_repository(&reg.id, &a).await.expect("find repo"),
        None
    );
    s.link_blob(&reg.id, &a, &layer, 42).await.expect("link");
    s.link_blob(&reg.id, &a, &layer, 42)
        .await
        .expect("link is idempotent");
    assert_eq!(
        s.find_linked_blob(&reg.id, &a, &layer).await.expect("find"),
        Some(42)
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &b, &layer)
            .await
            .expect("other repo"),
        None
    );
    assert_eq!(
        s.find_linked_blob(&other_reg.id, &a, &layer)
            .await
            .expect("other registry"),
        None
    );
    let repo_a = s
        .find_repository(&reg.id, &a)
        .await
        .expect("find repo")
        .expect("repo made by link");
    assert_eq!(
        (repo_a.registry_id.clone(), repo_a.name.clone()),
        (reg.id.clone(), a.clone())
    );
    assert!(is_not_found(
        s.link_blob(&RegistryId::new_random(), &a, &layer, 1).await
    ));
    s.link_blob(&reg.id, &b, &digest(2), 7)
        .await
        .expect("link into b");
    assert!(
        s.unlink_blob(&reg.id, &b, &digest(2))
            .await
            .expect("unlink")
    );
    assert!(
        !s.unlink_blob(&reg.id, &b, &digest(2))
            .await
            .expect("unlink again")
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &b, &digest(2))
            .await
            .expect("find"),
        None
    );

    // -- manifests and tags, in one transaction --
    let m1 = manifest(&reg.id, &a, digest(10), None);
    s.put_manifest(&m1, &[layer.clone(), digest(3)], Some(&tag("v1")))
        .await
        .expect("put manifest");
    assert_eq!(
        s.find_manifest(&reg.id, &a, &m1.digest)
            .await
            .expect("find"),
        Some(m1.clone())
    );
    assert_eq!(
        s.find_manifest(&reg.id, &b, &m1.digest)
            .await
            .expect("other repo"),
        None
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &a, &m1.digest)
            .await
            .expect("manifest linked"),
        Some(m1.size)
    );
    let v1 = s
        .find_tag(&reg.id, &a, &tag("v1"))
        .await
        .expect("find tag")
        .expect("tag v1");
    assert_eq!(
        (v1.digest.clone(), v1.name.clone()),
        (m1.digest.clone(), tag("v1"))
    );
    assert_eq!(
        s.find_tag(&reg.id, &b, &tag("v1"))
            .await
            .expect("other repo"),
        None
    );

    // Re-pushing the same digest keeps the first record and adds the tag.
    let again = ManifestRecord {
        media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
        created_at: m1.created_at + Duration::seconds(1),
        ..m1.clone()
    };
    s.put_manifest(&again, std::slice::from_ref(&layer), Some(&tag("latest")))
        .await
        .expect("put same manifest");
    assert_eq!(
        s.find_manifest(&reg.id, &a, &m1.digest)
            .await
            .expect("find"),
        Some(m1.clone())
    );
    assert_eq!(
        s.tags_of_manifest(&reg.id, &a, &m1.digest)
            .await
            .expect("tags"),
        [tag("latest"), tag("v1")]
    );

    // Moving a tag repoints it; the old manifest keeps its other tags.
    let m2 = manifest(&reg.id, &a, digest(11), None);
    s.put_manifest(&m2, &[], Some(&tag("latest")))
        .await
        .expect("put m2");
    let latest = s
        .find_tag(&reg.id, &a, &tag("latest"))
        .await
        .expect("find")
        .expect("latest");
    assert_eq!(latest.digest, m2.digest);
    assert_eq!(latest.created_at, again.created_at);
    assert_eq!(latest.updated_at, m2.created_at);
    assert_eq!(
        s.tags_of_manifest(&reg.id, &a, &m1.digest)
            .await
            .expect("tags"),
        [tag("v1")]
    );
    // Untagged push.
    let m3 = manifest(&reg.id, &a, digest(12), None);
    s.put_manifest(&m3, &[], None).await.expect("put untagged");
    assert!(
        s.tags_of_manifest(&reg.id, &a, &m3.digest)
            .await
            .expect("tags")
            .is_empty()
    );

    // A failed put leaves nothing behind.
    let ghost_reg = RegistryId::new_random();
    let ghost = manifest(&ghost_reg, &repo("ghost"), digest(13), None);
    assert!(s.put_manifest(&ghost, &[], Some(&tag("v1"))).await.is_err());
    assert_eq!(
        s.find_repository(&ghost_reg, &repo("ghost"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        s.find_manifest(&ghost_reg, &repo("ghost"), &ghost.digest)
            .await
            .expect("find"),
        None
    );

    // -- tag pagination: strictly after `last`, at most `n`, lexical --
    for t in ["b", "a", "c", "B", "a1"] {
        s.put_manifest(&m3, &[], Some(&tag(t)))
            .await
            .expect("tag m3");
    }
    let (reg_id, repo_a) = (&reg.id, &a);
    let list = move |p: Page| async move {
        s.list_tags(reg_id, repo_a, &p)
            .await
            .expect("list tags")
            .into_iter()
            .map(|t| t.name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(page(None, None)).await,
        ["B", "a", "a1", "b", "c", "latest", "v1"]
    );
    assert_eq!(list(page(None, Some(2))).await, ["B", "a"]);
    assert_eq!(list(page(Some("a"), Some(2))).await, ["a1", "b"]);
    assert_eq!(
        list(page(Some("a0"), None)).await,
        ["a1", "b", "c", "latest", "v1"]
    );
    assert_eq!(list(page(Some("v1"), Some(10))).await, Vec::<String>::new());
    assert_eq!(list(page(Some("zzz"), None)).await, Vec::<String>::new());
    assert_eq!(list(page(None, Some(0))).await, Vec::<String>::new());
    assert!(
        s.list_tags(&reg.id, &b, &page(None, None))
            .await
            .expect("list")
            .is_empty()
    );

    assert!(
        s.delete_tag(&reg.id, &a, &tag("B"))
            .await
            .expect("delete tag")
    );
    assert!(
        !s.delete_tag(&reg.id, &a, &tag("B"))
            .await
            .expect("delete tag again")
    );
    assert_eq!(
        s.find_tag(&reg.id, &a, &tag("B")).await.expect("find"),
        None
    );
    assert!(
        s.find_manifest(&reg.id, &a, &m3.digest)
            .await
            .expect("find")
            .is_some()
    );

    // -- referrers --
    let sbom = manifest(&reg.id, &a, digest(20), Some(m1.digest.clone()));
    let sig = ManifestRecord {
        created_at: sbom.created_at + Duration::milliseconds(1),
        ..manifest(&reg.id, &a, digest(21), Some(m1.digest.clone()))
    };
    let elsewhere = manifest(&reg.id, &b, digest(22), Some(m1.digest.clone()));
    for m in [&sbom, &sig, &elsewhere] {
        s.put_manifest(m, std::slice::from_ref(&m1.digest), None)
            .await
            .expect("put referrer");
    }
    assert_eq!(
        s.list_referrers(&reg.id, &a, &m1.digest)
            .await
            .expect("referrers"),
        vec![sbom.clone(), sig.clone()]
    );
    assert!(
        s.list_referrers(&reg.id, &a, &m2.digest)
            .await
            .expect("referrers")
            .is_empty()
    );

    // -- delete a manifest: its tags and link go with it, nothing else --
    assert!(
        s.delete_manifest(&reg.id, &a, &m3.digest)
            .await
            .expect("delete manifest")
    );
    assert!(
        !s.delete_manifest(&reg.id, &a, &m3.digest)
            .await
            .expect("delete again")
    );
    assert_eq!(
        s.find_manifest(&reg.id, &a, &m3.digest)
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &a, &m3.digest)
            .await
            .expect("link"),
        None
    );
    for t in ["a", "a1", "b", "c"] {
        assert_eq!(
            s.find_tag(&reg.id, &a, &tag(t)).await.expect("find"),
            None,
            "tag {t} survived"
        );
    }
    assert_eq!(list(page(None, None)).await, ["latest", "v1"]);
    assert_eq!(
        s.find_linked_blob(&reg.id, &a, &layer)
            .await
            .expect("layer"),
        Some(42)
    );

    // -- repositories: pagination and delete --
    for name in ["zeta", "alpha/one", "alpha", "alpha-two"] {
        s.link_blob(&reg.id, &repo(name), &layer, 42)
            .await
            .expect("link");
    }
    s.link_blob(&other_reg.id, &repo("foreign"), &layer, 42)
        .await
        .expect("link");
    let repos = move |p: Page| async move {
        s.list_repositories(reg_id, &p)
            .await
            .expect("list repositories")
            .into_iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        repos(page(None, None)).await,
        [
            "alpha",
            "alpha-two",
            "alpha/one",
            "team/app",
            "team/other",
            "zeta"
        ]
    );
    assert_eq!(
        repos(page(Some("alpha"), Some(2))).await,
        ["alpha-two", "alpha/one"]
    );
    assert_eq!(repos(page(Some("team/other"), Some(2))).await, ["zeta"]);
    assert_eq!(repos(page(Some("zeta"), None)).await, Vec::<String>::new());

    assert!(
        s.delete_repository(&reg.id, &a)
            .await
            .expect("delete repository")
    );
    assert!(
        !s.delete_repository(&reg.id, &a)
            .await
            .expect("delete again")
    );
    assert_eq!(s.find_repository(&reg.id, &a).await.expect("find"), None);
    assert_eq!(
        s.find_manifest(&reg.id, &a, &m1.digest)
            .await
            .expect("manifest"),
        None
    );
    assert_eq!(
        s.find_tag(&reg.id, &a, &tag("v1")).await.expect("tag"),
        None
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &a, &layer).await.expect("link"),
        None
    );
    assert!(
        s.list_referrers(&reg.id, &a, &m1.digest)
            .await
            .expect("referrers")
            .is_empty()
    );
    // The referrer in repository b is b's own.
    assert_eq!(
        s.list_referrers(&reg.id, &b, &m1.digest)
            .await
            .expect("referrers"),
        vec![elsewhere]
    );
    assert!(
        !repos(page(None, None))
            .await
            .contains(&"team/app".to_owned())
    );
    assert_eq!(
        s.find_linked_blob(&reg.id, &repo("zeta"), &layer)
            .await
            .expect("link"),
        Some(42)
    );
    // Recreating the repository starts from nothing.
    s.link_blob(&reg.id, &a, &digest(99), 1)
        .await
        .expect("link again");
    assert!(
        s.list_tags(&reg.id, &a, &page(None, None))
            .await
            .expect("tags")
            .is_empty()
    );
}

/// ACR's changeable attributes and the detailed metadata listings behind
/// `/acr/v1/…`: defaults, updates, counts, orders, keyset paging, filters.
async fn attributes(s: &dyn MetaStore, w: &World) {
    let reg = registry("attrreg", w.sub, "Prod-RG", w.tenant);
    s.create_registry(&reg).await.expect("create registry");
    let (a, b) = (repo("team/app"), repo("team/locked"));
    let t0 = now();
    let at = |secs: i64| t0 + Duration::seconds(secs);
    let off = ChangeableAttributes {
        delete_enabled: false,
        write_enabled: false,
        read_enabled: false,
        list_enabled: false,
    };
    let frozen = ChangeableAttributes {
        list_enabled: true,
        ..off
    };
    let unlisted = ChangeableAttributes {
        list_enabled: false,
        ..ChangeableAttributes::default()
    };

    // Three manifests; tags v1, v2 -> m1, v3 -> m2; m3 untagged.
    let (m1, m2, m3) = (
        manifest(&reg.id, &a, digest(101), None),
        manifest(&reg.id, &a, digest(102), None),
        manifest(&reg.id, &a, digest(103), None),
    );
    for (m, t) in [
        (&m1, Some("v1")),
        (&m1, Some("v2")),
        (&m2, Some("v3")),
        (&m3, None),
    ] {
        s.put_manifest(m, &[], t.map(tag).as_ref())
            .await
            .expect("put manifest");
    }
    s.put_manifest(
        &manifest(&reg.id, &b, digest(104), None),
        &[],
        Some(&tag("x")),
    )
    .await
    .expect("put manifest");

    // -- defaults: everything enabled; absent objects have none --
    let default = Some(ChangeableAttributes::default());
    for target in [
        AttributeTarget::Repository,
        AttributeTarget::Tag(&tag("v1")),
        AttributeTarget::Manifest(&m1.digest),
    ] {
        assert_eq!(
            s.find_attributes(&reg.id, &a, target).await.expect("find"),
            default,
            "{target:?}"
        );
    }
    for (r, target) in [
        (repo("absent"), AttributeTarget::Repository),
        (a.clone(), AttributeTarget::Tag(&tag("nope"))),
        (a.clone(), AttributeTarget::Manifest(&digest(999))),
    ] {
        assert_eq!(
            s.find_attributes(&reg.id, &r, target).await.expect("find"),
            None
        );
        assert!(
            !s.set_attributes(&reg.id, &r, target, &off, at(1))
                .await
                .expect("set absent")
        );
    }

    // -- repository detail: counts and attributes --
    let detail = s
        .find_repository_detail(&reg.id, &a)
        .await
        .expect("detail")
        .expect("repository a");
    assert_eq!(
        (detail.manifest_count, detail.tag_count, detail.attributes),
        (3, 3, ChangeableAttributes::default())
    );
    assert_eq!(detail.record.name, a);
    assert_eq!(
        s.find_repository_detail(&reg.id, &repo("absent"))
            .await
            .expect("detail"),
        None
    );
    assert!(
        s.set_attributes(&reg.id, &b, AttributeTarget::Repository, &off, at(5))
            .await
            .expect("lock b")
    );
    let locked = s
        .find_repository_detail(&reg.id, &b)
        .await
        .expect("detail")
        .expect("repository b");
    assert_eq!((locked.attributes, locked.record.updated_at), (off, at(5)));
    // A push keeps a repository's attributes (the store does not enforce them).
    s.put_manifest(&manifest(&reg.id, &b, digest(105), None), &[], None)
        .await
        .expect("put");
    assert_eq!(
        s.find_attributes(&reg.id, &b, AttributeTarget::Repository)
            .await
            .expect("find"),
        Some(off)
    );

    // -- the listed catalog leaves unlisted repositories out --
    let names = |v: Vec<RepositoryName>| v.into_iter().map(|r| r.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(
            s.list_listed_repositories(&reg.id, &page(None, None))
                .await
                .expect("list")
        ),
        vec!["team/app"]
    );
    assert_eq!(
        names(
            s.list_repositories(&reg.id, &page(None, None))
                .await
                .expect("list")
        ),
        vec!["team/app", "team/locked"]
    );
    assert!(
        s.list_listed_repositories(&reg.id, &page(Some("team/app"), Some(5)))
            .await
            .expect("list")
            .is_empty()
    );

    // -- tags: attributes, update times, orders and keyset paging --
    let v2_at = at(30);
    assert!(
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Tag(&tag("v2")),
            &unlisted,
            v2_at
        )
        .await
        .expect("set v2")
    );
    assert!(
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Tag(&tag("v1")),
            &ChangeableAttributes::default(),
            at(20)
        )
        .await
        .expect("set v1")
    );
    assert!(
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Tag(&tag("v3")),
            &ChangeableAttributes::default(),
            at(10)
        )
        .await
        .expect("set v3")
    );
    let v2 = s
        .find_tag_detail(&reg.id, &a, &tag("v2"))
        .await
        .expect("find")
        .expect("v2");
    assert_eq!(
        (
            v2.attributes,
            v2.record.updated_at,
            v2.record.digest.clone()
        ),
        (unlisted, v2_at, m1.digest.clone())
    );
    assert_eq!(
        s.find_tag_detail(&reg.id, &a, &tag("nope"))
            .await
            .expect("find"),
        None
    );
    let tag_names = |v: Vec<acrylic_store::TagDetail>| {
        v.into_iter()
            .map(|t| t.record.name.to_string())
            .collect::<Vec<_>>()
    };
    let list = |order: ListOrder, last: Option<&str>, n: Option<u32>, listed_only: bool| TagQuery {
        page: page(last, n),
        order,
        digest: None,
        listed_only,
    };
    let cases: Vec<(TagQuery, Vec<&str>)> = vec![
        (
            list(ListOrder::Name, None, None, false),
            vec!["v1", "v2", "v3"],
        ),
        (list(ListOrder::Name, None, None, true), vec!["v1", "v3"]),
        (
            list(ListOrder::Name, Some("v1"), Some(1), false),
            vec!["v2"],
        ),
        (
            list(ListOrder::TimeDesc, None, None, false),
            vec!["v2", "v1", "v3"],
        ),
        (
            list(ListOrder::TimeDesc, Some("v2"), Some(1), false),
            vec!["v1"],
        ),
        (
            list(ListOrder::TimeDesc, Some("v1"), None, false),
            vec!["v3"],
        ),
        (
            list(ListOrder::TimeAsc, None, Some(2), false),
            vec!["v3", "v1"],
        ),
        (
            list(ListOrder::TimeAsc, Some("v1"), None, false),
            vec!["v2"],
        ),
        (list(ListOrder::TimeAsc, None, None, true), vec!["v3", "v1"]),
        // A `last` that is gone ends a time-ordered listing.
        (list(ListOrder::TimeDesc, Some("gone"), None, false), vec![]),
        (
            list(ListOrder::Name, Some("gone"), None, false),
            vec!["v1", "v2", "v3"],
        ),
        (
            TagQuery {
                digest: Some(m1.digest.clone()),
                ..list(ListOrder::Name, None, None, false)
            },
            vec!["v1", "v2"],
        ),
        (
            TagQuery {
                digest: Some(m1.digest.clone()),
                ..list(ListOrder::Name, None, None, true)
            },
            vec!["v1"],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(
            tag_names(
                s.list_tag_details(&reg.id, &a, &q)
                    .await
                    .expect("list tags")
            ),
            want,
            "{q:?}"
        );
    }
    // Equal update times fall back to names, in the order's direction.
    for t in ["v1", "v3"] {
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Tag(&tag(t)),
            &ChangeableAttributes::default(),
            at(40),
        )
        .await
        .expect("set");
    }
    assert_eq!(
        tag_names(
            s.list_tag_details(&reg.id, &a, &list(ListOrder::TimeDesc, None, None, false))
                .await
                .expect("list")
        ),
        vec!["v3", "v1", "v2"]
    );
    assert_eq!(
        tag_names(
            s.list_tag_details(
                &reg.id,
                &a,
                &list(ListOrder::TimeDesc, Some("v3"), Some(1), false)
            )
            .await
            .expect("list")
        ),
        vec!["v1"]
    );
    // Re-pointing a tag keeps its attributes.
    s.put_manifest(&m2, &[], Some(&tag("v2")))
        .await
        .expect("retag");
    let v2 = s
        .find_tag_detail(&reg.id, &a, &tag("v2"))
        .await
        .expect("find")
        .expect("v2");
    assert_eq!(
        (v2.record.digest, v2.attributes),
        (m2.digest.clone(), unlisted)
    );

    // -- manifests: config, attributes, orders, tags of a page --
    let d1 = s
        .find_manifest_detail(&reg.id, &a, &m1.digest)
        .await
        .expect("find")
        .expect("m1");
    assert_eq!(
        (
            d1.record.clone(),
            d1.config.clone(),
            d1.attributes,
            d1.updated_at
        ),
        (
            m1.clone(),
            ManifestConfig::default(),
            ChangeableAttributes::default(),
            m1.created_at
        )
    );
    let config = ManifestConfig {
        media_type: Some("application/vnd.oci.image.config.v1+json".into()),
        architecture: Some("arm64".into()),
        os: Some("linux".into()),
    };
    assert!(
        s.set_manifest_config(&reg.id, &a, &m1.digest, &config)
            .await
            .expect("set config")
    );
    assert!(
        !s.set_manifest_config(&reg.id, &a, &digest(999), &config)
            .await
            .expect("set config of absent")
    );
    assert!(
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Manifest(&m3.digest),
            &unlisted,
            at(50)
        )
        .await
        .expect("set m3")
    );
    assert!(
        s.set_attributes(
            &reg.id,
            &a,
            AttributeTarget::Manifest(&m1.digest),
            &frozen,
            at(60)
        )
        .await
        .expect("set m1")
    );
    let d1 = s
        .find_manifest_detail(&reg.id, &a, &m1.digest)
        .await
        .expect("find")
        .expect("m1");
    assert_eq!(
        (d1.config, d1.attributes, d1.updated_at),
        (config, frozen, at(60))
    );
    assert_eq!(
        s.find_manifest_detail(&reg.id, &a, &digest(999))
            .await
            .expect("find"),
        None
    );
    let digests = |v: Vec<acrylic_store::ManifestDetail>| {
        v.into_iter().map(|m| m.record.digest).collect::<Vec<_>>()
    };
    let mlist =
        |order: ListOrder, last: Option<String>, n: Option<u32>, listed_only: bool| ManifestQuery {
            page: Page { last, n },
            order,
            listed_only,
        };
    let (d1, d2, d3) = (m1.digest.clone(), m2.digest.clone(), m3.digest.clone());
    let cases = vec![
        (
            mlist(ListOrder::Name, None, None, false),
            vec![d1.clone(), d2.clone(), d3.clone()],
        ),
        (
            mlist(ListOrder::Name, None, None, true),
            vec![d1.clone(), d2.clone()],
        ),
        (
            mlist(ListOrder::Name, Some(d1.to_string()), Some(1), false),
            vec![d2.clone()],
        ),
        // m2 was never changed: its push time orders it first.
        (
            mlist(ListOrder::TimeDesc, None, None, false),
            vec![d1.clone(), d3.clone(), d2.clone()],
        ),
        (
            mlist(ListOrder::TimeDesc, Some(d3.to_string()), None, false),
            vec![d2.clone()],
        ),
        (
            mlist(ListOrder::TimeAsc, None, Some(2), true),
            vec![d2.clone(), d1.clone()],
        ),
        (
            mlist(ListOrder::TimeAsc, Some(d2.to_string()), None, false),
            vec![d3.clone(), d1.clone()],
        ),
        (
            mlist(
                ListOrder::TimeAsc,
                Some(digest(999).to_string()),
                None,
                false,
            ),
            vec![],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(
            digests(
                s.list_manifest_details(&reg.id, &a, &q)
                    .await
                    .expect("list manifests")
            ),
            want,
            "{q:?}"
        );
    }
    let of = |v: Vec<acrylic_store::TagRecord>| {
        v.into_iter()
            .map(|t| (t.name.to_string(), t.digest))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of(
            s.tags_of_manifests(&reg.id, &a, &[d1.clone(), d2.clone(), d1.clone()], false)
                .await
                .expect("tags of")
        ),
        vec![
            ("v1".to_owned(), d1.clone()),
            ("v2".to_owned(), d2.clone()),
            ("v3".to_owned(), d2.clone())
        ]
    );
    assert_eq!(
        of(
            s.tags_of_manifests(&reg.id, &a, std::slice::from_ref(&d2), true)
                .await
                .expect("tags of")
        ),
        vec![("v3".to_owned(), d2.clone())]
    );
    assert!(
        s.tags_of_manifests(&reg.id, &a, &[], false)
            .await
            .expect("tags of none")
            .is_empty()
    );
    assert!(
        s.tags_of_manifests(&reg.id, &b, std::slice::from_ref(&d1), false)
            .await
            .expect("other repository")
            .is_empty()
    );

    // -- deleting a repository drops its attributes; a new one starts fresh --
    assert!(s.delete_repository(&reg.id, &b).await.expect("delete b"));
    s.put_manifest(
        &manifest(&reg.id, &b, digest(106), None),
        &[],
        Some(&tag("x")),
    )
    .await
    .expect("push again");
    for target in [AttributeTarget::Repository, AttributeTarget::Tag(&tag("x"))] {
        assert_eq!(
            s.find_attributes(&reg.id, &b, target).await.expect("find"),
            default
        );
    }
    assert!(s.delete_registry(&reg.id).await.expect("delete registry"));
}

async fn uploads(s: &dyn MetaStore, w: &World) {
    let reg = registry("uploadreg", w.sub, "Prod-RG", w.tenant);
    s.create_registry(&reg).await.expect("create registry");
    let t0 = now();
    let make = |at: OffsetDateTime| UploadRecord {
        id: UploadId::new_random(),
        registry_id: reg.id.clone(),
        repository: repo("team/app"),
        size: 0,
        created_at: at,
        updated_at: at,
    };
    let old = make(t0 - Duration::hours(2));
    let fresh = make(t0);
    s.create_upload(&old).await.expect("create upload");
    s.create_upload(&fresh).await.expect("create upload");
    assert!(is_conflict(s.create_upload(&old).await));
    assert!(is_not_found(
        s.create_upload(&UploadRecord {
            registry_id: RegistryId::new_random(),
            ..make(t0)
        })
        .await
    ));
    assert_eq!(
        s.find_upload(&old.id).await.expect("find"),
        Some(old.clone())
    );
    assert_eq!(
        s.find_upload(&UploadId::new_random()).await.expect("find"),
        None
    );
    // An upload does not make its repository appear.
    assert_eq!(
        s.find_repository(&reg.id, &repo("team/app"))
            .await
            .expect("find"),
        None
    );

    let later = t0 + Duration::seconds(1);
    s.set_upload_size(&fresh.id, 1 << 40, later)
        .await
        .expect("set size");
    let found = s
        .find_upload(&fresh.id)
        .await
        .expect("find")
        .expect("upload");
    assert_eq!(
        (found.size, found.updated_at, found.created_at),
        (1 << 40, later, t0)
    );
    assert!(is_not_found(
        s.set_upload_size(&UploadId::new_random(), 1, later).await
    ));

    let stale = s
        .list_stale_uploads(t0 - Duration::hours(1))
        .await
        .expect("stale");
    assert_eq!(stale, vec![old.clone()]);
    // Strictly before: an upload touched exactly at the cut-off is not stale.
    assert!(
        s.list_stale_uploads(old.updated_at)
            .await
            .expect("stale")
            .is_empty()
    );
    assert_eq!(
        s.list_stale_uploads(later + Duration::seconds(1))
            .await
            .expect("stale")
            .len(),
        2
    );

    assert!(s.delete_upload(&old.id).await.expect("delete"));
    assert!(!s.delete_upload(&old.id).await.expect("delete again"));
    assert_eq!(s.find_upload(&old.id).await.expect("find"), None);
}

async fn audit(s: &dyn MetaStore) {
    let t0 = now();
    let reg = RegistryId::new_random();
    let record = |offset: i64,
                  principal: &str,
                  action: &str,
                  repository: Option<&str>,
                  registry: Option<&RegistryId>| {
        AuditRecord {
            id: uuid::Uuid::now_v7(),
            at: t0 + Duration::milliseconds(offset),
            registry_id: registry.cloned(),
            principal: principal.into(),
            action: action.into(),
            repository: repository.map(str::to_owned),
            decision: "granted".into(),
            client_addr: Some("127.0.0.1".into()),
            detail: Some("scope=repository:team/app:pull".into()),
        }
    };
    let r1 = record(0, "admin", "token", None, Some(&reg));
    let r2 = record(
        10,
        "user:alice@contoso.example",
        "push",
        Some("team/app"),
        Some(&reg),
    );
    let r3 = record(20, "admin", "push", Some("team/other"), Some(&reg));
    let r4 = AuditRecord {
        decision: "denied".into(),
        client_addr: None,
        detail: None,
        ..record(30, "anonymous", "pull", Some("team/app"), None)
    };
    for r in [&r3, &r1, &r4, &r2] {
        s.append_audit(r).await.expect("append");
    }
    assert!(is_conflict(s.append_audit(&r1).await));
    let ids = |list: Vec<AuditRecord>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = s.list_audit(&AuditFilter::default()).await.expect("list");
    assert_eq!(all, vec![r4.clone(), r3.clone(), r2.clone(), r1.clone()]);
    let by = |f: AuditFilter| async move { ids(s.list_audit(&f).await.expect("list")) };
    assert_eq!(
        by(AuditFilter {
            registry_id: Some(reg.clone()),
            ..Default::default()
        })
        .await,
        [r3.id, r2.id, r1.id]
    );
    assert_eq!(
        by(AuditFilter {
            principal: Some("admin".into()),
            ..Default::default()
        })
        .await,
        [r3.id, r1.id]
    );
    assert_eq!(
        by(AuditFilter {
            action: Some("push".into()),
            ..Default::default()
        })
        .await,
        [r3.id, r2.id]
    );
    assert_eq!(
        by(AuditFilter {
            repository: Some("team/app".into()),
            ..Default::default()
        })
        .await,
        [r4.id, r2.id]
    );
    assert_eq!(
        by(AuditFilter {
            since: Some(r2.at),
            ..Default::default()
        })
        .await,
        [r4.id, r3.id, r2.id]
    );
    assert_eq!(
        by(AuditFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await,
        [r4.id, r3.id]
    );
    assert_eq!(
        by(AuditFilter {
            registry_id: Some(reg.clone()),
            action: Some("push".into()),
            principal: Some("admin".into()),
            since: Some(t0),
            limit: Some(10),
            ..Default::default()
        })
        .await,
        [r3.id]
    );
    assert!(
        by(AuditFilter {
            principal: Some("nobody".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

async fn delete_registry(s: &dyn MetaStore, w: &World) {
    let doomed = registry("doomedreg", w.sub, "Prod-RG", w.tenant);
    let kept = registry("keptreg", w.sub, "Prod-RG", w.tenant);
    s.create_registry(&doomed).await.expect("create");
    s.create_registry(&kept).await.expect("create");
    let app = repo("app");
    for r in [&doomed, &kept] {
        let m = manifest(&r.id, &app, digest(50), None);
        s.link_blob(&r.id, &app, &digest(51), 5)
            .await
            .expect("link");
        s.put_manifest(&m, &[digest(51)], Some(&tag("v1")))
            .await
            .expect("put");
        s.put_manifest(
            &manifest(&r.id, &app, digest(52), Some(m.digest.clone())),
            &[],
            None,
        )
        .await
        .expect("put referrer");
        let at = now();
        s.create_upload(&UploadRecord {
            id: UploadId::new_random(),
            registry_id: r.id.clone(),
            repository: app.clone(),
            size: 3,
            created_at: at - Duration::hours(3),
            updated_at: at - Duration::hours(3),
        })
        .await
        .expect("upload");
    }
    let cutoff = now() - Duration::hours(1);
    let uploads_before = s.list_stale_uploads(cutoff).await.expect("stale").len();

    assert!(
        s.delete_registry(&doomed.id)
            .await
            .expect("delete registry")
    );
    assert!(!s.delete_registry(&doomed.id).await.expect("delete again"));
    assert_eq!(s.find_registry(&doomed.id).await.expect("find"), None);
    assert!(
        s.list_repositories(&doomed.id, &Page::default())
            .await
            .expect("repos")
            .is_empty()
    );
    assert_eq!(
        s.find_repository(&doomed.id, &app).await.expect("repo"),
        None
    );
    assert_eq!(
        s.find_manifest(&doomed.id, &app, &digest(50))
            .await
            .expect("manifest"),
        None
    );
    assert_eq!(
        s.find_tag(&doomed.id, &app, &tag("v1")).await.expect("tag"),
        None
    );
    assert_eq!(
        s.find_linked_blob(&doomed.id, &app, &digest(51))
            .await
            .expect("link"),
        None
    );
    assert!(
        s.list_referrers(&doomed.id, &app, &digest(50))
            .await
            .expect("referrers")
            .is_empty()
    );
    let uploads_after = s.list_stale_uploads(cutoff).await.expect("stale");
    assert_eq!(uploads_after.len(), uploads_before - 1);
    assert!(uploads_after.iter().all(|u| u.registry_id != doomed.id));

    // The other registry is untouched.
    assert!(
        s.find_manifest(&kept.id, &app, &digest(50))
            .await
            .expect("manifest")
            .is_some()
    );
    assert!(
        s.find_tag(&kept.id, &app, &tag("v1"))
            .await
            .expect("tag")
            .is_some()
    );
    assert_eq!(
        s.find_linked_blob(&kept.id, &app, &digest(51))
            .await
            .expect("link"),
        Some(5)
    );
    assert_eq!(
        s.list_referrers(&kept.id, &app, &digest(50))
            .await
            .expect("referrers")
            .len(),
        1
    );

    // The name is free again.
    s.create_registry(&Registry {
        id: RegistryId::new_random(),
        ..doomed.clone()
    })
    .await
    .expect("name reusable after delete");
}

/// Many pushes at once (several replicas, or one busy server): every
/// transaction commits; on SQLite none fails with "database is locked".
async fn concurrent_writes(store: &Arc<dyn MetaStore>, w: &World) {
    let reg = registry("busyreg", w.sub, "Prod-RG", w.tenant);
    store.create_registry(&reg).await.expect("create registry");
    let tasks: Vec<_> = (0..24u32)
        .map(|i| {
            let (store, reg_id) = (store.clone(), reg.id.clone());
            tokio::spawn(async move {
                let name = repo(&format!("busy/r{}", i % 6));
                store
                    .link_blob(&reg_id, &name, &digest(1000 + i), 10)
                    .await?;
                let m = manifest(&reg_id, &name, digest(2000 + i), None);
                store
                    .put_manifest(&m, &[digest(1000 + i)], Some(&tag(&format!("t{i}"))))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("concurrent write");
    }
    let repos = store
        .list_repositories(&reg.id, &Page::default())
        .await
        .expect("repos");
    assert_eq!(repos.len(), 6);
    let mut tags = 0;
    for r in &repos {
        tags += store
            .list_tags(&reg.id, r, &Page::default())
            .await
            .expect("tags")
            .len();
    }
    assert_eq!(tags, 24);
}
