//! File-system adapter (being written, #2).
/// Blobs on the local file system.
pub struct FsBlobStore;
