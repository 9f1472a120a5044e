//! Token keys and claims (being written, #2).
/// Signing keys.
pub struct KeyRing;
