//! `tern serve --demo`: a domain, an account and a welcome message on an empty store, so a
//! newcomer can log in with a mail client at once.

use anyhow::Result;
use bytes::Bytes;
use tern_store::{AppendTarget, Flags, SqliteStore, Store};

pub const DEMO_DOMAIN: &str = "example.test";
pub const DEMO_ACCOUNT: &str = "demo@example.test";

pub async fn seed(store: &SqliteStore, hostname: &str) -> Result<()> {
    if !store.domains().await?.is_empty() {
        if store.account_by_email(DEMO_ACCOUNT).await?.is_some() {
            println!(
                "demo: account {DEMO_ACCOUNT} exists already (its password was printed when it was made)"
            );
        } else {
            println!("demo: the store has data already; no demo account made");
        }
        return Ok(());
    }
    let password = crate::admin::generate_password();
    let hash = {
        let p = password.clone();
        tokio::task::spawn_blocking(move || tern_auth::hash_password(&p)).await??
    };
    store.create_domain(DEMO_DOMAIN, None).await?;
    let account = store.create_account(DEMO_ACCOUNT, &hash, None).await?;
    let inbox = store
        .mailbox(account, "INBOX")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the new account has no INBOX"))?;
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let welcome = format!(
        "From: Tern <postmaster@{DEMO_DOMAIN}>\r\n\
         To: {DEMO_ACCOUNT}\r\n\
         Subject: Welcome to Tern\r\n\
         Date: {date}\r\n\
         Message-ID: <welcome.{}@{hostname}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello!\r\n\
         \r\n\
         This mailbox lives on a Tern server. Point any mail client at it:\r\n\
         IMAP 127.0.0.1:2143 (STARTTLS) or 2993 (TLS), POP3 2110 / 2995,\r\n\
         SMTP submission 2587 (STARTTLS) or 2465 (TLS), webmail http://127.0.0.1:2095/\r\n\
         \r\n\
         User name: {DEMO_ACCOUNT}\r\n",
        now.unix_timestamp()
    );
    store
        .append(
            Bytes::from(welcome),
            now.unix_timestamp(),
            vec![AppendTarget {
                account,
                mailbox: inbox.id,
                flags: Flags::NONE,
                keywords: vec![],
            }],
        )
        .await?;
    println!("demo: account {DEMO_ACCOUNT} created, password: {password}");
    Ok(())
}
