//! COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; RFC 6851 MOVE; RFC 4315 COPYUID).

use std::sync::Arc;

use imap_codec::imap_types::sequence::SequenceSet;

use crate::session::{Reply, Session, store_error};
use crate::wire;

impl Session {
    pub async fn copy_or_move(
        &mut self,
        set: &SequenceSet,
        target: &[u8],
        by_uid: bool,
        is_move: bool,
    ) -> Reply {
        let name = match self.mailbox_name_of(target) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let Some(view) = self.selected.as_ref() else {
            return Reply::bad("No mailbox selected");
        };
        if is_move && view.read_only {
            return Reply::no("The mailbox is read-only").code("READ-ONLY");
        }
        let uids: Vec<u32> = view
            .resolve(set, by_uid)
            .into_iter()
            .map(|i| view.messages[i].uid)
            .collect();
        let (account, source) = (view.account, view.mailbox);
        let store = Arc::clone(self.store());
        let target = match store.mailbox(account, &name).await {
            Ok(Some(info)) => info,
            // RFC 9051 §6.4.7: TRYCREATE when the target does not exist.
            Ok(None) => return Reply::no("No such mailbox").code("TRYCREATE"),
            Err(e) => return store_error(&e),
        };
        let command = match (is_move, by_uid) {
            (true, true) => "UID MOVE",
            (true, false) => "MOVE",
            (false, true) => "UID COPY",
            (false, false) => "COPY",
        };
        if uids.is_empty() {
            return Reply::ok(format!("{command} completed (no messages)"));
        }
        let outcome = if is_move {
            store.move_messages(account, source, &uids, target.id).await
        } else {
            store.copy_messages(account, source, &uids, target.id).await
        };
        let copied = match outcome {
            Ok(copied) => copied,
            Err(e) => return store_error(&e),
        };
        let (from, to): (Vec<u32>, Vec<u32>) = copied.uids.iter().copied().unzip();
        let code = format!(
            "COPYUID {} {} {}",
            copied.uid_validity,
            wire::sequence_set(&from),
            wire::sequence_set(&to)
        );
        if is_move {
            // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
            self.io.untagged(&format!("OK [{code}] Moved"));
            self.report_expunged(&from);
            Reply::ok(format!("{command} completed"))
        } else {
            Reply::ok(format!("{command} completed")).code(code)
        }
    }
}
