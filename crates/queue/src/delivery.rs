//! The delivery worker: takes due messages from the durable queue, delivers each domain's
//! recipients over one connection (opportunistic STARTTLS, pipelining), records every
//! recipient's outcome, retries temporary failures with back-off and bounces the rest.

use crate::dsn::{self, FailedRecipient};
use crate::local::{self, Destination, MailboxChoice};
use crate::route::{self, Hop, Route};
use crate::settings::QueueSettings;
use bytes::Bytes;
use mail_auth::MessageAuthenticator;
use mail_send::SmtpClient;
use smtp_proto::{EXT_8BIT_MIME, EXT_PIPELINING, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tern_store::{
    NewQueued, NewRecipient, QueuedMessage, QueuedRecipient, RecipientState, RecipientUpdate,
    SharedStore,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// How often the worker looks for due messages when nobody woke it.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often the queue's size and age are logged.
const REPORT_INTERVAL: Duration = Duration::from_secs(300);

pub struct Worker {
    store: SharedStore,
    settings: Arc<QueueSettings>,
    wake: Arc<Notify>,
    dns: Arc<OnceLock<Option<MessageAuthenticator>>>,
}

/// What one recipient's attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Delivered(String),
    Temporary {
        reply: String,
        remote: Option<String>,
    },
    Permanent {
        reply: String,
        remote: Option<String>,
    },
}

impl Outcome {
    fn from_response(r: &smtp_proto::Response<String>, remote: &str) -> Outcome {
        let text = if r.esc[0] != 0 {
            format!(
                "{}.{}.{} {}",
                r.esc[0],
                r.esc[1],
                r.esc[2],
                r.message.trim()
            )
        } else {
            r.message.trim().to_owned()
        };
        Outcome::from_reply(r.code, &text, remote)
    }

    fn from_reply(code: u16, text: &str, remote: &str) -> Outcome {
        let reply = format!("{code} {}", text.trim());
        let remote = Some(remote.to_owned());
        match code {
            200..=299 => Outcome::Delivered(reply),
            500..=599 => Outcome::Permanent { reply, remote },
            _ => Outcome::Temporary { reply, remote },
        }
    }
}

impl Worker {
    pub(crate) fn new(store: SharedStore, settings: Arc<QueueSettings>, wake: Arc<Notify>) -> Self {
        Worker {
            store,
            settings,
            wake,
            dns: Arc::new(OnceLock::new()),
        }
    }

    fn dns(&self) -> Option<&MessageAuthenticator> {
        self.dns
            .get_or_init(|| match route::resolver(self.settings.dns_server) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "queue: no DNS resolver; MX deliveries will wait");
                    None
                }
            })
            .as_ref()
    }

    /// Delivers until `stop` resolves. Each round takes at most `concurrency` messages and
    /// delivers them in parallel.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let worker = Arc::new(self);
        tokio::pin!(stop);
        let mut last_report = tokio::time::Instant::now() - REPORT_INTERVAL;
        loop {
            if last_report.elapsed() >= REPORT_INTERVAL {
                worker.report().await;
                last_report = tokio::time::Instant::now();
            }
            let lease = (worker.settings.timeout.as_secs() as i64 * 4).max(60);
            let batch = match worker
                .store
                .queue_claim(crate::now(), lease, worker.settings.concurrency)
                .await
            {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "queue: cannot read the queue");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    () = &mut stop => return,
                    () = worker.wake.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                continue;
            }
            let mut tasks = tokio::task::JoinSet::new();
            for message in batch {
                let worker = Arc::clone(&worker);
                tasks.spawn(async move { worker.deliver(message).await });
            }
            loop {
                tokio::select! {
                    () = &mut stop => return,
                    done = tasks.join_next() => if done.is_none() { break },
                }
            }
        }
    }

    async fn report(&self) {
        if let Ok(list) = self.store.queue_list().await {
            let oldest = list.iter().map(|m| m.created).min();
            let age = oldest.map(|o| crate::now() - o).unwrap_or(0);
            tracing::info!(
                messages = list.len(),
                oldest_age_secs = age,
                "outbound queue"
            );
        }
    }

    /// One attempt for the due recipients of one message.
    async fn deliver(&self, message: QueuedMessage) {
        let raw = match self.store.read_blob(&message.blob).await {
            Ok(raw) => raw,
            Err(e) => {
                tracing::error!(id = message.id.0, error = %e, "queue: message bytes unreadable");
                return;
            }
        };
        let mut by_domain: BTreeMap<String, Vec<&QueuedRecipient>> = BTreeMap::new();
        for r in &message.recipients {
            let domain = r.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            by_domain
                .entry(domain.to_ascii_lowercase())
                .or_default()
                .push(r);
        }
        let mut outcomes: Vec<(String, Outcome)> = Vec::new();
        for (domain, recipients) in by_domain {
            let addresses: Vec<&str> = recipients.iter().map(|r| r.address.as_str()).collect();
            let results = self
                .deliver_domain(&message, &raw, &domain, &addresses)
                .await;
            for (address, outcome) in addresses.iter().zip(results) {
                tracing::info!(
                    id = message.id.0,
                    to = address,
                    outcome = ?outcome,
                    "queue: delivery attempt"
                );
                outcomes.push((address.to_string(), outcome));
            }
        }
        self.record(&message, &raw, outcomes).await;
    }

    async fn deliver_domain(
        &self,
        message: &QueuedMessage,
        raw: &Bytes,
        domain: &str,
        recipients: &[&str],
    ) -> Vec<Outcome> {
        let all = |o: Outcome| vec![o; recipients.len()];
        let hops = match route::route(&self.settings, self.dns(), domain).await {
            Route::Hops(hops) => hops,
            Route::TempFail(reason) => {
                return all(Outcome::Temporary {
                    reply: reason,
                    remote: None,
                });
            }
            Route::PermFail(reason) => {
                return all(Outcome::Permanent {
                    reply: format!("550 5.1.2 {reason}"),
                    remote: None,
                });
            }
        };
        let mut last_error = String::from("no host to try");
        for hop in hops {
            match self.connect(&hop).await {
                Ok(client) => {
                    return self
                        .converse(client, &hop, message, raw, recipients)
                        .await
                        .unwrap_or_else(|e| {
                            all(Outcome::Temporary {
                                reply: format!("conversation with {} failed: {e}", hop.host),
                                remote: Some(hop.host.clone()),
                            })
                        });
                }
                Err(e) => {
                    tracing::info!(host = %hop.host, port = hop.port, error = %e, "queue: cannot connect");
                    last_error = format!("cannot connect to {}:{}: {e}", hop.host, hop.port);
                }
            }
        }
        all(Outcome::Temporary {
            reply: last_error,
            remote: None,
        })
    }

    async fn connect(&self, hop: &Hop) -> Result<SmtpClient<TcpStream>, String> {
        let timeout = self.settings.timeout;
        let addresses: Vec<std::net::SocketAddr> = match hop.host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![(ip, hop.port).into()],
            Err(_) => tokio::time::timeout(
                timeout,
                tokio::net::lookup_host((hop.host.as_str(), hop.port)),
            )
            .await
            .map_err(|_| "address look-up timed out".to_string())?
            .map_err(|e| e.to_string())?
            .collect(),
        };
        let mut last = String::from("no address");
        for addr in addresses {
            match SmtpClient::connect(addr, timeout).await {
                Ok(client) => return Ok(client),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// Greeting, EHLO, STARTTLS when offered (or required for the relay), AUTH at the relay,
    /// then the transaction.
    async fn converse(
        &self,
        mut client: SmtpClient<TcpStream>,
        hop: &Hop,
        message: &QueuedMessage,
        raw: &Bytes,
        recipients: &[&str],
    ) -> Result<Vec<Outcome>, String> {
        let timeout = self.settings.timeout;
        let greeting = tokio::time::timeout(timeout, client.read())
            .await
            .map_err(|_| "no greeting".to_string())?
            .map_err(|e| e.to_string())?;
        if !greeting.is_positive_completion() {
            let o = Outcome::from_response(&greeting, &hop.host);
            return Ok(vec![o; recipients.len()]);
        }
        let ehlo = client
            .ehlo(&self.settings.hostname)
            .await
            .map_err(|e| e.to_string())?;
        let relay = self.settings.relay.as_ref().filter(|_| hop.is_relay);
        let require_tls = relay.is_some_and(|r| r.require_tls);
        if ehlo.capabilities & EXT_START_TLS != 0 {
            // Opportunistic TLS to MX hosts does not check certificates (RFC 7435: better
            // than plain text); the relay's certificate is checked.
            let connector = mail_send::smtp::tls::build_tls_connector(!require_tls)
                .map_err(|e| e.to_string())?;
            let mut tls = client
                .start_tls(&connector, &hop.host)
                .await
                .map_err(|e| format!("STARTTLS failed: {e}"))?;
            let ehlo = tls
                .ehlo(&self.settings.hostname)
                .await
                .map_err(|e| e.to_string())?;
            if let Some((user, password)) = relay.and_then(|r| r.credentials.as_ref()) {
                let credentials = mail_send::Credentials::new(user.as_str(), password.as_str());
                tls.authenticate(&credentials, &ehlo)
                    .await
                    .map_err(|e| format!("AUTH at the relay failed: {e}"))?;
            }
            return self
                .transact(&mut tls, &ehlo, hop, message, raw, recipients)
                .await;
        }
        if require_tls {
            return Err(format!(
                "{} offers no STARTTLS and TLS is required",
                hop.host
            ));
        }
        if let Some((user, password)) = relay.and_then(|r| r.credentials.as_ref()) {
            let credentials = mail_send::Credentials::new(user.as_str(), password.as_str());
            client
                .authenticate(&credentials, &ehlo)
                .await
                .map_err(|e| format!("AUTH at the relay failed: {e}"))?;
        }
        self.transact(&mut client, &ehlo, hop, message, raw, recipients)
            .await
    }

    /// MAIL, RCPT for each recipient (pipelined when offered, RFC 2920), DATA.
    async fn transact<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        client: &mut SmtpClient<S>,
        ehlo: &EhloResponse<String>,
        hop: &Hop,
        message: &QueuedMessage,
        raw: &Bytes,
        recipients: &[&str],
    ) -> Result<Vec<Outcome>, String> {
        let all = |o: Outcome| vec![o; recipients.len()];
        let needs_utf8 = !message.sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
        if needs_utf8 && ehlo.capabilities & EXT_SMTP_UTF8 == 0 {
            // RFC 6531 §3.2: without SMTPUTF8 at the server, such an address can't be sent.
            return Ok(all(Outcome::Permanent {
                reply: "553 5.6.7 the receiving server does not support SMTPUTF8".into(),
                remote: Some(hop.host.clone()),
            }));
        }
        let eight_bit = !raw.is_ascii();
        if eight_bit && ehlo.capabilities & EXT_8BIT_MIME == 0 {
            // RFC 6152 §3: 8-bit data only to servers that take it; Tern does not convert.
            return Ok(all(Outcome::Permanent {
                reply: "554 5.6.3 the receiving server does not accept 8-bit data".into(),
                remote: Some(hop.host.clone()),
            }));
        }
        let mut mail = format!("MAIL FROM:<{}>", message.sender);
        if eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        if needs_utf8 {
            mail.push_str(" SMTPUTF8");
        }
        if ehlo.size > 0 {
            mail.push_str(&format!(" SIZE={}", raw.len()));
        }
        mail.push_str("\r\n");
        let mut commands = vec![mail];
        commands.extend(recipients.iter().map(|r| format!("RCPT TO:<{r}>\r\n")));
        let replies = if ehlo.capabilities & EXT_PIPELINING != 0 {
            client.cmds(&commands).await.map_err(|e| e.to_string())?
        } else {
            let mut replies = Vec::with_capacity(commands.len());
            for (i, c) in commands.iter().enumerate() {
                let reply = client.cmd(c).await.map_err(|e| e.to_string())?;
                let stop = i == 0 && !reply.is_positive_completion();
                replies.push(reply);
                if stop {
                    break;
                }
            }
            replies
        };
        let Some(mail_reply) = replies.first() else {
            return Err("no reply to MAIL".into());
        };
        if !mail_reply.is_positive_completion() {
            let _ = client.rset().await;
            return Ok(all(Outcome::from_response(mail_reply, &hop.host)));
        }
        let mut outcomes: Vec<Option<Outcome>> = recipients
            .iter()
            .enumerate()
            .map(|(i, _)| match replies.get(i + 1) {
                Some(r) if r.is_positive_completion() => None,
                Some(r) => Some(Outcome::from_response(r, &hop.host)),
                None => Some(Outcome::Temporary {
                    reply: "no reply to RCPT".into(),
                    remote: Some(hop.host.clone()),
                }),
            })
            .collect();
        if outcomes.iter().all(Option::is_some) {
            let _ = client.rset().await;
        } else {
            let accepted = send_data(client, raw, self.settings.timeout)
                .await
                .map(|r| Outcome::from_response(&r, &hop.host))?;
            for o in outcomes.iter_mut().filter(|o| o.is_none()) {
                *o = Some(accepted.clone());
            }
        }
        let _ = client.cmd(b"QUIT\r\n").await;
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome::Temporary {
                    reply: "unknown".into(),
                    remote: None,
                })
            })
            .collect())
    }

    /// Stores the outcomes, bounces what failed for good, and drops the message once no
    /// recipient is left pending.
    async fn record(&self, message: &QueuedMessage, raw: &Bytes, outcomes: Vec<(String, Outcome)>) {
        let now = crate::now();
        let expired = now.saturating_sub(message.created) >= self.settings.max_age.as_secs() as i64;
        let mut updates = Vec::with_capacity(outcomes.len());
        let mut failed = Vec::new();
        for (address, outcome) in outcomes {
            let recipient = message.recipients.iter().find(|r| r.address == address);
            let attempts = recipient.map(|r| r.attempts).unwrap_or(0);
            let (state, next, reply) = match &outcome {
                Outcome::Delivered(reply) => (RecipientState::Delivered, 0, reply.clone()),
                Outcome::Permanent { reply, .. } => (RecipientState::Failed, 0, reply.clone()),
                Outcome::Temporary { reply, .. } if expired => (
                    RecipientState::Failed,
                    0,
                    format!("{reply} (gave up after {} attempts)", attempts + 1),
                ),
                Outcome::Temporary { reply, .. } => (
                    RecipientState::Pending,
                    now + self.settings.retry_after(attempts).as_secs() as i64,
                    reply.clone(),
                ),
            };
            if state == RecipientState::Failed
                && let Some(r) = recipient
                && r.notify.wants_failure()
            {
                let remote = match &outcome {
                    Outcome::Permanent { remote, .. } | Outcome::Temporary { remote, .. } => {
                        remote.clone()
                    }
                    Outcome::Delivered(_) => None,
                };
                failed.push(FailedRecipient {
                    address: address.clone(),
                    orcpt: r.orcpt.clone(),
                    status: if expired && matches!(outcome, Outcome::Temporary { .. }) {
                        "4.4.7".into()
                    } else {
                        dsn::status_of(&reply)
                    },
                    diagnostic: reply.clone(),
                    remote_mta: remote,
                });
            }
            updates.push(RecipientUpdate {
                address,
                state,
                next_attempt: next,
                last_reply: Some(reply),
            });
        }
        if let Err(e) = self.store.queue_update(message.id, updates).await {
            tracing::error!(id = message.id.0, error = %e, "queue: cannot record outcomes");
            return;
        }
        if !failed.is_empty() {
            bounce(&self.store, &self.settings.hostname, message, raw, &failed).await;
        }
        match self.store.queued(message.id).await {
            Ok(Some(m))
                if m.recipients
                    .iter()
                    .all(|r| r.state != RecipientState::Pending) =>
            {
                if let Err(e) = self.store.queue_remove(message.id).await {
                    tracing::warn!(id = message.id.0, error = %e, "queue: cannot remove a finished message");
                }
            }
            _ => {}
        }
    }
}

/// Sends the sender a DSN for `failed` (never for a bounce: a null sender gets nothing,
/// RFC 5321 §6.1). A local sender gets it in their INBOX; a remote one through the queue.
pub(crate) async fn bounce(
    store: &SharedStore,
    hostname: &str,
    message: &QueuedMessage,
    raw: &[u8],
    failed: &[FailedRecipient],
) {
    if message.sender.is_empty() {
        tracing::info!(
            id = message.id.0,
            "queue: a bounce failed; no bounce for a bounce"
        );
        return;
    }
    let report = dsn::build(&dsn::Report {
        hostname,
        to: &message.sender,
        env_id: message.env_id.as_deref(),
        arrival_date: message.created,
        recipients: failed,
        original: raw,
        full: message.ret_full,
    });
    send_bounce(store, &message.sender, report).await;
}

/// Delivers a report to `to`: local INBOX or the queue, with the null sender.
pub(crate) async fn send_bounce(store: &SharedStore, to: &str, report: Vec<u8>) {
    let report = Bytes::from(report);
    match local::classify(store, to).await {
        Ok(Destination::Local(resolution)) if !resolution.accounts.is_empty() => {
            let recipients = [(to.to_owned(), resolution.accounts)];
            if let Err(e) = local::deliver_local(
                store,
                report,
                crate::now(),
                &recipients,
                MailboxChoice::Inbox,
            )
            .await
            {
                tracing::warn!(to, error = %e, "queue: cannot deliver a bounce");
            }
        }
        Ok(Destination::Remote) => {
            let envelope = NewQueued {
                sender: String::new(),
                recipients: vec![NewRecipient::plain(to)],
                env_id: None,
                ret_full: false,
                first_attempt: crate::now(),
            };
            if let Err(e) = store.enqueue(report, envelope).await {
                tracing::warn!(to, error = %e, "queue: cannot queue a bounce");
            }
        }
        other => tracing::warn!(to, ?other, "queue: the bounce has nowhere to go"),
    }
}

/// DATA with RFC 5321 §4.5.2 transparency: every line starting with a dot gets one more, and
/// the end is `.CRLF` after the message's own last CRLF (no blank line added).
async fn send_data<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<S>,
    raw: &[u8],
    timeout: Duration,
) -> Result<smtp_proto::Response<String>, String> {
    use tokio::io::AsyncWriteExt;
    let go = client.cmd(b"DATA\r\n").await.map_err(|e| e.to_string())?;
    if go.code != 354 {
        return Ok(go);
    }
    let mut wire = Vec::with_capacity(raw.len() + raw.len() / 50 + 5);
    let mut line_start = true;
    for &b in raw {
        if line_start && b == b'.' {
            wire.push(b'.');
        }
        wire.push(b);
        line_start = b == b'\n';
    }
    if !raw.ends_with(b"\r\n") {
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b".\r\n");
    // RFC 5321 §4.5.3.2.5: each block of data must be taken within 3 minutes (a total limit
    // would cut large messages on slow links); §4.5.3.2.6: the reply to the final dot may take
    // 10 minutes, twice the 5-minute command timeout, as the receiver may be storing the message.
    let block_timeout = timeout.min(DATA_BLOCK_TIMEOUT);
    for block in wire.chunks(DATA_BLOCK_BYTES) {
        tokio::time::timeout(block_timeout, client.stream.write_all(block))
            .await
            .map_err(|_| "timeout sending the message".to_string())?
            .map_err(|e| e.to_string())?;
    }
    tokio::time::timeout(block_timeout, client.stream.flush())
        .await
        .map_err(|_| "timeout sending the message".to_string())?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(timeout * 2, client.read())
        .await
        .map_err(|_| "timeout waiting for the reply to the message".to_string())?
        .map_err(|e| e.to_string())
}

/// RFC 5321 §4.5.3.2.5 "Data Block: 3 minutes".
const DATA_BLOCK_TIMEOUT: Duration = Duration::from_secs(180);
const DATA_BLOCK_BYTES: usize = 64 * 1024;
