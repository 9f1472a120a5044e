//! Authorization: who may do what, decided in one place.
//!
//! [`authorize`] is the only decision function. The token service, the data
//! plane, the control plane and the audit log all call it; no handler
//! decides access itself. It is pure — no I/O, no clock: callers load the
//! facts (registry settings, the caller's role assignments with their
//! definitions and conditions, its groups, a token's scope map) and pass
//! them in. It denies by default and says why: every denied action that a
//! role could have granted is reported with the permission it needed and
//! the scope it was needed at ([`Missing`]).
//!
//! The model (acr-auth.md §6):
//! - control plane ([`Resource::Arm`]): a role assignment at the scope or
//!   above it whose role's `actions` (minus `notActions`) match the
//!   operation;
//! - data plane in "RBAC Registry Permissions" mode: the registry's
//!   `pull/read`, `push/write`, `artifacts/delete` operations carried by
//!   `actions` (AcrPull, AcrPush, AcrDelete, Owner, Contributor, Reader);
//! - data plane in "RBAC Registry + ABAC Repository Permissions" mode
//!   ([`RegistryFacts::abac`]): only `dataActions` count (the Container
//!   Registry Repository roles), filtered per repository by the
//!   assignment's [`Condition`]; the catalog is never filtered;
//! - the admin user, anonymous pull and repository-scoped tokens are not
//!   subject to RBAC;
//! - directory ([`Resource::Directory`]): assignments at `/` whose roles
//!   allow `microsoft.directory/…` operations.
//!
//! An assignment applies when it names the caller or one of the groups in
//! [`Grants::groups`] (the caller's transitive memberships, loaded by the
//! server), and only at a scope its role is assignable at.
//!
//! State-changing domain operations take a [`Permit`], which only this crate
//! can make, so forgetting to authorize does not compile; a permit names the
//! resource it was granted for ([`Permit::covers_repository`]). Background
//! jobs use the one named bypass, [`Permit::for_system_job`].

mod action;
pub mod condition;
mod decide;
mod principal;
pub mod roles;
mod scope;

pub use action::{Action, RepoAction};
pub use condition::{CONDITION_VERSION, Condition, ConditionError};
pub use principal::Principal;
pub use roles::{RoleDefinition, RoleType};
pub use scope::{Scope, ScopeError};

use acrylic_model::{ArmScope, ObjectId, RegistryId, RepositoryName, TenantId};

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
    /// `repository:*:…`: every repository of a registry (acr-cli). Granted
    /// only where the decision does not depend on the repository's name.
    AllRepositories { registry: &'a RegistryFacts },
    /// `registry:catalog:*`.
    Catalog { registry: &'a RegistryFacts },
    /// A control-plane (ARM) scope: subscription, resource group, resource,
    /// or `/`; `tenant` owns it (its subscription's tenant; for `/`, the
    /// tenant whose root is meant). Only that tenant's principals act on it.
    Arm {
        scope: &'a ArmScope,
        tenant: &'a TenantId,
    },
    /// A directory tenant (users, groups, applications): decided by role
    /// assignments at scope `/` whose roles allow `microsoft.directory/…`
    /// operations (Entra's directory roles).
    Directory { tenant: &'a TenantId },
}

/// A role assignment with its definition resolved and its condition parsed.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// The user, group or service principal the role is assigned to.
    pub principal: ObjectId,
    pub scope: ArmScope,
    pub role: RoleDefinition,
    /// ABAC condition (conditionVersion 2.0).
    pub condition: Option<Condition>,
}

impl Assignment {
    /// An assignment whose stored condition text is parsed here; a text
    /// that does not parse is an error, and the caller drops the
    /// assignment (a malformed condition never grants).
    pub fn new(
        principal: ObjectId,
        scope: ArmScope,
        role: RoleDefinition,
        condition: Option<&str>,
    ) -> Result<Assignment, ConditionError> {
        let condition = condition
            .map(|text| Condition::parse(text, Some(CONDITION_VERSION)))
            .transpose()?;
        Ok(Assignment {
            principal,
            scope,
            role,
            condition,
        })
    }
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
    /// Role assignments naming the principal or one of its groups.
    pub assignments: Vec<Assignment>,
    /// The groups the principal belongs to, directly or through other
    /// groups. Assignments to these apply to the principal.
    pub groups: Vec<ObjectId>,
    /// For a repository token: its scope map's rules.
    pub scope_map: Vec<ScopeMapRule>,
}

/// One requested action that a role assignment could have granted but none
/// did: the permission it needed and the scope it was needed at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub action: Action,
    /// E.g. `Microsoft.ContainerRegistry/registries/push/write`.
    pub permission: String,
    /// E.g. the registry's ARM id, with the repository in ABAC mode.
    pub scope: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} needs {} at scope {}",
            self.action, self.permission, self.scope
        )
    }
}

/// The outcome: the granted subset of what was asked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    principal: String,
    resource: String,
    target: Target,
    pub granted: Vec<Action>,
    pub denied: Vec<Action>,
    /// Denied actions a role could have granted, with what was missing.
    pub missing: Vec<Missing>,
    /// Human-readable, for logs, audit and error details; names each
    /// missing permission and its scope.
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
            target: self.target.clone(),
            action: action.clone(),
        })
    }

    /// Why `action` was denied, for a `DENIED` message: the missing
    /// permission and its scope when a role could have granted it, else
    /// the decision's reason. `None` when it was granted.
    pub fn denial(&self, action: &Action) -> Option<String> {
        if self.allows(action) {
            return None;
        }
        Some(match self.missing.iter().find(|m| &m.action == action) {
            Some(m) => format!("{} lacks permission: {m}", self.principal),
            None => self.reason.clone(),
        })
    }
}

/// What a permit was granted for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Repository {
        registry: RegistryId,
        name: RepositoryName,
    },
    AllRepositories {
        registry: RegistryId,
    },
    Catalog {
        registry: RegistryId,
    },
    Arm(ArmScope),
    Directory(TenantId),
    /// [`Permit::for_system_job`].
    Everything,
}

impl Target {
    fn of(resource: Resource<'_>) -> Target {
        match resource {
            Resource::Repository { registry, name } => Target::Repository {
                registry: registry.id.clone(),
                name: name.clone(),
            },
            Resource::AllRepositories { registry } => Target::AllRepositories {
                registry: registry.id.clone(),
            },
            Resource::Catalog { registry } => Target::Catalog {
                registry: registry.id.clone(),
            },
            Resource::Arm { scope, .. } => Target::Arm(scope.clone()),
            Resource::Directory { tenant } => Target::Directory(*tenant),
        }
    }
}

/// Proof that `authorize` granted `action` on a resource to a principal.
/// Only this crate constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    principal: String,
    resource: String,
    target: Target,
    action: Action,
}

impl Permit {
    /// The deliberate bypass for background jobs (GC, janitor, bootstrap).
    /// Named so it stands out in review.
    pub fn for_system_job(job: &str) -> Permit {
        Permit {
            principal: format!("system:{job}"),
            resource: "*".into(),
            target: Target::Everything,
            action: Action::System,
        }
    }
    pub fn principal(&self) -> &str {
        &self.principal
    }
    /// The resource, as the audit log names it.
    pub fn resource(&self) -> &str {
        &self.resource
    }
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// Was this permit granted for repository `name` of registry
    /// `registry` (or for all its repositories, or is it a system job's)?
    /// A permit for one repository never covers another.
    pub fn covers_repository(&self, registry: &RegistryId, name: &RepositoryName) -> bool {
        match &self.target {
            Target::Repository {
                registry: r,
                name: n,
            } => r == registry && n == name,
            Target::AllRepositories { registry: r } => r == registry,
            Target::Everything => true,
            Target::Catalog { .. } | Target::Arm(_) | Target::Directory(_) => false,
        }
    }

    /// Was this permit granted for the catalog of `registry`?
    pub fn covers_catalog(&self, registry: &RegistryId) -> bool {
        match &self.target {
            Target::Catalog { registry: r } => r == registry,
            Target::Everything => true,
            Target::Repository { .. }
            | Target::AllRepositories { .. }
            | Target::Arm(_)
            | Target::Directory(_) => false,
        }
    }

    /// Was this permit granted at exactly this control-plane scope?
    pub fn covers_arm_scope(&self, scope: &ArmScope) -> bool {
        match &self.target {
            Target::Arm(s) => s == scope,
            Target::Everything => true,
            Target::Repository { .. }
            | Target::AllRepositories { .. }
            | Target::Catalog { .. }
            | Target::Directory(_) => false,
        }
    }

    /// Was this permit granted for the directory of `tenant`?
    pub fn covers_directory(&self, tenant: &TenantId) -> bool {
        match &self.target {
            Target::Directory(t) => t == tenant,
            Target::Everything => true,
            Target::Repository { .. }
            | Target::AllRepositories { .. }
            | Target::Catalog { .. }
            | Target::Arm(_) => false,
        }
    }
}

/// The one decision function. Denies by default.
pub fn authorize(
    principal: &Principal,
    resource: Resource<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Decision {
    let outcome = decide::decide(principal, resource, requested, grants);
    let mut denied: Vec<Action> = Vec::new();
    for a in requested {
        if !outcome.granted.contains(a) && !denied.contains(a) {
            denied.push(a.clone());
        }
    }
    Decision {
        principal: principal.label(),
        resource: describe(resource),
        target: Target::of(resource),
        granted: outcome.granted,
        denied,
        reason: outcome.reason,
        missing: outcome.missing,
    }
}

fn describe(resource: Resource<'_>) -> String {
    match resource {
        Resource::Repository { registry, name } => {
            format!("registry {} repository {name}", registry.id)
        }
        Resource::AllRepositories { registry } => {
            format!("registry {} every repository", registry.id)
        }
        Resource::Catalog { registry } => format!("registry {} catalog", registry.id),
        Resource::Arm { scope, .. } => scope.to_string(),
        Resource::Directory { tenant } => format!("directory {tenant}"),
    }
}

#[cfg(test)]
mod tests;
