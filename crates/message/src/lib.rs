//! Parses a stored message once: envelope, body structure with exact part offsets, header
//! fields, and the text for search and previews.
//!
//! The store calls [`parse`] when a message is appended and keeps the [`Summary`] (serialized
//! with serde) so that IMAP FETCH ENVELOPE / BODYSTRUCTURE / BODY[section] / BINARY, SORT, SEARCH
//! and the webmail list never parse the message again. Parsing never fails: malformed MIME
//! gives a best-effort summary, at worst one text/plain part covering the whole body.

mod address;
mod decode;
mod envelope;
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod stored;
mod structure;
pub mod submission;
mod text;

use serde::{Deserialize, Serialize};

pub use address::Address;
pub use decode::{DecodeError, decode_transfer_encoding};
pub use envelope::Envelope;
pub use header::header_fields;
pub use stored::{EnvelopeSink, StoredEnvelope};
pub use structure::{MAX_DEPTH, MAX_PARTS, Part, PartKind};
pub use text::{PREVIEW_CHARS, SEARCH_TEXT_LIMIT};

/// The result of parsing a message once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedMessage {
    pub summary: Summary,
    /// Decoded Subject/From/To/Cc and the decoded text of every text/* part (HTML as text),
    /// joined with newlines and cut at [`SEARCH_TEXT_LIMIT`] bytes, for full-text search.
    pub search_text: String,
}

/// What IMAP and webmail need to know about a stored message without reading it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub envelope: Envelope,
    /// The root part: the whole message.
    pub structure: Part,
    /// The Date header as unix seconds (UTC); None if absent or unparseable.
    pub sent_date: Option<i64>,
    /// The decoded (RFC 2047) subject, for display and SORT; "" if none.
    pub subject: String,
    /// The decoded display name of the first From address, else its address, else "".
    pub from_display: String,
    /// The first [`PREVIEW_CHARS`] characters of the plain text (or of the HTML's text),
    /// white space collapsed.
    pub preview: String,
    /// Any part with Content-Disposition attachment, or a non-text leaf that is not inline.
    pub has_attachments: bool,
}

/// Parses a raw message (header, empty line, body). Never fails and never panics.
pub fn parse(raw: &[u8]) -> ParsedMessage {
    let structure = structure::structure(raw);
    let header = structure.header_in(raw);
    let envelope = Envelope::from_header(header);
    let decoded = text::decoded_header(header);
    let sent_date = envelope.date.as_deref().and_then(unix_date);
    let (search_text, preview) =
        text::search_text_and_preview(raw, &structure, &decoded.search_lines);
    let has_attachments = text::has_attachments(&structure);
    ParsedMessage {
        summary: Summary {
            envelope,
            structure,
            sent_date,
            subject: decoded.subject,
            from_display: decoded.from_display,
            preview,
            has_attachments,
        },
        search_text,
    }
}

/// An RFC 5322 §3.3 date as unix seconds, if mail-parser can read it as a valid date.
fn unix_date(value: &str) -> Option<i64> {
    mail_parser::DateTime::parse_rfc822(value)
        .filter(mail_parser::DateTime::is_valid)
        .map(|date| date.to_timestamp())
}

#[cfg(test)]
mod tests;
