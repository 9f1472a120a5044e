//! Conformance cases for scope maps and repository-scoped tokens (issue
//! #4), run by `meta::conformance` against every adapter: case-insensitive
//! names per registry, the password slots with their expiries, the foreign
//! key that keeps a scope map in use from being deleted (and a token from
//! naming a map that does not exist), system scope maps that are never
//! stored, and registry deletion taking tokens and maps with it.

use std::sync::Arc;

use acrylic_model::{RegistryId, RegistryName, ResourceGroupName, SubscriptionId, TenantId};
use acrylic_store::{
    MetaStore, Registry, RepositoryTokenRecord, RoleAssignmentMode, ScopeMapRecord, StoreError,
    TokenPassword, TokenPasswordName,
};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

fn registry(name: &str, tenant: TenantId, sub: SubscriptionId) -> Registry {
    let at = now();
    let name = RegistryName::parse(name).expect("registry name");
    Registry {
        id: RegistryId::new_random(),
        login_server: format!("{name}.acrylic.localhost:5000"),
        name,
        tenant_id: tenant,
        subscription_id: sub,
        resource_group: ResourceGroupName::parse("tokens-rg").expect("rg"),
        location: "westeurope".into(),
        sku: "Basic".into(),
        admin_enabled: false,
        admin_password1_sealed: vec![1],
        admin_password2_sealed: vec![2],
        anonymous_pull_enabled: false,
        role_assignment_mode: RoleAssignmentMode::LegacyRegistryPermissions,
        created_at: at,
        updated_at: at,
    }
}

fn map(reg: &Registry, name: &str, actions: &[&str]) -> ScopeMapRecord {
    let at = now();
    ScopeMapRecord {
        registry_id: reg.id.clone(),
        name: name.into(),
        description: Some(format!("{name} for tests")),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        created_at: at,
        updated_at: at,
    }
}

fn token(reg: &Registry, name: &str, scope_map: &str, system: bool) -> RepositoryTokenRecord {
    let at = now();
    RepositoryTokenRecord {
        registry_id: reg.id.clone(),
        name: name.into(),
        scope_map: scope_map.into(),
        system_scope_map: system,
        enabled: true,
        password1: None,
        password2: None,
        created_at: at,
        updated_at: at,
    }
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict { .. }))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound { .. }))
}

pub async fn suite(store: &Arc<dyn MetaStore>, tenant: TenantId, sub: SubscriptionId) {
    let s = store.as_ref();
    let reg = registry("tokensone", tenant, sub);
    let other = registry("tokenstwo", tenant, sub);
    for r in [&reg, &other] {
        s.create_registry(r).await.expect("create registry");
    }
    scope_maps(s, &reg, &other).await;
    tokens(s, &reg, &other).await;
    passwords(s, &reg).await;
    in_use(s, &reg).await;
    concurrent_creates(store, &reg).await;
    registry_deletion(s, tenant, sub).await;
}

async fn scope_maps(s: &dyn MetaStore, reg: &Registry, other: &Registry) {
    let pull = map(
        reg,
        "Team-Pull",
        &[
            "repositories/team/app/content/read",
            "repositories/team/*/metadata/read",
        ],
    );
    s.create_scope_map(&pull).await.expect("create scope map");
    assert_eq!(
        s.find_scope_map(&reg.id, "team-pull").await.expect("find"),
        Some(pull.clone()),
        "names compare case-insensitively and keep their spelling"
    );
    assert_eq!(
        s.find_scope_map(&other.id, "Team-Pull")
            .await
            .expect("find in another registry"),
        None,
        "scope maps belong to one registry"
    );
    // The same name in any case: Conflict. In another registry: fine.
    assert!(is_conflict(
        s.create_scope_map(&map(reg, "TEAM-PULL", &["repositories/x/content/read"]))
            .await
    ));
    s.create_scope_map(&map(other, "Team-Pull", &["repositories/y/content/read"]))
        .await
        .expect("same name in another registry");
    // A registry that does not exist.
    let ghost = registry(
        "tokensghost",
        TenantId::new_random(),
        SubscriptionId::new_random(),
    );
    assert!(is_not_found(
        s.create_scope_map(&map(&ghost, "orphan", &["repositories/x/content/read"]))
            .await
    ));
    // No description is kept as none.
    let bare = ScopeMapRecord {
        description: None,
        ..map(reg, "alpha-map", &["repositories/*/content/read"])
    };
    s.create_scope_map(&bare).await.expect("create bare");
    assert_eq!(
        s.find_scope_map(&reg.id, "ALPHA-MAP").await.expect("find"),
        Some(bare.clone())
    );

    // Update replaces description and actions; the name's spelling stays.
    let mut changed = pull.clone();
    changed.name = "team-pull".into();
    changed.description = Some("changed".into());
    changed.actions = vec!["repositories/team/app/content/write".into()];
    changed.updated_at = now() + Duration::seconds(1);
    s.update_scope_map(&changed).await.expect("update");
    let got = s
        .find_scope_map(&reg.id, "Team-Pull")
        .await
        .expect("find")
        .expect("present");
    assert_eq!(got.name, "Team-Pull");
    assert_eq!(got.description.as_deref(), Some("changed"));
    assert_eq!(got.actions, changed.actions);
    assert_eq!(got.updated_at, changed.updated_at);
    assert_eq!(got.created_at, pull.created_at);
    assert!(is_not_found(
        s.update_scope_map(&map(reg, "nope-map", &["repositories/x/content/read"]))
            .await
    ));

    // Listed by name, case-insensitively; one registry only.
    let names: Vec<String> = s
        .list_scope_maps(&reg.id)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, vec!["alpha-map", "Team-Pull"]);
    assert_eq!(s.list_scope_maps(&other.id).await.expect("list").len(), 1);

    assert!(
        s.delete_scope_map(&reg.id, "ALPHA-map")
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_scope_map(&reg.id, "alpha-map")
            .await
            .expect("again")
    );
    assert_eq!(
        s.find_scope_map(&reg.id, "alpha-map").await.expect("find"),
        None
    );
}

async fn tokens(s: &dyn MetaStore, reg: &Registry, other: &Registry) {
    let user = token(reg, "CI-Token", "team-pull", false);
    s.create_repository_token(&user)
        .await
        .expect("create token");
    let system = token(reg, "puller-1", "_repositories_pull", true);
    s.create_repository_token(&system)
        .await
        .expect("a token of a system scope map (never stored)");
    assert_eq!(
        s.find_repository_token(&reg.id, "ci-token")
            .await
            .expect("find"),
        Some(user.clone())
    );
    assert_eq!(
        s.find_repository_token(&reg.id, "PULLER-1")
            .await
            .expect("find"),
        Some(system.clone())
    );
    assert_eq!(
        s.find_repository_token(&other.id, "ci-token")
            .await
            .expect("find elsewhere"),
        None,
        "a token of registry A is nothing in registry B"
    );
    assert!(is_conflict(
        s.create_repository_token(&token(reg, "ci-TOKEN", "team-pull", false))
            .await
    ));
    // A user-defined scope map must exist in the token's registry.
    assert!(is_not_found(
        s.create_repository_token(&token(reg, "lost-token", "no-such-map", false))
            .await
    ));
    assert!(is_not_found(
        s.create_repository_token(&token(other, "cross-token", "alpha-map", false))
            .await
    ));

    // Update: scope map and status; the passwords are not touched.
    let pw = TokenPassword {
        hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        created_at: now(),
        expiry: None,
    };
    s.set_repository_token_password(
        &reg.id,
        "ci-token",
        TokenPasswordName::Password1,
        Some(&pw),
        now(),
    )
    .await
    .expect("set password1");
    let mut moved = user.clone();
    moved.scope_map = "_repositories_push".into();
    moved.system_scope_map = true;
    moved.enabled = false;
    moved.password1 = None;
    moved.updated_at = now() + Duration::seconds(2);
    s.update_repository_token(&moved)
        .await
        .expect("update token");
    let got = s
        .find_repository_token(&reg.id, "CI-Token")
        .await
        .expect("find")
        .expect("present");
    assert_eq!(got.scope_map, "_repositories_push");
    assert!(got.system_scope_map);
    assert!(!got.enabled);
    assert_eq!(got.updated_at, moved.updated_at);
    assert_eq!(got.password1, Some(pw), "update leaves passwords alone");
    // Back to a user-defined map; a missing one is refused.
    let mut back = got.clone();
    back.scope_map = "Team-Pull".into();
    back.system_scope_map = false;
    back.enabled = true;
    s.update_repository_token(&back).await.expect("back");
    let mut lost = back.clone();
    lost.scope_map = "gone-map".into();
    assert!(is_not_found(s.update_repository_token(&lost).await));
    assert!(is_not_found(
        s.update_repository_token(&token(reg, "nobody-here", "team-pull", false))
            .await
    ));

    let names: Vec<String> = s
        .list_repository_tokens(&reg.id)
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, vec!["CI-Token", "puller-1"]);
    assert!(
        s.list_repository_tokens(&other.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.delete_repository_token(&reg.id, "PULLER-1")
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_repository_token(&reg.id, "puller-1")
            .await
            .expect("again")
    );
}

async fn passwords(s: &dyn MetaStore, reg: &Registry) {
    let t = token(reg, "pw-token", "_repositories_admin", true);
    s.create_repository_token(&t).await.expect("create");
    let created = now();
    let one = TokenPassword {
        hash: "$argon2id$one".into(),
        created_at: created,
        expiry: Some(created + Duration::days(30)),
    };
    let two = TokenPassword {
        hash: "$argon2id$two".into(),
        created_at: created + Duration::seconds(1),
        expiry: None,
    };
    let at = created + Duration::seconds(5);
    s.set_repository_token_password(
        &reg.id,
        "PW-TOKEN",
        TokenPasswordName::Password1,
        Some(&one),
        at,
    )
    .await
    .expect("password1");
    s.set_repository_token_password(
        &reg.id,
        "pw-token",
        TokenPasswordName::Password2,
        Some(&two),
        at,
    )
    .await
    .expect("password2");
    let got = s
        .find_repository_token(&reg.id, "pw-token")
        .await
        .expect("find")
        .expect("present");
    assert_eq!(got.password1, Some(one.clone()));
    assert_eq!(got.password2, Some(two.clone()));
    assert_eq!(got.password(TokenPasswordName::Password2), Some(&two));
    assert_eq!(got.updated_at, at);
    // An expiry in the past is kept as given (the server decides).
    let expired = TokenPassword {
        hash: "$argon2id$three".into(),
        created_at: created,
        expiry: Some(created - Duration::seconds(1)),
    };
    s.set_repository_token_password(
        &reg.id,
        "pw-token",
        TokenPasswordName::Password2,
        Some(&expired),
        at,
    )
    .await
    .expect("replace password2");
    // Removing one slot leaves the other.
    s.set_repository_token_password(&reg.id, "pw-token", TokenPasswordName::Password1, None, at)
        .await
        .expect("remove password1");
    let got = s
        .find_repository_token(&reg.id, "pw-token")
        .await
        .expect("find")
        .expect("present");
    assert_eq!(got.password1, None);
    assert_eq!(got.password2, Some(expired));
    assert!(is_not_found(
        s.set_repository_token_password(
            &reg.id,
            "no-token",
            TokenPasswordName::Password1,
            Some(&one),
            at
        )
        .await
    ));
    assert_eq!(
        TokenPasswordName::parse("password2"),
        Some(TokenPasswordName::Password2)
    );
    assert_eq!(TokenPasswordName::parse("password"), None);
}

async fn in_use(s: &dyn MetaStore, reg: &Registry) {
    // "Team-Pull" is used by CI-Token: deleting it is refused by the
    // database, in any spelling of the name.
    assert!(is_conflict(s.delete_scope_map(&reg.id, "team-pull").await));
    assert!(
        s.find_scope_map(&reg.id, "Team-Pull")
            .await
            .expect("find")
            .is_some()
    );
    // Once the token moves to a system map, the map can go.
    let mut t = s
        .find_repository_token(&reg.id, "ci-token")
        .await
        .expect("find")
        .expect("present");
    t.scope_map = "_repositories_pull".into();
    t.system_scope_map = true;
    s.update_repository_token(&t).await.expect("move");
    assert!(
        s.delete_scope_map(&reg.id, "team-pull")
            .await
            .expect("delete")
    );
}

async fn concurrent_creates(store: &Arc<dyn MetaStore>, reg: &Registry) {
    // Ten requests race to create the same token: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let s = Arc::clone(store);
        let t = token(reg, "racer", "_repositories_pull", true);
        tasks.push(tokio::spawn(
            async move { s.create_repository_token(&t).await },
        ));
    }
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => created += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("racing create: {e}"),
        }
    }
    assert_eq!(created, 1);
}

async fn registry_deletion(s: &dyn MetaStore, tenant: TenantId, sub: SubscriptionId) {
    let reg = registry("tokensdoomed", tenant, sub);
    s.create_registry(&reg).await.expect("create registry");
    s.create_scope_map(&map(&reg, "doomed-map", &["repositories/a/content/read"]))
        .await
        .expect("map");
    s.create_repository_token(&token(&reg, "doomed-token", "doomed-map", false))
        .await
        .expect("token");
    assert!(s.delete_registry(&reg.id).await.expect("delete registry"));
    assert!(
        s.list_repository_tokens(&reg.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(s.list_scope_maps(&reg.id).await.expect("list").is_empty());
    // A registry of the same name later starts empty.
    let again = registry("tokensdoomed", tenant, sub);
    s.create_registry(&again).await.expect("recreate");
    assert_eq!(
        s.find_repository_token(&again.id, "doomed-token")
            .await
            .expect("find"),
        None
    );
}
