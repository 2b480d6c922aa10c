//! Which code serves which listener. Each protocol crate gets what it needs from [`Shared`];
//! a service not built yet answers with its protocol's "not available" reply.

use std::sync::Arc;
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
}

/// Starts serving `listener` in its own task.
pub fn start(listener: Listener, shared: &Shared) -> JoinHandle<()> {
    let service = listener.service();
    let shutdown = shared.shutdown.clone();
    #[allow(clippy::match_single_binding)] // one arm per protocol as they land
    match service {
        _ => {
            let hostname = Arc::clone(&shared.hostname);
            tokio::spawn(listener.serve(shutdown, move |conn| {
                crate::unavailable::answer(conn, service, Arc::clone(&hostname))
            }))
        }
    }
}
