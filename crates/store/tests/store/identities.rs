//! Conformance cases for compute resources, managed identities and their
//! attachments (issue #5), run by `meta::conformance` against every adapter.

use acrylic_model::{ArmScope, ObjectId, ResourceGroupName, SubscriptionId, TenantId};
use acrylic_store::{ComputeResource, ManagedIdentity, MetaStore, StoreError};
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

fn rg(name: &str) -> ResourceGroupName {
    ResourceGroupName::parse(name).expect("resource group")
}

fn id(s: &str) -> ArmScope {
    ArmScope::parse(s).expect("resource id")
}

fn user_assigned(
    tenant: TenantId,
    sub: SubscriptionId,
    group: &str,
    name: &str,
) -> ManagedIdentity {
    ManagedIdentity {
        principal_id: ObjectId::new_random(),
        client_id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        resource_id: id(&format!(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
        )),
        subscription_id: sub,
        resource_group: rg(group),
        name: name.into(),
        location: "westeurope".into(),
        system_assigned: false,
        created_at: now(),
    }
}

fn resource(tenant: TenantId, sub: SubscriptionId, group: &str, name: &str) -> ComputeResource {
    let at = now();
    ComputeResource {
        id: id(&format!(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Web/sites/{name}"
        )),
        tenant_id: tenant,
        subscription_id: sub,
        resource_group: rg(group),
        name: name.into(),
        kind: "webapp".into(),
        location: "westeurope".into(),
        system_identity: None,
        properties: "{}".into(),
        created_at: at,
        updated_at: at,
    }
}

pub async fn suite(s: &dyn MetaStore, tenant: TenantId, sub: SubscriptionId) {
    // User-assigned identities: created, found three ways, listed by name.
    let beta = user_assigned(tenant, sub, "mi-rg", "beta");
    let alpha = user_assigned(tenant, sub, "MI-rg", "Alpha");
    let other_rg = user_assigned(tenant, sub, "elsewhere", "gamma");
    for mi in [&beta, &alpha, &other_rg] {
        s.create_managed_identity(mi)
            .await
            .expect("create identity");
    }
    let mut clash = user_assigned(tenant, sub, "mi-rg", "BETA");
    assert!(
        matches!(
            s.create_managed_identity(&clash).await,
            Err(StoreError::Conflict { .. })
        ),
        "the resource id is unique case-insensitively"
    );
    clash.resource_id = id(&format!("{}-2", beta.resource_id));
    clash.client_id = beta.client_id;
    assert!(matches!(
        s.create_managed_identity(&clash).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.find_managed_identity(&beta.principal_id)
            .await
            .expect("find"),
        Some(beta.clone())
    );
    assert_eq!(
        s.find_managed_identity_by_client_id(&alpha.client_id)
            .await
            .expect("find"),
        Some(alpha.clone())
    );
    let upper = id(&beta.resource_id.as_str().to_ascii_uppercase());
    assert_eq!(
        s.find_managed_identity_by_resource_id(&upper)
            .await
            .expect("find"),
        Some(beta.clone())
    );
    assert_eq!(
        s.list_user_assigned_identities(&sub, Some(&rg("Mi-Rg")))
            .await
            .expect("list"),
        vec![alpha.clone(), beta.clone()]
    );
    let all = s
        .list_user_assigned_identities(&sub, None)
        .await
        .expect("list");
    assert!(all.contains(&other_rg) && all.len() >= 3);

    // A resource with a system-assigned identity.
    let mut app = resource(tenant, sub, "mi-rg", "web1");
    let system = ManagedIdentity {
        principal_id: ObjectId::new_random(),
        client_id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        resource_id: app.id.clone(),
        subscription_id: sub,
        resource_group: rg("mi-rg"),
        name: "web1".into(),
        location: "westeurope".into(),
        system_assigned: true,
        created_at: now(),
    };
    app.system_identity = Some(ObjectId::new_random());
    assert!(
        matches!(
            s.create_compute_resource(&app).await,
            Err(StoreError::NotFound { .. })
        ),
        "a system identity that does not exist is refused"
    );
    s.create_managed_identity(&system)
        .await
        .expect("system identity");
    app.system_identity = Some(system.principal_id);
    s.create_compute_resource(&app)
        .await
        .expect("create resource");
    assert!(matches!(
        s.create_compute_resource(&app).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.find_compute_resource(&app.id).await.expect("find"),
        Some(app.clone())
    );
    assert!(
        !s.list_user_assigned_identities(&sub, Some(&rg("mi-rg")))
            .await
            .expect("list")
            .contains(&system),
        "system-assigned identities are not listed as user-assigned"
    );
    assert!(
        matches!(
            s.delete_managed_identity(&system.principal_id).await,
            Err(StoreError::Conflict { .. })
        ),
        "a resource's own identity cannot go before the resource"
    );
    let second = resource(tenant, sub, "other-rg", "web2");
    s.create_compute_resource(&second).await.expect("create");
    assert_eq!(
        s.list_compute_resources(&sub, Some(&rg("MI-RG")))
            .await
            .expect("list"),
        vec![app.clone()]
    );
    assert_eq!(
        s.list_compute_resources(&sub, None)
            .await
            .expect("list")
            .len(),
        2
    );

    // Update: the system identity and properties change.
    app.properties = r#"{"k":"v"}"#.into();
    app.updated_at = now();
    s.update_compute_resource(&app).await.expect("update");
    assert_eq!(
        s.find_compute_resource(&app.id).await.expect("find"),
        Some(app.clone())
    );
    let mut ghost = app.clone();
    ghost.id = id(&format!("{}-ghost", app.id));
    assert!(matches!(
        s.update_compute_resource(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));

    // Attachments.
    let at = now();
    assert!(
        s.attach_identity(&app.id, &beta.principal_id, at)
            .await
            .expect("attach")
    );
    assert!(
        !s.attach_identity(&app.id, &beta.principal_id, at)
            .await
            .expect("again")
    );
    assert!(
        s.attach_identity(&app.id, &alpha.principal_id, at)
            .await
            .expect("attach")
    );
    assert!(
        s.attach_identity(&second.id, &beta.principal_id, at)
            .await
            .expect("attach")
    );
    assert!(matches!(
        s.attach_identity(&ghost.id, &beta.principal_id, at).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.attach_identity(&app.id, &ObjectId::new_random(), at)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.list_attached_identities(&app.id).await.expect("list"),
        vec![alpha.clone(), beta.clone()]
    );
    assert_eq!(
        s.list_resources_of_identity(&beta.principal_id)
            .await
            .expect("list")
            .len(),
        2
    );
    assert!(
        s.detach_identity(&app.id, &alpha.principal_id)
            .await
            .expect("detach")
    );
    assert!(
        !s.detach_identity(&app.id, &alpha.principal_id)
            .await
            .expect("again")
    );

    // Deleting an identity detaches it everywhere.
    assert!(
        s.delete_managed_identity(&beta.principal_id)
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_managed_identity(&beta.principal_id)
            .await
            .expect("again")
    );
    assert!(
        s.list_attached_identities(&app.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.list_attached_identities(&second.id)
            .await
            .expect("list")
            .is_empty()
    );

    // Deleting a resource drops its attachments, then its system identity
    // may go.
    s.attach_identity(&app.id, &alpha.principal_id, at)
        .await
        .expect("attach");
    assert!(s.delete_compute_resource(&app.id).await.expect("delete"));
    assert!(!s.delete_compute_resource(&app.id).await.expect("again"));
    assert!(
        s.list_resources_of_identity(&alpha.principal_id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.delete_managed_identity(&system.principal_id)
            .await
            .expect("delete system")
    );
    assert_eq!(
        s.find_managed_identity(&system.principal_id)
            .await
            .expect("find"),
        None
    );
}
