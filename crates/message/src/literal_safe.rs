//! Message bytes an IMAP literal may carry. A literal holds no NUL (RFC 9051 §4.3, `CHAR8`);
//! only BINARY's literal8 may (RFC 3516 §4.2). A message appended with `~{n}` can have parts
//! whose bodies hold NUL (`Content-Transfer-Encoding: binary`); BODY[...] serves those parts
//! re-encoded as base64, with their Content-Transfer-Encoding field rewritten to match, as
//! Dovecot does. BINARY[...] still serves the exact bytes.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::decode::decode_transfer_encoding;
use crate::structure::{Part, PartKind};

/// Base64 lines are at most 76 characters (RFC 2045 §6.8).
const LINE: usize = 76;

/// The size of a leaf's body once re-encoded as base64, for BODYSTRUCTURE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reencoded {
    pub octets: u64,
    pub lines: u64,
}

impl Reencoded {
    /// Some when `body` holds NUL and so is served re-encoded.
    pub(crate) fn of(encoding: &str, body: &[u8]) -> Option<Reencoded> {
        if !body.contains(&0) {
            return None;
        }
        // The size base64_lines would give, without encoding: 4 characters per 3 bytes, in
        // lines of LINE joined by CRLF.
        let characters = content(encoding, body).len().div_ceil(3) * 4;
        let lines = characters.div_ceil(LINE).max(1);
        Some(Reencoded {
            octets: (characters + 2 * (lines - 1)) as u64,
            lines: lines as u64,
        })
    }
}

/// What a body holds once its transfer encoding is undone; as it is when it cannot be.
fn content<'b>(encoding: &str, body: &'b [u8]) -> Cow<'b, [u8]> {
    decode_transfer_encoding(encoding, body).map_or(Cow::Borrowed(body), Cow::Owned)
}

/// `content` as base64 in lines of [`LINE`] characters joined by CRLF, with no final line break
/// (the one before the next boundary belongs to the boundary, RFC 2046 §5.1.1).
fn base64_lines(content: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / LINE * 2);
    for (i, line) in encoded.as_bytes().chunks(LINE).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

/// True when `span` of the message holds a header or body that [`literal_safe`] changes: only
/// then must the span be read and rewritten; otherwise its bytes can go out as they are.
pub fn needs_literal_safe(root: &Part, span: Range<u64>) -> bool {
    let mut leaves = Vec::new();
    reencoded_leaves(root, &mut leaves);
    leaves.iter().any(|leaf| {
        let inside = |start: u64, end: u64| span.start <= start && end <= span.end;
        (leaf.header_start < leaf.body_start && inside(leaf.header_start, leaf.body_start))
            || inside(leaf.body_start, leaf.body_end)
    })
}

/// `data`, the bytes of `span` of a message whose tree is `root`, with every re-encoded leaf in
/// it (see [`Part::reencoded`]) served as base64: a body wholly inside the span is replaced by
/// its base64 form, a header wholly inside it gets `Content-Transfer-Encoding: base64`.
/// Borrowed when nothing in the span needs it.
pub fn literal_safe<'d>(root: &Part, data: &'d [u8], span: Range<u64>) -> Cow<'d, [u8]> {
    let mut leaves = Vec::new();
    reencoded_leaves(root, &mut leaves);
    // Offsets in the message, made relative to `data`.
    let local = |offset: u64| -> Option<usize> {
        let relative = usize::try_from(offset.checked_sub(span.start)?).ok()?;
        (offset <= span.end && relative <= data.len()).then_some(relative)
    };
    // Replacements in offset order: (range in data, new bytes).
    let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    for leaf in leaves {
        let (header_start, body_start, body_end) = (
            local(leaf.header_start),
            local(leaf.body_start),
            local(leaf.body_end),
        );
        if let (Some(start), Some(end)) = (header_start, body_start)
            && start < end
        {
            edits.push((start..end, with_base64_encoding(&data[start..end])));
        }
        if let (Some(start), Some(end)) = (body_start, body_end) {
            let content = content(&leaf.encoding, &data[start..end]);
            edits.push((start..end, base64_lines(&content)));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(data);
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = Vec::with_capacity(data.len() * 4 / 3 + 64);
    let mut copied = 0;
    for (range, bytes) in edits {
        if range.start < copied {
            continue; // overlapping edits cannot come from one tree; skip rather than guess
        }
        out.extend_from_slice(&data[copied..range.start]);
        out.extend_from_slice(&bytes);
        copied = range.end;
    }
    out.extend_from_slice(&data[copied..]);
    Cow::Owned(out)
}

/// Every leaf of the tree that is served re-encoded.
fn reencoded_leaves<'p>(part: &'p Part, out: &mut Vec<&'p Part>) {
    match &part.kind {
        PartKind::Leaf if part.reencoded.is_some() => out.push(part),
        PartKind::Leaf => {}
        PartKind::Multipart(children) => {
            for child in children {
                reencoded_leaves(child, out);
            }
        }
        PartKind::Message { body, .. } => reencoded_leaves(body, out),
    }
}

/// A header block (ending with its empty line) with its Content-Transfer-Encoding field, folded
/// lines and all, replaced by `Content-Transfer-Encoding: base64`.
fn with_base64_encoding(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 40);
    let mut skipping = false;
    let mut lines = header.split_inclusive(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let folded = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
        if folded && skipping {
            continue;
        }
        skipping = is_field(line, b"content-transfer-encoding");
        if skipping {
            continue;
        }
        let blank = line == b"\r\n" || line == b"\n";
        if blank && lines.peek().is_none() {
            out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
        }
        out.extend_from_slice(line);
    }
    out
}

fn is_field(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name)
        && line[name.len()..].trim_ascii_start().starts_with(b":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINARY: &[u8] = b"\x00\x01 binary\x00";

    fn message() -> Vec<u8> {
        let mut raw = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding:\r\n binary\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(BINARY);
        raw.extend_from_slice(b"\r\n--b--\r\n");
        raw
    }

    #[test]
    fn a_leaf_with_nul_is_served_as_base64_everywhere_in_the_span() {
        let raw = message();
        let root = crate::parse(&raw).summary.structure;
        let leaf = root.section(&[2]).unwrap();
        let size = leaf.reencoded.expect("the binary part is re-encoded");
        assert!(root.section(&[1]).unwrap().reencoded.is_none());
        let whole = 0..raw.len() as u64;
        assert!(needs_literal_safe(&root, whole.clone()));
        let safe = literal_safe(&root, &raw, whole);
        assert!(!safe.contains(&0));
        let text = String::from_utf8(safe.into_owned()).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode(BINARY);
        assert!(text.contains(&format!(
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--"
        )), "{text}");
        assert!(!text.contains("binary\r\n"), "{text}");
        assert_eq!(size.octets, encoded.len() as u64);
        assert_eq!(size.lines, 1);
        // The part's own body alone.
        let body = &raw[leaf.body_start as usize..leaf.body_end as usize];
        let span = leaf.body_start..leaf.body_end;
        assert_eq!(literal_safe(&root, body, span).as_ref(), encoded.as_bytes());
    }

    #[test]
    fn spans_without_nul_are_borrowed() {
        let raw = message();
        let root = crate::parse(&raw).summary.structure;
        let first = root.section(&[1]).unwrap();
        let span = first.body_start..first.body_end;
        assert!(!needs_literal_safe(&root, span.clone()));
        let body = &raw[span.start as usize..span.end as usize];
        assert!(matches!(
            literal_safe(&root, body, span),
            Cow::Borrowed(b"hi")
        ));
        // The binary part's MIME header alone says base64 too, as its body is served so.
        let second = root.section(&[2]).unwrap();
        let span = second.header_start..second.body_start;
        assert!(needs_literal_safe(&root, span.clone()));
        let header = &raw[span.start as usize..span.end as usize];
        let safe = literal_safe(&root, header, span);
        assert!(
            safe.ends_with(b"octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"),
            "{}",
            String::from_utf8_lossy(&safe)
        );
    }

    #[test]
    fn the_size_given_is_the_size_served() {
        for n in [1, 2, 3, 56, 57, 58, 114, 1000] {
            let body = vec![0u8; n];
            let size = Reencoded::of("binary", &body).unwrap();
            let served = base64_lines(&body);
            assert_eq!(size.octets, served.len() as u64, "{n} bytes");
            assert_eq!(
                size.lines,
                served.split(|&b| b == b'\n').count() as u64,
                "{n} bytes"
            );
        }
    }

    #[test]
    fn long_content_is_cut_into_76_character_lines() {
        let lines = base64_lines(&[0u8; 200]);
        let lines: Vec<&[u8]> = lines.split(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), LINE + 1, "76 characters and the CR");
        assert!(!lines[3].ends_with(b"\r"));
    }
}
