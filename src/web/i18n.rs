//! The console's two languages: Vietnamese first, English for visitors
//! and developers. `?lang=en` (or `?lang=vi`) on any page switches, and
//! [`remember`] keeps the choice in a cookie for the pages after.

use axum::extract::Request;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The cookie that keeps the chosen language.
const COOKIE_NAME: &str = "loa_lang";

/// The one language type of the crate (the reason catalogue's); the
/// console adds how a page picks it.
pub(crate) use crate::reason::Lang;

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` of a query string, if it names a language.
    fn of_query(query: Option<&str>) -> Option<Lang> {
        query?
            .split('&')
            .filter_map(|kv| kv.strip_prefix("lang="))
            .find_map(Lang::parse)
    }

    /// The language of a request: `?lang=`, else the cookie, else
    /// Vietnamese.
    pub(crate) fn from_parts(parts: &Parts) -> Lang {
        Lang::of_query(parts.uri.query())
            .or_else(|| super::session::cookie(&parts.headers, COOKIE_NAME).and_then(Lang::parse))
            .unwrap_or_default()
    }
}

/// One text in the page's language.
pub(crate) fn t<'a>(lang: Lang, vi: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// Middleware: a request with `?lang=` keeps that language in a cookie.
pub(crate) async fn remember(req: Request, next: Next) -> Response {
    let chosen = Lang::of_query(req.uri().query());
    let mut res = next.run(req).await;
    if let Some(lang) = chosen {
        let cookie = format!(
            "{COOKIE_NAME}={}; Path=/; Max-Age=31536000; SameSite=Strict",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::COOKIE;

    fn parts(uri: &str, cookie: Option<&str>) -> Parts {
        let mut b = axum::http::Request::builder().uri(uri);
        if let Some(c) = cookie {
            b = b.header(COOKIE, c);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn query_then_cookie_then_vietnamese() {
        assert_eq!(Lang::from_parts(&parts("/", None)), Lang::Vi);
        assert_eq!(Lang::from_parts(&parts("/?lang=en", None)), Lang::En);
        assert_eq!(
            Lang::from_parts(&parts("/", Some("a=b; loa_lang=en"))),
            Lang::En
        );
        assert_eq!(
            Lang::from_parts(&parts("/?x=1&lang=vi", Some("loa_lang=en"))),
            Lang::Vi
        );
        assert_eq!(Lang::from_parts(&parts("/?lang=fr", None)), Lang::Vi);
        assert_eq!(t(Lang::En, "Đang phát", "On air"), "On air");
    }
}
