//! The SQLite engine: one writer thread that group-commits, and a pool of readers.
//!
//! All writes of the process go through one thread. It takes every job waiting in its queue,
//! runs each inside its own SAVEPOINT of one transaction, and commits once: many appends
//! share one WAL fsync (group commit) without weakening durability, since no job is answered
//! before the COMMIT that holds it returned. Serializing writes also makes UID assignment and
//! quota checks race-free inside the process; `BEGIN IMMEDIATE` does the same against other
//! processes (the admin CLI) sharing the database.

use super::blob_removal::{BlobRemoval, Grace};
use crate::blobs::BlobDir;
use crate::error::{Result, StoreError};
use crate::feed::ChangeFeed;
use crate::types::{AccountId, BlobId, Change};
use rusqlite::{Connection, OpenFlags};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Upper bound of jobs in one group commit, so one transaction stays short.
const MAX_BATCH: usize = 256;
/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Reader connections kept open between reads (more are opened while many sessions read at
/// once): a new connection parses the schema and prepares its statements again.
const MAX_IDLE_READERS: usize = 16;
/// Each reader's page cache, in KiB (negative `cache_size`): small, since the OS page cache
/// holds the file anyway and every reader keeps its own.
const READER_CACHE_KIB: i64 = -1024;
/// The writer's page cache, in KiB (negative `cache_size` counts KiB): 8 MiB.
const WRITER_CACHE_KIB: i64 = -8 * 1024;
/// WAL pages between automatic checkpoints (SQLite's default is 1,000: 4 MiB).
const WAL_CHECKPOINT_PAGES: i64 = 8_000;

/// The background text indexer (see `search.rs`): blobs indexed per transaction, small so a
/// write that arrives meanwhile waits little.
const INDEX_STEP: usize = 32;
/// The writer indexes once it has had no job for this long...
const IDLE_BEFORE_INDEXING: Duration = Duration::from_millis(20);
/// ...and, under a load that never leaves it idle, at least one step this often, so the
/// pending list (which searches read directly) can't grow without bound.
const FORCED_INDEX_INTERVAL: Duration = Duration::from_secs(1);
/// How often an idle writer looks for work other processes (an import) left pending.
const PENDING_RECHECK: Duration = Duration::from_secs(30);

/// Changes a job made, published only once its transaction committed.
pub(crate) type Changes = Vec<(AccountId, Change)>;

/// What a job hands back to the writer: whether to keep its savepoint, what to publish, and
/// how to answer its caller once the fate of the transaction is known.
struct Done {
    ok: bool,
    changes: Changes,
    reply: Box<dyn FnOnce(Option<String>) + Send>,
}

/// A write job; it gets `None` when no transaction could be opened.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Done + Send>;

pub(crate) struct Engine {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    index_in_background: Arc<AtomicBool>,
    blob_grace: Grace,
}

pub(crate) fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // DESIGN.md §4: WAL, and synchronous=FULL so a COMMIT that returned survives power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection> {
    let conn = open_connection(path)?;
    conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
    Ok(conn)
}

impl Engine {
    pub(crate) fn start(
        path: PathBuf,
        feed: Arc<ChangeFeed>,
        blobs: Arc<BlobDir>,
    ) -> Result<Engine> {
        let mut conn = open_connection(&path)?;
        // The writer's transactions are large (a batch of appends, a step of text indexing):
        // a bigger page cache keeps them from spilling pages to the WAL before COMMIT, and
        // rarer checkpoints copy each page back into the database less often.
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        super::schema::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let index_in_background = Arc::new(AtomicBool::new(false));
        let indexer = Indexer {
            enabled: Arc::clone(&index_in_background),
            backlog: true,
            idle: false,
            last_step: Instant::now(),
        };
        let blob_grace = Grace::default();
        let removal = BlobRemoval::new(blob_grace.clone());
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(conn, rx, feed, blobs, indexer, removal))?;
        Ok(Engine {
            path,
            writer: Mutex::new(Some(tx)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Mutex::new(Vec::new()),
            index_in_background,
            blob_grace,
        })
    }

    /// Lets the writer index pending text whenever it is idle (`tern serve`; a one-shot CLI
    /// command leaves it to the server).
    pub(crate) fn index_text_in_background(&self) {
        self.index_in_background.store(true, Ordering::Relaxed);
        // Wake the writer (it may be waiting for up to PENDING_RECHECK): an empty job.
        let wake: Job = Box::new(|_| Done {
            ok: true,
            changes: Vec::new(),
            reply: Box::new(|_| {}),
        });
        if let Some(sender) = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = sender.send(wake);
        }
    }

    /// Keeps the files of expunged messages this long before unlinking them (see
    /// `blob_removal.rs`).
    pub(crate) fn keep_unreferenced_blobs_for(&self, grace: Duration) {
        self.blob_grace.set(grace);
    }

    /// Runs `f` in the writer's transaction and answers after the COMMIT is durable.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Changes) -> Result<R> + Send + 'static,
    {
        self.submit(f)?.await.map_err(|_| StoreError::Closed)?
    }

    /// Queues `f` for the writer without waiting for it (a cache written after the answer
    /// that needed it). Its outcome is logged, not returned.
    pub(crate) fn write_detached<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&Connection, &mut Changes) -> Result<()> + Send + 'static,
    {
        let f = move |conn: &Connection, changes: &mut Changes| {
            let done = f(conn, changes);
            if let Err(e) = &done {
                tracing::warn!(error = %e, what, "a background write failed");
            }
            done
        };
        if self.submit(f).is_err() {
            tracing::debug!(what, "the store is closed: background write dropped");
        }
    }

    /// Hands `f` to the writer thread; the receiver gets its result after the COMMIT.
    fn submit<R, F>(&self, f: F) -> Result<oneshot::Receiver<Result<R>>>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Changes) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R>>();
        let job: Job = Box::new(move |conn| {
            let Some(conn) = conn else {
                return Done {
                    ok: false,
                    changes: Vec::new(),
                    reply: Box::new(move |_| {
                        let _ = tx.send(Err(StoreError::Closed));
                    }),
                };
            };
            let mut changes = Vec::new();
            match f(conn, &mut changes) {
                Ok(value) => Done {
                    ok: true,
                    changes,
                    reply: Box::new(move |commit_error| {
                        let _ = tx.send(match commit_error {
                            None => Ok(value),
                            Some(e) => Err(StoreError::CommitFailed(e)),
                        });
                    }),
                },
                Err(e) => Done {
                    ok: false,
                    changes: Vec::new(),
                    reply: Box::new(move |_| {
                        let _ = tx.send(Err(e));
                    }),
                },
            }
        });
        {
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let sender = writer.as_ref().ok_or(StoreError::Closed)?;
            sender.send(job).map_err(|_| StoreError::Closed)?;
        }
        Ok(rx)
    }

    /// Runs `f` on a reader connection in the blocking pool.
    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            pool.pop()
        };
        let path = self.path.clone();
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let conn = match conn {
                Some(c) => c,
                None => match open_reader(&path) {
                    Ok(c) => c,
                    Err(e) => return (None, Err(e)),
                },
            };
            let result = f(&conn);
            (Some(conn), result)
        })
        .await?;
        if let Some(conn) = conn {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        result
    }

    /// Stops the writer after the jobs already queued, and waits for it.
    pub(crate) fn close(&self) {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = self
            .writer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer's background text indexing state.
struct Indexer {
    enabled: Arc<AtomicBool>,
    /// Whether pending blobs may exist (after a commit, at start, or from another process).
    backlog: bool,
    /// The last wait for a job timed out: the writer is idle, so indexing goes on without
    /// waiting again between steps (a job that arrives is still taken before the next step).
    idle: bool,
    last_step: Instant,
}

impl Indexer {
    fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// How long the writer waits for a job before it indexes (or looks for pending work).
    fn patience(&self) -> Duration {
        if self.enabled() && self.backlog {
            if self.idle {
                Duration::ZERO
            } else {
                IDLE_BEFORE_INDEXING
            }
        } else {
            PENDING_RECHECK
        }
    }

    /// One transaction indexing up to INDEX_STEP pending blobs; notes whether more remain.
    fn step(&mut self, conn: &Connection, blobs: &BlobDir) {
        self.last_step = Instant::now();
        let result = (|| -> Result<usize> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let indexed = super::search::index_pending(conn, blobs, INDEX_STEP)?;
            conn.execute_batch("COMMIT")?;
            Ok(indexed)
        })();
        match result {
            Ok(indexed) => self.backlog = indexed == INDEX_STEP,
            Err(error) => {
                let _ = conn.execute_batch("ROLLBACK");
                tracing::warn!(%error, "store: text indexing failed; retrying later");
                self.backlog = false;
            }
        }
    }
}

fn writer_loop(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    feed: Arc<ChangeFeed>,
    blobs: Arc<BlobDir>,
    mut indexer: Indexer,
    mut removal: BlobRemoval,
) {
    loop {
        let patience = match removal.time_to_next() {
            Some(due) => indexer.patience().min(due),
            None => indexer.patience(),
        };
        let received = rx.recv_timeout(patience);
        removal.remove_due(&conn, &blobs);
        let first = match received {
            Ok(job) => {
                indexer.idle = false;
                job
            }
            Err(RecvTimeoutError::Timeout) => {
                indexer.idle = true;
                if indexer.enabled() {
                    if indexer.backlog {
                        indexer.step(&conn, &blobs);
                    } else {
                        indexer.backlog = true;
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                removal.remove_all(&conn, &blobs);
                break;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "store: cannot begin a write transaction");
            for job in batch {
                (job(None).reply)(Some(e.to_string()));
            }
            continue;
        }
        let mut done = Vec::with_capacity(batch.len());
        for job in batch {
            done.push(run_in_savepoint(&conn, job));
        }
        let unreferenced = collect_unreferenced(&conn);
        match conn.execute_batch("COMMIT") {
            Ok(()) => {
                let mut changes = Vec::new();
                for d in &mut done {
                    changes.append(&mut d.changes);
                }
                // Files go before the answers (when there is no grace period), so a caller
                // that removed a message finds its blob gone when it looks (and tests can
                // check it deterministically).
                removal.collected(&conn, &blobs, unreferenced);
                feed.publish(changes);
                for d in done {
                    (d.reply)(None);
                }
                indexer.backlog = true;
                if indexer.enabled() && indexer.last_step.elapsed() >= FORCED_INDEX_INTERVAL {
                    indexer.step(&conn, &blobs);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store: commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                for d in done {
                    (d.reply)(Some(e.to_string()));
                }
            }
        }
    }
}

/// Runs one job inside its own savepoint, so its failure (or panic) undoes only its own work.
fn run_in_savepoint(conn: &Connection, job: Job) -> Done {
    if let Err(e) = conn.execute_batch("SAVEPOINT job") {
        return job_failed(job, e.to_string());
    }
    let done = std::panic::catch_unwind(AssertUnwindSafe(|| job(Some(conn))));
    match done {
        Ok(done) if done.ok => {
            if let Err(e) = conn.execute_batch("RELEASE job") {
                let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                (done.reply)(Some(e.to_string()));
                return Done {
                    ok: false,
                    changes: Vec::new(),
                    reply: Box::new(|_| {}),
                };
            }
            done
        }
        Ok(done) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            done
        }
        Err(_) => {
            tracing::error!("store: a write job panicked; its changes were rolled back");
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Done {
                ok: false,
                changes: Vec::new(),
                reply: Box::new(|_| {}),
            }
        }
    }
}

fn job_failed(job: Job, error: String) -> Done {
    let done = job(None);
    (done.reply)(Some(error));
    Done {
        ok: false,
        changes: Vec::new(),
        reply: Box::new(|_| {}),
    }
}

/// Drops blob rows nobody refers to any more, inside the batch's transaction.
fn collect_unreferenced(conn: &Connection) -> Vec<BlobId> {
    let result = (|| -> rusqlite::Result<Vec<BlobId>> {
        let mut stmt =
            conn.prepare_cached("DELETE FROM blobs WHERE refcount <= 0 RETURNING hash")?;
        let rows = stmt.query_map([], |r| Ok(BlobId(r.get(0)?)))?;
        rows.collect()
    })();
    result.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "store: collecting unreferenced blobs failed");
        Vec::new()
    })
}
