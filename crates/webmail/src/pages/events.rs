//! Live updates: server-sent events from the store's change feed (DESIGN.md §3: IMAP IDLE,
//! webmail and POP3 follow that one feed). The page's script refreshes the folder list and
//! the message list when an event names a change.

use crate::App;
use crate::session::User;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use tern_store::Change;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

fn event_for(change: &Change) -> Event {
    let kind = match change {
        Change::MessageAdded { .. } => "added",
        Change::FlagsChanged { .. } => "flags",
        Change::Expunged { .. } => "expunged",
        Change::MailboxCreated { .. }
        | Change::MailboxRenamed { .. }
        | Change::MailboxDeleted { .. } => "folders",
    };
    Event::default().event("change").data(format!(
        "{{\"kind\":\"{kind}\",\"mailbox\":{}}}",
        change.mailbox().0
    ))
}

pub(crate) async fn stream(
    State(app): State<App>,
    user: User,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = app.config.store.subscribe(user.account);
    let shutdown = app.config.shutdown.clone();
    let changes = BroadcastStream::new(receiver).map(|item| {
        Ok(match item {
            Ok(change) => event_for(&change),
            // Missed some: the page reloads everything.
            Err(BroadcastStreamRecvError::Lagged(_)) => Event::default()
                .event("change")
                .data("{\"kind\":\"resync\",\"mailbox\":0}"),
        })
    });
    // The stream ends on shutdown, so the connection can close gracefully.
    let changes = changes.take_until(async move { shutdown.cancelled().await });
    Sse::new(changes).keep_alive(KeepAlive::new().interval(Duration::from_secs(25)))
}
