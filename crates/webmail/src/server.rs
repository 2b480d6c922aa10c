//! One HTTP/1.1 connection at a time, handed over by a Tern listener (the `https` one already
//! past its TLS handshake), served with hyper and the webmail's axum router.

use crate::{App, Webmail, WebmailConfig, headers, pages, session, transport};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tern_net::Connection;
use tower::ServiceExt;

/// A client gets this long to send a request's header block (slow-loris guard); it also
/// closes idle keep-alive connections.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Ordinary form posts stay small; only compose accepts uploads up to the message size.
const FORM_BODY_LIMIT: usize = 256 * 1024;

/// Facts about the connection a request came over, for handlers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub peer: SocketAddr,
    /// HTTPS: cookies get `Secure`.
    pub tls: bool,
    /// TLS or loopback: a password may be sent (DESIGN.md §5).
    pub secure: bool,
}

/// The webmail service shared by the `http` and `https` listeners.
#[derive(Clone)]
pub struct WebmailServer {
    router: Router,
    shutdown: tern_net::Shutdown,
}

impl WebmailServer {
    pub fn new(config: WebmailConfig) -> WebmailServer {
        let shutdown = config.shutdown.clone();
        let max_upload = usize::try_from(config.max_message_size)
            .unwrap_or(usize::MAX)
            // base64 and multipart framing on top of the message size
            .saturating_mul(4)
            / 3
            + 64 * 1024;
        let app: App = Arc::new(Webmail {
            sessions: session::Sessions::new(config.session_idle),
            config,
        });
        WebmailServer {
            router: router(app, max_upload),
            shutdown,
        }
    }

    /// Serves HTTP/1.1 requests on `conn` (keep-alive) until the client goes or Tern shuts down.
    pub async fn serve(&self, conn: Connection) {
        let info = ConnInfo {
            peer: conn.peer,
            tls: conn.stream.is_tls(),
            secure: conn.is_secure(),
        };
        let _guard = conn.guard;
        let router = self.router.clone();
        let service = router.map_request(move |mut request: axum::http::Request<Incoming>| {
            request.extensions_mut().insert(info);
            request
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true)
            .max_buf_size(64 * 1024);
        let connection =
            builder.serve_connection(TokioIo::new(conn.stream), TowerToHyperService::new(service));
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "http connection ended");
                }
            }
            () = self.shutdown.cancelled() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
}

fn router(app: App, max_upload: usize) -> Router {
    let compose = Router::new()
        .route("/compose", post(pages::compose::submit))
        .layer(DefaultBodyLimit::max(max_upload));
    Router::new()
        .route("/", get(pages::mailbox::home))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/folder/{mailbox}", get(pages::mailbox::list))
        .route("/folder/{mailbox}/actions", post(pages::actions::apply))
        .route("/folder/{mailbox}/empty", post(pages::actions::empty))
        .route(
            "/folders",
            get(pages::folders::page).post(pages::folders::change),
        )
        .route("/message/{mailbox}/{uid}", get(pages::message::show))
        .route("/message/{mailbox}/{uid}/body", get(pages::message::body))
        .route(
            "/message/{mailbox}/{uid}/source",
            get(pages::message::source),
        )
        .route(
            "/message/{mailbox}/{uid}/part/{section}",
            get(pages::message::part),
        )
        .route("/compose", get(pages::compose::form))
        .route("/search", get(pages::search::results))
        .route(
            "/settings",
            get(pages::settings::page).post(pages::settings::save),
        )
        .route("/settings/password", post(pages::settings::password))
        .route("/setup", get(pages::settings::setup))
        .route("/events", get(pages::events::stream))
        .route("/static/{file}", get(crate::assets::serve))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(crate::autoconfig::thunderbird),
        )
        .route("/mail/config-v1.1.xml", get(crate::autoconfig::thunderbird))
        .route(
            "/autodiscover/autodiscover.xml",
            post(crate::autoconfig::outlook),
        )
        .route(
            "/Autodiscover/Autodiscover.xml",
            post(crate::autoconfig::outlook),
        )
        .route("/mobileconfig", get(crate::autoconfig::apple))
        .merge(compose)
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        // Before any handler: plain HTTP from another machine goes to HTTPS.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            transport::require_https,
        ))
        // Outermost, so redirects and refusals carry the security headers too.
        .layer(axum::middleware::from_fn(headers::security_headers))
        .with_state(app)
}
