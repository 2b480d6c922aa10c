//! The webmail sends through the one submission path of the `queue` crate, as SMTP
//! submission does (DESIGN.md §3): sender checks, Date/Message-ID, DKIM, local delivery for
//! hosted recipients and the queue for the rest.

use async_trait::async_trait;
use std::sync::Arc;
use tern_queue::Outbound;
use tern_store::{NewRecipient, SharedStore, StoreError};
use tern_webmail::{Submission, SubmitError, SubmitReport, Submitter};

pub struct QueueSubmitter {
    outbound: Arc<Outbound>,
    store: SharedStore,
}

impl QueueSubmitter {
    pub fn new(outbound: Arc<Outbound>, store: SharedStore) -> QueueSubmitter {
        QueueSubmitter { outbound, store }
    }
}

#[async_trait]
impl Submitter for QueueSubmitter {
    async fn submit(&self, submission: Submission) -> Result<SubmitReport, SubmitError> {
        let account = self
            .store
            .account_by_email(&submission.sender)
            .await?
            .ok_or(StoreError::NotFound { what: "account" })?;
        // Which recipients stay here and which leave, for the report the user sees; an
        // unknown address in a hosted domain is refused before anything is sent.
        let mut report = SubmitReport::default();
        for recipient in &submission.recipients {
            match self.store.resolve_recipient(recipient).await {
                Ok(_) => report.delivered.push(recipient.clone()),
                Err(StoreError::Invalid { what: "domain", .. }) => {
                    report.queued.push(recipient.clone())
                }
                Err(StoreError::NotFound { .. }) => {
                    return Err(SubmitError::UnknownRecipient(recipient.clone()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let queued = tern_queue::Submission {
            account,
            sender: submission.sender.clone(),
            recipients: submission
                .recipients
                .iter()
                .map(|r| NewRecipient::plain(r.as_str()))
                .collect(),
            env_id: None,
            ret_full: false,
            raw: submission.raw.to_vec(),
        };
        self.outbound
            .submit(queued)
            .await
            .map_err(|e| SubmitError::Delivery {
                recipient: submission.recipients.join(", "),
                reason: e.to_string(),
            })?;
        Ok(report)
    }
}
