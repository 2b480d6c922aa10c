//! The crash test (DESIGN.md §4 durability rule): a child process appends messages and reports
//! each one the store acknowledged; we SIGKILL it at random moments, 20 times. After each kill
//! the store must open cleanly, hold every acknowledged message byte for byte, show nothing
//! half-written, and keep its quota counters exact.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tern_store::{SqliteStore, Store};
use tern_tests::{CRASH_ACCOUNT, crash_index, crash_message};

const ROUNDS: usize = 20;

fn run_and_kill(dir: &std::path::Path, first: u64) -> BTreeSet<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-appender"))
        .arg(dir)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start crash-appender");
    let stdout = child.stdout.take().expect("stdout");
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let reader = {
        let acked = Arc::clone(&acked);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
                    acked.lock().unwrap().insert(i);
                }
            }
        })
    };
    // Wait for the writers to get going, then kill at a random moment.
    let started = Instant::now();
    while acked.lock().unwrap().len() < 5 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(rand::random_range(0..400)));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().expect("wait");
    reader.join().expect("reader");
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_acknowledged_message_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut acked_total = BTreeSet::new();
    let mut next = 0;
    for round in 0..ROUNDS {
        let acked = run_and_kill(dir.path(), next);
        assert!(
            !acked.is_empty(),
            "round {round}: the appender acknowledged nothing"
        );
        acked_total.extend(acked);

        let store = SqliteStore::open(dir.path()).expect("the store opens after a crash");
        assert_eq!(
            store.verify().await.unwrap(),
            Vec::<String>::new(),
            "round {round}"
        );
        let account = store
            .account_by_email(CRASH_ACCOUNT)
            .await
            .unwrap()
            .unwrap();
        let inbox = store.mailbox(account.id, "INBOX").await.unwrap().unwrap();
        let metas = store.messages(account.id, inbox.id).await.unwrap();
        let mut present = BTreeSet::new();
        let mut bytes = 0;
        for meta in &metas {
            let raw = store.read_blob(&meta.blob).await.unwrap();
            let i = crash_index(&raw).expect("a crash-test message");
            assert_eq!(&raw[..], &crash_message(i)[..], "message {i} is whole");
            assert_eq!(meta.size, raw.len() as u64);
            assert!(present.insert(i), "message {i} stored twice");
            bytes += meta.size;
        }
        let missing: Vec<_> = acked_total.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        let quota = store.quota(account.id).await.unwrap();
        assert_eq!(
            quota.account_used, bytes,
            "round {round}: quota counter exact"
        );
        next = present
            .iter()
            .chain(&acked_total)
            .max()
            .map_or(0, |m| m + 1)
            + 1000;
        store.close();
    }
    assert!(acked_total.len() >= ROUNDS * 5);
}
