//! Command syntax of the extensions imap-codec 2.0.0-alpha.10 does not parse, taken off the
//! command before imap-codec sees the rest (DESIGN.md §5a says to fill these in around it).
//! Commands move from here to typed parsers in [`syntax`](crate::syntax) (APPEND, CREATE,
//! LIST and LSUB have); what is left:
//!
//! - `SEARCH RETURN (MIN MAX ALL COUNT SAVE)` (RFC 4731 ESEARCH, RFC 5182 SEARCHRES);
//! - `$`, the saved search result, as a sequence set (RFC 5182 §2.1);
//! - the FETCH item `SAVEDATE` and the SEARCH keys `SAVEDBEFORE`, `SAVEDON`, `SAVEDSINCE` and
//!   `SAVEDATESUPPORTED` (RFC 8514 §4).
//!
//! Only positions where the extension's grammar puts its syntax are rewritten, so literal data
//! is never touched: the first line of a command, or, for SEARCH keys, tokens
//! found by [`lexer`](crate::lexer), which steps over literals whole.

use crate::lexer::{self, Kind, Token};

/// The header field name that marks a saved-date key rewritten for imap-codec (see
/// [`rewrite_saved_date_keys`]). A field name cannot contain `:` (RFC 5322 §3.6.8), so a real
/// HEADER search with this name could never match anything anyway.
pub const SAVED_DATE_MARKER: &str = "Tern:Save-Date";

/// ESEARCH return options (RFC 4731 §3.1, RFC 5182 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

/// What was taken off a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    None,
    Search(SearchReturn),
    /// FETCH asked for SAVEDATE (RFC 8514 §4.3). `uid_stands_in`: it was the only item, and
    /// `UID` took its place so that imap-codec sees a valid FETCH.
    FetchSaveDate {
        uid_stands_in: bool,
    },
}

/// Splits the extension syntax off `command`, returning the rewritten command for imap-codec.
/// `saved` gives the text of `$` for UID and for sequence-number contexts. Err is a BAD text.
pub fn preparse(
    command: &[u8],
    saved: impl Fn(bool) -> String,
) -> Result<(Vec<u8>, Extension), &'static str> {
    let line_end = first_line_end(command);
    let (line, rest) = command.split_at(line_end);
    let words: Vec<&[u8]> = line.splitn(4, |&b| b == b' ').collect();
    let upper = |w: &[u8]| w.to_ascii_uppercase();
    let (name_at, is_uid) = match words.get(1).map(|w| upper(w)) {
        Some(w) if w == b"UID" => (2, true),
        Some(_) => (1, false),
        None => return Ok((command.to_vec(), Extension::None)),
    };
    let Some(name) = words.get(name_at).map(|w| upper(w)) else {
        return Ok((command.to_vec(), Extension::None));
    };
    // Byte offset just after "<tag> [UID ]<NAME> ".
    let args_at: usize = words[..=name_at].iter().map(|w| w.len() + 1).sum();
    if args_at > line.len() {
        return Ok((command.to_vec(), Extension::None));
    }
    let (head, args) = line.split_at(args_at);
    let mut extension = Extension::None;
    let mut args = args.to_vec();
    match name.as_slice() {
        b"SEARCH" => {
            if starts_with_word(&args, b"RETURN") {
                let open = 7; // "RETURN "
                let (options, after) = parenthesized(&args[open.min(args.len())..])
                    .ok_or("RETURN needs a parenthesized list")?;
                let mut ret = SearchReturn::default();
                for option in options.split(|&b| b == b' ').filter(|o| !o.is_empty()) {
                    match upper(option).as_slice() {
                        b"MIN" => ret.min = true,
                        b"MAX" => ret.max = true,
                        b"ALL" => ret.all = true,
                        b"COUNT" => ret.count = true,
                        b"SAVE" => ret.save = true,
                        _ => return Err("Unknown SEARCH RETURN option"),
                    }
                }
                // RFC 4731 §3.1: RETURN () means ALL.
                if !(ret.min || ret.max || ret.count || ret.save) {
                    ret.all = true;
                }
                args = after.trim_ascii_start().to_vec();
                extension = Extension::Search(ret);
            }
            args = replace_dollar_in_search(&args, &saved);
        }
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
    // Keep the line ending when cutting off options took it.
    if line.ends_with(b"\n") && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(rest);
    if name == b"SEARCH" {
        out = rewrite_saved_date_keys(&out, head.len())?;
    }
    Ok((out, extension))
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

/// Search keys that take arguments, and how many (RFC 9051 §6.4.4, RFC 5032, RFC 7162 §3.1.5).
fn search_key_arguments(key: &[u8], next: Option<&Token>) -> usize {
    match key.to_ascii_uppercase().as_slice() {
        b"BCC" | b"BEFORE" | b"BODY" | b"CC" | b"FROM" | b"KEYWORD" | b"LARGER" | b"ON"
        | b"SENTBEFORE" | b"SENTON" | b"SENTSINCE" | b"SINCE" | b"SMALLER" | b"SUBJECT"
        | b"TEXT" | b"TO" | b"UID" | b"UNKEYWORD" | b"OLDER" | b"YOUNGER" | b"CHARSET" => 1,
        b"HEADER" => 2,
        // `MODSEQ [entry-name entry-type-req] mod-sequence-valzer`: the entry name is quoted.
        b"MODSEQ" if next.is_some_and(|t| t.kind == Kind::Quoted) => 3,
        b"MODSEQ" => 1,
        _ => 0,
    }
}

/// Rewrites the saved-date search keys (RFC 8514 §4.2), which imap-codec does not know, into
/// keys it parses and `commands/search.rs` recognizes: `SAVEDBEFORE d` becomes
/// `(BEFORE d HEADER "<marker>" "")` (likewise ON and SINCE), so imap-codec checks the date;
/// `SAVEDATESUPPORTED` becomes `ALL`, as every mailbox here keeps save dates. Keys are told
/// apart from arguments by each key's arity, so `SUBJECT SAVEDON` is left alone.
fn rewrite_saved_date_keys(command: &[u8], from: usize) -> Result<Vec<u8>, &'static str> {
    let Some(tokens) = lexer::tokens(command, from) else {
        return Ok(command.to_vec());
    };
    let mut out = Vec::with_capacity(command.len());
    let mut copied = 0;
    let mut arguments = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        i += 1;
        if arguments > 0 {
            arguments -= 1;
            continue;
        }
        if token.kind != Kind::Atom {
            continue;
        }
        let word = command[token.start..token.end].to_ascii_uppercase();
        let replacement = match word.as_slice() {
            b"SAVEDBEFORE" | b"SAVEDON" | b"SAVEDSINCE" => {
                let date = tokens
                    .get(i)
                    .filter(|t| matches!(t.kind, Kind::Atom | Kind::Quoted))
                    .ok_or("SAVEDBEFORE, SAVEDON and SAVEDSINCE need a date")?;
                i += 1;
                let mut r = b"(".to_vec();
                r.extend_from_slice(&word[5..]);
                r.push(b' ');
                r.extend_from_slice(&command[date.start..date.end]);
                r.extend_from_slice(format!(" HEADER \"{SAVED_DATE_MARKER}\" \"\")").as_bytes());
                Some((date.end, r))
            }
            b"SAVEDATESUPPORTED" => Some((token.end, b"ALL".to_vec())),
            _ => {
                arguments = search_key_arguments(&word, tokens.get(i));
                None
            }
        };
        if let Some((end, replacement)) = replacement {
            out.extend_from_slice(&command[copied..token.start]);
            out.extend_from_slice(&replacement);
            copied = end;
        }
    }
    out.extend_from_slice(&command[copied..]);
    Ok(out)
}

/// The first line, CRLF included (or everything when there is no line feed).
fn first_line_end(command: &[u8]) -> usize {
    command
        .iter()
        .position(|&b| b == b'\n')
        .map_or(command.len(), |i| i + 1)
}

fn starts_with_word(args: &[u8], word: &[u8]) -> bool {
    args.len() > word.len()
        && args[..word.len()].eq_ignore_ascii_case(word)
        && args[word.len()] == b' '
}

/// `( ... ) rest` → the inside (nesting allowed) and the rest, if balanced on this line.
fn parenthesized(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let s = s.trim_ascii_start();
    if s.first() != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quotes = Quotes::default();
    for (i, &b) in s.iter().enumerate() {
        if quotes.inside_after(b) {
            continue;
        }
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some((s[1..i].to_vec(), &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Replaces `$` search keys (outside quoted strings) with the saved result: as UIDs after a
/// `UID` key, else as sequence numbers.
fn replace_dollar_in_search(args: &[u8], saved: &impl Fn(bool) -> String) -> Vec<u8> {
    let mut out = Vec::with_capacity(args.len());
    let mut quotes = Quotes::default();
    for (i, &b) in args.iter().enumerate() {
        if quotes.inside_after(b) {
            out.push(b);
            continue;
        }
        let standalone = b == b'$'
            && (i == 0 || matches!(args[i - 1], b' ' | b'('))
            && matches!(args.get(i + 1), None | Some(b' ' | b')' | b'\r' | b'\n'));
        if standalone {
            let after_uid = out.len() >= 4 && out[out.len() - 4..].eq_ignore_ascii_case(b"UID ");
            out.extend_from_slice(saved(after_uid).as_bytes());
            continue;
        }
        out.push(b);
    }
    out
}

/// Whether a byte is inside a quoted string (RFC 9051 §9 `quoted`, with `\` escapes).
#[derive(Default)]
struct Quotes {
    inside: bool,
    escaped: bool,
}

impl Quotes {
    /// Feeds the next byte; true when it belongs to a quoted string, its quotes included.
    fn inside_after(&mut self, b: u8) -> bool {
        if self.inside {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.inside = false,
                _ => {}
            }
            return true;
        }
        if b == b'"' {
            self.inside = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(uid: bool) -> String {
        if uid { "7,9".into() } else { "2:3".into() }
    }

    fn run(command: &[u8]) -> (String, Extension) {
        let (out, ext) = preparse(command, saved).unwrap();
        (String::from_utf8(out).unwrap(), ext)
    }

    #[test]
    fn search_return_options() {
        let (out, ext) = run(b"a UID SEARCH RETURN (MIN COUNT) SEEN\r\n");
        assert_eq!(out, "a UID SEARCH SEEN\r\n");
        assert_eq!(
            ext,
            Extension::Search(SearchReturn {
                min: true,
                count: true,
                ..Default::default()
            })
        );
        let (_, ext) = run(b"a SEARCH RETURN () ALL\r\n");
        assert!(matches!(ext, Extension::Search(r) if r.all));
        assert!(preparse(b"a SEARCH RETURN (BOGUS) ALL\r\n", saved).is_err());
    }

    #[test]
    fn dollar() {
        assert_eq!(run(b"a FETCH $ (FLAGS)\r\n").0, "a FETCH 2:3 (FLAGS)\r\n");
        assert_eq!(run(b"a UID COPY $ Trash\r\n").0, "a UID COPY 7,9 Trash\r\n");
        assert_eq!(
            run(b"a SEARCH UID $ SUBJECT \"$\" $\r\n").0,
            "a SEARCH UID 7,9 SUBJECT \"$\" 2:3\r\n"
        );
        assert_eq!(
            run(b"a FETCH 1 (BODY[])\r\n").0,
            "a FETCH 1 (BODY[])\r\n",
            "unchanged"
        );
    }

    #[test]
    fn literals_are_left_alone() {
        let command = b"a SEARCH TEXT {9}\r\nRETURN (x\r\n";
        assert_eq!(run(command).0.as_bytes(), command);
    }

    #[test]
    fn saved_date_search_keys() {
        let marker = format!("HEADER \"{SAVED_DATE_MARKER}\" \"\"");
        let (out, _) = run(b"a UID SEARCH SAVEDSINCE 1-Feb-2024 NOT SAVEDON \"2-Feb-2024\"\r\n");
        assert_eq!(
            out,
            format!(
                "a UID SEARCH (SINCE 1-Feb-2024 {marker}) NOT (ON \"2-Feb-2024\" {marker})\r\n"
            )
        );
        let (out, ext) =
            run(b"a SEARCH RETURN (COUNT) OR SAVEDATESUPPORTED SAVEDBEFORE 1-Jan-2000\r\n");
        assert_eq!(
            out,
            format!("a SEARCH OR ALL (BEFORE 1-Jan-2000 {marker})\r\n")
        );
        assert!(matches!(ext, Extension::Search(r) if r.count));
        // Arguments of other keys stay as they are, literals included.
        let command = b"a SEARCH SUBJECT SAVEDON HEADER SAVEDON SAVEDSINCE TEXT {7}\r\nSAVEDON\r\n";
        assert_eq!(run(command).0.as_bytes(), command);
        let (out, _) = run(b"a SEARCH CHARSET UTF-8 TEXT {3}\r\nabc SAVEDON 1-Jan-2024\r\n");
        assert_eq!(
            out,
            format!("a SEARCH CHARSET UTF-8 TEXT {{3}}\r\nabc (ON 1-Jan-2024 {marker})\r\n")
        );
        assert!(preparse(b"a SEARCH SAVEDON\r\n", saved).is_err());
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
