//! `POST /nghe-thu`: a typed notice read aloud for the operator to hear
//! before it airs (the "Nghe thử" buttons beside the notice fields of `/`).
//! The answer is the notice's WAV; a refusal is the page's usual message
//! (JSON for the page's script, else a message on `/`).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::action::{token_field, Control};
use super::now::non_empty;
use super::{answer, Problem};
use crate::control::Shared as AppState;

#[derive(Deserialize)]
pub(crate) struct ListenForm {
    csrf: String,
    text: Option<String>,
}

token_field!(ListenForm);

pub(crate) async fn listen(State(s): State<AppState>, c: Control<ListenForm>) -> Response {
    let lang = c.signed.lang;
    let wav = match c.form {
        Ok(f) => {
            let text = non_empty(&f.text).unwrap_or_default().to_string();
            s.listen(text).await.map_err(|e| Problem::of(lang, &e))
        }
        Err(p) => Err(p),
    };
    let wav = match wav {
        Ok(wav) => wav,
        Err(p) => return answer(&c.headers, "/", Err(p)),
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
