//! Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS,
//! CLOSE, UNSELECT (RFC 9051 §6.3, §6.4.1; RFC 6154 SPECIAL-USE; RFC 8438 STATUS=SIZE). LIST
//! and LSUB are `list.rs`.

use std::sync::Arc;

use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::status::StatusDataItemName;
use tern_store::{MailboxInfo, names};

use crate::session::{Fatal, Reply, Session, store_error};
use crate::syntax::create::CreateCommand;
use crate::view::{Announced, RecentUids, View};
use crate::view_cache::{Listed, Lookup};
use crate::wire;

impl Session {
    /// The logged-in account; None before login. Dispatch runs authenticated-state commands
    /// only after login (RFC 9051 §6.3), so a None here answers `BAD` rather than act for
    /// nobody.
    pub(crate) fn logged_in_account(&self) -> Option<tern_store::AccountId> {
        self.account.as_ref().map(|a| a.id)
    }

    /// Every message of `info`'s mailbox: shared from the view cache when nobody changed it,
    /// brought up to date from the cache by its changes since, or read from the store.
    async fn mailbox_list(&self, info: &MailboxInfo) -> Result<Listed, tern_store::StoreError> {
        let (account, store) = (info.account, self.store());
        let messages = match self.config.views.get(info) {
            Some(Lookup::Current(listed)) => return Ok(listed),
            Some(Lookup::Older { entries, modseq }) => {
                let vanished = store.vanished_since(account, info.id, modseq).await?;
                let changed = store.changed_since(account, info.id, modseq).await?;
                tern_store::merge_changes(Arc::unwrap_or_clone(entries), &vanished, changed)
            }
            None => store.message_states(account, info.id).await?,
        };
        let listed = Listed::new(Arc::new(messages));
        self.config.views.put(info, &listed);
        Ok(listed)
    }

    /// The messages that are `\Recent` in a session selecting `info` (RFC 3501 §2.3.2): under
    /// IMAP4rev1 SELECT claims those no session has seen, EXAMINE only looks; IMAP4rev2 has
    /// no `\Recent` (RFC 9051 Appendix E) and costs nothing.
    async fn recent_of_selected(
        &self,
        info: &MailboxInfo,
        read_only: bool,
    ) -> Result<RecentUids, tern_store::StoreError> {
        let mut recent = RecentUids::default();
        let last = info.uid_next.saturating_sub(1);
        if self.rev2 || info.recent_uid >= last {
            return Ok(recent);
        }
        recent.add(if read_only {
            tern_store::RecentClaim {
                after: info.recent_uid,
                through: last,
            }
        } else {
            self.store().claim_recent(info.account, info.id).await?
        });
        Ok(recent)
    }

    /// SELECT / EXAMINE (RFC 9051 §6.3.2, §6.3.3).
    pub async fn select(
        &mut self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
    ) -> Result<Reply, Fatal> {
        let mut qresync = None;
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => {
                    // RFC 7162 §3.2.5: only after ENABLE QRESYNC.
                    if !self.qresync {
                        return Ok(Reply::bad("QRESYNC is not enabled"));
                    }
                    qresync = Some((uid_validity.get(), mod_sequence_value.get(), known_uids));
                }
            }
        }
        // RFC 5182 §2.1: the saved result does not outlive the selection.
        self.saved_search.clear();
        // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected.
        if self.selected.take().is_some() {
            self.io.untagged("OK [CLOSED] Previous mailbox closed");
        }
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return Ok(reply),
        };
        let Some(account) = self.logged_in_account() else {
            return Ok(Reply::log_in_first());
        };
        let store = std::sync::Arc::clone(self.store());
        let info = match store.mailbox(account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Reply::no("No such mailbox").code("NONEXISTENT")),
            Err(e) => return Ok(store_error(&e)),
        };
        let Listed { entries, facts } = match self.mailbox_list(&info).await {
            Ok(listed) => listed,
            Err(e) => return Ok(store_error(&e)),
        };
        let recent = match self.recent_of_selected(&info, read_only).await {
            Ok(recent) => recent,
            Err(e) => return Ok(store_error(&e)),
        };
        let view = View {
            account,
            mailbox: info.id,
            name: info.name.clone(),
            read_only,
            uid_validity: info.uid_validity,
            uid_next: info.uid_next,
            messages: entries,
            synced_modseq: facts.max_modseq.max(info.highest_modseq),
            dirty: false,
            announced: Announced::new(facts.keywords.clone()),
            recent,
        };
        // Changes committed while we read are picked up at the next sync.
        self.drain_feed();
        let io = &mut self.io;
        io.untagged(&format!("{} EXISTS", view.exists()));
        if !self.rev2 {
            // RFC 3501 §6.3.1: RECENT and the first unseen message, gone from rev2.
            io.untagged(&format!("{} RECENT", view.recent_count()));
            if let Some(first) = facts.first_unseen {
                io.untagged(&format!("OK [UNSEEN {}] First unseen", first + 1));
            }
        }
        wire::flags_announcement(&mut io.out, view.announced.keywords(), read_only);
        io.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            view.uid_validity
        ));
        io.untagged(&format!(
            "OK [UIDNEXT {}] Predicted next UID",
            view.uid_next
        ));
        // RFC 7162 §3.1.2.1: with every SELECT of a mailbox that keeps mod-sequences.
        io.untagged(&format!(
            "OK [HIGHESTMODSEQ {}] Highest",
            view.synced_modseq
        ));
        if self.rev2 {
            // RFC 9051 §6.3.2: the LIST response for the selected mailbox.
            let mut line = b"* LIST () \"/\" ".to_vec();
            self.encode_name(&mut line, &info.name);
            line.extend_from_slice(b"\r\n");
            self.io.out.extend_from_slice(&line);
        }
        self.selected = Some(view);
        if let Some((uid_validity, modseq, known_uids)) = qresync {
            let store = std::sync::Arc::clone(self.store());
            if let Err(e) = self
                .qresync_select(
                    &*store,
                    account,
                    info.id,
                    uid_validity,
                    modseq,
                    known_uids.as_ref(),
                )
                .await
            {
                return Ok(store_error(&e));
            }
        }
        Ok(if read_only {
            Reply::ok("EXAMINE completed").code("READ-ONLY")
        } else {
            Reply::ok("SELECT completed").code("READ-WRITE")
        })
    }

    /// CLOSE expunges silently (unless read-only); UNSELECT does not (RFC 9051 §6.4.1, §6.4.2).
    pub async fn close(&mut self, expunge: bool) -> Reply {
        let Some(view) = self.selected.take() else {
            return Reply::bad("No mailbox selected");
        };
        if expunge && !view.read_only {
            let Some(account) = self.logged_in_account() else {
                return Reply::log_in_first();
            };
            if let Err(e) = self.store().expunge(account, view.mailbox, None).await {
                return store_error(&e);
            }
        }
        Reply::ok(if expunge {
            "CLOSE completed"
        } else {
            "UNSELECT completed"
        })
    }

    /// CREATE (RFC 9051 §6.3.4): a trailing delimiter only says children will follow.
    /// CREATE (RFC 9051 §6.3.4), with a special use (RFC 6154 §5.3).
    pub async fn create(&mut self, command: CreateCommand) -> Reply {
        let name = match self.decode_name(&command.mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let name = name.strip_suffix(names::DELIMITER).unwrap_or(&name);
        let name = match names::normalize_mailbox(name) {
            Ok(name) => name,
            Err(e) => return Reply::no(e.to_string()).code("CANNOT"),
        };
        if name == "INBOX" {
            return Reply::no("INBOX always exists").code("ALREADYEXISTS");
        }
        // RFC 6154 §5.3: an attribute we do not know, or more than the one a mailbox here
        // can have, is NO [USEATTR].
        let special_use = match command.uses.as_slice() {
            [] => None,
            [attribute] => match tern_store::SpecialUse::from_attribute(attribute) {
                Some(special) => Some(special),
                None => return Reply::no("Unknown special use").code("USEATTR"),
            },
            _ => return Reply::no("One special use per mailbox").code("USEATTR"),
        };
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        match self
            .store()
            .create_mailbox(account, &name, special_use, false)
            .await
        {
            Ok(_) => Reply::ok("CREATE completed"),
            Err(e) => store_error(&e),
        }
    }

    /// DELETE (RFC 9051 §6.3.5).
    pub async fn delete(&mut self, mailbox: &Mailbox<'_>) -> Reply {
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        if name == "INBOX" {
            return Reply::no("INBOX cannot be deleted").code("CANNOT");
        }
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        match self.store().delete_mailbox(account, &name).await {
            Ok(()) => {
                if self.selected.as_ref().is_some_and(|v| v.name == name) {
                    self.selected = None;
                }
                Reply::ok("DELETE completed")
            }
            Err(e) => store_error(&e),
        }
    }

    /// RENAME (RFC 9051 §6.3.6); renaming INBOX moves its messages (done by the store).
    pub async fn rename(&mut self, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Reply {
        let (from, to) = match (self.mailbox_name(from), self.mailbox_name(to)) {
            (Ok(from), Ok(to)) => (from, to),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        if to == "INBOX" {
            return Reply::no("INBOX already exists").code("ALREADYEXISTS");
        }
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        match self.store().rename_mailbox(account, &from, &to).await {
            Ok(()) => {
                if let Some(view) = self.selected.as_mut()
                    && view.name == from
                {
                    view.name = to;
                }
                Reply::ok("RENAME completed")
            }
            Err(e) => store_error(&e),
        }
    }

    /// SUBSCRIBE / UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8).
    pub async fn subscribe(&mut self, mailbox: &Mailbox<'_>, subscribed: bool) -> Reply {
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        match self
            .store()
            .set_subscribed(account, &name, subscribed)
            .await
        {
            Ok(()) => Reply::ok(if subscribed {
                "SUBSCRIBE completed"
            } else {
                "UNSUBSCRIBE completed"
            }),
            Err(e) => store_error(&e),
        }
    }

    /// STATUS (RFC 9051 §6.3.11).
    pub async fn status(&mut self, mailbox: &Mailbox<'_>, items: &[StatusDataItemName]) -> Reply {
        let name = match self.mailbox_name(mailbox) {
            Ok(name) => name,
            Err(reply) => return reply,
        };
        let Some(account) = self.logged_in_account() else {
            return Reply::log_in_first();
        };
        let store = std::sync::Arc::clone(self.store());
        let info = match store.mailbox(account, &name).await {
            Ok(Some(info)) => info,
            Ok(None) => return Reply::no("No such mailbox").code("NONEXISTENT"),
            Err(e) => return store_error(&e),
        };
        match self.status_response(&info, items).await {
            Ok(()) => Reply::ok("STATUS completed"),
            Err(reply) => reply,
        }
    }

    /// One `* STATUS name (...)` response.
    pub(crate) async fn status_response(
        &mut self,
        info: &MailboxInfo,
        items: &[StatusDataItemName],
    ) -> Result<(), Reply> {
        let store = std::sync::Arc::clone(self.store());
        let status = store
            .mailbox_status(info.account, info.id)
            .await
            .map_err(|e| store_error(&e))?;
        let mut fields = Vec::new();
        for item in items {
            let field = match item {
                StatusDataItemName::Messages => format!("MESSAGES {}", status.messages),
                StatusDataItemName::Recent => format!("RECENT {}", status.recent),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", status.uid_next),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", status.uid_validity),
                StatusDataItemName::Unseen => format!("UNSEEN {}", status.unseen),
                StatusDataItemName::Deleted => format!("DELETED {}", status.deleted),
                StatusDataItemName::Size => format!("SIZE {}", status.size),
                StatusDataItemName::HighestModSeq => {
                    format!("HIGHESTMODSEQ {}", status.highest_modseq)
                }
                StatusDataItemName::DeletedStorage => {
                    return Err(Reply::bad("STATUS DELETED-STORAGE is not supported"));
                }
            };
            fields.push(field);
        }
        let mut line = b"* STATUS ".to_vec();
        self.encode_name(&mut line, &info.name);
        line.extend_from_slice(format!(" ({})\r\n", fields.join(" ")).as_bytes());
        self.io.out.extend_from_slice(&line);
        Ok(())
    }
}
