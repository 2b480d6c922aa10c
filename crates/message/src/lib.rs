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
mod literal_safe;
mod stored;
mod structure;
pub mod submission;
mod text;

use serde::{Deserialize, Serialize};

pub use address::Address;
pub use decode::{DecodeError, decode_transfer_encoding};
pub use envelope::Envelope;
pub use header::header_fields;
pub use literal_safe::{Reencoded, literal_safe, needs_literal_safe};
pub use stored::{EnvelopeSink, StoredEnvelope};
pub use structure::{MAX_DEPTH, MAX_PARTS, Part, PartKind};
pub use text::{PREVIEW_CHARS, SEARCH_TEXT_LIMIT};

/// The result of parsing a message once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedMessage {
    pub summary: Summary,
    /// The decoded text of every text/* part (HTML as text), joined with newlines and cut at
    /// [`SEARCH_TEXT_LIMIT`] bytes, for full-text search of the body. The header is not in
    /// it: IMAP SEARCH BODY must not match a word only the header has (RFC 9051 §6.4.4).
    pub search_text: String,
    /// The From addresses decoded (RFC 2047), `Name <address>` joined with ", ".
    pub search_sender: String,
    /// The To and Cc addresses decoded, like `search_sender`.
    pub search_recipients: String,
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
    let (search_text, preview) = text::search_text_and_preview(raw, &structure);
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
        search_sender: decoded.sender_text,
        search_recipients: decoded.recipients_text,
    }
}

/// The day of an RFC 5322 §3.3 date as written, in its own zone, as days since 1970-01-01:
/// IMAP's SENTBEFORE/SENTON/SENTSINCE compare dates "disregarding time and timezone"
/// (RFC 9051 §6.4.4), so `Mon, 7 Feb 1994 21:52:25 -0800` is on 7 February, not on the 8th
/// it is in UTC.
pub fn written_day(value: &str) -> Option<i64> {
    let date = valid_date(value)?;
    let offset = i64::from(date.tz_hour) * 3600 + i64::from(date.tz_minute) * 60;
    let offset = if date.tz_before_gmt { -offset } else { offset };
    Some((date.to_timestamp() + offset).div_euclid(86_400))
}

/// An RFC 5322 §3.3 date as unix seconds, if mail-parser can read it as a valid date.
fn unix_date(value: &str) -> Option<i64> {
    valid_date(value).map(|date| date.to_timestamp())
}

/// An RFC 5322 §3.3 date, if mail-parser can read it as a valid date.
fn valid_date(value: &str) -> Option<mail_parser::DateTime> {
    mail_parser::DateTime::parse_rfc822(value).filter(mail_parser::DateTime::is_valid)
}

#[cfg(test)]
mod tests;
