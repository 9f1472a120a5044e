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

/// Entra's password policy for cloud accounts: 8 to 256 characters, with
/// at least three of lower-case letters, upper-case letters, digits and
/// symbols. Graph answers a weaker password with "The specified password
/// does not comply with password complexity requirements."
pub fn meets_complexity(password: &str) -> bool {
    let len = password.chars().count();
    if !(8..=256).contains(&len) {
        return false;
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
    ];
    classes.iter().filter(|c| **c).count() >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complexity_is_entras() {
        for ok in [
            "Passw0rd",
            "passw0rd!",
            "PASSWORD1!",
            "Aa1!Aa1!",
            "Correct-Horse-7",
        ] {
            assert!(meets_complexity(ok), "{ok}");
        }
        for bad in [
            "Pa1!",
            "password",
            "Password",
            "12345678!",
            "aaaaaaaaaaaa",
            "",
        ] {
            assert!(!meets_complexity(bad), "{bad}");
        }
        assert!(!meets_complexity(&format!("Aa1{}", "x".repeat(254))));
    }

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
