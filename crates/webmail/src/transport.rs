//! Which requests are answered over plain HTTP. Over TLS, or from loopback (local use, a
//! TLS-terminating proxy on the same machine, the tests), everything is. From any other
//! machine over plain HTTP only the autoconfig documents are: mail programs fetch them over
//! HTTP on purpose and they hold no secret. Every other request is sent to HTTPS before a
//! handler runs, so no page is served and no session cookie honoured in clear
//! (DESIGN.md §5, §6).

use crate::redirect;
use crate::server::ConnInfo;
use crate::{App, ClientSetup};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths served over plain HTTP from anywhere: Thunderbird autoconfig and Outlook
/// autodiscover, which clients look up before they know anything about TLS here.
const PLAIN_PATHS: [&str; 4] = [
    "/.well-known/autoconfig/mail/config-v1.1.xml",
    "/mail/config-v1.1.xml",
    "/autodiscover/autodiscover.xml",
    "/Autodiscover/Autodiscover.xml",
];

/// What to do with a request, from how it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// TLS, loopback, or a document meant for plain HTTP.
    Serve,
    /// Plain HTTP from another machine: off to HTTPS.
    UpgradeToHttps,
}

pub(crate) fn decide(conn: ConnInfo, path: &str) -> Transport {
    if conn.secure || PLAIN_PATHS.contains(&path) {
        Transport::Serve
    } else {
        Transport::UpgradeToHttps
    }
}

pub(crate) async fn require_https(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    let conn = request.extensions().get::<ConnInfo>().copied();
    let decision = conn.map_or(Transport::UpgradeToHttps, |conn| {
        decide(conn, request.uri().path())
    });
    match decision {
        Transport::Serve => next.run(request).await,
        Transport::UpgradeToHttps => {
            let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
            upgrade(&app.config.setup, request.method(), path)
        }
    }
}

/// A GET or HEAD goes to the same page on HTTPS (301). Anything else came from a form that a
/// page over plain HTTP showed, which we never serve, or from a forger: it is not replayed
/// (a 307/308 would resend a password or a CSRF token), only pointed at the HTTPS site.
fn upgrade(setup: &ClientSetup, method: &Method, path: &str) -> Response {
    let Some(origin) = setup
        .https
        .and_then(|port| redirect::https_origin(&setup.hostname, port))
    else {
        return (
            StatusCode::FORBIDDEN,
            "This webmail is only served over HTTPS, which is not enabled.\n",
        )
            .into_response();
    };
    if method == Method::GET || method == Method::HEAD {
        redirect::to_https(&origin, path, StatusCode::MOVED_PERMANENTLY)
    } else {
        redirect::to_https(&origin, "/", StatusCode::SEE_OTHER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use std::net::SocketAddr;

    fn conn(peer: &str, tls: bool) -> ConnInfo {
        let peer: SocketAddr = peer.parse().expect("test address");
        ConnInfo {
            peer,
            tls,
            secure: tls || peer.ip().to_canonical().is_loopback(),
        }
    }

    #[test]
    fn plain_http_off_loopback_is_upgraded_except_autoconfig() {
        let remote = conn("192.0.2.7:5000", false);
        for path in [
            "/",
            "/login",
            "/folder/1",
            "/events",
            "/static/app.css",
            "/mobileconfig",
        ] {
            assert_eq!(decide(remote, path), Transport::UpgradeToHttps, "{path}");
        }
        for path in PLAIN_PATHS {
            assert_eq!(decide(remote, path), Transport::Serve, "{path}");
        }
    }

    #[test]
    fn tls_and_loopback_are_served() {
        for conn in [
            conn("192.0.2.7:5000", true),
            conn("127.0.0.1:5000", false),
            conn("[::1]:5000", false),
            conn("[::ffff:127.0.0.1]:5000", false),
        ] {
            assert_eq!(decide(conn, "/folder/1"), Transport::Serve, "{conn:?}");
        }
    }

    fn setup(hostname: &str, https: Option<u16>) -> ClientSetup {
        ClientSetup {
            hostname: hostname.into(),
            https,
            ..ClientSetup::default()
        }
    }

    fn location(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }

    #[test]
    fn the_upgrade_names_the_configured_host_and_port() {
        let setup = setup("mail.example.org", Some(2096));
        let get = upgrade(&setup, &Method::GET, "/folder/1?page=2");
        assert_eq!(get.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            location(&get),
            Some("https://mail.example.org:2096/folder/1?page=2")
        );
        let post = upgrade(&setup, &Method::POST, "/login");
        assert_eq!(post.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&post), Some("https://mail.example.org:2096/"));
    }

    #[test]
    fn without_https_nothing_is_served_in_clear() {
        let response = upgrade(&setup("mail.example.org", None), &Method::GET, "/");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(location(&response), None);
    }
}
