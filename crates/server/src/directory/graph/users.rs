//! `/v1.0/users…`: list, create, show, update, delete, revoke sessions.
//!
//! Rules taken from Graph: a new user's UPN must end in a domain of the
//! tenant; passwords must meet Entra's complexity policy; a duplicate UPN
//! is a 400. Disabling a user, resetting its password, deleting it and
//! `revokeSignInSessions` all sign it out everywhere at once
//! (`sessions::revoke_user`).

use acrylic_model::ObjectId;
use acrylic_store::{StoreError, User};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::{
    GraphError, Operation, collection, entity, filter_of, no_content, parse_body, reply, user_json,
};
use crate::AppState;
use crate::directory::sessions;

/// `forceChangePasswordNextSignIn` is accepted and ignored: acrylic has no
/// "change at next sign-in" flow.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordProfile {
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    account_enabled: Option<bool>,
    display_name: Option<String>,
    user_principal_name: Option<String>,
    password_profile: Option<PasswordProfile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserPatch {
    account_enabled: Option<bool>,
    display_name: Option<String>,
    password_profile: Option<PasswordProfile>,
}

/// `GET /v1.0/users[?$filter=…]`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadUsers).await?;
    let filter = filter_of(query.as_deref())?;
    let mut out = Vec::new();
    for u in state.meta.list_users(&caller.tenant).await? {
        if let Some(f) = &filter {
            let value = match f.property.as_str() {
                "userprincipalname" => u.upn.clone(),
                "displayname" => u.display_name.clone(),
                "mailnickname" => u.upn.split('@').next().unwrap_or_default().to_owned(),
                "id" => u.id.to_string(),
                _ => return Err(f.unknown_property()),
            };
            if !f.matches(&value) {
                continue;
            }
        }
        out.push(user_json(&u));
    }
    Ok(reply(StatusCode::OK, &collection("users", out)))
}

/// `POST /v1.0/users`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::CreateUser).await?;
    let new: NewUser = parse_body(&body)?;
    let missing = |p: &str| {
        GraphError::BadRequest(format!(
            "Property '{p}' is required when creating the user."
        ))
    };
    let upn = new
        .user_principal_name
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| missing("userPrincipalName"))?;
    let display_name = new
        .display_name
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| missing("displayName"))?;
    let password = new
        .password_profile
        .and_then(|p| p.password)
        .ok_or_else(|| missing("passwordProfile"))?;
    let tenant = state
        .meta
        .find_tenant(&caller.tenant)
        .await?
        .ok_or(GraphError::Internal)?;
    let valid_upn = upn.rsplit_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-'+".contains(&b))
            && domain.eq_ignore_ascii_case(&tenant.domain)
    });
    if !valid_upn {
        return Err(GraphError::BadRequest(format!(
            "Property userPrincipalName is invalid: '{upn}'. The domain portion must be one of the \
             verified domain names in your organization ({}).",
            tenant.domain
        )));
    }
    let hash = hash_password(password).await?;
    let now = state.clock.now();
    let user = User {
        id: ObjectId::new_random(),
        tenant_id: caller.tenant,
        upn,
        display_name,
        password_hash: hash,
        enabled: new.account_enabled.unwrap_or(true),
        sessions_valid_after: now,
        created_at: now,
    };
    match state.meta.create_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(GraphError::BadRequest(
                "Another object with the same value for property userPrincipalName already exists."
                    .into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(
            &state,
            Operation::CreateUser,
            "granted",
            &format!("created user {} ({})", user.upn, user.id),
        )
        .await;
    Ok(reply(
        StatusCode::CREATED,
        &entity("users", user_json(&user)),
    ))
}

/// `GET /v1.0/users/{id or UPN}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadUsers).await?;
    let user = find(&state, &caller, &id).await?;
    Ok(reply(StatusCode::OK, &entity("users", user_json(&user))))
}

/// `PATCH /v1.0/users/{id or UPN}`: `accountEnabled`, `displayName`,
/// `passwordProfile`. Each field needs its own permission.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    let patch: UserPatch = parse_body(&body).map_err(|e| match e {
        GraphError::BadRequest(m) if m.contains("unknown field") => GraphError::BadRequest(
            "acrylic can update only accountEnabled, displayName and passwordProfile of a user."
                .into(),
        ),
        other => other,
    })?;
    if let Some(name) = &patch.display_name {
        caller.require(&state, Operation::UpdateUserBasic).await?;
        if name.trim().is_empty() {
            return Err(GraphError::BadRequest(
                "Property displayName must not be empty.".into(),
            ));
        }
    }
    match patch.account_enabled {
        Some(true) => caller.require(&state, Operation::EnableUser).await?,
        Some(false) => caller.require(&state, Operation::DisableUser).await?,
        None => {}
    }
    let password = match patch.password_profile {
        Some(p) => {
            caller.require(&state, Operation::ResetPassword).await?;
            Some(p.password.ok_or_else(|| {
                GraphError::BadRequest("passwordProfile.password is required.".into())
            })?)
        }
        None => None,
    };
    if patch.display_name.is_none() && patch.account_enabled.is_none() && password.is_none() {
        // Nothing asked: still no peeking without the read permission.
        caller.require(&state, Operation::ReadUsers).await?;
    }
    let mut user = find(&state, &caller, &id).await?;
    let mut signs_out = false;
    let mut changes = Vec::new();
    if let Some(name) = patch.display_name {
        user.display_name = name;
        changes.push("displayName");
    }
    if let Some(enabled) = patch.account_enabled {
        signs_out |= user.enabled && !enabled;
        user.enabled = enabled;
        changes.push(if enabled { "enabled" } else { "disabled" });
    }
    if let Some(pw) = password {
        user.password_hash = hash_password(pw).await?;
        signs_out = true;
        changes.push("password reset");
    }
    if signs_out {
        // Saves the user too.
        sessions::revoke_user(&state, &mut user).await?;
    } else {
        state.meta.update_user(&user).await?;
    }
    caller
        .audit(
            &state,
            Operation::UpdateUserBasic,
            "granted",
            &format!("updated user {}: {}", user.upn, changes.join(", ")),
        )
        .await;
    Ok(no_content())
}

/// `DELETE /v1.0/users/{id or UPN}`: the user, its sessions and its group
/// memberships go at once.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::DeleteUser).await?;
    let user = find(&state, &caller, &id).await?;
    state.meta.delete_user(&user.id).await?;
    state
        .meta
        .delete_directory_sessions_of_user(&user.id)
        .await?;
    state.meta.remove_from_all_groups(&user.id).await?;
    caller
        .audit(
            &state,
            Operation::DeleteUser,
            "granted",
            &format!("deleted user {} ({})", user.upn, user.id),
        )
        .await;
    Ok(no_content())
}

/// `POST /v1.0/users/{id or UPN}/revokeSignInSessions`.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::RevokeSessions).await?;
    let mut user = find(&state, &caller, &id).await?;
    sessions::revoke_user(&state, &mut user).await?;
    caller
        .audit(
            &state,
            Operation::RevokeSessions,
            "granted",
            &format!("revoked every session of {}", user.upn),
        )
        .await;
    Ok(reply(
        StatusCode::OK,
        &json!({
            "@odata.context": format!("{}/$metadata#Edm.Boolean", super::SERVICE_ROOT),
            "value": true,
        }),
    ))
}

/// A user of the caller's tenant by object id or UPN; 404 otherwise (a
/// user of another tenant does not exist here).
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<User, GraphError> {
    let found = match ObjectId::parse(id) {
        Ok(oid) => state.meta.find_user(&oid).await?,
        Err(_) => state.meta.find_user_by_upn(id).await?,
    };
    found
        .filter(|u| u.tenant_id == caller.tenant)
        .ok_or_else(|| GraphError::NotFound(id.to_owned()))
}

/// Entra's complexity rule, then an argon2id hash (off the async workers).
async fn hash_password(password: String) -> Result<String, GraphError> {
    if !acrylic_identity::password::meets_complexity(&password) {
        return Err(GraphError::BadRequest(
            "The specified password does not comply with password complexity requirements. \
             Please provide a different password (8 to 256 characters, with three of: lower-case \
             letters, upper-case letters, digits, symbols)."
                .into(),
        ));
    }
    tokio::task::spawn_blocking(move || acrylic_identity::password::hash(&password))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            GraphError::Internal
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            GraphError::Internal
        })
}
