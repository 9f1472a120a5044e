//! A short-lived cache of verified credentials.
//!
//! docker, skopeo and podman send Basic credentials on every `/oauth2/token`
//! request; verifying a slow hash each time would cap the token service at
//! ~100 logins/s/core (DEPENDENCIES.md §5). The cache maps
//! `SHA-256(realm ‖ username ‖ password ‖ secret version)` to the principal
//! the credential proved, for a short TTL (60 s by default):
//! - the password itself is never stored, only inside the digest;
//! - the *secret version* is a value that changes whenever the stored secret
//!   changes (e.g. the stored hash or sealed value), so a regenerated or
//!   removed secret misses the cache at once — the caller must pass the
//!   current one, read from the store on each request;
//! - only successful verifications are inserted, so failed guesses cannot
//!   grow it; it is bounded anyway.
//!
//! What the principal may *do* is never cached: `authorize` runs on current
//! facts for every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use acrylic_authz::Principal;
use sha2::{Digest, Sha256};

/// Default lifetime of a cache entry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
const DEFAULT_CAPACITY: usize = 10_000;

/// The digest a credential is cached under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// `realm` separates credential kinds and registries (e.g.
    /// `admin:<registry id>`); `secret_version` is the stored secret's
    /// current version (its hash, or its sealed bytes).
    pub fn new(realm: &str, username: &str, password: &str, secret_version: &[u8]) -> CacheKey {
        let mut h = Sha256::new();
        // Length-prefix every part, so no two different tuples collide by
        // shifting bytes between fields.
        for part in [
            realm.as_bytes(),
            username.as_bytes(),
            password.as_bytes(),
            secret_version,
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        CacheKey(h.finalize().into())
    }
}

/// See the module docs.
pub struct CredentialCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<CacheKey, (Instant, Principal)>>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        CredentialCache::new(DEFAULT_TTL)
    }
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> CredentialCache {
        CredentialCache::with_capacity(ttl, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(ttl: Duration, capacity: usize) -> CredentialCache {
        CredentialCache {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The principal cached under `key`, if verified less than a TTL ago.
    pub fn get(&self, key: &CacheKey) -> Option<Principal> {
        self.get_at(key, Instant::now())
    }

    /// [`CredentialCache::get`] at an explicit instant (tests).
    pub fn get_at(&self, key: &CacheKey, now: Instant) -> Option<Principal> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((at, p)) if now.saturating_duration_since(*at) < self.ttl => Some(p.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Records a credential that was just verified.
    pub fn insert(&self, key: CacheKey, principal: Principal) {
        self.insert_at(key, principal, Instant::now());
    }

    /// [`CredentialCache::insert`] at an explicit instant (tests).
    pub fn insert_at(&self, key: CacheKey, principal: Principal, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop them all. The cost is one
                // slow verify per active client, never a wrong answer.
                entries.clear();
            }
        }
        entries.insert(key, (now, principal));
    }

    /// Forgets everything (e.g. after a bulk credential change).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (Instant, Principal)>> {
        // A panic while holding the lock cannot leave the map half-updated
        // in a way that matters (each operation is one map call), so a
        // poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrylic_model::RegistryId;

    fn admin() -> Principal {
        Principal::Admin {
            registry: RegistryId::new_random(),
        }
    }

    #[test]
    fn hit_within_ttl_miss_after() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let key = CacheKey::new("admin:r1", "myreg", "pw", b"v1");
        let p = admin();
        let t0 = Instant::now();
        assert_eq!(cache.get_at(&key, t0), None);
        cache.insert_at(key, p.clone(), t0);
        assert_eq!(cache.get_at(&key, t0 + Duration::from_secs(59)), Some(p));
        assert_eq!(cache.get_at(&key, t0 + Duration::from_secs(60)), None);
        assert!(cache.is_empty(), "expired entries are dropped on lookup");
    }

    #[test]
    fn any_changed_part_misses() {
        let cache = CredentialCache::default();
        let key = CacheKey::new("admin:r1", "myreg", "pw", b"v1");
        cache.insert(key, admin());
        assert!(cache.get(&key).is_some());
        for other in [
            CacheKey::new("admin:r2", "myreg", "pw", b"v1"),
            CacheKey::new("admin:r1", "myreg2", "pw", b"v1"),
            CacheKey::new("admin:r1", "myreg", "pw2", b"v1"),
            // the stored secret was regenerated
            CacheKey::new("admin:r1", "myreg", "pw", b"v2"),
            // bytes shifted between fields
            CacheKey::new("admin:r1", "myregp", "w", b"v1"),
        ] {
            assert_ne!(other, key);
            assert!(cache.get(&other).is_none());
        }
    }

    #[test]
    fn stays_bounded() {
        let cache = CredentialCache::with_capacity(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for i in 0..10 {
            cache.insert_at(CacheKey::new("r", &i.to_string(), "p", b""), admin(), t0);
            assert!(cache.len() <= 3);
        }
        let last = CacheKey::new("r", "9", "p", b"");
        assert!(
            cache.get_at(&last, t0).is_some(),
            "the newest entry survives"
        );
    }
}
