//! The message list: 50 per page, newest first, sortable by date, sender, subject or size.

use super::{human_size, nav, now, short_date};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::templates::{MailboxPage, Row, SortLink};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::cmp::Ordering;
use tern_store::{Flags, MailboxId, MessageMeta, MessageSummary, SpecialUse};

pub(crate) const PAGE_SIZE: usize = 50;

pub(crate) async fn home(State(app): State<App>, user: User) -> WebResult<Response> {
    let inbox = app
        .config
        .store
        .mailbox(user.account, "INBOX")
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Redirect::to(&format!("/folder/{}", inbox.id.0)).into_response())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Date,
    From,
    Subject,
    Size,
}

impl SortKey {
    fn parse(value: &str) -> SortKey {
        match value {
            "from" => SortKey::From,
            "subject" => SortKey::Subject,
            "size" => SortKey::Size,
            _ => SortKey::Date,
        }
    }
    fn name(self) -> &'static str {
        match self {
            SortKey::Date => "date",
            SortKey::From => "from",
            SortKey::Subject => "subject",
            SortKey::Size => "size",
        }
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListQuery {
    page: Option<usize>,
    sort: Option<String>,
    /// "asc" for oldest / smallest / A first; newest first otherwise.
    order: Option<String>,
    notice: Option<String>,
}

/// Fixed notices a redirect may ask for (never text from the URL).
pub(crate) fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "sent" => "Message sent.",
        "draft" => "Draft saved.",
        "moved" => "Moved.",
        "deleted" => "Deleted.",
        "emptied" => "Folder emptied.",
        "updated" => "Updated.",
        _ => return None,
    };
    Some(text.to_owned())
}

pub(crate) async fn list(
    State(app): State<App>,
    user: User,
    Path(mailbox): Path<i64>,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let store = &app.config.store;
    let mailbox = MailboxId(mailbox);
    // The store refuses a mailbox of another account with NotFound (lib.rs: Store).
    let info = store.mailbox_by_id(user.account, mailbox).await?;
    let sort = SortKey::parse(query.sort.as_deref().unwrap_or("date"));
    let ascending = query.order.as_deref() == Some("asc");
    let mut metas = store.messages(user.account, mailbox).await?;
    let total = metas.len();
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let start = (page - 1) * PAGE_SIZE;

    let shown: Vec<MessageSummary> = match sort {
        SortKey::Date | SortKey::Size => {
            metas.sort_by(|a, b| order_meta(sort, a, b));
            if !ascending {
                metas.reverse();
            }
            let uids: Vec<u32> = metas
                .iter()
                .skip(start)
                .take(PAGE_SIZE)
                .map(|m| m.uid)
                .collect();
            let mut summaries = store.summaries(user.account, mailbox, &uids).await?;
            // Summaries come back in UID order; put them back in the page's order.
            summaries.sort_by_key(|s| uids.iter().position(|u| *u == s.meta.uid));
            summaries
        }
        SortKey::From | SortKey::Subject => {
            // Sorting by header needs every summary; fine for the folders people sort so.
            let uids: Vec<u32> = metas.iter().map(|m| m.uid).collect();
            let mut all = store.summaries(user.account, mailbox, &uids).await?;
            all.sort_by(|a, b| order_summary(sort, a, b));
            if !ascending {
                all.reverse();
            }
            all.into_iter().skip(start).take(PAGE_SIZE).collect()
        }
    };
    let now = now();
    let rows = shown
        .iter()
        .map(|s| row(mailbox, s, now, String::new()))
        .collect();
    let base = format!("/folder/{}", mailbox.0);
    let link = |page: usize| {
        let mut href = format!("{base}?page={page}");
        if sort != SortKey::Date {
            href.push_str(&format!("&sort={}", sort.name()));
        }
        if ascending {
            href.push_str("&order=asc");
        }
        href
    };
    let sort_links = [
        (SortKey::Date, "Date"),
        (SortKey::From, "From"),
        (SortKey::Subject, "Subject"),
        (SortKey::Size, "Size"),
    ]
    .into_iter()
    .map(|(key, label)| {
        let active = key == sort;
        // Clicking the active key flips the order; a new key starts at its natural order.
        let flip_to_asc = active && !ascending;
        SortLink {
            label,
            href: format!(
                "{base}?sort={}{}",
                key.name(),
                if flip_to_asc { "&order=asc" } else { "" }
            ),
            active,
            arrow: match (active, ascending) {
                (false, _) => "",
                (true, false) => " ↓",
                (true, true) => " ↑",
            },
        }
    })
    .collect();
    let nav = nav(&app, &user, Some(mailbox)).await?;
    let folder = nav
        .folders
        .iter()
        .find(|f| f.id == mailbox.0)
        .cloned()
        .ok_or(WebError::NotFound)?;
    let page_data = MailboxPage {
        can_empty: matches!(info.special_use, Some(SpecialUse::Trash | SpecialUse::Junk)),
        in_trash: info.special_use == Some(SpecialUse::Trash),
        return_to: link(page),
        nav,
        folder,
        rows,
        page,
        pages,
        total,
        prev: (page > 1).then(|| link(page - 1)),
        next: (page < pages).then(|| link(page + 1)),
        sort_links,
        notice: notice_text(query.notice.as_deref()),
    };
    Ok(Html(page_data.render()?).into_response())
}

fn order_meta(sort: SortKey, a: &MessageMeta, b: &MessageMeta) -> Ordering {
    let key = match sort {
        SortKey::Size => a.size.cmp(&b.size),
        _ => a.internal_date.cmp(&b.internal_date),
    };
    key.then(a.uid.cmp(&b.uid))
}

fn order_summary(sort: SortKey, a: &MessageSummary, b: &MessageSummary) -> Ordering {
    let key = match sort {
        SortKey::From => a
            .summary
            .from_display
            .to_lowercase()
            .cmp(&b.summary.from_display.to_lowercase()),
        _ => a
            .summary
            .subject
            .to_lowercase()
            .cmp(&b.summary.subject.to_lowercase()),
    };
    // Reversed below for "newest first"; ties in date order keep that consistent.
    key.reverse()
        .then(a.meta.internal_date.cmp(&b.meta.internal_date))
        .then(a.meta.uid.cmp(&b.meta.uid))
}

pub(crate) fn row(mailbox: MailboxId, s: &MessageSummary, now: i64, folder_label: String) -> Row {
    let flags = s.meta.flags;
    Row {
        mailbox: mailbox.0,
        uid: s.meta.uid,
        from: if s.summary.from_display.is_empty() {
            "(unknown sender)".to_owned()
        } else {
            s.summary.from_display.clone()
        },
        subject: s.summary.subject.clone(),
        preview: s.summary.preview.chars().take(120).collect(),
        date: short_date(s.summary.sent_date.unwrap_or(s.meta.internal_date), now),
        size: human_size(s.meta.size),
        seen: flags.contains(Flags::SEEN),
        flagged: flags.contains(Flags::FLAGGED),
        answered: flags.contains(Flags::ANSWERED),
        draft: flags.contains(Flags::DRAFT),
        attachment: s.summary.has_attachments,
        folder_label,
    }
}
