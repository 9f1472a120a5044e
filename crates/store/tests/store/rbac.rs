//! Conformance cases for custom role definitions and the role-assignment
//! lookups of the RBAC control plane (issue #3), run by
//! `meta::conformance` against every adapter.

use acrylic_model::{
    ArmScope, ObjectId, RegistryName, ResourceGroupName, SubscriptionId, TenantId,
};
use acrylic_store::{MetaStore, PrincipalType, RoleAssignment, RoleDefinitionRecord, StoreError};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| (*x).to_owned()).collect()
}

pub async fn suite(s: &dyn MetaStore, tenant: TenantId, sub: SubscriptionId) {
    role_definitions(s, tenant, sub).await;
    // A subscription of its own: earlier suites leave assignments on `sub`.
    assignment_lookups(s, SubscriptionId::new_random()).await;
}

async fn role_definitions(s: &dyn MetaStore, tenant: TenantId, sub: SubscriptionId) {
    let at = now();
    let other_tenant = TenantId::new_random();
    let sub_scope = ArmScope::subscription(&sub);
    let rg_scope =
        ArmScope::resource_group(&sub, &ResourceGroupName::parse("rbac-rg").expect("rg"));
    let puller = RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        name: "Team Puller".into(),
        description: "Pulls images".into(),
        actions: strings(&["Microsoft.ContainerRegistry/registries/pull/read"]),
        not_actions: vec![],
        data_actions: strings(&["Microsoft.ContainerRegistry/registries/repositories/*"]),
        not_data_actions: strings(&[
            "Microsoft.ContainerRegistry/registries/repositories/content/delete",
        ]),
        assignable_scopes: vec![sub_scope.clone(), rg_scope.clone()],
        created_at: at,
        updated_at: at,
    };
    s.create_role_definition(&puller)
        .await
        .expect("create role definition");
    assert_eq!(
        s.find_role_definition(&puller.id).await.expect("find"),
        Some(puller.clone())
    );
    assert_eq!(
        s.find_role_definition_by_name(&tenant, "TEAM PULLER")
            .await
            .expect("find by name"),
        Some(puller.clone()),
        "names compare case-insensitively"
    );
    assert_eq!(
        s.find_role_definition_by_name(&other_tenant, "Team Puller")
            .await
            .expect("find by name elsewhere"),
        None
    );
    assert_eq!(
        s.find_role_definition(&uuid::Uuid::new_v4())
            .await
            .expect("find absent"),
        None
    );

    // The same id again, or the same name in the tenant: Conflict. The same
    // name in another tenant is fine.
    let dup_id = RoleDefinitionRecord {
        name: "Other".into(),
        ..puller.clone()
    };
    assert!(matches!(
        s.create_role_definition(&dup_id).await,
        Err(StoreError::Conflict { .. })
    ));
    let dup_name = RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        name: "team PULLER".into(),
        ..puller.clone()
    };
    assert!(matches!(
        s.create_role_definition(&dup_name).await,
        Err(StoreError::Conflict { .. })
    ));
    let elsewhere = RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        tenant_id: other_tenant,
        ..puller.clone()
    };
    s.create_role_definition(&elsewhere)
        .await
        .expect("same name, other tenant");

    let auditor = RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        name: "Auditor".into(),
        description: String::new(),
        actions: strings(&["*/read"]),
        not_actions: strings(&["Microsoft.ContainerRegistry/registries/listCredentials/action"]),
        data_actions: vec![],
        not_data_actions: vec![],
        assignable_scopes: vec![sub_scope.clone()],
        created_at: at + Duration::milliseconds(1),
        updated_at: at + Duration::milliseconds(1),
        ..puller.clone()
    };
    s.create_role_definition(&auditor).await.expect("create");
    let listed = s.list_role_definitions(&tenant).await.expect("list");
    assert_eq!(
        listed,
        vec![auditor.clone(), puller.clone()],
        "by name, one tenant"
    );
    assert_eq!(
        s.list_role_definitions(&other_tenant)
            .await
            .expect("list other"),
        vec![elsewhere.clone()]
    );

    // Update: everything but id, tenant and creation time.
    let updated = RoleDefinitionRecord {
        name: "Team Reader".into(),
        description: "Reads images".into(),
        actions: vec![],
        data_actions: strings(&[
            "Microsoft.ContainerRegistry/registries/repositories/content/read",
        ]),
        not_data_actions: vec![],
        assignable_scopes: vec![rg_scope.clone()],
        updated_at: at + Duration::seconds(5),
        ..puller.clone()
    };
    s.update_role_definition(&updated).await.expect("update");
    assert_eq!(
        s.find_role_definition(&puller.id).await.expect("find"),
        Some(updated.clone())
    );
    assert_eq!(
        s.find_role_definition_by_name(&tenant, "team puller")
            .await
            .expect("old name"),
        None
    );
    let rename_clash = RoleDefinitionRecord {
        name: "AUDITOR".into(),
        ..updated.clone()
    };
    assert!(matches!(
        s.update_role_definition(&rename_clash).await,
        Err(StoreError::Conflict { .. })
    ));
    let absent = RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        name: "Nobody".into(),
        ..updated.clone()
    };
    assert!(matches!(
        s.update_role_definition(&absent).await,
        Err(StoreError::NotFound { .. })
    ));

    assert!(s.delete_role_definition(&puller.id).await.expect("delete"));
    assert!(
        !s.delete_role_definition(&puller.id)
            .await
            .expect("delete twice")
    );
    assert_eq!(
        s.find_role_definition(&puller.id).await.expect("find"),
        None
    );
    // The name is free again.
    s.create_role_definition(&RoleDefinitionRecord {
        id: uuid::Uuid::new_v4(),
        ..updated
    })
    .await
    .expect("name reusable after delete");
}

async fn assignment_lookups(s: &dyn MetaStore, sub: SubscriptionId) {
    let at = now();
    let rg = ResourceGroupName::parse("Lookup-RG").expect("rg");
    let sub_scope = ArmScope::subscription(&sub);
    let rg_scope = ArmScope::resource_group(&sub, &rg);
    let reg_scope = ArmScope::registry(&sub, &rg, &RegistryName::parse("lookupreg").expect("name"));
    let custom_role = uuid::Uuid::new_v4();
    let other_role = uuid::Uuid::new_v4();
    let make = |scope: &ArmScope, role: uuid::Uuid, offset: i64| {
        RoleAssignment {
        id: uuid::Uuid::new_v4(),
        scope: scope.clone(),
        role_definition_id: role,
        principal_id: ObjectId::new_random(),
        principal_type: PrincipalType::User,
        condition: Some("@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'a/'".into()),
        created_at: at + Duration::milliseconds(offset),
    }
    };
    let on_sub = make(&sub_scope, custom_role, 0);
    let on_rg = make(&rg_scope, other_role, 1);
    let on_reg = make(&reg_scope, custom_role, 2);
    for a in [&on_sub, &on_rg, &on_reg] {
        s.create_role_assignment(a)
            .await
            .expect("create assignment");
    }

    assert_eq!(
        s.find_role_assignment(&on_reg.id).await.expect("find"),
        Some(on_reg.clone())
    );
    assert_eq!(
        s.find_role_assignment(&uuid::Uuid::new_v4())
            .await
            .expect("find absent"),
        None
    );

    // Exactly these scopes (a scope and its ancestors: atScope()), compared
    // case-insensitively.
    let shouted = ArmScope::parse(&rg_scope.as_str().to_uppercase()).expect("scope");
    let at_rg = s
        .list_role_assignments_at(&[sub_scope.clone(), shouted, ArmScope::root()])
        .await
        .expect("at scopes");
    assert_eq!(at_rg, vec![on_sub.clone(), on_rg.clone()]);
    assert_eq!(
        s.list_role_assignments_at(&[]).await.expect("no scopes"),
        vec![]
    );

    assert_eq!(
        s.list_role_assignments_of_role(&custom_role)
            .await
            .expect("of role"),
        vec![on_sub.clone(), on_reg.clone()]
    );
    assert!(s.delete_role_assignment(&on_sub.id).await.expect("delete"));
    assert_eq!(
        s.list_role_assignments_of_role(&custom_role)
            .await
            .expect("of role"),
        vec![on_reg.clone()]
    );
    for a in [&on_rg, &on_reg] {
        assert!(s.delete_role_assignment(&a.id).await.expect("clean up"));
    }
}
