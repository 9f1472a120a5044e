use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::InvalidName;

/// The digest algorithms the OCI image spec registers (image-spec descriptor.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Length of the hex encoding.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

/// A content digest `algorithm:hex`, lowercase hex of the exact length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| InvalidName::new("digest", "expected <algorithm>:<hex>"))?;
        let algorithm = match alg {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => {
                return Err(InvalidName::new(
                    "digest",
                    format!("unsupported algorithm {other:?}"),
                ));
            }
        };
        if hex.len() != algorithm.hex_len()
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(InvalidName::new(
                "digest",
                format!(
                    "{} needs {} lowercase hex characters",
                    algorithm.as_str(),
                    algorithm.hex_len()
                ),
            ));
        }
        Ok(Self {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// Builds a digest from raw hash output.
    pub fn from_bytes(algorithm: DigestAlgorithm, hash: &[u8]) -> Self {
        let mut hex = String::with_capacity(hash.len() * 2);
        for b in hash {
            hex.push_str(&format!("{b:02x}"));
        }
        Self { algorithm, hex }
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Digest::parse(&ok).map(|d| d.to_string()), Ok(ok));
        for bad in [
            "sha256:",
            "sha256:ABC",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            &format!("md5:{}", "a".repeat(32)),
            "nocolon",
            &format!("sha256:{}/..", "a".repeat(61)),
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
    }
}
