//! MAIL and RCPT (RFC 5321 §4.1.1.2-3): who sends, and who may receive here. The MX takes
//! only hosted recipients (never an open relay); submission needs AUTH and the sender must
//! be the account's own.

use crate::Kind;
use crate::reply::Reply;
use crate::session::{Session, Transaction};
use std::borrow::Cow;
use tern_queue::Destination;
use tern_store::{AccountId, Notify};

/// An accepted recipient.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub address: String,
    pub orcpt: Option<String>,
    pub notify: Notify,
    pub route: Route,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Hosted: these accounts, plus forwarding targets elsewhere.
    Local {
        accounts: Vec<AccountId>,
        forward: Vec<String>,
    },
    /// Elsewhere (submission only).
    Remote,
}

impl Session {
    pub async fn mail(&mut self, from: smtp_proto::MailFrom<Cow<'_, str>>) {
        if self.helo.is_none() {
            self.reply(Reply::new(503, "5.5.1", "send EHLO or HELO first"));
            return;
        }
        if self.tx.is_some() {
            self.reply(Reply::new(503, "5.5.1", "nested MAIL command"));
            return;
        }
        if self.messages >= self.server.settings.max_messages_per_connection {
            self.reply(Reply::new(
                421,
                "4.7.0",
                "too many messages in one connection, closing",
            ));
            self.closing = true;
            return;
        }
        if from.size > self.server.settings.max_message_size {
            self.reply(Reply::new(
                552,
                "5.3.4",
                "message size exceeds fixed maximum message size",
            ));
            return;
        }
        let sender = from.address.to_string();
        if self.kind == Kind::Submission {
            let Some(account) = self.account.clone() else {
                self.reply(Reply::new(530, "5.7.0", "authentication required"));
                return;
            };
            match self.server.outbound.may_send_as(&account, &sender).await {
                Ok(true) => {}
                Ok(false) => {
                    self.reply(Reply::new(
                        553,
                        "5.7.1",
                        format!("sender <{sender}> is not owned by {}", account.email),
                    ));
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sender check failed");
                    self.reply(Reply::new(451, "4.3.0", "temporary failure, try again"));
                    return;
                }
            }
        }
        self.tx = Some(Transaction {
            sender,
            size: from.size,
            env_id: from.env_id.map(|e| e.to_string()),
            ret_full: from.flags & smtp_proto::MAIL_RET_FULL != 0,
            ..Transaction::default()
        });
        self.reply(Reply::new(250, "2.1.0", "sender OK"));
    }

    pub async fn rcpt(&mut self, to: smtp_proto::RcptTo<Cow<'_, str>>) {
        let Some(tx) = &self.tx else {
            self.reply(Reply::new(503, "5.5.1", "need MAIL before RCPT"));
            return;
        };
        let size = tx.size;
        if tx.recipients.len() >= self.server.settings.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452, so the client sends the rest in another transaction.
            self.reply(Reply::new(452, "4.5.3", "too many recipients"));
            return;
        }
        let mut address = to.address.to_string();
        // smtp-proto reads `<postmaster>` as the empty path (and `<>`, which no RCPT may
        // have, the same way).
        if address.is_empty() || address.eq_ignore_ascii_case("postmaster") {
            // RFC 5321 §4.5.1: accepted without a domain, as the server's own postmaster.
            match tern_queue::bare_postmaster(&self.server.store, &self.server.hostname).await {
                Ok(Some(full)) => address = full,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "postmaster look-up failed");
                    self.reply(Reply::new(451, "4.3.0", "temporary failure, try again"));
                    return;
                }
            }
        }
        let destination = match tern_queue::classify(&self.server.store, &address).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "recipient look-up failed");
                self.reply(Reply::new(451, "4.3.0", "temporary failure, try again"));
                return;
            }
        };
        let route = match destination {
            Destination::Invalid => {
                self.reply(Reply::new(501, "5.1.3", "bad recipient address syntax"));
                return;
            }
            Destination::Unknown => {
                self.reply(Reply::new(
                    550,
                    "5.1.1",
                    format!("<{address}>: recipient address rejected: user unknown"),
                ));
                return;
            }
            Destination::Remote if self.kind == Kind::Submission && self.account.is_some() => {
                Route::Remote
            }
            Destination::Remote => {
                self.reply(Reply::new(
                    554,
                    "5.7.1",
                    format!("<{address}>: relay access denied"),
                ));
                return;
            }
            Destination::Local(resolution) => {
                for account in &resolution.accounts {
                    if let Some(reply) = self.quota_check(*account, size).await {
                        self.reply(reply);
                        return;
                    }
                }
                Route::Local {
                    accounts: resolution.accounts,
                    forward: resolution.forward,
                }
            }
        };
        let notify = notify_bits(to.flags);
        if let Some(tx) = self.tx.as_mut()
            && !tx
                .recipients
                .iter()
                .any(|r| r.address.eq_ignore_ascii_case(&address))
        {
            tx.recipients.push(Recipient {
                address,
                orcpt: to.orcpt.map(|o| o.to_string()),
                notify,
                route,
            });
        }
        self.reply(Reply::new(250, "2.1.5", "recipient OK"));
    }

    /// `452 4.2.2` when the mailbox (or its domain) is full now, `552 5.2.2` when the
    /// announced SIZE will not fit what is left.
    async fn quota_check(&self, account: AccountId, size: usize) -> Option<Reply> {
        let usage = match self.server.store.quota(account).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(error = %e, "quota look-up failed");
                return None;
            }
        };
        for (used, limit, what) in [
            (usage.account_used, usage.account_limit, "mailbox"),
            (usage.domain_used, usage.domain_limit, "domain"),
        ] {
            let Some(limit) = limit else { continue };
            if used >= limit {
                return Some(Reply::new(452, "4.2.2", format!("{what} is over quota")));
            }
            if size > 0 && used.saturating_add(size as u64) > limit {
                return Some(Reply::new(
                    552,
                    "5.2.2",
                    format!("message is larger than the {what}'s remaining quota"),
                ));
            }
        }
        None
    }
}

/// True for a MAIL command whose `SIZE=` (RFC 1870 §3) is all digits but too large for any
/// counter: a size no message can have, refused as too big rather than misread.
pub(crate) fn size_parameter_overflows(line: &[u8]) -> bool {
    if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"MAIL ") {
        return false;
    }
    line.split(|b| b.is_ascii_whitespace())
        .filter_map(|param| {
            let (name, value) = param.split_at_checked(5)?;
            name.eq_ignore_ascii_case(b"SIZE=").then_some(value)
        })
        .any(|value| {
            // All digits is valid UTF-8; what does not fit a usize overflows.
            !value.is_empty()
                && value.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(value).is_ok_and(|v| v.parse::<usize>().is_err())
        })
}

fn notify_bits(flags: u64) -> Notify {
    let mut bits = 0;
    if flags & smtp_proto::RCPT_NOTIFY_SUCCESS != 0 {
        bits |= Notify::SUCCESS.0;
    }
    if flags & smtp_proto::RCPT_NOTIFY_FAILURE != 0 {
        bits |= Notify::FAILURE.0;
    }
    if flags & smtp_proto::RCPT_NOTIFY_DELAY != 0 {
        bits |= Notify::DELAY.0;
    }
    if flags & smtp_proto::RCPT_NOTIFY_NEVER != 0 {
        bits |= Notify::NEVER.0;
    }
    Notify(bits)
}
