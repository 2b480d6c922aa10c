//! The embedded backend: SQLite for metadata plus a blob directory for message bytes.

mod admin;
mod blob_removal;
mod engine;
mod listing;
mod mailboxes;
mod messages;
mod queue;
mod schema;
mod search;
mod settings;
mod snapshots;

pub use schema::SCHEMA_VERSION;

use crate::Store;
use crate::blobs::{BlobDir, BlobReader};
use crate::error::{Result, StoreError};
use crate::feed::ChangeFeed;
use crate::outbound::*;
use crate::private_dir;
use crate::types::*;
use async_trait::async_trait;
use bytes::Bytes;
use engine::{Changes, Engine};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Blobs and temporary files younger than this are never collected: another process (an
/// import) may have written them and not yet committed the rows that refer to them.
const ORPHAN_MIN_AGE: Duration = Duration::from_secs(3600);

pub struct SqliteStore {
    engine: Engine,
    blobs: Arc<BlobDir>,
    feed: Arc<ChangeFeed>,
}

/// What `collect_garbage` removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GarbageReport {
    pub orphan_blobs: usize,
    pub temp_files: usize,
}

/// Fixes a data directory that group or others could read (left by an older Tern, a copy or
/// a restore), saying so. Not fatal: the store works either way, and the log tells the operator.
fn make_data_dir_private(data_dir: &Path) {
    match private_dir::make_private(data_dir) {
        Ok(0) => {}
        Ok(fixed) => tracing::warn!(
            fixed,
            data_dir = %data_dir.display(),
            "made the data directory private: group or others could read it \
             (directories now 0700, files 0600)"
        ),
        Err(error) => tracing::error!(
            %error,
            data_dir = %data_dir.display(),
            "could not make the data directory private; check its owner and modes"
        ),
    }
}

impl SqliteStore {
    /// Opens (creating when needed) the store in `data_dir`: `store.sqlite` and `blobs/`,
    /// private to this user (0700 directories, 0600 files) whatever the umask.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        private_dir::create_dir_all(data_dir)?;
        make_data_dir_private(data_dir);
        let blobs = Arc::new(BlobDir::open(data_dir.join("blobs"))?);
        let feed = Arc::new(ChangeFeed::default());
        let database = Self::database_path(data_dir);
        private_dir::create_file_if_missing(&database)?;
        let engine = Engine::start(database, Arc::clone(&feed), Arc::clone(&blobs))?;
        Ok(SqliteStore {
            engine,
            blobs,
            feed,
        })
    }

    /// Keeps the file of a message nobody refers to any more for `grace` before unlinking it,
    /// so a session that read the message's summary before another expunged it can still
    /// read its content (`tern serve`; a one-shot CLI command unlinks at once).
    pub fn keep_unreferenced_blobs_for(&self, grace: Duration) {
        self.engine.keep_unreferenced_blobs_for(grace);
    }

    /// Indexes message text in the background whenever the writer is idle (`tern serve`).
    /// Without it, text stays pending and searches read it directly: always correct, slower
    /// as the pending list grows.
    pub fn index_text_in_background(&self) {
        self.engine.index_text_in_background();
    }

    /// Indexes every pending message text now; returns how many blobs it indexed.
    pub async fn index_pending_text(&self) -> Result<usize> {
        let blobs = Arc::clone(&self.blobs);
        self.write(move |conn, _| {
            let mut total = 0;
            loop {
                let indexed = search::index_pending(conn, &blobs, 256)?;
                total += indexed;
                if indexed < 256 {
                    return Ok(total);
                }
            }
        })
        .await
    }

    /// Path of the database file inside a data directory.
    pub fn database_path(data_dir: &Path) -> PathBuf {
        data_dir.join("store.sqlite")
    }

    /// Removes blob files no row refers to (left by a crash between the blob's fsync and the
    /// metadata commit) and stale temporary files. Safe while the store is in use.
    pub async fn collect_garbage(&self) -> Result<GarbageReport> {
        let blobs = Arc::clone(&self.blobs);
        let temp_files = tokio::task::spawn_blocking({
            let blobs = Arc::clone(&blobs);
            move || blobs.sweep_tmp(ORPHAN_MIN_AGE)
        })
        .await??;
        let files = tokio::task::spawn_blocking(move || blobs.list()).await??;
        let cutoff = std::time::SystemTime::now() - ORPHAN_MIN_AGE;
        let candidates: Vec<BlobId> = files
            .into_iter()
            .filter(|(_, modified)| *modified < cutoff)
            .map(|(id, _)| id)
            .collect();
        let blobs = Arc::clone(&self.blobs);
        let orphan_blobs = self
            .engine
            .write(move |conn, _| {
                let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?;
                let mut removed = 0;
                for id in candidates {
                    if !stmt.exists([&id.0])? {
                        blobs.remove(&id)?;
                        removed += 1;
                    }
                }
                Ok(removed)
            })
            .await?;
        Ok(GarbageReport {
            orphan_blobs,
            temp_files,
        })
    }

    /// Runs SQLite's integrity check and verifies that every blob row has its file.
    pub async fn verify(&self) -> Result<Vec<String>> {
        let blobs = Arc::clone(&self.blobs);
        self.engine
            .read(move |conn| {
                let mut problems = Vec::new();
                let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
                if check != "ok" {
                    problems.push(format!("integrity_check: {check}"));
                }
                let mut stmt = conn.prepare("SELECT hash FROM blobs")?;
                let hashes = stmt.query_map([], |r| r.get::<_, String>(0))?;
                for hash in hashes {
                    let id = BlobId(hash?);
                    if !blobs.exists(&id)? {
                        problems.push(format!("blob {} is missing", id.0));
                    }
                }
                Ok(problems)
            })
            .await
    }

    /// Stops the writer thread once queued writes are done.
    pub fn close(&self) {
        self.engine.close();
    }

    async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        self.engine.read(f).await
    }

    /// A read of one mailbox's data, after checking that it belongs to `account`.
    async fn read_owned<R, F>(&self, account: AccountId, mailbox: MailboxId, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        self.engine
            .read(move |c| {
                mailboxes::owned(c, account, mailbox)?;
                f(c)
            })
            .await
    }

    async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Changes) -> Result<R> + Send + 'static,
    {
        self.engine.write(f).await
    }

    /// Hashes, parses and durably writes the blobs of a batch, off the async runtime.
    async fn prepare_blobs(&self, raws: Vec<Bytes>) -> Result<Vec<PreparedBlob>> {
        let blobs = Arc::clone(&self.blobs);
        tokio::task::spawn_blocking(move || {
            let mut prepared = Vec::with_capacity(raws.len());
            for raw in raws {
                let id = BlobDir::id_of(&raw);
                let parsed = tern_message::parse(&raw);
                let summary = serde_json::to_vec(&parsed.summary)
                    .map_err(|e| StoreError::Corrupt(format!("summary: {e}")))?;
                prepared.push(PreparedBlob { id, raw, summary });
            }
            let items: Vec<(&BlobId, &[u8])> =
                prepared.iter().map(|p| (&p.id, &p.raw[..])).collect();
            blobs.write_many(&items)?;
            Ok(prepared)
        })
        .await?
    }

    /// The one path every message takes into the store: blobs durable first, then one
    /// transaction with a savepoint per item (and per target for `Isolation::Target`); under
    /// `Isolation::None` the first failure undoes the whole transaction.
    async fn store_messages(
        &self,
        items: Vec<AppendItem>,
        isolation: Isolation,
    ) -> Result<Vec<Vec<Result<Appended>>>> {
        if items.iter().any(|i| i.targets.is_empty()) {
            return Err(StoreError::invalid("append", "no target mailbox"));
        }
        let raws = items.iter().map(|i| i.raw.clone()).collect();
        let blobs_ready = self.prepare_blobs(raws).await?;
        let blobs = Arc::clone(&self.blobs);
        self.write(move |conn, changes| {
            let save_date = now();
            let each_alone = isolation == Isolation::Target;
            let mut out = Vec::with_capacity(items.len());
            for (item, blob) in items.iter().zip(&blobs_ready) {
                let stored = in_savepoint(conn, changes, |conn, changes| {
                    store_one(conn, changes, &blobs, item, blob, save_date, each_alone)
                });
                out.push(match stored {
                    Err(e) if isolation == Isolation::None => return Err(e),
                    stored => stored.unwrap_or_else(|e| vec![Err(e)]),
                });
            }
            Ok(out)
        })
        .await
    }
}

/// How much of a store call one failure undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// Everything: all items or none (MULTIAPPEND).
    None,
    /// The item, in all its targets (APPEND, import).
    Item,
    /// Only that target (delivery to several recipients).
    Target,
}

/// Stores one item: the blob's row, then a message row per target.
fn store_one(
    conn: &Connection,
    changes: &mut Changes,
    blobs: &BlobDir,
    item: &AppendItem,
    blob: &PreparedBlob,
    save_date: i64,
    each_alone: bool,
) -> Result<Vec<Result<Appended>>> {
    // Files are only unlinked by a writer holding the lock, after checking no row refers to
    // them; if ours went meanwhile, write it again under the lock.
    if !blobs.exists(&blob.id)? {
        blobs.write(&blob.id, &blob.raw)?;
    }
    let size = blob.raw.len() as u64;
    let blob_row = messages::upsert_blob(conn, &blob.id, size, &blob.summary)?;
    search::mark_pending(conn, blob_row)?;
    let mut results = Vec::with_capacity(item.targets.len());
    for target in &item.targets {
        if item.skip_duplicates && messages::contains_blob(conn, target.mailbox, &blob.id)? {
            continue;
        }
        let insert = |conn: &Connection, changes: &mut Changes| {
            messages::insert_message(
                conn,
                changes,
                target,
                blob_row,
                size,
                item.internal_date,
                save_date,
                true,
            )
        };
        results.push(if each_alone {
            in_savepoint(conn, changes, insert)
        } else {
            Ok(insert(conn, changes)?)
        });
    }
    Ok(results)
}

struct PreparedBlob {
    id: BlobId,
    raw: Bytes,
    summary: Vec<u8>,
}

/// Runs `f` in a nested savepoint: its failure undoes only its own rows (and changes).
fn in_savepoint<R>(
    conn: &Connection,
    changes: &mut Changes,
    f: impl FnOnce(&Connection, &mut Changes) -> Result<R>,
) -> Result<R> {
    conn.execute_batch("SAVEPOINT target")?;
    let mark = changes.len();
    match f(conn, changes) {
        Ok(r) => {
            conn.execute_batch("RELEASE target")?;
            Ok(r)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO target; RELEASE target")?;
            changes.truncate(mark);
            Err(e)
        }
    }
}

fn owned_name(s: &str) -> String {
    s.to_owned()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_domain(&self, name: &str, quota: Option<u64>) -> Result<DomainId> {
        let name = owned_name(name);
        self.write(move |c, _| admin::create_domain(c, &name, quota))
            .await
    }
    async fn domains(&self) -> Result<Vec<Domain>> {
        self.read(admin::domains).await
    }
    async fn domain(&self, name: &str) -> Result<Option<Domain>> {
        let name = owned_name(name);
        self.read(move |c| admin::domain(c, &name)).await
    }
    async fn set_domain_quota(&self, name: &str, quota: Option<u64>) -> Result<()> {
        let name = owned_name(name);
        self.write(move |c, _| admin::set_domain_quota(c, &name, quota))
            .await
    }
    async fn remove_domain(&self, name: &str) -> Result<()> {
        let name = owned_name(name);
        self.write(move |c, _| admin::remove_domain(c, &name)).await
    }

    async fn create_account(
        &self,
        email: &str,
        password_hash: &str,
        quota: Option<u64>,
    ) -> Result<AccountId> {
        let (email, hash) = (owned_name(email), owned_name(password_hash));
        self.write(move |c, _| admin::create_account(c, &email, &hash, quota))
            .await
    }
    async fn accounts(&self, domain: Option<&str>) -> Result<Vec<Account>> {
        let domain = domain.map(owned_name);
        self.read(move |c| admin::accounts(c, domain.as_deref()))
            .await
    }
    async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let email = owned_name(email);
        self.read(move |c| admin::account_by_email(c, &email)).await
    }
    async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(move |c| admin::account(c, id)).await
    }
    async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<()> {
        let (email, hash) = (owned_name(email), owned_name(password_hash));
        self.write(move |c, _| admin::set_password_hash(c, &email, &hash))
            .await
    }
    async fn set_account_quota(&self, email: &str, quota: Option<u64>) -> Result<()> {
        let email = owned_name(email);
        self.write(move |c, _| admin::set_account_quota(c, &email, quota))
            .await
    }
    async fn remove_account(&self, email: &str) -> Result<()> {
        let email = owned_name(email);
        self.write(move |c, _| admin::remove_account(c, &email))
            .await
    }

    async fn add_alias(&self, source: &str, targets: &[String]) -> Result<()> {
        let (source, targets) = (owned_name(source), targets.to_vec());
        self.write(move |c, _| admin::add_alias(c, &source, &targets))
            .await
    }
    async fn aliases(&self) -> Result<Vec<Alias>> {
        self.read(admin::aliases).await
    }
    async fn remove_alias(&self, source: &str, target: Option<&str>) -> Result<()> {
        let (source, target) = (owned_name(source), target.map(owned_name));
        self.write(move |c, _| admin::remove_alias(c, &source, target.as_deref()))
            .await
    }
    async fn resolve_recipient(&self, address: &str) -> Result<Resolution> {
        let address = owned_name(address);
        self.read(move |c| admin::resolve_recipient(c, &address))
            .await
    }

    async fn mailboxes(&self, account: AccountId) -> Result<Vec<MailboxInfo>> {
        self.read(move |c| mailboxes::mailboxes(c, account)).await
    }
    async fn mailbox(&self, account: AccountId, name: &str) -> Result<Option<MailboxInfo>> {
        let name = owned_name(name);
        self.read(move |c| mailboxes::find(c, account, &name)).await
    }
    async fn mailbox_by_id(&self, account: AccountId, id: MailboxId) -> Result<MailboxInfo> {
        self.read(move |c| mailboxes::owned(c, account, id)).await
    }
    async fn create_mailbox(
        &self,
        account: AccountId,
        name: &str,
        special_use: Option<SpecialUse>,
        subscribed: bool,
    ) -> Result<MailboxInfo> {
        let name = owned_name(name);
        self.write(move |c, ch| {
            mailboxes::create_mailbox(c, ch, account, &name, special_use, subscribed)
        })
        .await
    }
    async fn rename_mailbox(&self, account: AccountId, from: &str, to: &str) -> Result<()> {
        let (from, to) = (owned_name(from), owned_name(to));
        self.write(move |c, ch| mailboxes::rename_mailbox(c, ch, account, &from, &to))
            .await
    }
    async fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<()> {
        let name = owned_name(name);
        self.write(move |c, ch| mailboxes::delete_mailbox(c, ch, account, &name))
            .await
    }
    async fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        let name = owned_name(name);
        self.write(move |c, _| mailboxes::set_subscribed(c, account, &name, subscribed))
            .await
    }
    async fn mailbox_status(
        &self,
        account: AccountId,
        mailbox: MailboxId,
    ) -> Result<MailboxStatus> {
        self.read(move |c| mailboxes::status(c, account, mailbox))
            .await
    }
    async fn claim_recent(&self, account: AccountId, mailbox: MailboxId) -> Result<RecentClaim> {
        self.write(move |c, _| mailboxes::claim_recent(c, account, mailbox))
            .await
    }

    async fn append(
        &self,
        raw: Bytes,
        internal_date: i64,
        targets: Vec<AppendTarget>,
    ) -> Result<Vec<Appended>> {
        let item = AppendItem {
            raw,
            internal_date,
            targets,
            skip_duplicates: false,
        };
        let mut results = self.store_messages(vec![item], Isolation::Item).await?;
        results.pop().unwrap_or_default().into_iter().collect()
    }
    async fn deliver(
        &self,
        raw: Bytes,
        internal_date: i64,
        targets: Vec<AppendTarget>,
    ) -> Result<Vec<Result<Appended>>> {
        let item = AppendItem {
            raw,
            internal_date,
            targets,
            skip_duplicates: false,
        };
        let mut results = self.store_messages(vec![item], Isolation::Target).await?;
        Ok(results.pop().unwrap_or_default())
    }
    async fn append_batch(&self, items: Vec<AppendItem>) -> Result<Vec<BatchOutcome>> {
        let results = self.store_messages(items, Isolation::Item).await?;
        Ok(results
            .into_iter()
            .map(|targets| {
                if targets.is_empty() {
                    return BatchOutcome::Duplicate;
                }
                match targets.into_iter().collect::<Result<Vec<_>>>() {
                    Ok(stored) => BatchOutcome::Stored(stored),
                    Err(e) => BatchOutcome::Failed(e),
                }
            })
            .collect())
    }
    async fn append_all(&self, items: Vec<AppendItem>) -> Result<Vec<Vec<Appended>>> {
        let results = self.store_messages(items, Isolation::None).await?;
        results
            .into_iter()
            .map(|targets| targets.into_iter().collect())
            .collect()
    }
    async fn contains_blob(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        blob: &BlobId,
    ) -> Result<bool> {
        let blob = blob.clone();
        self.read_owned(account, mailbox, move |c| {
            messages::contains_blob(c, mailbox, &blob)
        })
        .await
    }
    async fn messages(&self, account: AccountId, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
        self.read_owned(account, mailbox, move |c| messages::load_meta(c, mailbox))
            .await
    }
    async fn message_states(
        &self,
        account: AccountId,
        mailbox: MailboxId,
    ) -> Result<Vec<MessageState>> {
        let loaded = self
            .read_owned(account, mailbox, move |c| snapshots::load(c, mailbox))
            .await?;
        if let Some(snapshot) = loaded.refresh {
            self.engine
                .write_detached("message list snapshot", move |c, _| {
                    snapshots::save(c, mailbox, snapshot)
                });
        }
        Ok(loaded.states)
    }
    async fn changed_since(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        modseq: u64,
    ) -> Result<Vec<MessageState>> {
        self.read_owned(account, mailbox, move |c| {
            messages::states(c, mailbox, Some(modseq))
        })
        .await
    }
    async fn vanished_since(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        modseq: u64,
    ) -> Result<Vec<u32>> {
        self.read_owned(account, mailbox, move |c| {
            messages::vanished_since(c, mailbox, modseq)
        })
        .await
    }
    async fn list_uids(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        order: ListOrder,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<u32>> {
        self.read(move |c| {
            mailboxes::owned(c, account, mailbox)?;
            listing::list_uids(c, mailbox, order, offset, limit)
        })
        .await
    }

    async fn summaries(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<MessageSummary>> {
        let uids = uids.to_vec();
        self.read_owned(account, mailbox, move |c| {
            messages::summaries(c, mailbox, &uids)
        })
        .await
    }
    async fn envelopes(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, tern_message::StoredEnvelope)>> {
        let uids = uids.to_vec();
        self.read_owned(account, mailbox, move |c| {
            messages::envelopes(c, mailbox, &uids)
        })
        .await
    }
    async fn open_blob(&self, blob: &BlobId) -> Result<BlobReader> {
        let (blobs, blob) = (Arc::clone(&self.blobs), blob.clone());
        let file = tokio::task::spawn_blocking(move || blobs.open_file(&blob)).await??;
        BlobReader::new(file)
    }
    async fn read_blob(&self, blob: &BlobId) -> Result<Bytes> {
        let (blobs, blob) = (Arc::clone(&self.blobs), blob.clone());
        let raw = tokio::task::spawn_blocking(move || blobs.read(&blob)).await??;
        Ok(Bytes::from(raw))
    }
    fn spool(&self) -> Result<crate::Spool> {
        Ok(crate::Spool::new(self.blobs.temporary_file()?))
    }
    async fn update_flags(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
        change: FlagChange,
    ) -> Result<FlagsUpdated> {
        let uids = uids.to_vec();
        self.write(move |c, ch| messages::update_flags(c, ch, account, mailbox, &uids, &change))
            .await
    }
    async fn copy_messages(
        &self,
        account: AccountId,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Copied> {
        let uids = uids.to_vec();
        self.write(move |c, ch| messages::copy_messages(c, ch, account, from, &uids, to, true))
            .await
    }
    async fn move_messages(
        &self,
        account: AccountId,
        from: MailboxId,
        uids: &[u32],
        to: MailboxId,
    ) -> Result<Copied> {
        let uids = uids.to_vec();
        self.write(move |c, ch| {
            // Within one account a move frees what it takes: counted, but not refused. A move
            // to the mailbox itself gives the messages new UIDs (RFC 6851 does not forbid it;
            // Dovecot and Cyrus do the same).
            let copied = messages::copy_messages(c, ch, account, from, &uids, to, false)?;
            let moved: Vec<u32> = copied.uids.iter().map(|(src, _)| *src).collect();
            messages::remove_uids(c, ch, account, from, &moved)?;
            Ok(copied)
        })
        .await
    }
    async fn expunge(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>> {
        let uids = uids.map(<[u32]>::to_vec);
        self.write(move |c, ch| messages::expunge(c, ch, account, mailbox, uids.as_deref()))
            .await
    }
    async fn remove_messages(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
    ) -> Result<Vec<u32>> {
        let uids = uids.to_vec();
        self.write(move |c, ch| {
            mailboxes::owned(c, account, mailbox)?;
            messages::remove_uids(c, ch, account, mailbox, &uids)
        })
        .await
    }
    async fn quota(&self, account: AccountId) -> Result<QuotaUsage> {
        self.read(move |c| messages::quota(c, account)).await
    }

    async fn enqueue(&self, raw: Bytes, envelope: NewQueued) -> Result<QueueId> {
        let mut prepared = self.prepare_blobs(vec![raw]).await?;
        let blob = prepared
            .pop()
            .ok_or_else(|| StoreError::Corrupt("no prepared blob".into()))?;
        let blobs = Arc::clone(&self.blobs);
        self.write(move |conn, _| {
            if !blobs.exists(&blob.id)? {
                blobs.write(&blob.id, &blob.raw)?;
            }
            let size = blob.raw.len() as u64;
            let row = messages::upsert_blob(conn, &blob.id, size, &blob.summary)?;
            queue::enqueue(conn, row, size, &envelope, now())
        })
        .await
    }
    async fn queue_list(&self) -> Result<Vec<QueuedMessage>> {
        self.read(queue::list).await
    }
    async fn queued(&self, id: QueueId) -> Result<Option<QueuedMessage>> {
        self.read(move |c| queue::queued(c, id)).await
    }
    async fn queue_claim(
        &self,
        now: i64,
        lease_secs: i64,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>> {
        self.write(move |c, _| queue::claim(c, now, lease_secs, limit))
            .await
    }
    async fn queue_update(&self, id: QueueId, updates: Vec<RecipientUpdate>) -> Result<()> {
        self.write(move |c, _| queue::update(c, id, &updates)).await
    }
    async fn queue_retry_now(&self, id: QueueId, now: i64) -> Result<()> {
        self.write(move |c, _| queue::retry_now(c, id, now)).await
    }
    async fn queue_remove(&self, id: QueueId) -> Result<()> {
        self.write(move |c, _| queue::remove(c, id)).await
    }
    async fn set_dkim_key(&self, key: DkimKey) -> Result<()> {
        self.write(move |c, _| queue::set_dkim_key(c, &key, now()))
            .await
    }
    async fn dkim_key(&self, domain: &str) -> Result<Option<DkimKey>> {
        let domain = owned_name(domain);
        self.read(move |c| queue::dkim_key(c, &domain)).await
    }

    async fn search_text(
        &self,
        account: AccountId,
        mailbox: Option<MailboxId>,
        query: &TextSearch,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let query = query.clone();
        let blobs = Arc::clone(&self.blobs);
        self.read(move |c| {
            if let Some(mailbox) = mailbox {
                mailboxes::owned(c, account, mailbox)?;
            }
            search::search(c, &blobs, account, mailbox, &query, limit)
        })
        .await
    }

    async fn uids_containing(
        &self,
        account: AccountId,
        mailbox: MailboxId,
        field: SearchField,
        needle: &str,
    ) -> Result<Vec<u32>> {
        let needle = needle.to_owned();
        let blobs = Arc::clone(&self.blobs);
        self.read_owned(account, mailbox, move |c| {
            search::uids_containing(c, &blobs, account, mailbox, field, &needle)
        })
        .await
    }

    async fn account_setting(&self, account: AccountId, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.read(move |c| settings::get(c, account, &key)).await
    }

    async fn set_account_setting(
        &self,
        account: AccountId,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let (key, value) = (key.to_owned(), value.map(str::to_owned));
        self.write(move |c, _| settings::set(c, account, &key, value.as_deref()))
            .await
    }

    fn subscribe(&self, account: AccountId) -> tokio::sync::broadcast::Receiver<Change> {
        self.feed.subscribe(account)
    }
}

#[cfg(test)]
mod tests;
