//! When the files of unreferenced blobs are unlinked.
//!
//! An IMAP session keeps its own view of the selected mailbox and may not be told of an
//! expunge during FETCH (RFC 9051 §7.5.1), so it may still read a message another session has
//! just expunged: it loaded the message's summary, then reads the blob. The server therefore
//! keeps a collected blob's file for a grace period before unlinking it
//! ([`BlobRemoval::keep_for`]); a read that comes later still finds no summary and is answered
//! `NO [EXPUNGEISSUED]` (RFC 2180 §4.1.2). A one-shot CLI process has no such readers and
//! unlinks at once. Files whose removal a crash interrupted are orphans, which
//! `collect_garbage` removes at the next start.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::blobs::BlobDir;
use crate::error::Result;
use crate::types::BlobId;

/// The grace period, shared between the store (which sets it) and the writer thread.
#[derive(Clone, Default)]
pub(crate) struct Grace(Arc<AtomicU64>);

impl Grace {
    pub(crate) fn set(&self, grace: Duration) {
        let millis = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.0.store(millis, Ordering::Relaxed);
    }

    fn get(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// The writer thread's list of files to unlink once their grace period is over.
pub(crate) struct BlobRemoval {
    grace: Grace,
    pending: VecDeque<(Instant, Vec<BlobId>)>,
}

impl BlobRemoval {
    pub(crate) fn new(grace: Grace) -> BlobRemoval {
        BlobRemoval {
            grace,
            pending: VecDeque::new(),
        }
    }

    /// Takes the blobs a committed transaction dropped: unlinked now without a grace period,
    /// else queued.
    pub(crate) fn collected(&mut self, conn: &Connection, blobs: &BlobDir, ids: Vec<BlobId>) {
        if ids.is_empty() {
            return;
        }
        let grace = self.grace.get();
        if grace.is_zero() {
            remove_unreferenced_files(conn, blobs, ids);
        } else {
            self.pending.push_back((Instant::now() + grace, ids));
        }
    }

    /// How long until the next queued removal is due (the writer waits at most this long).
    pub(crate) fn time_to_next(&self) -> Option<Duration> {
        let (due, _) = self.pending.front()?;
        Some(due.saturating_duration_since(Instant::now()))
    }

    /// Unlinks the files whose grace period is over.
    pub(crate) fn remove_due(&mut self, conn: &Connection, blobs: &BlobDir) {
        let now = Instant::now();
        let mut due = Vec::new();
        while self.pending.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, mut ids)) = self.pending.pop_front() {
                due.append(&mut ids);
            }
        }
        remove_unreferenced_files(conn, blobs, due);
    }

    /// Unlinks every queued file: the store is closing, so no session can read them.
    pub(crate) fn remove_all(&mut self, conn: &Connection, blobs: &BlobDir) {
        let all = self.pending.drain(..).flat_map(|(_, ids)| ids).collect();
        remove_unreferenced_files(conn, blobs, all);
    }
}

/// Unlinks the files of collected blobs. Under the write lock, and only where no row has
/// come back for that content meanwhile (the same message stored again, here or by another
/// process).
fn remove_unreferenced_files(conn: &Connection, blobs: &BlobDir, ids: Vec<BlobId>) {
    if ids.is_empty() {
        return;
    }
    let result = (|| -> Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut stmt = conn.prepare_cached("SELECT 1 FROM blobs WHERE hash = ?1")?;
        for id in &ids {
            if !stmt.exists([&id.0])? {
                blobs.remove(id)?;
            }
        }
        conn.execute_batch("COMMIT")?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = conn.execute_batch("ROLLBACK");
        tracing::warn!(error = %e, "store: removing unreferenced blob files failed; a later sweep will");
    }
}
