//! Command groups. Each command returns the JSON az would print (with the
//! columns of its table), or `None` when az prints nothing.
//!
//! [`Context`] carries what every command needs: the output format, the
//! config files, and — for commands that call the control plane — a
//! signed-in [`Session`].

pub mod account;
pub mod acr;

use anyhow::Result;
use reqwest::Method;
use serde_json::Value;

use crate::client::{CliError, Client, REGISTRY_API_VERSION};
use crate::profile::{Profile, Store};

pub struct Context {
    pub store: Store,
}

/// A signed-in connection to the server.
pub struct Session {
    pub client: Client,
    pub profile: Profile,
    pub token: String,
    pub user: String,
    pub tenant_id: String,
}

impl Context {
    pub fn new() -> Result<Self> {
        Ok(Self {
            store: Store::open()?,
        })
    }

    pub fn profile(&self) -> Result<Profile> {
        Ok(self.store.load_profile()?.unwrap_or_default())
    }

    /// The stored sign-in, checked before any request is made.
    pub fn session(&self) -> Result<Session> {
        let profile = self.profile()?;
        let tokens = self.store.load_tokens()?.ok_or(CliError::NotLoggedIn)?;
        let server = profile
            .server_url
            .clone()
            .unwrap_or_else(|| tokens.server_url.clone());
        if server.trim_end_matches('/') != tokens.server_url.trim_end_matches('/') {
            return Err(CliError::OtherServer {
                logged_in: tokens.server_url,
                profile: server,
            }
            .into());
        }
        if tokens.is_expired() {
            return Err(CliError::SessionExpired.into());
        }
        let client = Client::new(&server, profile.ca_cert.as_deref())?;
        Ok(Session {
            client,
            profile,
            token: tokens.access_token,
            user: tokens.user,
            tenant_id: tokens.tenant_id,
        })
    }
}

impl Session {
    pub fn subscription(&self) -> Result<&str> {
        self.profile.subscription.as_deref().ok_or_else(|| {
            CliError::Usage(
                "the profile names no subscription. Run `acrylic login` to pick the first one you can use".into(),
            )
            .into()
        })
    }

    /// An ARM call on the registry provider's api-version.
    pub async fn arm(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        self.arm_query(method, path, &[], body).await
    }

    pub async fn arm_query(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let mut q = vec![("api-version", REGISTRY_API_VERSION)];
        q.extend_from_slice(query);
        self.client.arm(&self.token, method, path, &q, body).await
    }
}
