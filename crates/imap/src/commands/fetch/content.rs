//! Where each content item of a FETCH comes from (RFC 9051 §6.4.5 BODY[section], RFC 3516
//! BINARY), decided from the summary's MIME offsets, and its reading. A range of the message
//! that goes out unchanged is streamed from the blob; only what must change in memory is read:
//! header fields picked out, a transfer encoding undone, a part re-encoded for a literal.

use std::ops::Range;

use bytes::Bytes;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{Part as SectionPart, Section};
use tern_message::{Part, PartKind};
use tern_store::{AccountId, BlobReader, MailboxId, MessageMeta, SharedStore, StoreError};

use crate::response::fetch::Content;
use crate::wire;

/// Where an item's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The part does not exist.
    Missing,
    /// These bytes of the message, as they are.
    Raw(Range<u64>),
    /// These bytes with the parts holding NUL re-encoded (tern_message::literal_safe).
    LiteralSafe(Range<u64>),
    /// Some fields of the header at this range (HEADER.FIELDS, or .NOT when `not`).
    HeaderFields {
        header: Range<u64>,
        names: Vec<String>,
        not: bool,
    },
    /// The body at this range, its transfer encoding undone (BINARY).
    Decoded { body: Range<u64>, encoding: String },
}

fn header_of(part: &Part) -> Range<u64> {
    part.header_start..part.body_start
}

fn body_of(part: &Part) -> Range<u64> {
    part.body_start..part.body_end
}

fn numbers(part: Option<&SectionPart>) -> Vec<u32> {
    part.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// BODY[section] (RFC 9051 §6.4.5); `None` is BODY[] (and RFC822).
pub fn body_source(root: &Part, section: Option<&Section<'_>>) -> Source {
    // HEADER and TEXT of a part number apply to the message/rfc822 it holds.
    let message = |path: &[u32]| -> Option<&Part> {
        let part = root.section(path)?;
        if path.is_empty() {
            return Some(part);
        }
        match &part.kind {
            PartKind::Message { body, .. } => Some(body),
            _ => None,
        }
    };
    let range = match section {
        None => root.header_start..root.body_end,
        Some(Section::Part(p)) => match root.section(&numbers(Some(p))) {
            Some(part) => body_of(part),
            None => return Source::Missing,
        },
        Some(Section::Mime(p)) => match root.section(&numbers(Some(p))) {
            Some(part) => header_of(part),
            None => return Source::Missing,
        },
        Some(Section::Header(p)) => match message(&numbers(p.as_ref())) {
            Some(part) => header_of(part),
            None => return Source::Missing,
        },
        Some(Section::Text(p)) => match message(&numbers(p.as_ref())) {
            Some(part) => body_of(part),
            None => return Source::Missing,
        },
        Some(Section::HeaderFields(p, names)) | Some(Section::HeaderFieldsNot(p, names)) => {
            let Some(part) = message(&numbers(p.as_ref())) else {
                return Source::Missing;
            };
            return Source::HeaderFields {
                header: header_of(part),
                names: field_names(names.as_ref()),
                not: matches!(section, Some(Section::HeaderFieldsNot(..))),
            };
        }
    };
    if tern_message::needs_literal_safe(root, range.clone()) {
        Source::LiteralSafe(range)
    } else {
        Source::Raw(range)
    }
}

fn field_names(names: &[AString<'_>]) -> Vec<String> {
    names
        .iter()
        .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
        .collect()
}

/// RFC822.HEADER and RFC822.TEXT (RFC 9051 §6.4.5): BODY.PEEK[HEADER] and BODY[TEXT].
pub fn rfc822_source(root: &Part, header: bool) -> Source {
    let range = if header {
        header_of(root)
    } else {
        body_of(root)
    };
    if tern_message::needs_literal_safe(root, range.clone()) {
        Source::LiteralSafe(range)
    } else {
        Source::Raw(range)
    }
}

/// BINARY[section] (RFC 3516 §4.2): the part's body with its transfer encoding undone; the
/// whole message for the empty section. Also whether the content may hold NUL, so that it
/// goes in a literal8.
pub fn binary_source(root: &Part, section: &[std::num::NonZeroU32]) -> (Source, bool) {
    if section.is_empty() {
        return (
            Source::Raw(root.header_start..root.body_end),
            root.holds_nul(),
        );
    }
    let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
    let Some(part) = root.section(&path) else {
        return (Source::Missing, false);
    };
    match part.kind {
        PartKind::Leaf if !part.has_identity_encoding() => (
            Source::Decoded {
                body: body_of(part),
                encoding: part.encoding.clone(),
            },
            true,
        ),
        // Containers carry no transfer encoding of their own to undo.
        _ => (Source::Raw(body_of(part)), part.holds_nul()),
    }
}

/// Messages up to this size are read whole, in one read; larger ones are opened and their
/// ranges read or streamed as needed.
const READ_WHOLE_UP_TO: u64 = 1024 * 1024;

/// A message's bytes: in memory, or an open file.
pub enum OpenBlob {
    Whole(Bytes),
    File(BlobReader),
}

impl OpenBlob {
    /// Bytes `range` of the message.
    pub async fn read_range(&mut self, range: Range<u64>) -> std::io::Result<Vec<u8>> {
        match self {
            OpenBlob::Whole(bytes) => {
                let (start, end) = (range.start as usize, range.end as usize);
                bytes.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("bytes {range:?} are past the end of the message"),
                    )
                })
            }
            OpenBlob::File(reader) => reader.read_range(range).await,
        }
    }
}

/// A message's blob, opened when an item first needs it.
pub struct MessageBlob<'s> {
    store: &'s SharedStore,
    account: AccountId,
    mailbox: MailboxId,
    meta: &'s MessageMeta,
    reader: Option<OpenBlob>,
}

impl<'s> MessageBlob<'s> {
    pub fn new(
        store: &'s SharedStore,
        account: AccountId,
        mailbox: MailboxId,
        meta: &'s MessageMeta,
    ) -> MessageBlob<'s> {
        MessageBlob {
            store,
            account,
            mailbox,
            meta,
            reader: None,
        }
    }

    /// The open blob, or `None` when another session expunged the message after this FETCH
    /// read its summary and longer ago than the store keeps such content (RFC 2180 §4.1.2).
    /// A blob missing for a message still in the mailbox is an error.
    pub async fn reader(&mut self) -> Result<Option<&mut OpenBlob>, StoreError> {
        if self.reader.is_none() {
            let opened = if self.meta.size <= READ_WHOLE_UP_TO {
                self.store
                    .read_blob(&self.meta.blob)
                    .await
                    .map(OpenBlob::Whole)
            } else {
                self.store
                    .open_blob(&self.meta.blob)
                    .await
                    .map(OpenBlob::File)
            };
            match opened {
                Ok(reader) => self.reader = Some(reader),
                Err(StoreError::BlobMissing(blob)) => {
                    let uids = [self.meta.uid];
                    let summaries = self.store.summaries(self.account, self.mailbox, &uids);
                    if !summaries.await?.is_empty() {
                        return Err(StoreError::BlobMissing(blob));
                    }
                    tracing::debug!(uid = self.meta.uid, "FETCH of a message expunged meanwhile");
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.reader.as_mut())
    }

    /// Takes the open blob, for streaming.
    pub fn into_reader(self) -> Option<OpenBlob> {
        self.reader
    }
}

/// Why an item's content could not be had.
#[derive(Debug)]
pub enum ContentError {
    /// Expunged by another session meanwhile.
    Gone,
    /// A transfer encoding BINARY cannot undo (RFC 3516 §4.3).
    UnknownEncoding,
    Store(StoreError),
}

impl From<StoreError> for ContentError {
    fn from(e: StoreError) -> Self {
        ContentError::Store(e)
    }
}

impl From<std::io::Error> for ContentError {
    fn from(e: std::io::Error) -> Self {
        ContentError::Store(StoreError::from(e))
    }
}

/// Reads what `source` needs into memory, leaving raw ranges for streaming.
pub async fn content(
    root: &Part,
    source: Source,
    blob: &mut MessageBlob<'_>,
) -> Result<Content, ContentError> {
    if source == Source::Missing {
        return Ok(Content::Missing);
    }
    let reader = blob.reader().await?.ok_or(ContentError::Gone)?;
    Ok(match source {
        Source::Missing => Content::Missing,
        Source::Raw(range) => Content::Blob(range),
        Source::LiteralSafe(range) => {
            let data = reader.read_range(range.clone()).await?;
            Content::Bytes(tern_message::literal_safe(root, &data, range).into_owned())
        }
        Source::HeaderFields { header, names, not } => {
            let header = reader.read_range(header).await?;
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Content::Bytes(tern_message::header_fields(&header, &names, not))
        }
        Source::Decoded { body, encoding } => {
            let body = reader.read_range(body).await?;
            let decoded = tern_message::decode_transfer_encoding(&encoding, &body)
                .map_err(|_| ContentError::UnknownEncoding)?;
            Content::Bytes(decoded)
        }
    })
}

/// `1.2.3` for BINARY's section.
pub fn part_name(section: &[std::num::NonZeroU32]) -> String {
    section
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// `BODY[section]` as the client wrote the section (`1.HEADER.FIELDS (FROM TO)`).
pub fn body_item_name(section: Option<&Section<'_>>) -> Vec<u8> {
    let mut out = b"BODY[".to_vec();
    section_name(&mut out, section);
    out.push(b']');
    out
}

fn section_name(out: &mut Vec<u8>, section: Option<&Section<'_>>) {
    let Some(section) = section else {
        return;
    };
    let part = |out: &mut Vec<u8>, part: Option<&SectionPart>, dot: bool| {
        if let Some(part) = part {
            out.extend_from_slice(part_name(part.0.as_ref()).as_bytes());
            if dot {
                out.push(b'.');
            }
        }
    };
    let fields = |out: &mut Vec<u8>, names: &[AString<'_>]| {
        out.extend_from_slice(b" (");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            wire::astring(out, name.as_ref());
        }
        out.push(b')');
    };
    match section {
        Section::Part(p) => part(out, Some(p), false),
        Section::Header(p) => {
            part(out, p.as_ref(), true);
            out.extend_from_slice(b"HEADER");
        }
        Section::HeaderFields(p, names) => {
            part(out, p.as_ref(), true);
            out.extend_from_slice(b"HEADER.FIELDS");
            fields(out, names.as_ref());
        }
        Section::HeaderFieldsNot(p, names) => {
            part(out, p.as_ref(), true);
            out.extend_from_slice(b"HEADER.FIELDS.NOT");
            fields(out, names.as_ref());
        }
        Section::Text(p) => {
            part(out, p.as_ref(), true);
            out.extend_from_slice(b"TEXT");
        }
        Section::Mime(p) => {
            part(out, Some(p), true);
            out.extend_from_slice(b"MIME");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_of_a_multipart_message_is_a_raw_range() {
        let raw = b"From: a@x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
        let root = tern_message::parse(raw).summary.structure;
        let one = Section::Part(SectionPart(
            vec![std::num::NonZeroU32::new(1).unwrap()]
                .try_into()
                .unwrap(),
        ));
        let Source::Raw(range) = body_source(&root, Some(&one)) else {
            panic!("a raw range");
        };
        assert_eq!(&raw[range.start as usize..range.end as usize], b"hello");
        assert_eq!(body_item_name(Some(&one)), b"BODY[1]");
        let two = [std::num::NonZeroU32::new(2).unwrap()];
        assert!(matches!(
            binary_source(&root, &two),
            (Source::Decoded { .. }, true)
        ));
        let nine = [std::num::NonZeroU32::new(9).unwrap()];
        assert_eq!(binary_source(&root, &nine).0, Source::Missing);
    }
}
