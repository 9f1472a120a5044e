//! `POST /{tenant}/oauth2/v2.0/token` (acr-auth.md §5.1): parse the form
//! into a typed [`TokenRequest`] once, then hand it to its grant's module.
//! Adding a grant means adding a variant here, so a grant without a
//! handler does not compile.
//!
//! The grant names: `password`, `refresh_token`,
//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4) and
//! `client_credentials` (issue #4).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::error::json_response;
use super::{
    DirectoryError, Resource, TenantSegment, base_url, client_credentials, device, password,
    refresh,
};
use crate::AppState;

/// The grants a client may ask for, as parsed from the form.
#[derive(Debug)]
pub(super) enum TokenRequest {
    /// Resource-owner password credentials (ROPC): `az login -u -p`,
    /// UsernamePasswordCredential, `acrylic login`.
    Password(password::Request),
    /// MSAL's silent refresh: a directory refresh token, rotated on use.
    Refresh(refresh::Request),
    /// Polling for a device authorization grant (`az login
    /// --use-device-code`, DeviceCodeCredential).
    DeviceCode(device::PollRequest),
    /// An application signing in as itself with a secret, a certificate
    /// assertion or a federated assertion (issue #4).
    ClientCredentials(client_credentials::Request),
    /// A grant this directory does not serve: `authorization_code` needs a
    /// browser sign-in page acrylic does not have.
    Unsupported(String),
}

/// The requested token: one resource (`<resource>/.default`), plus the
/// OIDC scopes MSAL always adds (`openid profile offline_access`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestedScope {
    /// The resource URI as the client wrote it, which becomes `aud`.
    pub resource: String,
    pub kind: Resource,
    /// Every scope asked for, echoed in the response's `scope`.
    pub scopes: Vec<String>,
}

/// Token requests are small forms; anything larger is not one.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The device-code grant type (RFC 8628 §3.4).
pub(super) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

impl RequestedScope {
    /// Exactly one resource scope: `<resource>/.default` or
    /// `<resource>/user_impersonation` (az asks for
    /// `https://management.core.windows.net//.default`, double slash).
    pub fn parse(scope: &str, tenant: &str) -> Result<RequestedScope, DirectoryError> {
        let scopes: Vec<String> = scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let mut resource: Option<String> = None;
        for s in &scopes {
            if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
                continue;
            }
            let r = s
                .strip_suffix("/.default")
                .or_else(|| s.strip_suffix("/user_impersonation"))
                .ok_or_else(|| DirectoryError::InvalidScope(s.clone()))?;
            if resource.replace(r.to_owned()).is_some() {
                // Entra: one resource per token.
                return Err(DirectoryError::InvalidScope(scope.to_owned()));
            }
        }
        let resource = resource.ok_or_else(|| DirectoryError::InvalidScope(scope.to_owned()))?;
        let kind =
            Resource::from_uri(&resource).ok_or_else(|| DirectoryError::UnknownResource {
                resource: resource.clone(),
                tenant: tenant.to_owned(),
            })?;
        Ok(RequestedScope {
            resource,
            kind,
            scopes,
        })
    }

    /// Whether the client asked for a refresh token.
    pub fn offline_access(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| s.eq_ignore_ascii_case("offline_access"))
    }
}

/// A form field, or AADSTS900144 naming it.
pub(super) fn required(
    form: &HashMap<String, String>,
    name: &'static str,
) -> Result<String, DirectoryError> {
    form.get(name)
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or(DirectoryError::MissingParameter(name))
}

impl TokenRequest {
    fn parse(form: &HashMap<String, String>, tenant: &str) -> Result<TokenRequest, DirectoryError> {
        let grant = required(form, "grant_type")?;
        match grant.as_str() {
            "password" => password::Request::parse(form, tenant).map(TokenRequest::Password),
            "refresh_token" => refresh::Request::parse(form, tenant).map(TokenRequest::Refresh),
            DEVICE_CODE_GRANT => device::PollRequest::parse(form).map(TokenRequest::DeviceCode),
            "client_credentials" => client_credentials::Request::parse(form, tenant)
                .map(TokenRequest::ClientCredentials),
            _ => Ok(TokenRequest::Unsupported(grant)),
        }
    }
}

/// The success body (acr-auth.md §5.1).
#[derive(Debug, Serialize)]
pub(super) struct TokenResponse {
    pub token_type: &'static str,
    pub scope: String,
    pub expires_in: i64,
    pub ext_expires_in: i64,
    pub access_token: String,
    /// Opaque; rotates on every use (`offline_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub id_token: String,
    /// base64url JSON `{"uid": oid, "utid": tid}`; MSAL builds the
    /// account's home id from it.
    pub client_info: String,
}

/// Reads a form body ourselves rather than by an extractor, so an
/// oversized or broken body still gets a Microsoft-shaped error. A
/// repeated field keeps its first value.
pub(super) async fn read_form(request: Request) -> Result<HashMap<String, String>, DirectoryError> {
    let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
        .await
        .map_err(|_| DirectoryError::MalformedBody)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| DirectoryError::MalformedBody)?;
    let mut form = HashMap::new();
    for (k, v) in pairs {
        form.entry(k).or_insert(v);
    }
    Ok(form)
}

pub async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Result<Response, DirectoryError> {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let base = base_url(&state, request.headers(), request.uri());
    let form = read_form(request).await?;
    let segment = TenantSegment::parse(&tenant);
    let response = match TokenRequest::parse(&form, &tenant)? {
        TokenRequest::Password(req) => {
            password::grant(&state, &segment, &tenant, &base, req, client).await?
        }
        TokenRequest::Refresh(req) => {
            refresh::grant(&state, &segment, &tenant, &base, req, client).await?
        }
        TokenRequest::DeviceCode(req) => {
            device::grant(&state, &segment, &tenant, &base, req, client).await?
        }
        TokenRequest::ClientCredentials(req) => {
            let granted =
                client_credentials::grant(&state, &segment, &tenant, &base, req, client).await?;
            let mut r = json_response(StatusCode::OK, &granted.body);
            if let Some(v) = granted
                .credential_end
                .map(super::apps::date)
                .and_then(|d| axum::http::HeaderValue::from_str(&d).ok())
            {
                r.headers_mut()
                    .insert(client_credentials::CREDENTIAL_EXPIRES_HEADER, v);
            }
            return Ok(r);
        }
        TokenRequest::Unsupported(g) => return Err(DirectoryError::UnsupportedGrant(g)),
    };
    Ok(json_response(StatusCode::OK, &response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_exactly_one_known_resource() {
        let s = RequestedScope::parse(
            "https://management.core.windows.net//.default offline_access openid profile",
            "t",
        )
        .map_err(|e| format!("{e:?}"));
        let s = s.as_ref().map(|s| (s.resource.as_str(), s.kind));
        assert_eq!(
            s,
            Ok(("https://management.core.windows.net/", Resource::Arm))
        );

        let acr = RequestedScope::parse("https://containerregistry.azure.net/.default", "t")
            .map(|s| s.kind);
        assert!(matches!(acr, Ok(Resource::ContainerRegistry)));

        for bad in [
            "",
            "openid profile",
            "https://management.azure.com/.default https://containerregistry.azure.net/.default",
            "https://management.azure.com/read",
        ] {
            assert!(
                matches!(
                    RequestedScope::parse(bad, "t"),
                    Err(DirectoryError::InvalidScope(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            RequestedScope::parse("https://vault.azure.net/.default", "t"),
            Err(DirectoryError::UnknownResource { .. })
        ));
        let graph =
            RequestedScope::parse("https://graph.microsoft.com//.default offline_access", "t")
                .map(|s| (s.kind, s.offline_access()));
        assert!(matches!(graph, Ok((Resource::Graph, true))));
    }
}
