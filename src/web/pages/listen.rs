//! `POST /nghe-thu`: a typed notice read aloud for the operator to hear
//! before it airs (the "Nghe thử" buttons beside the notice fields of `/`).
//! The answer is the notice's WAV; a refusal is the page's usual message
//! (JSON for the page's script, else a message on `/`).

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::now::{form_ok, non_empty};
use super::{answer, Problem};
use crate::control::Shared as AppState;
use crate::web::session::Operator;

#[derive(Deserialize)]
pub(crate) struct ListenForm {
    csrf: String,
    text: Option<String>,
}

pub(crate) async fn listen(
    State(s): State<AppState>,
    Operator(signed): Operator,
    headers: HeaderMap,
    form: Result<Form<ListenForm>, FormRejection>,
) -> Response {
    let lang = signed.lang;
    let f = match form_ok(&signed, form, |f| &f.csrf) {
        Ok(Ok(f)) => f,
        Ok(Err(p)) => return answer(&headers, "/", Err(p)),
        Err(r) => return r,
    };
    let text = non_empty(&f.text).unwrap_or_default().to_string();
    let wav = match s.listen(text).await {
        Ok(wav) => wav,
        Err(e) => return answer(&headers, "/", Err(Problem::of(lang, &e))),
    };
    let mut res = wav.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"nghe-thu.wav\""),
    );
    res
}
