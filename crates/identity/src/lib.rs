//! The directory's domain (being written, #2).
/// Seals secrets with the master key.
pub struct Sealer;
/// Cache of verified credentials.
pub struct CredentialCache;
