//! The AUTHORIZATION state: CAPA, STLS, USER/PASS (RFC 1939 §7) and AUTH (RFC 5034), then
//! taking the maildrop's lock and its message list.

use super::{Flow, Io, Open, Session, State, refuse};
use crate::command::Command;
use crate::lines::Line;
use crate::lock::Refusal;
use crate::maildrop::Maildrop;
use crate::reply::{self, Code};
use base64::Engine as _;
use std::io;
use tern_auth::{LoginError, Mechanism, SaslError, SaslServer, SaslStep, decode_base64_line};
use tern_store::Account;
use tokio::io::AsyncWriteExt;

const PLAINTEXT_REFUSED: &str =
    "Plaintext authentication is not allowed without TLS: use STLS first, or POP3S (port 995)";

/// CAPA (RFC 2449 §5): what this session can do in its current state.
pub(super) async fn capa(session: &mut Session, io: &mut Io) -> io::Result<Flow> {
    let settings = &session.server.settings;
    let mut lines = vec![
        "TOP".to_owned(),
        "UIDL".to_owned(),
        "RESP-CODES".to_owned(),
        "AUTH-RESP-CODE".to_owned(),
        "PIPELINING".to_owned(),
        match settings.expire_days {
            None => "EXPIRE NEVER".to_owned(),
            Some(days) => format!("EXPIRE {days}"),
        },
    ];
    if !settings.login_delay.is_zero() {
        lines.push(format!("LOGIN-DELAY {}", settings.login_delay.as_secs()));
    }
    if matches!(session.state, State::Authorization { .. }) {
        // DESIGN.md §5: no USER or SASL advertised where plaintext passwords are refused.
        if session.may_authenticate() {
            lines.push("USER".to_owned());
            lines.push("SASL PLAIN LOGIN".to_owned());
        }
        if !session.tls && session.server.tls.is_some() {
            lines.push("STLS".to_owned());
        }
    }
    lines.push("IMPLEMENTATION Tern".to_owned());
    let mut text = reply::ok("Capability list follows");
    for line in lines {
        text.push_str(&line);
        text.push_str("\r\n");
    }
    text.push_str(".\r\n");
    io.write_all(text.as_bytes()).await?;
    Ok(Flow::Continue)
}

pub(super) async fn execute(
    session: &mut Session,
    io: &mut Io,
    command: Command,
) -> io::Result<Flow> {
    match command {
        Command::Stls => stls(session, io).await,
        Command::User(name) => {
            if !session.may_authenticate() {
                return refuse(session, io, reply::err_code(Code::Auth, PLAINTEXT_REFUSED)).await;
            }
            session.state = State::Authorization { user: Some(name) };
            io.write_all(reply::ok("Send your password").as_bytes())
                .await?;
            Ok(Flow::Continue)
        }
        Command::Pass(password) => {
            // RFC 1939 §7: PASS only right after a successful USER.
            let user = match &mut session.state {
                State::Authorization { user } => user.take(),
                State::Transaction(_) => None,
            };
            let Some(user) = user else {
                return refuse(session, io, reply::err("Send USER first")).await;
            };
            if !session.may_authenticate() {
                return refuse(session, io, reply::err_code(Code::Auth, PLAINTEXT_REFUSED)).await;
            }
            login(session, io, &user, &password).await
        }
        Command::Auth { mechanism, initial } => {
            session.state = State::Authorization { user: None };
            auth(session, io, mechanism, initial).await
        }
        _ => refuse(session, io, reply::err("Log in first (USER/PASS or AUTH)")).await,
    }
}

/// STLS (RFC 2595 §4): only in AUTHORIZATION, only once, only when TLS is configured.
async fn stls(session: &mut Session, io: &mut Io) -> io::Result<Flow> {
    if session.tls {
        return refuse(session, io, reply::err("Already using TLS")).await;
    }
    if session.server.tls.is_none() {
        return refuse(
            session,
            io,
            reply::err_code(Code::SysPerm, "TLS is not available"),
        )
        .await;
    }
    io.write_all(reply::ok("Begin TLS negotiation").as_bytes())
        .await?;
    Ok(Flow::StartTls)
}

/// AUTH (RFC 5034 §4): with no mechanism, the list of mechanisms (as most servers answer
/// for older clients); otherwise a SASL exchange with `+ ` continuations in base64.
async fn auth(
    session: &mut Session,
    io: &mut Io,
    mechanism: Option<String>,
    initial: Option<String>,
) -> io::Result<Flow> {
    if !session.may_authenticate() {
        return refuse(session, io, reply::err_code(Code::Auth, PLAINTEXT_REFUSED)).await;
    }
    let Some(name) = mechanism else {
        let text = format!("{}PLAIN\r\nLOGIN\r\n.\r\n", reply::ok("Mechanisms follow"));
        io.write_all(text.as_bytes()).await?;
        return Ok(Flow::Continue);
    };
    let Some(mechanism) = Mechanism::from_name(&name) else {
        return refuse(
            session,
            io,
            reply::err("Unsupported SASL mechanism (use PLAIN or LOGIN)"),
        )
        .await;
    };
    let mut sasl = SaslServer::new(mechanism);
    let initial = match initial.as_deref().map(|i| decode_base64_line(i.as_bytes())) {
        None => None,
        Some(Ok(bytes)) => Some(bytes),
        Some(Err(e)) => return sasl_failed(session, io, e).await,
    };
    let mut step = sasl.start(initial.as_deref());
    loop {
        match step {
            Err(e) => return sasl_failed(session, io, e).await,
            Ok(SaslStep::Challenge(challenge)) => {
                let line = format!(
                    "+ {}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(challenge)
                );
                io.write_all(line.as_bytes()).await?;
                let response = match session.read_continuation(io).await? {
                    Line::Eof => return Ok(Flow::Close),
                    Line::TooLong => {
                        return refuse(session, io, reply::err("SASL response too long")).await;
                    }
                    Line::Text(text) => text,
                };
                step = decode_base64_line(&response).and_then(|bytes| sasl.step(&bytes));
            }
            Ok(SaslStep::Done(credentials)) => {
                // Acting as another user (authzid) is not offered: only one's own maildrop.
                if let Some(authzid) = &credentials.authzid
                    && !authzid.eq_ignore_ascii_case(&credentials.authcid)
                {
                    return refuse(
                        session,
                        io,
                        reply::err_code(Code::Auth, "Authorization identity not allowed"),
                    )
                    .await;
                }
                return login(session, io, &credentials.authcid, &credentials.password).await;
            }
        }
    }
}

async fn sasl_failed(session: &mut Session, io: &mut Io, error: SaslError) -> io::Result<Flow> {
    let text = match error {
        SaslError::Cancelled => reply::err("Authentication cancelled"),
        other => reply::err(&format!("Authentication failed: {other}")),
    };
    refuse(session, io, text).await
}

/// The one login path, then the maildrop lock and the message list (RFC 1939 §7, §8).
async fn login(session: &mut Session, io: &mut Io, user: &str, password: &str) -> io::Result<Flow> {
    let server = std::sync::Arc::clone(&session.server);
    let account = match server.auth.login(user, password, session.peer.ip()).await {
        Ok(account) => account,
        Err(LoginError::Failed) => {
            return refuse(
                session,
                io,
                reply::err_code(Code::Auth, "Authentication failed"),
            )
            .await;
        }
        Err(LoginError::Throttled { retry_after }) => {
            let text = format!(
                "Too many failed logins, try again in {} seconds",
                retry_after.as_secs().max(1)
            );
            return refuse(session, io, reply::err_code(Code::Auth, &text)).await;
        }
        Err(LoginError::Store(e)) => {
            tracing::error!(error = %e, "login: store error");
            let text = reply::err_code(Code::SysTemp, "Temporary server problem, try again later");
            io.write_all(text.as_bytes()).await?;
            return Ok(Flow::Continue);
        }
    };
    let lock = match server.locks.acquire(account.id) {
        Ok(lock) => lock,
        Err(Refusal::InUse) => {
            tracing::info!(account = %account.email, "maildrop in use");
            let text = reply::err_code(Code::InUse, "Mailbox is locked by another POP3 session");
            io.write_all(text.as_bytes()).await?;
            return Ok(Flow::Continue);
        }
        Err(Refusal::TooSoon) => {
            let text = format!(
                "Logged in less than {} seconds ago, try again later",
                server.settings.login_delay.as_secs()
            );
            io.write_all(reply::err_code(Code::LoginDelay, &text).as_bytes())
                .await?;
            return Ok(Flow::Continue);
        }
    };
    let maildrop = match load_maildrop(&server, &account).await {
        Ok(maildrop) => maildrop,
        Err(e) => {
            tracing::error!(account = %account.email, error = %e, "cannot open the maildrop");
            let text = reply::err_code(Code::SysTemp, "Cannot open the mailbox, try again later");
            io.write_all(text.as_bytes()).await?;
            return Ok(Flow::Continue);
        }
    };
    let (count, size) = maildrop.stat();
    tracing::info!(account = %account.email, messages = count, "logged in");
    let text = format!("Logged in, {count} messages ({size} octets)");
    io.write_all(reply::ok(&text).as_bytes()).await?;
    session.logged_in(Open {
        email: account.email,
        maildrop,
        _lock: lock,
    });
    Ok(Flow::Continue)
}

/// The maildrop is the INBOX, listed once at login (RFC 1939 §4).
async fn load_maildrop(
    server: &crate::Pop3Server,
    account: &Account,
) -> Result<Maildrop, tern_store::StoreError> {
    let inbox = server
        .store
        .mailbox(account.id, "INBOX")
        .await?
        .ok_or(tern_store::StoreError::NotFound { what: "INBOX" })?;
    let messages = server.store.messages(account.id, inbox.id).await?;
    Ok(Maildrop::new(
        account.id,
        inbox.id,
        inbox.uid_validity,
        messages,
    ))
}
