//! The text of a message: decoded headers and text parts for full-text search, the preview,
//! and whether it has attachments.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::html::html_to_text;
use mail_parser::{Address as ParsedAddress, HeaderName, HeaderValue, MessageParser};

use crate::decode::decode_transfer_encoding;
use crate::header::terminated;
use crate::structure::{Part, PartKind};

/// The search text is cut at this many bytes (on a character boundary).
pub const SEARCH_TEXT_LIMIT: usize = 1 << 20;

/// The preview keeps this many characters.
pub const PREVIEW_CHARS: usize = 200;

/// How much of an encoded body is decoded for the preview when the full text is not needed:
/// enough to get past an HTML head and style sheet.
const PREVIEW_SOURCE_LIMIT: usize = 64 * 1024;

/// The decoded fields of the top-level header that search and display need.
#[derive(Debug, Default)]
pub(crate) struct DecodedHeader {
    pub subject: String,
    pub from_display: String,
    /// The From addresses as decoded text (`Name <address>, ...`), for search.
    pub sender_text: String,
    /// The To and Cc addresses as decoded text, for search.
    pub recipients_text: String,
}

/// Decodes (RFC 2047) Subject, From, To and Cc of a raw header block with mail-parser.
pub(crate) fn decoded_header(header: &[u8]) -> DecodedHeader {
    let parser = MessageParser::new()
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .default_header_ignore();
    let block = terminated(header);
    let Some(message) = parser.parse_headers(block.as_ref()) else {
        return DecodedHeader::default();
    };
    let headers = message
        .parts
        .first()
        .map_or(&[][..], |part| part.headers.as_slice());
    let value = |name: HeaderName<'static>| {
        headers
            .iter()
            .find(|header| header.name == name)
            .map(|header| &header.value)
    };

    let subject = match value(HeaderName::Subject) {
        Some(HeaderValue::Text(text)) => text.trim().to_owned(),
        _ => String::new(),
    };
    let from_display = match value(HeaderName::From) {
        Some(HeaderValue::Address(address)) => address
            .first()
            .and_then(|first| {
                first
                    .name
                    .as_deref()
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .or(first.address.as_deref())
            })
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    };
    let text_of = |name| match value(name) {
        Some(HeaderValue::Address(address)) => address_text(address),
        _ => String::new(),
    };
    let sender_text = text_of(HeaderName::From);
    let recipients_text = [text_of(HeaderName::To), text_of(HeaderName::Cc)]
        .into_iter()
        .filter(|text| !text.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    DecodedHeader {
        subject,
        from_display,
        sender_text,
        recipients_text,
    }
}

fn address_text(address: &ParsedAddress<'_>) -> String {
    let mut text = Vec::new();
    if let Some(groups) = address.as_group() {
        text.extend(
            groups
                .iter()
                .filter_map(|group| group.name.as_deref().map(str::to_owned)),
        );
    }
    for addr in address.iter() {
        match (addr.name.as_deref(), addr.address.as_deref()) {
            (Some(name), Some(email)) => text.push(format!("{name} <{email}>")),
            (Some(only), None) | (None, Some(only)) => text.push(only.to_owned()),
            (None, None) => {}
        }
    }
    text.join(", ")
}

/// The search text of the body (the text parts only: IMAP SEARCH BODY looks at the body
/// alone, RFC 9051 §6.4.4) and the preview.
pub(crate) fn search_text_and_preview(raw: &[u8], root: &Part) -> (String, String) {
    let mut search = CappedText::default();
    let mut leaves = Vec::new();
    text_leaves(root, false, &mut leaves);

    let mut plain_preview = None;
    let mut html_preview = None;
    for (part, in_attachment) in leaves {
        let is_html = part.media_subtype == "html";
        let wanted_for_preview = !in_attachment
            && if is_html {
                html_preview.is_none()
            } else {
                part.media_subtype == "plain" && plain_preview.is_none()
            };
        if search.is_full() && !wanted_for_preview {
            continue;
        }
        let body = part.body_in(raw);
        let body = if search.is_full() {
            body.get(..PREVIEW_SOURCE_LIMIT).unwrap_or(body)
        } else {
            body
        };
        let text = decoded_text(part, body);
        let text = if is_html { html_text(&text) } else { text };
        if wanted_for_preview {
            let preview = Some(preview(&text));
            if is_html {
                html_preview = preview;
            } else {
                plain_preview = preview;
            }
        }
        search.push(&text);
    }
    let preview = plain_preview.or(html_preview).unwrap_or_default();
    (search.text, preview)
}

/// The text/* leaves in order, each with whether it sits in an attachment.
fn text_leaves<'p>(part: &'p Part, in_attachment: bool, leaves: &mut Vec<(&'p Part, bool)>) {
    let in_attachment = in_attachment || is_attachment_disposition(part);
    match &part.kind {
        PartKind::Leaf if part.media_type == "text" => leaves.push((part, in_attachment)),
        PartKind::Leaf => {}
        PartKind::Multipart(children) => {
            for child in children {
                text_leaves(child, in_attachment, leaves);
            }
        }
        PartKind::Message { body, .. } => text_leaves(body, in_attachment, leaves),
    }
}

/// A text part's body decoded (transfer encoding, then charset; unknown charsets read as
/// UTF-8, unknown transfer encodings as they are).
fn decoded_text(part: &Part, body: &[u8]) -> String {
    let decoded = decode_transfer_encoding(&part.encoding, body);
    let bytes = decoded.as_deref().unwrap_or(body);
    match part
        .param("charset")
        .and_then(|charset| charset_decoder(charset.trim().as_bytes()))
    {
        Some(decode_charset) => decode_charset(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The text of an HTML part. mail-parser's `html_to_text` only breaks words at `<br>` and
/// `</p>`, so `<h1>news</h1><p>today` would read "newstoday": a space goes before every
/// block-level tag first.
fn html_text(html: &str) -> String {
    const BLOCK_TAGS: &[&str] = &[
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "caption",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "option",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "ul",
    ];
    let mut spaced = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let (before, tag) = rest.split_at(open);
        spaced.push_str(before);
        let name: String = tag[1..]
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|ch| ch.to_ascii_lowercase())
            .collect();
        if BLOCK_TAGS.contains(&name.as_str()) {
            spaced.push(' ');
        }
        spaced.push('<');
        rest = &tag[1..];
    }
    spaced.push_str(rest);
    html_to_text(&spaced)
}

fn preview(text: &str) -> String {
    let mut preview = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if !preview.is_empty() {
            preview.push(' ');
            chars += 1;
        }
        for ch in word.chars() {
            if chars >= PREVIEW_CHARS {
                return preview.trim_end().to_owned();
            }
            preview.push(ch);
            chars += 1;
        }
    }
    preview
}

fn is_attachment_disposition(part: &Part) -> bool {
    part.disposition
        .as_ref()
        .is_some_and(|(kind, _)| kind == "attachment")
}

fn is_inline_disposition(part: &Part) -> bool {
    part.disposition
        .as_ref()
        .is_some_and(|(kind, _)| kind == "inline")
}

/// Any part with Content-Disposition attachment, or a non-text leaf (or an encapsulated
/// message) that is not inline. A resource of multipart/related that has a Content-ID is
/// referenced by the document (RFC 2387 §3), so it is not an attachment.
pub(crate) fn has_attachments(root: &Part) -> bool {
    fn walk(part: &Part, is_root: bool, in_related: bool) -> bool {
        if is_attachment_disposition(part) {
            return true;
        }
        let shown_inline = is_inline_disposition(part) || (in_related && part.id.is_some());
        match &part.kind {
            PartKind::Leaf => part.media_type != "text" && !shown_inline,
            PartKind::Multipart(children) => {
                let related = part.media_subtype == "related";
                children.iter().any(|child| walk(child, false, related))
            }
            PartKind::Message { body, .. } => {
                (!is_root && !shown_inline) || walk(body, true, false)
            }
        }
    }
    walk(root, true, false)
}

/// Text joined with newlines and cut at [`SEARCH_TEXT_LIMIT`] bytes.
#[derive(Default)]
struct CappedText {
    text: String,
    full: bool,
}

impl CappedText {
    fn is_full(&self) -> bool {
        self.full
    }

    fn push(&mut self, piece: &str) {
        if self.full || piece.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.push_part("\n");
        }
        self.push_part(piece);
    }

    fn push_part(&mut self, piece: &str) {
        let room = SEARCH_TEXT_LIMIT.saturating_sub(self.text.len());
        if piece.len() <= room {
            self.text.push_str(piece);
        } else {
            self.text
                .push_str(&piece[..piece.floor_char_boundary(room)]);
            self.full = true;
        }
        if self.text.len() >= SEARCH_TEXT_LIMIT {
            self.full = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_collapses_whitespace_and_cuts() {
        assert_eq!(preview("  Hello,\r\n\r\n\tworld  "), "Hello, world");
        let long = "word ".repeat(100);
        let cut = preview(&long);
        assert_eq!(cut.chars().count(), PREVIEW_CHARS - 1);
        assert!(cut.starts_with("word word"));
    }

    #[test]
    fn html_blocks_separate_words() {
        let text =
            html_text("<h1>Big news</h1><p>today</p><ul><li>one</li><li>two</li></ul>a<b>b</b>");
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words, ["Big", "news", "today", "one", "two", "ab"]);
    }

    #[test]
    fn capped_text_cuts_on_a_char_boundary() {
        let mut capped = CappedText::default();
        capped.push(&"é".repeat(SEARCH_TEXT_LIMIT));
        assert!(capped.is_full());
        assert!(capped.text.len() <= SEARCH_TEXT_LIMIT);
        assert!(capped.text.len() >= SEARCH_TEXT_LIMIT - 1);
        capped.push("more");
        assert!(!capped.text.ends_with("more"));
    }

    #[test]
    fn decoded_header_reads_encoded_words() {
        let decoded = decoded_header(
            b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nFrom: =?ISO-8859-1?Q?J=F6rg?= <j@x.org>\r\nTo: a@y.org\r\n\r\n",
        );
        assert_eq!(decoded.subject, "Grüße");
        assert_eq!(decoded.from_display, "Jörg");
        assert_eq!(decoded.sender_text, "Jörg <j@x.org>");
        assert_eq!(decoded.recipients_text, "a@y.org");
    }
}
