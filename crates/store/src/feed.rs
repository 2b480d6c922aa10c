//! The change feed: committed changes, published per account (DESIGN.md §3).

use crate::types::{AccountId, Change};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// How many changes a slow subscriber may fall behind before it is told it lagged.
const CHANNEL_CAPACITY: usize = 1024;

#[derive(Default)]
pub(crate) struct ChangeFeed {
    channels: Mutex<HashMap<AccountId, broadcast::Sender<Change>>>,
}

impl ChangeFeed {
    pub(crate) fn subscribe(&self, account: AccountId) -> broadcast::Receiver<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(account)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Publishes changes in commit order. Channels nobody listens to any more are dropped,
    /// so the map stays as small as the set of accounts with live sessions.
    pub(crate) fn publish(&self, changes: Vec<(AccountId, Change)>) {
        if changes.is_empty() {
            return;
        }
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        for (account, change) in changes {
            if let Some(sender) = channels.get(&account)
                && sender.send(change).is_err()
            {
                channels.remove(&account);
            }
        }
    }
}
