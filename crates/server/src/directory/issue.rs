//! Minting a user's tokens — the one place every user grant (password,
//! device code, refresh) ends: a v1 access token for the resource, a v2 id
//! token for the client, `client_info`, and (with `offline_access`, and on
//! every refresh) a new opaque refresh token (acr-auth.md §5.1, §5.3).
//! And an application's ([`app_tokens`], the client credentials grant,
//! issue #4): a v1 access token with `idtyp=app`.

use acrylic_store::User;
use acrylic_tokens::{DirectoryClaims, TokenError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::client::ClientApp;
use super::sessions::{self, Family};
use super::token::{RequestedScope, TokenResponse};
use super::{
    ACCESS_TOKEN_LIFETIME, DirectoryError, Resource, TenantSegment, keys, v1_issuer, v2_issuer,
};
use crate::AppState;

/// Tokens for `user`, signed in through `client`, for `scope`. `family`
/// says whether this starts a sign-in (password, device code) or continues
/// one (refresh).
pub(super) async fn user_tokens(
    state: &AppState,
    user: &User,
    client: &ClientApp,
    scope: &RequestedScope,
    raw_tenant: &str,
    base: &str,
    family: Family,
) -> Result<TokenResponse, DirectoryError> {
    keys::ensure(state, &user.tenant_id).await.map_err(|e| {
        tracing::error!(error = %e, tenant = %user.tenant_id, "directory keys unavailable");
        DirectoryError::Internal
    })?;
    let now = state.clock.unix_now();
    let access = DirectoryClaims {
        aud: scope.resource.clone(),
        iss: v1_issuer(&user.tenant_id),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME,
        tid: user.tenant_id,
        oid: user.id,
        sub: user.id.to_string(),
        upn: Some(user.upn.clone()),
        name: Some(user.display_name.clone()),
        idtyp: "user".into(),
        scp: Some(
            match scope.kind {
                Resource::Graph => "Directory.AccessAsUser.All",
                Resource::Arm | Resource::ContainerRegistry => "user_impersonation",
            }
            .into(),
        ),
        appid: Some(client.client_id.clone()),
        ver: "1.0".into(),
    };
    // The id token's issuer names the tenant the client asked (MSAL does
    // not validate it); a multi-tenant segment gets the user's tenant.
    let issuer_tenant = match TenantSegment::parse(raw_tenant) {
        TenantSegment::Any => user.tenant_id.to_string(),
        _ => raw_tenant.to_owned(),
    };
    let id = DirectoryClaims {
        aud: client.client_id.clone(),
        iss: v2_issuer(base, &issuer_tenant),
        scp: None,
        appid: None,
        ver: "2.0".into(),
        ..access.clone()
    };
    let access_token = mint(state, &access).await?;
    let id_token = mint(state, &id).await?;
    let client_info = URL_SAFE_NO_PAD.encode(
        serde_json::json!({"uid": user.id.to_string(), "utid": user.tenant_id.to_string()})
            .to_string(),
    );

    // Entra issues a refresh token when `offline_access` is asked for (MSAL
    // always asks), and a fresh one on every refresh: the redeemed one is
    // dead from now on.
    let refresh_token = match family {
        Family::Continue { .. } => Some(sessions::issue(state, user, client, scope, family).await?),
        Family::New if scope.offline_access() => {
            Some(sessions::issue(state, user, client, scope, family).await?)
        }
        Family::New => None,
    };
    let scope_out = scope
        .scopes
        .iter()
        .filter(|s| refresh_token.is_some() || !s.eq_ignore_ascii_case("offline_access"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(TokenResponse {
        token_type: "Bearer",
        scope: scope_out,
        expires_in: ACCESS_TOKEN_LIFETIME,
        ext_expires_in: ACCESS_TOKEN_LIFETIME,
        access_token,
        refresh_token,
        id_token,
        client_info,
    })
}

/// Signs with the tenant's active key. A replica that has not seen a key
/// rotation yet finds no active key once the old one is retired: it reloads
/// the stored keys and tries once more.
async fn mint(state: &AppState, claims: &DirectoryClaims) -> Result<String, DirectoryError> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "minting a directory token failed");
        DirectoryError::Internal
    };
    match state.keys.mint_directory(claims) {
        Ok(t) => Ok(t),
        Err(TokenError::NoSigningKey { .. }) => {
            keys::load(state).await.map_err(|e| failed(&e))?;
            state.keys.mint_directory(claims).map_err(|e| failed(&e))
        }
        Err(e) => Err(failed(&e)),
    }
}

// -- app tokens (client credentials, #4) --

/// The client credentials grant's answer (acr-auth.md §5.1): no refresh
/// token and no id token, as Entra answers it.
#[derive(Debug, serde::Serialize)]
pub(super) struct AppTokenResponse {
    pub token_type: &'static str,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
}

/// An app's own claims beside [`DirectoryClaims`] (acr-auth.md §5.3).
#[derive(serde::Serialize)]
struct AppClaims {
    /// `1`: signed in with a client secret; `2`: with a certificate or a
    /// federated assertion.
    appidacr: &'static str,
    /// The identity provider: this directory's tenant.
    idp: String,
    app_displayname: String,
}

/// A v1 access token for the service principal `sp` of `app`, in `sp`'s
/// tenant, for `scope`'s resource; minted at the server clock's now.
pub(super) async fn app_tokens(
    state: &AppState,
    app: &acrylic_store::Application,
    sp: &acrylic_store::ServicePrincipal,
    scope: &RequestedScope,
    appidacr: &'static str,
) -> Result<AppTokenResponse, DirectoryError> {
    keys::ensure(state, &sp.tenant_id).await.map_err(|e| {
        tracing::error!(error = %e, tenant = %sp.tenant_id, "directory keys unavailable");
        DirectoryError::Internal
    })?;
    let now = state.clock.unix_now();
    let claims = DirectoryClaims {
        aud: scope.resource.clone(),
        iss: v1_issuer(&sp.tenant_id),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME,
        tid: sp.tenant_id,
        oid: sp.id,
        sub: sp.id.to_string(),
        upn: None,
        name: None,
        idtyp: "app".into(),
        scp: None,
        appid: Some(app.app_id.to_string()),
        ver: "1.0".into(),
    };
    let extra = AppClaims {
        appidacr,
        idp: v1_issuer(&sp.tenant_id),
        app_displayname: app.display_name.clone(),
    };
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "minting an app token failed");
        DirectoryError::Internal
    };
    let access_token = match state.keys.mint_directory_with(&claims, &extra) {
        Ok(t) => t,
        Err(TokenError::NoSigningKey { .. }) => {
            keys::load(state).await.map_err(|e| failed(&e))?;
            state
                .keys
                .mint_directory_with(&claims, &extra)
                .map_err(|e| failed(&e))?
        }
        Err(e) => return Err(failed(&e)),
    };
    Ok(AppTokenResponse {
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME,
        ext_expires_in: ACCESS_TOKEN_LIFETIME,
        access_token,
    })
}
