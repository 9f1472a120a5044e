//! Conformance cases for applications, service principals, their
//! credentials and client-assertion replay keys (issue #4), run by
//! `meta::conformance` against every adapter.

use acrylic_model::{ObjectId, TenantId};
use acrylic_store::{
    AppCredential, AppCredentialKind, Application, FederatedCredential, MetaStore,
    ServicePrincipal, SignInAudience, StoreError,
};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n - n.rem_euclid(1_000_000)).expect("valid time")
}

pub async fn suite(s: &dyn MetaStore, tenant: TenantId) {
    let app = applications(s, tenant).await;
    service_principals(s, &app).await;
    credentials(s, &app).await;
    federated(s, &app).await;
    replay_keys(s).await;
    deleting(s, &app).await;
}

fn application(tenant: TenantId, name: &str) -> Application {
    let at = now();
    Application {
        id: ObjectId::new_random(),
        app_id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        display_name: name.into(),
        sign_in_audience: SignInAudience::SingleTenant,
        created_at: at,
        updated_at: at,
    }
}

fn password(app: &Application, end: OffsetDateTime) -> AppCredential {
    let at = now();
    AppCredential {
        key_id: uuid::Uuid::new_v4(),
        application_id: app.id,
        kind: AppCredentialKind::Password {
            hash: format!(
                "$argon2id$v=19$m=19456,t=2,p=1$fake${}",
                uuid::Uuid::new_v4()
            ),
        },
        display_name: Some("rbac".into()),
        hint: Some("abc".into()),
        start_at: at,
        end_at: end,
        created_at: at,
    }
}

async fn applications(s: &dyn MetaStore, tenant: TenantId) -> Application {
    let ci = application(tenant, "ci-pipeline");
    s.create_application(&ci).await.expect("create application");
    assert_eq!(
        s.find_application(&ci.id).await.expect("find"),
        Some(ci.clone())
    );
    assert_eq!(
        s.find_application_by_app_id(&ci.app_id)
            .await
            .expect("find by appId"),
        Some(ci.clone())
    );
    assert_eq!(
        s.find_application_by_app_id(&uuid::Uuid::new_v4())
            .await
            .expect("find absent"),
        None
    );
    // The same appId again is a conflict, as is the same object id.
    let dup_app_id = Application {
        id: ObjectId::new_random(),
        ..ci.clone()
    };
    assert!(matches!(
        s.create_application(&dup_app_id).await,
        Err(StoreError::Conflict { .. })
    ));
    let dup_id = Application {
        app_id: uuid::Uuid::new_v4(),
        ..ci.clone()
    };
    assert!(matches!(
        s.create_application(&dup_id).await,
        Err(StoreError::Conflict { .. })
    ));

    // Listing: the tenant's, by display name case-insensitively.
    let other = application(tenant, "Alpha");
    s.create_application(&other).await.expect("create second");
    let elsewhere = application(TenantId::new_random(), "Elsewhere");
    s.create_application(&elsewhere)
        .await
        .expect("create third");
    let names: Vec<String> = s
        .list_applications(&tenant)
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.display_name)
        .filter(|n| n == "Alpha" || n == "ci-pipeline" || n == "Elsewhere")
        .collect();
    assert_eq!(names, vec!["Alpha", "ci-pipeline"]);

    // Update replaces name and audience.
    let mut updated = ci.clone();
    updated.display_name = "ci".into();
    updated.sign_in_audience = SignInAudience::MultiTenant;
    updated.updated_at = now() + Duration::seconds(1);
    s.update_application(&updated).await.expect("update");
    assert_eq!(
        s.find_application(&ci.id).await.expect("find updated"),
        Some(updated.clone())
    );
    let ghost = application(tenant, "ghost");
    assert!(matches!(
        s.update_application(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(s.delete_application(&other.id).await.expect("delete"));
    assert!(!s.delete_application(&other.id).await.expect("delete twice"));
    assert!(s.delete_application(&elsewhere.id).await.expect("delete"));
    updated
}

async fn service_principals(s: &dyn MetaStore, app: &Application) {
    let home = ServicePrincipal {
        id: ObjectId::new_random(),
        app_id: app.app_id,
        tenant_id: app.tenant_id,
        display_name: app.display_name.clone(),
        enabled: true,
        created_at: now(),
    };
    s.create_service_principal(&home).await.expect("create sp");
    // One per app and tenant.
    let again = ServicePrincipal {
        id: ObjectId::new_random(),
        ..home.clone()
    };
    assert!(matches!(
        s.create_service_principal(&again).await,
        Err(StoreError::Conflict { .. })
    ));
    // Another tenant (the consent step of a multi-tenant app).
    let other_tenant = TenantId::new_random();
    let guest = ServicePrincipal {
        id: ObjectId::new_random(),
        tenant_id: other_tenant,
        created_at: now() + Duration::milliseconds(5),
        ..home.clone()
    };
    s.create_service_principal(&guest)
        .await
        .expect("create sp in another tenant");
    // An app that does not exist has no service principals.
    let orphan = ServicePrincipal {
        id: ObjectId::new_random(),
        app_id: uuid::Uuid::new_v4(),
        ..home.clone()
    };
    assert!(matches!(
        s.create_service_principal(&orphan).await,
        Err(StoreError::NotFound { .. })
    ));

    assert_eq!(
        s.find_service_principal(&home.id).await.expect("find"),
        Some(home.clone())
    );
    assert_eq!(
        s.find_service_principal_by_app(&app.app_id, &other_tenant)
            .await
            .expect("find by app"),
        Some(guest.clone())
    );
    assert_eq!(
        s.find_service_principal_by_app(&app.app_id, &TenantId::new_random())
            .await
            .expect("find by app elsewhere"),
        None
    );
    assert_eq!(
        s.list_service_principals(&other_tenant)
            .await
            .expect("list"),
        vec![guest.clone()]
    );
    assert_eq!(
        s.list_service_principals_of_app(&app.app_id)
            .await
            .expect("list of app"),
        vec![home.clone(), guest.clone()]
    );
    // An application with service principals cannot be deleted.
    assert!(s.delete_application(&app.id).await.is_err());

    let mut disabled = guest.clone();
    disabled.enabled = false;
    disabled.display_name = "renamed".into();
    s.update_service_principal(&disabled)
        .await
        .expect("update sp");
    assert_eq!(
        s.find_service_principal(&guest.id).await.expect("find"),
        Some(disabled)
    );
    assert!(
        s.delete_service_principal(&guest.id)
            .await
            .expect("delete sp")
    );
    assert!(
        !s.delete_service_principal(&guest.id)
            .await
            .expect("delete sp twice")
    );
    assert!(matches!(
        s.update_service_principal(&guest).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn credentials(s: &dyn MetaStore, app: &Application) {
    let t = now();
    let year = password(app, t + Duration::days(365));
    let month = password(app, t + Duration::days(30));
    s.add_app_credential(&year).await.expect("add secret");
    s.add_app_credential(&month).await.expect("add second");
    assert!(matches!(
        s.add_app_credential(&year).await,
        Err(StoreError::Conflict { .. })
    ));
    let stray = AppCredential {
        key_id: uuid::Uuid::new_v4(),
        application_id: ObjectId::new_random(),
        ..year.clone()
    };
    assert!(matches!(
        s.add_app_credential(&stray).await,
        Err(StoreError::NotFound { .. })
    ));
    let cert = AppCredential {
        key_id: uuid::Uuid::new_v4(),
        kind: AppCredentialKind::Certificate {
            der: vec![0x30, 0x82, 0, 1, 2, 255],
            sha1: "aa".repeat(20),
            sha256: "bb".repeat(32),
        },
        hint: None,
        display_name: Some("CN=ci".into()),
        end_at: t + Duration::days(200),
        ..year.clone()
    };
    s.add_app_credential(&cert).await.expect("add certificate");
    // Soonest end first.
    assert_eq!(
        s.list_app_credentials(&app.id).await.expect("list"),
        vec![month.clone(), cert.clone(), year.clone()]
    );
    let ends = s.list_soonest_credential_ends().await.expect("soonest");
    assert!(
        ends.contains(&(app.app_id, month.end_at)),
        "{ends:?} lacks {}",
        app.app_id
    );

    // A reset replaces every secret (not certificates), in one step.
    let fresh = password(app, t + Duration::days(365));
    assert_eq!(s.replace_app_passwords(&fresh).await.expect("replace"), 2);
    assert_eq!(
        s.list_app_credentials(&app.id).await.expect("list"),
        vec![cert.clone(), fresh.clone()]
    );
    // A conflicting new key leaves the old secrets in place.
    assert!(matches!(
        s.replace_app_passwords(&cert).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.list_app_credentials(&app.id).await.expect("list").len(),
        2
    );

    assert!(
        s.delete_app_credential(&app.id, &cert.key_id)
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_app_credential(&app.id, &cert.key_id)
            .await
            .expect("delete twice")
    );
    assert!(
        !s.delete_app_credential(&ObjectId::new_random(), &fresh.key_id)
            .await
            .expect("delete via another app")
    );
    assert_eq!(
        s.list_app_credentials(&app.id).await.expect("list"),
        vec![fresh]
    );
}

async fn federated(s: &dyn MetaStore, app: &Application) {
    let github = FederatedCredential {
        id: uuid::Uuid::new_v4(),
        application_id: app.id,
        name: "github-main".into(),
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: "repo:org/repo:ref:refs/heads/main".into(),
        audiences: vec!["api://AzureADTokenExchange".into()],
        description: Some("main branch".into()),
        created_at: now(),
    };
    s.create_federated_credential(&github)
        .await
        .expect("create federated");
    let same_name = FederatedCredential {
        id: uuid::Uuid::new_v4(),
        name: "GitHub-Main".into(),
        ..github.clone()
    };
    assert!(matches!(
        s.create_federated_credential(&same_name).await,
        Err(StoreError::Conflict { .. })
    ));
    let k8s = FederatedCredential {
        id: uuid::Uuid::new_v4(),
        name: "aks".into(),
        issuer: "https://oidc.example/123".into(),
        subject: "system:serviceaccount:default:builder".into(),
        audiences: vec!["api://AzureADTokenExchange".into(), "other".into()],
        description: None,
        ..github.clone()
    };
    s.create_federated_credential(&k8s)
        .await
        .expect("create second");
    let orphan = FederatedCredential {
        id: uuid::Uuid::new_v4(),
        application_id: ObjectId::new_random(),
        ..github.clone()
    };
    assert!(matches!(
        s.create_federated_credential(&orphan).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        s.list_federated_credentials(&app.id).await.expect("list"),
        vec![k8s.clone(), github.clone()]
    );
    assert!(
        s.delete_federated_credential(&app.id, &k8s.id)
            .await
            .expect("delete")
    );
    assert!(
        !s.delete_federated_credential(&app.id, &k8s.id)
            .await
            .expect("delete twice")
    );
    assert_eq!(
        s.list_federated_credentials(&app.id).await.expect("list"),
        vec![github]
    );
}

async fn replay_keys(s: &dyn MetaStore) {
    let t = now();
    let key = format!("app|{}", uuid::Uuid::new_v4());
    assert!(
        s.record_assertion_jti(&key, t + Duration::minutes(10))
            .await
            .expect("record")
    );
    assert!(
        !s.record_assertion_jti(&key, t + Duration::minutes(10))
            .await
            .expect("record again"),
        "a second use is a replay"
    );
    let short = format!("app|{}", uuid::Uuid::new_v4());
    assert!(
        s.record_assertion_jti(&short, t - Duration::minutes(1))
            .await
            .expect("record expired")
    );
    assert!(
        s.delete_expired_assertion_jtis(t).await.expect("purge") >= 1,
        "the expired key goes"
    );
    assert!(
        !s.record_assertion_jti(&key, t + Duration::minutes(10))
            .await
            .expect("record once more"),
        "an unexpired key stays"
    );
    assert!(
        s.record_assertion_jti(&short, t + Duration::minutes(10))
            .await
            .expect("record after purge")
    );
}

async fn deleting(s: &dyn MetaStore, app: &Application) {
    let key = password(app, now() + Duration::days(1));
    s.add_app_credential(&key).await.expect("add");
    for sp in s
        .list_service_principals_of_app(&app.app_id)
        .await
        .expect("list")
    {
        s.delete_service_principal(&sp.id).await.expect("delete sp");
    }
    assert!(s.delete_application(&app.id).await.expect("delete app"));
    // Its credentials and federated credentials went with it.
    assert!(
        s.list_app_credentials(&app.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.list_federated_credentials(&app.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        s.find_application_by_app_id(&app.app_id)
            .await
            .expect("find"),
        None
    );
}
