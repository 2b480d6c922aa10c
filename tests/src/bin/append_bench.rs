//! Store append rate with full durability (blob fsync + directory fsync + SQLite
//! synchronous=FULL commit before each acknowledgement), for `bench/append.sh`.
//!
//! Usage: append-bench DATA_DIR COUNT CONCURRENCY [SIZE_BYTES]
//! Prints one line: `appends=N concurrency=C seconds=S rate=R/s`.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tern_store::{AppendTarget, Flags, SqliteStore, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, count, concurrency, rest @ ..] = args.as_slice() else {
        return Err("usage: append-bench DATA_DIR COUNT CONCURRENCY [SIZE_BYTES]".into());
    };
    let (count, concurrency): (u64, u64) = (count.parse()?, concurrency.parse()?);
    let size: usize = rest.first().map_or(Ok(5 * 1024), |s| s.parse())?;
    let store = Arc::new(SqliteStore::open(std::path::Path::new(dir))?);
    store.create_domain("append.bench", None).await?;
    let account = store.create_account("a@append.bench", "x", None).await?;
    let inbox = store.mailbox(account, "INBOX").await?.ok_or("no INBOX")?.id;
    let target = AppendTarget {
        account,
        mailbox: inbox,
        flags: Flags::NONE,
        keywords: vec![],
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (store, target) = (Arc::clone(&store), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < count {
                let mut raw = format!(
                    "From: bench@append.bench\r\nTo: a@append.bench\r\nSubject: append {i}\r\n\r\n"
                )
                .into_bytes();
                raw.resize(size.max(raw.len()), b'x');
                store
                    .append(Bytes::from(raw), 0, vec![target.clone()])
                    .await?;
                i += concurrency;
            }
            Ok::<(), tern_store::StoreError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "appends={count} concurrency={concurrency} seconds={secs:.2} rate={:.0}/s",
        count as f64 / secs
    );
    store.close();
    Ok(())
}
