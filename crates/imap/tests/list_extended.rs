//! LIST-EXTENDED (RFC 5258) and LSUB (RFC 3501 §6.3.9) as a client sees them on the wire:
//! what an outside conformance run found (issue 13, items 6 and 8).

mod common;

use common::Client;

/// The names in `* LIST`/`* LSUB` lines, with their attributes, in the order sent.
fn listed(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with("* LIST ") || l.starts_with("* LSUB "))
        .map(|l| l[2..].to_owned())
        .collect()
}

async fn create_all(client: &mut Client, names: &[&str]) {
    for name in names {
        client.expect("OK", &format!("CREATE {name}")).await;
    }
}

#[tokio::test]
async fn several_patterns_in_one_list_are_answered_as_one_union() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    create_all(&mut client, &["a/test1", "a/test2", "a/test3", "a/test2/x"]).await;
    let lines = client.expect("OK", "LIST \"\" (a/*2 a/test3)").await;
    assert_eq!(
        listed(&lines),
        [
            "LIST (\\HasChildren) \"/\" a/test2",
            "LIST (\\HasNoChildren) \"/\" a/test3",
        ]
    );
    // A name that two patterns match is listed once.
    let lines = client.expect("OK", "LIST \"\" (a/test1 \"a/test*\")").await;
    let names = listed(&lines);
    assert_eq!(names.len(), 4, "{names:?}");
}

#[tokio::test]
async fn recursivematch_needs_a_selection_option_it_can_modify() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    // RFC 5258 §3: alone, or with only REMOTE, RECURSIVEMATCH is BAD.
    client
        .expect("BAD", "LIST (RECURSIVEMATCH) \"\" \"\"")
        .await;
    client
        .expect("BAD", "LIST (RECURSIVEMATCH REMOTE) \"\" \"\"")
        .await;
    client.expect("BAD", "LIST (imaptest) \"\" \"\"").await;
    client
        .expect("BAD", "LIST \"\" \"\" RETURN (imaptest)")
        .await;
    client.expect("BAD", "LIST \"\" ()").await;
    // REMOTE alone is fine: there are no remote mailboxes to add (RFC 5258 §3.1).
    let lines = client.expect("OK", "LIST (REMOTE) \"\" INBOX").await;
    assert_eq!(listed(&lines), ["LIST (\\HasNoChildren) \"/\" INBOX"]);
}

#[tokio::test]
async fn recursivematch_reports_parents_of_subscribed_names_with_childinfo() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    create_all(&mut client, &["t/p/q/r", "t/s"]).await;
    client.expect("OK", "SUBSCRIBE t/p/q/r").await;
    client.expect("OK", "SUBSCRIBE t/s").await;
    // RFC 5258 §3 and its example 5.7: `t/p` is not subscribed (CREATE does not subscribe,
    // nor the parents it makes) but has a subscribed descendant the pattern does not reach.
    let lines = client
        .expect("OK", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" t/%")
        .await;
    assert_eq!(
        listed(&lines),
        [
            "LIST (\\HasChildren) \"/\" t/p (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "LIST (\\Subscribed \\HasNoChildren) \"/\" t/s",
        ]
    );
    // Without RECURSIVEMATCH only the subscribed names themselves.
    let lines = client.expect("OK", "LIST (SUBSCRIBED) \"\" t/%").await;
    assert_eq!(
        listed(&lines),
        ["LIST (\\Subscribed \\HasNoChildren) \"/\" t/s"]
    );
    // `*` reaches t/p/q/r itself: no parent is added.
    let lines = client
        .expect("OK", "LIST (SUBSCRIBED RECURSIVEMATCH) \"\" t/*")
        .await;
    assert_eq!(
        listed(&lines),
        [
            "LIST (\\Subscribed \\HasNoChildren) \"/\" t/p/q/r",
            "LIST (\\Subscribed \\HasNoChildren) \"/\" t/s",
        ]
    );
}

#[tokio::test]
async fn a_pattern_that_is_not_modified_utf7_matches_nothing() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    let lines = client.expect("OK", "LIST \"\" \"&'\"").await;
    assert!(listed(&lines).is_empty(), "{lines:?}");
    let lines = client.expect("OK", "LSUB \"\" \"a&'*\"").await;
    assert!(listed(&lines).is_empty(), "{lines:?}");
}

#[tokio::test]
async fn a_run_of_bad_list_commands_leaves_the_session_open() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    // The sequence during which the outside suite saw its session dropped.
    for _ in 0..5 {
        client.expect("OK", "LIST \"\" (a/*2 a/test3)").await;
        client.expect("BAD", "LIST (imaptest) \"\" \"\"").await;
        client
            .expect("BAD", "LIST (RECURSIVEMATCH) \"\" \"\"")
            .await;
        client
            .expect("BAD", "LIST (RECURSIVEMATCH REMOTE) \"\" \"\"")
            .await;
        client
            .expect("BAD", "LIST \"\" \"\" RETURN (imaptest)")
            .await;
    }
    client.expect("OK", "NOOP").await;
}

#[tokio::test]
async fn list_takes_literals_and_returns_status() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    create_all(&mut client, &["Work"]).await;
    client.send(b"l1 LIST {0}\r\n").await;
    let go = client.line().await;
    assert!(go.starts_with("+"), "{go}");
    client
        .send(b" {4}\r\nWork RETURN (STATUS (MESSAGES UIDNEXT))\r\n")
        .await;
    let go = client.line().await;
    assert!(go.starts_with("+"), "{go}");
    let lines = client.until_tagged("l1").await;
    assert_eq!(
        lines,
        [
            "* LIST (\\HasNoChildren) \"/\" Work",
            "* STATUS Work (MESSAGES 0 UIDNEXT 1)",
            "l1 OK LIST completed",
        ]
    );
}

#[tokio::test]
async fn lsub_shows_unsubscribed_parents_of_subscribed_names_as_noselect() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    create_all(&mut client, &["a/test1", "a/test2/test", "a/test3/test3"]).await;
    client.expect("OK", "SUBSCRIBE a/test1").await;
    client.expect("OK", "SUBSCRIBE a/test2/test").await;
    client.expect("OK", "SUBSCRIBE a/test3/test3").await;
    // RFC 3501 §6.3.9: `%` stops at a/test2, which is not subscribed but has a subscribed
    // child; it is listed with \Noselect.
    let lines = client.expect("OK", "LSUB \"\" a/%").await;
    assert_eq!(
        listed(&lines),
        [
            "LSUB () \"/\" a/test1",
            "LSUB (\\Noselect) \"/\" a/test2",
            "LSUB (\\Noselect) \"/\" a/test3",
        ]
    );
    client.expect("OK", "UNSUBSCRIBE a/test3/test3").await;
    let lines = client.expect("OK", "LSUB \"\" a/%").await;
    assert_eq!(
        listed(&lines),
        ["LSUB () \"/\" a/test1", "LSUB (\\Noselect) \"/\" a/test2"]
    );
    // `*` reaches the subscribed names themselves; their parents are not added.
    let lines = client.expect("OK", "LSUB \"\" a/*").await;
    assert_eq!(
        listed(&lines),
        ["LSUB () \"/\" a/test1", "LSUB () \"/\" a/test2/test"]
    );
}
