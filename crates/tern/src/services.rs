//! Which code serves which listener. Each protocol crate gets what it needs from [`Shared`];
//! a service not built yet answers with its protocol's "not available" reply.

use std::sync::Arc;
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

/// Starts serving `listener` in its own task.
pub fn start(listener: Listener, shared: &Shared) -> JoinHandle<()> {
    let service = listener.service();
    let shutdown = shared.shutdown.clone();
    match service {
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
