//! Directory refresh tokens (MSAL `offline_access`): opaque random strings,
//! stored only as SHA-256 digests, bound to one user, client and tenant.
//!
//! Lifecycle:
//! - a sign-in (password, device code) starts a *family*;
//! - every redemption rotates: the presented token is marked used (one
//!   winner under races) and a new one of the same family is issued;
//! - a used token presented again is a replay — someone holds a copy — so
//!   the whole family is deleted and both holders must sign in again;
//! - a token dies when its family's sign-in predates the user's
//!   `sessions_valid_after` (revoke-sessions, password reset, disable), when
//!   the user is deleted, when its client signs out ([`logout`]), or after
//!   [`REFRESH_TOKEN_LIFETIME`] without use (each rotation starts a new
//!   lifetime, as Entra's sliding window does).
//!
//! [`revoke_user`] is what every "sign this user out everywhere" path calls.

use std::collections::HashMap;

use acrylic_store::{DirectorySession, Tenant, User};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;

use super::client::ClientApp;
use super::error::json_response;
use super::token::{RequestedScope, read_form};
use super::{DirectoryError, internal};
use crate::AppState;

/// Entra's default: a refresh token unused for 90 days expires.
pub const REFRESH_TOKEN_LIFETIME: time::Duration = time::Duration::days(90);

/// Domain label of refresh-token digests (`acrylic_identity::opaque`).
const DIGEST_KIND: &str = "directory-refresh-token";

/// Whether minting starts a sign-in or continues one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    /// A new sign-in: a new family, signed in now.
    New,
    /// A refresh of `id`, whose sign-in happened at `auth_time`.
    Continue {
        id: uuid::Uuid,
        auth_time: OffsetDateTime,
    },
}

/// How a refresh token is stored: its SHA-256 under this directory's label.
pub fn digest(token: &str) -> String {
    acrylic_identity::opaque::digest(DIGEST_KIND, token)
}

/// Stores a new refresh token of `family` and returns it (the only time
/// the value exists outside the client).
pub(super) async fn issue(
    state: &AppState,
    user: &User,
    client: &ClientApp,
    scope: &RequestedScope,
    family: Family,
) -> Result<String, DirectoryError> {
    let now = state.clock.now();
    let (family_id, auth_time) = match family {
        Family::New => (uuid::Uuid::new_v4(), now),
        Family::Continue { id, auth_time } => (id, auth_time),
    };
    let token = acrylic_identity::opaque::generate_token();
    state
        .meta
        .insert_directory_session(&DirectorySession {
            token_hash: digest(&token),
            family_id,
            user_id: user.id,
            tenant_id: user.tenant_id,
            client_id: client.client_id.clone(),
            scope: scope.scopes.join(" "),
            auth_time,
            created_at: now,
            expires_at: now + REFRESH_TOKEN_LIFETIME,
            used_at: None,
        })
        .await
        .map_err(internal)?;
    Ok(token)
}

/// Redeems a refresh token presented by `client` at `tenant` (`None`:
/// `organizations`/`common`): checks it, marks it used and returns its
/// session and user. The caller issues the rotated token.
pub(super) async fn redeem(
    state: &AppState,
    token: &str,
    client: &ClientApp,
    tenant: Option<&Tenant>,
) -> Result<(DirectorySession, User), DirectoryError> {
    let invalid = DirectoryError::InvalidGrant {
        parameter: "refresh_token",
    };
    let now = state.clock.now();
    let hash = digest(token);
    let Some(session) = state
        .meta
        .find_directory_session(&hash)
        .await
        .map_err(internal)?
    else {
        return Err(invalid);
    };
    // Bound to its client and tenant: another client (or a request naming
    // another tenant) gets the same answer as an unknown token, and the
    // token is not consumed.
    if !session.client_id.eq_ignore_ascii_case(&client.client_id)
        || tenant.is_some_and(|t| t.id != session.tenant_id)
    {
        return Err(invalid);
    }
    if session.used_at.is_some() {
        kill_family(
            state,
            &session,
            "a rotated refresh token was presented again",
        )
        .await?;
        return Err(DirectoryError::RefreshTokenReplayed);
    }
    if session.expires_at <= now {
        return Err(DirectoryError::RefreshTokenExpired);
    }
    let user = match state
        .meta
        .find_user(&session.user_id)
        .await
        .map_err(internal)?
    {
        Some(u) if u.tenant_id == session.tenant_id => u,
        _ => {
            kill_family(state, &session, "the user no longer exists").await?;
            return Err(invalid);
        }
    };
    if session.auth_time < user.sessions_valid_after {
        kill_family(state, &session, "the user's sessions were revoked").await?;
        return Err(DirectoryError::RefreshTokenRevoked);
    }
    if !user.enabled {
        kill_family(state, &session, "the user is disabled").await?;
        return Err(DirectoryError::UserDisabled);
    }
    if !state
        .meta
        .mark_directory_session_used(&hash, now)
        .await
        .map_err(internal)?
    {
        // Another request redeemed it between our read and now: one of the
        // two is a copy.
        kill_family(
            state,
            &session,
            "a refresh token was redeemed twice at once",
        )
        .await?;
        return Err(DirectoryError::RefreshTokenReplayed);
    }
    Ok((session, user))
}

async fn kill_family(
    state: &AppState,
    session: &DirectorySession,
    why: &str,
) -> Result<(), DirectoryError> {
    let n = state
        .meta
        .delete_directory_session_family(&session.family_id)
        .await
        .map_err(internal)?;
    tracing::info!(user = %session.user_id, family = %session.family_id, tokens = n, why, "revoked a refresh-token family");
    Ok(())
}

/// Signs `user` out everywhere, now: every directory refresh token (and,
/// through `sessions_valid_after`, every token issued before — the
/// exchange refuses directory access tokens and registry refresh tokens
/// older than it) dies. Used by revoke-sessions, password reset, disable
/// and delete. Stores the updated user.
///
/// Tokens carry whole seconds (`iat`), so the instant is rounded up to the
/// next second — a token of the current second is ambiguous and dies — and
/// the call returns only once that second has begun, so every token issued
/// after it returns is valid everywhere.
pub async fn revoke_user(
    state: &AppState,
    user: &mut User,
) -> Result<(), acrylic_store::StoreError> {
    let now = state.clock.now();
    let whole = now.unix_timestamp() + i64::from(now.nanosecond() > 0);
    let instant = OffsetDateTime::from_unix_timestamp(whole).unwrap_or(now);
    // Never move the instant backwards (a clock step on another replica).
    if instant > user.sessions_valid_after {
        user.sessions_valid_after = instant;
    }
    state.meta.update_user(user).await?;
    state
        .meta
        .delete_directory_sessions_of_user(&user.id)
        .await?;
    let wait = user.sessions_valid_after - state.clock.now();
    if wait > time::Duration::ZERO && wait <= time::Duration::seconds(1) {
        tokio::time::sleep(wait.unsigned_abs()).await;
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/logout` with `client_id` and
/// `refresh_token`: the client signs out, and the token's whole family
/// dies. Like RFC 7009 revocation it answers 200 whether or not the token
/// was known (a caller learns nothing); only the client the token was
/// issued to can revoke it.
pub async fn logout(
    State(state): State<AppState>,
    Path(_tenant): Path<String>,
    request: Request,
) -> Result<Response, DirectoryError> {
    let form: HashMap<String, String> = read_form(request).await?;
    let client_id = super::token::required(&form, "client_id")?;
    let token = super::token::required(&form, "refresh_token")?;
    if let Some(session) = state
        .meta
        .find_directory_session(&digest(&token))
        .await
        .map_err(internal)?
        && session.client_id.eq_ignore_ascii_case(&client_id)
    {
        kill_family(&state, &session, "the client signed out").await?;
    }
    Ok(json_response(StatusCode::OK, &serde_json::json!({})))
}
