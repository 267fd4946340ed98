//! The one base layout every console page is drawn in: the header with
//! the station's sections, who is signed in, the language switch, and the
//! stylesheet and script (external files only: the Content-Security-Policy
//! allows no inline script).

use maud::{html, Markup, DOCTYPE};

use super::i18n::{t, Lang};
use super::session::{role_name, Signed};
use crate::config::Role;

/// The stylesheet and scripts every page links to (declared here, the
/// layout being what links them; the file is `src/web/assets.rs`).
#[path = "assets.rs"]
pub(crate) mod assets;

/// The sections in the header: (path, Vietnamese, English, least role).
const NAV: &[(&str, &str, &str, Role)] = &[
    ("/", "Đang phát", "On air", Role::Viewer),
    (
        "/thu-am",
        "Thu âm / Tải lên",
        "Record / Upload",
        Role::Operator,
    ),
    ("/lich", "Lịch phát", "Plan", Role::Viewer),
    ("/nhat-ky", "Nhật ký", "Ledger", Role::Viewer),
    ("/bao-cao", "Báo cáo", "Report", Role::Viewer),
    // Province staff and admins only (see `session::publishes`).
    ("/gui-ban-tin", "Gửi bản tin", "Send", Role::Province),
    ("/tai-khoan", "Tài khoản", "Accounts", Role::Admin),
];

/// Whether a section whose least role is `least` is in the header of `s`:
/// *Gửi bản tin* for province staff, and for admins of a host that sends.
fn shown(s: &Signed, least: Role) -> bool {
    match least {
        Role::Province => s.role == Role::Province || (s.sends && s.role == Role::Admin),
        _ => s.role >= least,
    }
}

/// A whole page. `title` is the page's own heading; when it is a
/// section's name, that section is marked current in the header.
pub(crate) fn page(signed: Option<&Signed>, lang: Lang, title: &str, body: Markup) -> Markup {
    let other = match lang {
        Lang::Vi => ("en", "English"),
        Lang::En => ("vi", "Tiếng Việt"),
    };
    // The header names the station the operator runs; before signing in,
    // the program.
    let brand = signed.map_or("loa", |s| s.station.as_str());
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (brand) }
                link rel="stylesheet" href=(assets::STYLE.url());
                script src=(assets::APP_JS.url()) defer {}
            }
            // What the script says when a live view or a form's answer
            // fails, in the page's language.
            body data-expired=(t(lang, "Phiên đăng nhập đã hết. Tải lại trang để đăng nhập.", "Your session ended. Reload the page to sign in."))
                data-offline=(t(lang, "Mất kết nối với đài; đang thử lại…", "Lost the connection to the station; retrying…"))
                data-failed=(t(lang, "Không gửi được: ", "Could not send: ")) {
                a class="skip" href="#noi-dung" { (t(lang, "Bỏ qua đến nội dung", "Skip to content")) }
                header class="top" {
                    div class="bar" {
                        a class="brand" href="/" { (brand) }
                        @if let Some(s) = signed {
                            span class="who" {
                                (s.user) span class="role" { " · " (role_name(lang, s.role)) }
                            }
                            form class="signout" method="post" action="/dang-xuat" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" class="link" { (t(lang, "Đăng xuất", "Sign out")) }
                            }
                        }
                        a class="lang" href={ "?lang=" (other.0) } hreflang=(other.0) lang=(other.0) { (other.1) }
                    }
                    @if let Some(s) = signed {
                        nav aria-label=(t(lang, "Các mục", "Sections")) {
                            ul {
                                @for (path, vi, en, least) in NAV {
                                    @if shown(s, *least) {
                                        @let name = t(lang, vi, en);
                                        li {
                                            a href=(path) aria-current=[(name == title).then_some("page")] { (name) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="noi-dung" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(role: Role) -> Signed {
        Signed {
            user: "<b>lan</b>".into(),
            role,
            csrf: "tok".into(),
            lang: Lang::Vi,
            station: "Đài truyền thanh xã <Thạch Hà>".into(),
            sends: false,
        }
    }

    #[test]
    fn nav_follows_the_role_and_escapes_the_user() {
        let v = page(
            Some(&signed(Role::Viewer)),
            Lang::Vi,
            "Đang phát",
            html! { p { "x" } },
        )
        .into_string();
        assert!(v.contains("&lt;b&gt;lan&lt;/b&gt;"), "{v}");
        // The header and the title name the station, escaped.
        assert!(
            v.contains(r#"class="brand" href="/">Đài truyền thanh xã &lt;Thạch Hà&gt;</a>"#),
            "{v}"
        );
        assert!(v.contains("<title>Đang phát · Đài truyền thanh xã &lt;Thạch Hà&gt;</title>"));
        assert!(v.contains(r#"href="/" aria-current="page""#), "{v}");
        assert!(!v.contains("/thu-am"));
        assert!(!v.contains("/tai-khoan"));
        assert!(v.contains(r#"<html lang="vi">"#));
        let a = page(Some(&signed(Role::Admin)), Lang::En, "On air", html! {}).into_string();
        assert!(a.contains("/thu-am") && a.contains("/tai-khoan") && a.contains("Ledger"));
        assert!(!a.contains("<script>"), "no inline script");
        // What the script says comes in the page's language.
        assert!(v.contains(r#"data-offline="Mất kết nối với đài; đang thử lại…""#));
        assert!(a.contains(r#"data-offline="Lost the connection to the station; retrying…""#));
    }
}
