//! `Microsoft.ManagedIdentity/userAssignedIdentities` (issue #5 §1): user-
//! assigned managed identities as resources of their own — list, get,
//! create (PUT), delete — and what system-assigned identities share with
//! them: how they are made, shown, and forgotten.
//!
//! A managed identity is a service-principal-like directory object with a
//! principal (object) id and a client id (acr-auth.md §5.3: tokens carry
//! `idtyp=app`, `oid`, `appid` = client id, `xms_mirid` = its resource id).
//! Role assignments name it with `principalType` `ServicePrincipal`, as ARM
//! does; when it is deleted its role assignments and group memberships go
//! with it.

use acrylic_authz::Permit;
use acrylic_model::{ArmScope, ObjectId, ResourceGroupName, SubscriptionId, TenantId};
use acrylic_store::{ManagedIdentity, StoreError};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ArmError;
use super::registries::{resource_group_exists, subscription};
use super::{Request, Visible, audit_change, shapes};
use crate::AppState;

pub const USER_ASSIGNED_TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
pub const PROVIDER: &str = "microsoft.managedidentity";
pub const TYPE_SEGMENT: &str = "userassignedidentities";

/// Control-plane operations on user-assigned identities.
pub mod op {
    pub const READ: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/read";
    pub const WRITE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/write";
    pub const DELETE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/delete";
    /// Needed on the identity to attach it to a resource (what Azure's
    /// Managed Identity Operator role grants): without it, write access to
    /// any resource would hand out any identity's tokens.
    pub const ASSIGN: &str = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
}

/// `…/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPath {
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub name: String,
    pub scope: ArmScope,
}

impl IdentityPath {
    /// Checks the name (3–128 of `[A-Za-z0-9-_]`, starting alphanumeric,
    /// as Azure requires).
    pub fn new(
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
        name: &str,
    ) -> Result<IdentityPath, ArmError> {
        let ok = (3..=128).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ArmError::InvalidResourceName {
                kind: "user-assigned identity",
                name: name.to_owned(),
                reason: "use 3 to 128 letters, digits, '-' or '_', starting with a letter or digit"
                    .into(),
            });
        }
        let scope = ArmScope::parse(&format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{USER_ASSIGNED_TYPE}/{name}"
        ))
        .map_err(|e| ArmError::InvalidResourceName {
            kind: "user-assigned identity",
            name: name.to_owned(),
            reason: e.reason,
        })?;
        Ok(IdentityPath {
            subscription,
            resource_group,
            name: name.to_owned(),
            scope,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutIdentityBody {
    location: String,
}

/// The JSON ARM returns for a user-assigned identity.
pub fn identity_json(mi: &ManagedIdentity) -> Value {
    json!({
        "id": mi.resource_id.as_str(),
        "name": mi.name,
        "type": USER_ASSIGNED_TYPE,
        "location": mi.location,
        "tags": {},
        "properties": {
            "tenantId": mi.tenant_id.to_string(),
            "principalId": mi.principal_id.to_string(),
            "clientId": mi.client_id.hyphenated().to_string(),
        },
    })
}

/// Creates a managed identity in the directory: fresh principal and client
/// ids, in `tenant`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn create_identity(
    state: &AppState,
    tenant: TenantId,
    resource_id: ArmScope,
    subscription: SubscriptionId,
    resource_group: ResourceGroupName,
    name: &str,
    location: &str,
    system_assigned: bool,
) -> Result<ManagedIdentity, ArmError> {
    let mi = ManagedIdentity {
        principal_id: ObjectId::new_random(),
        client_id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        resource_id,
        subscription_id: subscription,
        resource_group,
        name: name.to_owned(),
        location: location.to_owned(),
        system_assigned,
        created_at: super::resources::now(state),
    };
    state.meta.create_managed_identity(&mi).await?;
    Ok(mi)
}

/// Deletes an identity with its role assignments and group memberships:
/// tokens it asks for from now on carry no access.
pub(crate) async fn forget_identity(
    state: &AppState,
    mi: &ManagedIdentity,
) -> Result<(), ArmError> {
    for a in state
        .meta
        .list_role_assignments_for(&[mi.principal_id])
        .await?
    {
        state.meta.delete_role_assignment(&a.id).await?;
    }
    state.meta.remove_from_all_groups(&mi.principal_id).await?;
    state.meta.delete_managed_identity(&mi.principal_id).await?;
    Ok(())
}

/// A managed identity's tenant, for role assignments (which name it with
/// `principalType` `ServicePrincipal`).
pub(crate) async fn principal_tenant(
    state: &AppState,
    id: &ObjectId,
) -> Result<Option<TenantId>, StoreError> {
    Ok(state
        .meta
        .find_managed_identity(id)
        .await?
        .map(|mi| mi.tenant_id))
}

pub async fn list(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    rg: Option<&ResourceGroupName>,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    if let Some(rg) = rg {
        resource_group_exists(state, sub, rg).await?;
    }
    let items = state
        .meta
        .list_user_assigned_identities(sub, rg)
        .await?
        .iter()
        .filter(|mi| visible.may_see(&mi.resource_id, &mi.tenant_id))
        .map(identity_json)
        .collect();
    Ok(shapes::list(items))
}

async fn find(state: &AppState, path: &IdentityPath) -> Result<ManagedIdentity, ArmError> {
    match state
        .meta
        .find_managed_identity_by_resource_id(&path.scope)
        .await?
    {
        Some(mi) if !mi.system_assigned => Ok(mi),
        _ => Err(ArmError::ResourceNotFound {
            rtype: USER_ASSIGNED_TYPE,
            name: path.name.clone(),
            resource_group: path.resource_group.clone(),
        }),
    }
}

pub async fn get(
    state: &AppState,
    path: &IdentityPath,
    _permit: Permit,
) -> Result<Value, ArmError> {
    Ok(identity_json(&find(state, path).await?))
}

/// `PUT`: 201 with a new identity; 200 with the existing one (its ids
/// never change).
pub async fn put(
    state: &AppState,
    req: &Request,
    path: &IdentityPath,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: PutIdentityBody = shapes::parse_body(&req.body)?;
    let location = body.location.trim();
    if location.is_empty() {
        return Err(ArmError::InvalidRequestContent(
            "location must not be empty".into(),
        ));
    }
    let sub = subscription(state, &path.subscription).await?;
    resource_group_exists(state, &path.subscription, &path.resource_group).await?;
    if let Ok(existing) = find(state, path).await {
        return Ok((StatusCode::OK, identity_json(&existing)));
    }
    let mi = create_identity(
        state,
        sub.tenant_id,
        path.scope.clone(),
        path.subscription,
        path.resource_group.clone(),
        &path.name,
        location,
        false,
    )
    .await?;
    audit_change(
        state,
        req,
        &permit,
        None,
        "identity.create",
        format!(
            "created user-assigned identity {} (principal {}, client {})",
            mi.resource_id, mi.principal_id, mi.client_id
        ),
    )
    .await;
    Ok((StatusCode::CREATED, identity_json(&mi)))
}

/// `DELETE`: 200 when it existed (it is detached from every resource and
/// loses its role assignments), 204 when it did not.
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &IdentityPath,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let Ok(mi) = find(state, path).await else {
        return Ok(StatusCode::NO_CONTENT);
    };
    forget_identity(state, &mi).await?;
    audit_change(
        state,
        req,
        &permit,
        None,
        "identity.delete",
        format!("deleted user-assigned identity {}", mi.resource_id),
    )
    .await;
    Ok(StatusCode::OK)
}
