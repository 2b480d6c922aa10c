//! Settings: display name, signature, password change (old password required), the quota
//! bar, and the mail client set-up page.

use super::{Fields, human_size, nav};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::templates::{ServerLine, SettingsPage, SetupPage};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tern_auth::LoginError;

pub(crate) const DISPLAY_NAME: &str = "webmail.display_name";
pub(crate) const SIGNATURE: &str = "webmail.signature";
const MAX_DISPLAY_NAME: usize = 200;
const MAX_SIGNATURE: usize = 4000;
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct SettingsQuery {
    notice: Option<String>,
}

fn percent(used: u64, limit: Option<u64>) -> u64 {
    match limit {
        Some(limit) if limit > 0 => (used.saturating_mul(100) / limit).min(100),
        _ => 0,
    }
}

async fn settings_page(
    app: &App,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> WebResult<SettingsPage> {
    let store = &app.config.store;
    let quota = store.quota(user.account).await?;
    Ok(SettingsPage {
        nav: nav(app, user, None).await?,
        display_name: store
            .account_setting(user.account, DISPLAY_NAME)
            .await?
            .unwrap_or_default(),
        signature: store
            .account_setting(user.account, SIGNATURE)
            .await?
            .unwrap_or_default(),
        account_used: human_size(quota.account_used),
        account_limit: quota.account_limit.map(human_size),
        account_percent: percent(quota.account_used, quota.account_limit),
        domain_used: human_size(quota.domain_used),
        domain_limit: quota.domain_limit.map(human_size),
        domain_percent: percent(quota.domain_used, quota.domain_limit),
        notice,
        error,
    })
}

pub(crate) async fn page(
    State(app): State<App>,
    user: User,
    Query(query): Query<SettingsQuery>,
) -> WebResult<Response> {
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("Settings saved.".to_owned()),
        Some("password") => Some("Password changed.".to_owned()),
        _ => None,
    };
    Ok(Html(settings_page(&app, &user, notice, None).await?.render()?).into_response())
}

pub(crate) async fn save(State(app): State<App>, user: User, body: Bytes) -> WebResult<Response> {
    let fields = Fields::checked(&body, &user)?;
    let clean = |value: &str, max: usize| -> Option<String> {
        let value: String = value.trim().chars().take(max).collect();
        (!value.is_empty()).then_some(value)
    };
    // A display name goes into From: no line breaks (header injection).
    let name = clean(fields.get("display_name").unwrap_or(""), MAX_DISPLAY_NAME)
        .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>());
    let signature = clean(
        &fields.get("signature").unwrap_or("").replace("\r\n", "\n"),
        MAX_SIGNATURE,
    );
    let store = &app.config.store;
    store
        .set_account_setting(user.account, DISPLAY_NAME, name.as_deref())
        .await?;
    store
        .set_account_setting(user.account, SIGNATURE, signature.as_deref())
        .await?;
    crate::redirect::see_other("/settings?notice=saved")
}

pub(crate) async fn password(
    State(app): State<App>,
    user: User,
    body: Bytes,
) -> WebResult<Response> {
    let fields = Fields::checked(&body, &user)?;
    let old = fields.get("old").unwrap_or("");
    let new = fields.get("new").unwrap_or("");
    let refuse = |message: &str| -> WebResult<Option<String>> { Ok(Some(message.to_owned())) };
    let problem = if new != fields.get("again").unwrap_or("") {
        refuse("The new passwords do not match.")?
    } else if new.chars().count() < MIN_PASSWORD || new.len() > MAX_PASSWORD {
        refuse("The new password must have at least 8 characters.")?
    } else {
        // The old password goes through the one login path: throttled like any login.
        match app
            .config
            .auth
            .login(&user.email, old, user.conn.peer.ip())
            .await
        {
            Ok(_) => None,
            Err(LoginError::Failed) => refuse("The current password is wrong.")?,
            Err(LoginError::Throttled { .. }) => {
                refuse("Too many failed attempts; try again later.")?
            }
            Err(LoginError::Store(e)) => return Err(WebError::Store(e)),
        }
    };
    if let Some(message) = problem {
        let page = settings_page(&app, &user, None, Some(message)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let new_owned = new.to_owned();
    let hash = tokio::task::spawn_blocking(move || tern_auth::hash_password(&new_owned))
        .await
        .map_err(|e| WebError::BadRequest(e.to_string()))?
        .map_err(|e| WebError::BadRequest(e.to_string()))?;
    app.config
        .store
        .set_password_hash(&user.email, &hash)
        .await?;
    // Whoever else was logged in with the old password is logged out.
    app.sessions.remove_others(user.account, &user.token);
    tracing::info!(user = %user.email, "password changed in webmail");
    crate::redirect::see_other("/settings?notice=password")
}

pub(crate) async fn setup(State(app): State<App>, user: User) -> WebResult<Response> {
    let setup = &app.config.setup;
    let host = setup.hostname.clone();
    let line = |protocol, port: Option<u16>, security| {
        port.map(|port| ServerLine {
            protocol,
            host: host.clone(),
            port,
            security,
        })
    };
    let servers = [
        line("IMAP", setup.imaps, "SSL/TLS"),
        line("IMAP", setup.imap, "STARTTLS"),
        line("POP3", setup.pop3s, "SSL/TLS"),
        line("POP3", setup.pop3, "STARTTLS"),
        line("SMTP (sending)", setup.submissions, "SSL/TLS"),
        line("SMTP (sending)", setup.submission, "STARTTLS"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let page = SetupPage {
        nav: nav(&app, &user, None).await?,
        servers,
    };
    Ok(Html(page.render()?).into_response())
}
