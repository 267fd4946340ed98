//! The one base layout every page is put in.

use maud::{html, Markup, DOCTYPE};

use super::i18n::{t, Lang};
use super::session::Signed;

/// A whole page: `title`, the signed-in user's bar (when any), `body`.
pub(crate) fn page(lang: Lang, title: &str, signed: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — loa" }
            }
            body {
                header {
                    @if let Some(s) = signed {
                        span { (s.user) " (" (s.role) ")" }
                        " "
                        form method="post" action="/dang-xuat" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { (t(lang, "Đăng xuất", "Sign out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}
