//! The outbound queue and DKIM keys in SQLite.

use super::admin::domain;
use crate::error::{Result, StoreError};
use crate::outbound::*;
use crate::types::BlobId;
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn enqueue(
    conn: &Connection,
    blob_row: i64,
    size: u64,
    envelope: &NewQueued,
    now: i64,
) -> Result<QueueId> {
    if envelope.recipients.is_empty() {
        return Err(StoreError::invalid("queue", "no recipient"));
    }
    conn.prepare_cached(
        "INSERT INTO queue_messages (blob_id, size, sender, env_id, ret_full, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        blob_row,
        size as i64,
        envelope.sender,
        envelope.env_id,
        envelope.ret_full,
        now
    ])?;
    let id = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO queue_recipients (message_id, address, orcpt, notify, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    )?;
    for r in &envelope.recipients {
        insert.execute(params![
            id,
            r.address,
            r.orcpt,
            r.notify.0,
            envelope.first_attempt
        ])?;
    }
    Ok(QueueId(id))
}

fn recipients(conn: &Connection, id: QueueId) -> Result<Vec<QueuedRecipient>> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, orcpt, notify, state, attempts, next_attempt, last_reply
         FROM queue_recipients WHERE message_id = ?1 ORDER BY address",
    )?;
    let rows = stmt.query_map([id.0], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (address, orcpt, notify, state, attempts, next_attempt, last_reply) = row?;
        let state = RecipientState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("queue recipient state {state:?}")))?;
        out.push(QueuedRecipient {
            address,
            orcpt,
            notify: Notify(notify as u8),
            state,
            attempts: attempts.max(0) as u32,
            next_attempt,
            last_reply,
        });
    }
    Ok(out)
}

const MESSAGE_COLUMNS: &str = "q.id, b.hash, q.size, q.sender, q.env_id, q.ret_full, q.created
     FROM queue_messages q JOIN blobs b ON b.id = q.blob_id";

fn message_from_row(r: &rusqlite::Row) -> rusqlite::Result<QueuedMessage> {
    Ok(QueuedMessage {
        id: QueueId(r.get(0)?),
        blob: BlobId(r.get(1)?),
        size: r.get::<_, i64>(2)?.max(0) as u64,
        sender: r.get(3)?,
        env_id: r.get(4)?,
        ret_full: r.get(5)?,
        created: r.get(6)?,
        recipients: Vec::new(),
    })
}

pub(crate) fn queued(conn: &Connection, id: QueueId) -> Result<Option<QueuedMessage>> {
    let message = conn
        .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} WHERE q.id = ?1"))?
        .query_row([id.0], message_from_row)
        .optional()?;
    match message {
        Some(mut m) => {
            m.recipients = recipients(conn, m.id)?;
            Ok(Some(m))
        }
        None => Ok(None),
    }
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<QueuedMessage>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} ORDER BY q.id"))?;
    let messages: Vec<QueuedMessage> = stmt
        .query_map([], message_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    messages
        .into_iter()
        .map(|mut m| {
            m.recipients = recipients(conn, m.id)?;
            Ok(m)
        })
        .collect()
}

pub(crate) fn claim(
    conn: &Connection,
    now: i64,
    lease_secs: i64,
    limit: usize,
) -> Result<Vec<QueuedMessage>> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT message_id FROM queue_recipients
             WHERE state = 'pending' AND next_attempt <= ?1 ORDER BY message_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now, limit as i64], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(mut message) = queued(conn, QueueId(id))? else {
            continue;
        };
        // Only the due recipients are this attempt's; the others keep their own schedule.
        message
            .recipients
            .retain(|r| r.state == RecipientState::Pending && r.next_attempt <= now);
        conn.prepare_cached(
            "UPDATE queue_recipients SET next_attempt = ?1
             WHERE message_id = ?2 AND state = 'pending' AND next_attempt <= ?3",
        )?
        .execute(params![now.saturating_add(lease_secs), id, now])?;
        out.push(message);
    }
    Ok(out)
}

pub(crate) fn update(conn: &Connection, id: QueueId, updates: &[RecipientUpdate]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE queue_recipients
         SET state = ?1, next_attempt = ?2, last_reply = ?3, attempts = attempts + 1
         WHERE message_id = ?4 AND address = ?5",
    )?;
    for u in updates {
        stmt.execute(params![
            u.state.as_str(),
            u.next_attempt,
            u.last_reply,
            id.0,
            u.address
        ])?;
    }
    Ok(())
}

pub(crate) fn retry_now(conn: &Connection, id: QueueId, now: i64) -> Result<()> {
    exists(conn, id)?;
    conn.prepare_cached(
        "UPDATE queue_recipients SET next_attempt = ?1 WHERE message_id = ?2 AND state = 'pending'",
    )?
    .execute(params![now, id.0])?;
    Ok(())
}

pub(crate) fn remove(conn: &Connection, id: QueueId) -> Result<()> {
    exists(conn, id)?;
    // Recipients go by ON DELETE CASCADE; the trigger releases the blob.
    conn.prepare_cached("DELETE FROM queue_messages WHERE id = ?1")?
        .execute([id.0])?;
    Ok(())
}

fn exists(conn: &Connection, id: QueueId) -> Result<()> {
    let found = conn
        .prepare_cached("SELECT 1 FROM queue_messages WHERE id = ?1")?
        .exists([id.0])?;
    if found {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            what: "queued message",
        })
    }
}

pub(crate) fn set_dkim_key(conn: &Connection, key: &DkimKey, now: i64) -> Result<()> {
    let domain = domain(conn, &key.domain)?.ok_or(StoreError::NotFound { what: "domain" })?;
    conn.prepare_cached(
        "INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, created)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (domain_id) DO UPDATE SET selector = excluded.selector,
             algorithm = excluded.algorithm, private_key = excluded.private_key,
             created = excluded.created",
    )?
    .execute(params![
        domain.id.0,
        key.selector,
        key.algorithm,
        key.private_key_pem,
        now
    ])?;
    Ok(())
}

pub(crate) fn dkim_key(conn: &Connection, name: &str) -> Result<Option<DkimKey>> {
    let Some(domain) = domain(conn, name)? else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(
            "SELECT selector, algorithm, private_key FROM dkim_keys WHERE domain_id = ?1",
        )?
        .query_row([domain.id.0], |r| {
            Ok(DkimKey {
                domain: domain.name.clone(),
                selector: r.get(0)?,
                algorithm: r.get(1)?,
                private_key_pem: r.get(2)?,
            })
        })
        .optional()?)
}
