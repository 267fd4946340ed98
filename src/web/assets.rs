//! The console's stylesheet and scripts, built into the binary and served
//! under a name that carries a hash of their bytes, so a browser may keep
//! them for a year and still never runs an old copy after an upgrade.
//! Nothing comes from elsewhere: stations are often offline.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Where assets are served.
pub(crate) const PREFIX: &str = "/tai-nguyen/";

/// One built-in file.
pub(crate) struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

pub(crate) static STYLE: Asset = Asset {
    stem: "style",
    ext: "css",
    content_type: "text/css; charset=utf-8",
    bytes: include_bytes!("assets/style.css"),
};
pub(crate) static APP_JS: Asset = Asset {
    stem: "app",
    ext: "js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("assets/app.js"),
};
pub(crate) static RECORD_JS: Asset = Asset {
    stem: "thu-am",
    ext: "js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("assets/thu-am.js"),
};

static ALL: [&Asset; 3] = [&STYLE, &APP_JS, &RECORD_JS];

/// Every asset's hashed file name, computed once.
static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    ALL.iter()
        .map(|a| {
            let hash = Sha256::digest(a.bytes);
            let hex: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("{}.{hex}.{}", a.stem, a.ext)
        })
        .collect()
});

impl Asset {
    fn index(&self) -> usize {
        ALL.iter()
            .position(|a| std::ptr::eq(*a, self))
            .expect("every asset is in ALL")
    }

    /// The address to link to, e.g. `/tai-nguyen/style.1a2b3c4d5e6f.css`.
    pub(crate) fn url(&self) -> String {
        format!("{PREFIX}{}", NAMES[self.index()])
    }
}

/// `GET /tai-nguyen/{name}`: open to anyone (the sign-in page needs the
/// stylesheet), cached for a year; an old or unknown name is a 404.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    match NAMES.iter().position(|n| *n == name) {
        Some(i) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(ALL[i].content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            ALL[i].bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_a_content_hash() {
        let url = STYLE.url();
        assert!(url.starts_with("/tai-nguyen/style."), "{url}");
        assert!(url.ends_with(".css"));
        assert_eq!(url.len(), "/tai-nguyen/style..css".len() + 12);
        assert_ne!(APP_JS.url(), RECORD_JS.url());
    }
}
