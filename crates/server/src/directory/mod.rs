//! The directory: an Entra-ID-compatible identity provider, served under
//! `/{tenant}/…` (acr-auth.md §5, clients.md "The directory").
//!
//! Routes (the route table of this surface):
//!
//! | method | path | module |
//! |---|---|---|
//! | GET  | `/{tenant}/v2.0/.well-known/openid-configuration` | [`discovery`] |
//! | GET  | `/{tenant}/discovery/v2.0/keys` (and v1 `/discovery/keys`) | [`discovery`] |
//! | GET  | `/{tenant}/userrealm/{username}` (MSAL's realm probe) | [`discovery`] |
//! | POST | `/{tenant}/oauth2/v2.0/token` | [`token`] → one module per grant |
//!
//! `{tenant}` is a tenant id, a tenant's domain, or `organizations`/`common`
//! (the tenant is then the signing-in user's). Grants served: `password`
//! ([`password`]) for directory users and first-party public clients.
//! Refresh tokens, device code and groups are issue #3; client credentials
//! are issue #4 — each arrives as one more grant module.
//!
//! Calls go one way: handlers → `MetaStore` (tenants, users) →
//! `acrylic_identity::password` (verify) → `acrylic_tokens::KeyRing`
//! (mint). Other surfaces use [`is_arm_audience`] and [`v1_issuer`] to
//! accept what this directory issues.

mod discovery;
mod error;
pub mod keys;
mod password;
mod token;

use acrylic_model::TenantId;
use acrylic_store::{StoreError, Tenant};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

pub use error::DirectoryError;

use crate::AppState;

/// The client id of acrylic's own CLI, a first-party public client of the
/// directory (as the Azure CLI's id is of Entra ID).
pub const ACRYLIC_CLI_CLIENT_ID: &str = "c9bd9f01-d240-4d29-b691-bc7b55eec55f";
/// Azure CLI (acr-auth.md §5.1; azure-cli-core `auth/constants.py`).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// Azure PowerShell (acr-auth.md §5.1).
pub const AZURE_POWERSHELL_CLIENT_ID: &str = "1950a258-227b-4e31-a9cf-717495945fc2";

/// The public clients allowed to use user grants without a secret.
pub fn is_first_party_public_client(client_id: &str) -> bool {
    [
        ACRYLIC_CLI_CLIENT_ID,
        AZURE_CLI_CLIENT_ID,
        AZURE_POWERSHELL_CLIENT_ID,
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(client_id))
}

/// Lifetime of directory access tokens, in seconds.
pub const ACCESS_TOKEN_LIFETIME: i64 = 3600;

/// A resource the directory issues tokens for (the `aud` of the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Azure Resource Manager: `https://management.azure.com/` or
    /// `https://management.core.windows.net/` (acr-auth.md cheat sheet 6).
    Arm,
    /// ACR's own audience, `https://containerregistry.azure.net`.
    ContainerRegistry,
}

const ARM_RESOURCES: [&str; 2] = [
    "https://management.azure.com",
    "https://management.core.windows.net",
];
const ACR_RESOURCE: &str = "https://containerregistry.azure.net";

impl Resource {
    /// Which resource an audience / resource URI names; a trailing `/` is
    /// insignificant (az asks for `https://management.core.windows.net/`,
    /// the SDKs for `https://management.azure.com`).
    pub fn from_uri(uri: &str) -> Option<Resource> {
        let u = uri.trim_end_matches('/');
        if ARM_RESOURCES.iter().any(|r| r.eq_ignore_ascii_case(u)) {
            Some(Resource::Arm)
        } else if ACR_RESOURCE.eq_ignore_ascii_case(u) {
            Some(Resource::ContainerRegistry)
        } else {
            None
        }
    }
}

/// Whether a token audience is ARM's (the control plane accepts only these).
pub fn is_arm_audience(aud: &str) -> bool {
    Resource::from_uri(aud) == Some(Resource::Arm)
}

/// `iss` of v1 access tokens (ARM and ACR audiences), as Entra writes it
/// (acr-auth.md §5.3).
pub fn v1_issuer(tenant: &TenantId) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

/// `iss` of v2 tokens (id tokens) and of the discovery document.
fn v2_issuer(base: &str, tenant: &str) -> String {
    format!("{base}/{tenant}/v2.0")
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .route("/{tenant}/userrealm/{username}", get(discovery::user_realm))
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
}

/// The `{tenant}` path segment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TenantSegment {
    Id(TenantId),
    Domain(String),
    /// `organizations` or `common`: the tenant is the user's.
    Any,
}

impl TenantSegment {
    fn parse(s: &str) -> TenantSegment {
        if s.eq_ignore_ascii_case("organizations") || s.eq_ignore_ascii_case("common") {
            TenantSegment::Any
        } else if let Ok(id) = TenantId::parse(s) {
            TenantSegment::Id(id)
        } else {
            TenantSegment::Domain(s.to_ascii_lowercase())
        }
    }

    /// The tenant this segment names; `Ok(None)` for `organizations`/`common`.
    async fn resolve(&self, state: &AppState, raw: &str) -> Result<Option<Tenant>, DirectoryError> {
        let found = match self {
            TenantSegment::Any => return Ok(None),
            TenantSegment::Id(id) => state.meta.find_tenant(id).await,
            TenantSegment::Domain(d) => state.meta.find_tenant_by_domain(d).await,
        };
        match found.map_err(internal)? {
            Some(t) => Ok(Some(t)),
            None => Err(DirectoryError::TenantNotFound(raw.to_owned())),
        }
    }
}

/// `scheme://host[:port]` as the client addressed us, for the absolute
/// URLs of the discovery document.
fn base_url(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}://{host}", state.settings.scheme)
}

fn internal(e: StoreError) -> DirectoryError {
    tracing::error!(error = %e, "directory: metadata store failed");
    DirectoryError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_and_audiences() {
        for (uri, want) in [
            ("https://management.azure.com", Some(Resource::Arm)),
            ("https://management.azure.com/", Some(Resource::Arm)),
            ("https://management.core.windows.net/", Some(Resource::Arm)),
            ("https://MANAGEMENT.core.windows.net", Some(Resource::Arm)),
            (
                "https://containerregistry.azure.net",
                Some(Resource::ContainerRegistry),
            ),
            ("https://graph.microsoft.com", None),
            ("https://management.azure.com.evil", None),
            ("", None),
        ] {
            assert_eq!(Resource::from_uri(uri), want, "{uri}");
        }
        assert!(is_arm_audience("https://management.core.windows.net/"));
        assert!(!is_arm_audience("https://containerregistry.azure.net"));
    }

    #[test]
    fn tenant_segments() {
        let id = TenantId::new_random();
        assert_eq!(TenantSegment::parse(&id.to_string()), TenantSegment::Id(id));
        assert_eq!(TenantSegment::parse("organizations"), TenantSegment::Any);
        assert_eq!(TenantSegment::parse("Common"), TenantSegment::Any);
        assert_eq!(
            TenantSegment::parse("Acrylic.Local"),
            TenantSegment::Domain("acrylic.local".into())
        );
    }

    #[test]
    fn first_party_clients() {
        assert!(is_first_party_public_client(ACRYLIC_CLI_CLIENT_ID));
        assert!(is_first_party_public_client(
            &AZURE_CLI_CLIENT_ID.to_uppercase()
        ));
        assert!(is_first_party_public_client(AZURE_POWERSHELL_CLIENT_ID));
        assert!(!is_first_party_public_client(
            "00000000-0000-0000-0000-000000000000"
        ));
    }
}
