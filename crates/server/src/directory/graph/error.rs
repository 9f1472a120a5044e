//! Graph's error shape (`{"error": {"code", "message", "innerError":
//! {"date", "request-id", "client-request-id"}}}`), with Graph's codes, so
//! az-like tools show our messages as they show Microsoft's. One table:
//! every variant's status, code and message in one exhaustive `match`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::reply;

/// Why a Graph request was refused.
#[derive(Debug)]
pub enum GraphError {
    /// No `Authorization: Bearer …` header.
    MissingToken,
    /// A token that does not verify (signature, expiry, issuer, kind).
    InvalidToken,
    /// A valid directory token for another resource.
    WrongAudience(String),
    /// `authorize` did not grant the operation.
    Forbidden {
        caller: String,
        action: &'static str,
        tenant: String,
    },
    /// No such user, group or member in the caller's tenant.
    NotFound(String),
    /// A malformed or invalid request, with Graph's message.
    BadRequest(String),
    /// `$filter` forms acrylic does not evaluate.
    UnsupportedQuery(String),
    /// The object is already a member of the group.
    AlreadyMember,
    Internal,
}

impl GraphError {
    fn entry(&self) -> (StatusCode, &'static str, String) {
        use GraphError as E;
        match self {
            E::MissingToken => (
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token is empty.".into(),
            ),
            E::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid or expired token.".into(),
            ),
            E::WrongAudience(aud) => (
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                format!(
                    "Access token validation failure. Invalid audience '{aud}': request a token for \
                     https://graph.microsoft.com."
                ),
            ),
            E::Forbidden {
                caller,
                action,
                tenant,
            } => (
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                format!(
                    "Insufficient privileges to complete the operation. '{caller}' does not have \
                     permission '{action}' in directory '{tenant}'. A directory role that grants it \
                     (such as User Administrator or Global Administrator) must be assigned at scope '/'."
                ),
            ),
            E::NotFound(id) => (
                StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects \
                     are not present."
                ),
            ),
            E::BadRequest(m) => (StatusCode::BAD_REQUEST, "Request_BadRequest", m.clone()),
            E::UnsupportedQuery(m) => (
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                m.clone(),
            ),
            E::AlreadyMember => (
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "One or more added object references already exist for the following modified \
                 properties: 'members'."
                    .into(),
            ),
            E::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "An internal server error occurred.".into(),
            ),
        }
    }
}

impl From<acrylic_store::StoreError> for GraphError {
    fn from(e: acrylic_store::StoreError) -> Self {
        tracing::error!(error = %e, "graph: metadata store failed");
        GraphError::Internal
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.entry();
        let id = uuid::Uuid::new_v4().to_string();
        let date = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut r = reply(
            status,
            &json!({"error": {
                "code": code,
                "message": message,
                "innerError": {"date": date, "request-id": id, "client-request-id": id},
            }}),
        );
        if status == StatusCode::UNAUTHORIZED
            && let Ok(v) = axum::http::HeaderValue::from_str(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{code}\""
            ))
        {
            r.headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_name_the_permission() {
        let (status, code, message) = GraphError::Forbidden {
            caller: "bob@acrylic.local".into(),
            action: "microsoft.directory/users/create",
            tenant: "t".into(),
        }
        .entry();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(code, "Authorization_RequestDenied");
        assert!(message.contains("microsoft.directory/users/create"));
        assert!(message.contains("bob@acrylic.local"));
    }
}
