//! The control plane's route table: every path and method, parsed once into
//! an [`ArmRoute`], and the access each one needs ([`ArmRoute::access`], an
//! exhaustive `match`: a route without a decided access does not compile).
//!
//! | method | path (below `/subscriptions`) | route | operation authorized |
//! |---|---|---|---|
//! | GET | `` | ListSubscriptions | `Microsoft.Resources/subscriptions/read`, per item |
//! | GET | `/{sub}` | GetSubscription | `Microsoft.Resources/subscriptions/read` |
//! | GET | `/{sub}/resourceGroups/{rg}` | GetResourceGroup | `…/subscriptions/resourceGroups/read` |
//! | GET | `/{sub}/resources?$filter=resourceType eq '…registries'` | ListResources | `registries/read`, per item |
//! | POST | `/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability` | CheckNameAvailability | `checkNameAvailability/read` |
//! | GET | `/{sub}[/resourceGroups/{rg}]/providers/Microsoft.ContainerRegistry/registries` | ListRegistries | `registries/read`, per item |
//! | GET | `…/registries/{name}` | GetRegistry | `registries/read` |
//! | PUT | `…/registries/{name}` | CreateRegistry | `registries/write` |
//! | PATCH | `…/registries/{name}` | UpdateRegistry | `registries/write` |
//! | DELETE | `…/registries/{name}` | DeleteRegistry | `registries/delete` |
//! | POST | `…/registries/{name}/listCredentials` | ListCredentials | `registries/listCredentials/action` |
//! | POST | `…/registries/{name}/regenerateCredential` | RegenerateCredential | `registries/regenerateCredential/action` |
//! | GET | `…/registries/{name}/auditLogs?principal&action&repository&since&top` | ListAuditLogs | `registries/auditLogs/read` (acrylic extension) |
//! | GET | `…/registries/{name}/scopeMaps` | ListScopeMaps | `registries/scopeMaps/read` |
//! | GET, PUT, PATCH, DELETE | `…/registries/{name}/scopeMaps/{scopeMap}` | Get/Put/Patch/DeleteScopeMap | `registries/scopeMaps/read\|write\|write\|delete` |
//! | GET | `…/registries/{name}/tokens` | ListTokens | `registries/tokens/read` |
//! | GET, PUT, PATCH, DELETE | `…/registries/{name}/tokens/{token}` | Get/Put/Patch/DeleteToken | `registries/tokens/read\|write\|write\|delete` |
//! | POST | `…/registries/{name}/generateCredentials` | GenerateCredentials | `registries/generateCredentials/action` |
//!
//! Role-based access control (`Microsoft.Authorization`, acr-auth.md §6.7),
//! where `{scope}` is empty (`/`, the tenant root), `/subscriptions/{sub}`,
//! `…/resourceGroups/{rg}` or a registry's id:
//!
//! | method | path | route | operation authorized |
//! |---|---|---|---|
//! | GET | `{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()\|principalId eq '…'\|assignedTo('…')` | ListRoleAssignments | `roleAssignments/read` |
//! | GET | `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` | GetRoleAssignment | `roleAssignments/read` |
//! | PUT | `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` | CreateRoleAssignment | `roleAssignments/write` |
//! | DELETE | `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}` | DeleteRoleAssignment | `roleAssignments/delete` |
//! | GET | `{scope}/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq '…'\|type eq '…'` | ListRoleDefinitions | `roleDefinitions/read` |
//! | GET | `{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}` | GetRoleDefinition | `roleDefinitions/read` |
//! | PUT | `{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}` | PutRoleDefinition | `roleDefinitions/write` (and at every assignable scope) |
//! | DELETE | `{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}` | DeleteRoleDefinition | `roleDefinitions/delete` |
//!
//! Literal segments compare case-insensitively, as ARM's do
//! (`resourcegroups` = `resourceGroups`). `api-version` is accepted and not
//! required.

use acrylic_model::{ArmScope, ObjectId, RegistryName, ResourceGroupName, SubscriptionId};
use axum::http::Method;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ArmError;
use super::scope_maps::ScopeMapName;
use super::tokens::TokenName;
// Compute resources and managed identities (#5).
use super::clusters::{ClusterPath, op as cluster_op};
use super::identities::{IdentityPath, op as identity_op};
use super::resources::{ComputePath, ComputeType, Verb};

/// Control-plane operations, as role definitions name them (acr-auth.md §6.2).
pub mod op {
    pub const SUBSCRIPTION_READ: &str = "Microsoft.Resources/subscriptions/read";
    pub const RESOURCE_GROUP_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";
    pub const CHECK_NAME_AVAILABILITY: &str =
        "Microsoft.ContainerRegistry/checkNameAvailability/read";
    pub const REGISTRY_READ: &str = "Microsoft.ContainerRegistry/registries/read";
    pub const REGISTRY_WRITE: &str = "Microsoft.ContainerRegistry/registries/write";
    pub const REGISTRY_DELETE: &str = "Microsoft.ContainerRegistry/registries/delete";
    pub const LIST_CREDENTIALS: &str =
        "Microsoft.ContainerRegistry/registries/listCredentials/action";
    pub const REGENERATE_CREDENTIAL: &str =
        "Microsoft.ContainerRegistry/registries/regenerateCredential/action";
    /// acrylic's audit log (issue #2 §5 "Audit").
    pub const AUDIT_LOGS_READ: &str = "Microsoft.ContainerRegistry/registries/auditLogs/read";
    pub const ROLE_ASSIGNMENTS_READ: &str = "Microsoft.Authorization/roleAssignments/read";
    pub const ROLE_ASSIGNMENTS_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
    pub const ROLE_ASSIGNMENTS_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";
    pub const ROLE_DEFINITIONS_READ: &str = "Microsoft.Authorization/roleDefinitions/read";
    pub const ROLE_DEFINITIONS_WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";
    pub const ROLE_DEFINITIONS_DELETE: &str = "Microsoft.Authorization/roleDefinitions/delete";
    // -- scope maps and repository tokens (#4) --
    pub const SCOPE_MAPS_READ: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/read";
    pub const SCOPE_MAPS_WRITE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/write";
    pub const SCOPE_MAPS_DELETE: &str = "Microsoft.ContainerRegistry/registries/scopeMaps/delete";
    pub const TOKENS_READ: &str = "Microsoft.ContainerRegistry/registries/tokens/read";
    pub const TOKENS_WRITE: &str = "Microsoft.ContainerRegistry/registries/tokens/write";
    pub const TOKENS_DELETE: &str = "Microsoft.ContainerRegistry/registries/tokens/delete";
    pub const GENERATE_CREDENTIALS: &str =
        "Microsoft.ContainerRegistry/registries/generateCredentials/action";
}

pub const REGISTRY_TYPE: &str = "Microsoft.ContainerRegistry/registries";

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPath {
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub name: RegistryName,
}

impl RegistryPath {
    pub fn scope(&self) -> ArmScope {
        ArmScope::registry(&self.subscription, &self.resource_group, &self.name)
    }
}

/// Where a role assignment or custom role lives (acr-auth.md §6.7: the
/// assignment scope is the registry, its resource group or subscription —
/// never a repository — or the tenant root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleScope {
    Root,
    Subscription(SubscriptionId),
    ResourceGroup(SubscriptionId, ResourceGroupName),
    Registry(RegistryPath),
}

impl RoleScope {
    /// The scope in ARM's canonical spelling.
    pub fn arm_scope(&self) -> ArmScope {
        match self {
            RoleScope::Root => ArmScope::root(),
            RoleScope::Subscription(sub) => ArmScope::subscription(sub),
            RoleScope::ResourceGroup(sub, rg) => ArmScope::resource_group(sub, rg),
            RoleScope::Registry(p) => p.scope(),
        }
    }

    /// This scope and every scope above it, from the root down: where the
    /// assignments that apply at this scope can be (ARM's `atScope()`).
    pub fn with_ancestors(&self) -> Vec<ArmScope> {
        let mut out = vec![ArmScope::root()];
        match self {
            RoleScope::Root => {}
            RoleScope::Subscription(sub) => out.push(ArmScope::subscription(sub)),
            RoleScope::ResourceGroup(sub, rg) => {
                out.push(ArmScope::subscription(sub));
                out.push(ArmScope::resource_group(sub, rg));
            }
            RoleScope::Registry(p) => {
                out.push(ArmScope::subscription(&p.subscription));
                out.push(ArmScope::resource_group(&p.subscription, &p.resource_group));
                out.push(p.scope());
            }
        }
        out
    }

    pub fn subscription(&self) -> Option<&SubscriptionId> {
        match self {
            RoleScope::Root => None,
            RoleScope::Subscription(sub) | RoleScope::ResourceGroup(sub, _) => Some(sub),
            RoleScope::Registry(p) => Some(&p.subscription),
        }
    }

    /// Parses a scope string (a body's `assignableScopes`, a role
    /// assignment id) into one of the shapes above.
    pub fn parse(scope: &str) -> Result<RoleScope, ArmError> {
        let invalid = || ArmError::InvalidScope(scope.to_owned());
        let segs: Vec<&str> = scope.split('/').filter(|s| !s.is_empty()).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        role_scope(&segs, &lower).map_err(|_| invalid())
    }
}

/// What `$filter` of a role-assignment listing asks for (ARM's OData
/// subset: `atScope()`, `principalId eq '…'`, `assignedTo('…')`, joined
/// with `and`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentFilter {
    /// Only assignments at the scope or above it.
    pub at_scope: bool,
    /// Only assignments naming this principal.
    pub principal: Option<ObjectId>,
    /// Only assignments naming this principal or one of its groups.
    pub assigned_to: Option<ObjectId>,
}

/// What `$filter` of a role-definition listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefinitionFilter {
    /// `roleName eq '…'`, compared case-insensitively.
    pub role_name: Option<String>,
    /// `type eq 'BuiltInRole'|'CustomRole'`.
    pub role_type: Option<String>,
}

/// Filters of the audit-log listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub principal: Option<String>,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub top: Option<u32>,
}

/// The largest `top` honoured.
pub const MAX_AUDIT_TOP: u32 = 1000;

/// What `$filter` of a resource listing asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceFilter {
    /// No filter: every resource (here, every registry).
    All,
    /// `resourceType eq '<type>'`.
    ResourceType(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmRoute {
    ListSubscriptions,
    GetSubscription(SubscriptionId),
    GetResourceGroup {
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
    },
    ListResources {
        subscription: SubscriptionId,
        filter: ResourceFilter,
    },
    CheckNameAvailability(SubscriptionId),
    ListRegistries {
        subscription: SubscriptionId,
        resource_group: Option<ResourceGroupName>,
    },
    GetRegistry(RegistryPath),
    CreateRegistry(RegistryPath),
    UpdateRegistry(RegistryPath),
    DeleteRegistry(RegistryPath),
    ListCredentials(RegistryPath),
    RegenerateCredential(RegistryPath),
    ListAuditLogs(RegistryPath, AuditQuery),
    ListRoleAssignments(RoleScope, AssignmentFilter),
    GetRoleAssignment(RoleScope, uuid::Uuid),
    CreateRoleAssignment(RoleScope, uuid::Uuid),
    DeleteRoleAssignment(RoleScope, uuid::Uuid),
    ListRoleDefinitions(RoleScope, DefinitionFilter),
    GetRoleDefinition(RoleScope, uuid::Uuid),
    PutRoleDefinition(RoleScope, uuid::Uuid),
    DeleteRoleDefinition(RoleScope, uuid::Uuid),
    // -- scope maps and repository tokens (#4) --
    ListScopeMaps(RegistryPath),
    GetScopeMap(RegistryPath, ScopeMapName),
    PutScopeMap(RegistryPath, ScopeMapName),
    PatchScopeMap(RegistryPath, ScopeMapName),
    DeleteScopeMap(RegistryPath, ScopeMapName),
    ListTokens(RegistryPath),
    GetToken(RegistryPath, TokenName),
    PutToken(RegistryPath, TokenName),
    PatchToken(RegistryPath, TokenName),
    DeleteToken(RegistryPath, TokenName),
    GenerateCredentials(RegistryPath),
    // -- resources, managed identities, clusters (#5) --
    ListComputeResources {
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
        rtype: ComputeType,
    },
    GetComputeResource(ComputePath),
    PutComputeResource(ComputePath),
    PatchComputeResource(ComputePath),
    DeleteComputeResource(ComputePath),
    /// `POST …/agentCredential`: the identity agent's credential.
    IssueAgentCredential(ComputePath),
    ListUserAssignedIdentities {
        subscription: SubscriptionId,
        resource_group: Option<ResourceGroupName>,
    },
    GetUserAssignedIdentity(IdentityPath),
    PutUserAssignedIdentity(IdentityPath),
    DeleteUserAssignedIdentity(IdentityPath),
    ListClusters {
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
    },
    GetCluster(ClusterPath),
    PutCluster(ClusterPath),
    DeleteCluster(ClusterPath),
    /// `attachAcr` (true) or `detachAcr` (false).
    ClusterAcr(ClusterPath, bool),
    ClusterNodeConfig(ClusterPath),
}

/// The access a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `operation` at `scope`, decided before the handler runs.
    At {
        scope: ArmScope,
        operation: &'static str,
    },
    /// A listing: `operation` on each item; items the caller may not see
    /// are left out, as ARM does.
    EachItem { operation: &'static str },
}

impl ArmRoute {
    /// Parses a path below `/subscriptions` and its query.
    pub fn parse(
        method: &Method,
        path: &str,
        query: &[(String, String)],
    ) -> Result<ArmRoute, ArmError> {
        let no_route = || ArmError::NoRoute {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        if let Some(at) = lower
            .windows(2)
            .position(|w| w == ["providers", "microsoft.authorization"])
        {
            let scope = role_scope(&segs[..at], &lower[..at]).map_err(|_| no_route())?;
            return authorization_route(method, scope, &segs[at + 2..], &lower[at + 2..], query)
                .and_then(|r| r.ok_or_else(no_route));
        }
        if lower.first() != Some(&"subscriptions") {
            return Err(no_route());
        }
        if segs.len() == 1 {
            return match *method {
                Method::GET => Ok(ArmRoute::ListSubscriptions),
                _ => Err(no_route()),
            };
        }
        let subscription = SubscriptionId::parse(segs[1])
            .map_err(|_| ArmError::InvalidSubscriptionId(segs[1].to_owned()))?;
        let rg = |i: usize| -> Result<ResourceGroupName, ArmError> {
            ResourceGroupName::parse(segs[i]).map_err(|e| ArmError::InvalidResourceName {
                kind: "resource group",
                name: segs[i].to_owned(),
                reason: e.reason,
            })
        };
        let registry = |rg_index: usize, name_index: usize| -> Result<RegistryPath, ArmError> {
            Ok(RegistryPath {
                subscription,
                resource_group: rg(rg_index)?,
                name: RegistryName::parse(segs[name_index]).map_err(|e| {
                    ArmError::InvalidResourceName {
                        kind: "registry",
                        name: segs[name_index].to_owned(),
                        reason: e.reason,
                    }
                })?,
            })
        };
        const ACR: &str = "microsoft.containerregistry";
        let m = method.clone();
        let route = match (m, &lower[2..]) {
            (Method::GET, []) => ArmRoute::GetSubscription(subscription),
            (Method::GET, ["resources"]) => ArmRoute::ListResources {
                subscription,
                filter: resource_filter(query)?,
            },
            (Method::GET, ["resourcegroups", _]) => ArmRoute::GetResourceGroup {
                subscription,
                resource_group: rg(3)?,
            },
            (Method::POST, ["providers", p, "checknameavailability"]) if *p == ACR => {
                ArmRoute::CheckNameAvailability(subscription)
            }
            (Method::GET, ["providers", p, "registries"]) if *p == ACR => {
                ArmRoute::ListRegistries {
                    subscription,
                    resource_group: None,
                }
            }
            (Method::GET, ["resourcegroups", _, "providers", p, "registries"]) if *p == ACR => {
                ArmRoute::ListRegistries {
                    subscription,
                    resource_group: Some(rg(3)?),
                }
            }
            (m, ["resourcegroups", _, "providers", p, "registries", _]) if *p == ACR => {
                let path = registry(3, 7)?;
                match m {
                    Method::GET => ArmRoute::GetRegistry(path),
                    Method::PUT => ArmRoute::CreateRegistry(path),
                    Method::PATCH => ArmRoute::UpdateRegistry(path),
                    Method::DELETE => ArmRoute::DeleteRegistry(path),
                    _ => return Err(no_route()),
                }
            }
            (m, ["resourcegroups", _, "providers", p, "registries", _, action]) if *p == ACR => {
                let path = registry(3, 7)?;
                match (m, *action) {
                    (Method::POST, "listcredentials") => ArmRoute::ListCredentials(path),
                    (Method::POST, "regeneratecredential") => ArmRoute::RegenerateCredential(path),
                    (Method::GET, "auditlogs") => {
                        ArmRoute::ListAuditLogs(path, audit_query(query)?)
                    }
                    (Method::GET, "scopemaps") => ArmRoute::ListScopeMaps(path),
                    (Method::GET, "tokens") => ArmRoute::ListTokens(path),
                    (Method::POST, "generatecredentials") => ArmRoute::GenerateCredentials(path),
                    _ => return Err(no_route()),
                }
            }
            // Scope maps and tokens of a registry (#4).
            (
                m,
                [
                    "resourcegroups",
                    _,
                    "providers",
                    p,
                    "registries",
                    _,
                    kind,
                    _,
                ],
            ) if *p == ACR => {
                let path = registry(3, 7)?;
                match *kind {
                    "scopemaps" => {
                        let name = ScopeMapName::parse(segs[9])?;
                        match m {
                            Method::GET => ArmRoute::GetScopeMap(path, name),
                            Method::PUT => ArmRoute::PutScopeMap(path, name),
                            Method::PATCH => ArmRoute::PatchScopeMap(path, name),
                            Method::DELETE => ArmRoute::DeleteScopeMap(path, name),
                            _ => return Err(no_route()),
                        }
                    }
                    "tokens" => {
                        let name = TokenName::parse(segs[9])?;
                        match m {
                            Method::GET => ArmRoute::GetToken(path, name),
                            Method::PUT => ArmRoute::PutToken(path, name),
                            Method::PATCH => ArmRoute::PatchToken(path, name),
                            Method::DELETE => ArmRoute::DeleteToken(path, name),
                            _ => return Err(no_route()),
                        }
                    }
                    _ => return Err(no_route()),
                }
            }
            // Compute resources and user-assigned identities (#5).
            _ => super::resources::route(method, subscription, &segs[2..], &lower[2..])?
                .ok_or_else(no_route)?,
        };
        Ok(route)
    }

    /// The access this route needs (acr-auth.md §6.2 operation names).
    pub fn access(&self) -> Access {
        let at = |scope: ArmScope, operation: &'static str| Access::At { scope, operation };
        match self {
            ArmRoute::ListSubscriptions => Access::EachItem {
                operation: op::SUBSCRIPTION_READ,
            },
            ArmRoute::GetSubscription(sub) => {
                at(ArmScope::subscription(sub), op::SUBSCRIPTION_READ)
            }
            ArmRoute::GetResourceGroup {
                subscription,
                resource_group,
            } => at(
                ArmScope::resource_group(subscription, resource_group),
                op::RESOURCE_GROUP_READ,
            ),
            ArmRoute::ListResources { .. } | ArmRoute::ListRegistries { .. } => Access::EachItem {
                operation: op::REGISTRY_READ,
            },
            ArmRoute::CheckNameAvailability(sub) => {
                at(ArmScope::subscription(sub), op::CHECK_NAME_AVAILABILITY)
            }
            ArmRoute::GetRegistry(p) => at(p.scope(), op::REGISTRY_READ),
            ArmRoute::CreateRegistry(p) | ArmRoute::UpdateRegistry(p) => {
                at(p.scope(), op::REGISTRY_WRITE)
            }
            ArmRoute::DeleteRegistry(p) => at(p.scope(), op::REGISTRY_DELETE),
            ArmRoute::ListCredentials(p) => at(p.scope(), op::LIST_CREDENTIALS),
            ArmRoute::RegenerateCredential(p) => at(p.scope(), op::REGENERATE_CREDENTIAL),
            ArmRoute::ListAuditLogs(p, _) => at(p.scope(), op::AUDIT_LOGS_READ),
            ArmRoute::ListRoleAssignments(s, _) | ArmRoute::GetRoleAssignment(s, _) => {
                at(s.arm_scope(), op::ROLE_ASSIGNMENTS_READ)
            }
            ArmRoute::CreateRoleAssignment(s, _) => at(s.arm_scope(), op::ROLE_ASSIGNMENTS_WRITE),
            ArmRoute::DeleteRoleAssignment(s, _) => at(s.arm_scope(), op::ROLE_ASSIGNMENTS_DELETE),
            ArmRoute::ListRoleDefinitions(s, _) | ArmRoute::GetRoleDefinition(s, _) => {
                at(s.arm_scope(), op::ROLE_DEFINITIONS_READ)
            }
            ArmRoute::PutRoleDefinition(s, _) => at(s.arm_scope(), op::ROLE_DEFINITIONS_WRITE),
            ArmRoute::DeleteRoleDefinition(s, _) => at(s.arm_scope(), op::ROLE_DEFINITIONS_DELETE),
            ArmRoute::ListScopeMaps(p) | ArmRoute::GetScopeMap(p, _) => {
                at(p.scope(), op::SCOPE_MAPS_READ)
            }
            ArmRoute::PutScopeMap(p, _) | ArmRoute::PatchScopeMap(p, _) => {
                at(p.scope(), op::SCOPE_MAPS_WRITE)
            }
            ArmRoute::DeleteScopeMap(p, _) => at(p.scope(), op::SCOPE_MAPS_DELETE),
            ArmRoute::ListTokens(p) | ArmRoute::GetToken(p, _) => at(p.scope(), op::TOKENS_READ),
            ArmRoute::PutToken(p, _) | ArmRoute::PatchToken(p, _) => {
                at(p.scope(), op::TOKENS_WRITE)
            }
            ArmRoute::DeleteToken(p, _) => at(p.scope(), op::TOKENS_DELETE),
            ArmRoute::GenerateCredentials(p) => at(p.scope(), op::GENERATE_CREDENTIALS),
            // -- resources, managed identities, clusters (#5) --
            ArmRoute::ListComputeResources { rtype, .. } => Access::EachItem {
                operation: rtype.op(Verb::Read),
            },
            ArmRoute::GetComputeResource(p) => at(p.scope.clone(), p.rtype.op(Verb::Read)),
            ArmRoute::PutComputeResource(p) | ArmRoute::PatchComputeResource(p) => {
                at(p.scope.clone(), p.rtype.op(Verb::Write))
            }
            ArmRoute::DeleteComputeResource(p) => at(p.scope.clone(), p.rtype.op(Verb::Delete)),
            ArmRoute::IssueAgentCredential(p) => at(p.scope.clone(), p.rtype.op(Verb::Write)),
            ArmRoute::ListUserAssignedIdentities { .. } => Access::EachItem {
                operation: identity_op::READ,
            },
            ArmRoute::GetUserAssignedIdentity(p) => at(p.scope.clone(), identity_op::READ),
            ArmRoute::PutUserAssignedIdentity(p) => at(p.scope.clone(), identity_op::WRITE),
            ArmRoute::DeleteUserAssignedIdentity(p) => at(p.scope.clone(), identity_op::DELETE),
            ArmRoute::ListClusters { .. } => Access::EachItem {
                operation: cluster_op::READ,
            },
            ArmRoute::GetCluster(p) => at(p.scope.clone(), cluster_op::READ),
            ArmRoute::PutCluster(p) | ArmRoute::ClusterAcr(p, _) => {
                at(p.scope.clone(), cluster_op::WRITE)
            }
            ArmRoute::DeleteCluster(p) => at(p.scope.clone(), cluster_op::DELETE),
            ArmRoute::ClusterNodeConfig(p) => at(p.scope.clone(), cluster_op::NODE_CONFIG),
        }
    }
}

/// `[]`, `subscriptions/{sub}`, `…/resourceGroups/{rg}` or
/// `…/providers/Microsoft.ContainerRegistry/registries/{name}`.
fn role_scope(segs: &[&str], lower: &[&str]) -> Result<RoleScope, ArmError> {
    let sub = |i: usize| {
        SubscriptionId::parse(segs[i]).map_err(|_| ArmError::InvalidSubscriptionId(segs[i].into()))
    };
    let rg = |i: usize| {
        ResourceGroupName::parse(segs[i]).map_err(|e| ArmError::InvalidResourceName {
            kind: "resource group",
            name: segs[i].to_owned(),
            reason: e.reason,
        })
    };
    match lower {
        [] => Ok(RoleScope::Root),
        ["subscriptions", _] => Ok(RoleScope::Subscription(sub(1)?)),
        ["subscriptions", _, "resourcegroups", _] => Ok(RoleScope::ResourceGroup(sub(1)?, rg(3)?)),
        [
            "subscriptions",
            _,
            "resourcegroups",
            _,
            "providers",
            "microsoft.containerregistry",
            "registries",
            _,
        ] => Ok(RoleScope::Registry(RegistryPath {
            subscription: sub(1)?,
            resource_group: rg(3)?,
            name: RegistryName::parse(segs[7]).map_err(|e| ArmError::InvalidResourceName {
                kind: "registry",
                name: segs[7].to_owned(),
                reason: e.reason,
            })?,
        })),
        _ => Err(ArmError::InvalidScope(format!("/{}", segs.join("/")))),
    }
}

/// The part after `providers/Microsoft.Authorization`; `None`: no route.
fn authorization_route(
    method: &Method,
    scope: RoleScope,
    segs: &[&str],
    lower: &[&str],
    query: &[(String, String)],
) -> Result<Option<ArmRoute>, ArmError> {
    let guid = |kind: &'static str, s: &str| {
        uuid::Uuid::parse_str(s).map_err(|_| ArmError::InvalidResourceName {
            kind,
            name: s.to_owned(),
            reason: "expected a GUID".into(),
        })
    };
    Ok(Some(match (method.clone(), lower) {
        (Method::GET, ["roleassignments"]) => {
            ArmRoute::ListRoleAssignments(scope, assignment_filter(query)?)
        }
        (m, ["roleassignments", _]) => {
            let name = guid("role assignment", segs[1])?;
            match m {
                Method::GET => ArmRoute::GetRoleAssignment(scope, name),
                Method::PUT => ArmRoute::CreateRoleAssignment(scope, name),
                Method::DELETE => ArmRoute::DeleteRoleAssignment(scope, name),
                _ => return Ok(None),
            }
        }
        (Method::GET, ["roledefinitions"]) => {
            ArmRoute::ListRoleDefinitions(scope, definition_filter(query)?)
        }
        (m, ["roledefinitions", _]) => {
            let id = guid("role definition", segs[1])?;
            match m {
                Method::GET => ArmRoute::GetRoleDefinition(scope, id),
                Method::PUT => ArmRoute::PutRoleDefinition(scope, id),
                Method::DELETE => ArmRoute::DeleteRoleDefinition(scope, id),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    }))
}

/// One term of an OData `$filter`: `name()` / `name('value')` or
/// `field eq 'value'`.
#[derive(Debug, PartialEq, Eq)]
enum Term {
    Call(String, Option<String>),
    Eq(String, String),
}

/// Splits `term and term …`. Values are single-quoted (`''` is a quote),
/// so a role name containing " and " stays whole.
fn odata_terms(filter: &str) -> Result<Vec<Term>, String> {
    let chars: Vec<char> = filter.chars().collect();
    let mut i = 0;
    let mut terms = Vec::new();
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    let word = |i: &mut usize| {
        let mut w = String::new();
        while let Some(c) = chars.get(*i).filter(|c| c.is_ascii_alphanumeric()) {
            w.push(*c);
            *i += 1;
        }
        w
    };
    let quoted = |i: &mut usize| -> Result<String, String> {
        if chars.get(*i) != Some(&'\'') {
            return Err(format!("expected a quoted value at position {i}"));
        }
        *i += 1;
        let mut v = String::new();
        loop {
            match chars.get(*i) {
                None => return Err("unterminated quoted value".into()),
                Some('\'') if chars.get(*i + 1) == Some(&'\'') => {
                    v.push('\'');
                    *i += 2;
                }
                Some('\'') => {
                    *i += 1;
                    return Ok(v);
                }
                Some(c) => {
                    v.push(*c);
                    *i += 1;
                }
            }
        }
    };
    loop {
        skip_ws(&mut i);
        let name = word(&mut i);
        if name.is_empty() {
            return Err(format!("expected a filter term at position {i}"));
        }
        skip_ws(&mut i);
        if chars.get(i) == Some(&'(') {
            i += 1;
            skip_ws(&mut i);
            let arg = if chars.get(i) == Some(&')') {
                None
            } else {
                let v = quoted(&mut i)?;
                skip_ws(&mut i);
                Some(v)
            };
            if chars.get(i) != Some(&')') {
                return Err(format!("expected ')' at position {i}"));
            }
            i += 1;
            terms.push(Term::Call(name, arg));
        } else {
            let op = word(&mut i);
            if !op.eq_ignore_ascii_case("eq") {
                return Err(format!("only 'eq' comparisons are supported, found {op:?}"));
            }
            skip_ws(&mut i);
            terms.push(Term::Eq(name, quoted(&mut i)?));
        }
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(terms);
        }
        let and = word(&mut i);
        if !and.eq_ignore_ascii_case("and") {
            return Err(format!("expected 'and' at position {i}"));
        }
    }
}

fn assignment_filter(query: &[(String, String)]) -> Result<AssignmentFilter, ArmError> {
    let mut f = AssignmentFilter::default();
    let Some(text) = param(query, "$filter") else {
        return Ok(f);
    };
    let bad = |why: String| ArmError::InvalidRequestContent(format!("$filter {text}: {why}"));
    let oid = |v: &str| ObjectId::parse(v).map_err(|_| bad(format!("{v:?} is not an object id")));
    for term in odata_terms(text).map_err(bad)? {
        match term {
            Term::Call(n, None) if n.eq_ignore_ascii_case("atScope") => f.at_scope = true,
            Term::Call(n, Some(v)) if n.eq_ignore_ascii_case("assignedTo") => {
                f.assigned_to = Some(oid(&v)?);
            }
            Term::Eq(n, v) if n.eq_ignore_ascii_case("principalId") => {
                f.principal = Some(oid(&v)?);
            }
            other => {
                return Err(bad(format!(
                    "{other:?} is not supported; use atScope(), principalId eq '…' or assignedTo('…')"
                )));
            }
        }
    }
    Ok(f)
}

fn definition_filter(query: &[(String, String)]) -> Result<DefinitionFilter, ArmError> {
    let mut f = DefinitionFilter::default();
    let Some(text) = param(query, "$filter") else {
        return Ok(f);
    };
    let bad = |why: String| ArmError::InvalidRequestContent(format!("$filter {text}: {why}"));
    for term in odata_terms(text).map_err(bad)? {
        match term {
            Term::Eq(n, v) if n.eq_ignore_ascii_case("roleName") => f.role_name = Some(v),
            Term::Eq(n, v) if n.eq_ignore_ascii_case("type") => f.role_type = Some(v),
            other => {
                return Err(bad(format!(
                    "{other:?} is not supported; use roleName eq '…' or type eq '…'"
                )));
            }
        }
    }
    Ok(f)
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `$filter=resourceType eq 'Microsoft.ContainerRegistry/registries'` (what
/// az sends to find a registry, clients.md "azure-cli against a self-hosted
/// cloud"); other filter expressions are refused rather than ignored.
fn resource_filter(query: &[(String, String)]) -> Result<ResourceFilter, ArmError> {
    let Some(f) = param(query, "$filter") else {
        return Ok(ResourceFilter::All);
    };
    let words: Vec<&str> = f.split_whitespace().collect();
    match words.as_slice() {
        [field, eq, value]
            if field.eq_ignore_ascii_case("resourceType") && eq.eq_ignore_ascii_case("eq") =>
        {
            let v = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(|| ArmError::InvalidRequestContent(format!("$filter {f}")))?;
            Ok(ResourceFilter::ResourceType(v.to_owned()))
        }
        _ => Err(ArmError::InvalidRequestContent(format!(
            "$filter {f}: only \"resourceType eq '<type>'\" is supported"
        ))),
    }
}

fn audit_query(query: &[(String, String)]) -> Result<AuditQuery, ArmError> {
    let since = param(query, "since")
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ArmError::InvalidRequestContent(format!("since={s}: expected an RFC 3339 time"))
            })
        })
        .transpose()?;
    let top = param(query, "top")
        .or_else(|| param(query, "$top"))
        .map(|s| match s.parse::<u32>() {
            Ok(n) if (1..=MAX_AUDIT_TOP).contains(&n) => Ok(n),
            _ => Err(ArmError::InvalidRequestContent(format!(
                "top={s}: expected a number from 1 to {MAX_AUDIT_TOP}"
            ))),
        })
        .transpose()?;
    Ok(AuditQuery {
        principal: param(query, "principal").map(str::to_owned),
        action: param(query, "action").map(str::to_owned),
        repository: param(query, "repository").map(str::to_owned),
        since,
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";

    fn parse(m: Method, path: &str, query: &[(&str, &str)]) -> Result<ArmRoute, ArmError> {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ArmRoute::parse(&m, path, &q)
    }

    fn reg_path(rg: &str, name: &str) -> RegistryPath {
        RegistryPath {
            subscription: SubscriptionId::parse(SUB).expect("guid"),
            resource_group: ResourceGroupName::parse(rg).expect("rg"),
            name: RegistryName::parse(name).expect("name"),
        }
    }

    #[test]
    fn routes_and_their_operations() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries"
        );
        let table: Vec<(Method, String, ArmRoute, Option<&str>)> = vec![
            (
                Method::GET,
                "/subscriptions".into(),
                ArmRoute::ListSubscriptions,
                None,
            ),
            (
                Method::GET,
                format!("{base}/myreg1"),
                ArmRoute::GetRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_READ),
            ),
            (
                Method::PUT,
                format!("{base}/myreg1"),
                ArmRoute::CreateRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_WRITE),
            ),
            (
                Method::PATCH,
                format!("{base}/MyReg1"),
                ArmRoute::UpdateRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_WRITE),
            ),
            (
                Method::DELETE,
                format!("{base}/myreg1/"),
                ArmRoute::DeleteRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_DELETE),
            ),
            (
                Method::POST,
                format!("{base}/myreg1/listCredentials"),
                ArmRoute::ListCredentials(reg_path("rg1", "myreg1")),
                Some(op::LIST_CREDENTIALS),
            ),
            (
                Method::POST,
                format!(
                    "/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.containerregistry/registries/myreg1/regeneratecredential"
                ),
                ArmRoute::RegenerateCredential(reg_path("rg1", "myreg1")),
                Some(op::REGENERATE_CREDENTIAL),
            ),
            (
                Method::GET,
                format!("/subscriptions/{SUB}/providers/Microsoft.ContainerRegistry/registries"),
                ArmRoute::ListRegistries {
                    subscription: SubscriptionId::parse(SUB).expect("guid"),
                    resource_group: None,
                },
                None,
            ),
        ];
        for (m, path, want, operation) in table {
            let got = parse(m.clone(), &path, &[("api-version", "2023-07-01")]);
            assert_eq!(got.as_ref().ok(), Some(&want), "{m} {path}");
            match (want.access(), operation) {
                (
                    Access::At {
                        scope,
                        operation: o,
                    },
                    Some(expected),
                ) => {
                    assert_eq!(o, expected);
                    assert!(scope.as_str().starts_with("/subscriptions/"));
                }
                (Access::EachItem { .. }, None) => {}
                (a, o) => panic!("{path}: access {a:?}, expected {o:?}"),
            }
        }
    }

    #[test]
    fn role_routes() {
        let sub = SubscriptionId::parse(SUB).expect("guid");
        let name = "1c6ee0ae-5d3b-4c2b-8a6f-0c2d3f1e9a11";
        let guid = uuid::Uuid::parse_str(name).expect("guid");
        let reg = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg1"
        );
        let table: Vec<(Method, String, ArmRoute, &str)> = vec![
            (
                Method::PUT,
                format!("{reg}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                ArmRoute::CreateRoleAssignment(
                    RoleScope::Registry(reg_path("rg1", "myreg1")),
                    guid,
                ),
                op::ROLE_ASSIGNMENTS_WRITE,
            ),
            (
                Method::GET,
                format!(
                    "/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.authorization/roleassignments"
                ),
                ArmRoute::ListRoleAssignments(
                    RoleScope::ResourceGroup(sub, ResourceGroupName::parse("rg1").expect("rg")),
                    AssignmentFilter::default(),
                ),
                op::ROLE_ASSIGNMENTS_READ,
            ),
            (
                Method::DELETE,
                format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{name}"
                ),
                ArmRoute::DeleteRoleAssignment(RoleScope::Subscription(sub), guid),
                op::ROLE_ASSIGNMENTS_DELETE,
            ),
            (
                Method::GET,
                format!("/providers/Microsoft.Authorization/roleAssignments/{name}"),
                ArmRoute::GetRoleAssignment(RoleScope::Root, guid),
                op::ROLE_ASSIGNMENTS_READ,
            ),
            (
                Method::PUT,
                format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{name}"
                ),
                ArmRoute::PutRoleDefinition(RoleScope::Subscription(sub), guid),
                op::ROLE_DEFINITIONS_WRITE,
            ),
            (
                Method::DELETE,
                format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{name}"
                ),
                ArmRoute::DeleteRoleDefinition(RoleScope::Subscription(sub), guid),
                op::ROLE_DEFINITIONS_DELETE,
            ),
        ];
        for (m, path, want, operation) in table {
            let got = parse(m.clone(), &path, &[]);
            assert_eq!(got.as_ref().ok(), Some(&want), "{m} {path}");
            match want.access() {
                Access::At {
                    operation: o,
                    scope,
                } => {
                    assert_eq!(o, operation);
                    assert!(
                        path.to_ascii_lowercase().starts_with(
                            &format!(
                                "{}/providers",
                                if scope.as_str() == "/" {
                                    ""
                                } else {
                                    scope.as_str()
                                }
                            )
                            .to_ascii_lowercase()
                        ),
                        "{path} vs {scope}"
                    );
                }
                a => panic!("{path}: {a:?}"),
            }
        }
        for bad in [
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/x/providers/Microsoft.Authorization/roleAssignments"
            ),
            format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments"),
        ] {
            assert!(
                matches!(parse(Method::GET, &bad, &[]), Err(ArmError::NoRoute { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(
                Method::PUT,
                &format!(
                    "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/AcrPull"
                ),
                &[]
            ),
            Err(ArmError::InvalidResourceName {
                kind: "role assignment",
                ..
            })
        ));
    }

    #[test]
    fn role_filters() {
        let p = "4a7b5a1e-3f0c-4e8e-9d51-2b9f7c6d8e01";
        let list =
            format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments");
        let f = |q: &str| match parse(Method::GET, &list, &[("$filter", q)]) {
            Ok(ArmRoute::ListRoleAssignments(_, f)) => Ok(f),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        let oid = ObjectId::parse(p).expect("oid");
        assert_eq!(
            f("atScope()").ok(),
            Some(AssignmentFilter {
                at_scope: true,
                ..Default::default()
            })
        );
        assert_eq!(
            f(&format!("atScope() and principalId eq '{p}'")).ok(),
            Some(AssignmentFilter {
                at_scope: true,
                principal: Some(oid),
                assigned_to: None
            })
        );
        assert_eq!(
            f(&format!("assignedTo('{p}')")).ok(),
            Some(AssignmentFilter {
                assigned_to: Some(oid),
                ..Default::default()
            })
        );
        for bad in [
            "principalId eq 'nope'",
            "atScope() or x",
            "roleName eq 'x'",
            "principalId eq 'x",
        ] {
            assert!(
                matches!(f(bad), Err(ArmError::InvalidRequestContent(_))),
                "{bad}"
            );
        }
        let defs =
            format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions");
        match parse(
            Method::GET,
            &defs,
            &[(
                "$filter",
                "roleName eq 'Container Registry Contributor and Data Access Configuration Administrator' and type eq 'BuiltInRole'",
            )],
        ) {
            Ok(ArmRoute::ListRoleDefinitions(RoleScope::Subscription(_), f)) => {
                assert_eq!(
                    f.role_name.as_deref(),
                    Some(
                        "Container Registry Contributor and Data Access Configuration Administrator"
                    )
                );
                assert_eq!(f.role_type.as_deref(), Some("BuiltInRole"));
            }
            other => panic!("{other:?}"),
        }
        match parse(
            Method::GET,
            &defs,
            &[("$filter", "roleName eq 'O''Brien''s role'")],
        ) {
            Ok(ArmRoute::ListRoleDefinitions(_, f)) => {
                assert_eq!(f.role_name.as_deref(), Some("O'Brien's role"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn role_scopes_and_ancestors() {
        let reg = format!(
            "/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.containerregistry/registries/MyReg1"
        );
        let s = RoleScope::parse(&reg).expect("registry scope");
        assert_eq!(
            s.arm_scope().as_str(),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg1"
            )
        );
        let chain: Vec<String> = s.with_ancestors().iter().map(|a| a.to_string()).collect();
        assert_eq!(chain.len(), 4);
        assert_eq!(chain[0], "/");
        assert_eq!(chain[1], format!("/subscriptions/{SUB}"));
        assert_eq!(RoleScope::parse("/").ok(), Some(RoleScope::Root));
        assert!(matches!(
            RoleScope::parse("/subscriptions/x"),
            Err(ArmError::InvalidScope(_))
        ));
        assert!(matches!(
            RoleScope::parse("/foo/bar"),
            Err(ArmError::InvalidScope(_))
        ));
    }

    #[test]
    fn refusals() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries"
        );
        assert!(matches!(
            parse(Method::POST, "/subscriptions", &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(Method::GET, "/subscriptions/not-a-guid", &[]),
            Err(ArmError::InvalidSubscriptionId(_))
        ));
        assert!(matches!(
            parse(Method::GET, &format!("{base}/my-reg"), &[]),
            Err(ArmError::InvalidResourceName {
                kind: "registry",
                ..
            })
        ));
        assert!(matches!(
            parse(Method::POST, &format!("{base}/myreg1"), &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(Method::GET, &format!("{base}/myreg1/listCredentials"), &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(
                Method::GET,
                &format!("/subscriptions/{SUB}/providers/Other.Provider/registries"),
                &[]
            ),
            Err(ArmError::NoRoute { .. })
        ));
    }

    #[test]
    fn queries() {
        let r = parse(
            Method::GET,
            &format!("/subscriptions/{SUB}/resources"),
            &[(
                "$filter",
                "resourceType eq 'Microsoft.ContainerRegistry/registries'",
            )],
        );
        assert!(matches!(
            r,
            Ok(ArmRoute::ListResources { filter: ResourceFilter::ResourceType(ref t), .. }) if t == REGISTRY_TYPE
        ));
        assert!(matches!(
            parse(
                Method::GET,
                &format!("/subscriptions/{SUB}/resources"),
                &[("$filter", "name eq 'x'")]
            ),
            Err(ArmError::InvalidRequestContent(_))
        ));
        let audit = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg1/auditLogs"
        );
        let r = parse(
            Method::GET,
            &audit,
            &[
                ("principal", "admin"),
                ("since", "2026-01-01T00:00:00Z"),
                ("top", "5"),
            ],
        );
        match r {
            Ok(ArmRoute::ListAuditLogs(_, q)) => {
                assert_eq!(q.principal.as_deref(), Some("admin"));
                assert_eq!(q.top, Some(5));
                assert!(q.since.is_some());
            }
            other => panic!("{other:?}"),
        }
        for bad in [("since", "yesterday"), ("top", "0"), ("top", "100000")] {
            assert!(
                matches!(
                    parse(Method::GET, &audit, &[bad]),
                    Err(ArmError::InvalidRequestContent(_))
                ),
                "{bad:?}"
            );
        }
    }
}
