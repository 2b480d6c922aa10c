//! One POP3 session per maildrop (RFC 1939 §8 "exclusive-access lock", RFC 2449 §8.1.1
//! IN-USE), and the LOGIN-DELAY between two logins (RFC 2449 §6.5).
//!
//! The lock table lives in this process: a [`MaildropLock`] is owned by the session task and
//! released when it is dropped, which happens however the session ends (QUIT, error, timeout,
//! dropped connection, panic unwinding), so a lock never outlives its connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tern_store::AccountId;

#[derive(Debug, Default)]
struct Table {
    held: HashSet<AccountId>,
    /// When each maildrop was last logged into, for LOGIN-DELAY; pruned as it is read.
    last_login: HashMap<AccountId, Instant>,
}

/// Why a maildrop could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another session holds the maildrop.
    InUse,
    /// Logged in less than LOGIN-DELAY ago.
    TooSoon,
}

/// The locks of every POP3 session of this process.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks {
    table: Arc<Mutex<Table>>,
    login_delay: Duration,
}

impl MaildropLocks {
    /// `login_delay` zero: no LOGIN-DELAY.
    pub fn new(login_delay: Duration) -> MaildropLocks {
        MaildropLocks {
            table: Arc::default(),
            login_delay,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent whatever panicked while holding it: every update is a
        // single insert or remove.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the maildrop's lock, unless another session holds it or the last login was less
    /// than LOGIN-DELAY ago.
    pub fn acquire(&self, account: AccountId) -> Result<MaildropLock, Refusal> {
        let now = Instant::now();
        let mut table = self.table();
        if table.held.contains(&account) {
            return Err(Refusal::InUse);
        }
        if !self.login_delay.is_zero() {
            let delay = self.login_delay;
            table
                .last_login
                .retain(|_, at| now.duration_since(*at) < delay);
            if table.last_login.contains_key(&account) {
                return Err(Refusal::TooSoon);
            }
            table.last_login.insert(account, now);
        }
        table.held.insert(account);
        Ok(MaildropLock {
            locks: self.clone(),
            account,
        })
    }

    pub fn is_locked(&self, account: AccountId) -> bool {
        self.table().held.contains(&account)
    }
}

/// Held by a session in the TRANSACTION state; dropping it frees the maildrop.
#[derive(Debug)]
pub struct MaildropLock {
    locks: MaildropLocks,
    account: AccountId,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        self.locks.table().held.remove(&self.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_released_on_drop() {
        let locks = MaildropLocks::new(Duration::ZERO);
        let first = locks.acquire(AccountId(1)).unwrap();
        assert_eq!(locks.acquire(AccountId(1)).unwrap_err(), Refusal::InUse);
        let other = locks.acquire(AccountId(2)).unwrap();
        assert!(locks.is_locked(AccountId(1)));
        drop(first);
        assert!(!locks.is_locked(AccountId(1)));
        let again = locks.acquire(AccountId(1)).unwrap();
        drop((again, other));
    }

    #[tokio::test]
    async fn a_lock_dies_with_its_task_even_when_aborted() {
        let locks = MaildropLocks::new(Duration::ZERO);
        let lock = locks.acquire(AccountId(7)).unwrap();
        let task = tokio::spawn(async move {
            let _held = lock;
            std::future::pending::<()>().await;
        });
        assert!(locks.is_locked(AccountId(7)));
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(!locks.is_locked(AccountId(7)));
    }

    #[test]
    fn login_delay_refuses_a_quick_second_login() {
        let locks = MaildropLocks::new(Duration::from_secs(3600));
        drop(locks.acquire(AccountId(1)).unwrap());
        assert_eq!(locks.acquire(AccountId(1)).unwrap_err(), Refusal::TooSoon);
        assert!(locks.acquire(AccountId(2)).is_ok());
        let short = MaildropLocks::new(Duration::from_millis(1));
        drop(short.acquire(AccountId(1)).unwrap());
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.acquire(AccountId(1)).is_ok());
    }
}
