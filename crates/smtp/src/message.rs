//! DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030), then what becomes of the message: the MX
//! stores it for its local recipients (one blob, `250` only once durable); submission hands
//! it to the one submission path.

use crate::Kind;
use crate::envelope::Route;
use crate::io::{DataEnd, Decoder, read_data};
use crate::reply::Reply;
use crate::session::{Chunks, Session, Transaction};
use crate::trace::{self, Received};
use crate::verify::DmarcAction;
use bytes::Bytes;
use std::sync::Arc;
use tern_queue::dsn::FailedRecipient;
use tern_queue::{MailboxChoice, Submission, SubmitError};
use tern_store::{AccountId, NewQueued, NewRecipient, StoreError};

impl Session {
    /// Checks that a transaction with recipients is open; replies otherwise.
    fn ready_for_data(&mut self) -> bool {
        match &self.tx {
            None => {
                self.reply(Reply::new(503, "5.5.1", "need MAIL and RCPT first"));
                false
            }
            Some(tx) if tx.recipients.is_empty() => {
                self.reply(Reply::new(554, "5.5.1", "no valid recipients"));
                false
            }
            Some(_) => true,
        }
    }

    /// RFC 5321 §4.5.3.2.6: the client stalled inside the message; the session ends.
    fn data_timed_out(&mut self) {
        self.reply(Reply::new(
            421,
            "4.4.2",
            "timeout while reading data, closing",
        ));
        self.closing = true;
    }

    pub async fn data(&mut self) {
        if self.tx.as_ref().is_some_and(|tx| tx.chunk_bytes > 0) {
            self.reply(Reply::new(503, "5.5.1", "DATA after BDAT is not allowed"));
            return;
        }
        if !self.ready_for_data() {
            return;
        }
        let Some(mut spool) = self.new_spool() else {
            self.tx = None;
            return;
        };
        self.reply(Reply::new(354, "", "end data with <CR><LF>.<CR><LF>"));
        let Some(io) = self.io.as_mut() else { return };
        if io.flush().await.is_err() {
            self.closing = true;
            return;
        }
        let max = self.server.settings.max_message_size;
        let timeout = self.server.settings.data_timeout;
        let end = match read_data(&mut io.reader, &mut spool, max, timeout).await {
            Ok(end) => end,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                self.data_timed_out();
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "spooling the message failed");
                self.reply(local_error());
                self.closing = true;
                return;
            }
        };
        match end {
            DataEnd::Eof => self.closing = true,
            DataEnd::TooBig => {
                self.tx = None;
                self.reply(too_big());
            }
            DataEnd::HeaderTooBig => {
                self.tx = None;
                self.reply(Reply::new(552, "5.3.4", "message header too large"));
            }
            DataEnd::Complete => {
                if let Some(tx) = self.tx.take() {
                    let reply = self.finish_spooled(tx, spool).await;
                    self.reply(reply);
                }
            }
        }
    }

    /// A spool file for the message about to arrive; None (and `451` said) if none can be made.
    fn new_spool(&mut self) -> Option<tern_store::Spool> {
        match self.server.store.spool() {
            Ok(spool) => Some(spool),
            Err(e) => {
                tracing::error!(error = %e, "no spool file for an incoming message");
                self.reply(local_error());
                None
            }
        }
    }

    pub async fn bdat(&mut self, size: usize, last: bool) {
        let timeout = self.server.settings.data_timeout;
        let max = self.server.settings.max_message_size;
        // The chunk is read whatever happens, or its bytes would be taken for commands.
        let keep = self
            .tx
            .as_ref()
            .is_some_and(|tx| !tx.recipients.is_empty() && !tx.chunks_too_big);
        let fits = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.chunk_bytes.saturating_add(size) <= max);
        if keep && fits && self.tx.as_ref().is_some_and(|tx| tx.chunks.is_none()) {
            let Some(spool) = self.new_spool() else {
                self.tx = None;
                self.closing = true;
                return;
            };
            if let Some(tx) = self.tx.as_mut() {
                tx.chunks = Some(Chunks {
                    decoder: Decoder::chunks(max),
                    spool,
                });
            }
        }
        let Some(io) = self.io.as_mut() else { return };
        let sink = match self.tx.as_mut() {
            Some(tx) if keep && fits => {
                tx.chunk_bytes = tx.chunk_bytes.saturating_add(size);
                tx.chunks.as_mut().map(|c| (&mut c.decoder, &mut c.spool))
            }
            _ => None,
        };
        match io.read_chunk(size, sink, timeout).await {
            Ok(true) => {}
            Ok(false) => {
                self.closing = true;
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                self.data_timed_out();
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "spooling the message failed");
                self.reply(local_error());
                self.closing = true;
                return;
            }
        }
        if !keep && !self.ready_for_data() {
            return;
        }
        if !keep || !fits {
            // Over the limit: drop what came, keep refusing until LAST, then start over.
            if let Some(tx) = self.tx.as_mut() {
                tx.chunks_too_big = true;
                tx.chunks = None;
            }
            if last {
                self.tx = None;
            }
            self.reply(too_big());
            return;
        }
        if !last {
            self.reply(Reply::new(250, "2.0.0", format!("{size} octets received")));
            return;
        }
        let Some(mut tx) = self.tx.take() else { return };
        let Some(mut chunks) = tx.chunks.take() else {
            // `BDAT 0 LAST` as the only chunk: an empty message.
            let Some(spool) = self.new_spool() else {
                return;
            };
            let reply = self.finish_spooled(tx, spool).await;
            self.reply(reply);
            return;
        };
        let mut tail = Vec::new();
        chunks.decoder.finish(&mut tail);
        if let Err(e) = chunks.spool.write(&tail).await {
            tracing::error!(error = %e, "spooling the message failed");
            self.reply(local_error());
            return;
        }
        let reply = match chunks.decoder.end() {
            DataEnd::TooBig => too_big(),
            DataEnd::HeaderTooBig => Reply::new(552, "5.3.4", "message header too large"),
            _ => self.finish_spooled(tx, chunks.spool).await,
        };
        self.reply(reply);
    }

    /// Reads the spooled message back within the server's memory budget, then finishes.
    async fn finish_spooled(&mut self, tx: Transaction, spool: tern_store::Spool) -> Reply {
        let budget = Arc::clone(&self.server.memory);
        let _permit = budget.hold(spool.len()).await;
        match spool.into_vec().await {
            Ok(body) => self.finish(tx, body).await,
            Err(e) => {
                tracing::error!(error = %e, "reading the spooled message failed");
                local_error()
            }
        }
    }

    /// The end of a transaction: deliver or submit, and the reply for it.
    async fn finish(&mut self, tx: Transaction, body: Vec<u8>) -> Reply {
        self.messages += 1;
        let id = format!("{:016x}", rand_id());
        let tls = self.io.as_ref().is_some_and(|io| io.is_tls());
        let single = (tx.recipients.len() == 1).then(|| tx.recipients[0].address.clone());
        let received = Received {
            helo: self.helo.as_deref().unwrap_or(""),
            ip: self.peer.ip(),
            hostname: &self.server.hostname,
            protocol: trace::protocol(self.esmtp, tls, self.account.is_some()),
            id: &id,
            for_rcpt: single.as_deref(),
        }
        .header();
        let body = trace::strip_our_auth_results(&body, &self.server.hostname);
        match self.kind {
            Kind::Mx => self.deliver_inbound(tx, received, body, &id).await,
            Kind::Submission => self.submit(tx, received, body, &id).await,
        }
    }

    async fn deliver_inbound(
        &mut self,
        tx: Transaction,
        received: String,
        body: Vec<u8>,
        id: &str,
    ) -> Reply {
        // RFC 7489 §6.6.1: with two From fields the DMARC check and the reader could see
        // different authors.
        if let Err(problem) = tern_message::submission::check_single_from(&body) {
            tracing::info!(id, from = tx.sender, %problem, "message refused");
            return Reply::new(550, "5.6.0", problem.to_string());
        }
        let mut head = String::new();
        let mut choice = MailboxChoice::Inbox;
        if let Some(verifier) = self.server.verifier.clone() {
            let verdict = verifier
                .check(
                    &body,
                    self.peer.ip(),
                    self.helo.as_deref().unwrap_or(""),
                    &tx.sender,
                    &self.server.hostname,
                )
                .await;
            head.push_str(&verdict.header);
            if self.server.settings.enforce_dmarc {
                match verdict.dmarc {
                    DmarcAction::Reject => {
                        tracing::info!(id, from = tx.sender, "DMARC policy reject");
                        return Reply::new(
                            550,
                            "5.7.1",
                            "rejected by the sender domain's DMARC policy",
                        );
                    }
                    DmarcAction::Quarantine => choice = MailboxChoice::Junk,
                    DmarcAction::None => {}
                }
            }
        }
        let mut raw = Vec::with_capacity(body.len() + 512);
        raw.extend_from_slice(trace::return_path(&tx.sender).as_bytes());
        raw.extend_from_slice(received.as_bytes());
        raw.extend_from_slice(head.as_bytes());
        raw.extend_from_slice(&body);
        let raw = Bytes::from(raw);

        let mut local: Vec<(String, Vec<AccountId>)> = Vec::new();
        let mut forward: Vec<NewRecipient> = Vec::new();
        for r in &tx.recipients {
            if let Route::Local {
                accounts,
                forward: fwd,
            } = &r.route
            {
                if !accounts.is_empty() {
                    local.push((r.address.clone(), accounts.clone()));
                }
                forward.extend(fwd.iter().map(|f| NewRecipient::plain(f.clone())));
            }
        }
        let mut delivered = 0;
        let mut failures: Vec<(String, StoreError)> = Vec::new();
        if !local.is_empty() {
            match tern_queue::deliver_local(&self.server.store, raw.clone(), now(), &local, choice)
                .await
            {
                Ok(outcomes) => {
                    for o in outcomes {
                        match o.result {
                            Ok(()) => delivered += 1,
                            Err(e) => failures.push((o.address, e)),
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(id, error = %e, "delivery failed");
                    return local_error();
                }
            }
        }
        let mut queued = false;
        if !forward.is_empty() {
            let envelope = NewQueued {
                sender: tx.sender.clone(),
                recipients: forward,
                env_id: tx.env_id.clone(),
                ret_full: tx.ret_full,
                first_attempt: now(),
            };
            match self.server.store.enqueue(raw.clone(), envelope).await {
                Ok(_) => {
                    queued = true;
                    self.server.outbound.wake();
                }
                Err(e) => tracing::error!(id, error = %e, "queueing forwarded mail failed"),
            }
        }
        if delivered == 0 && !queued {
            return match failures.first() {
                Some((_, e)) => store_error_reply(e),
                None => local_error(),
            };
        }
        if !failures.is_empty() {
            let failed = failure_report(&failures);
            self.server
                .outbound
                .report_failures(&tx.sender, tx.env_id.as_deref(), &raw, &failed)
                .await;
        }
        tracing::info!(
            id,
            from = tx.sender,
            delivered,
            queued,
            size = raw.len(),
            "message accepted"
        );
        Reply::new(250, "2.0.0", format!("ok: delivered as {id}"))
    }

    async fn submit(
        &mut self,
        tx: Transaction,
        received: String,
        body: Vec<u8>,
        id: &str,
    ) -> Reply {
        let Some(account) = self.account.clone() else {
            return Reply::new(530, "5.7.0", "authentication required");
        };
        let mut raw = received.into_bytes();
        raw.extend_from_slice(&body);
        let submission = Submission {
            account,
            sender: tx.sender.clone(),
            recipients: tx
                .recipients
                .iter()
                .map(|r| NewRecipient {
                    address: r.address.clone(),
                    orcpt: r.orcpt.clone(),
                    notify: r.notify,
                })
                .collect(),
            env_id: tx.env_id.clone(),
            ret_full: tx.ret_full,
            raw,
        };
        match self.server.outbound.submit(submission).await {
            Ok(done) => {
                tracing::info!(id, from = tx.sender, delivered = done.delivered, queued = ?done.queued, "message submitted");
                Reply::new(250, "2.0.0", format!("ok: queued as {id}"))
            }
            Err(SubmitError::FromNotAllowed(address)) => Reply::new(
                553,
                "5.7.1",
                format!("From: address {address} is not one of yours"),
            ),
            // RFC 3463 §3.7: 5.6.0, the message content is not acceptable as it is.
            Err(SubmitError::BadHeader(problem)) => Reply::new(550, "5.6.0", problem.to_string()),
            Err(SubmitError::Local(e)) => store_error_reply(&e),
            Err(SubmitError::Store(e)) => {
                tracing::error!(id, error = %e, "submission failed");
                local_error()
            }
        }
    }
}

/// RFC 3463 §3.4: a temporary local failure (a spool file that cannot be written, a store
/// error); the client tries again later.
fn local_error() -> Reply {
    Reply::new(451, "4.3.0", "local error in processing, try again")
}

/// RFC 1870 §6.2 / RFC 3463: the message is larger than the fixed maximum.
fn too_big() -> Reply {
    Reply::new(
        552,
        "5.3.4",
        "message size exceeds fixed maximum message size",
    )
}

/// The reply for a message no local recipient could take.
fn store_error_reply(e: &StoreError) -> Reply {
    match e {
        StoreError::OverQuota { .. } | StoreError::TooLargeForQuota { .. } => Reply::new(
            552,
            "5.2.2",
            "mailbox is over quota: the message does not fit",
        ),
        _ => local_error(),
    }
}

fn failure_report(failures: &[(String, StoreError)]) -> Vec<FailedRecipient> {
    failures
        .iter()
        .map(|(address, e)| FailedRecipient {
            address: address.clone(),
            orcpt: None,
            diagnostic: format!("{} {e}", tern_queue::local_reply_code(e)),
            remote_mta: None,
            status: tern_queue::local_status(e).into(),
        })
        .collect()
}

fn now() -> i64 {
    tern_queue::now()
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
