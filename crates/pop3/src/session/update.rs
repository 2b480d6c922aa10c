//! QUIT (RFC 1939 §6): in the TRANSACTION state, the UPDATE state removes the messages marked
//! deleted, in one store transaction (quota freed, other sessions told through the change feed).

use super::{Flow, Io, Session, State};
use crate::reply::{self, Code};
use std::io;
use tern_store::{FlagChange, FlagOp, Flags};
use tokio::io::AsyncWriteExt;

pub(super) async fn quit(session: &mut Session, io: &mut Io) -> io::Result<Flow> {
    let state = std::mem::replace(&mut session.state, State::Authorization { user: None });
    let State::Transaction(open) = state else {
        // QUIT before login: nothing to update.
        io.write_all(reply::ok("Bye").as_bytes()).await?;
        return Ok(Flow::Close);
    };
    let server = &session.server;
    let maildrop = &open.maildrop;
    let (account, mailbox) = (maildrop.account, maildrop.mailbox);

    if server.settings.mark_seen_on_retr {
        let retrieved = maildrop.retrieved_kept();
        if !retrieved.is_empty() {
            let change = FlagChange {
                op: FlagOp::Add,
                flags: Flags::SEEN,
                keywords: Vec::new(),
                unchanged_since: None,
            };
            // Not worth failing the QUIT over: the messages are still there, only unread.
            if let Err(e) = server
                .store
                .update_flags(account, mailbox, &retrieved, change)
                .await
            {
                tracing::warn!(account = %open.email, error = %e, "cannot mark retrieved messages seen");
            }
        }
    }

    // RFC 2449 §6.7: under EXPIRE 0, retrieved messages go as if deleted.
    let remove_retrieved = server.settings.expire_days == Some(0);
    let uids = maildrop.uids_to_remove(remove_retrieved);
    let removed = if uids.is_empty() {
        0
    } else {
        match server.store.remove_messages(account, mailbox, &uids).await {
            Ok(removed) => removed.len(),
            Err(e) => {
                // RFC 1939 §6: -ERR when some deleted messages could not be removed.
                tracing::error!(account = %open.email, error = %e, "QUIT: removing messages failed");
                let text = reply::err_code(
                    Code::SysTemp,
                    "Could not remove the deleted messages; they are still in the mailbox",
                );
                drop(open);
                io.write_all(text.as_bytes()).await?;
                return Ok(Flow::Close);
            }
        }
    };
    tracing::info!(account = %open.email, removed, "logged out");
    let (count, _) = maildrop.stat();
    // The lock goes before the client reads the reply, so it can log in again at once.
    drop(open);
    let text = format!("Bye, {removed} messages deleted, {count} left");
    io.write_all(reply::ok(&text).as_bytes()).await?;
    Ok(Flow::Close)
}
