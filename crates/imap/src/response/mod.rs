//! What the server writes back for the data a command found: FETCH responses and their data
//! items (RFC 9051 §7.5.2), ENVELOPE, BODY and BODYSTRUCTURE. Commands decide what to send
//! (`commands/`); this is how it looks on the wire.

pub mod body_structure;
pub mod envelope;
pub mod fetch;
