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
