//! The directory's domain: secrets at rest and credential checks.
//!
//! This crate owns how secrets are kept and compared, never how they travel:
//! - [`Sealer`]: authenticated encryption (AES-256-GCM) under the server's
//!   master key, for secrets that must be shown again (admin passwords, per
//!   ACR's `listCredentials`) and for token signing keys;
//! - [`password`]: slow hashes (argon2id) for secrets that are only verified;
//! - [`admin`]: generation of admin-user passwords;
//! - [`opaque`]: refresh tokens, device codes and user codes — random
//!   secrets stored only as SHA-256 digests (issue #3);
//! - [`CredentialCache`]: a short-lived cache of verified credentials, so the
//!   slow hash is not paid on every `/oauth2/token` request (docker sends
//!   Basic credentials on each one).
//!
//! No I/O except [`Sealer::load_or_create`], which reads or creates the
//! master-key file. Callers (the server) load stored secrets and pass them in.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin;
mod cache;
pub mod opaque;
pub mod password;
mod seal;

pub use cache::{CacheKey, CredentialCache};
pub use seal::{SealError, Sealer};

/// Compares two secrets in time independent of where they differ.
/// Lengths are not secret (a length mismatch returns early).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
