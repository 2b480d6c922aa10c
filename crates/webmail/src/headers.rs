//! Security headers on every response (DESIGN.md §6). A handler that needs a different policy
//! (the sandboxed message body) sets its own Content-Security-Policy; the rest are forced.

use crate::server::ConnInfo;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The pages' policy: only our own scripts, styles and images; frames only from us (the
/// message body); forms only to us; never framed by anyone (clickjacking).
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// HSTS (RFC 6797 §6.1): browsers go straight to HTTPS for a year. No `includeSubDomains`:
/// the hostname may share its parent domain with sites that are not HTTPS.
pub(crate) const HSTS: &str = "max-age=31536000";

pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    // RFC 6797 §7.2: HSTS only over a secure transport; browsers ignore it over HTTP anyway.
    let tls = request
        .extensions()
        .get::<ConnInfo>()
        .is_some_and(|conn| conn.tls);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    // W3C Server Timing: how long the handler took (what the benchmark reports).
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={millis:.2}")) {
        headers.insert("server-timing", value);
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(PAGE_CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}
