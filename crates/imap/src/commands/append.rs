//! APPEND (RFC 9051 §6.3.12) with flags and date, and MULTIAPPEND (RFC 3502): several
//! messages in one command, stored all or none, answering APPENDUID (RFC 4315 §3).

use std::sync::Arc;

use bytes::Bytes;
use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;
use tern_store::{AppendItem, AppendTarget, Flags, MailboxId};

use crate::commands::store::split_flags;
use crate::extended::{Extension, MAX_APPEND_MESSAGES};
use crate::session::{Reply, Session, store_error};
use crate::wire;

/// One message of an APPEND, checked and owned.
struct NewMessage {
    raw: Bytes,
    internal_date: i64,
    flags: Flags,
    keywords: Vec<String>,
}

impl NewMessage {
    fn new(
        flags: &[Flag<'_>],
        date: Option<&DateTime>,
        message: &LiteralOrLiteral8<'_>,
    ) -> Result<NewMessage, Reply> {
        let (flags, keywords) = split_flags(flags)?;
        let raw = match message {
            LiteralOrLiteral8::Literal(literal) => literal.data(),
            LiteralOrLiteral8::Literal8(literal) => literal.data.as_ref(),
        };
        if raw.is_empty() {
            return Err(Reply::no("Empty message").code("CANNOT"));
        }
        Ok(NewMessage {
            raw: Bytes::copy_from_slice(raw),
            internal_date: date.map_or_else(now, |d| d.as_ref().timestamp()),
            flags,
            keywords,
        })
    }

    fn into_item(self, account: tern_store::AccountId, mailbox: MailboxId) -> AppendItem {
        AppendItem {
            raw: self.raw,
            internal_date: self.internal_date,
            targets: vec![AppendTarget {
                account,
                mailbox,
                flags: self.flags,
                keywords: self.keywords,
            }],
            skip_duplicates: false,
        }
    }
}

impl Session {
    pub async fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<&DateTime>,
        message: &LiteralOrLiteral8<'_>,
    ) -> Reply {
        // RFC 3502 §3: the further messages of a MULTIAPPEND, split off by extended.rs.
        let more = match std::mem::replace(&mut self.extension, Extension::None) {
            Extension::MoreAppends(more) => more,
            _ => Vec::new(),
        };
        if more.len() >= MAX_APPEND_MESSAGES {
            return Reply::no(format!(
                "At most {MAX_APPEND_MESSAGES} messages in one APPEND"
            ))
            .code("LIMIT");
        }
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let mut messages = Vec::with_capacity(more.len() + 1);
        match NewMessage::new(flags, date, message) {
            Ok(m) => messages.push(m),
            Err(reply) => return reply,
        }
        for command in &more {
            let Ok((
                [],
                Command {
                    body:
                        CommandBody::Append {
                            flags,
                            date,
                            message,
                            ..
                        },
                    ..
                },
            )) = CommandCodec::default().decode(command)
            else {
                return Reply::bad("Invalid message in MULTIAPPEND");
            };
            match NewMessage::new(&flags, date.as_ref(), &message) {
                Ok(m) => messages.push(m),
                // RFC 3502 §3: one refused message means none is appended.
                Err(reply) => return reply,
            }
        }
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        let store = Arc::clone(self.store());
        let target = match store.mailbox(account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => return Reply::no("No such mailbox").code("TRYCREATE"),
            Err(e) => return store_error(&e),
        };
        let items = messages
            .into_iter()
            .map(|m| m.into_item(account, target.id))
            .collect();
        let stored = match store.append_all(items).await {
            Ok(stored) => stored,
            Err(e) => return store_error(&e),
        };
        if let Some(view) = self.selected.as_mut()
            && view.mailbox == target.id
        {
            view.dirty = true;
        }
        let appended: Vec<_> = stored.iter().filter_map(|s| s.first()).collect();
        let uids: Vec<u32> = appended.iter().map(|a| a.uid).collect();
        match appended.first() {
            // RFC 4315 §3: one APPENDUID with every new UID, in the order of the messages.
            Some(a) => Reply::ok("APPEND completed").code(format!(
                "APPENDUID {} {}",
                a.uid_validity,
                wire::sequence_set(&uids)
            )),
            None => Reply::ok("APPEND completed"),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
