//! Certificate credentials (Graph `keyCredential`, type
//! `AsymmetricX509Cert`): what the directory reads from an uploaded X.509
//! certificate, and how a client assertion's signature is checked with it.
//!
//! Only the public certificate ever reaches the server. It is parsed by
//! rustls-webpki (the same parser TLS uses); the validity period and the
//! key's algorithm are read from the DER with the small reader below
//! (RFC 5280 §4.1: `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
//! [0] version, serialNumber, signature, issuer, validity { notBefore,
//! notAfter }, subject, subjectPublicKeyInfo { algorithm, key } … } … }`).
//! Only RSA keys are accepted: client assertions are RS256 or PS256
//! (acr-auth.md §5.1).

use rustls::pki_types::CertificateDer;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use webpki::EndEntityCert;

/// `rsaEncryption` (1.2.840.113549.1.1.1), DER-encoded OID body.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A parsed public certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub der: Vec<u8>,
    /// Lowercase hex SHA-1 of the DER (JWT `x5t`, Graph `customKeyIdentifier`).
    pub sha1: String,
    /// Lowercase hex SHA-256 of the DER (JWT `x5t#S256`).
    pub sha256: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Why an uploaded certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the key is not a DER X.509 certificate: {0}")]
    Malformed(String),
    #[error("the certificate's key is not an RSA key; client assertions are signed RS256 or PS256")]
    NotRsa,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
        let owned = CertificateDer::from(der);
        EndEntityCert::try_from(&owned)
            .map_err(|e| CertificateError::Malformed(format!("{e:?}")))?;
        let facts = read_tbs(der).ok_or_else(|| {
            CertificateError::Malformed("cannot read its validity and key".into())
        })?;
        if !facts.rsa {
            return Err(CertificateError::NotRsa);
        }
        Ok(Certificate {
            der: der.to_vec(),
            sha1: hex::encode(sha1(der)),
            sha256: hex::encode(Sha256::digest(der)),
            not_before: facts.not_before,
            not_after: facts.not_after,
        })
    }
}

/// The signature algorithms of client assertions (acr-auth.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256 (MSAL with `x5t#S256`).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (MSAL with a SHA-1 thumbprint).
    Rs256,
}

/// Whether `signature` over `message` verifies with the certificate's key.
pub fn verify(der: &[u8], alg: AssertionAlgorithm, message: &[u8], signature: &[u8]) -> bool {
    let owned = CertificateDer::from(der);
    let Ok(cert) = EndEntityCert::try_from(&owned) else {
        return false;
    };
    let scheme = match alg {
        AssertionAlgorithm::Ps256 => webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        AssertionAlgorithm::Rs256 => webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    };
    cert.verify_signature(scheme, message, signature).is_ok()
}

/// SHA-1, for `x5t` only (a certificate's name, not a security boundary:
/// the signature is what is verified).
fn sha1(data: &[u8]) -> [u8; 20] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.as_ref());
    out
}

struct TbsFacts {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    rsa: bool,
}

/// One DER element: its tag, its contents and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn read_tbs(der: &[u8]) -> Option<TbsFacts> {
    const SEQUENCE: u8 = 0x30;
    let (tag, cert, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] EXPLICIT version, when present.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (_serial, _, rest) = element(rest)?;
    let (_signature, _, rest) = element(rest)?;
    let (_issuer, _, rest) = element(rest)?;
    let (tag, validity, rest) = element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (t1, nb, after) = element(validity)?;
    let (t2, na, _) = element(after)?;
    let (_subject, _, rest) = element(rest)?;
    let (tag, spki, _) = element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, algorithm, _) = element(spki)?;
    let (oid_tag, oid, _) = element(algorithm)?;
    Some(TbsFacts {
        not_before: time_of(t1, nb)?,
        not_after: time_of(t2, na)?,
        rsa: oid_tag == 0x06 && oid == RSA_ENCRYPTION,
    })
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime
/// (`YYYYMMDDHHMMSSZ`), RFC 5280 §4.1.2.5.
fn time_of(tag: u8, bytes: &[u8]) -> Option<OffsetDateTime> {
    let s = std::str::from_utf8(bytes).ok()?.strip_suffix('Z')?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i32>().ok();
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let field = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    let month = time::Month::try_from(u8::try_from(field(0)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(field(1)?).ok()?).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(field(2)?).ok()?,
        u8::try_from(field(3)?).ok()?,
        u8::try_from(field(4)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_cert(days: i64) -> (Vec<u8>, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
        let mut params = rcgen::CertificateParams::new(vec!["ci".into()]).expect("params");
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
        params.not_before = start;
        params.not_after = start + time::Duration::days(days);
        let cert = params.self_signed(&key).expect("self-signed");
        (cert.der().to_vec(), key)
    }

    #[test]
    fn reads_validity_thumbprints_and_key_kind() {
        let (der, _key) = rsa_cert(365);
        let c = Certificate::from_der(&der).expect("parses");
        assert_eq!(c.not_before.unix_timestamp(), 1_800_000_000);
        assert_eq!(c.not_after.unix_timestamp(), 1_800_000_000 + 365 * 86_400);
        assert_eq!(c.sha1.len(), 40);
        assert_eq!(c.sha256, hex::encode(Sha256::digest(&der)));

        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec key");
        let ec_cert = rcgen::CertificateParams::new(vec!["ec".into()])
            .expect("params")
            .self_signed(&ec)
            .expect("self-signed");
        assert_eq!(
            Certificate::from_der(ec_cert.der()),
            Err(CertificateError::NotRsa)
        );
        assert!(matches!(
            Certificate::from_der(b"not a certificate"),
            Err(CertificateError::Malformed(_))
        ));
    }

    #[test]
    fn times_of_both_kinds() {
        assert_eq!(
            time_of(0x17, b"491231235959Z").map(|t| t.year()),
            Some(2049)
        );
        assert_eq!(
            time_of(0x17, b"500101000000Z").map(|t| t.year()),
            Some(1950)
        );
        assert_eq!(
            time_of(0x18, b"99991231235959Z").map(|t| t.year()),
            Some(9999)
        );
        assert_eq!(time_of(0x18, b"2026130100000Z"), None);
        assert_eq!(time_of(0x17, b"491231235959"), None);
    }
}
