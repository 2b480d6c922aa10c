//! The one login path of every protocol: throttle check, account look-up, password check
//! (cached), and the growing delay after failures (DESIGN.md §5).

use crate::{Throttle, ThrottleConfig, Verdict, VerifiedCache};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_store::{Account, SharedStore, StoreError};

/// Verified credentials stay cached this long (a password change invalidates them at once).
const CACHE_TTL: Duration = Duration::from_secs(600);
const CACHE_CAPACITY: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong user name or password; deliberately not saying which.
    #[error("authentication failed")]
    Failed,
    /// Too many failures for this account from this address, or from this address; try again
    /// later (or from elsewhere).
    #[error("too many failed logins; retry in {} s", retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Authenticator {
    store: SharedStore,
    cache: Arc<VerifiedCache>,
    throttle: Throttle,
}

impl Authenticator {
    pub fn new(store: SharedStore, throttle: ThrottleConfig) -> Authenticator {
        Authenticator {
            store,
            cache: Arc::new(VerifiedCache::new(CACHE_CAPACITY, CACHE_TTL)),
            throttle: Throttle::new(throttle),
        }
    }

    /// Checks `user`/`password` from `ip`. A failure is answered only after the throttle's
    /// delay, so guessing gets slower with every miss; the log says who and from where,
    /// never the password.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<Account, LoginError> {
        let delay = match self.throttle.check(user, ip) {
            // The throttle has logged the refusal.
            Verdict::Refuse { retry_after } => return Err(LoginError::Throttled { retry_after }),
            Verdict::Allow { delay } => delay,
        };
        let account = self.store.account_by_email(user).await?;
        let stored = account.as_ref().map(|a| a.password_hash.clone());
        let (cache, user_owned, password_owned) = (
            Arc::clone(&self.cache),
            user.to_owned(),
            password.to_owned(),
        );
        // Argon2 takes tens of milliseconds of CPU: off the async workers. How many run at
        // once is bounded where the hash is computed (password.rs, one per core), for every
        // caller alike; the failure delay below holds no slot.
        let verified = tokio::task::spawn_blocking(move || {
            cache.verify(&user_owned, &password_owned, stored.as_deref())
        })
        .await
        .unwrap_or(false);
        match account {
            Some(account) if verified => {
                self.throttle.record_success(user, ip);
                Ok(account)
            }
            _ => {
                self.throttle.record_failure(user, ip);
                // The delay is logged: it is how an operator (and the tests) see guessing slowed.
                tracing::warn!(user, %ip, delay_ms = delay.as_millis() as u64, "login failed");
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Err(LoginError::Failed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_store::{SqliteStore, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_logins_all_succeed_through_the_bounded_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        store.create_domain("example.test", None).await.unwrap();
        let hash = crate::hash_password("pw").unwrap();
        for i in 0..8 {
            store
                .create_account(&format!("u{i}@example.test"), &hash, None)
                .await
                .unwrap();
        }
        let auth = Arc::new(Authenticator::new(store, ThrottleConfig::default()));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let logins = (0..16).map(|i| {
            let auth = Arc::clone(&auth);
            tokio::spawn(async move {
                auth.login(&format!("u{}@example.test", i % 8), "pw", ip)
                    .await
            })
        });
        for login in logins.collect::<Vec<_>>() {
            assert!(login.await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn login_checks_the_password_and_throttles_failures() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
        store.create_domain("example.test", None).await.unwrap();
        let hash = crate::hash_password("right").unwrap();
        store
            .create_account("u@example.test", &hash, None)
            .await
            .unwrap();
        let auth = Authenticator::new(
            store,
            ThrottleConfig {
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                account_ip_limit: 5,
                ..ThrottleConfig::default()
            },
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let ok = auth.login("U@example.test", "right", ip).await.unwrap();
        assert_eq!(ok.email, "u@example.test");
        assert!(matches!(
            auth.login("nobody@example.test", "x", ip).await,
            Err(LoginError::Failed)
        ));
        for _ in 0..5 {
            let _ = auth.login("u@example.test", "wrong", ip).await;
        }
        assert!(matches!(
            auth.login("u@example.test", "right", ip).await,
            Err(LoginError::Throttled { .. })
        ));
        // The owner, from an address that has not failed, still logs in.
        let elsewhere: IpAddr = "198.51.100.9".parse().unwrap();
        let ok = auth.login("u@example.test", "right", elsewhere).await;
        assert_eq!(ok.unwrap().email, "u@example.test");
    }
}
