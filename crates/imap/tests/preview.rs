//! PREVIEW (RFC 8970) as a client sees it: advertised, and `PREVIEW "text"` from the preview the
//! store keeps, with or without LAZY, beside other items.

mod common;

use common::Client;

#[tokio::test]
async fn preview_gives_the_start_of_the_text() {
    let (addr, _dir, store) = common::server().await;
    let raw = "From: a@example.test\r\nSubject: lunch\r\nContent-Type: text/plain\r\n\r\n\
               Shall we meet\r\nat noon   on \"Friday\"?\r\n";
    common::deliver_to_inbox(&store, raw).await;
    let mut client = Client::login(addr).await;
    let capability = client.expect("OK", "CAPABILITY").await;
    assert!(
        capability[0].split(' ').any(|c| c == "PREVIEW"),
        "{capability:?}"
    );
    client.expect("OK", "SELECT INBOX").await;
    let lines = client.expect("OK", "FETCH 1 (UID PREVIEW)").await;
    assert_eq!(
        lines,
        ["* 1 FETCH (UID 1 PREVIEW \"Shall we meet at noon on \\\"Friday\\\"?\")"]
    );
    // LAZY changes nothing here: the preview is always ready (RFC 8970 §3.1).
    let lazy = client
        .expect("OK", "UID FETCH 1 (FLAGS PREVIEW (LAZY))")
        .await;
    assert!(
        lazy[0].ends_with("PREVIEW \"Shall we meet at noon on \\\"Friday\\\"?\")"),
        "{lazy:?}"
    );
    client.expect("BAD", "FETCH 1 (PREVIEW (EAGER))").await;
}
