//! Which client applications may ask the directory for tokens.
//!
//! As in Entra, a few first-party public clients exist in every tenant
//! (acr-auth.md §5.1): acrylic's own CLI, the Azure CLI and Azure
//! PowerShell, so MSAL's public-client flows (password, device code,
//! refresh) work with those ids. Every other client id must be an
//! application registered in the tenant (issue #4): one with a service
//! principal there. Registered applications are confidential clients:
//! they sign in as themselves (`client_credentials`), not on behalf of
//! users.

use acrylic_model::TenantId;

use super::DirectoryError;
use crate::AppState;

/// The client id of acrylic's own CLI.
pub const ACRYLIC_CLI_CLIENT_ID: &str = "c9bd9f01-d240-4d29-b691-bc7b55eec55f";
/// Azure CLI (acr-auth.md §5.1; azure-cli-core `auth/constants.py`).
pub const AZURE_CLI_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// Azure PowerShell (acr-auth.md §5.1).
pub const AZURE_POWERSHELL_CLIENT_ID: &str = "1950a258-227b-4e31-a9cf-717495945fc2";

const FIRST_PARTY: [(&str, &str); 3] = [
    (ACRYLIC_CLI_CLIENT_ID, "acrylic CLI"),
    (AZURE_CLI_CLIENT_ID, "Microsoft Azure CLI"),
    (AZURE_POWERSHELL_CLIENT_ID, "Microsoft Azure PowerShell"),
];

/// A client application the directory knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientApp {
    /// Lower-case, as tokens carry it (`appid`, id token `aud`).
    pub client_id: String,
    /// Shown on the device sign-in page.
    pub display_name: String,
    /// Public clients hold no secret; they may use the user grants
    /// (password, device code, refresh) without client authentication.
    pub public: bool,
}

/// The public clients allowed to use user grants without a secret.
pub fn is_first_party_public_client(client_id: &str) -> bool {
    first_party(client_id).is_some()
}

fn first_party(client_id: &str) -> Option<ClientApp> {
    FIRST_PARTY
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(client_id))
        .map(|(id, name)| ClientApp {
            client_id: (*id).to_owned(),
            display_name: (*name).to_owned(),
            public: true,
        })
}

/// The client application `client_id` as seen from `tenant` (`None`: the
/// request named `organizations`/`common`): a first-party public client,
/// or a registered application with a service principal in the tenant
/// (any tenant, for `organizations`/`common`).
pub async fn find(
    state: &AppState,
    tenant: Option<&TenantId>,
    client_id: &str,
) -> Result<Option<ClientApp>, DirectoryError> {
    if let Some(app) = first_party(client_id) {
        return Ok(Some(app));
    }
    let Ok(app_id) = uuid::Uuid::parse_str(client_id.trim()) else {
        return Ok(None);
    };
    let Some(app) = state
        .meta
        .find_application_by_app_id(&app_id)
        .await
        .map_err(super::internal)?
    else {
        return Ok(None);
    };
    let known = match tenant {
        Some(t) => super::apps::service_principal_in(state, &app, t)
            .await
            .map_err(super::internal)?
            .is_some(),
        None => true,
    };
    Ok(known.then(|| ClientApp {
        client_id: app.app_id.to_string(),
        display_name: app.display_name,
        public: false,
    }))
}

/// A client that may use the public-client user grants, or AADSTS700016
/// naming it and the tenant as the request wrote it.
pub async fn require_public(
    state: &AppState,
    tenant: Option<&TenantId>,
    raw_tenant: &str,
    client_id: &str,
) -> Result<ClientApp, DirectoryError> {
    match find(state, tenant, client_id).await? {
        Some(app) if app.public => Ok(app),
        _ => Err(DirectoryError::UnknownClient {
            client_id: client_id.to_owned(),
            tenant: raw_tenant.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let app = first_party(&AZURE_CLI_CLIENT_ID.to_uppercase());
        assert_eq!(
            app.map(|a| a.client_id),
            Some(AZURE_CLI_CLIENT_ID.to_owned())
        );
    }
}
