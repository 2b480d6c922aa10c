//! Connection limits, in total and per client address (DESIGN.md §5), shared by every listener of
//! the process so one flood cannot starve the other services.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The limits every listener enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, all services together.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 client counts per /64).
    pub max_per_ip: usize,
    /// How long a TLS handshake may take, for implicit TLS and STARTTLS alike.
    pub tls_handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_per_ip: 50,
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("too many connections in total (limit {0})")]
    Total(usize),
    #[error("too many connections from this address (limit {0})")]
    PerIp(usize),
}

/// Per-process connection counting. Each admitted connection holds a [`ConnGuard`].
#[derive(Debug)]
pub struct ConnLimiter {
    limits: Limits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
}

/// The unit the per-IP limit counts: an IPv4 address, or an IPv6 /64. A single IPv6 host
/// usually owns a whole /64, so counting per /128 would not limit anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4([u8; 4]),
    V6Prefix64([u8; 8]),
}

impl ClientKey {
    fn of(ip: IpAddr) -> Self {
        // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; count them as IPv4.
        match ip.to_canonical() {
            IpAddr::V4(v4) => ClientKey::V4(v4.octets()),
            IpAddr::V6(v6) => ClientKey::V6Prefix64(prefix64(&v6)),
        }
    }
}

fn prefix64(v6: &Ipv6Addr) -> [u8; 8] {
    let o = v6.octets();
    [o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]]
}

impl ConnLimiter {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Connections currently open, all services together.
    pub fn active(&self) -> usize {
        self.lock().total
    }

    /// Connections currently open from `ip` (or its IPv6 /64).
    pub fn active_from(&self, ip: IpAddr) -> usize {
        self.lock()
            .per_client
            .get(&ClientKey::of(ip))
            .copied()
            .unwrap_or(0)
    }

    /// Admits one more connection from `ip`, or says which limit it would break.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, LimitExceeded> {
        let key = ClientKey::of(ip);
        let mut counts = self.lock();
        if counts.total >= self.limits.max_connections {
            return Err(LimitExceeded::Total(self.limits.max_connections));
        }
        let from_client = counts.per_client.entry(key).or_insert(0);
        if *from_client >= self.limits.max_per_ip {
            return Err(LimitExceeded::PerIp(self.limits.max_per_ip));
        }
        *from_client += 1;
        counts.total += 1;
        Ok(ConnGuard {
            limiter: Arc::clone(self),
            key,
        })
    }

    fn release(&self, key: ClientKey) {
        let mut counts = self.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_client.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                // Keep the map as small as the set of clients connected right now.
                counts.per_client.remove(&key);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // No code panics while holding the lock, so a poisoned lock still holds valid counts.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One admitted connection's slot. Dropping it frees the slot, also when the session task
/// panics or is cancelled.
#[derive(Debug)]
pub struct ConnGuard {
    limiter: Arc<ConnLimiter>,
    key: ClientKey,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.limiter.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max_connections: usize, max_per_ip: usize) -> Arc<ConnLimiter> {
        ConnLimiter::new(Limits {
            max_connections,
            max_per_ip,
            ..Limits::default()
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let d = Limits::default();
        assert_eq!(d.max_connections, 10_000);
        assert_eq!(d.max_per_ip, 50);
        assert_eq!(d.tls_handshake_timeout, Duration::from_secs(10));
    }

    #[test]
    fn per_ip_limit_refuses_the_extra_connection_and_a_dropped_guard_frees_a_slot() {
        let l = limiter(100, 2);
        let a = l.try_acquire(ip("192.0.2.1")).unwrap();
        let _b = l.try_acquire(ip("192.0.2.1")).unwrap();
        assert_eq!(
            l.try_acquire(ip("192.0.2.1")).unwrap_err(),
            LimitExceeded::PerIp(2)
        );
        // Another client is not affected.
        let _c = l.try_acquire(ip("192.0.2.2")).unwrap();
        assert_eq!(l.active(), 3);

        drop(a);
        assert_eq!(l.active(), 2);
        assert_eq!(l.active_from(ip("192.0.2.1")), 1);
        assert!(l.try_acquire(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn total_limit_applies_across_clients() {
        let l = limiter(2, 10);
        let _a = l.try_acquire(ip("192.0.2.1")).unwrap();
        let _b = l.try_acquire(ip("192.0.2.2")).unwrap();
        assert_eq!(
            l.try_acquire(ip("192.0.2.3")).unwrap_err(),
            LimitExceeded::Total(2)
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_counts_as_ipv4() {
        let l = limiter(100, 1);
        let _a = l.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(l.try_acquire(ip("2001:db8:1:2::ffff")).is_err());
        assert!(l.try_acquire(ip("2001:db8:1:3::1")).is_ok());

        let _v4 = l.try_acquire(ip("198.51.100.7")).unwrap();
        assert!(l.try_acquire(ip("::ffff:198.51.100.7")).is_err());
    }

    #[test]
    fn a_panicking_session_frees_its_slot() {
        let l = limiter(100, 1);
        let guard = l.try_acquire(ip("192.0.2.9")).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _held = guard;
            panic!("session crashed");
        }));
        assert!(result.is_err());
        assert_eq!(l.active(), 0);
        assert!(l.try_acquire(ip("192.0.2.9")).is_ok());
    }
}
