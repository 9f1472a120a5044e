//! Opaque secrets the directory hands out and later recognises: refresh
//! tokens, device codes and the user codes people type (RFC 8628).
//!
//! They are random (the OS CSPRNG through rand's `ThreadRng`) and only their
//! SHA-256 digest is ever stored, so a copy of the database redeems nothing.
//! A fast hash is enough here, unlike passwords: the secrets carry 256 bits
//! (user codes ~43 bits, but they expire in minutes and only name a pending
//! request that still needs the user's own password).

use rand::RngCore;
use sha2::{Digest as _, Sha256};

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// User-code alphabet: upper-case letters and digits without the ones
/// people confuse when reading them aloud (0/O, 1/I/L, 5/S, 2/Z, 8/B, U/V).
const USER_CODE_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTWXY34679";

/// Characters of a user code (Entra's are nine, e.g. `GYBTHVYYB`).
pub const USER_CODE_LEN: usize = 9;

/// A fresh 256-bit secret, base64url without padding (43 characters).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    encode_base64url(&bytes)
}

/// A fresh user code of [`USER_CODE_LEN`] characters.
pub fn generate_user_code() -> String {
    let n = USER_CODE_ALPHABET.len();
    // Rejection sampling: only bytes below the largest multiple of the
    // alphabet size are used, so every symbol is equally likely.
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(USER_CODE_LEN);
    let mut rng = rand::rng();
    while out.len() < USER_CODE_LEN {
        let b = usize::from(rng.next_u32().to_le_bytes()[0]);
        if b < limit {
            out.push(char::from(USER_CODE_ALPHABET[b % n]));
        }
    }
    out
}

/// A user code as typed (any case, spaces or dashes) in the form it was
/// generated; `None` if it cannot be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Lowercase hex SHA-256 of a secret, with a domain label so a refresh
/// token's digest can never equal a device code's.
pub fn digest(kind: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update([0u8]);
    h.update(secret.as_bytes());
    let out = h.finalize();
    let mut hex = String::with_capacity(64);
    for b in out.iter() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    hex
}

fn encode_base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let idx = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(BASE64URL[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let all: Vec<String> = (0..200).map(|_| generate_token()).collect();
        assert!(all.iter().all(|t| t.len() == 43));
        assert!(
            all.iter()
                .all(|t| t.bytes().all(|b| BASE64URL.contains(&b)))
        );
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
        assert_eq!(encode_base64url(b"\xfb\xff"), "-_8");
        assert_eq!(encode_base64url(b"Man"), "TWFu");
    }

    #[test]
    fn user_codes_round_trip_through_typing() {
        for _ in 0..200 {
            let code = generate_user_code();
            assert_eq!(code.len(), USER_CODE_LEN);
            assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
            let typed = format!(" {}-{} ", &code[..4].to_lowercase(), &code[4..]);
            assert_eq!(normalize_user_code(&typed).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize_user_code("short"), None);
        assert_eq!(
            normalize_user_code("OOOOOOOOO"),
            None,
            "O is not in the alphabet"
        );
        assert_eq!(normalize_user_code(""), None);
    }

    #[test]
    fn digests_are_hex_and_separate_kinds() {
        let d = digest("refresh", "abc");
        assert_eq!(d.len(), 64);
        assert!(
            d.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(d, digest("refresh", "abc"));
        assert_ne!(d, digest("device", "abc"));
        assert_ne!(d, digest("refresh", "abd"));
    }
}
