//! Signing in and out (`/dang-nhap`, `/dang-xuat`) and the first start
//! (`/thiet-lap`): the one-time link `loa run` prints while no admin exists.

use axum::extract::{Form, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::accounts::{self, SignIn};
use super::i18n::{t, Lang};
use super::layout;
use super::session::{
    self, check_csrf, client_addr, is_https, message_page, safe_next, server_error, session_cookie,
    stale_form, PreSession, SessionId, Signed,
};
use crate::config::Role;
use crate::control::Shared as AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dang-nhap", get(sign_in_page).post(sign_in))
        .route("/dang-xuat", axum::routing::post(sign_out))
        .route("/thiet-lap", get(setup_page).post(setup))
}

/// What a request tells about its sender, taken before the body.
struct Client {
    lang: Lang,
    addr: String,
    agent: String,
    https: bool,
    accounts: std::sync::Arc<accounts::Accounts>,
    /// The CSRF token of the forms before a session (sign-in, first start).
    pre: PreSession,
}

impl Client {
    /// A page with one of the forms before a session, keeping the
    /// pre-session nonce in the browser if it has none.
    fn form_page(&self, status: StatusCode, page: Markup) -> Response {
        let mut r = (status, page).into_response();
        if let Some(c) = self.pre.set_cookie(self.https) {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        r
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = Lang::from_parts(parts);
        let accounts = session::accounts(parts)?;
        let pre = PreSession::of(&parts.headers, &accounts)
            .await
            .map_err(|e| server_error(lang, &format!("{e:#}")))?;
        Ok(Client {
            lang,
            addr: client_addr(parts),
            agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            https: is_https(parts, state),
            accounts,
            pre,
        })
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct NextQuery {
    #[serde(default)]
    next: String,
}

/// What the sign-in page tells before its form.
enum Notice<'a> {
    None,
    /// Why the last attempt failed.
    Error(&'a str),
    /// No admin exists yet: where to begin.
    FirstStart,
}

/// The sign-in page's title and button.
const SIGN_IN: (&str, &str) = ("Đăng nhập", "Sign in");

/// The sign-in page.
fn sign_in_form(client: &Client, next: &str, name: &str, notice: Notice<'_>) -> Markup {
    let lang = client.lang;
    signed_out_page(
        lang,
        SIGN_IN,
        html! {
            @match notice {
                Notice::None => {},
                Notice::Error(e) => p role="alert" class="flash err" { (e) },
                Notice::FirstStart => p class="flash ok" role="status" {
                    (t(lang, "Đài chưa có quản trị viên. ", "The station has no admin yet. "))
                    a href={ "/thiet-lap" @if lang == Lang::En { "?lang=en" } } {
                        (t(lang, "Xem cách tạo quản trị viên đầu tiên", "See how to make the first admin"))
                    }
                },
            }
            form method="post" class="card stack" action={ "/dang-nhap" @if lang == Lang::En { "?lang=en" } } {
                (form_head(client, ("next", next), name))
                p {
                    label for="password" { (t(lang, "Mật khẩu", "Password")) }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                }
                p { button type="submit" class="btn big" { (t(lang, SIGN_IN.0, SIGN_IN.1)) } }
            }
        },
    )
}

async fn sign_in_page(client: Client, Query(q): Query<NextQuery>) -> Response {
    let lang = client.lang;
    // A new station: nobody can manage it yet, so say how to begin.
    let notice = match client
        .accounts
        .run(|s| Ok(s.ledger.enabled_admins()?))
        .await
    {
        Ok(0) => Notice::FirstStart,
        Ok(_) => Notice::None,
        Err(e) => return server_error(lang, &format!("{e:#}")),
    };
    client.form_page(
        StatusCode::OK,
        sign_in_form(&client, safe_next(&q.next), "", notice),
    )
}

#[derive(Deserialize)]
struct SignInForm {
    name: String,
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(client: Client, Form(f): Form<SignInForm>) -> Response {
    let lang = client.lang;
    let next = safe_next(&f.next).to_string();
    let (name, password) = (f.name.trim().to_string(), f.password);
    if !client.pre.accepts(&f.csrf) {
        let e = stale_form(lang);
        let page = sign_in_form(&client, &next, &name, Notice::Error(e));
        return client.form_page(StatusCode::FORBIDDEN, page);
    }
    let result = client
        .accounts
        .sign_in(Utc::now(), &name, password, &client.addr, &client.agent)
        .await;
    match result {
        Ok(SignIn::Ok { cookie }) => {
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(Some(&cookie), client.https),
            );
            r
        }
        Ok(SignIn::Refused) => {
            let e = t(
                lang,
                "Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đã bị khoá).",
                "Wrong user name or password (or the user is disabled).",
            );
            let page = sign_in_form(&client, &next, &name, Notice::Error(e));
            client.form_page(StatusCode::UNAUTHORIZED, page)
        }
        Ok(SignIn::Wait(secs)) => {
            let e = match lang {
                Lang::Vi => format!(
                    "Đã đăng nhập (hoặc nhập sai) quá nhiều lần. Hãy đợi {secs} giây rồi thử lại; \
                     nếu quên mật khẩu, hãy nhờ quản trị viên đặt lại."
                ),
                Lang::En => format!(
                    "Too many sign-ins (or failed ones). Wait {secs} seconds and try again; if \
                     you forgot the password, ask the admin to reset it."
                ),
            };
            let page = sign_in_form(&client, &next, &name, Notice::Error(&e));
            retry_after(
                client.form_page(StatusCode::TOO_MANY_REQUESTS, page),
                secs.unsigned_abs(),
            )
        }
        Ok(SignIn::Busy(secs)) => {
            let e = match lang {
                Lang::Vi => format!(
                    "Đài đang bận kiểm tra các lần đăng nhập khác. Hãy đợi {secs} giây rồi thử lại."
                ),
                Lang::En => format!(
                    "The station is busy checking other sign-ins. Wait {secs} seconds and try again."
                ),
            };
            let page = sign_in_form(&client, &next, &name, Notice::Error(&e));
            retry_after(
                client.form_page(StatusCode::SERVICE_UNAVAILABLE, page),
                secs,
            )
        }
        Err(e) => server_error(lang, &format!("{e:#}")),
    }
}

/// `r` with `Retry-After: secs`.
fn retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut().insert(
        header::RETRY_AFTER,
        secs.to_string().parse().expect("digits"),
    );
    r
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    signed: Signed,
    Extension(SessionId(id)): Extension<SessionId>,
    client: Client,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = check_csrf(&signed, &f.csrf) {
        return r;
    }
    let (user, addr) = (signed.user.clone(), client.addr);
    let done = client
        .accounts
        .run(move |s| {
            s.ledger.end_session(&id)?;
            s.ledger
                .audit(&user, "sign-out", &format!("from {addr}"), "ok")?;
            Ok(())
        })
        .await;
    if let Err(e) = done {
        return server_error(signed.lang, &format!("{e:#}"));
    }
    let to = if signed.lang == Lang::En {
        "/dang-nhap?lang=en"
    } else {
        "/dang-nhap"
    };
    let mut r = Redirect::to(to).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(None, client.https));
    r
}

#[derive(Deserialize, Default)]
struct SetupQuery {
    #[serde(default)]
    ma: String,
}

/// What the sign-in and first-start forms open with: the pre-session's
/// token, one more hidden field (`key`, `value`), and the user name field.
fn form_head(client: &Client, (key, value): (&str, &str), name: &str) -> Markup {
    let lang = client.lang;
    html! {
        input type="hidden" name="csrf" value=(client.pre.token);
        input type="hidden" name=(key) value=(value);
        p {
            label for="name" { (t(lang, "Tên đăng nhập", "User name")) }
            input id="name" name="name" type="text" autocomplete="username" required value=(name);
        }
    }
}

/// The first-start pages' title.
const FIRST_START: (&str, &str) = ("Thiết lập lần đầu", "First start");

fn setup_form(client: &Client, code: &str, name: &str, error: Option<&str>) -> Markup {
    let lang = client.lang;
    signed_out_page(
        lang,
        FIRST_START,
        html! {
            p { (t(lang,
                "Tạo tài khoản quản trị viên đầu tiên của đài. Sau đó, quản trị viên thêm các tài khoản khác ở trang Tài khoản.",
                "Create the station's first admin. The admin then adds the other users on the Users page.")) }
            @if let Some(e) = error {
                p role="alert" class="flash err" { (e) }
            }
            form method="post" class="card stack" action={ "/thiet-lap" @if lang == Lang::En { "?lang=en" } } {
                (form_head(client, ("ma", code), name))
                p {
                    label for="password" { (t(lang, "Mật khẩu (ít nhất 8 ký tự)", "Password (at least 8 characters)")) }
                    input id="password" name="password" type="password" autocomplete="new-password" required minlength="8";
                }
                p {
                    label for="password2" { (t(lang, "Nhập lại mật khẩu", "Password again")) }
                    input id="password2" name="password2" type="password" autocomplete="new-password" required minlength="8";
                }
                p { button type="submit" class="btn big" { (t(lang, "Tạo quản trị viên", "Create the admin")) } }
            }
        },
    )
}

fn setup_explained(lang: Lang, done: bool) -> Response {
    let body = if done {
        html! {
            p { (t(lang,
                "Đài đã có quản trị viên. Hãy đăng nhập; nếu quên mật khẩu, quản trị viên khác có thể đặt lại, hoặc trên máy của đài chạy: sudo loa user passwd TÊN",
                "The station already has an admin. Sign in; a forgotten password can be reset by another admin, or on the station's computer with: sudo loa user passwd NAME")) }
            p { a href="/dang-nhap" { (t(lang, "Đăng nhập", "Sign in")) } }
        }
    } else {
        html! {
            p { (t(lang,
                "Đài chưa có tài khoản quản trị viên. Để tạo, hãy mở đường liên kết thiết lập (có mã một lần) mà loa in ra khi khởi động:",
                "The station has no admin yet. To make one, open the setup link (with a one-time code) that loa prints when it starts:")) }
            ul {
                li { (t(lang, "nếu đài chạy như dịch vụ: xem bằng lệnh ", "when it runs as a service: see it with ")) code { "journalctl -u loa" } }
                li { (t(lang, "nếu chạy bằng ", "when started with ")) code { "make run" } (t(lang, ": trong cửa sổ dòng lệnh đó.", ": in that terminal.")) }
            }
            p { (t(lang, "Hoặc tạo quản trị viên trên máy của đài bằng lệnh:", "Or make an admin on the station's computer with:")) }
            pre { code { "sudo loa user add " (t(lang, "TÊN", "NAME")) " --role admin" } }
        }
    };
    (StatusCode::OK, signed_out_page(lang, FIRST_START, body)).into_response()
}

/// A page for someone not signed in: its title (in Vietnamese and in
/// English) as its heading, then `body`.
fn signed_out_page(lang: Lang, (vi, en): (&str, &str), body: Markup) -> Markup {
    let title = t(lang, vi, en);
    layout::page(None, lang, title, html! { h1 { (title) } (body) })
}

async fn setup_page(client: Client, Query(q): Query<SetupQuery>) -> Response {
    let lang = client.lang;
    let accounts = client.accounts.clone();
    let code = match accounts.run(|s| Ok(s.ledger.enabled_admins()?)).await {
        Ok(0) => q.ma,
        Ok(_) => {
            client.accounts.end_setup();
            return setup_explained(lang, true);
        }
        Err(e) => return server_error(lang, &format!("{e:#}")),
    };
    if !client.accounts.setup_code_matches(&code) {
        return setup_explained(lang, false);
    }
    client.form_page(StatusCode::OK, setup_form(&client, &code, "", None))
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    ma: String,
    name: String,
    password: String,
    password2: String,
    #[serde(default)]
    csrf: String,
}

async fn setup(client: Client, Form(f): Form<SetupForm>) -> Response {
    let lang = client.lang;
    if !client.accounts.setup_code_matches(&f.ma) {
        return message_page(
            StatusCode::FORBIDDEN,
            lang,
            None,
            t(lang, "Mã thiết lập không đúng", "Wrong setup code"),
            t(
                lang,
                "Mã thiết lập không đúng hoặc đã dùng rồi. Hãy mở lại đường liên kết loa in ra khi khởi động (journalctl -u loa).",
                "The setup code is wrong or was used already. Open the link loa printed when it started again (journalctl -u loa).",
            ),
        );
    }
    let name = f.name.trim().to_string();
    if !client.pre.accepts(&f.csrf) {
        let page = setup_form(&client, &f.ma, &name, Some(stale_form(lang)));
        return client.form_page(StatusCode::FORBIDDEN, page);
    }
    let problem = if f.password != f.password2 {
        Some(
            t(
                lang,
                "Hai mật khẩu không giống nhau.",
                "The two passwords differ.",
            )
            .to_string(),
        )
    } else {
        accounts::check_name(&name)
            .and_then(|_| accounts::check_password(&f.password))
            .err()
            .map(|e| super::admin::input_problem(lang, &e))
    };
    if let Some(p) = problem {
        let page = setup_form(&client, &f.ma, &name, Some(&p));
        return client.form_page(StatusCode::UNPROCESSABLE_ENTITY, page);
    }
    let (addr, agent) = (client.addr.clone(), client.agent.clone());
    // Hashed before taking the accounts' lock (a hash takes a while).
    let hash = match client.accounts.passwords.hash(f.password).await {
        Ok(h) => h,
        Err(e) => return server_error(lang, &format!("{e:#}")),
    };
    let made = client
        .accounts
        .run(move |s| {
            // Checked again under the lock: one admin from one code.
            if s.ledger.enabled_admins()? > 0 {
                return Ok(None);
            }
            if !s.ledger.add_user(&name, Role::Admin, &hash)? {
                // The name exists (a disabled user): make it the admin.
                s.ledger.set_password(&name, &hash)?;
                s.ledger.set_role(&name, Role::Admin)?;
                s.ledger.set_enabled(&name, true)?;
            }
            s.ledger
                .audit(&name, "setup", &format!("first admin, from {addr}"), "ok")?;
            s.start_session(Utc::now(), &name, &addr, &agent).map(Some)
        })
        .await;
    match made {
        Ok(Some(cookie)) => {
            client.accounts.end_setup();
            tracing::info!(
                "the web console's first admin was made; the setup link no longer works"
            );
            let mut r = Redirect::to("/").into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(Some(&cookie), client.https),
            );
            r
        }
        Ok(None) => {
            client.accounts.end_setup();
            setup_explained(lang, true)
        }
        Err(e) => server_error(lang, &format!("{e:#}")),
    }
}
