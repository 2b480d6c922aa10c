//! A binary message (RFC 3516: APPEND with a `~{n}` literal8, a part with
//! `Content-Transfer-Encoding: binary` and NUL bytes) read back with BODY[n] and BINARY[n], as
//! a client sees it (issue 13, item 10).

mod common;

use common::Client;

const BINARY_PART: &[u8] = b"\x00\x01\x02 binary \xff\xfe\x00 data\r\nline two\x00";

fn multipart() -> Vec<u8> {
    let mut raw = b"From: a@example.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(BINARY_PART);
    raw.extend_from_slice(b"\r\n--b--\r\n");
    raw
}

fn single_part() -> Vec<u8> {
    let mut raw = b"From: a@example.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n\
Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(BINARY_PART);
    raw
}

async fn append_binary(client: &mut Client, raw: &[u8]) {
    let mut command = format!("b APPEND INBOX ~{{{}+}}\r\n", raw.len()).into_bytes();
    command.extend_from_slice(raw);
    command.extend_from_slice(b"\r\n");
    client.send(&command).await;
    let lines = client.until_tagged("b").await;
    assert!(lines.last().unwrap().starts_with("b OK"), "{lines:?}");
}

/// The data of the literal that follows `item` in a FETCH line: (`~` or not, the bytes).
fn literal_of(line: &[u8], item: &str) -> (bool, Vec<u8>) {
    let shown = String::from_utf8_lossy(line);
    let at = line
        .windows(item.len())
        .position(|w| w == item.as_bytes())
        .unwrap_or_else(|| panic!("{item} in {shown:?}"));
    let rest = line[at + item.len()..].trim_ascii_start();
    let eight = rest.starts_with(b"~");
    let open = rest.iter().position(|&b| b == b'{').expect("a literal");
    let close = rest.iter().position(|&b| b == b'}').expect("a literal");
    let length: usize = std::str::from_utf8(&rest[open + 1..close])
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("a literal in {shown:?}"));
    (eight, rest[close + 3..close + 3 + length].to_vec())
}

fn decode_base64(text: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .expect("base64")
}

async fn fetch_line(client: &mut Client, items: &str) -> Vec<u8> {
    let lines = client.command_bytes(&format!("FETCH 1 ({items})")).await;
    let tagged = String::from_utf8_lossy(lines.last().unwrap()).into_owned();
    assert!(tagged.contains(" OK "), "{tagged}");
    lines
        .into_iter()
        .find(|l| l.starts_with(b"* 1 FETCH"))
        .expect("a FETCH response")
}

async fn check_part(client: &mut Client, part: &str) {
    // RFC 3516 §4.2: BINARY gives the exact bytes, in a literal8 since they hold NUL.
    let line = fetch_line(client, &format!("BINARY.PEEK[{part}]")).await;
    let (eight, data) = literal_of(&line, &format!("BINARY[{part}]"));
    assert!(eight, "{:?}", String::from_utf8_lossy(&line));
    assert_eq!(data, BINARY_PART);
    let line = String::from_utf8_lossy(&fetch_line(client, &format!("BINARY.SIZE[{part}]")).await)
        .into_owned();
    assert!(
        line.contains(&format!("BINARY.SIZE[{part}] {}", BINARY_PART.len())),
        "{line:?}"
    );
    // BODY[n] must be legal in a plain literal (no NUL, RFC 9051 §4.3): re-encoded as base64,
    // which BODYSTRUCTURE then reports for the part, so a client can decode it.
    let line = fetch_line(client, &format!("BODY.PEEK[{part}]")).await;
    let (eight, data) = literal_of(&line, &format!("BODY[{part}]"));
    let shown = String::from_utf8_lossy(&line);
    assert!(!eight, "{shown:?}");
    assert!(!data.contains(&0), "{shown:?}");
    assert!(!data.is_empty(), "{shown:?}");
    assert_eq!(decode_base64(&data), BINARY_PART);
    let structure =
        String::from_utf8_lossy(&fetch_line(client, "BODYSTRUCTURE").await).into_owned();
    assert!(
        structure
            .to_ascii_uppercase()
            .contains("\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 40 "),
        "{structure:?}"
    );
}

#[tokio::test]
async fn a_binary_part_of_a_multipart_message_reads_back_exactly_and_re_encoded() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    append_binary(&mut client, &multipart()).await;
    client.expect("OK", "SELECT INBOX").await;
    check_part(&mut client, "2").await;
    // The text part beside it is untouched.
    let line = fetch_line(&mut client, "BODY.PEEK[1]").await;
    assert_eq!(literal_of(&line, "BODY[1]").1, b"hello");
    // The whole message as stored: BODY[] is the client's own bytes, in a literal8.
    let line = fetch_line(&mut client, "BINARY.PEEK[]").await;
    assert_eq!(literal_of(&line, "BINARY[]").1, multipart());
}

#[tokio::test]
async fn a_binary_single_part_message_reads_back_exactly_and_re_encoded() {
    let (addr, _dir, _store) = common::server().await;
    let mut client = Client::login(addr).await;
    append_binary(&mut client, &single_part()).await;
    client.expect("OK", "SELECT INBOX").await;
    check_part(&mut client, "1").await;
}
