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
const MIN_CACHED_MESSAGES: usize = 64;
/// Bound of the entries held in all, about 60 bytes each...
const MAX_CACHED_MESSAGES: usize = 500_000;
/// ...and of the mailboxes (eviction looks through them all).
const MAX_CACHED_MAILBOXES: usize = 2_048;

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

/// What the cache holds for a mailbox.
pub enum Lookup {
    /// The list at exactly the mailbox's current state.
    Current(Arc<Vec<Entry>>),
    /// A list from before the changes with a MODSEQ above `modseq`: bring it up to date with
    /// [`updated`] rather than reading every row again.
    Older {
        entries: Arc<Vec<Entry>>,
        modseq: u64,
    },
}

impl ViewCache {
    /// The cached list of `info`'s mailbox, current or older (same UIDVALIDITY).
    pub fn get(&self, info: &MailboxInfo) -> Option<Lookup> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let now = inner.clock;
        let cached = inner.mailboxes.get_mut(&info.id)?;
        let current = Version::of(info);
        if cached.version.uid_validity != current.uid_validity
            || cached.version.highest_modseq > current.highest_modseq
        {
            return None;
        }
        cached.last_used = now;
        let entries = Arc::clone(&cached.entries);
        Some(if cached.version == current {
            Lookup::Current(entries)
        } else {
            Lookup::Older {
                entries,
                modseq: cached.version.highest_modseq,
            }
        })
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
        while inner.held > MAX_CACHED_MESSAGES || inner.mailboxes.len() > MAX_CACHED_MAILBOXES {
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

/// `entries` (ascending UIDs) without the `vanished` UIDs and with each of `changed` (new
/// state of an existing message, or a new one) in its place: the changes since the list was
/// read (RFC 7162 §3.2.5.1 and §3.2.10 give what a client does with the same two lists).
pub fn updated(entries: &[Entry], vanished: &[u32], mut changed: Vec<Entry>) -> Vec<Entry> {
    let mut vanished = vanished.to_vec();
    vanished.sort_unstable();
    changed.sort_unstable_by_key(|e| e.uid);
    let mut out = Vec::with_capacity(entries.len() + changed.len());
    let mut changed = changed.into_iter().peekable();
    for entry in entries {
        while let Some(new) = changed.next_if(|c| c.uid < entry.uid) {
            out.push(new);
        }
        if let Some(new) = changed.next_if(|c| c.uid == entry.uid) {
            out.push(new);
        } else if vanished.binary_search(&entry.uid).is_err() {
            out.push(entry.clone());
        }
    }
    out.extend(changed);
    out
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
        assert!(
            matches!(cache.get(&info(1, 7)), Some(Lookup::Current(e)) if e.len() == MIN_CACHED_MESSAGES)
        );
        assert!(
            matches!(
                cache.get(&info(1, 8)),
                Some(Lookup::Older { modseq: 7, .. })
            ),
            "changed since"
        );
        assert!(cache.get(&info(1, 6)).is_none(), "newer than the mailbox");
        assert!(cache.get(&info(2, 7)).is_none(), "another mailbox");
        cache.put(&info(3, 1), &Arc::new(entries(MIN_CACHED_MESSAGES - 1)));
        assert!(
            cache.get(&info(3, 1)).is_none(),
            "small mailboxes are not kept"
        );
    }

    #[test]
    fn updating_removes_vanished_replaces_changed_and_adds_new() {
        let mut flagged = entries(5)[3].clone();
        flagged.flags = Flags::SEEN;
        flagged.modseq = 9;
        let new = Entry {
            uid: 8,
            ..entries(1)[0].clone()
        };
        let out = updated(&entries(5), &[2, 5], vec![new, flagged.clone()]);
        assert_eq!(
            out.iter().map(|e| e.uid).collect::<Vec<_>>(),
            vec![1, 3, 4, 8]
        );
        assert_eq!(out[2], flagged);
        assert_eq!(updated(&[], &[], vec![]), vec![]);
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
