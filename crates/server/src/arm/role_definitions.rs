//! `Microsoft.Authorization/roleDefinitions` (acr-auth.md §6.2, §6.7): the
//! built-in roles (read-only, from `acrylic_authz::roles`) and a tenant's
//! custom roles, in az's shape — `roleName`, `description`, `permissions`
//! (`actions`, `notActions`, `dataActions`, `notDataActions`) and
//! `assignableScopes`.
//!
//! Creating or changing a custom role needs `roleDefinitions/write` at the
//! route's scope (asked by the dispatcher) and at every scope the role is
//! to be assignable at (asked here, through `authorize`). A custom role's
//! assignable scopes must exist in the caller's tenant and may not be `/`.
//! A role that is still assigned is not deleted. Every change is audited.

use acrylic_authz::{Permit, RoleDefinition, RoleType, roles};
use acrylic_model::{ArmScope, TenantId};
use acrylic_store::RoleDefinitionRecord;
use axum::http::StatusCode;
use serde_json::Value;

use super::auth::Caller;
use super::error::ArmError;
use super::role_assignments::scope_facts;
use super::route::{DefinitionFilter, RoleScope, op};
use super::{Request, audit_change, shapes};
use crate::AppState;

/// Longest role name accepted (Azure's limit).
const MAX_NAME: usize = 512;
/// Most permission patterns accepted in one list.
const MAX_PATTERNS: usize = 500;

/// Built-ins and the tenant's custom roles that are assignable at the
/// scope or below it, filtered by `roleName`/`type`.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    scope: &RoleScope,
    filter: &DefinitionFilter,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let facts = scope_facts(state, caller, scope).await?;
    let arm = scope.arm_scope();
    let sub = scope.subscription();
    let mut items: Vec<Value> = Vec::new();
    let wanted = |name: &str, kind: RoleType| {
        filter
            .role_name
            .as_deref()
            .is_none_or(|n| n.trim().eq_ignore_ascii_case(name))
            && filter
                .role_type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(kind.as_str()))
    };
    for r in roles::builtins() {
        if wanted(&r.name, r.role_type) {
            items.push(shapes::role_definition(&r, sub, None, None));
        }
    }
    for r in state.meta.list_role_definitions(&facts.tenant).await? {
        let related = r
            .assignable_scopes
            .iter()
            .any(|a| a.contains(&arm) || arm.contains(a));
        if related && wanted(&r.name, RoleType::Custom) {
            items.push(shapes::role_definition(
                &crate::token::custom_role(&r),
                sub,
                Some(r.created_at),
                Some(r.updated_at),
            ));
        }
    }
    Ok(shapes::list(items))
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    scope: &RoleScope,
    id: &uuid::Uuid,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let facts = scope_facts(state, caller, scope).await?;
    let sub = scope.subscription();
    if let Some(r) = roles::find_builtin(id) {
        return Ok(shapes::role_definition(&r, sub, None, None));
    }
    match state.meta.find_role_definition(id).await? {
        Some(r) if r.tenant_id == facts.tenant => Ok(shapes::role_definition(
            &crate::token::custom_role(&r),
            sub,
            Some(r.created_at),
            Some(r.updated_at),
        )),
        Some(_) | None => Err(ArmError::RoleDefinitionNotFound { id: *id }),
    }
}

/// `PUT`: creates (201) or replaces (200) a custom role.
pub async fn put(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    scope: &RoleScope,
    id: &uuid::Uuid,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    if let Some(r) = roles::find_builtin(id) {
        return Err(ArmError::InvalidRoleDefinition(format!(
            "'{}' is a built-in role and cannot be changed",
            r.name
        )));
    }
    let body: shapes::RoleDefinitionBody = shapes::parse_body(&req.body)?;
    let facts = scope_facts(state, caller, scope).await?;
    let definition = validate(id, body.properties)?;

    // Every assignable scope must exist in the caller's tenant and allow
    // the caller to write role definitions there; the route's scope must
    // be one of them (or above one), as az PUTs at the first.
    let arm = scope.arm_scope();
    if !definition.assignable_scopes.iter().any(|a| arm.contains(a)) {
        return Err(ArmError::InvalidRoleDefinition(format!(
            "the request scope '{arm}' is not one of the role's assignable scopes or above one"
        )));
    }
    for a in &definition.assignable_scopes {
        let parsed = RoleScope::parse(a.as_str())?;
        if parsed == RoleScope::Root {
            return Err(ArmError::InvalidRoleDefinition(
                "'/' cannot be an assignable scope of a custom role".into(),
            ));
        }
        let there = scope_facts(state, caller, &parsed).await?;
        if there.tenant != facts.tenant {
            return Err(ArmError::InvalidRoleDefinition(format!(
                "the assignable scope '{a}' belongs to another tenant"
            )));
        }
        caller.permit(a, &there.tenant, op::ROLE_DEFINITIONS_WRITE)?;
    }

    if roles::find_builtin_by_name(&definition.name).is_some() {
        return Err(ArmError::RoleDefinitionWithSameNameExists {
            name: definition.name,
        });
    }
    if let Some(other) = state
        .meta
        .find_role_definition_by_name(&facts.tenant, &definition.name)
        .await?
        && other.id != *id
    {
        return Err(ArmError::RoleDefinitionWithSameNameExists {
            name: definition.name,
        });
    }

    let now = super::now_millis();
    let existing = match state.meta.find_role_definition(id).await? {
        Some(r) if r.tenant_id == facts.tenant => Some(r),
        // Ids are GUIDs the client picks; another tenant's is not ours to
        // change or to reveal.
        Some(_) => {
            return Err(ArmError::InvalidRoleDefinition(format!(
                "the role definition id '{id}' is taken"
            )));
        }
        None => None,
    };
    let record = RoleDefinitionRecord {
        id: *id,
        tenant_id: facts.tenant,
        name: definition.name.clone(),
        description: definition.description.clone(),
        actions: definition.actions.clone(),
        not_actions: definition.not_actions.clone(),
        data_actions: definition.data_actions.clone(),
        not_data_actions: definition.not_data_actions.clone(),
        assignable_scopes: definition.assignable_scopes.clone(),
        created_at: existing.as_ref().map_or(now, |e| e.created_at),
        updated_at: now,
    };
    let (status, action) = match existing {
        Some(_) => {
            state
                .meta
                .update_role_definition(&record)
                .await
                .map_err(|e| name_taken(e, &record.name))?;
            (StatusCode::OK, "roleDefinition.update")
        }
        None => {
            state
                .meta
                .create_role_definition(&record)
                .await
                .map_err(|e| name_taken(e, &record.name))?;
            (StatusCode::CREATED, "roleDefinition.create")
        }
    };
    let scopes: Vec<&str> = record
        .assignable_scopes
        .iter()
        .map(ArmScope::as_str)
        .collect();
    let detail = format!(
        "role {} ({}): actions {:?} notActions {:?} dataActions {:?} notDataActions {:?} assignable at {}",
        record.name,
        record.id,
        record.actions,
        record.not_actions,
        record.data_actions,
        record.not_data_actions,
        scopes.join(", ")
    );
    audit_change(state, req, &permit, facts.registry, action, detail).await;
    Ok((
        status,
        shapes::role_definition(
            &definition,
            scope.subscription(),
            Some(record.created_at),
            Some(record.updated_at),
        ),
    ))
}

fn name_taken(e: acrylic_store::StoreError, name: &str) -> ArmError {
    match e {
        acrylic_store::StoreError::Conflict { .. } => ArmError::RoleDefinitionWithSameNameExists {
            name: name.to_owned(),
        },
        other => ArmError::from(other),
    }
}

/// The body as a custom role: a name, at least one permission, patterns
/// without spaces, at least one assignable scope.
fn validate(
    id: &uuid::Uuid,
    p: shapes::RoleDefinitionProperties,
) -> Result<RoleDefinition, ArmError> {
    let bad = |why: String| Err(ArmError::InvalidRoleDefinition(why));
    let name = p.role_name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return bad(format!("roleName must have 1 to {MAX_NAME} characters"));
    }
    if let Some(kind) = p.kind.as_deref()
        && !kind.eq_ignore_ascii_case(RoleType::Custom.as_str())
    {
        return bad(format!(
            "type {kind:?}: only CustomRole definitions can be written"
        ));
    }
    let mut actions = Vec::new();
    let mut not_actions = Vec::new();
    let mut data_actions = Vec::new();
    let mut not_data_actions = Vec::new();
    for perm in p.permissions {
        actions.extend(perm.actions);
        not_actions.extend(perm.not_actions);
        data_actions.extend(perm.data_actions);
        not_data_actions.extend(perm.not_data_actions);
    }
    for (field, list) in [
        ("actions", &mut actions),
        ("notActions", &mut not_actions),
        ("dataActions", &mut data_actions),
        ("notDataActions", &mut not_data_actions),
    ] {
        for a in list.iter_mut() {
            *a = a.trim().to_owned();
            if a.is_empty() || a.chars().any(char::is_whitespace) || !(a == "*" || a.contains('/'))
            {
                return bad(format!(
                    "{field} entry {a:?} is not an operation such as \
                     Microsoft.ContainerRegistry/registries/pull/read"
                ));
            }
        }
        list.dedup();
        if list.len() > MAX_PATTERNS {
            return bad(format!("{field} has more than {MAX_PATTERNS} entries"));
        }
    }
    if actions.is_empty() && data_actions.is_empty() {
        return bad("permissions grant nothing: give actions or dataActions".into());
    }
    if p.assignable_scopes.is_empty() {
        return bad("assignableScopes must name at least one scope".into());
    }
    let mut scopes: Vec<ArmScope> = Vec::new();
    for s in &p.assignable_scopes {
        let parsed = RoleScope::parse(s.trim())?.arm_scope();
        if !scopes.contains(&parsed) {
            scopes.push(parsed);
        }
    }
    Ok(RoleDefinition {
        id: *id,
        name,
        description: p.description.unwrap_or_default(),
        actions,
        not_actions,
        data_actions,
        not_data_actions,
        assignable_scopes: scopes,
        role_type: RoleType::Custom,
    })
}

/// `DELETE`: 200 with the deleted role; 204 when there was none (or it is
/// another tenant's).
pub async fn delete(
    state: &AppState,
    req: &Request,
    caller: &Caller,
    scope: &RoleScope,
    id: &uuid::Uuid,
    permit: Permit,
) -> Result<(StatusCode, Option<Value>), ArmError> {
    if let Some(r) = roles::find_builtin(id) {
        return Err(ArmError::InvalidRoleDefinition(format!(
            "'{}' is a built-in role and cannot be deleted",
            r.name
        )));
    }
    let facts = scope_facts(state, caller, scope).await?;
    let tenant: TenantId = facts.tenant;
    let existing = match state.meta.find_role_definition(id).await? {
        Some(r) if r.tenant_id == tenant => r,
        Some(_) | None => return Ok((StatusCode::NO_CONTENT, None)),
    };
    if !state
        .meta
        .list_role_assignments_of_role(id)
        .await?
        .is_empty()
    {
        return Err(ArmError::RoleDefinitionHasAssignments { id: *id });
    }
    if !state.meta.delete_role_definition(id).await? {
        return Ok((StatusCode::NO_CONTENT, None));
    }
    audit_change(
        state,
        req,
        &permit,
        facts.registry,
        "roleDefinition.delete",
        format!("role {} ({})", existing.name, existing.id),
    )
    .await;
    Ok((
        StatusCode::OK,
        Some(shapes::role_definition(
            &crate::token::custom_role(&existing),
            scope.subscription(),
            Some(existing.created_at),
            Some(existing.updated_at),
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(v: serde_json::Value) -> shapes::RoleDefinitionProperties {
        serde_json::from_value(v).expect("shape")
    }

    #[test]
    fn custom_role_bodies() {
        let id = uuid::Uuid::new_v4();
        let sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590";
        let ok = validate(
            &id,
            props(serde_json::json!({
                "roleName": " Team puller ",
                "permissions": [
                    {"actions": ["Microsoft.ContainerRegistry/registries/pull/read"]},
                    {"dataActions": ["Microsoft.ContainerRegistry/registries/repositories/content/read"]}
                ],
                "assignableScopes": [sub, sub],
            })),
        )
        .expect("valid");
        assert_eq!(ok.name, "Team puller");
        assert_eq!(ok.actions.len(), 1);
        assert_eq!(ok.data_actions.len(), 1);
        assert_eq!(ok.assignable_scopes.len(), 1);
        for bad in [
            serde_json::json!({"roleName": "", "permissions": [{"actions": ["*"]}], "assignableScopes": [sub]}),
            serde_json::json!({"roleName": "x", "permissions": [], "assignableScopes": [sub]}),
            serde_json::json!({"roleName": "x", "permissions": [{"actions": ["read stuff"]}], "assignableScopes": [sub]}),
            serde_json::json!({"roleName": "x", "permissions": [{"actions": ["*"]}], "assignableScopes": []}),
            serde_json::json!({"roleName": "x", "type": "BuiltInRole", "permissions": [{"actions": ["*"]}], "assignableScopes": [sub]}),
        ] {
            assert!(
                matches!(
                    validate(&id, props(bad.clone())),
                    Err(ArmError::InvalidRoleDefinition(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate(
                &id,
                props(
                    serde_json::json!({"roleName": "x", "permissions": [{"actions": ["*"]}], "assignableScopes": ["/nowhere/x"]})
                )
            ),
            Err(ArmError::InvalidScope(_))
        ));
    }
}
