//! Every `Location` the webmail sends goes through here. A client-supplied target (a form's
//! `return_to`) is followed only if it is a path on this origin; the HTTP -> HTTPS redirect
//! is built from the configured hostname and the bound HTTPS port, never from the request's
//! `Host:` header.
//!
//! Why so strict: browsers resolve `Location` with the WHATWG URL parser, which first strips
//! leading C0 controls and spaces and removes every tab, CR and LF anywhere, then treats `\`
//! like `/` in special schemes. So `/\t/evil.example/` becomes `//evil.example/`, a
//! scheme-relative URL to another host (RFC 3986 §4.2). Accepting only visible ASCII, one
//! leading `/` and no backslash leaves nothing the parser can turn into another origin.

use crate::error::{WebError, WebResult};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Longer than any path the webmail itself links to; a longer `return_to` is not ours.
pub(crate) const MAX_LOCAL_PATH: usize = 2048;

/// Why a redirect target was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UnsafeTarget {
    #[error("the return address is empty")]
    Empty,
    #[error("the return address is too long")]
    TooLong,
    /// Controls (C0, DEL, C1), space, or anything outside ASCII: browsers drop or rewrite
    /// some of these while parsing, and header values must not carry them.
    #[error("the return address has characters a path may not have")]
    BadCharacter,
    /// `https://…`, `javascript:…`, `evil.example`: not an absolute path.
    #[error("the return address is not a path on this site")]
    NotAPath,
    /// `//host/…` is a network-path reference to another host (RFC 3986 §4.2).
    #[error("the return address leads to another site")]
    OtherHost,
    /// Browsers read `\` as `/`, so `/\host` is `//host`.
    #[error("the return address has a backslash")]
    Backslash,
}

/// `candidate` if a browser would resolve it to a path on the webmail's own origin.
pub(crate) fn local_path(candidate: &str) -> Result<&str, UnsafeTarget> {
    if candidate.is_empty() {
        return Err(UnsafeTarget::Empty);
    }
    if candidate.len() > MAX_LOCAL_PATH {
        return Err(UnsafeTarget::TooLong);
    }
    if !candidate.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UnsafeTarget::BadCharacter);
    }
    if candidate.contains('\\') {
        return Err(UnsafeTarget::Backslash);
    }
    let Some(rest) = candidate.strip_prefix('/') else {
        return Err(UnsafeTarget::NotAPath);
    };
    if rest.starts_with('/') {
        return Err(UnsafeTarget::OtherHost);
    }
    Ok(candidate)
}

/// Where to go after a form post: the form's `return_to` if it is local, `fallback` if the
/// form sent none. A hostile one is refused (400) before the handler changes anything.
pub(crate) fn return_to(sent: Option<&str>, fallback: String) -> WebResult<String> {
    match sent {
        None | Some("") => Ok(fallback),
        Some(candidate) => match local_path(candidate) {
            Ok(path) => Ok(path.to_owned()),
            Err(why) => {
                tracing::warn!(%why, "webmail: return address refused");
                Err(WebError::BadRequest(why.to_string()))
            }
        },
    }
}

/// A `303 See Other` to a local path (RFC 9110 §15.4.4: the browser follows with GET).
pub(crate) fn see_other(path: &str) -> WebResult<Response> {
    let path = local_path(path).map_err(|why| WebError::BadRequest(why.to_string()))?;
    Ok(with_location(StatusCode::SEE_OTHER, path))
}

/// `https://HOST[:PORT]`, from the configured hostname and the bound HTTPS port; `None` if the
/// hostname is not a plain DNS name or IP literal (it would not make a safe URL).
pub(crate) fn https_origin(hostname: &str, port: u16) -> Option<String> {
    let host = hostname.trim_end_matches('.');
    let plausible = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    if !plausible {
        return None;
    }
    // 443 is the default for https (RFC 9110 §4.2.2): leave it out.
    Some(if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    })
}

/// The same page on HTTPS: `origin` + the request's path and query if local, else `/`.
pub(crate) fn to_https(origin: &str, path_and_query: &str, status: StatusCode) -> Response {
    let path = local_path(path_and_query).unwrap_or("/");
    with_location(status, &format!("{origin}{path}"))
}

fn with_location(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (status, [(header::LOCATION, value)]).into_response(),
        // Unreachable for checked paths; never panic on a header value.
        Err(_) => WebError::BadRequest("bad redirect".into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_targets_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_LOCAL_PATH));
        let table: &[(&str, UnsafeTarget)] = &[
            ("", UnsafeTarget::Empty),
            ("//evil.example/", UnsafeTarget::OtherHost),
            ("///evil.example/", UnsafeTarget::OtherHost),
            ("/\\evil.example/", UnsafeTarget::Backslash),
            ("\\\\evil.example/", UnsafeTarget::Backslash),
            ("\\evil.example", UnsafeTarget::Backslash),
            ("/folder/1\\..\\", UnsafeTarget::Backslash),
            ("/\t/evil.example/", UnsafeTarget::BadCharacter),
            ("/\r/evil.example/", UnsafeTarget::BadCharacter),
            ("/\n/evil.example/", UnsafeTarget::BadCharacter),
            ("/\0/evil.example/", UnsafeTarget::BadCharacter),
            ("/\x0b/evil.example/", UnsafeTarget::BadCharacter),
            ("/\x1f/evil.example/", UnsafeTarget::BadCharacter),
            ("/\x7f/evil.example/", UnsafeTarget::BadCharacter),
            ("/\u{85}/evil.example/", UnsafeTarget::BadCharacter),
            ("/\u{9f}x", UnsafeTarget::BadCharacter),
            ("/\u{ff0f}evil.example", UnsafeTarget::BadCharacter),
            (" //evil.example/", UnsafeTarget::BadCharacter),
            ("/ /evil.example/", UnsafeTarget::BadCharacter),
            ("\t//evil.example/", UnsafeTarget::BadCharacter),
            ("/folder/1\r\nSet-Cookie: x=y", UnsafeTarget::BadCharacter),
            ("https://evil.example/", UnsafeTarget::NotAPath),
            ("http:evil.example", UnsafeTarget::NotAPath),
            ("HTTPS://evil.example", UnsafeTarget::NotAPath),
            ("javascript:alert(1)", UnsafeTarget::NotAPath),
            ("data:text/html,x", UnsafeTarget::NotAPath),
            ("evil.example", UnsafeTarget::NotAPath),
            ("?next=//evil", UnsafeTarget::NotAPath),
            ("#x", UnsafeTarget::NotAPath),
            (&long, UnsafeTarget::TooLong),
        ];
        for (candidate, why) in table {
            assert_eq!(local_path(candidate), Err(*why), "{candidate:?}");
        }
    }

    #[test]
    fn local_paths_are_kept_as_sent() {
        for path in [
            "/",
            "/folder/3?page=2&sort=date",
            "/message/3/7",
            "/%2F/evil.example/",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/search?q=a%20b&next=//evil.example",
            "/folder/1#top",
        ] {
            assert_eq!(local_path(path), Ok(path));
        }
        let longest = format!("/{}", "a".repeat(MAX_LOCAL_PATH - 1));
        assert_eq!(local_path(&longest), Ok(longest.as_str()));
    }

    #[test]
    fn return_to_falls_back_only_when_none_was_sent() {
        assert_eq!(
            return_to(None, "/folder/1".into()).ok(),
            Some("/folder/1".into())
        );
        assert_eq!(
            return_to(Some(""), "/folder/1".into()).ok(),
            Some("/folder/1".into())
        );
        assert_eq!(
            return_to(Some("/folder/2"), "/x".into()).ok(),
            Some("/folder/2".into())
        );
        assert!(matches!(
            return_to(Some("/\t/evil.example/"), "/".into()),
            Err(WebError::BadRequest(_))
        ));
    }

    #[test]
    fn see_other_never_panics_on_a_bad_path() {
        assert_eq!(
            see_other("/folder/1").map(|r| r.status()).ok(),
            Some(StatusCode::SEE_OTHER)
        );
        assert!(see_other("/\n").is_err());
        assert!(see_other("//evil.example").is_err());
    }

    #[test]
    fn https_origin_comes_from_the_configured_name() {
        assert_eq!(
            https_origin("mail.example.org", 2096).as_deref(),
            Some("https://mail.example.org:2096")
        );
        assert_eq!(
            https_origin("mail.example.org.", 443).as_deref(),
            Some("https://mail.example.org")
        );
        assert_eq!(https_origin("evil.example/x", 443), None);
        assert_eq!(https_origin("a@evil.example", 443), None);
        assert_eq!(https_origin("", 443), None);
    }

    #[test]
    fn https_redirect_keeps_only_a_local_path() {
        let location = |path: &str| {
            to_https(
                "https://mail.test:2096",
                path,
                StatusCode::MOVED_PERMANENTLY,
            )
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        };
        assert_eq!(
            location("/folder/1?page=2").as_deref(),
            Some("https://mail.test:2096/folder/1?page=2")
        );
        assert_eq!(
            location("//evil.example/").as_deref(),
            Some("https://mail.test:2096/")
        );
    }
}
