//! Search in the current folder or all folders, by from / to / subject / body text, through
//! the store's text search.

use super::mailbox::row;
use super::{nav, now};
use crate::App;
use crate::error::WebResult;
use crate::session::User;
use crate::templates::SearchPage;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tern_store::{MailboxId, SearchField, TextSearch};

/// Results shown at most (newest first).
const MAX_RESULTS: usize = 200;
const MAX_QUERY: usize = 500;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    field: Option<String>,
    /// A folder id, or "all" / absent for every folder.
    folder: Option<String>,
}

pub(crate) async fn results(
    State(app): State<App>,
    user: User,
    Query(query): Query<SearchQuery>,
) -> WebResult<Response> {
    let text: String = query
        .q
        .unwrap_or_default()
        .chars()
        .take(MAX_QUERY)
        .collect();
    let field_name = query.field.unwrap_or_else(|| "all".into());
    let field = match field_name.as_str() {
        "from" => SearchField::From,
        "to" => SearchField::To,
        "subject" => SearchField::Subject,
        "body" => SearchField::Body,
        _ => SearchField::Any,
    };
    let folder = query
        .folder
        .as_deref()
        .and_then(|f| f.parse::<i64>().ok())
        .map(MailboxId);
    let mut nav = nav(&app, &user, None).await?;
    nav.query.clone_from(&text);
    let store = &app.config.store;
    let hits = if text.trim().is_empty() {
        Vec::new()
    } else {
        store
            .search_text(
                user.account,
                folder,
                &TextSearch {
                    field,
                    text: text.clone(),
                },
                MAX_RESULTS + 1,
            )
            .await?
    };
    let truncated = hits.len() > MAX_RESULTS;
    // Summaries per mailbox, then back in the hits' (newest first) order.
    let mut by_mailbox: HashMap<MailboxId, Vec<u32>> = HashMap::new();
    for hit in hits.iter().take(MAX_RESULTS) {
        by_mailbox.entry(hit.mailbox).or_default().push(hit.uid);
    }
    let labels: HashMap<i64, String> = nav
        .folders
        .iter()
        .map(|f| (f.id, f.label.clone()))
        .collect();
    let now = now();
    let mut rows = Vec::new();
    for (mailbox, uids) in by_mailbox {
        for summary in store.summaries(user.account, mailbox, &uids).await? {
            let label = if folder.is_none() {
                labels.get(&mailbox.0).cloned().unwrap_or_default()
            } else {
                String::new()
            };
            rows.push(row(mailbox, &summary, now, label));
        }
    }
    let position = |mailbox: i64, uid: u32| {
        hits.iter()
            .position(|h| h.mailbox.0 == mailbox && h.uid == uid)
            .unwrap_or(usize::MAX)
    };
    rows.sort_by_key(|r| position(r.mailbox, r.uid));
    let page = SearchPage {
        nav,
        query: text,
        scope: folder.map_or_else(|| "all".to_owned(), |f| f.0.to_string()),
        field: field_name,
        rows,
        truncated,
    };
    Ok(Html(page.render()?).into_response())
}
