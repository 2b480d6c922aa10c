//! Which code serves which listener. [`Servers`] builds each protocol's server once from
//! [`Shared`] (so the plain and TLS listeners of one protocol share sessions, locks and
//! settings), and [`start`] hands each listener to its server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tern_auth::Authenticator;
use tern_config::Config;
use tern_net::{Listener, Shutdown, TlsAcceptor};
use tern_queue::Outbound;
use tern_smtp::{Kind, MemoryBudget, Settings, SmtpServer, Verifier};
use tern_store::SharedStore;
use tokio::task::JoinHandle;

/// What every service shares.
#[derive(Clone)]
pub struct Shared {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    /// For STARTTLS / STLS upgrades.
    pub tls: TlsAcceptor,
    pub hostname: Arc<str>,
    pub shutdown: Shutdown,
    /// Submission and the outbound queue (its worker is started by `serve`).
    pub outbound: Arc<Outbound>,
    /// The port each service actually listens on (for the webmail's client set-up page).
    pub ports: Arc<BTreeMap<&'static str, u16>>,
}

/// One server per protocol, built once for all its listeners.
pub struct Servers {
    pop3: Arc<tern_pop3::Pop3Server>,
    imap: Arc<tern_imap::ImapConfig>,
    mx: Arc<SmtpServer>,
    submission: Arc<SmtpServer>,
    webmail: tern_webmail::WebmailServer,
}

impl Servers {
    pub fn new(shared: &Shared) -> Servers {
        // One budget for both: what the server holds of received messages at once.
        let settings = Settings::from_config(&shared.config);
        let memory = Arc::new(MemoryBudget::new(settings.max_message_size));
        Servers {
            pop3: pop3_server(shared),
            imap: Arc::new(imap_config(shared)),
            mx: Arc::new(smtp_server(shared, Kind::Mx, &memory)),
            submission: Arc::new(smtp_server(shared, Kind::Submission, &memory)),
            webmail: webmail(shared),
        }
    }
}

/// Starts serving `listener` in its own task.
pub fn start(listener: Listener, servers: &Servers, shutdown: Shutdown) -> JoinHandle<()> {
    match listener.service() {
        "pop3" | "pop3s" => {
            let server = Arc::clone(&servers.pop3);
            tokio::spawn(listener.serve(shutdown, move |conn| Arc::clone(&server).serve(conn)))
        }
        "imap" | "imaps" => {
            let config = Arc::clone(&servers.imap);
            tokio::spawn(listener.serve(shutdown, move |conn| {
                tern_imap::serve(conn, Arc::clone(&config))
            }))
        }
        service @ ("smtp" | "submission" | "submissions") => {
            let (server, kind) = if service == "smtp" {
                (Arc::clone(&servers.mx), Kind::Mx)
            } else {
                (Arc::clone(&servers.submission), Kind::Submission)
            };
            tokio::spawn(
                listener.serve(shutdown, move |conn| Arc::clone(&server).serve(conn, kind)),
            )
        }
        // "http" | "https", and any service name the config crate adds later.
        _ => {
            let webmail = servers.webmail.clone();
            tokio::spawn(listener.serve(shutdown, move |conn| {
                let webmail = webmail.clone();
                async move { webmail.serve(conn).await }
            }))
        }
    }
}

fn pop3_server(shared: &Shared) -> Arc<tern_pop3::Pop3Server> {
    let pop3 = &shared.config.pop3;
    let settings = tern_pop3::Settings {
        hostname: shared.hostname.to_string(),
        mark_seen_on_retr: pop3.mark_seen_on_retr,
        // Checked when the configuration was loaded.
        expire_days: pop3.expire_days().unwrap_or(None),
        login_delay: Duration::from_secs(pop3.login_delay_secs),
        idle_timeout: Duration::from_secs(pop3.idle_timeout_secs),
        tls_handshake_timeout: tern_net::Limits::default().tls_handshake_timeout,
    };
    tern_pop3::Pop3Server::new(
        Arc::clone(&shared.store),
        Arc::clone(&shared.auth),
        Some(shared.tls.clone()),
        settings,
        shared.shutdown.clone(),
    )
}

/// The IMAP service's settings, from the shared configuration.
fn imap_config(shared: &Shared) -> tern_imap::ImapConfig {
    let mut limits = tern_imap::ReaderLimits::default();
    if let Ok(max) = shared.config.max_message_size() {
        // The config was validated at start-up; a literal may carry a whole message.
        limits.max_append_literal = max;
        limits.max_command = max.saturating_add(128 * 1024);
    }
    tern_imap::ImapConfig {
        hostname: Arc::clone(&shared.hostname),
        store: Arc::clone(&shared.store),
        auth: Arc::clone(&shared.auth),
        tls: shared.tls.clone(),
        tls_handshake_timeout: tern_net::Limits::default().tls_handshake_timeout,
        shutdown: shared.shutdown.clone(),
        idle_timeout: Duration::from_secs(shared.config.limits.idle_timeout_secs),
        limits,
        views: tern_imap::ViewCache::default(),
    }
}

fn smtp_server(shared: &Shared, kind: Kind, memory: &Arc<MemoryBudget>) -> SmtpServer {
    // SPF/DKIM/DMARC checks only on the MX, and only when configured.
    let verifier = (kind == Kind::Mx && shared.config.smtp.verify)
        .then(|| {
            let server = shared.config.dns.server.parse().ok();
            // One try of 2 s per look-up: the sender is waiting (the budget bounds the sum).
            match tern_queue::resolver_with(server, Duration::from_secs(2), 1) {
                Ok(dns) => Some(Arc::new(Verifier::new(
                    dns,
                    Duration::from_millis(shared.config.smtp.verify_budget_ms),
                ))),
                Err(e) => {
                    tracing::error!(error = %e, "no DNS resolver: SPF/DKIM/DMARC checks are off");
                    None
                }
            }
        })
        .flatten();
    SmtpServer {
        store: Arc::clone(&shared.store),
        auth: Arc::clone(&shared.auth),
        outbound: Arc::clone(&shared.outbound),
        tls: shared.tls.clone(),
        hostname: Arc::clone(&shared.hostname),
        settings: Settings::from_config(&shared.config),
        shutdown: shared.shutdown.clone(),
        verifier,
        memory: Arc::clone(memory),
    }
}

/// Webmail sessions end after this long without a request (Roundcube's default is 10 min;
/// a little longer, as the live-update stream keeps no session alive by itself).
const WEBMAIL_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

fn webmail(shared: &Shared) -> tern_webmail::WebmailServer {
    let port = |service: &str| shared.ports.get(service).copied();
    tern_webmail::WebmailServer::new(tern_webmail::WebmailConfig {
        store: shared.store.clone(),
        auth: Arc::clone(&shared.auth),
        // The same submission path as SMTP submission (DESIGN.md §3).
        submitter: Arc::new(crate::webmail_submit::QueueSubmitter::new(
            Arc::clone(&shared.outbound),
            Arc::clone(&shared.store),
        )),
        max_message_size: shared.config.max_message_size().unwrap_or(50 << 20),
        session_idle: WEBMAIL_SESSION_IDLE,
        setup: tern_webmail::ClientSetup {
            hostname: shared.hostname.to_string(),
            imap: port("imap"),
            imaps: port("imaps"),
            pop3: port("pop3"),
            pop3s: port("pop3s"),
            submission: port("submission"),
            submissions: port("submissions"),
            https: port("https"),
        },
        shutdown: shared.shutdown.clone(),
    })
}
