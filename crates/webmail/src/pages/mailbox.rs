//! The message list: 50 per page, newest first, sortable by date, sender, subject or size.

use super::{human_size, nav, now, short_date};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::templates::{MailboxPage, Row, SortLink};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tern_store::{Flags, ListKey, ListOrder, MailboxId, MessageSummary, SpecialUse};

pub(crate) const PAGE_SIZE: usize = 50;

pub(crate) async fn home(State(app): State<App>, user: User) -> WebResult<Response> {
    let inbox = app
        .config
        .store
        .mailbox(user.account, "INBOX")
        .await?
        .ok_or(WebError::NotFound)?;
    crate::redirect::see_other(&format!("/folder/{}", inbox.id.0))
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
    fn list_key(self) -> ListKey {
        match self {
            SortKey::Date => ListKey::Date,
            SortKey::From => ListKey::From,
            SortKey::Subject => ListKey::Subject,
            SortKey::Size => ListKey::Size,
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
    /// "asc" or "desc"; absent: the key's natural order.
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
    // Newest and largest first; senders and subjects A to Z.
    let natural_descending = matches!(sort, SortKey::Date | SortKey::Size);
    let descending = match query.order.as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        _ => natural_descending,
    };
    let total = usize::try_from(store.mailbox_status(user.account, mailbox).await?.messages)
        .unwrap_or(usize::MAX);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let order = ListOrder {
        key: sort.list_key(),
        descending,
    };
    let uids = store
        .list_uids(
            user.account,
            mailbox,
            order,
            (page - 1) * PAGE_SIZE,
            PAGE_SIZE,
        )
        .await?;
    let mut shown = store.summaries(user.account, mailbox, &uids).await?;
    // Summaries come back in UID order; put them back in the page's order.
    shown.sort_by_key(|s| uids.iter().position(|u| *u == s.meta.uid));
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
        if descending != natural_descending {
            href.push_str(if descending {
                "&order=desc"
            } else {
                "&order=asc"
            });
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
        let flip = if !active {
            ""
        } else if descending {
            "&order=asc"
        } else {
            "&order=desc"
        };
        SortLink {
            label,
            href: format!("{base}?sort={}{flip}", key.name()),
            active,
            arrow: match (active, descending) {
                (false, _) => "",
                (true, true) => " ↓",
                (true, false) => " ↑",
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
