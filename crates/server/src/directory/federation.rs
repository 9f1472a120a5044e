//! External OIDC issuers whose tokens sign applications in through
//! federated identity credentials (issue #4 §1: a CI system's or a
//! Kubernetes service account's token, presented as `client_assertion`).
//!
//! An issuer's signing keys come from its discovery document:
//! `GET <issuer>/.well-known/openid-configuration` → `jwks_uri` →
//! `GET <jwks_uri>`. They are cached per issuer for [`KEYS_TTL`]; a token
//! naming a `kid` the cache lacks makes one early refetch (the issuer
//! rotated), at most once per [`REFETCH_MIN_INTERVAL`], so a stream of
//! made-up `kid`s cannot turn the server into a request amplifier.
//!
//! Only `https://` issuers and key URLs are fetched — and plain `http://`
//! on a loopback host (`127.0.0.1`, `::1`, `localhost`), which no network
//! attacker can sit in front of: that is where tests serve their own
//! issuer. Requests follow no redirects, time out, and read at most
//! [`MAX_DOCUMENT_BYTES`]. The cache is this replica's own: every replica
//! fetches the same public keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// How long an issuer's keys are trusted without asking again.
pub const KEYS_TTL: Duration = Duration::from_secs(15 * 60);
/// The least time between two fetches of one issuer's keys.
pub const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(10);
/// Discovery documents and key sets are small.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an external token could not be verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error("the issuer {0:?} is not an https URL (plain http only on a loopback host)")]
    InsecureIssuer(String),
    #[error("fetching the signing keys of {issuer} failed: {reason}")]
    Unreachable { issuer: String, reason: String },
    #[error("the issuer {issuer} publishes no key with kid {kid:?}")]
    UnknownKey { issuer: String, kid: Option<String> },
    #[error("the token's algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("the token's signature does not verify with the issuer's key")]
    BadSignature,
    #[error("the token is malformed: {0}")]
    Malformed(String),
}

struct Cached {
    keys: JwkSet,
    fetched: Instant,
}

/// The per-replica cache of issuers' keys (see the module docs).
pub struct IssuerKeys {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys").finish_non_exhaustive()
    }
}

impl Default for IssuerKeys {
    fn default() -> Self {
        IssuerKeys::new()
    }
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

impl IssuerKeys {
    pub fn new() -> IssuerKeys {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("acrylic/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        IssuerKeys {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token`'s signature with `issuer`'s key named by its
    /// header, and returns its claims. Time and audience are the caller's
    /// to check.
    pub async fn verify(
        &self,
        issuer: &str,
        token: &str,
    ) -> Result<serde_json::Value, FederationError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| FederationError::Malformed(e.to_string()))?;
        let alg = header.alg;
        if !matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(FederationError::Algorithm(format!("{alg:?}")));
        }
        let kid = header.kid;
        let jwk = match self.cached_key(issuer, kid.as_deref()) {
            Some(k) => k,
            None => {
                self.refresh(issuer).await?;
                self.cached_key(issuer, kid.as_deref()).ok_or_else(|| {
                    FederationError::UnknownKey {
                        issuer: issuer.to_owned(),
                        kid: kid.clone(),
                    }
                })?
            }
        };
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|e| FederationError::Malformed(e.to_string()))?;
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => FederationError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => {
                    FederationError::Algorithm(format!("{alg:?}"))
                }
                _ => FederationError::Malformed(e.to_string()),
            })
    }

    /// The cached key for `kid` (or the only key, when the token names
    /// none), if the cache is fresh.
    fn cached_key(&self, issuer: &str, kid: Option<&str>) -> Option<Jwk> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let c = cache.get(issuer)?;
        if c.fetched.elapsed() >= KEYS_TTL {
            return None;
        }
        match kid {
            Some(kid) => c
                .keys
                .keys
                .iter()
                .find(|k| k.common.key_id.as_deref() == Some(kid))
                .cloned(),
            None => match c.keys.keys.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    /// Fetches the issuer's keys again, unless that happened less than
    /// [`REFETCH_MIN_INTERVAL`] ago.
    async fn refresh(&self, issuer: &str) -> Result<(), FederationError> {
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache
                .get(issuer)
                .is_some_and(|c| c.fetched.elapsed() < REFETCH_MIN_INTERVAL)
            {
                return Ok(());
            }
        }
        let keys = self.fetch(issuer).await?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            issuer.to_owned(),
            Cached {
                keys,
                fetched: Instant::now(),
            },
        );
        Ok(())
    }

    async fn fetch(&self, issuer: &str) -> Result<JwkSet, FederationError> {
        let base = allowed_url(issuer)?;
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            base.as_str().trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(issuer, &discovery_url).await?;
        let jwks_url = allowed_url(&discovery.jwks_uri)?;
        self.get_json(issuer, jwks_url.as_str()).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        issuer: &str,
        url: &str,
    ) -> Result<T, FederationError> {
        let failed = |reason: String| FederationError::Unreachable {
            issuer: issuer.to_owned(),
            reason,
        };
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| failed(format!("GET {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(failed(format!("GET {url}: HTTP {}", resp.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| failed(format!("GET {url}: {e}")))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(failed(format!("GET {url}: the document is too large")));
            }
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("GET {url}: {e}")))
    }
}

/// `https://…`, or `http://` on a loopback host.
fn allowed_url(raw: &str) -> Result<url::Url, FederationError> {
    let insecure = || FederationError::InsecureIssuer(raw.chars().take(255).collect());
    let u = url::Url::parse(raw).map_err(|_| insecure())?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if loopback => Ok(u),
        _ => Err(insecure()),
    }
}

/// Whether an issuer URL may be registered on a federated credential.
pub fn is_allowed_issuer(issuer: &str) -> bool {
    allowed_url(issuer).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for ok in [
            "https://token.actions.githubusercontent.com",
            "https://oidc.example/abc/",
            "http://127.0.0.1:8080",
            "http://localhost:9999/issuer",
            "http://[::1]:1234",
        ] {
            assert!(is_allowed_issuer(ok), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "file:///etc/passwd",
            "not a url",
            "https://",
        ] {
            assert!(!is_allowed_issuer(bad), "{bad}");
        }
    }
}
