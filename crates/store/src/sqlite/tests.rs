//! Store tests: the model, concurrency (UIDs, quota), rename, durability bookkeeping.

use super::*;
use crate::{QuotaScope, Store};
use std::collections::HashSet;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    store: Arc<SqliteStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    Fixture {
        _dir: dir,
        path,
        store,
    }
}

async fn account(store: &SqliteStore, email: &str) -> AccountId {
    let domain = email.split('@').nth(1).unwrap();
    if store.domain(domain).await.unwrap().is_none() {
        store.create_domain(domain, None).await.unwrap();
    }
    store.create_account(email, "hash", None).await.unwrap()
}

async fn inbox(store: &SqliteStore, account: AccountId) -> MailboxId {
    store.mailbox(account, "INBOX").await.unwrap().unwrap().id
}

fn message(n: usize) -> Bytes {
    Bytes::from(format!(
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: message {n}\r\n\r\nbody {n}\r\n"
    ))
}

fn target(account: AccountId, mailbox: MailboxId) -> AppendTarget {
    AppendTarget {
        account,
        mailbox,
        flags: Flags::NONE,
        keywords: vec![],
    }
}

async fn append(store: &SqliteStore, a: AccountId, m: MailboxId, raw: Bytes) -> Appended {
    store
        .append(raw, 1_700_000_000, vec![target(a, m)])
        .await
        .unwrap()[0]
}

fn blob_files(path: &Path) -> usize {
    std::fs::read_dir(path.join("blobs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().len() == 2)
        .map(|e| std::fs::read_dir(e.path()).unwrap().count())
        .sum()
}

#[tokio::test]
async fn new_accounts_get_the_default_mailboxes() {
    let f = fixture();
    let a = account(&f.store, "User@Example.TEST").await;
    let boxes = f.store.mailboxes(a).await.unwrap();
    let names: Vec<(&str, Option<SpecialUse>)> = boxes
        .iter()
        .map(|m| (m.name.as_str(), m.special_use))
        .collect();
    assert_eq!(
        names,
        [
            ("Drafts", Some(SpecialUse::Drafts)),
            ("INBOX", None),
            ("Junk", Some(SpecialUse::Junk)),
            ("Sent", Some(SpecialUse::Sent)),
            ("Trash", Some(SpecialUse::Trash)),
        ]
    );
    let validities: HashSet<u32> = boxes.iter().map(|m| m.uid_validity).collect();
    assert_eq!(validities.len(), 5, "each mailbox has its own UIDVALIDITY");
    let found = f
        .store
        .account_by_email("user@example.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.email, "user@example.test");
    assert!(matches!(
        f.store.create_account("user@example.test", "h", None).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        f.store.create_account("x@nowhere.test", "h", None).await,
        Err(StoreError::NotFound { what: "domain" })
    ));
}

#[tokio::test]
async fn append_then_read_back_byte_for_byte() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let raw = message(1);
    let appended = append(&f.store, a, inbox, raw.clone()).await;
    assert_eq!(appended.uid, 1);
    let metas = f.store.messages(a, inbox).await.unwrap();
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].size, raw.len() as u64);
    assert_eq!(f.store.read_blob(&metas[0].blob).await.unwrap(), raw);
    let mut reader = f.store.open_blob(&metas[0].blob).await.unwrap();
    let mut streamed = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut streamed)
        .await
        .unwrap();
    assert_eq!(streamed, raw);
    let summaries = f.store.summaries(a, inbox, &[1, 2]).await.unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].summary.subject, "message 1");
    let status = f.store.mailbox_status(a, inbox).await.unwrap();
    assert_eq!((status.messages, status.unseen, status.uid_next), (1, 1, 2));
    let quota = f.store.quota(a).await.unwrap();
    assert_eq!(quota.account_used, raw.len() as u64);
    assert_eq!(quota.domain_used, raw.len() as u64);
}

#[tokio::test]
async fn a_message_for_many_mailboxes_is_one_blob_and_is_collected_when_unreferenced() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let (ia, ib) = (inbox(&f.store, a).await, inbox(&f.store, b).await);
    let raw = message(7);
    let done = f
        .store
        .append(raw.clone(), 0, vec![target(a, ia), target(b, ib)])
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(blob_files(&f.path), 1);
    f.store.remove_messages(a, ia, &[1]).await.unwrap();
    assert_eq!(blob_files(&f.path), 1, "b still refers to it");
    f.store.remove_messages(b, ib, &[1]).await.unwrap();
    assert_eq!(blob_files(&f.path), 0, "unreferenced blob collected");
    assert!(f.store.verify().await.unwrap().is_empty());
}

#[tokio::test]
async fn eight_parallel_appenders_get_unique_ascending_uids() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = Arc::clone(&f.store);
        tasks.push(tokio::spawn(async move {
            let mut uids = Vec::new();
            for n in 0..1000 {
                let appended = append(&store, a, inbox, message(t * 1000 + n)).await;
                uids.push(appended.uid);
            }
            uids
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let uids = task.await.unwrap();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "ascending per task");
        all.extend(uids);
    }
    let unique: HashSet<u32> = all.iter().copied().collect();
    assert_eq!(unique.len(), 8000);
    let stored: Vec<u32> = f
        .store
        .messages(a, inbox)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(stored, (1..=8000).collect::<Vec<u32>>());
}

#[tokio::test]
async fn a_quota_that_fits_n_messages_admits_exactly_n_under_parallel_delivery() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let size = message(100).len() as u64; // all test messages 100..199 have the same size
    f.store
        .set_account_quota("u@example.test", Some(size * 10 + size / 2))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 100..150 {
        let store = Arc::clone(&f.store);
        tasks.push(tokio::spawn(async move {
            store
                .deliver(message(n), 0, vec![target(a, inbox)])
                .await
                .unwrap()
                .remove(0)
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::OverQuota {
                scope: QuotaScope::Account,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(f.store.messages(a, inbox).await.unwrap().len(), 10);
    let big = Bytes::from(vec![b'x'; (size * 11) as usize]);
    assert!(matches!(
        f.store.append(big, 0, vec![target(a, inbox)]).await,
        Err(StoreError::TooLargeForQuota { .. })
    ));
}

#[tokio::test]
async fn domain_quota_counts_every_account_and_is_freed_by_removal() {
    let f = fixture();
    f.store.create_domain("example.test", None).await.unwrap();
    let a = f
        .store
        .create_account("a@example.test", "h", None)
        .await
        .unwrap();
    let b = f
        .store
        .create_account("b@example.test", "h", None)
        .await
        .unwrap();
    let size = message(1).len() as u64;
    f.store
        .set_domain_quota("example.test", Some(size * 2))
        .await
        .unwrap();
    append(&f.store, a, inbox(&f.store, a).await, message(1)).await;
    append(&f.store, b, inbox(&f.store, b).await, message(2)).await;
    let ib = inbox(&f.store, b).await;
    assert!(matches!(
        f.store.append(message(3), 0, vec![target(b, ib)]).await,
        Err(StoreError::OverQuota {
            scope: QuotaScope::Domain,
            ..
        })
    ));
    // Removing an account (cascading to its messages) frees the domain's usage.
    f.store.remove_account("a@example.test").await.unwrap();
    assert_eq!(
        f.store
            .domain("example.test")
            .await
            .unwrap()
            .unwrap()
            .bytes_used,
        size
    );
    append(&f.store, b, ib, message(3)).await;
}

#[tokio::test]
async fn deliver_lets_each_target_succeed_alone_and_append_is_all_or_nothing() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    f.store
        .set_account_quota("b@example.test", Some(10))
        .await
        .unwrap();
    let (ia, ib) = (inbox(&f.store, a).await, inbox(&f.store, b).await);
    let results = f
        .store
        .deliver(message(1), 0, vec![target(a, ia), target(b, ib)])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert!(results[1].as_ref().unwrap_err().is_over_quota());
    let all_or_nothing = f
        .store
        .append(message(2), 0, vec![target(a, ia), target(b, ib)])
        .await;
    assert!(all_or_nothing.is_err());
    assert_eq!(
        f.store.messages(a, ia).await.unwrap().len(),
        1,
        "nothing half-stored"
    );
}

#[tokio::test]
async fn rename_with_children_keeps_every_message() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let work = f
        .store
        .create_mailbox(a, "Work/Projects/Tern", None, true)
        .await
        .unwrap();
    let parent = f
        .store
        .mailbox(a, "Work")
        .await
        .unwrap()
        .expect("parents created");
    for n in 0..3 {
        append(&f.store, a, work.id, message(n)).await;
        append(&f.store, a, parent.id, message(10 + n)).await;
    }
    let mut feed = f.store.subscribe(a);
    f.store
        .rename_mailbox(a, "Work", "Archive/2026")
        .await
        .unwrap();
    let names: Vec<String> = f
        .store
        .mailboxes(a)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    for expected in [
        "Archive",
        "Archive/2026",
        "Archive/2026/Projects",
        "Archive/2026/Projects/Tern",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} in {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n.starts_with("Work")));
    let moved = f
        .store
        .mailbox(a, "Archive/2026/Projects/Tern")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.id, work.id);
    assert_eq!(moved.uid_validity, work.uid_validity);
    assert_eq!(f.store.messages(a, moved.id).await.unwrap().len(), 3);
    assert_eq!(f.store.messages(a, parent.id).await.unwrap().len(), 3);
    let mut renamed = 0;
    while let Ok(change) = feed.try_recv() {
        if matches!(change, Change::MailboxRenamed { .. }) {
            renamed += 1;
        }
    }
    assert_eq!(renamed, 3);
    assert!(matches!(
        f.store.rename_mailbox(a, "Archive", "Archive/2026/x").await,
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        f.store.rename_mailbox(a, "Archive", "Sent").await,
        Err(StoreError::AlreadyExists { .. })
    ));
}

#[tokio::test]
async fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    for n in 0..4 {
        append(&f.store, a, inbox, message(n)).await;
    }
    f.store.rename_mailbox(a, "inbox", "Old").await.unwrap();
    let old = f.store.mailbox(a, "Old").await.unwrap().unwrap();
    assert_eq!(f.store.messages(a, old.id).await.unwrap().len(), 4);
    assert!(f.store.messages(a, inbox).await.unwrap().is_empty());
    let quota = f.store.quota(a).await.unwrap();
    assert_eq!(quota.account_used, 4 * message(0).len() as u64);
}

#[tokio::test]
async fn delete_mailbox_rules() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    f.store.create_mailbox(a, "A/B", None, true).await.unwrap();
    assert!(matches!(
        f.store.delete_mailbox(a, "A").await,
        Err(StoreError::HasChildren)
    ));
    assert!(matches!(
        f.store.delete_mailbox(a, "INBOX").await,
        Err(StoreError::Forbidden(_))
    ));
    let b = f.store.mailbox(a, "A/B").await.unwrap().unwrap();
    append(&f.store, a, b.id, message(1)).await;
    f.store.delete_mailbox(a, "A/B").await.unwrap();
    f.store.delete_mailbox(a, "A").await.unwrap();
    assert_eq!(f.store.quota(a).await.unwrap().account_used, 0);
    // A re-created mailbox gets a new UIDVALIDITY (RFC 9051 §2.3.1.1).
    let again = f.store.create_mailbox(a, "A/B", None, true).await.unwrap();
    assert!(again.uid_validity > b.uid_validity);
    assert_eq!(blob_files(&f.path), 0);
}

#[tokio::test]
async fn flags_raise_modseq_and_honour_unchangedsince() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    for n in 0..3 {
        append(&f.store, a, inbox, message(n)).await;
    }
    let before = f
        .store
        .mailbox_by_id(a, inbox)
        .await
        .unwrap()
        .highest_modseq;
    let change = |op, flags, kw: &[&str], since| FlagChange {
        op,
        flags,
        keywords: kw.iter().map(|s| s.to_string()).collect(),
        unchanged_since: since,
    };
    let done = f
        .store
        .update_flags(
            a,
            inbox,
            &[1, 2],
            change(FlagOp::Add, Flags::SEEN, &["$Work"], None),
        )
        .await
        .unwrap();
    assert_eq!(done.changed.len(), 2);
    let m = done.changed[0].modseq;
    assert!(m > before);
    assert_eq!(done.changed[0].keywords, ["$Work"]);
    // No-op changes don't bump MODSEQ.
    let again = f
        .store
        .update_flags(a, inbox, &[1], change(FlagOp::Add, Flags::SEEN, &[], None))
        .await
        .unwrap();
    assert!(again.changed.is_empty());
    let cond = f
        .store
        .update_flags(
            a,
            inbox,
            &[1, 3],
            change(FlagOp::Add, Flags::FLAGGED, &[], Some(m - 1)),
        )
        .await
        .unwrap();
    assert_eq!(cond.modified, vec![1]);
    assert_eq!(cond.changed.iter().map(|c| c.uid).collect::<Vec<_>>(), [3]);
    let since = f.store.changed_since(a, inbox, m).await.unwrap();
    assert_eq!(since.iter().map(|c| c.uid).collect::<Vec<_>>(), [3]);
    let removed = f
        .store
        .update_flags(
            a,
            inbox,
            &[1],
            change(FlagOp::Remove, Flags::SEEN, &["$Work"], None),
        )
        .await
        .unwrap();
    assert_eq!(removed.changed[0].flags, Flags::NONE);
    assert!(removed.changed[0].keywords.is_empty());
    assert!(
        f.store
            .update_flags(
                a,
                inbox,
                &[1],
                change(FlagOp::Add, Flags::NONE, &["bad word"], None)
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn copy_move_expunge_and_vanished() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let trash = f.store.mailbox(a, "Trash").await.unwrap().unwrap();
    for n in 0..5 {
        append(&f.store, a, inbox, message(n)).await;
    }
    let copied = f
        .store
        .copy_messages(a, inbox, &[2, 4, 99], trash.id)
        .await
        .unwrap();
    assert_eq!(copied.uids, vec![(2, 1), (4, 2)]);
    assert_eq!(copied.uid_validity, trash.uid_validity);
    let modseq = f
        .store
        .mailbox_by_id(a, inbox)
        .await
        .unwrap()
        .highest_modseq;
    let moved = f
        .store
        .move_messages(a, inbox, &[1], trash.id)
        .await
        .unwrap();
    assert_eq!(moved.uids, vec![(1, 3)]);
    f.store
        .update_flags(
            a,
            inbox,
            &[3, 5],
            FlagChange {
                op: FlagOp::Add,
                flags: Flags::DELETED,
                keywords: vec![],
                unchanged_since: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        f.store.expunge(a, inbox, Some(&[5])).await.unwrap(),
        vec![5]
    );
    assert_eq!(f.store.expunge(a, inbox, None).await.unwrap(), vec![3]);
    let left: Vec<u32> = f
        .store
        .messages(a, inbox)
        .await
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, [2, 4]);
    assert_eq!(
        f.store.vanished_since(a, inbox, modseq).await.unwrap(),
        [1, 3, 5]
    );
    assert_eq!(
        f.store.quota(a).await.unwrap().account_used,
        5 * message(0).len() as u64
    );
}

#[tokio::test]
async fn one_account_can_never_reach_anothers_mailboxes() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let ib = inbox(&f.store, b).await;
    append(&f.store, b, ib, message(1)).await;
    assert!(matches!(
        f.store.messages(a, ib).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(f.store.summaries(a, ib, &[1]).await.is_err());
    assert!(f.store.expunge(a, ib, None).await.is_err());
    assert!(f.store.remove_messages(a, ib, &[1]).await.is_err());
    assert!(
        f.store
            .append(message(2), 0, vec![target(a, ib)])
            .await
            .is_err()
    );
    let ia = inbox(&f.store, a).await;
    assert!(f.store.copy_messages(a, ib, &[1], ia).await.is_err());
    assert!(f.store.mailbox_by_id(a, ib).await.is_err());
    assert_eq!(f.store.messages(b, ib).await.unwrap().len(), 1);
}

#[tokio::test]
async fn recipients_resolve_through_aliases_subaddresses_and_catch_alls() {
    let f = fixture();
    let a = account(&f.store, "alice@example.test").await;
    let b = account(&f.store, "bob@example.test").await;
    f.store
        .add_alias(
            "team@example.test",
            &[
                "alice@example.test".into(),
                "bob@example.test".into(),
                "out@remote.test".into(),
            ],
        )
        .await
        .unwrap();
    let team = f
        .store
        .resolve_recipient("Team@Example.test")
        .await
        .unwrap();
    assert_eq!(team.accounts, vec![a, b]);
    assert_eq!(team.forward, vec!["out@remote.test".to_string()]);
    let tagged = f
        .store
        .resolve_recipient("alice+news@example.test")
        .await
        .unwrap();
    assert_eq!(tagged.accounts, vec![a]);
    assert!(matches!(
        f.store.resolve_recipient("nobody@example.test").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        f.store.resolve_recipient("x@elsewhere.test").await,
        Err(StoreError::Invalid { what: "domain", .. })
    ));
    f.store
        .add_alias("@example.test", &["bob@example.test".into()])
        .await
        .unwrap();
    assert_eq!(
        f.store
            .resolve_recipient("nobody@example.test")
            .await
            .unwrap()
            .accounts,
        vec![b]
    );
    f.store
        .add_alias("loop1@example.test", &["loop2@example.test".into()])
        .await
        .unwrap();
    f.store
        .add_alias("loop2@example.test", &["loop1@example.test".into()])
        .await
        .unwrap();
    assert!(
        f.store
            .resolve_recipient("loop1@example.test")
            .await
            .is_err()
    );
    f.store.remove_alias("@example.test", None).await.unwrap();
    assert!(
        f.store
            .resolve_recipient("nobody@example.test")
            .await
            .is_err()
    );
    assert_eq!(f.store.aliases().await.unwrap().len(), 5);
}

#[tokio::test]
async fn the_change_feed_reports_committed_changes_in_order() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let other = account(&f.store, "o@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let mut feed = f.store.subscribe(a);
    append(&f.store, a, inbox, message(1)).await;
    append(
        &f.store,
        other,
        self::inbox(&f.store, other).await,
        message(2),
    )
    .await;
    f.store.remove_messages(a, inbox, &[1]).await.unwrap();
    let first = feed.recv().await.unwrap();
    assert!(matches!(first, Change::MessageAdded { uid: 1, .. }));
    let second = feed.recv().await.unwrap();
    assert!(
        matches!(second, Change::Expunged { ref uids, .. } if uids == &[1]),
        "{second:?}"
    );
    assert!(
        feed.try_recv().is_err(),
        "other accounts' changes are not seen"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    SqliteStore::open(dir.path()).unwrap().close();
    let conn = Connection::open(SqliteStore::database_path(dir.path())).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StoreError::SchemaTooNew { .. }));
    assert!(err.to_string().contains("newer"));
}

#[tokio::test]
async fn garbage_collection_leaves_fresh_and_referenced_blobs() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    append(&f.store, a, inbox(&f.store, a).await, message(1)).await;
    // An orphan as a crash before commit would leave it: young, so kept for now.
    let orphan = BlobDir::id_of(b"orphan");
    f.store.blobs.write(&orphan, b"orphan").unwrap();
    let report = f.store.collect_garbage().await.unwrap();
    assert_eq!(report.orphan_blobs, 0);
    assert_eq!(blob_files(&f.path), 2);
}

#[tokio::test]
async fn a_batch_keeps_order_skips_duplicates_and_isolates_failures() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let item = |n: usize, mailbox: MailboxId| AppendItem {
        raw: message(n),
        internal_date: 0,
        targets: vec![target(a, mailbox)],
        skip_duplicates: true,
    };
    let outcomes = f
        .store
        .append_batch(vec![
            item(1, inbox),
            item(2, MailboxId(999_999)),
            item(3, inbox),
        ])
        .await
        .unwrap();
    assert!(matches!(&outcomes[0], BatchOutcome::Stored(s) if s[0].uid == 1));
    assert!(matches!(
        &outcomes[1],
        BatchOutcome::Failed(StoreError::NotFound { .. })
    ));
    assert!(matches!(&outcomes[2], BatchOutcome::Stored(s) if s[0].uid == 2));
    let again = f
        .store
        .append_batch(vec![item(1, inbox), item(4, inbox)])
        .await
        .unwrap();
    assert!(matches!(again[0], BatchOutcome::Duplicate));
    assert!(matches!(&again[1], BatchOutcome::Stored(s) if s[0].uid == 3));
    assert_eq!(f.store.messages(a, inbox).await.unwrap().len(), 3);
}

fn envelope(recipients: &[&str], first_attempt: i64) -> NewQueued {
    NewQueued {
        sender: "a@example.test".into(),
        recipients: recipients.iter().map(|r| NewRecipient::plain(*r)).collect(),
        env_id: Some("env-1".into()),
        ret_full: false,
        first_attempt,
    }
}

#[tokio::test]
async fn queued_messages_survive_a_reopen_and_keep_per_recipient_state() {
    let f = fixture();
    let raw = message(1);
    let id = f
        .store
        .enqueue(
            raw.clone(),
            envelope(&["x@remote.test", "y@remote.test"], 100),
        )
        .await
        .unwrap();
    f.store.close();
    let store = SqliteStore::open(&f.path).unwrap();
    let queued = store.queued(id).await.unwrap().unwrap();
    assert_eq!(store.read_blob(&queued.blob).await.unwrap(), raw);
    assert_eq!(queued.sender, "a@example.test");
    assert_eq!(queued.env_id.as_deref(), Some("env-1"));
    assert_eq!(queued.recipients.len(), 2);
    assert!(
        queued
            .recipients
            .iter()
            .all(|r| r.state == RecipientState::Pending)
    );

    // Not due yet: nothing to claim. Due: both recipients, leased so a second claim gets none.
    assert!(store.queue_claim(99, 60, 10).await.unwrap().is_empty());
    let claimed = store.queue_claim(100, 60, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].recipients.len(), 2);
    assert!(store.queue_claim(100, 60, 10).await.unwrap().is_empty());

    store
        .queue_update(
            id,
            vec![
                RecipientUpdate {
                    address: "x@remote.test".into(),
                    state: RecipientState::Delivered,
                    next_attempt: 0,
                    last_reply: Some("250 ok".into()),
                },
                RecipientUpdate {
                    address: "y@remote.test".into(),
                    state: RecipientState::Pending,
                    next_attempt: 500,
                    last_reply: Some("451 later".into()),
                },
            ],
        )
        .await
        .unwrap();
    let queued = store.queued(id).await.unwrap().unwrap();
    let y = &queued.recipients[1];
    assert_eq!(
        (y.state, y.attempts, y.next_attempt),
        (RecipientState::Pending, 1, 500)
    );
    assert_eq!(queued.recipients[0].state, RecipientState::Delivered);

    // Retry now makes only the pending one due again.
    store.queue_retry_now(id, 200).await.unwrap();
    let claimed = store.queue_claim(200, 60, 10).await.unwrap();
    assert_eq!(claimed[0].recipients.len(), 1);
    assert_eq!(claimed[0].recipients[0].address, "y@remote.test");

    // Removing the message releases its blob.
    store.queue_remove(id).await.unwrap();
    assert!(store.queued(id).await.unwrap().is_none());
    assert_eq!(blob_files(&f.path), 0);
    assert!(matches!(
        store.queue_remove(id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.queue_retry_now(id, 0).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_queued_blob_shared_with_a_mailbox_outlives_either_reference() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let raw = message(7);
    let appended = append(&f.store, a, inbox, raw.clone()).await;
    let id = f
        .store
        .enqueue(raw.clone(), envelope(&["x@remote.test"], 0))
        .await
        .unwrap();
    f.store
        .remove_messages(a, inbox, &[appended.uid])
        .await
        .unwrap();
    let queued = f.store.queued(id).await.unwrap().unwrap();
    assert_eq!(f.store.read_blob(&queued.blob).await.unwrap(), raw);
    f.store.queue_remove(id).await.unwrap();
    assert_eq!(blob_files(&f.path), 0);
}

#[tokio::test]
async fn dkim_keys_are_per_domain_and_replaced() {
    let f = fixture();
    f.store.create_domain("example.test", None).await.unwrap();
    assert!(f.store.dkim_key("example.test").await.unwrap().is_none());
    let key = |selector: &str| DkimKey {
        domain: "example.test".into(),
        selector: selector.into(),
        algorithm: "rsa-sha256".into(),
        private_key_pem: "PEM".into(),
    };
    f.store.set_dkim_key(key("s1")).await.unwrap();
    f.store.set_dkim_key(key("s2")).await.unwrap();
    assert_eq!(
        f.store.dkim_key("EXAMPLE.test").await.unwrap(),
        Some(key("s2"))
    );
    assert!(
        f.store
            .set_dkim_key(DkimKey {
                domain: "nope.test".into(),
                ..key("s")
            })
            .await
            .is_err()
    );
    f.store.remove_domain("example.test").await.unwrap();
    f.store.create_domain("example.test", None).await.unwrap();
    assert!(f.store.dkim_key("example.test").await.unwrap().is_none());
}

fn text_query(field: SearchField, text: &str) -> TextSearch {
    TextSearch {
        field,
        text: text.into(),
    }
}

async fn find(store: &SqliteStore, account: AccountId, query: TextSearch) -> Vec<SearchHit> {
    store.search_text(account, None, &query, 100).await.unwrap()
}

#[tokio::test]
async fn text_search_finds_by_field_within_the_account_newest_first() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let (inbox_a, inbox_b) = (inbox(&f.store, a).await, inbox(&f.store, b).await);
    let sent_a = f.store.mailbox(a, "Sent").await.unwrap().unwrap().id;
    let raw = |from: &str, subject: &str, body: &str| {
        Bytes::from(format!(
            "From: {from}\r\nTo: Zed <zed@example.test>\r\nSubject: {subject}\r\n\r\n{body}\r\n"
        ))
    };
    let old = f
        .store
        .append(
            raw("ann@example.test", "Budget", "the quarterly numbers"),
            100,
            vec![target(a, inbox_a)],
        )
        .await
        .unwrap()[0];
    let new = f
        .store
        .append(
            raw("bob@example.test", "Lunch", "numbers? no: pizza 100%"),
            200,
            vec![target(a, sent_a)],
        )
        .await
        .unwrap()[0];
    append(
        &f.store,
        b,
        inbox_b,
        raw("ann@example.test", "Budget", "numbers for b"),
    )
    .await;

    // The same answers while the texts are pending (read directly) and once indexed.
    for indexed in [false, true] {
        if indexed {
            assert_eq!(f.store.index_pending_text().await.unwrap(), 3);
        }
        let hits = find(&f.store, a, text_query(SearchField::Body, "NUMBERS")).await;
        assert_eq!(
            hits,
            vec![
                SearchHit {
                    mailbox: sent_a,
                    uid: new.uid
                },
                SearchHit {
                    mailbox: inbox_a,
                    uid: old.uid
                }
            ],
            "both of a's, newest first, none of b's"
        );
        let hits = find(&f.store, a, text_query(SearchField::From, "ann@")).await;
        assert_eq!(
            hits,
            vec![SearchHit {
                mailbox: inbox_a,
                uid: old.uid
            }]
        );
        let hits = find(&f.store, a, text_query(SearchField::To, "zed")).await;
        assert_eq!(hits.len(), 2);
        let hits = find(&f.store, a, text_query(SearchField::Subject, "lun")).await;
        assert_eq!(
            hits,
            vec![SearchHit {
                mailbox: sent_a,
                uid: new.uid
            }]
        );
        // Every word must match; LIKE wildcards in the query are literal.
        assert!(
            find(&f.store, a, text_query(SearchField::Any, "quarterly pizza"))
                .await
                .is_empty()
        );
        assert_eq!(
            find(&f.store, a, text_query(SearchField::Any, "100%"))
                .await
                .len(),
            1
        );
        assert!(
            find(&f.store, a, text_query(SearchField::Any, "1_0"))
                .await
                .is_empty()
        );
        // Short words (under a trigram) still match.
        assert_eq!(
            find(&f.store, a, text_query(SearchField::Subject, "Lu"))
                .await
                .len(),
            1
        );
        // One mailbox only; another account's mailbox is refused.
        let hits = f
            .store
            .search_text(
                a,
                Some(inbox_a),
                &text_query(SearchField::Any, "numbers"),
                100,
            )
            .await
            .unwrap();
        assert_eq!(
            hits,
            vec![SearchHit {
                mailbox: inbox_a,
                uid: old.uid
            }]
        );
        assert!(
            f.store
                .search_text(
                    a,
                    Some(inbox_b),
                    &text_query(SearchField::Any, "numbers"),
                    100
                )
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn account_settings_are_per_account() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    assert_eq!(f.store.account_setting(a, "signature").await.unwrap(), None);
    f.store
        .set_account_setting(a, "signature", Some("-- A"))
        .await
        .unwrap();
    f.store
        .set_account_setting(a, "signature", Some("-- A2"))
        .await
        .unwrap();
    assert_eq!(
        f.store
            .account_setting(a, "signature")
            .await
            .unwrap()
            .as_deref(),
        Some("-- A2")
    );
    assert_eq!(f.store.account_setting(b, "signature").await.unwrap(), None);
    f.store
        .set_account_setting(a, "signature", None)
        .await
        .unwrap();
    assert_eq!(f.store.account_setting(a, "signature").await.unwrap(), None);
}

#[tokio::test]
async fn a_large_mailbox_is_listed_from_its_snapshot_and_the_changes_since() {
    use rusqlite::OptionalExtension;
    let f = fixture();
    let db = SqliteStore::database_path(&f.path);
    let a = account(&f.store, "a@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let item = |n| AppendItem {
        raw: message(n),
        internal_date: 1_700_000_000,
        targets: vec![target(a, inbox)],
        skip_duplicates: false,
    };
    f.store
        .append_batch((1..=2_100).map(item).collect())
        .await
        .unwrap();
    let rows = || async {
        let metas = f.store.messages(a, inbox).await.unwrap();
        metas
            .into_iter()
            .map(MessageState::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        f.store.message_states(a, inbox).await.unwrap(),
        rows().await
    );
    // That read leaves a snapshot, written in the background: wait for it (a minute at most,
    // so a missing one fails rather than hangs; no speed is asserted).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let snapshot = || -> Option<i64> {
        conn.query_row(
            "SELECT modseq FROM state_snapshots WHERE mailbox_id = ?1",
            [inbox.0],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
    };
    for _ in 0..6_000 {
        if snapshot().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(snapshot().is_some(), "no snapshot was written");
    // Changes after it: flags, an expunge, new messages.
    let add = |flags| FlagChange {
        op: FlagOp::Add,
        flags,
        keywords: vec!["$Later".into()],
        unchanged_since: None,
    };
    f.store
        .update_flags(a, inbox, &[5, 6, 7], add(Flags::SEEN))
        .await
        .unwrap();
    f.store
        .update_flags(a, inbox, &[5, 6], add(Flags::DELETED))
        .await
        .unwrap();
    f.store.expunge(a, inbox, None).await.unwrap();
    f.store
        .append_batch((2_101..=2_103).map(item).collect())
        .await
        .unwrap();
    let listed = f.store.message_states(a, inbox).await.unwrap();
    assert_eq!(listed, rows().await);
    assert_eq!(listed.len(), 2_101);
    // The snapshot is what was read: a row changed behind the store's back (no MODSEQ
    // raised) still lists as the snapshot has it...
    conn.execute(
        "UPDATE messages SET internal_date = 1 WHERE mailbox_id = ?1 AND uid = 1",
        [inbox.0],
    )
    .unwrap();
    let listed = f.store.message_states(a, inbox).await.unwrap();
    assert_eq!(listed[0].internal_date, 1_700_000_000);
    // ...and one that can't be decoded is passed over for the rows, and replaced: first one
    // older than the mailbox, then one of its current MODSEQ.
    let readable = || -> bool {
        let data: Vec<u8> = conn
            .query_row("SELECT data FROM state_snapshots", [], |r| r.get(0))
            .unwrap();
        data.len() > 2
    };
    for _ in 0..2 {
        conn.execute("UPDATE state_snapshots SET data = x'01ff'", [])
            .unwrap();
        let listed = f.store.message_states(a, inbox).await.unwrap();
        assert_eq!(listed[0].internal_date, 1);
        assert_eq!(listed, rows().await);
        for _ in 0..6_000 {
            if readable() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(readable(), "the unreadable snapshot stayed");
    }
}

/// Takes a store back from schema version 7 to 6, and from 6 to 5.
const UNDO_V8: &str = "ALTER TABLE mailboxes DROP COLUMN recent_uid;";
const UNDO_V7: &str = "DROP TABLE state_snapshots;";
const UNDO_V6: &str = "DROP TRIGGER mailbox_message_added; DROP TRIGGER mailbox_message_removed;
    DROP TRIGGER mailbox_message_flagged;
    ALTER TABLE mailboxes DROP COLUMN message_count; ALTER TABLE mailboxes DROP COLUMN unseen_count;
    ALTER TABLE mailboxes DROP COLUMN deleted_count; ALTER TABLE mailboxes DROP COLUMN bytes;";

/// Each mailbox's STATUS counts as the store's counters have them, and as counted again.
async fn counted_twice(store: &SqliteStore, db: &Path, a: AccountId) -> Vec<(String, [u64; 4])> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for mailbox in store.mailboxes(a).await.unwrap() {
        let status = store.mailbox_status(a, mailbox.id).await.unwrap();
        let kept = [status.messages, status.unseen, status.deleted, status.size];
        let counted: [i64; 4] = conn
            .query_row(
                "SELECT count(*), coalesce(sum((flags & 1) = 0), 0),
                        coalesce(sum((flags & 8) != 0), 0), coalesce(sum(size), 0)
                 FROM messages WHERE mailbox_id = ?1",
                [mailbox.id.0],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )
            .unwrap();
        assert_eq!(kept, counted.map(|n| n as u64), "{}", mailbox.name);
        out.push((mailbox.name, kept));
    }
    out
}

#[tokio::test]
async fn mailbox_counters_follow_every_change() {
    let f = fixture();
    let db = SqliteStore::database_path(&f.path);
    let a = account(&f.store, "a@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let other = f
        .store
        .create_mailbox(a, "Other", None, true)
        .await
        .unwrap()
        .id;
    for n in 1..=10 {
        append(&f.store, a, inbox, message(n)).await;
    }
    let seen = AppendTarget {
        flags: Flags::SEEN,
        ..target(a, inbox)
    };
    f.store
        .append(message(11), 1_700_000_000, vec![seen])
        .await
        .unwrap();
    let change = |op, flags| FlagChange {
        op,
        flags,
        keywords: vec!["$Work".into()],
        unchanged_since: None,
    };
    f.store
        .update_flags(a, inbox, &[1, 2, 3], change(FlagOp::Add, Flags::SEEN))
        .await
        .unwrap();
    f.store
        .update_flags(a, inbox, &[3, 4, 5], change(FlagOp::Add, Flags::DELETED))
        .await
        .unwrap();
    f.store
        .update_flags(a, inbox, &[2], change(FlagOp::Replace, Flags::NONE))
        .await
        .unwrap();
    f.store
        .update_flags(a, inbox, &[6], change(FlagOp::Remove, Flags::SEEN))
        .await
        .unwrap();
    let counts = counted_twice(&f.store, &db, a).await;
    let of = |name: &str| counts.iter().find(|(n, _)| n == name).unwrap().1;
    // UIDs 1 and 3 and 11 are seen; 3, 4 and 5 deleted.
    assert_eq!(of("INBOX")[..3], [11, 8, 3]);
    f.store
        .copy_messages(a, inbox, &[1, 4], other)
        .await
        .unwrap();
    f.store
        .move_messages(a, inbox, &[6, 7], other)
        .await
        .unwrap();
    f.store.expunge(a, inbox, None).await.unwrap();
    f.store.remove_messages(a, other, &[1]).await.unwrap();
    let counts = counted_twice(&f.store, &db, a).await;
    let of = |name: &str| counts.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(of("INBOX")[..3], [6, 4, 0]);
    assert_eq!(of("Other")[..3], [3, 3, 1]);
    f.store.delete_mailbox(a, "Other").await.unwrap();
    counted_twice(&f.store, &db, a).await;

    // A version 5 store counts its mailboxes when it is opened.
    f.store.close();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "{UNDO_V8} {UNDO_V7} {UNDO_V6} PRAGMA user_version = 5;"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&f.path).unwrap();
    let counts = counted_twice(&store, &db, a).await;
    assert_eq!(
        counts.iter().find(|(n, _)| n == "INBOX").unwrap().1[..3],
        [6, 4, 0]
    );
}

#[tokio::test]
async fn a_version_3_store_gets_its_text_reindexed_in_the_background() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let inbox_a = inbox(&f.store, a).await;
    append(&f.store, a, inbox_a, message(7)).await;
    f.store.close();
    drop(f.store);
    // Back to version 3, as a store written before pending indexing existed would be.
    let conn = rusqlite::Connection::open(SqliteStore::database_path(&f.path)).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER blob_text_removed; DROP TABLE blob_text; DROP TABLE text_pending;
         DROP INDEX messages_deleted;
         {UNDO_V8} {UNDO_V7} {UNDO_V6}
         CREATE VIRTUAL TABLE blob_text USING fts5(sender, recipients, subject, body,
             tokenize = 'trigram');
         CREATE TRIGGER blob_text_removed AFTER DELETE ON blobs BEGIN
             DELETE FROM blob_text WHERE rowid = OLD.id;
         END;
         PRAGMA user_version = 3;"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&f.path).unwrap();
    let query = text_query(SearchField::Body, "BODY 7");
    assert_eq!(
        store.search_text(a, None, &query, 10).await.unwrap().len(),
        1
    );
    store.index_text_in_background();
    // The writer indexes it when idle; wait for the pending list to empty (no time bound
    // is asserted: the loop ends when the work is done).
    let db = SqliteStore::database_path(&f.path);
    loop {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let pending: i64 = conn
            .query_row("SELECT count(*) FROM text_pending", [], |r| r.get(0))
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.index_pending_text().await.unwrap(), 0);
    assert_eq!(
        store.search_text(a, None, &query, 10).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_version_8_index_with_the_header_in_the_body_is_built_again() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let inbox_a = inbox(&f.store, a).await;
    append(&f.store, a, inbox_a, message(7)).await;
    f.store.index_pending_text().await.unwrap();
    f.store.close();
    drop(f.store);
    // Version 8 put the decoded Subject at the start of the body column.
    let db = SqliteStore::database_path(&f.path);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE blob_text SET body = 'zebracrossing ' || body; PRAGMA user_version = 8;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&f.path).unwrap();
    let body = |needle: &'static str| store.uids_containing(a, inbox_a, SearchField::Body, needle);
    // Pending again: read from the blob, then from the index built anew.
    assert!(body("zebracrossing").await.unwrap().is_empty());
    assert_eq!(body("body 7").await.unwrap(), vec![1]);
    assert_eq!(store.index_pending_text().await.unwrap(), 1);
    assert!(body("zebracrossing").await.unwrap().is_empty());
    assert_eq!(body("body 7").await.unwrap(), vec![1]);
}

#[tokio::test]
async fn imap_body_and_text_match_whole_substrings_ignoring_case() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let inbox_a = inbox(&f.store, a).await;
    let inbox_b = inbox(&f.store, b).await;
    let raw = |n: u32, header: &str, body: &str| {
        Bytes::from(format!(
            "From: a@example.test\r\nSubject: n{n}\r\n{header}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        ))
    };
    for (n, header, body) in [
        (1, "X-Tag: Alpha", "Grüße aus KÖLN"),
        (2, "X-Tag: beta", "köln, am rhein"),
        (3, "X-Tag: gamma", "nothing \"quoted\" here"),
    ] {
        append(&f.store, a, inbox_a, raw(n, header, body)).await;
    }
    append(&f.store, b, inbox_b, raw(9, "X-Tag: Alpha", "aus köln")).await;
    for indexed in [false, true] {
        if indexed {
            f.store.index_pending_text().await.unwrap();
        }
        let uids = |field, needle: &'static str| f.store.uids_containing(a, inbox_a, field, needle);
        assert_eq!(uids(SearchField::Body, "köln").await.unwrap(), vec![1, 2]);
        assert_eq!(uids(SearchField::Body, "aus köln").await.unwrap(), vec![1]);
        // The words must be adjacent, in order: a phrase, not a set of words.
        assert!(
            uids(SearchField::Body, "köln aus")
                .await
                .unwrap()
                .is_empty()
        );
        // TEXT looks at the header as well; BODY does not.
        assert_eq!(
            uids(SearchField::Text, "x-tag: alpha").await.unwrap(),
            vec![1]
        );
        assert!(uids(SearchField::Body, "x-tag").await.unwrap().is_empty());
        // Nor the decoded Subject or From (RFC 9051 §6.4.4: BODY is the body alone).
        assert!(uids(SearchField::Body, "n1").await.unwrap().is_empty());
        assert!(
            uids(SearchField::Body, "a@example")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(uids(SearchField::Text, "n1").await.unwrap(), vec![1]);
        assert!(
            uids(SearchField::Any, "subject n2")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(uids(SearchField::Any, "n2").await.unwrap(), vec![2]);
        assert_eq!(
            uids(SearchField::Text, "\"QUOTED\"").await.unwrap(),
            vec![3]
        );
        assert_eq!(uids(SearchField::Text, "ta").await.unwrap(), vec![1, 2, 3]);
        assert_eq!(uids(SearchField::Body, "").await.unwrap(), vec![1, 2, 3]);
        // Another account's mailbox is refused.
        assert!(
            f.store
                .uids_containing(a, inbox_b, SearchField::Body, "köln")
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn list_uids_pages_a_mailbox_in_each_order() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let inbox_a = inbox(&f.store, a).await;
    // (date, from, subject, body length) → UIDs 1, 2, 3
    for (date, from, subject, body) in [
        (300, "Carol", "apples", 10),
        (100, "alice", "Cherries", 30),
        (200, "Bob", "bananas", 20),
    ] {
        let raw = format!(
            "From: {from} <x@example.test>\r\nSubject: {subject}\r\n\r\n{}\r\n",
            "x".repeat(body)
        );
        f.store
            .append(Bytes::from(raw), date, vec![target(a, inbox_a)])
            .await
            .unwrap();
    }
    let list = |key, descending, offset, limit| {
        f.store
            .list_uids(a, inbox_a, ListOrder { key, descending }, offset, limit)
    };
    assert_eq!(
        list(ListKey::Date, true, 0, 50).await.unwrap(),
        vec![1, 3, 2]
    );
    assert_eq!(
        list(ListKey::Date, false, 0, 50).await.unwrap(),
        vec![2, 3, 1]
    );
    assert_eq!(list(ListKey::Date, true, 1, 1).await.unwrap(), vec![3]);
    assert_eq!(
        list(ListKey::Size, true, 0, 50).await.unwrap(),
        vec![2, 3, 1]
    );
    assert_eq!(
        list(ListKey::Subject, false, 0, 50).await.unwrap(),
        vec![1, 3, 2]
    );
    assert_eq!(
        list(ListKey::From, false, 0, 50).await.unwrap(),
        vec![2, 3, 1]
    );
    assert!(list(ListKey::Date, true, 5, 50).await.unwrap().is_empty());
    // Another account's mailbox is refused.
    assert!(
        f.store
            .list_uids(
                b,
                inbox_a,
                ListOrder {
                    key: ListKey::Date,
                    descending: true
                },
                0,
                50
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn save_date_is_set_anew_by_append_copy_and_move() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let trash = f.store.mailbox(a, "Trash").await.unwrap().unwrap().id;
    let before = now();
    append(&f.store, a, inbox, message(1)).await;
    append(&f.store, a, inbox, message(2)).await;
    let saved = f.store.messages(a, inbox).await.unwrap();
    assert!(
        saved
            .iter()
            .all(|m| m.save_date.is_some_and(|d| d >= before && d <= now())),
        "APPEND records when: {saved:?}"
    );
    // Back-date the originals, so a copy that kept their save date would show it.
    let conn = rusqlite::Connection::open(SqliteStore::database_path(&f.path)).unwrap();
    conn.execute("UPDATE messages SET save_date = 1000", [])
        .unwrap();
    drop(conn);
    f.store.copy_messages(a, inbox, &[1], trash).await.unwrap();
    f.store.move_messages(a, inbox, &[2], trash).await.unwrap();
    let left = f.store.messages(a, inbox).await.unwrap();
    assert_eq!(left[0].save_date, Some(1000), "the source keeps its own");
    let copies = f.store.messages(a, trash).await.unwrap();
    assert_eq!(copies.len(), 2);
    for copy in copies {
        // RFC 8514 §1: the save date is when the message entered *this* mailbox.
        assert!(copy.save_date.is_some_and(|d| d >= before), "{copy:?}");
    }
    let summaries = f.store.summaries(a, inbox, &[1]).await.unwrap();
    assert_eq!(summaries[0].meta.save_date, Some(1000));
}

#[tokio::test]
async fn append_all_stores_every_message_or_none() {
    let f = fixture();
    let a = account(&f.store, "u@example.test").await;
    f.store
        .set_account_quota("u@example.test", Some(3 * message(0).len() as u64))
        .await
        .unwrap();
    let inbox = inbox(&f.store, a).await;
    let item = |n: usize| AppendItem {
        raw: message(n),
        internal_date: 0,
        targets: vec![target(a, inbox)],
        skip_duplicates: false,
    };
    let stored = f.store.append_all(vec![item(1), item(2)]).await.unwrap();
    let uids: Vec<u32> = stored.iter().map(|s| s[0].uid).collect();
    assert_eq!(uids, [1, 2], "UIDs in item order");
    // Two more would take the account over quota: the first, which fits, is undone too.
    let refused = f.store.append_all(vec![item(3), item(4)]).await;
    assert!(refused.unwrap_err().is_over_quota());
    let missing = AppendItem {
        targets: vec![target(a, MailboxId(999_999))],
        ..item(5)
    };
    assert!(f.store.append_all(vec![item(6), missing]).await.is_err());
    assert_eq!(f.store.messages(a, inbox).await.unwrap().len(), 2);
    assert_eq!(
        f.store.quota(a).await.unwrap().account_used,
        2 * message(0).len() as u64
    );
    assert_eq!(
        f.store.append_all(vec![item(7)]).await.unwrap()[0][0].uid,
        3
    );
}

#[tokio::test]
async fn envelopes_are_those_of_the_summaries_for_dense_and_sparse_uids() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let b = account(&f.store, "b@example.test").await;
    let inbox_a = inbox(&f.store, a).await;
    for n in 1..=40 {
        append(&f.store, a, inbox_a, message(n)).await;
    }
    // Dense (one range scan) and sparse (a lookup per UID), with a UID that isn't there.
    for uids in [vec![3, 1, 2, 4, 99], vec![1, 40, 99]] {
        let envelopes = f.store.envelopes(a, inbox_a, &uids).await.unwrap();
        let summaries = f.store.summaries(a, inbox_a, &uids).await.unwrap();
        assert_eq!(envelopes.len(), uids.len() - 1);
        assert_eq!(envelopes.len(), summaries.len());
        for ((uid, envelope), summary) in envelopes.iter().zip(&summaries) {
            let envelope = envelope.decode().unwrap();
            assert_eq!(*uid, summary.meta.uid);
            assert_eq!(envelope, summary.summary.envelope);
            assert_eq!(
                envelope.subject.as_deref(),
                Some(format!("message {uid}").as_str())
            );
        }
    }
    assert!(f.store.envelopes(b, inbox_a, &[1]).await.is_err());
}

#[tokio::test]
async fn hostile_new_names_are_refused_but_stored_ones_stay_usable() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    for hostile in ["~bob", "..", "Other Users/b@example.test", "x\u{202e}txt"] {
        let created = f.store.create_mailbox(a, hostile, None, true).await;
        assert!(
            matches!(created, Err(StoreError::Invalid { .. })),
            "{hostile:?}: {created:?}"
        );
        let renamed = f.store.rename_mailbox(a, "INBOX", hostile).await;
        assert!(
            matches!(renamed, Err(StoreError::Invalid { .. })),
            "{hostile:?}: {renamed:?}"
        );
    }
    // Names stored before the rule (or imported): set behind the store's back.
    for good in ["One", "Two"] {
        f.store.create_mailbox(a, good, None, true).await.unwrap();
    }
    f.store.close();
    drop(f.store);
    let conn = rusqlite::Connection::open(SqliteStore::database_path(&f.path)).unwrap();
    conn.execute("UPDATE mailboxes SET name = '~bob' WHERE name = 'One'", [])
        .unwrap();
    conn.execute("UPDATE mailboxes SET name = '..' WHERE name = 'Two'", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&f.path).unwrap();
    let legacy = store.mailbox(a, "~bob").await.unwrap().expect("found");
    store.rename_mailbox(a, "~bob", "Bob's").await.unwrap();
    assert_eq!(
        store.mailbox(a, "Bob's").await.unwrap().map(|m| m.id),
        Some(legacy.id)
    );
    assert!(store.mailbox(a, "..").await.unwrap().is_some());
    store.delete_mailbox(a, "..").await.unwrap();
    assert!(store.mailbox(a, "..").await.unwrap().is_none());
}

#[tokio::test]
async fn each_new_message_is_recent_for_one_claim_only() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let inbox = inbox(&f.store, a).await;
    append(&f.store, a, inbox, message(1)).await;
    append(&f.store, a, inbox, message(2)).await;
    assert_eq!(f.store.mailbox_status(a, inbox).await.unwrap().recent, 2);
    let first = f.store.claim_recent(a, inbox).await.unwrap();
    assert_eq!(
        first,
        RecentClaim {
            after: 0,
            through: 2
        }
    );
    assert_eq!(f.store.mailbox_status(a, inbox).await.unwrap().recent, 0);
    let again = f.store.claim_recent(a, inbox).await.unwrap();
    assert_eq!(
        again,
        RecentClaim {
            after: 2,
            through: 2
        },
        "nothing left to claim"
    );
    append(&f.store, a, inbox, message(3)).await;
    let info = f.store.mailbox_by_id(a, inbox).await.unwrap();
    assert_eq!(info.recent_uid, 2);
    assert_eq!(f.store.mailbox_status(a, inbox).await.unwrap().recent, 1);
    let third = f.store.claim_recent(a, inbox).await.unwrap();
    assert_eq!(
        third,
        RecentClaim {
            after: 2,
            through: 3
        }
    );
    let b = account(&f.store, "b@example.test").await;
    assert!(
        f.store.claim_recent(b, inbox).await.is_err(),
        "not b's mailbox"
    );
}

#[tokio::test]
async fn parallel_claims_give_each_message_to_one_session() {
    let f = fixture();
    let a = account(&f.store, "a@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let mut claims = Vec::new();
    for n in 0..20 {
        append(&f.store, a, inbox, message(n)).await;
        let (s1, s2) = (Arc::clone(&f.store), Arc::clone(&f.store));
        let (c1, c2) = tokio::join!(
            tokio::spawn(async move { s1.claim_recent(a, inbox).await.unwrap() }),
            tokio::spawn(async move { s2.claim_recent(a, inbox).await.unwrap() }),
        );
        claims.push(c1.unwrap());
        claims.push(c2.unwrap());
    }
    let mut claimed: Vec<u32> = claims
        .iter()
        .flat_map(|c| c.after + 1..=c.through)
        .collect();
    claimed.sort_unstable();
    assert_eq!(
        claimed,
        (1..=20).collect::<Vec<u32>>(),
        "every UID exactly once"
    );
}

#[tokio::test]
async fn with_a_grace_period_an_expunged_message_stays_readable_until_it_ends() {
    let f = fixture();
    f.store
        .keep_unreferenced_blobs_for(Duration::from_millis(300));
    let a = account(&f.store, "a@example.test").await;
    let inbox = inbox(&f.store, a).await;
    let raw = message(1);
    append(&f.store, a, inbox, raw.clone()).await;
    let meta = f.store.message_states(a, inbox).await.unwrap();
    let summary = f.store.summaries(a, inbox, &[meta[0].uid]).await.unwrap();
    let blob = summary[0].meta.blob.clone();
    f.store
        .remove_messages(a, inbox, &[meta[0].uid])
        .await
        .unwrap();
    // A session that loaded the summary before the expunge still reads the content.
    assert_eq!(f.store.read_blob(&blob).await.unwrap(), raw);
    // Once the period is over the file goes; the wait ends when it has gone.
    while blob_files(&f.path) > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        f.store.read_blob(&blob).await,
        Err(StoreError::BlobMissing(_))
    ));
}
