//! The directory: an Entra-ID-compatible identity provider, served under
//! `/{tenant}/…` (acr-auth.md §5, clients.md "The directory"), plus the
//! Graph-shaped users and groups API under `/v1.0/…`.
//!
//! Routes (the route table of this surface):
//!
//! | method | path | module |
//! |---|---|---|
//! | GET  | `/{tenant}/v2.0/.well-known/openid-configuration` | [`discovery`] |
//! | GET  | `/{tenant}/discovery/v2.0/keys` (and v1 `/discovery/keys`) | [`discovery`] |
//! | GET  | `/{tenant}/userrealm/{username}` (MSAL's realm probe) | [`discovery`] |
//! | POST | `/{tenant}/oauth2/v2.0/token` | [`token`] → one module per grant |
//! | POST | `/{tenant}/oauth2/v2.0/devicecode` | [`device`] |
//! | POST | `/{tenant}/oauth2/v2.0/logout` (revokes a refresh token) | [`sessions`] |
//! | GET, POST | `/devicelogin` (the device sign-in page) | [`device`] |
//! | … | `/v1.0/users…`, `/v1.0/groups…`, `/v1.0/applications…`, `/v1.0/servicePrincipals…` | [`graph`] (its own table) |
//!
//! `{tenant}` is a tenant id, a tenant's domain, or `organizations`/`common`
//! (the tenant is then the signing-in user's). Grants served: `password`
//! ([`password`]), `refresh_token` ([`refresh`]) and
//! `urn:ietf:params:oauth:grant-type:device_code` ([`device`]), for
//! directory users through public clients ([`client`]); and
//! `client_credentials` ([`client_credentials`], issue #4) for registered
//! applications with a client secret, a certificate assertion
//! ([`assertion`], [`certificate`]) or a federated token from an external
//! issuer ([`federation`]). Applications, service principals and their
//! credentials: [`apps`]. Tokens are minted in one place ([`issue`]);
//! refresh tokens are opaque, stored hashed and rotate on use
//! ([`sessions`]). Signing keys and their rotation: [`keys`].
//!
//! Calls go one way: handlers → `MetaStore` (tenants, users, sessions,
//! groups) → `acrylic_identity` (password verify, opaque secrets) →
//! `acrylic_tokens::KeyRing` (mint). Other surfaces use
//! [`is_arm_audience`], [`v1_issuer`] and [`sessions::revoke_user`] to
//! accept and revoke what this directory issues.

pub mod apps;
pub mod assertion;
pub mod bearer;
pub mod certificate;
pub mod client;
mod client_credentials;
pub mod device;
mod discovery;
mod error;
pub mod federation;
pub mod graph;
mod issue;
pub mod keys;
// Managed identities' tokens for the identity agent (#5).
pub mod managed_identity;
mod password;
mod refresh;
pub mod sessions;
mod token;

use acrylic_model::TenantId;
use acrylic_store::{StoreError, Tenant};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

pub use client::{
    ACRYLIC_CLI_CLIENT_ID, AZURE_CLI_CLIENT_ID, AZURE_POWERSHELL_CLIENT_ID,
    is_first_party_public_client,
};
pub use client_credentials::CREDENTIAL_EXPIRES_HEADER;
pub use error::DirectoryError;

use crate::AppState;

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
    /// Microsoft Graph, `https://graph.microsoft.com` (or its app id):
    /// this directory's users and groups API ([`graph`]).
    Graph,
}

const ARM_RESOURCES: [&str; 2] = [
    "https://management.azure.com",
    "https://management.core.windows.net",
];
const ACR_RESOURCE: &str = "https://containerregistry.azure.net";
/// Graph's resource URI and its well-known application id.
const GRAPH_RESOURCES: [&str; 2] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];

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
        } else if GRAPH_RESOURCES.iter().any(|r| r.eq_ignore_ascii_case(u)) {
            Some(Resource::Graph)
        } else {
            None
        }
    }
}

/// Whether a token audience is ARM's (the control plane accepts only these).
pub fn is_arm_audience(aud: &str) -> bool {
    Resource::from_uri(aud) == Some(Resource::Arm)
}

/// `iss` of v1 access tokens (ARM, ACR and Graph audiences), as Entra
/// writes it (acr-auth.md §5.3).
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
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(device::device_code),
        )
        .route("/{tenant}/oauth2/v2.0/logout", post(sessions::logout))
        // Managed identities (#5): the identity agent's grant.
        .route(managed_identity::TOKEN_PATH, post(managed_identity::token))
        .route(
            managed_identity::ROTATE_PATH,
            post(managed_identity::rotate),
        )
        .route(
            device::PAGE_PATH,
            get(device::page).post(device::page_submit),
        )
        .merge(graph::routes())
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
/// URLs of the discovery document and the device flow.
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

/// Expired refresh tokens and device codes, removed by the server's
/// janitor (a used refresh token is kept until it expires, to recognise
/// replays); and the replay keys of client assertions past their `exp`
/// (#4).
pub async fn purge_expired(state: &AppState) -> Result<(u64, u64), StoreError> {
    // The earlier of the server's clock and the system's: a test that
    // froze the clock ahead must not lose rows when it resumes it.
    let now = state.clock.now().min(time::OffsetDateTime::now_utc());
    let sessions = state.meta.delete_expired_directory_sessions(now).await?;
    let codes = state.meta.delete_expired_device_codes(now).await?;
    state.meta.delete_expired_assertion_jtis(now).await?;
    Ok((sessions, codes))
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
            ("https://graph.microsoft.com", Some(Resource::Graph)),
            ("https://graph.microsoft.com/", Some(Resource::Graph)),
            (
                "00000003-0000-0000-c000-000000000000",
                Some(Resource::Graph),
            ),
            ("https://vault.azure.net", None),
            ("https://management.azure.com.evil", None),
            ("", None),
        ] {
            assert_eq!(Resource::from_uri(uri), want, "{uri}");
        }
        assert!(is_arm_audience("https://management.core.windows.net/"));
        assert!(!is_arm_audience("https://containerregistry.azure.net"));
        assert!(!is_arm_audience("https://graph.microsoft.com"));
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
}
