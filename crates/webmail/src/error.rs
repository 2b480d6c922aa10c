//! What can go wrong while answering a request, and the page each failure shows.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use tern_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or it expired: back to the login page.
    #[error("not logged in")]
    LoginRequired,
    /// A state-changing request without the session's CSRF token.
    #[error("the form was stale or forged; reload the page and try again")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("page rendering failed: {0}")]
    Template(#[from] askama::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::LoginRequired => return Redirect::to("/login").into_response(),
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
            WebError::Store(StoreError::OverQuota { .. }) => StatusCode::INSUFFICIENT_STORAGE,
            WebError::Store(StoreError::Invalid { .. } | StoreError::AlreadyExists { .. }) => {
                StatusCode::BAD_REQUEST
            }
            WebError::Store(_) | WebError::Template(_) => {
                tracing::error!(error = %self, "webmail request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match status {
            StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on the server.".to_owned(),
            _ => self.to_string(),
        };
        let page = crate::templates::ErrorPage {
            status: status.as_u16(),
            message,
        };
        let body = askama::Template::render(&page).unwrap_or_else(|_| "error".to_owned());
        (status, Html(body)).into_response()
    }
}

pub type WebResult<T> = Result<T, WebError>;
