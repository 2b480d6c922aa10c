//! Command syntax of the extensions imap-codec 2.0.0-alpha.10 does not parse, taken off the
//! command before imap-codec sees the rest (DESIGN.md §5a says to fill these in around it):
//!
//! - `SEARCH RETURN (MIN MAX ALL COUNT SAVE)` (RFC 4731 ESEARCH, RFC 5182 SEARCHRES);
//! - `$`, the saved search result, as a sequence set (RFC 5182 §2.1);
//! - LIST selection options `LIST (SUBSCRIBED SPECIAL-USE RECURSIVEMATCH) ...` and return
//!   options `RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (...))` (RFC 5258, RFC 5819,
//!   RFC 6154 §5.1);
//! - `CREATE name (USE (\Sent))` (RFC 6154 §5.2 CREATE-SPECIAL-USE).
//!
//! Only the first line of a command (before any literal) is rewritten, and only at positions
//! where the extension's grammar puts its syntax, so literal data is never touched.

/// ESEARCH return options (RFC 4731 §3.1, RFC 5182 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

/// LIST-EXTENDED options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Selection: only subscribed names (RFC 5258 §3.1).
    pub select_subscribed: bool,
    /// Selection: only names with a special use (RFC 6154 §5.1).
    pub select_special_use: bool,
    /// Return the \Subscribed attribute.
    pub return_subscribed: bool,
    /// STATUS items to return for each name (RFC 5819), as written by the client.
    pub status: Option<String>,
}

/// What was taken off a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    None,
    Search(SearchReturn),
    List(ListOptions),
    CreateSpecialUse(String),
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
        }
        b"LIST" if !is_uid => {
            let mut options = ListOptions::default();
            let mut extended = false;
            if args.first() == Some(&b'(') {
                let (selection, after) =
                    parenthesized(&args).ok_or("Unterminated LIST selection options")?;
                for option in selection.split(|&b| b == b' ').filter(|o| !o.is_empty()) {
                    match upper(option).as_slice() {
                        b"SUBSCRIBED" => {
                            options.select_subscribed = true;
                            options.return_subscribed = true;
                        }
                        b"SPECIAL-USE" => options.select_special_use = true,
                        // Our hierarchy is complete, so every match is already reported.
                        b"RECURSIVEMATCH" | b"REMOTE" => {}
                        _ => return Err("Unknown LIST selection option"),
                    }
                }
                args = after.trim_ascii_start().to_vec();
                extended = true;
            }
            if let Some(at) = find_return(&args) {
                let (returns, _) =
                    parenthesized(&args[at + 8..]).ok_or("Unterminated LIST RETURN options")?;
                parse_list_returns(&returns, &mut options)?;
                args.truncate(at);
                extended = true;
            }
            if extended {
                extension = Extension::List(options);
            }
        }
        b"CREATE" if !is_uid => {
            if let Some(at) = find_use(&args) {
                let (uses, _) = parenthesized(&args[at + 1..]).ok_or("Unterminated USE")?;
                let uses = String::from_utf8_lossy(&uses).to_string();
                let inner = uses
                    .trim()
                    .strip_prefix("USE")
                    .or_else(|| uses.trim().strip_prefix("use"))
                    .ok_or("Unknown CREATE parameter")?
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .trim()
                    .to_string();
                args.truncate(at);
                extension = Extension::CreateSpecialUse(inner);
            }
        }
        _ => {}
    }
    let mut out = head.to_vec();
    out.extend_from_slice(&args);
    // Keep the line ending when cutting off options took it.
    if line.ends_with(b"\n") && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(rest);
    Ok((out, extension))
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

/// Offset of ` RETURN (` outside quoted strings.
fn find_return(args: &[u8]) -> Option<usize> {
    find_outside_quotes(args, b" RETURN (")
}

/// Offset of ` (USE ` outside quoted strings.
fn find_use(args: &[u8]) -> Option<usize> {
    find_outside_quotes(args, b" (USE ")
}

fn find_outside_quotes(args: &[u8], needle: &[u8]) -> Option<usize> {
    let mut quotes = Quotes::default();
    for i in 0..args.len() {
        if quotes.inside_after(args[i]) {
            continue;
        }
        if args.len() - i >= needle.len() && args[i..i + needle.len()].eq_ignore_ascii_case(needle)
        {
            return Some(i);
        }
    }
    None
}

fn parse_list_returns(returns: &[u8], options: &mut ListOptions) -> Result<(), &'static str> {
    let mut rest = returns.trim_ascii();
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'(')
            .unwrap_or(rest.len());
        let word = rest[..end].to_ascii_uppercase();
        rest = rest[end..].trim_ascii_start();
        match word.as_slice() {
            b"SUBSCRIBED" => options.return_subscribed = true,
            // Always returned: \HasChildren / \HasNoChildren and special-use attributes.
            b"CHILDREN" | b"SPECIAL-USE" => {}
            b"STATUS" => {
                let (items, after) = parenthesized(rest).ok_or("STATUS needs a list")?;
                options.status = Some(String::from_utf8_lossy(&items).into_owned());
                rest = after.trim_ascii_start();
            }
            _ => return Err("Unknown LIST RETURN option"),
        }
    }
    Ok(())
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
    fn list_extended() {
        let (out, ext) =
            run(b"a LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n");
        assert_eq!(out, "a LIST \"\" \"*\"\r\n");
        assert_eq!(
            ext,
            Extension::List(ListOptions {
                select_subscribed: true,
                select_special_use: false,
                return_subscribed: true,
                status: Some("MESSAGES UNSEEN".into()),
            })
        );
        let (out, ext) = run(b"a LIST \"\" \"a RETURN (x)\"\r\n");
        assert_eq!(out, "a LIST \"\" \"a RETURN (x)\"\r\n");
        assert_eq!(ext, Extension::None);
    }

    #[test]
    fn create_special_use() {
        let (out, ext) = run(b"a CREATE MySent (USE (\\Sent))\r\n");
        assert_eq!(out, "a CREATE MySent\r\n");
        assert_eq!(ext, Extension::CreateSpecialUse("\\Sent".into()));
    }

    #[test]
    fn literals_are_left_alone() {
        let command = b"a APPEND INBOX {5}\r\nRETURN (\r\n";
        assert_eq!(run(command).0.as_bytes(), command);
    }
}
