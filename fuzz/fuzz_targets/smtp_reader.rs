//! Fuzzes the SMTP command reader: bounded lines, smtp-proto parsing, DATA unstuffing.
//! Run: `cargo +nightly fuzz run smtp_reader` (the same body runs on generated input in
//! `cargo test -p tern-smtp`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern_smtp::fuzzing::command_reader(data);
});
