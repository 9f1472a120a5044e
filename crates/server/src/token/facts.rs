//! The facts `authorize` decides on, loaded from the store: a registry's
//! settings and a principal's role assignments. The token service, the
//! gate and the control plane all load them here, so they decide on the
//! same facts.

use acrylic_authz::{
    Assignment, Grants, Principal, RegistryFacts, RoleDefinition, RoleType, roles,
};
use acrylic_model::ObjectId;
use acrylic_store::{Registry, RoleAssignmentMode, RoleDefinitionRecord, StoreError};

use crate::AppState;

/// A registry's settings as `authorize` sees them.
pub fn registry_facts(registry: &Registry) -> RegistryFacts {
    RegistryFacts {
        id: registry.id.clone(),
        tenant: registry.tenant_id,
        scope: registry.arm_scope(),
        admin_enabled: registry.admin_enabled,
        anonymous_pull_enabled: registry.anonymous_pull_enabled,
        abac: registry.role_assignment_mode == RoleAssignmentMode::AbacRepositoryPermissions,
    }
}

/// How deep group nesting is followed; deeper chains are cut (and cycles
/// stop at the first repeat).
const MAX_GROUP_DEPTH: usize = 32;

/// Everything `authorize` knows about `principal` besides its identity:
/// its groups, directly or through other groups, and the role assignments
/// naming it or one of them, with their role definitions resolved
/// (built-in, or the tenant's custom roles) and conditions parsed. An
/// assignment whose role is unknown or whose condition does not parse
/// grants nothing (deny by default). A repository token gets its current
/// scope map's rules instead (none when it is gone or disabled).
pub async fn grants_for(
    state: &AppState,
    principal: &Principal,
    _registry: Option<&Registry>,
) -> Result<Grants, StoreError> {
    let Some(oid) = principal.object_id() else {
        // A repository token is granted by its scope map, loaded now on
        // every decision, so a changed map or a disabled token applies at
        // once (#4, acr-auth.md §6.4).
        if let Principal::RepositoryToken { registry, name } = principal {
            return Ok(Grants {
                scope_map: crate::arm::tokens::current_rules(state, registry, name).await?,
                ..Grants::default()
            });
        }
        // Admin and anonymous are not subject to RBAC.
        return Ok(Grants::default());
    };
    let groups = groups_of(state, &oid).await?;
    let mut names = Vec::with_capacity(groups.len() + 1);
    names.push(oid);
    names.extend(groups.iter().copied());
    let tenant = principal.tenant();
    let mut customs: Vec<RoleDefinition> = Vec::new();
    let mut assignments = Vec::new();
    for a in state.meta.list_role_assignments_for(&names).await? {
        let role = match roles::find_builtin(&a.role_definition_id) {
            Some(r) => r,
            None => match customs.iter().find(|r| r.id == a.role_definition_id) {
                Some(r) => r.clone(),
                None => match state
                    .meta
                    .find_role_definition(&a.role_definition_id)
                    .await?
                {
                    // A custom role of another tenant never applies.
                    Some(r) if Some(r.tenant_id) == tenant => {
                        let r = custom_role(&r);
                        customs.push(r.clone());
                        r
                    }
                    Some(_) | None => {
                        tracing::warn!(assignment = %a.id, role = %a.role_definition_id, "ignoring a role assignment whose role definition is gone");
                        continue;
                    }
                },
            },
        };
        match Assignment::new(a.principal_id, a.scope, role, a.condition.as_deref()) {
            Ok(x) => assignments.push(x),
            Err(e) => {
                tracing::warn!(assignment = %a.id, error = %e, "ignoring a role assignment whose condition does not parse");
            }
        }
    }
    Ok(Grants {
        assignments,
        groups,
        scope_map: Vec::new(),
    })
}

/// The groups `member` belongs to, directly or through nested groups
/// (cycle-safe, at most `MAX_GROUP_DEPTH` levels).
pub async fn groups_of(state: &AppState, member: &ObjectId) -> Result<Vec<ObjectId>, StoreError> {
    let mut found: Vec<ObjectId> = Vec::new();
    let mut frontier = vec![*member];
    for _ in 0..MAX_GROUP_DEPTH {
        let mut next = Vec::new();
        for m in &frontier {
            for g in state.meta.list_groups_of(m).await? {
                if g != *member && !found.contains(&g) {
                    found.push(g);
                    next.push(g);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(found)
}

/// A stored custom role as `authorize` sees it.
pub fn custom_role(r: &RoleDefinitionRecord) -> RoleDefinition {
    RoleDefinition {
        id: r.id,
        name: r.name.clone(),
        description: r.description.clone(),
        actions: r.actions.clone(),
        not_actions: r.not_actions.clone(),
        data_actions: r.data_actions.clone(),
        not_data_actions: r.not_data_actions.clone(),
        assignable_scopes: r.assignable_scopes.clone(),
        role_type: RoleType::Custom,
    }
}
