//! Slow password hashes (argon2id, default parameters: m=19 MiB, t=2, p=1)
//! for secrets that are only ever verified, never shown again: user
//! passwords, client secrets, repository-token passwords.
//!
//! A verify costs about 10 ms of CPU (DEPENDENCIES.md §5), so callers put a
//! [`crate::CredentialCache`] in front of it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct HashError(String);

/// Hashes `password` with a fresh random salt into a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc`. A malformed hash is a
/// mismatch, never an error the caller could mistake for success. The
/// comparison inside argon2 is constant-time.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("", &h));
    }

    #[test]
    fn salts_differ_and_garbage_hashes_never_verify() {
        let a = hash("same").unwrap();
        let b = hash("same").unwrap();
        assert_ne!(a, b);
        assert!(verify("same", &a) && verify("same", &b));
        assert!(!verify("same", "not a phc string"));
        assert!(!verify("same", ""));
        assert!(!verify("same", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA"));
    }
}
