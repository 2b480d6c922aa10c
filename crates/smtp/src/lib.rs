//! Tern's SMTP server (RFC 5321): the MX that takes mail for the hosted domains, and
//! authenticated submission (RFC 6409, STARTTLS on `submission`, implicit TLS on
//! `submissions` per RFC 8314). Commands are parsed by smtp-proto; the session logic, limits
//! and delivery decisions are here. Submitted mail goes through `tern_queue::Outbound`.

mod auth;
mod envelope;
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
mod message;
mod reply;
mod session;
mod trace;
mod verify;

pub use reply::Reply;
pub use verify::Verifier;

use std::sync::Arc;
use std::time::Duration;
use tern_auth::Authenticator;
use tern_net::{Connection, Shutdown, TlsAcceptor};
use tern_queue::Outbound;
use tern_store::SharedStore;

/// Which service a session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Inbound mail for hosted domains: no AUTH, no relaying.
    Mx,
    /// Authenticated submission (`submission` and `submissions`).
    Submission,
}

/// Limits and switches of the SMTP services.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_messages_per_connection: usize,
    pub max_errors: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// MX only: a client talking before the greeting is refused.
    pub greeting_delay: Duration,
    pub tls_handshake_timeout: Duration,
    /// DMARC p=reject refused, p=quarantine to Junk.
    pub enforce_dmarc: bool,
}

impl Settings {
    pub fn from_config(config: &tern_config::Config) -> Settings {
        let s = &config.smtp;
        Settings {
            max_message_size: config
                .max_message_size()
                .map(|v| v.min(usize::MAX as u64) as usize)
                .unwrap_or(50 << 20),
            max_recipients: s.max_recipients.max(1),
            max_messages_per_connection: s.max_messages_per_connection.max(1),
            max_errors: s.max_errors.max(1),
            command_timeout: Duration::from_secs(s.command_timeout_secs.max(1)),
            data_timeout: Duration::from_secs(s.data_timeout_secs.max(1)),
            greeting_delay: Duration::from_millis(s.greeting_delay_ms),
            tls_handshake_timeout: Duration::from_secs(30),
            enforce_dmarc: s.enforce_dmarc,
        }
    }
}

/// What every SMTP session of the process shares.
pub struct SmtpServer {
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    pub outbound: Arc<Outbound>,
    pub tls: TlsAcceptor,
    pub hostname: Arc<str>,
    pub settings: Settings,
    pub shutdown: Shutdown,
    /// SPF/DKIM/DMARC on the MX; None when turned off.
    pub verifier: Option<Arc<Verifier>>,
}

impl SmtpServer {
    /// Serves one connection until it ends.
    pub async fn serve(self: Arc<Self>, conn: Connection, kind: Kind) {
        session::Session::run(self, conn, kind).await;
    }
}
