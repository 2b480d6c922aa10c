//! One module per command family; each adds methods to [`crate::session::Session`].

mod auth;
mod idle;
mod mailbox;
