//! Encoding of response data (RFC 9051 §9 formal syntax): strings, lists, flags.
//!
//! imap-codec parses every command; responses are written here because the extensions Tern
//! needs (ESEARCH, LIST-STATUS, VANISHED, our own BODYSTRUCTURE from stored offsets) are not all
//! in imap-types, and the data is written straight into the output buffer without building an
//! intermediate tree per message.

use tern_store::Flags;

use crate::view::View;

/// Appends `s` as an IMAP string: quoted when it is short and safe, else a literal.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    // memchr: a FETCH ENVELOPE of a large mailbox checks millions of strings.
    let quotable = s.len() <= 1024 && memchr::memchr3(b'\r', b'\n', 0, s).is_none();
    if quotable {
        out.push(b'"');
        if memchr::memchr2(b'"', b'\\', s).is_some() {
            for &b in s {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
        } else {
            // The usual case (a subject, an address): copied whole.
            out.extend_from_slice(s);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Appends a literal (RFC 9051 §4.3).
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Appends an nstring: NIL or a string.
pub fn nstring(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s.as_bytes()),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends `s` as an atom when it is one (RFC 9051 §9 `atom`), else as a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    let is_atom = !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b));
    if is_atom {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// The flags of a message as a parenthesized list, with `\Recent` first when given.
pub fn flag_list(out: &mut Vec<u8>, flags: Flags, keywords: &[String], recent: bool) {
    out.push(b'(');
    let mut first = true;
    let mut item = |out: &mut Vec<u8>, s: &str| {
        if !std::mem::take(&mut first) {
            out.push(b' ');
        }
        out.extend_from_slice(s.as_bytes());
    };
    if recent {
        item(out, "\\Recent");
    }
    for name in flags.names() {
        item(out, name);
    }
    for keyword in keywords {
        item(out, keyword);
    }
    out.push(b')');
}

/// `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]`: the flags of the selected mailbox, at
/// SELECT and whenever its keywords grow (RFC 9051 §7.3.5, §7.1). A read-only mailbox has no
/// permanent flags.
pub fn flags_announcement(out: &mut Vec<u8>, keywords: &[String], read_only: bool) {
    const SYSTEM: &[u8] = b"\\Answered \\Flagged \\Deleted \\Seen \\Draft";
    let mut list = SYSTEM.to_vec();
    for keyword in keywords {
        list.push(b' ');
        list.extend_from_slice(keyword.as_bytes());
    }
    out.extend_from_slice(b"* FLAGS (");
    out.extend_from_slice(&list);
    out.extend_from_slice(b")\r\n* OK [PERMANENTFLAGS (");
    if !read_only {
        out.extend_from_slice(&list);
        out.extend_from_slice(b" \\*");
    }
    out.extend_from_slice(b")] Limited\r\n");
}

/// `* n FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])` for the view's message at `index`: a flag
/// change, solicited or not.
pub fn fetch_flags(out: &mut Vec<u8>, view: &View, index: usize, uid: bool, modseq: bool) {
    let Some(meta) = view.messages.get(index) else {
        return;
    };
    out.extend_from_slice(format!("* {} FETCH (", index + 1).as_bytes());
    if uid {
        out.extend_from_slice(format!("UID {} ", meta.uid).as_bytes());
    }
    out.extend_from_slice(b"FLAGS ");
    flag_list(
        out,
        meta.flags,
        &meta.keywords,
        view.recent.contains(meta.uid),
    );
    if modseq {
        out.extend_from_slice(format!(" MODSEQ ({})", meta.modseq).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

/// A set of numbers in the compact sequence-set form `1:3,7,9:10` (ascending input).
pub fn sequence_set(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn flags_announcement_lists_the_keywords_and_permanent_flags() {
        let keywords = ["$Work".to_string(), "NIL".to_string()];
        assert_eq!(
            enc(|o| flags_announcement(o, &keywords, false)),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work NIL)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work NIL \\*)] \
             Limited\r\n"
        );
        assert!(
            enc(|o| flags_announcement(o, &[], true))
                .ends_with("* OK [PERMANENTFLAGS ()] Limited\r\n")
        );
    }

    #[test]
    fn strings() {
        assert_eq!(enc(|o| string(o, b"a \"b\" \\")), r#""a \"b\" \\""#);
        assert_eq!(enc(|o| string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(enc(|o| nstring(o, None)), "NIL");
        assert_eq!(enc(|o| astring(o, b"INBOX")), "INBOX");
        assert_eq!(enc(|o| astring(o, b"a b")), "\"a b\"");
        assert_eq!(enc(|o| astring(o, b"")), "\"\"");
    }

    #[test]
    fn flags() {
        assert_eq!(
            enc(|o| flag_list(
                o,
                Flags::SEEN.union(Flags::DELETED),
                &["$Junk".into()],
                true
            )),
            "(\\Recent \\Seen \\Deleted $Junk)"
        );
        assert_eq!(enc(|o| flag_list(o, Flags::NONE, &[], false)), "()");
    }

    #[test]
    fn sets() {
        assert_eq!(sequence_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(sequence_set(&[5]), "5");
        assert_eq!(sequence_set(&[]), "");
    }
}
