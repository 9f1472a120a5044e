//! Command groups. Each command returns the JSON az would print (with the
//! columns of its table), or `None` when az prints nothing.
//!
//! [`Context`] carries what every command needs: the output format, the
//! config files, and — for commands that call the control plane — a
//! signed-in [`Session`]. Before a command runs, an expired access token is
//! renewed silently with the stored directory refresh token
//! ([`Context::renew_expired`]); only when the directory refuses it does
//! the command ask for `acrylic login`.

pub mod account;
pub mod acr;
pub mod acr_login;
pub mod ad;
pub mod ad_app;
pub mod ad_sp;
pub mod aks;
// docker's credential-helper protocol (#5).
pub mod credential_helper;
// Managed identities and compute resources (#5).
pub mod identity;
pub mod identity_agent;
pub mod kubelet;
pub mod managed_login;
pub mod pull_secret;
pub mod repository;
pub mod resource;
pub mod role;
pub mod scope_map;
pub mod token;

use anyhow::Result;
use reqwest::Method;
use serde_json::Value;

use crate::client::{CliError, Client, REGISTRY_API_VERSION};
use crate::profile::{Profile, Store};

pub struct Context {
    pub store: Store,
    /// Why renewing an expired sign-in failed, if it did (shown instead of
    /// a bare "expired" when the cause was, say, an unreachable server).
    renewal_failure: std::cell::RefCell<Option<String>>,
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
            renewal_failure: std::cell::RefCell::new(None),
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
            if let Some(why) = self.renewal_failure.borrow().clone() {
                return Err(CliError::Usage(format!(
                    "your sign-in has expired and could not be renewed: {why}"
                ))
                .into());
            }
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

// -- directory sign-in renewal (directory, #3) --

/// The ARM audience a managed identity's sign-in token is for (#5).
const ARM_RESOURCE: &str = "https://management.core.windows.net/";

/// What [`Context::token_for`] returns: an access token for one resource.
pub struct ResourceToken {
    pub access_token: String,
    /// Unix seconds.
    pub expires_on: i64,
    pub tenant_id: String,
}

impl Context {
    /// Renews an expired (or nearly expired) access token with the stored
    /// refresh token, silently. The directory rotates the refresh token,
    /// so the new one is saved at once. A refresh token the directory
    /// refuses is dropped (the next command then says to run `acrylic
    /// login`); any other failure is remembered for [`Context::session`]
    /// to report.
    pub async fn renew_expired(&self) {
        let Ok(Some(tokens)) = self.store.load_tokens() else {
            return;
        };
        if !tokens.is_expired() {
            return;
        }
        if let Some(login) = tokens.managed_identity.clone() {
            // A managed identity asks its agent again (#5).
            let mut tokens = tokens;
            match managed_login::managed_identity_token(&login, ARM_RESOURCE).await {
                Ok(t) => {
                    tokens.access_token = t.access_token;
                    tokens.expires_on = t.expires_on;
                    if let Err(e) = self.store.save_tokens(&tokens) {
                        *self.renewal_failure.borrow_mut() = Some(format!("{e:#}"));
                    }
                }
                Err(e) => *self.renewal_failure.borrow_mut() = Some(format!("{e:#}")),
            }
            return;
        }
        if tokens.service_principal.is_some() {
            // A service principal signs in again with its credential (#4).
            if let Err(e) = self.renew_service_principal(tokens).await {
                *self.renewal_failure.borrow_mut() = Some(format!("{e:#}"));
            }
            return;
        }
        if tokens.refresh_token.is_none() {
            return;
        }
        if let Err(e) = self.renew(tokens).await {
            *self.renewal_failure.borrow_mut() = Some(format!("{e:#}"));
        }
    }

    async fn renew(&self, mut tokens: crate::profile::Tokens) -> Result<()> {
        let Some(refresh) = tokens.refresh_token.clone() else {
            return Ok(());
        };
        let profile = self.profile()?;
        let client = Client::new(&tokens.server_url, profile.ca_cert.as_deref())?;
        match client
            .refresh(&tokens.tenant_id, &refresh, crate::client::SIGN_IN_SCOPE)
            .await
        {
            Ok(t) => {
                tokens.access_token = t.access_token;
                tokens.expires_on = time::OffsetDateTime::now_utc().unix_timestamp() + t.expires_in;
                tokens.refresh_token = t.refresh_token;
                self.store.save_tokens(&tokens)?;
                Ok(())
            }
            Err(e) => {
                if matches!(e.downcast_ref::<CliError>(), Some(CliError::SessionExpired)) {
                    // Dead for good: forget it, so no later command replays it.
                    tokens.refresh_token = None;
                    self.store.save_tokens(&tokens)?;
                    return Ok(());
                }
                Err(e)
            }
        }
    }

    /// An access token of the current sign-in for `resource` (e.g.
    /// `https://containerregistry.azure.net`): the stored one when it is
    /// for ARM, else a new one from the refresh token (Entra's refresh
    /// tokens serve any resource), saving the rotated refresh token.
    pub async fn token_for(&self, resource: &str) -> Result<ResourceToken> {
        let session = self.session()?;
        if let Some(login) = self
            .store
            .load_tokens()?
            .and_then(|t| t.managed_identity.map(|m| (m, t.tenant_id)))
        {
            // A managed identity's tokens all come from its agent (#5).
            let (login, tenant_id) = login;
            let t = managed_login::managed_identity_token(&login, resource).await?;
            return Ok(ResourceToken {
                access_token: t.access_token,
                expires_on: t.expires_on,
                tenant_id,
            });
        }
        if let Some(t) = self.service_principal_token_for(&session, resource).await? {
            return Ok(t);
        }
        let arm = [
            "https://management.core.windows.net",
            "https://management.azure.com",
        ];
        if arm
            .iter()
            .any(|a| a.eq_ignore_ascii_case(resource.trim_end_matches('/')))
        {
            let tokens = self.store.load_tokens()?.ok_or(CliError::NotLoggedIn)?;
            return Ok(ResourceToken {
                access_token: tokens.access_token,
                expires_on: tokens.expires_on,
                tenant_id: tokens.tenant_id,
            });
        }
        let mut tokens = self.store.load_tokens()?.ok_or(CliError::NotLoggedIn)?;
        let refresh = tokens
            .refresh_token
            .clone()
            .ok_or(CliError::SessionExpired)?;
        let scope = format!(
            "{}/.default offline_access openid profile",
            resource.trim_end_matches('/')
        );
        let t = match session
            .client
            .refresh(&tokens.tenant_id, &refresh, &scope)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                if matches!(e.downcast_ref::<CliError>(), Some(CliError::SessionExpired)) {
                    tokens.refresh_token = None;
                    self.store.save_tokens(&tokens)?;
                }
                return Err(e);
            }
        };
        tokens.refresh_token = t.refresh_token.clone();
        self.store.save_tokens(&tokens)?;
        Ok(ResourceToken {
            access_token: t.access_token,
            expires_on: time::OffsetDateTime::now_utc().unix_timestamp() + t.expires_in,
            tenant_id: tokens.tenant_id,
        })
    }
}

impl Session {
    /// A call to the directory's Graph-shaped API (`/v1.0/…`). It accepts
    /// the sign-in's ARM token, and answers errors in the same
    /// `{"error": {"code", "message"}}` shape ARM does.
    pub async fn graph(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        self.client
            .arm(&self.token, method, path, query, body)
            .await
    }
}

// -- end of directory sign-in renewal --

// -- service principal sign-ins (#4) --

impl Context {
    /// A new ARM token for an expired service principal sign-in, from the
    /// credential it signed in with.
    async fn renew_service_principal(&self, mut tokens: crate::profile::Tokens) -> Result<()> {
        let Some(login) = tokens.service_principal.clone() else {
            return Ok(());
        };
        let profile = self.profile()?;
        let client = Client::new(&tokens.server_url, profile.ca_cert.as_deref())?;
        let t = ad_sp::service_principal_token(
            &client,
            &tokens.tenant_id,
            &login,
            crate::client::SIGN_IN_SCOPE
                .split(' ')
                .next()
                .unwrap_or("https://management.core.windows.net//.default"),
        )
        .await?;
        tokens.access_token = t.access_token;
        tokens.expires_on = time::OffsetDateTime::now_utc().unix_timestamp() + t.expires_in;
        self.store.save_tokens(&tokens)
    }

    /// For a service principal sign-in: a token for `resource` through the
    /// client credentials grant (it has no refresh token); `None` for a
    /// user's sign-in.
    async fn service_principal_token_for(
        &self,
        session: &Session,
        resource: &str,
    ) -> Result<Option<ResourceToken>> {
        let Some(tokens) = self.store.load_tokens()? else {
            return Ok(None);
        };
        let Some(login) = &tokens.service_principal else {
            return Ok(None);
        };
        let scope = format!("{}/.default", resource.trim_end_matches('/'));
        let t = ad_sp::service_principal_token(&session.client, &tokens.tenant_id, login, &scope)
            .await?;
        Ok(Some(ResourceToken {
            access_token: t.access_token,
            expires_on: time::OffsetDateTime::now_utc().unix_timestamp() + t.expires_in,
            tenant_id: tokens.tenant_id.clone(),
        }))
    }
}

// -- end of service principal sign-ins --
