//! The message lists of large mailboxes, kept on disk as of a MODSEQ (schema V7). Reading a
//! mailbox's list row by row costs about 0.4 µs a message in SQLite, 40 ms for 100,000: the
//! first SELECT of a large mailbox after a restart, or after the IMAP view cache let it go.
//! A snapshot is one blob read and decoded in a few milliseconds, then brought up to date from
//! the changes since its MODSEQ: every change raises a message's MODSEQ or records its UID as
//! expunged with one (RFC 7162 §3.1, §3.2.10), so the two MODSEQ indexes give exactly what
//! changed (as a QRESYNC client resynchronises).
//!
//! A snapshot is a cache: it is written after the answer that read the list, by the writer
//! thread, and one that is missing, older or unreadable only means reading the rows.

use rusqlite::{Connection, params};

use super::messages;
use crate::error::Result;
use crate::types::{MailboxId, MessageState, merge_changes};

/// Smaller mailboxes are read row by row (under a millisecond).
const MIN_MESSAGES: usize = 2_000;
/// The snapshot is written again once the changes since it reach this share of the list.
const REFRESH_DIVISOR: usize = 16;
/// Leading byte of the encoding, to change it later without misreading old snapshots.
const FORMAT: u8 = 1;

/// A mailbox's list, and a newer snapshot to write if the one read is missing or far behind.
pub(crate) struct Loaded {
    pub states: Vec<MessageState>,
    pub refresh: Option<Snapshot>,
}

/// A list encoded as of `modseq`, the mailbox's HIGHESTMODSEQ when it was read.
pub(crate) struct Snapshot {
    modseq: u64,
    data: Vec<u8>,
}

/// Every message of `mailbox` in UID order, from its snapshot and the changes since, or
/// from its rows. One read transaction, so the list is the state as of one MODSEQ.
pub(crate) fn load(conn: &Connection, mailbox: MailboxId) -> Result<Loaded> {
    let tx = conn.unchecked_transaction()?;
    // One look-up; the snapshot's bytes come only where there is one.
    let (highest, stored): (i64, Option<(i64, Vec<u8>)>) = tx
        .prepare_cached(
            "SELECT m.highest_modseq, s.modseq, s.data
             FROM mailboxes m LEFT JOIN state_snapshots s ON s.mailbox_id = m.id
             WHERE m.id = ?1",
        )?
        .query_row([mailbox.0], |r| {
            let snapshot = match r.get::<_, Option<i64>>(1)? {
                Some(modseq) => Some((modseq, r.get(2)?)),
                None => None,
            };
            Ok((r.get(0)?, snapshot))
        })?;
    let highest = highest as u64;
    let base = stored
        .filter(|(modseq, _)| *modseq as u64 <= highest)
        .and_then(|(modseq, data)| Some((modseq as u64, decode(&data)?)));
    let (states, changes) = match base {
        Some((modseq, base)) => {
            let vanished = messages::vanished_since(&tx, mailbox, modseq)?;
            let changed = messages::states(&tx, mailbox, Some(modseq))?;
            let changes = vanished.len() + changed.len();
            (merge_changes(base, &vanished, changed), changes)
        }
        None => (messages::states(&tx, mailbox, None)?, usize::MAX),
    };
    tx.finish()?;
    let refresh = (states.len() >= MIN_MESSAGES
        && changes >= (states.len() / REFRESH_DIVISOR).max(1))
    .then(|| Snapshot {
        modseq: highest,
        data: encode(&states),
    });
    Ok(Loaded { states, refresh })
}

/// Keeps `snapshot` for `mailbox`, unless a newer one is there or the mailbox is gone. One of
/// the same MODSEQ is replaced: the list as of a MODSEQ is always the same, and the one there
/// may be the unreadable one this replaces.
pub(crate) fn save(conn: &Connection, mailbox: MailboxId, snapshot: Snapshot) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO state_snapshots (mailbox_id, modseq, data)
         SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = ?1)
         ON CONFLICT (mailbox_id) DO UPDATE SET modseq = excluded.modseq, data = excluded.data
             WHERE excluded.modseq >= state_snapshots.modseq",
    )?
    .execute(params![mailbox.0, snapshot.modseq as i64, snapshot.data])?;
    Ok(())
}

fn encode(states: &[MessageState]) -> Vec<u8> {
    // postcard writes integers as varints: about 20 bytes a message.
    let data = vec![FORMAT];
    // Plain data always encodes; an empty snapshot would just never decode.
    postcard::to_extend(states, data).unwrap_or_default()
}

fn decode(data: &[u8]) -> Option<Vec<MessageState>> {
    let (&format, rest) = data.split_first()?;
    if format != FORMAT {
        return None;
    }
    let states: Vec<MessageState> = postcard::from_bytes(rest).ok()?;
    // Ascending UIDs, as every list is; anything else is not ours to trust.
    states
        .windows(2)
        .all(|w| w[0].uid < w[1].uid)
        .then_some(states)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Flags;

    fn entries(n: usize) -> Vec<MessageState> {
        (1..=n as u32)
            .map(|uid| MessageState {
                uid,
                flags: Flags::NONE,
                modseq: 1,
                internal_date: 1_700_000_000 + uid as i64,
                save_date: Some(1_700_000_000),
                size: 10,
                keywords: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn a_list_decodes_as_it_was_encoded() {
        let mut states = entries(3);
        states[1].keywords = vec!["$Work".into(), "Later".into()];
        states[2].save_date = None;
        states[2].flags = Flags::SEEN;
        let data = encode(&states);
        assert_eq!(decode(&data), Some(states));
        assert!(decode(&data[..data.len() - 1]).is_none(), "cut short");
        assert!(decode(&[FORMAT + 1]).is_none(), "another format");
        assert!(decode(&[]).is_none());
        let mut reversed = entries(2);
        reversed.reverse();
        assert!(decode(&encode(&reversed)).is_none(), "UIDs out of order");
    }

    #[test]
    fn merging_removes_vanished_replaces_changed_and_adds_new() {
        let mut flagged = entries(5)[3].clone();
        flagged.flags = Flags::SEEN;
        flagged.modseq = 9;
        let new = MessageState {
            uid: 8,
            ..entries(1)[0].clone()
        };
        let out = merge_changes(entries(5), &[2, 5], vec![new, flagged.clone()]);
        assert_eq!(
            out.iter().map(|e| e.uid).collect::<Vec<_>>(),
            vec![1, 3, 4, 8]
        );
        assert_eq!(out[2], flagged);
        assert_eq!(merge_changes(vec![], &[], vec![]), vec![]);
        let inserted = merge_changes(entries(3), &[2], vec![entries(2)[1].clone()]);
        assert_eq!(inserted, entries(3), "a changed UID between others");
    }
}
