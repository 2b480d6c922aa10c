//! IDLE (RFC 2177, RFC 9051 §6.3.13): changes to the selected mailbox are pushed as they are
//! committed, until the client sends DONE.

use tokio::sync::broadcast;

use crate::session::{Fatal, Reply, Session};

/// DONE is four letters; anything longer than this is not DONE.
const MAX_DONE_LINE: usize = 1024;

impl Session {
    pub async fn idle(&mut self, _tag: &str) -> Result<Reply, Fatal> {
        self.report_updates(true).await?;
        self.io.out.extend_from_slice(b"+ idling\r\n");
        self.io.flush().await?;
        let timeout = tokio::time::sleep(self.config.idle_timeout);
        tokio::pin!(timeout);
        let shutdown = self.config.shutdown.clone();
        loop {
            let mut feed = self.feed.take();
            let event = tokio::select! {
                () = &mut timeout => {
                    self.feed = feed;
                    return Err(Fatal::Autologout(self.config.idle_timeout));
                }
                () = shutdown.cancelled() => {
                    self.feed = feed;
                    return Err(Fatal::Shutdown);
                }
                line = self.io.read_line(MAX_DONE_LINE) => Event::Line(line),
                change = next_change(&mut feed) => Event::Change(change),
            };
            self.feed = feed;
            match event {
                Event::Line(line) => {
                    let line = line?;
                    let word = line.trim_ascii();
                    return Ok(if word.eq_ignore_ascii_case(b"DONE") {
                        self.report_updates(true).await?;
                        Reply::ok("IDLE terminated")
                    } else {
                        Reply::bad("Expected DONE")
                    });
                }
                Event::Change(change) => {
                    let concerns_view = match &change {
                        Ok(change) => self
                            .selected
                            .as_ref()
                            .is_some_and(|v| v.mailbox == change.mailbox()),
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => {
                            // The store is going away: stop listening, wait for DONE.
                            self.feed = None;
                            false
                        }
                    };
                    if concerns_view && let Some(view) = self.selected.as_mut() {
                        view.dirty = true;
                    }
                    self.report_updates(true).await?;
                    self.io.flush().await?;
                }
            }
        }
    }
}

enum Event {
    Line(Result<Vec<u8>, crate::reader::ReadError>),
    Change(Result<tern_store::Change, broadcast::error::RecvError>),
}

/// The next change of the feed; never resolves without a feed.
async fn next_change(
    feed: &mut Option<broadcast::Receiver<tern_store::Change>>,
) -> Result<tern_store::Change, broadcast::error::RecvError> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}
