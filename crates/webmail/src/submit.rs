//! Sending: the boundary between the webmail and the submission path.
//!
//! DESIGN.md §3: SMTP submission and the webmail share one submission path (sender checks,
//! DKIM, local delivery or queueing) in the `queue` crate. Until that crate is wired here,
//! [`LocalDelivery`] delivers to local accounts only and refuses remote recipients with a
//! clear message: it never pretends to have sent what it cannot.

use async_trait::async_trait;
use bytes::Bytes;
use tern_store::{AppendTarget, Flags, SharedStore, StoreError};

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
    /// Sending outside the hosted domains needs the outgoing queue, which is not wired yet.
    #[error(
        "sending to addresses outside this server is not available yet: {}",
        .0.join(", ")
    )]
    RemoteUnavailable(Vec<String>),
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

/// Delivers to local accounts through the store; refuses any remote recipient (all or
/// nothing: the message goes nowhere if one recipient can't be reached).
pub struct LocalDelivery {
    store: SharedStore,
}

impl LocalDelivery {
    pub fn new(store: SharedStore) -> LocalDelivery {
        LocalDelivery { store }
    }
}

#[async_trait]
impl Submitter for LocalDelivery {
    async fn submit(&self, submission: Submission) -> Result<SubmitReport, SubmitError> {
        let mut targets = Vec::new();
        let mut remote = Vec::new();
        let mut local_names = Vec::new();
        for recipient in &submission.recipients {
            match self.store.resolve_recipient(recipient).await {
                Ok(resolution) => {
                    remote.extend(resolution.forward);
                    for account in resolution.accounts {
                        let inbox = self
                            .store
                            .mailbox(account, "INBOX")
                            .await?
                            .ok_or(SubmitError::UnknownRecipient(recipient.clone()))?;
                        if !targets.iter().any(|t: &AppendTarget| t.mailbox == inbox.id) {
                            targets.push(AppendTarget {
                                account,
                                mailbox: inbox.id,
                                flags: Flags::NONE,
                                keywords: Vec::new(),
                            });
                        }
                    }
                    local_names.push(recipient.clone());
                }
                Err(StoreError::Invalid { what: "domain", .. }) => remote.push(recipient.clone()),
                Err(StoreError::NotFound { .. }) => {
                    return Err(SubmitError::UnknownRecipient(recipient.clone()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !remote.is_empty() {
            return Err(SubmitError::RemoteUnavailable(remote));
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let outcomes = self.store.deliver(submission.raw, now, targets).await?;
        if let Some(Err(error)) = outcomes.into_iter().find(|o| o.is_err()) {
            return Err(SubmitError::Delivery {
                recipient: "a local recipient".into(),
                reason: error.to_string(),
            });
        }
        Ok(SubmitReport {
            delivered: local_names,
            queued: Vec::new(),
        })
    }
}
