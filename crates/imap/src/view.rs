//! A session's own view of its selected mailbox (RFC 9051 §2.3.1): message sequence numbers
//! map to UIDs as this client last heard, and changes by others wait here until the session
//! may report them.

use imap_codec::imap_types::sequence::{SeqOrUid, SequenceSet};
use std::sync::Arc;
use tern_store::MailboxId;

/// What the view keeps per message: enough for sequence numbers, FLAGS, MODSEQ, INTERNALDATE,
/// RFC822.SIZE and the cheap SEARCH keys. The blob and the parsed summary are loaded when a
/// command needs them, so a session on a large mailbox stays small.
pub use tern_store::MessageState as Entry;

/// The selected mailbox as this session sees it.
#[derive(Debug)]
pub struct View {
    pub mailbox: MailboxId,
    pub name: String,
    /// EXAMINE, or SELECT of a mailbox we may not change.
    pub read_only: bool,
    pub uid_validity: u32,
    pub uid_next: u32,
    /// Index + 1 is the message sequence number; ascending UIDs. Shared with other sessions
    /// of the same mailbox state (view_cache.rs) until this one changes it (copy on write).
    pub messages: Arc<Vec<Entry>>,
    /// Every change with a MODSEQ up to this one is reflected in `messages`.
    pub synced_modseq: u64,
    /// The change feed announced something for this mailbox since the last sync.
    pub dirty: bool,
}

impl View {
    pub fn exists(&self) -> u32 {
        self.messages.len() as u32
    }

    /// The index of the message with `uid`.
    pub fn index_of_uid(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// The indexes of the messages a sequence set names, ascending, each once.
    /// By sequence number, numbers past the end are ignored; by UID, `*` is the highest UID
    /// and `n:*` always includes the last message (RFC 9051 §6.4.8, §9 `seq-range`).
    pub fn resolve(&self, set: &SequenceSet, by_uid: bool) -> Vec<usize> {
        let Some(last) = self.messages.last() else {
            return Vec::new();
        };
        let largest = if by_uid {
            last.uid
        } else {
            self.messages.len() as u32
        };
        let expand = |v: &SeqOrUid| match v {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => largest,
        };
        let mut ranges: Vec<(u32, u32)> = set
            .0
            .as_ref()
            .iter()
            .map(|seq| {
                use imap_codec::imap_types::sequence::Sequence;
                let (a, b) = match seq {
                    Sequence::Single(v) => (expand(v), expand(v)),
                    Sequence::Range(a, b) => (expand(a), expand(b)),
                };
                (a.min(b), a.max(b))
            })
            .collect();
        ranges.sort_unstable();
        let mut out = Vec::new();
        let mut next_free = 0usize;
        for (lo, hi) in ranges {
            let (start, end) = if by_uid {
                let start = self.messages.partition_point(|m| m.uid < lo);
                let end = self.messages.partition_point(|m| m.uid <= hi);
                (start, end)
            } else {
                let start = (lo as usize).saturating_sub(1);
                let end = (hi as usize).min(self.messages.len());
                (start, end)
            };
            for index in start.max(next_free)..end {
                out.push(index);
            }
            next_free = next_free.max(end);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tern_store::Flags;

    fn view(uids: &[u32]) -> View {
        View {
            mailbox: MailboxId(1),
            name: "INBOX".into(),
            read_only: false,
            uid_validity: 1,
            uid_next: 100,
            messages: uids
                .iter()
                .map(|&uid| Entry {
                    uid,
                    modseq: 1,
                    flags: Flags::NONE,
                    keywords: vec![],
                    internal_date: 0,
                    save_date: None,
                    size: 1,
                })
                .collect::<Vec<_>>()
                .into(),
            synced_modseq: 1,
            dirty: false,
        }
    }

    fn set(s: &str) -> SequenceSet {
        SequenceSet::try_from(s).unwrap()
    }

    #[test]
    fn sequence_numbers() {
        let v = view(&[3, 5, 9, 12]);
        assert_eq!(v.resolve(&set("1:*"), false), [0, 1, 2, 3]);
        assert_eq!(v.resolve(&set("2,4,2,9"), false), [1, 3]);
        assert_eq!(v.resolve(&set("*:3"), false), [2, 3]);
    }

    #[test]
    fn uids() {
        let v = view(&[3, 5, 9, 12]);
        assert_eq!(v.resolve(&set("4:9"), true), [1, 2]);
        assert_eq!(v.resolve(&set("100:*"), true), [3], "n:* includes the last");
        assert_eq!(v.resolve(&set("1:4294967295"), true), [0, 1, 2, 3]);
        assert!(view(&[]).resolve(&set("1:*"), true).is_empty());
    }
}
