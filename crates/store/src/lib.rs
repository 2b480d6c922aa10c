//! The mail store: the one place where mail and accounts live (DESIGN.md §4).
//!
//! Protocol crates talk to the [`Store`] trait and never see SQL or files. The embedded backend,
//! [`SqliteStore`], keeps metadata in SQLite (WAL, `synchronous=FULL`) and message bytes in a
//! content-addressed blob directory. A PostgreSQL backend can implement the same trait later.
//!
//! Durability rule: every method that stores something returns only after the blob is fsynced
//! and the metadata transaction committed; a crash at any moment loses nothing acknowledged.

mod blobs;
mod error;
mod feed;
pub mod names;
mod outbound;
mod private_dir;
mod spool;
mod sqlite;
mod types;

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

pub use blobs::BlobReader;
pub use error::{QuotaScope, Result, StoreError};
pub use outbound::*;
pub use spool::Spool;
pub use sqlite::{SCHEMA_VERSION, SqliteStore};
pub use types::*;

/// The content address a message with these bytes gets (hex SHA-256).
pub fn blob_id(raw: &[u8]) -> BlobId {
    blobs::BlobDir::id_of(raw)
}

/// A store shared by every service of the process.
pub type SharedStore = Arc<dyn Store>;

/// The store's interface. Every method that takes an [`AccountId`] together with a
/// [`MailboxId`] checks that the mailbox belongs to that account, so no protocol can reach
/// another account's mail by sending a foreign id.
#[async_trait]
pub trait Store: Send + Sync {
    // --- domains, accounts, aliases -------------------------------------------------------
    async fn create_domain(&self, name: &str, quota: Option<u64>) -> Result<DomainId>;
    async fn domains(&self) -> Result<Vec<Domain>>;
    async fn domain(&self, name: &str) -> Result<Option<Domain>>;
    async fn set_domain_quota(&self, name: &str, quota: Option<u64>) -> Result<()>;
    /// Removes the domain with all its accounts, mailboxes, messages and aliases.
    async fn remove_domain(&self, name: &str) -> Result<()>;

    /// Creates `local@domain` (the domain must exist) with INBOX, Sent, Drafts, Trash and Junk.
    async fn create_account(
        &self,
        email: &str,
        password_hash: &str,
        quota: Option<u64>,
    ) -> Result<AccountId>;
    async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>>;
    async fn account_by_email(&self, email: &str) -> Result<Option<Account>>;
    async fn account(&self, id: AccountId) -> Result<Option<Account>>;
    async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<()>;
    async fn set_account_quota(&self, email: &str, quota: Option<u64>) -> Result<()>;
    async fn remove_account(&self, email: &str) -> Result<()>;

    async fn add_alias(&self, source: &str, targets: &[String]) -> Result<()>;
    async fn aliases(&self) -> Result<Vec<Alias>>;
    /// Removes `source → target`, or every target of `source` when `target` is None.
    async fn remove_alias(&self, source: &str, target: Option<&str>) -> Result<()>;
    /// Where mail for `address` goes: the account itself, an alias, the account behind a
    /// `user+tag` sub-address, or the domain's catch-all. `NotFound` for an unknown address
    /// in a hosted domain; `Invalid { what: "domain" }` when the domain is not hosted.
    async fn resolve_recipient(&self, address: &str) -> Result<Resolution>;

    // --- mailboxes --------------------------------------------------------------------------
    async fn mailboxes(&self, account: AccountId) -> Result<Vec<MailboxInfo>>;
    /// Finds a mailbox by name (`INBOX` in any case).
    async fn mailbox(&self, account: AccountId, name: &str) -> Result<Option<MailboxInfo>>;
    async fn mailbox_by_id(&self, account: AccountId, id: MailboxId) -> Result<MailboxInfo>;
    /// Creates `name` and any missing parents. `subscribed` is for `name` itself: IMAP CREATE
    /// does not subscribe (RFC 9051 §6.3.4), a folder made in webmail or by an import is
    /// subscribed. Parents created on the way are never subscribed: nobody asked for them.
    async fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
        subscribed: bool,
    ) -> Result<MailboxInfo>;
    /// Renames a mailbox and all its children, keeping their messages. Renaming INBOX moves
    /// its messages into a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
    async fn rename_mailbox(&self, account: AccountId, from: &str, to: &str) -> Result<()>;
    /// Deletes a mailbox and its messages. INBOX can't be deleted; a mailbox with children
    /// gives `HasChildren` (as Dovecot does).
    async fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<()>;
    async fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()>;
    async fn mailbox_status(&self, account: AccountId, mailbox: MailboxId)
    -> Result<MailboxStatus>;
    /// Claims the messages no session has seen as `\Recent` yet for the caller (RFC 3501
    /// §2.3.2): an IMAP4rev1 SELECT, or its session finding new messages.
    async fn claim_recent(&self, account: AccountId, mailbox: MailboxId) -> Result<RecentClaim>;

    // --- messages ---------------------------------------------------------------------------
    /// Stores `raw` once and adds it to every target, all or nothing (IMAP APPEND, MULTIAPPEND,
    /// import). Quota is checked and counted in the same transaction.
    async fn append(
        &self,
        raw: Bytes,
        internal_date: i64,
        targets: Vec<AppendTarget>,
    ) -> Result<Vec<Appended>>;
    /// Like `append`, but each target succeeds or fails on its own (SMTP delivery to several
    /// recipients: one over quota must not stop the others). The blob is stored once.
    async fn deliver(
        &self,
        raw: Bytes,
        internal_date: i64,
        targets: Vec<AppendTarget>,
    ) -> Result<Vec<Result<Appended>>>;
    /// Stores many messages with one group commit (import). Each item is all-or-nothing for
    /// its targets and independent of the others; outcomes come back in order, and UIDs are
    /// given in the order of the items.
    async fn append_batch(&self, items: Vec<AppendItem>) -> Result<Vec<BatchOutcome>>;
    /// Stores several messages all or nothing: one failure (quota, a missing mailbox) leaves
    /// none of them stored (IMAP MULTIAPPEND, RFC 3502 §3). UIDs are given in item order.
    async fn append_all(&self, items: Vec<AppendItem>) -> Result<Vec<Vec<Appended>>>;
    /// True when a message with exactly these bytes is already in the mailbox (import de-duplication).
    async fn contains_blob(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        blob: &BlobId,
    ) -> Result<bool>;
    /// Every message of a mailbox in UID order (a session's view).
    async fn messages(&self, account: AccountId, mailbox: MailboxId) -> Result<Vec<MessageMeta>>;
    /// Every message of a mailbox in UID order, without the blobs' addresses (an IMAP view).
    async fn message_states(
        &self,
        account: AccountId,
        mailbox: MailboxId,
    ) -> Result<Vec<MessageState>>;
    /// Messages whose MODSEQ is above `modseq` (CONDSTORE/QRESYNC, RFC 7162).
    async fn changed_since(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        modseq: u64,
    ) -> Result<Vec<MessageState>>;
    /// UIDs expunged with a MODSEQ above `modseq` (QRESYNC VANISHED).
    async fn vanished_since(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        modseq: u64,
    ) -> Result<Vec<u32>>;
    /// One page of a mailbox's UIDs in the given order: `limit` UIDs after skipping `offset`
    /// (the webmail's message list, without loading the whole mailbox).
    async fn list_uids(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        order: ListOrder,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<u32>>;
    /// Summaries of the given UIDs (those that exist), in UID order.
    async fn summaries(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<MessageSummary>>;
    /// The envelopes of the messages with `uids` (ascending; UIDs not there are left out):
    /// IMAP FETCH ENVELOPE, which walks them without decoding the rest of the summary.
    async fn envelopes(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, tern_message::StoredEnvelope)>>;
    /// Opens a message's bytes for streaming.
    async fn open_blob(&self, blob: &BlobId) -> Result<BlobReader>;
    /// Reads a message's bytes whole (for small messages and tests).
    async fn read_blob(&self, blob: &BlobId) -> Result<Bytes>;
    /// A temporary file for a message being received (SMTP DATA/BDAT), next to the blobs.
    fn spool(&self) -> Result<Spool>;
    async fn update_flags(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
    ) -> Result<FlagsUpdated>;
    async fn copy_messages(
        &self,
        account: AccountId,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Copied>;
    /// COPY and expunge in one transaction (RFC 6851: MOVE is atomic).
    async fn move_messages(
        &self,
        account: AccountId,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Copied>;
    /// Removes messages flagged `\Deleted` (all of them, or only those in `uids` for
    /// UID EXPUNGE). Returns the expunged UIDs, ascending.
    async fn expunge(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>>;
    /// Removes the given messages whatever their flags (POP3 QUIT, webmail "delete for good").
    async fn remove_messages(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<u32>>;
    async fn quota(&self, account: AccountId) -> Result<QuotaUsage>;
    /// Messages of the account whose text matches, in `mailbox` or in all the account's
    /// mailboxes, newest first (by INTERNALDATE), at most `limit`.
    async fn search_text(
        &self,
        account: AccountId,
        mailbox: Option<MailboxId>,
        query: &TextSearch,
        limit: usize,
    ) -> Result<Vec<SearchHit>>;
    /// UIDs (ascending) of the messages in `mailbox` whose text contains `needle` as one
    /// substring, ignoring case: IMAP SEARCH BODY (`SearchField::Body`) and TEXT
    /// (`SearchField::Text`), RFC 9051 §6.4.4.
    async fn uids_containing(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        field: SearchField,
        needle: &str,
    ) -> Result<Vec<u32>>;

    // --- per-account settings ---------------------------------------------------------------
    /// A named setting of the account (webmail display name, signature...), if set.
    async fn account_setting(&self, account: AccountId, key: &str) -> Result<Option<String>>;
    /// Sets (or with None removes) a named setting of the account.
    async fn set_account_setting(
        &self,
        account: AccountId,
        key: &str,
        value: Option<&str>,
    ) -> Result<()>;

    // --- outbound queue ---------------------------------------------------------------------
    /// Stores `raw` once and queues it for its recipients, durably, before returning.
    async fn enqueue(&self, raw: Bytes, envelope: NewQueued) -> Result<QueueId>;
    /// Every queued message (oldest first), with its recipients.
    async fn queue_list(&self) -> Result<Vec<QueuedMessage>>;
    async fn queued(&self, id: QueueId) -> Result<Option<QueuedMessage>>;
    /// Takes up to `limit` messages with a pending recipient due at `now`, and pushes those
    /// recipients' next attempt to `now + lease_secs`, so no other worker (or node) takes them
    /// meanwhile; a worker that dies leaves them to be retried once the lease runs out.
    async fn queue_claim(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>>;
    /// Records the outcome of an attempt; each updated recipient's attempt count goes up.
    async fn queue_update(&self, id: QueueId, updates: Vec<RecipientUpdate>) -> Result<()>;
    /// Makes every pending recipient of the message due now. `NotFound` for an unknown id.
    async fn queue_retry_now(&self, id: QueueId, now: i64) -> Result<()>;
    /// Removes a message from the queue, whatever its recipients' state.
    async fn queue_remove(&self, id: QueueId) -> Result<()>;

    // --- DKIM keys --------------------------------------------------------------------------
    /// Sets (or replaces) the domain's signing key.
    async fn set_dkim_key(&self, key: DkimKey) -> Result<()>;
    async fn dkim_key(&self, domain: &str) -> Result<Option<DkimKey>>;

    // --- change feed ------------------------------------------------------------------------
    /// Every change committed to the account's mail from now on (IMAP IDLE, webmail live
    /// updates, POP3). A receiver that lags behind gets `RecvError::Lagged` and must resync.
    fn subscribe(&self, account: AccountId) -> tokio::sync::broadcast::Receiver<Change>;
}
