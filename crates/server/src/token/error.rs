//! The token service's wire errors. ACR answers with its AcrErrors body
//! (`{"errors":[{"code","message","detail"}]}`), which docker, skopeo and
//! podman print as `unauthorized: <message>` (acr-auth.md §3.2, §8); the
//! same body also carries OAuth's `error`/`error_description` (RFC 6749
//! §5.2) for OAuth-minded clients. Causes of internal errors stay in the
//! log.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// ACR's message for missing or wrong credentials (acr-auth.md §8).
pub const AUTH_REQUIRED: &str =
    "authentication required, visit https://aka.ms/acr/authorization for more information.";

/// A refused token request.
#[derive(Debug)]
pub struct TokenFailure {
    status: StatusCode,
    code: &'static str,
    oauth: &'static str,
    message: String,
}

impl TokenFailure {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_REQUEST",
            oauth: "invalid_request",
            message: message.into(),
        }
    }

    pub fn unsupported_grant(grant: &str) -> Self {
        let grant: String = grant.chars().take(64).collect();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "UNSUPPORTED",
            oauth: "unsupported_grant_type",
            message: format!(
                "grant_type {grant:?} is not supported here; use password or refresh_token"
            ),
        }
    }

    /// `unsupported_grant_type` with a message of the caller's (the
    /// exchange names the grant to use instead).
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "UNSUPPORTED",
            oauth: "unsupported_grant_type",
            message: message.into(),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            oauth: "invalid_grant",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            oauth: "invalid_request",
            message: message.into(),
        }
    }

    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "UNKNOWN",
            oauth: "server_error",
            message: "internal server error".into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for TokenFailure {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{"code": self.code, "message": self.message, "detail": null}],
            "error": self.oauth,
            "error_description": self.message,
        });
        (
            self.status,
            [(CONTENT_TYPE, super::JSON_UTF8)],
            body.to_string(),
        )
            .into_response()
    }
}
