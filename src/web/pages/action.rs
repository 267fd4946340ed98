//! What every control of the front page does before its work: the
//! signed-in operator, the form read and its CSRF token checked, and the
//! answer after (a flash and back to "/", or JSON for the page's script).

use std::future::Future;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Form;
use serde::de::DeserializeOwned;

use super::{answer, Problem};
use crate::control::{Caller, Shared as AppState};
use crate::web::i18n::{t, Lang};
use crate::web::session::{caller, check_csrf, Operator, Signed};

/// A form that carries the session's CSRF token.
pub(crate) trait Token {
    fn csrf(&self) -> &str;
}

/// The forms whose token is their `csrf` field.
macro_rules! token_field {
    ($($form:ty),+) => {
        $(impl $crate::web::pages::action::Token for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(super) use token_field;

/// One control's request: an operator's, with a form whose token matched
/// (a refusal is a response of its own, returned at once). `form` is the
/// page's refusal when the form could not be read.
pub(crate) struct Control<T> {
    pub signed: Signed,
    pub headers: HeaderMap,
    pub form: Result<T, Problem>,
}

impl<T> FromRequest<AppState> for Control<T>
where
    T: DeserializeOwned + Token + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Operator(signed) = Operator::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let form = match Form::<T>::from_request(Request::from_parts(parts, body), state).await {
            Ok(Form(f)) => {
                check_csrf(&signed, f.csrf())?;
                Ok(f)
            }
            // No readable form: no token either.
            Err(e) => {
                check_csrf(&signed, "")?;
                Err(Problem::bad_request(format!(
                    "{}: {}",
                    t(signed.lang, "Biểu mẫu hỏng", "The form could not be read"),
                    e.body_text()
                )))
            }
        };
        Ok(Control {
            signed,
            headers,
            form,
        })
    }
}

impl<T> Control<T> {
    /// Do `work` on a readable form, as the caller, in the reader's
    /// language, and answer with its message or its refusal.
    pub(super) async fn run<Fut>(self, work: impl FnOnce(T, Lang, Caller) -> Fut) -> Response
    where
        Fut: Future<Output = Result<String, Problem>>,
    {
        let r = match self.form {
            Ok(f) => work(f, self.signed.lang, caller(&self.signed)).await,
            Err(e) => Err(e),
        };
        answer(&self.headers, "/", r)
    }
}
