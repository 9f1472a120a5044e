//! The resource-owner password grant (`grant_type=password`, acr-auth.md
//! §5.1): a directory user signs in with UPN and password through a
//! first-party public client, for one resource.
//!
//! Order, chosen so a guesser learns nothing: client and scope checks
//! (public facts) → tenant → user lookup → slow password verify (also run,
//! against a decoy hash, when the user is unknown or in another tenant, so
//! timing does not tell) → only then "disabled". One error (AADSTS50126)
//! covers unknown user, wrong tenant and wrong password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use acrylic_store::{AuditRecord, Tenant, User};
use acrylic_tokens::DirectoryClaims;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use super::token::{RequestedScope, TokenResponse, required};
use super::{
    ACCESS_TOKEN_LIFETIME, DirectoryError, TenantSegment, internal, is_first_party_public_client,
    keys, v1_issuer, v2_issuer,
};
use crate::AppState;

/// A parsed password-grant request.
pub(in crate::directory) struct Request {
    client_id: String,
    username: String,
    password: String,
    scope: RequestedScope,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub(in crate::directory) fn parse(
        form: &HashMap<String, String>,
        tenant: &str,
    ) -> Result<Request, DirectoryError> {
        let client_id = required(form, "client_id")?;
        let username = required(form, "username")?;
        let password = required(form, "password")?;
        let scope = RequestedScope::parse(&required(form, "scope")?, tenant)?;
        if !is_first_party_public_client(&client_id) {
            return Err(DirectoryError::UnknownClient {
                client_id,
                tenant: tenant.to_owned(),
            });
        }
        Ok(Request {
            client_id,
            username,
            password,
            scope,
        })
    }
}

pub(in crate::directory) async fn grant(
    state: &AppState,
    segment: &TenantSegment,
    raw_tenant: &str,
    base: &str,
    req: Request,
    client: Option<SocketAddr>,
) -> Result<TokenResponse, DirectoryError> {
    let tenant: Option<Tenant> = segment.resolve(state, raw_tenant).await?;
    let user = state
        .meta
        .find_user_by_upn(&req.username)
        .await
        .map_err(internal)?;
    let user = user.filter(|u| tenant.as_ref().is_none_or(|t| t.id == u.tenant_id));

    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = req.password.clone();
    let verified = tokio::task::spawn_blocking(move || {
        let hash = stored.as_deref().unwrap_or_else(|| decoy_hash());
        acrylic_identity::password::verify(&password, hash)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password verification task failed");
        DirectoryError::Internal
    })?;

    let user = match user {
        Some(u) if verified => u,
        _ => {
            audit(
                state,
                &req.username,
                "failed",
                client,
                "invalid username or password",
            )
            .await;
            return Err(DirectoryError::InvalidCredentials);
        }
    };
    if !user.enabled {
        audit(
            state,
            &user.upn,
            "denied",
            client,
            "the user account is disabled",
        )
        .await;
        return Err(DirectoryError::UserDisabled);
    }

    let response = issue(state, &user, &req, raw_tenant, base).await?;
    audit(
        state,
        &user.upn,
        "granted",
        client,
        &format!("token for {}", req.scope.resource),
    )
    .await;
    Ok(response)
}

/// Mints the access token (v1, for the resource) and the id token (v2,
/// for the client).
async fn issue(
    state: &AppState,
    user: &User,
    req: &Request,
    raw_tenant: &str,
    base: &str,
) -> Result<TokenResponse, DirectoryError> {
    keys::ensure(state, &user.tenant_id).await.map_err(|e| {
        tracing::error!(error = %e, tenant = %user.tenant_id, "directory keys unavailable");
        DirectoryError::Internal
    })?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = now + ACCESS_TOKEN_LIFETIME;
    let access = DirectoryClaims {
        aud: req.scope.resource.clone(),
        iss: v1_issuer(&user.tenant_id),
        iat: now,
        nbf: now,
        exp,
        tid: user.tenant_id,
        oid: user.id,
        sub: user.id.to_string(),
        upn: Some(user.upn.clone()),
        name: Some(user.display_name.clone()),
        idtyp: "user".into(),
        scp: Some("user_impersonation".into()),
        appid: Some(req.client_id.to_ascii_lowercase()),
        ver: "1.0".into(),
    };
    // The id token's issuer names the tenant the client asked (MSAL does
    // not validate it); a multi-tenant segment gets the user's tenant.
    let issuer_tenant = match TenantSegment::parse(raw_tenant) {
        TenantSegment::Any => user.tenant_id.to_string(),
        _ => raw_tenant.to_owned(),
    };
    let id = DirectoryClaims {
        aud: req.client_id.to_ascii_lowercase(),
        iss: v2_issuer(base, &issuer_tenant),
        idtyp: "user".into(),
        scp: None,
        appid: None,
        ver: "2.0".into(),
        ..access.clone()
    };
    let mint_err = |e: acrylic_tokens::TokenError| {
        tracing::error!(error = %e, "minting a directory token failed");
        DirectoryError::Internal
    };
    let access_token = state.keys.mint_directory(&access).map_err(mint_err)?;
    let id_token = state.keys.mint_directory(&id).map_err(mint_err)?;
    let client_info = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"uid": user.id.to_string(), "utid": user.tenant_id.to_string()})
            .to_string(),
    );
    // No refresh token until issue #3, so `offline_access` is not granted.
    let scope = req
        .scope
        .scopes
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("offline_access"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(TokenResponse {
        token_type: "Bearer",
        scope,
        expires_in: ACCESS_TOKEN_LIFETIME,
        ext_expires_in: ACCESS_TOKEN_LIFETIME,
        access_token,
        id_token,
        client_info,
    })
}

/// A hash of a random password nobody knows, verified against when the
/// user does not exist so both paths cost the same.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let pw = acrylic_identity::admin::generate_password();
        acrylic_identity::password::hash(&pw).unwrap_or_default()
    })
}

/// Sign-ins are audited (no registry); a failure to record is logged, not
/// fatal to the sign-in.
async fn audit(
    state: &AppState,
    upn: &str,
    decision: &str,
    client: Option<SocketAddr>,
    detail: &str,
) {
    let record = AuditRecord {
        id: uuid::Uuid::now_v7(),
        at: OffsetDateTime::now_utc(),
        registry_id: None,
        principal: format!("user:{upn}"),
        action: "signin".into(),
        repository: None,
        decision: decision.into(),
        client_addr: client.map(|c| c.ip().to_string()),
        detail: Some(detail.into()),
    };
    if let Err(e) = state.meta.append_audit(&record).await {
        tracing::warn!(error = %e, "could not record a sign-in in the audit log");
    }
}
