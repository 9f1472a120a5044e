//! Compute resources and managed identities over real HTTP (issue #5 §1),
//! from the attacker's side as well: user-assigned identities as ARM
//! resources, system-assigned identities made and destroyed with their
//! resource, attaching and detaching through the `identity` block, a kind
//! that cannot carry an identity, attaching an identity the caller may not
//! assign, and role assignments naming an identity.

#![allow(clippy::unwrap_used)]

use acrylic_authz::roles;
use acrylic_model::{ArmScope, ObjectId, ResourceGroupName};
use acrylic_store::ResourceGroup;
use acrylic_testkit::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ARM_SCOPE, PASSWORD, create_user, owner_token, sign_in};

const API: &str = "api-version=2023-01-31";

struct World {
    s: TestServer,
    owner: String,
}

impl World {
    async fn start() -> World {
        let s = TestServer::start().await;
        let owner = owner_token(&s, ARM_SCOPE).await;
        World { s, owner }
    }

    fn sub(&self) -> String {
        format!("/subscriptions/{}", self.s.bootstrap().subscription)
    }

    fn rg(&self, rg: &str) -> String {
        format!("{}/resourceGroups/{rg}", self.sub())
    }

    async fn add_rg(&self, name: &str) {
        self.s
            .state()
            .meta
            .put_resource_group(&ResourceGroup {
                subscription_id: self.s.bootstrap().subscription,
                name: ResourceGroupName::parse(name).unwrap(),
                location: "westeurope".into(),
                created_at: time::OffsetDateTime::now_utc(),
            })
            .await
            .unwrap();
    }

    fn identity_path(&self, rg: &str, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            self.rg(rg)
        )
    }

    fn site_path(&self, rg: &str, name: &str) -> String {
        format!("{}/providers/Microsoft.Web/sites/{name}", self.rg(rg))
    }

    async fn arm(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        crate::support::arm(&self.s, Some(token), method, path, API, body).await
    }

    async fn identity(&self, rg: &str, name: &str) -> Value {
        let (status, v) = self
            .arm(
                &self.owner,
                Method::PUT,
                &self.identity_path(rg, name),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }
}

#[tokio::test]
async fn user_assigned_identities_are_resources_with_stable_ids() {
    let w = World::start().await;
    let rg = w.s.bootstrap().resource_group.to_string();
    let path = w.identity_path(&rg, "builder-id");
    let created = w.identity(&rg, "builder-id").await;
    assert_eq!(
        created["type"],
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    );
    assert_eq!(created["name"], "builder-id");
    assert_eq!(created["id"].as_str().unwrap(), path);
    let p = &created["properties"];
    assert_eq!(p["tenantId"], w.s.bootstrap().tenant.to_string());
    let principal = ObjectId::parse(p["principalId"].as_str().unwrap()).unwrap();
    let client = uuid::Uuid::parse_str(p["clientId"].as_str().unwrap()).unwrap();
    assert_ne!(principal.to_string(), client.to_string());

    // PUT again keeps the ids; GET and list show the same.
    let (status, again) = w
        .arm(
            &w.owner,
            Method::PUT,
            &path,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, created);
    let (status, got) = w.arm(&w.owner, Method::GET, &path, None).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));
    let list_path = format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
        w.rg(&rg)
    );
    let (status, list) = w.arm(&w.owner, Method::GET, &list_path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"], json!([created]));

    // Bad names and bodies are refused.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &w.identity_path(&rg, "x"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "InvalidResourceName");
    let (status, _) = w
        .arm(
            &w.owner,
            Method::PUT,
            &w.identity_path(&rg, "nolocation"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delete: gone from the directory; a second delete is 204.
    let (status, _) = w.arm(&w.owner, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = w.arm(&w.owner, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "ResourceNotFound");
    assert!(
        w.s.state()
            .meta
            .find_managed_identity(&principal)
            .await
            .unwrap()
            .is_none()
    );
    let (status, _) = w.arm(&w.owner, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn system_identity_lives_and_dies_with_its_resource() {
    let w = World::start().await;
    let rg = w.s.bootstrap().resource_group.to_string();
    let site = w.site_path(&rg, "shop-web");
    let ua = w.identity(&rg, "shared-id").await;
    let ua_id = ua["id"].as_str().unwrap().to_owned();

    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &site,
            Some(json!({"location": "westeurope", "kind": "app", "identity": {"type": "SystemAssigned"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["type"], "Microsoft.Web/sites");
    assert_eq!(v["kind"], "app");
    assert_eq!(v["identity"]["type"], "SystemAssigned");
    let system = ObjectId::parse(v["identity"]["principalId"].as_str().unwrap()).unwrap();
    let mi =
        w.s.state()
            .meta
            .find_managed_identity(&system)
            .await
            .unwrap()
            .unwrap();
    assert!(mi.system_assigned);
    assert_eq!(mi.resource_id, ArmScope::parse(&site).unwrap());

    // Attach the user-assigned identity, keeping the system one.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "SystemAssigned, UserAssigned",
                "userAssignedIdentities": {ua_id.clone(): {}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["identity"]["type"], "SystemAssigned, UserAssigned");
    assert_eq!(v["identity"]["principalId"], system.to_string());
    assert_eq!(
        v["identity"]["userAssignedIdentities"][&ua_id]["clientId"],
        ua["properties"]["clientId"]
    );

    // Dropping the system identity deletes it; the user-assigned one stays.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "UserAssigned"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["identity"]["type"], "UserAssigned");
    assert!(v["identity"].get("principalId").is_none());
    assert!(
        w.s.state()
            .meta
            .find_managed_identity(&system)
            .await
            .unwrap()
            .is_none()
    );

    // Detach with null.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {ua_id.clone(): null}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["identity"]["type"], "None");

    // A system identity again; deleting the resource deletes it and its
    // role assignments, and leaves the user-assigned identity.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "SystemAssigned"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let system = ObjectId::parse(v["identity"]["principalId"].as_str().unwrap()).unwrap();
    let assignment = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{}",
        w.rg(&rg),
        uuid::Uuid::new_v4()
    );
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &assignment,
            Some(json!({"properties": {
                "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{}", w.sub(), roles::ACR_PULL),
                "principalId": system.to_string(),
                "principalType": "ServicePrincipal"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, _) = w.arm(&w.owner, Method::DELETE, &site, None).await;
    assert_eq!(status, StatusCode::OK);
    let meta = &w.s.state().meta;
    assert!(meta.find_managed_identity(&system).await.unwrap().is_none());
    assert!(
        meta.list_role_assignments_for(&[system])
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = w.arm(&w.owner, Method::GET, &ua_id, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = w.arm(&w.owner, Method::GET, &site, None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ResourceNotFound"))
    );
}

#[tokio::test]
async fn kinds_and_identity_types_are_checked() {
    let w = World::start().await;
    let rg = w.s.bootstrap().resource_group.to_string();
    let disk = format!("{}/providers/Microsoft.Compute/disks/data1", w.rg(&rg));
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &disk,
            Some(json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "ManagedIdentityNotSupported");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("supports managed identities")
    );
    let (status, _) = w.arm(&w.owner, Method::GET, &disk, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a refused PUT creates nothing"
    );
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &disk,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["identity"]["type"], "None");

    let vm = format!(
        "{}/providers/Microsoft.Compute/virtualMachines/vm1",
        w.rg(&rg)
    );
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &vm,
            Some(json!({"location": "westeurope", "identity": {"type": "Everything"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &vm,
            Some(
                json!({"location": "westeurope", "identity": {"type": "UserAssigned",
                "userAssignedIdentities": {w.identity_path(&rg, "does-not-exist"): {}}}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "FailedIdentityOperation");

    // Function apps are sites of kind functionapp, listed with web apps.
    let func = w.site_path(&rg, "fn1");
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &func,
            Some(json!({"location": "westeurope", "kind": "functionapp"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["kind"], "functionapp");
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!("{}/providers/Microsoft.Web/sites", w.rg(&rg)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn attaching_needs_assign_rights_on_the_identity() {
    let w = World::start().await;
    w.add_rg("apps").await;
    w.add_rg("identities").await;
    let privileged = w.identity("identities", "prod-deployer").await;
    let privileged_id = privileged["id"].as_str().unwrap().to_owned();

    // Mallory may write in `apps` only.
    let tenant = w.s.bootstrap().tenant;
    let mallory = create_user(&w.s, tenant, "mallory@acrylic.local", PASSWORD, true).await;
    let assignment = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{}",
        w.rg("apps"),
        uuid::Uuid::new_v4()
    );
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &assignment,
            Some(json!({"properties": {
                "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{}", w.sub(), roles::CONTRIBUTOR),
                "principalId": mallory.id.to_string()}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let token = sign_in(&w.s, &tenant, &mallory.upn, PASSWORD, ARM_SCOPE).await;

    let site = w.site_path("apps", "evil");
    let (status, v) = w
        .arm(
            &token,
            Method::PUT,
            &site,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = w
        .arm(
            &token,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "UserAssigned",
                "userAssignedIdentities": {privileged_id.clone(): {}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "AuthorizationFailed");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("assign/action")
    );
    let (_, v) = w.arm(&w.owner, Method::GET, &site, None).await;
    assert_eq!(v["identity"]["type"], "None", "nothing was attached");

    // Nor may she see or delete the identity, or create a resource elsewhere.
    let (status, _) = w.arm(&token, Method::GET, &privileged_id, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w.arm(&token, Method::DELETE, &privileged_id, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w
        .arm(
            &token,
            Method::PUT,
            &w.site_path("identities", "x1"),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The owner may attach it.
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &site,
            Some(json!({"identity": {"type": "UserAssigned",
                "userAssignedIdentities": {privileged_id.clone(): {}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(
        v["identity"]["userAssignedIdentities"]
            .get(&privileged_id)
            .is_some()
    );
}

#[tokio::test]
async fn role_assignments_name_identities_as_service_principals() {
    let w = World::start().await;
    let rg = w.s.bootstrap().resource_group.to_string();
    let mi = w.identity(&rg, "puller-id").await;
    let principal = mi["properties"]["principalId"].as_str().unwrap().to_owned();
    let registry = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries/{}",
        w.rg(&rg),
        w.s.bootstrap().registry
    );
    let assign = |principal_type: &'static str| {
        json!({"properties": {
            "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{}", w.sub(), roles::ACR_PULL),
            "principalId": principal.clone(),
            "principalType": principal_type}})
    };
    let path = |id: uuid::Uuid| {
        format!("{registry}/providers/Microsoft.Authorization/roleAssignments/{id}")
    };
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &path(uuid::Uuid::new_v4()),
            Some(assign("User")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "UnmatchedPrincipalType");
    let (status, v) = w
        .arm(
            &w.owner,
            Method::PUT,
            &path(uuid::Uuid::new_v4()),
            Some(assign("ServicePrincipal")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["principalType"], "ServicePrincipal");

    // Deleting the identity takes its role assignments with it.
    let id = ObjectId::parse(&principal).unwrap();
    let (status, _) = w
        .arm(&w.owner, Method::DELETE, mi["id"].as_str().unwrap(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        w.s.state()
            .meta
            .list_role_assignments_for(&[id])
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- clusters (#5 §3) -------------------------------------------------------

mod clusters {
    use acrylic_authz::roles;
    use acrylic_model::{ObjectId, ResourceGroupName, SubscriptionId, TenantId};
    use acrylic_store::{
        Application, ResourceGroup, ServicePrincipal, SignInAudience, Subscription, Tenant,
    };
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    use time::OffsetDateTime;

    use super::World;
    use crate::support::{ARM_SCOPE, PASSWORD, create_user, sign_in};

    fn cluster(w: &World, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.ContainerService/managedClusters/{name}",
            w.rg(w.s.bootstrap().resource_group.as_str())
        )
    }

    fn registry(w: &World) -> String {
        format!(
            "{}/providers/Microsoft.ContainerRegistry/registries/{}",
            w.rg(w.s.bootstrap().resource_group.as_str()),
            w.s.bootstrap().registry
        )
    }

    async fn acr_pulls(w: &World, principal: &ObjectId, scope: &str) -> usize {
        w.s.state()
            .meta
            .list_role_assignments_for(&[*principal])
            .await
            .unwrap()
            .iter()
            .filter(|a| {
                a.scope.as_str().eq_ignore_ascii_case(scope)
                    && a.role_definition_id == roles::ACR_PULL
            })
            .count()
    }

    /// A second tenant with a subscription, a resource group and a registry.
    async fn foreign_registry(w: &World) -> (TenantId, String) {
        let meta = &w.s.state().meta;
        let now = OffsetDateTime::now_utc();
        let tenant = Tenant {
            id: TenantId::new_random(),
            domain: "fabrikam.test".into(),
            display_name: "Fabrikam".into(),
            created_at: now,
        };
        meta.create_tenant(&tenant).await.unwrap();
        let sub = Subscription {
            id: SubscriptionId::new_random(),
            tenant_id: tenant.id,
            display_name: "Fabrikam".into(),
            created_at: now,
        };
        meta.create_subscription(&sub).await.unwrap();
        let rg = ResourceGroupName::parse("fab-rg").unwrap();
        meta.put_resource_group(&ResourceGroup {
            subscription_id: sub.id,
            name: rg.clone(),
            location: "local".into(),
            created_at: now,
        })
        .await
        .unwrap();
        let reg = acrylic_server::bootstrap::create_registry(
            w.s.state(),
            &acrylic_model::RegistryName::parse("fabrikamreg").unwrap(),
            &sub.id,
            &rg,
            &tenant.id,
            acrylic_server::bootstrap::LOCATION,
        )
        .await
        .unwrap();
        (tenant.id, reg.arm_scope().to_string())
    }

    #[tokio::test]
    async fn kubelet_identity_clusters_attach_detach_and_stay_in_their_tenant() {
        let w = World::start().await;
        let path = cluster(&w, "prod");
        let (status, c) = w
            .arm(
                &w.owner,
                Method::PUT,
                &path,
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        assert_eq!(c["type"], "Microsoft.ContainerService/managedClusters");
        let kubelet = &c["properties"]["identityProfile"]["kubeletidentity"];
        let rg = w.s.bootstrap().resource_group.to_string();
        assert_eq!(
            c["properties"]["nodeResourceGroup"],
            format!("MC_{rg}_prod_westeurope")
        );
        let mi_id = kubelet["resourceId"].as_str().unwrap().to_owned();
        assert!(
            mi_id.ends_with("/userAssignedIdentities/prod-agentpool"),
            "{mi_id}"
        );
        let object_id = ObjectId::parse(kubelet["objectId"].as_str().unwrap()).unwrap();
        let (status, mi) = w.arm(&w.owner, Method::GET, &mi_id, None).await;
        assert_eq!(status, StatusCode::OK, "{mi}");
        assert_eq!(mi["properties"]["clientId"], kubelet["clientId"]);
        // PUT again: the same cluster, the same identity.
        let (status, again) = w
            .arm(
                &w.owner,
                Method::PUT,
                &path,
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!((status, &again), (StatusCode::OK, &c));

        // Attach: one AcrPull assignment at the registry, however often.
        let reg = registry(&w);
        for _ in 0..2 {
            let (status, v) = w
                .arm(
                    &w.owner,
                    Method::POST,
                    &format!("{path}/attachAcr"),
                    Some(json!({"registryId": reg})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{v}");
        }
        assert_eq!(acr_pulls(&w, &object_id, &reg).await, 1);

        // The node configuration names the tenant, the identity, the patterns.
        let (status, cfg) = w
            .arm(&w.owner, Method::POST, &format!("{path}/nodeConfig"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{cfg}");
        assert_eq!(cfg["tenantId"], w.s.bootstrap().tenant.to_string());
        assert_eq!(cfg["useManagedIdentityExtension"], true);
        assert_eq!(cfg["userAssignedIdentityID"], kubelet["clientId"]);
        assert_eq!(cfg["aadClientId"], "msi");
        assert_eq!(
            cfg["activeDirectoryAuthorityHost"],
            format!("{}/", w.s.state().settings.server_url())
        );
        assert!(!cfg["registryNamePatterns"].as_array().unwrap().is_empty());

        // A Contributor may manage the cluster but not grant it access.
        let tenant = w.s.bootstrap().tenant;
        let dev = create_user(&w.s, tenant, "dev@acrylic.local", PASSWORD, true).await;
        let (status, v) = w
            .arm(
                &w.owner,
                Method::PUT,
                &format!("{}/providers/Microsoft.Authorization/roleAssignments/{}", w.rg(&rg), uuid::Uuid::new_v4()),
                Some(json!({"properties": {
                    "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{}", w.sub(), roles::CONTRIBUTOR),
                    "principalId": dev.id.to_string()}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let dev_token = sign_in(&w.s, &tenant, &dev.upn, PASSWORD, ARM_SCOPE).await;
        let (status, v) = w
            .arm(
                &dev_token,
                Method::POST,
                &format!("{path}/detachAcr"),
                Some(json!({"registryId": reg})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
        assert_eq!(acr_pulls(&w, &object_id, &reg).await, 1);

        // Detach removes the assignment.
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{path}/detachAcr"),
                Some(json!({"registryId": reg})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(acr_pulls(&w, &object_id, &reg).await, 0);

        // Another tenant's registry: refused, naming both tenants.
        let (foreign_tenant, foreign) = foreign_registry(&w).await;
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{path}/attachAcr"),
                Some(json!({"registryId": foreign})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"]["code"], "CrossTenantManagedIdentity");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&foreign_tenant.to_string()) && msg.contains(&tenant.to_string()),
            "{msg}"
        );
        assert_eq!(acr_pulls(&w, &object_id, &foreign).await, 0);

        // Deleting the cluster deletes its kubelet identity.
        w.arm(
            &w.owner,
            Method::POST,
            &format!("{path}/attachAcr"),
            Some(json!({"registryId": reg})),
        )
        .await;
        let (status, _) = w.arm(&w.owner, Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            w.s.state()
                .meta
                .find_managed_identity(&object_id)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(acr_pulls(&w, &object_id, &reg).await, 0);
        let (status, _) = w.arm(&w.owner, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn service_principal_clusters_use_the_principal_of_the_registry_tenant() {
        let w = World::start().await;
        let meta = &w.s.state().meta;
        let now = OffsetDateTime::now_utc();
        let tenant = w.s.bootstrap().tenant;
        let app = Application {
            id: ObjectId::new_random(),
            app_id: uuid::Uuid::new_v4(),
            tenant_id: tenant,
            display_name: "cluster-sp".into(),
            sign_in_audience: SignInAudience::MultiTenant,
            created_at: now,
            updated_at: now,
        };
        meta.create_application(&app).await.unwrap();
        let sp = ServicePrincipal {
            id: ObjectId::new_random(),
            app_id: app.app_id,
            tenant_id: tenant,
            display_name: "cluster-sp".into(),
            enabled: true,
            created_at: now,
        };
        meta.create_service_principal(&sp).await.unwrap();

        let path = cluster(&w, "spcluster");
        let body = json!({"location": "westeurope", "properties": {"servicePrincipalProfile": {
            "clientId": app.app_id.to_string(), "secret": "s3cret-value"}}});
        let (status, c) = w.arm(&w.owner, Method::PUT, &path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        assert_eq!(
            c["properties"]["servicePrincipalProfile"]["clientId"],
            app.app_id.to_string()
        );
        assert!(c["properties"].get("identityProfile").is_none());
        assert!(
            !c.to_string().contains("s3cret-value"),
            "the secret is never shown by GET/PUT"
        );

        let reg = registry(&w);
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{path}/attachAcr"),
                Some(json!({"registryId": reg})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(acr_pulls(&w, &sp.id, &reg).await, 1);

        let (status, cfg) = w
            .arm(&w.owner, Method::POST, &format!("{path}/nodeConfig"), None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cfg["useManagedIdentityExtension"], false);
        assert_eq!(cfg["aadClientId"], app.app_id.to_string());
        assert_eq!(cfg["aadClientSecret"], "s3cret-value");

        // Not provisioned in the registry's tenant: refused, saying so.
        let (foreign_tenant, foreign) = foreign_registry(&w).await;
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{path}/attachAcr"),
                Some(json!({"registryId": foreign})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"]["code"], "ServicePrincipalNotProvisioned");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&foreign_tenant.to_string())
        );

        // A secret is required; an unknown app is refused.
        let (status, _) = w
            .arm(
                &w.owner,
                Method::PUT,
                &cluster(&w, "nosecret"),
                Some(json!({"location": "x",
                "properties": {"servicePrincipalProfile": {"clientId": app.app_id.to_string()}}})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = w
            .arm(&w.owner, Method::PUT, &cluster(&w, "noapp"), Some(json!({"location": "x",
                "properties": {"servicePrincipalProfile": {"clientId": uuid::Uuid::new_v4().to_string(), "secret": "x"}}})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

// ---- managed identity tokens (#5 §2) ----------------------------------------

mod tokens {
    use acrylic_authz::roles;
    use reqwest::{Method, StatusCode};
    use serde_json::{Value, json};

    use super::World;
    use crate::support::{ACR_SCOPE, Reg, access_of, payload};

    const ACR: &str = "https://containerregistry.azure.net";

    /// The agent's grant: (status, body).
    async fn grant(w: &World, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r =
            w.s.client()
                .post(format!(
                    "{}/{}/oauth2/managedidentity/token",
                    w.s.base_url(),
                    w.s.bootstrap().tenant
                ))
                .form(form)
                .send()
                .await
                .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn mi_token(w: &World, app: &str, cred: &str) -> String {
        let (status, t) = grant(
            w,
            &[
                ("resource_id", app),
                ("credential", cred),
                ("resource", ACR_SCOPE),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        t["access_token"].as_str().unwrap().to_owned()
    }

    async fn credential(w: &World, resource: &str) -> String {
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{resource}/agentCredential"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["resourceId"].as_str().unwrap(), resource);
        v["credential"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_resource_gets_tokens_only_as_its_own_identities() {
        let w = World::start().await;
        let rg = w.s.bootstrap().resource_group.to_string();
        let pull = w.identity(&rg, "pull-id").await;
        let other = w.identity(&rg, "other-id").await;
        let pull_id = pull["id"].as_str().unwrap().to_owned();
        let pull_client = pull["properties"]["clientId"].as_str().unwrap().to_owned();
        let other_client = other["properties"]["clientId"].as_str().unwrap().to_owned();
        let w1 = w.site_path(&rg, "w1");
        let w2 = w.site_path(&rg, "w2");
        let (status, site) = w
            .arm(&w.owner, Method::PUT, &w1, Some(json!({"location": "x", "identity": {
                "type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {pull_id.clone(): {}}}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{site}");
        let system = site["identity"]["principalId"].as_str().unwrap().to_owned();
        let (status, _) = w
            .arm(&w.owner, Method::PUT, &w2, Some(json!({"location": "x", "identity": {
                "type": "UserAssigned", "userAssignedIdentities": {other["id"].as_str().unwrap(): {}}}})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let cred = credential(&w, &w1).await;

        // No selector: the system-assigned identity.
        let (status, t) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let c = payload(t["access_token"].as_str().unwrap());
        assert_eq!(c["idtyp"], "app");
        assert_eq!(c["oid"], system.as_str());
        assert_eq!(c["aud"], ACR);
        assert_eq!(c["tid"], w.s.bootstrap().tenant.to_string());
        assert!(c["xms_mirid"].as_str().unwrap().eq_ignore_ascii_case(&w1));
        assert_eq!(c["appid"], t["client_id"]);
        assert_eq!(t["expires_in"], 3600);

        // By client id: the user-assigned identity.
        let (status, t) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", "https://management.azure.com/"),
                ("client_id", &pull_client),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        let c = payload(t["access_token"].as_str().unwrap());
        assert_eq!(c["appid"], pull_client.as_str());
        assert_eq!(c["oid"], pull["properties"]["principalId"]);
        assert!(
            c["xms_mirid"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(&pull_id)
        );
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
                ("msi_res_id", &pull_id),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // Another resource's identity: refused.
        let (status, e) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
                ("client_id", &other_client),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .contains("not assigned")
        );
        // Another resource with this credential, a wrong credential, two
        // selectors, an unknown audience: refused.
        let (status, e) = grant(
            &w,
            &[
                ("resource_id", &w2),
                ("credential", &cred),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", "guess"),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
                ("client_id", &pull_client),
                ("object_id", &system),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, e) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", "https://vault.azure.net"),
            ],
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_resource"))
        );

        // Detached: refused at once.
        let (status, _) = w
            .arm(
                &w.owner,
                Method::PATCH,
                &w1,
                Some(json!({"identity": {"type": "SystemAssigned",
                "userAssignedIdentities": {pull_id.clone(): null}}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
                ("client_id", &pull_client),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // A new credential kills the old one.
        let fresh = credential(&w, &w1).await;
        assert_ne!(fresh, cred);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &cred),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &fresh),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // The holder rotates: the old value dies; a wrong one is refused.
        let rotate = |cred: String| {
            let w = &w;
            let w1 = w1.clone();
            async move {
                let r =
                    w.s.client()
                        .post(format!(
                            "{}/{}/oauth2/managedidentity/rotate",
                            w.s.base_url(),
                            w.s.bootstrap().tenant
                        ))
                        .form(&[("resource_id", w1.as_str()), ("credential", cred.as_str())])
                        .send()
                        .await
                        .unwrap();
                let status = r.status();
                (status, r.json::<Value>().await.unwrap())
            }
        };
        let (status, v) = rotate(fresh.clone()).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let rotated = v["credential"].as_str().unwrap().to_owned();
        let (status, _) = rotate(fresh.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &fresh),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = grant(
            &w,
            &[
                ("resource_id", &w1),
                ("credential", &rotated),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);

        // A resource without identities gets a clear error; a disk no credential.
        let vm = format!(
            "{}/providers/Microsoft.Compute/virtualMachines/bare",
            w.rg(&rg)
        );
        let (status, _) = w
            .arm(&w.owner, Method::PUT, &vm, Some(json!({"location": "x"})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let vm_cred = credential(&w, &vm).await;
        let (status, e) = grant(
            &w,
            &[
                ("resource_id", &vm),
                ("credential", &vm_cred),
                ("resource", ACR),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e["error_description"],
            "No identity has been assigned to this resource"
        );
        let disk = format!("{}/providers/Microsoft.Compute/disks/d1", w.rg(&rg));
        w.arm(&w.owner, Method::PUT, &disk, Some(json!({"location": "x"})))
            .await;
        let (status, v) = w
            .arm(
                &w.owner,
                Method::POST,
                &format!("{disk}/agentCredential"),
                None,
            )
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("ManagedIdentityNotSupported"))
        );
    }

    /// The first identity brings the first agent credential, shown once in
    /// that answer; later answers carry none, and it works at the grant.
    #[tokio::test]
    async fn the_first_identity_brings_an_agent_credential_shown_once() {
        let w = World::start().await;
        let rg = w.s.bootstrap().resource_group.to_string();
        let app = w.site_path(&rg, "auto");
        let (status, v) = w
            .arm(
                &w.owner,
                Method::PUT,
                &app,
                Some(json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let issued = &v["acrylicAgentCredential"];
        assert_eq!(issued["resourceId"].as_str().unwrap(), app);
        assert_eq!(issued["tenantId"], w.s.bootstrap().tenant.to_string());
        let cred = issued["credential"].as_str().unwrap().to_owned();
        assert!(cred.len() >= 32, "{cred}");
        let claims = payload(&mi_token(&w, &app, &cred).await);
        assert_eq!(claims["oid"], v["identity"]["principalId"]);
        // Never again: not on GET, not on a second PUT, and the stored
        // properties keep only a digest.
        let (_, got) = w.arm(&w.owner, Method::GET, &app, None).await;
        assert!(got.get("acrylicAgentCredential").is_none(), "{got}");
        assert!(!got.to_string().contains(&cred));
        let (status, again) = w
            .arm(
                &w.owner,
                Method::PUT,
                &app,
                Some(json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert!(again.get("acrylicAgentCredential").is_none(), "{again}");
        mi_token(&w, &app, &cred).await;

        // Without an identity there is none; assigning one brings it.
        let bare = w.site_path(&rg, "bare");
        let (status, v) = w
            .arm(
                &w.owner,
                Method::PUT,
                &bare,
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert!(v.get("acrylicAgentCredential").is_none(), "{v}");
        let mi = w.identity(&rg, "bare-id").await;
        let mi_id = mi["id"].as_str().unwrap().to_owned();
        let (status, v) = w
            .arm(
                &w.owner,
                Method::PATCH,
                &bare,
                Some(json!({"identity": {"type": "UserAssigned",
                    "userAssignedIdentities": {mi_id.clone(): {}}}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let cred = v["acrylicAgentCredential"]["credential"]
            .as_str()
            .unwrap()
            .to_owned();
        let claims = payload(&mi_token(&w, &bare, &cred).await);
        assert_eq!(claims["oid"], mi["properties"]["principalId"]);
    }

    #[tokio::test]
    async fn managed_identity_tokens_exchange_for_registry_tokens_while_assigned() {
        let w = World::start().await;
        let rg = w.s.bootstrap().resource_group.to_string();
        let app = w.site_path(&rg, "puller");
        let (status, site) = w
            .arm(
                &w.owner,
                Method::PUT,
                &app,
                Some(json!({"location": "x", "identity": {"type": "SystemAssigned"}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let principal = site["identity"]["principalId"].as_str().unwrap().to_owned();
        let cred = credential(&w, &app).await;
        let reg = Reg::bootstrap(&w.s);
        let tenant = w.s.bootstrap().tenant;
        // The exchange takes the managed identity's token (no role is needed for it).
        let r = reg
            .exchange(&mi_token(&w, &app, &cred).await, &tenant)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let refresh: Value = r.json().await.unwrap();
        let refresh = refresh["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(payload(&refresh)["sub"], principal.as_str());

        // AcrPull at the registry: pull is granted.
        let registry = format!(
            "{}/providers/Microsoft.ContainerRegistry/registries/{}",
            w.rg(&rg),
            w.s.bootstrap().registry
        );
        let (status, a) = w
            .arm(&w.owner, Method::PUT,
                &format!("{registry}/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4()),
                Some(json!({"properties": {
                    "roleDefinitionId": format!("{}/providers/Microsoft.Authorization/roleDefinitions/{}", w.sub(), roles::ACR_PULL),
                    "principalId": principal, "principalType": "ServicePrincipal"}})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        let r = reg
            .refresh_grant(&refresh, "repository:app:pull,push")
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let t: Value = r.json().await.unwrap();
        assert_eq!(
            access_of(t["access_token"].as_str().unwrap())[0]["actions"],
            json!(["pull"])
        );

        // The resource (and so its identity) goes: its refresh token is dead.
        let (status, _) = w.arm(&w.owner, Method::DELETE, &app, None).await;
        assert_eq!(status, StatusCode::OK);
        let r = reg.refresh_grant(&refresh, "repository:app:pull").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}
