//! The directory's wire errors, in Microsoft identity platform shape
//! (acr-auth.md §5.1): `{"error", "error_description": "AADSTS…: …",
//! "error_codes": [n], "timestamp", "trace_id", "correlation_id"}`.
//!
//! One table: each variant names its OAuth `error`, AADSTS code, status and
//! message, in one exhaustive `match`. MSAL and azure-identity show
//! `error_description` to users, so the texts are Entra's.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

/// Why the directory refused a request.
#[derive(Debug)]
pub enum DirectoryError {
    /// A required form field is missing (AADSTS900144).
    MissingParameter(&'static str),
    /// The form body could not be parsed (AADSTS900144's sibling, 90014).
    MalformedBody,
    /// `client_id` is not a first-party public client this directory knows
    /// (AADSTS700016).
    UnknownClient { client_id: String, tenant: String },
    /// The grant is not served (client credentials arrive with issue #4)
    /// (AADSTS70003).
    UnsupportedGrant(String),
    /// No usable `<resource>/.default` scope (AADSTS70011).
    InvalidScope(String),
    /// A resource this directory issues no tokens for (AADSTS500011).
    UnknownResource { resource: String, tenant: String },
    /// The tenant path segment names no tenant (AADSTS90002).
    TenantNotFound(String),
    /// Unknown user, user of another tenant, or wrong password — one
    /// answer for all three, so sign-in does not reveal who exists
    /// (AADSTS50126).
    InvalidCredentials,
    /// The password was right but the account is disabled (AADSTS50057).
    UserDisabled,
    /// A refresh token or device code that is unknown, tampered with, or
    /// belongs to another client or tenant — one answer for all, so a
    /// guesser learns nothing (AADSTS70000).
    InvalidGrant { parameter: &'static str },
    /// The refresh token's lifetime is over (AADSTS700082).
    RefreshTokenExpired,
    /// The refresh token was issued before the user's sessions were
    /// revoked (sign-out, revoke-sessions, password reset) (AADSTS50173).
    RefreshTokenRevoked,
    /// An already-redeemed refresh token was presented again: its whole
    /// family has been revoked (AADSTS70000, Entra's answer to replay).
    RefreshTokenReplayed,
    /// Device flow: the user has not approved yet (RFC 8628 §3.5,
    /// AADSTS70016).
    AuthorizationPending,
    /// Device flow: polling faster than `interval`; the new interval is
    /// given (RFC 8628 §3.5).
    SlowDown { interval: u32 },
    /// Device flow: the code expired before approval (AADSTS70020).
    ExpiredToken,
    /// Device flow: the user declined (RFC 8628 §3.5).
    AccessDenied,
    /// Something failed on our side; the cause is logged, not sent.
    Internal,
}

struct Entry {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

impl DirectoryError {
    fn entry(&self) -> Entry {
        use DirectoryError as E;
        let (status, error, code, description) = match self {
            E::MissingParameter(p) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{p}'."),
            ),
            E::MalformedBody => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90014,
                "The request body is not a valid application/x-www-form-urlencoded form."
                    .to_owned(),
            ),
            E::UnknownClient { client_id, tenant } => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
                     This can happen if the application has not been installed by the administrator of the \
                     tenant or consented to by any user in the tenant."
                ),
            ),
            E::UnsupportedGrant(g) => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{g}'."),
            ),
            E::InvalidScope(s) => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope '{s}' is not valid."
                ),
            ),
            E::UnknownResource { resource, tenant } => (
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {resource} was not found in the tenant named {tenant}. \
                     This can happen if the application has not been installed by the administrator of the \
                     tenant or consented to by any user in the tenant."
                ),
            ),
            E::TenantNotFound(t) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{t}' not found. Check to make sure you have the correct tenant ID and are \
                     signing into the correct cloud."
                ),
            ),
            E::InvalidCredentials => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.".to_owned(),
            ),
            E::UserDisabled => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                50057,
                "The user account is disabled.".to_owned(),
            ),
            E::InvalidGrant { parameter } => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                70000,
                format!(
                    "The provided value for the input parameter '{parameter}' is not valid. \
                     It is unknown, malformed, or was issued to another client or tenant."
                ),
            ),
            E::RefreshTokenExpired => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. Sign in again.".to_owned(),
            ),
            E::RefreshTokenRevoked => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. \
                 The user might have signed out, changed or reset their password, or had their sessions revoked."
                    .to_owned(),
            ),
            E::RefreshTokenReplayed => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                70000,
                "The refresh token was already redeemed. As a precaution every refresh token of this \
                 sign-in has been revoked; sign in again."
                    .to_owned(),
            ),
            E::AuthorizationPending => (
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".to_owned(),
            ),
            E::SlowDown { interval } => (
                StatusCode::BAD_REQUEST,
                "slow_down",
                70016,
                format!(
                    "OAuth 2.0 device flow error. Polling too fast: wait at least {interval} seconds \
                     between requests."
                ),
            ),
            E::ExpiredToken => (
                StatusCode::BAD_REQUEST,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device \
                 code has expired. Start the sign-in again."
                    .to_owned(),
            ),
            E::AccessDenied => (
                StatusCode::BAD_REQUEST,
                "access_denied",
                65004,
                "The user declined the sign-in on the device login page.".to_owned(),
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                50000,
                "There was an error issuing a token or an issue with our sign-in service."
                    .to_owned(),
            ),
        };
        Entry {
            status,
            error,
            code,
            description,
        }
    }
}

#[derive(Serialize)]
struct Body {
    error: &'static str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: String,
    trace_id: String,
    correlation_id: String,
}

impl IntoResponse for DirectoryError {
    fn into_response(self) -> Response {
        let e = self.entry();
        let trace_id = uuid::Uuid::new_v4().to_string();
        let body = Body {
            error: e.error,
            error_description: format!("AADSTS{}: {}", e.code, e.description),
            error_codes: [e.code],
            timestamp: timestamp(),
            correlation_id: trace_id.clone(),
            trace_id,
        };
        json_response(e.status, &body)
    }
}

/// Entra's timestamp form: `2026-12-01 14:20:26Z`.
fn timestamp() -> String {
    let f = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    OffsetDateTime::now_utc().format(f).unwrap_or_default()
}

/// A JSON response as the identity platform sends it: UTF-8, never cached.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, no-cache"),
            );
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_an_aadsts_code_and_a_4xx_or_500() {
        for e in [
            DirectoryError::MissingParameter("grant_type"),
            DirectoryError::MalformedBody,
            DirectoryError::UnknownClient {
                client_id: "x".into(),
                tenant: "t".into(),
            },
            DirectoryError::UnsupportedGrant("x".into()),
            DirectoryError::InvalidScope("x".into()),
            DirectoryError::UnknownResource {
                resource: "r".into(),
                tenant: "t".into(),
            },
            DirectoryError::TenantNotFound("t".into()),
            DirectoryError::InvalidCredentials,
            DirectoryError::UserDisabled,
            DirectoryError::InvalidGrant {
                parameter: "refresh_token",
            },
            DirectoryError::RefreshTokenExpired,
            DirectoryError::RefreshTokenRevoked,
            DirectoryError::RefreshTokenReplayed,
            DirectoryError::AuthorizationPending,
            DirectoryError::SlowDown { interval: 10 },
            DirectoryError::ExpiredToken,
            DirectoryError::AccessDenied,
            DirectoryError::Internal,
        ] {
            let entry = e.entry();
            assert!(entry.code > 0);
            assert!(
                entry.status.is_client_error() || entry.status == StatusCode::INTERNAL_SERVER_ERROR
            );
            assert!(entry.description.ends_with('.'), "{}", entry.description);
        }
        assert_eq!(DirectoryError::InvalidCredentials.entry().code, 50126);
        assert_eq!(
            DirectoryError::InvalidCredentials.entry().error,
            "invalid_grant"
        );
    }
}
