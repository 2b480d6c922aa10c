//! LOGIN, AUTHENTICATE (PLAIN, LOGIN, with SASL-IR), ENABLE and ID (RFC 9051 §6.2, §6.3.1;
//! RFC 4959; RFC 2971).

use base64::Engine as _;
use tern_auth::{LoginError, Mechanism, SaslError, SaslServer, SaslStep, decode_base64_line};
use tern_store::Account;

use crate::session::{Fatal, Reply, Session};

/// A SASL response line is base64 of at most a few KiB (tern-auth bounds the decoded size).
const MAX_SASL_LINE: usize = 8 * 1024;

impl Session {
    /// RFC 9051 §6.2.3: refused before TLS on a non-loopback connection (LOGINDISABLED).
    pub async fn login(&mut self, user: &[u8], password: &[u8]) -> Reply {
        if !self.secure() {
            return Reply::no("LOGIN is disabled until STARTTLS").code("PRIVACYREQUIRED");
        }
        let (Ok(user), Ok(password)) = (std::str::from_utf8(user), std::str::from_utf8(password))
        else {
            return Reply::no("Authentication failed").code("AUTHENTICATIONFAILED");
        };
        self.check_password(user, password).await
    }

    async fn check_password(&mut self, user: &str, password: &str) -> Reply {
        let auth = std::sync::Arc::clone(&self.config.auth);
        match auth.login(user, password, self.peer.ip()).await {
            Ok(account) => self.logged_in(account),
            Err(LoginError::Failed) => {
                Reply::no("Authentication failed").code("AUTHENTICATIONFAILED")
            }
            Err(e @ LoginError::Throttled { .. }) => Reply::no(e.to_string()).code("UNAVAILABLE"),
            Err(LoginError::Store(e)) => {
                tracing::error!(error = %e, "store error during login");
                Reply::no("Temporary failure, try again later").code("UNAVAILABLE")
            }
        }
    }

    fn logged_in(&mut self, account: Account) -> Reply {
        tracing::info!(account = %account.email, "logged in");
        self.feed = Some(self.config.store.subscribe(account.id));
        self.account = Some(account);
        // RFC 9051 §6.2.2: the capabilities change after login; say so in the OK.
        Reply::ok("Logged in").code(format!("CAPABILITY {}", self.capabilities()))
    }

    /// AUTHENTICATE with challenges `+ <base64>` and client lines until done (RFC 9051 §6.2.2).
    pub async fn authenticate(
        &mut self,
        mechanism: &str,
        initial: Option<Vec<u8>>,
    ) -> Result<Reply, Fatal> {
        let Some(mechanism) = Mechanism::from_name(mechanism) else {
            return Ok(Reply::no("Unsupported authentication mechanism").code("CANNOT"));
        };
        if !self.secure() {
            return Ok(
                Reply::no("Plaintext authentication is disabled until STARTTLS")
                    .code("PRIVACYREQUIRED"),
            );
        }
        let mut sasl = SaslServer::new(mechanism);
        let mut step = sasl.start(initial.as_deref());
        loop {
            match step {
                Ok(SaslStep::Done(credentials)) => {
                    if credentials
                        .authzid
                        .as_deref()
                        .is_some_and(|z| !z.eq_ignore_ascii_case(&credentials.authcid))
                    {
                        // Acting as another user (proxy authorization) is not offered.
                        return Ok(
                            Reply::no("Authorization identity refused").code("AUTHORIZATIONFAILED")
                        );
                    }
                    return Ok(self
                        .check_password(&credentials.authcid, &credentials.password)
                        .await);
                }
                Ok(SaslStep::Challenge(challenge)) => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(challenge);
                    self.io.out.extend_from_slice(b"+ ");
                    self.io.out.extend_from_slice(encoded.as_bytes());
                    self.io.out.extend_from_slice(b"\r\n");
                    self.io.flush().await?;
                    let line = self.io.read_line(MAX_SASL_LINE).await?;
                    step = decode_base64_line(&line).and_then(|data| sasl.step(&data));
                }
                Err(SaslError::Cancelled) => {
                    return Ok(Reply::bad("Authentication cancelled"));
                }
                Err(e) => return Ok(Reply::bad(format!("Authentication failed: {e}"))),
            }
        }
    }

    /// RFC 5161 ENABLE: IMAP4rev2 (RFC 9051 §6.3.1) is the one extension needing it here.
    pub fn enable(&mut self, names: &[String]) -> Reply {
        let mut enabled = Vec::new();
        for name in names {
            if name.eq_ignore_ascii_case("IMAP4rev2") && !self.rev2 {
                self.rev2 = true;
                enabled.push("IMAP4rev2");
            } else if name.eq_ignore_ascii_case("CONDSTORE") && !self.condstore {
                self.condstore = true;
                enabled.push("CONDSTORE");
            } else if name.eq_ignore_ascii_case("QRESYNC") && !self.qresync {
                // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                self.qresync = true;
                self.condstore = true;
                enabled.push("QRESYNC");
            }
        }
        let mut line = String::from("ENABLED");
        for name in enabled {
            line.push(' ');
            line.push_str(name);
        }
        self.io.untagged(&line);
        Reply::ok("ENABLE completed")
    }

    /// RFC 2971 ID: the server's name and version; the client's parameters are not kept.
    pub fn id(&mut self) -> Reply {
        self.io.untagged(&format!(
            "ID (\"name\" \"Tern\" \"version\" \"{}\")",
            env!("CARGO_PKG_VERSION")
        ));
        Reply::ok("ID completed")
    }
}
