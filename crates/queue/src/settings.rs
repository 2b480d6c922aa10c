//! The queue's settings, from the `[queue]` and `[dns]` configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// A "host:port" destination (relay or route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn parse(key: &'static str, text: &str) -> Result<HostPort, SettingsError> {
        let bad = |reason: &str| SettingsError::Invalid {
            key,
            reason: format!("{text:?}: {reason}"),
        };
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| bad("expected host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = port.parse().map_err(|_| bad("bad port"))?;
        Ok(HostPort {
            host: host.to_owned(),
            port,
        })
    }
}

#[derive(Clone)]
pub struct Relay {
    pub target: HostPort,
    /// (user, password) for AUTH at the relay.
    pub credentials: Option<(String, String)>,
    pub require_tls: bool,
}

// Secrets never in logs (DESIGN.md §6): the relay password is not shown.
impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("target", &self.target)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Our name in EHLO, Message-IDs, Received headers and bounces.
    pub hostname: String,
    pub relay: Option<Relay>,
    /// Lower-cased domain → destination.
    pub routes: BTreeMap<String, HostPort>,
    pub retry_intervals: Vec<Duration>,
    pub max_age: Duration,
    pub timeout: Duration,
    pub concurrency: usize,
    /// A resolver to ask instead of the system's.
    pub dns_server: Option<SocketAddr>,
}

impl QueueSettings {
    pub fn from_config(config: &tern_config::Config) -> Result<QueueSettings, SettingsError> {
        let q = &config.queue;
        let relay = if q.relay.is_empty() {
            None
        } else {
            Some(Relay {
                target: HostPort::parse("queue.relay", &q.relay)?,
                credentials: (!q.relay_username.is_empty())
                    .then(|| (q.relay_username.clone(), q.relay_password.clone())),
                require_tls: q.relay_require_tls,
            })
        };
        let mut routes = BTreeMap::new();
        for (domain, target) in &q.routes {
            routes.insert(
                domain.trim().trim_end_matches('.').to_ascii_lowercase(),
                HostPort::parse("queue.routes", target)?,
            );
        }
        let dns_server = if config.dns.server.is_empty() {
            None
        } else {
            Some(
                config
                    .dns
                    .server
                    .parse()
                    .map_err(|_| SettingsError::Invalid {
                        key: "dns.server",
                        reason: config.dns.server.clone(),
                    })?,
            )
        };
        Ok(QueueSettings {
            hostname: config.hostname.clone(),
            relay,
            routes,
            retry_intervals: q
                .retry_intervals_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            max_age: Duration::from_secs(q.max_age_secs),
            timeout: Duration::from_secs(q.timeout_secs.max(1)),
            concurrency: q.concurrency.max(1),
            dns_server,
        })
    }

    /// The pause before attempt number `attempts + 1` (the last interval repeats).
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let i = (attempts as usize).min(self.retry_intervals.len().saturating_sub(1));
        self.retry_intervals
            .get(i)
            .copied()
            .unwrap_or(Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_relay_parse_and_back_off_grows_then_repeats() {
        let mut config = tern_config::Config::default();
        config.queue.relay = "smtp.example.net:587".into();
        config.queue.relay_username = "u".into();
        config
            .queue
            .routes
            .insert("Example.NET".into(), "127.0.0.1:2626".into());
        let s = QueueSettings::from_config(&config).unwrap();
        let relay = s.relay.unwrap();
        assert_eq!(relay.target.host, "smtp.example.net");
        assert_eq!(relay.target.port, 587);
        assert!(relay.credentials.is_some());
        config.queue.relay_password = "s3cret".into();
        let shown = format!("{:?}", QueueSettings::from_config(&config).unwrap());
        assert!(!shown.contains("s3cret") && shown.contains("\"u\""));
        assert_eq!(s.routes["example.net"].port, 2626);
        let s = QueueSettings::from_config(&tern_config::Config::default()).unwrap();
        assert_eq!(s.retry_after(0), Duration::from_secs(60));
        assert_eq!(s.retry_after(1), Duration::from_secs(300));
        assert_eq!(s.retry_after(99), Duration::from_secs(21600));
        config.queue.routes.insert("x.test".into(), "nohost".into());
        assert!(QueueSettings::from_config(&config).is_err());
    }
}
