//! The facts `authorize` decides on, loaded from the store: a registry's
//! settings and a principal's role assignments. The token service, the
//! gate and the control plane all load them here, so they decide on the
//! same facts.

use acrylic_authz::{Assignment, Grants, Principal, RegistryFacts, roles};
use acrylic_store::{Registry, RoleAssignmentMode, StoreError};

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

/// Everything `authorize` knows about `principal` besides its identity:
/// the role assignments naming its object id, with built-in definitions
/// resolved. Group memberships and custom roles arrive with #3, scope maps
/// of repository tokens with #4; until then they contribute nothing (deny
/// by default).
pub async fn grants_for(
    state: &AppState,
    principal: &Principal,
    _registry: Option<&Registry>,
) -> Result<Grants, StoreError> {
    let Some(oid) = principal.object_id() else {
        // Admin, anonymous and repository tokens are not subject to RBAC.
        return Ok(Grants::default());
    };
    let assignments = state
        .meta
        .list_role_assignments_for(&[oid])
        .await?
        .into_iter()
        .filter_map(|a| {
            roles::find_builtin(&a.role_definition_id).map(|role| Assignment {
                scope: a.scope,
                role,
                condition: a.condition,
            })
        })
        .collect();
    Ok(Grants {
        assignments,
        scope_map: Vec::new(),
    })
}
