//! The TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP.

use super::{Flow, Io, Open, Session, State, refuse};
use crate::command::Command;
use crate::maildrop::Maildrop;
use crate::reply::{self, Code};
use crate::transfer::send_message;
use std::io;
use tern_store::StoreError;
use tokio::io::{AsyncRead, AsyncWriteExt};

pub(super) async fn execute(
    session: &mut Session,
    io: &mut Io,
    command: Command,
) -> io::Result<Flow> {
    let State::Transaction(open) = &mut session.state else {
        return refuse(session, io, reply::err("Not logged in")).await;
    };
    let maildrop = &mut open.maildrop;
    let text = match command {
        Command::Stat => {
            let (count, size) = maildrop.stat();
            reply::ok(&format!("{count} {size}"))
        }
        Command::List(None) => listing(maildrop, |_, e| e.size.to_string()),
        Command::Uidl(None) => listing(maildrop, |m, e| m.unique_id(e)),
        Command::List(Some(n)) => match maildrop.get(n) {
            Ok(entry) => reply::ok(&format!("{n} {}", entry.size)),
            Err(missing) => reply::err(missing.text()),
        },
        Command::Uidl(Some(n)) => match maildrop.get(n) {
            Ok(entry) => reply::ok(&format!("{n} {}", maildrop.unique_id(entry))),
            Err(missing) => reply::err(missing.text()),
        },
        Command::Dele(n) => match maildrop.delete(n) {
            Ok(()) => reply::ok(&format!("message {n} deleted")),
            Err(missing) => reply::err(missing.text()),
        },
        Command::Rset => {
            maildrop.reset();
            let (count, size) = maildrop.stat();
            reply::ok(&format!("maildrop has {count} messages ({size} octets)"))
        }
        Command::Noop => reply::ok(""),
        Command::Retr(n) => return retrieve(session, io, n, None).await,
        Command::Top { message, lines } => {
            return retrieve(session, io, message, Some(lines)).await;
        }
        Command::User(_) | Command::Pass(_) | Command::Auth { .. } => {
            return refuse(session, io, reply::err("Already logged in")).await;
        }
        Command::Stls => {
            // RFC 2595 §4: STLS only in the AUTHORIZATION state.
            return refuse(session, io, reply::err("STLS is only allowed before login")).await;
        }
        // Answered before the state dispatch (session::execute).
        Command::Capa | Command::Quit => reply::err("Command not available"),
    };
    io.write_all(text.as_bytes()).await?;
    Ok(Flow::Continue)
}

/// A multi-line scan listing of the messages not marked deleted (RFC 1939 §5 LIST, §7 UIDL).
fn listing(
    maildrop: &Maildrop,
    value: impl Fn(&Maildrop, &crate::maildrop::Entry) -> String,
) -> String {
    let mut text = reply::ok("");
    for (n, entry) in maildrop.live() {
        text.push_str(&format!("{n} {}\r\n", value(maildrop, entry)));
    }
    text.push_str(".\r\n");
    text
}

/// Messages up to this size are read in one store call; larger ones are streamed in chunks.
const READ_WHOLE_UP_TO: u64 = 128 * 1024;

/// The message's bytes as a reader. Most mail is small: one read of the whole blob costs one
/// trip to the blocking pool instead of one per chunk, and memory stays bounded by the limit.
async fn open_message(
    server: &crate::Pop3Server,
    blob: &tern_store::BlobId,
    size: u64,
) -> Result<Box<dyn AsyncRead + Send + Unpin>, StoreError> {
    if size <= READ_WHOLE_UP_TO {
        let bytes = server.store.read_blob(blob).await?;
        Ok(Box::new(io::Cursor::new(bytes)))
    } else {
        Ok(Box::new(server.store.open_blob(blob).await?))
    }
}

/// RETR and TOP: the message streamed from the store, dot-stuffed.
async fn retrieve(
    session: &mut Session,
    io: &mut Io,
    number: u32,
    top: Option<u32>,
) -> io::Result<Flow> {
    let server = std::sync::Arc::clone(&session.server);
    let State::Transaction(open) = &mut session.state else {
        return refuse(session, io, reply::err("Not logged in")).await;
    };
    let Open {
        maildrop, email, ..
    } = open.as_mut();
    // A message number that names nothing is a client's slip, not a bad command.
    let entry = match maildrop.get(number) {
        Ok(entry) => entry,
        Err(missing) => {
            io.write_all(reply::err(missing.text()).as_bytes()).await?;
            return Ok(Flow::Continue);
        }
    };
    let blob = match open_message(&server, &entry.blob, entry.size).await {
        Ok(blob) => blob,
        Err(e) => {
            let text = match e {
                StoreError::NotFound { .. } | StoreError::BlobMissing(_) => {
                    reply::err("That message was removed by another session")
                }
                other => {
                    tracing::error!(account = %email, error = %other, "cannot read a message");
                    reply::err_code(Code::SysTemp, "Cannot read the message, try again later")
                }
            };
            io.write_all(text.as_bytes()).await?;
            return Ok(Flow::Continue);
        }
    };
    let status = match top {
        None => reply::ok(&format!("{} octets", entry.size)),
        Some(_) => reply::ok("top of message follows"),
    };
    io.write_all(status.as_bytes()).await?;
    // A read error half-way cannot be reported inside the multi-line response: the error ends
    // the session, and the client sees an unterminated response rather than a wrong message.
    send_message(blob, top, io, server.settings.idle_timeout).await?;
    if top.is_none() {
        maildrop.mark_retrieved(number);
    }
    Ok(Flow::Continue)
}
