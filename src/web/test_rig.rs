//! The console in-process for tests: a real station file, a real ledger,
//! the engine over `FakePlayout`, and the API and console on one router
//! ([`super::app`], as `loa run` serves them). Requests go through
//! `ServiceExt::oneshot` with the peer address set by `MockConnectInfo`.
//!
//! [`Rig::user`] makes a user and [`Rig::sign_in`] gives a [`Browser`]
//! holding its session cookie and CSRF token, for the pages' tests too.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::Utc;

use super::accounts::{self, Accounts};
use crate::config::Role;
use crate::control::Control;
use crate::control::Shared as AppState;

/// The password every rig user gets.
pub(crate) const PASSWORD: &str = "mat-khau-thu";

pub(crate) struct Rig {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) state: AppState,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) app: Router,
    pub(crate) ledger: PathBuf,
}

/// An answer, body read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} {}", self.status, self.headers, self.body)
    }
}

impl Reply {
    /// Assert the body holds `words`.
    #[track_caller]
    pub(crate) fn assert_has(&self, words: &str) {
        assert!(self.body.contains(words), "no {words:?} in {}", self.body);
    }

    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The session cookie's value this answer sets, if any.
    pub(crate) fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let v = c.strip_prefix(&format!("{}=", super::session::COOKIE))?;
                Some(v.split(';').next().unwrap_or("").to_string())
            })
    }
}

/// A signed-in browser: its cookie and the session's CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Browser {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) const LOCAL: [u8; 4] = [127, 0, 0, 1];
pub(crate) const LAN: [u8; 4] = [192, 168, 1, 20];

/// A rig of the default station and a browser signed in as `role`.
pub(crate) async fn rig_as(role: Role) -> (Rig, Browser) {
    let rig = rig("").await;
    let b = rig.signed_in(role).await;
    (rig, b)
}

/// A station with two bulletins and `extra` appended to the station file.
pub(crate) async fn rig(extra: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[station]
name = "Xã Test"
audio_dir = "audio"
data_dir = "var"
{extra}{items}"#,
        items = crate::control::test_items(),
    );
    let state = Control::for_test(dir.path(), &text);
    let station = state.current.get();
    let ledger_path = station.ledger_path();
    let accounts = Accounts::new(&station);
    let app = super::console_only(Arc::clone(&state), Arc::clone(&accounts));
    Rig {
        _dir: dir,
        state,
        accounts,
        app,
        ledger: ledger_path,
    }
}

impl Rig {
    /// The engine's status once `pred` holds; a panic naming `what` when it
    /// does not within `secs` seconds.
    pub(crate) async fn wait_status(
        &self,
        what: &str,
        secs: u64,
        pred: impl FnMut(&crate::engine::Status) -> bool,
    ) -> crate::engine::Status {
        let mut rx = self.state.handle.status.clone();
        let seen = tokio::time::timeout(std::time::Duration::from_secs(secs), rx.wait_for(pred))
            .await
            .unwrap_or_else(|_| panic!("{what}"))
            .unwrap()
            .clone();
        seen
    }

    /// Make a user with [`PASSWORD`].
    pub(crate) async fn user(&self, name: &str, role: Role) {
        let name = name.to_string();
        self.accounts
            .run(move |s| {
                let hash = accounts::hash_password(PASSWORD)?;
                assert!(s.ledger.add_user(&name, role, &hash)?, "user {name} exists");
                Ok(())
            })
            .await
            .unwrap();
    }

    /// Send a request from `from` with `headers`.
    pub(crate) async fn send(
        &self,
        from: [u8; 4],
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let form = body.map(|b| ("application/x-www-form-urlencoded", b.as_bytes().to_vec()));
        let (status, headers, bytes) =
            crate::control::test_request(&self.app, from, req, form).await;
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// GET as `b` (or nobody).
    pub(crate) async fn get(&self, b: Option<&Browser>, path: &str) -> Reply {
        let cookie = b.map(|b| format!("{}={}", super::session::COOKIE, b.cookie));
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        self.send(LOCAL, "GET", path, &headers, None).await
    }

    /// `get`, and assert the reply's status.
    pub(crate) async fn get_expect(
        &self,
        b: Option<&Browser>,
        path: &str,
        status: StatusCode,
    ) -> Reply {
        let r = self.get(b, path).await;
        assert_eq!(r.status, status, "{r:?}");
        r
    }

    /// `post`, and assert the reply's status.
    pub(crate) async fn post_expect(
        &self,
        b: &Browser,
        path: &str,
        form: &str,
        status: StatusCode,
    ) -> Reply {
        let r = self.post(b, path, form).await;
        assert_eq!(r.status, status, "{r:?}");
        r
    }

    /// POST a form as `b`, from this site's own page (`Sec-Fetch-Site:
    /// same-origin`), with `b`'s CSRF token added.
    pub(crate) async fn post(&self, b: &Browser, path: &str, form: &str) -> Reply {
        self.post_with(b, path, form, &[]).await
    }

    /// `post` as the page's script sends it: asking for JSON.
    pub(crate) async fn post_script(&self, b: &Browser, path: &str, form: &str) -> Reply {
        self.post_with(b, path, form, &[("x-loa-fetch", "1")]).await
    }

    async fn post_with(
        &self,
        b: &Browser,
        path: &str,
        form: &str,
        extra: &[(&str, &str)],
    ) -> Reply {
        let cookie = format!("{}={}", super::session::COOKIE, b.cookie);
        let body = if form.is_empty() {
            format!("csrf={}", b.csrf)
        } else {
            format!("csrf={}&{form}", b.csrf)
        };
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        headers.extend_from_slice(extra);
        self.send(LOCAL, "POST", path, &headers, Some(&body)).await
    }

    /// A recording's upload as `b` from `/thu-am`'s script: a multipart
    /// `body` between `boundary` lines, the token in its header.
    pub(crate) async fn upload(&self, b: &Browser, boundary: &str, body: &str) -> Reply {
        let cookie = format!("{}={}", super::session::COOKIE, b.cookie);
        let kind = format!("multipart/form-data; boundary={boundary}");
        let headers = [
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-origin"),
            ("x-csrf-token", &b.csrf),
            ("x-loa-fetch", "1"),
            ("content-type", &kind),
        ];
        self.send(LOCAL, "POST", "/thu-am/tai-len", &headers, Some(body))
            .await
    }

    /// What a browser that opened the sign-in page holds: the
    /// pre-session cookie (`name=value`) and the forms' CSRF token.
    pub(crate) async fn pre_session(&self) -> (String, String) {
        let page = self.get(None, "/dang-nhap").await;
        let cookie = page
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(super::session::PRE_COOKIE))
            .and_then(|c| c.split(';').next())
            .expect("the sign-in page sets the pre-session cookie")
            .to_string();
        let token = page
            .body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the sign-in form carries a CSRF token")
            .to_string();
        (cookie, token)
    }

    /// POST a form shown before a session (sign-in, first start) from
    /// `from`, as a browser that opened it: with the pre-session cookie
    /// and the form's CSRF token, and `headers`.
    pub(crate) async fn post_anon(
        &self,
        from: [u8; 4],
        path: &str,
        headers: &[(&str, &str)],
        form: &str,
    ) -> Reply {
        let (cookie, token) = self.pre_session().await;
        let mut h = headers.to_vec();
        h.push(("cookie", &cookie));
        let body = format!("csrf={token}&{form}");
        self.send(from, "POST", path, &h, Some(&body)).await
    }

    /// POST a form shown before a session from this site's own page
    /// (`Sec-Fetch-Site: same-origin`).
    pub(crate) async fn post_form(&self, path: &str, form: &str) -> Reply {
        self.post_anon(LOCAL, path, &[("sec-fetch-site", "same-origin")], form)
            .await
    }

    /// Sign in through `/dang-nhap` as `name` with [`PASSWORD`].
    pub(crate) async fn sign_in(&self, name: &str) -> Browser {
        let body = form(&[("name", name), ("password", PASSWORD), ("next", "/")]);
        let r = self.post_form("/dang-nhap", &body).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
        let cookie = r.session_cookie().expect("a session cookie");
        let csrf = self
            .accounts
            .run({
                let cookie = cookie.clone();
                move |s| s.session(Utc::now(), &cookie, std::time::Duration::from_secs(3600))
            })
            .await
            .unwrap()
            .expect("the new session is live")
            .csrf;
        Browser { cookie, csrf }
    }

    /// A user of `role` named after it, signed in.
    pub(crate) async fn signed_in(&self, role: Role) -> Browser {
        self.user(role.as_str(), role).await;
        self.sign_in(role.as_str()).await
    }
}

/// An `application/x-www-form-urlencoded` body (or query) of these fields.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}
