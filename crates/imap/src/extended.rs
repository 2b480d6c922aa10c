//! Command syntax of the extensions imap-codec 2.0.0-alpha.10 does not parse, taken off the
//! command before imap-codec sees the rest (DESIGN.md §5a says to fill these in around it).
//! Commands move from here to typed parsers in [`syntax`](crate::syntax) (APPEND, CREATE,
//! LIST, LSUB and SEARCH have); what is left is FETCH's and the other sequence-set commands':
//!
//! - `$`, the saved search result, as the sequence set of FETCH, STORE, COPY, MOVE and
//!   UID EXPUNGE (RFC 5182 §2.1), replaced by the saved numbers;
//! - the FETCH item `SAVEDATE` (RFC 8514 §4.3), taken out of the item list.
//!
//! Only the first line is rewritten, so literal data is never touched.

use crate::lexer::{self, Kind, Token};

/// What was taken off a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    None,
    /// FETCH asked for SAVEDATE (RFC 8514 §4.3). `uid_stands_in`: it was the only item, and
    /// `UID` took its place so that imap-codec sees a valid FETCH.
    FetchSaveDate {
        uid_stands_in: bool,
    },
}

/// Splits the extension syntax off `command`, returning the rewritten command for imap-codec.
/// `saved` gives the text of `$` for UID and for sequence-number contexts.
pub fn preparse(command: &[u8], saved: impl Fn(bool) -> String) -> (Vec<u8>, Extension) {
    let line_end = first_line_end(command);
    let (line, rest) = command.split_at(line_end);
    let words: Vec<&[u8]> = line.splitn(4, |&b| b == b' ').collect();
    let upper = |w: &[u8]| w.to_ascii_uppercase();
    let (name_at, is_uid) = match words.get(1).map(|w| upper(w)) {
        Some(w) if w == b"UID" => (2, true),
        Some(_) => (1, false),
        None => return (command.to_vec(), Extension::None),
    };
    let Some(name) = words.get(name_at).map(|w| upper(w)) else {
        return (command.to_vec(), Extension::None);
    };
    // Byte offset just after "<tag> [UID ]<NAME> ".
    let args_at: usize = words[..=name_at].iter().map(|w| w.len() + 1).sum();
    if args_at > line.len() {
        return (command.to_vec(), Extension::None);
    }
    let (head, args) = line.split_at(args_at);
    let mut extension = Extension::None;
    let mut args = args.to_vec();
    match name.as_slice() {
        b"FETCH" | b"STORE" | b"COPY" | b"MOVE" | b"EXPUNGE"
            if args.first() == Some(&b'$')
                && matches!(args.get(1), None | Some(b' ') | Some(b'\r') | Some(b'\n')) =>
        {
            let mut replaced = saved(is_uid).into_bytes();
            replaced.extend_from_slice(&args[1..]);
            args = replaced;
            if name == b"FETCH" {
                (args, extension) = take_save_date_item(&args);
            }
        }
        b"FETCH" => (args, extension) = take_save_date_item(&args),
        _ => {}
    }
    let mut out = head.to_vec();
    out.extend_from_slice(&args);
    out.extend_from_slice(rest);
    (out, extension)
}

/// Takes `SAVEDATE` (RFC 8514 §4.3) out of a FETCH's item list (`args` = `set items ...`).
fn take_save_date_item(args: &[u8]) -> (Vec<u8>, Extension) {
    let unchanged = || (args.to_vec(), Extension::None);
    let Some(tokens) = lexer::tokens(args, 0) else {
        return unchanged();
    };
    let is_save_date =
        |t: &Token| t.kind == Kind::Atom && args[t.start..t.end].eq_ignore_ascii_case(b"SAVEDATE");
    let (list_start, list_end, items) = match tokens.get(1) {
        Some(single) if is_save_date(single) => (single.start, single.end, &tokens[1..2]),
        Some(open) if open.kind == Kind::Open => {
            let Some(close) = tokens.iter().position(|t| t.kind == Kind::Close) else {
                return unchanged();
            };
            (open.start, tokens[close].end, &tokens[2..close])
        }
        _ => return unchanged(),
    };
    if !items.iter().any(is_save_date) {
        return unchanged();
    }
    let kept: Vec<&[u8]> = items
        .iter()
        .filter(|t| !is_save_date(t))
        .map(|t| &args[t.start..t.end])
        .collect();
    let uid_stands_in = kept.is_empty();
    let list = if uid_stands_in {
        b"(UID)".to_vec()
    } else {
        [&b"("[..], &kept.join(&b' '), b")"].concat()
    };
    let mut out = args[..list_start].to_vec();
    out.extend_from_slice(&list);
    out.extend_from_slice(&args[list_end..]);
    (out, Extension::FetchSaveDate { uid_stands_in })
}

/// The first line, CRLF included (or everything when there is no line feed).
fn first_line_end(command: &[u8]) -> usize {
    command
        .iter()
        .position(|&b| b == b'\n')
        .map_or(command.len(), |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(uid: bool) -> String {
        if uid { "7,9".into() } else { "2:3".into() }
    }

    fn run(command: &[u8]) -> (String, Extension) {
        let (out, ext) = preparse(command, saved);
        (String::from_utf8(out).unwrap(), ext)
    }

    #[test]
    fn dollar() {
        assert_eq!(run(b"a FETCH $ (FLAGS)\r\n").0, "a FETCH 2:3 (FLAGS)\r\n");
        assert_eq!(run(b"a UID COPY $ Trash\r\n").0, "a UID COPY 7,9 Trash\r\n");
        assert_eq!(
            run(b"a SEARCH UID $\r\n").0,
            "a SEARCH UID $\r\n",
            "SEARCH has its own parser"
        );
        assert_eq!(
            run(b"a FETCH 1 (BODY[])\r\n").0,
            "a FETCH 1 (BODY[])\r\n",
            "unchanged"
        );
    }

    #[test]
    fn save_date_fetch_item() {
        for (command, rewritten, uid_stands_in) in [
            (
                &b"a FETCH 1:* (FLAGS SAVEDATE UID) (CHANGEDSINCE 4)\r\n"[..],
                "a FETCH 1:* (FLAGS UID) (CHANGEDSINCE 4)\r\n",
                false,
            ),
            (
                b"a UID FETCH 2 savedate\r\n",
                "a UID FETCH 2 (UID)\r\n",
                true,
            ),
            (b"a FETCH $ (SAVEDATE)\r\n", "a FETCH 2:3 (UID)\r\n", true),
        ] {
            assert_eq!(
                run(command),
                (
                    rewritten.to_owned(),
                    Extension::FetchSaveDate { uid_stands_in }
                )
            );
        }
        let command = b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (SAVEDATE)])\r\n";
        assert_eq!(
            run(command),
            (
                String::from_utf8_lossy(command).into_owned(),
                Extension::None
            )
        );
    }
}
