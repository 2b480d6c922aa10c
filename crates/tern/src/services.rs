//! Which code serves which listener. Each protocol crate gets what it needs from [`Shared`];
//! a service not built yet answers with its protocol's "not available" reply.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tern_auth::Authenticator;
use tern_config::Config;
use tern_net::{Listener, Shutdown, TlsAcceptor};
use tern_store::SharedStore;
use tokio::task::JoinHandle;

/// What every service shares.
#[derive(Clone)]
#[allow(dead_code)] // read by the protocol arms of `start` as they land
pub struct Shared {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub auth: Arc<Authenticator>,
    /// For STARTTLS / STLS upgrades.
    pub tls: TlsAcceptor,
    pub hostname: Arc<str>,
    pub shutdown: Shutdown,
    /// The port each service actually listens on (for the webmail's client set-up page).
    pub ports: Arc<BTreeMap<&'static str, u16>>,
    /// One webmail (one set of sessions) for both the `http` and `https` listeners.
    pub webmail: Arc<OnceLock<tern_webmail::WebmailServer>>,
}

/// Webmail sessions end after this long without a request (Roundcube's default is 10 min;
/// a little longer, as the live-update stream keeps no session alive by itself).
const WEBMAIL_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

fn webmail(shared: &Shared) -> tern_webmail::WebmailServer {
    shared
        .webmail
        .get_or_init(|| {
            let port = |service: &str| shared.ports.get(service).copied();
            tern_webmail::WebmailServer::new(tern_webmail::WebmailConfig {
                store: shared.store.clone(),
                auth: Arc::clone(&shared.auth),
                // Until the queue crate is wired: local recipients only, remote ones refused.
                submitter: Arc::new(tern_webmail::LocalDelivery::new(shared.store.clone())),
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
        })
        .clone()
}

/// Starts serving `listener` in its own task.
pub fn start(listener: Listener, shared: &Shared) -> JoinHandle<()> {
    let service = listener.service();
    let shutdown = shared.shutdown.clone();
    match service {
        "http" | "https" => {
            let webmail = webmail(shared);
            tokio::spawn(listener.serve(shutdown, move |conn| {
                let webmail = webmail.clone();
                async move { webmail.serve(conn).await }
            }))
        }
        _ => {
            let hostname = Arc::clone(&shared.hostname);
            tokio::spawn(listener.serve(shutdown, move |conn| {
                crate::unavailable::answer(conn, service, Arc::clone(&hostname))
            }))
        }
    }
}
