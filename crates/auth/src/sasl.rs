//! Server side of the SASL mechanisms PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login).
//!
//! Protocol crates own the framing (`AUTHENTICATE`/`AUTH`, `+ `/`334 ` continuation lines, base64):
//! they decode each client line with [`decode_base64_line`] and feed the bytes to a [`SaslServer`].

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Largest client message we accept, decoded. RFC 4616 §2 allows 255 octets per field; 4 KiB is
/// generous for every mechanism here and keeps memory per connection small.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Base64 as in RFC 4648 §4; padding is accepted but not required, as some clients omit it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a SASL exchange failed. The protocol answers with its "authentication failed" reply
/// (e.g. `NO`/`BAD` in IMAP, `501`/`535` in SMTP).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` to cancel the exchange (RFC 4954 §4, RFC 9051 §6.2.2).
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The client line is not valid base64.
    #[error("invalid base64 in client response")]
    InvalidBase64,
    /// The client message is larger than we accept.
    #[error("client response too long")]
    Oversized,
    /// A field is not UTF-8 (RFC 4616 §2 requires UTF-8).
    #[error("client response is not UTF-8")]
    NotUtf8,
    /// The message does not have the mechanism's shape.
    #[error("malformed client response: {0}")]
    Malformed(&'static str),
    /// `start` was called twice, or `step` before `start`.
    #[error("SASL exchange used out of order")]
    OutOfOrder,
    /// `step` after the exchange finished (or failed).
    #[error("SASL exchange already finished")]
    Finished,
}

/// Decodes one client line of a SASL exchange (without or with its trailing CRLF).
///
/// `=` stands for an empty response (RFC 4954 §4, RFC 9051 §6.2.2 for SASL-IR), and `*` cancels
/// the exchange ([`SaslError::Cancelled`]).
pub fn decode_base64_line(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line {
        b"*" => return Err(SaslError::Cancelled),
        b"=" | b"" => return Ok(Vec::new()),
        _ => {}
    }
    // Refuse before decoding: 4 base64 characters carry 3 bytes.
    if line.len() > MAX_MESSAGE_BYTES.div_ceil(3) * 4 {
        return Err(SaslError::Oversized);
    }
    let decoded = BASE64.decode(line).map_err(|_| SaslError::InvalidBase64)?;
    if decoded.len() > MAX_MESSAGE_BYTES {
        return Err(SaslError::Oversized);
    }
    Ok(decoded)
}

/// The mechanisms we offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// draft-murchison-sasl-login; still used by Outlook and older clients.
    Login,
}

impl Mechanism {
    /// Looks up a mechanism by its SASL name, case-insensitively (RFC 4422 §3.1).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    /// The registered name, as advertised in capabilities (`AUTH=PLAIN`, `AUTH PLAIN LOGIN`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What the client presented, to be checked by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The identity to act as, when the client asked for one different from `authcid`
    /// (RFC 4616 §2). Empty in the message means `None`.
    pub authzid: Option<String>,
    /// The identity whose password this is (the user name).
    pub authcid: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    // Secrets never in logs (DESIGN.md §6).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The next thing the server does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge (raw bytes; the protocol base64-encodes it) and wait for a response.
    Challenge(Vec<u8>),
    /// The exchange is complete: verify these credentials.
    Done(Credentials),
}

#[derive(Debug)]
enum State {
    NotStarted,
    /// PLAIN sent an empty challenge and waits for the message (RFC 4422 §4 / RFC 4616 §2).
    PlainAwaitingMessage,
    LoginAwaitingUsername,
    LoginAwaitingPassword {
        username: String,
    },
    Finished,
}

/// One server-side SASL exchange: [`start`](Self::start), then [`step`](Self::step) for each
/// client response until [`SaslStep::Done`]. Any error ends the exchange.
#[derive(Debug)]
pub struct SaslServer {
    mechanism: Mechanism,
    state: State,
}

const LOGIN_USERNAME_CHALLENGE: &[u8] = b"Username:";
const LOGIN_PASSWORD_CHALLENGE: &[u8] = b"Password:";

impl SaslServer {
    pub fn new(mechanism: Mechanism) -> Self {
        SaslServer {
            mechanism,
            state: State::NotStarted,
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Starts the exchange, with the client's initial response if it sent one (SASL-IR, RFC 4959;
    /// RFC 4954 §4). An empty initial response is treated like none.
    pub fn start(&mut self, initial: Option<&[u8]>) -> Result<SaslStep, SaslError> {
        if !matches!(self.state, State::NotStarted) {
            self.state = State::Finished;
            return Err(SaslError::OutOfOrder);
        }
        let initial = initial.filter(|data| !data.is_empty());
        let result = match (self.mechanism, initial) {
            (Mechanism::Plain, None) => {
                self.state = State::PlainAwaitingMessage;
                Ok(SaslStep::Challenge(Vec::new()))
            }
            (Mechanism::Plain, Some(message)) => parse_plain(message).map(SaslStep::Done),
            (Mechanism::Login, None) => {
                self.state = State::LoginAwaitingUsername;
                Ok(SaslStep::Challenge(LOGIN_USERNAME_CHALLENGE.to_vec()))
            }
            (Mechanism::Login, Some(username)) => self.login_username(username),
        };
        self.finish_unless_waiting(result)
    }

    /// Feeds one decoded client response.
    pub fn step(&mut self, data: &[u8]) -> Result<SaslStep, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Finished);
        let result = match state {
            State::NotStarted => Err(SaslError::OutOfOrder),
            State::Finished => Err(SaslError::Finished),
            State::PlainAwaitingMessage => parse_plain(data).map(SaslStep::Done),
            State::LoginAwaitingUsername => self.login_username(data),
            State::LoginAwaitingPassword { username } => login_field(data).map(|password| {
                SaslStep::Done(Credentials {
                    authzid: None,
                    authcid: username,
                    password,
                })
            }),
        };
        self.finish_unless_waiting(result)
    }

    fn login_username(&mut self, data: &[u8]) -> Result<SaslStep, SaslError> {
        let username = login_field(data)?;
        if username.is_empty() {
            return Err(SaslError::Malformed("empty user name"));
        }
        self.state = State::LoginAwaitingPassword { username };
        Ok(SaslStep::Challenge(LOGIN_PASSWORD_CHALLENGE.to_vec()))
    }

    /// After `Done` or an error, no further step is accepted.
    fn finish_unless_waiting(
        &mut self,
        result: Result<SaslStep, SaslError>,
    ) -> Result<SaslStep, SaslError> {
        if !matches!(result, Ok(SaslStep::Challenge(_))) {
            self.state = State::Finished;
        }
        result
    }
}

/// RFC 4616 §2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`, where authcid and passwd
/// are non-empty and no field contains NUL.
fn parse_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(SaslError::Oversized);
    }
    let mut fields = message.split(|&byte| byte == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed(
            "PLAIN needs exactly two NUL separators",
        ));
    };
    if authcid.is_empty() {
        return Err(SaslError::Malformed("empty authentication identity"));
    }
    if password.is_empty() {
        return Err(SaslError::Malformed("empty password"));
    }
    let authzid = utf8(authzid)?;
    Ok(Credentials {
        authzid: (!authzid.is_empty()).then_some(authzid),
        authcid: utf8(authcid)?,
        password: utf8(password)?,
    })
}

/// One LOGIN response: a user name or a password, UTF-8, without NUL.
fn login_field(data: &[u8]) -> Result<String, SaslError> {
    if data.len() > MAX_MESSAGE_BYTES {
        return Err(SaslError::Oversized);
    }
    if data.contains(&0) {
        return Err(SaslError::Malformed("NUL in LOGIN response"));
    }
    utf8(data)
}

fn utf8(bytes: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(step: Result<SaslStep, SaslError>) -> Credentials {
        match step {
            Ok(SaslStep::Done(credentials)) => credentials,
            other => panic!("expected Done, got {other:?}"),
        }
    }

    #[test]
    fn mechanism_names() {
        assert_eq!(Mechanism::from_name("PLAIN"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name("Login"), Some(Mechanism::Login));
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
        assert_eq!(Mechanism::from_name(""), None);
        assert_eq!(Mechanism::Login.name(), "LOGIN");
    }

    #[test]
    fn plain_with_initial_response() {
        let mut sasl = SaslServer::new(Mechanism::Plain);
        let credentials = done(sasl.start(Some(b"\0alice@example.org\0s3cret")));
        assert_eq!(credentials.authzid, None);
        assert_eq!(credentials.authcid, "alice@example.org");
        assert_eq!(credentials.password, "s3cret");
        assert_eq!(sasl.step(b"\0a\0b"), Err(SaslError::Finished));
    }

    #[test]
    fn plain_without_initial_response() {
        for initial in [None, Some(&b""[..])] {
            let mut sasl = SaslServer::new(Mechanism::Plain);
            assert_eq!(sasl.start(initial), Ok(SaslStep::Challenge(Vec::new())));
            let credentials = done(sasl.step(b"\0bob\0p\xc3\xa4ss"));
            assert_eq!(credentials.authcid, "bob");
            assert_eq!(credentials.password, "päss");
        }
    }

    #[test]
    fn plain_with_authzid() {
        let mut sasl = SaslServer::new(Mechanism::Plain);
        let credentials = done(sasl.start(Some(b"shared@example.org\0admin\0pw")));
        assert_eq!(credentials.authzid.as_deref(), Some("shared@example.org"));
        assert_eq!(credentials.authcid, "admin");
        assert_eq!(credentials.password, "pw");
    }

    #[test]
    fn plain_malformed() {
        let cases: [(&[u8], SaslError); 7] = [
            (
                b"alice pw",
                SaslError::Malformed("PLAIN needs exactly two NUL separators"),
            ),
            (
                b"alice\0pw",
                SaslError::Malformed("PLAIN needs exactly two NUL separators"),
            ),
            (
                b"\0alice\0pw\0",
                SaslError::Malformed("PLAIN needs exactly two NUL separators"),
            ),
            (
                b"\0\0pw",
                SaslError::Malformed("empty authentication identity"),
            ),
            (b"\0alice\0", SaslError::Malformed("empty password")),
            (b"\0al\xffice\0pw", SaslError::NotUtf8),
            (b"\0alice\0\xc3", SaslError::NotUtf8),
        ];
        for (message, expected) in cases {
            let mut sasl = SaslServer::new(Mechanism::Plain);
            assert_eq!(
                sasl.start(Some(message)),
                Err(expected.clone()),
                "{message:?}"
            );
            // An error ends the exchange.
            assert_eq!(sasl.step(b"\0a\0b"), Err(SaslError::Finished));
        }
    }

    #[test]
    fn plain_oversized() {
        let mut message = b"\0alice\0".to_vec();
        message.resize(MAX_MESSAGE_BYTES + 1, b'x');
        let mut sasl = SaslServer::new(Mechanism::Plain);
        assert_eq!(sasl.start(Some(&message)), Err(SaslError::Oversized));
        message.truncate(MAX_MESSAGE_BYTES);
        let mut sasl = SaslServer::new(Mechanism::Plain);
        assert_eq!(
            done(sasl.start(Some(&message))).password.len(),
            MAX_MESSAGE_BYTES - 7
        );
    }

    #[test]
    fn login_flow() {
        let mut sasl = SaslServer::new(Mechanism::Login);
        assert_eq!(
            sasl.start(None),
            Ok(SaslStep::Challenge(b"Username:".to_vec()))
        );
        assert_eq!(
            sasl.step(b"carol"),
            Ok(SaslStep::Challenge(b"Password:".to_vec()))
        );
        let credentials = done(sasl.step(b"pass word"));
        assert_eq!(credentials.authzid, None);
        assert_eq!(credentials.authcid, "carol");
        assert_eq!(credentials.password, "pass word");
        assert_eq!(sasl.step(b"again"), Err(SaslError::Finished));
    }

    #[test]
    fn login_with_initial_username() {
        let mut sasl = SaslServer::new(Mechanism::Login);
        assert_eq!(
            sasl.start(Some(b"carol")),
            Ok(SaslStep::Challenge(b"Password:".to_vec()))
        );
        assert_eq!(done(sasl.step(b"pw")).authcid, "carol");
    }

    #[test]
    fn login_malformed() {
        let mut sasl = SaslServer::new(Mechanism::Login);
        sasl.start(None).unwrap();
        assert!(matches!(sasl.step(b""), Err(SaslError::Malformed(_))));
        assert_eq!(sasl.step(b"carol"), Err(SaslError::Finished));

        let mut sasl = SaslServer::new(Mechanism::Login);
        sasl.start(None).unwrap();
        assert_eq!(sasl.step(b"car\xffol"), Err(SaslError::NotUtf8));

        let mut sasl = SaslServer::new(Mechanism::Login);
        sasl.start(Some(b"carol")).unwrap();
        assert!(matches!(sasl.step(b"p\0w"), Err(SaslError::Malformed(_))));

        let mut sasl = SaslServer::new(Mechanism::Login);
        sasl.start(None).unwrap();
        assert_eq!(
            sasl.step(&vec![b'a'; MAX_MESSAGE_BYTES + 1]),
            Err(SaslError::Oversized)
        );
    }

    #[test]
    fn out_of_order_use() {
        let mut sasl = SaslServer::new(Mechanism::Plain);
        assert_eq!(sasl.step(b"\0a\0b"), Err(SaslError::OutOfOrder));
        let mut sasl = SaslServer::new(Mechanism::Login);
        sasl.start(None).unwrap();
        assert_eq!(sasl.start(None), Err(SaslError::OutOfOrder));
    }

    #[test]
    fn base64_lines() {
        assert_eq!(
            decode_base64_line(b"AGFsaWNlAHB3"),
            Ok(b"\0alice\0pw".to_vec())
        );
        assert_eq!(
            decode_base64_line(b"AGFsaWNlAHB3\r\n"),
            Ok(b"\0alice\0pw".to_vec())
        );
        // Padding optional.
        assert_eq!(decode_base64_line(b"Y2Fyb2w="), Ok(b"carol".to_vec()));
        assert_eq!(decode_base64_line(b"Y2Fyb2w"), Ok(b"carol".to_vec()));
        assert_eq!(decode_base64_line(b"="), Ok(Vec::new()));
        assert_eq!(decode_base64_line(b"=\r\n"), Ok(Vec::new()));
        assert_eq!(decode_base64_line(b""), Ok(Vec::new()));
        assert_eq!(decode_base64_line(b"*"), Err(SaslError::Cancelled));
        assert_eq!(decode_base64_line(b"*\r\n"), Err(SaslError::Cancelled));
        assert_eq!(
            decode_base64_line(b"not base64!"),
            Err(SaslError::InvalidBase64)
        );
        assert_eq!(
            decode_base64_line(b"AGFs aWNl"),
            Err(SaslError::InvalidBase64)
        );
    }

    #[test]
    fn base64_line_size_limit() {
        let max = BASE64.encode(vec![b'a'; MAX_MESSAGE_BYTES]);
        assert_eq!(
            decode_base64_line(max.as_bytes()).map(|v| v.len()),
            Ok(MAX_MESSAGE_BYTES)
        );
        let over = BASE64.encode(vec![b'a'; MAX_MESSAGE_BYTES + 1]);
        assert_eq!(
            decode_base64_line(over.as_bytes()),
            Err(SaslError::Oversized)
        );
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let credentials = Credentials {
            authzid: Some("z".into()),
            authcid: "alice".into(),
            password: "hunter2-very-secret".into(),
        };
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("hunter2-very-secret"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
        let pretty = format!("{:#?}", SaslStep::Done(credentials));
        assert!(!pretty.contains("hunter2-very-secret"), "{pretty}");
    }
}
