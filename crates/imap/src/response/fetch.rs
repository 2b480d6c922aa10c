//! One `* n FETCH (...)` response (RFC 9051 §7.5.2): its data items in the order asked. Body
//! content is either bytes in the response or a range of the message's blob that the session
//! sends straight from the file, so a large body is never held in memory.

use std::num::NonZeroU32;
use std::ops::Range;

use tern_message::{Envelope, Part, StoredEnvelope};
use tern_store::Flags;

use crate::wire;

/// A piece of a response as it goes out.
#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    Bytes(Vec<u8>),
    /// Bytes of the message's blob, announced by the literal before it.
    Blob(Range<u64>),
}

/// The content of a BODY[...], BINARY[...] or RFC822 item, as the command found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The part does not exist: NIL.
    Missing,
    Bytes(Vec<u8>),
    Blob(Range<u64>),
}

impl Content {
    /// The length of the content.
    pub fn len(&self) -> u64 {
        match self {
            Content::Missing => 0,
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Blob(range) => range.end - range.start,
        }
    }

    /// The `<origin.length>` cut of RFC 9051 §6.4.5: from `origin`, at most `length` bytes.
    pub fn cut(self, origin: u32, length: NonZeroU32) -> Content {
        let start = u64::from(origin).min(self.len());
        let end = start
            .saturating_add(u64::from(length.get()))
            .min(self.len());
        match self {
            Content::Missing => Content::Missing,
            Content::Bytes(bytes) => Content::Bytes(bytes[start as usize..end as usize].to_vec()),
            Content::Blob(range) => Content::Blob(range.start + start..range.start + end),
        }
    }
}

/// An envelope decoded with the rest of the summary, or read alone from the store.
#[derive(Clone, Copy)]
pub enum EnvelopeSource<'a> {
    Decoded(&'a Envelope),
    Stored(&'a StoredEnvelope),
}

/// One FETCH response being written.
pub struct FetchResponse {
    segments: Vec<Segment>,
    current: Vec<u8>,
    items: usize,
}

impl FetchResponse {
    pub fn new(seq: usize) -> FetchResponse {
        FetchResponse {
            segments: Vec::new(),
            current: format!("* {seq} FETCH (").into_bytes(),
            items: 0,
        }
    }

    /// The output for the next item, after the space that separates it from the one before.
    fn item(&mut self) -> &mut Vec<u8> {
        if self.items > 0 {
            self.current.push(b' ');
        }
        self.items += 1;
        &mut self.current
    }

    pub fn uid(&mut self, uid: u32) {
        self.item()
            .extend_from_slice(format!("UID {uid}").as_bytes());
    }

    pub fn flags(&mut self, flags: Flags, keywords: &[String], recent: bool) {
        let out = self.item();
        out.extend_from_slice(b"FLAGS ");
        wire::flag_list(out, flags, keywords, recent);
    }

    pub fn internal_date(&mut self, unix: i64) {
        let out = self.item();
        out.extend_from_slice(b"INTERNALDATE \"");
        out.extend_from_slice(internal_date(unix).as_bytes());
        out.push(b'"');
    }

    pub fn rfc822_size(&mut self, size: u64) {
        self.item()
            .extend_from_slice(format!("RFC822.SIZE {size}").as_bytes());
    }

    /// RFC 7162 §3.1.4.1.
    pub fn modseq(&mut self, modseq: u64) {
        self.item()
            .extend_from_slice(format!("MODSEQ ({modseq})").as_bytes());
    }

    /// RFC 8514 §4.3: `SAVEDATE date-time`, or NIL when the save date is not known.
    pub fn save_date(&mut self, save_date: Option<i64>) {
        let out = self.item();
        out.extend_from_slice(b"SAVEDATE ");
        match save_date {
            Some(unix) => {
                out.push(b'"');
                out.extend_from_slice(internal_date(unix).as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"NIL"),
        }
    }

    /// RFC 8970 §3: `PREVIEW "text"`, at most 256 characters of the message's text without
    /// line breaks (the store keeps 200, white space collapsed); NIL without a summary.
    pub fn preview(&mut self, preview: Option<&str>) {
        let out = self.item();
        out.extend_from_slice(b"PREVIEW ");
        match preview {
            // No control characters in the quoted string (RFC 9051 §9 QUOTED-CHAR).
            Some(text) if text.chars().any(char::is_control) => {
                let clean: String = text.chars().filter(|c| !c.is_control()).collect();
                wire::string(out, clean.as_bytes());
            }
            Some(text) => wire::string(out, text.as_bytes()),
            None => out.extend_from_slice(b"NIL"),
        }
    }

    pub fn envelope(&mut self, envelope: Option<EnvelopeSource<'_>>) {
        let out = self.item();
        out.extend_from_slice(b"ENVELOPE ");
        match envelope {
            Some(EnvelopeSource::Decoded(envelope)) => super::envelope::write(out, envelope),
            Some(EnvelopeSource::Stored(stored)) => super::envelope::write_stored(out, stored),
            None => {}
        }
    }

    /// BODY (`extended` false) or BODYSTRUCTURE.
    pub fn structure(&mut self, root: Option<&Part>, extended: bool) {
        let out = self.item();
        out.extend_from_slice(if extended {
            b"BODYSTRUCTURE "
        } else {
            b"BODY "
        });
        if let Some(root) = root {
            super::body_structure::body_structure(out, root, extended);
        }
    }

    /// A content item: `name` as the response spells it (`BODY[1.MIME]`, `RFC822.TEXT`,
    /// `BINARY[2]`), `<origin>` for a partial fetch, then NIL or the content as a literal
    /// (`~{n}` when `literal8`, RFC 3516 §4.2).
    pub fn content(&mut self, name: &[u8], origin: Option<u32>, content: Content, literal8: bool) {
        let out = self.item();
        out.extend_from_slice(name);
        if let Some(origin) = origin {
            out.extend_from_slice(format!("<{origin}>").as_bytes());
        }
        out.push(b' ');
        let announce = |out: &mut Vec<u8>, length: u64| {
            if literal8 {
                out.push(b'~');
            }
            out.extend_from_slice(format!("{{{length}}}\r\n").as_bytes());
        };
        match content {
            Content::Missing => out.extend_from_slice(b"NIL"),
            Content::Bytes(bytes) => {
                announce(out, bytes.len() as u64);
                out.extend_from_slice(&bytes);
            }
            Content::Blob(range) => {
                announce(out, range.end - range.start);
                let before = std::mem::take(&mut self.current);
                self.segments.push(Segment::Bytes(before));
                self.segments.push(Segment::Blob(range));
            }
        }
    }

    /// `BINARY.SIZE[section] n` (RFC 3516 §4.2).
    pub fn binary_size(&mut self, part: &str, size: u64) {
        self.item()
            .extend_from_slice(format!("BINARY.SIZE[{part}] {size}").as_bytes());
    }

    /// The response's pieces, closed with `)` and its line end.
    pub fn finish(mut self) -> Vec<Segment> {
        self.current.extend_from_slice(b")\r\n");
        self.segments.push(Segment::Bytes(self.current));
        self.segments
    }
}

/// INTERNALDATE as `dd-Mon-yyyy hh:mm:ss +0000` (RFC 9051 §9 `date-time`).
pub fn internal_date(unix: i64) -> String {
    let format = time::macros::format_description!(
        "[day]-[month repr:short]-[year] [hour]:[minute]:[second] +0000"
    );
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "01-Jan-1970 00:00:00 +0000".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(internal_date(1_700_000_000), "14-Nov-2023 22:13:20 +0000");
    }

    #[test]
    fn items_and_streamed_content() {
        let mut response = FetchResponse::new(3);
        response.uid(7);
        response.save_date(None);
        response.content(b"BODY[]", None, Content::Blob(10..20), false);
        response.content(b"BINARY[1]", Some(2), Content::Bytes(b"\0x".to_vec()), true);
        response.content(b"BODY[9]", None, Content::Missing, false);
        assert_eq!(
            response.finish(),
            [
                Segment::Bytes(b"* 3 FETCH (UID 7 SAVEDATE NIL BODY[] {10}\r\n".to_vec()),
                Segment::Blob(10..20),
                Segment::Bytes(b" BINARY[1]<2> ~{2}\r\n\0x BODY[9] NIL)\r\n".to_vec()),
            ]
        );
    }

    #[test]
    fn partial_cuts() {
        let length = NonZeroU32::new(5).unwrap();
        assert_eq!(
            Content::Blob(100..200).cut(10, length),
            Content::Blob(110..115)
        );
        assert_eq!(
            Content::Blob(100..103).cut(10, length),
            Content::Blob(103..103)
        );
        assert_eq!(
            Content::Bytes(b"abcdefg".to_vec()).cut(4, length),
            Content::Bytes(b"efg".to_vec())
        );
    }
}
