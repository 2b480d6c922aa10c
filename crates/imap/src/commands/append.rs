//! APPEND (RFC 9051 §6.3.12) with flags and date, and MULTIAPPEND (RFC 3502): several
//! messages in one command, stored all or none, answering APPENDUID (RFC 4315 §3).

use std::sync::Arc;

use bytes::Bytes;
use tern_store::{AppendItem, AppendTarget, Flags, MailboxId};

use crate::commands::store::split_flags;
use crate::session::{Reply, Session, store_error};
use crate::syntax::append::{AppendCommand, AppendMessage};
use crate::wire;

/// One message of an APPEND, checked and owned.
struct NewMessage {
    raw: Bytes,
    internal_date: i64,
    flags: Flags,
    keywords: Vec<String>,
}

impl NewMessage {
    fn new(message: AppendMessage) -> Result<NewMessage, Reply> {
        let (flags, keywords) = split_flags(&message.flags)?;
        if message.raw.is_empty() {
            return Err(Reply::no("Empty message").code("CANNOT"));
        }
        Ok(NewMessage {
            raw: Bytes::from(message.raw),
            internal_date: message.internal_date.unwrap_or_else(now),
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
    pub async fn append(&mut self, command: AppendCommand) -> Reply {
        let name = match self.mailbox_name_of(&command.mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        // RFC 3502 §3: one refused message means none is appended.
        let messages: Vec<NewMessage> =
            match command.messages.into_iter().map(NewMessage::new).collect() {
                Ok(messages) => messages,
                Err(reply) => return reply,
            };
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
