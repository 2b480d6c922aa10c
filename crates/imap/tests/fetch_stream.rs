//! Bodies larger than the stream buffer go out straight from the blob (issue 13): what the
//! client gets is exactly the stored bytes, whole, cut by a partial fetch, or one part.

mod common;

use common::Client;

/// Lines in the large part: more than the 1 MiB a message may have to be read whole.
const LINES: usize = 30_000;

/// A multipart message of about 1.2 MB with a large text part.
fn large_message() -> Vec<u8> {
    let mut raw = b"From: a@example.test\r\nSubject: large\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        .to_vec();
    for i in 0..LINES {
        raw.extend_from_slice(format!("line {i:05} of a large part, to stream\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n--b--\r\n");
    raw
}

fn literal_of(line: &[u8], item: &str) -> Vec<u8> {
    let at = line
        .windows(item.len())
        .position(|w| w == item.as_bytes())
        .expect("the item");
    let rest = &line[at + item.len()..];
    let open = rest.iter().position(|&b| b == b'{').expect("a literal");
    let close = rest.iter().position(|&b| b == b'}').expect("a literal");
    let length: usize = std::str::from_utf8(&rest[open + 1..close])
        .unwrap()
        .parse()
        .unwrap();
    rest[close + 3..close + 3 + length].to_vec()
}

#[tokio::test]
async fn large_bodies_stream_exactly() {
    let (addr, _dir, store) = common::server().await;
    let raw = large_message();
    common::deliver_to_inbox(&store, raw.clone()).await;
    let mut client = Client::login(addr).await;
    client.expect("OK", "SELECT INBOX").await;
    let fetch = |lines: Vec<Vec<u8>>| {
        assert!(lines.last().unwrap().windows(4).any(|w| w == b" OK "));
        lines
            .into_iter()
            .find(|l| l.starts_with(b"* 1 FETCH"))
            .unwrap()
    };
    // Two items: the streamed literal is followed by more of the same response.
    let line = fetch(client.command_bytes("FETCH 1 (BODY.PEEK[] UID)").await);
    assert_eq!(literal_of(&line, "BODY[]"), raw);
    assert!(
        line.ends_with(b" UID 1)"),
        "{:?}",
        String::from_utf8_lossy(&line[line.len() - 20..])
    );
    let line = fetch(
        client
            .command_bytes("FETCH 1 (BODY.PEEK[]<100000.150000>)")
            .await,
    );
    assert_eq!(literal_of(&line, "BODY[]<100000>"), &raw[100_000..250_000]);
    let line = fetch(
        client
            .command_bytes("FETCH 1 (BODY.PEEK[1] BODY.PEEK[HEADER])")
            .await,
    );
    let part = literal_of(&line, "BODY[1]");
    let line_length = "line 00000 of a large part, to stream\r\n".len();
    assert_eq!(
        part.len(),
        LINES * line_length,
        "the part, without the line break that belongs to the boundary"
    );
    assert!(part.starts_with(b"line 00000 of a large part"));
    let header = literal_of(&line, "BODY[HEADER]");
    assert!(header.starts_with(b"From: a@example.test\r\n") && header.ends_with(b"\r\n\r\n"));
    // The session goes on.
    client.expect("OK", "NOOP").await;
}
