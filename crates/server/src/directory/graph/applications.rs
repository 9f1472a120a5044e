//! `/v1.0/applications…`: application registrations and their credentials
//! (issue #4 §1), Graph-shaped, behind `acrylic ad app …` and `acrylic ad
//! sp create-for-rbac|credential …`.
//!
//! `{id}` is the application's object id or its `appId` (az resolves
//! either). Credentials:
//! - `addPassword` generates the secret (callers never choose it) and
//!   answers it once in `secretText`; by default it lives exactly one year
//!   from now ([`apps::DEFAULT_SECRET_LIFETIME`]); `removePassword` deletes
//!   one by `keyId`;
//! - `addKey` uploads a certificate's public part (`key`: base64 DER); its
//!   dates default to the certificate's validity. Graph also wants a
//!   `proof` JWT signed by an existing key; acrylic authorizes the call
//!   with `microsoft.directory/applications/credentials/update` instead;
//! - `federatedIdentityCredentials`: issuer (https, or http on loopback),
//!   subject, audiences (default `api://AzureADTokenExchange`).
//!
//! A secret's value is never stored or logged; Graph shows only its
//! `hint`.

use acrylic_model::ObjectId;
use acrylic_store::{
    AppCredential, AppCredentialKind, Application, FederatedCredential, ServicePrincipal,
    SignInAudience, StoreError,
};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::auth::Caller;
use super::{
    GraphError, Operation, collection, date, entity, filter_of, no_content, parse_body, reply,
};
use crate::AppState;
use crate::directory::apps::{self, DEFAULT_SECRET_LIFETIME, MAX_CREDENTIALS};
use crate::directory::assertion::FEDERATED_AUDIENCE;
use crate::directory::certificate::Certificate;
use crate::directory::federation::is_allowed_issuer;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewApplication {
    display_name: Option<String>,
    sign_in_audience: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApplicationPatch {
    display_name: Option<String>,
    sign_in_audience: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PasswordCredentialIn {
    display_name: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddPassword {
    #[serde(default)]
    password_credential: PasswordCredentialIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyCredentialIn {
    #[serde(rename = "type")]
    kind: Option<String>,
    usage: Option<String>,
    key: Option<String>,
    display_name: Option<String>,
    start_date_time: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddKey {
    key_credential: KeyCredentialIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveKey {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewFederated {
    name: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    audiences: Option<Vec<String>>,
    description: Option<String>,
}

/// An application as Graph shows one, with its credentials (never a
/// secret: only its hint).
pub(super) fn application_json(a: &Application, credentials: &[AppCredential]) -> Value {
    let passwords: Vec<Value> = credentials
        .iter()
        .filter(|c| matches!(c.kind, AppCredentialKind::Password { .. }))
        .map(|c| password_json(c, None))
        .collect();
    let keys: Vec<Value> = credentials
        .iter()
        .filter(|c| matches!(c.kind, AppCredentialKind::Certificate { .. }))
        .map(key_json)
        .collect();
    json!({
        "@odata.type": "#microsoft.graph.application",
        "id": a.id.to_string(),
        "appId": a.app_id.to_string(),
        "displayName": a.display_name,
        "signInAudience": a.sign_in_audience.as_str(),
        "publisherDomain": null,
        "createdDateTime": date(a.created_at),
        "passwordCredentials": passwords,
        "keyCredentials": keys,
    })
}

/// A `passwordCredential`; `secret_text` only in `addPassword`'s answer.
fn password_json(c: &AppCredential, secret_text: Option<&str>) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": c.display_name,
        "endDateTime": date(c.end_at),
        "hint": c.hint,
        "keyId": c.key_id.to_string(),
        "secretText": secret_text,
        "startDateTime": date(c.start_at),
    })
}

/// A `keyCredential` (`key` itself is not returned, as in Graph).
fn key_json(c: &AppCredential) -> Value {
    let thumbprint = match &c.kind {
        AppCredentialKind::Certificate { sha1, .. } => Some(sha1.to_ascii_uppercase()),
        AppCredentialKind::Password { .. } => None,
    };
    json!({
        "customKeyIdentifier": thumbprint,
        "displayName": c.display_name,
        "endDateTime": date(c.end_at),
        "key": null,
        "keyId": c.key_id.to_string(),
        "startDateTime": date(c.start_at),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    })
}

fn federated_json(f: &FederatedCredential) -> Value {
    json!({
        "id": f.id.to_string(),
        "name": f.name,
        "issuer": f.issuer,
        "subject": f.subject,
        "audiences": f.audiences,
        "description": f.description,
    })
}

fn parse_audience(raw: Option<&str>) -> Result<SignInAudience, GraphError> {
    match raw {
        None => Ok(SignInAudience::SingleTenant),
        Some(s) => SignInAudience::parse(s).ok_or_else(|| {
            GraphError::BadRequest(format!(
                "Property signInAudience '{s}' is not supported: use AzureADMyOrg (single tenant) or \
                 AzureADMultipleOrgs (multi-tenant)."
            ))
        }),
    }
}

fn parse_date(field: &str, raw: &str) -> Result<OffsetDateTime, GraphError> {
    OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        GraphError::BadRequest(format!(
            "Property {field} '{raw}' is not a valid date and time (RFC 3339, e.g. 2027-01-31T00:00:00Z)."
        ))
    })
}

/// `[start, end)` from the request, `start` defaulting to now and `end`
/// to `default_end(start)`.
fn period(
    now: OffsetDateTime,
    start: Option<&str>,
    end: Option<&str>,
    default_end: impl FnOnce(OffsetDateTime) -> OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), GraphError> {
    let start = start
        .map(|s| parse_date("startDateTime", s))
        .transpose()?
        .unwrap_or(now);
    let end = match end {
        Some(e) => parse_date("endDateTime", e)?,
        None => default_end(start),
    };
    if end <= start {
        return Err(GraphError::BadRequest(
            "Property endDateTime must be later than startDateTime.".into(),
        ));
    }
    Ok((start, end))
}

/// An application of the caller's tenant by object id or `appId`, or 404.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<Application, GraphError> {
    apps::find_application(state, &caller.tenant, id)
        .await?
        .ok_or_else(|| GraphError::NotFound(id.to_owned()))
}

async fn room_for_one_more(state: &AppState, app: &Application) -> Result<(), GraphError> {
    if state.meta.list_app_credentials(&app.id).await?.len() >= MAX_CREDENTIALS {
        return Err(GraphError::BadRequest(format!(
            "Application {} already has {MAX_CREDENTIALS} credentials; remove one first.",
            app.app_id
        )));
    }
    Ok(())
}

/// `GET /v1.0/applications[?$filter=…]` (`displayName`, `appId`, `id`).
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadApplications).await?;
    let filter = filter_of(query.as_deref())?;
    let mut out = Vec::new();
    for a in state.meta.list_applications(&caller.tenant).await? {
        if let Some(f) = &filter {
            let value = match f.property.as_str() {
                "displayname" => a.display_name.clone(),
                "appid" => a.app_id.to_string(),
                "id" => a.id.to_string(),
                _ => return Err(f.unknown_property()),
            };
            if !f.matches(&value) {
                continue;
            }
        }
        let credentials = state.meta.list_app_credentials(&a.id).await?;
        out.push(application_json(&a, &credentials));
    }
    Ok(reply(StatusCode::OK, &collection("applications", out)))
}

/// `POST /v1.0/applications`: `displayName`, `signInAudience`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::CreateApplication).await?;
    let new: NewApplication = parse_body(&body)?;
    let display_name = new
        .display_name
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| {
            GraphError::BadRequest(
                "Property 'displayName' is required when creating an application.".into(),
            )
        })?;
    let now = state.clock.now();
    let app = Application {
        id: ObjectId::new_random(),
        app_id: uuid::Uuid::new_v4(),
        tenant_id: caller.tenant,
        display_name,
        sign_in_audience: parse_audience(new.sign_in_audience.as_deref())?,
        created_at: now,
        updated_at: now,
    };
    state.meta.create_application(&app).await?;
    caller
        .audit(
            &state,
            Operation::CreateApplication,
            "granted",
            &format!(
                "created application {} (appId {}, {})",
                app.display_name,
                app.app_id,
                app.sign_in_audience.as_str()
            ),
        )
        .await;
    Ok(reply(
        StatusCode::CREATED,
        &entity("applications", application_json(&app, &[])),
    ))
}

/// `GET /v1.0/applications/{id}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadApplications).await?;
    let app = find(&state, &caller, &id).await?;
    let credentials = state.meta.list_app_credentials(&app.id).await?;
    Ok(reply(
        StatusCode::OK,
        &entity("applications", application_json(&app, &credentials)),
    ))
}

/// `PATCH /v1.0/applications/{id}`: `displayName`, `signInAudience`.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::UpdateApplication).await?;
    let patch: ApplicationPatch = parse_body(&body).map_err(|e| match e {
        GraphError::BadRequest(m) if m.contains("unknown field") => GraphError::BadRequest(
            "acrylic can update only displayName and signInAudience of an application.".into(),
        ),
        other => other,
    })?;
    let mut app = find(&state, &caller, &id).await?;
    let mut changes = Vec::new();
    if let Some(name) = patch.display_name {
        if name.trim().is_empty() {
            return Err(GraphError::BadRequest(
                "Property displayName must not be empty.".into(),
            ));
        }
        app.display_name = name;
        changes.push("displayName".to_owned());
    }
    if let Some(a) = patch.sign_in_audience.as_deref() {
        app.sign_in_audience = parse_audience(Some(a))?;
        changes.push(format!("signInAudience {a}"));
    }
    app.updated_at = state.clock.now();
    state.meta.update_application(&app).await?;
    caller
        .audit(
            &state,
            Operation::UpdateApplication,
            "granted",
            &format!("updated application {}: {}", app.app_id, changes.join(", ")),
        )
        .await;
    Ok(no_content())
}

/// `DELETE /v1.0/applications/{id}`: the registration, its credentials
/// and its service principals in every tenant (with their role
/// assignments) go at once.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::DeleteApplication).await?;
    let app = find(&state, &caller, &id).await?;
    apps::delete_application(&state, &app).await?;
    caller
        .audit(
            &state,
            Operation::DeleteApplication,
            "granted",
            &format!(
                "deleted application {} (appId {}) with its service principals",
                app.display_name, app.app_id
            ),
        )
        .await;
    Ok(no_content())
}

/// `POST /v1.0/applications/{id}/addPassword`.
pub async fn add_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::UpdateApplicationCredentials)
        .await?;
    let req: AddPassword = if body.is_empty() {
        AddPassword {
            password_credential: PasswordCredentialIn::default(),
        }
    } else {
        parse_body(&body)?
    };
    let app = find(&state, &caller, &id).await?;
    room_for_one_more(&state, &app).await?;
    let now = state.clock.now();
    let p = req.password_credential;
    let (start, end) = period(
        now,
        p.start_date_time.as_deref(),
        p.end_date_time.as_deref(),
        |s| s + DEFAULT_SECRET_LIFETIME,
    )?;
    let (credential, secret) = apps::new_password(&app, p.display_name, start, end, now).await?;
    state.meta.add_app_credential(&credential).await?;
    caller
        .audit(
            &state,
            Operation::UpdateApplicationCredentials,
            "granted",
            &format!(
                "added client secret {} to application {} (valid {} to {})",
                credential.key_id,
                app.app_id,
                date(start),
                date(end)
            ),
        )
        .await;
    let mut body = password_json(&credential, Some(&secret));
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            Value::from(format!(
                "{}/$metadata#microsoft.graph.passwordCredential",
                super::SERVICE_ROOT
            )),
        );
    }
    Ok(reply(StatusCode::OK, &body))
}

/// `POST /v1.0/applications/{id}/removePassword` and `…/removeKey`:
/// `{"keyId"}`.
async fn remove_credential(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    certificate: bool,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(state, headers).await?;
    caller
        .require(state, Operation::UpdateApplicationCredentials)
        .await?;
    let req: RemoveKey = parse_body(body)?;
    let raw = req
        .key_id
        .ok_or_else(|| GraphError::BadRequest("Property 'keyId' is required.".into()))?;
    let key_id = uuid::Uuid::parse_str(&raw)
        .map_err(|_| GraphError::BadRequest(format!("Invalid keyId '{raw}'.")))?;
    let app = find(state, &caller, id).await?;
    let is_kind = |c: &AppCredential| {
        matches!(
            (&c.kind, certificate),
            (AppCredentialKind::Certificate { .. }, true)
                | (AppCredentialKind::Password { .. }, false)
        )
    };
    let exists = state
        .meta
        .list_app_credentials(&app.id)
        .await?
        .iter()
        .any(|c| c.key_id == key_id && is_kind(c));
    if !exists || !state.meta.delete_app_credential(&app.id, &key_id).await? {
        return Err(GraphError::NotFound(raw));
    }
    caller
        .audit(
            state,
            Operation::UpdateApplicationCredentials,
            "granted",
            &format!(
                "removed {} {key_id} from application {}",
                if certificate {
                    "certificate"
                } else {
                    "client secret"
                },
                app.app_id
            ),
        )
        .await;
    Ok(no_content())
}

pub async fn remove_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    remove_credential(&state, &headers, &id, &body, false).await
}

pub async fn remove_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    remove_credential(&state, &headers, &id, &body, true).await
}

/// `POST /v1.0/applications/{id}/addKey`: a certificate's public part.
pub async fn add_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::UpdateApplicationCredentials)
        .await?;
    let req: AddKey = parse_body(&body)?;
    let k = req.key_credential;
    if k.kind.as_deref().is_some_and(|t| t != "AsymmetricX509Cert")
        || k.usage.as_deref().is_some_and(|u| u != "Verify")
    {
        return Err(GraphError::BadRequest(
            "Only keyCredentials of type AsymmetricX509Cert with usage Verify are supported."
                .into(),
        ));
    }
    let der = k
        .key
        .as_deref()
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .ok_or_else(|| {
            GraphError::BadRequest(
                "Property keyCredential.key must hold the certificate, base64-encoded DER.".into(),
            )
        })?;
    let cert = Certificate::from_der(&der)
        .map_err(|e| GraphError::BadRequest(format!("Invalid keyCredential.key: {e}.")))?;
    let app = find(&state, &caller, &id).await?;
    room_for_one_more(&state, &app).await?;
    let now = state.clock.now();
    let start = match k.start_date_time.as_deref() {
        Some(s) => parse_date("startDateTime", s)?,
        None => cert.not_before,
    };
    let end = match k.end_date_time.as_deref() {
        Some(e) => parse_date("endDateTime", e)?,
        None => cert.not_after,
    };
    if end <= start {
        return Err(GraphError::BadRequest(
            "Property endDateTime must be later than startDateTime.".into(),
        ));
    }
    let credential = AppCredential {
        key_id: uuid::Uuid::new_v4(),
        application_id: app.id,
        kind: AppCredentialKind::Certificate {
            der: cert.der,
            sha1: cert.sha1,
            sha256: cert.sha256,
        },
        display_name: k.display_name,
        hint: None,
        start_at: start,
        end_at: end,
        created_at: now,
    };
    match state.meta.add_app_credential(&credential).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(GraphError::BadRequest("The key id is taken; retry.".into()));
        }
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(
            &state,
            Operation::UpdateApplicationCredentials,
            "granted",
            &format!(
                "added certificate {} to application {} (valid {} to {})",
                credential.key_id,
                app.app_id,
                date(start),
                date(end)
            ),
        )
        .await;
    Ok(reply(StatusCode::OK, &key_json(&credential)))
}

/// `GET /v1.0/applications/{id}/federatedIdentityCredentials`.
pub async fn list_federated(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadApplications).await?;
    let app = find(&state, &caller, &id).await?;
    let out: Vec<Value> = state
        .meta
        .list_federated_credentials(&app.id)
        .await?
        .iter()
        .map(federated_json)
        .collect();
    Ok(reply(
        StatusCode::OK,
        &collection(
            &format!("applications('{}')/federatedIdentityCredentials", app.id),
            out,
        ),
    ))
}

/// `POST /v1.0/applications/{id}/federatedIdentityCredentials`.
pub async fn create_federated(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::UpdateApplicationCredentials)
        .await?;
    let new: NewFederated = parse_body(&body)?;
    let required = |v: Option<String>, p: &str| {
        v.filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            GraphError::BadRequest(format!(
                "Property '{p}' is required when creating a federated identity credential."
            ))
        })
    };
    let name = required(new.name, "name")?;
    let issuer = required(new.issuer, "issuer")?;
    let subject = required(new.subject, "subject")?;
    let valid_name = name.len() <= 120
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !valid_name {
        return Err(GraphError::BadRequest(format!(
            "Property name '{name}' is invalid: 1 to 120 letters, digits, '-' and '_', starting \
             with a letter or digit."
        )));
    }
    if !is_allowed_issuer(&issuer) {
        return Err(GraphError::BadRequest(format!(
            "Property issuer '{issuer}' must be an https URL (plain http only on a loopback host)."
        )));
    }
    let audiences = match new.audiences {
        Some(a) if !a.is_empty() => a,
        _ => vec![FEDERATED_AUDIENCE.to_owned()],
    };
    if audiences.len() != 1 || audiences[0].trim().is_empty() {
        return Err(GraphError::BadRequest(
            "Property audiences must hold exactly one audience.".into(),
        ));
    }
    let app = find(&state, &caller, &id).await?;
    let credential = FederatedCredential {
        id: uuid::Uuid::new_v4(),
        application_id: app.id,
        name,
        issuer,
        subject,
        audiences,
        description: new.description.filter(|d| !d.is_empty()),
        created_at: state.clock.now(),
    };
    match state.meta.create_federated_credential(&credential).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(GraphError::BadRequest(format!(
                "FederatedIdentityCredential with name {} already exists.",
                credential.name
            )));
        }
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(
            &state,
            Operation::UpdateApplicationCredentials,
            "granted",
            &format!(
                "added federated credential {} (issuer {}, subject {}) to application {}",
                credential.name, credential.issuer, credential.subject, app.app_id
            ),
        )
        .await;
    Ok(reply(StatusCode::CREATED, &federated_json(&credential)))
}

/// A federated credential of `app` by id or name.
async fn find_federated(
    state: &AppState,
    app: &Application,
    key: &str,
) -> Result<FederatedCredential, GraphError> {
    state
        .meta
        .list_federated_credentials(&app.id)
        .await?
        .into_iter()
        .find(|f| f.id.to_string().eq_ignore_ascii_case(key) || f.name.eq_ignore_ascii_case(key))
        .ok_or_else(|| GraphError::NotFound(key.to_owned()))
}

/// `GET /v1.0/applications/{id}/federatedIdentityCredentials/{id or name}`.
pub async fn show_federated(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller.require(&state, Operation::ReadApplications).await?;
    let app = find(&state, &caller, &id).await?;
    let f = find_federated(&state, &app, &fid).await?;
    Ok(reply(StatusCode::OK, &federated_json(&f)))
}

/// `DELETE /v1.0/applications/{id}/federatedIdentityCredentials/{id or name}`.
pub async fn remove_federated(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let caller = Caller::authenticate(&state, &headers).await?;
    caller
        .require(&state, Operation::UpdateApplicationCredentials)
        .await?;
    let app = find(&state, &caller, &id).await?;
    let f = find_federated(&state, &app, &fid).await?;
    state
        .meta
        .delete_federated_credential(&app.id, &f.id)
        .await?;
    caller
        .audit(
            &state,
            Operation::UpdateApplicationCredentials,
            "granted",
            &format!(
                "removed federated credential {} from application {}",
                f.name, app.app_id
            ),
        )
        .await;
    Ok(no_content())
}

/// The home tenant's service principal of `app`, for the service
/// principal list (issue #4: `ad sp list --expiring-within`).
pub(super) async fn credentials_of(
    state: &AppState,
    sp: &ServicePrincipal,
) -> Result<Vec<AppCredential>, GraphError> {
    // Credentials belong to the application, in its home tenant: another
    // tenant's service principal shows none of them.
    match state.meta.find_application_by_app_id(&sp.app_id).await? {
        Some(app) if app.tenant_id == sp.tenant_id => {
            Ok(state.meta.list_app_credentials(&app.id).await?)
        }
        Some(_) | None => Ok(Vec::new()),
    }
}

/// `passwordCredentials`/`keyCredentials` of a service principal's JSON.
pub(super) fn credential_lists(credentials: &[AppCredential]) -> (Vec<Value>, Vec<Value>) {
    (
        credentials
            .iter()
            .filter(|c| matches!(c.kind, AppCredentialKind::Password { .. }))
            .map(|c| password_json(c, None))
            .collect(),
        credentials
            .iter()
            .filter(|c| matches!(c.kind, AppCredentialKind::Certificate { .. }))
            .map(key_json)
            .collect(),
    )
}
