//! Log in and out. The login form is protected against login CSRF with a double-submit token
//! (a cookie and a hidden field that must match); the password check is the one login path of
//! the auth crate, with its throttling and delays.

use super::Fields;
use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::{self, LOGIN_COOKIE, SESSION_COOKIE, User, conn_info, cookie, random_token};
use crate::templates::LoginPage;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tern_auth::LoginError;

/// Longest address or password we look at (RFC 5321 §4.5.3.1.3 paths are at most 256).
const MAX_FIELD: usize = 1024;

fn login_page(
    error: Option<String>,
    email: &str,
    tls: bool,
    status: StatusCode,
) -> WebResult<Response> {
    let token = random_token();
    let page = LoginPage {
        error,
        email: email.to_owned(),
        login_token: token.clone(),
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = session::set_cookie(LOGIN_COOKIE, &token, tls, Some(3600)).parse() {
        headers.insert(SET_COOKIE, value);
    }
    Ok((status, headers, Html(page.render()?)).into_response())
}

pub(crate) async fn form(State(app): State<App>, parts: Parts) -> WebResult<Response> {
    // Passwords never cross a plain connection from another machine: `transport` sends such
    // requests to HTTPS before this runs.
    let conn = conn_info(&parts)?;
    if let Some(token) = cookie(&parts, SESSION_COOKIE)
        && app.sessions.touch(token).is_some()
    {
        return crate::redirect::see_other("/");
    }
    login_page(None, "", conn.tls, StatusCode::OK)
}

pub(crate) async fn submit(
    State(app): State<App>,
    parts: Parts,
    body: Bytes,
) -> WebResult<Response> {
    // A password posted in clear from another machine never gets here (`transport` answers
    // with a redirect to the HTTPS home page, not a replay of the form).
    let conn = conn_info(&parts)?;
    let fields = Fields::parse(&body);
    let email = fields.get("email").unwrap_or("").trim();
    let password = fields.get("password").unwrap_or("");
    let expected = cookie(&parts, LOGIN_COOKIE).unwrap_or("");
    let sent = fields.get("login_token").unwrap_or("");
    if expected.is_empty() || !session::tokens_equal(expected, sent) {
        return login_page(
            Some("Your login form had expired. Please try again.".into()),
            email,
            conn.tls,
            StatusCode::FORBIDDEN,
        );
    }
    if email.len() > MAX_FIELD || password.len() > MAX_FIELD || email.is_empty() {
        return login_page(
            Some("Wrong address or password.".into()),
            "",
            conn.tls,
            StatusCode::UNAUTHORIZED,
        );
    }
    match app.config.auth.login(email, password, conn.peer.ip()).await {
        Ok(account) => {
            let token = app.sessions.create(account.id, &account.email);
            tracing::info!(user = %account.email, peer = %conn.peer, "webmail login");
            let mut headers = HeaderMap::new();
            for cookie in [
                session::set_cookie(SESSION_COOKIE, &token, conn.tls, None),
                session::set_cookie(LOGIN_COOKIE, "", conn.tls, Some(0)),
            ] {
                if let Ok(value) = cookie.parse() {
                    headers.append(SET_COOKIE, value);
                }
            }
            Ok((
                StatusCode::SEE_OTHER,
                headers,
                [(axum::http::header::LOCATION, "/")],
            )
                .into_response())
        }
        Err(LoginError::Failed) => login_page(
            Some("Wrong address or password.".into()),
            email,
            conn.tls,
            StatusCode::UNAUTHORIZED,
        ),
        Err(LoginError::Throttled { retry_after }) => login_page(
            Some(format!(
                "Too many failed attempts. Please wait {} seconds and try again.",
                retry_after.as_secs().max(1)
            )),
            email,
            conn.tls,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(LoginError::Store(e)) => Err(WebError::Store(e)),
    }
}

pub(crate) async fn logout(State(app): State<App>, user: User, body: Bytes) -> WebResult<Response> {
    Fields::checked(&body, &user)?;
    app.sessions.remove(&user.token);
    let cookie = session::set_cookie(SESSION_COOKIE, "", user.conn.tls, Some(0));
    Ok((
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, cookie.as_str()),
            (axum::http::header::LOCATION, "/login"),
        ],
    )
        .into_response())
}
