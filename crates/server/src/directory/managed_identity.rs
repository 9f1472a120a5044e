//! Tokens for managed identities (issue #5 §2, acr-auth.md §5.3–5.4): the
//! directory side of the identity agent.
//!
//! Each compute resource may hold one **agent credential**, a 256-bit
//! opaque secret issued (and rotated: a new one kills the old) by the
//! control plane's `agentCredential` action and shown once; only its
//! SHA-256 is kept, in the resource's properties. The first one is issued
//! automatically when the resource first carries an identity (created
//! with one, or one assigned) and returned once in that ARM answer. Its holder — the
//! resource's `acrylic identity-agent` — may obtain tokens as an identity
//! ASSIGNED to that resource and no other:
//!
//! `POST /{tenant}/oauth2/managedidentity/token` (form): `resource_id`,
//! `credential`, `resource` (the audience URI), and at most one of
//! `client_id`, `object_id`, `msi_res_id` to pick a user-assigned identity
//! (none: the system-assigned one, else the only user-assigned one) —
//! IMDS's selection rules. The answer is the client credentials grant's
//! (`token_type`, `expires_in`, `access_token`) plus `client_id`; the
//! token is a v1 app token: `idtyp=app`, `oid` = principal id, `appid` =
//! client id, `xms_mirid` = the identity's resource id, `appidacr=2`.
//! Errors are OAuth's `{"error", "error_description"}` with 400 (401 for
//! a wrong credential).
//!
//! `POST /{tenant}/oauth2/managedidentity/rotate` (form `resource_id`,
//! `credential`): the agent trades its credential for a new one (the old
//! one dies), so a copy of an old credential file is worthless.

use acrylic_model::{ArmScope, ObjectId};
use acrylic_store::{ComputeResource, ManagedIdentity};
use acrylic_tokens::{DirectoryClaims, TokenError};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ACCESS_TOKEN_LIFETIME, Resource, TenantSegment, keys, v1_issuer};
use crate::AppState;

/// The path of the grant, below `/{tenant}`.
pub const TOKEN_PATH: &str = "/{tenant}/oauth2/managedidentity/token";
/// The path of the agent's credential rotation.
pub const ROTATE_PATH: &str = "/{tenant}/oauth2/managedidentity/rotate";

/// Digest label of agent credentials.
const CREDENTIAL_KIND: &str = "mi-agent-credential";
/// Where the credential's digest lives in a resource's properties.
const CREDENTIAL_KEY: &str = "agentCredentialSha256";

/// Issues a new agent credential for `r` (the old one stops working) and
/// saves the resource; returns the secret, which is never kept.
pub async fn issue_agent_credential(
    state: &AppState,
    r: &mut ComputeResource,
) -> Result<String, acrylic_store::StoreError> {
    let secret = acrylic_identity::opaque::generate_token();
    let mut props: Value = serde_json::from_str(&r.properties).unwrap_or_else(|_| json!({}));
    if !props.is_object() {
        props = json!({});
    }
    props[CREDENTIAL_KEY] = json!(acrylic_identity::opaque::digest(CREDENTIAL_KIND, &secret));
    r.properties = props.to_string();
    r.updated_at = state.clock.now();
    state.meta.update_compute_resource(r).await?;
    Ok(secret)
}

/// Whether `r` has been issued an agent credential yet.
pub fn has_agent_credential(r: &ComputeResource) -> bool {
    serde_json::from_str::<Value>(&r.properties)
        .ok()
        .is_some_and(|p| p.get(CREDENTIAL_KEY).is_some_and(Value::is_string))
}

/// Whether `secret` is `r`'s current agent credential (constant time).
fn credential_matches(r: &ComputeResource, secret: &str) -> bool {
    let Ok(props) = serde_json::from_str::<Value>(&r.properties) else {
        return false;
    };
    let Some(stored) = props.get(CREDENTIAL_KEY).and_then(Value::as_str) else {
        return false;
    };
    let given = acrylic_identity::opaque::digest(CREDENTIAL_KIND, secret);
    acrylic_identity::constant_time_eq(stored.as_bytes(), given.as_bytes())
}

#[derive(Debug, Deserialize)]
pub struct GrantForm {
    resource_id: Option<String>,
    credential: Option<String>,
    resource: Option<String>,
    client_id: Option<String>,
    object_id: Option<String>,
    msi_res_id: Option<String>,
}

/// A refusal, as OAuth errors look.
#[derive(Debug)]
pub struct GrantError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl GrantError {
    fn bad(error: &'static str, description: impl Into<String>) -> GrantError {
        GrantError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for GrantError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

fn internal(e: impl std::fmt::Display) -> GrantError {
    tracing::error!(error = %e, "managed identity grant failed");
    GrantError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: "the directory failed; see the server log".into(),
    }
}

/// Which identity a request names.
enum Selector {
    Default,
    ClientId(uuid::Uuid),
    ObjectId(ObjectId),
    ResourceId(ArmScope),
}

fn selector(f: &GrantForm) -> Result<Selector, GrantError> {
    let given: Vec<&str> = [&f.client_id, &f.object_id, &f.msi_res_id]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if given.len() > 1 {
        return Err(GrantError::bad(
            "invalid_request",
            "Only one of client_id, object_id or msi_res_id may be given",
        ));
    }
    fn pick(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    if let Some(c) = pick(&f.client_id) {
        return uuid::Uuid::parse_str(c)
            .map(Selector::ClientId)
            .map_err(|_| GrantError::bad("invalid_request", "client_id is not a GUID"));
    }
    if let Some(o) = pick(&f.object_id) {
        return ObjectId::parse(o)
            .map(Selector::ObjectId)
            .map_err(|_| GrantError::bad("invalid_request", "object_id is not a GUID"));
    }
    if let Some(r) = pick(&f.msi_res_id) {
        return ArmScope::parse(r)
            .map(Selector::ResourceId)
            .map_err(|_| GrantError::bad("invalid_request", "msi_res_id is not a resource id"));
    }
    Ok(Selector::Default)
}

/// The identity of `r` that `sel` names, among those assigned to it.
async fn pick_identity(
    state: &AppState,
    r: &ComputeResource,
    sel: &Selector,
) -> Result<ManagedIdentity, GrantError> {
    let mut assigned = state
        .meta
        .list_attached_identities(&r.id)
        .await
        .map_err(internal)?;
    let system = match &r.system_identity {
        Some(id) => state
            .meta
            .find_managed_identity(id)
            .await
            .map_err(internal)?,
        None => None,
    };
    if system.is_none() && assigned.is_empty() {
        return Err(GrantError::bad(
            "invalid_request",
            "No identity has been assigned to this resource",
        ));
    }
    let found = match sel {
        Selector::Default => match system {
            Some(s) => Some(s),
            None if assigned.len() == 1 => assigned.pop(),
            None => {
                return Err(GrantError::bad(
                    "invalid_request",
                    "Multiple user assigned identities exist, please specify the clientId / \
                     resourceId of the identity in the token request",
                ));
            }
        },
        _ => system.into_iter().chain(assigned).find(|mi| match sel {
            Selector::ClientId(c) => mi.client_id == *c,
            Selector::ObjectId(o) => mi.principal_id == *o,
            Selector::ResourceId(id) => mi.resource_id == *id,
            Selector::Default => false,
        }),
    };
    found.ok_or_else(|| {
        GrantError::bad(
            "invalid_request",
            "Identity not found: the requested identity is not assigned to this resource",
        )
    })
}

/// What the grant answers.
#[derive(Debug, serde::Serialize)]
struct MiTokenResponse {
    token_type: &'static str,
    expires_in: i64,
    ext_expires_in: i64,
    access_token: String,
    resource: String,
    client_id: String,
}

/// A managed identity's claims beside [`DirectoryClaims`].
#[derive(serde::Serialize)]
struct MiClaims {
    appidacr: &'static str,
    idp: String,
    xms_mirid: String,
}

/// `POST /{tenant}/oauth2/managedidentity/token`.
pub async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Form(form): Form<GrantForm>,
) -> Result<Response, GrantError> {
    let missing = |p: &str| GrantError::bad("invalid_request", format!("{p} is required"));
    let resource_id = form
        .resource_id
        .as_deref()
        .ok_or_else(|| missing("resource_id"))?;
    let credential = form
        .credential
        .as_deref()
        .ok_or_else(|| missing("credential"))?;
    let audience = form
        .resource
        .as_deref()
        .map(|r| r.trim().trim_end_matches("/.default"))
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("resource"))?;
    if Resource::from_uri(audience).is_none() {
        return Err(GrantError::bad(
            "invalid_resource",
            format!("The resource '{audience}' is not served by this directory"),
        ));
    }
    let sel = selector(&form)?;
    let unauthorized = || GrantError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "The agent credential is not valid for this resource".into(),
    };
    let scope = ArmScope::parse(resource_id).map_err(|_| unauthorized())?;
    let r = state
        .meta
        .find_compute_resource(&scope)
        .await
        .map_err(internal)?
        .filter(|r| credential_matches(r, credential))
        .ok_or_else(unauthorized)?;
    // The tenant segment must name the resource's tenant (or be a
    // multi-tenant alias).
    match TenantSegment::parse(&tenant) {
        TenantSegment::Any => {}
        seg => match seg.resolve(&state, &tenant).await {
            Ok(Some(t)) if t.id == r.tenant_id => {}
            _ => return Err(unauthorized()),
        },
    }
    let mi = pick_identity(&state, &r, &sel).await?;
    keys::ensure(&state, &mi.tenant_id)
        .await
        .map_err(internal)?;
    let now = state.clock.unix_now();
    let claims = DirectoryClaims {
        aud: audience.to_owned(),
        iss: v1_issuer(&mi.tenant_id),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME,
        tid: mi.tenant_id,
        oid: mi.principal_id,
        sub: mi.principal_id.to_string(),
        upn: None,
        name: None,
        idtyp: "app".into(),
        scp: None,
        appid: Some(mi.client_id.hyphenated().to_string()),
        ver: "1.0".into(),
    };
    let extra = MiClaims {
        appidacr: "2",
        idp: v1_issuer(&mi.tenant_id),
        xms_mirid: mi.resource_id.to_string(),
    };
    let access_token = match state.keys.mint_directory_with(&claims, &extra) {
        Ok(t) => t,
        Err(TokenError::NoSigningKey { .. }) => {
            keys::load(&state).await.map_err(internal)?;
            state
                .keys
                .mint_directory_with(&claims, &extra)
                .map_err(internal)?
        }
        Err(e) => return Err(internal(e)),
    };
    tracing::info!(resource = %r.id, identity = %mi.resource_id, aud = %audience, "managed identity token issued");
    Ok(axum::Json(MiTokenResponse {
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME,
        ext_expires_in: ACCESS_TOKEN_LIFETIME,
        access_token,
        resource: audience.to_owned(),
        client_id: mi.client_id.hyphenated().to_string(),
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct RotateForm {
    resource_id: Option<String>,
    credential: Option<String>,
}

/// `POST /{tenant}/oauth2/managedidentity/rotate`: a new agent credential
/// for the holder of the current one.
pub async fn rotate(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Form(form): Form<RotateForm>,
) -> Result<Response, GrantError> {
    let unauthorized = || GrantError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "The agent credential is not valid for this resource".into(),
    };
    let (Some(resource_id), Some(credential)) = (form.resource_id, form.credential) else {
        return Err(GrantError::bad(
            "invalid_request",
            "resource_id and credential are required",
        ));
    };
    let scope = ArmScope::parse(&resource_id).map_err(|_| unauthorized())?;
    let mut r = state
        .meta
        .find_compute_resource(&scope)
        .await
        .map_err(internal)?
        .filter(|r| credential_matches(r, &credential))
        .ok_or_else(unauthorized)?;
    match TenantSegment::parse(&tenant) {
        TenantSegment::Any => {}
        seg => match seg.resolve(&state, &tenant).await {
            Ok(Some(t)) if t.id == r.tenant_id => {}
            _ => return Err(unauthorized()),
        },
    }
    let secret = issue_agent_credential(&state, &mut r)
        .await
        .map_err(internal)?;
    tracing::info!(resource = %r.id, "identity-agent credential rotated");
    Ok(axum::Json(json!({"credential": secret})).into_response())
}

/// The principal behind a managed identity's app token, as the directory
/// sees it now (the identity exists in the token's tenant with the
/// token's client id); `None` when `oid` is not a managed identity.
pub async fn current_principal(
    state: &AppState,
    claims: &DirectoryClaims,
) -> Result<Option<acrylic_authz::Principal>, acrylic_store::StoreError> {
    let Some(mi) = state.meta.find_managed_identity(&claims.oid).await? else {
        return Ok(None);
    };
    let matches = mi.tenant_id == claims.tid
        && claims
            .appid
            .as_deref()
            .and_then(|a| uuid::Uuid::parse_str(a).ok())
            == Some(mi.client_id);
    Ok(
        matches.then_some(acrylic_authz::Principal::ManagedIdentity {
            tenant: mi.tenant_id,
            oid: mi.principal_id,
            client_id: mi.client_id,
        }),
    )
}
