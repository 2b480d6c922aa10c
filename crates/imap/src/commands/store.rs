//! STORE and UID STORE (RFC 9051 §6.4.6): FLAGS, +FLAGS, -FLAGS, with .SILENT.

use std::sync::Arc;

use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;
use tern_store::{FlagChange, FlagOp, Flags};

use crate::session::{Reply, Session, store_error};
use crate::wire;

/// A keyword is an atom (imap-codec checked); this bounds how many one message may carry.
const MAX_KEYWORDS_PER_STORE: usize = 64;

impl Session {
    pub async fn store_flags(
        &mut self,
        set: &SequenceSet,
        kind: &StoreType,
        response: &StoreResponse,
        flags: &[String],
        by_uid: bool,
        unchanged_since: Option<u64>,
    ) -> Reply {
        let Some(view) = self.selected.as_ref() else {
            return Reply::bad("No mailbox selected");
        };
        if view.read_only {
            return Reply::no("The mailbox is read-only").code("READ-ONLY");
        }
        let (system, keywords) = match split_flags(flags) {
            Ok(split) => split,
            Err(reply) => return reply,
        };
        let indexes = view.resolve(set, by_uid);
        let uids: Vec<u32> = indexes.iter().map(|&i| view.messages[i].uid).collect();
        let op = match kind {
            StoreType::Replace => FlagOp::Replace,
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
        };
        let change = FlagChange {
            op,
            flags: system,
            keywords,
            unchanged_since,
        };
        let (account, mailbox) = (view.account, view.mailbox);
        if unchanged_since.is_some() {
            self.enable_condstore();
        }
        let store = Arc::clone(self.store());
        let mut modified = Vec::new();
        if !uids.is_empty() {
            match store.update_flags(account, mailbox, &uids, change).await {
                Ok(updated) => {
                    self.apply_flag_updates(updated.changed);
                    modified = updated.modified;
                }
                Err(e) => return store_error(&e),
            }
        }
        // Even with .SILENT: the set of keywords grew (RFC 9051 §7.3.5).
        self.announce_keywords_of(&indexes);
        let condstore = self.condstore;
        if matches!(response, StoreResponse::Answer) {
            let rev2 = self.rev2;
            if let Some(view) = self.selected.as_ref() {
                let out = &mut self.io.out;
                for index in indexes {
                    if modified.contains(&view.messages[index].uid) {
                        continue;
                    }
                    wire::fetch_flags(out, view, index, by_uid || rev2, condstore);
                }
            }
        }
        let reply = Reply::ok(if by_uid {
            "UID STORE completed"
        } else {
            "STORE completed"
        });
        if modified.is_empty() {
            return reply;
        }
        // RFC 7162 §3.1.3: MODIFIED names what UNCHANGEDSINCE left alone (UIDs for UID
        // STORE, sequence numbers otherwise).
        let mut numbers: Vec<u32> = match self.selected.as_ref() {
            Some(view) if !by_uid => modified
                .iter()
                .filter_map(|&uid| view.index_of_uid(uid).map(|i| i as u32 + 1))
                .collect(),
            _ => modified,
        };
        numbers.sort_unstable();
        reply.code(format!("MODIFIED {}", wire::sequence_set(&numbers)))
    }
}

/// System flags as bits and keywords as names; `\Recent` and unknown `\X` flags are refused.
pub fn split_flags(flags: &[String]) -> Result<(Flags, Vec<String>), Reply> {
    let mut system = Flags::NONE;
    let mut keywords: Vec<String> = Vec::new();
    for name in flags {
        let flag = Flag::try_from(name.as_str()).map_err(|_| Reply::bad("Invalid flag"))?;
        match flag {
            Flag::Seen => system = system.union(Flags::SEEN),
            Flag::Answered => system = system.union(Flags::ANSWERED),
            Flag::Flagged => system = system.union(Flags::FLAGGED),
            Flag::Deleted => system = system.union(Flags::DELETED),
            Flag::Draft => system = system.union(Flags::DRAFT),
            Flag::Keyword(atom) => {
                let keyword = atom.as_ref().to_string();
                if !keywords.iter().any(|k| k.eq_ignore_ascii_case(&keyword)) {
                    keywords.push(keyword);
                }
            }
            Flag::Extension(_) => {
                return Err(Reply::bad("Unknown system flag"));
            }
        }
    }
    if keywords.len() > MAX_KEYWORDS_PER_STORE {
        return Err(Reply::no("Too many keywords").code("LIMIT"));
    }
    Ok((system, keywords))
}
