//! The IMAP command reader and parser on arbitrary client bytes: framing (lines, literals,
//! limits), then imap-codec's CommandCodec on each framed command. Nothing may panic, and
//! every framed command is bounded by the reader's limits.
#![no_main]

use imap_codec::CommandCodec;
use imap_codec::decode::Decoder;
use libfuzzer_sys::fuzz_target;
use tern_imap::reader::{CommandReader, Frame, ReaderLimits};

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let limits = ReaderLimits {
            max_line: 1024,
            max_append_literal: 4096,
            max_other_literal: 256,
            max_command: 8192,
        };
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let input = data.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            // Drain what the server writes (continuation requests) until it hangs up.
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut client, &mut sink).await;
        });
        let mut reader = CommandReader::new();
        while let Ok(frame) = reader.read_command(&mut server, &limits).await {
            if let Frame::Command(bytes) = frame {
                assert!(bytes.len() as u64 <= limits.max_command + limits.max_line as u64);
                let _ = CommandCodec::default().decode(&bytes);
            }
        }
        drop(server);
        let _ = writer.await;
    });
});
