//! Authorization: who may do what, decided in one place.
//!
//! [`authorize`] is the only decision function. The token service, the data
//! plane, the control plane and the audit log all call it; no handler
//! decides access itself. It is pure — no I/O, no clock: callers load the
//! facts (registry settings, role assignments with their definitions) and
//! pass them in. It denies by default and says why.
//!
//! State-changing domain operations take a [`Permit`], which only this crate
//! can make, so forgetting to authorize does not compile. Background jobs use
//! the one named bypass, [`Permit::for_system_job`].

mod action;
mod principal;
pub mod roles;
mod scope;

pub use action::{Action, RepoAction};
pub use principal::Principal;
pub use roles::RoleDefinition;
pub use scope::{Scope, ScopeError};

use acrylic_model::{ArmScope, RegistryId, RepositoryName, TenantId};

/// Registry settings that access depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFacts {
    pub id: RegistryId,
    pub tenant: TenantId,
    /// The registry's ARM resource id.
    pub scope: ArmScope,
    pub admin_enabled: bool,
    pub anonymous_pull_enabled: bool,
    /// `roleAssignmentMode: AbacRepositoryPermissions`.
    pub abac: bool,
}

/// What is being accessed.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// `repository:<name>:…` on a registry's data plane.
    Repository {
        registry: &'a RegistryFacts,
        name: &'a RepositoryName,
    },
    /// `registry:catalog:*`.
    Catalog { registry: &'a RegistryFacts },
    /// A control-plane (ARM) scope: subscription, resource group, resource.
    Arm { scope: &'a ArmScope },
    /// A directory tenant (users, groups, applications): decided by role
    /// assignments at scope `/` whose roles allow `microsoft.directory/…`
    /// operations (Entra's directory roles).
    Directory { tenant: &'a TenantId },
}

/// A role assignment with its definition resolved.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub scope: ArmScope,
    pub role: RoleDefinition,
    /// ABAC condition (conditionVersion 2.0); honoured from issue #3 on.
    pub condition: Option<String>,
}

/// A repository-scoped token's scope-map rule: `repositories/<pattern>/<action>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeMapRule {
    /// A repository name, `*`, or a prefix ending in `/*`.
    pub repository: String,
    pub action: RepoAction,
}

/// Everything `authorize` knows about the caller besides its identity.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Role assignments of the principal (and of its groups).
    pub assignments: Vec<Assignment>,
    /// For a repository token: its scope map's rules.
    pub scope_map: Vec<ScopeMapRule>,
}

/// The outcome: the granted subset of what was asked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    principal: String,
    resource: String,
    pub granted: Vec<Action>,
    pub denied: Vec<Action>,
    /// Human-readable, for logs, audit and error details.
    pub reason: String,
}

impl Decision {
    pub fn allows(&self, action: &Action) -> bool {
        self.granted.contains(action)
    }

    pub fn is_full(&self) -> bool {
        self.denied.is_empty()
    }

    /// A permit for one granted action.
    pub fn permit(&self, action: &Action) -> Option<Permit> {
        self.allows(action).then(|| Permit {
            principal: self.principal.clone(),
            resource: self.resource.clone(),
            action: action.clone(),
        })
    }
}

/// Proof that `authorize` granted `action` on `resource` to `principal`.
/// Only this crate constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    principal: String,
    resource: String,
    action: Action,
}

impl Permit {
    /// The deliberate bypass for background jobs (GC, janitor, bootstrap).
    /// Named so it stands out in review.
    pub fn for_system_job(job: &str) -> Permit {
        Permit {
            principal: format!("system:{job}"),
            resource: "*".into(),
            action: Action::System,
        }
    }
    pub fn principal(&self) -> &str {
        &self.principal
    }
    pub fn resource(&self) -> &str {
        &self.resource
    }
    pub fn action(&self) -> &Action {
        &self.action
    }
}

/// The one decision function. Denies by default.
pub fn authorize(
    principal: &Principal,
    resource: Resource<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Decision {
    let (granted, reason) = decide(principal, resource, requested, grants);
    let denied = requested
        .iter()
        .filter(|a| !granted.contains(a))
        .cloned()
        .collect();
    Decision {
        principal: principal.label(),
        resource: describe(resource),
        granted,
        denied,
        reason,
    }
}

fn describe(resource: Resource<'_>) -> String {
    match resource {
        Resource::Repository { registry, name } => {
            format!("registry {} repository {name}", registry.id)
        }
        Resource::Catalog { registry } => format!("registry {} catalog", registry.id),
        Resource::Arm { scope } => scope.to_string(),
        Resource::Directory { tenant } => format!("directory {tenant}"),
    }
}

fn decide(
    principal: &Principal,
    resource: Resource<'_>,
    requested: &[Action],
    grants: &Grants,
) -> (Vec<Action>, String) {
    let registry = match resource {
        Resource::Repository { registry, .. } | Resource::Catalog { registry } => Some(registry),
        Resource::Arm { .. } | Resource::Directory { .. } => None,
    };
    let keep = |ok: &dyn Fn(&Action) -> bool| -> Vec<Action> {
        let mut out: Vec<Action> = Vec::new();
        for a in requested {
            if ok(a) && !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    };

    // Directory principals may only act inside their own tenant.
    if let (Some(t), Some(reg)) = (principal.tenant(), registry)
        && t != reg.tenant
    {
        return (
            vec![],
            format!(
                "principal's tenant {t} is not the registry's tenant {}",
                reg.tenant
            ),
        );
    }

    if let Resource::Directory { tenant } = resource {
        return match principal.tenant() {
            None => (
                vec![],
                "only directory principals can manage the directory".into(),
            ),
            Some(t) if t != *tenant => (
                vec![],
                format!("tenant {tenant} is not the caller's tenant {t}"),
            ),
            Some(_) => {
                let root = ArmScope::root();
                let g = keep(&|a| match a {
                    Action::Directory(op) => grants
                        .assignments
                        .iter()
                        .any(|asg| asg.scope == root && asg.role.allows_action(op)),
                    _ => false,
                });
                (g, "directory role assignments".into())
            }
        };
    }

    match (principal, resource) {
        (Principal::Anonymous, Resource::Arm { .. }) => (
            vec![],
            "anonymous callers cannot use the control plane".into(),
        ),
        (Principal::Anonymous, _) => {
            let reg = registry.expect("data-plane resource");
            if !reg.anonymous_pull_enabled {
                return (
                    vec![],
                    "anonymous access is disabled on this registry".into(),
                );
            }
            // Anonymous pull never grants push, delete or metadata writes.
            let g = keep(&|a| {
                matches!(
                    a,
                    Action::Repository(RepoAction::Pull) | Action::CatalogList
                )
            });
            (g, "anonymous pull is enabled on this registry".into())
        }
        (Principal::Admin { .. }, Resource::Arm { .. }) => {
            (vec![], "the admin user has no control-plane rights".into())
        }
        (Principal::Admin { registry: rid }, _) => {
            let reg = registry.expect("data-plane resource");
            if rid != &reg.id {
                return (vec![], "the admin user of another registry".into());
            }
            if !reg.admin_enabled {
                return (vec![], "the admin user is disabled".into());
            }
            let g = keep(&|a| matches!(a, Action::Repository(_) | Action::CatalogList));
            (g, "admin user: full data-plane access".into())
        }
        (
            Principal::RepositoryToken { registry: rid, .. },
            Resource::Repository {
                registry: reg,
                name,
            },
        ) => {
            if rid != &reg.id {
                return (vec![], "a token of another registry".into());
            }
            let g = keep(&|a| match a {
                Action::Repository(ra) => grants.scope_map.iter().any(|r| {
                    &r.action == ra
                        && scope::repository_pattern_matches(&r.repository, name.as_str())
                }),
                _ => false,
            });
            (g, "repository token scope map".into())
        }
        (Principal::RepositoryToken { .. }, Resource::Catalog { .. }) => (
            vec![],
            "repository-scoped tokens cannot list the catalog".into(),
        ),
        (Principal::RepositoryToken { .. }, Resource::Arm { .. } | Resource::Directory { .. }) => (
            vec![],
            "repository-scoped tokens cannot use the control plane".into(),
        ),
        (
            Principal::User { .. }
            | Principal::ServicePrincipal { .. }
            | Principal::ManagedIdentity { .. },
            Resource::Arm { scope },
        ) => {
            let g = keep(&|a| match a {
                Action::Arm(op) => grants
                    .assignments
                    .iter()
                    .any(|asg| asg.scope.contains(scope) && asg.role.allows_action(op)),
                _ => false,
            });
            (g, "role assignments".into())
        }
        (
            Principal::User { .. }
            | Principal::ServicePrincipal { .. }
            | Principal::ManagedIdentity { .. },
            _,
        ) => {
            let reg = registry.expect("data-plane resource");
            if reg.abac {
                // ABAC repository permissions arrive with issue #3; until then an
                // ABAC registry grants directory principals nothing (deny by default).
                return (
                    vec![],
                    "ABAC repository permissions are not supported yet".into(),
                );
            }
            let g = keep(&|a| {
                roles::legacy_data_permission(a).is_some_and(|op| {
                    grants
                        .assignments
                        .iter()
                        .any(|asg| asg.scope.contains(&reg.scope) && asg.role.allows_action(op))
                })
            });
            (g, "role assignments (RBAC registry permissions)".into())
        }
    }
}

#[cfg(test)]
mod tests;
