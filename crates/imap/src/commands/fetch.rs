//! FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes, ENVELOPE and
//! BODYSTRUCTURE from the stored summary, and body sections from the blob.

use std::sync::Arc;

use bytes::Bytes;
use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};
use imap_codec::imap_types::sequence::SequenceSet;
use tern_message::{Envelope, Part, PartKind, StoredEnvelope};
use tern_store::{
    AccountId, FlagChange, FlagOp, Flags, MailboxId, MessageMeta, MessageSummary, SharedStore,
    StoreError,
};

use crate::extended::Extension;
use crate::view::Entry;

use crate::session::{Fatal, Reply, Session, store_error};
use crate::wire;

/// Summaries are loaded in batches of this many messages.
const BATCH: usize = 256;

/// What one batch of a FETCH needs from the store beyond the view.
#[derive(Default)]
struct Chunk {
    summaries: Vec<MessageSummary>,
    envelopes: Vec<(u32, StoredEnvelope)>,
}

impl Chunk {
    /// Starts reading the summaries (or only the envelopes) of `uids` in a task of its own.
    fn load(
        store: &SharedStore,
        account: AccountId,
        mailbox: MailboxId,
        uids: &[u32],
        summaries: bool,
        envelopes_only: bool,
    ) -> tokio::task::JoinHandle<Result<Chunk, StoreError>> {
        let (store, uids) = (Arc::clone(store), uids.to_vec());
        tokio::spawn(async move {
            let mut chunk = Chunk::default();
            if summaries {
                chunk.summaries = store.summaries(account, mailbox, &uids).await?;
            }
            if envelopes_only {
                chunk.envelopes = store.envelopes(account, mailbox, &uids).await?;
            }
            Ok(chunk)
        })
    }
}

impl Session {
    pub async fn fetch(
        &mut self,
        set: &SequenceSet,
        items: &MacroOrMessageDataItemNames<'_>,
        by_uid: bool,
        modifiers: &[FetchModifier],
    ) -> Result<Reply, Fatal> {
        let mut items: Vec<MessageDataItemName<'_>> = match items {
            MacroOrMessageDataItemNames::Macro(m) => m.expand(),
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.clone(),
        };
        // RFC 8514 §4.3 SAVEDATE, taken off the command before imap-codec parsed it.
        let save_date = match std::mem::replace(&mut self.extension, Extension::None) {
            Extension::FetchSaveDate { uid_stands_in } => {
                if uid_stands_in {
                    items.retain(|i| *i != MessageDataItemName::Uid);
                }
                true
            }
            _ => false,
        };
        // RFC 9051 §6.4.8: UID FETCH always reports the UID.
        if by_uid && !items.contains(&MessageDataItemName::Uid) {
            items.insert(0, MessageDataItemName::Uid);
        }
        // RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED.
        let mut changed_since = None;
        let mut vanished = false;
        for modifier in modifiers {
            match modifier {
                FetchModifier::ChangedSince(n) => changed_since = Some(n.get()),
                FetchModifier::Vanished => vanished = true,
            }
        }
        if vanished && !(by_uid && self.qresync && changed_since.is_some()) {
            return Ok(Reply::bad(
                "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
            ));
        }
        if changed_since.is_some() || items.contains(&MessageDataItemName::ModSeq) {
            self.enable_condstore();
            if !items.contains(&MessageDataItemName::ModSeq) {
                items.push(MessageDataItemName::ModSeq);
            }
        }
        let Some(view) = self.selected.as_ref() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let mut indexes = view.resolve(set, by_uid);
        if let Some(since) = changed_since {
            indexes.retain(|&i| view.messages[i].modseq > since);
            if vanished {
                let largest = view
                    .messages
                    .last()
                    .map_or(0, |m| m.uid)
                    .max(view.uid_next.saturating_sub(1));
                let store = Arc::clone(self.store());
                let mut gone = match store
                    .vanished_since(view.account, view.mailbox, since)
                    .await
                {
                    Ok(gone) => gone,
                    Err(e) => return Ok(store_error(&e)),
                };
                gone.retain(|&uid| crate::commands::condstore::set_contains(set, uid, largest));
                gone.sort_unstable();
                gone.dedup();
                if !gone.is_empty() {
                    self.io
                        .untagged(&format!("VANISHED (EARLIER) {}", wire::sequence_set(&gone)));
                }
            }
        }
        // The flags shown are the view's: their keywords are announced first (RFC 9051 §7.3.5).
        self.announce_keywords_of(&indexes);
        let Some(view) = self.selected.as_ref() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let needs_envelope = items.contains(&MessageDataItemName::Envelope);
        let needs_summary = items.iter().any(|i| {
            matches!(
                i,
                MessageDataItemName::Body
                    | MessageDataItemName::BodyStructure
                    | MessageDataItemName::BodyExt { .. }
                    | MessageDataItemName::Rfc822Header
                    | MessageDataItemName::Rfc822Text
                    | MessageDataItemName::Binary { .. }
                    | MessageDataItemName::BinarySize { .. }
            )
        });
        let needs_blob = items.iter().any(|i| {
            matches!(
                i,
                MessageDataItemName::BodyExt { .. }
                    | MessageDataItemName::Rfc822
                    | MessageDataItemName::Rfc822Header
                    | MessageDataItemName::Rfc822Text
                    | MessageDataItemName::Binary { .. }
                    | MessageDataItemName::BinarySize { .. }
            )
        });
        // The blob's address comes with the summary.
        let needs_summary = needs_summary || needs_blob;
        // ENVELOPE without the structure (a client listing headers): decode only envelopes.
        let envelope_only = needs_envelope && !needs_summary;
        // RFC 9051 §6.4.5: BODY[...] (not PEEK) and RFC822 / RFC822.TEXT set \Seen.
        let sets_seen = !view.read_only
            && items.iter().any(|i| {
                matches!(
                    i,
                    MessageDataItemName::BodyExt { peek: false, .. }
                        | MessageDataItemName::Binary { peek: false, .. }
                        | MessageDataItemName::Rfc822
                        | MessageDataItemName::Rfc822Text
                )
            });
        let (account, mailbox) = (view.account, view.mailbox);
        let store = Arc::clone(self.store());
        let mut items_with_flags = items.clone();
        if !items.contains(&MessageDataItemName::Flags) {
            items_with_flags.push(MessageDataItemName::Flags);
        }
        let uids_of =
            |chunk: &[usize]| -> Vec<u32> { chunk.iter().map(|&i| view.messages[i].uid).collect() };
        let chunk_uids: Vec<Vec<u32>> = indexes.chunks(BATCH).map(uids_of).collect();
        let load = |uids: &[u32]| {
            Chunk::load(&store, account, mailbox, uids, needs_summary, envelope_only)
        };
        // The next chunk is read while this one is written: the store decodes on its reader
        // thread as the session encodes and sends (on 2 cores, a FETCH 1:* of a large mailbox
        // takes about half the time).
        let mut next = chunk_uids.first().map(|uids| load(uids));
        // Messages of the view another session expunged: their data is left out and the
        // FETCH ends `NO [EXPUNGEISSUED]` (RFC 2180 §4.1.2, RFC 5530 §3).
        let mut expunged_meanwhile = false;
        for (n, chunk) in indexes.chunks(BATCH).enumerate() {
            let Some(loading) = next.take() else {
                break;
            };
            let Chunk {
                summaries,
                envelopes,
            } = match loading.await {
                Ok(Ok(chunk)) => chunk,
                Ok(Err(e)) => return Ok(store_error(&e)),
                Err(e) => return Ok(store_error(&StoreError::from(e))),
            };
            next = chunk_uids.get(n + 1).map(|uids| load(uids));
            let uids = &chunk_uids[n];
            let Some(view) = self.selected.as_ref() else {
                break;
            };
            let mut newly_seen: Vec<u32> = Vec::new();
            if sets_seen {
                let unseen: Vec<u32> = chunk
                    .iter()
                    .map(|&i| &view.messages[i])
                    .filter(|m| !m.flags.contains(Flags::SEEN))
                    .map(|m| m.uid)
                    .collect();
                if !unseen.is_empty() {
                    let change = FlagChange {
                        op: FlagOp::Add,
                        flags: Flags::SEEN,
                        keywords: Vec::new(),
                        unchanged_since: None,
                    };
                    match store.update_flags(account, mailbox, &unseen, change).await {
                        Ok(updated) => {
                            newly_seen = updated.changed.iter().map(|m| m.uid).collect();
                            self.apply_flag_updates(updated.changed);
                        }
                        Err(e) => return Ok(store_error(&e)),
                    }
                }
            }
            for (&index, &uid) in chunk.iter().zip(uids) {
                let Some(view) = self.selected.as_ref() else {
                    break;
                };
                let meta = view.messages[index].clone();
                let recent = view.recent.contains(uid);
                let found = summaries.iter().find(|s| s.meta.uid == uid);
                let summary = found.map(|s| &s.summary);
                if needs_summary && summary.is_none() {
                    expunged_meanwhile = true;
                    continue;
                }
                let envelope = if envelope_only {
                    match envelopes.binary_search_by_key(&uid, |(uid, _)| *uid) {
                        Ok(i) => Some(EnvelopeSource::Stored(&envelopes[i].1)),
                        Err(_) => {
                            expunged_meanwhile = true;
                            continue;
                        }
                    }
                } else {
                    summary.map(|s| EnvelopeSource::Decoded(&s.envelope))
                };
                let blob = if let (true, Some(found)) = (needs_blob, found) {
                    match read_content(&store, account, mailbox, &found.meta).await {
                        Ok(Some(blob)) => blob,
                        Ok(None) => {
                            expunged_meanwhile = true;
                            continue;
                        }
                        Err(e) => return Ok(store_error(&e)),
                    }
                } else {
                    Bytes::new()
                };
                let mut out = std::mem::take(&mut self.io.out);
                let before = out.len();
                // RFC 9051 §6.4.5: a \Seen set by this FETCH is reported with it.
                let items = if newly_seen.contains(&uid) {
                    &items_with_flags
                } else {
                    &items
                };
                let written = write_message(
                    &mut out,
                    index + 1,
                    (&meta, recent),
                    Loaded {
                        summary,
                        envelope,
                        blob: &blob,
                    },
                    items,
                    save_date,
                );
                if written.is_err() {
                    out.truncate(before);
                }
                self.io.out = out;
                if written.is_err() {
                    // RFC 3516 §4.3: a transfer encoding we cannot decode.
                    return Ok(Reply::no("Unknown Content-Transfer-Encoding").code("UNKNOWN-CTE"));
                }
                self.io.flush_if_large().await?;
            }
        }
        if expunged_meanwhile {
            return Ok(
                Reply::no("Some of the requested messages no longer exist").code("EXPUNGEISSUED")
            );
        }
        Ok(Reply::ok(if by_uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        }))
    }

    /// Takes the new state of messages this session changed into the view.
    pub fn apply_flag_updates(&mut self, changed: Vec<MessageMeta>) {
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        for meta in changed {
            if let Some(index) = view.index_of_uid(meta.uid) {
                Arc::make_mut(&mut view.messages)[index] = Entry::from(meta);
            }
        }
    }
}

/// A message's content, or `None` when another session expunged it after this FETCH read its
/// summary and longer ago than the store keeps such content (a lost file is still an error).
async fn read_content(
    store: &SharedStore,
    account: AccountId,
    mailbox: MailboxId,
    meta: &MessageMeta,
) -> Result<Option<Bytes>, StoreError> {
    match store.read_blob(&meta.blob).await {
        Ok(blob) => Ok(Some(blob)),
        Err(StoreError::BlobMissing(blob)) => {
            let still_there = !store
                .summaries(account, mailbox, &[meta.uid])
                .await?
                .is_empty();
            if still_there {
                return Err(StoreError::BlobMissing(blob));
            }
            tracing::debug!(uid = meta.uid, "FETCH of a message expunged meanwhile");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A part's transfer encoding is not one we can decode (BINARY, RFC 3516 §4.3).
struct UnknownEncoding;

/// What was read for one message beyond the view's entry.
struct Loaded<'a> {
    summary: Option<&'a tern_message::Summary>,
    envelope: Option<EnvelopeSource<'a>>,
    blob: &'a [u8],
}

/// An envelope decoded with the rest of the summary, or read alone from the store.
#[derive(Clone, Copy)]
enum EnvelopeSource<'a> {
    Decoded(&'a Envelope),
    Stored(&'a StoredEnvelope),
}

impl EnvelopeSource<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            EnvelopeSource::Decoded(envelope) => crate::envelope::write(out, envelope),
            EnvelopeSource::Stored(stored) => crate::envelope::write_stored(out, stored),
        }
    }
}

/// One `* n FETCH (...)` response for the view's `meta`, `\Recent` in this session or not.
fn write_message(
    out: &mut Vec<u8>,
    seq: usize,
    (meta, recent): (&Entry, bool),
    loaded: Loaded<'_>,
    items: &[MessageDataItemName<'_>],
    save_date: bool,
) -> Result<(), UnknownEncoding> {
    let Loaded {
        summary,
        envelope,
        blob,
    } = loaded;
    out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        match item {
            MessageDataItemName::Uid => {
                out.extend_from_slice(format!("UID {}", meta.uid).as_bytes())
            }
            MessageDataItemName::Flags => {
                out.extend_from_slice(b"FLAGS ");
                wire::flag_list(out, meta.flags, &meta.keywords, recent);
            }
            MessageDataItemName::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE \"");
                out.extend_from_slice(internal_date(meta.internal_date).as_bytes());
                out.push(b'"');
            }
            MessageDataItemName::Rfc822Size => {
                out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes())
            }
            MessageDataItemName::ModSeq => {
                out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes())
            }
            MessageDataItemName::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                if let Some(found) = envelope {
                    found.write(out);
                }
            }
            MessageDataItemName::Body => {
                out.extend_from_slice(b"BODY ");
                if let Some(summary) = summary {
                    body_structure(out, &summary.structure, false);
                }
            }
            MessageDataItemName::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                if let Some(summary) = summary {
                    body_structure(out, &summary.structure, true);
                }
            }
            // RFC 9051 §6.4.5: RFC822 is BODY[], RFC822.HEADER is BODY.PEEK[HEADER],
            // RFC822.TEXT is BODY[TEXT].
            MessageDataItemName::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                let whole = summary.map(|s| literal_safe_span(&s.structure, blob, 0, u64::MAX));
                wire::literal(out, whole.as_deref().unwrap_or(blob));
            }
            MessageDataItemName::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                let header = summary.map(|s| {
                    let root = &s.structure;
                    literal_safe_span(root, blob, root.header_start, root.body_start)
                });
                wire::literal(out, header.as_deref().unwrap_or_default());
            }
            MessageDataItemName::Rfc822Text => {
                out.extend_from_slice(b"RFC822.TEXT ");
                let text = summary.map(|s| {
                    let root = &s.structure;
                    literal_safe_span(root, blob, root.body_start, root.body_end)
                });
                wire::literal(out, text.as_deref().unwrap_or_default());
            }
            MessageDataItemName::BodyExt {
                section, partial, ..
            } => {
                out.extend_from_slice(b"BODY[");
                section_name(out, section.as_ref());
                out.push(b']');
                let data =
                    summary.and_then(|s| section_bytes(&s.structure, blob, section.as_ref()));
                match (data, partial) {
                    (None, _) => out.extend_from_slice(b" NIL"),
                    (Some(data), None) => {
                        out.push(b' ');
                        wire::literal(out, &data);
                    }
                    (Some(data), Some((origin, length))) => {
                        // RFC 9051 §6.4.5: <origin> is echoed, the data cut to the range.
                        out.extend_from_slice(format!("<{origin}> ").as_bytes());
                        let start = (*origin as usize).min(data.len());
                        let end = start.saturating_add(length.get() as usize).min(data.len());
                        wire::literal(out, &data[start..end]);
                    }
                }
            }
            MessageDataItemName::Binary {
                section, partial, ..
            } => {
                out.extend_from_slice(format!("BINARY[{}]", part_name(section)).as_bytes());
                let data = match summary {
                    Some(s) => binary_bytes(&s.structure, blob, section)?,
                    None => None,
                };
                match (data, partial) {
                    (None, _) => out.extend_from_slice(b" NIL"),
                    (Some(data), None) => {
                        out.push(b' ');
                        wire::literal8(out, &data);
                    }
                    (Some(data), Some((origin, length))) => {
                        out.extend_from_slice(format!("<{origin}> ").as_bytes());
                        let start = (*origin as usize).min(data.len());
                        let end = start.saturating_add(length.get() as usize).min(data.len());
                        wire::literal8(out, &data[start..end]);
                    }
                }
            }
            MessageDataItemName::BinarySize { section } => {
                let size = match summary {
                    Some(s) => binary_bytes(&s.structure, blob, section)?.map_or(0, |d| d.len()),
                    None => 0,
                };
                out.extend_from_slice(
                    format!("BINARY.SIZE[{}] {size}", part_name(section)).as_bytes(),
                );
            }
        }
    }
    if save_date {
        if !items.is_empty() {
            out.push(b' ');
        }
        write_save_date(out, meta.save_date);
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

/// RFC 8514 §4.3: `SAVEDATE date-time`, or NIL when the save date is not known.
fn write_save_date(out: &mut Vec<u8>, save_date: Option<i64>) {
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

fn part_name(section: &[std::num::NonZeroU32]) -> String {
    section
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// BINARY[section] (RFC 3516 §4.2): the part's body with its transfer encoding undone; the
/// whole message for the empty section. None when the part does not exist.
fn binary_bytes(
    root: &Part,
    raw: &[u8],
    section: &[std::num::NonZeroU32],
) -> Result<Option<Vec<u8>>, UnknownEncoding> {
    if section.is_empty() {
        return Ok(Some(raw.to_vec()));
    }
    let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
    let Some(part) = root.section(&path) else {
        return Ok(None);
    };
    match part.kind {
        PartKind::Leaf => tern_message::decode_transfer_encoding(&part.encoding, part.body_in(raw))
            .map(Some)
            .map_err(|_| UnknownEncoding),
        // Containers carry no transfer encoding of their own to undo.
        _ => Ok(Some(part.body_in(raw).to_vec())),
    }
}

/// The section as the client wrote it, for the response (`1.HEADER.FIELDS (FROM TO)`).
fn section_name(out: &mut Vec<u8>, section: Option<&Section<'_>>) {
    let Some(section) = section else {
        return;
    };
    let part =
        |out: &mut Vec<u8>, part: Option<&imap_codec::imap_types::fetch::Part>, dot: bool| {
            if let Some(part) = part {
                let numbers: Vec<String> = part.0.as_ref().iter().map(|n| n.to_string()).collect();
                out.extend_from_slice(numbers.join(".").as_bytes());
                if dot {
                    out.push(b'.');
                }
            }
        };
    let fields = |out: &mut Vec<u8>, names: &[imap_codec::imap_types::core::AString<'_>]| {
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

/// The bytes a section names (RFC 9051 §6.4.5), or None when the part does not exist. Parts
/// holding NUL come re-encoded as base64, as a literal cannot carry them (RFC 9051 §4.3).
fn section_bytes(root: &Part, raw: &[u8], section: Option<&Section<'_>>) -> Option<Vec<u8>> {
    let numbers = |p: Option<&imap_codec::imap_types::fetch::Part>| -> Vec<u32> {
        p.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
            .unwrap_or_default()
    };
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
    let field_names = |names: &[imap_codec::imap_types::core::AString<'_>]| -> Vec<String> {
        names
            .iter()
            .map(|n| String::from_utf8_lossy(n.as_ref()).into_owned())
            .collect()
    };
    let safe = |start: u64, end: u64| literal_safe_span(root, raw, start, end);
    Some(match section {
        None => safe(0, raw.len() as u64),
        Some(Section::Part(p)) => {
            let part = root.section(&numbers(Some(p)))?;
            safe(part.body_start, part.body_end)
        }
        Some(Section::Mime(p)) => {
            let part = root.section(&numbers(Some(p)))?;
            safe(part.header_start, part.body_start)
        }
        Some(Section::Header(p)) => {
            let part = message(&numbers(p.as_ref()))?;
            safe(part.header_start, part.body_start)
        }
        Some(Section::Text(p)) => {
            let part = message(&numbers(p.as_ref()))?;
            safe(part.body_start, part.body_end)
        }
        Some(Section::HeaderFields(p, names)) | Some(Section::HeaderFieldsNot(p, names)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let header = message(&numbers(p.as_ref()))?.header_in(raw);
            let names = field_names(names.as_ref());
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            tern_message::header_fields(header, &names, not)
        }
    })
}

/// `raw[start..end]` as a literal may carry it (see [`tern_message::literal_safe`]).
fn literal_safe_span(root: &Part, raw: &[u8], start: u64, end: u64) -> Vec<u8> {
    let offset = |o: u64| usize::try_from(o).unwrap_or(usize::MAX).min(raw.len());
    let (start, end) = (offset(start), offset(end));
    tern_message::literal_safe(root, raw, start..end.max(start)).into_owned()
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

fn upper(out: &mut Vec<u8>, s: &str) {
    wire::string(out, s.to_ascii_uppercase().as_bytes());
}

fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        upper(out, name);
        out.push(b' ');
        wire::string(out, value.as_bytes());
    }
    out.push(b')');
}

/// BODY / BODYSTRUCTURE (RFC 9051 §7.5.2 `body`), with the extension data when `extended`.
fn body_structure(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.push(b'(');
    match &part.kind {
        PartKind::Multipart(children) => {
            for child in children {
                body_structure(out, child, extended);
            }
            out.push(b' ');
            upper(out, &part.media_subtype);
            if extended {
                out.push(b' ');
                params(out, &part.params);
                disposition_language_location(out, part);
            }
        }
        kind => {
            upper(out, &part.media_type);
            out.push(b' ');
            upper(out, &part.media_subtype);
            out.push(b' ');
            params(out, &part.params);
            out.push(b' ');
            wire::nstring(out, part.id.as_deref());
            out.push(b' ');
            wire::nstring(out, part.description.as_deref());
            out.push(b' ');
            // A part holding NUL is served as base64 (tern_message::literal_safe): described so.
            let (encoding, octets, lines) = match part.reencoded {
                Some(size) => ("base64", size.octets, size.lines),
                None => (part.encoding.as_str(), part.body_octets, part.body_lines),
            };
            upper(out, encoding);
            out.extend_from_slice(format!(" {octets}").as_bytes());
            if let PartKind::Message {
                envelope: env,
                body,
            } = kind
            {
                out.push(b' ');
                crate::envelope::write(out, env);
                out.push(b' ');
                body_structure(out, body, extended);
                out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
            } else if part.media_type == "text" {
                out.extend_from_slice(format!(" {lines}").as_bytes());
            }
            if extended {
                out.push(b' ');
                wire::nstring(out, part.md5.as_deref());
                disposition_language_location(out, part);
            }
        }
    }
    out.push(b')');
}

fn disposition_language_location(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some((kind, disposition_params)) => {
            out.push(b'(');
            upper(out, kind);
            out.push(b' ');
            params(out, disposition_params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match part.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        languages => {
            out.push(b'(');
            for (i, language) in languages.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                wire::string(out, language.as_bytes());
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    wire::nstring(out, part.location.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(internal_date(1_700_000_000), "14-Nov-2023 22:13:20 +0000");
        let mut out = Vec::new();
        write_save_date(&mut out, Some(1_700_000_000));
        write_save_date(&mut out, None);
        assert_eq!(out, b"SAVEDATE \"14-Nov-2023 22:13:20 +0000\"SAVEDATE NIL");
    }

    #[test]
    fn structure_of_a_multipart_message() {
        let raw = b"From: a@x\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\nAAAA\r\n--b--\r\n";
        let parsed = tern_message::parse(raw);
        let mut out = Vec::new();
        body_structure(&mut out, &parsed.summary.structure, true);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 5 1"),
            "{text}"
        );
        assert!(
            text.contains("(\"ATTACHMENT\" (\"FILENAME\" \"x.pdf\"))"),
            "{text}"
        );
        assert!(text.contains(" \"MIXED\" (\"BOUNDARY\" \"b\")"), "{text}");
        let body = section_bytes(
            &parsed.summary.structure,
            raw,
            Some(&Section::Part(imap_codec::imap_types::fetch::Part(
                vec![std::num::NonZeroU32::new(1).unwrap()]
                    .try_into()
                    .unwrap(),
            ))),
        );
        assert_eq!(body.as_deref(), Some(&b"hello"[..]));
    }
}
