//! `Microsoft.ContainerRegistry/registries` (acr-auth.md §6.5, §6.7):
//! list, get, create (PUT), update (PATCH), delete, `listCredentials`,
//! `regenerateCredential`, `checkNameAvailability`, and acrylic's audit
//! log.
//!
//! Every handler that acts on one registry takes the [`Permit`] the
//! dispatcher obtained from `authorize`; listings take a [`Visible`] and
//! keep only the items it lets through. Existence is checked after
//! authorization, as ARM does, so a caller without access learns nothing
//! from a 404. Changes to a registry and every read of its credentials are
//! written to its audit log.

use acrylic_authz::Permit;
use acrylic_model::{RegistryName, ResourceGroupName, SubscriptionId};
use acrylic_store::{AuditFilter, Registry, RoleAssignmentMode, StoreError, Subscription};
use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::error::ArmError;
use super::route::{AuditQuery, REGISTRY_TYPE, RegistryPath, ResourceFilter};
use super::shapes::{
    self, CheckNameBody, CreateRegistryBody, PasswordName, RegenerateBody, UpdateRegistryBody,
};
use super::{Request, Visible};
use crate::AppState;

pub async fn list(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    rg: Option<&ResourceGroupName>,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    if let Some(rg) = rg {
        resource_group_exists(state, sub, rg).await?;
    }
    let items = visible_registries(state, visible, sub, rg)
        .await?
        .iter()
        .map(shapes::registry)
        .collect();
    Ok(shapes::list(items))
}

/// `GET /subscriptions/{sub}/resources`: registries are the only resources.
pub async fn list_resources(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    filter: &ResourceFilter,
) -> Result<Value, ArmError> {
    subscription(state, sub).await?;
    let wanted = match filter {
        ResourceFilter::All => true,
        ResourceFilter::ResourceType(t) => t.eq_ignore_ascii_case(REGISTRY_TYPE),
    };
    if !wanted {
        return Ok(shapes::list(vec![]));
    }
    let items = visible_registries(state, visible, sub, None)
        .await?
        .iter()
        .map(shapes::resource)
        .collect();
    Ok(shapes::list(items))
}

/// The registries of `sub` (and `rg`) the caller may see.
async fn visible_registries(
    state: &AppState,
    visible: &Visible<'_>,
    sub: &SubscriptionId,
    rg: Option<&ResourceGroupName>,
) -> Result<Vec<Registry>, ArmError> {
    let mut registries = state.meta.list_registries(Some(sub), rg).await?;
    registries.retain(|r| visible.may_see(&r.arm_scope(), &r.tenant_id));
    Ok(registries)
}

pub async fn get(
    state: &AppState,
    path: &RegistryPath,
    _permit: Permit,
) -> Result<Value, ArmError> {
    Ok(shapes::registry(&find(state, path).await?))
}

/// PUT: create, or update the one already at this path (ARM's PUT is
/// create-or-update). 201 when created, 200 when updated.
pub async fn create(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<(StatusCode, Value), ArmError> {
    let body: CreateRegistryBody = shapes::parse_body(&req.body)?;
    let sku = shapes::sku(&body.sku.name)?;
    if body.location.trim().is_empty() {
        return Err(ArmError::InvalidRequestContent(
            "location must not be empty".into(),
        ));
    }
    let sub = subscription(state, &path.subscription).await?;
    resource_group_exists(state, &path.subscription, &path.resource_group).await?;

    let (mut registry, status) = match state.meta.find_registry_by_name(&path.name).await? {
        Some(existing) if at_path(&existing, path) => (existing, StatusCode::OK),
        Some(_) => {
            return Err(ArmError::RegistryNameNotAvailable {
                name: path.name.to_string(),
            });
        }
        None => {
            let created = crate::bootstrap::create_registry(
                state,
                &path.name,
                &path.subscription,
                &path.resource_group,
                &sub.tenant_id,
                body.location.trim(),
            )
            .await
            .map_err(|e| match e {
                crate::bootstrap::CreateRegistryError::Store(StoreError::Conflict { .. }) => {
                    ArmError::RegistryNameNotAvailable {
                        name: path.name.to_string(),
                    }
                }
                crate::bootstrap::CreateRegistryError::Store(e) => ArmError::from(e),
                crate::bootstrap::CreateRegistryError::Seal(e) => ArmError::from(e),
            })?;
            (created, StatusCode::CREATED)
        }
    };
    registry.sku = sku.to_owned();
    apply(&mut registry, &body.properties, state.clock.now())?;
    state.meta.update_registry(&registry).await?;
    let action = if status == StatusCode::CREATED {
        "registry.create"
    } else {
        "registry.update"
    };
    audit(state, req, &registry, &permit, action, None).await;
    Ok((status, shapes::registry(&registry)))
}

pub async fn update(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: UpdateRegistryBody = shapes::parse_body(&req.body)?;
    let sku = body
        .sku
        .as_ref()
        .map(|s| shapes::sku(&s.name))
        .transpose()?;
    let mut registry = find(state, path).await?;
    let mode_before = registry.role_assignment_mode;
    if let Some(sku) = sku {
        registry.sku = sku.to_owned();
    }
    apply(&mut registry, &body.properties, state.clock.now())?;
    state.meta.update_registry(&registry).await?;
    let mut detail = format!(
        "adminUserEnabled={} anonymousPullEnabled={} sku={} roleAssignmentMode={}",
        registry.admin_enabled,
        registry.anonymous_pull_enabled,
        registry.sku,
        registry.role_assignment_mode.as_str()
    );
    if mode_before != registry.role_assignment_mode {
        detail.push_str(&format!(
            " (was {}; credentials issued under it are no longer accepted)",
            mode_before.as_str()
        ));
    }
    audit(
        state,
        req,
        &registry,
        &permit,
        "registry.update",
        Some(detail),
    )
    .await;
    Ok(shapes::registry(&registry))
}

/// 200 when deleted, 204 when there was nothing to delete (ARM's DELETE).
pub async fn delete(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<StatusCode, ArmError> {
    let registry = match find(state, path).await {
        Ok(r) => r,
        Err(ArmError::RegistryNotFound { .. }) => return Ok(StatusCode::NO_CONTENT),
        Err(e) => return Err(e),
    };
    state.meta.delete_registry(&registry.id).await?;
    audit(state, req, &registry, &permit, "registry.delete", None).await;
    Ok(StatusCode::OK)
}

pub async fn list_credentials(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let registry = find(state, path).await?;
    let body = credentials(state, &registry)?;
    audit(state, req, &registry, &permit, "credential.show", None).await;
    Ok(body)
}

/// Regenerates one admin password; the other is unchanged (acr-auth.md
/// §6.5). Logins with the old value fail at once: the credential cache is
/// keyed by the sealed value, which changes here.
pub async fn regenerate_credential(
    state: &AppState,
    req: &Request,
    path: &RegistryPath,
    permit: Permit,
) -> Result<Value, ArmError> {
    let body: RegenerateBody = shapes::parse_body(&req.body)?;
    let mut registry = find(state, path).await?;
    if !registry.admin_enabled {
        return Err(ArmError::AdminUserDisabled {
            id: registry.arm_scope(),
        });
    }
    let sealed = state
        .sealer
        .seal(acrylic_identity::admin::generate_password().as_bytes())?;
    let name = match body.name {
        PasswordName::Password => {
            registry.admin_password1_sealed = sealed;
            "password"
        }
        PasswordName::Password2 => {
            registry.admin_password2_sealed = sealed;
            "password2"
        }
    };
    registry.updated_at = state.clock.now();
    state.meta.update_registry(&registry).await?;
    audit(
        state,
        req,
        &registry,
        &permit,
        "credential.renew",
        Some(format!("regenerated {name}")),
    )
    .await;
    credentials(state, &registry)
}

pub async fn check_name_availability(
    state: &AppState,
    req: &Request,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let body: CheckNameBody = shapes::parse_body(&req.body)?;
    if !body.kind.eq_ignore_ascii_case(REGISTRY_TYPE) {
        return Err(ArmError::InvalidRequestContent(format!(
            "type {:?}: only {REGISTRY_TYPE} names are checked",
            body.kind
        )));
    }
    let name = match RegistryName::parse(&body.name) {
        Ok(n) => n,
        Err(e) => {
            return Ok(json!({"nameAvailable": false, "reason": "Invalid", "message": e.reason}));
        }
    };
    Ok(match state.meta.find_registry_by_name(&name).await? {
        Some(_) => json!({
            "nameAvailable": false,
            "reason": "AlreadyExists",
            "message": format!("The registry {name} is already in use."),
        }),
        None => json!({"nameAvailable": true}),
    })
}

pub async fn audit_logs(
    state: &AppState,
    path: &RegistryPath,
    query: &AuditQuery,
    _permit: Permit,
) -> Result<Value, ArmError> {
    let registry = find(state, path).await?;
    let filter = AuditFilter {
        registry_id: Some(registry.id.clone()),
        principal: query.principal.clone(),
        action: query.action.clone(),
        repository: query.repository.clone(),
        since: query.since,
        limit: query.top,
    };
    let records = state.meta.list_audit(&filter).await?;
    Ok(shapes::list(
        records.iter().map(shapes::audit_record).collect(),
    ))
}

/// Both admin passwords, opened; 400 when the admin user is disabled.
fn credentials(state: &AppState, r: &Registry) -> Result<Value, ArmError> {
    if !r.admin_enabled {
        return Err(ArmError::AdminUserDisabled { id: r.arm_scope() });
    }
    let open = |sealed: &[u8]| -> Result<String, ArmError> {
        let bytes = state.sealer.open(sealed)?;
        String::from_utf8(bytes).map_err(|_| {
            tracing::error!(registry = %r.name, "an admin password is not UTF-8");
            ArmError::Internal
        })
    };
    Ok(shapes::credentials(
        r.name.as_str(),
        &open(&r.admin_password1_sealed)?,
        &open(&r.admin_password2_sealed)?,
    ))
}

/// Applies the settable properties. A change of `roleAssignmentMode`
/// invalidates every registry credential issued under the old mode: the
/// tokens carry the mode, and the token service and the gate refuse a
/// mismatch (acr-auth.md §2.3, §8 "Mode switch").
fn apply(
    r: &mut Registry,
    p: &shapes::RegistryProperties,
    now: OffsetDateTime,
) -> Result<(), ArmError> {
    if let Some(m) = &p.role_assignment_mode {
        r.role_assignment_mode = RoleAssignmentMode::parse(m).ok_or_else(|| {
            ArmError::InvalidRequestContent(format!(
                "properties.roleAssignmentMode {m:?}: expected LegacyRegistryPermissions or \
                 AbacRepositoryPermissions"
            ))
        })?;
    }
    if let Some(a) = p.admin_user_enabled {
        r.admin_enabled = a;
    }
    if let Some(a) = p.anonymous_pull_enabled {
        r.anonymous_pull_enabled = a;
    }
    r.updated_at = now;
    Ok(())
}

fn at_path(r: &Registry, path: &RegistryPath) -> bool {
    r.subscription_id == path.subscription
        && r.resource_group
            .as_str()
            .eq_ignore_ascii_case(path.resource_group.as_str())
}

pub async fn subscription(
    state: &AppState,
    sub: &SubscriptionId,
) -> Result<Subscription, ArmError> {
    state
        .meta
        .find_subscription(sub)
        .await?
        .ok_or(ArmError::SubscriptionNotFound(*sub))
}

pub async fn resource_group_exists(
    state: &AppState,
    sub: &SubscriptionId,
    rg: &ResourceGroupName,
) -> Result<(), ArmError> {
    match state.meta.find_resource_group(sub, rg).await? {
        Some(_) => Ok(()),
        None => Err(ArmError::ResourceGroupNotFound(rg.clone())),
    }
}

/// The registry at `path`: its subscription, group and name must all match
/// (names are unique server-wide, so the name alone finds it).
pub async fn find(state: &AppState, path: &RegistryPath) -> Result<Registry, ArmError> {
    subscription(state, &path.subscription).await?;
    resource_group_exists(state, &path.subscription, &path.resource_group).await?;
    match state.meta.find_registry_by_name(&path.name).await? {
        Some(r) if at_path(&r, path) => Ok(r),
        _ => Err(ArmError::RegistryNotFound {
            name: path.name.to_string(),
            resource_group: path.resource_group.clone(),
        }),
    }
}

/// Control-plane changes and credential reads go to the registry's audit
/// log; a failure to record is logged, never fatal.
pub async fn audit(
    state: &AppState,
    req: &Request,
    r: &Registry,
    permit: &Permit,
    action: &str,
    detail: Option<String>,
) {
    tracing::info!(principal = permit.principal(), operation = %permit.action(), registry = %r.name, action, "control plane");
    crate::audit::Event::new(permit.principal(), action, "granted")
        .registry(Some(r.id.clone()))
        .client(req.client)
        .detail(detail)
        .record_best_effort(state)
        .await;
}
