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
    /// `client_id` is not a client this directory knows in the tenant: not
    /// a first-party public client, nor an application with a service
    /// principal there (AADSTS700016).
    UnknownClient { client_id: String, tenant: String },
    /// The grant is not served (`authorization_code`: acrylic has no
    /// browser sign-in page) (AADSTS70003).
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
    /// `client_credentials` with neither `client_secret` nor
    /// `client_assertion` (AADSTS7000216).
    MissingClientCredential,
    /// A `client_assertion_type` other than RFC 7523's JWT bearer.
    InvalidAssertionType(String),
    /// The secret is no secret of the application (AADSTS7000215).
    InvalidClientSecret { client_id: String },
    /// The secret was right, but its credential ended (AADSTS7000222):
    /// the message names the end and the command that renews it.
    ClientSecretExpired {
        client_id: String,
        key_id: uuid::Uuid,
        end: String,
    },
    /// The secret was right, but its credential has not started yet.
    ClientSecretNotYetValid {
        client_id: String,
        key_id: uuid::Uuid,
        start: String,
    },
    /// A certificate or federated client assertion was refused.
    InvalidClientAssertion(super::assertion::AssertionError),
    /// The application's service principal is disabled (AADSTS7000112).
    ServicePrincipalDisabled { client_id: String },
    /// `client_credentials` at `organizations`/`common` (AADSTS50059).
    TenantRequired,
    /// `client_credentials` with a scope other than `<resource>/.default`
    /// (AADSTS1002012).
    ScopeNotDefault(String),
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
            E::MissingClientCredential => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the \
                 'client_credentials' grant type."
                    .to_owned(),
            ),
            E::InvalidAssertionType(t) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                700004,
                format!(
                    "The client_assertion_type '{t}' is not supported; use \
                     'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'."
                ),
            ),
            E::InvalidClientSecret { client_id } => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is \
                     the client secret value, not the client secret ID, for a secret added to app \
                     '{client_id}'."
                ),
            ),
            E::ClientSecretExpired {
                client_id,
                key_id,
                end,
            } => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                format!(
                    "The provided client secret keys for app '{client_id}' are expired: the secret \
                     {key_id} expired at {end}. Create a new secret with \
                     `acrylic ad sp credential reset --id {client_id}`."
                ),
            ),
            E::ClientSecretNotYetValid {
                client_id,
                key_id,
                start,
            } => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000222,
                format!(
                    "The provided client secret {key_id} of app '{client_id}' is not valid before \
                     {start}."
                ),
            ),
            E::InvalidClientAssertion(a) => (
                if a.is_malformed() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::UNAUTHORIZED
                },
                if a.is_malformed() {
                    "invalid_request"
                } else {
                    "invalid_client"
                },
                a.code(),
                a.to_string(),
            ),
            E::ServicePrincipalDisabled { client_id } => (
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                7000112,
                format!("Application '{client_id}' is disabled."),
            ),
            E::TenantRequired => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any \
                 provided credentials: the client credentials grant needs a tenant id or domain \
                 in the path, not 'organizations' or 'common'."
                    .to_owned(),
            ),
            E::ScopeNotDefault(s) => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {s} is not valid. Client credential flows must \
                     have a scope value with /.default suffixed to the resource identifier \
                     (application ID URI)."
                ),
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
            DirectoryError::MissingClientCredential,
            DirectoryError::InvalidAssertionType("x".into()),
            DirectoryError::InvalidClientSecret {
                client_id: "a".into(),
            },
            DirectoryError::ClientSecretExpired {
                client_id: "a".into(),
                key_id: uuid::Uuid::nil(),
                end: "2027-01-01T00:00:00Z".into(),
            },
            DirectoryError::ClientSecretNotYetValid {
                client_id: "a".into(),
                key_id: uuid::Uuid::nil(),
                start: "2027-01-01T00:00:00Z".into(),
            },
            DirectoryError::InvalidClientAssertion(
                super::super::assertion::AssertionError::Replayed,
            ),
            DirectoryError::InvalidClientAssertion(
                super::super::assertion::AssertionError::Malformed("x".into()),
            ),
            DirectoryError::ServicePrincipalDisabled {
                client_id: "a".into(),
            },
            DirectoryError::TenantRequired,
            DirectoryError::ScopeNotDefault("x".into()),
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
