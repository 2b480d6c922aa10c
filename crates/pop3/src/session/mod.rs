//! One POP3 session: the AUTHORIZATION, TRANSACTION and UPDATE states of RFC 1939 §3, in one
//! task, with bounded buffers.
//!
//! Replies are buffered and flushed when no further command is already waiting in the input,
//! so a pipelining client (RFC 2449 §6.6) gets its replies in a few packets.

mod authorization;
mod transaction;
mod update;

use crate::command::{Command, ParseError};
use crate::lines::{Line, read_line};
use crate::lock::MaildropLock;
use crate::maildrop::Maildrop;
use crate::reply::{self, Code};
use crate::{Pop3Server, plaintext_auth_allowed};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tern_net::{Connection, MaybeTlsStream};
use tokio::io::{AsyncWriteExt, BufReader, BufWriter};

/// The session's stream: reads buffered (for line framing and pipelining), writes buffered.
pub(crate) type Io = BufReader<BufWriter<MaybeTlsStream>>;

/// Longest command line we read. RFC 2449 §4 allows 255 octets, but SASL initial responses
/// and continuation lines (RFC 5034 §4) may be longer: base64 of the 4 KiB the SASL code takes.
const MAX_LINE: usize = 6 * 1024;
/// Bad commands (unknown, malformed, out of state, failed logins) before we hang up.
const MAX_BAD_COMMANDS: u32 = 10;
/// Commands allowed before login, and again after it plus a few per message: a client issues
/// at most LIST, UIDL, TOP, RETR and DELE per message, so this never stops an honest one.
const BASE_COMMANDS: u64 = 1_000;
const COMMANDS_PER_MESSAGE: u64 = 5;
const READ_BUFFER: usize = 8 * 1024;
const WRITE_BUFFER: usize = 16 * 1024;

pub(crate) enum State {
    Authorization {
        /// The name given by USER, waiting for PASS.
        user: Option<String>,
    },
    Transaction(Box<Open>),
}

/// A logged-in session's maildrop and its lock (dropped with the session, whatever ends it).
pub(crate) struct Open {
    pub email: String,
    pub maildrop: Maildrop,
    pub _lock: MaildropLock,
}

/// What the loop does after a command.
pub(crate) enum Flow {
    Continue,
    /// Flush and close the connection.
    Close,
    /// STLS accepted: flush, drop buffered input, then the TLS handshake.
    StartTls,
}

pub(crate) struct Session {
    pub server: Arc<Pop3Server>,
    pub peer: SocketAddr,
    pub tls: bool,
    pub state: State,
    bad_commands: u32,
    commands: u64,
    command_limit: u64,
}

impl Session {
    /// Plaintext USER/PASS and AUTH are allowed here (TLS or loopback).
    pub fn may_authenticate(&self) -> bool {
        plaintext_auth_allowed(self.tls, self.peer)
    }

    /// Counts a bad command; true when the session should end.
    pub fn bad_command(&mut self) -> bool {
        self.bad_commands += 1;
        self.bad_commands >= MAX_BAD_COMMANDS
    }

    pub fn logged_in(&mut self, open: Open) {
        self.command_limit = BASE_COMMANDS
            + COMMANDS_PER_MESSAGE * open.maildrop.message_count() as u64
            + self.commands;
        self.state = State::Transaction(Box::new(open));
    }

    /// Reads a continuation line (SASL), bounded by the autologout timer.
    pub async fn read_continuation(&self, io: &mut Io) -> io::Result<Line> {
        io.flush().await?;
        tokio::time::timeout(self.server.settings.idle_timeout, read_line(io, MAX_LINE))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "autologout timer expired"))?
    }
}

pub(crate) async fn run(server: Arc<Pop3Server>, conn: Connection) {
    let Connection {
        stream,
        peer,
        guard,
        ..
    } = conn;
    let _guard = guard;
    let mut session = Session {
        tls: stream.is_tls(),
        server,
        peer,
        state: State::Authorization { user: None },
        bad_commands: 0,
        commands: 0,
        command_limit: BASE_COMMANDS,
    };
    if let Err(e) = serve(&mut session, new_io(stream)).await {
        tracing::debug!(error = %e, "session ended");
    }
    // The maildrop lock is released here with `session`, after QUIT or without it.
}

fn new_io(stream: MaybeTlsStream) -> Io {
    BufReader::with_capacity(READ_BUFFER, BufWriter::with_capacity(WRITE_BUFFER, stream))
}

/// How a stretch of conversation ended.
enum Outcome {
    Close,
    StartTls,
}

async fn serve(session: &mut Session, mut io: Io) -> io::Result<()> {
    let greeting = format!(
        "{} Tern POP3 server ready",
        session.server.settings.hostname
    );
    io.write_all(reply::ok(&greeting).as_bytes()).await?;
    loop {
        match converse(session, &mut io).await? {
            Outcome::Close => {
                // Free the maildrop before the client sees the connection close.
                session.state = State::Authorization { user: None };
                io.flush().await?;
                return io.shutdown().await;
            }
            Outcome::StartTls => {
                // RFC 2595 §4: after `+OK`, the TLS negotiation. Anything the client sent after
                // STLS is dropped with the read buffer (CVE-2011-0411), and the session starts
                // over in the AUTHORIZATION state.
                io.flush().await?;
                let Some(acceptor) = session.server.tls.clone() else {
                    return Err(io::Error::other("STLS without a TLS configuration"));
                };
                let stream = io.into_inner().into_inner();
                let upgraded = stream
                    .upgrade_within(&acceptor, session.server.settings.tls_handshake_timeout)
                    .await
                    .map_err(io::Error::other)?;
                io = new_io(upgraded);
                session.tls = true;
                session.state = State::Authorization { user: None };
            }
        }
    }
}

/// Reads and answers commands until the session closes or starts TLS.
async fn converse(session: &mut Session, io: &mut Io) -> io::Result<Outcome> {
    loop {
        if io.buffer().is_empty() {
            io.flush().await?;
        }
        let shutdown = session.server.shutdown.clone();
        let idle = session.server.settings.idle_timeout;
        let line = tokio::select! {
            () = shutdown.cancelled() => {
                // RFC 3206: the server is going away; trying again later will work.
                let text = reply::err_code(Code::SysTemp, "Server shutting down, try again later");
                io.write_all(text.as_bytes()).await?;
                return Ok(Outcome::Close);
            }
            line = tokio::time::timeout(idle, read_line(io, MAX_LINE)) => line,
        };
        let line = match line {
            Err(_) => {
                // RFC 1939 §3: the autologout timer ends the session without entering UPDATE.
                tracing::info!("autologout timer expired");
                io.write_all(reply::err("Autologout timer expired, closing").as_bytes())
                    .await?;
                return Ok(Outcome::Close);
            }
            Ok(line) => line?,
        };
        session.commands += 1;
        if session.commands > session.command_limit {
            io.write_all(reply::err("Too many commands in this session, closing").as_bytes())
                .await?;
            return Ok(Outcome::Close);
        }
        let flow = match line {
            // A dropped connection: no UPDATE state, nothing is deleted (RFC 1939 §6).
            Line::Eof => return Ok(Outcome::Close),
            Line::TooLong => refuse(session, io, reply::err("Line too long")).await?,
            Line::Text(text) => match Command::parse(&text) {
                Ok(command) => {
                    tracing::trace!(command = command.name(), "command");
                    execute(session, io, command).await?
                }
                Err(ParseError::Unknown) => {
                    refuse(session, io, reply::err("Unknown command")).await?
                }
                Err(e) => refuse(session, io, reply::err(&e.to_string())).await?,
            },
        };
        match flow {
            Flow::Continue => {}
            Flow::Close => return Ok(Outcome::Close),
            Flow::StartTls => return Ok(Outcome::StartTls),
        }
    }
}

/// Writes a refusal and ends the session when too many commands went wrong.
pub(crate) async fn refuse(session: &mut Session, io: &mut Io, text: String) -> io::Result<Flow> {
    io.write_all(text.as_bytes()).await?;
    if session.bad_command() {
        io.write_all(reply::err("Too many errors, closing").as_bytes())
            .await?;
        return Ok(Flow::Close);
    }
    Ok(Flow::Continue)
}

async fn execute(session: &mut Session, io: &mut Io, command: Command) -> io::Result<Flow> {
    match (&session.state, command) {
        (_, Command::Capa) => authorization::capa(session, io).await,
        (_, Command::Quit) => update::quit(session, io).await,
        (State::Authorization { .. }, command) => {
            authorization::execute(session, io, command).await
        }
        (State::Transaction(_), command) => transaction::execute(session, io, command).await,
    }
}
