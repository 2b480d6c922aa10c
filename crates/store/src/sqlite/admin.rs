//! Domains, accounts and aliases.

use super::mailboxes::create_mailbox_in;
use super::now;
use crate::error::{Result, StoreError};
use crate::names::{normalize_domain, parse_address};
use crate::types::*;
use rusqlite::{Connection, OptionalExtension, Row, params};

/// The folders every new account gets (DESIGN.md §4).
const DEFAULT_MAILBOXES: &[(&str, Option<SpecialUse>)] = &[
    ("INBOX", None),
    ("Sent", Some(SpecialUse::Sent)),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Trash", Some(SpecialUse::Trash)),
    ("Junk", Some(SpecialUse::Junk)),
];

fn to_u64(v: i64) -> u64 {
    v.max(0) as u64
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(to_u64)
}

fn quota_param(q: Option<u64>) -> Option<i64> {
    q.map(|q| q.min(i64::MAX as u64) as i64)
}

pub(crate) fn create_domain(conn: &Connection, name: &str, quota: Option<u64>) -> Result<DomainId> {
    let name = normalize_domain(name)?;
    let inserted = conn.execute(
        "INSERT INTO domains (name, quota, created) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![name, quota_param(quota), now()],
    )?;
    if inserted == 0 {
        return Err(StoreError::AlreadyExists { what: "domain" });
    }
    Ok(DomainId(conn.last_insert_rowid()))
}

fn domain_from_row(r: &Row) -> rusqlite::Result<Domain> {
    Ok(Domain {
        id: DomainId(r.get(0)?),
        name: r.get(1)?,
        quota: opt_u64(r.get(2)?),
        bytes_used: to_u64(r.get(3)?),
    })
}

pub(crate) fn domains(conn: &Connection) -> Result<Vec<Domain>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, quota, bytes_used FROM domains ORDER BY name")?;
    let rows = stmt.query_map([], domain_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn domain(conn: &Connection, name: &str) -> Result<Option<Domain>> {
    let name = normalize_domain(name)?;
    Ok(conn
        .prepare_cached("SELECT id, name, quota, bytes_used FROM domains WHERE name = ?1")?
        .query_row([name], domain_from_row)
        .optional()?)
}

fn domain_id(conn: &Connection, name: &str) -> Result<DomainId> {
    domain(conn, name)?
        .map(|d| d.id)
        .ok_or(StoreError::NotFound { what: "domain" })
}

pub(crate) fn set_domain_quota(conn: &Connection, name: &str, quota: Option<u64>) -> Result<()> {
    let id = domain_id(conn, name)?;
    conn.execute(
        "UPDATE domains SET quota = ?1 WHERE id = ?2",
        params![quota_param(quota), id.0],
    )?;
    Ok(())
}

pub(crate) fn remove_domain(conn: &Connection, name: &str) -> Result<()> {
    let id = domain_id(conn, name)?;
    // Cascades to accounts, mailboxes, messages (whose triggers release blobs) and aliases.
    conn.execute("DELETE FROM domains WHERE id = ?1", [id.0])?;
    Ok(())
}

pub(crate) fn create_account(
    conn: &Connection,
    email: &str,
    password_hash: &str,
    quota: Option<u64>,
) -> Result<AccountId> {
    let address = parse_address(email)?;
    let domain = domain_id(conn, &address.domain)?;
    let email = address.email();
    let alias_taken: bool = conn
        .prepare_cached("SELECT 1 FROM aliases WHERE source = ?1")?
        .exists([&email])?;
    if alias_taken {
        return Err(StoreError::AlreadyExists {
            what: "alias with that address",
        });
    }
    let inserted = conn.execute(
        "INSERT INTO accounts (domain_id, email, password_hash, quota, created)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![domain.0, email, password_hash, quota_param(quota), now()],
    )?;
    if inserted == 0 {
        return Err(StoreError::AlreadyExists { what: "account" });
    }
    let account = AccountId(conn.last_insert_rowid());
    for (name, special_use) in DEFAULT_MAILBOXES {
        // Subscribed, so that clients showing only subscribed folders show these.
        create_mailbox_in(conn, account, name, *special_use, true)?;
    }
    Ok(account)
}

const ACCOUNT_COLUMNS: &str =
    "id, domain_id, email, password_hash, quota, bytes_used, message_count FROM accounts";

fn account_from_row(r: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(r.get(0)?),
        domain: DomainId(r.get(1)?),
        email: r.get(2)?,
        password_hash: r.get(3)?,
        quota: opt_u64(r.get(4)?),
        bytes_used: to_u64(r.get(5)?),
        messages: to_u64(r.get(6)?),
    })
}

pub(crate) fn accounts(conn: &Connection, domain: Option<&str>) -> Result<Vec<Account>> {
    match domain {
        Some(name) => {
            let id = domain_id(conn, name)?;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} WHERE domain_id = ?1 ORDER BY email"
            ))?;
            let rows = stmt.query_map([id.0], account_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        }
        None => {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} ORDER BY email"))?;
            let rows = stmt.query_map([], account_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        }
    }
}

pub(crate) fn account_by_email(conn: &Connection, email: &str) -> Result<Option<Account>> {
    let Ok(address) = parse_address(email) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} WHERE email = ?1"))?
        .query_row([address.email()], account_from_row)
        .optional()?)
}

pub(crate) fn account(conn: &Connection, id: AccountId) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} WHERE id = ?1"))?
        .query_row([id.0], account_from_row)
        .optional()?)
}

fn account_id(conn: &Connection, email: &str) -> Result<AccountId> {
    account_by_email(conn, email)?
        .map(|a| a.id)
        .ok_or(StoreError::NotFound { what: "account" })
}

pub(crate) fn set_password_hash(conn: &Connection, email: &str, hash: &str) -> Result<()> {
    let id = account_id(conn, email)?;
    conn.execute(
        "UPDATE accounts SET password_hash = ?1 WHERE id = ?2",
        params![hash, id.0],
    )?;
    Ok(())
}

pub(crate) fn set_account_quota(conn: &Connection, email: &str, quota: Option<u64>) -> Result<()> {
    let id = account_id(conn, email)?;
    conn.execute(
        "UPDATE accounts SET quota = ?1 WHERE id = ?2",
        params![quota_param(quota), id.0],
    )?;
    Ok(())
}

pub(crate) fn remove_account(conn: &Connection, email: &str) -> Result<()> {
    let id = account_id(conn, email)?;
    // Messages first, while the account row still tells their triggers which domain to credit.
    conn.execute("DELETE FROM messages WHERE account_id = ?1", [id.0])?;
    conn.execute("DELETE FROM accounts WHERE id = ?1", [id.0])?;
    Ok(())
}

/// Normalizes an alias source: `local@domain` or `@domain` (catch-all).
fn alias_source(source: &str) -> Result<(String, String)> {
    let source = source.trim();
    if let Some(domain) = source.strip_prefix('@') {
        let domain = normalize_domain(domain)?;
        return Ok((format!("@{domain}"), domain));
    }
    let address = parse_address(source)?;
    Ok((address.email(), address.domain))
}

pub(crate) fn add_alias(conn: &Connection, source: &str, targets: &[String]) -> Result<()> {
    let (source, domain) = alias_source(source)?;
    let domain = domain_id(conn, &domain)?;
    if targets.is_empty() {
        return Err(StoreError::invalid("alias", "no target"));
    }
    if account_by_email(conn, &source)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "account with that address",
        });
    }
    for target in targets {
        let target = parse_address(target)?.email();
        if target == source {
            return Err(StoreError::invalid(
                "alias",
                "an alias can't point to itself",
            ));
        }
        conn.execute(
            "INSERT INTO aliases (source, target, domain_id) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![source, target, domain.0],
        )?;
    }
    Ok(())
}

pub(crate) fn aliases(conn: &Connection) -> Result<Vec<Alias>> {
    let mut stmt =
        conn.prepare_cached("SELECT source, target FROM aliases ORDER BY source, target")?;
    let rows = stmt.query_map([], |r| {
        Ok(Alias {
            source: r.get(0)?,
            target: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn remove_alias(conn: &Connection, source: &str, target: Option<&str>) -> Result<()> {
    let (source, _) = alias_source(source)?;
    let removed = match target {
        Some(t) => conn.execute(
            "DELETE FROM aliases WHERE source = ?1 AND target = ?2",
            params![source, parse_address(t)?.email()],
        )?,
        None => conn.execute("DELETE FROM aliases WHERE source = ?1", [&source])?,
    };
    if removed == 0 {
        return Err(StoreError::NotFound { what: "alias" });
    }
    Ok(())
}

/// How many alias hops are followed before giving up (a loop or a silly chain).
const MAX_ALIAS_DEPTH: usize = 8;

pub(crate) fn resolve_recipient(conn: &Connection, address: &str) -> Result<Resolution> {
    let address = parse_address(address)?;
    if domain(conn, &address.domain)?.is_none() {
        return Err(StoreError::invalid("domain", "not hosted here"));
    }
    let mut out = Resolution::default();
    if expand(conn, &address.email(), 0, &mut out)? {
        return Ok(out);
    }
    // RFC 5233 sub-addressing: `user+tag@domain` is delivered to `user@domain`.
    if let Some((base, _tag)) = address.local.split_once('+')
        && !base.is_empty()
        && expand(conn, &format!("{base}@{}", address.domain), 0, &mut out)?
    {
        return Ok(out);
    }
    if expand_alias(conn, &format!("@{}", address.domain), 0, &mut out)? {
        return Ok(out);
    }
    Err(StoreError::NotFound { what: "recipient" })
}

/// Adds where `email` leads to `out`; false if it is neither an account nor an alias.
fn expand(conn: &Connection, email: &str, depth: usize, out: &mut Resolution) -> Result<bool> {
    if let Some(account) = account_by_email(conn, email)? {
        if !out.accounts.contains(&account.id) {
            out.accounts.push(account.id);
        }
        return Ok(true);
    }
    expand_alias(conn, email, depth, out)
}

fn expand_alias(
    conn: &Connection,
    source: &str,
    depth: usize,
    out: &mut Resolution,
) -> Result<bool> {
    if depth >= MAX_ALIAS_DEPTH {
        return Err(StoreError::invalid("alias", "too many levels (a loop?)"));
    }
    let targets: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT target FROM aliases WHERE source = ?1")?;
        let rows = stmt.query_map([source], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if targets.is_empty() {
        return Ok(false);
    }
    for target in targets {
        let hosted = match parse_address(&target) {
            Ok(a) => domain(conn, &a.domain)?.is_some(),
            Err(_) => false,
        };
        if !hosted {
            if !out.forward.contains(&target) {
                out.forward.push(target);
            }
        } else if !expand(conn, &target, depth + 1, out)? {
            // A target in a hosted domain that doesn't exist: skip it rather than bounce
            // the whole message (the other targets still get it).
            tracing::warn!(alias = source, target, "alias target does not exist");
        }
    }
    Ok(true)
}
