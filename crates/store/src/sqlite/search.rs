//! Text search over stored messages: one FTS5 row per blob (trigram tokenizer, so a quoted
//! phrase matches any substring of three characters or more).
//!
//! Indexing is kept off the write path: storing a message only records its blob in
//! `text_pending` (one small row); the writer indexes pending blobs when it is otherwise idle
//! (see `engine.rs`). A search answers from the index for indexed blobs and reads the few
//! pending ones directly, so a message is found the moment it is stored.
//!
//! All indexed text is lower-cased here and every query too, so matching ignores case the same
//! way (Unicode lower-casing) in the index, in the pending scan and in IMAP SEARCH
//! (RFC 9051 §6.4.4: "case-insensitive substring match").

use crate::blobs::BlobDir;
use crate::error::Result;
use crate::types::{AccountId, BlobId, MailboxId, SearchField, SearchHit, TextSearch};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use tern_message::{Address, ParsedMessage};

/// The searchable text of one blob, by column of `blob_text`, lower-cased.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlobText {
    sender: String,
    recipients: String,
    subject: String,
    /// The decoded text parts (`ParsedMessage::search_text`): the body only.
    body: String,
    /// The raw header block (IMAP SEARCH TEXT looks at the header too).
    header: String,
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
    pub(crate) fn of(raw: &[u8], parsed: &ParsedMessage) -> BlobText {
        let summary = &parsed.summary;
        let envelope = &summary.envelope;
        let header = summary.structure.header_in(raw);
        // The raw addresses and the decoded ones, so that either form of an encoded name
        // is found.
        let recipients = format!(
            "{}, {}, {}",
            address_text(&envelope.to),
            address_text(&envelope.cc),
            parsed.search_recipients
        );
        BlobText {
            sender: format!("{}, {}", address_text(&envelope.from), parsed.search_sender)
                .to_lowercase(),
            recipients: recipients.to_lowercase(),
            subject: summary.subject.to_lowercase(),
            body: parsed.search_text.to_lowercase(),
            header: String::from_utf8_lossy(header).to_lowercase(),
        }
    }

    fn read(blobs: &BlobDir, id: &BlobId) -> Result<BlobText> {
        let raw = blobs.read(id)?;
        Ok(BlobText::of(&raw, &tern_message::parse(&raw)))
    }

    fn column(&self, column: Column) -> &str {
        match column {
            Column::Sender => &self.sender,
            Column::Recipients => &self.recipients,
            Column::Subject => &self.subject,
            Column::Body => &self.body,
            Column::Header => &self.header,
        }
    }

    /// Whether every term occurs in one of `columns` (the pending scan's version of the
    /// index query).
    fn contains_all(&self, columns: &[Column], terms: &[String]) -> bool {
        terms.iter().all(|term| {
            columns
                .iter()
                .any(|&c| self.column(c).contains(term.as_str()))
        })
    }
}

/// The columns of `blob_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Sender,
    Recipients,
    Subject,
    Body,
    Header,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Sender => "sender",
            Column::Recipients => "recipients",
            Column::Subject => "subject",
            Column::Body => "body",
            Column::Header => "header",
        }
    }
}

fn columns_of(field: SearchField) -> &'static [Column] {
    match field {
        SearchField::Any => &[
            Column::Sender,
            Column::Recipients,
            Column::Subject,
            Column::Body,
        ],
        // RFC 9051 §6.4.4: BODY is the body alone.
        SearchField::Body => &[Column::Body],
        // TEXT is header and body; the decoded columns find encoded words the raw header
        // has only in their encoded form.
        SearchField::Text => &[
            Column::Header,
            Column::Sender,
            Column::Recipients,
            Column::Subject,
            Column::Body,
        ],
        SearchField::From => &[Column::Sender],
        SearchField::To => &[Column::Recipients],
        SearchField::Subject => &[Column::Subject],
    }
}

/// Records that a blob's text is not indexed yet (unless it already is).
pub(crate) fn mark_pending(conn: &Connection, blob_row: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO text_pending (blob_id)
         SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM blob_text WHERE rowid = ?1)",
    )?
    .execute([blob_row])?;
    Ok(())
}

/// Indexes up to `limit` pending blobs, in the caller's transaction. Returns how many it took
/// off the pending list (a blob whose file can't be read is dropped from it with a warning,
/// so it can't block the list forever; search then never finds it).
pub(crate) fn index_pending(conn: &Connection, blobs: &BlobDir, limit: usize) -> Result<usize> {
    let pending: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT p.blob_id, b.hash FROM text_pending p JOIN blobs b ON b.id = p.blob_id
             LIMIT ?1",
        )?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (row, hash) in &pending {
        match BlobText::read(blobs, &BlobId(hash.clone())) {
            Ok(text) => insert(conn, *row, &text)?,
            Err(error) => tracing::warn!(blob = %hash, %error, "blob unreadable, not indexed"),
        }
        conn.prepare_cached("DELETE FROM text_pending WHERE blob_id = ?1")?
            .execute([row])?;
    }
    // Rows whose blob is gone (the trigger removes them; this is belt and braces).
    if pending.len() < limit {
        conn.prepare_cached(
            "DELETE FROM text_pending WHERE blob_id NOT IN (SELECT id FROM blobs)",
        )?
        .execute([])?;
    }
    Ok(pending.len())
}

fn insert(conn: &Connection, blob_row: i64, text: &BlobText) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM blob_text WHERE rowid = ?1")?
        .exists([blob_row])?;
    if !exists {
        conn.prepare_cached(
            "INSERT INTO blob_text (rowid, sender, recipients, subject, body, header)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            blob_row,
            text.sender,
            text.recipients,
            text.subject,
            text.body,
            text.header
        ])?;
    }
    Ok(())
}

/// Words of a webmail query; each must match. Bounded so a query can't become a huge statement.
const MAX_TERMS: usize = 8;
/// The trigram tokenizer can't look up shorter substrings; those fall back to `LIKE`.
const MIN_INDEXED_CHARS: usize = 3;

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

/// An FTS5 query matching `term` as a substring in any of `columns` (a quoted string is a
/// phrase; with the trigram tokenizer, a phrase is a run of consecutive trigrams).
fn match_phrase(columns: &[Column], term: &str) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
    format!(
        "{{{}}} : \"{}\"",
        names.join(" "),
        term.replace('"', "\"\"")
    )
}

/// A message whose text matched.
struct Found {
    mailbox: MailboxId,
    uid: u32,
    internal_date: i64,
}

/// Messages of `account` (in `mailbox`, or all of its mailboxes) whose text has every term,
/// lower-cased, as a substring of one of `columns`: indexed blobs through the index, pending
/// ones by reading them. One read transaction, so no blob is missed while the indexer moves
/// it from the pending list into the index.
fn find(
    conn: &Connection,
    blobs: &BlobDir,
    account: AccountId,
    mailbox: Option<MailboxId>,
    columns: &[Column],
    terms: &[String],
) -> Result<Vec<Found>> {
    let tx = conn.unchecked_transaction()?;
    let mut values: Vec<rusqlite::types::Value> =
        vec![account.0.into(), mailbox.map(|m| m.0).into()];
    let mut conditions = Vec::new();
    let phrases: Vec<String> = terms
        .iter()
        .filter(|t| t.chars().count() >= MIN_INDEXED_CHARS)
        .map(|t| match_phrase(columns, t))
        .collect();
    if !phrases.is_empty() {
        values.push(phrases.join(" AND ").into());
        conditions.push(format!("blob_text MATCH ?{}", values.len()));
    }
    for term in terms
        .iter()
        .filter(|t| t.chars().count() < MIN_INDEXED_CHARS)
    {
        values.push(like_pattern(term).into());
        let n = values.len();
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{} LIKE ?{n} ESCAPE '\\'", c.name()))
            .collect();
        conditions.push(format!("({})", any.join(" OR ")));
    }
    let sql = format!(
        "SELECT m.mailbox_id, m.uid, m.internal_date FROM messages m
         WHERE m.account_id = ?1 AND (?2 IS NULL OR m.mailbox_id = ?2)
         AND m.blob_id IN (SELECT rowid FROM blob_text WHERE {})",
        conditions.join(" AND ")
    );
    let mut found: Vec<Found> = tx
        .prepare(&sql)?
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok(Found {
                mailbox: MailboxId(r.get(0)?),
                uid: r.get(1)?,
                internal_date: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;

    let pending: Vec<(Found, String)> = tx
        .prepare_cached(
            // CROSS JOIN keeps the (short) pending list as the outer loop: the planner would
            // otherwise scan every message of the store.
            "SELECT m.mailbox_id, m.uid, m.internal_date, b.hash FROM text_pending p
             CROSS JOIN messages m ON m.blob_id = p.blob_id CROSS JOIN blobs b ON b.id = m.blob_id
             WHERE m.account_id = ?1 AND (?2 IS NULL OR m.mailbox_id = ?2)",
        )?
        .query_map(params![account.0, mailbox.map(|m| m.0)], |r| {
            Ok((
                Found {
                    mailbox: MailboxId(r.get(0)?),
                    uid: r.get(1)?,
                    internal_date: r.get(2)?,
                },
                r.get(3)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    tx.finish()?;
    // A blob held by several messages (copies) is read once.
    let mut matched: HashMap<String, bool> = HashMap::new();
    for (message, hash) in pending {
        let hit = match matched.get(&hash) {
            Some(&hit) => hit,
            None => {
                let hit = match BlobText::read(blobs, &BlobId(hash.clone())) {
                    Ok(text) => text.contains_all(columns, terms),
                    Err(error) => {
                        tracing::warn!(blob = %hash, %error, "blob unreadable, not searched");
                        false
                    }
                };
                matched.insert(hash, hit);
                hit
            }
        };
        if hit {
            found.push(message);
        }
    }
    Ok(found)
}

/// The webmail's search: every word of the query, newest first, at most `limit`.
pub(crate) fn search(
    conn: &Connection,
    blobs: &BlobDir,
    account: AccountId,
    mailbox: Option<MailboxId>,
    query: &TextSearch,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let terms: Vec<String> = query
        .text
        .to_lowercase()
        .split_whitespace()
        .take(MAX_TERMS)
        .map(str::to_owned)
        .collect();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = find(
        conn,
        blobs,
        account,
        mailbox,
        columns_of(query.field),
        &terms,
    )?;
    found.sort_by(|a, b| {
        (b.internal_date, b.uid, b.mailbox.0).cmp(&(a.internal_date, a.uid, a.mailbox.0))
    });
    found.truncate(limit);
    Ok(found
        .into_iter()
        .map(|f| SearchHit {
            mailbox: f.mailbox,
            uid: f.uid,
        })
        .collect())
}

/// IMAP SEARCH BODY / TEXT: UIDs in `mailbox` whose text contains `needle` (the whole string,
/// spaces included), ascending.
pub(crate) fn uids_containing(
    conn: &Connection,
    blobs: &BlobDir,
    account: AccountId,
    mailbox: MailboxId,
    field: SearchField,
    needle: &str,
) -> Result<Vec<u32>> {
    let needle = needle.to_lowercase();
    let found = if needle.is_empty() {
        // Every message contains the empty string.
        conn.prepare_cached("SELECT uid FROM messages WHERE mailbox_id = ?1")?
            .query_map([mailbox.0], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<u32>>>()?
    } else {
        find(
            conn,
            blobs,
            account,
            Some(mailbox),
            columns_of(field),
            &[needle],
        )?
        .into_iter()
        .map(|f| f.uid)
        .collect()
    };
    let mut uids = found;
    uids.sort_unstable();
    uids.dedup();
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::{Column, like_pattern, match_phrase};

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn phrase_quotes_are_doubled() {
        assert_eq!(
            match_phrase(&[Column::Header, Column::Body], "say \"hi\""),
            "{header body} : \"say \"\"hi\"\"\""
        );
    }
}
