//! Mailboxes (folders): create, rename with children, delete, subscribe, list, status.

use super::Changes;
use super::messages::{insert_message, load_meta, remove_uids};
use crate::error::{Result, StoreError};
use crate::names::{DELIMITER, normalize_mailbox, normalize_new_mailbox, parents};
use crate::types::*;
use rusqlite::{Connection, OptionalExtension, Row, params};

const MAILBOX_COLUMNS: &str = "id, account_id, name, special_use, subscribed, uid_validity, \
                               uid_next, highest_modseq, recent_uid FROM mailboxes";

fn mailbox_from_row(r: &Row) -> rusqlite::Result<MailboxInfo> {
    let special: Option<String> = r.get(3)?;
    Ok(MailboxInfo {
        id: MailboxId(r.get(0)?),
        account: AccountId(r.get(1)?),
        name: r.get(2)?,
        special_use: special.as_deref().and_then(SpecialUse::from_attribute),
        subscribed: r.get(4)?,
        uid_validity: r.get::<_, i64>(5)? as u32,
        uid_next: r.get::<_, i64>(6)? as u32,
        highest_modseq: r.get::<_, i64>(7)? as u64,
        recent_uid: r.get::<_, i64>(8)? as u32,
    })
}

pub(crate) fn mailboxes(conn: &Connection, account: AccountId) -> Result<Vec<MailboxInfo>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MAILBOX_COLUMNS} WHERE account_id = ?1 ORDER BY name"
    ))?;
    let rows = stmt.query_map([account.0], mailbox_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn find(
    conn: &Connection,
    account: AccountId,
    name: &str,
) -> Result<Option<MailboxInfo>> {
    let name = normalize_mailbox(name)?;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MAILBOX_COLUMNS} WHERE account_id = ?1 AND name = ?2"
        ))?
        .query_row(params![account.0, name], mailbox_from_row)
        .optional()?)
}

fn find_existing(conn: &Connection, account: AccountId, name: &str) -> Result<MailboxInfo> {
    find(conn, account, name)?.ok_or(StoreError::NotFound { what: "mailbox" })
}

/// The mailbox, if it belongs to `account`: the one check that keeps accounts apart.
pub(crate) fn owned(conn: &Connection, account: AccountId, id: MailboxId) -> Result<MailboxInfo> {
    conn.prepare_cached(&format!(
        "SELECT {MAILBOX_COLUMNS} WHERE id = ?1 AND account_id = ?2"
    ))?
    .query_row(params![id.0, account.0], mailbox_from_row)
    .optional()?
    .ok_or(StoreError::NotFound { what: "mailbox" })
}

/// A fresh UIDVALIDITY, strictly above every one given before in this store (RFC 9051 §2.3.1.1:
/// a re-created mailbox must not reuse an old value).
fn next_uid_validity(conn: &Connection) -> Result<u32> {
    let stored: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'uid_validity'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let now = super::now().clamp(1, u32::MAX as i64 - 1);
    let value = stored
        .map_or(now, |s| (s + 1).max(now))
        .min(u32::MAX as i64);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('uid_validity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [value],
    )?;
    Ok(value as u32)
}

/// Creates `name` and any missing parents (RFC 9051 §6.3.4 SHOULD). The name must pass the
/// rules for new names (no namespace look-alikes, no hidden text), and so do its parents.
pub(crate) fn create_mailbox_in(
    conn: &Connection,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
    subscribed: bool,
) -> Result<MailboxInfo> {
    let name = normalize_new_mailbox(name)?;
    if find(conn, account, &name)?.is_some() {
        return Err(StoreError::AlreadyExists { what: "mailbox" });
    }
    for parent in parents(&name) {
        if find(conn, account, parent)?.is_none() {
            insert_mailbox(conn, account, parent, None, false)?;
        }
    }
    insert_mailbox(conn, account, &name, special_use, subscribed)
}

fn insert_mailbox(
    conn: &Connection,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
    subscribed: bool,
) -> Result<MailboxInfo> {
    let uid_validity = next_uid_validity(conn)?;
    conn.prepare_cached(
        "INSERT INTO mailboxes (account_id, name, special_use, uid_validity, subscribed)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        account.0,
        name,
        special_use.map(|s| s.attribute()),
        uid_validity,
        subscribed
    ])?;
    owned(conn, account, MailboxId(conn.last_insert_rowid()))
}

pub(crate) fn create_mailbox(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    name: &str,
    special_use: Option<SpecialUse>,
    subscribed: bool,
) -> Result<MailboxInfo> {
    let before: Vec<MailboxId> = mailboxes(conn, account)?.iter().map(|m| m.id).collect();
    let created = create_mailbox_in(conn, account, name, special_use, subscribed)?;
    for mailbox in mailboxes(conn, account)? {
        if !before.contains(&mailbox.id) {
            changes.push((
                account,
                Change::MailboxCreated {
                    mailbox: mailbox.id,
                    name: mailbox.name,
                },
            ));
        }
    }
    Ok(created)
}

/// `name` itself and every mailbox below it.
fn subtree(conn: &Connection, account: AccountId, name: &str) -> Result<Vec<MailboxInfo>> {
    let prefix = format!("{name}{DELIMITER}");
    Ok(mailboxes(conn, account)?
        .into_iter()
        .filter(|m| m.name == name || m.name.starts_with(&prefix))
        .collect())
}

pub(crate) fn rename_mailbox(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    from: &str,
    to: &str,
) -> Result<()> {
    // The old name as stored, however odd (so it can be renamed to a good one); the new one
    // must pass the rules for new names.
    let from = normalize_mailbox(from)?;
    let to = normalize_new_mailbox(to)?;
    let source = find_existing(conn, account, &from)?;
    if find(conn, account, &to)?.is_some() {
        return Err(StoreError::AlreadyExists { what: "mailbox" });
    }
    if to.starts_with(&format!("{from}{DELIMITER}")) {
        return Err(StoreError::invalid(
            "mailbox name",
            "can't rename a mailbox into itself",
        ));
    }
    if from == "INBOX" {
        return rename_inbox(conn, changes, account, &source, &to);
    }
    for parent in parents(&to) {
        if find(conn, account, parent)?.is_none() {
            let created = insert_mailbox(conn, account, parent, None, false)?;
            changes.push((
                account,
                Change::MailboxCreated {
                    mailbox: created.id,
                    name: created.name,
                },
            ));
        }
    }
    for mailbox in subtree(conn, account, &from)? {
        let new = format!("{to}{}", &mailbox.name[from.len()..]);
        conn.execute(
            "UPDATE mailboxes SET name = ?1 WHERE id = ?2",
            params![new, mailbox.id.0],
        )?;
        changes.push((
            account,
            Change::MailboxRenamed {
                mailbox: mailbox.id,
                old: mailbox.name,
                new,
            },
        ));
    }
    Ok(())
}

/// RFC 9051 §6.3.6: renaming INBOX moves its messages to a new mailbox; INBOX stays, empty,
/// and its children are not renamed.
fn rename_inbox(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    inbox: &MailboxInfo,
    to: &str,
) -> Result<()> {
    let target = create_mailbox(conn, changes, account, to, None, inbox.subscribed)?;
    let metas = load_meta(conn, inbox.id)?;
    let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
    let now = super::now();
    for meta in &metas {
        let blob_row: i64 = conn.query_row(
            "SELECT blob_id FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
            params![inbox.id.0, meta.uid],
            |r| r.get(0),
        )?;
        // Moving within one account frees what it takes: no quota check needed, but the
        // insert is counted and the removal below uncounted, in this one transaction.
        insert_message(
            conn,
            changes,
            &AppendTarget {
                account,
                mailbox: target.id,
                flags: meta.flags,
                keywords: meta.keywords.clone(),
            },
            blob_row,
            meta.size,
            meta.internal_date,
            now,
            false,
        )?;
    }
    remove_uids(conn, changes, account, inbox.id, &uids)?;
    Ok(())
}

pub(crate) fn delete_mailbox(
    conn: &Connection,
    changes: &mut Changes,
    account: AccountId,
    name: &str,
) -> Result<()> {
    let name = normalize_mailbox(name)?;
    if name == "INBOX" {
        return Err(StoreError::Forbidden("deleted (INBOX)"));
    }
    let mailbox = find_existing(conn, account, &name)?;
    if subtree(conn, account, &name)?.len() > 1 {
        return Err(StoreError::HasChildren);
    }
    // Cascades to messages (their triggers release quota and blobs) and expunged UIDs.
    conn.execute("DELETE FROM mailboxes WHERE id = ?1", [mailbox.id.0])?;
    changes.push((
        account,
        Change::MailboxDeleted {
            mailbox: mailbox.id,
            name,
        },
    ));
    Ok(())
}

pub(crate) fn set_subscribed(
    conn: &Connection,
    account: AccountId,
    name: &str,
    subscribed: bool,
) -> Result<()> {
    let mailbox = find_existing(conn, account, name)?;
    conn.execute(
        "UPDATE mailboxes SET subscribed = ?1 WHERE id = ?2",
        params![subscribed, mailbox.id.0],
    )?;
    Ok(())
}

pub(crate) fn status(
    conn: &Connection,
    account: AccountId,
    id: MailboxId,
) -> Result<MailboxStatus> {
    let mailbox = owned(conn, account, id)?;
    // Counted by triggers (schema V6): one row, whatever the mailbox's size.
    let (messages, unseen, deleted, size): (i64, i64, i64, i64) = conn
        .prepare_cached(
            "SELECT message_count, unseen_count, deleted_count, bytes FROM mailboxes WHERE id = ?1",
        )?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let recent: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE mailbox_id = ?1 AND uid > ?2")?
        .query_row(params![id.0, mailbox.recent_uid], |r| r.get(0))?;
    Ok(MailboxStatus {
        messages: messages as u64,
        unseen: unseen as u64,
        deleted: deleted as u64,
        size: size as u64,
        uid_next: mailbox.uid_next,
        uid_validity: mailbox.uid_validity,
        highest_modseq: mailbox.highest_modseq,
        recent: recent as u64,
    })
}

/// Moves the mailbox's `\Recent` watermark up to its last UID and says which UIDs that gave
/// the caller (RFC 3501 §2.3.2). In the writer's transaction, so two sessions never both
/// claim a message.
pub(crate) fn claim_recent(
    conn: &Connection,
    account: AccountId,
    id: MailboxId,
) -> Result<RecentClaim> {
    let mailbox = owned(conn, account, id)?;
    let through = mailbox.uid_next.saturating_sub(1);
    if mailbox.recent_uid < through {
        conn.prepare_cached("UPDATE mailboxes SET recent_uid = ?1 WHERE id = ?2")?
            .execute(params![through, id.0])?;
    }
    Ok(RecentClaim {
        after: mailbox.recent_uid,
        through: through.max(mailbox.recent_uid),
    })
}
