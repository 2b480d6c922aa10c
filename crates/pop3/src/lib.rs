//! Tern's POP3 server: RFC 1939 with CAPA and response codes (RFC 2449, RFC 3206), SASL AUTH
//! (RFC 5034, PLAIN and LOGIN) and STLS (RFC 2595), over the store's INBOX.
//!
//! The crate owns the session logic only: connections come from `tern-net`, logins go through
//! `tern-auth`'s one login path, and mail is read and removed through the store's trait.

mod command;
mod lines;
mod lock;
mod maildrop;
mod reply;
mod session;
mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_auth::Authenticator;
use tern_net::{Connection, Shutdown, TlsAcceptor};
use tern_store::SharedStore;

pub use lock::{MaildropLocks, Refusal};

/// What the POP3 service is configured with (from `[pop3]` and the shared settings).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's name, in the greeting.
    pub hostname: String,
    /// Add `\Seen` at QUIT to the messages retrieved with RETR and kept.
    pub mark_seen_on_retr: bool,
    /// The EXPIRE policy in days (`None`: NEVER). 0 removes retrieved messages at QUIT
    /// (RFC 2449 §6.7).
    pub expire_days: Option<u32>,
    /// Minimum time between two logins to one maildrop; zero for none (RFC 2449 §6.5).
    pub login_delay: Duration,
    /// The autologout timer (RFC 1939 §3: at least 10 minutes in production).
    pub idle_timeout: Duration,
    /// How long an STLS handshake may take.
    pub tls_handshake_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            hostname: "localhost".into(),
            mark_seen_on_retr: false,
            expire_days: None,
            login_delay: Duration::ZERO,
            idle_timeout: Duration::from_secs(600),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// The POP3 service shared by every session of the process (POP3 and POP3S listeners alike).
pub struct Pop3Server {
    store: SharedStore,
    auth: Arc<Authenticator>,
    /// For STLS; `None` when no certificate is available (STLS is then not offered).
    tls: Option<TlsAcceptor>,
    settings: Settings,
    locks: MaildropLocks,
    shutdown: Shutdown,
}

impl Pop3Server {
    pub fn new(
        store: SharedStore,
        auth: Arc<Authenticator>,
        tls: Option<TlsAcceptor>,
        settings: Settings,
        shutdown: Shutdown,
    ) -> Arc<Pop3Server> {
        Arc::new(Pop3Server {
            store,
            auth,
            tls,
            locks: MaildropLocks::new(settings.login_delay),
            settings,
            shutdown,
        })
    }

    /// The maildrop locks, e.g. to check that none outlives its connection.
    pub fn locks(&self) -> &MaildropLocks {
        &self.locks
    }

    /// Serves one connection until QUIT, an error, the autologout timer or shutdown.
    pub async fn serve(self: Arc<Self>, conn: Connection) {
        session::run(self, conn).await;
    }
}

/// Whether a client may send a password in the clear: only over TLS or on loopback
/// (RFC 2595 §2.2, DESIGN.md §5). A dual-stack listener shows IPv4 peers as `::ffff:a.b.c.d`.
pub fn plaintext_auth_allowed(tls: bool, peer: SocketAddr) -> bool {
    tls || peer.ip().to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_passwords_only_over_tls_or_loopback() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(plaintext_auth_allowed(false, addr("127.0.0.1:4000")));
        assert!(plaintext_auth_allowed(false, addr("127.1.2.3:4000")));
        assert!(plaintext_auth_allowed(false, addr("[::1]:4000")));
        assert!(plaintext_auth_allowed(
            false,
            addr("[::ffff:127.0.0.1]:4000")
        ));
        assert!(!plaintext_auth_allowed(false, addr("192.0.2.7:4000")));
        assert!(!plaintext_auth_allowed(false, addr("[2001:db8::1]:4000")));
        assert!(!plaintext_auth_allowed(
            false,
            addr("[::ffff:192.0.2.7]:4000")
        ));
        assert!(plaintext_auth_allowed(true, addr("192.0.2.7:4000")));
        assert!(plaintext_auth_allowed(true, addr("[2001:db8::1]:4000")));
    }
}
