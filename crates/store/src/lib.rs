//! Storage: the two traits the domain talks to, and their adapters.
//!
//! - [`MetaStore`]: every piece of metadata (directory, RBAC, registries,
//!   repositories, manifests, tags, uploads, audit, signing keys). Adapters:
//!   SQLite (the embedded default) and PostgreSQL (scale-out), one SQL
//!   implementation over sqlx's `Any` driver with one migration set per backend.
//! - [`BlobStore`]: content-addressed bytes and upload staging. Adapter: the
//!   local file system through `object_store` (S3/Azure Blob come later
//!   through the same trait).
//!
//! Calls go one way: domain crates → these traits → sqlx / object_store.
//! The domain never sees a SQL row or an object-store path.

pub mod blob;
pub mod meta;

pub use blob::{BlobError, BlobStore, ByteStream, FsBlobStore};
pub use meta::*;
