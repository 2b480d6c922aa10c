//! Changes made through the store by other services (SMTP delivery, POP3, webmail) reach an
//! IMAP session in IDLE through the change feed, each one, in order (RFC 9051 §7.4.1, §7.5).

mod common;

use std::time::Duration;

use bytes::Bytes;
use tern_store::{AppendTarget, FlagChange, FlagOp, Flags, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("the server answered in time")
        .expect("read");
    line.trim_end().to_string()
}

async fn until(reader: &mut BufReader<TcpStream>, prefix: &str) {
    while !line(reader).await.starts_with(prefix) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sees_deliveries_flag_changes_and_removals_in_order() {
    let (addr, _dir, store) = common::server().await;
    let (account, inbox) = common::account_and_inbox(&store).await;

    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    client
        .get_mut()
        .write_all(&[common::LOGIN, b"s SELECT INBOX\r\ni IDLE\r\n"].concat())
        .await
        .unwrap();
    until(&mut client, "+ idling").await;

    // SMTP-free delivery: what the MX does after its checks, straight into the store.
    let target = || AppendTarget {
        account: account.id,
        mailbox: inbox.id,
        flags: Flags::NONE,
        keywords: Vec::new(),
    };
    for n in 1..=2 {
        let raw = Bytes::from(format!("Subject: delivered {n}\r\n\r\nbody\r\n"));
        let delivered = store
            .deliver(raw, 1_700_000_000, vec![target()])
            .await
            .unwrap();
        assert!(delivered[0].is_ok());
        assert_eq!(line(&mut client).await, format!("* {n} EXISTS"));
        // An IMAP4rev1 session: the new message is \Recent in it (RFC 3501 §7.3.2).
        assert_eq!(line(&mut client).await, format!("* {n} RECENT"));
    }
    // The webmail marks the first one read.
    let change = FlagChange {
        op: FlagOp::Add,
        flags: Flags::SEEN,
        keywords: Vec::new(),
        unchanged_since: None,
    };
    store
        .update_flags(account.id, inbox.id, &[1], change)
        .await
        .unwrap();
    assert_eq!(
        line(&mut client).await,
        "* 1 FETCH (FLAGS (\\Recent \\Seen))"
    );
    // POP3 deletes it for good.
    store
        .remove_messages(account.id, inbox.id, &[1])
        .await
        .unwrap();
    assert_eq!(line(&mut client).await, "* 1 EXPUNGE");

    client.get_mut().write_all(b"DONE\r\n").await.unwrap();
    assert_eq!(line(&mut client).await, "i OK IDLE terminated");
    client
        .get_mut()
        .write_all(b"f FETCH 1:* (UID FLAGS)\r\n")
        .await
        .unwrap();
    assert_eq!(
        line(&mut client).await,
        "* 1 FETCH (UID 2 FLAGS (\\Recent))"
    );
    assert_eq!(line(&mut client).await, "f OK FETCH completed");
}
