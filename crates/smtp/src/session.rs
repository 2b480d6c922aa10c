//! One SMTP session: greeting, the command loop, and the commands that need no transaction
//! (EHLO/HELO, STARTTLS, NOOP, RSET, VRFY, HELP, QUIT).

use crate::io::{Line, MAX_COMMAND_LINE, SmtpIo, read_line};
use crate::reply::Reply;
use crate::{Kind, SmtpServer};
use smtp_proto::Request;
use std::net::SocketAddr;
use std::sync::Arc;
use tern_net::Connection;
use tern_store::Account;
use tokio::io::AsyncBufReadExt;
use tracing::Instrument;

/// A message arriving in BDAT chunks: decoded and spooled to a file as they come.
pub struct Chunks {
    pub decoder: crate::io::Decoder,
    pub spool: tern_store::Spool,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunks({} bytes)", self.spool.len())
    }
}

/// The mail transaction under way (RFC 5321 §3.3).
#[derive(Debug, Default)]
pub struct Transaction {
    pub sender: String,
    pub size: usize,
    pub env_id: Option<String>,
    pub ret_full: bool,
    pub recipients: Vec<crate::envelope::Recipient>,
    /// BDAT chunks so far (RFC 3030), spooled as they come.
    pub chunks: Option<Chunks>,
    /// Bytes of BDAT chunks announced so far.
    pub chunk_bytes: usize,
    pub chunks_too_big: bool,
}

pub struct Session {
    pub server: Arc<SmtpServer>,
    pub kind: Kind,
    pub io: Option<SmtpIo>,
    pub peer: SocketAddr,
    pub loopback: bool,
    pub helo: Option<String>,
    pub esmtp: bool,
    pub account: Option<Account>,
    pub tx: Option<Transaction>,
    pub errors: usize,
    pub messages: usize,
    /// Set by a command that ends the session (QUIT, too many errors, I/O failure).
    pub closing: bool,
}

impl Session {
    pub async fn run(server: Arc<SmtpServer>, conn: Connection, kind: Kind) {
        let Connection {
            stream,
            peer,
            local: _,
            guard,
        } = conn;
        let loopback = peer.ip().to_canonical().is_loopback();
        let mut session = Session {
            server,
            kind,
            io: Some(SmtpIo::new(stream)),
            peer,
            loopback,
            helo: None,
            esmtp: false,
            account: None,
            tx: None,
            errors: 0,
            messages: 0,
            closing: false,
        };
        let span = tracing::info_span!("smtp", ?kind);
        session.serve().instrument(span).await;
        drop(guard);
    }

    pub fn reply(&mut self, reply: Reply) {
        if reply.is_error() {
            self.errors += 1;
        }
        // The stream is only missing after a failed STARTTLS, when the session is over.
        if let Some(io) = self.io.as_mut() {
            io.push(&reply.to_bytes());
        }
    }

    fn is_tls(&self) -> bool {
        self.io.as_ref().is_some_and(SmtpIo::is_tls)
    }

    async fn serve(&mut self) {
        if self.kind == Kind::Mx && !self.server.settings.greeting_delay.is_zero() {
            // Early talkers (RFC 5321 §4.3.1: the client waits for the greeting) are bots.
            let delay = self.server.settings.greeting_delay;
            let Some(io) = self.io.as_mut() else { return };
            match tokio::time::timeout(delay, io.reader.fill_buf()).await {
                Ok(Ok([])) | Ok(Err(_)) => return,
                Ok(Ok(_)) => {
                    tracing::info!("early talker refused");
                    let host = self.server.hostname.clone();
                    self.reply(Reply::new(
                        554,
                        "5.5.1",
                        format!("{host} protocol error: you talked before my greeting"),
                    ));
                    if let Some(io) = self.io.as_mut() {
                        let _ = io.flush().await;
                    }
                    return;
                }
                Err(_) => {}
            }
        }
        let greeting = Reply {
            code: 220,
            status: "",
            lines: vec![format!("{} ESMTP Tern", self.server.hostname)],
        };
        self.reply(greeting);
        let shutdown = self.server.shutdown.clone();
        while !self.closing {
            let Some(io) = self.io.as_mut() else { return };
            if io.flush_if_idle().await.is_err() {
                return;
            }
            let timeout = self.server.settings.command_timeout;
            let line = tokio::select! {
                () = shutdown.cancelled() => {
                    self.reply(Reply::new(421, "4.3.2", format!("{} shutting down", self.server.hostname)));
                    break;
                }
                line = tokio::time::timeout(timeout, read_line(&mut io.reader, MAX_COMMAND_LINE)) => line,
            };
            match line {
                Err(_) => {
                    // RFC 5321 §4.5.3.2.7: the server may close after its timeout, with 421.
                    self.reply(Reply::new(
                        421,
                        "4.4.2",
                        format!("{} timeout, closing", self.server.hostname),
                    ));
                    break;
                }
                Ok(Err(_)) | Ok(Ok(Line::Eof)) => return,
                Ok(Ok(Line::TooLong)) => {
                    self.reply(Reply::new(500, "5.5.6", "line too long"));
                }
                Ok(Ok(Line::Complete(line))) => self.command(&line).await,
            }
            if self.errors >= self.server.settings.max_errors && !self.closing {
                tracing::info!(errors = self.errors, "too many errors; closing");
                self.reply(Reply::new(421, "4.7.0", "too many errors, closing"));
                break;
            }
        }
        if let Some(io) = self.io.as_mut() {
            let _ = io.flush().await;
            let _ = tokio::io::AsyncWriteExt::shutdown(io.reader.get_mut()).await;
        }
    }

    async fn command(&mut self, line: &[u8]) {
        if crate::envelope::size_parameter_overflows(line) {
            // smtp-proto wraps a SIZE beyond usize to a small number; RFC 1870 §6.2.
            self.reply(Reply::new(
                552,
                "5.3.4",
                "message size exceeds fixed maximum message size",
            ));
            return;
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(e) => {
                let reply = parse_error(&e);
                self.reply(reply);
                return;
            }
        };
        match request {
            Request::Ehlo { host } => self.hello(&host, true),
            Request::Helo { host } => self.hello(&host, false),
            Request::Mail { from } => self.mail(from).await,
            Request::Rcpt { to } => self.rcpt(to).await,
            Request::Data => self.data().await,
            Request::Bdat {
                chunk_size,
                is_last,
            } => self.bdat(chunk_size, is_last).await,
            Request::Auth {
                mechanism,
                initial_response,
            } => self.authenticate(mechanism, &initial_response).await,
            Request::StartTls => self.starttls().await,
            Request::Noop { .. } => self.reply(Reply::new(250, "2.0.0", "OK")),
            Request::Rset => {
                self.tx = None;
                self.reply(Reply::new(250, "2.0.0", "reset"));
            }
            // RFC 5321 §3.5.3: 252 says "I will try" without confirming an address exists.
            Request::Vrfy { .. } => self.reply(Reply::new(
                252,
                "2.5.0",
                "cannot VRFY a user, but will accept a message and attempt delivery",
            )),
            Request::Expn { .. } => self.reply(Reply::new(502, "5.5.1", "EXPN is not available")),
            Request::Help { .. } => self.reply(Reply::new(
                214,
                "2.0.0",
                "see RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT",
            )),
            Request::Quit => {
                self.reply(Reply::new(221, "2.0.0", "bye"));
                self.closing = true;
            }
            Request::Lhlo { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                self.reply(Reply::new(502, "5.5.1", "command not implemented"));
            }
        }
    }

    fn hello(&mut self, host: &str, esmtp: bool) {
        // RFC 5321 §4.1.4: EHLO/HELO resets the transaction.
        self.tx = None;
        self.helo = Some(host.to_owned());
        self.esmtp = esmtp;
        let hostname = self.server.hostname.to_string();
        if !esmtp {
            self.reply(Reply {
                code: 250,
                status: "",
                lines: vec![hostname],
            });
            return;
        }
        let mut lines = vec![
            format!("{hostname} greets {host}"),
            "PIPELINING".into(),
            format!("SIZE {}", self.server.settings.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
            "DSN".into(),
        ];
        let tls = self.is_tls();
        if !tls {
            lines.push("STARTTLS".into());
        }
        // No AUTH before TLS (except on loopback): the password would travel in clear.
        if self.kind == Kind::Submission && (tls || self.loopback) {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        self.reply(Reply {
            code: 250,
            status: "",
            lines,
        });
    }

    async fn starttls(&mut self) {
        if self.is_tls() {
            self.reply(Reply::new(503, "5.5.1", "TLS is already active"));
            return;
        }
        self.reply(Reply::new(220, "2.0.0", "ready to start TLS"));
        let Some(mut io) = self.io.take() else {
            return;
        };
        if io.flush().await.is_err() {
            self.closing = true;
            return;
        }
        let stream = io.into_stream();
        match stream
            .upgrade_within(&self.server.tls, self.server.settings.tls_handshake_timeout)
            .await
        {
            Ok(stream) => {
                // RFC 3207 §4.2: forget everything learnt before the handshake.
                self.io = Some(SmtpIo::new(stream));
                self.helo = None;
                self.esmtp = false;
                self.tx = None;
                self.account = None;
            }
            Err(e) => {
                tracing::info!(error = %e, "TLS handshake failed");
                self.closing = true;
            }
        }
    }
}

fn parse_error(e: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error;
    match e {
        Error::UnknownCommand => Reply::new(500, "5.5.2", "command unrecognized"),
        Error::InvalidSenderAddress => Reply::new(501, "5.1.7", "bad sender address syntax"),
        Error::InvalidRecipientAddress => Reply::new(501, "5.1.3", "bad recipient address syntax"),
        Error::SyntaxError { syntax } => Reply::new(501, "5.5.4", format!("syntax: {syntax}")),
        Error::InvalidParameter { param } => {
            Reply::new(501, "5.5.4", format!("invalid parameter {param}"))
        }
        Error::UnsupportedParameter { param } => {
            Reply::new(555, "5.5.4", format!("unsupported parameter {param}"))
        }
        Error::ResponseTooLong => Reply::new(500, "5.5.6", "line too long"),
        Error::NeedsMoreData { .. } | Error::InvalidResponse { .. } => {
            Reply::new(500, "5.5.2", "syntax error")
        }
    }
}
