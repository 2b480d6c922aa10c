//! Appends crash-test messages to the store in a loop, printing `ACK i` only after the store
//! acknowledged message `i` (durable). The crash test kills it with SIGKILL at random moments.
//! Four writers run at once so kills also land inside group commits, and every third round a
//! writer uses the batch path (import) instead of single appends.
//!
//! Usage: crash-appender DATA_DIR FIRST_INDEX

use bytes::Bytes;
use std::io::Write;
use std::sync::Arc;
use tern_store::{AppendItem, AppendTarget, BatchOutcome, Flags, SqliteStore, Store, StoreError};
use tern_tests::{CRASH_ACCOUNT, CRASH_DOMAIN, crash_message};

const WRITERS: u64 = 4;

fn ack(i: u64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ACK {i}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: crash-appender DATA_DIR FIRST_INDEX")?;
    let first: u64 = args.next().ok_or("missing FIRST_INDEX")?.parse()?;
    let store = Arc::new(SqliteStore::open(std::path::Path::new(&dir))?);
    match store.create_domain(CRASH_DOMAIN, None).await {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let account = match store.account_by_email(CRASH_ACCOUNT).await? {
        Some(a) => a.id,
        None => store.create_account(CRASH_ACCOUNT, "x", None).await?,
    };
    let inbox = store.mailbox(account, "INBOX").await?.ok_or("no INBOX")?.id;
    let target = AppendTarget {
        account,
        mailbox: inbox,
        flags: Flags::NONE,
        keywords: vec![],
    };
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, target) = (Arc::clone(&store), target.clone());
        writers.push(tokio::spawn(async move {
            let mut round = 0u64;
            loop {
                let base = first + (round * WRITERS + w) * 5;
                if round % 3 == 2 {
                    let items = (base..base + 5)
                        .map(|i| AppendItem {
                            raw: Bytes::from(crash_message(i)),
                            internal_date: i as i64,
                            targets: vec![target.clone()],
                            skip_duplicates: false,
                        })
                        .collect();
                    let outcomes = store.append_batch(items).await?;
                    for (i, outcome) in (base..).zip(outcomes) {
                        if let BatchOutcome::Stored(_) = outcome {
                            ack(i);
                        }
                    }
                } else {
                    for i in base..base + 5 {
                        store
                            .append(
                                Bytes::from(crash_message(i)),
                                i as i64,
                                vec![target.clone()],
                            )
                            .await?;
                        ack(i);
                    }
                }
                round += 1;
            }
            #[allow(unreachable_code)]
            Ok::<(), StoreError>(())
        }));
    }
    for w in writers {
        w.await??;
    }
    Ok(())
}
