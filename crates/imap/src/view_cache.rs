//! The message lists of recently selected large mailboxes, shared by every session of the
//! process. A SELECT of a mailbox that nobody changed since it was last read shares the list
//! instead of reading every row again (a 100,000-message INBOX on a phone that reconnects
//! often), and sessions idling on one mailbox hold one copy of it, not one each.
//!
//! An entry is valid while the mailbox's UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ are what they
//! were when it was read: every change to a mailbox (append, flags, expunge) raises its
//! HIGHESTMODSEQ (RFC 7162 §3.1.1), so equal values mean an equal list.

use crate::view::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tern_store::{MailboxId, MailboxInfo};

/// Mailboxes smaller than this are read from the store every time (cheap enough).
const MIN_CACHED_MESSAGES: usize = 2_000;
/// Bound of the entries held in all, about 60 bytes each.
const MAX_CACHED_MESSAGES: usize = 500_000;

/// The state of a mailbox a list was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    uid_validity: u32,
    uid_next: u32,
    highest_modseq: u64,
}

impl Version {
    fn of(info: &MailboxInfo) -> Version {
        Version {
            uid_validity: info.uid_validity,
            uid_next: info.uid_next,
            highest_modseq: info.highest_modseq,
        }
    }
}

struct Cached {
    version: Version,
    entries: Arc<Vec<Entry>>,
    last_used: u64,
}

#[derive(Default)]
pub struct ViewCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    mailboxes: HashMap<MailboxId, Cached>,
    held: usize,
    clock: u64,
}

impl ViewCache {
    /// The list of `info`'s mailbox, if one read at exactly its current state is cached.
    pub fn get(&self, info: &MailboxInfo) -> Option<Arc<Vec<Entry>>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        let cached = inner.mailboxes.get_mut(&info.id)?;
        if cached.version != Version::of(info) {
            return None;
        }
        cached.last_used = now;
        Some(Arc::clone(&cached.entries))
    }

    /// Keeps the list read for `info` (read after `info`), evicting the least recently used.
    pub fn put(&self, info: &MailboxInfo, entries: &Arc<Vec<Entry>>) {
        if entries.len() < MIN_CACHED_MESSAGES || entries.len() > MAX_CACHED_MESSAGES {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let cached = Cached {
            version: Version::of(info),
            entries: Arc::clone(entries),
            last_used: inner.clock,
        };
        if let Some(old) = inner.mailboxes.insert(info.id, cached) {
            inner.held -= old.entries.len();
        }
        inner.held += entries.len();
        while inner.held > MAX_CACHED_MESSAGES {
            let Some(oldest) = inner
                .mailboxes
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(id, _)| *id)
            else {
                break;
            };
            if let Some(old) = inner.mailboxes.remove(&oldest) {
                inner.held -= old.entries.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_store::Flags;

    fn info(id: i64, highest_modseq: u64) -> MailboxInfo {
        MailboxInfo {
            id: MailboxId(id),
            account: tern_store::AccountId(1),
            name: "INBOX".into(),
            special_use: None,
            subscribed: true,
            uid_validity: 1,
            uid_next: 1,
            highest_modseq,
        }
    }

    fn entries(n: usize) -> Vec<Entry> {
        (1..=n as u32)
            .map(|uid| Entry {
                uid,
                flags: Flags::NONE,
                modseq: 1,
                internal_date: 0,
                save_date: None,
                size: 10,
                keywords: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_list_is_served_only_at_the_state_it_was_read() {
        let cache = ViewCache::default();
        cache.put(&info(1, 7), &Arc::new(entries(MIN_CACHED_MESSAGES)));
        assert_eq!(
            cache.get(&info(1, 7)).map(|e| e.len()),
            Some(MIN_CACHED_MESSAGES)
        );
        assert!(cache.get(&info(1, 8)).is_none(), "changed since");
        assert!(cache.get(&info(2, 7)).is_none(), "another mailbox");
        cache.put(&info(3, 1), &Arc::new(entries(10)));
        assert!(
            cache.get(&info(3, 1)).is_none(),
            "small mailboxes are not kept"
        );
    }

    #[test]
    fn the_least_recently_used_goes_first_when_full() {
        let cache = ViewCache::default();
        let third = MAX_CACHED_MESSAGES / 3;
        cache.put(&info(1, 1), &Arc::new(entries(third)));
        cache.put(&info(2, 1), &Arc::new(entries(third)));
        cache.put(&info(3, 1), &Arc::new(entries(third)));
        assert!(cache.get(&info(1, 1)).is_some());
        cache.put(&info(4, 1), &Arc::new(entries(third)));
        assert!(
            cache.get(&info(2, 1)).is_none(),
            "least recently used, evicted"
        );
        assert!(cache.get(&info(1, 1)).is_some());
        assert!(cache.get(&info(3, 1)).is_some());
        assert!(cache.get(&info(4, 1)).is_some());
    }
}
