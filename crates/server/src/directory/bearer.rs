//! Directory access tokens presented as `Authorization: Bearer …` to the
//! control plane (ARM) and to Graph: one way to read the header, verify the
//! token (the tenant's pinned RS256 key, `exp`/`nbf`; a `kid` this replica
//! does not hold yet reloads the stored directory keys once — a key another
//! replica or a rotation made), check its issuer, and turn its claims into a
//! `Principal`. Each surface checks the audience it accepts and maps
//! [`BearerError`] to its own wire error.

use acrylic_authz::Principal;
use acrylic_tokens::{DirectoryClaims, TokenError};
use axum::http::{HeaderMap, header};

use super::{keys, v1_issuer};
use crate::AppState;

#[derive(Debug)]
pub enum BearerError {
    /// No `Authorization` header.
    Missing,
    /// Not `Bearer <token>`.
    Malformed,
    /// The token failed verification.
    Token(TokenError),
    /// Signed by a tenant's key, but not naming its v1 issuer.
    WrongIssuer(String),
    /// Not a user's or an application's token.
    InvalidClaims,
    /// The key store could not be read: a 500 (logged here).
    Internal,
}

/// The bearer token of the request.
pub fn token(headers: &HeaderMap) -> Result<&str, BearerError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(BearerError::Missing)?
        .to_str()
        .map_err(|_| BearerError::Malformed)?;
    match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            Ok(t.trim())
        }
        _ => Err(BearerError::Malformed),
    }
}

/// Verifies a directory access token and its issuer at `now` (unix
/// seconds, from the server's clock).
pub async fn verify(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<DirectoryClaims, BearerError> {
    let claims = match state.keys.verify_directory(token, now) {
        Err(TokenError::UnknownKey { .. }) => {
            keys::load(state).await.map_err(|e| {
                tracing::error!(error = %e, "reloading directory keys failed");
                BearerError::Internal
            })?;
            state.keys.verify_directory(token, now)
        }
        other => other,
    }
    .map_err(BearerError::Token)?;
    if claims.iss != v1_issuer(&claims.tid) {
        return Err(BearerError::WrongIssuer(
            claims.iss.chars().take(255).collect(),
        ));
    }
    Ok(claims)
}

/// The principal a directory token stands for: `idtyp` `user` is a user,
/// `app` a service principal (managed identities are app tokens too).
pub fn principal_of(c: DirectoryClaims) -> Result<Principal, BearerError> {
    match c.idtyp.as_str() {
        "user" => Ok(Principal::User {
            tenant: c.tid,
            oid: c.oid,
            upn: c.upn.unwrap_or(c.sub),
        }),
        "app" => {
            let app_id = c
                .appid
                .as_deref()
                .and_then(|a| uuid::Uuid::parse_str(a).ok())
                .ok_or(BearerError::InvalidClaims)?;
            Ok(Principal::ServicePrincipal {
                tenant: c.tid,
                oid: c.oid,
                app_id,
            })
        }
        _ => Err(BearerError::InvalidClaims),
    }
}

/// How refusals name the caller (Azure's AuthorizationFailed wording).
pub fn display_name(principal: &Principal) -> String {
    match principal {
        Principal::User { upn, .. } => upn.clone(),
        Principal::ServicePrincipal { app_id, .. } => app_id.to_string(),
        Principal::ManagedIdentity { client_id, .. } => client_id.to_string(),
        p
        @ (Principal::Anonymous | Principal::Admin { .. } | Principal::RepositoryToken { .. }) => {
            p.label()
        }
    }
}
