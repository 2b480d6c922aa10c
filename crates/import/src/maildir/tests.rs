use std::time::Duration;

use super::*;

fn make_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
}

fn write_message(dir: &Path, relative: &str, contents: &[u8], mtime: u64) {
    let path = dir.join(relative);
    fs::write(&path, contents).unwrap();
    let file = File::options().write(true).open(&path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

fn messages(reader: MaildirReader) -> Vec<ImportedMessage> {
    reader
        .map(|item| match item.unwrap() {
            Item::Message(message) => message,
            Item::Skipped { source, reason } => panic!("{source} skipped: {reason}"),
        })
        .collect()
}

#[test]
fn reads_cur_and_new_in_delivery_order_with_flags_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    fs::write(
        dir.path().join("dovecot-keywords"),
        "0 $Forwarded\n1 Work\n",
    )
    .unwrap();
    write_message(
        dir.path(),
        "cur/1700000300.M3P1.host,S=20:2,RSab",
        b"Subject: third\n\nbody\n",
        1_700_000_301,
    );
    write_message(
        dir.path(),
        "cur/1700000100.M1P1.host:2,FS",
        b"Subject: first\r\n\r\nbody\r\n",
        1_700_000_101,
    );
    // Flags in new/ names are not trusted: new/ messages have none.
    write_message(
        dir.path(),
        "new/1700000200.M2P1.host:2,S",
        b"Subject: second\n\nbody\n",
        1_700_000_201,
    );
    write_message(
        dir.path(),
        "tmp/1700000000.M0P1.host",
        b"Subject: tmp\n\n",
        1,
    );
    write_message(dir.path(), "cur/.hidden", b"Subject: hidden\n\n", 1);

    let reader = MaildirReader::open(dir.path()).unwrap();
    assert_eq!(reader.len(), 3);
    assert!(!reader.is_empty());
    let messages = messages(reader);
    let subjects: Vec<&[u8]> = messages.iter().map(|m| &m.raw[..15]).collect();
    assert_eq!(
        subjects,
        [b"Subject: first\r", b"Subject: second", b"Subject: third\r"]
    );

    assert_eq!(messages[0].source, "cur/1700000100.M1P1.host:2,FS");
    assert_eq!(
        messages[0].flags,
        Flags {
            seen: true,
            flagged: true,
            ..Flags::default()
        }
    );
    assert_eq!(messages[0].internal_date, Some(1_700_000_101));
    assert_eq!(messages[0].raw, b"Subject: first\r\n\r\nbody\r\n");

    assert_eq!(messages[1].source, "new/1700000200.M2P1.host:2,S");
    assert_eq!(messages[1].flags, Flags::default());
    assert_eq!(messages[1].internal_date, Some(1_700_000_201));

    assert_eq!(
        messages[2].flags,
        Flags {
            seen: true,
            answered: true,
            ..Flags::default()
        }
    );
    assert_eq!(messages[2].keywords, ["$Forwarded", "Work"]);
    assert_eq!(messages[2].raw, b"Subject: third\r\n\r\nbody\r\n");
}

#[test]
fn same_timestamp_sorts_by_name() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    write_message(dir.path(), "cur/5.b:2,", b"Subject: b\n\n", 1);
    write_message(dir.path(), "cur/5.a:2,", b"Subject: a\n\n", 1);
    write_message(dir.path(), "new/40.z", b"Subject: z\n\n", 1);
    let sources: Vec<String> = messages(MaildirReader::open(dir.path()).unwrap())
        .into_iter()
        .map(|m| m.source)
        .collect();
    assert_eq!(sources, ["cur/5.a:2,", "cur/5.b:2,", "new/40.z"]);
}

#[test]
fn skips_with_reasons_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    write_message(dir.path(), "cur/1.empty:2,S", b"  \n\n", 1);
    write_message(dir.path(), "cur/2.big:2,S", &vec![b'x'; 2000], 1);
    write_message(
        dir.path(),
        "cur/3.text:2,S",
        b"no header here\nnor a blank line\n",
        1,
    );
    write_message(dir.path(), "cur/4.gone:2,S", b"Subject: gone\n\n", 1);
    // A directory reached through a symlink is listed but can't be read as a file.
    std::os::unix::fs::symlink(dir.path().join("tmp"), dir.path().join("cur/5.dir:2,S")).unwrap();
    write_message(dir.path(), "cur/6.fine:2,S", b"Subject: fine\n\nok\n", 1);

    let reader = MaildirReader::open(dir.path()).unwrap().with_max_size(1000);
    fs::remove_file(dir.path().join("cur/4.gone:2,S")).unwrap();
    let items: Vec<Item> = reader.map(Result::unwrap).collect();
    let outcome: Vec<(String, String)> = items
        .iter()
        .map(|item| match item {
            Item::Skipped { source, reason } => (source.clone(), reason.clone()),
            Item::Message(m) => (m.source.clone(), "stored".to_owned()),
        })
        .collect();
    assert_eq!(
        outcome[0],
        ("cur/1.empty:2,S".into(), "empty message".into())
    );
    assert_eq!(
        outcome[1],
        (
            "cur/2.big:2,S".into(),
            "message of 2000 bytes is larger than the limit of 1000 bytes".into()
        )
    );
    assert!(outcome[2].1.starts_with("not a message"), "{outcome:?}");
    assert_eq!(
        outcome[3],
        (
            "cur/4.gone:2,S".into(),
            "file vanished before it could be read".into()
        )
    );
    assert_eq!(outcome[4].1, "cannot read file: not a regular file");
    assert_eq!(outcome[5], ("cur/6.fine:2,S".into(), "stored".into()));
    assert_eq!(outcome.len(), 6);
}

#[test]
fn folder_without_new_is_still_a_maildir() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("cur")).unwrap();
    write_message(dir.path(), "cur/1.x:2,", b"Subject: x\n\n", 1);
    assert_eq!(messages(MaildirReader::open(dir.path()).unwrap()).len(), 1);
}

#[test]
fn empty_maildir_and_non_maildir() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        MaildirReader::open(dir.path()),
        Err(ImportError::NotMaildir(_))
    ));
    make_maildir(dir.path());
    let reader = MaildirReader::open(dir.path()).unwrap();
    assert!(reader.is_empty());
    assert_eq!(reader.count(), 0);
}

#[test]
fn unix_seconds_before_and_after_epoch() {
    assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(5)), Some(5));
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), Some(-5));
}
