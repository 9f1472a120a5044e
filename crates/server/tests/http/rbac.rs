//! RBAC and ABAC over real HTTP (issue #3 §3): role assignments and custom
//! roles through the ARM surface, their effect on what the token service
//! grants a directory user (signed in with the real password grant and
//! exchanged at `/oauth2/exchange`) and on the data plane, which runs
//! `authorize` on every request; group membership; ABAC mode with a
//! repository-name condition; the mode switch; and the refusals — a caller
//! without `roleAssignments/write`, malformed conditions.

#![allow(clippy::unwrap_used)]

use acrylic_authz::roles;
use acrylic_model::{ObjectId, ResourceGroupName, TenantId};
use acrylic_store::{AuditFilter, Group, GroupMember, PrincipalType, ResourceGroup, User};
use acrylic_testkit::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{
    ACR_SCOPE, ARM_SCOPE, PASSWORD, Reg, access_of, audit, create_user, owner_token, payload,
    sign_in,
};

const API: &str = "api-version=2022-04-01";
const NAME: &str = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]";

/// The test server, its bootstrap registry, and the owner's ARM token.
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

    /// The bootstrap registry, by its Host header.
    fn reg(&self) -> Reg<'_> {
        Reg::bootstrap(&self.s)
    }

    fn tenant(&self) -> TenantId {
        self.s.bootstrap().tenant
    }

    fn sub_scope(&self) -> String {
        format!("/subscriptions/{}", self.s.bootstrap().subscription)
    }

    fn rg_scope(&self) -> String {
        format!(
            "{}/resourceGroups/{}",
            self.sub_scope(),
            self.s.bootstrap().resource_group
        )
    }

    fn registry_scope(&self) -> String {
        format!(
            "{}/providers/Microsoft.ContainerRegistry/registries/{}",
            self.rg_scope(),
            self.s.bootstrap().registry
        )
    }

    fn role_id(&self, role: uuid::Uuid) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            self.sub_scope()
        )
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

    /// `PUT {scope}/…/roleAssignments/{new guid}` by `token`.
    async fn assign_as(
        &self,
        token: &str,
        scope: &str,
        role: uuid::Uuid,
        principal: &ObjectId,
        extra: Value,
    ) -> (StatusCode, Value) {
        let mut properties = json!({
            "roleDefinitionId": self.role_id(role),
            "principalId": principal.to_string(),
        });
        if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        let path = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        self.arm(
            token,
            Method::PUT,
            &path,
            Some(json!({ "properties": properties })),
        )
        .await
    }

    /// The owner assigns; the new assignment's id.
    async fn assign(&self, scope: &str, role: uuid::Uuid, principal: &ObjectId) -> String {
        let (status, body) = self
            .assign_as(&self.owner, scope, role, principal, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn user(&self, upn: &str) -> User {
        create_user(&self.s, self.tenant(), upn, PASSWORD, true).await
    }

    /// What `az acr login` does: a directory token for the registry
    /// audience from the real directory, exchanged for a registry refresh
    /// token.
    async fn login(&self, u: &User) -> String {
        let aad = sign_in(&self.s, &u.tenant_id, &u.upn, PASSWORD, ACR_SCOPE).await;
        let r = self.reg().exchange(&aad, &u.tenant_id).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "exchange for {}: {body}", u.upn);
        body["refresh_token"].as_str().unwrap().to_owned()
    }

    /// `POST /oauth2/token` with the refresh token: (status, body).
    async fn token(&self, refresh: &str, scopes: &str) -> (StatusCode, Value) {
        let r = self.reg().refresh_grant(refresh, scopes).await;
        (r.status(), r.json().await.unwrap())
    }

    /// The granted `access` of a fresh access token.
    async fn granted(&self, refresh: &str, scopes: &str) -> Value {
        let (status, body) = self.token(refresh, scopes).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        access_of(body["access_token"].as_str().unwrap())
    }

    async fn access_token(&self, refresh: &str, scopes: &str) -> String {
        let (status, body) = self.token(refresh, scopes).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn v2(&self, path: &str, access: &str) -> (StatusCode, Value) {
        let r = self.reg().v2(path, access).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn set_mode(&self, mode: &str) {
        let (status, body) = self
            .arm(
                &self.owner,
                Method::PATCH,
                &self.registry_scope(),
                Some(json!({"properties": {"roleAssignmentMode": mode}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["properties"]["roleAssignmentMode"], mode);
    }
}

fn entry(name: &str, actions: &[&str]) -> Value {
    json!({"type": "repository", "name": name, "actions": actions})
}

// ---- RBAC mode ---------------------------------------------------------------

#[tokio::test]
async fn acr_pull_grants_pull_only_and_its_removal_takes_effect_at_once() {
    let w = World::start().await;
    let u = w.user("puller@acrylic.local").await;
    let scope = w.registry_scope();

    let (status, created) = w
        .assign_as(
            &w.owner,
            &scope,
            roles::ACR_PULL,
            &u.id,
            json!({"principalType": "User"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // The §6.7 shape.
    let p = &created["properties"];
    assert_eq!(p["roleDefinitionId"], w.role_id(roles::ACR_PULL));
    assert_eq!(p["principalId"], u.id.to_string());
    assert_eq!(p["principalType"], "User");
    assert_eq!(p["scope"], scope);
    assert_eq!(p["condition"], Value::Null);
    assert_eq!(p["conditionVersion"], Value::Null);
    assert_eq!(created["type"], "Microsoft.Authorization/roleAssignments");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/"
    )));
    let (status, got) = w.arm(&w.owner, Method::GET, &id, None).await;
    assert_eq!((status, &got), (StatusCode::OK, &created));
    // PUT again with the same properties: idempotent.
    let (status, again) = w
        .arm(
            &w.owner,
            Method::PUT,
            &id,
            Some(json!({"properties": {"roleDefinitionId": w.role_id(roles::ACR_PULL), "principalId": u.id.to_string()}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    // The same assignment under another name is a conflict.
    let (status, dup) = w
        .assign_as(&w.owner, &scope, roles::ACR_PULL, &u.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{dup}");
    assert_eq!(dup["error"]["code"], "RoleAssignmentExists");

    // The change is audited against the registry.
    let registry =
        w.s.state()
            .meta
            .find_registry_by_name(&w.s.bootstrap().registry)
            .await
            .unwrap()
            .unwrap();
    let audit = audit(
        &w.s,
        AuditFilter {
            registry_id: Some(registry.id.clone()),
            action: Some("roleAssignment.create".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0].detail.as_deref().unwrap().contains("AcrPull"),
        "{audit:?}"
    );

    let refresh = w.login(&u).await;
    assert_eq!(
        w.granted(
            &refresh,
            "repository:team/app:pull,push,delete registry:catalog:*"
        )
        .await,
        json!([
            entry("team/app", &["pull"]),
            {"type": "registry", "name": "catalog", "actions": ["*"]}
        ])
    );
    let access = w.access_token(&refresh, "repository:team/app:pull").await;
    let (status, body) = w.v2("/v2/team/app/tags/list", &access).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "authorized, no such repository: {body}"
    );

    // Removal: 200 with the assignment, then 204.
    let (status, deleted) = w.arm(&w.owner, Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["name"], created["name"]);
    let (status, _) = w.arm(&w.owner, Method::DELETE, &id, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w.arm(&w.owner, Method::GET, &id, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The token still says pull, but the data plane asks `authorize` again.
    let (status, body) = w.v2("/v2/team/app/tags/list", &access).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["errors"][0]["code"], "DENIED");
    // And the next token has nothing.
    assert_eq!(
        w.granted(&refresh, "repository:team/app:pull,push").await,
        json!([entry("team/app", &[])])
    );
}

#[tokio::test]
async fn acr_push_at_the_resource_group_grants_pull_and_push() {
    let w = World::start().await;
    let u = w.user("pusher@acrylic.local").await;
    w.assign(&w.rg_scope(), roles::ACR_PUSH, &u.id).await;
    let refresh = w.login(&u).await;
    assert_eq!(
        w.granted(&refresh, "repository:team/app:pull,push,delete")
            .await,
        json!([entry("team/app", &["pull", "push"])])
    );
    // acr-cli's wildcard on a registry in RBAC mode.
    assert_eq!(
        w.granted(&refresh, "repository:*:*").await,
        json!([entry(
            "*",
            &["pull", "push", "metadata_read", "metadata_write"]
        )])
    );

    // Listing: by principal, and atScope() at the registry shows what is
    // inherited from above (the owner's subscription assignment too).
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId%20eq%20'{}'",
                w.sub_scope(),
                u.id
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["value"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["properties"]["scope"], w.rg_scope());
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()",
                w.registry_scope()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let scopes: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["properties"]["scope"].as_str().unwrap())
        .collect();
    assert!(scopes.contains(&w.sub_scope().as_str()), "{scopes:?}");
    assert!(scopes.contains(&w.rg_scope().as_str()), "{scopes:?}");
}

#[tokio::test]
async fn roles_assigned_to_a_group_apply_to_its_members_transitively() {
    let w = World::start().await;
    let u = w.user("member@acrylic.local").await;
    let meta = &w.s.state().meta;
    let now = OffsetDateTime::now_utc();
    let group = |name: &str| Group {
        id: ObjectId::new_random(),
        tenant_id: w.tenant(),
        display_name: name.into(),
        mail_nickname: name.into(),
        description: None,
        created_at: now,
    };
    let (outer, inner) = (group("builders"), group("team-a"));
    meta.create_group(&outer).await.unwrap();
    meta.create_group(&inner).await.unwrap();
    let member = |g: &Group, id: ObjectId, t: PrincipalType| GroupMember {
        group_id: g.id,
        member_id: id,
        member_type: t,
        created_at: now,
    };
    meta.add_group_member(&member(&outer, inner.id, PrincipalType::Group))
        .await
        .unwrap();
    meta.add_group_member(&member(&inner, u.id, PrincipalType::User))
        .await
        .unwrap();
    // A cycle must not hang or break the lookup.
    meta.add_group_member(&member(&inner, outer.id, PrincipalType::Group))
        .await
        .unwrap();

    let (status, body) = w
        .assign_as(
            &w.owner,
            &w.registry_scope(),
            roles::ACR_PUSH,
            &outer.id,
            json!({"principalType": "Group"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["properties"]["principalType"], "Group");
    let refresh = w.login(&u).await;
    assert_eq!(
        w.granted(&refresh, "repository:app:pull,push,delete").await,
        json!([entry("app", &["pull", "push"])])
    );
    // assignedTo() lists what reaches the user through its groups.
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleAssignments?$filter=assignedTo('{}')",
                w.sub_scope(),
                u.id
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["value"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        list["value"][0]["properties"]["principalId"],
        outer.id.to_string()
    );

    // A wrong principalType is refused; an unknown principal too.
    let (status, body) = w
        .assign_as(
            &w.owner,
            &w.registry_scope(),
            roles::ACR_PULL,
            &u.id,
            json!({"principalType": "Group"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "UnmatchedPrincipalType");
    let (status, body) = w
        .assign_as(
            &w.owner,
            &w.registry_scope(),
            roles::ACR_PULL,
            &ObjectId::new_random(),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "PrincipalNotFound");
}

#[tokio::test]
async fn custom_roles_are_defined_assigned_and_kept_while_in_use() {
    let w = World::start().await;
    let u = w.user("custom@acrylic.local").await;
    let role = uuid::Uuid::new_v4();
    let path = format!(
        "{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        w.sub_scope()
    );
    let definition = json!({
        "name": role.to_string(),
        "properties": {
            "roleName": "Image Janitor",
            "description": "Pulls and deletes images",
            "type": "CustomRole",
            "permissions": [{
                "actions": [
                    "Microsoft.ContainerRegistry/registries/pull/read",
                    "Microsoft.ContainerRegistry/registries/artifacts/delete"
                ],
                "notActions": [],
                "dataActions": [],
                "notDataActions": []
            }],
            "assignableScopes": [w.rg_scope()]
        }
    });
    // The request scope must be one of the assignable scopes (or above).
    let (status, body) = w
        .arm(&w.owner, Method::PUT, &path, Some(definition.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["properties"]["roleName"], "Image Janitor");
    assert_eq!(body["properties"]["type"], "CustomRole");
    assert_eq!(
        body["properties"]["assignableScopes"],
        json!([w.rg_scope()])
    );
    assert_eq!(body["id"], w.role_id(role));

    // Found by name, as az resolves `--role`.
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName%20eq%20'image%20janitor'",
                w.sub_scope()
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["value"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["value"][0]["name"], role.to_string());
    // Built-ins are listed with their Azure ids.
    let (_, builtins) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions?$filter=type%20eq%20'BuiltInRole'",
                w.sub_scope()
            ),
            None,
        )
        .await;
    let names: Vec<(&str, &str)> = builtins["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["properties"]["roleName"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
            )
        })
        .collect();
    for want in [
        ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
        ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
        ("Reader", "acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7"),
        ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
        (
            "Container Registry Repository Writer",
            "2a1e307c-b015-4ebd-883e-5b7698a07328",
        ),
    ] {
        assert!(names.contains(&want), "{want:?} in {names:?}");
    }
    // Another role of the same name is refused.
    let (status, body) = w
        .arm(
            &w.owner,
            Method::PUT,
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{}",
                w.sub_scope(),
                uuid::Uuid::new_v4()
            ),
            Some(definition.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Assignable at the resource group, not at the subscription.
    let (status, body) = w
        .assign_as(&w.owner, &w.sub_scope(), role, &u.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "RoleDefinitionNotAssignableAtScope");
    let assignment = w.assign(&w.registry_scope(), role, &u.id).await;
    let refresh = w.login(&u).await;
    assert_eq!(
        w.granted(&refresh, "repository:old/app:pull,push,delete")
            .await,
        json!([entry("old/app", &["pull", "delete"])])
    );

    // Narrowing the role (PUT again) takes effect on the next token.
    let mut narrowed = definition.clone();
    narrowed["properties"]["permissions"][0]["actions"] =
        json!(["Microsoft.ContainerRegistry/registries/pull/read"]);
    let (status, body) = w.arm(&w.owner, Method::PUT, &path, Some(narrowed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        w.granted(&refresh, "repository:old/app:pull,push,delete")
            .await,
        json!([entry("old/app", &["pull"])])
    );

    // In use: not deleted.
    let (status, body) = w.arm(&w.owner, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "RoleDefinitionHasAssignments");
    let (status, _) = w.arm(&w.owner, Method::DELETE, &assignment, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = w.arm(&w.owner, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = w.arm(&w.owner, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Built-ins cannot be changed.
    let (status, _) = w
        .arm(
            &w.owner,
            Method::DELETE,
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{}",
                w.sub_scope(),
                roles::ACR_PULL
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An unknown role cannot be assigned.
    let (status, body) = w
        .assign_as(&w.owner, &w.registry_scope(), role, &u.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "RoleDefinitionDoesNotExist");
}

// ---- ABAC mode ---------------------------------------------------------------

#[tokio::test]
async fn abac_mode_honours_repository_roles_and_their_conditions() {
    let w = World::start().await;
    w.set_mode("AbacRepositoryPermissions").await;
    let u = w.user("team-a-dev@acrylic.local").await;
    // Not honoured in ABAC mode.
    w.assign(&w.registry_scope(), roles::ACR_PUSH, &u.id).await;
    let condition = format!(
        "((!(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/content/read'}}) \
         AND !(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'}}) \
         AND !(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/content/write'}}) \
         AND !(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/metadata/write'}})) \
         OR ({NAME} StringStartsWith 'team-a/'))"
    );
    let (status, body) = w
        .assign_as(
            &w.owner,
            &w.registry_scope(),
            roles::REPOSITORY_WRITER,
            &u.id,
            json!({"condition": condition, "conditionVersion": "2.0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["properties"]["condition"], condition);
    assert_eq!(body["properties"]["conditionVersion"], "2.0");

    let refresh = w.login(&u).await;
    assert!(
        payload(&refresh).get("aad_identity").is_some(),
        "ABAC registries mark their refresh tokens"
    );
    assert_eq!(
        w.granted(
            &refresh,
            "repository:team-a/x:pull,push repository:team-ab/x:pull,push repository:team-b/x:pull,push"
        )
        .await,
        json!([
            entry("team-a/x", &["pull", "push"]),
            entry("team-ab/x", &[]),
            entry("team-b/x", &[]),
        ])
    );
    // No Catalog Lister: no catalog; `repository:*` is ignored.
    assert_eq!(
        w.granted(&refresh, "registry:catalog:* repository:*:*")
            .await,
        json!([
            {"type": "registry", "name": "catalog", "actions": []},
            entry("*", &[]),
        ])
    );
    let access = w.access_token(&refresh, "repository:team-a/x:pull").await;
    let (status, body) = w.v2("/v2/team-a/x/tags/list", &access).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "authorized: {body}");
    // Catalog Lister lists every repository, whatever the conditions.
    w.assign(&w.registry_scope(), roles::REPOSITORY_CATALOG_LISTER, &u.id)
        .await;
    assert_eq!(
        w.granted(&refresh, "registry:catalog:*").await,
        json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
    );
}

/// Issue #3 §3: a denial never tells someone who may not list a repository
/// whether it exists. A user limited to `team-a/` by a condition gets the
/// same answer, status, body and challenge, for an existing `team-b/`
/// repository, tag and manifest as for ones that do not exist, on /v2 and
/// /acr/v1 alike.
#[tokio::test]
async fn a_denial_does_not_tell_whether_the_repository_exists() {
    let w = World::start().await;
    w.set_mode("AbacRepositoryPermissions").await;
    let registry = w.s.bootstrap().registry.to_string();
    let admin =
        crate::support::Client::admin(&w.s, &registry, &["repository:team-b/secret:pull,push"])
            .await;
    let (_, digest) = admin
        .push_image("team-b/secret", "v1", b"secret layer")
        .await;

    let u = w.user("team-a-only@acrylic.local").await;
    let condition = format!(
        "((!(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/content/read'}}) \
         AND !(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'}})) \
         OR ({NAME} StringStartsWith 'team-a/'))"
    );
    let (status, body) = w
        .assign_as(
            &w.owner,
            &w.registry_scope(),
            roles::REPOSITORY_READER,
            &u.id,
            json!({"condition": condition, "conditionVersion": "2.0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let refresh = w.login(&u).await;
    let access = w
        .access_token(
            &refresh,
            "repository:team-b/secret:pull,metadata_read repository:team-b/nosuch:pull,metadata_read",
        )
        .await;

    for path in [
        "/v2/{repo}/tags/list",
        "/v2/{repo}/manifests/v1",
        &format!("/v2/{{repo}}/manifests/{digest}"),
        "/acr/v1/{repo}",
        "/acr/v1/{repo}/_tags",
        "/acr/v1/{repo}/_tags/v1",
        "/acr/v1/{repo}/_manifests",
    ] {
        let mut seen = Vec::new();
        for repo in ["team-b/secret", "team-b/nosuch"] {
            let r = w.reg().v2(&path.replace("{repo}", repo), &access).await;
            let status = r.status();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().replace(repo, "{repo}"));
            let body = r.text().await.unwrap().replace(repo, "{repo}");
            seen.push((status, challenge, body));
        }
        assert!(
            seen[0].0.is_client_error() && seen[0].0 != StatusCode::NOT_FOUND,
            "{path}: refused, not answered: {:?}",
            seen[0]
        );
        assert_eq!(seen[0], seen[1], "{path}: the answers differ");
    }
}

#[tokio::test]
async fn switching_the_mode_invalidates_credentials_issued_under_the_old_one() {
    let w = World::start().await;
    let u = w.user("switcher@acrylic.local").await;
    w.assign(&w.registry_scope(), roles::ACR_PULL, &u.id).await;
    let refresh = w.login(&u).await;
    let access = w.access_token(&refresh, "repository:app:pull").await;
    let (status, _) = w.v2("/v2/app/tags/list", &access).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    w.set_mode("AbacRepositoryPermissions").await;
    let (status, body) = w.v2("/v2/app/tags/list", &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = w.token(&refresh, "repository:app:pull").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A new login works, and under ABAC AcrPull grants nothing.
    let refresh = w.login(&u).await;
    assert_eq!(
        w.granted(&refresh, "repository:app:pull").await,
        json!([entry("app", &[])])
    );
    // And back: the ABAC-mode credential is refused in turn.
    w.set_mode("LegacyRegistryPermissions").await;
    let (status, _) = w.token(&refresh, "repository:app:pull").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = w
        .arm(
            &w.owner,
            Method::PATCH,
            &w.registry_scope(),
            Some(json!({"properties": {"roleAssignmentMode": "Sometimes"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

// ---- refusals ----------------------------------------------------------------

#[tokio::test]
async fn only_callers_with_role_assignments_write_may_assign_roles() {
    let w = World::start().await;
    let contributor = w.user("contributor@acrylic.local").await;
    let admin = w.user("access-admin@acrylic.local").await;
    let target = w.user("target@acrylic.local").await;
    w.assign(&w.sub_scope(), roles::CONTRIBUTOR, &contributor.id)
        .await;
    w.assign(&w.rg_scope(), roles::USER_ACCESS_ADMINISTRATOR, &admin.id)
        .await;
    let b = w.s.bootstrap().clone();

    let t = sign_in(&w.s, &b.tenant, &contributor.upn, PASSWORD, ARM_SCOPE).await;
    let scope = w.registry_scope();
    let (status, body) = w
        .assign_as(&t, &scope, roles::ACR_PUSH, &target.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "AuthorizationFailed");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("'Microsoft.Authorization/roleAssignments/write'"),
        "{msg}"
    );
    assert!(msg.contains(&format!("over scope '{scope}'")), "{msg}");
    assert!(msg.contains(&contributor.id.to_string()), "{msg}");
    // Contributor still manages the registry itself.
    let (status, _) = w.arm(&t, Method::GET, &scope, None).await;
    assert_eq!(status, StatusCode::OK);
    // Nor may it define roles.
    let (status, _) = w
        .arm(
            &t,
            Method::PUT,
            &format!(
                "{}/providers/Microsoft.Authorization/roleDefinitions/{}",
                w.sub_scope(),
                uuid::Uuid::new_v4()
            ),
            Some(json!({"properties": {"roleName": "x", "permissions": [{"actions": ["*"]}], "assignableScopes": [w.sub_scope()]}})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // User Access Administrator on the resource group may, there and below.
    let t = sign_in(&w.s, &b.tenant, &admin.upn, PASSWORD, ARM_SCOPE).await;
    let (status, body) = w
        .assign_as(&t, &scope, roles::ACR_PUSH, &target.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = w
        .assign_as(&t, &w.sub_scope(), roles::ACR_PUSH, &target.id, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A user with no role at all cannot even list.
    let t = sign_in(&w.s, &b.tenant, &target.upn, PASSWORD, ARM_SCOPE).await;
    let (status, body) = w
        .arm(
            &t,
            Method::GET,
            &format!("{scope}/providers/Microsoft.Authorization/roleAssignments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn malformed_conditions_are_refused_with_the_parse_error() {
    let w = World::start().await;
    let u = w.user("conditional@acrylic.local").await;
    let scope = w.registry_scope();
    for (condition, version, role, expect) in [
        (
            format!("{NAME} StringStartsWith 'team-a/"),
            Some("2.0"),
            roles::REPOSITORY_READER,
            "unterminated string at position",
        ),
        (
            format!("{NAME} StringBeginsWith 'team-a/'"),
            Some("2.0"),
            roles::REPOSITORY_READER,
            "unknown operator",
        ),
        (
            "(ActionMatches{'x'} OR".to_owned(),
            None,
            roles::REPOSITORY_READER,
            "position 22",
        ),
        (
            format!("{NAME} StringStartsWith 'team-a/'"),
            Some("1.0"),
            roles::REPOSITORY_READER,
            "conditionVersion",
        ),
        (
            format!("{NAME} StringStartsWith 'team-a/'"),
            Some("2.0"),
            roles::ACR_PULL,
            "no data actions",
        ),
    ] {
        let mut extra = json!({ "condition": condition });
        if let Some(v) = version {
            extra["conditionVersion"] = json!(v);
        }
        let (status, body) = w.assign_as(&w.owner, &scope, role, &u.id, extra).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{condition}: {body}");
        assert_eq!(body["error"]["code"], "InvalidCondition", "{body}");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(expect), "{condition}: {msg}");
    }
    // Nothing was stored.
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId%20eq%20'{}'",
                u.id
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"], json!([]));
}

#[tokio::test]
async fn a_role_at_the_root_reaches_only_its_own_tenant() {
    let w = World::start().await;
    let meta = &w.s.state().meta;
    let now = OffsetDateTime::now_utc();
    // A second tenant with its own subscription, user and assignment.
    let other = acrylic_store::Tenant {
        id: TenantId::new_random(),
        domain: "fabrikam.test".into(),
        display_name: "Fabrikam".into(),
        created_at: now,
    };
    meta.create_tenant(&other).await.unwrap();
    let sub = acrylic_store::Subscription {
        id: acrylic_model::SubscriptionId::new_random(),
        tenant_id: other.id,
        display_name: "Fabrikam".into(),
        created_at: now,
    };
    meta.create_subscription(&sub).await.unwrap();
    meta.put_resource_group(&ResourceGroup {
        subscription_id: sub.id,
        name: ResourceGroupName::parse("fab-rg").unwrap(),
        location: "local".into(),
        created_at: now,
    })
    .await
    .unwrap();
    let foreign_sub = acrylic_model::ArmScope::subscription(&sub.id);
    let foreigner = ObjectId::new_random();
    let assignment =
        |scope: acrylic_model::ArmScope, principal: ObjectId| acrylic_store::RoleAssignment {
            id: uuid::Uuid::new_v4(),
            scope,
            role_definition_id: roles::OWNER,
            principal_id: principal,
            principal_type: PrincipalType::User,
            condition: None,
            created_at: now,
        };
    meta.create_role_assignment(&assignment(foreign_sub.clone(), foreigner))
        .await
        .unwrap();
    // Tenant 1's owner becomes Owner at `/`.
    let owner = meta
        .find_user_by_upn(&w.s.bootstrap().username)
        .await
        .unwrap()
        .unwrap();
    meta.create_role_assignment(&assignment(acrylic_model::ArmScope::root(), owner.id))
        .await
        .unwrap();

    // `/` is the caller's own root: it lists tenant 1's assignments only.
    let (status, list) = w
        .arm(
            &w.owner,
            Method::GET,
            "/providers/Microsoft.Authorization/roleAssignments",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let scopes: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["properties"]["scope"].as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&"/") && scopes.contains(&w.sub_scope().as_str()),
        "{scopes:?}"
    );
    assert!(!scopes.contains(&foreign_sub.as_str()), "{scopes:?}");
    // Tenant 2's subscription is out of reach, whatever `/` says.
    let (status, body) = w
        .arm(
            &w.owner,
            Method::GET,
            &format!("{foreign_sub}/providers/Microsoft.Authorization/roleAssignments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let u = w.user("tourist@acrylic.local").await;
    let (status, body) = w
        .assign_as(
            &w.owner,
            foreign_sub.as_str(),
            roles::READER,
            &u.id,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
