//! `tern mail list | cat`: read what the store holds, for scripts and end-to-end checks
//! (the bytes come out exactly as stored).

use crate::cli::MailCommand;
use anyhow::{Context, Result, bail};
use std::io::Write;
use tern_store::{AccountId, MailboxId, SqliteStore, Store};

async fn folder(store: &SqliteStore, email: &str, name: &str) -> Result<(AccountId, MailboxId)> {
    let Some(account) = store.account_by_email(email).await? else {
        bail!("no account {email}");
    };
    let Some(mailbox) = store.mailbox(account.id, name).await? else {
        bail!("{email} has no folder {name}");
    };
    Ok((account.id, mailbox.id))
}

pub async fn run(store: &SqliteStore, command: MailCommand) -> Result<()> {
    match command {
        MailCommand::List {
            email,
            folder: name,
        } => {
            let (account, mailbox) = folder(store, &email, &name).await?;
            let messages = store.messages(account, mailbox).await?;
            let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
            for s in store.summaries(account, mailbox, &uids).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    s.meta.uid,
                    s.meta.size,
                    s.meta.flags.names().join(" "),
                    s.summary.subject
                );
            }
        }
        MailCommand::Cat {
            email,
            uid,
            folder: name,
        } => {
            let (account, mailbox) = folder(store, &email, &name).await?;
            let messages = store.messages(account, mailbox).await?;
            let Some(meta) = messages.iter().find(|m| m.uid == uid) else {
                bail!("no message with UID {uid} in {name}");
            };
            let raw = store.read_blob(&meta.blob).await?;
            let mut out = std::io::stdout().lock();
            out.write_all(&raw).context("writing the message")?;
            out.flush()?;
        }
    }
    Ok(())
}
