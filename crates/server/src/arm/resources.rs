//! Compute resources that carry managed identities (issue #5 §1): web
//! apps and function apps (`Microsoft.Web/sites`), container groups
//! (`Microsoft.ContainerInstance/containerGroups`), virtual machines
//! (`Microsoft.Compute/virtualMachines`) and, as a kind that cannot carry
//! an identity, managed disks (`Microsoft.Compute/disks`): list, get,
//! create (PUT), PATCH (the `identity` block) and delete.
//!
//! The `identity` block is ARM's: `type` is `None`, `SystemAssigned`,
//! `UserAssigned` or `SystemAssigned, UserAssigned`; `userAssignedIdentities`
//! maps identity ids to `{}` (attach) or, in a PATCH, `null` (detach). A
//! system-assigned identity is created with it and deleted (with its role
//! assignments) when it is dropped or the resource goes. Attaching a
//! user-assigned identity needs `userAssignedIdentities/assign/action` on
//! that identity, and it must be in the resource's tenant.
//!
//! When a PUT or PATCH leaves a resource with an identity and it has never
//! had an identity-agent credential, one is issued and returned once in
//! the answer as `acrylicAgentCredential: {resourceId, tenantId,
//! credential}` (#5 §2); `POST …/agentCredential` issues a replacement.

use std::collections::BTreeMap;

use acrylic_authz::Permit;
use acrylic_model::{ArmScope, ResourceGroupName, SubscriptionId};
use acrylic_store::{ComputeResource, ManagedIdentity};
use axum::http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::auth::Caller;
use super::clusters::{self, ClusterPath};
use super::error::ArmError;
use super::identities::{self, IdentityPath};
use super::registries::{resource_group_exists, subscription};
use super::route::ArmRoute;
use super::{Request, Visible, audit_change, shapes};
use crate::AppState;

/// Now on the server's clock, to the millisecond (what the store keeps).
pub(crate) fn now(state: &AppState) -> OffsetDateTime {
    let now = state.clock.now();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// The ARM resource types of compute resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeType {
    Sites,
    ContainerGroups,
    VirtualMachines,
    Disks,
}

impl ComputeType {
    pub const ALL: [ComputeType; 4] = [
        Self::Sites,
        Self::ContainerGroups,
        Self::VirtualMachines,
        Self::Disks,
    ];

    /// `Microsoft.Web/sites`, …
    pub fn arm_type(self) -> &'static str {
        match self {
            Self::Sites => "Microsoft.Web/sites",
            Self::ContainerGroups => "Microsoft.ContainerInstance/containerGroups",
            Self::VirtualMachines => "Microsoft.Compute/virtualMachines",
            Self::Disks => "Microsoft.Compute/disks",
        }
    }

    /// From a path's lowercased provider and type segments.
    pub fn from_segments(provider: &str, rtype: &str) -> Option<ComputeType> {
        Self::ALL.into_iter().find(|t| {
            t.arm_type().split_once('/').is_some_and(|(p, r)| {
                p.eq_ignore_ascii_case(provider) && r.eq_ignore_ascii_case(rtype)
            })
        })
    }

    /// `read`, `write` or `delete` on this type.
    pub fn op(self, verb: Verb) -> &'static str {
        use ComputeType as T;
        use Verb as V;
        match (self, verb) {
            (T::Sites, V::Read) => "Microsoft.Web/sites/read",
            (T::Sites, V::Write) => "Microsoft.Web/sites/write",
            (T::Sites, V::Delete) => "Microsoft.Web/sites/delete",
            (T::ContainerGroups, V::Read) => "Microsoft.ContainerInstance/containerGroups/read",
            (T::ContainerGroups, V::Write) => "Microsoft.ContainerInstance/containerGroups/write",
            (T::ContainerGroups, V::Delete) => "Microsoft.ContainerInstance/containerGroups/delete",
            (T::VirtualMachines, V::Read) => "Microsoft.Compute/virtualMachines/read",
            (T::VirtualMachines, V::Write) => "Microsoft.Compute/virtualMachines/write",
            (T::VirtualMachines, V::Delete) => "Microsoft.Compute/virtualMachines/delete",
            (T::Disks, V::Read) => "Microsoft.Compute/disks/read",
            (T::Disks, V::Write) => "Microsoft.Compute/disks/write",
            (T::Disks, V::Delete) => "Microsoft.Compute/disks/delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Read,
    Write,
    Delete,
}

/// acrylic's kinds of compute resource (`acrylic resource --kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WebApp,
    FunctionApp,
    ContainerInstance,
    Vm,
    Disk,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Self::WebApp,
        Self::FunctionApp,
        Self::ContainerInstance,
        Self::Vm,
        Self::Disk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebApp => "webapp",
            Self::FunctionApp => "functionapp",
            Self::ContainerInstance => "containerinstance",
            Self::Vm => "vm",
            Self::Disk => "disk",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn compute_type(self) -> ComputeType {
        match self {
            Self::WebApp | Self::FunctionApp => ComputeType::Sites,
            Self::ContainerInstance => ComputeType::ContainerGroups,
            Self::Vm => ComputeType::VirtualMachines,
            Self::Disk => ComputeType::Disks,
        }
    }

    /// ARM's `kind` property, where the type has one (`Microsoft.Web/sites`).
    pub fn arm_kind(self) -> Option<&'static str> {
        match self {
            Self::WebApp => Some("app"),
            Self::FunctionApp => Some("functionapp"),
            _ => None,
        }
    }

    /// Whether the kind can carry managed identities.
    pub fn supports_identity(self) -> bool {
        !matches!(self, Self::Disk)
    }

    /// The kind a PUT body asks for at a type (`kind` only matters for
    /// sites: `functionapp…` is a function app, anything else a web app).
    fn of(rtype: ComputeType, arm_kind: Option<&str>) -> Kind {
        match rtype {
            ComputeType::Sites => match arm_kind {
                Some(k) if k.to_ascii_lowercase().starts_with("functionapp") => Self::FunctionApp,
                _ => Self::WebApp,
            },
            ComputeType::ContainerGroups => Self::ContainerInstance,
            ComputeType::VirtualMachines => Self::Vm,
            ComputeType::Disks => Self::Disk,
        }
    }
}

/// `…/resourceGroups/{rg}/providers/{provider}/{type}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputePath {
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub rtype: ComputeType,
    pub name: String,
    pub scope: ArmScope,
}

impl ComputePath {
    /// Checks the name (1–64 of `[A-Za-z0-9-_.]`, starting alphanumeric,
    /// not ending in `.`).
    pub fn new(
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
        rtype: ComputeType,
        name: &str,
    ) -> Result<ComputePath, ArmError> {
        let invalid = |reason: String| ArmError::InvalidResourceName {
            kind: "resource",
            name: name.to_owned(),
            reason,
        };
        let ok = (1..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !name.ends_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(invalid(
                "use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"
                    .into(),
            ));
        }
        let scope = ArmScope::parse(&format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{}/{name}",
            rtype.arm_type()
        ))
        .map_err(|e| invalid(e.reason))?;
        Ok(ComputePath {
            subscription,
            resource_group,
            rtype,
            name: name.to_owned(),
            scope,
        })
    }
}

/// Routes of compute resources and user-assigned identities, below
/// `/subscriptions/{sub}` (`lower` = the lowercased segments after it;
/// `segs` the same as given). `None`: not one of ours.
pub fn route(
    method: &Method,
    subscription: SubscriptionId,
    segs: &[&str],
    lower: &[&str],
) -> Result<Option<ArmRoute>, ArmError> {
    let rg = |s: &str| {
        ResourceGroupName::parse(s).map_err(|e| ArmError::InvalidResourceName {
            kind: "resource group",
            name: s.to_owned(),
            reason: e.reason,
        })
    };
    let is_identity = |p: &str, t: &str| p == identities::PROVIDER && t == identities::TYPE_SEGMENT;
    let is_cluster = |p: &str, t: &str| p == clusters::PROVIDER && t == clusters::TYPE_SEGMENT;
    Ok(Some(match (method.clone(), lower) {
        // Clusters (#5 §3).
        (Method::GET, ["resourcegroups", _, "providers", p, t]) if is_cluster(p, t) => {
            ArmRoute::ListClusters {
                subscription,
                resource_group: rg(segs[1])?,
            }
        }
        (m, ["resourcegroups", _, "providers", p, t, _]) if is_cluster(p, t) => {
            let path = ClusterPath::new(subscription, rg(segs[1])?, segs[5])?;
            match m {
                Method::GET => ArmRoute::GetCluster(path),
                Method::PUT => ArmRoute::PutCluster(path),
                Method::DELETE => ArmRoute::DeleteCluster(path),
                _ => return Ok(None),
            }
        }
        (Method::POST, ["resourcegroups", _, "providers", p, t, _, action]) if is_cluster(p, t) => {
            let path = ClusterPath::new(subscription, rg(segs[1])?, segs[5])?;
            match *action {
                "attachacr" => ArmRoute::ClusterAcr(path, true),
                "detachacr" => ArmRoute::ClusterAcr(path, false),
                "nodeconfig" => ArmRoute::ClusterNodeConfig(path),
                _ => return Ok(None),
            }
        }
        (Method::GET, ["providers", p, t]) if is_identity(p, t) => {
            ArmRoute::ListUserAssignedIdentities {
                subscription,
                resource_group: None,
            }
        }
        (Method::GET, ["resourcegroups", _, "providers", p, t]) if is_identity(p, t) => {
            ArmRoute::ListUserAssignedIdentities {
                subscription,
                resource_group: Some(rg(segs[1])?),
            }
        }
        (m, ["resourcegroups", _, "providers", p, t, _]) if is_identity(p, t) => {
            let path = IdentityPath::new(subscription, rg(segs[1])?, segs[5])?;
            match m {
                Method::GET => ArmRoute::GetUserAssignedIdentity(path),
                Method::PUT => ArmRoute::PutUserAssignedIdentity(path),
                Method::DELETE => ArmRoute::DeleteUserAssignedIdentity(path),
                _ => return Ok(None),
            }
        }
        (Method::GET, ["resourcegroups", _, "providers", p, t]) => {
            let Some(rtype) = ComputeType::from_segments(p, t) else {
                return Ok(None);
            };
            ArmRoute::ListComputeResources {
                subscription,
                resource_group: rg(segs[1])?,
                rtype,
            }
        }
        (Method::POST, ["resourcegroups", _, "providers", p, t, _, "agentcredential"]) => {
            let Some(rtype) = ComputeType::from_segments(p, t) else {
                return Ok(None);
            };
            ArmRoute::IssueAgentCredential(ComputePath::new(
                subscription,
                rg(segs[1])?,
                rtype,
                segs[5],
            )?)
        }
        (m, ["resourcegroups", _, "providers", p, t, _]) => {
            let Some(rtype) = ComputeType::from_segments(p, t) else {
                return Ok(None);
            };
            let path = ComputePath::new(subscription, rg(segs[1])?, rtype, segs[5])?;
            match m {
                Method::GET => ArmRoute::GetComputeResource(path),
                Method::PUT => ArmRoute::PutComputeResource(path),
                Method::PATCH => ArmRoute::PatchComputeResource(path),
                Method::DELETE => ArmRoute::DeleteComputeResource(path),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    }))
}

// ---- bodies and shapes -------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdentityBody {
    #[serde(rename = "type")]
    pub kind: String,
    /// Identity id → `{}` (attach) or `null` (detach, in a PATCH).
    #[serde(default)]
    pub user_assigned_identities: Option<BTreeMap<String, Option<Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutBody {
    location: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    identity: Option<IdentityBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchBody {
    #[serde(default)]
    identity: Option<IdentityBody>,
}

/// `(system, user)` from ARM's identity `type`.
fn identity_type(t: &str) -> Result<(bool, bool), ArmError> {
    let mut system = false;
    let mut user = false;
    for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.to_ascii_lowercase().as_str() {
            "none" => {}
            "systemassigned" => system = true,
            "userassigned" => user = true,
            _ => {
                return Err(ArmError::InvalidParameter {
                    parameter: "identity.type",
                    reason: format!(
                        "{t:?}: expected None, SystemAssigned, UserAssigned or \
                         'SystemAssigned, UserAssigned'"
                    ),
                });
            }
        }
    }
    Ok((system, user))
}

fn identity_type_name(system: bool, user: bool) -> &'static str {
    match (system, user) {
        (false, false) => "None",
        (true, false) => "SystemAssigned",
        (false, true) => "UserAssigned",
        (true, true) => "SystemAssigned, UserAssigned",
    }
}

/// The kind recorded on a resource.
pub(crate) fn kind_of(r: &ComputeResource) -> Result<Kind, ArmError> {
    Kind::parse(&r.kind).ok_or_else(|| {
        tracing::error!(resource = %r.id, kind = %r.kind, "control plane: unknown resource kind");
        ArmError::Internal
    })
}

/// A resource as ARM shows it, with its identities.
pub(crate) async fn resource_json(
    state: &AppState,
    r: &ComputeResource,
) -> Result<Value, ArmError> {
    let kind = kind_of(r)?;
    let system = match &r.system_identity {
        Some(id) => state.meta.find_managed_identity(id).await?,
        None => None,
    };
    let attached = state.meta.list_attached_identities(&r.id).await?;
    let mut identity = json!({
        "type": identity_type_name(system.is_some(), !attached.is_empty()),
    });
    if let Some(mi) = &system {
        identity["principalId"] = json!(mi.principal_id.to_string());
        identity["tenantId"] = json!(mi.tenant_id.to_string());
    }
    if !attached.is_empty() {
        let map: serde_json::Map<String, Value> = attached
            .iter()
            .map(|mi| {
                (
                    mi.resource_id.to_string(),
                    json!({
                        "principalId": mi.principal_id.to_string(),
                        "clientId": mi.client_id.hyphenated().to_string(),
                    }),
                )
            })
            .collect();
        identity["userAssignedIdentities"] = Value::Object(map);
    }
    let mut v = json!({
        "id": r.id.as_str(),
        "name": r.name,
        "type": kind.compute_type().arm_type(),
        "location": r.location,
        "tags": {},
        "identity": identity,
        "properties": {
            "provisioningState": "Succeeded",
            "acrylicKind": kind.as_str(),
        },
    });
    if let Some(k) = kind.arm_kind() {
        v["kind"] = json!(k);
    }
    Ok(v)
}

// ---- handlers ---------------------------------------------------------------

pub async fn list(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
    rtype: ComputeType,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    resource_group_exists(state, sub, rg).await?;
    let mut items = Vec::new();
    for r in state.meta.list_compute_resources(sub, Some(rg)).await? {
        let Some(kind) = Kind::parse(&r.kind) else {
            continue; // another component's resource (a cluster, #5 §3)
        };
        if kind.compute_type() == rtype && visible.may_see(&r.id, &r.tenant_id) {
            items.push(resource_json(state, &r).await?);
        }
    }
    Ok(shapes::list(items))
}

async fn find(state: &AppState, path: &ComputePath) -> Result<ComputeResource, ArmError> {
    match state.meta.find_compute_resource(&path.scope).await? {
        Some(r) if Kind::parse(&r.kind).is_some_and(|k| k.compute_type() == path.rtype) => Ok(r),
        _ => Err(ArmError::ResourceNotFound {
            rtype: path.rtype.arm_type(),
            name: path.name.clone(),
            resource_group: path.resource_group.clone(),
        }),
    }
}

pub async fn get(state: &AppState, path: &ComputePath, _permit: Permit) -> Result<Value, ArmError> {
    let r = find(state, path).await?;
    resource_json(state, &r).await
}

/// `PUT`: creates the resource (201) or applies the body to the existing
/// one (200); the identity block, if given, is the whole truth.
pub async fn put(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    path: &ComputePath,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: PutBody = shapes::parse_body(&req.body)?;
    let location = body.location.trim().to_owned();
    if location.is_empty() {
        return Err(ArmError::InvalidRequestContent(
            "location must not be empty".into(),
        ));
    }
    let kind = Kind::of(path.rtype, body.kind.as_deref());
    let sub = subscription(state, &path.subscription).await?;
    resource_group_exists(state, &path.subscription, &path.resource_group).await?;
    let wanted = body
        .identity
        .as_ref()
        .map(|i| identity_type(&i.kind))
        .transpose()?;
    if !kind.supports_identity() && wanted.is_some_and(|(s, u)| s || u) {
        return Err(ArmError::ManagedIdentityNotSupported {
            rtype: path.rtype.arm_type(),
            kind: kind.as_str(),
        });
    }
    let (mut r, status) = match state.meta.find_compute_resource(&path.scope).await? {
        Some(existing) => {
            if kind_of(&existing)? != kind {
                return Err(ArmError::BadRequestFor {
                    code: "InvalidResourceKind",
                    message: format!(
                        "The resource '{}' is a {}; its kind cannot change to {}.",
                        existing.id,
                        existing.kind,
                        kind.as_str()
                    ),
                });
            }
            (existing, StatusCode::OK)
        }
        None => {
            let at = now(state);
            let r = ComputeResource {
                id: path.scope.clone(),
                tenant_id: sub.tenant_id,
                subscription_id: path.subscription,
                resource_group: path.resource_group.clone(),
                name: path.name.clone(),
                kind: kind.as_str().to_owned(),
                location: location.clone(),
                system_identity: None,
                properties: "{}".into(),
                created_at: at,
                updated_at: at,
            };
            state.meta.create_compute_resource(&r).await?;
            (r, StatusCode::CREATED)
        }
    };
    r.location = location;
    let mut changes = vec![];
    if let Some(identity) = &body.identity {
        apply_identity(state, caller, &mut r, identity, true, &mut changes).await?;
    }
    r.updated_at = now(state);
    state.meta.update_compute_resource(&r).await?;
    let issued = first_agent_credential(state, &mut r, &mut changes).await?;
    let action = if status == StatusCode::CREATED {
        "resource.create"
    } else {
        "resource.update"
    };
    audit_change(
        state,
        req,
        &permit,
        None,
        action,
        format!("{} {} {}", kind.as_str(), r.id, changes.join(", ")),
    )
    .await;
    Ok((
        status,
        with_credential(resource_json(state, &r).await?, &r, issued),
    ))
}

/// The resource's first agent credential (#5 §2), issued when it carries
/// an identity and has never had one; `None` otherwise (a running agent's
/// credential is never replaced behind its back).
async fn first_agent_credential(
    state: &AppState,
    r: &mut ComputeResource,
    changes: &mut Vec<String>,
) -> Result<Option<String>, ArmError> {
    if crate::directory::managed_identity::has_agent_credential(r) {
        return Ok(None);
    }
    let has_identity = r.system_identity.is_some()
        || !state.meta.list_attached_identities(&r.id).await?.is_empty();
    if !has_identity {
        return Ok(None);
    }
    let secret = crate::directory::managed_identity::issue_agent_credential(state, r).await?;
    changes.push("identity-agent credential issued".into());
    Ok(Some(secret))
}

/// The ARM answer with a just-issued agent credential (shown this once:
/// only its digest is kept) as `acrylicAgentCredential`.
fn with_credential(mut v: Value, r: &ComputeResource, issued: Option<String>) -> Value {
    if let Some(secret) = issued {
        v["acrylicAgentCredential"] = json!({
            "resourceId": r.id.as_str(),
            "tenantId": r.tenant_id.to_string(),
            "credential": secret,
        });
    }
    v
}

/// `PATCH`: changes the identity block (ARM's rules: `type` says whether a
/// system-assigned identity exists; listed user-assigned identities are
/// attached, `null` ones detached, others kept unless the type drops
/// `UserAssigned`).
pub async fn patch(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    path: &ComputePath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: PatchBody = shapes::parse_body(&req.body)?;
    let mut r = find(state, path).await?;
    let mut changes = vec![];
    if let Some(identity) = &body.identity {
        let kind = kind_of(&r)?;
        let (s, u) = identity_type(&identity.kind)?;
        if !kind.supports_identity() && (s || u) {
            return Err(ArmError::ManagedIdentityNotSupported {
                rtype: path.rtype.arm_type(),
                kind: kind.as_str(),
            });
        }
        apply_identity(state, caller, &mut r, identity, false, &mut changes).await?;
        r.updated_at = now(state);
        state.meta.update_compute_resource(&r).await?;
    }
    let issued = first_agent_credential(state, &mut r, &mut changes).await?;
    audit_change(
        state,
        req,
        &permit,
        None,
        "resource.update",
        format!("{} {}", r.id, changes.join(", ")),
    )
    .await;
    Ok(with_credential(resource_json(state, &r).await?, &r, issued))
}

/// Brings the resource's identities to what `body` says. `replace`: the
/// listed user-assigned identities are the whole set (PUT).
async fn apply_identity(
    state: &AppState,
    caller: &Caller,
    r: &mut ComputeResource,
    body: &IdentityBody,
    replace: bool,
    changes: &mut Vec<String>,
) -> Result<(), ArmError> {
    let (system, user) = identity_type(&body.kind)?;
    let listed = body.user_assigned_identities.clone().unwrap_or_default();
    if !user && listed.values().any(Option::is_some) {
        return Err(ArmError::InvalidParameter {
            parameter: "identity.userAssignedIdentities",
            reason: "user-assigned identities are listed but the type is not UserAssigned".into(),
        });
    }
    if user && listed.values().all(Option::is_none) && replace {
        return Err(ArmError::InvalidParameter {
            parameter: "identity.userAssignedIdentities",
            reason: "the type is UserAssigned but no user-assigned identity is listed".into(),
        });
    }

    // Resolve and authorize every identity to attach before changing anything.
    let mut attach: Vec<ManagedIdentity> = Vec::new();
    let mut detach: Vec<ArmScope> = Vec::new();
    for (id, value) in &listed {
        let scope = ArmScope::parse(id).map_err(|_| ArmError::InvalidParameter {
            parameter: "identity.userAssignedIdentities",
            reason: format!("{id:?} is not a resource id"),
        })?;
        if value.is_none() {
            detach.push(scope);
            continue;
        }
        let mi = match state
            .meta
            .find_managed_identity_by_resource_id(&scope)
            .await?
        {
            Some(mi) if !mi.system_assigned => mi,
            _ => {
                return Err(ArmError::BadRequestFor {
                    code: "FailedIdentityOperation",
                    message: format!(
                        "Resource '{id}' was not found: a user-assigned identity is attached by \
                         its resource id."
                    ),
                });
            }
        };
        if mi.tenant_id != r.tenant_id {
            return Err(ArmError::BadRequestFor {
                code: "FailedIdentityOperation",
                message: format!(
                    "The identity '{id}' is in tenant {}; the resource '{}' is in tenant {}. \
                     Identities can only be attached within their tenant.",
                    mi.tenant_id, r.id, r.tenant_id
                ),
            });
        }
        caller.permit(&mi.resource_id, &mi.tenant_id, identities::op::ASSIGN)?;
        attach.push(mi);
    }

    // System-assigned: created with the resource, deleted when dropped.
    match (system, r.system_identity) {
        (true, None) => {
            let mi = identities::create_identity(
                state,
                r.tenant_id,
                r.id.clone(),
                r.subscription_id,
                r.resource_group.clone(),
                &r.name,
                &r.location,
                true,
            )
            .await?;
            r.system_identity = Some(mi.principal_id);
            state.meta.update_compute_resource(r).await?;
            changes.push(format!("system identity {} created", mi.principal_id));
        }
        (false, Some(id)) => {
            r.system_identity = None;
            state.meta.update_compute_resource(r).await?;
            if let Some(mi) = state.meta.find_managed_identity(&id).await? {
                identities::forget_identity(state, &mi).await?;
            }
            changes.push(format!("system identity {id} deleted"));
        }
        _ => {}
    }

    // User-assigned.
    let current = state.meta.list_attached_identities(&r.id).await?;
    for mi in &current {
        let keep = user
            && !detach.contains(&mi.resource_id)
            && (!replace || attach.iter().any(|a| a.principal_id == mi.principal_id));
        if !keep && state.meta.detach_identity(&r.id, &mi.principal_id).await? {
            changes.push(format!("detached {}", mi.resource_id));
        }
    }
    let at = now(state);
    for mi in &attach {
        if state
            .meta
            .attach_identity(&r.id, &mi.principal_id, at)
            .await?
        {
            changes.push(format!("attached {}", mi.resource_id));
        }
    }
    Ok(())
}

/// `DELETE`: 200 when it existed (its system-assigned identity goes with
/// it, role assignments and all), 204 when it did not.
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &ComputePath,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let Ok(r) = find(state, path).await else {
        return Ok(StatusCode::NO_CONTENT);
    };
    delete_resource(state, &r).await?;
    audit_change(
        state,
        req,
        &permit,
        None,
        "resource.delete",
        format!("deleted {} {}", r.kind, r.id),
    )
    .await;
    Ok(StatusCode::OK)
}

/// Deletes a resource, then its system-assigned identity.
pub(crate) async fn delete_resource(state: &AppState, r: &ComputeResource) -> Result<(), ArmError> {
    state.meta.delete_compute_resource(&r.id).await?;
    let system = match &r.system_identity {
        Some(id) => state.meta.find_managed_identity(id).await?,
        None => None,
    };
    if let Some(mi) = system {
        identities::forget_identity(state, &mi).await?;
    }
    Ok(())
}

/// `POST …/agentCredential` (acrylic extension, #5 §2): a new credential
/// for the resource's identity agent, shown once (the previous one stops
/// working). Refused for kinds that cannot carry an identity.
pub async fn issue_agent_credential(
    state: &AppState,
    req: &Request,
    path: &ComputePath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let mut r = find(state, path).await?;
    let kind = kind_of(&r)?;
    if !kind.supports_identity() {
        return Err(ArmError::ManagedIdentityNotSupported {
            rtype: path.rtype.arm_type(),
            kind: kind.as_str(),
        });
    }
    let secret = crate::directory::managed_identity::issue_agent_credential(state, &mut r).await?;
    audit_change(
        state,
        req,
        &permit,
        None,
        "resource.agentCredential",
        format!("issued a new identity-agent credential for {}", r.id),
    )
    .await;
    Ok(json!({
        "resourceId": r.id.as_str(),
        "tenantId": r.tenant_id.to_string(),
        "credential": secret,
        "tokenPath": crate::directory::managed_identity::TOKEN_PATH
            .replace("{tenant}", &r.tenant_id.to_string()),
    }))
}
