//! `/acr/v1/`'s route errors on the wire. ACR's `AcrErrors`,
//! `{"errors":[{"code","message","detail"}]}` (acr-auth.md §4.3), is the
//! `/v2/` error body: the codes (ACR's and distribution's, in one table),
//! the body and the mapping of registry errors are the data plane's
//! (`dataplane/error.rs`). The gate renders its own 401/403 (with the
//! challenge).

use super::route::RouteError;
use crate::dataplane::{Code, OciError};

impl From<RouteError> for OciError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NameInvalid(m) => {
                OciError::new(Code::NameInvalid, format!("invalid repository name: {m}"))
            }
            RouteError::DigestInvalid(m) => OciError::new(Code::DigestInvalid, m),
            RouteError::TagUnknown(m) => OciError::new(Code::TagUnknown, m),
            RouteError::PaginationInvalid(m) => OciError::new(Code::PaginationNumberInvalid, m),
            RouteError::OrderByInvalid(m) => OciError::new(Code::InvalidRequest, m),
            RouteError::NotFound => OciError::new(Code::NotFound, "no such endpoint"),
            RouteError::MethodNotAllowed => {
                OciError::new(Code::Unsupported, "method not allowed on this endpoint")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(
            OciError::from(RouteError::OrderByInvalid("x".into())).status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            OciError::from(RouteError::NotFound).code.as_str(),
            "NOT_FOUND"
        );
    }
}
