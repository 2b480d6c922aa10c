//! Webmail: the mailbox in any browser, served by Tern itself on the `http` / `https` listeners.
//!
//! Pages are rendered on the server (askama) and work without JavaScript for reading and
//! sending; a small embedded script adds live updates (server-sent events from the store's
//! change feed) and keyboard shortcuts. The webmail talks to the store directly, never through
//! IMAP, so a change made here is at once visible to IMAP and POP3 sessions and the other way
//! round.
//!
//! Security (DESIGN.md §6): server-side sessions behind an `HttpOnly`, `SameSite=Strict` cookie
//! (`Secure` under HTTPS), a CSRF token on every state-changing request, strict security headers
//! on every response, HTML mail sanitized with ammonia and shown in a sandboxed frame under its
//! own Content-Security-Policy, remote content blocked until the user asks. HTTPS responses
//! carry HSTS; from another machine, plain HTTP serves nothing but autoconfig (`transport`),
//! and every redirect goes through one check (`redirect`).

mod assets;
mod autoconfig;
mod error;
mod headers;
mod outgoing;
mod pages;
mod redirect;
mod render;
mod server;
mod session;
mod submit;
mod templates;
mod transport;

pub use error::WebError;
pub use server::WebmailServer;
pub use submit::{Submission, SubmitError, SubmitReport, Submitter};

use std::sync::Arc;
use std::time::Duration;
use tern_auth::Authenticator;
use tern_store::SharedStore;

/// Ports and names shown on the client set-up page and in autoconfig answers.
#[derive(Debug, Clone, Default)]
pub struct ClientSetup {
    /// The name clients connect to (the server's hostname).
    pub hostname: String,
    pub imap: Option<u16>,
    pub imaps: Option<u16>,
    pub pop3: Option<u16>,
    pub pop3s: Option<u16>,
    pub submission: Option<u16>,
    pub submissions: Option<u16>,
    /// The webmail's HTTPS port: plain-HTTP visitors from other machines are sent there.
    pub https: Option<u16>,
}

/// What the webmail needs from the process.
pub struct WebmailConfig {
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    /// Sends a composed message (the queue's submission path once it is wired).
    pub submitter: Arc<dyn Submitter>,
    /// Largest message a user may send (attachments included), in bytes.
    pub max_message_size: u64,
    /// A session unused this long is logged out.
    pub session_idle: Duration,
    pub setup: ClientSetup,
    pub shutdown: tern_net::Shutdown,
}

/// The webmail's shared state, behind every handler.
pub(crate) struct Webmail {
    pub(crate) config: WebmailConfig,
    pub(crate) sessions: session::Sessions,
}

pub(crate) type App = Arc<Webmail>;
