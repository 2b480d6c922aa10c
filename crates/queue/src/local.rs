//! Local delivery, shared by the MX, submission and bounces: where an address leads, and
//! storing one message once for every local recipient (DESIGN.md §4: one blob, per-recipient
//! outcome, acknowledged only once durable).

use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use tern_store::{AccountId, AppendTarget, Flags, Resolution, SharedStore, SpecialUse, StoreError};

/// Where mail for one address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A hosted address: its accounts (and forwarding targets outside the hosted domains).
    Local(Resolution),
    /// A domain not hosted here.
    Remote,
    /// A hosted domain without such an address (SMTP `550 5.1.1`).
    Unknown,
    /// Not an address (SMTP `501 5.1.3`).
    Invalid,
}

/// Classifies `address`. Store failures other than "unknown" and "not hosted" are returned.
pub async fn classify(store: &SharedStore, address: &str) -> Result<Destination, StoreError> {
    match store.resolve_recipient(address).await {
        Ok(resolution) => Ok(Destination::Local(resolution)),
        Err(StoreError::NotFound { .. }) => match domain_postmaster(store, address).await? {
            Some(account) => Ok(Destination::Local(Resolution {
                accounts: vec![account],
                forward: Vec::new(),
            })),
            None => Ok(Destination::Unknown),
        },
        Err(StoreError::Invalid { what: "domain", .. }) => Ok(Destination::Remote),
        Err(StoreError::Invalid { .. }) => Ok(Destination::Invalid),
        Err(e) => Err(e),
    }
}

/// RFC 5321 §4.5.1: every hosted domain accepts `postmaster`. Without an account or alias of
/// that name (the admin's choice: `tern alias add postmaster@DOMAIN someone@DOMAIN`), it
/// reaches the domain's first account, as the one who set the domain up.
async fn domain_postmaster(
    store: &SharedStore,
    address: &str,
) -> Result<Option<AccountId>, StoreError> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Ok(None);
    };
    if !local.eq_ignore_ascii_case("postmaster") {
        return Ok(None);
    }
    let accounts = store.accounts(Some(&domain.to_ascii_lowercase())).await?;
    Ok(accounts.iter().map(|a| a.id).min())
}

/// RFC 5321 §4.5.1: the bare `postmaster` (no domain) means the server's own postmaster:
/// `postmaster@` the hosted domain that `hostname` is in (the longest match), else the first
/// hosted domain. None when no domain is hosted.
pub async fn bare_postmaster(
    store: &SharedStore,
    hostname: &str,
) -> Result<Option<String>, StoreError> {
    let mut domains: Vec<String> = store.domains().await?.into_iter().map(|d| d.name).collect();
    domains.sort();
    let hostname = hostname.to_ascii_lowercase();
    let own = domains
        .iter()
        .filter(|d| hostname == **d || hostname.ends_with(&format!(".{d}")))
        .max_by_key(|d| d.len());
    Ok(own.or(domains.first()).map(|d| format!("postmaster@{d}")))
}

/// Which folder local delivery uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxChoice {
    Inbox,
    /// DMARC p=quarantine (RFC 7489 §6.3): the account's Junk folder (INBOX if it has none).
    Junk,
}

/// What became of one local recipient.
#[derive(Debug)]
pub struct LocalOutcome {
    pub address: String,
    /// Ok when every account behind the address got the message; else the first error.
    pub result: Result<(), StoreError>,
}

/// Stores `raw` once for every account behind `recipients` (address, its accounts); each
/// account gets it once however many of the addresses lead to it. Returns an outcome per
/// address, in order, after the store committed.
pub async fn deliver_local(
    store: &SharedStore,
    raw: Bytes,
    internal_date: i64,
    recipients: &[(String, Vec<AccountId>)],
    choice: MailboxChoice,
) -> Result<Vec<LocalOutcome>, StoreError> {
    let mut accounts: Vec<AccountId> = Vec::new();
    for (_, ids) in recipients {
        for id in ids {
            if !accounts.contains(id) {
                accounts.push(*id);
            }
        }
    }
    let mut targets = Vec::with_capacity(accounts.len());
    let mut unreachable: HashSet<AccountId> = HashSet::new();
    for account in &accounts {
        match target_mailbox(store, *account, choice).await {
            Ok(Some(target)) => targets.push(target),
            Ok(None) => {
                unreachable.insert(*account);
            }
            Err(e) => {
                tracing::warn!(account = account.0, error = %e, "no mailbox for local delivery");
                unreachable.insert(*account);
            }
        }
    }
    let mut results: HashMap<AccountId, Result<(), StoreError>> = HashMap::new();
    if !targets.is_empty() {
        let ids: Vec<AccountId> = targets.iter().map(|t| t.account).collect();
        let outcomes = store.deliver(raw, internal_date, targets).await?;
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            results.insert(id, outcome.map(|_| ()));
        }
    }
    Ok(recipients
        .iter()
        .map(|(address, ids)| {
            let mut result = Ok(());
            for id in ids {
                let this = match results.remove(id) {
                    Some(r) => r,
                    // Already taken by an earlier address (same account): that one reported it.
                    None if unreachable.contains(id) => Err(StoreError::NotFound { what: "INBOX" }),
                    None => Ok(()),
                };
                if result.is_ok() {
                    result = this;
                }
            }
            LocalOutcome {
                address: address.clone(),
                result,
            }
        })
        .collect())
}

async fn target_mailbox(
    store: &SharedStore,
    account: AccountId,
    choice: MailboxChoice,
) -> Result<Option<AppendTarget>, StoreError> {
    let mailbox = match choice {
        MailboxChoice::Junk => store
            .mailboxes(account)
            .await?
            .into_iter()
            .find(|m| m.special_use == Some(SpecialUse::Junk)),
        MailboxChoice::Inbox => None,
    };
    let mailbox = match mailbox {
        Some(m) => Some(m),
        None => store.mailbox(account, "INBOX").await?,
    };
    Ok(mailbox.map(|m| AppendTarget {
        account,
        mailbox: m.id,
        flags: Flags::NONE,
        keywords: vec![],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tern_store::SqliteStore;

    async fn store_with_a() -> (tempfile::TempDir, SharedStore, AccountId) {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(SqliteStore::open(dir.path()).unwrap());
        store.create_domain("example.test", None).await.unwrap();
        let a = store
            .create_account("a@example.test", "h", None)
            .await
            .unwrap();
        (dir, store, a)
    }

    #[tokio::test]
    async fn one_blob_per_message_and_each_account_once() {
        let (_dir, store, a) = store_with_a().await;
        let b = store
            .create_account("b@example.test", "h", Some(10))
            .await
            .unwrap();
        store
            .add_alias("team@example.test", &["a@example.test".into()])
            .await
            .unwrap();
        assert_eq!(
            classify(&store, "nobody@example.test").await.unwrap(),
            Destination::Unknown
        );
        assert_eq!(
            classify(&store, "x@elsewhere.test").await.unwrap(),
            Destination::Remote
        );
        let Destination::Local(team) = classify(&store, "team@example.test").await.unwrap() else {
            panic!("team is local");
        };
        let raw = Bytes::from_static(b"Subject: hi\r\n\r\nhello\r\n");
        let outcomes = deliver_local(
            &store,
            raw.clone(),
            0,
            &[
                ("a@example.test".into(), vec![a]),
                ("team@example.test".into(), team.accounts),
                ("b@example.test".into(), vec![b]),
            ],
            MailboxChoice::Inbox,
        )
        .await
        .unwrap();
        assert!(outcomes[0].result.is_ok());
        assert!(outcomes[1].result.is_ok());
        assert!(outcomes[2].result.as_ref().unwrap_err().is_over_quota());
        let inbox = store.mailbox(a, "INBOX").await.unwrap().unwrap();
        let messages = store.messages(a, inbox.id).await.unwrap();
        assert_eq!(
            messages.len(),
            1,
            "the alias and the address lead to one copy"
        );
        assert_eq!(store.read_blob(&messages[0].blob).await.unwrap(), raw);
    }

    #[tokio::test]
    async fn quarantine_goes_to_junk() {
        let (_dir, store, a) = store_with_a().await;
        deliver_local(
            &store,
            Bytes::from_static(b"Subject: x\r\n\r\n"),
            0,
            &[("a@example.test".into(), vec![a])],
            MailboxChoice::Junk,
        )
        .await
        .unwrap();
        let junk = store.mailbox(a, "Junk").await.unwrap().unwrap();
        assert_eq!(store.messages(a, junk.id).await.unwrap().len(), 1);
    }
}
