//! Pages of a mailbox in a sort order, for the webmail's message list.

use crate::error::Result;
use crate::types::{ListKey, ListOrder, MailboxId};
use rusqlite::{Connection, params};

pub(crate) fn list_uids(
    conn: &Connection,
    mailbox: MailboxId,
    order: ListOrder,
    offset: usize,
    limit: usize,
) -> Result<Vec<u32>> {
    let direction = if order.descending { "DESC" } else { "ASC" };
    // The summary is stored as JSON (see `tern_message::Summary`): subject and from_display
    // are read from it, so sorting by them needs no extra column.
    let (join, key) = match order.key {
        ListKey::Date => ("", "m.internal_date"),
        ListKey::Size => ("", "m.size"),
        ListKey::Subject => (
            "JOIN blobs b ON b.id = m.blob_id",
            "lower(json_extract(b.summary, '$.subject'))",
        ),
        ListKey::From => (
            "JOIN blobs b ON b.id = m.blob_id",
            "lower(json_extract(b.summary, '$.from_display'))",
        ),
    };
    let sql = format!(
        "SELECT m.uid FROM messages m {join} WHERE m.mailbox_id = ?1 \
         ORDER BY {key} {direction}, m.uid {direction} LIMIT ?2 OFFSET ?3"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let uids = conn
        .prepare_cached(&sql)?
        .query_map(params![mailbox.0, limit, offset], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(uids)
}
