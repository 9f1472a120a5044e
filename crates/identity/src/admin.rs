//! Admin-user passwords (acr-auth.md §6.5).
//!
//! Always server-generated (ARM has no field to supply one, §8). They are
//! sealed, not hashed, because `listCredentials` shows them again; a login
//! opens the stored value (microseconds) and compares in constant time.
//!
//! Format: ACR's current 52-character shape — 42 base64 characters, the
//! signature `+ACR`, one of `A`–`D`, then 5 base64 characters — so tools and
//! people that recognise ACR keys by shape recognise these. Unlike Microsoft's
//! identifiable keys, the tail is random rather than a Marvin32 checksum:
//! 42 + 5 random base64 characters plus the 2-bit letter carry 284 bits of
//! randomness.

use rand::RngCore;

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The length of every generated password.
pub const PASSWORD_LEN: usize = 52;

/// A fresh admin password from the operating system's CSPRNG (via rand's
/// `ThreadRng`, reseeded from the OS).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    // 64 symbols: the low 6 bits of a uniform byte are uniform, no bias.
    let sym = |b: u8| char::from(BASE64[usize::from(b & 0x3f)]);
    let mut out = String::with_capacity(PASSWORD_LEN);
    out.extend(bytes[..42].iter().map(|&b| sym(b)));
    out.push_str("+ACR");
    out.push(char::from(b'A' + (bytes[42] & 0x03)));
    out.extend(bytes[43..48].iter().map(|&b| sym(b)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn passwords_have_the_acr_shape() {
        for _ in 0..200 {
            let p = generate_password();
            assert_eq!(p.len(), PASSWORD_LEN, "{p}");
            assert_eq!(&p[42..46], "+ACR", "{p}");
            assert!(matches!(p.as_bytes()[46], b'A'..=b'D'), "{p}");
            assert!(p.bytes().all(|b| BASE64.contains(&b)), "{p}");
        }
    }

    #[test]
    fn passwords_are_unique_and_use_the_whole_alphabet() {
        let all: Vec<String> = (0..500).map(|_| generate_password()).collect();
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        let used: HashSet<u8> = all
            .iter()
            .flat_map(|p| p[..42].bytes().collect::<Vec<_>>())
            .collect();
        assert_eq!(
            used.len(),
            64,
            "all base64 symbols should occur in 21000 draws"
        );
    }
}
