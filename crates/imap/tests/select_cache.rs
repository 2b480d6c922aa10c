//! A large mailbox's message list is shared between sessions (crates/imap/src/view_cache.rs);
//! each SELECT must still see every change made since the list was first read.

mod common;

use std::time::Duration;

use bytes::Bytes;
use tern_store::{AppendItem, AppendTarget, FlagChange, FlagOp, Flags, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Logs in, sends `command`, and returns every line up to its tagged completion.
async fn session(addr: std::net::SocketAddr, command: &str) -> Vec<String> {
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let request = [common::LOGIN, command.as_bytes(), b"z LOGOUT\r\n"].concat();
    client.get_mut().write_all(&request).await.unwrap();
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(30), client.read_line(&mut line))
            .await
            .expect("the server answered in time")
            .expect("read");
        if read == 0 {
            return lines;
        }
        lines.push(line.trim_end().to_string());
    }
}

fn has(lines: &[String], wanted: &str) -> bool {
    lines.iter().any(|l| l == wanted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reselected_large_mailbox_shows_every_change_since() {
    let (addr, _dir, store) = common::server().await;
    let (account, inbox) = common::account_and_inbox(&store).await;
    let target = || AppendTarget {
        account: account.id,
        mailbox: inbox.id,
        flags: Flags::NONE,
        keywords: Vec::new(),
    };
    let items = (1..=2_500)
        .map(|n| AppendItem {
            raw: Bytes::from(format!("Subject: m{n}\r\n\r\nbody {n}\r\n")),
            internal_date: 1_700_000_000,
            targets: vec![target()],
            skip_duplicates: false,
        })
        .collect();
    store.append_batch(items).await.unwrap();

    let first = session(addr, "s SELECT INBOX\r\n").await;
    assert!(has(&first, "* 2500 EXISTS"), "{first:?}");

    // Changes by others between two SELECTs: a flag, an expunge, a new message.
    store
        .update_flags(
            account.id,
            inbox.id,
            &[7],
            FlagChange {
                op: FlagOp::Add,
                flags: Flags::SEEN,
                keywords: vec!["$Important".into()],
                unchanged_since: None,
            },
        )
        .await
        .unwrap();
    store
        .remove_messages(account.id, inbox.id, &[3])
        .await
        .unwrap();
    store
        .deliver(
            Bytes::from_static(b"Subject: new\r\n\r\nx\r\n"),
            1_700_000_001,
            vec![target()],
        )
        .await
        .unwrap();

    let second = session(
        addr,
        "s SELECT INBOX\r\nf UID FETCH 7 FLAGS\r\nu UID SEARCH UID 2:4\r\n",
    )
    .await;
    assert!(has(&second, "* 2500 EXISTS"), "{second:?}");
    assert!(
        second
            .iter()
            .any(|l| l.starts_with("* FLAGS (") && l.contains("$Important")),
        "{second:?}"
    );
    assert!(
        second.iter().any(|l| l.starts_with("* 6 FETCH (")
            && l.contains("\\Seen")
            && l.contains("$Important")),
        "{second:?}"
    );
    assert!(has(&second, "* SEARCH 2 4"), "{second:?}");
    // Unchanged since: the same list again.
    let third = session(addr, "s SELECT INBOX\r\n").await;
    assert!(has(&third, "* 2500 EXISTS"), "{third:?}");
}
