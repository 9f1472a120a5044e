//! The domain's one error enum. Variants name OCI dist-spec conditions so
//! the `/v2/` surface can map each to its error code and status exhaustively.

use acrylic_model::{Digest, Reference, RepositoryName, Tag};
use acrylic_store::{BlobError, StoreError};

use crate::attributes::Disallowed;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The blob is not linked into this repository (dist-spec BLOB_UNKNOWN).
    #[error("blob {digest} is unknown to this repository")]
    BlobUnknown { digest: Digest },
    /// No such upload session in this repository (BLOB_UPLOAD_UNKNOWN).
    #[error("upload unknown to this repository")]
    UploadUnknown,
    /// The upload failed for a reason other than its digest or offset, e.g.
    /// the request body broke off (BLOB_UPLOAD_INVALID).
    #[error("upload invalid: {0}")]
    UploadInvalid(String),
    /// A chunk did not start where the upload ends (dist-spec: 416, with the
    /// current `Range`). `current` is the number of bytes received so far.
    #[error("chunk out of order: the upload holds {current} bytes")]
    RangeInvalid { current: u64 },
    /// A `Range` request outside the blob (RFC 9110 §15.5.17: 416).
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// Content did not hash to the digest the client named (DIGEST_INVALID).
    #[error("digest mismatch: expected {expected}, content is {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// A manifest references a blob or child manifest that is not in this
    /// repository (MANIFEST_BLOB_UNKNOWN).
    #[error("manifest references {digest}, which is unknown to this repository")]
    ManifestBlobUnknown { digest: Digest },
    /// The manifest is malformed or self-contradictory (MANIFEST_INVALID).
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    /// A manifest media type this registry does not store (UNSUPPORTED).
    #[error("unsupported manifest media type {0:?}")]
    ManifestUnsupported(String),
    #[error("manifest {reference} is unknown to this repository")]
    ManifestUnknown { reference: Reference },
    /// Over the manifest size limit (dist-spec: 413, SIZE_INVALID).
    #[error("manifest is larger than {limit} bytes")]
    ManifestTooLarge { limit: usize },
    /// The repository does not exist (NAME_UNKNOWN).
    #[error("repository {name} is unknown")]
    NameUnknown { name: RepositoryName },
    /// No such tag (the `/acr/v1` tag endpoints; `/v2/` says
    /// MANIFEST_UNKNOWN for a tag).
    #[error("tag {tag} is unknown to this repository")]
    TagUnknown { tag: Tag },
    /// A changeable attribute refuses the operation (ACR: "the operation is
    /// disallowed"); the message says which and how to change it.
    #[error("{0}")]
    Disallowed(Disallowed),
    /// The caller passed a permit for a different action: a bug in the
    /// surface, refused rather than trusted (DENIED).
    #[error("the permit does not cover {needed}")]
    PermitMismatch { needed: &'static str },
    /// The metadata store failed; for the log only.
    #[error(transparent)]
    Meta(#[from] StoreError),
    /// The blob store failed; for the log only.
    #[error("blob storage: {0}")]
    Storage(String),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl From<BlobError> for RegistryError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NotFound(digest) => RegistryError::BlobUnknown { digest },
            BlobError::UploadNotFound(_) => RegistryError::UploadUnknown,
            BlobError::OffsetMismatch { current, .. } => RegistryError::RangeInvalid { current },
            BlobError::DigestMismatch { expected, actual } => {
                RegistryError::DigestMismatch { expected, actual }
            }
            BlobError::RangeNotSatisfiable { size } => RegistryError::RangeNotSatisfiable { size },
            BlobError::Body(io) => {
                RegistryError::UploadInvalid(format!("reading the request body: {io}"))
            }
            BlobError::Backend(msg) => RegistryError::Storage(msg),
        }
    }
}
