use std::io::{BufReader, Write};

use super::*;

fn read_all(input: &[u8]) -> Vec<Item> {
    MboxReader::new(input).map(|item| item.unwrap()).collect()
}

fn message(item: &Item) -> &ImportedMessage {
    match item {
        Item::Message(message) => message,
        Item::Skipped { source, reason } => panic!("{source} skipped: {reason}"),
    }
}

fn skip_reason(item: &Item) -> &str {
    match item {
        Item::Skipped { reason, .. } => reason,
        Item::Message(message) => panic!("{} was not skipped", message.source),
    }
}

const TWO_MESSAGES: &[u8] = b"From alice@example.com Tue Jan  2 15:04:05 2024\n\
Subject: one\n\
\n\
first body\n\
\n\
From bob@example.com Wed Jan  3 15:04:05 2024\n\
Subject: two\n\
\n\
second body\n\
\n";

#[test]
fn splits_messages_and_strips_separator_blank_lines() {
    let items = read_all(TWO_MESSAGES);
    assert_eq!(items.len(), 2);
    let first = message(&items[0]);
    assert_eq!(first.raw, b"Subject: one\r\n\r\nfirst body\r\n");
    assert_eq!(first.source, "mbox message #1 (line 1)");
    assert_eq!(first.internal_date, Some(1_704_207_845));
    let second = message(&items[1]);
    assert_eq!(second.raw, b"Subject: two\r\n\r\nsecond body\r\n");
    assert_eq!(second.source, "mbox message #2 (line 6)");
    assert_eq!(second.internal_date, Some(1_704_207_845 + 86_400));
}

#[test]
fn crlf_input_gives_the_same_messages() {
    let crlf = to_crlf(TWO_MESSAGES);
    let from_lf = read_all(TWO_MESSAGES);
    let from_crlf = read_all(&crlf);
    assert_eq!(from_lf, from_crlf);
}

#[test]
fn unquotes_mboxrd_from_lines() {
    let mbox = b"From a Tue Jan  2 15:04:05 2024\n\
Subject: quoting\n\
\n\
>From the start\n\
>>From deeper\n\
> From is not quoting\n\
>Fromage\n\
\n";
    let items = read_all(mbox);
    assert_eq!(items.len(), 1);
    assert_eq!(
        message(&items[0]).raw,
        b"Subject: quoting\r\n\r\nFrom the start\r\n>From deeper\r\n> From is not quoting\r\n>Fromage\r\n"
    );
}

#[test]
fn from_inside_body_without_blank_line_before_stays() {
    let mbox = b"From a Tue Jan  2 15:04:05 2024\n\
Subject: x\n\
\n\
line\n\
From here on it is body\n\
\n";
    let items = read_all(mbox);
    assert_eq!(items.len(), 1);
    assert_eq!(
        message(&items[0]).raw,
        b"Subject: x\r\n\r\nline\r\nFrom here on it is body\r\n"
    );
}

#[test]
fn content_length_is_ignored_for_splitting() {
    let mbox = b"From a Tue Jan  2 15:04:05 2024\n\
Content-Length: 9999\n\
Subject: one\n\
\n\
body\n\
\n\
From b Tue Jan  2 15:04:05 2024\n\
Subject: two\n\
\n\
body\n";
    let items = read_all(mbox);
    assert_eq!(items.len(), 2);
    assert!(
        message(&items[0])
            .raw
            .starts_with(b"Content-Length: 9999\r\n")
    );
    assert_eq!(message(&items[1]).raw, b"Subject: two\r\n\r\nbody\r\n");
}

#[test]
fn status_headers_become_flags_and_stay_in_the_bytes() {
    let mbox = b"From a Tue Jan  2 15:04:05 2024\n\
Status: RO\n\
X-Status: AFT\n\
Subject: flags\n\
\n\
Status: D is body text, not a header\n\
\n\
From b Tue Jan  2 15:04:05 2024\n\
status: O\n\
x-status: D\n\
X-Keywords: Work $Later\n\
\n\
body\n";
    let items = read_all(mbox);
    let first = message(&items[0]);
    assert_eq!(
        first.flags,
        Flags {
            seen: true,
            answered: true,
            flagged: true,
            deleted: false,
            draft: true
        }
    );
    assert!(first.raw.starts_with(b"Status: RO\r\nX-Status: AFT\r\n"));
    let second = message(&items[1]);
    assert_eq!(
        second.flags,
        Flags {
            deleted: true,
            ..Flags::default()
        }
    );
    assert_eq!(second.keywords, ["Work", "$Later"]);
    assert_eq!(message(&items[0]).keywords, Vec::<String>::new());
}

#[test]
fn oversized_message_is_skipped_and_the_next_is_read() {
    let mut mbox = Vec::new();
    mbox.extend_from_slice(b"From a Tue Jan  2 15:04:05 2024\nSubject: big\n\n");
    for _ in 0..10_000 {
        mbox.extend_from_slice(b"0123456789012345678901234567890123456789\n");
    }
    mbox.extend_from_slice(b"\nFrom b Tue Jan  2 15:04:05 2024\nSubject: small\n\nhi\n");

    let mut reader = MboxReader::new(&mbox[..]).with_max_size(1000);
    let first = reader.next().unwrap().unwrap();
    assert!(
        skip_reason(&first).contains("larger than the limit of 1000 bytes"),
        "{first:?}"
    );
    assert!(skip_reason(&first).contains("410014 bytes"), "{first:?}");
    assert!(reader.buf.capacity() <= 1002, "{}", reader.buf.capacity());
    let second = reader.next().unwrap().unwrap();
    assert_eq!(message(&second).raw, b"Subject: small\r\n\r\nhi\r\n");
    assert_eq!(message(&second).source, "mbox message #2 (line 10005)");
    assert!(reader.next().is_none());
}

#[test]
fn oversized_single_line_does_not_grow_the_buffer() {
    let mut mbox = b"From a Tue Jan  2 15:04:05 2024\nSubject: x\n\n".to_vec();
    mbox.extend(std::iter::repeat_n(b'x', 1_000_000));
    mbox.extend_from_slice(b"\n\nFrom b Tue Jan  2 15:04:05 2024\nSubject: y\n\nok\n");
    let mut reader =
        MboxReader::new(BufReader::with_capacity(4096, &mbox[..])).with_max_size(10_000);
    let first = reader.next().unwrap().unwrap();
    assert!(skip_reason(&first).contains("larger than the limit"));
    assert!(reader.buf.capacity() <= 10_002, "{}", reader.buf.capacity());
    let second = reader.next().unwrap().unwrap();
    assert_eq!(message(&second).raw, b"Subject: y\r\n\r\nok\r\n");
}

#[test]
fn message_exactly_at_the_limit_is_kept() {
    let body = b"Subject: x\n\n12345\n";
    let mut mbox = b"From a Tue Jan  2 15:04:05 2024\n".to_vec();
    mbox.extend_from_slice(body);
    mbox.extend_from_slice(b"\n");
    let items: Vec<Item> = MboxReader::new(&mbox[..])
        .with_max_size(body.len())
        .map(Result::unwrap)
        .collect();
    assert_eq!(message(&items[0]).raw, to_crlf(body));
    let items: Vec<Item> = MboxReader::new(&mbox[..])
        .with_max_size(body.len() - 1)
        .map(Result::unwrap)
        .collect();
    assert!(skip_reason(&items[0]).contains("larger than the limit"));
}

#[test]
fn empty_and_non_messages_are_skipped() {
    let mbox = b"From a Tue Jan  2 15:04:05 2024\n\
\n\
From b Tue Jan  2 15:04:05 2024\n\
just text without headers\n\
\n\
From c Tue Jan  2 15:04:05 2024\n\
Subject: fine\n";
    let items = read_all(mbox);
    assert_eq!(items.len(), 3);
    assert_eq!(skip_reason(&items[0]), "empty message");
    assert!(skip_reason(&items[1]).starts_with("not a message"));
    assert_eq!(message(&items[2]).raw, b"Subject: fine\r\n");
    assert_eq!(message(&items[2]).source, "mbox message #3 (line 6)");
}

#[test]
fn text_before_the_first_separator() {
    // Blank lines before the first "From " are not a message.
    let items = read_all(b"\n\nFrom a Tue Jan  2 15:04:05 2024\nSubject: x\n\nbody\n");
    assert_eq!(items.len(), 1);
    assert_eq!(message(&items[0]).source, "mbox message #1 (line 3)");

    // A lone message without any "From " line is still read.
    let items = read_all(b"Subject: no separator\n\nbody\n");
    assert_eq!(items.len(), 1);
    let lone = message(&items[0]);
    assert_eq!(lone.raw, b"Subject: no separator\r\n\r\nbody\r\n");
    assert_eq!(lone.internal_date, None);
}

#[test]
fn empty_input_yields_nothing() {
    assert!(read_all(b"").is_empty());
}

#[test]
fn last_message_without_final_newline() {
    let items = read_all(b"From a Tue Jan  2 15:04:05 2024\nSubject: x\n\nno newline");
    assert_eq!(message(&items[0]).raw, b"Subject: x\r\n\r\nno newline");
}

#[test]
fn io_error_is_reported_once_then_iteration_stops() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let mut reader = MboxReader::new(BufReader::new(Failing));
    assert!(matches!(reader.next(), Some(Err(ImportError::Read { .. }))));
    assert!(reader.next().is_none());
}

#[test]
fn open_mbox_reads_a_file_and_counts_bytes() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(TWO_MESSAGES).unwrap();
    let mut reader = open_mbox(file.path()).unwrap();
    let count = reader
        .by_ref()
        .filter(|item| matches!(item, Ok(Item::Message(_))))
        .count();
    assert_eq!(count, 2);
    assert_eq!(reader.bytes_read(), TWO_MESSAGES.len() as u64);

    let missing = open_mbox(&file.path().with_extension("missing"));
    assert!(matches!(missing, Err(ImportError::Open { .. })));
}

/// 20,000 messages of varying size: the reader's own buffer and every yielded message stay
/// within twice the largest message, i.e. nothing accumulates across messages.
#[test]
fn memory_stays_bounded_over_many_messages() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut biggest = 0;
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        for n in 0..20_000u32 {
            let body_lines = (n % 97) as usize;
            let mut message = format!("Subject: message {n}\nMessage-ID: <{n}@example.com>\n\n");
            for line in 0..body_lines {
                message.push_str(&format!(
                    "line {line} of message {n}, with some padding text\n"
                ));
            }
            biggest = biggest.max(to_crlf(message.as_bytes()).len());
            write!(
                out,
                "From sender@example.com Tue Jan  2 15:04:05 2024\n{message}\n"
            )
            .unwrap();
        }
        out.flush().unwrap();
    }

    let mut reader = open_mbox(file.path()).unwrap();
    let mut messages = 0;
    let mut largest_capacity = 0;
    while let Some(item) = reader.next() {
        let message = match item.unwrap() {
            Item::Message(message) => message,
            Item::Skipped { source, reason } => panic!("{source}: {reason}"),
        };
        largest_capacity = largest_capacity.max(message.raw.capacity());
        assert!(
            reader.buf.capacity() < biggest * 2,
            "{}",
            reader.buf.capacity()
        );
        messages += 1;
    }
    assert_eq!(messages, 20_000);
    assert!(
        largest_capacity < biggest * 2,
        "{largest_capacity} vs {biggest}"
    );
}
