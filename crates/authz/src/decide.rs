//! The decision table behind [`crate::authorize`]: one function per kind
//! of resource, each an exhaustive `match` over the principal, so adding a
//! principal or a resource without deciding its access does not compile.

use acrylic_model::{ArmScope, RegistryId, RepositoryName, TenantId};

use crate::roles::{self, RoleDefinition};
use crate::{Action, Assignment, Grants, Missing, Principal, RegistryFacts, Resource, scope};

/// What `decide` found: the granted actions (deduplicated, in request
/// order), the reason, and what was missing for the denied ones.
pub(crate) struct Outcome {
    pub granted: Vec<Action>,
    pub reason: String,
    pub missing: Vec<Missing>,
}

/// The verdict on one requested action.
enum Verdict {
    Grant,
    /// Not granted; a role could have granted it with this permission at
    /// this scope.
    Lacks {
        permission: String,
        scope: String,
    },
    /// Not granted to this kind of principal (the reason says why).
    Refused,
    /// Not granted, and no role assignment could change that (e.g. a
    /// control-plane action asked of a repository).
    Never,
}

impl Outcome {
    fn deny(reason: impl Into<String>) -> Outcome {
        Outcome {
            granted: Vec::new(),
            reason: reason.into(),
            missing: Vec::new(),
        }
    }

    /// Asks `verdict` about each requested action and writes the reason:
    /// `base`, then every missing permission with its scope.
    fn each(
        requested: &[Action],
        base: impl Into<String>,
        verdict: impl Fn(&Action) -> Verdict,
    ) -> Outcome {
        let mut out = Outcome::deny(base);
        let mut never: Vec<String> = Vec::new();
        for a in requested {
            match verdict(a) {
                Verdict::Grant => {
                    if !out.granted.contains(a) {
                        out.granted.push(a.clone());
                    }
                }
                Verdict::Lacks { permission, scope } => {
                    if !out.missing.iter().any(|m| &m.action == a) {
                        out.missing.push(Missing {
                            action: a.clone(),
                            permission,
                            scope,
                        });
                    }
                }
                Verdict::Refused => {}
                Verdict::Never => {
                    let s = a.to_string();
                    if !never.contains(&s) {
                        never.push(s);
                    }
                }
            }
        }
        if !out.missing.is_empty() {
            let list: Vec<String> = out.missing.iter().map(ToString::to_string).collect();
            out.reason = format!(
                "{}; no role assignment grants it: {}",
                out.reason,
                list.join("; ")
            );
        }
        if !never.is_empty() {
            out.reason = format!(
                "{}; not an action on this resource: {}",
                out.reason,
                never.join(", ")
            );
        }
        out
    }
}

pub(crate) fn decide(
    principal: &Principal,
    resource: Resource<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    match resource {
        Resource::Repository { registry, name } => data_plane(
            principal,
            registry,
            Data::Repository(name),
            requested,
            grants,
        ),
        Resource::AllRepositories { registry } => {
            data_plane(principal, registry, Data::All, requested, grants)
        }
        Resource::Catalog { registry } => {
            data_plane(principal, registry, Data::Catalog, requested, grants)
        }
        Resource::Arm { scope, tenant } => {
            control_plane(principal, scope, tenant, requested, grants)
        }
        Resource::Directory { tenant } => directory(principal, tenant, requested, grants),
    }
}

/// The assignments that apply to `principal`: naming it or one of its
/// groups, at a scope their role is assignable at.
fn applicable<'g>(
    principal: &Principal,
    grants: &'g Grants,
) -> impl Iterator<Item = &'g Assignment> + 'g {
    let me = principal.object_id();
    grants.assignments.iter().filter(move |a| {
        (Some(a.principal) == me || grants.groups.contains(&a.principal))
            && a.role.is_assignable_at(&a.scope)
    })
}

// ---- data plane ------------------------------------------------------------

/// Which data-plane resource.
#[derive(Clone, Copy)]
enum Data<'a> {
    Repository(&'a RepositoryName),
    All,
    Catalog,
}

impl Data<'_> {
    /// Is `a` an action on this resource at all?
    fn has(self, a: &Action) -> bool {
        match (self, a) {
            (Data::Repository(_) | Data::All, Action::Repository(_)) => true,
            (Data::Catalog, Action::CatalogList) => true,
            (
                Data::Repository(_) | Data::All | Data::Catalog,
                Action::Repository(_)
                | Action::CatalogList
                | Action::Arm(_)
                | Action::Directory(_)
                | Action::System,
            ) => false,
        }
    }
}

fn data_plane(
    principal: &Principal,
    reg: &RegistryFacts,
    target: Data<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    let on_target = |base: String, ok: &dyn Fn(&Action) -> bool| {
        Outcome::each(requested, base, |a| {
            if !target.has(a) {
                Verdict::Never
            } else if ok(a) {
                Verdict::Grant
            } else {
                Verdict::Refused
            }
        })
    };
    match principal {
        Principal::Anonymous => {
            if !reg.anonymous_pull_enabled {
                return Outcome::deny("anonymous access is disabled on this registry");
            }
            // Anonymous pull never grants push, delete or metadata; it
            // covers every repository, ABAC or not (acr-auth.md §3.4).
            on_target("anonymous pull is enabled on this registry".into(), &|a| {
                matches!(
                    a,
                    Action::Repository(crate::RepoAction::Pull) | Action::CatalogList
                )
            })
        }
        Principal::Admin { registry } => {
            if let Some(refusal) = same_registry(registry, reg, "the admin user") {
                return refusal;
            }
            if !reg.admin_enabled {
                return Outcome::deny("the admin user is disabled");
            }
            on_target("admin user: full data-plane access".into(), &|_| true)
        }
        Principal::RepositoryToken { registry, .. } => {
            if let Some(refusal) = same_registry(registry, reg, "a repository token") {
                return refusal;
            }
            let rules = &grants.scope_map;
            match target {
                Data::Repository(name) => on_target("repository token scope map".into(), &|a| {
                    matches!(a, Action::Repository(ra) if rules.iter().any(|r| {
                        &r.action == ra && scope::repository_pattern_matches(&r.repository, name.as_str())
                    }))
                }),
                Data::All => on_target(
                    "repository token scope map (rules for *)".into(),
                    &|a| matches!(a, Action::Repository(ra) if rules.iter().any(|r| &r.action == ra && r.repository == "*")),
                ),
                Data::Catalog => Outcome::deny("repository-scoped tokens cannot list the catalog"),
            }
        }
        Principal::User { tenant, .. }
        | Principal::ServicePrincipal { tenant, .. }
        | Principal::ManagedIdentity { tenant, .. } => {
            // Directory principals may only act inside their own tenant.
            if *tenant != reg.tenant {
                return Outcome::deny(format!(
                    "principal's tenant {tenant} is not the registry's tenant {}",
                    reg.tenant
                ));
            }
            if reg.abac {
                abac(principal, reg, target, requested, grants)
            } else {
                legacy(principal, reg, target, requested, grants)
            }
        }
    }
}

fn same_registry(theirs: &RegistryId, reg: &RegistryFacts, who: &str) -> Option<Outcome> {
    (theirs != &reg.id).then(|| Outcome::deny(format!("{who} of another registry")))
}

/// "RBAC Registry Permissions": the registry's `pull/read`, `push/write`
/// and `artifacts/delete` operations, from assignments at the registry or
/// above. An assignment carrying a condition grants nothing here:
/// conditions are an ABAC-mode feature, and honouring the assignment
/// without its condition would grant more than it says.
fn legacy(
    principal: &Principal,
    reg: &RegistryFacts,
    target: Data<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    let base = "role assignments (RBAC registry permissions)";
    Outcome::each(requested, base, |a| {
        let Some(permission) = target
            .has(a)
            .then(|| roles::legacy_data_permission(a))
            .flatten()
        else {
            return Verdict::Never;
        };
        let granted = applicable(principal, grants).any(|asg| {
            asg.scope.contains(&reg.scope)
                && asg.condition.is_none()
                && asg.role.allows_action(permission)
        });
        if granted {
            Verdict::Grant
        } else {
            Verdict::Lacks {
                permission: permission.to_owned(),
                scope: reg.scope.to_string(),
            }
        }
    })
}

/// "RBAC Registry + ABAC Repository Permissions": only data actions grant,
/// each assignment filtered by its condition for the requested repository
/// (acr-auth.md §6.2, §6.6). The catalog is never filtered by conditions;
/// `repository:*` is silently ignored (§3.5).
fn abac(
    principal: &Principal,
    reg: &RegistryFacts,
    target: Data<'_>,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    let name = match target {
        Data::All => {
            return Outcome::each(
                requested,
                "repository:* is ignored on registries with ABAC repository permissions",
                |_| Verdict::Never,
            );
        }
        Data::Repository(name) => Some(name),
        Data::Catalog => None,
    };
    let scope = match name {
        Some(n) => format!("{} (repository {n})", reg.scope),
        None => reg.scope.to_string(),
    };
    let base = "role assignments (ABAC repository permissions)";
    Outcome::each(requested, base, |a| {
        let Some(data_action) = target.has(a).then(|| roles::abac_data_action(a)).flatten() else {
            return Verdict::Never;
        };
        let granted = applicable(principal, grants).any(|asg| {
            asg.scope.contains(&reg.scope)
                && asg.role.allows_data_action(data_action)
                && match (name, &asg.condition) {
                    (None, _) | (Some(_), None) => true,
                    (Some(n), Some(c)) => c.allows(data_action, n.as_str()),
                }
        });
        if granted {
            Verdict::Grant
        } else {
            Verdict::Lacks {
                permission: data_action.to_owned(),
                scope: scope.clone(),
            }
        }
    })
}

// ---- control plane and directory --------------------------------------------

fn control_plane(
    principal: &Principal,
    scope: &ArmScope,
    tenant: &TenantId,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    match principal {
        Principal::Anonymous => Outcome::deny("anonymous callers cannot use the control plane"),
        Principal::Admin { .. } => Outcome::deny("the admin user has no control-plane rights"),
        Principal::RepositoryToken { .. } => {
            Outcome::deny("repository-scoped tokens cannot use the control plane")
        }
        Principal::User { tenant: t, .. }
        | Principal::ServicePrincipal { tenant: t, .. }
        | Principal::ManagedIdentity { tenant: t, .. } => {
            if t != tenant {
                return Outcome::deny(format!(
                    "scope {scope} belongs to tenant {tenant}, not the caller's tenant {t}"
                ));
            }
            // Conditions restrict data actions only; control-plane
            // operations of a conditional assignment are granted as usual.
            Outcome::each(requested, "role assignments", |a| match a {
                Action::Arm(op) => {
                    if role_grants(principal, grants, scope, RoleDefinition::allows_action, op) {
                        Verdict::Grant
                    } else {
                        Verdict::Lacks {
                            permission: op.clone(),
                            scope: scope.to_string(),
                        }
                    }
                }
                Action::Repository(_)
                | Action::CatalogList
                | Action::Directory(_)
                | Action::System => Verdict::Never,
            })
        }
    }
}

fn directory(
    principal: &Principal,
    tenant: &TenantId,
    requested: &[Action],
    grants: &Grants,
) -> Outcome {
    match principal {
        Principal::Anonymous | Principal::Admin { .. } | Principal::RepositoryToken { .. } => {
            Outcome::deny("only directory principals can manage the directory")
        }
        Principal::User { tenant: t, .. }
        | Principal::ServicePrincipal { tenant: t, .. }
        | Principal::ManagedIdentity { tenant: t, .. } => {
            if t != tenant {
                return Outcome::deny(format!("tenant {tenant} is not the caller's tenant {t}"));
            }
            let root = ArmScope::root();
            Outcome::each(requested, "directory role assignments", |a| match a {
                Action::Directory(op) => {
                    // Only assignments at `/` itself: a role on a
                    // subscription says nothing about the directory.
                    let granted = applicable(principal, grants)
                        .any(|asg| asg.scope == root && asg.role.allows_action(op));
                    if granted {
                        Verdict::Grant
                    } else {
                        Verdict::Lacks {
                            permission: op.clone(),
                            scope: root.to_string(),
                        }
                    }
                }
                Action::Repository(_) | Action::CatalogList | Action::Arm(_) | Action::System => {
                    Verdict::Never
                }
            })
        }
    }
}

/// Does an applicable assignment at `scope` or above grant `op` through
/// `allows`?
fn role_grants(
    principal: &Principal,
    grants: &Grants,
    scope: &ArmScope,
    allows: fn(&RoleDefinition, &str) -> bool,
    op: &str,
) -> bool {
    applicable(principal, grants).any(|asg| asg.scope.contains(scope) && allows(&asg.role, op))
}
