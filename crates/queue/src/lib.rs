//! Outgoing mail (DESIGN.md §3): the one submission path that SMTP submission and the webmail
//! both call (sender checks, `Date`/`Message-ID`, DKIM signing, local delivery or queueing),
//! local delivery shared with the MX, and the delivery of the durable queue: routes, MX
//! look-up, retries with back-off and DSN bounces (RFC 3464).

mod delivery;
pub mod dkim;
pub mod dsn;
mod headers;
pub mod local;
mod route;
mod settings;
mod submit;

pub use delivery::Worker;
pub use headers::{add_missing_headers, new_message_id};
pub use local::{
    Destination, LocalOutcome, MailboxChoice, bare_postmaster, classify, deliver_local,
};
pub use route::{Route, resolver, resolver_with};
pub use settings::{QueueSettings, SettingsError};
pub use submit::{Submission, SubmitError, Submitted, local_reply_code, local_status};

use std::sync::Arc;
use tern_store::SharedStore;
use tokio::sync::Notify;

/// The outbound side of one Tern process: submission and the queue's delivery worker.
pub struct Outbound {
    store: SharedStore,
    settings: Arc<QueueSettings>,
    /// Wakes the delivery worker when something was queued.
    wake: Arc<Notify>,
}

impl Outbound {
    pub fn new(store: SharedStore, settings: QueueSettings) -> Arc<Outbound> {
        Arc::new(Outbound {
            store,
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        })
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Tells the delivery worker that new mail is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The delivery worker of this process (run it with [`Worker::run`]).
    pub fn worker(&self) -> Worker {
        Worker::new(
            self.store.clone(),
            Arc::clone(&self.settings),
            Arc::clone(&self.wake),
        )
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
