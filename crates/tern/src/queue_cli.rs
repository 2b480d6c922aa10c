//! `tern queue list | show ID | retry ID | remove ID`: see and steer the outbound queue.

use crate::cli::QueueCommand;
use anyhow::{Result, bail};
use tern_store::{QueueId, QueuedMessage, RecipientState, SqliteStore, Store};

fn age(created: i64) -> String {
    let secs = (tern_queue::now() - created).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

fn sender(m: &QueuedMessage) -> &str {
    if m.sender.is_empty() { "<>" } else { &m.sender }
}

pub async fn run(store: &SqliteStore, command: QueueCommand) -> Result<()> {
    match command {
        QueueCommand::List => {
            let list = store.queue_list().await?;
            for m in &list {
                let pending = m
                    .recipients
                    .iter()
                    .filter(|r| r.state == RecipientState::Pending)
                    .count();
                println!(
                    "{}\t{}\t{} bytes\tage {}\t{} pending of {}",
                    m.id.0,
                    sender(m),
                    m.size,
                    age(m.created),
                    pending,
                    m.recipients.len()
                );
            }
            println!("{} message(s) queued", list.len());
        }
        QueueCommand::Show { id } => {
            let Some(m) = store.queued(QueueId(id)).await? else {
                bail!("no queued message {id}");
            };
            println!("id: {}", m.id.0);
            println!("from: {}", sender(&m));
            println!("size: {}", m.size);
            println!("age: {}", age(m.created));
            if let Some(env_id) = &m.env_id {
                println!("envid: {env_id}");
            }
            for r in &m.recipients {
                let next = if r.state == RecipientState::Pending {
                    format!(
                        " next attempt in {}s",
                        (r.next_attempt - tern_queue::now()).max(0)
                    )
                } else {
                    String::new()
                };
                println!(
                    "to: {}\t{}\tattempts {}{next}\t{}",
                    r.address,
                    r.state.as_str(),
                    r.attempts,
                    r.last_reply.as_deref().unwrap_or("-")
                );
            }
        }
        QueueCommand::Retry { id } => {
            store
                .queue_retry_now(QueueId(id), tern_queue::now())
                .await?;
            println!("message {id}: pending recipients will be tried now");
        }
        QueueCommand::Remove { id } => {
            store.queue_remove(QueueId(id)).await?;
            println!("message {id} removed from the queue");
        }
    }
    Ok(())
}
