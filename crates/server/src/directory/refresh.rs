//! The refresh-token grant (`grant_type=refresh_token`, acr-auth.md §5.1):
//! MSAL's silent refresh. The presented token is redeemed and rotated
//! ([`sessions`](super::sessions)); the new tokens may be for any resource
//! this directory serves (Entra's refresh tokens are multi-resource). With
//! no `scope`, the sign-in's scopes are used again.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::issue::user_tokens;
use super::password::audit;
use super::sessions::{self, Family};
use super::token::{RequestedScope, TokenResponse, required};
use super::{DirectoryError, TenantSegment, client};
use crate::AppState;

/// A parsed refresh-token request.
pub(in crate::directory) struct Request {
    client_id: String,
    refresh_token: String,
    /// `None`: the sign-in's scopes.
    scope: Option<RequestedScope>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("client_id", &self.client_id)
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
        let refresh_token = required(form, "refresh_token")?;
        let scope = match form.get("scope").filter(|s| !s.is_empty()) {
            Some(s) => Some(RequestedScope::parse(s, tenant)?),
            None => None,
        };
        Ok(Request {
            client_id,
            refresh_token,
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
    addr: Option<SocketAddr>,
) -> Result<TokenResponse, DirectoryError> {
    let tenant = segment.resolve(state, raw_tenant).await?;
    let app = client::require_public(
        state,
        tenant.as_ref().map(|t| &t.id),
        raw_tenant,
        &req.client_id,
    )
    .await?;
    let (session, user) =
        sessions::redeem(state, &req.refresh_token, &app, tenant.as_ref()).await?;
    let scope = match req.scope {
        Some(s) => s,
        None => RequestedScope::parse(&session.scope, raw_tenant)?,
    };
    let family = Family::Continue {
        id: session.family_id,
        auth_time: session.auth_time,
    };
    let response = user_tokens(state, &user, &app, &scope, raw_tenant, base, family).await?;
    audit(
        state,
        &user.upn,
        "granted",
        addr,
        &format!("refreshed a token for {}", scope.resource),
    )
    .await;
    Ok(response)
}
