//! The pages' data, one struct per template (askama checks them at compile time and escapes
//! every value for HTML).

use askama::Template;

/// A folder in the side bar and in "move to" menus.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub id: i64,
    /// The full name (`Work/Projects`).
    pub name: String,
    /// What the side bar shows: the special folders' own names, else the last name segment.
    pub label: String,
    pub depth: usize,
    pub unseen: u64,
    pub messages: u64,
    pub special: Option<&'static str>,
}

/// What every logged-in page shows around its content.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub email: String,
    pub csrf: String,
    pub folders: Vec<Folder>,
    pub current: Option<i64>,
    pub query: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub error: Option<String>,
    pub email: String,
    pub login_token: String,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub status: u16,
    pub message: String,
}

/// One line of the message list.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub mailbox: i64,
    pub uid: u32,
    pub from: String,
    pub subject: String,
    pub preview: String,
    pub date: String,
    pub size: String,
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub attachment: bool,
    pub draft: bool,
    /// Search results over all folders name the folder.
    pub folder_label: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SortLink {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
    pub arrow: &'static str,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
pub(crate) struct MailboxPage {
    pub nav: Nav,
    pub folder: Folder,
    pub rows: Vec<Row>,
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub sort_links: Vec<SortLink>,
    pub can_empty: bool,
    pub in_trash: bool,
    pub notice: Option<String>,
    pub return_to: String,
}

#[derive(Template)]
#[template(path = "search.html")]
pub(crate) struct SearchPage {
    pub nav: Nav,
    pub query: String,
    pub scope: String,
    pub field: String,
    pub rows: Vec<Row>,
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub section: String,
    pub name: String,
    pub media_type: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub nav: Nav,
    pub mailbox: i64,
    pub uid: u32,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub date: String,
    pub text: Option<String>,
    pub has_html: bool,
    pub show_images: bool,
    pub remote_blocked: bool,
    pub attachments: Vec<Attachment>,
    pub flagged: bool,
    pub is_draft: bool,
    pub in_trash: bool,
    pub return_to: String,
}

#[derive(Template)]
#[template(path = "compose.html")]
pub(crate) struct ComposePage {
    pub nav: Nav,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub in_reply_to: String,
    pub references: String,
    /// `mailbox:uid` of the message replied to (gets `\Answered`) or forwarded.
    pub source: String,
    pub mode: String,
    /// Attachments carried over from the source (forward) or the draft, by section.
    pub carried: Vec<Attachment>,
    pub draft: String,
    pub error: Option<String>,
    pub max_size: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub(crate) struct SettingsPage {
    pub nav: Nav,
    pub display_name: String,
    pub signature: String,
    pub account_used: String,
    pub account_limit: Option<String>,
    pub account_percent: u64,
    pub domain_used: String,
    pub domain_limit: Option<String>,
    pub domain_percent: u64,
    pub notice: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ServerLine {
    pub protocol: &'static str,
    pub host: String,
    pub port: u16,
    pub security: &'static str,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub(crate) struct SetupPage {
    pub nav: Nav,
    pub servers: Vec<ServerLine>,
}

#[derive(Template)]
#[template(path = "folders.html")]
pub(crate) struct FoldersPage {
    pub nav: Nav,
    pub error: Option<String>,
}
