//! The maildrop of one session: the account's INBOX as it was at login (RFC 1939 §4: the
//! message list is fixed for the session), with the deletion marks of DELE.

use tern_store::{AccountId, BlobId, MailboxId, MessageMeta};

/// One message as the session numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uid: u32,
    pub size: u64,
    pub blob: BlobId,
    pub deleted: bool,
    /// Retrieved with RETR in this session (for `mark_seen_on_retr` and EXPIRE 0).
    pub retrieved: bool,
}

/// Why a message number names no message the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    NoSuchMessage,
    /// RFC 1939 §5: a message marked as deleted may not be referred to.
    Deleted,
}

impl Missing {
    pub fn text(self) -> &'static str {
        match self {
            Missing::NoSuchMessage => "no such message",
            Missing::Deleted => "message is marked deleted",
        }
    }
}

#[derive(Debug)]
pub struct Maildrop {
    pub account: AccountId,
    pub mailbox: MailboxId,
    uid_validity: u32,
    entries: Vec<Entry>,
}

impl Maildrop {
    pub fn new(
        account: AccountId,
        mailbox: MailboxId,
        uid_validity: u32,
        messages: Vec<MessageMeta>,
    ) -> Maildrop {
        let entries = messages
            .into_iter()
            .map(|m| Entry {
                uid: m.uid,
                size: m.size,
                blob: m.blob,
                deleted: false,
                retrieved: false,
            })
            .collect();
        Maildrop {
            account,
            mailbox,
            uid_validity,
            entries,
        }
    }

    /// Messages at login, deleted or not: the highest valid message number.
    pub fn message_count(&self) -> usize {
        self.entries.len()
    }

    /// STAT (RFC 1939 §5): count and total size of the messages not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.live()
            .fold((0, 0), |(count, size), (_, e)| (count + 1, size + e.size))
    }

    /// Messages not marked deleted, with their 1-based numbers.
    pub fn live(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.entries
            .iter()
            .zip(1u32..)
            .filter(|(e, _)| !e.deleted)
            .map(|(e, n)| (n, e))
    }

    pub fn get(&self, number: u32) -> Result<&Entry, Missing> {
        let entry = number
            .checked_sub(1)
            .and_then(|i| self.entries.get(i as usize))
            .ok_or(Missing::NoSuchMessage)?;
        if entry.deleted {
            return Err(Missing::Deleted);
        }
        Ok(entry)
    }

    fn get_mut(&mut self, number: u32) -> Result<&mut Entry, Missing> {
        self.get(number)?;
        Ok(&mut self.entries[number as usize - 1])
    }

    /// DELE (RFC 1939 §5): marks only; nothing leaves the store before QUIT.
    pub fn delete(&mut self, number: u32) -> Result<(), Missing> {
        self.get_mut(number)?.deleted = true;
        Ok(())
    }

    pub fn mark_retrieved(&mut self, number: u32) {
        if let Ok(entry) = self.get_mut(number) {
            entry.retrieved = true;
        }
    }

    /// RSET (RFC 1939 §5): unmarks every deleted message.
    pub fn reset(&mut self) {
        for entry in &mut self.entries {
            entry.deleted = false;
        }
    }

    /// The UIDL value (RFC 1939 §7): unique and stable for the message's life, because a UID
    /// is never reused within a UIDVALIDITY, and both survive restarts and flag changes.
    pub fn unique_id(&self, entry: &Entry) -> String {
        format!("{}.{}", self.uid_validity, entry.uid)
    }

    /// UIDs to remove at QUIT: the ones marked deleted, plus, under EXPIRE 0, every retrieved one.
    pub fn uids_to_remove(&self, remove_retrieved: bool) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|e| e.deleted || (remove_retrieved && e.retrieved))
            .map(|e| e.uid)
            .collect()
    }

    /// UIDs retrieved and kept: the ones to mark `\Seen` at QUIT when configured.
    pub fn retrieved_kept(&self) -> Vec<u32> {
        self.entries
            .iter()
            .filter(|e| e.retrieved && !e.deleted)
            .map(|e| e.uid)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: u32, size: u64) -> MessageMeta {
        MessageMeta {
            uid,
            modseq: 1,
            flags: tern_store::Flags::NONE,
            keywords: Vec::new(),
            internal_date: 0,
            save_date: None,
            size,
            blob: BlobId(format!("{uid:064}")),
        }
    }

    fn drop3() -> Maildrop {
        Maildrop::new(
            AccountId(1),
            MailboxId(2),
            77,
            vec![meta(10, 100), meta(11, 200), meta(15, 300)],
        )
    }

    #[test]
    fn numbers_stat_and_deletion_marks() {
        let mut m = drop3();
        assert_eq!(m.stat(), (3, 600));
        assert_eq!(m.get(2).unwrap().uid, 11);
        assert_eq!(m.get(0), Err(Missing::NoSuchMessage));
        assert_eq!(m.get(4), Err(Missing::NoSuchMessage));
        m.delete(2).unwrap();
        assert_eq!(m.delete(2), Err(Missing::Deleted));
        assert_eq!(m.get(2), Err(Missing::Deleted));
        assert_eq!(m.stat(), (2, 400));
        // Numbers do not shift after a deletion (RFC 1939 §5).
        assert_eq!(m.get(3).unwrap().uid, 15);
        assert_eq!(m.live().map(|(n, _)| n).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(m.uids_to_remove(false), vec![11]);
        m.reset();
        assert_eq!(m.stat(), (3, 600));
        assert!(m.uids_to_remove(false).is_empty());
    }

    #[test]
    fn unique_ids_come_from_uidvalidity_and_uid() {
        let m = drop3();
        let ids: Vec<String> = m.live().map(|(_, e)| m.unique_id(e)).collect();
        assert_eq!(ids, vec!["77.10", "77.11", "77.15"]);
    }

    #[test]
    fn retrieved_messages() {
        let mut m = drop3();
        m.mark_retrieved(1);
        m.mark_retrieved(3);
        m.delete(3).unwrap();
        assert_eq!(m.retrieved_kept(), vec![10]);
        assert_eq!(m.uids_to_remove(false), vec![15]);
        assert_eq!(m.uids_to_remove(true), vec![10, 15]);
    }
}
