//! JSON bodies in ARM's shapes (acr-auth.md §6.7): what the control plane
//! sends (registries, subscriptions, resource groups, credentials, audit
//! records) and what it accepts (registry create/update, regenerate).
//!
//! Request bodies are typed and parsed with serde; a wrong type or a
//! missing field becomes `InvalidRequestContent` naming serde's reason.
//! Unknown properties are ignored, as ARM ignores properties a resource
//! provider does not know.

use acrylic_store::{AuditRecord, Registry, ResourceGroup, Subscription};
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

/// `{"value": [...]}`, ARM's list envelope.
pub fn list(values: Vec<Value>) -> Value {
    json!({ "value": values })
}
