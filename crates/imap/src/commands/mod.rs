//! One module per command family; each adds methods to [`crate::session::Session`].

mod append;
mod auth;
pub(crate) mod condstore;
mod copy_move;
mod expunge;
mod fetch;
mod idle;
mod list;
mod mailbox;
mod quota;
mod search;
pub(crate) mod store;
