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
    /// Received messages in memory at once, shared by every SMTP listener of the process.
    pub memory: Arc<MemoryBudget>,
}

/// Bounds the bytes of received messages the server holds in memory at once: a message
/// arrives into a spool file and is read back for its checks and delivery only with its share
/// of the budget, so many large messages at once wait their turn instead of taking the RAM.
pub struct MemoryBudget {
    kib: tokio::sync::Semaphore,
    total_kib: u32,
}

impl MemoryBudget {
    /// A budget of `bytes` (at least one KiB).
    pub fn new(bytes: usize) -> MemoryBudget {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        MemoryBudget {
            kib: tokio::sync::Semaphore::new(total_kib as usize),
            total_kib,
        }
    }

    /// Waits for room for a message of `bytes` (a message larger than the whole budget takes
    /// all of it). None only if the budget was closed, which never happens.
    pub async fn hold(&self, bytes: u64) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let kib = u32::try_from(bytes / 1024 + 1)
            .unwrap_or(u32::MAX)
            .min(self.total_kib);
        self.kib.acquire_many(kib).await.ok()
    }
}

impl SmtpServer {
    /// Serves one connection until it ends.
    pub async fn serve(self: Arc<Self>, conn: Connection, kind: Kind) {
        session::Session::run(self, conn, kind).await;
    }
}
