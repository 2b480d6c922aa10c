//! The pages, one module per family, and what they share: the side bar, form fields, and
//! the way sizes and dates are shown.

pub(crate) mod actions;
pub(crate) mod compose;
pub(crate) mod events;
pub(crate) mod folders;
pub(crate) mod login;
pub(crate) mod mailbox;
pub(crate) mod message;
pub(crate) mod search;
pub(crate) mod settings;

use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::templates::{Folder, Nav};
use axum::body::Bytes;
use tern_store::{FlagChange, FlagOp, Flags, MailboxId, MailboxInfo, SpecialUse};

/// Special folders come first, in this order, under their own names.
const SPECIAL_ORDER: [(&str, Option<SpecialUse>, &str); 5] = [
    ("INBOX", None, "Inbox"),
    ("", Some(SpecialUse::Sent), "Sent"),
    ("", Some(SpecialUse::Drafts), "Drafts"),
    ("", Some(SpecialUse::Trash), "Trash"),
    ("", Some(SpecialUse::Junk), "Junk"),
];

fn special_rank(info: &MailboxInfo) -> Option<(usize, &'static str)> {
    SPECIAL_ORDER
        .iter()
        .enumerate()
        .find_map(|(rank, (name, use_, label))| {
            let matches = if name.is_empty() {
                info.special_use == *use_
            } else {
                info.name.eq_ignore_ascii_case(name)
            };
            matches.then_some((rank, *label))
        })
}

/// The account's folders for the side bar: special ones first, then the rest by name, each
/// with its message and unread counts.
pub(crate) async fn folders(app: &App, user: &User) -> WebResult<Vec<Folder>> {
    let store = &app.config.store;
    let mut infos = store.mailboxes(user.account).await?;
    infos.sort_by(|a, b| {
        let rank = |i: &MailboxInfo| special_rank(i).map_or(usize::MAX, |(r, _)| r);
        rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name))
    });
    let mut folders = Vec::with_capacity(infos.len());
    for info in infos {
        let status = store.mailbox_status(user.account, info.id).await?;
        let special = special_rank(&info).map(|(_, label)| label);
        let label = match special {
            Some(label) => label.to_owned(),
            None => info
                .name
                .rsplit('/')
                .next()
                .unwrap_or(&info.name)
                .to_owned(),
        };
        folders.push(Folder {
            id: info.id.0,
            depth: if special.is_some() {
                0
            } else {
                info.name.matches('/').count()
            },
            name: info.name,
            label,
            unseen: status.unseen,
            messages: status.messages,
            special,
        });
    }
    Ok(folders)
}

pub(crate) async fn nav(app: &App, user: &User, current: Option<MailboxId>) -> WebResult<Nav> {
    Ok(Nav {
        email: user.email.clone(),
        csrf: user.csrf.clone(),
        folders: folders(app, user).await?,
        current: current.map(|m| m.0),
        query: String::new(),
    })
}

/// The account's mailbox with this special use, if it has one.
pub(crate) async fn special_mailbox(
    app: &App,
    user: &User,
    use_: SpecialUse,
) -> WebResult<Option<MailboxInfo>> {
    Ok(app
        .config
        .store
        .mailboxes(user.account)
        .await?
        .into_iter()
        .find(|m| m.special_use == Some(use_)))
}

/// A system-flag change with no keywords and no CONDSTORE condition.
pub(crate) fn flag_change(op: FlagOp, flags: Flags) -> FlagChange {
    FlagChange {
        op,
        flags,
        keywords: Vec::new(),
        unchanged_since: None,
    }
}

/// An urlencoded form as name/value pairs (repeated names kept, as checkboxes send them).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &Bytes) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Checks the CSRF token first: every state-changing form carries one.
    pub fn checked(body: &Bytes, user: &User) -> WebResult<Fields> {
        let fields = Fields::parse(body);
        user.check_csrf(fields.get("csrf").unwrap_or(""))?;
        Ok(fields)
    }
}

/// `1.2 MB`, `340 KB`, `512 B`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A short date for the list: the time for today's mail, else the day.
pub(crate) fn short_date(unix: i64, now: i64) -> String {
    let Ok(date) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    let today = time::OffsetDateTime::from_unix_timestamp(now)
        .map(|n| n.date())
        .unwrap_or(date.date());
    if date.date() == today {
        format!("{:02}:{:02}", date.hour(), date.minute())
    } else if date.year() == today.year() {
        format!("{} {}", date.day(), &format!("{}", date.month())[..3])
    } else {
        format!(
            "{} {} {}",
            date.day(),
            &format!("{}", date.month())[..3],
            date.year()
        )
    }
}

/// A full date for the message page, UTC.
pub(crate) fn long_date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[weekday repr:short], [day padding:none] [month repr:short] [year] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Parses a `mailbox:uid` reference from a form or query.
pub(crate) fn message_ref(value: &str) -> WebResult<(MailboxId, u32)> {
    let (mailbox, uid) = value
        .split_once(':')
        .ok_or_else(|| WebError::BadRequest("bad message reference".into()))?;
    match (mailbox.parse::<i64>(), uid.parse::<u32>()) {
        (Ok(m), Ok(u)) => Ok((MailboxId(m), u)),
        _ => Err(WebError::BadRequest("bad message reference".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_a_person_would_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50 MB");
    }

    #[test]
    fn dates() {
        let now = 1_764_000_000; // 2025-11-24
        assert_eq!(short_date(now - 60, now).len(), 5);
        assert!(short_date(now - 40 * 86_400, now).ends_with("Oct"));
        assert!(short_date(now - 400 * 86_400, now).ends_with("2024"));
    }
}
