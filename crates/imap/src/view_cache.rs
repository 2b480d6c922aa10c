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

/// A mailbox's list, with what SELECT reports of it besides its length.
#[derive(Clone)]
pub struct Listed {
    pub entries: Arc<Vec<Entry>>,
    pub facts: Arc<ListFacts>,
}

/// Worked out once per list, not at each SELECT: each is a walk of every entry, about a
/// millisecond for 100,000 (the list is 7 MB).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListFacts {
    pub max_modseq: u64,
    /// The keywords in use, sorted (RFC 9051 §7.3.5 FLAGS).
    pub keywords: Vec<String>,
    /// The index of the first message without `\Seen` (RFC 3501 §7.1 `[UNSEEN n]`).
    pub first_unseen: Option<usize>,
}

impl Listed {
    pub fn new(entries: Arc<Vec<Entry>>) -> Listed {
        let mut facts = ListFacts::default();
        let mut keywords = std::collections::BTreeSet::new();
        for (i, entry) in entries.iter().enumerate() {
            facts.max_modseq = facts.max_modseq.max(entry.modseq);
            if facts.first_unseen.is_none() && !entry.flags.contains(tern_store::Flags::SEEN) {
                facts.first_unseen = Some(i);
            }
            keywords.extend(entry.keywords.iter().map(String::as_str));
        }
        facts.keywords = keywords.into_iter().map(str::to_owned).collect();
        Listed {
            entries,
            facts: Arc::new(facts),
        }
    }
}

struct Cached {
    version: Version,
    listed: Listed,
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
    Current(Listed),
    /// A list from before the changes with a MODSEQ above `modseq`: bring it up to date with
    /// [`tern_store::merge_changes`] rather than reading every row again.
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
        Some(if cached.version == current {
            Lookup::Current(cached.listed.clone())
        } else {
            Lookup::Older {
                entries: Arc::clone(&cached.listed.entries),
                modseq: cached.version.highest_modseq,
            }
        })
    }

    /// Keeps the list read for `info` (read after `info`), evicting the least recently used.
    pub fn put(&self, info: &MailboxInfo, listed: &Listed) {
        let entries = &listed.entries;
        if entries.len() < MIN_CACHED_MESSAGES || entries.len() > MAX_CACHED_MESSAGES {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.clock += 1;
        let cached = Cached {
            version: Version::of(info),
            listed: listed.clone(),
            last_used: inner.clock,
        };
        if let Some(old) = inner.mailboxes.insert(info.id, cached) {
            inner.held -= old.listed.entries.len();
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
                inner.held -= old.listed.entries.len();
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
            recent_uid: 0,
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
        cache.put(&info(1, 7), &listed(MIN_CACHED_MESSAGES));
        assert!(
            matches!(cache.get(&info(1, 7)), Some(Lookup::Current(l)) if l.entries.len() == MIN_CACHED_MESSAGES)
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
        cache.put(&info(3, 1), &listed(MIN_CACHED_MESSAGES - 1));
        assert!(
            cache.get(&info(3, 1)).is_none(),
            "small mailboxes are not kept"
        );
    }

    fn listed(n: usize) -> Listed {
        Listed::new(Arc::new(entries(n)))
    }

    #[test]
    fn the_facts_of_a_list_are_those_select_reports() {
        let mut list = entries(4);
        list[0].flags = Flags::SEEN;
        list[1].modseq = 9;
        list[1].keywords = vec!["$Work".into(), "Later".into()];
        list[3].keywords = vec!["$Work".into()];
        let listed = Listed::new(Arc::new(list));
        assert_eq!(
            *listed.facts,
            ListFacts {
                max_modseq: 9,
                keywords: vec!["$Work".into(), "Later".into()],
                first_unseen: Some(1),
            }
        );
        assert_eq!(*Listed::new(Arc::new(vec![])).facts, ListFacts::default());
    }

    #[test]
    fn the_least_recently_used_goes_first_when_full() {
        let cache = ViewCache::default();
        let third = MAX_CACHED_MESSAGES / 3;
        cache.put(&info(1, 1), &listed(third));
        cache.put(&info(2, 1), &listed(third));
        cache.put(&info(3, 1), &listed(third));
        assert!(cache.get(&info(1, 1)).is_some());
        cache.put(&info(4, 1), &listed(third));
        assert!(
            cache.get(&info(2, 1)).is_none(),
            "least recently used, evicted"
        );
        assert!(cache.get(&info(1, 1)).is_some());
        assert!(cache.get(&info(3, 1)).is_some());
        assert!(cache.get(&info(4, 1)).is_some());
    }
}
