//! Fuzzes the header checks of submission and the webmail's header values: one From, CRLF
//! only, strict address lists that read the same as IMAP's ENVELOPE, message ids and cleaned
//! text that cannot end a field. Run: `cargo fuzz run --dev --sanitizer none submission_header`
//! (the same body runs on generated input in `cargo test -p tern-message`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tern_message::fuzzing::submission_header(data);
});
