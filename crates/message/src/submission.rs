//! Checks of a message a user sends, before it is signed with the domain's DKIM key: line
//! ends, how often the originator fields occur (RFC 5322 §3.6), and strict address syntax of
//! From, Sender and Resent-From (RFC 5322 §3.4, §3.6.2, §3.6.6).
//!
//! The lenient parser in `address` reads whatever a stored message has, for IMAP ENVELOPE;
//! this one refuses anything two parsers could read differently, so the address checked
//! against the account is the one every reader of the message sees.

use crate::address::{Token, balanced, tokenize};
use crate::header::{self, RawField};
use std::borrow::Cow;

/// One address of an originator field, as the sender check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name as written (encoded words left encoded), if any.
    pub name: Option<String>,
    pub local: String,
    pub domain: String,
}

impl Mailbox {
    pub fn email(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// The originator addresses of a message that passed [`check_submission`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Originators {
    pub from: Vec<Mailbox>,
    pub sender: Option<Mailbox>,
    /// Every address of every Resent-From field (RFC 5322 §3.6.6 allows one per resent block).
    pub resent_from: Vec<Mailbox>,
}

impl Originators {
    /// Every address the sender must be allowed to use.
    pub fn all(&self) -> impl Iterator<Item = &Mailbox> {
        self.from
            .iter()
            .chain(self.sender.iter())
            .chain(self.resent_from.iter())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// RFC 5322 §2.2: header lines end in CRLF; a bare CR or LF is read as a line end by
    /// some parsers and not by others.
    #[error("the header contains a bare CR or LF; lines must end with CRLF")]
    BareLineEnd,
    #[error("the header contains a NUL character")]
    Nul,
    #[error("a header line is not a field (no name and colon)")]
    NotAField,
    #[error("the message has {count} {field}: fields; RFC 5322 §3.6 allows one")]
    Repeated { field: &'static str, count: usize },
    #[error("the message has no From: field")]
    NoFrom,
    #[error("the {field}: field is not a valid address list")]
    BadAddresses { field: &'static str },
}

/// RFC 5322 §3.6: the fields a message may have at most once (From exactly once).
const AT_MOST_ONCE: &[&str] = &[
    "Date",
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Bcc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
];

/// Checks the header of a message a user submits; returns its originator addresses.
pub fn check_submission(raw: &[u8]) -> Result<Originators, HeaderError> {
    let end = header::header_end(raw, 0, raw.len());
    let block = &raw[..end];
    check_line_ends(block)?;
    let fields = header::fields(block);
    if fields.iter().any(|f| !is_field_name(f.name)) {
        return Err(HeaderError::NotAField);
    }
    for name in AT_MOST_ONCE {
        let count = count(&fields, name);
        if count > 1 {
            return Err(HeaderError::Repeated { field: name, count });
        }
    }
    let from = header::first(&fields, "From").ok_or(HeaderError::NoFrom)?;
    let from = mailbox_list(from.value).ok_or(HeaderError::BadAddresses { field: "From" })?;
    let sender = match header::first(&fields, "Sender") {
        None => None,
        Some(field) => match mailbox_list(field.value).as_deref() {
            Some([one]) => Some(one.clone()),
            _ => return Err(HeaderError::BadAddresses { field: "Sender" }),
        },
    };
    let mut resent_from = Vec::new();
    for field in named(&fields, "Resent-From") {
        let list = mailbox_list(field.value).ok_or(HeaderError::BadAddresses {
            field: "Resent-From",
        })?;
        resent_from.extend(list);
    }
    Ok(Originators {
        from,
        sender,
        resent_from,
    })
}

/// RFC 7489 §6.6.1: a message with more than one From field is refused at the MX too, since
/// the DMARC check and the reader could see different authors.
pub fn check_single_from(raw: &[u8]) -> Result<(), HeaderError> {
    let end = header::header_end(raw, 0, raw.len());
    let count = count(&header::fields(&raw[..end]), "From");
    if count > 1 {
        return Err(HeaderError::Repeated {
            field: "From",
            count,
        });
    }
    Ok(())
}

/// The header block with only the first occurrence of each field of [`AT_MOST_ONCE`], so a
/// reader that takes the last one (mail-parser) shows what the checks and ENVELOPE read.
pub fn first_occurrences(header_block: &[u8]) -> Cow<'_, [u8]> {
    let fields = header::fields(header_block);
    let repeated = AT_MOST_ONCE.iter().any(|name| count(&fields, name) > 1);
    if !repeated {
        return Cow::Borrowed(header_block);
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(header_block.len());
    for field in &fields {
        let single = AT_MOST_ONCE
            .iter()
            .find(|name| field.name.eq_ignore_ascii_case(name.as_bytes()));
        if let Some(name) = single {
            if seen.contains(name) {
                continue;
            }
            seen.push(name);
        }
        out.extend_from_slice(field.raw);
    }
    let used: usize = fields.iter().map(|f| f.raw.len()).sum();
    out.extend_from_slice(&header_block[used.min(header_block.len())..]);
    Cow::Owned(out)
}

/// RFC 5322 §2.2 / RFC 5321 §2.3.8: every line end in `bytes` is CRLF, and no NUL.
fn check_line_ends(bytes: &[u8]) -> Result<(), HeaderError> {
    if has_bare_line_end(bytes) {
        return Err(HeaderError::BareLineEnd);
    }
    if bytes.contains(&0) {
        return Err(HeaderError::Nul);
    }
    Ok(())
}

/// True when `bytes` has a CR not followed by LF or an LF not preceded by CR.
pub fn has_bare_line_end(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(i, b)| match b {
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || bytes[i - 1] != b'\r',
        _ => false,
    })
}

/// RFC 5322 §3.6.8: a field name is printable US-ASCII other than the colon.
fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| (33..=126).contains(b) && *b != b':')
}

fn named<'a, 'f>(
    fields: &'f [RawField<'a>],
    name: &'f str,
) -> impl Iterator<Item = &'f RawField<'a>> {
    fields
        .iter()
        .filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()))
}

fn count(fields: &[RawField<'_>], name: &str) -> usize {
    named(fields, name).count()
}

/// A strict RFC 5322 §3.4 mailbox-list (groups refused: a From with a group has no author to
/// check). None when any part of the value is not a mailbox.
pub fn mailbox_list(value: &[u8]) -> Option<Vec<Mailbox>> {
    let value = header::unfold(value);
    if !balanced(&value) {
        return None;
    }
    let tokens = tokenize(&value);
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let list: Option<Vec<Mailbox>> = words
        .split(|t| **t == Token::Special(','))
        .map(mailbox)
        .collect();
    list.filter(|l| !l.is_empty())
}

/// `name-addr / addr-spec` (RFC 5322 §3.4).
fn mailbox(tokens: &[&Token]) -> Option<Mailbox> {
    match tokens.iter().position(|t| **t == Token::Special('<')) {
        None => addr_spec(tokens).map(|(local, domain)| Mailbox {
            name: None,
            local,
            domain,
        }),
        Some(open) => {
            let (phrase, rest) = tokens.split_at(open);
            let [_, inner @ .., close] = rest else {
                return None;
            };
            if **close != Token::Special('>') {
                return None;
            }
            let words: Option<Vec<&str>> = phrase.iter().map(|t| t.phrase_text()).collect();
            let words = words?;
            let (local, domain) = addr_spec(inner)?;
            Some(Mailbox {
                name: (!words.is_empty()).then(|| words.join(" ")),
                local,
                domain,
            })
        }
    }
}

/// `local-part "@" domain`, each one token.
fn addr_spec(tokens: &[&Token]) -> Option<(String, String)> {
    let [local, at, domain] = tokens else {
        return None;
    };
    if **at != Token::Special('@') {
        return None;
    }
    let local = match local {
        Token::Atom(text) if is_dot_atom(text) => text.clone(),
        Token::Quoted(text) if !text.is_empty() => local.address_text(),
        _ => return None,
    };
    let domain = match domain {
        Token::Atom(text) if is_domain(text) => text.clone(),
        Token::DomainLiteral(text) => text.clone(),
        _ => return None,
    };
    Some((local, domain))
}

/// RFC 5322 §3.2.3 dot-atom-text (RFC 6532 §3.2 adds UTF-8).
fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_atext(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && !c.is_control()) || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// A host name: labels of letters, digits and hyphens (UTF-8 letters for IDNs).
fn is_domain(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Text for a header field a user typed (a subject, a display name, a file name): control
/// characters, line breaks among them, become spaces, so no value can end the field.
pub fn header_text(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A message id for In-Reply-To or References (RFC 5322 §3.6.4 `id-left "@" id-right`),
/// without its angle brackets; None when it is anything else.
pub fn msg_id(value: &str) -> Option<String> {
    let id = value.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id);
    let (left, right) = id.rsplit_once('@')?;
    let right_ok = is_dot_atom(right)
        || (right.starts_with('[')
            && right.ends_with(']')
            && right[1..right.len() - 1]
                .chars()
                .all(|c| c.is_ascii_graphic() && !"[]\\<>".contains(c)));
    (is_dot_atom(left) && right_ok && id.is_ascii()).then(|| id.to_owned())
}

/// Turns every bare CR and bare LF into CRLF (RFC 5321 §2.3.8; the SMTP smuggling reports of
/// 2023): no line end can mean one thing here and another at the next hop.
pub fn normalize_line_ends(raw: &[u8]) -> Cow<'_, [u8]> {
    if !has_bare_line_end(raw) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64);
    let mut index = 0;
    while index < raw.len() {
        match raw[index] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                index += if raw.get(index + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str) -> Result<Originators, HeaderError> {
        check_submission(format!("{header}\r\n\r\nbody\r\n").as_bytes())
    }

    fn from(header: &str) -> Vec<String> {
        check(header)
            .unwrap()
            .from
            .iter()
            .map(Mailbox::email)
            .collect()
    }

    #[test]
    fn plain_originators_pass() {
        assert_eq!(from("From: alice@a.test"), ["alice@a.test"]);
        assert_eq!(from("From: Alice <alice@a.test>"), ["alice@a.test"]);
        assert_eq!(
            from("From: \"Alice, A.\" <alice@a.test> (work)"),
            ["alice@a.test"]
        );
        assert_eq!(
            from("From: =?utf-8?q?Al=C3=AFce?= <alice@a.test>, b@a.test"),
            ["alice@a.test", "b@a.test"]
        );
        assert_eq!(from("From: \"a b\"@a.test"), ["\"a b\"@a.test"]);
        assert_eq!(from("From: Alice\r\n <alice@a.test>"), ["alice@a.test"]);
        let both = check("From: a@a.test, b@a.test\r\nSender: <a@a.test>").unwrap();
        assert_eq!(both.sender.unwrap().email(), "a@a.test");
    }

    #[test]
    fn a_second_from_is_refused() {
        assert_eq!(
            check("From: alice@a.test\r\nFrom: bob@a.test"),
            Err(HeaderError::Repeated {
                field: "From",
                count: 2
            })
        );
        assert!(matches!(
            check("From: a@a.test\r\nSubject: x\r\nsubject: y"),
            Err(HeaderError::Repeated {
                field: "Subject",
                ..
            })
        ));
        assert_eq!(check("Subject: x"), Err(HeaderError::NoFrom));
    }

    #[test]
    fn a_bare_cr_or_lf_in_the_header_is_refused() {
        assert_eq!(
            check("Subject: s17\rFrom: bob@a.test\r\nFrom: alice@a.test"),
            Err(HeaderError::BareLineEnd)
        );
        assert_eq!(
            check("Subject: s\nFrom: bob@a.test"),
            Err(HeaderError::BareLineEnd)
        );
        assert_eq!(check("From: a@a.test\r\nX: \0"), Err(HeaderError::Nul));
        // A bare CR in the body is not the header's business (the body is normalized).
        assert!(check_submission(b"From: a@a.test\r\n\r\nx\ry\r\n").is_ok());
    }

    #[test]
    fn addresses_outside_the_list_syntax_are_refused() {
        for bad in [
            "From: <alice@a.test> <bob@a.test>",
            "From: alice@a.test bob@a.test",
            "From: alice@a.test <bob@a.test>",
            "From: =?utf-8?q?bob=40a=2Etest?=",
            "From: root",
            "From: a@a.test,",
            "From: , a@a.test",
            "From: \"unterminated <a@a.test>",
            "From: (open <a@a.test>",
            "From: group: a@a.test;",
            "From: <a@a.test",
            "From: a@@a.test",
            "From: a@a..test",
            "From: <@route:a@a.test>",
        ] {
            assert!(
                matches!(check(bad), Err(HeaderError::BadAddresses { field: "From" })),
                "{bad:?} passed"
            );
        }
        assert!(matches!(
            check("From: a@a.test\r\nSender: a@a.test, b@a.test"),
            Err(HeaderError::BadAddresses { field: "Sender" })
        ));
        assert!(matches!(
            check("From: a@a.test\r\nResent-From: <x@a.test> <y@b.test>"),
            Err(HeaderError::BadAddresses {
                field: "Resent-From"
            })
        ));
        assert!(matches!(
            check("From: a@a.test\r\nno colon"),
            Err(HeaderError::NotAField)
        ));
    }

    #[test]
    fn readers_see_the_first_occurrence() {
        let header = b"From: a@x\r\nSubject: one\r\nFrom: b@x\r\nX-A: 1\r\n\r\n";
        assert_eq!(
            &first_occurrences(header)[..],
            b"From: a@x\r\nSubject: one\r\nX-A: 1\r\n\r\n"
        );
        let clean = b"From: a@x\r\n\r\n";
        assert!(matches!(first_occurrences(clean), Cow::Borrowed(_)));
    }

    #[test]
    fn message_ids_and_text() {
        assert_eq!(msg_id(" <a.b@c.d> ").as_deref(), Some("a.b@c.d"));
        assert_eq!(msg_id("x@[1.2.3.4]").as_deref(), Some("x@[1.2.3.4]"));
        for bad in [
            "x@y>\r\nFrom: Bob <bob@a.test",
            "x y@z",
            "x@\ry",
            "<>",
            "nobrackets",
            "a@b@c>",
            // Found by the fuzz target: RFC 5322 dtext allows `>`, a reader of `<id>` does not.
            "Fro@[mA>]",
        ] {
            assert_eq!(msg_id(bad), None, "{bad:?}");
        }
        assert_eq!(header_text("a\r\nFrom: b\u{202E}"), "a  From: b ");
    }

    #[test]
    fn bare_line_ends_become_crlf() {
        assert_eq!(
            &normalize_line_ends(b"a\rb\nc\r\nd\r")[..],
            b"a\r\nb\r\nc\r\nd\r\n"
        );
        assert!(matches!(normalize_line_ends(b"a\r\nb"), Cow::Borrowed(_)));
    }
}
