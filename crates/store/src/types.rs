//! The store's data model, as protocol crates see it (DESIGN.md §4).

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub i64);
    };
}
id_type!(
    /// A hosted domain.
    DomainId
);
id_type!(
    /// A mail account (one address, one set of mailboxes).
    AccountId
);
id_type!(
    /// A mailbox (folder) of one account.
    MailboxId
);

/// IMAP system flags (RFC 9051 §2.3.2) as a bit set. `\Recent` is per session and not stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags(pub u8);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(2);
    pub const FLAGGED: Flags = Flags(4);
    pub const DELETED: Flags = Flags(8);
    pub const DRAFT: Flags = Flags(16);
    pub const NONE: Flags = Flags(0);
    const ALL: u8 = 31;

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
    pub(crate) fn from_bits(bits: i64) -> Flags {
        Flags((bits as u8) & Self::ALL)
    }
    /// The IMAP names of the set flags, in a stable order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (Self::SEEN, "\\Seen"),
            (Self::ANSWERED, "\\Answered"),
            (Self::FLAGGED, "\\Flagged"),
            (Self::DELETED, "\\Deleted"),
            (Self::DRAFT, "\\Draft"),
        ]
        .into_iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, n)| n)
        .collect()
    }
}

/// Special-use attributes (RFC 6154) that Tern gives mailboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpecialUse {
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    All,
    Flagged,
}

impl SpecialUse {
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::All => "\\All",
            SpecialUse::Flagged => "\\Flagged",
        }
    }
    pub fn from_attribute(attr: &str) -> Option<SpecialUse> {
        [
            SpecialUse::Sent,
            SpecialUse::Drafts,
            SpecialUse::Trash,
            SpecialUse::Junk,
            SpecialUse::Archive,
            SpecialUse::All,
            SpecialUse::Flagged,
        ]
        .into_iter()
        .find(|s| s.attribute().eq_ignore_ascii_case(attr))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    pub name: String,
    pub quota: Option<u64>,
    pub bytes_used: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub domain: DomainId,
    /// `local@domain`, lower-case.
    pub email: String,
    pub password_hash: String,
    pub quota: Option<u64>,
    pub bytes_used: u64,
    pub messages: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// `local@domain`, or `@domain` for a catch-all.
    pub source: String,
    pub target: String,
}

/// Where mail for one address goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Local accounts, deduplicated.
    pub accounts: Vec<AccountId>,
    /// Alias targets outside the hosted domains (forwarding).
    pub forward: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxInfo {
    pub id: MailboxId,
    pub account: AccountId,
    /// UTF-8 name with `/` as the hierarchy delimiter; `INBOX` is always spelled so.
    pub name: String,
    pub special_use: Option<SpecialUse>,
    pub subscribed: bool,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub highest_modseq: u64,
    /// The highest UID an IMAP4rev1 session has claimed as `\Recent` (RFC 3501 §2.3.2):
    /// messages above it are recent for the next session that selects the mailbox.
    pub recent_uid: u32,
}

/// The UIDs one session claimed as `\Recent`: those above `after`, up to `through`
/// (RFC 3501 §2.3.2: only one session sees a message as recent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentClaim {
    pub after: u32,
    pub through: u32,
}

/// Counts for IMAP STATUS (RFC 9051 §6.3.11) and the webmail's folder list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: u64,
    pub unseen: u64,
    pub deleted: u64,
    pub size: u64,
    pub uid_next: u32,
    pub uid_validity: u32,
    pub highest_modseq: u64,
    /// Messages no session has seen as `\Recent` yet (RFC 3501 §6.3.10 STATUS RECENT).
    pub recent: u64,
}

/// What a session keeps per message: enough to map sequence numbers to UIDs and answer FLAGS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Flags,
    pub keywords: Vec<String>,
    pub internal_date: i64,
    /// When the message was saved into this mailbox (unix seconds): APPEND, delivery, COPY
    /// and MOVE each set it anew (RFC 8514 §1). None where a backend does not know it.
    pub save_date: Option<i64>,
    pub size: u64,
    pub blob: BlobId,
}

/// What an IMAP session keeps per message: enough for sequence numbers, FLAGS, MODSEQ,
/// INTERNALDATE, RFC822.SIZE and the cheap SEARCH keys. Unlike [`MessageMeta`] it leaves out
/// the blob's address, whose read costs a look-up in another table per message: the first
/// SELECT of a 100,000-message mailbox read 170 MB of blob rows for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    pub uid: u32,
    pub flags: Flags,
    pub modseq: u64,
    pub internal_date: i64,
    /// When the message was saved into this mailbox (RFC 8514), if known.
    pub save_date: Option<i64>,
    pub size: u64,
    pub keywords: Vec<String>,
}

impl MessageState {
    pub fn with_blob(self, blob: BlobId) -> MessageMeta {
        MessageMeta {
            uid: self.uid,
            modseq: self.modseq,
            flags: self.flags,
            keywords: self.keywords,
            internal_date: self.internal_date,
            save_date: self.save_date,
            size: self.size,
            blob,
        }
    }
}

impl From<MessageMeta> for MessageState {
    fn from(meta: MessageMeta) -> MessageState {
        MessageState {
            uid: meta.uid,
            flags: meta.flags,
            modseq: meta.modseq,
            internal_date: meta.internal_date,
            save_date: meta.save_date,
            size: meta.size,
            keywords: meta.keywords,
        }
    }
}

/// `entries` (ascending UIDs) without the `vanished` UIDs and with each of `changed` (new
/// state of an existing message, or a new one) in its place: the changes since the list was
/// read (RFC 7162 §3.2.5.1 and §3.2.10 give what a client does with the same two lists).
/// Done in place: the changes are usually few against a list of thousands.
pub fn merge_changes(
    mut entries: Vec<MessageState>,
    vanished: &[u32],
    mut changed: Vec<MessageState>,
) -> Vec<MessageState> {
    if !vanished.is_empty() {
        let mut vanished = vanished.to_vec();
        vanished.sort_unstable();
        entries.retain(|e| vanished.binary_search(&e.uid).is_err());
    }
    changed.sort_unstable_by_key(|e| e.uid);
    for new in changed {
        match entries.binary_search_by_key(&new.uid, |e| e.uid) {
            Ok(i) => entries[i] = new,
            // New messages have the highest UIDs: pushed, not inserted, in the usual case.
            Err(i) if i == entries.len() => entries.push(new),
            Err(i) => entries.insert(i, new),
        }
    }
    entries
}

/// A message with its parsed summary, for FETCH ENVELOPE/BODYSTRUCTURE and the webmail.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageSummary {
    pub meta: MessageMeta,
    pub summary: tern_message::Summary,
}

/// Content address of a stored message: hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobId(pub String);

/// One destination of an append: a mailbox and the flags the new message gets there.
#[derive(Debug, Clone)]
pub struct AppendTarget {
    pub account: AccountId,
    pub mailbox: MailboxId,
    pub flags: Flags,
    pub keywords: Vec<String>,
}

/// Where an appended message landed (for APPENDUID, RFC 4315).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub account: AccountId,
    pub mailbox: MailboxId,
    pub uid_validity: u32,
    pub uid: u32,
    pub modseq: u64,
}

/// How a flag change applies (IMAP STORE FLAGS / +FLAGS / -FLAGS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub op: FlagOp,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// CONDSTORE UNCHANGEDSINCE (RFC 7162 §3.1.3): leave messages whose modseq is higher.
    pub unchanged_since: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsUpdated {
    /// Messages whose flags changed, with their new state.
    pub changed: Vec<MessageMeta>,
    /// UIDs skipped because of UNCHANGEDSINCE (the MODIFIED response code).
    pub modified: Vec<u32>,
}

/// UID mapping of a COPY or MOVE (for COPYUID, RFC 4315 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    pub uid_validity: u32,
    /// (source UID, destination UID), in ascending source order.
    pub uids: Vec<(u32, u32)>,
}

/// Quota usage and limits of an account and its domain (IMAP QUOTA, webmail quota bar).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaUsage {
    pub account_used: u64,
    pub account_limit: Option<u64>,
    pub domain_used: u64,
    pub domain_limit: Option<u64>,
}

/// One committed change, published on the account's change feed after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    MessageAdded {
        mailbox: MailboxId,
        uid: u32,
        modseq: u64,
    },
    FlagsChanged {
        mailbox: MailboxId,
        uids: Vec<u32>,
        modseq: u64,
    },
    Expunged {
        mailbox: MailboxId,
        uids: Vec<u32>,
        modseq: u64,
    },
    MailboxCreated {
        mailbox: MailboxId,
        name: String,
    },
    MailboxRenamed {
        mailbox: MailboxId,
        old: String,
        new: String,
    },
    MailboxDeleted {
        mailbox: MailboxId,
        name: String,
    },
}

impl Change {
    /// The mailbox the change concerns.
    pub fn mailbox(&self) -> MailboxId {
        match self {
            Change::MessageAdded { mailbox, .. }
            | Change::FlagsChanged { mailbox, .. }
            | Change::Expunged { mailbox, .. }
            | Change::MailboxCreated { mailbox, .. }
            | Change::MailboxRenamed { mailbox, .. }
            | Change::MailboxDeleted { mailbox, .. } => *mailbox,
        }
    }
}

/// One message of a batch append (import): stored in all its targets or none.
#[derive(Debug, Clone)]
pub struct AppendItem {
    pub raw: bytes::Bytes,
    pub internal_date: i64,
    pub targets: Vec<AppendTarget>,
    /// Skip a target mailbox that already holds these exact bytes (re-running an import).
    pub skip_duplicates: bool,
}

/// What became of one item of a batch.
#[derive(Debug)]
pub enum BatchOutcome {
    Stored(Vec<Appended>),
    /// Every target already had the message.
    Duplicate,
    Failed(crate::StoreError),
}

/// Which part of a message a text search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    /// Subject, From, To, Cc and the text of the body.
    Any,
    From,
    /// To and Cc.
    To,
    Subject,
    Body,
    /// The header and the text of the body (IMAP SEARCH TEXT, RFC 9051 §6.4.4).
    Text,
}

/// A text search: every word of `text` must occur (as a substring, ignoring case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSearch {
    pub field: SearchField,
    pub text: String,
}

/// A message found by a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchHit {
    pub mailbox: MailboxId,
    pub uid: u32,
}

/// What a message list is sorted by (the webmail's list; IMAP SORT, RFC 5256, could share it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKey {
    /// INTERNALDATE (arrival).
    Date,
    Size,
    /// The decoded subject, ignoring case.
    Subject,
    /// The first sender's decoded display name (or address), ignoring case.
    From,
}

/// A sort order for [`crate::Store::list_uids`]; ties go by UID in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListOrder {
    pub key: ListKey,
    pub descending: bool,
}
