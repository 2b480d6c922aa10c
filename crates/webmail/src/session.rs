//! Server-side sessions: a random token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! under HTTPS) names a session that holds the account and its CSRF token, and expires after
//! a period of inactivity. Sessions live in memory: a restart logs everybody out, which is
//! what a user of Roundcube expects after a server upgrade anyway.

use crate::App;
use crate::error::WebError;
use crate::server::ConnInfo;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tern_store::AccountId;

pub(crate) const SESSION_COOKIE: &str = "tern_session";
/// Double-submit cookie that protects the login form itself against login CSRF.
pub(crate) const LOGIN_COOKIE: &str = "tern_login";

/// More sessions than this and the least recently used go first (memory stays bounded
/// however many logins an attacker makes).
const MAX_SESSIONS: usize = 100_000;

/// A random token: 256 bits, hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Compares two secrets without leaking where they first differ.
pub(crate) fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub account: AccountId,
    pub email: String,
    pub csrf: String,
    last_seen: Instant,
}

pub(crate) struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session; returns its cookie token.
    pub fn create(&self, account: AccountId, email: &str) -> String {
        let token = random_token();
        let session = Session {
            account,
            email: email.to_owned(),
            csrf: random_token(),
            last_seen: Instant::now(),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(token.clone(), session);
        token
    }

    /// The live session for `token`, refreshed; an expired one is removed.
    pub fn touch(&self, token: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let session = map.get_mut(token)?;
        if now.duration_since(session.last_seen) >= self.idle {
            map.remove(token);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// Ends every session of `account` except `keep` (after a password change).
    pub fn remove_others(&self, account: AccountId, keep: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|token, s| s.account != account || token == keep);
    }
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie<'p>(parts: &'p Parts, name: &str) -> Option<&'p str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value with the flags DESIGN.md §6 asks for.
pub(crate) fn set_cookie(name: &str, value: &str, tls: bool, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if tls {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

/// The logged-in user of a request; handlers that take it need a live session.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub account: AccountId,
    pub email: String,
    pub csrf: String,
    pub token: String,
    pub conn: ConnInfo,
}

impl User {
    /// Refuses a state-changing request whose form did not carry this session's token.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if tokens_equal(&self.csrf, token) {
            Ok(())
        } else {
            tracing::warn!(user = %self.email, "request refused: bad CSRF token");
            Err(WebError::Csrf)
        }
    }
}

impl FromRequestParts<App> for User {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<User, WebError> {
        // A session cookie sent in clear from another machine never gets here: `transport`
        // sends such requests to HTTPS before any handler runs (DESIGN.md §6).
        let conn = conn_info(parts)?;
        let token = cookie(parts, SESSION_COOKIE).ok_or(WebError::LoginRequired)?;
        let session = app.sessions.touch(token).ok_or(WebError::LoginRequired)?;
        Ok(User {
            account: session.account,
            email: session.email,
            csrf: session.csrf,
            token: token.to_owned(),
            conn,
        })
    }
}

pub(crate) fn conn_info(parts: &Parts) -> Result<ConnInfo, WebError> {
    parts
        .extensions
        .get::<ConnInfo>()
        .copied()
        .ok_or_else(|| WebError::BadRequest("no connection information".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_idle_time() {
        let sessions = Sessions::new(Duration::from_millis(30));
        let token = sessions.create(AccountId(1), "u@example.test");
        assert_eq!(
            sessions.touch(&token).map(|s| s.account),
            Some(AccountId(1))
        );
        std::thread::sleep(Duration::from_millis(40));
        assert!(sessions.touch(&token).is_none());
    }

    #[test]
    fn other_sessions_end_after_a_password_change() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let keep = sessions.create(AccountId(1), "u@example.test");
        let other = sessions.create(AccountId(1), "u@example.test");
        let stranger = sessions.create(AccountId(2), "v@example.test");
        sessions.remove_others(AccountId(1), &keep);
        assert!(sessions.touch(&keep).is_some());
        assert!(sessions.touch(&other).is_none());
        assert!(sessions.touch(&stranger).is_some());
    }

    #[test]
    fn cookies_carry_the_security_flags() {
        let plain = set_cookie(SESSION_COOKIE, "abc", false, None);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie(SESSION_COOKIE, "abc", true, None).contains("; Secure"));
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
    }
}
