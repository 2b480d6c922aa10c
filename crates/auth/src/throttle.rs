//! Throttling of failed logins, per account and per client address, shared by every protocol.
//!
//! Two measures, kept apart on purpose:
//!
//! - **Delay**, counted per account from every address (and per address over every account):
//!   after a few failures the answer to each further *failed* attempt comes late (1 s, 2 s,
//!   4 s… up to a cap). Guessing one password is slow however many addresses join in, while a
//!   right password is never delayed.
//! - **Refusal**, counted per (account, client address) and per client address only: after many
//!   failures within the window, that pair or that address is answered "failed" without the
//!   password being checked, until the oldest failures leave the window. As with Dovecot's
//!   auth penalty and fail2ban, a stranger can thus lock out only himself: ten wrong passwords
//!   for bob from one address must not refuse bob's right password from his phone.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Limits for [`Throttle`]. The defaults suit a mail server with users on phones behind NAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures that cost nothing (typos); the delay starts at the next one.
    pub free_failures: usize,
    /// Delay after `free_failures` failures; it doubles with each further failure.
    pub base_delay: Duration,
    /// The delay never grows beyond this.
    pub max_delay: Duration,
    /// Failures for one account from one address (an IPv4 address or an IPv6 /64) within
    /// `window` after which that account is refused from that address. Never account-wide: that
    /// would let anyone lock anyone out. 0 disables the refusal.
    pub account_ip_limit: usize,
    /// Failures from one address (an IPv4 address or an IPv6 /64) within `window` after which it is
    /// refused. 0 disables the refusal.
    pub ip_limit: usize,
    /// How long a failure counts.
    pub window: Duration,
    /// Accounts and addresses tracked at most (each); beyond it the least recently failing are
    /// forgotten, so memory stays bounded under attack.
    pub max_tracked: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15),
            account_ip_limit: 10,
            ip_limit: 30,
            window: Duration::from_secs(15 * 60),
            max_tracked: 50_000,
        }
    }
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on; if the attempt fails, wait `delay` before answering.
    Allow { delay: Duration },
    /// Answer "failed" at once without checking the password; it may work after `retry_after`.
    Refuse { retry_after: Duration },
}

/// Recent failures. Each list is oldest first and holds at most the relevant limit of entries:
/// older ones cannot change a verdict.
struct Failures {
    /// Lower-cased user name → (client address key, when): the account's delay.
    by_account: HashMap<String, VecDeque<(IpAddr, Instant)>>,
    /// (hash of the user name, client address key) → when: the pair's refusal. Its own map, so
    /// failures for the account from other addresses cannot push this pair's out of a list.
    by_pair: HashMap<(u64, IpAddr), VecDeque<((), Instant)>>,
    /// Client address key → (hash of the user name, when). A hash rather than the name keeps
    /// memory small; the hasher is randomly keyed so collisions cannot be aimed at.
    by_ip: HashMap<IpAddr, VecDeque<(u64, Instant)>>,
}

/// Failed-login throttle. `Send + Sync`: share one behind an `Arc` across all protocols.
pub struct Throttle {
    config: ThrottleConfig,
    user_hasher: RandomState,
    failures: Mutex<Failures>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            user_hasher: RandomState::new(),
            failures: Mutex::new(Failures {
                by_account: HashMap::new(),
                by_pair: HashMap::new(),
                by_ip: HashMap::new(),
            }),
        }
    }

    /// Call before verifying a password.
    pub fn check(&self, user: &str, ip: IpAddr) -> Verdict {
        self.check_at(user, ip, Instant::now())
    }

    /// Call after a failed verification (wrong password or unknown account).
    pub fn record_failure(&self, user: &str, ip: IpAddr) {
        self.record_failure_at(user, ip, Instant::now());
    }

    /// Call after a successful login: forgets this account's failures from this address.
    pub fn record_success(&self, user: &str, ip: IpAddr) {
        self.record_success_at(user, ip, Instant::now());
    }

    /// [`check`](Self::check) with the current time given (tests, or a caller with a clock reading).
    pub fn check_at(&self, user: &str, ip: IpAddr, now: Instant) -> Verdict {
        let account = normalize_user(user);
        let pair = (self.user_hasher.hash_one(&account), address_key(ip));
        let window = self.config.window;
        let mut failures = self.lock();
        let account_times = recent(&mut failures.by_account, &account, now, window);
        let pair_times = recent(&mut failures.by_pair, &pair, now, window);
        let ip_times = recent(&mut failures.by_ip, &pair.1, now, window);
        drop(failures);

        let refusal = [
            self.refused_for(&pair_times, self.config.account_ip_limit, now),
            self.refused_for(&ip_times, self.config.ip_limit, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(retry_after) = refusal {
            tracing::warn!(
                user = %account,
                %ip,
                account_ip_failures = pair_times.len(),
                ip_failures = ip_times.len(),
                retry_after_secs = retry_after.as_secs(),
                "login refused: too many failed attempts from this address"
            );
            return Verdict::Refuse { retry_after };
        }
        let failures = account_times.len().max(ip_times.len());
        Verdict::Allow {
            delay: self.delay_after(failures),
        }
    }

    /// [`record_failure`](Self::record_failure) at a given time.
    pub fn record_failure_at(&self, user: &str, ip: IpAddr, now: Instant) {
        let account = normalize_user(user);
        let user_hash = self.user_hasher.hash_one(&account);
        let address = address_key(ip);
        let window = self.config.window;
        // Keep enough entries to decide the refusal and the (capped) delay.
        let keep_account = self.entries_to_keep(0);
        let keep_pair = self.config.account_ip_limit.max(1);
        let keep_ip = self.entries_to_keep(self.config.ip_limit);
        let max_tracked = self.config.max_tracked;

        let mut failures = self.lock();
        if !failures.by_account.contains_key(&account) {
            make_room(&mut failures.by_account, max_tracked, now, window);
        }
        let list = failures.by_account.entry(account).or_default();
        push_bounded(list, (address, now), keep_account, now, window);

        let pair = (user_hash, address);
        if !failures.by_pair.contains_key(&pair) {
            make_room(&mut failures.by_pair, max_tracked, now, window);
        }
        let list = failures.by_pair.entry(pair).or_default();
        push_bounded(list, ((), now), keep_pair, now, window);

        if !failures.by_ip.contains_key(&address) {
            make_room(&mut failures.by_ip, max_tracked, now, window);
        }
        let list = failures.by_ip.entry(address).or_default();
        push_bounded(list, (user_hash, now), keep_ip, now, window);
    }

    /// [`record_success`](Self::record_success) at a given time.
    pub fn record_success_at(&self, user: &str, ip: IpAddr, now: Instant) {
        let account = normalize_user(user);
        let user_hash = self.user_hasher.hash_one(&account);
        let address = address_key(ip);
        let window = self.config.window;
        let mut failures = self.lock();
        if let Some(list) = failures.by_account.get_mut(&account) {
            list.retain(|&(from, at)| from != address && !is_expired(at, now, window));
            if list.is_empty() {
                failures.by_account.remove(&account);
            }
        }
        failures.by_pair.remove(&(user_hash, address));
        if let Some(list) = failures.by_ip.get_mut(&address) {
            list.retain(|&(who, at)| who != user_hash && !is_expired(at, now, window));
            if list.is_empty() {
                failures.by_ip.remove(&address);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Failures> {
        // The maps stay usable even if a thread panicked while holding the lock.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long until fewer than `limit` of `times` (oldest first, all within the window) remain.
    fn refused_for(&self, times: &[Instant], limit: usize, now: Instant) -> Option<Duration> {
        if limit == 0 || times.len() < limit {
            return None;
        }
        let must_expire = times[times.len() - limit];
        let expires = must_expire + self.config.window;
        Some(
            expires
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    fn delay_after(&self, failures: usize) -> Duration {
        let Some(doublings) = failures.checked_sub(self.config.free_failures) else {
            return Duration::ZERO;
        };
        let factor = 1u32
            .checked_shl(doublings.min(31) as u32)
            .unwrap_or(u32::MAX);
        self.config
            .base_delay
            .saturating_mul(factor)
            .min(self.config.max_delay)
    }

    /// Entries worth keeping per list: enough for the refusal at `limit` and for the delay to
    /// reach its cap; older ones cannot change a verdict.
    fn entries_to_keep(&self, limit: usize) -> usize {
        let free = self.config.free_failures;
        let delay_saturates = (free..free.saturating_add(33))
            .find(|&n| self.delay_after(n) >= self.config.max_delay)
            .unwrap_or(free.saturating_add(33));
        limit.max(delay_saturates).max(1)
    }
}

/// The times of `key`'s failures still within the window, oldest first.
fn recent<K: Eq + std::hash::Hash, T>(
    map: &mut HashMap<K, VecDeque<(T, Instant)>>,
    key: &K,
    now: Instant,
    window: Duration,
) -> Vec<Instant> {
    map.get_mut(key)
        .map(|list| {
            prune(list, now, window);
            list.iter().map(|&(_, at)| at).collect()
        })
        .unwrap_or_default()
}

fn is_expired(at: Instant, now: Instant, window: Duration) -> bool {
    now.saturating_duration_since(at) >= window
}

/// Drops failures that left the window (they are at the front: lists are oldest first).
fn prune<T>(list: &mut VecDeque<(T, Instant)>, now: Instant, window: Duration) {
    while list
        .front()
        .is_some_and(|&(_, at)| is_expired(at, now, window))
    {
        list.pop_front();
    }
}

fn push_bounded<T>(
    list: &mut VecDeque<(T, Instant)>,
    entry: (T, Instant),
    keep: usize,
    now: Instant,
    window: Duration,
) {
    prune(list, now, window);
    list.push_back(entry);
    while list.len() > keep {
        list.pop_front();
    }
}

/// Before tracking a new key in a full map: drop expired lists, then, if still full, the eighth of
/// the lists whose latest failure is oldest (so this work is paid once per many insertions).
fn make_room<K: Clone + Eq + std::hash::Hash, T>(
    map: &mut HashMap<K, VecDeque<(T, Instant)>>,
    max_tracked: usize,
    now: Instant,
    window: Duration,
) {
    if map.len() < max_tracked.max(1) {
        return;
    }
    map.retain(|_, list| {
        list.back()
            .is_some_and(|&(_, at)| !is_expired(at, now, window))
    });
    if map.len() < max_tracked.max(1) {
        return;
    }
    let mut latest: Vec<(Instant, K)> = map
        .iter()
        .filter_map(|(key, list)| list.back().map(|&(_, at)| (at, key.clone())))
        .collect();
    let evict = (map.len() / 8).max(1);
    latest.select_nth_unstable_by_key(evict - 1, |(at, _)| *at);
    for (_, key) in latest.into_iter().take(evict) {
        map.remove(&key);
    }
    tracing::warn!(
        evicted = evict,
        "login throttle table full; forgot the oldest entries"
    );
}

/// User names are compared case-insensitively so `Alice` and `alice` share one count.
fn normalize_user(user: &str) -> String {
    user.trim().to_lowercase()
}

/// One key per client: an IPv4 address, or an IPv6 /64 (what one host or home usually gets,
/// RFC 6177 §3), with IPv4-mapped IPv6 addresses seen as IPv4.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const IP1: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const IP2: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

    fn allow(delay_secs: u64) -> Verdict {
        Verdict::Allow {
            delay: Duration::from_secs(delay_secs),
        }
    }

    fn fail_n(throttle: &Throttle, user: &str, ip: IpAddr, n: usize, at: Instant) {
        for _ in 0..n {
            throttle.record_failure_at(user, ip, at);
        }
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let throttle = Throttle::new(ThrottleConfig {
            account_ip_limit: 100,
            ip_limit: 100,
            ..ThrottleConfig::default()
        });
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..9 {
            match throttle.check_at("alice", IP1, t0) {
                Verdict::Allow { delay } => seen.push(delay.as_secs()),
                refused => panic!("unexpected {refused:?}"),
            }
            throttle.record_failure_at("alice", IP1, t0);
        }
        assert_eq!(seen, [0, 0, 0, 1, 2, 4, 8, 15, 15]);
    }

    #[test]
    fn account_refused_from_one_address_after_limit_then_expires() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        // 9 failures spread over time, then the 10th.
        for i in 0..10 {
            throttle.record_failure_at("alice", IP1, t0 + Duration::from_secs(i * 60));
        }
        let t1 = t0 + Duration::from_secs(9 * 60);
        // The oldest failure (t0) leaves the window at t0 + 15 min.
        assert_eq!(
            throttle.check_at("alice", IP1, t1),
            Verdict::Refuse {
                retry_after: Duration::from_secs(6 * 60)
            }
        );
        // Case does not matter.
        assert!(matches!(
            throttle.check_at("ALICE", IP1, t1),
            Verdict::Refuse { .. }
        ));
        // Another account from another address is untouched.
        assert_eq!(throttle.check_at("bob", IP2, t1), allow(0));
        // Once the oldest failure is out of the window: 9 left, so allowed with a long delay.
        let t2 = t0 + Duration::from_secs(15 * 60);
        assert_eq!(throttle.check_at("alice", IP1, t2), allow(15));
        // After a whole window without failures, everything is forgotten.
        let t3 = t1 + Duration::from_secs(15 * 60);
        assert_eq!(throttle.check_at("alice", IP1, t3), allow(0));
    }

    #[test]
    fn a_strangers_failures_do_not_lock_the_account_out_from_elsewhere() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        fail_n(&throttle, "bob", IP1, 10, t0);
        // The guessing address is refused for bob, even with the right password ...
        assert!(matches!(
            throttle.check_at("bob", IP1, t0),
            Verdict::Refuse { .. }
        ));
        // ... but bob from an address that has not failed is let through: a right password
        // logs in at once, a wrong one is answered after the account's whole delay.
        assert_eq!(throttle.check_at("Bob", IP2, t0), allow(15));
        // The guessing address may still try others until its own limit (10 of 30), slowly.
        assert_eq!(throttle.check_at("carol", IP1, t0), allow(15));
    }

    #[test]
    fn guesses_spread_over_addresses_stay_slow_without_locking_the_account() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        // 40 failures for bob from 20 addresses: 4 times the per-address limit in all.
        for i in 0..20u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            fail_n(&throttle, "bob", ip, 2, t0);
        }
        for i in 0..25u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert_eq!(throttle.check_at("bob", ip, t0), allow(15), "address {i}");
        }
        // A success from one address forgets only that address's failures: the rest still
        // slow the next guess.
        throttle.record_success_at("bob", IpAddr::V4(Ipv4Addr::from(0x0a00_0000)), t0);
        assert_eq!(throttle.check_at("bob", IP2, t0), allow(15));
    }

    #[test]
    fn per_ip_limit_across_users() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        // 30 failures from one address, 2 per user: no account reaches its own limits.
        for i in 0..15 {
            fail_n(&throttle, &format!("user{i}"), IP1, 2, t0);
        }
        let refused = throttle.check_at("someone-new", IP1, t0 + Duration::from_secs(60));
        assert_eq!(
            refused,
            Verdict::Refuse {
                retry_after: Duration::from_secs(14 * 60)
            }
        );
        // The same user from another address is fine.
        assert_eq!(throttle.check_at("someone-new", IP2, t0), allow(0));
        assert_eq!(throttle.check_at("user0", IP2, t0), allow(0));
        // The address is allowed again when the window passes.
        assert_eq!(
            throttle.check_at("someone-new", IP1, t0 + Duration::from_secs(15 * 60)),
            allow(0)
        );
    }

    #[test]
    fn per_ip_delay_across_users() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        for user in ["a", "b", "c", "d"] {
            throttle.record_failure_at(user, IP1, t0);
        }
        // No account has failed more than once, but the address has failed 4 times.
        assert_eq!(throttle.check_at("e", IP1, t0), allow(2));
    }

    #[test]
    fn success_clears_the_account_count_for_that_address() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        fail_n(&throttle, "alice", IP1, 4, t0);
        fail_n(&throttle, "alice", IP2, 3, t0);
        fail_n(&throttle, "bob", IP1, 1, t0);
        // 7 failures for the account in all.
        assert_eq!(throttle.check_at("alice", IP1, t0), allow(15));
        throttle.record_success_at("Alice", IP1, t0);
        // Alice's failures from IP2 remain, bob's failure still counts for IP1.
        assert_eq!(throttle.check_at("alice", IP1, t0), allow(1));
        assert_eq!(throttle.check_at("carol", IP1, t0), allow(0));
        throttle.record_success_at("alice", IP2, t0);
        assert_eq!(throttle.check_at("alice", IP2, t0), allow(0));
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let throttle = Throttle::new(ThrottleConfig::default());
        let t0 = Instant::now();
        for i in 0..30u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, i + 1));
            throttle.record_failure_at(&format!("u{i}"), ip, t0);
        }
        let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0xab, 0, 0, 0x99));
        let other_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert!(matches!(
            throttle.check_at("x", same_64, t0),
            Verdict::Refuse { .. }
        ));
        assert_eq!(throttle.check_at("x", other_64, t0), allow(0));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), IP1);
    }

    #[test]
    fn memory_is_bounded() {
        let throttle = Throttle::new(ThrottleConfig {
            max_tracked: 100,
            ..ThrottleConfig::default()
        });
        let t0 = Instant::now();
        for i in 0..1_000u32 {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            throttle.record_failure_at(
                &format!("user{i}"),
                ip,
                t0 + Duration::from_millis(i.into()),
            );
        }
        let failures = throttle.lock();
        assert!(
            failures.by_account.len() <= 100,
            "{}",
            failures.by_account.len()
        );
        assert!(failures.by_ip.len() <= 100, "{}", failures.by_ip.len());
        assert!(failures.by_pair.len() <= 100, "{}", failures.by_pair.len());
        // The most recent are the ones kept.
        assert!(failures.by_account.contains_key("user999"));
        assert!(!failures.by_account.contains_key("user0"));
        drop(failures);
        // Lists are bounded too.
        fail_n(&throttle, "alice", IP1, 500, t0);
        let failures = throttle.lock();
        // The account's list: what the delay needs to reach its cap (1, 2, 4, 8, 15 s after 3).
        assert_eq!(failures.by_account["alice"].len(), 7);
        assert_eq!(failures.by_pair.values().map(VecDeque::len).max(), Some(10));
        assert_eq!(failures.by_ip[&IP1].len(), 30);
    }

    #[test]
    fn zero_limits_disable_refusal() {
        let throttle = Throttle::new(ThrottleConfig {
            account_ip_limit: 0,
            ip_limit: 0,
            ..ThrottleConfig::default()
        });
        let t0 = Instant::now();
        fail_n(&throttle, "alice", IP1, 100, t0);
        assert_eq!(throttle.check_at("alice", IP1, t0), allow(15));
    }

    #[test]
    fn shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Throttle>();
        assert_send_sync::<crate::VerifiedCache>();
    }
}
