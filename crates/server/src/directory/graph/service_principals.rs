//! `/v1.0/servicePrincipals…`: applications' identities in the caller's
//! tenant (issue #4 §1), behind `acrylic ad sp create|list|show|delete`.
//!
//! `POST` with `{"appId"}` provisions an application's service principal
//! in the caller's tenant: its own application's, or — the consent step —
//! a multi-tenant application of another tenant, after which
//! `client_credentials` against this tenant mints tokens with this
//! tenant's `tid`. `DELETE` removes the service principal with its role
//! assignments and group memberships, so it gets no token, and the data
//! plane refuses it, from that moment. `{id}` is the object id or the
//! `appId`.

use acrylic_model::ObjectId;
use acrylic_store::{AppCredential, ServicePrincipal, SignInAudience, StoreError};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::applications::{credential_lists, credentials_of};
use super::auth::Caller;
use super::{
    GraphError, Operation, collection, date, entity, filter_of, no_content, parse_body, reply,
};
use crate::AppState;
use crate::directory::apps;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewServicePrincipal {
    app_id: Option<String>,
    account_enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServicePrincipalPatch {
    account_enabled: Option<bool>,
}

/// A service principal as Graph shows one. Credentials are its home
/// application's (in its home tenant only).
pub(crate) fn service_principal_json(
    sp: &ServicePrincipal,
    owner_tenant: Option<String>,
    audience: Option<SignInAudience>,
    credentials: &[AppCredential],
) -> Value {
    let (passwords, keys) = credential_lists(credentials);
    json!({
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": sp.id.to_string(),
        "appId": sp.app_id.to_string(),
        "displayName": sp.display_name,
        "accountEnabled": sp.enabled,
        "appOwnerOrganizationId": owner_tenant,
        "servicePrincipalType": "Application",
        "servicePrincipalNames": [sp.app_id.to_string()],
        "signInAudience": audience.map(SignInAudience::as_str),
        "createdDateTime": date(sp.created_at),
        "passwordCredentials": passwords,
        "keyCredentials": keys,
    })
}

async fn shown(state: &AppState, sp: &ServicePrincipal) -> Result<Value, GraphError> {
    let app = state.meta.find_application_by_app_id(&sp.app_id).await?;
    let credentials = credentials_of(state, sp).await?;
    Ok(service_principal_json(
        sp,
        app.as_ref().map(|a| a.tenant_id.to_string()),
        app.map(|a| a.sign_in_audience),
        &credentials,
    ))
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<ServicePrincipal, GraphError> {
    apps::find_service_principal(state, &caller.tenant, id)
        .await?
        .ok_or_else(|| GraphError::NotFound(id.to_owned()))
}

/// `GET /v1.0/servicePrincipals[?$filter=…]` (`displayName`, `appId`, `id`).
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::ReadServicePrincipals)
        .await?;
    let filter = filter_of(query.as_deref())?;
    let mut out = Vec::new();
    for sp in state.meta.list_service_principals(&caller.tenant).await? {
        if let Some(f) = &filter {
            let value = match f.property.as_str() {
                "displayname" => sp.display_name.clone(),
                "appid" => sp.app_id.to_string(),
                "id" => sp.id.to_string(),
                _ => return Err(f.unknown_property()),
            };
            if !f.matches(&value) {
                continue;
            }
        }
        out.push(shown(&state, &sp).await?);
    }
    Ok(reply(StatusCode::OK, &collection("servicePrincipals", out)))
}

/// `POST /v1.0/servicePrincipals` with `{"appId"}`: provisions the
/// application in the caller's tenant.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::CreateServicePrincipal)
        .await?;
    let new: NewServicePrincipal = parse_body(&body)?;
    let raw = new.app_id.ok_or_else(|| {
        GraphError::BadRequest(
            "Property 'appId' is required when creating a service principal.".into(),
        )
    })?;
    let missing = || {
        GraphError::BadRequest(format!(
            "The appId '{raw}' of the service principal does not reference a valid application \
             object."
        ))
    };
    let app_id = uuid::Uuid::parse_str(raw.trim()).map_err(|_| missing())?;
    let app = state
        .meta
        .find_application_by_app_id(&app_id)
        .await?
        .ok_or_else(missing)?;
    if app.tenant_id != caller.tenant && app.sign_in_audience == SignInAudience::SingleTenant {
        // A single-tenant app of another tenant is as good as unknown here.
        return Err(missing());
    }
    let sp = ServicePrincipal {
        id: ObjectId::new_random(),
        app_id,
        tenant_id: caller.tenant,
        display_name: app.display_name.clone(),
        enabled: new.account_enabled.unwrap_or(true),
        created_at: state.clock.now(),
    };
    match state.meta.create_service_principal(&sp).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(GraphError::BadRequest(format!(
                "The service principal of appId {app_id} already exists in this directory."
            )));
        }
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(
            &state,
            Operation::CreateServicePrincipal,
            "granted",
            &format!(
                "created service principal {} of application {} ({}{})",
                sp.id,
                app_id,
                app.display_name,
                if app.tenant_id == caller.tenant {
                    String::new()
                } else {
                    format!(", home tenant {}", app.tenant_id)
                }
            ),
        )
        .await;
    Ok(reply(
        StatusCode::CREATED,
        &entity("servicePrincipals", shown(&state, &sp).await?),
    ))
}

/// `GET /v1.0/servicePrincipals/{id}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::ReadServicePrincipals)
        .await?;
    let sp = find(&state, &caller, &id).await?;
    Ok(reply(
        StatusCode::OK,
        &entity("servicePrincipals", shown(&state, &sp).await?),
    ))
}

/// `PATCH /v1.0/servicePrincipals/{id}`: `accountEnabled`.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    let patch: ServicePrincipalPatch = parse_body(&body).map_err(|e| match e {
        GraphError::BadRequest(m) if m.contains("unknown field") => GraphError::BadRequest(
            "acrylic can update only accountEnabled of a service principal.".into(),
        ),
        other => other,
    })?;
    let op = match patch.account_enabled {
        Some(true) => Operation::EnableServicePrincipal,
        Some(false) => Operation::DisableServicePrincipal,
        None => Operation::ReadServicePrincipals,
    };
    caller.require(&state, op).await?;
    let mut sp = find(&state, &caller, &id).await?;
    if let Some(enabled) = patch.account_enabled {
        sp.enabled = enabled;
        state.meta.update_service_principal(&sp).await?;
        caller
            .audit(
                &state,
                op,
                "granted",
                &format!(
                    "{} service principal {} (appId {})",
                    if enabled { "enabled" } else { "disabled" },
                    sp.id,
                    sp.app_id
                ),
            )
            .await;
    }
    Ok(no_content())
}

/// `DELETE /v1.0/servicePrincipals/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::DeleteServicePrincipal)
        .await?;
    let sp = find(&state, &caller, &id).await?;
    let assignments = apps::delete_service_principal(&state, &sp).await?;
    caller
        .audit(
            &state,
            Operation::DeleteServicePrincipal,
            "granted",
            &format!(
                "deleted service principal {} (appId {}) and its {assignments} role assignment(s)",
                sp.id, sp.app_id
            ),
        )
        .await;
    Ok(no_content())
}
