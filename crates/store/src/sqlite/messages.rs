//! Messages: append and deliver, flags, copy, move, expunge, and the reads sessions need.

use super::Changes;
use super::mailboxes::owned;
use crate::error::{QuotaScope, Result, StoreError};
use crate::types::*;
use rusqlite::{Connection, OptionalExtension, params};

const MAX_KEYWORDS: usize = 64;
const MAX_KEYWORD_LEN: usize = 128;

/// Keywords are kept sorted, unique, space-separated.
pub(crate) fn encode_keywords(keywords: &[String]) -> Result<String> {
    let mut list: Vec<&str> = keywords.iter().map(String::as_str).collect();
    list.sort_unstable();
    list.dedup();
    if list.len() > MAX_KEYWORDS {
        return Err(StoreError::invalid("keywords", "too many"));
    }
    for k in &list {
        // RFC 9051 §9 flag-keyword is an atom: no spaces, controls, specials or leading '\'.
        if k.is_empty()
            || k.len() > MAX_KEYWORD_LEN
            || k.starts_with('\\')
            || k.chars()
                .any(|c| c.is_control() || c.is_whitespace() || "(){%*\"]".contains(c))
        {
            return Err(StoreError::invalid("keyword", format!("{k:?}")));
        }
    }
    Ok(list.join(" "))
}

fn decode_keywords(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The MODSEQ for a change to `mailbox`: one above its highest (RFC 7162 §3.1.1).
fn next_modseq(conn: &Connection, mailbox: MailboxId) -> Result<u64> {
    let modseq: i64 = conn
        .prepare_cached(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1
             RETURNING highest_modseq",
        )?
        .query_row([mailbox.0], |r| r.get(0))?;
    Ok(modseq as u64)
}

/// Refuses a message that would take the account or its domain over quota.
fn check_quota(conn: &Connection, account: AccountId, size: u64) -> Result<()> {
    let (aq, aused, dq, dused): (Option<i64>, i64, Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT a.quota, a.bytes_used, d.quota, d.bytes_used
             FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = ?1",
        )?
        .query_row([account.0], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or(StoreError::NotFound { what: "account" })?;
    for (scope, limit, used) in [
        (QuotaScope::Account, aq, aused),
        (QuotaScope::Domain, dq, dused),
    ] {
        let Some(limit) = limit else { continue };
        let (limit, used) = (limit.max(0) as u64, used.max(0) as u64);
        if size > limit {
            return Err(StoreError::TooLargeForQuota { scope, size, limit });
        }
        if used.saturating_add(size) > limit {
            return Err(StoreError::OverQuota {
                scope,
                used,
                limit,
                needed: size,
            });
        }
    }
    Ok(())
}

/// Adds one message row (the blob row exists). UIDs come from the mailbox's UIDNEXT under
/// the writer's transaction, so they are strictly ascending and never reused (RFC 9051 §2.3.1.1).
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_message(
    conn: &Connection,
    changes: &mut Changes,
    target: &AppendTarget,
    blob_row: i64,
    size: u64,
    internal_date: i64,
    save_date: i64,
    quota_checked: bool,
) -> Result<Appended> {
    let mailbox = owned(conn, target.account, target.mailbox)?;
    if quota_checked {
        check_quota(conn, target.account, size)?;
    }
    let uid = mailbox.uid_next;
    if uid == u32::MAX {
        return Err(StoreError::invalid(
            "mailbox",
            "no UIDs left; recreate the mailbox",
        ));
    }
    let keywords = encode_keywords(&target.keywords)?;
    let modseq = next_modseq(conn, mailbox.id)?;
    conn.prepare_cached("UPDATE mailboxes SET uid_next = ?1 WHERE id = ?2")?
        .execute(params![uid as i64 + 1, mailbox.id.0])?;
    conn.prepare_cached(
        "INSERT INTO messages (mailbox_id, uid, account_id, modseq, flags, keywords,
                               internal_date, save_date, size, blob_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        mailbox.id.0,
        uid,
        target.account.0,
        modseq as i64,
        target.flags.0,
        keywords,
        internal_date,
        save_date,
        size as i64,
        blob_row
    ])?;
    changes.push((
        target.account,
        Change::MessageAdded {
            mailbox: mailbox.id,
            uid,
            modseq,
        },
    ));
    Ok(Appended {
        account: target.account,
        mailbox: mailbox.id,
        uid_validity: mailbox.uid_validity,
        uid,
        modseq,
    })
}

/// The blob's row, made if new. Its file was written and fsynced before this transaction.
pub(crate) fn upsert_blob(
    conn: &Connection,
    id: &BlobId,
    size: u64,
    summary: &[u8],
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO blobs (hash, size, summary) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING",
    )?
    .execute(params![id.0, size as i64, summary])?;
    Ok(conn
        .prepare_cached("SELECT id FROM blobs WHERE hash = ?1")?
        .query_row([&id.0], |r| r.get(0))?)
}

/// A message's state: the first seven columns of [`META_COLUMNS`], and all of [`states`]'s.
const STATE_COLUMNS: &str =
    "m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.save_date";
const META_COLUMNS: &str =
    "m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.save_date, b.hash";
const META_FROM: &str = "FROM messages m JOIN blobs b ON b.id = m.blob_id";

fn state_from_row(r: &rusqlite::Row) -> rusqlite::Result<MessageState> {
    Ok(MessageState {
        uid: r.get::<_, i64>(0)? as u32,
        modseq: r.get::<_, i64>(1)? as u64,
        flags: Flags::from_bits(r.get(2)?),
        keywords: decode_keywords(r.get_ref(3)?.as_str()?),
        internal_date: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        save_date: r.get(6)?,
    })
}

fn meta_from_row(r: &rusqlite::Row) -> rusqlite::Result<MessageMeta> {
    Ok(state_from_row(r)?.with_blob(BlobId(r.get(7)?)))
}

/// Every message of a mailbox (or those above `modseq`), in UID order, without the blobs'
/// addresses. The whole mailbox is walked in primary-key order: no MODSEQ condition for the
/// planner to weigh against the (mailbox_id, modseq) index, which would need a sort by UID.
/// The changes are forced onto the MODSEQ index (INDEXED BY): without statistics the planner
/// walks the whole mailbox by primary key (for its UID order) and filters on MODSEQ; the
/// index reads only what changed, and the few rows are sorted afterwards. Every session
/// syncing a changed mailbox runs this.
pub(crate) fn states(
    conn: &Connection,
    mailbox: MailboxId,
    above_modseq: Option<u64>,
) -> Result<Vec<MessageState>> {
    let mut stmt = match above_modseq {
        None => conn.prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM messages m WHERE m.mailbox_id = ?1 ORDER BY m.uid"
        ))?,
        Some(_) => conn.prepare_cached(&format!(
            "SELECT {STATE_COLUMNS} FROM messages m INDEXED BY messages_modseq
             WHERE m.mailbox_id = ?1 AND m.modseq > ?2 ORDER BY m.uid"
        ))?,
    };
    let rows = match above_modseq {
        None => stmt.query_map(params![mailbox.0], state_from_row)?,
        Some(modseq) => stmt.query_map(params![mailbox.0, modseq as i64], state_from_row)?,
    };
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every message of a mailbox with its blob's address, in UID order.
pub(crate) fn load_meta(conn: &Connection, mailbox: MailboxId) -> Result<Vec<MessageMeta>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS} {META_FROM} WHERE m.mailbox_id = ?1 ORDER BY m.uid"
    ))?;
    let rows = stmt.query_map(params![mailbox.0], meta_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn load_one(conn: &Connection, mailbox: MailboxId, uid: u32) -> Result<Option<(MessageMeta, i64)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {META_COLUMNS}, m.blob_id {META_FROM} WHERE m.mailbox_id = ?1 AND m.uid = ?2"
        ))?
        .query_row(params![mailbox.0, uid], |r| {
            Ok((meta_from_row(r)?, r.get(8)?))
        })
        .optional()?)
}

pub(crate) fn summaries(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<MessageSummary>> {
    let row = |r: &rusqlite::Row| Ok((meta_from_row(r)?, r.get::<_, Vec<u8>>(8)?));
    let found = rows_of_uids(
        conn,
        mailbox,
        uids,
        &format!("{META_COLUMNS}, b.summary"),
        row,
    )?;
    found
        .into_iter()
        .map(|(meta, json)| {
            let summary = serde_json::from_slice(&json)
                .map_err(|e| StoreError::Corrupt(format!("summary of UID {}: {e}", meta.uid)))?;
            Ok(MessageSummary { meta, summary })
        })
        .collect()
}

pub(crate) fn envelopes(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<(u32, tern_message::StoredEnvelope)>> {
    let row = |r: &rusqlite::Row| {
        Ok((
            r.get::<_, u32>(0)?,
            tern_message::StoredEnvelope::from_summary_json(r.get(1)?),
        ))
    };
    rows_of_uids(conn, mailbox, uids, "m.uid, b.summary", row)
}

/// `columns` (of `messages m` joined with `blobs b`, the UID first) of the messages with
/// `uids` in `mailbox`, in UID order; UIDs not there are left out.
fn rows_of_uids<T>(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[u32],
    columns: &str,
    row: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (Some(&first), Some(&last)) = (sorted.first(), sorted.last()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(sorted.len());
    // A dense set of UIDs (a FETCH 1:* walks the mailbox in chunks) is one range scan of the
    // primary key; a sparse one is a lookup per UID.
    if (last - first) as usize / 4 < sorted.len() {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {columns} {META_FROM}
             WHERE m.mailbox_id = ?1 AND m.uid BETWEEN ?2 AND ?3 ORDER BY m.uid"
        ))?;
        let mut rows = stmt.query(params![mailbox.0, first, last])?;
        while let Some(r) = rows.next()? {
            if sorted.binary_search(&r.get::<_, u32>(0)?).is_ok() {
                out.push(row(r)?);
            }
        }
    } else {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {columns} {META_FROM} WHERE m.mailbox_id = ?1 AND m.uid = ?2"
        ))?;
        for uid in sorted {
            if let Some(found) = stmt.query_row(params![mailbox.0, uid], &row).optional()? {
                out.push(found);
            }
        }
    }
    Ok(out)
}

pub(crate) fn vanished_since(
    conn: &Connection,
    mailbox: MailboxId,
    modseq: u64,
) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached(
        // The MODSEQ index, not a walk of every expunged UID (see states).
        "SELECT uid FROM expunged INDEXED BY expunged_modseq
         WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
    )?;
    let rows = stmt.query_map(params![mailbox.0, modseq as i64], |r| {
        Ok(r.get::<_, i64>(0)? as u32)
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn contains_blob(conn: &Connection, mailbox: MailboxId, blob: &BlobId) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM messages m JOIN blobs b ON b.id = m.blob_id
             WHERE b.hash = ?1 AND m.mailbox_id = ?2",
        )?
        .exists(params![blob.0, mailbox.0])?)
}

pub(crate) fn update_flags(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    mailbox: MailboxId,
    uids: &[u32],
    change: &FlagChange,
) -> Result<FlagsUpdated> {
    owned(conn, account, mailbox)?;
    let keywords = encode_keywords(&change.keywords)?;
    let keywords = decode_keywords(&keywords);
    let mut updated = FlagsUpdated::default();
    let mut modseq = None;
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for uid in sorted {
        let Some((mut meta, _)) = load_one(conn, mailbox, uid)? else {
            continue;
        };
        // RFC 7162 §3.1.3: a message changed since the client's UNCHANGEDSINCE is left alone.
        if change
            .unchanged_since
            .is_some_and(|since| meta.modseq > since)
        {
            updated.modified.push(uid);
            continue;
        }
        let (flags, kws) = match change.op {
            FlagOp::Replace => (change.flags, keywords.clone()),
            FlagOp::Add => {
                let mut k = meta.keywords.clone();
                k.extend(keywords.iter().cloned());
                (meta.flags.union(change.flags), k)
            }
            FlagOp::Remove => (
                meta.flags.without(change.flags),
                meta.keywords
                    .iter()
                    .filter(|k| !keywords.contains(k))
                    .cloned()
                    .collect(),
            ),
        };
        let kws = decode_keywords(&encode_keywords(&kws)?);
        if flags == meta.flags && kws == meta.keywords {
            continue;
        }
        let m = match modseq {
            Some(m) => m,
            None => *modseq.insert(next_modseq(conn, mailbox)?),
        };
        conn.prepare_cached(
            "UPDATE messages SET flags = ?1, keywords = ?2, modseq = ?3
             WHERE mailbox_id = ?4 AND uid = ?5",
        )?
        .execute(params![flags.0, kws.join(" "), m as i64, mailbox.0, uid])?;
        meta.flags = flags;
        meta.keywords = kws;
        meta.modseq = m;
        updated.changed.push(meta);
    }
    if let Some(modseq) = modseq {
        changes.push((
            account,
            Change::FlagsChanged {
                mailbox,
                uids: updated.changed.iter().map(|m| m.uid).collect(),
                modseq,
            },
        ));
    }
    Ok(updated)
}

pub(crate) fn copy_messages(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    from: MailboxId,
    uids: &[u32],
    to: MailboxId,
    check_quota: bool,
) -> Result<Copied> {
    owned(conn, account, from)?;
    let target_box = owned(conn, account, to)?;
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let now = super::now();
    let mut copied = Copied {
        uid_validity: target_box.uid_validity,
        uids: Vec::with_capacity(sorted.len()),
    };
    for uid in sorted {
        let Some((meta, blob_row)) = load_one(conn, from, uid)? else {
            continue;
        };
        let appended = insert_message(
            conn,
            changes,
            &AppendTarget {
                account,
                mailbox: to,
                flags: meta.flags,
                keywords: meta.keywords,
            },
            blob_row,
            meta.size,
            meta.internal_date,
            now,
            check_quota,
        )?;
        copied.uids.push((uid, appended.uid));
    }
    Ok(copied)
}

/// Deletes the given messages and records them as expunged under one new MODSEQ.
pub(crate) fn remove_uids(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    mailbox: MailboxId,
    uids: &[u32],
) -> Result<Vec<u32>> {
    let mut removed = Vec::with_capacity(uids.len());
    if uids.is_empty() {
        return Ok(removed);
    }
    let modseq = next_modseq(conn, mailbox)?;
    let mut delete =
        conn.prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?;
    let mut record = conn.prepare_cached(
        "INSERT INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)
         ON CONFLICT DO UPDATE SET modseq = excluded.modseq",
    )?;
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for uid in sorted {
        if delete.execute(params![mailbox.0, uid])? > 0 {
            record.execute(params![mailbox.0, uid, modseq as i64])?;
            removed.push(uid);
        }
    }
    if !removed.is_empty() {
        changes.push((
            account,
            Change::Expunged {
                mailbox,
                uids: removed.clone(),
                modseq,
            },
        ));
    }
    Ok(removed)
}

pub(crate) fn expunge(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    mailbox: MailboxId,
    only: Option<&[u32]>,
) -> Result<Vec<u32>> {
    owned(conn, account, mailbox)?;
    let deleted: Vec<u32> = {
        let mut stmt = conn.prepare_cached(
            // The partial index holds only \Deleted messages; without statistics the planner
            // would walk the whole mailbox by primary key instead.
            "SELECT uid FROM messages INDEXED BY messages_deleted
             WHERE mailbox_id = ?1 AND (flags & 8) != 0 ORDER BY uid",
        )?;
        let rows = stmt.query_map([mailbox.0], |r| Ok(r.get::<_, i64>(0)? as u32))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let targets: Vec<u32> = match only {
        Some(only) => deleted.into_iter().filter(|u| only.contains(u)).collect(),
        None => deleted,
    };
    remove_uids(conn, changes, account, mailbox, &targets)
}

pub(crate) fn quota(conn: &Connection, account: AccountId) -> Result<QuotaUsage> {
    conn.prepare_cached(
        "SELECT a.bytes_used, a.quota, d.bytes_used, d.quota
         FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.id = ?1",
    )?
    .query_row([account.0], |r| {
        Ok(QuotaUsage {
            account_used: r.get::<_, i64>(0)?.max(0) as u64,
            account_limit: r.get::<_, Option<i64>>(1)?.map(|q| q.max(0) as u64),
            domain_used: r.get::<_, i64>(2)?.max(0) as u64,
            domain_limit: r.get::<_, Option<i64>>(3)?.map(|q| q.max(0) as u64),
        })
    })
    .optional()?
    .ok_or(StoreError::NotFound { what: "account" })
}
