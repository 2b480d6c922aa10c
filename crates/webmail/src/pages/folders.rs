//! Creating, renaming and deleting folders.

use super::{Fields, nav};
use crate::App;
use crate::error::{WebError, WebResult};
use crate::session::User;
use crate::templates::FoldersPage;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use tern_store::StoreError;

pub(crate) async fn page(State(app): State<App>, user: User) -> WebResult<Response> {
    let page = FoldersPage {
        nav: nav(&app, &user, None).await?,
        error: None,
    };
    Ok(Html(page.render()?).into_response())
}

pub(crate) async fn change(State(app): State<App>, user: User, body: Bytes) -> WebResult<Response> {
    let fields = Fields::checked(&body, &user)?;
    let store = &app.config.store;
    let name = fields.get("name").unwrap_or("").trim();
    let result = match fields.get("op").unwrap_or("") {
        "create" => store
            .create_mailbox(user.account, name, None, true)
            .await
            .map(|_| ()),
        "rename" => {
            let to = fields.get("to").unwrap_or("").trim();
            if to == name {
                Ok(())
            } else {
                store.rename_mailbox(user.account, name, to).await
            }
        }
        "delete" => {
            // Special folders stay: every client expects to find them.
            match store.mailbox(user.account, name).await? {
                Some(info) if info.special_use.is_some() => {
                    Err(StoreError::Forbidden("deleted (it is a special folder)"))
                }
                _ => store.delete_mailbox(user.account, name).await,
            }
        }
        other => return Err(WebError::BadRequest(format!("unknown operation {other:?}"))),
    };
    match result {
        Ok(()) => crate::redirect::see_other("/folders"),
        Err(
            error @ (StoreError::Invalid { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::NotFound { .. }
            | StoreError::HasChildren
            | StoreError::Forbidden(_)),
        ) => {
            let page = FoldersPage {
                nav: nav(&app, &user, None).await?,
                error: Some(capitalized(&error.to_string())),
            };
            Ok((StatusCode::BAD_REQUEST, Html(page.render()?)).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
