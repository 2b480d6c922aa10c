//! The body of the fuzz target for the SMTP command reader (`fuzz/fuzz_targets/smtp_reader.rs`),
//! also run on generated inputs by `cargo test` so every test run fuzzes a little.

use crate::io::{DataEnd, Line, MAX_COMMAND_LINE, read_data, read_line};
use smtp_proto::Request;
use std::time::Duration;

const DATA_LIMIT: usize = 64 * 1024;

/// Feeds `input` to the session's reader as a client would: command lines parsed by
/// smtp-proto, and after a DATA command the message until its end. Panics only when an
/// invariant of the reader breaks.
pub fn command_reader(input: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let mut reader = input;
        loop {
            match read_line(&mut reader, MAX_COMMAND_LINE).await {
                Ok(Line::Complete(line)) => {
                    assert!(line.len() <= MAX_COMMAND_LINE && line.ends_with(b"\n"));
                    if let Ok(Request::Data) = Request::parse(&mut line.iter()) {
                        let mut body = Vec::new();
                        let Ok(end) =
                            read_data(&mut reader, &mut body, DATA_LIMIT, Duration::from_secs(5))
                                .await
                        else {
                            return;
                        };
                        assert!(body.len() <= DATA_LIMIT);
                        if end == DataEnd::Complete {
                            // Every stored line ends with CRLF, and no CR or LF is bare.
                            assert!(body.is_empty() || body.ends_with(b"\r\n"));
                            assert!(!tern_message::submission::has_bare_line_end(&body));
                        }
                    }
                }
                Ok(Line::TooLong) => {}
                Ok(Line::Eof) | Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    use tern_message::fuzzing::Rng;

    const SEEDS: &[&[u8]] = &[
        b"EHLO client.test\r\n",
        b"MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x\r\n",
        b"RCPT TO:<u@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@example.test\r\n",
        b"DATA\r\nSubject: x\r\n\r\n..dot\r\nbare\n.\n.\r\n",
        b"BDAT 10 LAST\r\n0123456789",
        b"AUTH PLAIN AGEAYg==\r\n",
        b"VRFY x\r\nNOOP\r\nRSET\r\nQUIT\r\n",
        b"STARTTLS\r\nHELO x\r\n",
    ];

    #[test]
    fn the_reader_survives_mutated_sessions() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..rng.below(6) + 1 {
                input.extend_from_slice(SEEDS[rng.below(SEEDS.len())]);
            }
            for _ in 0..rng.below(8) {
                if input.is_empty() {
                    break;
                }
                let at = rng.below(input.len());
                match rng.below(4) {
                    0 => input[at] = rng.next() as u8,
                    1 => input.insert(at, rng.next() as u8),
                    2 => {
                        input.remove(at);
                    }
                    _ => {
                        let run = vec![b"A\r\n.:<>= \0\xff"[rng.below(11)]; rng.below(5000)];
                        input.splice(at..at, run);
                    }
                }
            }
            command_reader(&input);
        }
    }
}
