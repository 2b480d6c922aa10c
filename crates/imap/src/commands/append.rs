//! APPEND (RFC 9051 §6.3.12) with flags and date, answering APPENDUID (RFC 4315 §3).

use std::sync::Arc;

use bytes::Bytes;
use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;
use tern_store::AppendTarget;

use crate::commands::store::split_flags;
use crate::session::{Reply, Session, store_error};

impl Session {
    pub async fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<&DateTime>,
        message: &LiteralOrLiteral8<'_>,
    ) -> Reply {
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let (flags, keywords) = match split_flags(flags) {
            Ok(split) => split,
            Err(reply) => return reply,
        };
        let raw = match message {
            LiteralOrLiteral8::Literal(literal) => literal.data(),
            LiteralOrLiteral8::Literal8(literal) => literal.data.as_ref(),
        };
        if raw.is_empty() {
            return Reply::no("Empty message").code("CANNOT");
        }
        let internal_date = date.map_or_else(now, |d| d.as_ref().timestamp());
        let account = self.account_id();
        let store = Arc::clone(self.store());
        let target = match store.mailbox(account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => return Reply::no("No such mailbox").code("TRYCREATE"),
            Err(e) => return store_error(&e),
        };
        let targets = vec![AppendTarget {
            account,
            mailbox: target.id,
            flags,
            keywords,
        }];
        match store
            .append(Bytes::copy_from_slice(raw), internal_date, targets)
            .await
        {
            Ok(appended) => {
                if let Some(view) = self.selected.as_mut()
                    && view.mailbox == target.id
                {
                    view.dirty = true;
                }
                match appended.first() {
                    Some(a) => Reply::ok("APPEND completed")
                        .code(format!("APPENDUID {} {}", a.uid_validity, a.uid)),
                    None => Reply::ok("APPEND completed"),
                }
            }
            Err(e) => store_error(&e),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
