//! Token keys and claims: the key ring (kid → key, pinned algorithm per
//! purpose, rotation), minting and verifying JWTs, and JWKS.
//!
//! Pure: no I/O and no clock. Callers pass `now` (Unix seconds) and load or
//! store keys themselves (the server keeps them sealed in the MetaStore).
//!
//! Two purposes, each pinned to one algorithm so a token can never be
//! verified with an algorithm its issuer did not choose (`alg: none`, HS256
//! with a public key as secret, …):
//! - registry tokens — ACR refresh and access tokens (acr-auth.md §2.3,
//!   §3.5) — ES256, one key ring for the server, `kid` in docker/libtrust
//!   form;
//! - directory tokens — Entra-style access tokens (acr-auth.md §5.3) —
//!   RS256, keys per tenant, `kid` = JWK thumbprint.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod claims;
mod keys;
mod ring;

pub use claims::{
    ACCESS_TOKEN_LIFETIME, ANONYMOUS_TOKEN_LIFETIME, AccessClaims, AccessEntry, AcrylicClaim,
    DirectoryClaims, ISSUER, PrincipalClaim, REFRESH_TOKEN_LIFETIME, RefreshClaims,
    RefreshPermissions,
};
pub use keys::{KeyMaterial, SigningAlgorithm, generate_es256, generate_rs256, libtrust_kid};
pub use ring::{KeyRing, LEEWAY, Purpose};

/// Why a token was refused or could not be made. Each refusal has its own
/// variant so logs and tests can tell them apart; clients only ever see a
/// generic 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm other than the one pinned for this
    /// purpose (`none`, `HS256`, …).
    #[error("algorithm {found} is not accepted for {purpose} tokens")]
    Algorithm {
        found: String,
        purpose: &'static str,
    },
    #[error("no {purpose} key with kid {kid:?}")]
    UnknownKey {
        kid: Option<String>,
        purpose: &'static str,
    },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired at {exp}")]
    Expired { exp: i64 },
    #[error("token not valid before {nbf}")]
    NotYetValid { nbf: i64 },
    #[error("token audience {found:?} is not {expected:?}")]
    WrongAudience { found: String, expected: String },
    /// A refresh token presented where an access token is needed, or the
    /// other way round.
    #[error("token is a {found} token, expected {expected}")]
    WrongKind {
        found: String,
        expected: &'static str,
    },
    /// A directory token whose `tid` is not the tenant of its signing key.
    #[error("token tenant {found} is not the signing key's tenant")]
    WrongTenant { found: String },
    #[error("claims do not match the expected shape: {0}")]
    Claims(String),
    #[error("no active {purpose} signing key")]
    NoSigningKey { purpose: &'static str },
    #[error("invalid key material: {0}")]
    InvalidKey(String),
    #[error("key generation or signing failed: {0}")]
    Crypto(String),
}
