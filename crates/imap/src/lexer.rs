//! A small lexer over one whole command as the reader framed it (lines joined by literals), for
//! the typed parsers of [`syntax`](crate::syntax): atoms, quoted strings, literals (stepped
//! over whole) and parentheses. It only finds where tokens are; the parsers judge the syntax.

/// What a token is (RFC 9051 §9: atoms, quoted strings, literals, parenthesized lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An atom; `[...]` inside it is part of it (`BODY[HEADER.FIELDS (A B)]<0.10>`).
    Atom,
    Quoted,
    /// `{n}`, `{n+}` or `~{n}`, its line ending and its `n` bytes of data.
    Literal,
    Open,
    Close,
}

/// One token: its kind and where it is in the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// The tokens of `command` from `from` on, up to the final line ending. None when the command
/// is malformed in a way that makes positions uncertain (an unterminated quoted string, a
/// literal longer than what follows): the caller then leaves the command to imap-codec.
pub fn tokens(command: &[u8], from: usize) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut i = from;
    while i < command.len() {
        let start = i;
        let kind = match command[i] {
            b' ' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Kind::Open
            }
            b')' => {
                i += 1;
                Kind::Close
            }
            b'"' => {
                i = quoted_end(command, i)?;
                Kind::Quoted
            }
            b'{' | b'~' if announcement(command, i).is_some() => {
                let (data, length) = announcement(command, i)?;
                // A literal longer than the command: positions past it would be guesses.
                i = data
                    .checked_add(length)
                    .filter(|&end| end <= command.len())?;
                Kind::Literal
            }
            _ => {
                i = atom_end(command, i);
                Kind::Atom
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Some(out)
}

/// The end (exclusive) of the quoted string opening at `at`, with `\` escapes.
fn quoted_end(command: &[u8], at: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, &b) in command.iter().enumerate().skip(at + 1) {
        match (escaped, b) {
            (_, b'\r' | b'\n') => return None,
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// Where the data of the literal announced at `at` starts, and its length, if one is
/// announced there: `{digits}` or `{digits+}`, optionally after `~` (RFC 3516 literal8), then a
/// line end.
fn announcement(command: &[u8], at: usize) -> Option<(usize, usize)> {
    let open = if command[at] == b'~' { at + 1 } else { at };
    if command.get(open) != Some(&b'{') {
        return None;
    }
    // `{` + at most 19 digits + `+` + `}`: no need to look further.
    let close = open + command[open..].iter().take(22).position(|&b| b == b'}')?;
    let inner = &command[open + 1..close];
    let digits = inner.strip_suffix(b"+").unwrap_or(inner);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let mut data = close + 1;
    if command.get(data) == Some(&b'\r') {
        data += 1;
    }
    (command.get(data) == Some(&b'\n')).then_some((data + 1, length))
}

/// The end (exclusive) of the atom at `at`; brackets take spaces and parentheses along, up to
/// the end of the line.
fn atom_end(command: &[u8], at: usize) -> usize {
    let mut depth = 0usize;
    let mut i = at;
    while let Some(&b) = command.get(i) {
        match b {
            b'\r' | b'\n' => break,
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b' ' | b'(' | b')' | b'"' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(command: &[u8]) -> Vec<(Kind, String)> {
        tokens(command, 0)
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t.kind,
                    String::from_utf8_lossy(&command[t.start..t.end]).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn atoms_quoted_lists_and_literals() {
        let got = texts(b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)] \"x\\\" y\" {3}\r\nabc)\r\n");
        assert_eq!(
            got,
            [
                (Kind::Atom, "a".into()),
                (Kind::Atom, "FETCH".into()),
                (Kind::Atom, "1".into()),
                (Kind::Open, "(".into()),
                (Kind::Atom, "BODY.PEEK[HEADER.FIELDS (A B)]".into()),
                (Kind::Quoted, "\"x\\\" y\"".into()),
                (Kind::Literal, "{3}\r\nabc".into()),
                (Kind::Close, ")".into()),
            ]
        );
        assert_eq!(
            texts(b"~{2+}\r\n)(")[0],
            (Kind::Literal, "~{2+}\r\n)(".into())
        );
    }

    #[test]
    fn malformed_input_gives_none() {
        assert!(tokens(b"a \"open\r\n", 0).is_none());
        assert!(tokens(b"a {10}\r\nshort", 0).is_none());
        assert!(
            tokens(b"a {99999999999999999999}\r\n", 0).is_some(),
            "not a literal: an atom"
        );
    }
}
