//! CONDSTORE and QRESYNC (RFC 7162): resynchronising a client that was offline, from the
//! MODSEQ it last saw: VANISHED (EARLIER) for what was expunged, FETCH for what changed.

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use tern_store::{AccountId, MailboxId, Store, StoreError};

use crate::session::Session;
use crate::wire;

impl Session {
    /// A CONDSTORE-enabling command (RFC 7162 §3.1: FETCH or SEARCH with MODSEQ, CHANGEDSINCE,
    /// UNCHANGEDSINCE) turns CONDSTORE on; the first one in a session with a mailbox selected
    /// reports the mailbox's HIGHESTMODSEQ, which the client has not been told yet.
    pub fn enable_condstore(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(view) = self.selected.as_ref() {
            let line = format!("OK [HIGHESTMODSEQ {}] Highest", view.synced_modseq);
            self.io.untagged(&line);
        }
    }

    /// RFC 7162 §3.2.5.1: after SELECT (QRESYNC (uidvalidity modseq [known-uids])), report
    /// what happened since `modseq`, if the UIDVALIDITY the client knows is still valid.
    pub async fn qresync_select(
        &mut self,
        store: &dyn Store,
        account: AccountId,
        mailbox: MailboxId,
        uid_validity: u32,
        modseq: u64,
        known_uids: Option<&SequenceSet>,
    ) -> Result<(), StoreError> {
        let Some(view) = self.selected.as_ref() else {
            return Ok(());
        };
        if view.uid_validity != uid_validity {
            return Ok(());
        }
        let mut vanished = store.vanished_since(account, mailbox, modseq).await?;
        if let Some(known) = known_uids {
            vanished.retain(|&uid| set_contains(known, uid, u32::MAX));
        }
        vanished.sort_unstable();
        vanished.dedup();
        if !vanished.is_empty() {
            self.io.untagged(&format!(
                "VANISHED (EARLIER) {}",
                wire::sequence_set(&vanished)
            ));
        }
        let changed = store.changed_since(account, mailbox, modseq).await?;
        self.report_changed_flags(changed.iter().map(|m| m.uid));
        Ok(())
    }

    /// `* n FETCH (UID u FLAGS (...) MODSEQ (m))` for these UIDs, as the view knows them.
    pub fn report_changed_flags(&mut self, uids: impl Iterator<Item = u32>) {
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let indexes: Vec<usize> = uids.filter_map(|uid| view.index_of_uid(uid)).collect();
        self.announce_keywords_of(&indexes);
        let Some(view) = self.selected.as_ref() else {
            return;
        };
        let out = &mut self.io.out;
        for index in indexes {
            wire::fetch_flags(out, view, index, true, true);
        }
    }
}

/// True when `value` is in `set`, where `*` stands for `largest`.
pub fn set_contains(set: &SequenceSet, value: u32, largest: u32) -> bool {
    let expand = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => expand(v) == value,
        Sequence::Range(a, b) => {
            let (a, b) = (expand(a), expand(b));
            (a.min(b)..=a.max(b)).contains(&value)
        }
    })
}
