//! Parsing one POP3 command line (RFC 1939 §3, RFC 2449 §3).
//!
//! Keywords are case-insensitive; arguments are separated by single spaces. RFC 2449 §4 bounds
//! arguments to 40 octets, except the SASL initial response of AUTH (RFC 5034 §4), which is
//! bounded by the line length instead.

use thiserror::Error;

/// Longest argument of any command but AUTH's initial response (RFC 2449 §4).
const MAX_ARGUMENT: usize = 40;

/// A parsed command. Message numbers are 1-based as on the wire (RFC 1939 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    User(String),
    Pass(String),
    /// `AUTH` alone lists the mechanisms; otherwise the mechanism and an optional initial
    /// response (base64, `=` for empty).
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    Stls,
    Capa,
    Stat,
    List(Option<u32>),
    Retr(u32),
    Dele(u32),
    Noop,
    Rset,
    Quit,
    Top {
        message: u32,
        lines: u32,
    },
    Uidl(Option<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("unknown command")]
    Unknown,
    #[error("{0}")]
    Syntax(&'static str),
    #[error("command line is not ASCII/UTF-8")]
    Encoding,
}

impl Command {
    /// The keyword, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Stls => "STLS",
            Command::Capa => "CAPA",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
        }
    }

    /// Parses a line without its CRLF.
    pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
        let line = std::str::from_utf8(line).map_err(|_| ParseError::Encoding)?;
        let (keyword, rest) = match line.split_once(' ') {
            Some((keyword, rest)) => (keyword, Some(rest)),
            None => (line, None),
        };
        let keyword = keyword.to_ascii_uppercase();
        match keyword.as_str() {
            // PASS takes the rest of the line: RFC 1939 §7 allows spaces in the password.
            "PASS" => match rest {
                Some(password) if !password.is_empty() => Ok(Command::Pass(password.to_owned())),
                _ => Err(ParseError::Syntax("PASS needs a password")),
            },
            "USER" => {
                let [name] = arguments::<1>(rest, "USER needs a user name")?;
                Ok(Command::User(name.to_owned()))
            }
            "AUTH" => parse_auth(rest),
            "STLS" => no_arguments(rest, Command::Stls),
            "CAPA" => no_arguments(rest, Command::Capa),
            "STAT" => no_arguments(rest, Command::Stat),
            "NOOP" => no_arguments(rest, Command::Noop),
            "RSET" => no_arguments(rest, Command::Rset),
            "QUIT" => no_arguments(rest, Command::Quit),
            "LIST" => optional_number(rest).map(Command::List),
            "UIDL" => optional_number(rest).map(Command::Uidl),
            "RETR" => {
                let [n] = arguments::<1>(rest, "RETR needs a message number")?;
                number(n).map(Command::Retr)
            }
            "DELE" => {
                let [n] = arguments::<1>(rest, "DELE needs a message number")?;
                number(n).map(Command::Dele)
            }
            "TOP" => {
                let [message, lines] =
                    arguments::<2>(rest, "TOP needs a message number and a line count")?;
                Ok(Command::Top {
                    message: number(message)?,
                    lines: count(lines)?,
                })
            }
            _ => Err(ParseError::Unknown),
        }
    }
}

fn no_arguments(rest: Option<&str>, command: Command) -> Result<Command, ParseError> {
    match rest {
        None => Ok(command),
        // Some clients end a bare keyword with a space; tolerate it.
        Some(rest) if rest.trim().is_empty() => Ok(command),
        Some(_) => Err(ParseError::Syntax("this command takes no arguments")),
    }
}

/// Exactly `N` space-separated arguments of at most 40 octets each.
fn arguments<'a, const N: usize>(
    rest: Option<&'a str>,
    usage: &'static str,
) -> Result<[&'a str; N], ParseError> {
    let rest = rest.ok_or(ParseError::Syntax(usage))?;
    let mut parts = rest.split(' ');
    let mut out = [""; N];
    for slot in &mut out {
        let part = parts.next().ok_or(ParseError::Syntax(usage))?;
        if part.is_empty() {
            return Err(ParseError::Syntax(usage));
        }
        if part.len() > MAX_ARGUMENT {
            return Err(ParseError::Syntax("argument longer than 40 octets"));
        }
        *slot = part;
    }
    match parts.next() {
        None => Ok(out),
        Some(_) => Err(ParseError::Syntax(usage)),
    }
}

fn optional_number(rest: Option<&str>) -> Result<Option<u32>, ParseError> {
    match rest {
        None => Ok(None),
        Some(rest) if rest.trim().is_empty() => Ok(None),
        Some(_) => {
            let [n] = arguments::<1>(rest, "expected one message number")?;
            number(n).map(Some)
        }
    }
}

/// A message number: decimal digits only, 1 or more (RFC 1939 §3).
fn number(text: &str) -> Result<u32, ParseError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u32>() {
        Ok(n) if digits && n > 0 => Ok(n),
        _ => Err(ParseError::Syntax("invalid message number")),
    }
}

/// A non-negative decimal count (TOP's line count).
fn count(text: &str) -> Result<u32, ParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Syntax("expected a non-negative number"));
    }
    // Larger than any maildrop: saturate rather than fail, a huge TOP count means "all".
    Ok(text.parse::<u32>().unwrap_or(u32::MAX))
}

fn parse_auth(rest: Option<&str>) -> Result<Command, ParseError> {
    let Some(rest) = rest.filter(|r| !r.trim().is_empty()) else {
        return Ok(Command::Auth {
            mechanism: None,
            initial: None,
        });
    };
    let mut parts = rest.split(' ');
    let mechanism = parts.next().unwrap_or_default();
    if mechanism.is_empty() || mechanism.len() > MAX_ARGUMENT {
        return Err(ParseError::Syntax("AUTH needs a mechanism name"));
    }
    let initial = parts.next().map(str::to_owned);
    if parts.next().is_some() || initial.as_deref() == Some("") {
        return Err(ParseError::Syntax(
            "AUTH takes a mechanism and an optional initial response",
        ));
    }
    Ok(Command::Auth {
        mechanism: Some(mechanism.to_owned()),
        initial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, ParseError> {
        Command::parse(line.as_bytes())
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(parse("stat"), Ok(Command::Stat));
        assert_eq!(parse("QuIt"), Ok(Command::Quit));
        assert_eq!(parse("capa"), Ok(Command::Capa));
        assert_eq!(parse("NOOP "), Ok(Command::Noop));
    }

    #[test]
    fn message_numbers() {
        assert_eq!(parse("RETR 1"), Ok(Command::Retr(1)));
        assert_eq!(parse("dele 42"), Ok(Command::Dele(42)));
        assert_eq!(parse("LIST"), Ok(Command::List(None)));
        assert_eq!(parse("LIST 3"), Ok(Command::List(Some(3))));
        assert_eq!(parse("UIDL"), Ok(Command::Uidl(None)));
        assert_eq!(parse("UIDL 7"), Ok(Command::Uidl(Some(7))));
        assert_eq!(
            parse("TOP 2 0"),
            Ok(Command::Top {
                message: 2,
                lines: 0
            })
        );
        assert_eq!(
            parse("TOP 2 99999999999999"),
            Ok(Command::Top {
                message: 2,
                lines: u32::MAX
            })
        );
        for bad in [
            "RETR", "RETR 0", "RETR -1", "RETR +1", "RETR x", "RETR 1 2", "DELE 1x", "TOP 1",
            "TOP 1 -2", "LIST 1 2", "RETR  1",
        ] {
            assert!(matches!(parse(bad), Err(ParseError::Syntax(_))), "{bad}");
        }
        // A message number beyond u32 names no message: syntax error rather than a wrap.
        assert!(parse("RETR 99999999999").is_err());
    }

    #[test]
    fn user_and_pass() {
        assert_eq!(parse("USER a@b.test"), Ok(Command::User("a@b.test".into())));
        assert_eq!(
            parse("PASS with spaces  inside"),
            Ok(Command::Pass("with spaces  inside".into()))
        );
        assert!(parse("PASS").is_err());
        assert!(parse("USER").is_err());
        assert!(parse("USER a b").is_err());
        assert!(parse(&format!("USER {}", "x".repeat(41))).is_err());
    }

    #[test]
    fn auth_forms() {
        assert_eq!(
            parse("AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            parse("AUTH PLAIN"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: None
            })
        );
        let long = "A".repeat(300);
        assert_eq!(
            parse(&format!("AUTH PLAIN {long}")),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some(long)
            })
        );
        assert!(parse("AUTH PLAIN a b").is_err());
    }

    #[test]
    fn unknown_and_malformed() {
        assert_eq!(parse("APOP u digest"), Err(ParseError::Unknown));
        assert_eq!(parse("XYZZY"), Err(ParseError::Unknown));
        assert_eq!(parse(""), Err(ParseError::Unknown));
        assert_eq!(Command::parse(b"USER \xff"), Err(ParseError::Encoding));
        assert!(matches!(parse("STAT 1"), Err(ParseError::Syntax(_))));
    }
}
