//! AUTH (RFC 4954) on submission: PLAIN and LOGIN, only over TLS (or on loopback), through
//! the one login path (throttling, delays) of `tern_auth`.

use crate::Kind;
use crate::io::{Line, read_line};
use crate::reply::Reply;
use crate::session::Session;
use base64::Engine;
use tern_auth::{LoginError, Mechanism, SaslServer, SaslStep, decode_base64_line};

/// A SASL response line is small; 12 KiB is RFC 4954 §4's minimum for the server.
const MAX_AUTH_LINE: usize = 12 * 1024;

impl Session {
    pub async fn authenticate(&mut self, mechanism: u64, initial: &str) {
        if self.kind != Kind::Submission {
            self.reply(Reply::new(
                503,
                "5.5.1",
                "AUTH is offered on the submission port",
            ));
            return;
        }
        if self.account.is_some() {
            self.reply(Reply::new(503, "5.5.1", "already authenticated"));
            return;
        }
        if self.tx.is_some() {
            self.reply(Reply::new(
                503,
                "5.5.1",
                "AUTH is not allowed during a mail transaction",
            ));
            return;
        }
        let tls = self.io.as_ref().is_some_and(|io| io.is_tls());
        if !tls && !self.loopback {
            // RFC 4954 §4 / RFC 3207: no password over an unencrypted connection.
            self.reply(Reply::new(
                538,
                "5.7.11",
                "encryption required: use STARTTLS first",
            ));
            return;
        }
        let mechanism = match mechanism {
            smtp_proto::AUTH_PLAIN => Mechanism::Plain,
            smtp_proto::AUTH_LOGIN => Mechanism::Login,
            _ => {
                self.reply(Reply::new(
                    504,
                    "5.5.4",
                    "unrecognized authentication mechanism",
                ));
                return;
            }
        };
        let mut sasl = SaslServer::new(mechanism);
        let initial = if initial.is_empty() {
            None
        } else {
            match decode_base64_line(initial.as_bytes()) {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    self.reply(Reply::new(
                        501,
                        "5.5.2",
                        "invalid base64 in the initial response",
                    ));
                    return;
                }
            }
        };
        let mut step = sasl.start(initial.as_deref());
        let credentials = loop {
            match step {
                Ok(SaslStep::Done(credentials)) => break credentials,
                Ok(SaslStep::Challenge(challenge)) => {
                    let text = base64::engine::general_purpose::STANDARD.encode(challenge);
                    let Some(io) = self.io.as_mut() else { return };
                    io.push(format!("334 {text}\r\n").as_bytes());
                    if io.flush().await.is_err() {
                        self.closing = true;
                        return;
                    }
                    let timeout = self.server.settings.command_timeout;
                    let line =
                        tokio::time::timeout(timeout, read_line(&mut io.reader, MAX_AUTH_LINE))
                            .await;
                    let line = match line {
                        Ok(Ok(Line::Complete(line))) => line,
                        Ok(Ok(Line::TooLong)) => {
                            self.reply(Reply::new(500, "5.5.6", "authentication line too long"));
                            return;
                        }
                        _ => {
                            self.closing = true;
                            return;
                        }
                    };
                    step = match decode_base64_line(&line) {
                        Ok(data) => sasl.step(&data),
                        Err(e) => Err(e),
                    };
                }
                Err(tern_auth::SaslError::Cancelled) => {
                    self.reply(Reply::new(501, "5.0.0", "authentication cancelled"));
                    return;
                }
                Err(_) => {
                    self.reply(Reply::new(
                        501,
                        "5.5.2",
                        "malformed authentication response",
                    ));
                    return;
                }
            }
        };
        if credentials
            .authzid
            .as_deref()
            .is_some_and(|z| !z.eq_ignore_ascii_case(&credentials.authcid))
        {
            self.reply(Reply::new(
                535,
                "5.7.8",
                "authentication credentials invalid",
            ));
            return;
        }
        match self
            .server
            .auth
            .login(&credentials.authcid, &credentials.password, self.peer.ip())
            .await
        {
            Ok(account) => {
                tracing::info!(user = account.email, "authenticated");
                self.account = Some(account);
                self.reply(Reply::new(235, "2.7.0", "authentication successful"));
            }
            Err(LoginError::Failed) => {
                self.reply(Reply::new(
                    535,
                    "5.7.8",
                    "authentication credentials invalid",
                ));
            }
            Err(LoginError::Throttled { .. }) => {
                self.reply(Reply::new(
                    454,
                    "4.7.0",
                    "too many failed logins, try again later",
                ));
            }
            Err(LoginError::Store(e)) => {
                tracing::error!(error = %e, "login failed");
                self.reply(Reply::new(454, "4.7.0", "temporary authentication failure"));
            }
        }
    }
}
