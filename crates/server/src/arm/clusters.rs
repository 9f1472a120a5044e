//! `Microsoft.ContainerService/managedClusters` (issue #5 §3): clusters
//! whose nodes pull from registries as a kubelet identity — a user-assigned
//! identity `<cluster>-agentpool` made for the cluster in its node resource
//! group `MC_<rg>_<cluster>_<location>` — or as a service principal
//! (`servicePrincipalProfile`), as AKS does (acr-auth.md §7.1).
//!
//! acrylic's extensions, as POST actions on a cluster:
//! - `attachAcr` / `detachAcr` `{"registryId"}`: what `az aks update
//!   --attach-acr` does client-side, done here so the rules hold in one
//!   place — an AcrPull role assignment of the kubelet identity (or of the
//!   service principal's object in the registry's tenant) at the registry
//!   scope; the caller needs `roleAssignments/write` (`/delete`) there. A
//!   managed identity cannot be granted access to another tenant's
//!   registry: refused with both tenants named. Detach deletes the
//!   assignment, so new tokens are refused at once.
//! - `nodeConfig`: the analogue of AKS's `/etc/kubernetes/azure.json`
//!   (tenant, authority, identity client id or SP credentials, registry
//!   name patterns), behind `managedClusters/listClusterAdminCredential/action`
//!   (it may hold the SP's secret, which is kept sealed with the master key;
//!   for a kubelet identity it holds a new node credential for the
//!   managed-identity grant, which replaces the previous one).

use acrylic_authz::{Permit, roles};
use acrylic_model::{ArmScope, ObjectId, ResourceGroupName, SubscriptionId};
use acrylic_store::{
    ComputeResource, ManagedIdentity, PrincipalType, Registry, ResourceGroup, RoleAssignment,
};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::ArmError;
use super::identities::{self, USER_ASSIGNED_TYPE};
use super::registries::{resource_group_exists, subscription};
use super::resources::now;
use super::route::{RoleScope, op as arm_op};
use super::{Request, Visible, audit_change, shapes};
use crate::AppState;

pub const CLUSTER_TYPE: &str = "Microsoft.ContainerService/managedClusters";
pub const PROVIDER: &str = "microsoft.containerservice";
pub const TYPE_SEGMENT: &str = "managedclusters";
/// The kind recorded on the cluster's `ComputeResource` row.
pub const KIND: &str = "aks";

pub mod op {
    pub const READ: &str = "Microsoft.ContainerService/managedClusters/read";
    pub const WRITE: &str = "Microsoft.ContainerService/managedClusters/write";
    pub const DELETE: &str = "Microsoft.ContainerService/managedClusters/delete";
    pub const NODE_CONFIG: &str =
        "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action";
}

/// `…/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPath {
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub name: String,
    pub scope: ArmScope,
}

impl ClusterPath {
    /// Checks the name (1–63 of `[A-Za-z0-9-_]`, starting and ending
    /// alphanumeric, as AKS requires).
    pub fn new(
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
        name: &str,
    ) -> Result<ClusterPath, ArmError> {
        let invalid = |reason: String| ArmError::InvalidResourceName {
            kind: "managed cluster",
            name: name.to_owned(),
            reason,
        };
        let ok = (1..=63).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if !ok {
            return Err(invalid(
                "use 1 to 63 letters, digits, '-' or '_', starting and ending with a letter or digit"
                    .into(),
            ));
        }
        let scope = ArmScope::parse(&format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{CLUSTER_TYPE}/{name}"
        ))
        .map_err(|e| invalid(e.reason))?;
        Ok(ClusterPath {
            subscription,
            resource_group,
            name: name.to_owned(),
            scope,
        })
    }
}

/// What a cluster keeps in its `properties` column.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterProperties {
    node_resource_group: String,
    /// The kubelet identity's principal id (managed-identity clusters).
    #[serde(default)]
    kubelet_identity: Option<ObjectId>,
    #[serde(default)]
    service_principal: Option<StoredServicePrincipal>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredServicePrincipal {
    client_id: uuid::Uuid,
    /// The secret sealed with the master key, base64.
    secret_sealed: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutBody {
    location: String,
    #[serde(default)]
    properties: Option<PropertiesBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertiesBody {
    #[serde(default)]
    service_principal_profile: Option<SpProfile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpProfile {
    client_id: String,
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AcrBody {
    registry_id: String,
}

fn properties_of(r: &ComputeResource) -> Result<ClusterProperties, ArmError> {
    serde_json::from_str(&r.properties).map_err(|e| {
        tracing::error!(cluster = %r.id, error = %e, "control plane: unreadable cluster properties");
        ArmError::Internal
    })
}

fn not_found(path: &ClusterPath) -> ArmError {
    ArmError::ResourceNotFound {
        rtype: CLUSTER_TYPE,
        name: path.name.clone(),
        resource_group: path.resource_group.clone(),
    }
}

async fn find(state: &AppState, path: &ClusterPath) -> Result<ComputeResource, ArmError> {
    match state.meta.find_compute_resource(&path.scope).await? {
        Some(r) if r.kind == KIND => Ok(r),
        _ => Err(not_found(path)),
    }
}

async fn kubelet(
    state: &AppState,
    p: &ClusterProperties,
) -> Result<Option<ManagedIdentity>, ArmError> {
    Ok(match &p.kubelet_identity {
        Some(id) => state.meta.find_managed_identity(id).await?,
        None => None,
    })
}

async fn cluster_json(state: &AppState, r: &ComputeResource) -> Result<Value, ArmError> {
    let p = properties_of(r)?;
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "nodeResourceGroup": p.node_resource_group,
    });
    match (&p.service_principal, kubelet(state, &p).await?) {
        (Some(sp), _) => {
            properties["servicePrincipalProfile"] =
                json!({"clientId": sp.client_id.hyphenated().to_string()});
        }
        (None, Some(mi)) => {
            properties["servicePrincipalProfile"] = json!({"clientId": "msi"});
            properties["identityProfile"] = json!({
                "kubeletidentity": {
                    "resourceId": mi.resource_id.as_str(),
                    "clientId": mi.client_id.hyphenated().to_string(),
                    "objectId": mi.principal_id.to_string(),
                }
            });
        }
        (None, None) => {}
    }
    Ok(json!({
        "id": r.id.as_str(),
        "name": r.name,
        "type": CLUSTER_TYPE,
        "location": r.location,
        "tags": {},
        "properties": properties,
    }))
}

pub async fn list(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    resource_group_exists(state, sub, rg).await?;
    let mut items = Vec::new();
    for r in state.meta.list_compute_resources(sub, Some(rg)).await? {
        if r.kind == KIND && visible.may_see(&r.id, &r.tenant_id) {
            items.push(cluster_json(state, &r).await?);
        }
    }
    Ok(shapes::list(items))
}

pub async fn get(state: &AppState, path: &ClusterPath, _permit: Permit) -> Result<Value, ArmError> {
    cluster_json(state, &find(state, path).await?).await
}

/// `PUT`: creates the cluster (201) — with a kubelet identity unless a
/// service principal is given — or returns the existing one (200; its
/// identity never changes).
pub async fn put(
    state: &AppState,
    req: &Request,
    path: &ClusterPath,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: PutBody = shapes::parse_body(&req.body)?;
    let location = body.location.trim().to_owned();
    if location.is_empty() {
        return Err(ArmError::InvalidRequestContent(
            "location must not be empty".into(),
        ));
    }
    let sp_profile = body
        .properties
        .and_then(|p| p.service_principal_profile)
        .filter(|p| !p.client_id.eq_ignore_ascii_case("msi"));
    let sub = subscription(state, &path.subscription).await?;
    resource_group_exists(state, &path.subscription, &path.resource_group).await?;
    if let Some(existing) = state.meta.find_compute_resource(&path.scope).await? {
        if existing.kind != KIND {
            return Err(ArmError::Internal);
        }
        return Ok((StatusCode::OK, cluster_json(state, &existing).await?));
    }

    let node_rg = format!("MC_{}_{}_{}", path.resource_group, path.name, location);
    let node_rg = ResourceGroupName::parse(&node_rg).map_err(|e| ArmError::InvalidParameter {
        parameter: "nodeResourceGroup",
        reason: format!("{node_rg}: {}", e.reason),
    })?;
    let mut props = ClusterProperties {
        node_resource_group: node_rg.to_string(),
        ..Default::default()
    };
    let mut detail;
    if let Some(sp) = sp_profile {
        let app_id =
            uuid::Uuid::parse_str(sp.client_id.trim()).map_err(|_| ArmError::InvalidParameter {
                parameter: "servicePrincipalProfile.clientId",
                reason: format!("{:?} is not an application (client) id", sp.client_id),
            })?;
        let secret = sp
            .secret
            .filter(|s| !s.is_empty())
            .ok_or(ArmError::InvalidParameter {
                parameter: "servicePrincipalProfile.secret",
                reason: "a service principal cluster needs the client secret".into(),
            })?;
        if state
            .meta
            .find_application_by_app_id(&app_id)
            .await?
            .is_none()
        {
            return Err(ArmError::InvalidParameter {
                parameter: "servicePrincipalProfile.clientId",
                reason: format!("no application has the client id {app_id}"),
            });
        }
        props.service_principal = Some(StoredServicePrincipal {
            client_id: app_id,
            secret_sealed: STANDARD.encode(state.sealer.seal(secret.as_bytes())?),
        });
        detail = format!("service principal {app_id}");
    } else {
        // The node resource group holds the kubelet identity, as in AKS.
        state
            .meta
            .put_resource_group(&ResourceGroup {
                subscription_id: path.subscription,
                name: node_rg.clone(),
                location: location.clone(),
                created_at: now(state),
            })
            .await?;
        let name = format!("{}-agentpool", path.name);
        let id = ArmScope::parse(&format!(
            "/subscriptions/{}/resourceGroups/{node_rg}/providers/{USER_ASSIGNED_TYPE}/{name}",
            path.subscription
        ))
        .map_err(|e| ArmError::InvalidParameter {
            parameter: "name",
            reason: e.reason,
        })?;
        let mi = identities::create_identity(
            state,
            sub.tenant_id,
            id,
            path.subscription,
            node_rg,
            &name,
            &location,
            false,
        )
        .await?;
        props.kubelet_identity = Some(mi.principal_id);
        detail = format!("kubelet identity {} ({})", mi.resource_id, mi.client_id);
    }
    let at = now(state);
    let properties = serde_json::to_string(&props).map_err(|_| ArmError::Internal)?;
    let r = ComputeResource {
        id: path.scope.clone(),
        tenant_id: sub.tenant_id,
        subscription_id: path.subscription,
        resource_group: path.resource_group.clone(),
        name: path.name.clone(),
        kind: KIND.into(),
        location,
        system_identity: None,
        properties,
        created_at: at,
        updated_at: at,
    };
    state.meta.create_compute_resource(&r).await?;
    // The kubelet identity is the cluster's: its nodes obtain tokens as it
    // through the managed-identity grant (#5 §4).
    if let Some(mi) = &props.kubelet_identity {
        state.meta.attach_identity(&r.id, mi, at).await?;
    }
    detail = format!("created cluster {} with {detail}", r.id);
    audit_change(state, req, &permit, None, "cluster.create", detail).await;
    Ok((StatusCode::CREATED, cluster_json(state, &r).await?))
}

/// `DELETE`: the cluster and its kubelet identity (with its role
/// assignments) go; 204 when it did not exist.
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &ClusterPath,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let Ok(r) = find(state, path).await else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let p = properties_of(&r)?;
    state.meta.delete_compute_resource(&r.id).await?;
    if let Some(mi) = kubelet(state, &p).await? {
        identities::forget_identity(state, &mi).await?;
    }
    audit_change(
        state,
        req,
        &permit,
        None,
        "cluster.delete",
        format!("deleted cluster {}", r.id),
    )
    .await;
    Ok(StatusCode::OK)
}

/// The registry a body names, by its ARM id.
async fn registry_of(state: &AppState, id: &str) -> Result<Registry, ArmError> {
    let RoleScope::Registry(p) = RoleScope::parse(id.trim())? else {
        return Err(ArmError::InvalidParameter {
            parameter: "registryId",
            reason: format!("{id:?} is not a container registry's resource id"),
        });
    };
    match state.meta.find_registry_by_name(&p.name).await? {
        Some(r) if r.arm_scope() == p.scope() => Ok(r),
        _ => Err(ArmError::RegistryNotFound {
            name: p.name.to_string(),
            resource_group: p.resource_group,
        }),
    }
}

/// Who pulls for the cluster from `registry`: the kubelet identity, or the
/// service principal's object in the registry's tenant.
async fn assignee(
    state: &AppState,
    cluster: &ComputeResource,
    registry: &Registry,
) -> Result<ObjectId, ArmError> {
    let p = properties_of(cluster)?;
    if let Some(sp) = &p.service_principal {
        return match state
            .meta
            .find_service_principal_by_app(&sp.client_id, &registry.tenant_id)
            .await?
        {
            Some(found) => Ok(found.id),
            None => Err(ArmError::BadRequestFor {
                code: "ServicePrincipalNotProvisioned",
                message: format!(
                    "The cluster's service principal (application {}) has no service principal in \
                     tenant {}, the tenant of registry '{}'. Provision the (multi-tenant) \
                     application in that tenant first.",
                    sp.client_id, registry.tenant_id, registry.name
                ),
            }),
        };
    }
    let mi = kubelet(state, &p).await?.ok_or_else(|| {
        tracing::error!(cluster = %cluster.id, "control plane: cluster without kubelet identity");
        ArmError::Internal
    })?;
    if mi.tenant_id != registry.tenant_id {
        return Err(ArmError::BadRequestFor {
            code: "CrossTenantManagedIdentity",
            message: format!(
                "The registry '{}' is in tenant {} but the cluster's kubelet identity '{}' is in \
                 tenant {}: a managed identity can only be granted access to resources of its own \
                 tenant. Use a cluster service principal of a multi-tenant application provisioned \
                 in tenant {} instead.",
                registry.name, registry.tenant_id, mi.name, mi.tenant_id, registry.tenant_id
            ),
        });
    }
    Ok(mi.principal_id)
}

/// `POST …/attachAcr` / `…/detachAcr`.
pub async fn acr(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    path: &ClusterPath,
    attach: bool,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: AcrBody = shapes::parse_body(&req.body)?;
    let cluster = find(state, path).await?;
    let registry = registry_of(state, &body.registry_id).await?;
    let principal = assignee(state, &cluster, &registry).await?;
    let scope = registry.arm_scope();
    let existing: Vec<RoleAssignment> = state
        .meta
        .list_role_assignments_for(&[principal])
        .await?
        .into_iter()
        .filter(|a| a.scope == scope && a.role_definition_id == roles::ACR_PULL)
        .collect();
    let detail;
    if attach {
        caller.permit(&scope, &registry.tenant_id, arm_op::ROLE_ASSIGNMENTS_WRITE)?;
        if existing.is_empty() {
            let a = RoleAssignment {
                id: uuid::Uuid::new_v4(),
                scope: scope.clone(),
                role_definition_id: roles::ACR_PULL,
                principal_id: principal,
                principal_type: PrincipalType::ServicePrincipal,
                condition: None,
                created_at: now(state),
            };
            state.meta.create_role_assignment(&a).await?;
        }
        detail = format!(
            "attached registry {} to cluster {} (AcrPull for {principal})",
            registry.name, cluster.id
        );
    } else {
        caller.permit(&scope, &registry.tenant_id, arm_op::ROLE_ASSIGNMENTS_DELETE)?;
        for a in &existing {
            state.meta.delete_role_assignment(&a.id).await?;
        }
        detail = format!(
            "detached registry {} from cluster {}",
            registry.name, cluster.id
        );
    }
    let action = if attach {
        "cluster.attachAcr"
    } else {
        "cluster.detachAcr"
    };
    audit_change(state, req, &permit, Some(registry.id), action, detail).await;
    cluster_json(state, &cluster).await
}

/// `POST …/nodeConfig`: the node configuration file.
pub async fn node_config(
    state: &AppState,
    req: &Request,
    path: &ClusterPath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let cluster = find(state, path).await?;
    let p = properties_of(&cluster)?;
    let server = state.settings.server_url();
    // Login servers are `<registry>.<domain>[:port]`.
    let login_server_suffix = match state.settings.public_port {
        Some(port) => format!("{}:{port}", state.settings.domain),
        None => state.settings.domain.clone(),
    };
    let mut v = json!({
        "cloud": "AcrylicCloud",
        "tenantId": cluster.tenant_id.to_string(),
        "subscriptionId": cluster.subscription_id.to_string(),
        "resourceGroup": p.node_resource_group,
        "location": cluster.location,
        "activeDirectoryAuthorityHost": format!("{server}/"),
        "resourceManagerEndpoint": format!("{server}/"),
        "containerRegistryDNSSuffix": login_server_suffix,
        "registryNamePatterns": [format!("*.{login_server_suffix}"), state.settings.bare_login_server()],
    });
    if let Some(sp) = &p.service_principal {
        let sealed = STANDARD
            .decode(&sp.secret_sealed)
            .map_err(|_| ArmError::Internal)?;
        let secret =
            String::from_utf8(state.sealer.open(&sealed)?).map_err(|_| ArmError::Internal)?;
        v["useManagedIdentityExtension"] = json!(false);
        v["aadClientId"] = json!(sp.client_id.hyphenated().to_string());
        v["aadClientSecret"] = json!(secret);
        v["userAssignedIdentityID"] = json!("");
    } else if let Some(mi) = kubelet(state, &p).await? {
        v["useManagedIdentityExtension"] = json!(true);
        v["aadClientId"] = json!("msi");
        v["aadClientSecret"] = json!("msi");
        v["userAssignedIdentityID"] = json!(mi.client_id.hyphenated().to_string());
        // The nodes' credential for the managed-identity grant (the role
        // IMDS plays for AKS nodes): a new one on every call, the previous
        // one stops working.
        let mut cluster = cluster.clone();
        let secret =
            crate::directory::managed_identity::issue_agent_credential(state, &mut cluster).await?;
        v["acrylicClusterId"] = json!(cluster.id.as_str());
        v["acrylicNodeCredential"] = json!(secret);
    }
    audit_change(
        state,
        req,
        &permit,
        None,
        "cluster.nodeConfig",
        format!("read the node configuration of {}", cluster.id),
    )
    .await;
    Ok(v)
}
