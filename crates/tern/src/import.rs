//! `tern import`: stream an mbox file or a Maildir into an account, in bounded memory, with a
//! progress bar on a terminal and a summary at the end. Re-running it skips what is there.

use crate::cli::ImportArgs;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use tern_import::{ImportError, Item, MaildirReader, maildir_folders, open_mbox, to_crlf};
use tern_store::{
    AccountId, AppendItem, AppendTarget, BatchOutcome, Flags, MailboxId, SqliteStore, Store,
};

/// Messages per group commit, and the bytes they may hold at most (bounded memory).
const BATCH_MESSAGES: usize = 256;
const BATCH_BYTES: usize = 16 << 20;

#[derive(Default)]
struct Summary {
    imported: u64,
    duplicates: u64,
    skipped: Vec<(String, String)>,
}

pub async fn run(store: &SqliteStore, args: ImportArgs) -> Result<()> {
    let account = store
        .account_by_email(&args.email)
        .await?
        .with_context(|| format!("no account {}", args.email))?;
    let mut summary = Summary::default();
    let base = args.folder.clone().unwrap_or_else(|| "INBOX".to_owned());
    if let Some(path) = &args.mbox {
        let mailbox = folder(store, account.id, &base).await?;
        let total = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let bar = progress(total, "{bar:30} {bytes}/{total_bytes} {per_sec} eta {eta}");
        let mut reader = open_mbox(path)?;
        let mut batch = Batch::new(account.id, mailbox);
        while let Some(item) = reader.next() {
            batch.push(store, item?, &mut summary).await?;
            bar.set_position(reader.bytes_read());
        }
        batch.flush(store, &mut summary).await?;
        bar.finish_and_clear();
    } else if let Some(root) = &args.maildir {
        import_maildir(
            store,
            account.id,
            root,
            &base,
            args.folder.is_some(),
            &mut summary,
        )
        .await?;
    } else {
        bail!("give --mbox FILE or --maildir DIR");
    }
    println!(
        "imported {}, skipped {} ({} already present, {} unreadable)",
        summary.imported,
        summary.duplicates + summary.skipped.len() as u64,
        summary.duplicates,
        summary.skipped.len()
    );
    for (source, reason) in summary.skipped.iter().take(50) {
        println!("  skipped {source}: {reason}");
    }
    if summary.skipped.len() > 50 {
        println!("  ... and {} more", summary.skipped.len() - 50);
    }
    Ok(())
}

async fn import_maildir(
    store: &SqliteStore,
    account: AccountId,
    root: &Path,
    base: &str,
    base_given: bool,
    summary: &mut Summary,
) -> Result<()> {
    for (name, dir) in maildir_folders(root)? {
        // The Maildir's own folder goes to --folder (or INBOX); subfolders keep their names,
        // under --folder when one was given.
        let target = match (name.as_str(), base_given) {
            ("INBOX", _) => base.to_owned(),
            (sub, true) => format!("{base}/{sub}"),
            (sub, false) => sub.to_owned(),
        };
        let mailbox = folder(store, account, &target).await?;
        let reader = MaildirReader::open(&dir)?;
        let bar = progress(
            reader.len() as u64,
            "{bar:30} {pos}/{len} {per_sec} eta {eta}",
        );
        bar.set_message(target.clone());
        let mut batch = Batch::new(account, mailbox);
        for item in reader {
            batch.push(store, item?, summary).await?;
            bar.inc(1);
        }
        batch.flush(store, summary).await?;
        bar.finish_and_clear();
    }
    Ok(())
}

/// The folder by name, created when missing.
async fn folder(store: &SqliteStore, account: AccountId, name: &str) -> Result<MailboxId> {
    if let Some(m) = store.mailbox(account, name).await? {
        return Ok(m.id);
    }
    // A name the store refuses for new mailboxes (say `~bob` or `..`) stops the import with
    // the folder named, so the operator can rename it in the source and run it again.
    let created = store
        .create_mailbox(account, name, None, true)
        .await
        .with_context(|| format!("creating the folder {name:?}"))?;
    Ok(created.id)
}

fn progress(total: u64, template: &str) -> ProgressBar {
    // indicatif draws only when standard error is a terminal.
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(&format!("{{msg}} {template}")) {
        bar.set_style(style);
    }
    bar
}

struct Batch {
    account: AccountId,
    mailbox: MailboxId,
    items: Vec<AppendItem>,
    sources: Vec<String>,
    bytes: usize,
}

impl Batch {
    fn new(account: AccountId, mailbox: MailboxId) -> Batch {
        Batch {
            account,
            mailbox,
            items: Vec::new(),
            sources: Vec::new(),
            bytes: 0,
        }
    }

    async fn push(
        &mut self,
        store: &SqliteStore,
        item: Item,
        summary: &mut Summary,
    ) -> Result<(), ImportOrStore> {
        match item {
            Item::Skipped { source, reason } => summary.skipped.push((source, reason)),
            Item::Message(m) => {
                let raw = to_crlf(&m.raw);
                self.bytes += raw.len();
                let flags = [
                    (m.flags.seen, Flags::SEEN),
                    (m.flags.answered, Flags::ANSWERED),
                    (m.flags.flagged, Flags::FLAGGED),
                    (m.flags.deleted, Flags::DELETED),
                    (m.flags.draft, Flags::DRAFT),
                ]
                .into_iter()
                .filter(|(set, _)| *set)
                .fold(Flags::NONE, |acc, (_, f)| acc.union(f));
                let internal_date = m
                    .internal_date
                    .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
                self.items.push(AppendItem {
                    raw: Bytes::from(raw),
                    internal_date,
                    targets: vec![AppendTarget {
                        account: self.account,
                        mailbox: self.mailbox,
                        flags,
                        keywords: m.keywords,
                    }],
                    skip_duplicates: true,
                });
                self.sources.push(m.source);
                if self.items.len() >= BATCH_MESSAGES || self.bytes >= BATCH_BYTES {
                    self.flush(store, summary).await?;
                }
            }
        }
        Ok(())
    }

    async fn flush(
        &mut self,
        store: &SqliteStore,
        summary: &mut Summary,
    ) -> Result<(), ImportOrStore> {
        if self.items.is_empty() {
            return Ok(());
        }
        let items = std::mem::take(&mut self.items);
        let sources = std::mem::take(&mut self.sources);
        self.bytes = 0;
        let outcomes = store.append_batch(items).await?;
        for (outcome, source) in outcomes.into_iter().zip(sources) {
            match outcome {
                BatchOutcome::Stored(_) => summary.imported += 1,
                BatchOutcome::Duplicate => summary.duplicates += 1,
                // Over quota, a bad keyword...: reported, and the import goes on.
                BatchOutcome::Failed(e) => summary.skipped.push((source, e.to_string())),
            }
        }
        Ok(())
    }
}

/// Errors that stop an import: reading the source, or the store itself failing.
#[derive(Debug, thiserror::Error)]
enum ImportOrStore {
    #[error(transparent)]
    Read(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] tern_store::StoreError),
}
