//! The console's accounts, below HTTP: passwords (argon2id, the crate's
//! default parameters, checked on `super::passwords`' one thread), the
//! session secret in `data_dir`, session ids and CSRF tokens, the sign-in
//! slowdown, and the first-start setup code.
//!
//! The store blocks (SQLite): the web layer calls it inside
//! `spawn_blocking` through [`Accounts::run`]; `loa user` calls it
//! directly. Its lock is never held across a password check or hash
//! ([`Accounts::sign_in`] reads the hash, lets go, checks, then takes the
//! lock again to record the outcome): a check takes a tenth of a second or
//! more, and every page view needs the lock to find its session.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use hmac::{KeyInit, Mac};

use super::passwords::{self, Hasher, Passwords};
use crate::config::{Role, Station};
use crate::ledger::{Ledger, SessionRow};
use crate::token::hex;

/// The file in `data_dir` that keeps the session secret (mode 0600).
pub(crate) const SECRET_FILE: &str = "web-secret";

/// Shortest password accepted.
pub(crate) const MIN_PASSWORD: usize = 8;

/// Failed sign-ins (per name, and per address) within
/// [`FAILURE_WINDOW_MINUTES`] before sign-in is slowed.
pub(crate) const FREE_FAILURES: usize = 5;
pub(crate) const FAILURE_WINDOW_MINUTES: i64 = 15;
/// The longest wait the slowdown imposes.
const MAX_WAIT_SECONDS: i64 = 15 * 60;

/// Successful sign-ins from one address within [`SUCCESS_WINDOW_SECONDS`]
/// before that address must wait too: a known password must not buy
/// unlimited password checks (each costs 19 MiB and a core for a moment).
/// An office behind one address signs in a few people a day.
pub(crate) const SUCCESSES_PER_ADDRESS: usize = 10;
pub(crate) const SUCCESS_WINDOW_SECONDS: i64 = 10 * 60;
/// Addresses whose recent successes are remembered (memory bound).
const SUCCESS_ADDRESSES: usize = 1024;

/// A session is marked used at most this often (a write per page view
/// would be an fsync per click on the station's SD card).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The open ledger connection and the secret, opened on first use.
pub(crate) struct Store {
    pub(crate) ledger: Ledger,
    secret: [u8; 32],
}

/// The console's accounts of one station; shared by every request.
pub(crate) struct Accounts {
    ledger_path: PathBuf,
    data_dir: PathBuf,
    tz: Tz,
    store: Mutex<Option<Store>>,
    /// Password checks and hashes, one at a time on their own thread.
    pub(crate) passwords: Passwords,
    /// Recent successful sign-ins per address (instants in ms).
    successes: Mutex<HashMap<String, VecDeque<i64>>>,
    /// The first-start setup code, while no admin exists.
    setup: Mutex<Option<String>>,
    /// The first-start link as `loa run` announced it, for the systemd
    /// status line; `None` once an admin exists.
    pub(super) link: tokio::sync::watch::Sender<Option<String>>,
}

/// A session that [`Store::session`] found alive.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) id: String,
    pub(crate) user: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
}

/// What a sign-in attempt came to.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// Signed in: the cookie's value.
    Ok { cookie: String },
    /// Wrong name or password (which one is not said).
    Refused,
    /// Too many failures (or sign-ins) lately: try again in this many
    /// seconds.
    Wait(i64),
    /// Too many password checks waiting: try again in this many seconds.
    Busy(u64),
}

impl Accounts {
    pub(crate) fn new(station: &Station) -> Arc<Accounts> {
        Arc::new(Accounts {
            ledger_path: station.ledger_path(),
            data_dir: station.data_dir.clone(),
            tz: station.timezone,
            store: Mutex::new(None),
            passwords: Passwords::default(),
            successes: Mutex::new(HashMap::new()),
            setup: Mutex::new(None),
            link: tokio::sync::watch::Sender::new(None),
        })
    }

    /// Run `f` on the store, opening it first if needed. Blocks.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let mut guard = self.store.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let ledger = Ledger::open_accounts(&self.ledger_path, self.tz).with_context(|| {
                format!(
                    "opening the accounts in the ledger {}",
                    self.ledger_path.display()
                )
            })?;
            let secret = load_or_create_secret(&self.data_dir)?;
            *guard = Some(Store { ledger, secret });
        }
        f(guard.as_mut().expect("opened above"))
    }

    /// [`Accounts::with`] on a blocking thread.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.with(f))
            .await
            .context("the accounts task stopped")?
    }

    /// Check a sign-in and, when right, start a session: the slowdown
    /// and the user's hash under the store's lock, the password check on
    /// the password thread with no lock held, the outcome under the lock.
    pub(crate) async fn sign_in(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        name: &str,
        password: String,
        addr: &str,
        agent: &str,
    ) -> Result<SignIn> {
        let (n, a) = (name.to_string(), addr.to_string());
        let found = self
            .run(move |s| {
                Ok(match s.failures_wait(now, &n, &a)? {
                    Some(secs) => Err(secs),
                    None => Ok(s.ledger.user_with_password(&n)?),
                })
            })
            .await?;
        let user = match found {
            Err(secs) => return Ok(SignIn::Wait(secs)),
            Ok(user) => user,
        };
        if let Some(secs) = self.successes_wait(now, addr) {
            let (n, a) = (name.to_string(), addr.to_string());
            self.run(move |s| {
                s.ledger.audit(
                    &n,
                    "sign-in",
                    &format!("from {a}"),
                    &format!(
                        "refused (429): {SUCCESSES_PER_ADDRESS} sign-ins from this address in \
                         {} min, wait {secs} s",
                        SUCCESS_WINDOW_SECONDS / 60
                    ),
                )?;
                Ok(())
            })
            .await?;
            return Ok(SignIn::Wait(secs));
        }
        // Unknown names are checked against a dummy hash, as long as a
        // real check, so timing does not tell which names exist.
        let hash = user
            .as_ref()
            .map_or_else(|| DUMMY_HASH.to_string(), |(_, h)| h.clone());
        let right = match self.passwords.verify(hash, password).await {
            Ok(right) => right,
            Err(passwords::Busy(secs)) => {
                tracing::debug!(%addr, "sign-in refused: password checks are busy");
                return Ok(SignIn::Busy(secs));
            }
        };
        let user = user
            .filter(|(u, _)| right && u.enabled)
            .map(|(u, _)| u.name);
        if user.is_some() {
            self.note_success(now, addr);
        }
        let (n, a, agent) = (name.to_string(), addr.to_string(), agent.to_string());
        self.run(move |s| s.record_sign_in(now, &n, user.as_deref(), &a, &agent))
            .await
    }

    /// How long `addr` must wait after [`SUCCESSES_PER_ADDRESS`] sign-ins
    /// within the window, or `None`.
    fn successes_wait(&self, now: DateTime<Utc>, addr: &str) -> Option<i64> {
        let now_ms = now.timestamp_millis();
        let window = SUCCESS_WINDOW_SECONDS * 1000;
        let mut m = self.successes.lock().unwrap_or_else(|e| e.into_inner());
        let times = m.get_mut(addr)?;
        while times.front().is_some_and(|&t| t <= now_ms - window) {
            times.pop_front();
        }
        if times.len() < SUCCESSES_PER_ADDRESS {
            return None;
        }
        let left = times.front().map_or(0, |&t| t + window - now_ms);
        Some(((left + 999) / 1000).max(1))
    }

    /// Remember a successful sign-in from `addr`.
    fn note_success(&self, now: DateTime<Utc>, addr: &str) {
        let now_ms = now.timestamp_millis();
        let window = SUCCESS_WINDOW_SECONDS * 1000;
        let mut m = self.successes.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= SUCCESS_ADDRESSES && !m.contains_key(addr) {
            m.retain(|_, t| t.back().is_some_and(|&t| t > now_ms - window));
            if m.len() >= SUCCESS_ADDRESSES {
                // Forget the address whose last success is oldest.
                let oldest = m
                    .iter()
                    .min_by_key(|(_, t)| t.back().copied().unwrap_or(0))
                    .map(|(a, _)| a.clone());
                if let Some(a) = oldest {
                    m.remove(&a);
                }
            }
        }
        let times = m.entry(addr.to_string()).or_default();
        times.push_back(now_ms);
        while times.len() > SUCCESSES_PER_ADDRESS {
            times.pop_front();
        }
    }

    /// The setup code while no enabled admin exists (made on first call,
    /// the same until an admin exists); `None` once one does.
    pub(crate) fn setup_code(&self) -> Result<Option<String>> {
        let admins = self.with(|s| Ok(s.ledger.enabled_admins()?))?;
        let mut code = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        if admins > 0 {
            *code = None;
            self.link.send_replace(None);
            return Ok(None);
        }
        if code.is_none() {
            *code = Some(random_hex::<16>()?);
        }
        Ok(code.clone())
    }

    /// Whether `given` is the current setup code (constant time).
    pub(crate) fn setup_code_matches(&self, given: &str) -> bool {
        let code = self.setup.lock().unwrap_or_else(|e| e.into_inner());
        code.as_deref()
            .is_some_and(|c| sha2_eq(c.as_bytes(), given.as_bytes()))
    }

    /// Forget the setup code (the first admin exists).
    pub(crate) fn end_setup(&self) {
        *self.setup.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.link.send_replace(None);
    }

    /// The announced first-start link, while it works.
    pub(crate) fn setup_link_watch(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.link.subscribe()
    }
}

/// `N` bytes from the OS random source, in hex.
pub(crate) fn random_hex<const N: usize>() -> Result<String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).context("reading the OS random source")?;
    Ok(hex(&bytes))
}

/// Equal, compared through their SHA-256 in constant time.
pub(crate) fn sha2_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y): ([u8; 32], [u8; 32]) = (Sha256::digest(a).into(), Sha256::digest(b).into());
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | std::hint::black_box(p ^ q))
        == 0
}

impl Store {
    fn mac(&self, purpose: &str, value: &str) -> String {
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes any key length");
        m.update(purpose.as_bytes());
        m.update(b":");
        m.update(value.as_bytes());
        hex(&m.finalize().into_bytes())
    }

    /// The stored id of a cookie's session id.
    fn session_key(&self, cookie: &str) -> String {
        self.mac("session", cookie)
    }

    /// The CSRF token of a session (by its stored id).
    fn csrf(&self, id: &str) -> String {
        self.mac("csrf", id)
    }

    /// The CSRF token of the forms shown before a session exists (sign-in,
    /// first start), for the random `nonce` kept in the browser's
    /// pre-session cookie: a signed double submit.
    pub(crate) fn pre_csrf(&self, nonce: &str) -> String {
        self.mac("pre-csrf", nonce)
    }

    /// How long a sign-in from `addr` as `name` must wait after recent
    /// failures (audited), or `None`; first half of a sign-in, the
    /// password check comes after (off the lock).
    fn failures_wait(&mut self, now: DateTime<Utc>, name: &str, addr: &str) -> Result<Option<i64>> {
        let since = now - chrono::Duration::minutes(FAILURE_WINDOW_MINUTES);
        let [by_name, by_addr] = self.ledger.signin_failures(name, addr, since)?;
        let (count, last) = if by_name.0 >= by_addr.0 {
            by_name
        } else {
            by_addr
        };
        if count < FREE_FAILURES {
            return Ok(None);
        }
        let wait = (1i64 << (count - FREE_FAILURES + 1).min(20)).min(MAX_WAIT_SECONDS);
        let until = last.unwrap_or(0) + wait * 1000;
        let left = until - now.timestamp_millis();
        if left <= 0 {
            return Ok(None);
        }
        let secs = (left + 999) / 1000;
        self.ledger.audit(
            name,
            "sign-in",
            &format!("from {addr}"),
            &format!(
                "refused (429): {count} failures in {FAILURE_WINDOW_MINUTES} min, wait {secs} s"
            ),
        )?;
        Ok(Some(secs))
    }

    /// Record a checked sign-in: a failure (`user` is `None`) or a new
    /// session for `user`.
    fn record_sign_in(
        &mut self,
        now: DateTime<Utc>,
        name: &str,
        user: Option<&str>,
        addr: &str,
        agent: &str,
    ) -> Result<SignIn> {
        let Some(user) = user else {
            self.ledger
                .add_signin_failure(now, name, addr, now - chrono::Duration::days(1))?;
            self.ledger.audit(
                name,
                "sign-in",
                &format!("from {addr}"),
                "refused (401): wrong name or password, or the user is disabled",
            )?;
            return Ok(SignIn::Refused);
        };
        self.ledger.clear_signin_failures(name)?;
        let cookie = self.start_session(now, user, addr, agent)?;
        self.ledger
            .audit(user, "sign-in", &format!("from {addr}"), "ok")?;
        Ok(SignIn::Ok { cookie })
    }

    /// Start a session for `user`; the cookie's value.
    pub(crate) fn start_session(
        &mut self,
        now: DateTime<Utc>,
        user: &str,
        addr: &str,
        agent: &str,
    ) -> Result<String> {
        let cookie = random_hex::<32>()?;
        let agent: String = agent.chars().take(200).collect();
        self.ledger.add_session(&SessionRow {
            id: self.session_key(&cookie),
            user: user.into(),
            created_ms: now.timestamp_millis(),
            seen_ms: now.timestamp_millis(),
            addr: addr.into(),
            agent,
        })?;
        Ok(cookie)
    }

    /// The live session of a cookie, marking it used; an expired one (idle
    /// longer than `idle`) or one whose user is disabled ends here.
    pub(crate) fn session(
        &mut self,
        now: DateTime<Utc>,
        cookie: &str,
        idle: std::time::Duration,
    ) -> Result<Option<Live>> {
        let id = self.session_key(cookie);
        let Some(found) = self.ledger.session(&id)? else {
            return Ok(None);
        };
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let age = now.timestamp_millis() - found.session.seen_ms;
        if !found.enabled || age > idle_ms {
            self.ledger.end_session(&id)?;
            return Ok(None);
        }
        if age > TOUCH_EVERY_MS {
            self.ledger.touch_session(&id, now)?;
        }
        Ok(Some(Live {
            csrf: self.csrf(&id),
            id,
            user: found.session.user,
            role: found.role,
        }))
    }

    /// End sessions idle longer than `idle` (the admin page lists the rest).
    pub(crate) fn end_idle(&mut self, now: DateTime<Utc>, idle: std::time::Duration) -> Result<()> {
        let idle = chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::MAX);
        self.ledger.end_idle_sessions(
            now.checked_sub_signed(idle)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )?;
        Ok(())
    }
}

/// A user name or password that cannot be taken: each says in words what
/// is accepted ([`InputError::vi`] for the console's Vietnamese pages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InputError {
    #[error("a user name must not be empty or start or end with a space")]
    NameBlank,
    #[error("a user name has at most 64 characters")]
    NameTooLong,
    #[error("a user name must not contain control characters")]
    NameControl,
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    PasswordShort,
    #[error("a password has at most {} bytes", passwords::MAX_PASSWORD)]
    PasswordLong,
}

impl InputError {
    pub(crate) fn vi(&self) -> String {
        match self {
            InputError::NameBlank => {
                "Tên đăng nhập không được để trống, không bắt đầu hay kết thúc bằng dấu cách."
                    .into()
            }
            InputError::NameTooLong => "Tên đăng nhập dài tối đa 64 ký tự.".into(),
            InputError::NameControl => "Tên đăng nhập không được chứa ký tự điều khiển.".into(),
            InputError::PasswordShort => {
                format!("Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
            }
            InputError::PasswordLong => {
                format!("Mật khẩu dài tối đa {} byte.", passwords::MAX_PASSWORD)
            }
        }
    }
}

/// Check a user name: what `loa user add` and the admin page accept.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), InputError> {
    if name.trim() != name || name.is_empty() {
        return Err(InputError::NameBlank);
    }
    if name.chars().count() > 64 {
        return Err(InputError::NameTooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::NameControl);
    }
    Ok(())
}

/// Check a new password.
pub(crate) fn check_password(password: &str) -> std::result::Result<(), InputError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(InputError::PasswordShort);
    }
    if password.len() > passwords::MAX_PASSWORD {
        return Err(InputError::PasswordLong);
    }
    Ok(())
}

/// The argon2id PHC string of a password (default parameters, a fresh
/// salt), on this thread: for `loa user` and tests. The web console hashes
/// on its password thread ([`Passwords::hash`]).
pub(crate) fn hash_password(password: &str) -> Result<String> {
    Hasher::default().hash(password)
}

/// Whether `password` is `hash`'s, on this thread (tests).
#[cfg(test)]
pub(crate) fn verify_password(hash: &str, password: &str) -> bool {
    Hasher::default().verify(hash, password)
}

/// A well-formed hash with the default parameters that no password
/// matches (its output is all zeros), for unknown names: checking against
/// it costs what a real check costs.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bG9hLW5vLXN1Y2gtdXNlcg$\
    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The session secret: 32 random bytes kept in hex in `data_dir/web-secret`
/// (0600), made the first time.
fn load_or_create_secret(data_dir: &Path) -> Result<[u8; 32]> {
    let path = data_dir.join(SECRET_FILE);
    let parse = |text: &str| -> Option<[u8; 32]> {
        let t = text.trim();
        if t.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return parse(&text).with_context(|| {
                format!(
                    "{} is not 64 hex digits; delete it (everyone will have to sign in again) \
                     and loa makes a new one",
                    path.display()
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).context("reading the OS random source")?;
    use std::os::unix::fs::OpenOptionsExt;
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(format!("{}\n", hex(&bytes)).as_bytes())?;
            f.sync_all()
        });
    match made {
        Ok(()) => Ok(bytes),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            parse(&text).with_context(|| format!("{} is not 64 hex digits", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("mật khẩu dài").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "mật khẩu dài"));
        assert!(!verify_password(&h, "mat khau dai"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn the_dummy_hash_is_checked_in_full() {
        let h = argon2::password_hash::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(h.hash.unwrap().len(), 32);
        assert_eq!(
            argon2::Params::try_from(&h).unwrap().block_count(),
            argon2::Params::default().block_count(),
            "as long as a real check"
        );
        assert!(!verify_password(DUMMY_HASH, ""));
    }

    #[test]
    fn secret_is_made_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_secret(dir.path()).unwrap();
        let b = load_or_create_secret(dir.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(SECRET_FILE), "short").unwrap();
        assert!(load_or_create_secret(dir.path()).is_err());
    }

    #[test]
    fn names_and_passwords_checked() {
        assert!(check_name("Nguyễn Văn An").is_ok());
        assert!(
            check_name("<script>").is_ok(),
            "escaped on output, not refused"
        );
        assert!(check_name(" an").is_err());
        assert!(check_name("").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
    }
}
