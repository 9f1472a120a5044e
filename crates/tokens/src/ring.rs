//! The key ring: every signing key the server holds, by `kid`, with its
//! purpose (and tenant, for directory keys) and the algorithm pinned to
//! that purpose.
//!
//! Rotation: a new key is added with `active_from` in the future, so it is
//! published in the JWKS before anything is signed with it; the newest key
//! active at a token's `iat` signs it; older keys keep verifying until they
//! are removed. The ring sits behind an `RwLock`, so it can change while
//! shared in an `Arc`.

use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use acrylic_model::TenantId;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::claims::grant_type;
use crate::keys::{KeyMaterial, SigningAlgorithm, encoding_key, public_jwk};
use crate::{AccessClaims, DirectoryClaims, RefreshClaims, TokenError};

/// Clock skew tolerated on `exp` and `nbf`, in seconds (replicas' clocks
/// differ a little).
pub const LEEWAY: i64 = 30;

/// What a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Registry refresh and access tokens (ES256).
    Registry,
    /// Directory tokens of one tenant (RS256).
    Directory,
}

impl Purpose {
    /// As stored in `SigningKey::purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::Directory => "directory",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registry" => Some(Self::Registry),
            "directory" => Some(Self::Directory),
            _ => None,
        }
    }

    /// The one algorithm tokens of this purpose are signed and verified with.
    pub fn algorithm(self) -> SigningAlgorithm {
        match self {
            Self::Registry => SigningAlgorithm::ES256,
            Self::Directory => SigningAlgorithm::RS256,
        }
    }
}

struct Entry {
    kid: String,
    purpose: Purpose,
    tenant: Option<TenantId>,
    active_from: i64,
    /// Signs nothing from this instant on; still verifies.
    retired_at: Option<i64>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
}

/// See the module docs.
#[derive(Default)]
pub struct KeyRing {
    entries: RwLock<Vec<Entry>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.read().iter().map(|e| e.kid.clone()).collect();
        f.debug_struct("KeyRing").field("kids", &kids).finish()
    }
}

impl KeyRing {
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds (or replaces, by `kid`) a key. Registry keys must be ES256 and
    /// belong to no tenant; directory keys RS256 and belong to one.
    pub fn add(
        &self,
        key: &KeyMaterial,
        purpose: Purpose,
        tenant: Option<TenantId>,
        active_from: i64,
    ) -> Result<(), TokenError> {
        if key.algorithm != purpose.algorithm() {
            return Err(TokenError::InvalidKey(format!(
                "{} keys must be {}, not {}",
                purpose.as_str(),
                purpose.algorithm().as_str(),
                key.algorithm.as_str()
            )));
        }
        match (purpose, &tenant) {
            (Purpose::Registry, Some(_)) => {
                return Err(TokenError::InvalidKey(
                    "registry keys belong to no tenant".into(),
                ));
            }
            (Purpose::Directory, None) => {
                return Err(TokenError::InvalidKey(
                    "directory keys belong to a tenant".into(),
                ));
            }
            _ => {}
        }
        let encoding = encoding_key(key.algorithm, &key.pkcs8_der)?;
        let mut jwk = public_jwk(key.algorithm, &key.pkcs8_der)?;
        jwk.common.key_id = Some(key.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let entry = Entry {
            kid: key.kid.clone(),
            purpose,
            tenant,
            active_from,
            retired_at: None,
            encoding,
            decoding,
            jwk,
        };
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|e| e.kid != key.kid);
        entries.push(entry);
        Ok(())
    }

    /// Stops signing with a key from `at` on; it keeps verifying the tokens
    /// it signed until [`KeyRing::remove`]. Returns whether the key exists.
    pub fn retire(&self, kid: &str, at: i64) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let mut found = false;
        for e in entries.iter_mut().filter(|e| e.kid == kid) {
            e.retired_at = Some(at);
            found = true;
        }
        found
    }

    /// Drops a key: tokens it signed stop verifying.
    pub fn remove(&self, kid: &str) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|e| e.kid != kid);
        entries.len() != before
    }

    /// Whether any key of this purpose (and tenant) is held.
    pub fn contains(&self, purpose: Purpose, tenant: Option<&TenantId>) -> bool {
        self.read()
            .iter()
            .any(|e| e.purpose == purpose && e.tenant.as_ref() == tenant)
    }

    pub fn mint_access(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        self.mint(Purpose::Registry, None, claims.iat, claims)
    }

    pub fn mint_refresh(&self, claims: &RefreshClaims) -> Result<String, TokenError> {
        self.mint(Purpose::Registry, None, claims.iat, claims)
    }

    /// Signs with the key of the claims' tenant (`tid`).
    pub fn mint_directory(&self, claims: &DirectoryClaims) -> Result<String, TokenError> {
        self.mint(Purpose::Directory, Some(&claims.tid), claims.iat, claims)
    }

    /// Signs a directory token carrying claims beyond [`DirectoryClaims`]
    /// (an app token's `appidacr`, issue #4), flattened beside them. It
    /// verifies as [`DirectoryClaims`]: unknown claims are ignored.
    pub fn mint_directory_with<E: Serialize>(
        &self,
        claims: &DirectoryClaims,
        extra: &E,
    ) -> Result<String, TokenError> {
        #[derive(Serialize)]
        struct With<'a, E> {
            #[serde(flatten)]
            claims: &'a DirectoryClaims,
            #[serde(flatten)]
            extra: &'a E,
        }
        self.mint(
            Purpose::Directory,
            Some(&claims.tid),
            claims.iat,
            &With { claims, extra },
        )
    }

    /// Verifies a registry access token for the registry whose login server
    /// is `expected_aud`. The caller still checks `rid`.
    pub fn verify_access(
        &self,
        token: &str,
        expected_aud: &str,
        now: i64,
    ) -> Result<AccessClaims, TokenError> {
        let (raw, _) = self.verify_raw(token, Purpose::Registry, now)?;
        expect_grant(&raw, "access_token")?;
        let claims: AccessClaims = parse_claims(raw)?;
        check_aud(&claims.aud, expected_aud)?;
        Ok(claims)
    }

    /// Verifies a registry refresh token for the registry whose login server
    /// is `expected_aud`. The caller still checks `rid`.
    pub fn verify_refresh(
        &self,
        token: &str,
        expected_aud: &str,
        now: i64,
    ) -> Result<RefreshClaims, TokenError> {
        let (raw, _) = self.verify_raw(token, Purpose::Registry, now)?;
        expect_grant(&raw, "refresh_token")?;
        let claims: RefreshClaims = parse_claims(raw)?;
        check_aud(&claims.aud, expected_aud)?;
        Ok(claims)
    }

    /// Verifies a directory token: signed by a key of the tenant it names.
    /// The caller checks `aud` and `iss` (they depend on the resource).
    pub fn verify_directory(&self, token: &str, now: i64) -> Result<DirectoryClaims, TokenError> {
        let (raw, key_tenant) = self.verify_raw(token, Purpose::Directory, now)?;
        let claims: DirectoryClaims = parse_claims(raw)?;
        if key_tenant.as_ref() != Some(&claims.tid) {
            return Err(TokenError::WrongTenant {
                found: claims.tid.to_string(),
            });
        }
        Ok(claims)
    }

    /// Public registry keys, for `/.well-known`-style publication.
    pub fn registry_jwks(&self) -> JwkSet {
        self.jwks(Purpose::Registry, None)
    }

    /// Public keys of one tenant (`/{tenant}/discovery/v2.0/keys`).
    pub fn directory_jwks(&self, tenant: &TenantId) -> JwkSet {
        self.jwks(Purpose::Directory, Some(tenant))
    }

    fn jwks(&self, purpose: Purpose, tenant: Option<&TenantId>) -> JwkSet {
        JwkSet {
            keys: self
                .read()
                .iter()
                .filter(|e| e.purpose == purpose && e.tenant.as_ref() == tenant)
                .map(|e| e.jwk.clone())
                .collect(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Entry>> {
        // Writers replace whole entries; a panic mid-write cannot leave one
        // half-made, so a poisoned lock is still consistent.
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn mint<C: Serialize>(
        &self,
        purpose: Purpose,
        tenant: Option<&TenantId>,
        at: i64,
        claims: &C,
    ) -> Result<String, TokenError> {
        let entries = self.read();
        let key = entries
            .iter()
            .filter(|e| {
                e.purpose == purpose
                    && e.tenant.as_ref() == tenant
                    && e.active_from <= at
                    && e.retired_at.is_none_or(|r| at < r)
            })
            .max_by_key(|e| e.active_from)
            .ok_or(TokenError::NoSigningKey {
                purpose: purpose.as_str(),
            })?;
        let mut header = Header::new(purpose.algorithm().jwt());
        header.typ = Some("JWT".into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| TokenError::Crypto(e.to_string()))
    }

    /// Signature, algorithm, key and time checks; returns the raw claims
    /// and the signing key's tenant.
    fn verify_raw(
        &self,
        token: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<(serde_json::Value, Option<TenantId>), TokenError> {
        let (alg, kid) = read_header(token)?;
        let pinned = purpose.algorithm();
        if alg != pinned.as_str() {
            return Err(TokenError::Algorithm {
                found: alg,
                purpose: purpose.as_str(),
            });
        }
        let unknown = || TokenError::UnknownKey {
            kid: kid.clone(),
            purpose: purpose.as_str(),
        };
        let entries = self.read();
        let key = match &kid {
            Some(kid) => entries
                .iter()
                .find(|e| e.purpose == purpose && &e.kid == kid)
                .ok_or_else(unknown)?,
            None => return Err(unknown()),
        };
        let mut validation = Validation::new(pinned.jwt());
        // Time and audience are checked below against the caller's `now`.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed(e.to_string()),
            })?;
        let bounds: TimeFields = parse_claims(data.claims.clone())?;
        if now >= bounds.exp + LEEWAY {
            return Err(TokenError::Expired { exp: bounds.exp });
        }
        if now + LEEWAY < bounds.nbf {
            return Err(TokenError::NotYetValid { nbf: bounds.nbf });
        }
        Ok((data.claims, key.tenant))
    }
}

#[derive(serde::Deserialize)]
struct TimeFields {
    exp: i64,
    #[serde(default)]
    nbf: i64,
}

/// `alg` and `kid` of the JOSE header, read before anything else so a
/// refused algorithm (`none`, HS256) is named as such.
fn read_header(token: &str) -> Result<(String, Option<String>), TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "expected three dot-separated parts".into(),
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("header is not base64url".into()))?;
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("header is not JSON".into()))?;
    let alg = json
        .get("alg")
        .and_then(|v| v.as_str())
        .ok_or_else(|| TokenError::Malformed("header has no alg".into()))?
        .to_owned();
    let kid = json.get("kid").and_then(|v| v.as_str()).map(str::to_owned);
    Ok((alg, kid))
}

fn parse_claims<C: DeserializeOwned>(raw: serde_json::Value) -> Result<C, TokenError> {
    serde_json::from_value(raw).map_err(|e| TokenError::Claims(e.to_string()))
}

fn expect_grant(raw: &serde_json::Value, expected: &'static str) -> Result<(), TokenError> {
    let found = grant_type(raw)?;
    if found != expected {
        return Err(TokenError::WrongKind {
            found: found.to_owned(),
            expected,
        });
    }
    Ok(())
}

fn check_aud(found: &str, expected: &str) -> Result<(), TokenError> {
    // Login servers are host names (with a port): compare as DNS does.
    if !found.eq_ignore_ascii_case(expected) {
        return Err(TokenError::WrongAudience {
            found: found.into(),
            expected: expected.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
