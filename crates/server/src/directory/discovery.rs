//! OIDC discovery (acr-auth.md §5.2): the openid-configuration document
//! MSAL and azure-identity fetch first, the tenant's JWKS, and MSAL's
//! user-realm probe.
//!
//! MSAL requires `authorization_endpoint` and `token_endpoint`, reads the
//! tenant from the first path segment of `token_endpoint`, and does not
//! validate `issuer`. Endpoints keep the tenant segment as the client
//! wrote it (`organizations` stays `organizations`), as Entra does; the
//! issuer names the tenant id, or `{tenantid}` for multi-tenant segments.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::error::json_response;
use super::{DirectoryError, TenantSegment, base_url, internal, keys, v2_issuer};
use crate::AppState;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, DirectoryError> {
    let resolved = TenantSegment::parse(&tenant)
        .resolve(&state, &tenant)
        .await?;
    let base = base_url(&state, &headers, &uri);
    let issuer_tenant = resolved
        .as_ref()
        .map(|t| t.id.to_string())
        .unwrap_or_else(|| "{tenantid}".to_owned());
    let host = base.split("://").nth(1).unwrap_or_default().to_owned();
    let t = &tenant;
    // Field list mirrors a real Entra document (acr-auth.md §5.2).
    let doc = json!({
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": v2_issuer(&base, &issuer_tenant),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/{t}/kerberos"),
        "tenant_region_scope": null,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
        "rbac_url": base,
    });
    Ok(json_response(StatusCode::OK, &doc))
}

/// `GET /{tenant}/discovery/v2.0/keys`: the tenant's public signing keys;
/// for `organizations`/`common`, every tenant's.
pub async fn keys(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Response, DirectoryError> {
    let resolved = TenantSegment::parse(&tenant)
        .resolve(&state, &tenant)
        .await?;
    let tenants = match resolved {
        Some(t) => vec![t],
        None => state.meta.list_tenants().await.map_err(internal)?,
    };
    let mut out = Vec::new();
    for t in &tenants {
        // Publish before anything is signed: a client may fetch the JWKS
        // before the tenant's first sign-in.
        keys::ensure(&state, &t.id).await.map_err(|e| {
            tracing::error!(error = %e, tenant = %t.id, "directory keys unavailable");
            DirectoryError::Internal
        })?;
        out.extend(state.keys.directory_jwks(&t.id).keys);
    }
    Ok(json_response(StatusCode::OK, &json!({ "keys": out })))
}

/// `GET /{tenant}/userrealm/{username}?api-version=1.0`: MSAL asks this
/// before a password sign-in (clients.md "The directory"); every account
/// here is a managed (cloud) account.
pub async fn user_realm(Path((_tenant, username)): Path<(String, String)>) -> Response {
    let domain = username
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &json!({
            "ver": "1.0",
            "account_type": "Managed",
            "domain_name": domain,
            "cloud_instance_name": "acrylic",
            "cloud_audience_urn": "urn:federation:MicrosoftOnline",
        }),
    )
}
