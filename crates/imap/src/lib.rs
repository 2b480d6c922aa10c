//! Tern's IMAP4rev2 (RFC 9051) / IMAP4rev1 (RFC 3501) server.
//!
//! imap-codec parses commands (after [`reader`] has framed lines and literals within limits),
//! except those whose grammar it lacks, which [`syntax`] parses into typed values;
//! [`session`] is the state machine (RFC 9051 §3) with the selected mailbox's own view of
//! sequence numbers and UIDs, fed by the store's change feed; each command family lives in its
//! own module under [`commands`].

mod capabilities;
mod commands;
mod lexer;
pub mod reader;
mod response;
mod session;
mod syntax;
mod utf7;
mod view;
mod view_cache;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use tern_auth::Authenticator;
use tern_net::{Connection, Shutdown, TlsAcceptor};
use tern_store::SharedStore;

pub use reader::ReaderLimits;
pub use view_cache::ViewCache;

/// What the IMAP service needs from the process.
pub struct ImapConfig {
    /// The server's name in the greeting.
    pub hostname: Arc<str>,
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    /// For STARTTLS on the plain listener.
    pub tls: TlsAcceptor,
    pub tls_handshake_timeout: Duration,
    pub shutdown: Shutdown,
    /// Autologout after this long without a command (RFC 9051 §5.4: at least 30 minutes).
    pub idle_timeout: Duration,
    pub limits: ReaderLimits,
    /// Message lists of large mailboxes, shared by the sessions (a fresh one is fine).
    pub views: ViewCache,
}

/// Serves one IMAP connection until the client logs out or leaves.
pub async fn serve(conn: Connection, config: Arc<ImapConfig>) {
    session::run(conn, config).await;
}
