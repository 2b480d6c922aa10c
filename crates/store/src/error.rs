//! Typed errors of the store. Protocol crates turn these into their own replies
//! (`OverQuota` → SMTP `452 4.2.2` / `552 5.2.2`, IMAP `[OVERQUOTA]`).

use thiserror::Error;

/// Which limit an over-quota error hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    Account,
    Domain,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what} not found")]
    NotFound { what: &'static str },
    #[error("{what} already exists")]
    AlreadyExists { what: &'static str },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// `needed` bytes would not fit: `used` of `limit` are taken.
    #[error("over quota ({scope:?}): {used} of {limit} bytes used, {needed} more needed")]
    OverQuota {
        scope: QuotaScope,
        used: u64,
        limit: u64,
        needed: u64,
    },
    /// The message alone is larger than the whole quota: retrying will never help.
    #[error("message of {size} bytes is larger than the {scope:?} quota of {limit} bytes")]
    TooLargeForQuota {
        scope: QuotaScope,
        size: u64,
        limit: u64,
    },
    #[error("mailbox has children")]
    HasChildren,
    #[error("this mailbox cannot be {0}")]
    Forbidden(&'static str),
    /// The database was written by a newer Tern than this binary.
    #[error(
        "the store's schema version {found} is newer than this binary understands ({supported}); \
         upgrade Tern or restore a matching backup"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A message's content file is not there: expunged since its row was read (the file
    /// outlived the row by the grace period of `blob_removal.rs`), or lost.
    #[error("the content file of blob {0} is missing")]
    BlobMissing(String),
    #[error("blob storage error: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A blocking task of the store panicked or was cancelled (the runtime shutting down).
    #[error("a store task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The transaction holding this write could not be committed; nothing of it was stored.
    #[error("the write was not committed: {0}")]
    CommitFailed(String),
    #[error("the store is shutting down")]
    Closed,
}

impl StoreError {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// True for the temporary quota error (the sender may retry later).
    pub fn is_over_quota(&self) -> bool {
        matches!(
            self,
            StoreError::OverQuota { .. } | StoreError::TooLargeForQuota { .. }
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
