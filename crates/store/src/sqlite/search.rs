//! Text search over stored messages: one FTS5 row per blob (trigram tokenizer, so `LIKE
//! '%text%'` uses the index and matches substrings, case-insensitively for ASCII).

use crate::blobs::BlobDir;
use crate::error::Result;
use crate::types::{AccountId, BlobId, MailboxId, SearchField, SearchHit, TextSearch};
use rusqlite::{Connection, params};
use tern_message::{Address, ParsedMessage};

/// The searchable text of one blob, by field.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobText {
    sender: String,
    recipients: String,
    subject: String,
    body: String,
}

fn address_text(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(|a| {
            format!(
                "{} {}@{}",
                a.name.as_deref().unwrap_or(""),
                a.mailbox.as_deref().unwrap_or(""),
                a.host.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl BlobText {
    pub(crate) fn of(parsed: &ParsedMessage) -> BlobText {
        let summary = &parsed.summary;
        let envelope = &summary.envelope;
        let mut recipients = address_text(&envelope.to);
        recipients.push_str(", ");
        recipients.push_str(&address_text(&envelope.cc));
        BlobText {
            sender: format!("{} {}", summary.from_display, address_text(&envelope.from)),
            recipients,
            subject: summary.subject.clone(),
            body: parsed.search_text.clone(),
        }
    }
}

/// Indexes a blob's text once (a blob already indexed keeps its row).
pub(crate) fn index(conn: &Connection, blob_row: i64, text: &BlobText) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM blob_text WHERE rowid = ?1")?
        .exists([blob_row])?;
    if !exists {
        conn.prepare_cached(
            "INSERT INTO blob_text (rowid, sender, recipients, subject, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            blob_row,
            text.sender,
            text.recipients,
            text.subject,
            text.body
        ])?;
    }
    Ok(())
}

/// Indexes blobs stored before the index existed (a store from schema version 1), reading
/// and parsing each once. Runs at open; a no-op when every blob has its row.
pub(crate) fn backfill(conn: &Connection, blobs: &BlobDir) -> Result<()> {
    // Only blobs some mailbox holds: a blob that is only queued for delivery is never searched.
    // IMMEDIATE: the write lock is taken (waiting for another process's writer) before reading,
    // so the transaction can't fail to upgrade from read to write midway.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let missing: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, hash FROM blobs b WHERE id NOT IN (SELECT rowid FROM blob_text)
             AND EXISTS (SELECT 1 FROM messages m WHERE m.blob_id = b.id)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if !missing.is_empty() {
        tracing::info!(blobs = missing.len(), "indexing stored messages for search");
    }
    for (row, hash) in missing {
        match blobs.read(&BlobId(hash.clone())) {
            Ok(raw) => index(&tx, row, &BlobText::of(&tern_message::parse(&raw)))?,
            Err(error) => tracing::warn!(blob = %hash, %error, "blob unreadable, not indexed"),
        }
    }
    tx.commit()?;
    Ok(())
}

/// Words of a query; each must match. Bounded so a query can't become a huge statement.
const MAX_TERMS: usize = 8;

/// `LIKE` pattern matching `term` anywhere, with `\` escaping LIKE's wildcards.
fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(crate) fn search(
    conn: &Connection,
    account: AccountId,
    mailbox: Option<MailboxId>,
    query: &TextSearch,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let column = match query.field {
        // The body text starts with the decoded Subject, From, To and Cc.
        SearchField::Any | SearchField::Body => "body",
        SearchField::From => "sender",
        SearchField::To => "recipients",
        SearchField::Subject => "subject",
    };
    let terms: Vec<String> = query
        .text
        .split_whitespace()
        .take(MAX_TERMS)
        .map(like_pattern)
        .collect();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "SELECT m.mailbox_id, m.uid FROM messages m WHERE m.account_id = ?1 AND m.blob_id IN \
         (SELECT rowid FROM blob_text WHERE ",
    );
    for i in 0..terms.len() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        sql.push_str(&format!("{column} LIKE ?{} ESCAPE '\\'", i + 4));
    }
    sql.push_str(") AND (?2 IS NULL OR m.mailbox_id = ?2) ORDER BY m.internal_date DESC, m.uid DESC LIMIT ?3");
    let mut values: Vec<rusqlite::types::Value> = vec![
        account.0.into(),
        mailbox.map(|m| m.0).into(),
        (limit.min(i64::MAX as usize) as i64).into(),
    ];
    values.extend(terms.into_iter().map(rusqlite::types::Value::from));
    let mut stmt = conn.prepare(&sql)?;
    let hits = stmt
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok(SearchHit {
                mailbox: MailboxId(r.get(0)?),
                uid: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
