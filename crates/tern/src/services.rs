//! Which code serves which listener. Each protocol crate gets what it needs from [`Shared`];
//! a service not built yet answers with its protocol's "not available" reply.

use std::sync::Arc;
use std::time::Duration;
use tern_auth::Authenticator;
use tern_config::Config;
use tern_net::{Listener, Shutdown, TlsAcceptor};
use tern_queue::Outbound;
use tern_smtp::{Kind, Settings, SmtpServer, Verifier};
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
}

/// One POP3 service for both listeners, so the maildrop locks cover POP3 and POP3S together.
fn pop3_server(shared: &Shared) -> Arc<tern_pop3::Pop3Server> {
    static SERVER: std::sync::OnceLock<Arc<tern_pop3::Pop3Server>> = std::sync::OnceLock::new();
    Arc::clone(SERVER.get_or_init(|| {
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
    }))
}

/// Starts serving `listener` in its own task.
pub fn start(listener: Listener, shared: &Shared) -> JoinHandle<()> {
    let service = listener.service();
    let shutdown = shared.shutdown.clone();
    match service {
        "pop3" | "pop3s" => {
            let server = pop3_server(shared);
            tokio::spawn(listener.serve(shutdown, move |conn| Arc::clone(&server).serve(conn)))
        }
        "imap" | "imaps" => {
            let config = Arc::new(imap_config(shared));
            tokio::spawn(listener.serve(shutdown, move |conn| {
                tern_imap::serve(conn, Arc::clone(&config))
            }))
        }
        "smtp" | "submission" | "submissions" => {
            let kind = if service == "smtp" {
                Kind::Mx
            } else {
                Kind::Submission
            };
            let server = Arc::new(smtp_server(shared, kind));
            tokio::spawn(
                listener.serve(shutdown, move |conn| Arc::clone(&server).serve(conn, kind)),
            )
        }
        _ => {
            let hostname = Arc::clone(&shared.hostname);
            tokio::spawn(listener.serve(shutdown, move |conn| {
                crate::unavailable::answer(conn, service, Arc::clone(&hostname))
            }))
        }
    }
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
        idle_timeout: std::time::Duration::from_secs(shared.config.limits.idle_timeout_secs),
        limits,
    }
}

fn smtp_server(shared: &Shared, kind: Kind) -> SmtpServer {
    // SPF/DKIM/DMARC checks only on the MX, and only when configured.
    let verifier = (kind == Kind::Mx && shared.config.smtp.verify)
        .then(|| {
            let server = shared.config.dns.server.parse().ok();
            match tern_queue::resolver(server) {
                Ok(dns) => Some(Arc::new(Verifier::new(dns))),
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
    }
}
