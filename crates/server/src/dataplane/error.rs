//! The data plane's wire error: `{"errors":[{"code","message","detail"}]}`,
//! the dist-spec's error body ("Error Codes") and ACR's `AcrErrors`
//! (acr-auth.md §4.3), which are the same shape. One table of codes serves
//! `/v2/`, `/acr/v1/` and the gate, as distribution's errcode table serves
//! every endpoint of its API. Registry errors map here exhaustively; each
//! surface maps its own route errors (`oci/error.rs`, `acr_v1/error.rs`).

use acrylic_registry::RegistryError;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The error codes the data plane sends, with their usual status: the one
/// table. A few conditions use another status for the same code (413 for an
/// oversized manifest, 415 for an unsupported media type, 405 for a locked
/// attribute); those are chosen where the error is mapped, below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    /// ACR's code for a tag `/acr/v1/` does not know.
    TagUnknown,
    Unauthorized,
    /// Refused by `authorize` (403), or by a changeable attribute (405).
    Denied,
    /// No such method on the endpoint: 405.
    Unsupported,
    /// distribution's code for a bad `n`.
    PaginationNumberInvalid,
    /// distribution's code for an unsatisfiable or out-of-order range: 416.
    RangeInvalid,
    /// ACR's code for a query parameter or PATCH body `/acr/v1/` does not
    /// accept: 400.
    InvalidRequest,
    /// ACR's code for no such `/acr/v1/` endpoint: 404.
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
            Code::BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            Code::BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            Code::BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            Code::DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            Code::ManifestBlobUnknown => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            Code::ManifestInvalid => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            Code::ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            Code::NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            Code::NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            Code::SizeInvalid => ("SIZE_INVALID", StatusCode::BAD_REQUEST),
            Code::TagUnknown => ("TAG_UNKNOWN", StatusCode::NOT_FOUND),
            Code::Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Code::Denied => ("DENIED", StatusCode::FORBIDDEN),
            Code::Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Code::PaginationNumberInvalid => ("PAGINATION_NUMBER_INVALID", StatusCode::BAD_REQUEST),
            Code::RangeInvalid => ("RANGE_INVALID", StatusCode::RANGE_NOT_SATISFIABLE),
            Code::InvalidRequest => ("INVALID_REQUEST", StatusCode::BAD_REQUEST),
            Code::NotFound => ("NOT_FOUND", StatusCode::NOT_FOUND),
            Code::Unknown => ("UNKNOWN", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

/// One data-plane error response.
#[derive(Debug)]
pub struct OciError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub detail: Value,
    /// Extra headers (`Range`, `Content-Range`, `Location`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// For a 500 (or a bug): the cause, for the log only.
    pub internal: Option<String>,
}

impl OciError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
            internal: None,
        }
    }

    /// A generic 500; `cause` goes to the log with the correlation id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(Code::Unknown, "internal server error");
        e.internal = Some(cause.to_string());
        e
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(v) = HeaderValue::try_from(value) {
            self.headers.push((name, v));
        }
        self
    }
}

/// `{"errors":[{"code","message","detail"}]}` with `status`, as
/// `application/json`. The gate renders its 401/403 with this too.
pub(crate) fn render(status: StatusCode, code: Code, message: &str, detail: &Value) -> Response {
    let body = json!({
        "errors": [{
            "code": code.as_str(),
            "message": message,
            "detail": detail,
        }]
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let mut response = render(self.status, self.code, &self.message, &self.detail);
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<RegistryError> for OciError {
    fn from(e: RegistryError) -> Self {
        let message = e.to_string();
        match e {
            RegistryError::BlobUnknown { digest } => {
                OciError::new(Code::BlobUnknown, message).with_detail(json!({ "digest": digest }))
            }
            RegistryError::UploadUnknown => OciError::new(Code::BlobUploadUnknown, message),
            RegistryError::UploadInvalid(_) => OciError::new(Code::BlobUploadInvalid, message),
            // dist-spec end-5: 416 with the range received so far, so the
            // client can resume from there.
            RegistryError::RangeInvalid { current } => OciError::new(Code::RangeInvalid, message)
                .with_header(header::RANGE, upload_range(current)),
            // RFC 9110 §15.5.17: `Content-Range: bytes */<size>`.
            RegistryError::RangeNotSatisfiable { size } => {
                OciError::new(Code::RangeInvalid, message)
                    .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
            }
            RegistryError::DigestMismatch { expected, actual } => {
                OciError::new(Code::DigestInvalid, message)
                    .with_detail(json!({ "expected": expected, "actual": actual }))
            }
            RegistryError::ManifestBlobUnknown { digest } => {
                OciError::new(Code::ManifestBlobUnknown, message)
                    .with_detail(json!({ "digest": digest }))
            }
            RegistryError::ManifestInvalid(_) => OciError::new(Code::ManifestInvalid, message),
            RegistryError::ManifestUnsupported(_) => OciError::new(Code::Unsupported, message)
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            RegistryError::ManifestUnknown { reference } => {
                OciError::new(Code::ManifestUnknown, message)
                    .with_detail(json!({ "reference": reference.to_string() }))
            }
            // dist-spec end-7: a manifest over the limit gets 413.
            RegistryError::ManifestTooLarge { limit } => OciError::new(Code::SizeInvalid, message)
                .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                .with_detail(json!({ "limit": limit })),
            RegistryError::NameUnknown { name } => {
                OciError::new(Code::NameUnknown, message).with_detail(json!({ "name": name }))
            }
            // Only `/acr/v1/` names tags on their own (on `/v2/` a tag is a
            // manifest reference, MANIFEST_UNKNOWN above).
            RegistryError::TagUnknown { tag } => {
                OciError::new(Code::TagUnknown, message).with_detail(json!({ "tag": tag }))
            }
            // ACR: "the operation is disallowed" on a locked repository,
            // tag or manifest. 405 as distribution answers an operation the
            // registry has switched off; the message names the attribute
            // and how to set it back.
            RegistryError::Disallowed(d) => OciError::new(Code::Denied, message)
                .with_status(StatusCode::METHOD_NOT_ALLOWED)
                .with_detail(json!({ "attribute": d.attribute.as_str(), "path": d.on.path() })),
            RegistryError::PermitMismatch { .. } => {
                let mut e =
                    OciError::new(Code::Denied, "requested access to the resource is denied");
                e.internal = Some(message);
                e
            }
            RegistryError::Meta(cause) => OciError::internal(cause),
            RegistryError::Storage(cause) => OciError::internal(cause),
        }
    }
}

/// The `Range` header of an upload holding `size` bytes: `0-<last byte>`.
/// For an empty upload distribution sends `0-0`, and clients expect it.
pub fn upload_range(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use acrylic_model::{RepositoryName, Tag};
    use acrylic_registry::{Attribute, Disallowed, Locked};

    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(Code::ManifestBlobUnknown.status(), StatusCode::BAD_REQUEST);
        assert_eq!(Code::BlobUploadUnknown.as_str(), "BLOB_UPLOAD_UNKNOWN");
        let e = OciError::from(RegistryError::ManifestTooLarge { limit: 4 });
        assert_eq!(
            (e.status, e.code),
            (StatusCode::PAYLOAD_TOO_LARGE, Code::SizeInvalid)
        );
        let e = OciError::from(RegistryError::RangeInvalid { current: 10 });
        assert_eq!(e.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            e.headers,
            vec![(header::RANGE, HeaderValue::from_static("0-9"))]
        );
        assert_eq!(upload_range(0), "0-0");
    }

    #[test]
    fn metadata_conditions() {
        let tag = Tag::parse("v1").expect("tag");
        let e = OciError::from(RegistryError::TagUnknown { tag });
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::NOT_FOUND, "TAG_UNKNOWN")
        );
        let name = RepositoryName::parse("a").expect("name");
        let e = OciError::from(RegistryError::Disallowed(Disallowed {
            on: Locked::Repository(name),
            attribute: Attribute::Delete,
        }));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::METHOD_NOT_ALLOWED, Code::Denied)
        );
        assert!(e.message.contains("deleteEnabled"), "{}", e.message);
        assert!(
            OciError::from(RegistryError::Storage("disk".into()))
                .internal
                .is_some()
        );
    }
}
