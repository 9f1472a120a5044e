//! The resource-owner password grant (`grant_type=password`, acr-auth.md
//! §5.1): a directory user signs in with UPN and password through a
//! public client, for one resource.
//!
//! [`authenticate`] is also what the device sign-in page checks. Order,
//! chosen so a guesser learns nothing: client and scope checks → tenant →
//! user lookup → slow password verify (also run, against a decoy hash,
//! when the user is unknown or in another tenant, so timing does not tell)
//! → only then "disabled". One error (AADSTS50126) covers unknown user,
//! wrong tenant and wrong password.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use acrylic_model::TenantId;
use acrylic_store::{Tenant, User};

use super::issue::user_tokens;
use super::sessions::Family;
use super::token::{RequestedScope, TokenResponse, required};
use super::{DirectoryError, TenantSegment, client, internal};
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
    addr: Option<SocketAddr>,
) -> Result<TokenResponse, DirectoryError> {
    let tenant: Option<Tenant> = segment.resolve(state, raw_tenant).await?;
    let app = client::require_public(
        state,
        tenant.as_ref().map(|t| &t.id),
        raw_tenant,
        &req.client_id,
    )
    .await?;
    let user = authenticate(
        state,
        tenant.as_ref().map(|t| &t.id),
        &req.username,
        &req.password,
        addr,
    )
    .await?;
    let response = user_tokens(
        state,
        &user,
        &app,
        &req.scope,
        raw_tenant,
        base,
        Family::New,
    )
    .await?;
    audit(
        state,
        &user.upn,
        "granted",
        addr,
        &format!("token for {}", req.scope.resource),
    )
    .await;
    Ok(response)
}

/// Checks a user's password, within `tenant` when one is named (else any
/// tenant: `organizations`/`common`). Failures are audited.
pub(in crate::directory) async fn authenticate(
    state: &AppState,
    tenant: Option<&TenantId>,
    username: &str,
    password: &str,
    addr: Option<SocketAddr>,
) -> Result<User, DirectoryError> {
    let user = state
        .meta
        .find_user_by_upn(username)
        .await
        .map_err(internal)?;
    let user = user.filter(|u| tenant.is_none_or(|t| *t == u.tenant_id));

    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let password = password.to_owned();
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
                username,
                "failed",
                addr,
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
            addr,
            "the user account is disabled",
        )
        .await;
        return Err(DirectoryError::UserDisabled);
    }
    Ok(user)
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
pub(in crate::directory) async fn audit(
    state: &AppState,
    upn: &str,
    decision: &str,
    client: Option<SocketAddr>,
    detail: &str,
) {
    crate::audit::Event::new(format!("user:{upn}"), "signin", decision)
        .client(client)
        .detail(Some(detail.into()))
        .record_best_effort(state)
        .await;
}
