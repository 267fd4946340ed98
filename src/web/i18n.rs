//! The console's two languages: Vietnamese first, English with `?lang=en`
//! (remembered in a cookie).

use axum::http::request::Parts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `?lang=en|vi` first, then the `lang` cookie, else Vietnamese.
    pub(crate) fn from_parts(parts: &Parts) -> Lang {
        let query = parts.uri.query().unwrap_or("");
        let from_query = query.split('&').find_map(|kv| match kv {
            "lang=en" => Some(Lang::En),
            "lang=vi" => Some(Lang::Vi),
            _ => None,
        });
        from_query
            .or_else(|| {
                super::session::cookie(&parts.headers, "lang").map(|v| {
                    if v == "en" {
                        Lang::En
                    } else {
                        Lang::Vi
                    }
                })
            })
            .unwrap_or_default()
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// The text in `lang`.
pub(crate) fn t<'a>(lang: Lang, vi: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}
