//! Sending: the boundary between the webmail and the submission path.
//!
//! DESIGN.md §3: SMTP submission and the webmail share one submission path (sender checks,
//! DKIM, local delivery or queueing) in the `queue` crate. The binary wires that path in
//! behind this trait, so this crate does not depend on the queue.

use async_trait::async_trait;
use bytes::Bytes;
use tern_store::StoreError;

/// One message to send, as the submission path needs it.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The logged-in account's address (the envelope sender).
    pub sender: String,
    /// Envelope recipients: To, Cc and Bcc, deduplicated.
    pub recipients: Vec<String>,
    /// The complete message, Bcc removed.
    pub raw: Bytes,
}

/// What became of a submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmitReport {
    /// Recipients delivered to local mailboxes.
    pub delivered: Vec<String>,
    /// Recipients handed to the outgoing queue.
    pub queued: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("unknown local recipient: {0}")]
    UnknownRecipient(String),
    #[error("could not deliver to {recipient}: {reason}")]
    Delivery { recipient: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The submission path the webmail sends through.
#[async_trait]
pub trait Submitter: Send + Sync {
    async fn submit(&self, submission: Submission) -> Result<SubmitReport, SubmitError>;
}
