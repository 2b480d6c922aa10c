//! Typed parsers for the commands whose grammar imap-codec 2.0.0-alpha.10 lacks in part
//! (MULTIAPPEND, CREATE-SPECIAL-USE, LIST-EXTENDED, ESEARCH, SEARCHRES's `$`, SAVEDATE, ...),
//! one module per command: each turns the framed command into a typed value that its handler
//! takes, so a command's syntax lives in one place and nothing is rewritten into another
//! command's syntax. Commands not parsed here (those without arguments, LOGIN, SELECT,
//! STATUS, ...) go to imap-codec, which knows all of their grammar.
//!
//! The parsers walk the tokens of [`lexer`](crate::lexer), which steps over quoted strings and
//! literals whole.

pub mod append;
pub mod copy_move;
pub mod create;
pub mod fetch;
pub mod list;
pub mod search;
pub mod sequence;
pub mod store;

use std::borrow::Cow;

use crate::lexer::{self, Kind, Token};

/// A command parsed here, with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub tag: String,
    pub command: Typed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    Append(append::AppendCommand),
    Copy(copy_move::CopyCommand),
    Create(create::CreateCommand),
    Fetch(fetch::FetchCommand),
    List(list::ListCommand),
    Search(search::SearchCommand),
    Store(store::StoreCommand),
    UidExpunge(sequence::Messages),
}

/// A command of ours that is malformed: its tag and the text for `BAD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub tag: String,
    pub text: &'static str,
}

/// Parses `command` (one whole command as the reader framed it) when it is one of the
/// commands parsed here; None leaves it to imap-codec.
pub fn parse(command: &[u8]) -> Option<Result<Parsed, Malformed>> {
    let tokens = lexer::tokens(command, 0)?;
    let mut cursor = Cursor {
        command,
        tokens,
        at: 0,
    };
    let tag = cursor.atom()?;
    let mut name = cursor.atom()?.to_ascii_uppercase();
    let uid = name == b"UID";
    if uid {
        name = cursor.atom()?.to_ascii_uppercase();
    }
    let tag = String::from_utf8_lossy(tag).into_owned();
    let parsed = match name.as_slice() {
        b"SEARCH" => search::parse(&mut cursor, uid).map(Typed::Search),
        b"FETCH" => fetch::parse(&mut cursor, uid).map(Typed::Fetch),
        b"STORE" => store::parse(&mut cursor, uid).map(Typed::Store),
        b"COPY" => copy_move::parse(&mut cursor, uid, false).map(Typed::Copy),
        b"MOVE" => copy_move::parse(&mut cursor, uid, true).map(Typed::Copy),
        b"EXPUNGE" if uid => copy_move::uid_expunge(&mut cursor).map(Typed::UidExpunge),
        _ if uid => return None,
        b"APPEND" => append::parse(&mut cursor).map(Typed::Append),
        b"CREATE" => create::parse(&mut cursor).map(Typed::Create),
        b"LIST" => list::parse(&mut cursor, false).map(Typed::List),
        b"LSUB" => list::parse(&mut cursor, true).map(Typed::List),
        _ => return None,
    };
    Some(match parsed {
        Ok(command) => Ok(Parsed { tag, command }),
        Err(text) => Err(Malformed { tag, text }),
    })
}

/// For the parsers' tests: the typed command, or the BAD text.
#[cfg(test)]
pub(crate) fn typed(command: &[u8]) -> Result<Typed, &'static str> {
    match parse(command).expect("a command parsed here") {
        Ok(parsed) => Ok(parsed.command),
        Err(malformed) => Err(malformed.text),
    }
}

/// The tokens of one command, read front to back.
pub struct Cursor<'a> {
    command: &'a [u8],
    tokens: Vec<Token>,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.at).copied()
    }

    /// True when the next tokens are `(` and the atom `word`, in any case (nothing is taken).
    pub fn opens_with(&self, word: &str) -> bool {
        let open = self.peek().is_some_and(|t| t.kind == Kind::Open);
        let next = self.tokens.get(self.at + 1).copied();
        open && next.is_some_and(|t| {
            t.kind == Kind::Atom && self.bytes(t).eq_ignore_ascii_case(word.as_bytes())
        })
    }

    fn bytes(&self, token: Token) -> &'a [u8] {
        &self.command[token.start..token.end]
    }

    /// The next token when it is an atom.
    pub fn atom(&mut self) -> Option<&'a [u8]> {
        let token = self.peek().filter(|t| t.kind == Kind::Atom)?;
        self.at += 1;
        Some(self.bytes(token))
    }

    /// True (and steps over it) when the next token is the atom `word`, in any case.
    pub fn keyword(&mut self, word: &str) -> bool {
        let next = self.peek();
        let is = next.is_some_and(|t| {
            t.kind == Kind::Atom && self.bytes(t).eq_ignore_ascii_case(word.as_bytes())
        });
        self.at += usize::from(is);
        is
    }

    /// After `(`: the atoms up to `)`, as text; `unterminated` is the error without a `)`.
    pub fn atoms_to_close(
        &mut self,
        unterminated: &'static str,
    ) -> Result<Vec<String>, &'static str> {
        let mut atoms = Vec::new();
        while !self.close() {
            let atom = self.atom().ok_or(unterminated)?;
            atoms.push(String::from_utf8_lossy(atom).into_owned());
        }
        Ok(atoms)
    }

    /// True (and steps over it) when the next token is `(`.
    pub fn open(&mut self) -> bool {
        self.take_kind(Kind::Open)
    }

    /// True (and steps over it) when the next token is `)`.
    pub fn close(&mut self) -> bool {
        self.take_kind(Kind::Close)
    }

    fn take_kind(&mut self, kind: Kind) -> bool {
        let is = self.peek().is_some_and(|t| t.kind == kind);
        self.at += usize::from(is);
        is
    }

    pub fn at_end(&self) -> bool {
        self.at == self.tokens.len()
    }

    /// The content of a quoted string, when the next token is one.
    pub fn quoted(&mut self) -> Option<Cow<'a, [u8]>> {
        let token = self.peek().filter(|t| t.kind == Kind::Quoted)?;
        self.at += 1;
        Some(unquote(self.bytes(token)))
    }

    /// The data of a literal or literal8 (`~{n}`, RFC 3516 §4.4), when the next token is one.
    pub fn literal(&mut self) -> Option<&'a [u8]> {
        let token = self.peek().filter(|t| t.kind == Kind::Literal)?;
        let raw = self.bytes(token);
        let data = raw.iter().position(|&b| b == b'\n')? + 1;
        self.at += 1;
        Some(&raw[data..])
    }

    /// An astring (RFC 9051 §9): an atom, a quoted string (unescaped) or a literal's data.
    /// A literal8 (`~{n}`) is not a string.
    pub fn astring(&mut self) -> Option<Cow<'a, [u8]>> {
        let token = self.peek()?;
        let raw = self.bytes(token);
        let value = match token.kind {
            Kind::Atom => Cow::Borrowed(raw),
            Kind::Quoted => unquote(raw),
            Kind::Literal if raw.first() == Some(&b'{') => {
                return self.literal().map(Cow::Borrowed);
            }
            _ => return None,
        };
        self.at += 1;
        Some(value)
    }
}

/// The content of a quoted string (`"..."` with `\"` and `\\`, RFC 9051 §4.3).
fn unquote(raw: &[u8]) -> Cow<'_, [u8]> {
    let inner = &raw[1..raw.len().saturating_sub(1).max(1)];
    if !inner.contains(&b'\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &b in inner {
        if b == b'\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(b);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(command: &[u8]) -> Cursor<'_> {
        Cursor {
            command,
            tokens: lexer::tokens(command, 0).unwrap(),
            at: 0,
        }
    }

    #[test]
    fn astrings_of_every_form() {
        let mut c = cursor(b"atom \"q \\\"x\\\\\" {3}\r\nl i\r\n");
        assert_eq!(c.astring().unwrap().as_ref(), b"atom");
        assert_eq!(c.astring().unwrap().as_ref(), b"q \"x\\");
        assert_eq!(c.astring().unwrap().as_ref(), b"l i");
        assert!(c.at_end());
        assert!(cursor(b"~{1}\r\nx").astring().is_none());
        assert!(cursor(b"(").astring().is_none());
    }

    #[test]
    fn other_commands_are_left_to_imap_codec() {
        assert!(parse(b"a NOOP\r\n").is_none());
        assert!(parse(b"a EXPUNGE\r\n").is_none());
        assert!(parse(b"a UID LIST \"\" *\r\n").is_none());
        assert!(parse(b"a LIST \"\" *\r\n").is_some_and(|p| p.is_ok()));
    }
}
