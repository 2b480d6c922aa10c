//! Raw header blocks: where a header ends, its fields, unfolding, and HEADER.FIELDS.
//!
//! These work on the raw bytes (not on mail-parser's decoded values) because IMAP hands header
//! fields out byte for byte and ENVELOPE wants values as they were written.

use std::borrow::Cow;

/// One header field as it appears in the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawField<'a> {
    /// The field name, without the WSP that obsolete syntax allows before the colon
    /// (RFC 5322 §4.5.3). Empty for garbage lines that come before any field.
    pub name: &'a [u8],
    /// Everything after the colon up to the field's final line break, folds included.
    pub value: &'a [u8],
    /// The whole field, including continuation lines and the final line break (if any).
    pub raw: &'a [u8],
}

/// Where the body starts for a header that starts at `start`: just after the first empty line
/// (RFC 5322 §2.1: header fields, an empty line, then the body), or `end` when there is none.
pub(crate) fn header_end(raw: &[u8], start: usize, end: usize) -> usize {
    let end = end.min(raw.len());
    let mut line = start.min(end);
    while line < end {
        let rest = &raw[line..end];
        if rest.starts_with(b"\r\n") {
            return line + 2;
        }
        if rest.starts_with(b"\n") {
            return line + 1;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => line += newline + 1,
            None => return end,
        }
    }
    end
}

/// The fields of a header block, stopping at the empty line that ends it.
pub(crate) fn fields(header: &[u8]) -> Vec<RawField<'_>> {
    let mut fields = Vec::new();
    let mut field_start: Option<usize> = None;
    let mut line = 0;
    while line < header.len() {
        let rest = &header[line..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            break;
        }
        let line_end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |newline| line + newline + 1);
        // RFC 5322 §2.2.3: a line starting with WSP continues the previous field.
        let continues = matches!(rest.first(), Some(b' ' | b'\t'));
        if !continues || field_start.is_none() {
            if let Some(start) = field_start {
                fields.push(split_field(&header[start..line]));
            }
            field_start = Some(line);
        }
        line = line_end;
    }
    if let Some(start) = field_start {
        fields.push(split_field(&header[start..line]));
    }
    fields
}

fn split_field(raw: &[u8]) -> RawField<'_> {
    let without_break = strip_line_break(raw);
    match without_break.iter().position(|&b| b == b':') {
        Some(colon) => RawField {
            name: trim_wsp_end(&without_break[..colon]),
            value: &without_break[colon + 1..],
            raw,
        },
        // A line without a colon is not a field (RFC 5322 §3.6.8); keep it so that
        // HEADER.FIELDS.NOT still returns every byte it did not filter out.
        None => RawField {
            name: b"",
            value: b"",
            raw,
        },
    }
}

fn strip_line_break(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn trim_wsp_end(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The header block with a final line break, which mail-parser needs to read its last field.
pub(crate) fn terminated(header: &[u8]) -> Cow<'_, [u8]> {
    if header.is_empty() || header.ends_with(b"\n") {
        Cow::Borrowed(header)
    } else {
        Cow::Owned([header, b"\r\n"].concat())
    }
}

/// The first field named `name` (case-insensitive).
pub(crate) fn first<'a>(fields: &[RawField<'a>], name: &str) -> Option<RawField<'a>> {
    fields
        .iter()
        .find(|field| field.name.eq_ignore_ascii_case(name.as_bytes()))
        .copied()
}

/// A field value unfolded (RFC 5322 §2.2.3: a line break followed by WSP is removed, the WSP
/// kept) and trimmed; bytes that are not UTF-8 are replaced, since ENVELOPE strings are text.
pub(crate) fn unfold(value: &[u8]) -> String {
    let mut unfolded = Vec::with_capacity(value.len());
    let mut index = 0;
    while index < value.len() {
        match value[index] {
            b'\r' if value.get(index + 1) == Some(&b'\n') => index += 2,
            b'\n' => index += 1,
            byte => {
                unfolded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&unfolded)
        .trim_matches([' ', '\t'])
        .to_owned()
}

/// RFC 9051 §6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT: the fields of `header` whose names are
/// (or, with `not`, are not) in `names` (case-insensitive), in their original order and with
/// their continuation lines, followed by the empty line CRLF.
pub fn header_fields(header: &[u8], names: &[&str], not: bool) -> Vec<u8> {
    let mut selected = Vec::new();
    for field in fields(header) {
        let listed = names
            .iter()
            .any(|name| !field.name.is_empty() && field.name.eq_ignore_ascii_case(name.as_bytes()));
        if listed != not {
            selected.extend_from_slice(field.raw);
            // A last field cut off without its line break still needs one before the empty line.
            if !field.raw.ends_with(b"\n") {
                selected.extend_from_slice(b"\r\n");
            }
        }
    }
    selected.extend_from_slice(b"\r\n");
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"Subject: a long\r\n subject\r\nFrom: a@example.org\r\nX-Folded: one\r\n\ttwo\r\n three\r\nTo: b@example.org\r\n\r\n";

    #[test]
    fn header_end_finds_the_empty_line() {
        let raw = b"A: 1\r\nB: 2\r\n\r\nbody";
        assert_eq!(header_end(raw, 0, raw.len()), 14);
        let lf = b"A: 1\nB: 2\n\nbody";
        assert_eq!(header_end(lf, 0, lf.len()), 11);
        let no_body = b"A: 1\r\nB: 2";
        assert_eq!(header_end(no_body, 0, no_body.len()), no_body.len());
        let empty_header = b"\r\nbody";
        assert_eq!(header_end(empty_header, 0, empty_header.len()), 2);
        // Bounded by `end`, not by the slice.
        assert_eq!(header_end(raw, 0, 8), 8);
    }

    #[test]
    fn fields_keep_continuation_lines() {
        let fields = fields(HEADER);
        let names: Vec<&[u8]> = fields.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [&b"Subject"[..], b"From", b"X-Folded", b"To"].to_vec()
        );
        assert_eq!(fields[2].raw, b"X-Folded: one\r\n\ttwo\r\n three\r\n");
        assert_eq!(unfold(fields[0].value), "a long subject");
        assert_eq!(unfold(fields[2].value), "one\ttwo three");
    }

    #[test]
    fn header_fields_selects_in_order_with_folds() {
        let selected = header_fields(HEADER, &["to", "SUBJECT"], false);
        assert_eq!(
            selected,
            b"Subject: a long\r\n subject\r\nTo: b@example.org\r\n\r\n"
        );
    }

    #[test]
    fn header_fields_not_keeps_the_others() {
        let selected = header_fields(HEADER, &["subject", "to"], true);
        assert_eq!(
            selected,
            b"From: a@example.org\r\nX-Folded: one\r\n\ttwo\r\n three\r\n\r\n"
        );
    }

    #[test]
    fn header_fields_with_no_match_is_just_the_empty_line() {
        assert_eq!(header_fields(HEADER, &["cc"], false), b"\r\n");
        assert_eq!(header_fields(b"", &["cc"], true), b"\r\n");
    }

    #[test]
    fn header_fields_terminates_a_cut_off_last_field() {
        assert_eq!(
            header_fields(b"A: 1\r\nB: 2", &["b"], false),
            b"B: 2\r\n\r\n"
        );
    }

    #[test]
    fn obsolete_space_before_colon_still_names_the_field() {
        let fields = fields(b"Subject : hi\r\n\r\n");
        assert_eq!(fields[0].name, b"Subject");
        assert_eq!(unfold(fields[0].value), "hi");
    }
}
