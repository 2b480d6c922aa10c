//! A session's own view of its selected mailbox (RFC 9051 §2.3.1): message sequence numbers
//! map to UIDs as this client last heard, and changes by others wait here until the session
//! may report them.

use imap_codec::imap_types::sequence::{SeqOrUid, SequenceSet};
use std::sync::Arc;
use tern_store::{AccountId, MailboxId, RecentClaim};

/// What the view keeps per message: enough for sequence numbers, FLAGS, MODSEQ, INTERNALDATE,
/// RFC822.SIZE and the cheap SEARCH keys. The blob and the parsed summary are loaded when a
/// command needs them, so a session on a large mailbox stays small.
pub use tern_store::MessageState as Entry;

/// The selected mailbox as this session sees it.
#[derive(Debug)]
pub struct View {
    /// The account the mailbox was selected in: selected-state commands act for it.
    pub account: AccountId,
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
    /// The keywords the client was told of in the last FLAGS response.
    pub announced: Announced,
    /// The UIDs that are `\Recent` in this session (IMAP4rev1 only; empty under rev2).
    pub recent: RecentUids,
}

/// The UIDs an IMAP4rev1 session sees as `\Recent` (RFC 3501 §2.3.2): the ranges it claimed
/// from the store, or (EXAMINE) those nobody had claimed when it looked.
#[derive(Debug, Default)]
pub struct RecentUids(Vec<RecentClaim>);

impl RecentUids {
    pub fn add(&mut self, claim: RecentClaim) {
        if claim.through <= claim.after {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.through >= claim.after => {
                last.through = last.through.max(claim.through)
            }
            _ => self.0.push(claim),
        }
    }

    pub fn contains(&self, uid: u32) -> bool {
        self.0.iter().any(|c| c.after < uid && uid <= c.through)
    }

    /// The highest UID claimed so far (0 before any).
    pub fn through(&self) -> u32 {
        self.0.iter().map(|c| c.through).max().unwrap_or(0)
    }
}

/// The keywords a session has announced with FLAGS (RFC 9051 §7.3.5): a FETCH may show only
/// these, so when the set in the mailbox grows, a new FLAGS goes out first.
#[derive(Debug, Default)]
pub struct Announced(Vec<String>);

impl Announced {
    pub fn new(keywords: Vec<String>) -> Announced {
        Announced(keywords)
    }

    /// The announced keywords, in the order they were announced.
    pub fn keywords(&self) -> &[String] {
        &self.0
    }

    /// Adds the keywords not yet announced; true when there were any, so a new FLAGS is due.
    /// Flags compare without regard to case (RFC 9051 §2.3.2).
    pub fn learn<'a>(&mut self, keywords: impl IntoIterator<Item = &'a String>) -> bool {
        let mut grew = false;
        for keyword in keywords {
            if !self.0.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
                self.0.push(keyword.clone());
                grew = true;
            }
        }
        grew
    }
}

impl View {
    pub fn exists(&self) -> u32 {
        self.messages.len() as u32
    }

    /// How many messages of the view are `\Recent` in this session (the `* n RECENT` count).
    pub fn recent_count(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| self.recent.contains(m.uid))
            .count()
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
            account: AccountId(1),
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
            announced: Announced::default(),
            recent: RecentUids::default(),
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
    fn keywords_are_announced_once_whatever_their_case() {
        let mut announced = Announced::new(vec!["$Work".into()]);
        assert!(!announced.learn(&["$work".to_string()]));
        assert!(announced.learn(&["NIL".to_string(), "$Work".to_string()]));
        assert!(!announced.learn(&["nil".to_string()]));
        assert_eq!(announced.keywords(), ["$Work", "NIL"]);
    }

    #[test]
    fn recent_ranges_join_and_contain_only_what_was_claimed() {
        let mut recent = RecentUids::default();
        recent.add(RecentClaim {
            after: 3,
            through: 3,
        });
        assert!(!recent.contains(3), "an empty claim holds nothing");
        recent.add(RecentClaim {
            after: 3,
            through: 5,
        });
        recent.add(RecentClaim {
            after: 5,
            through: 7,
        });
        recent.add(RecentClaim {
            after: 9,
            through: 10,
        });
        assert_eq!(recent.0.len(), 2, "adjacent claims join");
        let inside: Vec<u32> = (1..=11).filter(|&uid| recent.contains(uid)).collect();
        assert_eq!(inside, [4, 5, 6, 7, 10]);
        assert_eq!(recent.through(), 10);
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
