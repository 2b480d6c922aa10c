//! RFC 5322 §3.4 address lists, read into IMAP ENVELOPE address structures (RFC 9051 §7.5.2).
//!
//! Our own parser rather than mail-parser's because ENVELOPE wants the names as written:
//! mail-parser decodes RFC 2047 encoded words, IMAP clients expect them still encoded.

use serde::{Deserialize, Serialize};

/// One address of an ENVELOPE address list (RFC 9051 §7.5.2).
///
/// A group is a start marker (`mailbox` = the group name, `host` = None), its members, then an
/// end marker (everything None).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    /// The display name as written (quoted strings unquoted, encoded words left encoded).
    pub name: Option<String>,
    /// The obsolete source route (`@a,@b`), RFC 5322 §4.4 obs-route.
    pub adl: Option<String>,
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

/// Stands in for a missing local part, so that a real address never looks like a group marker.
pub(crate) const MISSING_MAILBOX: &str = "MISSING_MAILBOX";
/// Stands in for a missing domain (`From: root`): a None host would mean a group marker.
pub(crate) const MISSING_DOMAIN: &str = "MISSING_DOMAIN";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Atom(String),
    Quoted(String),
    Comment(String),
    DomainLiteral(String),
    Special(char),
}

impl Token {
    /// The text a word contributes to a display name.
    pub(crate) fn phrase_text(&self) -> Option<&str> {
        match self {
            Token::Atom(text) | Token::Quoted(text) => Some(text),
            _ => None,
        }
    }

    /// The text as it must be written in an address (quoted strings keep their quotes, so that
    /// `"john doe"@example.org` stays one valid local part).
    pub(crate) fn address_text(&self) -> String {
        match self {
            Token::Atom(text) | Token::DomainLiteral(text) => text.clone(),
            Token::Quoted(text) => {
                let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\"")
            }
            Token::Special(special) => special.to_string(),
            Token::Comment(_) => String::new(),
        }
    }
}

const SPECIALS: &[char] = &['(', ')', '<', '>', '@', ',', ':', ';', '"', '[', ']'];

pub(crate) fn tokenize(value: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(&next) = chars.peek() {
        match next {
            // Every whitespace the atom below stops at (form feed, vertical tab, U+00A0...),
            // or an empty atom would be pushed forever without consuming anything.
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                // RFC 5322 §3.2.2: comments nest, and a backslash quotes the next character.
                let mut depth = 1usize;
                let mut text = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => text.extend(chars.next()),
                        '(' => {
                            depth += 1;
                            text.push(ch);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(ch);
                        }
                        _ => text.push(ch),
                    }
                }
                tokens.push(Token::Comment(text));
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        _ => text.push(ch),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            '[' => {
                let mut text = String::new();
                for ch in chars.by_ref() {
                    text.push(ch);
                    if ch == ']' {
                        break;
                    }
                }
                tokens.push(Token::DomainLiteral(text));
            }
            ')' | ']' => {
                // Unbalanced closers are garbage: drop them.
                chars.next();
            }
            '<' | '>' | '@' | ',' | ':' | ';' => {
                chars.next();
                tokens.push(Token::Special(next));
            }
            _ => {
                let mut text = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || SPECIALS.contains(&ch) {
                        break;
                    }
                    text.push(ch);
                    chars.next();
                }
                tokens.push(Token::Atom(text));
            }
        }
    }
    tokens
}

/// True when every quoted string, comment and domain literal of `value` is closed and nothing
/// closes what was not opened: [`tokenize`] forgives both, a strict check must not.
pub(crate) fn balanced(value: &str) -> bool {
    let mut chars = value.chars();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' if depth > 0 => {
                chars.next();
            }
            '(' => depth += 1,
            ')' if depth == 0 => return false,
            ')' => depth -= 1,
            _ if depth > 0 => {}
            '"' => loop {
                match chars.next() {
                    None => return false,
                    Some('\\') => {
                        chars.next();
                    }
                    Some('"') => break,
                    Some(_) => {}
                }
            },
            '[' => loop {
                match chars.next() {
                    None | Some('[') => return false,
                    Some(']') => break,
                    Some(_) => {}
                }
            },
            ']' => return false,
            _ => {}
        }
    }
    depth == 0
}

/// Parses an address-list header value (already unfolded) into ENVELOPE addresses. Never fails:
/// whatever cannot be read as an address is skipped or kept as a bare mailbox.
pub(crate) fn parse_address_list(value: &str) -> Vec<Address> {
    let tokens = tokenize(value);
    let mut addresses = Vec::new();
    let mut in_group = false;
    let mut index = 0;
    // The words and comments read since the last address or separator.
    let mut words: Vec<&Token> = Vec::new();
    let mut comments: Vec<&str> = Vec::new();

    while index < tokens.len() {
        let token = &tokens[index];
        index += 1;
        match token {
            Token::Atom(_) | Token::Quoted(_) | Token::DomainLiteral(_) => words.push(token),
            Token::Comment(text) => comments.push(text),
            Token::Special(':') if !in_group => {
                // RFC 9051 §7.5.2: group start marker, the group name in the mailbox field.
                addresses.push(Address {
                    mailbox: Some(phrase(&words).unwrap_or_default()),
                    ..Address::default()
                });
                in_group = true;
                words.clear();
                comments.clear();
            }
            Token::Special('<') => {
                let (address, next) = angle_address(&tokens, index, phrase(&words));
                addresses.push(address);
                index = skip_to_separator(&tokens, next);
                words.clear();
                comments.clear();
            }
            Token::Special('@') => {
                let (host, next) = domain(&tokens, index);
                let (host, domain_comments) = host;
                let name = comments
                    .iter()
                    .chain(domain_comments.iter())
                    .map(|comment| comment.trim())
                    .find(|comment| !comment.is_empty())
                    .map(str::to_owned);
                addresses.push(Address {
                    name,
                    adl: None,
                    mailbox: Some(local_part(&words)),
                    host: Some(host),
                });
                index = skip_to_separator(&tokens, next);
                words.clear();
                comments.clear();
            }
            Token::Special(',') => {
                flush_bare_mailbox(&mut addresses, &words);
                words.clear();
                comments.clear();
            }
            Token::Special(';') if in_group => {
                flush_bare_mailbox(&mut addresses, &words);
                addresses.push(Address::default());
                in_group = false;
                words.clear();
                comments.clear();
            }
            // Stray '>', ';' outside a group, ':' inside one: garbage, skipped.
            Token::Special(_) => {}
        }
    }
    flush_bare_mailbox(&mut addresses, &words);
    if in_group {
        // An unterminated group still needs its end marker.
        addresses.push(Address::default());
    }
    addresses
}

/// A display name: its words joined by single spaces.
fn phrase(words: &[&Token]) -> Option<String> {
    let text = words
        .iter()
        .filter_map(|word| word.phrase_text())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then_some(text)
}

fn local_part(words: &[&Token]) -> String {
    let text: String = words.iter().map(|word| word.address_text()).collect();
    if text.is_empty() {
        MISSING_MAILBOX.to_owned()
    } else {
        text
    }
}

/// A word or words that never met an '@' (`To: root`): a mailbox without a domain.
fn flush_bare_mailbox(addresses: &mut Vec<Address>, words: &[&Token]) {
    if words.is_empty() {
        return;
    }
    addresses.push(Address {
        name: None,
        adl: None,
        mailbox: Some(local_part(words)),
        host: Some(MISSING_DOMAIN.to_owned()),
    });
}

/// Reads a domain starting at `index`, up to a separator; returns it with the comments met.
fn domain(tokens: &[Token], mut index: usize) -> ((String, Vec<&str>), usize) {
    let mut host = String::new();
    let mut comments = Vec::new();
    while let Some(token) = tokens.get(index) {
        match token {
            Token::Special(',' | ';' | '>' | '<' | ':') => break,
            Token::Comment(text) => comments.push(text.as_str()),
            other => host.push_str(&other.address_text()),
        }
        index += 1;
    }
    if host.is_empty() {
        host = MISSING_DOMAIN.to_owned();
    }
    ((host, comments), index)
}

/// Reads `[route ":"] addr-spec ">"` after a '<' (RFC 5322 §3.4, §4.4 obs-angle-addr).
fn angle_address(tokens: &[Token], mut index: usize, name: Option<String>) -> (Address, usize) {
    let mut adl = None;
    // obs-route: "@a,@b:" before the address.
    if tokens.get(index) == Some(&Token::Special('@')) {
        let mut route = String::new();
        let mut end = index;
        while let Some(token) = tokens.get(end) {
            if matches!(token, Token::Special(':' | '>')) {
                break;
            }
            route.push_str(&token.address_text());
            end += 1;
        }
        if tokens.get(end) == Some(&Token::Special(':')) {
            adl = Some(route);
            index = end + 1;
        }
    }
    let mut local = Vec::new();
    while let Some(token) = tokens.get(index) {
        match token {
            Token::Special('@' | '>' | ',' | ';') => break,
            Token::Comment(_) => {}
            other => local.push(other),
        }
        index += 1;
    }
    let host = if tokens.get(index) == Some(&Token::Special('@')) {
        let ((host, _), next) = domain(tokens, index + 1);
        index = next;
        Some(host)
    } else {
        None
    };
    if tokens.get(index) == Some(&Token::Special('>')) {
        index += 1;
    }
    let address = Address {
        name,
        adl,
        mailbox: Some(local_part(&local)),
        host: Some(host.unwrap_or_else(|| MISSING_DOMAIN.to_owned())),
    };
    (address, index)
}

/// Skips trailing garbage after an address, up to the next ',' or ';' (left for the caller).
fn skip_to_separator(tokens: &[Token], mut index: usize) -> usize {
    while let Some(token) = tokens.get(index) {
        if matches!(token, Token::Special(',' | ';')) {
            break;
        }
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(str::to_owned),
            adl: None,
            mailbox: Some(mailbox.to_owned()),
            host: Some(host.to_owned()),
        }
    }

    #[test]
    fn name_and_angle_address() {
        assert_eq!(
            parse_address_list("John Q. Public <john@example.org>"),
            [addr(Some("John Q. Public"), "john", "example.org")]
        );
    }

    #[test]
    fn quoted_name_with_comma_and_escapes() {
        assert_eq!(
            parse_address_list(r#""Doe, \"Jo\"" <jo@example.org>, b@example.net"#),
            [
                addr(Some(r#"Doe, "Jo""#), "jo", "example.org"),
                addr(None, "b", "example.net")
            ]
        );
    }

    #[test]
    fn encoded_words_stay_encoded() {
        assert_eq!(
            parse_address_list("=?UTF-8?Q?J=C3=B6rg?= <jorg@example.org>"),
            [addr(Some("=?UTF-8?Q?J=C3=B6rg?="), "jorg", "example.org")]
        );
    }

    #[test]
    fn comment_is_the_name_of_a_bare_addr_spec() {
        assert_eq!(
            parse_address_list("a.b@example.org (Alice B)"),
            [addr(Some("Alice B"), "a.b", "example.org")]
        );
    }

    #[test]
    fn groups_have_start_and_end_markers() {
        let parsed = parse_address_list("Team: a@x.org, B <b@y.org>;, c@z.org");
        assert_eq!(
            parsed,
            [
                Address {
                    mailbox: Some("Team".into()),
                    ..Address::default()
                },
                addr(None, "a", "x.org"),
                addr(Some("B"), "b", "y.org"),
                Address::default(),
                addr(None, "c", "z.org"),
            ]
        );
    }

    #[test]
    fn empty_and_unterminated_groups() {
        assert_eq!(
            parse_address_list("undisclosed-recipients:;"),
            [
                Address {
                    mailbox: Some("undisclosed-recipients".into()),
                    ..Address::default()
                },
                Address::default()
            ]
        );
        assert_eq!(
            parse_address_list("G: a@b").last(),
            Some(&Address::default())
        );
    }

    #[test]
    fn source_route_goes_to_adl() {
        let parsed = parse_address_list("<@relay.org,@other.org:user@example.org>");
        assert_eq!(parsed[0].adl.as_deref(), Some("@relay.org,@other.org"));
        assert_eq!(parsed[0].mailbox.as_deref(), Some("user"));
        assert_eq!(parsed[0].host.as_deref(), Some("example.org"));
    }

    #[test]
    fn quoted_local_part_keeps_its_quotes() {
        let parsed = parse_address_list(r#""john doe"@example.org"#);
        assert_eq!(parsed[0].mailbox.as_deref(), Some(r#""john doe""#));
    }

    #[test]
    fn missing_domain_is_not_a_group_marker() {
        assert_eq!(
            parse_address_list("root"),
            [addr(None, "root", MISSING_DOMAIN)]
        );
        assert_eq!(
            parse_address_list("Name <>"),
            [addr(Some("Name"), MISSING_MAILBOX, MISSING_DOMAIN)]
        );
    }

    #[test]
    fn any_whitespace_separates_words() {
        // Found by the imap_session fuzz target: a form feed (or any whitespace other than
        // space, tab, CR, LF) made the tokenizer loop forever, pushing empty atoms until the
        // process ran out of memory, on APPEND or delivery of such a message.
        for ws in ['\u{c}', '\u{b}', '\u{a0}', '\u{2003}', '\u{3000}'] {
            assert_eq!(
                parse_address_list(&format!("Alice{ws} <alice@example.org>")),
                [addr(Some("Alice"), "alice", "example.org")],
                "{ws:?}"
            );
        }
        assert_eq!(
            parse_address_list("\u{c}a@example.org\u{b}"),
            [addr(None, "a", "example.org")]
        );
    }

    #[test]
    fn garbage_never_panics() {
        for value in [
            "",
            ",,,",
            "<",
            ">",
            "@",
            ":",
            ";",
            "((((",
            "\"",
            "[",
            "a@",
            "@b",
            "<@a",
            "<@a,@b",
            "a: b: c;;; d",
            "\u{0}\u{ffff}<>@@::",
        ] {
            let parsed = parse_address_list(value);
            // No real address may look like a group end marker outside a group.
            if !value.contains(':') {
                assert!(
                    parsed.iter().all(|a| a.host.is_some()),
                    "{value:?} gave {parsed:?}"
                );
            }
        }
    }
}
