//! Per-account settings: small named strings (webmail display name, signature).

use crate::error::Result;
use crate::types::AccountId;
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn get(conn: &Connection, account: AccountId, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM account_settings WHERE account_id = ?1 AND key = ?2")?
        .query_row(params![account.0, key], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set(
    conn: &Connection,
    account: AccountId,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    match value {
        Some(value) => conn
            .prepare_cached(
                "INSERT INTO account_settings (account_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![account.0, key, value])?,
        None => conn
            .prepare_cached("DELETE FROM account_settings WHERE account_id = ?1 AND key = ?2")?
            .execute(params![account.0, key])?,
    };
    Ok(())
}
