//! `/tai-khoan`, the admin page: users (add, role, enable/disable, reset
//! password, remove), active sessions (end one), and the audit log, a page
//! at a time. Every change is in the audit log under the admin's name.

use std::sync::Arc;

use axum::extract::{Form, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::accounts::{self, Accounts};
use super::i18n::{t, Lang};
use super::layout;
use super::session::{check_csrf, role_name, server_error, Admin, SessionId, Signed};
use crate::config::Role;
use crate::control::Shared as AppState;
use crate::ledger::{AuditRow, SessionRow, User};

/// Audit rows per page.
const AUDIT_PAGE: usize = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tai-khoan", get(page))
        .route("/tai-khoan/them", post(add))
        .route("/tai-khoan/sua", post(change))
        .route("/tai-khoan/ket-thuc", post(end_session))
}

/// A refused input in `lang`.
pub(crate) fn input_problem(lang: Lang, e: &accounts::InputError) -> String {
    match lang {
        Lang::En => e.to_string(),
        Lang::Vi => e.vi(),
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    trang: Option<usize>,
}

struct View {
    users: Vec<User>,
    sessions: Vec<SessionRow>,
    audit: Vec<AuditRow>,
    total: usize,
    page: usize,
}

async fn load(
    state: &AppState,
    accounts: &std::sync::Arc<Accounts>,
    page: usize,
) -> anyhow::Result<View> {
    let idle = state.current.get().api.web.session_idle;
    accounts
        .run(move |s| {
            s.end_idle(Utc::now(), idle)?;
            let (audit, total) = s.ledger.audit_page(page * AUDIT_PAGE, AUDIT_PAGE)?;
            Ok(View {
                users: s.ledger.users()?,
                sessions: s.ledger.sessions()?,
                audit,
                total,
                page,
            })
        })
        .await
}

fn when(ms: i64, state: &AppState) -> String {
    let tz = state.current.get().timezone;
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn role_select(lang: Lang, id: &str, current: Role) -> Markup {
    html! {
        select id=(id) name="role" {
            // Metrics is for API tokens only.
            @for r in Role::ALL.into_iter().filter(|r| *r != Role::Metrics) {
                option value=(r.as_str()) selected[r == current] { (role_name(lang, r)) }
            }
        }
    }
}

fn render(
    state: &AppState,
    s: &Signed,
    this: &str,
    v: &View,
    notice: Option<(bool, &str)>,
) -> Markup {
    let lang = s.lang;
    let title = t(lang, "Tài khoản", "Users");
    let pages = v.total.div_ceil(AUDIT_PAGE).max(1);
    let lang_q = if lang == Lang::En { "&lang=en" } else { "" };
    layout::page(
        Some(s),
        lang,
        title,
        html! {
            h1 { (title) }
            @if let Some((ok, text)) = notice {
                p role=(if ok { "status" } else { "alert" }) class={ "flash " (if ok { "ok" } else { "err" }) } { (text) }
            }
            h2 { (t(lang, "Người dùng", "Users")) }
            @for (i, u) in v.users.iter().enumerate() {
                div class="card" {
                    h3 { (u.name) }
                    p class="hint" {
                        (role_name(lang, u.role)) " · "
                        @if u.enabled { (t(lang, "đang dùng", "enabled")) } @else { span class="badge o-fail" { (t(lang, "đã khoá", "disabled")) } }
                    }
                    form method="post" action="/tai-khoan/sua" class="stack" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        input type="hidden" name="name" value=(u.name);
                        div class="row2" {
                            div {
                                label for=(format!("role-{i}")) { (t(lang, "Vai trò", "Role")) }
                                (role_select(lang, &format!("role-{i}"), u.role))
                            }
                            div {
                                label for=(format!("pw-{i}")) { (t(lang, "Mật khẩu mới", "New password")) }
                                input id=(format!("pw-{i}")) name="password" type="password" autocomplete="new-password" minlength="8";
                            }
                        }
                        div class="actions" {
                            button type="submit" class="btn small" name="action" value="role" { (t(lang, "Đổi vai trò", "Change role")) }
                            " "
                            button type="submit" class="btn small" name="action" value="password" { (t(lang, "Đặt lại mật khẩu", "Reset password")) }
                            " "
                            @if u.enabled {
                                button type="submit" class="btn small light" name="action" value="disable" { (t(lang, "Khoá", "Disable")) }
                            } @else {
                                button type="submit" class="btn small light" name="action" value="enable" { (t(lang, "Mở khoá", "Enable")) }
                            }
                            " "
                            button type="submit" class="btn small red" name="action" value="remove" { (t(lang, "Xoá", "Remove")) }
                        }
                    }
                }
            }
            div class="card" {
                h3 { (t(lang, "Thêm người dùng", "Add a user")) }
                form method="post" action="/tai-khoan/them" class="stack" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="new-name" { (t(lang, "Tên đăng nhập", "User name")) }
                    input id="new-name" name="name" type="text" required autocomplete="off";
                    label for="new-role" { (t(lang, "Vai trò", "Role")) }
                    (role_select(lang, "new-role", Role::Operator))
                    label for="new-password" { (t(lang, "Mật khẩu (ít nhất 8 ký tự)", "Password (at least 8 characters)")) }
                    input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password";
                    p { button type="submit" class="btn" { (t(lang, "Thêm", "Add")) } }
                }
            }
            h2 { (t(lang, "Phiên đăng nhập đang mở", "Active sessions")) }
            div class="card" {
                ul class="rows" {
                    @for x in &v.sessions {
                        li {
                            span class="what" {
                                strong { (x.user) }
                                @if x.id == this { " " (t(lang, "(phiên này)", "(this one)")) }
                                br;
                                small {
                                    (t(lang, "từ ", "from ")) (x.addr) " · "
                                    (t(lang, "bắt đầu ", "started ")) (when(x.created_ms, state)) " · "
                                    (t(lang, "lần cuối ", "last used ")) (when(x.seen_ms, state))
                                    br;
                                    (x.agent)
                                }
                            }
                            form method="post" action="/tai-khoan/ket-thuc" class="inline" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                input type="hidden" name="id" value=(x.id);
                                button type="submit" class="btn small" { (t(lang, "Kết thúc", "End")) }
                            }
                        }
                    }
                }
            }
            h2 { (t(lang, "Nhật ký thao tác", "Audit log")) }
            div class="scroll" {
                table class="data" {
                    thead { tr {
                        th { (t(lang, "Lúc", "When")) }
                        th { (t(lang, "Ai", "Who")) }
                        th { (t(lang, "Việc", "Action")) }
                        th { (t(lang, "Chi tiết", "Detail")) }
                        th { (t(lang, "Kết quả", "Result")) }
                    } }
                    tbody {
                        @for a in &v.audit {
                            tr {
                                td class="nowrap" { (crate::timefmt::parse_rfc3339(&a.at)
                                        .map(|x| when(x.timestamp_millis(), state))
                                        .unwrap_or_else(|| a.at.clone())) }
                                td { (a.who) }
                                td { (crate::reason::audit_action(lang, &a.action)) }
                                td { (a.detail) }
                                td { (a.result) }
                            }
                        }
                    }
                }
            }
            nav class="pager" aria-label=(t(lang, "Trang nhật ký", "Audit log pages")) {
                @if v.page > 0 {
                    a class="btn small light" href=(format!("/tai-khoan?trang={}{lang_q}", v.page - 1)) { (t(lang, "← Mới hơn", "← Newer")) }
                }
                span { (t(lang, "Trang", "Page")) " " (v.page + 1) " / " (pages) }
                @if v.page + 1 < pages {
                    a class="btn small light" href=(format!("/tai-khoan?trang={}{lang_q}", v.page + 1)) { (t(lang, "Cũ hơn →", "Older →")) }
                }
            }
        },
    )
}

/// What every handler of this page starts from: an admin's request.
struct Ctx {
    state: AppState,
    s: Signed,
    /// The stored id of this request's session ("this one" in the list).
    this: String,
    accounts: Arc<Accounts>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Admin(s) = Admin::from_request_parts(parts, state).await?;
        let this = parts
            .extensions
            .get::<SessionId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        Ok(Ctx {
            state: Arc::clone(state),
            s,
            this,
            accounts: super::session::accounts(parts)?,
        })
    }
}

impl Ctx {
    /// The page (its first audit page) with `status` and a notice.
    async fn respond(&self, status: StatusCode, notice: Option<(bool, &str)>) -> Response {
        match load(&self.state, &self.accounts, 0).await {
            Ok(v) => (status, render(&self.state, &self.s, &self.this, &v, notice)).into_response(),
            Err(e) => server_error(self.s.lang, &format!("{e:#}")),
        }
    }
}

async fn page(c: Ctx, Query(q): Query<PageQuery>) -> Response {
    match load(&c.state, &c.accounts, q.trang.unwrap_or(0)).await {
        Ok(v) => render(&c.state, &c.s, &c.this, &v, None).into_response(),
        Err(e) => server_error(c.s.lang, &format!("{e:#}")),
    }
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    csrf: String,
    name: String,
    role: String,
    password: String,
}

async fn add(c: Ctx, Form(f): Form<AddForm>) -> Response {
    if let Err(r) = check_csrf(&c.s, &f.csrf) {
        return r;
    }
    let lang = c.s.lang;
    let name = f.name.trim().to_string();
    let Some(role) = Role::parse(&f.role).filter(|r| *r != Role::Metrics) else {
        return c
            .respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some((false, t(lang, "Vai trò không hợp lệ.", "Unknown role."))),
            )
            .await;
    };
    if let Err(e) = accounts::check_name(&name).and_then(|_| accounts::check_password(&f.password))
    {
        let p = input_problem(lang, &e);
        return c
            .respond(StatusCode::UNPROCESSABLE_ENTITY, Some((false, &p)))
            .await;
    }
    // Hashed before taking the accounts' lock (a hash takes a while).
    let hash = match c.accounts.passwords.hash(f.password).await {
        Ok(h) => h,
        Err(e) => return server_error(lang, &format!("{e:#}")),
    };
    let (who, n) = (c.s.user.clone(), name.clone());
    let added = c
        .accounts
        .run(move |st| {
            let added = st.ledger.add_user(&n, role, &hash)?;
            let result = if added {
                "ok"
            } else {
                "refused (409): the name is taken"
            };
            st.ledger
                .audit(&who, "user add", &format!("{n} ({role})"), result)?;
            Ok(added)
        })
        .await;
    match added {
        Ok(true) => {
            let text = match lang {
                Lang::Vi => format!("Đã thêm {name} ({}).", role_name(lang, role)),
                Lang::En => format!("Added {name} ({role})."),
            };
            c.respond(StatusCode::OK, Some((true, &text))).await
        }
        Ok(false) => {
            let text = match lang {
                Lang::Vi => format!("Tên {name} đã có người dùng."),
                Lang::En => format!("The name {name} is taken."),
            };
            c.respond(StatusCode::CONFLICT, Some((false, &text))).await
        }
        Err(e) => server_error(lang, &format!("{e:#}")),
    }
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(default)]
    csrf: String,
    name: String,
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
    /// Set by the confirmation page: removing a user asks first.
    #[serde(default)]
    confirm: String,
}

/// The page that asks before a user is removed: the same form again with
/// `confirm=1`, or back to the list. Nothing is changed or logged yet.
fn confirm_remove(s: &Signed, name: &str) -> Markup {
    let lang = s.lang;
    let title = t(lang, "Xoá người dùng?", "Remove the user?");
    let back = if lang == Lang::En {
        "/tai-khoan?lang=en"
    } else {
        "/tai-khoan"
    };
    layout::page(
        Some(s),
        lang,
        t(lang, "Tài khoản", "Users"),
        html! {
            h1 { (title) }
            div class="card stack" {
                p {
                    (t(lang, "Xoá hẳn tài khoản ", "Remove the user "))
                    strong { (name) }
                    (t(lang,
                        "? Người này sẽ không đăng nhập được nữa và các phiên đang mở sẽ kết thúc. Việc này không hoàn tác được; nếu chỉ muốn tạm ngừng, hãy bấm Khoá.",
                        " for good? They will no longer sign in and their open sessions end. This cannot be undone; to stop them for a while, use Disable instead."))
                }
                form method="post" action="/tai-khoan/sua" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="name" value=(name);
                    input type="hidden" name="action" value="remove";
                    input type="hidden" name="confirm" value="1";
                    div class="actions" {
                        button type="submit" class="btn red" { (t(lang, "Xoá hẳn", "Remove for good")) }
                        " "
                        a class="btn light" href=(back) { (t(lang, "Không, quay lại", "No, go back")) }
                    }
                }
            }
        },
    )
}

/// What a change came to, in both languages.
enum Outcome {
    Done,
    NoSuchUser,
    LastAdmin,
    Invalid(String),
}

async fn change(c: Ctx, Form(f): Form<ChangeForm>) -> Response {
    if let Err(r) = check_csrf(&c.s, &f.csrf) {
        return r;
    }
    let lang = c.s.lang;
    if f.action == "remove" && f.confirm != "1" {
        return confirm_remove(&c.s, &f.name).into_response();
    }
    let who = c.s.user.clone();
    let name = f.name.clone();
    let action = f.action.clone();
    let invalid_pw = (action == "password")
        .then(|| accounts::check_password(&f.password).err())
        .flatten()
        .map(|e| input_problem(lang, &e));
    let role = Role::parse(&f.role).filter(|r| *r != Role::Metrics);
    // A new password is hashed before taking the accounts' lock.
    let hash = match (&invalid_pw, action.as_str()) {
        (None, "password") => match c.accounts.passwords.hash(f.password.clone()).await {
            Ok(h) => Some(h),
            Err(e) => return server_error(lang, &format!("{e:#}")),
        },
        _ => None,
    };
    let outcome = c
        .accounts
        .run(move |st| {
            if let Some(p) = invalid_pw {
                return Ok(Outcome::Invalid(p));
            }
            let Some((user, _)) = st.ledger.user_with_password(&f.name)? else {
                return Ok(Outcome::NoSuchUser);
            };
            // The last enabled admin stays one, so nobody is locked out.
            let loses_admin = user.role == Role::Admin
                && user.enabled
                && match f.action.as_str() {
                    "disable" | "remove" => true,
                    "role" => role != Some(Role::Admin),
                    _ => false,
                };
            if loses_admin && st.ledger.enabled_admins()? <= 1 {
                st.ledger.audit(
                    &who,
                    &format!("user {}", f.action),
                    &f.name,
                    "refused (409): the last enabled admin",
                )?;
                return Ok(Outcome::LastAdmin);
            }
            let (detail, done) = match f.action.as_str() {
                "role" => match role {
                    Some(r) => (format!("{} → {r}", f.name), st.ledger.set_role(&f.name, r)?),
                    None => return Ok(Outcome::Invalid("role".into())),
                },
                "enable" => (f.name.clone(), st.ledger.set_enabled(&f.name, true)?),
                "disable" => {
                    let done = st.ledger.set_enabled(&f.name, false)?;
                    st.ledger.end_sessions_of(&f.name)?;
                    (f.name.clone(), done)
                }
                "password" => {
                    let hash =
                        hash.ok_or_else(|| anyhow::anyhow!("the new password was not hashed"))?;
                    let done = st.ledger.set_password(&f.name, &hash)?;
                    st.ledger.end_sessions_of(&f.name)?;
                    (f.name.clone(), done)
                }
                "remove" => (f.name.clone(), st.ledger.remove_user(&f.name)?),
                _ => return Ok(Outcome::Invalid("action".into())),
            };
            st.ledger.audit(
                &who,
                &format!("user {}", f.action),
                &detail,
                if done {
                    "ok"
                } else {
                    "refused (404): no such user"
                },
            )?;
            Ok(if done {
                Outcome::Done
            } else {
                Outcome::NoSuchUser
            })
        })
        .await;
    let (status, ok, text) = match outcome {
        Ok(Outcome::Done) => (
            StatusCode::OK,
            true,
            match (lang, action.as_str()) {
                (Lang::Vi, "role") => format!("Đã đổi vai trò của {name}."),
                (Lang::Vi, "enable") => format!("Đã mở khoá {name}."),
                (Lang::Vi, "disable") => {
                    format!("Đã khoá {name}; các phiên của người này đã kết thúc.")
                }
                (Lang::Vi, "password") => {
                    format!("Đã đặt lại mật khẩu của {name}; các phiên của người này đã kết thúc.")
                }
                (Lang::Vi, _) => format!("Đã xoá {name}."),
                (Lang::En, "role") => format!("Changed the role of {name}."),
                (Lang::En, "enable") => format!("Enabled {name}."),
                (Lang::En, "disable") => format!("Disabled {name}; their sessions ended."),
                (Lang::En, "password") => {
                    format!("Reset the password of {name}; their sessions ended.")
                }
                (Lang::En, _) => format!("Removed {name}."),
            },
        ),
        Ok(Outcome::NoSuchUser) => (
            StatusCode::NOT_FOUND,
            false,
            match lang {
                Lang::Vi => format!("Không có người dùng {name}."),
                Lang::En => format!("There is no user {name}."),
            },
        ),
        Ok(Outcome::LastAdmin) => (
            StatusCode::CONFLICT,
            false,
            t(
                lang,
                "Đây là quản trị viên cuối cùng đang dùng: hãy tạo một quản trị viên khác trước.",
                "This is the last enabled admin: make another admin first.",
            )
            .to_string(),
        ),
        Ok(Outcome::Invalid(p)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            match p.as_str() {
                "role" | "action" => {
                    t(lang, "Yêu cầu không hợp lệ.", "Invalid request.").to_string()
                }
                _ => p,
            },
        ),
        Err(e) => return server_error(lang, &format!("{e:#}")),
    };
    // An admin who just disabled or demoted themselves is out.
    c.respond(status, Some((ok, &text))).await
}

#[derive(Deserialize)]
struct EndForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

async fn end_session(c: Ctx, Form(f): Form<EndForm>) -> Response {
    if let Err(r) = check_csrf(&c.s, &f.csrf) {
        return r;
    }
    let who = c.s.user.clone();
    let id = f.id.clone();
    let ended = c
        .accounts
        .run(move |st| {
            let user = st
                .ledger
                .sessions()?
                .into_iter()
                .find(|x| x.id == id)
                .map(|x| x.user);
            let done = st.ledger.end_session(&id)?;
            st.ledger.audit(
                &who,
                "session end",
                &format!("a session of {}", user.as_deref().unwrap_or("?")),
                if done {
                    "ok"
                } else {
                    "refused (404): no such session"
                },
            )?;
            Ok(done)
        })
        .await;
    let lang = c.s.lang;
    match ended {
        Ok(true) => {
            let text = t(lang, "Đã kết thúc phiên.", "The session ended.");
            c.respond(StatusCode::OK, Some((true, text))).await
        }
        Ok(false) => {
            let text = t(
                lang,
                "Phiên này đã kết thúc rồi.",
                "That session had ended already.",
            );
            c.respond(StatusCode::NOT_FOUND, Some((false, text))).await
        }
        Err(e) => server_error(lang, &format!("{e:#}")),
    }
}
