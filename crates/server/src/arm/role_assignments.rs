//! `Microsoft.Authorization/roleAssignments` (acr-auth.md §6.7): assign a
//! role to a user, group or service principal at `/`, a subscription, a
//! resource group or a registry, optionally with an ABAC condition
//! (conditionVersion 2.0, §6.6); list, get and delete them.
//!
//! The dispatcher has already asked `authorize` for
//! `roleAssignments/read|write|delete` at the route's scope; handlers get
//! that permit and the [`Caller`] (for its tenant). Every change is written
//! to the audit log. A condition that does not parse is refused here with
//! the parse error and its position, so a stored condition always parses.

use acrylic_authz::{Condition, Permit, RoleDefinition, roles};
use acrylic_model::{ArmScope, ObjectId, RegistryId, TenantId};
use acrylic_store::{PrincipalType, RoleAssignment};
use axum::http::StatusCode;
use serde_json::Value;

use super::auth::{Caller, subscription_of};
use super::error::ArmError;
use super::route::{AssignmentFilter, RoleScope};
use super::{Request, audit_change, registries, shapes};
use crate::AppState;

/// What a scope is, once it is known to exist: the tenant that owns it and,
/// for a registry, its id (for the audit log).
pub(super) struct ScopeFacts {
    pub tenant: TenantId,
    pub registry: Option<RegistryId>,
}

/// Checks that the scope exists and says whose it is. `/` belongs to the
/// caller's tenant.
pub(super) async fn scope_facts(
    state: &AppState,
    caller: &Caller,
    scope: &RoleScope,
) -> Result<ScopeFacts, ArmError> {
    let own = caller.tenant().ok_or(ArmError::InvalidToken)?;
    match scope {
        RoleScope::Root => Ok(ScopeFacts {
            tenant: own,
            registry: None,
        }),
        RoleScope::Subscription(sub) => Ok(ScopeFacts {
            tenant: registries::subscription(state, sub).await?.tenant_id,
            registry: None,
        }),
        RoleScope::ResourceGroup(sub, rg) => {
            let s = registries::subscription(state, sub).await?;
            registries::resource_group_exists(state, sub, rg).await?;
            Ok(ScopeFacts {
                tenant: s.tenant_id,
                registry: None,
            })
        }
        RoleScope::Registry(p) => {
            let r = registries::find(state, p).await?;
            Ok(ScopeFacts {
                tenant: r.tenant_id,
                registry: Some(r.id),
            })
        }
    }
}

/// A role by the id an assignment names: a built-in, or one of `tenant`'s
/// custom roles. Accepts the full ARM id (`…/roleDefinitions/{guid}`, from
/// any subscription or `/`) or the bare GUID.
pub(super) async fn resolve_role(
    state: &AppState,
    tenant: &TenantId,
    role_definition_id: &str,
) -> Result<RoleDefinition, ArmError> {
    let id = role_guid(role_definition_id)?;
    if let Some(r) = roles::find_builtin(&id) {
        return Ok(r);
    }
    match state.meta.find_role_definition(&id).await? {
        Some(r) if r.tenant_id == *tenant => Ok(crate::token::custom_role(&r)),
        Some(_) | None => Err(ArmError::RoleDefinitionDoesNotExist {
            id: role_definition_id.to_owned(),
        }),
    }
}

fn role_guid(role_definition_id: &str) -> Result<uuid::Uuid, ArmError> {
    let invalid = || ArmError::InvalidRoleDefinitionId(role_definition_id.to_owned());
    let trimmed = role_definition_id.trim().trim_end_matches('/');
    if let Ok(id) = uuid::Uuid::parse_str(trimmed) {
        return Ok(id);
    }
    let (prefix, guid) = trimmed.rsplit_once('/').ok_or_else(invalid)?;
    let expected_tail = "/providers/microsoft.authorization/roledefinitions";
    let prefix_lower = prefix.to_ascii_lowercase();
    let scope_part = prefix_lower
        .strip_suffix(expected_tail)
        .ok_or_else(invalid)?;
    if !(scope_part.is_empty() || RoleScope::parse(scope_part).is_ok()) {
        return Err(invalid());
    }
    uuid::Uuid::parse_str(guid).map_err(|_| invalid())
}

/// `GET {scope}/…/roleAssignments[?$filter=…]`: without a filter, the
/// assignments at, above and below the scope; `atScope()`: at and above;
/// `principalId eq`: of that principal; `assignedTo()`: of that principal
/// and its groups. Only assignments of the caller's tenant are listed.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    scope: &RoleScope,
    filter: &AssignmentFilter,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let facts = scope_facts(state, caller, scope).await?;
    let mut found = state
        .meta
        .list_role_assignments_at(&scope.with_ancestors())
        .await?;
    if !filter.at_scope {
        let arm = scope.arm_scope();
        for a in state.meta.list_role_assignments_under(&arm).await? {
            if a.scope != arm && !found.iter().any(|f| f.id == a.id) {
                found.push(a);
            }
        }
    }
    let mut principals: Option<Vec<ObjectId>> = filter.principal.map(|p| vec![p]);
    if let Some(p) = filter.assigned_to {
        let mut all = crate::token::groups_of(state, &p).await?;
        all.push(p);
        principals = Some(match principals {
            Some(only) => only.into_iter().filter(|x| all.contains(x)).collect(),
            None => all,
        });
    }
    let mut items = Vec::new();
    let mut tenants: Vec<(ArmScope, Option<TenantId>)> = Vec::new();
    for a in found {
        if principals
            .as_ref()
            .is_some_and(|p| !p.contains(&a.principal_id))
        {
            continue;
        }
        if assignment_tenant(state, &a, &mut tenants).await? != Some(facts.tenant) {
            continue;
        }
        items.push(shapes::role_assignment(&a));
    }
    Ok(shapes::list(items))
}

/// The tenant an assignment belongs to: its subscription's, or (at `/`)
/// its principal's. `None` when neither is known any more.
async fn assignment_tenant(
    state: &AppState,
    a: &RoleAssignment,
    cache: &mut Vec<(ArmScope, Option<TenantId>)>,
) -> Result<Option<TenantId>, ArmError> {
    if let Some(sub) = subscription_of(&a.scope) {
        let key = ArmScope::subscription(&sub);
        if let Some((_, t)) = cache.iter().find(|(s, _)| *s == key) {
            return Ok(*t);
        }
        let t = state
            .meta
            .find_subscription(&sub)
            .await?
            .map(|s| s.tenant_id);
        cache.push((key, t));
        return Ok(t);
    }
    Ok(principal_tenant(state, &a.principal_id)
        .await?
        .map(|(tenant, _)| tenant))
}

/// The tenant and kind of a directory object, if the directory knows it.
async fn principal_tenant(
    state: &AppState,
    id: &ObjectId,
) -> Result<Option<(TenantId, PrincipalType)>, ArmError> {
    if let Some(u) = state.meta.find_user(id).await? {
        return Ok(Some((u.tenant_id, PrincipalType::User)));
    }
    if let Some(g) = state.meta.find_group(id).await? {
        return Ok(Some((g.tenant_id, PrincipalType::Group)));
    }
    if let Some(sp) = state.meta.find_service_principal(id).await? {
        return Ok(Some((sp.tenant_id, PrincipalType::ServicePrincipal)));
    }
    // Managed identities (#5) are service principals to ARM.
    if let Some(tenant) = super::identities::principal_tenant(state, id).await? {
        return Ok(Some((tenant, PrincipalType::ServicePrincipal)));
    }
    Ok(None)
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    scope: &RoleScope,
    name: &uuid::Uuid,
    _permit: Permit,
) -> Result<Value, ArmError> {
    scope_facts(state, caller, scope).await?;
    match state.meta.find_role_assignment(name).await? {
        Some(a) if a.scope == scope.arm_scope() => Ok(shapes::role_assignment(&a)),
        Some(_) | None => Err(ArmError::RoleAssignmentNotFound { name: *name }),
    }
}

/// `PUT`: 201 with the new assignment; 200 when the same assignment exists
/// under this name already (ARM's PUT is idempotent; changing an
/// assignment is refused, as in Azure).
pub async fn create(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    scope: &RoleScope,
    name: &uuid::Uuid,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: shapes::RoleAssignmentBody = shapes::parse_body(&req.body)?;
    let p = body.properties;
    let facts = scope_facts(state, caller, scope).await?;
    let arm = scope.arm_scope();

    let role = resolve_role(state, &facts.tenant, &p.role_definition_id).await?;
    if !role.is_assignable_at(&arm) {
        return Err(ArmError::RoleNotAssignableAtScope {
            role: role.name,
            scope: arm,
        });
    }
    let condition = condition(
        &role,
        p.condition.as_deref(),
        p.condition_version.as_deref(),
    )?;

    let principal_id = ObjectId::parse(p.principal_id.trim()).map_err(|_| {
        ArmError::InvalidRequestContent(format!(
            "properties.principalId {:?} is not an object id",
            p.principal_id
        ))
    })?;
    let given = p
        .principal_type
        .as_deref()
        .map(|t| {
            PrincipalType::parse(t).ok_or_else(|| {
                ArmError::InvalidRequestContent(format!(
                    "properties.principalType {t:?}: expected User, Group or ServicePrincipal"
                ))
            })
        })
        .transpose()?;
    let principal_type = match principal_tenant(state, &principal_id).await? {
        Some((tenant, actual)) if tenant == facts.tenant => match given {
            Some(g) if g != actual => {
                return Err(ArmError::UnmatchedPrincipalType {
                    id: principal_id.to_string(),
                    actual: actual.as_str(),
                    given: g.as_str().to_owned(),
                });
            }
            _ => actual,
        },
        // Users, groups and service principals (#4) are all in the
        // directory: an assignment to an object that is not there (or is
        // another tenant's) is refused, whatever principalType says.
        Some(_) | None => {
            return Err(ArmError::PrincipalNotFound {
                id: principal_id.to_string(),
                tenant: facts.tenant.to_string(),
            });
        }
    };

    let wanted = RoleAssignment {
        id: *name,
        scope: arm.clone(),
        role_definition_id: role.id,
        principal_id,
        principal_type,
        condition: condition.as_ref().map(|c| c.text().to_owned()),
        created_at: super::now_millis(),
    };
    if let Some(existing) = state.meta.find_role_assignment(name).await? {
        return if same(&existing, &wanted) {
            Ok((StatusCode::OK, shapes::role_assignment(&existing)))
        } else {
            Err(ArmError::RoleAssignmentUpdateNotPermitted)
        };
    }
    let duplicate = state
        .meta
        .list_role_assignments_for(&[principal_id])
        .await?
        .iter()
        .any(|a| same(a, &wanted));
    if duplicate {
        return Err(ArmError::RoleAssignmentExists);
    }
    state.meta.create_role_assignment(&wanted).await?;
    let detail = format!(
        "assigned {} ({}) to {} {} at {}{}",
        role.name,
        role.id,
        principal_type.as_str(),
        principal_id,
        arm,
        match &wanted.condition {
            Some(c) => format!(" with condition {c}"),
            None => String::new(),
        }
    );
    audit_change(
        state,
        req,
        &permit,
        facts.registry,
        "roleAssignment.create",
        detail,
    )
    .await;
    Ok((StatusCode::CREATED, shapes::role_assignment(&wanted)))
}

/// Same principal, role, scope and condition.
fn same(a: &RoleAssignment, b: &RoleAssignment) -> bool {
    a.principal_id == b.principal_id
        && a.role_definition_id == b.role_definition_id
        && a.scope == b.scope
        && a.condition == b.condition
}

/// The condition of a new assignment: parsed (a parse error names its
/// position), version 2.0, and only on a role with data actions — a
/// condition restricts data actions and nothing else (acr-auth.md §6.6).
fn condition(
    role: &RoleDefinition,
    text: Option<&str>,
    version: Option<&str>,
) -> Result<Option<Condition>, ArmError> {
    let text = text.filter(|t| !t.trim().is_empty());
    match (text, version) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ArmError::InvalidCondition(
            acrylic_authz::ConditionError::VersionWithoutCondition.to_string(),
        )),
        (Some(t), v) => {
            let c =
                Condition::parse(t, v).map_err(|e| ArmError::InvalidCondition(e.to_string()))?;
            if !role.has_data_actions() {
                return Err(ArmError::InvalidCondition(format!(
                    "the role '{}' has no data actions; conditions restrict data actions only \
                     (assign a Container Registry Repository role instead)",
                    role.name
                )));
            }
            Ok(Some(c))
        }
    }
}

/// `DELETE`: 200 with the deleted assignment; 204 when there was none.
pub async fn delete(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    scope: &RoleScope,
    name: &uuid::Uuid,
    permit: Permit,
) -> Result<(StatusCode, Option<Value>), ArmError> {
    let facts = scope_facts(state, caller, scope).await?;
    let existing = match state.meta.find_role_assignment(name).await? {
        Some(a) if a.scope == scope.arm_scope() => a,
        Some(_) | None => return Ok((StatusCode::NO_CONTENT, None)),
    };
    if !state.meta.delete_role_assignment(name).await? {
        return Ok((StatusCode::NO_CONTENT, None));
    }
    let detail = format!(
        "removed role {} from {} {} at {}",
        existing.role_definition_id,
        existing.principal_type.as_str(),
        existing.principal_id,
        existing.scope
    );
    audit_change(
        state,
        req,
        &permit,
        facts.registry,
        "roleAssignment.delete",
        detail,
    )
    .await;
    Ok((StatusCode::OK, Some(shapes::role_assignment(&existing))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_ids() {
        let id = "acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7";
        for ok in [
            id.to_owned(),
            format!("/providers/Microsoft.Authorization/roleDefinitions/{id}"),
            format!(
                "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/providers/Microsoft.Authorization/roleDefinitions/{id}"
            ),
            format!(
                "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/microsoft.authorization/roledefinitions/{id}/"
            ),
        ] {
            assert_eq!(
                role_guid(&ok).ok().map(|u| u.to_string()),
                Some(id.to_owned()),
                "{ok}"
            );
        }
        for bad in [
            "AcrPull",
            "/providers/Microsoft.Authorization/roleAssignments/acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7",
            "/whatever/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7",
            "/providers/Microsoft.Authorization/roleDefinitions/not-a-guid",
        ] {
            assert!(
                matches!(role_guid(bad), Err(ArmError::InvalidRoleDefinitionId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn conditions_need_data_actions_and_version_two() {
        let reader = roles::find_builtin(&roles::REPOSITORY_READER).expect("builtin");
        let pull = roles::find_builtin(&roles::ACR_PULL).expect("builtin");
        let text = "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team-a/'";
        assert!(matches!(
            condition(&reader, Some(text), Some("2.0")),
            Ok(Some(_))
        ));
        assert!(matches!(condition(&reader, None, None), Ok(None)));
        assert!(matches!(
            condition(&pull, Some(text), None),
            Err(ArmError::InvalidCondition(_))
        ));
        assert!(matches!(
            condition(&reader, Some(text), Some("1.0")),
            Err(ArmError::InvalidCondition(_))
        ));
        assert!(matches!(
            condition(&reader, None, Some("2.0")),
            Err(ArmError::InvalidCondition(_))
        ));
        match condition(&reader, Some("ActionMatches{'x"), None) {
            Err(ArmError::InvalidCondition(m)) => assert!(m.contains("position 14"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
