//! The one submission path (SMTP submission and, later, the webmail): checks that the sender
//! is the account's, completes the header (RFC 6409 §8), signs with DKIM, delivers to local
//! recipients at once and queues the others.

use crate::local::{self, Destination, MailboxChoice};
use crate::{Outbound, dkim, headers};
use bytes::Bytes;
use tern_store::{Account, AccountId, NewQueued, NewRecipient, QueueId, StoreError};

/// A message an authenticated user sends.
#[derive(Debug, Clone)]
pub struct Submission {
    pub account: Account,
    /// The envelope sender (already checked with [`Outbound::may_send_as`]).
    pub sender: String,
    pub recipients: Vec<NewRecipient>,
    pub env_id: Option<String>,
    pub ret_full: bool,
    /// The message as the client sent it (CRLF line ends).
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Local recipients that have it in their INBOX now.
    pub delivered: usize,
    /// The queue entry for the remote recipients, if any.
    pub queued: Option<QueueId>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// SMTP `553 5.7.1`: a From: address that is not the account's.
    #[error("the From: address {0} is not one of yours")]
    FromNotAllowed(String),
    /// SMTP `550 5.6.0`: a header two readers could read differently (RFC 5322 §3.6).
    #[error(transparent)]
    BadHeader(#[from] tern_message::submission::HeaderError),
    /// Every local recipient failed (quota...) and nothing was queued.
    #[error("delivery failed: {0}")]
    Local(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Outbound {
    /// True when `account` may use `address` as a sender: its own address, a sub-address of
    /// it (`user+tag`), or an alias whose only target is the account (a catch-all is not
    /// enough: it would let one user sign as every address of the domain).
    pub async fn may_send_as(&self, account: &Account, address: &str) -> Result<bool, StoreError> {
        let Ok(parsed) = tern_store::names::parse_address(address) else {
            return Ok(false);
        };
        let email = parsed.email();
        if email == account.email {
            return Ok(true);
        }
        if let Some((base, _)) = parsed.local.split_once('+')
            && format!("{base}@{}", parsed.domain) == account.email
        {
            return Ok(true);
        }
        let aliases = self.store.aliases().await?;
        let targets: Vec<&str> = aliases
            .iter()
            .filter(|a| a.source == email)
            .map(|a| a.target.as_str())
            .collect();
        Ok(!targets.is_empty() && targets.iter().all(|t| *t == account.email))
    }

    /// Sends `sender` a DSN for recipients that could not get a message the client was
    /// told was accepted (never for the null sender: no bounce for a bounce).
    pub async fn report_failures(
        &self,
        sender: &str,
        env_id: Option<&str>,
        raw: &[u8],
        failed: &[crate::dsn::FailedRecipient],
    ) {
        if sender.is_empty() || failed.is_empty() {
            return;
        }
        let report = crate::dsn::build(&crate::dsn::Report {
            hostname: &self.settings.hostname,
            to: sender,
            env_id,
            arrival_date: crate::now(),
            recipients: failed,
            original: raw,
            full: false,
        });
        crate::delivery::send_bounce(&self.store, sender, report).await;
    }

    /// Submits a message: header checks and additions, DKIM, local delivery, queueing.
    pub async fn submit(&self, submission: Submission) -> Result<Submitted, SubmitError> {
        // Bare CR and LF become CRLF first, so the checks below and every later reader see the
        // same lines (RFC 5321 §2.3.8); a header that still has one is refused by the check.
        let normalized = tern_message::submission::normalize_line_ends(&submission.raw);
        let originators = tern_message::submission::check_submission(&normalized)?;
        for mailbox in originators.all() {
            let address = mailbox.email();
            if !self.may_send_as(&submission.account, &address).await? {
                return Err(SubmitError::FromNotAllowed(address));
            }
        }
        let from_domain = originators.from.first().map(|m| m.domain.clone());
        let mut raw = headers::add_missing_headers(&normalized, &self.settings.hostname);
        if let Some(domain) = from_domain {
            match self.store.dkim_key(&domain).await? {
                Some(key) => match dkim::sign(&key, &raw) {
                    Ok(signed) => raw = signed,
                    Err(e) => {
                        tracing::error!(domain, error = %e, "DKIM signing failed; sending unsigned")
                    }
                },
                None => tracing::debug!(domain, "no DKIM key for the domain; sending unsigned"),
            }
        }
        let raw = Bytes::from(raw);

        let mut local_recipients: Vec<(String, Vec<AccountId>)> = Vec::new();
        let mut remote: Vec<NewRecipient> = Vec::new();
        for recipient in &submission.recipients {
            match local::classify(&self.store, &recipient.address).await? {
                Destination::Local(resolution) => {
                    if !resolution.accounts.is_empty() {
                        local_recipients.push((recipient.address.clone(), resolution.accounts));
                    }
                    remote.extend(resolution.forward.into_iter().map(NewRecipient::plain));
                }
                Destination::Remote => remote.push(recipient.clone()),
                // Checked at RCPT already; an address removed meanwhile is skipped.
                Destination::Unknown | Destination::Invalid => {
                    tracing::warn!(to = recipient.address, "submission: recipient vanished");
                }
            }
        }

        let mut delivered = 0;
        let mut first_error = None;
        if !local_recipients.is_empty() {
            let outcomes = local::deliver_local(
                &self.store,
                raw.clone(),
                crate::now(),
                &local_recipients,
                MailboxChoice::Inbox,
            )
            .await?;
            let mut failed = Vec::new();
            for outcome in outcomes {
                match outcome.result {
                    Ok(()) => delivered += 1,
                    Err(e) => {
                        failed.push(crate::dsn::FailedRecipient {
                            address: outcome.address.clone(),
                            orcpt: None,
                            diagnostic: format!("{} {e}", local_reply_code(&e)),
                            remote_mta: None,
                            status: local_status(&e).into(),
                        });
                        first_error.get_or_insert(e);
                    }
                }
            }
            // Some got it: the client hears 250, the sender gets a DSN for the others.
            if !failed.is_empty() && (delivered > 0 || !remote.is_empty()) {
                self.report_failures(
                    &submission.sender,
                    submission.env_id.as_deref(),
                    &raw,
                    &failed,
                )
                .await;
            }
        }
        let queued = if remote.is_empty() {
            None
        } else {
            let id = self
                .store
                .enqueue(
                    raw,
                    NewQueued {
                        sender: submission.sender.clone(),
                        recipients: remote,
                        env_id: submission.env_id.clone(),
                        ret_full: submission.ret_full,
                        first_attempt: crate::now(),
                    },
                )
                .await?;
            self.wake();
            Some(id)
        };
        if delivered == 0
            && queued.is_none()
            && let Some(e) = first_error
        {
            return Err(SubmitError::Local(e));
        }
        Ok(Submitted { delivered, queued })
    }
}

/// The SMTP reply code a local delivery failure gets in a DSN.
pub fn local_reply_code(e: &StoreError) -> &'static str {
    match e {
        StoreError::OverQuota { .. } => "452",
        _ => "550",
    }
}

/// The RFC 3463 status of a local delivery failure.
pub fn local_status(e: &StoreError) -> &'static str {
    match e {
        StoreError::OverQuota { .. } | StoreError::TooLargeForQuota { .. } => "5.2.2",
        _ => "5.0.0",
    }
}
