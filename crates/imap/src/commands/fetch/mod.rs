//! FETCH and UID FETCH (RFC 9051 §6.4.5, §7.5.2): flags, dates, sizes, ENVELOPE and
//! BODYSTRUCTURE from the stored summary, body sections from the blob.
//!
//! [`plan`] decides what the command asks for; [`content`] where each body item's bytes come
//! from; the response is written by `response/fetch.rs` and sent here, with unchanged ranges
//! of a message streamed from its blob.

mod content;
mod plan;

use std::sync::Arc;

use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::sequence::SequenceSet;
use tern_message::StoredEnvelope;
use tern_store::{
    AccountId, FlagChange, FlagOp, Flags, MailboxId, MessageMeta, MessageSummary, SharedStore,
    StoreError,
};

use self::content::{ContentError, MessageBlob, OpenBlob, Source};
use self::plan::FetchPlan;
use crate::response::fetch::{Content, EnvelopeSource, FetchResponse, Segment};
use crate::session::{Fatal, Reply, Session, store_error};
use crate::syntax::fetch::Extras;
use crate::view::Entry;
use crate::wire;

/// Summaries are loaded in batches of this many messages.
const BATCH: usize = 256;

/// Blob ranges larger than this are streamed through a buffer this large; smaller ones are read
/// into the output buffer.
const STREAM_BUFFER: usize = 64 * 1024;

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
        plan: plan::Needs,
    ) -> tokio::task::JoinHandle<Result<Chunk, StoreError>> {
        let (store, uids) = (Arc::clone(store), uids.to_vec());
        tokio::spawn(async move {
            let mut chunk = Chunk::default();
            if plan.summary {
                chunk.summaries = store.summaries(account, mailbox, &uids).await?;
            }
            if plan.envelope_only {
                chunk.envelopes = store.envelopes(account, mailbox, &uids).await?;
            }
            Ok(chunk)
        })
    }
}

/// How one message of the FETCH went.
enum Written {
    Sent,
    /// Expunged by another session meanwhile: left out (RFC 2180 §4.1.2).
    Gone,
    /// The command ends with this reply.
    Failed(Reply),
}

impl Session {
    pub async fn fetch(
        &mut self,
        set: &SequenceSet,
        items: &MacroOrMessageDataItemNames<'_>,
        by_uid: bool,
        modifiers: &[FetchModifier],
        extras: Extras,
    ) -> Result<Reply, Fatal> {
        let plan = FetchPlan::new(items, by_uid, modifiers, extras, self.qresync);
        let plan = match plan {
            Ok(plan) => plan,
            Err(reply) => return Ok(reply),
        };
        if plan.enables_condstore {
            self.enable_condstore();
        }
        let Some(view) = self.selected.as_ref() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let mut indexes = view.resolve(set, by_uid);
        if let Some(since) = plan.changed_since {
            indexes.retain(|&i| view.messages[i].modseq > since);
            if plan.vanished
                && let Err(e) = self.report_vanished_earlier(set, since).await
            {
                return Ok(store_error(&e));
            }
        }
        // The flags shown are the view's: their keywords are announced first (RFC 9051 §7.3.5).
        self.announce_keywords_of(&indexes);
        let mut expunged_meanwhile = false;
        match self
            .fetch_batches(&plan, &indexes, &mut expunged_meanwhile)
            .await?
        {
            Some(reply) => Ok(reply),
            None if expunged_meanwhile => {
                Ok(Reply::no("Some of the requested messages no longer exist")
                    .code("EXPUNGEISSUED"))
            }
            None => Ok(Reply::ok(if by_uid {
                "UID FETCH completed"
            } else {
                "FETCH completed"
            })),
        }
    }

    /// RFC 7162 §3.2.6: `VANISHED (EARLIER)` for the UIDs of `set` expunged since `since`.
    async fn report_vanished_earlier(
        &mut self,
        set: &SequenceSet,
        since: u64,
    ) -> Result<(), StoreError> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(());
        };
        let largest = view
            .messages
            .last()
            .map_or(0, |m| m.uid)
            .max(view.uid_next.saturating_sub(1));
        let store = Arc::clone(self.store());
        let mut gone = store
            .vanished_since(view.account, view.mailbox, since)
            .await?;
        gone.retain(|&uid| crate::commands::condstore::set_contains(set, uid, largest));
        gone.sort_unstable();
        gone.dedup();
        if !gone.is_empty() {
            self.io
                .untagged(&format!("VANISHED (EARLIER) {}", wire::sequence_set(&gone)));
        }
        Ok(())
    }

    /// Reads and sends the messages at `indexes` of the view in batches; Some is a reply that
    /// ends the command early.
    async fn fetch_batches(
        &mut self,
        plan: &FetchPlan<'_>,
        indexes: &[usize],
        expunged_meanwhile: &mut bool,
    ) -> Result<Option<Reply>, Fatal> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(Some(Reply::bad("No mailbox selected")));
        };
        let (account, mailbox) = (view.account, view.mailbox);
        let sets_seen = plan.sets_seen && !view.read_only;
        let store = Arc::clone(self.store());
        let uids_of =
            |chunk: &[usize]| -> Vec<u32> { chunk.iter().map(|&i| view.messages[i].uid).collect() };
        let chunk_uids: Vec<Vec<u32>> = indexes.chunks(BATCH).map(uids_of).collect();
        let load = |uids: &[u32]| Chunk::load(&store, account, mailbox, uids, plan.needs);
        // The next chunk is read while this one is written: the store decodes on its reader
        // thread as the session encodes and sends (on 2 cores, a FETCH 1:* of a large mailbox
        // takes about half the time).
        let mut next = chunk_uids.first().map(|uids| load(uids));
        for (n, chunk) in indexes.chunks(BATCH).enumerate() {
            let Some(loading) = next.take() else {
                break;
            };
            let loaded = match loading.await {
                Ok(Ok(loaded)) => loaded,
                Ok(Err(e)) => return Ok(Some(store_error(&e))),
                Err(e) => return Ok(Some(store_error(&StoreError::from(e)))),
            };
            next = chunk_uids.get(n + 1).map(|uids| load(uids));
            let newly_seen = if sets_seen {
                match self.mark_seen(chunk).await {
                    Ok(seen) => seen,
                    Err(e) => return Ok(Some(store_error(&e))),
                }
            } else {
                Vec::new()
            };
            for (&index, &uid) in chunk.iter().zip(&chunk_uids[n]) {
                match self
                    .fetch_one(plan, index, uid, &loaded, &newly_seen)
                    .await?
                {
                    Written::Sent => {}
                    Written::Gone => *expunged_meanwhile = true,
                    Written::Failed(reply) => return Ok(Some(reply)),
                }
            }
        }
        Ok(None)
    }

    /// Sets `\Seen` on the messages at `indexes` that lack it; the UIDs it was set on.
    async fn mark_seen(&mut self, indexes: &[usize]) -> Result<Vec<u32>, StoreError> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(Vec::new());
        };
        let unseen: Vec<u32> = indexes
            .iter()
            .map(|&i| &view.messages[i])
            .filter(|m| !m.flags.contains(Flags::SEEN))
            .map(|m| m.uid)
            .collect();
        if unseen.is_empty() {
            return Ok(Vec::new());
        }
        let change = FlagChange {
            op: FlagOp::Add,
            flags: Flags::SEEN,
            keywords: Vec::new(),
            unchanged_since: None,
        };
        let (account, mailbox) = (view.account, view.mailbox);
        let store = Arc::clone(self.store());
        let updated = store
            .update_flags(account, mailbox, &unseen, change)
            .await?;
        let seen = updated.changed.iter().map(|m| m.uid).collect();
        self.apply_flag_updates(updated.changed);
        Ok(seen)
    }

    /// Writes and sends one message's response.
    async fn fetch_one(
        &mut self,
        plan: &FetchPlan<'_>,
        index: usize,
        uid: u32,
        loaded: &Chunk,
        newly_seen: &[u32],
    ) -> Result<Written, Fatal> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(Written::Gone);
        };
        let (account, mailbox) = (view.account, view.mailbox);
        let entry = view.messages[index].clone();
        let recent = view.recent.contains(uid);
        let found = loaded.summaries.iter().find(|s| s.meta.uid == uid);
        let envelope = if plan.needs.envelope_only {
            let stored = &loaded.envelopes;
            match stored.binary_search_by_key(&uid, |(uid, _)| *uid) {
                Ok(i) => Some(EnvelopeSource::Stored(&stored[i].1)),
                Err(_) => return Ok(Written::Gone),
            }
        } else {
            found.map(|s| EnvelopeSource::Decoded(&s.summary.envelope))
        };
        if plan.needs.summary && found.is_none() {
            return Ok(Written::Gone);
        }
        // RFC 9051 §6.4.5: a \Seen set by this FETCH is reported with it.
        let items = if newly_seen.contains(&uid) {
            &plan.items_with_flags
        } else {
            &plan.items
        };
        let store = Arc::clone(self.store());
        let mut blob = found.map(|s| MessageBlob::new(&store, account, mailbox, &s.meta));
        let message = Message {
            seq: index + 1,
            entry: &entry,
            recent,
            summary: found,
            envelope,
        };
        let segments = match write_message(message, items, plan.extras, blob.as_mut()).await {
            Ok(segments) => segments,
            Err(ContentError::Gone) => return Ok(Written::Gone),
            Err(ContentError::UnknownEncoding) => {
                // RFC 3516 §4.3: a transfer encoding we cannot decode.
                let reply = Reply::no("Unknown Content-Transfer-Encoding").code("UNKNOWN-CTE");
                return Ok(Written::Failed(reply));
            }
            Err(ContentError::Store(e)) => return Ok(Written::Failed(store_error(&e))),
        };
        let reader = blob.and_then(MessageBlob::into_reader);
        self.send_segments(segments, reader).await?;
        Ok(Written::Sent)
    }

    /// Sends a response's pieces, streaming blob ranges from `reader`.
    async fn send_segments(
        &mut self,
        segments: Vec<Segment>,
        mut reader: Option<OpenBlob>,
    ) -> Result<(), Fatal> {
        for segment in segments {
            match segment {
                Segment::Bytes(bytes) => self.io.out.extend_from_slice(&bytes),
                Segment::Blob(range) => {
                    let reader = reader.as_mut().ok_or_else(|| {
                        std::io::Error::other("a blob range without an open blob")
                    })?;
                    // A short file is past recovery here: the literal's length is already out.
                    match reader {
                        OpenBlob::File(file) if range.end - range.start > STREAM_BUFFER as u64 => {
                            self.io.flush().await?;
                            let stream = self.io.stream()?;
                            file.copy_range(range, stream, STREAM_BUFFER).await?;
                        }
                        // Small bodies join the output buffer, so a FETCH of many small
                        // messages still goes out in few writes.
                        small => {
                            let data = small.read_range(range).await?;
                            self.io.out.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
        self.io.flush_if_large().await?;
        Ok(())
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

/// One message of the view and what was read for it.
struct Message<'a> {
    seq: usize,
    entry: &'a Entry,
    /// `\Recent` in this session (RFC 3501 §2.3.2).
    recent: bool,
    summary: Option<&'a MessageSummary>,
    envelope: Option<EnvelopeSource<'a>>,
}

/// The response for one message, its content items read from `blob` as they need.
async fn write_message(
    message: Message<'_>,
    items: &[MessageDataItemName<'_>],
    extras: Extras,
    mut blob: Option<&mut MessageBlob<'_>>,
) -> Result<Vec<Segment>, ContentError> {
    use MessageDataItemName as I;
    let Message {
        seq,
        entry,
        recent,
        summary,
        envelope,
    } = message;
    let root = summary.map(|s| &s.summary.structure);
    let mut response = FetchResponse::new(seq);
    for item in items {
        match item {
            I::Uid => response.uid(entry.uid),
            I::Flags => response.flags(entry.flags, &entry.keywords, recent),
            I::InternalDate => response.internal_date(entry.internal_date),
            I::Rfc822Size => response.rfc822_size(entry.size),
            I::ModSeq => response.modseq(entry.modseq),
            I::Envelope => response.envelope(envelope),
            I::Body => response.structure(root, false),
            I::BodyStructure => response.structure(root, true),
            content_item => {
                let (Some(root), Some(blob)) = (root, blob.as_deref_mut()) else {
                    return Err(ContentError::Gone);
                };
                write_content(&mut response, root, content_item, blob).await?;
            }
        }
    }
    if extras.save_date {
        response.save_date(entry.save_date);
    }
    if extras.preview {
        response.preview(summary.map(|s| s.summary.preview.as_str()));
    }
    Ok(response.finish())
}

/// BODY[...], BINARY[...], BINARY.SIZE[...] and the RFC822 items.
async fn write_content(
    response: &mut FetchResponse,
    root: &tern_message::Part,
    item: &MessageDataItemName<'_>,
    blob: &mut MessageBlob<'_>,
) -> Result<(), ContentError> {
    use MessageDataItemName as I;
    match item {
        I::Rfc822 => {
            let data = content::content(root, content::body_source(root, None), blob).await?;
            response.content(b"RFC822", None, data, false);
        }
        I::Rfc822Header => {
            let data = content::content(root, content::rfc822_source(root, true), blob).await?;
            response.content(b"RFC822.HEADER", None, data, false);
        }
        I::Rfc822Text => {
            let data = content::content(root, content::rfc822_source(root, false), blob).await?;
            response.content(b"RFC822.TEXT", None, data, false);
        }
        I::BodyExt {
            section, partial, ..
        } => {
            let source = content::body_source(root, section.as_ref());
            let data = content::content(root, source, blob).await?;
            let name = content::body_item_name(section.as_ref());
            write_partial(response, &name, data, *partial, false);
        }
        I::Binary {
            section, partial, ..
        } => {
            let (source, may_hold_nul) = content::binary_source(root, section);
            let data = content::content(root, source, blob).await?;
            let literal8 = match &data {
                Content::Bytes(bytes) => bytes.contains(&0),
                _ => may_hold_nul,
            };
            let name = format!("BINARY[{}]", content::part_name(section));
            write_partial(response, name.as_bytes(), data, *partial, literal8);
        }
        I::BinarySize { section } => {
            let (source, _) = content::binary_source(root, section);
            let size = match source {
                // The size of a range needs no reading.
                Source::Raw(range) => range.end - range.start,
                source => content::content(root, source, blob).await?.len(),
            };
            response.binary_size(&content::part_name(section), size);
        }
        _ => {}
    }
    Ok(())
}

/// A content item, cut to `<origin.length>` when asked (RFC 9051 §6.4.5).
fn write_partial(
    response: &mut FetchResponse,
    name: &[u8],
    data: Content,
    partial: Option<(u32, std::num::NonZeroU32)>,
    literal8: bool,
) {
    match partial {
        None => response.content(name, None, data, literal8),
        Some((origin, length)) => {
            response.content(name, Some(origin), data.cut(origin, length), literal8)
        }
    }
}
