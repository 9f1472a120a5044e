//! The `/acr/v1/` wire error: ACR's `AcrErrors`,
//! `{"errors":[{"code","message","detail"}]}` (acr-auth.md §4.3), the same
//! body as `/v2/`'s and rendered by the same function. The codes are ACR's
//! and distribution's, in one table; domain and routing errors map here
//! exhaustively. The gate renders its own 401/403 (with the challenge).

use acrylic_registry::RegistryError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::route::RouteError;

/// The codes this surface sends, with their usual status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    NameInvalid,
    NameUnknown,
    TagUnknown,
    ManifestUnknown,
    DigestInvalid,
    PaginationNumberInvalid,
    /// A query parameter or PATCH body this API does not accept: 400.
    InvalidRequest,
    /// Refused by `authorize` (403), or by a changeable attribute (405).
    Denied,
    /// No such method on the endpoint: 405.
    Unsupported,
    /// No such endpoint: 404.
    NotFound,
    /// A 500: the cause is logged, never sent.
    Unknown,
}

impl Code {
    pub const fn as_str(self) -> &'static str {
        self.row().0
    }

    pub const fn status(self) -> StatusCode {
        self.row().1
    }

    const fn row(self) -> (&'static str, StatusCode) {
        match self {
            Code::NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            Code::NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            Code::TagUnknown => ("TAG_UNKNOWN", StatusCode::NOT_FOUND),
            Code::ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            Code::DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            Code::PaginationNumberInvalid => ("PAGINATION_NUMBER_INVALID", StatusCode::BAD_REQUEST),
            Code::InvalidRequest => ("INVALID_REQUEST", StatusCode::BAD_REQUEST),
            Code::Denied => ("DENIED", StatusCode::FORBIDDEN),
            Code::Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Code::NotFound => ("NOT_FOUND", StatusCode::NOT_FOUND),
            Code::Unknown => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// One `/acr/v1/` error response.
#[derive(Debug)]
pub struct AcrError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub detail: Value,
    /// For a 500 (or a bug): the cause, for the log only.
    pub internal: Option<String>,
}

impl AcrError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            detail: Value::Null,
            internal: None,
        }
    }

    /// A generic 500; `cause` goes to the log with the correlation id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(Code::Unknown, "internal server error");
        e.internal = Some(cause.to_string());
        e
    }

    fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

impl IntoResponse for AcrError {
    fn into_response(self) -> Response {
        crate::oci::render_error(self.status, self.code.as_str(), &self.message, &self.detail)
    }
}

impl From<RegistryError> for AcrError {
    fn from(e: RegistryError) -> Self {
        let message = e.to_string();
        match e {
            RegistryError::NameUnknown { name } => {
                AcrError::new(Code::NameUnknown, message).with_detail(json!({ "name": name }))
            }
            RegistryError::TagUnknown { tag } => {
                AcrError::new(Code::TagUnknown, message).with_detail(json!({ "tag": tag }))
            }
            RegistryError::ManifestUnknown { reference } => {
                AcrError::new(Code::ManifestUnknown, message)
                    .with_detail(json!({ "reference": reference.to_string() }))
            }
            // ACR: "the operation is disallowed" on a locked repository, tag
            // or manifest; 405 as on `/v2/` (`oci/error.rs`).
            RegistryError::Disallowed(d) => {
                let mut e = AcrError::new(Code::Denied, message)
                    .with_detail(json!({ "attribute": d.attribute.as_str(), "path": d.on.path() }));
                e.status = StatusCode::METHOD_NOT_ALLOWED;
                e
            }
            RegistryError::PermitMismatch { .. } => {
                let mut e =
                    AcrError::new(Code::Denied, "requested access to the resource is denied");
                e.internal = Some(message);
                e
            }
            // Content and upload conditions: no `/acr/v1/` operation
            // produces them, so one here is a bug, logged as such.
            RegistryError::BlobUnknown { .. }
            | RegistryError::UploadUnknown
            | RegistryError::UploadInvalid(_)
            | RegistryError::RangeInvalid { .. }
            | RegistryError::RangeNotSatisfiable { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::ManifestBlobUnknown { .. }
            | RegistryError::ManifestInvalid(_)
            | RegistryError::ManifestUnsupported(_)
            | RegistryError::ManifestTooLarge { .. } => AcrError::internal(message),
            RegistryError::Meta(cause) => AcrError::internal(cause),
            RegistryError::Storage(cause) => AcrError::internal(cause),
        }
    }
}

impl From<RouteError> for AcrError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NameInvalid(m) => {
                AcrError::new(Code::NameInvalid, format!("invalid repository name: {m}"))
            }
            RouteError::DigestInvalid(m) => AcrError::new(Code::DigestInvalid, m),
            RouteError::TagUnknown(m) => AcrError::new(Code::TagUnknown, m),
            RouteError::PaginationInvalid(m) => AcrError::new(Code::PaginationNumberInvalid, m),
            RouteError::OrderByInvalid(m) => AcrError::new(Code::InvalidRequest, m),
            RouteError::NotFound => AcrError::new(Code::NotFound, "no such endpoint"),
            RouteError::MethodNotAllowed => {
                AcrError::new(Code::Unsupported, "method not allowed on this endpoint")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use acrylic_model::{RepositoryName, Tag};
    use acrylic_registry::{Attribute, Disallowed, Locked};

    use super::*;

    #[test]
    fn codes_and_statuses() {
        let tag = Tag::parse("v1").expect("tag");
        let e = AcrError::from(RegistryError::TagUnknown { tag });
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::NOT_FOUND, "TAG_UNKNOWN")
        );
        let name = RepositoryName::parse("a").expect("name");
        let e = AcrError::from(RegistryError::Disallowed(Disallowed {
            on: Locked::Repository(name),
            attribute: Attribute::Delete,
        }));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::METHOD_NOT_ALLOWED, Code::Denied)
        );
        assert!(e.message.contains("deleteEnabled"), "{}", e.message);
        assert_eq!(
            AcrError::from(RouteError::OrderByInvalid("x".into())).status,
            StatusCode::BAD_REQUEST
        );
        assert!(
            AcrError::from(RegistryError::Storage("disk".into()))
                .internal
                .is_some()
        );
    }
}
