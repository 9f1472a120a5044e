//! `/v2/`'s route errors on the wire. The codes, the error body and the
//! mapping of registry errors are the data plane's (`dataplane/error.rs`,
//! shared with `/acr/v1/`); the gate renders its own 401/403 (with the
//! challenge).

use axum::http::StatusCode;

use super::route::RouteError;
use crate::dataplane::{Code, OciError};

impl From<RouteError> for OciError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NameInvalid(m) => {
                OciError::new(Code::NameInvalid, format!("invalid repository name: {m}"))
            }
            RouteError::DigestInvalid(m) => OciError::new(Code::DigestInvalid, m),
            RouteError::TagInvalid(m) => OciError::new(Code::ManifestInvalid, m),
            RouteError::ManifestUnknown(m) => OciError::new(Code::ManifestUnknown, m),
            RouteError::UploadUnknown => {
                OciError::new(Code::BlobUploadUnknown, "upload unknown to this repository")
            }
            RouteError::PaginationInvalid(m) => OciError::new(Code::PaginationNumberInvalid, m),
            RouteError::NotFound => OciError::new(Code::NameUnknown, "no such endpoint")
                .with_status(StatusCode::NOT_FOUND),
            RouteError::MethodNotAllowed => {
                OciError::new(Code::Unsupported, "method not allowed on this endpoint")
            }
        }
    }
}
