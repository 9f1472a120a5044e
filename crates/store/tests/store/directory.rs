//! Conformance cases for the directory's sessions, device codes and groups
//! (issue #3), run by `meta::conformance` against every adapter.

use acrylic_model::{ObjectId, TenantId};
use acrylic_store::{
    DeviceCode, DeviceCodeStatus, DirectorySession, Group, GroupMember, MetaStore, PrincipalType,
    StoreError,
};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

pub async fn suite(s: &dyn MetaStore, tenant: TenantId) {
    sessions(s, tenant).await;
    device_codes(s, tenant).await;
    groups(s, tenant).await;
    dropping_signing_keys(s, tenant).await;
}

async fn dropping_signing_keys(s: &dyn MetaStore, tenant: TenantId) {
    let at = now();
    let key = acrylic_store::SigningKey {
        kid: "dir-drop-1".into(),
        algorithm: "RS256".into(),
        purpose: "directory-drop-test".into(),
        tenant_id: Some(tenant),
        sealed_private_key: vec![9, 9, 9],
        created_at: at,
        active_from: at,
        retired_at: Some(at),
    };
    s.insert_signing_key(&key).await.expect("insert key");
    assert!(s.delete_signing_key("dir-drop-1").await.expect("drop"));
    assert!(
        !s.delete_signing_key("dir-drop-1")
            .await
            .expect("drop twice")
    );
    assert!(
        s.list_signing_keys("directory-drop-test")
            .await
            .expect("list")
            .is_empty()
    );
}

fn session(hash: &str, family: uuid::Uuid, user: ObjectId, tenant: TenantId) -> DirectorySession {
    let at = now();
    DirectorySession {
        token_hash: hash.into(),
        family_id: family,
        user_id: user,
        tenant_id: tenant,
        client_id: "04b07795-8ddb-461a-bbee-02f9e1bf7b46".into(),
        scope: "https://management.azure.com/.default offline_access".into(),
        auth_time: at,
        created_at: at,
        expires_at: at + Duration::days(90),
        used_at: None,
    }
}

async fn sessions(s: &dyn MetaStore, tenant: TenantId) {
    let alice = ObjectId::new_random();
    let bob = ObjectId::new_random();
    let f1 = uuid::Uuid::new_v4();
    let f2 = uuid::Uuid::new_v4();
    let a1 = session("a1", f1, alice, tenant);
    let a2 = session("a2", f1, alice, tenant);
    let a3 = session("a3", f2, alice, tenant);
    let b1 = session("b1", uuid::Uuid::new_v4(), bob, tenant);
    for x in [&a1, &a2, &a3, &b1] {
        s.insert_directory_session(x).await.expect("insert session");
    }
    assert!(matches!(
        s.insert_directory_session(&a1).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.find_directory_session("a1").await.expect("find"),
        Some(a1.clone())
    );
    assert_eq!(s.find_directory_session("zz").await.expect("find"), None);

    // Exactly one redemption wins; the row remembers when.
    let used = now() + Duration::seconds(1);
    assert!(
        s.mark_directory_session_used("a1", used)
            .await
            .expect("mark")
    );
    assert!(
        !s.mark_directory_session_used("a1", used)
            .await
            .expect("mark again")
    );
    assert!(
        !s.mark_directory_session_used("zz", used)
            .await
            .expect("mark unknown")
    );
    let found = s
        .find_directory_session("a1")
        .await
        .expect("find")
        .expect("a1");
    assert_eq!(found.used_at, Some(used));

    // Racing redemptions of one token: one winner.
    let racers = (0..8).map(|_| s.mark_directory_session_used("a2", used));
    let wins = futures::future::join_all(racers)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(wins, 1);

    // A family dies together and only that family.
    assert_eq!(
        s.delete_directory_session_family(&f1).await.expect("kill"),
        2
    );
    assert_eq!(s.find_directory_session("a2").await.expect("find"), None);
    assert!(
        s.find_directory_session("a3")
            .await
            .expect("find")
            .is_some()
    );

    // Signing a user out everywhere leaves other users alone.
    assert_eq!(
        s.delete_directory_sessions_of_user(&alice)
            .await
            .expect("user"),
        1
    );
    assert!(
        s.find_directory_session("a3")
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        s.find_directory_session("b1")
            .await
            .expect("find")
            .is_some()
    );

    // Expired tokens are purged; live ones stay.
    let old = DirectorySession {
        token_hash: "old".into(),
        expires_at: now() - Duration::minutes(1),
        ..session("x", uuid::Uuid::new_v4(), bob, tenant)
    };
    s.insert_directory_session(&old).await.expect("insert old");
    assert_eq!(
        s.delete_expired_directory_sessions(now())
            .await
            .expect("purge"),
        1
    );
    assert!(
        s.find_directory_session("b1")
            .await
            .expect("find")
            .is_some()
    );
    assert_eq!(
        s.delete_directory_sessions_of_user(&bob)
            .await
            .expect("bob"),
        1
    );
}

async fn device_codes(s: &dyn MetaStore, tenant: TenantId) {
    let at = now();
    let code = DeviceCode {
        device_code_hash: "dc1".into(),
        user_code_hash: "uc1".into(),
        client_id: "c9bd9f01-d240-4d29-b691-bc7b55eec55f".into(),
        tenant_id: Some(tenant),
        scope: "https://management.azure.com/.default offline_access".into(),
        status: DeviceCodeStatus::Pending,
        user_id: None,
        interval_secs: 5,
        last_polled_at: None,
        created_at: at,
        expires_at: at + Duration::minutes(15),
    };
    s.insert_device_code(&code).await.expect("insert");
    let anywhere = DeviceCode {
        device_code_hash: "dc2".into(),
        user_code_hash: "uc2".into(),
        tenant_id: None,
        ..code.clone()
    };
    s.insert_device_code(&anywhere).await.expect("insert dc2");
    // Neither code may repeat.
    for clash in [
        DeviceCode {
            user_code_hash: "other".into(),
            ..code.clone()
        },
        DeviceCode {
            device_code_hash: "other".into(),
            ..code.clone()
        },
    ] {
        assert!(matches!(
            s.insert_device_code(&clash).await,
            Err(StoreError::Conflict { .. })
        ));
    }
    assert_eq!(
        s.find_device_code("dc1").await.expect("find"),
        Some(code.clone())
    );
    assert_eq!(
        s.find_device_code_by_user_code("uc2").await.expect("find"),
        Some(anywhere.clone())
    );
    assert_eq!(s.find_device_code("nope").await.expect("find"), None);

    let polled = at + Duration::seconds(2);
    assert!(
        s.record_device_code_poll("dc1", polled, 10)
            .await
            .expect("poll")
    );
    assert!(
        !s.record_device_code_poll("nope", polled, 10)
            .await
            .expect("poll")
    );
    let after = s.find_device_code("dc1").await.expect("find").expect("dc1");
    assert_eq!(after.last_polled_at, Some(polled));
    assert_eq!(after.interval_secs, 10);

    // Not redeemable while pending; decided once; only before expiry.
    assert!(!s.redeem_device_code("dc1").await.expect("redeem pending"));
    let user = ObjectId::new_random();
    assert!(
        !s.decide_device_code("dc1", true, &user, at + Duration::minutes(16))
            .await
            .expect("decide late")
    );
    assert!(
        s.decide_device_code("dc1", true, &user, at)
            .await
            .expect("approve")
    );
    assert!(
        !s.decide_device_code("dc1", false, &user, at)
            .await
            .expect("twice")
    );
    let approved = s.find_device_code("dc1").await.expect("find").expect("dc1");
    assert_eq!(approved.status, DeviceCodeStatus::Approved);
    assert_eq!(approved.user_id, Some(user));
    assert!(s.redeem_device_code("dc1").await.expect("redeem"));
    assert!(!s.redeem_device_code("dc1").await.expect("redeem twice"));
    assert_eq!(s.find_device_code("dc1").await.expect("find"), None);

    assert!(
        s.decide_device_code("dc2", false, &user, at)
            .await
            .expect("deny")
    );
    assert!(
        !s.redeem_device_code("dc2")
            .await
            .expect("denied is not redeemable")
    );
    assert_eq!(
        s.find_device_code("dc2")
            .await
            .expect("find")
            .map(|d| d.status),
        Some(DeviceCodeStatus::Denied)
    );
    assert_eq!(
        s.delete_expired_device_codes(at + Duration::minutes(16))
            .await
            .expect("purge"),
        1
    );
    assert_eq!(s.find_device_code("dc2").await.expect("find"), None);
}

async fn groups(s: &dyn MetaStore, tenant: TenantId) {
    let at = now();
    let group = |name: &str, t: TenantId| Group {
        id: ObjectId::new_random(),
        tenant_id: t,
        display_name: name.into(),
        mail_nickname: name.to_lowercase(),
        description: Some(format!("the {name} team")),
        created_at: at,
    };
    let devs = group("Developers", tenant);
    let ops = group("ops", tenant);
    let all = group("Everyone", tenant);
    let elsewhere = group("Developers", TenantId::new_random());
    for g in [&devs, &ops, &all, &elsewhere] {
        s.create_group(g).await.expect("create group");
    }
    assert!(matches!(
        s.create_group(&devs).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.find_group(&devs.id).await.expect("find"),
        Some(devs.clone())
    );
    assert_eq!(
        s.find_group(&ObjectId::new_random()).await.expect("find"),
        None
    );
    let names: Vec<String> = s
        .list_groups(&tenant)
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.display_name)
        .collect();
    assert_eq!(names, ["Developers", "Everyone", "ops"]);

    let alice = ObjectId::new_random();
    let sp = ObjectId::new_random();
    let member = |g: &Group, m: ObjectId, t: PrincipalType| GroupMember {
        group_id: g.id,
        member_id: m,
        member_type: t,
        created_at: at,
    };
    assert!(
        s.add_group_member(&member(&devs, alice, PrincipalType::User))
            .await
            .expect("add")
    );
    assert!(
        !s.add_group_member(&member(&devs, alice, PrincipalType::User))
            .await
            .expect("add twice")
    );
    assert!(
        s.add_group_member(&member(&devs, sp, PrincipalType::ServicePrincipal))
            .await
            .expect("sp")
    );
    assert!(
        s.add_group_member(&member(&ops, alice, PrincipalType::User))
            .await
            .expect("ops")
    );
    assert!(
        s.add_group_member(&member(&all, devs.id, PrincipalType::Group))
            .await
            .expect("nested")
    );
    let missing = group("ghost", tenant);
    assert!(matches!(
        s.add_group_member(&member(&missing, alice, PrincipalType::User))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    let members = s.list_group_members(&devs.id).await.expect("members");
    assert_eq!(members.len(), 2);
    assert!(members.contains(&member(&devs, alice, PrincipalType::User)));
    assert!(members.contains(&member(&devs, sp, PrincipalType::ServicePrincipal)));
    // Direct memberships only: alice is in Everyone through Developers, not directly.
    let mut of_alice = s.list_groups_of(&alice).await.expect("groups of");
    of_alice.sort();
    let mut want = vec![devs.id, ops.id];
    want.sort();
    assert_eq!(of_alice, want);
    assert_eq!(
        s.list_groups_of(&devs.id).await.expect("of devs"),
        vec![all.id]
    );

    assert!(
        s.remove_group_member(&ops.id, &alice)
            .await
            .expect("remove")
    );
    assert!(
        !s.remove_group_member(&ops.id, &alice)
            .await
            .expect("remove twice")
    );
    assert_eq!(s.list_groups_of(&alice).await.expect("of"), vec![devs.id]);

    // Deleting a group takes its member list and its own memberships.
    assert!(s.delete_group(&devs.id).await.expect("delete"));
    assert!(!s.delete_group(&devs.id).await.expect("delete twice"));
    assert!(s.list_group_members(&all.id).await.expect("all").is_empty());
    assert!(s.list_groups_of(&alice).await.expect("of").is_empty());
    assert!(s.list_groups_of(&sp).await.expect("of sp").is_empty());

    // A deleted object leaves every group.
    assert!(
        s.add_group_member(&member(&ops, sp, PrincipalType::ServicePrincipal))
            .await
            .expect("a")
    );
    assert!(
        s.add_group_member(&member(&all, sp, PrincipalType::ServicePrincipal))
            .await
            .expect("b")
    );
    assert_eq!(s.remove_from_all_groups(&sp).await.expect("remove all"), 2);
    assert!(s.list_groups_of(&sp).await.expect("of sp").is_empty());
    for g in [&ops, &all, &elsewhere] {
        assert!(s.delete_group(&g.id).await.expect("cleanup"));
    }
}
