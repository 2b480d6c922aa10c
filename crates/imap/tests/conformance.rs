//! What an outside conformance run found (issue 13), each as a client sees it on the wire:
//! keywords announced before use, reading a message another session expunged, MOVE to the
//! mailbox itself, and `\Recent` for IMAP4rev1 sessions.

mod common;

use bytes::Bytes;
use common::Client;
use tern_store::{AppendTarget, Flags, SqliteStore, Store};

async fn deliver(store: &SqliteStore, n: usize, keywords: &[&str]) {
    let (account, inbox) = common::account_and_inbox(store).await;
    let raw = Bytes::from(format!("Subject: m{n}\r\n\r\nbody {n}\r\n"));
    let target = AppendTarget {
        account: account.id,
        mailbox: inbox.id,
        flags: Flags::NONE,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
    };
    let delivered = store
        .deliver(raw, 1_700_000_000, vec![target])
        .await
        .unwrap();
    assert!(delivered[0].is_ok());
}

/// The keywords of the last `* FLAGS (...)` line, lower-cased.
fn flags_announced(lines: &[String], announced: &mut Vec<String>) {
    for line in lines {
        if let Some(list) = line.strip_prefix("* FLAGS (") {
            *announced = list
                .trim_end_matches(')')
                .split(' ')
                .filter(|f| !f.starts_with('\\'))
                .map(str::to_ascii_lowercase)
                .collect();
        }
    }
}

/// Every keyword a FETCH shows was in a FLAGS response before it (RFC 9051 §7.3.5).
fn assert_keywords_announced(lines: &[String], announced: &mut Vec<String>) {
    for line in lines {
        flags_announced(std::slice::from_ref(line), announced);
        let Some(at) = line.find("FLAGS (").filter(|_| line.contains(" FETCH (")) else {
            continue;
        };
        let list = &line[at + 7..];
        let list = &list[..list.find(')').unwrap()];
        for keyword in list
            .split(' ')
            .filter(|f| !f.is_empty() && !f.starts_with('\\'))
        {
            assert!(
                announced.contains(&keyword.to_ascii_lowercase()),
                "{keyword} shown before FLAGS announced it: {line:?} in {lines:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keywords_are_announced_before_any_fetch_shows_them() {
    let (addr, _dir, store) = common::server().await;
    deliver(&store, 1, &[]).await;
    let mut a = Client::login(addr).await;
    let mut b = Client::login(addr).await;
    let mut announced = Vec::new();
    assert_keywords_announced(&a.command("SELECT INBOX").await, &mut announced);
    b.command("SELECT INBOX").await;

    // Another session's STORE: seen at A's next sync.
    b.command("STORE 1 +FLAGS ($Kw1)").await;
    let noop = a.command("NOOP").await;
    assert!(
        noop.iter()
            .any(|l| l.starts_with("* FLAGS (") && l.contains("$Kw1")),
        "{noop:?}"
    );
    assert_keywords_announced(&noop, &mut announced);

    // This session's own STORE, even .SILENT, and a keyword literally named NIL.
    let silent = a.command("STORE 1 +FLAGS.SILENT (NIL)").await;
    assert_keywords_announced(&silent, &mut announced);
    assert_keywords_announced(&a.command("FETCH 1 FLAGS").await, &mut announced);
    assert!(announced.contains(&"nil".to_string()), "{silent:?}");

    // A delivery carrying a keyword, and a COPY in from another mailbox.
    deliver(&store, 2, &["$Delivered"]).await;
    b.command("CREATE Other").await;
    b.command("SELECT Other").await;
    b.command("APPEND Other ($Copied) {14}\r\nSubject: x\r\n\r\n")
        .await;
    b.command("COPY 1 INBOX").await;
    let lines = [a.command("NOOP").await, a.command("FETCH 1:* FLAGS").await].concat();
    assert_keywords_announced(&lines, &mut announced);
    for keyword in ["$delivered", "$copied"] {
        assert!(announced.contains(&keyword.to_string()), "{lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_another_session_expunged_is_answered_expungeissued_until_reported() {
    let (addr, _dir, store) = common::server().await;
    // The server keeps content a while after its last reference (common::server), so a
    // FETCH that read a summary just before the expunge still finds the content (the store's
    // tests check that part); here the summary itself is gone.
    deliver(&store, 1, &[]).await;
    deliver(&store, 2, &[]).await;
    let mut a = Client::login(addr).await;
    let mut b = Client::login(addr).await;
    a.command("SELECT INBOX").await;
    b.command("SELECT INBOX").await;
    b.command("STORE 1 +FLAGS (\\Deleted)").await;
    b.command("EXPUNGE").await;
    for items in [
        "BODY.PEEK[]",
        "RFC822.SIZE BODY.PEEK[HEADER]",
        "BODYSTRUCTURE",
        "ENVELOPE",
    ] {
        let fetch = a.command(&format!("FETCH 1:2 ({items})")).await;
        assert!(
            fetch.iter().any(|l| l.starts_with("* 2 FETCH")),
            "the other message is still sent: {fetch:?}"
        );
        // RFC 9051 §7.5.1: A may not be told of the expunge during FETCH; RFC 2180 §4.1.2,
        // RFC 5530 §3: the FETCH ends NO [EXPUNGEISSUED], never SERVERBUG.
        let tagged = fetch.last().unwrap();
        assert!(tagged.contains("NO [EXPUNGEISSUED]"), "{items}: {fetch:?}");
    }
    let noop = a.command("NOOP").await;
    assert!(noop.contains(&"* 1 EXPUNGE".to_string()), "{noop:?}");
    let fetch = a.command("FETCH 1 BODY.PEEK[TEXT]").await;
    assert_eq!(fetch[0], "* 1 FETCH (BODY[TEXT] {8}\r\nbody 2\r\n)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_and_copy_to_the_mailbox_itself_give_new_uids() {
    let (addr, _dir, store) = common::server().await;
    deliver(&store, 1, &[]).await;
    deliver(&store, 2, &[]).await;
    let mut a = Client::login(addr).await;
    let select = a.command("SELECT INBOX").await;
    let validity = select
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .to_string();
    let copy = a.command("COPY 1 INBOX").await;
    assert!(
        copy.last()
            .unwrap()
            .contains(&format!("OK [COPYUID {validity} 1 3]")),
        "{copy:?}"
    );
    let moved = a.command("UID MOVE 2 INBOX").await;
    assert!(
        moved.contains(&format!("* OK [COPYUID {validity} 2 4] Moved")),
        "{moved:?}"
    );
    assert!(moved.contains(&"* 2 EXPUNGE".to_string()), "{moved:?}");
    assert!(moved.last().unwrap().contains("OK"), "{moved:?}");
    let uids = a.command("UID FETCH 1:* UID").await;
    let listed: Vec<&String> = uids.iter().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(
        listed,
        [
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 3)",
            "* 3 FETCH (UID 4)"
        ],
        "{uids:?}"
    );
}

fn recent_count(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("* ")?.strip_suffix(" RECENT"))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_goes_to_the_first_imap4rev1_session_only() {
    let (addr, _dir, store) = common::server().await;
    deliver(&store, 1, &[]).await;
    deliver(&store, 2, &[]).await;
    let mut other = Client::login(addr).await;
    let status = other.command("STATUS INBOX (RECENT MESSAGES)").await;
    assert!(status[0].contains("RECENT 2"), "{status:?}");

    // EXAMINE looks without claiming (RFC 3501 §6.3.2).
    let mut looker = Client::login(addr).await;
    assert_eq!(
        recent_count(&looker.command("EXAMINE INBOX").await).as_deref(),
        Some("2")
    );
    let flags = looker.command("FETCH 1 FLAGS").await;
    assert_eq!(flags[0], "* 1 FETCH (FLAGS (\\Recent))");

    // An IMAP4rev2 session has no \Recent and takes nothing from the others.
    let mut rev2 = Client::login(addr).await;
    rev2.command("ENABLE IMAP4rev2").await;
    let select = rev2.command("SELECT INBOX").await;
    assert_eq!(recent_count(&select), None, "{select:?}");

    let mut first = Client::login(addr).await;
    let select = first.command("SELECT INBOX").await;
    assert_eq!(recent_count(&select).as_deref(), Some("2"), "{select:?}");
    assert_eq!(
        first.command("FETCH 2 FLAGS").await[0],
        "* 2 FETCH (FLAGS (\\Recent))"
    );
    let mut second = Client::login(addr).await;
    assert_eq!(
        recent_count(&second.command("SELECT INBOX").await).as_deref(),
        Some("0")
    );
    assert_eq!(
        second.command("FETCH 2 FLAGS").await[0],
        "* 2 FETCH (FLAGS ())"
    );
    let status = other.command("STATUS INBOX (RECENT)").await;
    assert!(status[0].contains("RECENT 0"), "{status:?}");

    // A new message is recent for the first of the selected sessions to sync.
    deliver(&store, 3, &[]).await;
    let noop = first.command("NOOP").await;
    assert!(noop.contains(&"* 3 EXISTS".to_string()), "{noop:?}");
    assert_eq!(recent_count(&noop).as_deref(), Some("3"), "{noop:?}");
    let noop = second.command("NOOP").await;
    assert_eq!(recent_count(&noop).as_deref(), Some("0"), "{noop:?}");
    first.command("STORE 1 +FLAGS (\\Seen)").await;
    let search = first.command("SEARCH NEW").await;
    assert_eq!(search[0], "* SEARCH 2 3");
    assert_eq!(first.command("SEARCH RECENT").await[0], "* SEARCH 1 2 3");
    assert_eq!(second.command("SEARCH RECENT").await[0], "* SEARCH");
    assert_eq!(second.command("SEARCH OLD").await[0], "* SEARCH 1 2 3");
}

/// The first line of the answer to `SEARCH criteria`.
async fn first_line(client: &mut Client, criteria: &str) -> String {
    client
        .command(&format!("SEARCH {criteria}"))
        .await
        .remove(0)
}

/// Appends `raw` to INBOX with a non-synchronizing literal (RFC 7888).
async fn append_raw(client: &mut Client, raw: &str) {
    let command = format!("a APPEND INBOX {{{}+}}\r\n{raw}\r\n", raw.len());
    client.send(command.as_bytes()).await;
    let answer = client.until_tagged("a").await;
    assert!(answer.last().unwrap().starts_with("a OK"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_dates_are_the_written_day_and_body_is_the_body_alone() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    append_raw(
        &mut client,
        "From: Zed <zed@example.test>\r\nSubject: zebracrossing\r\n\
         Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nhello there\r\n",
    )
    .await;
    client.command("SELECT INBOX").await;
    // RFC 9051 §6.4.4: SENT* compare the Date header's day, disregarding time and zone: this
    // message was sent on the 7th (it is the 8th in UTC).
    assert_eq!(
        first_line(&mut client, "SENTON 7-Feb-1994").await,
        "* SEARCH 1"
    );
    assert_eq!(
        first_line(&mut client, "SENTON 8-Feb-1994").await,
        "* SEARCH"
    );
    assert_eq!(
        first_line(&mut client, "SENTBEFORE 8-Feb-1994").await,
        "* SEARCH 1"
    );
    assert_eq!(
        first_line(&mut client, "SENTSINCE 8-Feb-1994").await,
        "* SEARCH"
    );
    // BODY is the body alone; TEXT is header and body.
    assert_eq!(
        first_line(&mut client, "BODY zebracrossing").await,
        "* SEARCH"
    );
    assert_eq!(first_line(&mut client, "BODY zed").await, "* SEARCH");
    assert_eq!(
        first_line(&mut client, "BODY \"hello there\"").await,
        "* SEARCH 1"
    );
    assert_eq!(
        first_line(&mut client, "TEXT zebracrossing").await,
        "* SEARCH 1"
    );
    assert_eq!(
        first_line(&mut client, "TEXT \"hello there\"").await,
        "* SEARCH 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_condstore_command_reports_highestmodseq_and_esearch_the_returned_modseq() {
    let (addr, _dir, store) = common::server().await;
    for n in 1..=3 {
        deliver(&store, n, &[]).await;
    }
    let mut client = Client::login(addr).await;
    client.command("ENABLE IMAP4rev2").await;
    let select = client.command("SELECT INBOX").await;
    let highest = select
        .iter()
        .find_map(|l| l.strip_prefix("* OK [HIGHESTMODSEQ "))
        .and_then(|rest| rest.split(']').next())
        .expect("HIGHESTMODSEQ at SELECT")
        .to_string();
    // Make message 2 the most recently changed, message 3 the next.
    client.command("STORE 3 +FLAGS (\\Seen)").await;
    client.command("STORE 2 +FLAGS (\\Seen)").await;
    client.command("NOOP").await;

    // RFC 7162 §3.1: the first CONDSTORE-enabling command reports HIGHESTMODSEQ, once.
    let fetch = client.command("FETCH 1 (MODSEQ)").await;
    let reported = fetch
        .iter()
        .filter(|l| l.starts_with("* OK [HIGHESTMODSEQ "))
        .count();
    assert_eq!(reported, 1, "{fetch:?} (SELECT said {highest})");
    let modseq_of = |lines: &[String], seq: u32| -> u64 {
        let prefix = format!("* {seq} FETCH (MODSEQ (");
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(')').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("MODSEQ of {seq} in {lines:?}"))
    };
    let all = client.command("FETCH 1:3 (MODSEQ)").await;
    assert!(!all.iter().any(|l| l.contains("HIGHESTMODSEQ")), "{all:?}");
    let [m1, m2, m3] = [1, 2, 3].map(|seq| modseq_of(&all, seq));
    assert!(m2 > m3 && m3 > m1, "{all:?}");

    // RFC 7162 §3.1.5: MIN alone reports the MODSEQ of the message it returns.
    let min = client
        .command("SEARCH RETURN (MIN) MODSEQ 1")
        .await
        .remove(0);
    assert!(min.ends_with(&format!(" MIN 1 MODSEQ {m1}")), "{min}");
    let max = client
        .command("SEARCH RETURN (MAX) MODSEQ 1")
        .await
        .remove(0);
    assert!(max.ends_with(&format!(" MAX 3 MODSEQ {m3}")), "{max}");
    let count = client
        .command("SEARCH RETURN (COUNT) MODSEQ 1")
        .await
        .remove(0);
    assert!(count.ends_with(&format!(" COUNT 3 MODSEQ {m2}")), "{count}");
}
