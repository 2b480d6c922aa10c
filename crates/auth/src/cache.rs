//! A cache of recently verified credentials, so that clients that connect, log in and log out in a
//! loop (mail clients polling, phones) do not pay for an Argon2 verification every time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::password::verify_password;

/// What a cache entry is looked up by. It never holds the plaintext password: only a SHA-256 of it
/// salted with a secret drawn when the cache was made. The stored hash is part of the key, so
/// changing a password (which changes the stored hash) makes old entries stop matching.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    user: String,
    stored_digest: [u8; 32],
    password_digest: [u8; 32],
}

struct Entries {
    verified_at: HashMap<CacheKey, Instant>,
    /// Insertion order, oldest first, to evict the oldest entries and prune expired ones.
    order: VecDeque<(CacheKey, Instant)>,
}

/// A bounded, expiring cache of successful password verifications. `Send + Sync`; share it with `Arc`.
pub struct VerifiedCache {
    capacity: usize,
    ttl: Duration,
    salt: [u8; 32],
    entries: Mutex<Entries>,
}

impl VerifiedCache {
    /// A cache of at most `capacity` entries, each valid for `ttl` after the verification.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        VerifiedCache {
            capacity,
            ttl,
            salt: rand::random(),
            entries: Mutex::new(Entries {
                verified_at: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// Like [`verify_password`], answering from the cache when this user recently logged in with
    /// this password against this same stored hash. Only successes are cached.
    pub fn verify(&self, user: &str, password: &str, stored: Option<&str>) -> bool {
        self.verify_at(user, password, stored, Instant::now())
    }

    fn verify_at(&self, user: &str, password: &str, stored: Option<&str>, now: Instant) -> bool {
        let Some(stored_hash) = stored else {
            // Unknown account: never cached, and verify_password spends the usual time.
            return verify_password(password, None);
        };
        let key = self.key(user, password, stored_hash);
        if self.is_fresh(&key, now) {
            return true;
        }
        // The lock is not held during the (slow) verification.
        let verified = verify_password(password, Some(stored_hash));
        if verified {
            self.insert(key, now);
        }
        verified
    }

    fn key(&self, user: &str, password: &str, stored: &str) -> CacheKey {
        let password_digest = Sha256::new()
            .chain_update(self.salt)
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        CacheKey {
            user: user.to_owned(),
            stored_digest: Sha256::digest(stored.as_bytes()).into(),
            password_digest,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic elsewhere while holding the lock leaves the map consistent enough for a cache.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_expired(&self, verified_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(verified_at) >= self.ttl
    }

    fn is_fresh(&self, key: &CacheKey, now: Instant) -> bool {
        let mut entries = self.lock();
        match entries.verified_at.get(key) {
            Some(&at) if !self.is_expired(at, now) => true,
            Some(_) => {
                entries.verified_at.remove(key);
                false
            }
            None => false,
        }
    }

    fn insert(&self, key: CacheKey, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        let Entries { verified_at, order } = &mut *entries;
        // Entries share one lifetime, so the expired ones are all at the front.
        while let Some((oldest, at)) = order.front() {
            let expired = self.is_expired(*at, now);
            if !expired && verified_at.len() < self.capacity && order.len() < self.capacity {
                break;
            }
            // Only remove the map entry if it is the one this queue slot recorded.
            if verified_at.get(oldest) == Some(at) {
                verified_at.remove(oldest);
            }
            order.pop_front();
        }
        verified_at.insert(key.clone(), now);
        order.push_back((key, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().verified_at.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::hash_password;

    const TTL: Duration = Duration::from_secs(600);

    /// Argon2 is slow without optimisations: hash once for all tests.
    fn stored() -> &'static str {
        static HASH: OnceLock<String> = OnceLock::new();
        HASH.get_or_init(|| hash_password("pw").unwrap())
    }

    /// A cheap SHA-512-crypt hash, enough for tests that need several distinct stored hashes.
    fn cheap_hash(password: &str) -> String {
        let params = sha_crypt::Sha512Params::new(1_000).unwrap();
        sha_crypt::sha512_simple(password, &params).unwrap()
    }

    #[test]
    fn hit_after_success_and_miss_for_wrong_password() {
        let cache = VerifiedCache::new(10, TTL);
        let t0 = Instant::now();
        assert!(cache.verify_at("alice", "pw", Some(stored()), t0));
        assert_eq!(cache.len(), 1);
        assert!(cache.is_fresh(&cache.key("alice", "pw", stored()), t0));
        assert!(cache.verify_at("alice", "pw", Some(stored()), t0 + Duration::from_secs(1)));
        // A wrong password never matches the cached entry and is not cached.
        assert!(!cache.verify_at("alice", "wrong", Some(stored()), t0));
        assert!(!cache.is_fresh(&cache.key("alice", "wrong", stored()), t0));
        // Another user with the same hash and password is a different key.
        assert!(!cache.is_fresh(&cache.key("bob", "pw", stored()), t0));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn failures_and_unknown_accounts_are_not_cached() {
        let cache = VerifiedCache::new(10, TTL);
        assert!(!cache.verify("alice", "wrong", Some(stored())));
        assert!(!cache.verify("nobody", "pw", None));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn changed_stored_hash_invalidates() {
        let cache = VerifiedCache::new(10, TTL);
        let t0 = Instant::now();
        let old = cheap_hash("old");
        assert!(cache.verify_at("alice", "old", Some(&old), t0));
        assert!(cache.is_fresh(&cache.key("alice", "old", &old), t0));
        // Password changed: the old password no longer works although it was cached.
        let new = cheap_hash("new");
        assert!(!cache.verify_at("alice", "old", Some(&new), t0));
        assert!(cache.verify_at("alice", "new", Some(&new), t0));
    }

    #[test]
    fn entries_expire() {
        let cache = VerifiedCache::new(10, TTL);
        let t0 = Instant::now();
        let hash = cheap_hash("pw");
        assert!(cache.verify_at("alice", "pw", Some(&hash), t0));
        let key = cache.key("alice", "pw", &hash);
        assert!(cache.is_fresh(&key, t0 + TTL - Duration::from_secs(1)));
        assert!(!cache.is_fresh(&key, t0 + TTL));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_evicting_the_oldest() {
        let cache = VerifiedCache::new(2, TTL);
        let t0 = Instant::now();
        let hash = cheap_hash("pw");
        for (i, user) in ["a", "b", "c"].iter().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            assert!(cache.verify_at(user, "pw", Some(&hash), at));
        }
        assert_eq!(cache.len(), 2);
        let later = t0 + Duration::from_secs(5);
        assert!(!cache.is_fresh(&cache.key("a", "pw", &hash), later));
        assert!(cache.is_fresh(&cache.key("b", "pw", &hash), later));
        assert!(cache.is_fresh(&cache.key("c", "pw", &hash), later));
    }

    #[test]
    fn key_holds_no_plaintext() {
        let cache = VerifiedCache::new(2, TTL);
        let key = cache.key("alice", "pw", "stored");
        let unsalted: [u8; 32] = Sha256::digest(b"pw").into();
        assert_ne!(key.password_digest, unsalted);
        // Two caches have different salts.
        let other = VerifiedCache::new(2, TTL);
        assert_ne!(
            other.key("alice", "pw", "stored").password_digest,
            key.password_digest
        );
    }
}
