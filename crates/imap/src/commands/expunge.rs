//! EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9; RFC 4315 §2.1).

use std::sync::Arc;

use imap_codec::imap_types::sequence::SequenceSet;

use crate::session::{Reply, Session, store_error};

impl Session {
    pub async fn expunge(&mut self, uid_set: Option<&SequenceSet>) -> Reply {
        let Some(view) = self.selected.as_ref() else {
            return Reply::bad("No mailbox selected");
        };
        if view.read_only {
            return Reply::no("The mailbox is read-only").code("READ-ONLY");
        }
        let only: Option<Vec<u32>> = uid_set.map(|set| {
            view.resolve(set, true)
                .into_iter()
                .map(|i| view.messages[i].uid)
                .collect()
        });
        let (account, mailbox) = (view.account, view.mailbox);
        let store = Arc::clone(self.store());
        match store.expunge(account, mailbox, only.as_deref()).await {
            Ok(uids) => {
                self.report_expunged(&uids);
                Reply::ok(if uid_set.is_some() {
                    "UID EXPUNGE completed"
                } else {
                    "EXPUNGE completed"
                })
            }
            Err(e) => store_error(&e),
        }
    }

    /// `* n EXPUNGE` for each UID still in the view, highest sequence number first so that
    /// every number is right when the client reads it (RFC 9051 §7.5.1); with QRESYNC one
    /// `* VANISHED uids` instead (RFC 7162 §3.2.10).
    pub fn report_expunged(&mut self, uids: &[u32]) {
        let Some(view) = self.selected.as_mut() else {
            return;
        };
        let mut gone: Vec<usize> = uids.iter().filter_map(|&u| view.index_of_uid(u)).collect();
        gone.sort_unstable_by(|a, b| b.cmp(a));
        let mut vanished = Vec::with_capacity(gone.len());
        for index in gone {
            vanished.push(
                std::sync::Arc::make_mut(&mut view.messages)
                    .remove(index)
                    .uid,
            );
            if !self.qresync {
                self.io.untagged(&format!("{} EXPUNGE", index + 1));
            }
        }
        if self.qresync && !vanished.is_empty() {
            vanished.sort_unstable();
            self.io.untagged(&format!(
                "VANISHED {}",
                crate::wire::sequence_set(&vanished)
            ));
        }
    }
}
