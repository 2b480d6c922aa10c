//! Tern's configuration: one TOML file, every key with a documented default.
//!
//! [`DEFAULT_CONFIG`] is the commented default file that `tern config default` prints; a test
//! checks that it parses to exactly [`Config::default`], so the two cannot drift apart.

mod size;

pub use size::{format_size, parse_size};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid size {0:?}: use a number with an optional K, M, G or T suffix")]
    Size(String),
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the store, blobs, certificate and `listening.json` live.
    pub data_dir: PathBuf,
    /// The server's name in greetings and Received headers.
    pub hostname: String,
    /// Which services listen where. Absent: every service on its default loopback port.
    /// Present: only the keys given (port 0 = an ephemeral port).
    pub listen: Option<Listen>,
    pub tls: Tls,
    pub limits: Limits,
    pub smtp: Smtp,
    pub queue: Queue,
    pub dns: Dns,
    pub log: Log,
    pub pop3: Pop3,
    pub auth: Auth,
}

/// Throttling of failed logins, shared by IMAP, POP3, submission and the webmail (DESIGN.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Failed logins that cost nothing (typos); the delay starts at the next one.
    pub free_failures: usize,
    /// The delay of the answer after those, in milliseconds; it doubles with each failure.
    pub failure_delay_ms: u64,
    /// The delay never grows beyond this many milliseconds.
    pub max_failure_delay_ms: u64,
    /// Failures for one account from one client address within the window after which that
    /// account's logins from that address are refused until the window moves on; 0 = never.
    /// Never account-wide (a stranger could lock anyone out); failures from every address
    /// still add to the account's delay.
    pub account_failure_limit: usize,
    /// Failures from one client address (IPv6: one /64) within the window after which its
    /// logins are refused; 0 = never.
    pub ip_failure_limit: usize,
    /// Seconds a failure counts.
    pub failure_window_secs: u64,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth {
            free_failures: 3,
            failure_delay_ms: 1000,
            max_failure_delay_ms: 15_000,
            account_failure_limit: 10,
            ip_failure_limit: 30,
            failure_window_secs: 900,
        }
    }
}

/// SMTP sessions (MX and submission), RFC 5321.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// Recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
    pub max_recipients: usize,
    /// Messages per connection before the server closes it.
    pub max_messages_per_connection: usize,
    /// Errors in one session before the server closes it.
    pub max_errors: usize,
    /// Seconds to wait for a command (RFC 5321 §4.5.3.2: at least 5 minutes).
    pub command_timeout_secs: u64,
    /// Seconds to wait for the next block of message data (RFC 5321 §4.5.3.2.6: 3 minutes).
    pub data_timeout_secs: u64,
    /// Milliseconds the MX waits before its greeting; a client that talks meanwhile is an
    /// early talker (a spam bot not waiting for the 220) and is refused. 0 turns it off.
    pub greeting_delay_ms: u64,
    /// Check SPF, DKIM and DMARC on the MX and add Authentication-Results.
    pub verify: bool,
    /// Honour a DMARC p=reject (refuse, 550 5.7.1) and p=quarantine (deliver to Junk).
    pub enforce_dmarc: bool,
    /// Milliseconds all DNS look-ups of one message's SPF/DKIM/DMARC checks may take together;
    /// past it the checks are temperror (RFC 7208 §2.6.6, RFC 7489 §6.6.2) and the message is
    /// answered anyway, so a DNS outage does not make senders time out and retry.
    pub verify_budget_ms: u64,
}

impl Default for Smtp {
    fn default() -> Smtp {
        Smtp {
            max_recipients: 100,
            max_messages_per_connection: 100,
            max_errors: 10,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            greeting_delay_ms: 500,
            verify: true,
            enforce_dmarc: true,
            verify_budget_ms: 5000,
        }
    }
}

/// The outbound queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queue {
    /// A smarthost "host:port" that takes all outgoing mail; empty = deliver to each MX.
    pub relay: String,
    /// AUTH user name at the relay (empty: no AUTH).
    pub relay_username: String,
    pub relay_password: String,
    /// Refuse to talk to the relay without TLS (STARTTLS, or implicit TLS on port 465).
    pub relay_require_tls: bool,
    /// Per-domain routes, like Postfix's transport maps: "example.net" = "127.0.0.1:2626".
    pub routes: std::collections::BTreeMap<String, String>,
    /// Seconds between attempts; the last one repeats until the message expires.
    pub retry_intervals_secs: Vec<u64>,
    /// Seconds after which an undelivered recipient is bounced (default 5 days).
    pub max_age_secs: u64,
    /// Seconds for connecting and for each command's reply (RFC 5321 §4.5.3.2: 5 minutes);
    /// each block of message data gets at most 3 minutes and the reply to the final dot
    /// twice this (10 minutes by default, §4.5.3.2.6).
    pub timeout_secs: u64,
    /// Messages delivered in parallel.
    pub concurrency: usize,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            relay: String::new(),
            relay_username: String::new(),
            relay_password: String::new(),
            relay_require_tls: true,
            routes: Default::default(),
            retry_intervals_secs: vec![60, 300, 900, 3600, 10800, 21600],
            max_age_secs: 5 * 24 * 3600,
            timeout_secs: 300,
            concurrency: 16,
        }
    }
}

/// DNS for MX look-ups and SPF/DKIM/DMARC checks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dns {
    /// A resolver "ip:port" (UDP and TCP); empty = the system's (/etc/resolv.conf).
    pub server: String,
}

/// Listen addresses per service (DESIGN.md §2); `None` disables the service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub smtp: Option<String>,
    pub submission: Option<String>,
    pub submissions: Option<String>,
    pub imap: Option<String>,
    pub imaps: Option<String>,
    pub pop3: Option<String>,
    pub pop3s: Option<String>,
    pub http: Option<String>,
    pub https: Option<String>,
}

impl Listen {
    /// The embedded default: every service on loopback, on ports that need no privileges.
    pub fn loopback_defaults() -> Listen {
        let at = |port: u16| Some(format!("127.0.0.1:{port}"));
        Listen {
            smtp: at(2525),
            submission: at(2587),
            submissions: at(2465),
            imap: at(2143),
            imaps: at(2993),
            pop3: at(2110),
            pop3s: at(2995),
            http: at(2095),
            https: at(2096),
        }
    }

    /// `(service, address)` for every enabled service, in a fixed order.
    pub fn enabled(&self) -> Vec<(&'static str, &str)> {
        [
            ("smtp", &self.smtp),
            ("submission", &self.submission),
            ("submissions", &self.submissions),
            ("imap", &self.imap),
            ("imaps", &self.imaps),
            ("pop3", &self.pop3),
            ("pop3s", &self.pop3s),
            ("http", &self.http),
            ("https", &self.https),
        ]
        .into_iter()
        .filter_map(|(name, addr)| addr.as_deref().map(|a| (name, a)))
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// PEM certificate chain; empty = a self-signed certificate made once in `data_dir/tls`.
    pub cert: PathBuf,
    /// PEM private key; empty = self-signed.
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connections in total, all services together.
    pub max_connections: usize,
    /// Connections from one client address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// Largest message accepted, as a size like "50M".
    pub max_message_size: String,
    /// Seconds a session may stay silent before it is closed (IMAP's is 30 minutes, RFC 9051 §5.4).
    pub idle_timeout_secs: u64,
    /// Seconds sessions get to finish on shutdown.
    pub shutdown_grace_secs: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            max_connections_per_ip: 50,
            max_message_size: "50M".into(),
            idle_timeout_secs: 1800,
            shutdown_grace_secs: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// "text" (human-readable) or "json".
    pub format: String,
    /// A tracing filter such as "info" or "tern=debug,info".
    pub level: String,
}

impl Default for Log {
    fn default() -> Log {
        Log {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// POP3 settings (RFC 1939, RFC 2449).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pop3 {
    /// Mark a message `\Seen` when a POP3 client retrieved it with RETR (applied at QUIT), so
    /// IMAP and the webmail show it read. Off by default, like Dovecot.
    pub mark_seen_on_retr: bool,
    /// The EXPIRE capability (RFC 2449 §6.7): "NEVER", or the days the provider keeps
    /// messages after retrieval ("0": retrieved messages are removed at QUIT).
    pub expire: String,
    /// Minimum seconds between two logins to one maildrop (RFC 2449 §6.5 LOGIN-DELAY);
    /// 0 turns it off.
    pub login_delay_secs: u64,
    /// The autologout timer: seconds a session may stay silent (at least 600, RFC 1939 §3).
    pub idle_timeout_secs: u64,
}

impl Default for Pop3 {
    fn default() -> Pop3 {
        Pop3 {
            mark_seen_on_retr: false,
            expire: "NEVER".into(),
            login_delay_secs: 0,
            idle_timeout_secs: 600,
        }
    }
}

impl Pop3 {
    /// The EXPIRE policy in days; `None` for NEVER.
    pub fn expire_days(&self) -> Result<Option<u32>, ConfigError> {
        if self.expire.eq_ignore_ascii_case("NEVER") {
            return Ok(None);
        }
        // RFC 2449 §6.7: EXPIRE announces a policy the server carries out. Tern deletes
        // retrieved messages at QUIT for 0; it has no timed expiry yet, so it does not
        // announce one it would not keep.
        match self.expire.parse::<u32>() {
            Ok(0) => Ok(Some(0)),
            _ => Err(ConfigError::Invalid {
                key: "pop3.expire",
                reason: format!(
                    "{:?}: only \"NEVER\" and \"0\" (delete retrieved messages at QUIT) are \
                     supported; expiry after a number of days is not implemented",
                    self.expire
                ),
            }),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("tern-data"),
            hostname: "localhost".into(),
            listen: None,
            tls: Tls::default(),
            limits: Limits::default(),
            smtp: Smtp::default(),
            queue: Queue::default(),
            dns: Dns::default(),
            log: Log::default(),
            pop3: Pop3::default(),
            auth: Auth::default(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let config = Config::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// The services to run: the `[listen]` table as given, or every default.
    pub fn listeners(&self) -> Listen {
        self.listen
            .clone()
            .unwrap_or_else(Listen::loopback_defaults)
    }

    pub fn max_message_size(&self) -> Result<u64, ConfigError> {
        parse_size(&self.limits.max_message_size)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.max_message_size()?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                key: "log.format",
                reason: format!("{:?} is neither \"text\" nor \"json\"", self.log.format),
            });
        }
        self.pop3.expire_days()?;
        if self.pop3.idle_timeout_secs < 600 {
            return Err(ConfigError::Invalid {
                key: "pop3.idle_timeout_secs",
                reason: "RFC 1939 §3 requires at least 600 seconds".into(),
            });
        }
        if self.auth.failure_window_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "auth.failure_window_secs",
                reason: "0 would forget every failure at once".into(),
            });
        }
        if self.queue.retry_intervals_secs.is_empty() {
            return Err(ConfigError::Invalid {
                key: "queue.retry_intervals_secs",
                reason: "empty".into(),
            });
        }
        if !self.dns.server.is_empty() && self.dns.server.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "dns.server",
                reason: format!("{:?} is not ip:port", self.dns.server),
            });
        }
        if self.hostname.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "hostname",
                reason: "empty".into(),
            });
        }
        Ok(())
    }
}

/// The full default configuration, commented; `tern config default` prints it.
pub const DEFAULT_CONFIG: &str = r#"# Tern configuration. Every key is optional; shown here with its default.

# Where the store (store.sqlite), message blobs (blobs/), the self-signed certificate (tls/)
# and listening.json live. `tern --data-dir DIR` overrides it.
data_dir = "tern-data"

# The server's name in SMTP/IMAP/POP3 greetings and Received headers.
hostname = "localhost"

# Which services listen where. Without a [listen] table every service listens on its default
# loopback port below; with one, only the keys given run. Port 0 picks a free port (the actual
# addresses are written to <data_dir>/listening.json). A production server uses the standard
# ports: 25, 587, 465, 143, 993, 110, 995, 80, 443.
# [listen]
# smtp = "127.0.0.1:2525"          # MX, STARTTLS offered
# submission = "127.0.0.1:2587"    # STARTTLS, AUTH required
# submissions = "127.0.0.1:2465"   # implicit TLS
# imap = "127.0.0.1:2143"          # STARTTLS
# imaps = "127.0.0.1:2993"         # implicit TLS
# pop3 = "127.0.0.1:2110"          # STLS
# pop3s = "127.0.0.1:2995"         # implicit TLS
# http = "127.0.0.1:2095"          # webmail and admin API
# https = "127.0.0.1:2096"

[tls]
# PEM paths. Empty: a self-signed certificate is made on first start in <data_dir>/tls/.
cert = ""
key = ""

[limits]
max_connections = 10000            # all services together
max_connections_per_ip = 50        # per client address (IPv6: per /64)
max_message_size = "50M"           # K, M, G suffixes (powers of 1024)
idle_timeout_secs = 1800           # IMAP autologout is 30 minutes (RFC 9051 §5.4)
shutdown_grace_secs = 10           # on SIGTERM/SIGINT, time sessions get to finish

[smtp]
max_recipients = 100               # per message
max_messages_per_connection = 100
max_errors = 10                    # bad commands before the session is closed
command_timeout_secs = 300         # RFC 5321 §4.5.3.2
data_timeout_secs = 180            # between blocks of message data
greeting_delay_ms = 500            # MX: clients talking before the 220 are refused; 0 = off
verify = true                      # MX: SPF, DKIM, DMARC checks and Authentication-Results
enforce_dmarc = true               # MX: DMARC p=reject refused, p=quarantine to Junk
verify_budget_ms = 5000            # MX: all DNS look-ups of one message's checks; then temperror

[queue]
relay = ""                         # a smarthost "host:port" for all outgoing mail; "" = MX
relay_username = ""                # AUTH at the relay ("" = none)
relay_password = ""
relay_require_tls = true           # never send to the relay without TLS
retry_intervals_secs = [60, 300, 900, 3600, 10800, 21600]  # the last one repeats
max_age_secs = 432000              # 5 days, then the sender gets a bounce
timeout_secs = 300                 # per connection and reply
concurrency = 16                   # messages delivered in parallel

# Per-domain routes, like Postfix's transport maps: mail for the domain goes to that host.
[queue.routes]
# "example.net" = "127.0.0.1:2626"

[dns]
server = ""                        # "ip:port" of a resolver; "" = /etc/resolv.conf

[log]
format = "text"                    # "text" or "json"; `--log-format` overrides it
level = "info"                     # a tracing filter, e.g. "tern=debug,info"; RUST_LOG overrides it

[pop3]
mark_seen_on_retr = false          # mark messages \Seen (at QUIT) once retrieved with RETR
expire = "NEVER"                   # EXPIRE capability: "NEVER", or "0" (removed at QUIT once retrieved)
login_delay_secs = 0               # LOGIN-DELAY: minimum seconds between logins to one maildrop; 0 = off
idle_timeout_secs = 600            # autologout timer, at least 600 (RFC 1939 §3)

# Failed logins, counted for IMAP, POP3, submission and the webmail together.
[auth]
free_failures = 3                  # failures that cost nothing (typos)
failure_delay_ms = 1000            # then each failure is answered this late, doubling each time
max_failure_delay_ms = 15000       # ... up to this
account_failure_limit = 10         # failures per account from one address within the window, then that address is refused for it; 0 = never
ip_failure_limit = 30              # failures per client address (IPv6: /64), then refused; 0 = never
failure_window_secs = 900          # how long a failure counts
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_is_the_default() {
        let parsed = Config::from_toml(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, Config::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn the_commented_listen_table_is_the_loopback_default() {
        let uncommented: String = DEFAULT_CONFIG
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.starts_with("[listen]") || r.contains("127.0.0.1"))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let parsed = Config::from_toml(&uncommented).unwrap();
        assert_eq!(parsed.listen, Some(Listen::loopback_defaults()));
    }

    #[test]
    fn a_listen_table_runs_only_the_services_it_names() {
        let c = Config::from_toml("[listen]\nimap = \"127.0.0.1:0\"\n").unwrap();
        assert_eq!(c.listeners().enabled(), vec![("imap", "127.0.0.1:0")]);
        assert_eq!(Config::default().listeners().enabled().len(), 9);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Config::from_toml("datadir = \"x\"").is_err());
        assert!(Config::from_toml("[listen]\nftp = \"127.0.0.1:21\"").is_err());
        let c = Config::from_toml("[limits]\nmax_message_size = \"lots\"").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("[log]\nformat = \"xml\"").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("[pop3]\nexpire = \"soon\"").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("[pop3]\nidle_timeout_secs = 60").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("[auth]\nfailure_window_secs = 0").unwrap();
        assert!(c.validate().is_err());
        let c = Config::from_toml("[pop3]\nexpire = \"0\"").unwrap();
        assert_eq!(c.pop3.expire_days().unwrap(), Some(0));
        // A timed expiry is refused rather than announced and not kept.
        let c = Config::from_toml("[pop3]\nexpire = \"30\"").unwrap();
        assert!(c.validate().is_err());
    }
}
