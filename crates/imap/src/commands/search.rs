//! SEARCH and UID SEARCH (RFC 9051 §6.4.4): every key over flags, sizes, dates, sequence and
//! UID sets, addresses and subject (from the stored summary), header fields and text (from the
//! message), with OR / NOT / nesting. Text matches are case-insensitive substring matches over
//! decoded text (UTF-8). IMAP4rev2 clients get ESEARCH (RFC 9051 §7.3.4), others SEARCH.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tern_message::{Address, Summary};
use tern_store::{Flags, SearchField};

use crate::session::{Fatal, Reply, Session, store_error};
use crate::syntax::search::{SearchCommand, SearchKey, SearchReturn};
use crate::view::{Entry, View};
use crate::wire;

/// Summaries are loaded in batches of this many messages.
const BATCH: usize = 256;
/// Nesting deeper than this is refused (the parser bounds it too).
const MAX_DEPTH: usize = crate::syntax::search::MAX_DEPTH;

/// What a search needs to read beyond the per-message metadata.
#[derive(Debug, Default, Clone, Copy)]
struct Needs {
    summary: bool,
    raw: bool,
    /// A MODSEQ key: the response carries the highest MODSEQ (RFC 7162 §3.1.5).
    modseq: bool,
}

impl Session {
    pub async fn search(&mut self, command: SearchCommand, tag: &str) -> Result<Reply, Fatal> {
        let SearchCommand {
            uid: by_uid,
            returns,
            charset,
            criteria,
        } = command;
        let criteria = &criteria[..];
        if let Some(name) = charset
            && !name.eq_ignore_ascii_case("UTF-8")
            && !name.eq_ignore_ascii_case("US-ASCII")
        {
            return Ok(Reply::no("Unsupported charset").code("BADCHARSET (UTF-8 US-ASCII)"));
        }
        let mut needs = Needs::default();
        for key in criteria {
            if !scan(key, &mut needs, 0) {
                return Ok(Reply::bad("Search criteria nested too deeply"));
            }
        }
        if needs.modseq {
            self.enable_condstore();
        }
        let Some(view) = self.selected.as_ref() else {
            return Ok(Reply::bad("No mailbox selected"));
        };
        let (account, mailbox) = (view.account, view.mailbox);
        let store = Arc::clone(self.store());
        // BODY and TEXT come from the store's text index: one lookup per key, not a read of
        // every message.
        let mut texts = TextHits::default();
        for key in criteria {
            texts.collect_keys(key);
        }
        for ((field, needle), uids) in &mut texts.0 {
            match store
                .uids_containing(account, mailbox, *field, needle)
                .await
            {
                Ok(found) => *uids = found.into_iter().collect(),
                Err(e) => return Ok(store_error(&e)),
            }
        }
        let now = now();
        // RFC 5182 §2.1: `$` is the UIDs the last SEARCH RETURN (SAVE) kept.
        let saved: HashSet<u32> = self.saved_search.iter().copied().collect();
        let mut hits: Vec<u32> = Vec::new();
        // The MODSEQ of each hit, for the ESEARCH MODSEQ of MIN or MAX (RFC 7162 §3.1.5).
        let mut hit_modseqs: Vec<u64> = Vec::new();
        let all: Vec<usize> = (0..view.messages.len()).collect();
        for chunk in all.chunks(BATCH) {
            let Some(view) = self.selected.as_ref() else {
                break;
            };
            let summaries = if needs.summary || needs.raw {
                let uids: Vec<u32> = chunk.iter().map(|&i| view.messages[i].uid).collect();
                match store.summaries(account, mailbox, &uids).await {
                    Ok(s) => s,
                    Err(e) => return Ok(store_error(&e)),
                }
            } else {
                Vec::new()
            };
            for &index in chunk {
                let meta = &view.messages[index];
                let found = summaries.iter().find(|s| s.meta.uid == meta.uid);
                let summary = found.map(|s| &s.summary);
                if (needs.summary || needs.raw) && summary.is_none() {
                    continue; // expunged meanwhile
                }
                let text = if let (true, Some(found)) = (needs.raw, found) {
                    match store.read_blob(&found.meta.blob).await {
                        Ok(raw) => Some(MessageText::new(&raw, summary)),
                        Err(e) => return Ok(store_error(&e)),
                    }
                } else {
                    None
                };
                let message = Message {
                    seq: index as u32 + 1,
                    meta,
                    summary,
                    text: text.as_ref(),
                    texts: &texts,
                    saved: &saved,
                    view,
                    now,
                };
                if criteria.iter().all(|key| message.matches(key)) {
                    hits.push(if by_uid { meta.uid } else { message.seq });
                    hit_modseqs.push(meta.modseq);
                }
            }
        }
        let highest_modseq = hit_modseqs.iter().copied().max().unwrap_or(0);
        if let Some(options) = returns {
            if options.save {
                // RFC 5182 §2.1: the result is kept as UIDs.
                self.saved_search = match (by_uid, self.selected.as_ref()) {
                    (true, _) => hits.clone(),
                    (false, Some(view)) => hits
                        .iter()
                        .map(|&seq| view.messages[seq as usize - 1].uid)
                        .collect(),
                    (false, None) => Vec::new(),
                };
            }
            // RFC 5182 §2.2: SAVE alone returns no ESEARCH response.
            let only_save =
                options.save && !(options.min || options.max || options.count || options.all);
            if !only_save {
                let mut line = format!("ESEARCH (TAG \"{tag}\")");
                if by_uid {
                    line.push_str(" UID");
                }
                if let (true, Some(min)) = (options.min, hits.first()) {
                    line.push_str(&format!(" MIN {min}"));
                }
                if let (true, Some(max)) = (options.max, hits.last()) {
                    line.push_str(&format!(" MAX {max}"));
                }
                if options.all && !hits.is_empty() {
                    line.push_str(&format!(" ALL {}", wire::sequence_set(&hits)));
                }
                if options.count {
                    line.push_str(&format!(" COUNT {}", hits.len()));
                }
                if needs.modseq && !hits.is_empty() {
                    let modseq = returned_modseq(&options, &hit_modseqs, highest_modseq);
                    line.push_str(&format!(" MODSEQ {modseq}"));
                }
                self.io.untagged(&line);
            }
        } else if self.rev2 {
            let mut line = format!("ESEARCH (TAG \"{tag}\")");
            if by_uid {
                line.push_str(" UID");
            }
            if !hits.is_empty() {
                line.push_str(" ALL ");
                line.push_str(&wire::sequence_set(&hits));
                if needs.modseq {
                    line.push_str(&format!(" MODSEQ {highest_modseq}"));
                }
            }
            self.io.untagged(&line);
        } else {
            let mut line = String::from("SEARCH");
            for hit in &hits {
                line.push(' ');
                line.push_str(&hit.to_string());
            }
            if needs.modseq && !hits.is_empty() {
                line.push_str(&format!(" (MODSEQ {highest_modseq})"));
            }
            self.io.untagged(&line);
        }
        Ok(Reply::ok(if by_uid {
            "UID SEARCH completed"
        } else {
            "SEARCH completed"
        }))
    }
}

/// The MODSEQ an ESEARCH reports (RFC 7162 §3.1.5, RFC 4731 §3.2): with ALL or COUNT the
/// highest of every hit (`highest`); with only MIN and/or MAX, the highest of the messages
/// returned. `modseqs` are the hits' MODSEQs in hit order (ascending sequence number or UID).
fn returned_modseq(options: &SearchReturn, modseqs: &[u64], highest: u64) -> u64 {
    if options.all || options.count {
        return highest;
    }
    let first = modseqs.first().copied().filter(|_| options.min);
    let last = modseqs.last().copied().filter(|_| options.max);
    first.max(last).unwrap_or(highest)
}

/// Records what the key needs; false when nested too deeply.
fn scan(key: &SearchKey, needs: &mut Needs, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match key {
        SearchKey::And(keys) => keys.iter().all(|k| scan(k, needs, depth + 1)),
        SearchKey::Not(k) => scan(k, needs, depth + 1),
        SearchKey::Or(a, b) => scan(a, needs, depth + 1) && scan(b, needs, depth + 1),
        SearchKey::Bcc(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Subject(_)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => {
            needs.summary = true;
            true
        }
        SearchKey::Header(..) => {
            needs.raw = true;
            true
        }
        SearchKey::ModSeq(_) => {
            needs.modseq = true;
            true
        }
        _ => true,
    }
}

/// The UIDs matching each BODY / TEXT key of a search (field, lower-cased needle).
#[derive(Default)]
struct TextHits(HashMap<(SearchField, String), HashSet<u32>>);

impl TextHits {
    fn collect_keys(&mut self, key: &SearchKey) {
        match key {
            SearchKey::And(keys) => keys.iter().for_each(|k| self.collect_keys(k)),
            SearchKey::Not(k) => self.collect_keys(k),
            SearchKey::Or(a, b) => {
                self.collect_keys(a);
                self.collect_keys(b);
            }
            SearchKey::Body(s) => {
                self.0.entry((SearchField::Body, lower(s))).or_default();
            }
            SearchKey::Text(s) => {
                self.0.entry((SearchField::Text, lower(s))).or_default();
            }
            _ => {}
        }
    }

    fn contains(&self, field: SearchField, needle: &[u8], uid: u32) -> bool {
        self.0
            .get(&(field, lower(needle)))
            .is_some_and(|uids| uids.contains(&uid))
    }
}

/// A message's header, for HEADER keys.
struct MessageText {
    header: Vec<u8>,
}

impl MessageText {
    fn new(raw: &[u8], summary: Option<&Summary>) -> MessageText {
        let header = summary
            .map(|s| s.structure.header_in(raw).to_vec())
            .unwrap_or_default();
        MessageText { header }
    }
}

struct Message<'a> {
    seq: u32,
    meta: &'a Entry,
    summary: Option<&'a Summary>,
    text: Option<&'a MessageText>,
    texts: &'a TextHits,
    /// The saved result `$`, as UIDs.
    saved: &'a HashSet<u32>,
    view: &'a View,
    now: i64,
}

impl Message<'_> {
    /// `\Recent` in this session (RFC 3501 §2.3.2).
    fn recent(&self) -> bool {
        self.view.recent.contains(self.meta.uid)
    }

    /// RFC 9051 §6.4.4: the Date header's day as written, its time and zone disregarded;
    /// INTERNALDATE's day where there is no readable Date. Parsed only for SENT* keys.
    fn sent_day(&self) -> i64 {
        self.summary
            .and_then(|s| s.envelope.date.as_deref())
            .and_then(tern_message::written_day)
            .unwrap_or_else(|| self.meta.internal_date.div_euclid(86_400))
    }

    fn matches(&self, key: &SearchKey) -> bool {
        let flags = self.meta.flags;
        let has = |f: Flags| flags.contains(f);
        let day = |unix: i64| unix.div_euclid(86_400);
        let internal_day = day(self.meta.internal_date);
        // RFC 8514 §4.2. Where a save date is unknown, INTERNALDATE stands in for it (our
        // choice: the message was saved no later than it arrived).
        let saved_day = || day(self.meta.save_date.unwrap_or(self.meta.internal_date));
        match key {
            SearchKey::And(keys) => keys.iter().all(|k| self.matches(k)),
            SearchKey::Not(k) => !self.matches(k),
            SearchKey::Or(a, b) => self.matches(a) || self.matches(b),
            SearchKey::All => true,
            SearchKey::SequenceSet(set) => self
                .view
                .resolve(set, false)
                .binary_search(&(self.seq as usize - 1))
                .is_ok(),
            SearchKey::Uid(set) => self
                .view
                .resolve(set, true)
                .binary_search(&(self.seq as usize - 1))
                .is_ok(),
            SearchKey::Saved => self.saved.contains(&self.meta.uid),
            SearchKey::Answered => has(Flags::ANSWERED),
            SearchKey::Unanswered => !has(Flags::ANSWERED),
            SearchKey::Deleted => has(Flags::DELETED),
            SearchKey::Undeleted => !has(Flags::DELETED),
            SearchKey::Draft => has(Flags::DRAFT),
            SearchKey::Undraft => !has(Flags::DRAFT),
            SearchKey::Flagged => has(Flags::FLAGGED),
            SearchKey::Unflagged => !has(Flags::FLAGGED),
            SearchKey::Seen => has(Flags::SEEN),
            SearchKey::Unseen => !has(Flags::SEEN),
            // RFC 3501 §6.4.4; under IMAP4rev2 no message is recent (RFC 9051 removed it).
            SearchKey::Recent => self.recent(),
            SearchKey::New => self.recent() && !has(Flags::SEEN),
            SearchKey::Old => !self.recent(),
            SearchKey::Keyword(k) => self.meta.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)),
            SearchKey::Unkeyword(k) => {
                !self.meta.keywords.iter().any(|x| x.eq_ignore_ascii_case(k))
            }
            SearchKey::Larger(n) => self.meta.size > *n,
            SearchKey::Smaller(n) => self.meta.size < *n,
            SearchKey::Before(d) => internal_day < *d,
            SearchKey::On(d) => internal_day == *d,
            SearchKey::Since(d) => internal_day >= *d,
            SearchKey::SentBefore(d) => self.sent_day() < *d,
            SearchKey::SentOn(d) => self.sent_day() == *d,
            SearchKey::SentSince(d) => self.sent_day() >= *d,
            SearchKey::SavedBefore(d) => saved_day() < *d,
            SearchKey::SavedOn(d) => saved_day() == *d,
            SearchKey::SavedSince(d) => saved_day() >= *d,
            // Every mailbox here keeps save dates (RFC 8514 §4.2).
            SearchKey::SaveDateSupported => true,
            // RFC 5032 WITHIN.
            SearchKey::Older(secs) => self.meta.internal_date <= self.now - i64::from(*secs),
            SearchKey::Younger(secs) => self.meta.internal_date >= self.now - i64::from(*secs),
            SearchKey::ModSeq(modseq) => self.meta.modseq >= *modseq,
            SearchKey::Subject(s) => self.summary.is_some_and(|sum| contains(&sum.subject, s)),
            SearchKey::From(s) => self.addresses(|e| &e.from, s),
            SearchKey::To(s) => self.addresses(|e| &e.to, s),
            SearchKey::Cc(s) => self.addresses(|e| &e.cc, s),
            SearchKey::Bcc(s) => self.addresses(|e| &e.bcc, s),
            SearchKey::Header(name, value) => self.text.is_some_and(|t| {
                let fields = tern_message::header_fields(&t.header, &[name.as_str()], false);
                // The field's value: after the first colon of each field line.
                let fields = String::from_utf8_lossy(&fields).to_lowercase();
                !fields.trim().is_empty() && {
                    let needle = lower(value);
                    fields
                        .lines()
                        .filter_map(|l| l.split_once(':').map(|(_, v)| v).or(Some(l)))
                        .any(|v| v.contains(&needle))
                }
            }),
            SearchKey::Body(s) => self.texts.contains(SearchField::Body, s, self.meta.uid),
            SearchKey::Text(s) => self.texts.contains(SearchField::Text, s, self.meta.uid),
        }
    }

    fn addresses(
        &self,
        list: impl Fn(&tern_message::Envelope) -> &Vec<Address>,
        needle: &[u8],
    ) -> bool {
        let Some(summary) = self.summary else {
            return false;
        };
        let needle = lower(needle);
        list(&summary.envelope).iter().any(|a| {
            let text = format!(
                "{} <{}@{}>",
                a.name.as_deref().unwrap_or(""),
                a.mailbox.as_deref().unwrap_or(""),
                a.host.as_deref().unwrap_or("")
            );
            text.to_lowercase().contains(&needle)
        })
    }
}

fn lower(s: &[u8]) -> String {
    String::from_utf8_lossy(s).to_lowercase()
}

fn contains(haystack: &str, needle: &[u8]) -> bool {
    haystack.to_lowercase().contains(&lower(needle))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
