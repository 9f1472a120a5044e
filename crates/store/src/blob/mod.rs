//! Content-addressed blob bytes and upload staging.
//!
//! Key layout (documented once, here; distribution's paths.go is the model):
//! - `blobs/<alg>/<first two hex>/<hex>` — a committed blob. Written only by
//!   an atomic rename (or a put-if-absent) after its digest was verified, so a
//!   crash can never leave a partial blob under this prefix.
//!   (The file-system adapter's put-if-absent stages its write as
//!   `<hex>#<n>` beside the target; such a name is never a blob key.)
//! - `uploads/<upload id>` — the bytes of an upload in progress. Appended to
//!   by PATCH/PUT, moved to `blobs/…` on commit, removed on cancel or by the
//!   janitor. Never served.

use std::ops::Range;
use std::pin::Pin;

use acrylic_model::{Digest, UploadId};
use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

mod fs;
pub use fs::FsBlobStore;

pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(Digest),
    #[error("upload {0} not found")]
    UploadNotFound(UploadId),
    /// A chunk did not start where the upload ends (OCI: 416).
    #[error("upload is at offset {current}, chunk starts at {requested}")]
    OffsetMismatch { current: u64, requested: u64 },
    #[error("digest mismatch: expected {expected}, content is {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("requested range is not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    /// Reading the request body failed (client went away, …).
    #[error("reading the request body: {0}")]
    Body(std::io::Error),
    #[error("blob storage: {0}")]
    Backend(String),
}

pub type BlobResult<T> = std::result::Result<T, BlobError>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Size of a committed blob.
    async fn stat(&self, digest: &Digest) -> BlobResult<Option<u64>>;
    /// Streams a committed blob, or a byte range of it (end exclusive).
    /// The range must be non-empty and lie within the blob
    /// (`start < end <= size`), else `RangeNotSatisfiable`: clamp an HTTP
    /// range to the size first (RFC 9110 §14.1.2).
    async fn get(&self, digest: &Digest, range: Option<Range<u64>>) -> BlobResult<ByteStream>;
    /// Stores small content whose digest the caller computed (manifests):
    /// verifies `digest` against `bytes`, then writes atomically.
    async fn put_verified(&self, digest: &Digest, bytes: Bytes) -> BlobResult<()>;
    async fn delete(&self, digest: &Digest) -> BlobResult<bool>;

    /// Opens an empty staging area for an upload.
    async fn upload_create(&self, id: &UploadId) -> BlobResult<()>;
    /// Current staged size (survives restarts; any replica can answer).
    async fn upload_size(&self, id: &UploadId) -> BlobResult<u64>;
    /// Appends `body` at `offset`, which must equal the current size.
    /// Streams: never holds the body in memory. Returns the new size.
    async fn upload_append(&self, id: &UploadId, offset: u64, body: ByteStream) -> BlobResult<u64>;
    /// Verifies the staged bytes hash to `expected` and makes them the blob
    /// `expected`, atomically; the staging area is gone afterwards. On a
    /// mismatch the staging area is removed too and nothing becomes visible.
    /// Returns the blob's size.
    async fn upload_commit(&self, id: &UploadId, expected: &Digest) -> BlobResult<u64>;
    /// Removes the staging area; `UploadNotFound` if there was none.
    async fn upload_abort(&self, id: &UploadId) -> BlobResult<()>;
}
