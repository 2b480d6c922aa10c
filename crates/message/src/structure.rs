//! The MIME tree of a message with exact byte offsets (for IMAP BODYSTRUCTURE and BODY[section]).
//!
//! The tree walk is ours, bounded by [`MAX_DEPTH`] and [`MAX_PARTS`]; mail-parser reads each
//! part's header fields (Content-Type and Content-Disposition with RFC 2231 parameters). We do
//! not run mail-parser's whole-message parser on stored mail: a 130 KB message holding a base64
//! message/rfc822 part with a few thousand nested message/rfc822 parts overflows its stack
//! (an abort, which no `catch_unwind` can stop), and every nested level copies the decoded buffer.

use mail_parser::{ContentType, Header, HeaderName, HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::header::{fields, first, header_end, terminated, unfold};
use crate::literal_safe::Reencoded;

/// Parts nested deeper than this are treated as opaque single parts. It bounds recursion here
/// and in the IMAP layer, and keeps the serialized summary within serde_json's default
/// recursion limit of 128.
pub const MAX_DEPTH: usize = 24;

/// At most this many parts are structured; past it, a multipart's remaining body is one part
/// (like Dovecot's `mail_max_mime_parts`), so a message of empty parts cannot balloon.
pub const MAX_PARTS: usize = 10_000;

/// One MIME part, with byte offsets into the raw message.
///
/// `raw[header_start..body_start]` is the part's MIME header (for a message, the message header
/// including the empty line); `raw[body_start..body_end]` its body, without the line break that
/// precedes the next boundary (RFC 2046 §5.1.1: that line break belongs to the boundary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub header_start: u64,
    pub body_start: u64,
    pub body_end: u64,
    /// Lowercase; `text` when Content-Type is absent or invalid (RFC 2045 §5.2).
    pub media_type: String,
    /// Lowercase; `plain` by default, `rfc822` inside multipart/digest (RFC 2046 §5.1.5).
    pub media_subtype: String,
    /// Content-Type parameters, names lowercase, values with RFC 2231 continuations and
    /// charsets already decoded (so possibly non-ASCII).
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Content-Transfer-Encoding, lowercase, `7bit` by default (RFC 2045 §6.1).
    pub encoding: String,
    /// Size of the encoded body in bytes.
    pub body_octets: u64,
    /// Lines of the encoded body (a last line without a line break counts).
    pub body_lines: u64,
    pub md5: Option<String>,
    /// Content-Disposition type (lowercase) and parameters (RFC 2183).
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Set on a leaf whose body holds NUL, which no IMAP literal may carry (RFC 9051 §4.3):
    /// BODY[...] serves it re-encoded as base64 (see [`crate::literal_safe`]), and
    /// BODYSTRUCTURE describes that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reencoded: Option<Reencoded>,
    pub kind: PartKind,
}

/// What a part contains.
///
/// A `Leaf` is never of type multipart/* or message/rfc822|global: a container that could not
/// be structured (no boundary, no boundary line, too deep, too many parts, or a message with a
/// base64 or quoted-printable encoding, which RFC 2046 §5.2.1 forbids) is reported as
/// text/plain without parameters, so BODYSTRUCTURE stays well-formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartKind {
    Leaf,
    /// The children in order; never empty.
    Multipart(Vec<Part>),
    /// message/rfc822 or message/global (RFC 6532 §3.5): the encapsulated message's envelope and
    /// its root part (whose header is the encapsulated message's header).
    Message {
        envelope: Box<Envelope>,
        body: Box<Part>,
    },
}

impl Part {
    /// IMAP section numbering (RFC 9051 §6.4.5), treating `self` as a message: `path` like
    /// `[1, 2]`; the empty path is the whole message. For a non-multipart message, part 1 is its
    /// body. For a message/rfc822 part, its sub-parts number as the encapsulated message's do.
    pub fn section(&self, path: &[u32]) -> Option<&Part> {
        let Some((&number, rest)) = path.split_first() else {
            return Some(self);
        };
        let part = match &self.kind {
            PartKind::Multipart(children) => child(children, number)?,
            PartKind::Leaf | PartKind::Message { .. } if number == 1 => self,
            PartKind::Leaf | PartKind::Message { .. } => return None,
        };
        part.descend(rest)
    }

    /// Sub-part `path` of this part, where `self` is already the part a section number named.
    fn descend(&self, path: &[u32]) -> Option<&Part> {
        let Some((&number, rest)) = path.split_first() else {
            return Some(self);
        };
        match &self.kind {
            PartKind::Multipart(children) => child(children, number)?.descend(rest),
            PartKind::Message { body, .. } => body.section(path),
            PartKind::Leaf => None,
        }
    }

    /// This part's header block in `raw` (empty if `raw` is not the message it was parsed from).
    pub fn header_in<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        slice(raw, self.header_start, self.body_start)
    }

    /// This part's (still encoded) body in `raw` (empty if `raw` is not its message).
    pub fn body_in<'r>(&self, raw: &'r [u8]) -> &'r [u8] {
        slice(raw, self.body_start, self.body_end)
    }

    /// Whether the body is stored as it is meant (7bit, 8bit, binary: RFC 2045 §6.2), so that
    /// undoing its transfer encoding changes nothing.
    pub fn has_identity_encoding(&self) -> bool {
        is_identity_encoding(&self.encoding)
    }

    /// Whether a leaf at or below this part holds NUL (see [`Part::reencoded`]).
    pub fn holds_nul(&self) -> bool {
        match &self.kind {
            PartKind::Leaf => self.reencoded.is_some(),
            PartKind::Multipart(children) => children.iter().any(Part::holds_nul),
            PartKind::Message { body, .. } => body.holds_nul(),
        }
    }

    /// The value of Content-Type parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn child(children: &[Part], number: u32) -> Option<&Part> {
    let index = usize::try_from(number).ok()?.checked_sub(1)?;
    children.get(index)
}

fn slice(raw: &[u8], start: u64, end: u64) -> &[u8] {
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return &[];
    };
    raw.get(start..end).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultType {
    TextPlain,
    /// RFC 2046 §5.1.5: in multipart/digest the default is message/rfc822.
    MessageRfc822,
}

/// Builds the MIME tree of `raw` with its root covering the whole message.
pub(crate) fn structure(raw: &[u8]) -> Part {
    let mut walker = Walker {
        raw,
        mime_parser: MessageParser::new()
            .with_mime_headers()
            .default_header_ignore(),
        parts_left: MAX_PARTS,
    };
    walker.part(0, raw.len(), 0, DefaultType::TextPlain)
}

struct Walker<'a> {
    raw: &'a [u8],
    mime_parser: MessageParser,
    parts_left: usize,
}

impl Walker<'_> {
    /// The part whose header starts at `start` and whose body ends at `end`, at nesting `depth`.
    fn part(&mut self, start: usize, end: usize, depth: usize, default: DefaultType) -> Part {
        self.parts_left = self.parts_left.saturating_sub(1);
        let raw = self.raw;
        let body_start = header_end(raw, start, end);
        let header = &raw[start..body_start];
        let body = &raw[body_start..end];
        let mut part = self.leaf(header, default);
        part.header_start = to_u64(start);
        part.body_start = to_u64(body_start);
        part.body_end = to_u64(end);
        part.body_octets = to_u64(body.len());
        part.body_lines = count_lines(body);

        let may_nest = depth < MAX_DEPTH && self.parts_left > 0;
        match (part.media_type.as_str(), part.media_subtype.as_str()) {
            ("multipart", subtype) => {
                let child_default = if subtype == "digest" {
                    DefaultType::MessageRfc822
                } else {
                    DefaultType::TextPlain
                };
                let children = match part.param("boundary") {
                    Some(boundary) if may_nest && !boundary.is_empty() => {
                        let ranges = child_ranges(raw, body_start, end, boundary.as_bytes());
                        self.children(&ranges, depth + 1, child_default)
                    }
                    _ => Vec::new(),
                };
                if children.is_empty() {
                    demote(&mut part);
                } else {
                    part.kind = PartKind::Multipart(children);
                }
            }
            ("message", "rfc822" | "global") => {
                // RFC 2046 §5.2.1: a message is never base64 or quoted-printable encoded; one
                // that is anyway has no offsets we could give, so it stays opaque.
                if may_nest && is_identity_encoding(&part.encoding) {
                    let body = self.part(body_start, end, depth + 1, DefaultType::TextPlain);
                    let envelope = Envelope::from_header(body.header_in(raw));
                    part.kind = PartKind::Message {
                        envelope: Box::new(envelope),
                        body: Box::new(body),
                    };
                } else {
                    demote(&mut part);
                }
            }
            _ => {}
        }
        if part.kind == PartKind::Leaf {
            part.reencoded = Reencoded::of(&part.encoding, body);
        }
        part
    }

    fn children(
        &mut self,
        ranges: &[(usize, usize)],
        depth: usize,
        default: DefaultType,
    ) -> Vec<Part> {
        let mut children = Vec::with_capacity(ranges.len().min(64));
        let mut index = 0;
        while let Some(&(start, mut end)) = ranges.get(index) {
            index += 1;
            if self.parts_left <= 1 && index < ranges.len() {
                // Out of parts: the rest of the multipart's body becomes its last part.
                end = ranges.last().map_or(end, |&(_, last_end)| last_end);
                index = ranges.len();
            }
            children.push(self.part(start, end, depth, default));
        }
        children
    }

    /// The part's fields from its header, as a leaf without offsets yet.
    fn leaf(&self, header: &[u8], default: DefaultType) -> Part {
        let raw_fields = fields(header);
        let text = |name: &str| first(&raw_fields, name).map(|field| unfold(field.value));
        let block = terminated(header);
        let parsed = self.mime_parser.parse_headers(block.as_ref());
        let parsed_headers: &[Header<'_>] = parsed
            .as_ref()
            .and_then(|message| message.parts.first())
            .map_or(&[], |part| part.headers.as_slice());
        let content_type = first_content_type(parsed_headers, &HeaderName::ContentType);

        let (media_type, media_subtype, params) = match content_type {
            Some(content_type) => (
                content_type.ctype().to_ascii_lowercase(),
                content_type
                    .subtype()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                attributes(content_type),
            ),
            None if first(&raw_fields, "Content-Type").is_none()
                && default == DefaultType::MessageRfc822 =>
            {
                ("message".into(), "rfc822".into(), Vec::new())
            }
            // RFC 2045 §5.2: no or an invalid Content-Type means text/plain; charset=us-ascii.
            None => (
                "text".into(),
                "plain".into(),
                vec![("charset".into(), "us-ascii".into())],
            ),
        };
        let disposition = first_content_type(parsed_headers, &HeaderName::ContentDisposition).map(
            |disposition| {
                (
                    disposition.ctype().to_ascii_lowercase(),
                    attributes(disposition),
                )
            },
        );
        let encoding = text("Content-Transfer-Encoding")
            .map(|encoding| encoding.to_ascii_lowercase())
            .filter(|encoding| !encoding.is_empty())
            .unwrap_or_else(|| "7bit".into());
        let language = text("Content-Language")
            .map(|languages| {
                languages
                    .split(',')
                    .map(str::trim)
                    .filter(|language| !language.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();

        Part {
            header_start: 0,
            body_start: 0,
            body_end: 0,
            media_type,
            media_subtype,
            params,
            id: text("Content-ID"),
            description: text("Content-Description"),
            encoding,
            body_octets: 0,
            body_lines: 0,
            md5: text("Content-MD5"),
            disposition,
            language,
            location: text("Content-Location"),
            reencoded: None,
            kind: PartKind::Leaf,
        }
    }
}

/// The first valid Content-Type (or Content-Disposition) field; a type without a subtype is
/// invalid for Content-Type (RFC 2045 §5.1), so the caller falls back to the default.
fn first_content_type<'h>(
    headers: &'h [Header<'_>],
    name: &HeaderName<'_>,
) -> Option<&'h ContentType<'h>> {
    let value = headers.iter().find(|header| &header.name == name)?;
    match &value.value {
        HeaderValue::ContentType(content_type)
            if !content_type.ctype().is_empty()
                && (name != &HeaderName::ContentType || content_type.subtype().is_some()) =>
        {
            Some(content_type)
        }
        _ => None,
    }
}

fn attributes(content_type: &ContentType<'_>) -> Vec<(String, String)> {
    content_type
        .attributes()
        .unwrap_or_default()
        .iter()
        .map(|attribute| {
            (
                attribute.name.to_ascii_lowercase(),
                attribute.value.to_string(),
            )
        })
        .collect()
}

/// Makes a container that cannot be structured an opaque text/plain leaf (see [`PartKind`]).
fn demote(part: &mut Part) {
    part.media_type = "text".into();
    part.media_subtype = "plain".into();
    part.params.clear();
    part.kind = PartKind::Leaf;
}

fn is_identity_encoding(encoding: &str) -> bool {
    matches!(encoding, "7bit" | "8bit" | "binary")
}

fn count_lines(body: &[u8]) -> u64 {
    let newlines = body.iter().filter(|&&b| b == b'\n').count();
    let unterminated = !body.is_empty() && !body.ends_with(b"\n");
    to_u64(newlines + usize::from(unterminated))
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// The byte ranges of a multipart body's parts (RFC 2046 §5.1.1). A delimiter is a line that
/// starts with `--boundary` followed by `--` (the close delimiter) or only white space. Each part
/// runs from after its delimiter line to before the line break that precedes the next one; a
/// part left open by a missing close delimiter runs to the end of the body.
fn child_ranges(raw: &[u8], start: usize, end: usize, boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut open: Option<usize> = None;
    let mut line = start;
    while line < end {
        let line_end = raw[line..end]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(end, |newline| line + newline + 1);
        if let Some(is_close) = delimiter(&raw[line..line_end], boundary) {
            if let Some(part_start) = open {
                ranges.push((part_start, before_line_break(raw, part_start, line)));
            }
            if is_close {
                return ranges;
            }
            open = Some(line_end);
        }
        line = line_end;
    }
    if let Some(part_start) = open {
        ranges.push((part_start, end));
    }
    ranges
}

/// `Some(is_close)` if `line` is a boundary delimiter line.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    if rest.starts_with(b"--") {
        return Some(true);
    }
    // Transport padding (RFC 2046 §5.1.1) may follow; anything else means a longer boundary.
    rest.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .then_some(false)
}

/// The end of a part whose next delimiter line starts at `line`: before that line's preceding
/// CRLF (or bare LF), but never before the part's start.
fn before_line_break(raw: &[u8], part_start: usize, line: usize) -> usize {
    let mut end = line;
    if end > part_start && raw[end - 1] == b'\n' {
        end -= 1;
        if end > part_start && raw[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}
