//! Key material: generation, key ids, and the DER plumbing jsonwebtoken
//! needs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::TokenError;

/// The algorithms acrylic signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 / SHA-256: registry tokens (signs ~15× faster than RSA;
    /// clients never verify registry tokens, DESIGN.md "Tokens").
    ES256,
    /// RSA PKCS#1 v1.5 / SHA-256: directory tokens, as Entra signs them.
    RS256,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

/// A private key with its id. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    /// Unencrypted PKCS#8 (v1) DER. Seal it before it leaves memory.
    pub pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A fresh P-256 key for registry tokens, with a libtrust `kid`.
pub fn generate_es256() -> Result<KeyMaterial, TokenError> {
    let crypto = |e: aws_lc_rs::error::Unspecified| TokenError::Crypto(e.to_string());
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(crypto)?;
    let spki = pair.public_key().as_der().map_err(crypto)?;
    let pkcs8 = pair.to_pkcs8v1().map_err(crypto)?;
    Ok(KeyMaterial {
        kid: libtrust_kid(spki.as_ref()),
        algorithm: SigningAlgorithm::ES256,
        pkcs8_der: pkcs8.as_ref().to_vec(),
    })
}

/// A fresh RSA-2048 key for directory tokens; `kid` = the base64url
/// SHA-256 JWK thumbprint (RFC 7638).
pub fn generate_rs256() -> Result<KeyMaterial, TokenError> {
    let crypto = |e: aws_lc_rs::error::Unspecified| TokenError::Crypto(e.to_string());
    let pair =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(crypto)?;
    let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'static> = pair.as_der().map_err(crypto)?;
    let pkcs8 = pkcs8.as_ref().to_vec();
    let jwk = public_jwk(SigningAlgorithm::RS256, &pkcs8)?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
    Ok(KeyMaterial {
        kid,
        algorithm: SigningAlgorithm::RS256,
        pkcs8_der: pkcs8,
    })
}

/// The docker/libtrust key id of a public key: base32 (RFC 4648, no
/// padding) of the first 30 bytes of SHA-256 over the DER
/// SubjectPublicKeyInfo, in 12 groups of 4 joined by `:` — the form ACR's
/// `kid` takes (acr-auth.md §2.3) and docker-registry's token auth reads.
pub fn libtrust_kid(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let bytes = &digest.as_ref()[..30];
    // 30 bytes = 240 bits = exactly 48 base32 symbols.
    let mut symbols = Vec::with_capacity(48);
    for chunk in bytes.chunks(5) {
        let mut acc: u64 = 0;
        for &b in chunk {
            acc = (acc << 8) | u64::from(b);
        }
        for i in (0..8).rev() {
            symbols.push(ALPHABET[((acc >> (i * 5)) & 0x1f) as usize]);
        }
    }
    symbols
        .chunks(4)
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The signing key jsonwebtoken wants: PKCS#8 for EC, the inner PKCS#1
/// `RSAPrivateKey` for RSA.
pub(crate) fn encoding_key(alg: SigningAlgorithm, pkcs8: &[u8]) -> Result<EncodingKey, TokenError> {
    match alg {
        SigningAlgorithm::ES256 => {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            Ok(EncodingKey::from_ec_der(pkcs8))
        }
        SigningAlgorithm::RS256 => {
            aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            let pkcs1 = pkcs8_private_key(pkcs8)
                .ok_or_else(|| TokenError::InvalidKey("not a PKCS#8 PrivateKeyInfo".into()))?;
            Ok(EncodingKey::from_rsa_der(pkcs1))
        }
    }
}

/// The public half as a JWK (no `kid` yet).
pub(crate) fn public_jwk(alg: SigningAlgorithm, pkcs8: &[u8]) -> Result<Jwk, TokenError> {
    let key = encoding_key(alg, pkcs8)?;
    Jwk::from_encoding_key(&key, alg.jwt()).map_err(|e| TokenError::InvalidKey(e.to_string()))
}

/// The `privateKey` OCTET STRING of a PKCS#8 v1 `PrivateKeyInfo`
/// (RFC 5208 §5): SEQUENCE { INTEGER version, SEQUENCE algorithm,
/// OCTET STRING privateKey, … }.
fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_item(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, rest) = der_item(body)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, _, rest) = der_item(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, key, _) = der_item(rest)?;
    (tag == 0x04).then_some(key)
}

/// One DER TLV: (tag, contents, the bytes after it).
fn der_item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_kid_shape() {
        let kid = libtrust_kid(b"any bytes");
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12, "{kid}");
        assert!(groups.iter().all(|g| g.len() == 4), "{kid}");
        assert!(
            kid.bytes()
                .all(|b| b == b':' || b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
        );
        assert_ne!(kid, libtrust_kid(b"other bytes"));
    }

    #[test]
    fn libtrust_kid_known_value() {
        // SHA-256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 27ae41e4 649b934c
        // a495991b 7852b855; base32 of its first 30 bytes (checked with Python):
        assert_eq!(
            libtrust_kid(b""),
            "4OYM:IQUY:7QOB:JGX3:6TEJ:S35Z:EQT2:4QPE:MSNZ:GTFE:SWMR:W6CS"
        );
    }

    #[test]
    fn generated_keys_round_trip_and_ids() {
        let es = generate_es256().unwrap();
        assert_eq!(es.kid.len(), 59);
        assert!(encoding_key(es.algorithm, &es.pkcs8_der).is_ok());
        let rs = generate_rs256().unwrap();
        assert_eq!(rs.kid.len(), 43, "base64url SHA-256: {}", rs.kid);
        assert!(encoding_key(rs.algorithm, &rs.pkcs8_der).is_ok());
        assert!(
            !format!("{es:?}").contains("pkcs8"),
            "Debug must not show the key"
        );
        // a key of one kind is not accepted as the other
        assert!(encoding_key(SigningAlgorithm::RS256, &es.pkcs8_der).is_err());
        assert!(encoding_key(SigningAlgorithm::ES256, &rs.pkcs8_der).is_err());
        assert!(encoding_key(SigningAlgorithm::ES256, b"junk").is_err());
    }
}
