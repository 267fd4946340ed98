//! Route tests of signing in and the admin page: each role's access, CSRF
//! and cross-origin refusals, session expiry, sign-out, the sign-in
//! slowdown, the first start, escaping, and the headers of every answer.

use axum::http::{header, StatusCode};
use chrono::{Duration, Utc};

use super::test_rig::*;
use crate::config::Role;

fn audit_results(rig: &Rig) -> Vec<(String, String, String)> {
    let l =
        crate::ledger::Ledger::open_read_only(&rig.ledger, chrono_tz::Asia::Ho_Chi_Minh).unwrap();
    l.audit_rows(None, None)
        .unwrap()
        .into_iter()
        .map(|a| (a.who, a.action, a.result))
        .collect()
}

/// The first-start form: `name` with password `12345678`.
fn setup_form(code: &str, name: &str) -> String {
    format!("ma={code}&name={name}&password=12345678&password2=12345678")
}

#[tokio::test]
async fn first_start_explains_then_makes_the_admin() {
    let rig = rig("").await;
    // Without the code: where to find it, and the command that works too.
    // Whoever opens the console first is told how to begin.
    let r = rig.get(None, "/").await;
    assert_eq!(r.location(), "/dang-nhap?next=/");
    let r = rig.get(None, "/dang-nhap?next=/").await;
    r.assert_has("Đài chưa có quản trị viên");
    assert!(r.body.contains("/thiet-lap"));
    let r = rig.get(None, "/thiet-lap").await;
    assert_eq!(r.status, StatusCode::OK);
    r.assert_has("journalctl -u loa");
    assert!(r.body.contains("make run"));
    assert!(r.body.contains("sudo loa user add"));
    assert!(r.body.contains("Đài chưa có tài khoản quản trị viên"));
    let en = rig.get(None, "/thiet-lap?lang=en").await;
    en.assert_has("The station has no admin yet");
    assert!(en.body.contains("journalctl -u loa"));

    let code = rig.accounts.setup_code().unwrap().expect("no admin yet");
    assert_eq!(
        rig.accounts.setup_code().unwrap().as_ref(),
        Some(&code),
        "one code"
    );
    let wrong = rig.get(None, "/thiet-lap?ma=0000").await;
    assert!(
        wrong.body.contains("journalctl -u loa"),
        "a wrong code explains"
    );
    assert!(!wrong.body.contains("password2"));
    let form = rig.get(None, &format!("/thiet-lap?ma={code}")).await;
    form.assert_has("name=\"password2\"");

    let r = rig
        .post_form("/thiet-lap", &setup_form(&code, "chu-tich"))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    let cookie = r.session_cookie().expect("signed in at once");
    let admin = rig
        .send(
            LOCAL,
            "GET",
            "/tai-khoan",
            &[("cookie", &format!("loa_phien={cookie}"))],
            None,
        )
        .await;
    assert_eq!(admin.status, StatusCode::OK, "{admin:?}");
    assert!(admin.body.contains("chu-tich"));

    // The code is spent.
    assert_eq!(rig.accounts.setup_code().unwrap(), None);
    let again = rig
        .post_form("/thiet-lap", &setup_form(&code, "chu-tich"))
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    let page = rig.get(None, &format!("/thiet-lap?ma={code}")).await;
    page.assert_has("Đài đã có quản trị viên");
}

#[tokio::test]
async fn each_role_on_the_admin_page() {
    let rig = rig("").await;
    // Nobody: GET goes to sign in and comes back; a POST is refused.
    let r = rig.get(None, "/tai-khoan?trang=1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/dang-nhap?next=/tai-khoan%3Ftrang%3D1");
    let r = rig
        .send(
            LOCAL,
            "POST",
            "/tai-khoan/them",
            &[],
            Some("csrf=x&name=a&role=viewer&password=12345678"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let viewer = rig.signed_in(Role::Viewer).await;
    let operator = rig.signed_in(Role::Operator).await;
    let admin = rig.signed_in(Role::Admin).await;
    for b in [&viewer, &operator] {
        let r = rig.get(Some(b), "/tai-khoan").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
        assert!(r.body.contains("Không đủ quyền"));
        rig.post_expect(
            b,
            "/tai-khoan/them",
            "name=x&role=admin&password=12345678",
            StatusCode::FORBIDDEN,
        )
        .await;
        for form in [
            "name=admin&action=disable",
            "name=admin&action=password&password=12345678",
        ] {
            rig.post_expect(b, "/tai-khoan/sua", form, StatusCode::FORBIDDEN)
                .await;
        }
    }
    let r = rig.get(Some(&admin), "/tai-khoan").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Nhật ký thao tác"), "Vietnamese first");
    let r = rig
        .post_expect(
            &admin,
            "/tai-khoan/them",
            &format!("name=nam&role=operator&password={PASSWORD}"),
            StatusCode::OK,
        )
        .await;
    assert!(r.body.contains("Đã thêm nam"));
    rig.sign_in("nam").await;
    // Viewer reset by the admin: their session ends, the new password works.
    rig.post_expect(
        &admin,
        "/tai-khoan/sua",
        "name=viewer&action=password&password=mat-khau-moi",
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        rig.get(Some(&viewer), "/tai-khoan").await.status,
        StatusCode::SEE_OTHER
    );
    // Disabling ends the operator's session and sign-in.
    rig.post_expect(
        &admin,
        "/tai-khoan/sua",
        "name=operator&action=disable",
        StatusCode::OK,
    )
    .await;
    rig.post_expect(
        &operator,
        "/tai-khoan/them",
        "name=y&role=viewer&password=12345678",
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // The last enabled admin cannot lock everyone out.
    rig.post_expect(
        &admin,
        "/tai-khoan/sua",
        "name=admin&action=disable",
        StatusCode::CONFLICT,
    )
    .await;
    rig.post_expect(
        &admin,
        "/tai-khoan/sua",
        "name=admin&action=role&role=viewer",
        StatusCode::CONFLICT,
    )
    .await;
    // Every change is audited under the admin's name.
    let audit = audit_results(&rig);
    for action in ["user add", "user password", "user disable"] {
        assert!(
            audit
                .iter()
                .any(|(w, a, r)| w == "admin" && a == action && r == "ok"),
            "{action}: {audit:?}"
        );
    }
    // The audit log on the page names the actions in words, per language.
    let page = rig.get(Some(&admin), "/tai-khoan").await.body;
    assert!(page.contains("<td>khoá người dùng</td>"), "{page}");
    assert!(page.contains("<td>thêm người dùng</td>"), "{page}");
    assert!(!page.contains("<td>user disable</td>"), "{page}");
    let page = rig.get(Some(&admin), "/tai-khoan?lang=en").await.body;
    assert!(page.contains("<td>disable a user</td>"), "{page}");
}

/// Removing a user asks first, on a page of its own (no script: the CSP
/// allows none inline): the first post changes nothing, the confirmed one
/// removes.
#[tokio::test]
async fn removing_a_user_asks_first() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let nam = rig.signed_in(Role::Viewer).await;
    let users = || async {
        rig.accounts
            .run(|s| Ok(s.ledger.users()?))
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect::<Vec<_>>()
    };
    let remove = |form| rig.post_expect(&admin, "/tai-khoan/sua", form, StatusCode::OK);
    let r = remove("name=viewer&action=remove").await;
    r.assert_has("Xoá người dùng?");
    assert!(r.body.contains("<strong>viewer</strong>"));
    assert!(r.body.contains("name=\"confirm\" value=\"1\""));
    assert!(r.body.contains(&format!("value=\"{}\"", admin.csrf)));
    assert!(r.body.contains("href=\"/tai-khoan\""), "a way back");
    assert_eq!(users().await, ["admin", "viewer"], "nothing removed yet");
    assert_eq!(
        rig.get(Some(&nam), "/").await.status,
        StatusCode::OK,
        "still signed in"
    );
    assert!(!audit_results(&rig)
        .iter()
        .any(|(_, a, _)| a == "user remove"));
    // Confirmed.
    let r = remove("name=viewer&action=remove&confirm=1").await;
    r.assert_has("Đã xoá viewer");
    assert_eq!(users().await, ["admin"]);
    assert_eq!(rig.get(Some(&nam), "/").await.status, StatusCode::SEE_OTHER);
    assert!(audit_results(&rig)
        .iter()
        .any(|(w, a, r)| w == "admin" && a == "user remove" && r == "ok"));
    // In English too.
    let r = rig
        .post(&admin, "/tai-khoan/sua?lang=en", "name=admin&action=remove")
        .await;
    r.assert_has("Remove the user?");
}

#[tokio::test]
async fn forms_without_the_token_or_from_elsewhere_are_refused() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let cookie = format!("loa_phien={}", admin.cookie);
    let form = "name=evil&role=admin&password=12345678";
    // No token, a wrong token.
    for body in [form.to_string(), format!("csrf=0000&{form}")] {
        let r = rig
            .send(
                LOCAL,
                "POST",
                "/tai-khoan/them",
                &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
                Some(&body),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
        assert!(r.body.contains("Biểu mẫu không hợp lệ"));
    }
    // The right token, from another site.
    let body = format!("csrf={}&{form}", admin.csrf);
    for headers in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8077"),
        ],
        vec![("origin", "null"), ("host", "127.0.0.1:8077")],
    ] {
        let mut h = headers.clone();
        h.push(("cookie", &cookie));
        let r = rig
            .send(LOCAL, "POST", "/tai-khoan/them", &h, Some(&body))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}: {r:?}");
        assert!(r.body.contains("trang web khác"));
    }
    // X-Forwarded-Host is believed only from a proxy on this machine: from
    // the LAN it cannot make another site's Origin look like ours.
    let forwarded = [
        ("cookie", cookie.as_str()),
        ("origin", "http://evil.example"),
        ("host", "192.168.1.2:8077"),
        ("x-forwarded-host", "evil.example"),
    ];
    let r = rig
        .send(LAN, "POST", "/tai-khoan/them", &forwarded, Some(&body))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
    assert!(r.body.contains("trang web khác"));
    // Sign-in from another site too (login CSRF).
    let r = rig
        .send(
            LOCAL,
            "POST",
            "/dang-nhap",
            &[("sec-fetch-site", "cross-site")],
            Some("name=admin&password=mat-khau-thu"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let users: Vec<String> = rig
        .accounts
        .run(|s| Ok(s.ledger.users()?))
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(users, ["admin"], "nothing was added");
    // Behind a reverse proxy on loopback, the host it names is this site.
    let proxied = [
        ("cookie", cookie.as_str()),
        ("origin", "https://loa.xa.example"),
        ("host", "127.0.0.1:8077"),
        ("x-forwarded-host", "loa.xa.example"),
    ];
    let body2 = format!(
        "csrf={}&name=qua-proxy&role=viewer&password=12345678",
        admin.csrf
    );
    let r = rig
        .send(LOCAL, "POST", "/tai-khoan/them", &proxied, Some(&body2))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // The same origin, told by Origin alone (an older browser), passes.
    let r = rig
        .send(
            LOCAL,
            "POST",
            "/tai-khoan/them",
            &[
                ("cookie", &cookie),
                ("origin", "http://127.0.0.1:8077"),
                ("host", "127.0.0.1:8077"),
            ],
            Some(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

/// Sign-in and the first start happen before a session: their forms carry
/// the pre-session token (a signed double submit), and a post without it,
/// with a wrong one, or with another browser's cookie is refused even from
/// this site's own origin.
#[tokio::test]
async fn forms_before_a_session_carry_a_token() {
    let rig = rig("").await;
    let code = rig.accounts.setup_code().unwrap().expect("no admin yet");
    let page = rig.get(None, &format!("/thiet-lap?ma={code}")).await;
    page.assert_has("name=\"csrf\"");
    let set = page.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("loa_bieu_mau="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let (cookie, token) = rig.pre_session().await;
    let (other_cookie, other_token) = rig.pre_session().await;
    assert_ne!(token, other_token, "one nonce per browser");
    let same = [("sec-fetch-site", "same-origin")];
    let setup = setup_form(&code, "chu-tich");
    for (cookie, body) in [
        (None, setup.clone()),
        (Some(&cookie), setup.clone()),
        (Some(&cookie), format!("csrf=0000&{setup}")),
        (Some(&other_cookie), format!("csrf={token}&{setup}")),
        (None, format!("csrf={token}&{setup}")),
    ] {
        let mut h = same.to_vec();
        if let Some(c) = cookie {
            h.push(("cookie", c));
        }
        let r = rig.send(LOCAL, "POST", "/thiet-lap", &h, Some(&body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{cookie:?} {body}: {r:?}");
        r.assert_has("Biểu mẫu này đã cũ");
        // The answer is the form again, ready to send.
        assert!(r.body.contains("name=\"csrf\""));
    }
    assert!(rig.accounts.setup_code().unwrap().is_some(), "no admin yet");
    // The browser's own cookie and token pass.
    let body = format!("csrf={token}&{setup}");
    let h = [same[0], ("cookie", cookie.as_str())];
    let r = rig.send(LOCAL, "POST", "/thiet-lap", &h, Some(&body)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");

    // Sign-in: refused without the token before the password is checked
    // (no failure is counted), accepted with it.
    for body in [
        "name=chu-tich&password=12345678".to_string(),
        format!("csrf={other_token}&name=chu-tich&password=12345678"),
    ] {
        let h = [same[0], ("cookie", cookie.as_str())];
        let r = rig.send(LOCAL, "POST", "/dang-nhap", &h, Some(&body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{r:?}");
        assert!(r.session_cookie().is_none());
    }
    let audit = audit_results(&rig);
    assert!(
        !audit.iter().any(|(_, a, _)| a == "sign-in"),
        "no attempt: {audit:?}"
    );
    let r = rig
        .post_form("/dang-nhap", "name=chu-tich&password=12345678")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    assert!(r.session_cookie().is_some());
}

#[tokio::test]
async fn idle_sessions_expire() {
    let rig = rig("[api]\nsession_idle = \"30m\"").await;
    let admin = rig.signed_in(Role::Admin).await;
    assert_eq!(
        rig.get(Some(&admin), "/tai-khoan").await.status,
        StatusCode::OK
    );
    // 31 minutes without a request.
    rig.accounts
        .run(|s| {
            for x in s.ledger.sessions()? {
                s.ledger
                    .touch_session(&x.id, Utc::now() - Duration::minutes(31))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let r = rig
        .get_expect(Some(&admin), "/tai-khoan", StatusCode::SEE_OTHER)
        .await;
    assert!(r.location().starts_with("/dang-nhap"));
    let left = rig
        .accounts
        .run(|s| Ok(s.ledger.sessions()?))
        .await
        .unwrap();
    assert!(left.is_empty(), "the expired session is gone");
}

#[tokio::test]
async fn sessions_survive_a_restart_of_the_accounts() {
    let (rig, admin) = rig_as(Role::Admin).await;
    // A new daemon: new connection, the secret read back from data_dir.
    let again = super::accounts::Accounts::new(&rig.state.current.get());
    let cookie = admin.cookie.clone();
    let live = again
        .run(move |s| s.session(Utc::now(), &cookie, std::time::Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("still signed in");
    assert_eq!(
        (live.user.as_str(), live.csrf.as_str()),
        ("admin", admin.csrf.as_str())
    );
}

#[tokio::test]
async fn signed_out_cookies_are_dead() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let r = rig
        .post_expect(&admin, "/dang-xuat", "", StatusCode::SEE_OTHER)
        .await;
    let cleared = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie replayed.
    let r = rig.get(Some(&admin), "/tai-khoan").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    rig.post_expect(
        &admin,
        "/tai-khoan/them",
        "name=x&role=admin&password=12345678",
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(audit_results(&rig)
        .iter()
        .any(|(w, a, r)| w == "admin" && a == "sign-out" && r == "ok"));
}

#[tokio::test]
async fn admin_ends_another_session() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let operator = rig.signed_in(Role::Operator).await;
    let id = rig
        .accounts
        .run(|s| Ok(s.ledger.sessions()?))
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.user == "operator")
        .unwrap()
        .id;
    let page = rig.get(Some(&admin), "/tai-khoan").await;
    assert!(page.body.contains(&id), "listed with its end button");
    rig.post_expect(
        &admin,
        "/tai-khoan/ket-thuc",
        &format!("id={id}"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        rig.get(Some(&operator), "/tai-khoan").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn guessing_is_slowed_per_name_and_per_address() {
    let rig = rig("").await;
    rig.user("an", Role::Operator).await;
    rig.user("binh", Role::Operator).await;
    let attempt = |from: [u8; 4], name: &'static str, password: &'static str| {
        let rig = &rig;
        async move {
            let body = format!("name={name}&password={password}");
            rig.post_anon(
                from,
                "/dang-nhap",
                &[("sec-fetch-site", "same-origin")],
                &body,
            )
            .await
        }
    };
    for _ in 0..5 {
        let r = attempt(LAN, "an", "doan-sai").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Sai tên đăng nhập hoặc mật khẩu"));
    }
    // The sixth, even with the right password, must wait.
    let r = attempt([10, 0, 0, 9], "an", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    assert!(r.body.contains("Hãy đợi"));
    let wait: i64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    // The address that failed is slowed for other names too.
    let r = attempt(LAN, "binh", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another name from another address is not.
    let r = attempt(LOCAL, "binh", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{r:?}");
    // Each failure and the slowed attempt are in the audit log.
    let audit = audit_results(&rig);
    let failures = audit
        .iter()
        .filter(|(w, a, r)| w == "an" && a == "sign-in" && r.starts_with("refused (401)"))
        .count();
    assert_eq!(failures, 5, "{audit:?}");
    assert!(audit
        .iter()
        .any(|(w, a, r)| w == "an" && a == "sign-in" && r.starts_with("refused (429)")));
    assert!(audit
        .iter()
        .any(|(w, a, r)| w == "binh" && a == "sign-in" && r == "ok"));
}

#[test]
fn the_wait_grows() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rig = rt.block_on(rig(""));
    let mut now = Utc::now();
    let mut outcomes = Vec::new();
    for _ in 0..12 {
        // Each attempt right when the previous wait is over.
        let r = rt
            .block_on(
                rig.accounts
                    .sign_in(now, "ghost", "x".into(), "10.1.1.1", "test"),
            )
            .unwrap();
        match r {
            super::accounts::SignIn::Refused => outcomes.push(0),
            super::accounts::SignIn::Wait(w) => {
                outcomes.push(w);
                now += Duration::seconds(w);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(outcomes[..5], [0; 5], "five free failures: {outcomes:?}");
    let waits: Vec<i64> = outcomes.iter().copied().filter(|&w| w > 0).collect();
    assert!(waits.len() >= 3, "{outcomes:?}");
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "growing: {outcomes:?}"
    );
}

#[tokio::test]
async fn names_are_escaped() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let name = "<script>alert(1)</script>";
    rig.post_expect(
        &admin,
        "/tai-khoan/them",
        &form(&[("name", name), ("role", "viewer"), ("password", "12345678")]),
        StatusCode::OK,
    )
    .await;
    let page = rig.get(Some(&admin), "/tai-khoan").await;
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains(name), "raw markup in the page");
    // The refused sign-in form echoes the name escaped too.
    let r = rig
        .post_anon(
            LOCAL,
            "/dang-nhap",
            &[],
            &form(&[("name", name), ("password", "x")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.body.contains(name));
}

/// Post the sign-in form with `form` (and the pre-session's token).
async fn sign_in_with(rig: &Rig, form: &str) -> Reply {
    rig.post_anon(LOCAL, "/dang-nhap", &[], form).await
}

#[tokio::test]
async fn headers_cookies_and_not_found() {
    let rig = rig("").await;
    rig.user("an", Role::Viewer).await;
    let r = sign_in_with(
        &rig,
        &format!("name=an&password={PASSWORD}&next=//evil.example/"),
    )
    .await;
    assert_eq!(r.location(), "/", "no open redirect");
    let set = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain HTTP: {set}");

    let page = rig.get(None, "/khong-co-trang-nay").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Không có trang này"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(page.headers.contains_key(header::REFERRER_POLICY));
    // Behind an HTTPS proxy the cookie is Secure.
    let rig = super::test_rig::rig("[api]\nbehind_https_proxy = true").await;
    rig.user("an", Role::Viewer).await;
    let r = sign_in_with(&rig, &format!("name=an&password={PASSWORD}")).await;
    assert!(r.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn caller_is_the_user() {
    let (rig, b) = rig_as(Role::Operator).await;
    let cookie = b.cookie.clone();
    let live = rig
        .accounts
        .run(move |s| s.session(Utc::now(), &cookie, std::time::Duration::from_secs(60)))
        .await
        .unwrap()
        .unwrap();
    let signed = super::session::Signed {
        user: live.user,
        role: live.role,
        csrf: live.csrf,
        lang: super::i18n::Lang::Vi,
        station: "Đài thử".into(),
        sends: false,
    };
    let c = super::session::caller(&signed);
    assert_eq!(
        (c.name.as_str(), c.role),
        ("operator", Some(Role::Operator))
    );
}

#[tokio::test]
async fn page_actions_are_the_users_and_viewers_cannot_forge_them() {
    let (rig, viewer) = rig_as(Role::Viewer).await;
    let operator = rig.signed_in(Role::Operator).await;
    // A viewer's forged form, token and all, is refused by the server.
    rig.post_expect(&viewer, "/xep-hang", "what=b:tone", StatusCode::FORBIDDEN)
        .await;
    rig.post_expect(&viewer, "/tam-dung", "", StatusCode::FORBIDDEN)
        .await;
    // An operator's queueing is theirs: audit row and requested_by.
    let r = rig.post(&operator, "/xep-hang", "what=b:long").await;
    assert!(r.status.is_redirection() || r.status.is_success(), "{r:?}");
    // A second one waits behind it, requested by the user.
    let r = rig.post(&operator, "/xep-hang", "what=b:tone").await;
    assert!(r.status.is_redirection() || r.status.is_success(), "{r:?}");
    let mut waiting = None;
    for _ in 0..250 {
        waiting = rig.state.handle.status.borrow().queue_next.clone();
        if waiting.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let waiting = waiting.expect("an item waits");
    assert_eq!(waiting.requested_by.as_deref(), Some("operator"));
    // The API's audit rows go through the ledger's writer thread.
    let mut audit = audit_results(&rig);
    for _ in 0..250 {
        if audit.iter().any(|(_, a, _)| a == "queue") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        audit = audit_results(&rig);
    }
    assert!(
        audit
            .iter()
            .any(|(w, a, r)| w == "operator" && a == "queue" && r.starts_with("ok")),
        "{audit:?}"
    );
    assert!(
        !audit.iter().any(|(w, a, _)| w == "viewer" && a == "queue"),
        "the viewer's attempt never reached the engine: {audit:?}"
    );
}

#[tokio::test]
async fn the_setup_link_names_the_bound_address_until_an_admin_exists() {
    let rig = rig("").await;
    let station = rig.state.current.get();
    let watch = rig.accounts.setup_link_watch();
    let accounts = std::sync::Arc::clone(&rig.accounts);
    let st = std::sync::Arc::clone(&station);
    let link = tokio::task::spawn_blocking(move || {
        super::setup_link(&accounts, &st, "127.0.0.1:18077".parse().unwrap())
    })
    .await
    .unwrap()
    .unwrap()
    .expect("no admin yet");
    let code = rig.accounts.setup_code().unwrap().unwrap();
    assert_eq!(link, format!("http://127.0.0.1:18077/thiet-lap?ma={code}"));
    assert_eq!(
        watch.borrow().as_deref(),
        Some(link.as_str()),
        "for the status line"
    );
    let r = rig.post_form("/thiet-lap", &setup_form(&code, "an")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(*watch.borrow(), None, "the status line drops it");
    let accounts = std::sync::Arc::clone(&rig.accounts);
    let again = tokio::task::spawn_blocking(move || {
        super::setup_link(&accounts, &station, "127.0.0.1:18077".parse().unwrap())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again, None);
}

/// The province role: added from the admin page, shown as *cán bộ tỉnh*,
/// reads like a viewer and cannot operate this station.
#[tokio::test]
async fn a_province_user_reads_like_a_viewer() {
    let (rig, admin) = rig_as(Role::Admin).await;
    let r = rig.get(Some(&admin), "/tai-khoan").await;
    assert!(
        r.body.contains("value=\"province\""),
        "offered on the admin page"
    );
    rig.post_expect(
        &admin,
        "/tai-khoan/them",
        &format!("name=tinh&role=province&password={PASSWORD}"),
        StatusCode::OK,
    )
    .await
    .assert_has("Đã thêm tinh (cán bộ tỉnh)");
    let tinh = rig.sign_in("tinh").await;
    let r = rig.get(Some(&tinh), "/").await;
    assert_eq!(r.status, StatusCode::OK);
    r.assert_has("cán bộ tỉnh");
    r.assert_has("href=\"/gui-ban-tin\"");
    // No [publish] here: the page says so.
    let r = rig.get(Some(&tinh), "/gui-ban-tin").await;
    assert_eq!(r.status, StatusCode::OK);
    r.assert_has("Máy này chưa được thiết lập để gửi bản tin");
    let r = rig.get(Some(&tinh), "/gui-ban-tin?lang=en").await;
    r.assert_has("This host is not set up to send bulletins");
    r.assert_has(">Send</a>");
    let op = rig.signed_in(Role::Operator).await;
    assert_eq!(
        rig.get(Some(&op), "/gui-ban-tin").await.status,
        StatusCode::FORBIDDEN
    );
    assert!(!rig.get(Some(&op), "/").await.body.contains("/gui-ban-tin"));
    // An admin of a station that does not send has no such section.
    assert!(!rig
        .get(Some(&admin), "/")
        .await
        .body
        .contains("/gui-ban-tin"));
    for path in ["/lich", "/nhat-ky", "/bao-cao"] {
        assert_eq!(
            rig.get(Some(&tinh), path).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    for path in ["/thu-am", "/tai-khoan"] {
        assert_eq!(
            rig.get(Some(&tinh), path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    rig.post_expect(&tinh, "/xep-hang", "what=b:tone", StatusCode::FORBIDDEN)
        .await;
}
