//! JSON bodies in ARM's shapes (acr-auth.md §6.7): what the control plane
//! sends (registries, subscriptions, resource groups, credentials, audit
//! records, role assignments and definitions) and what it accepts
//! (registry create/update, regenerate, role assignments, custom roles).
//!
//! Request bodies are typed and parsed with serde; a wrong type or a
//! missing field becomes `InvalidRequestContent` naming serde's reason.
//! Unknown properties are ignored, as ARM ignores properties a resource
//! provider does not know.

use acrylic_authz::RoleDefinition;
use acrylic_model::{ArmScope, SubscriptionId};
use acrylic_store::{AuditRecord, Registry, ResourceGroup, RoleAssignment, Subscription};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ArmError;
use super::route::REGISTRY_TYPE;

/// ACR's SKUs.
pub const SKUS: [&str; 3] = ["Basic", "Standard", "Premium"];

/// The canonical spelling of a SKU name, case-insensitively.
pub fn sku(name: &str) -> Result<&'static str, ArmError> {
    SKUS.iter()
        .find(|s| s.eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            ArmError::InvalidRequestContent(format!(
                "sku.name {name:?}: expected one of {}",
                SKUS.join(", ")
            ))
        })
}

pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ArmError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ArmError::InvalidRequestContent(e.to_string()))
}

#[derive(Debug, Deserialize)]
pub struct SkuBody {
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryProperties {
    pub admin_user_enabled: Option<bool>,
    pub anonymous_pull_enabled: Option<bool>,
    /// `LegacyRegistryPermissions` or `AbacRepositoryPermissions`
    /// (acr-auth.md §6.1).
    pub role_assignment_mode: Option<String>,
}

/// `PUT …/registries/{name}`.
#[derive(Debug, Deserialize)]
pub struct CreateRegistryBody {
    pub location: String,
    pub sku: SkuBody,
    #[serde(default)]
    pub properties: RegistryProperties,
}

/// `PATCH …/registries/{name}`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateRegistryBody {
    pub sku: Option<SkuBody>,
    #[serde(default)]
    pub properties: RegistryProperties,
}

/// `POST …/regenerateCredential`.
#[derive(Debug, Deserialize)]
pub struct RegenerateBody {
    pub name: PasswordName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PasswordName {
    #[serde(rename = "password")]
    Password,
    #[serde(rename = "password2")]
    Password2,
}

/// `POST …/checkNameAvailability`.
#[derive(Debug, Deserialize)]
pub struct CheckNameBody {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A registry (acr-auth.md §6.7 `GET {registry}`). Settings acrylic does
/// not have (network rules, encryption, …) carry the values a registry
/// without them shows in Azure.
pub fn registry(r: &Registry) -> Value {
    json!({
        "id": r.arm_scope().as_str(),
        "name": r.name.as_str(),
        "type": REGISTRY_TYPE,
        "location": r.location,
        "tags": {},
        "sku": {"name": r.sku, "tier": r.sku},
        "systemData": {
            "createdAt": time(r.created_at),
            "lastModifiedAt": time(r.updated_at),
        },
        "properties": {
            "loginServer": r.login_server,
            "creationDate": time(r.created_at),
            "provisioningState": "Succeeded",
            "adminUserEnabled": r.admin_enabled,
            "networkRuleSet": null,
            "policies": {
                "quarantinePolicy": {"status": "disabled"},
                "trustPolicy": {"type": "Notary", "status": "disabled"},
                "retentionPolicy": {"days": 7, "lastUpdatedTime": time(r.updated_at), "status": "disabled"},
                "exportPolicy": {"status": "enabled"},
                // ARM-audience tokens are accepted at /oauth2/exchange until
                // the policy becomes settable (issue #3).
                "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
                "softDeletePolicy": {"retentionDays": 7, "lastUpdatedTime": time(r.updated_at), "status": "disabled"},
            },
            "encryption": {"status": "disabled"},
            "dataEndpointEnabled": false,
            "dataEndpointHostNames": [],
            "privateEndpointConnections": [],
            "publicNetworkAccess": "Enabled",
            "networkRuleBypassOptions": "AzureServices",
            "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": r.anonymous_pull_enabled,
            "roleAssignmentMode": r.role_assignment_mode.as_str(),
        }
    })
}

/// A registry as a generic resource (`GET /subscriptions/{sub}/resources`).
pub fn resource(r: &Registry) -> Value {
    json!({
        "id": r.arm_scope().as_str(),
        "name": r.name.as_str(),
        "type": REGISTRY_TYPE,
        "sku": {"name": r.sku, "tier": r.sku},
        "location": r.location,
        "tags": {},
    })
}

pub fn subscription(s: &Subscription) -> Value {
    json!({
        "id": format!("/subscriptions/{}", s.id),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": s.id.to_string(),
        "tenantId": s.tenant_id.to_string(),
        "displayName": s.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

pub fn resource_group(g: &ResourceGroup) -> Value {
    json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}", g.subscription_id, g.name),
        "name": g.name.as_str(),
        "type": "Microsoft.Resources/resourceGroups",
        "location": g.location,
        "properties": {"provisioningState": "Succeeded"},
    })
}

/// `listCredentials` / `regenerateCredential` (acr-auth.md §6.7).
pub fn credentials(username: &str, password: &str, password2: &str) -> Value {
    json!({
        "username": username,
        "passwords": [
            {"name": "password", "value": password},
            {"name": "password2", "value": password2},
        ],
    })
}

pub fn audit_record(a: &AuditRecord) -> Value {
    json!({
        "id": a.id.to_string(),
        "time": time(a.at),
        "principal": a.principal,
        "action": a.action,
        "repository": a.repository,
        "decision": a.decision,
        "clientAddress": a.client_addr,
        "detail": a.detail,
    })
}

// ---- Microsoft.Authorization (acr-auth.md §6.7) ----------------------------

pub const ROLE_ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";
pub const ROLE_DEFINITION_TYPE: &str = "Microsoft.Authorization/roleDefinitions";

/// `PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
#[derive(Debug, Deserialize)]
pub struct RoleAssignmentBody {
    pub properties: RoleAssignmentProperties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignmentProperties {
    pub role_definition_id: String,
    pub principal_id: String,
    #[serde(default)]
    pub principal_type: Option<String>,
    #[serde(default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub condition_version: Option<String>,
}

/// `PUT {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}`.
#[derive(Debug, Deserialize)]
pub struct RoleDefinitionBody {
    pub properties: RoleDefinitionProperties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinitionProperties {
    pub role_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `CustomRole` when given.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub permissions: Vec<PermissionBody>,
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionBody {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

/// `{scope}/providers/…`: the scope as a path prefix (empty for `/`).
fn under(scope: &ArmScope) -> &str {
    if scope.as_str() == "/" {
        ""
    } else {
        scope.as_str()
    }
}

/// A role definition's id as ARM writes it: below the subscription of the
/// scope it is seen from, or below `/` when there is none.
pub fn role_definition_id(sub: Option<&SubscriptionId>, id: &uuid::Uuid) -> String {
    match sub {
        Some(sub) => {
            format!("/subscriptions/{sub}/providers/{ROLE_DEFINITION_TYPE}/{id}")
        }
        None => format!("/providers/{ROLE_DEFINITION_TYPE}/{id}"),
    }
}

/// A role assignment (acr-auth.md §6.7).
pub fn role_assignment(a: &RoleAssignment) -> Value {
    let sub = super::auth::subscription_of(&a.scope);
    json!({
        "id": format!("{}/providers/{ROLE_ASSIGNMENT_TYPE}/{}", under(&a.scope), a.id),
        "name": a.id.to_string(),
        "type": ROLE_ASSIGNMENT_TYPE,
        "properties": {
            "roleDefinitionId": role_definition_id(sub.as_ref(), &a.role_definition_id),
            "principalId": a.principal_id.to_string(),
            "principalType": a.principal_type.as_str(),
            "scope": a.scope.as_str(),
            "condition": a.condition,
            "conditionVersion": a.condition.as_ref().map(|_| acrylic_authz::CONDITION_VERSION),
            "createdOn": time(a.created_at),
            "updatedOn": time(a.created_at),
            "createdBy": null,
            "updatedBy": null,
            "delegatedManagedIdentityResourceId": null,
            "description": null,
        }
    })
}

/// A role definition, seen from a scope in subscription `sub` (or `/`).
pub fn role_definition(
    d: &RoleDefinition,
    sub: Option<&SubscriptionId>,
    created: Option<OffsetDateTime>,
    updated: Option<OffsetDateTime>,
) -> Value {
    let scopes: Vec<&str> = d.assignable_scopes.iter().map(ArmScope::as_str).collect();
    json!({
        "id": role_definition_id(sub, &d.id),
        "name": d.id.to_string(),
        "type": ROLE_DEFINITION_TYPE,
        "properties": {
            "roleName": d.name,
            "type": d.role_type.as_str(),
            "description": d.description,
            "assignableScopes": scopes,
            "permissions": [{
                "actions": d.actions,
                "notActions": d.not_actions,
                "dataActions": d.data_actions,
                "notDataActions": d.not_data_actions,
            }],
            "createdOn": created.map(time),
            "updatedOn": updated.map(time),
            "createdBy": null,
            "updatedBy": null,
        }
    })
}

/// `{"value": [...]}`, ARM's list envelope.
pub fn list(values: Vec<Value>) -> Value {
    json!({ "value": values })
}
