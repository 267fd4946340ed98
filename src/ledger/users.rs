//! The web console's accounts: the `users`, `sessions` and
//! `signin_failures` tables (schema version 4).
//!
//! Only stored values pass through here: password hashes are made and
//! checked by `crate::web::accounts`, session ids arrive already keyed-hashed.
//! A [`Ledger`] opened with [`Ledger::open_accounts`] writes these.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Ledger, Result};
use crate::config::Role;
use crate::timefmt::rfc3339;

/// One row of `users` (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub enabled: bool,
    pub created_at: String,
}

/// One row of `sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The keyed hash of the cookie's value (hex).
    pub id: String,
    pub user: String,
    pub created_ms: i64,
    pub seen_ms: i64,
    pub addr: String,
    pub agent: String,
}

/// What a session id leads to: the session and its user as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub session: SessionRow,
    pub role: Role,
    pub enabled: bool,
}

fn role_of(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown role {s:?}").into(),
        )
    })
}

fn session_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(from_columns!(
        r,
        SessionRow {
            id,
            user,
            created_ms,
            seen_ms,
            addr,
            agent
        }
    ))
}

impl Ledger {
    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let action = "list the web console's users";
        let sql = "SELECT name, role, enabled, created_at FROM users ORDER BY name";
        self.all(action, sql, [], |r| {
            Ok(User {
                name: r.get(0)?,
                role: role_of(r.get(1)?)?,
                enabled: r.get(2)?,
                created_at: r.get(3)?,
            })
        })
    }

    /// How many enabled admins there are (the first-start setup ends at one).
    pub fn enabled_admins(&self) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT count(*) FROM users WHERE role = 'admin' AND enabled = 1",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err("count the web console's admins"))
    }

    /// A user and their password hash.
    pub fn user_with_password(&self, name: &str) -> Result<Option<(User, String)>> {
        self.conn
            .prepare_cached(
                "SELECT name, role, enabled, created_at, password FROM users WHERE name = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![name], |r| {
                    Ok((
                        User {
                            name: r.get(0)?,
                            role: role_of(r.get(1)?)?,
                            enabled: r.get(2)?,
                            created_at: r.get(3)?,
                        },
                        r.get(4)?,
                    ))
                })
                .optional()
            })
            .map_err(self.err("read a web console user"))
    }

    /// Add a user; `false` when the name is taken.
    pub fn add_user(&mut self, name: &str, role: Role, password_hash: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO users (name, role, password, enabled, created_at) \
                 VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (name) DO NOTHING",
                params![
                    name,
                    role.as_str(),
                    password_hash,
                    rfc3339(Utc::now(), self.tz)
                ],
            )
            .map_err(self.err("add a web console user"))?;
        Ok(n == 1)
    }

    /// Change a user's password hash; `false` when there is no such user.
    pub fn set_password(&mut self, name: &str, password_hash: &str) -> Result<bool> {
        self.update_user(
            name,
            "password",
            password_hash,
            "change a web console user's password",
        )
    }

    /// Enable or disable a user; `false` when there is no such user.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> Result<bool> {
        self.update_user(
            name,
            "enabled",
            enabled,
            "enable or disable a web console user",
        )
    }

    /// Change a user's role; `false` when there is no such user.
    pub fn set_role(&mut self, name: &str, role: Role) -> Result<bool> {
        self.update_user(
            name,
            "role",
            role.as_str(),
            "change a web console user's role",
        )
    }

    /// Set one column of user `name`'s row; `false` when there is no such
    /// user. `column` is one of this file's names, never a caller's.
    fn update_user(
        &mut self,
        name: &str,
        column: &'static str,
        value: impl rusqlite::ToSql,
        action: &'static str,
    ) -> Result<bool> {
        self.conn
            .execute(
                &format!("UPDATE users SET {column} = ?2 WHERE name = ?1"),
                params![name, value],
            )
            .map(|n| n == 1)
            .map_err(self.err(action))
    }

    /// Remove a user and their sessions; `false` when there is no such user.
    pub fn remove_user(&mut self, name: &str) -> Result<bool> {
        let action = "remove a web console user";
        let tx = self
            .conn
            .transaction()
            .map_err(|e| super::LedgerError::sqlite(&self.path, action, e))?;
        let n = tx
            .execute("DELETE FROM users WHERE name = ?1", params![name])
            .and_then(|n| {
                tx.execute("DELETE FROM sessions WHERE user = ?1", params![name])?;
                Ok(n)
            })
            .and_then(|n| tx.commit().map(|_| n))
            .map_err(|e| super::LedgerError::sqlite(&self.path, action, e))?;
        Ok(n == 1)
    }

    /// Start a session.
    pub fn add_session(&mut self, s: &SessionRow) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO sessions (id, user, created_ms, seen_ms, addr, agent) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.id, s.user, s.created_ms, s.seen_ms, s.addr, s.agent],
            )
            .map(|_| ())
            .map_err(self.err("start a web console session"))
    }

    /// A session and its user, if both exist.
    pub fn session(&self, id: &str) -> Result<Option<SessionUser>> {
        self.conn
            .prepare_cached(
                "SELECT s.id, s.user, s.created_ms, s.seen_ms, s.addr, s.agent, u.role, u.enabled \
                 FROM sessions s JOIN users u ON u.name = s.user WHERE s.id = ?1",
            )
            .and_then(|mut st| {
                st.query_row(params![id], |r| {
                    Ok(SessionUser {
                        session: session_of(r)?,
                        role: role_of(r.get(6)?)?,
                        enabled: r.get(7)?,
                    })
                })
                .optional()
            })
            .map_err(self.err("read a web console session"))
    }

    /// Mark a session used at `at`.
    pub fn touch_session(&mut self, id: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sessions SET seen_ms = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, at.timestamp_millis()]))
            .map(|_| ())
            .map_err(self.err("mark a web console session used"))
    }

    /// End a session; `false` when there was none.
    pub fn end_session(&mut self, id: &str) -> Result<bool> {
        self.conn
            .execute("DELETE FROM sessions WHERE id = ?1", params![id])
            .map(|n| n == 1)
            .map_err(self.err("end a web console session"))
    }

    /// End every session of a user; how many there were.
    pub fn end_sessions_of(&mut self, user: &str) -> Result<usize> {
        self.conn
            .execute("DELETE FROM sessions WHERE user = ?1", params![user])
            .map_err(self.err("end a user's web console sessions"))
    }

    /// Forget sessions idle since before `seen_before`.
    pub fn end_idle_sessions(&mut self, seen_before: DateTime<Utc>) -> Result<usize> {
        self.conn
            .execute(
                "DELETE FROM sessions WHERE seen_ms < ?1",
                params![seen_before.timestamp_millis()],
            )
            .map_err(self.err("end idle web console sessions"))
    }

    /// Every session, most recently used first.
    pub fn sessions(&self) -> Result<Vec<SessionRow>> {
        let action = "list web console sessions";
        let sql = "SELECT id, user, created_ms, seen_ms, addr, agent FROM sessions \
                   ORDER BY seen_ms DESC, id";
        self.all(action, sql, [], session_of)
    }

    /// Note a failed sign-in, and forget those older than `forget_before`.
    pub fn add_signin_failure(
        &mut self,
        at: DateTime<Utc>,
        name: &str,
        addr: &str,
        forget_before: DateTime<Utc>,
    ) -> Result<()> {
        let action = "note a failed sign-in";
        self.conn
            .execute(
                "INSERT INTO signin_failures (at_ms, name, addr) VALUES (?1, ?2, ?3)",
                params![at.timestamp_millis(), name, addr],
            )
            .and_then(|_| {
                self.conn.execute(
                    "DELETE FROM signin_failures WHERE at_ms < ?1",
                    params![forget_before.timestamp_millis()],
                )
            })
            .map(|_| ())
            .map_err(self.err(action))
    }

    /// Failed sign-ins since `since` for `name`, and for `addr`: (count,
    /// latest instant in ms) of each.
    pub fn signin_failures(
        &self,
        name: &str,
        addr: &str,
        since: DateTime<Utc>,
    ) -> Result<[(usize, Option<i64>); 2]> {
        let action = "count failed sign-ins";
        let since = since.timestamp_millis();
        let count = |column: &str, value: &str| {
            self.conn
                .query_row(
                    &format!(
                        "SELECT count(*), max(at_ms) FROM signin_failures \
                         WHERE {column} = ?1 AND at_ms >= ?2"
                    ),
                    params![value, since],
                    |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)),
                )
                .map_err(self.err(action))
        };
        Ok([count("name", name)?, count("addr", addr)?])
    }

    /// Forget the failures of a name after it signed in.
    pub fn clear_signin_failures(&mut self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM signin_failures WHERE name = ?1", params![name])
            .map(|_| ())
            .map_err(self.err("forget failed sign-ins"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::test_util::*;

    fn session(id: &str, user: &str, seen_ms: i64) -> SessionRow {
        SessionRow {
            id: id.into(),
            user: user.into(),
            created_ms: seen_ms,
            seen_ms,
            addr: "127.0.0.1".into(),
            agent: "test".into(),
        }
    }

    #[test]
    fn users_and_sessions_round_trip() {
        let (_dir, path) = fresh();
        let mut l = Ledger::open_accounts(&path, TZ).unwrap();
        assert_eq!(l.enabled_admins().unwrap(), 0);
        assert!(l.add_user("an", Role::Admin, "h1").unwrap());
        assert!(!l.add_user("an", Role::Viewer, "h2").unwrap(), "name taken");
        assert!(l.add_user("binh", Role::Operator, "h3").unwrap());
        assert_eq!(l.enabled_admins().unwrap(), 1);
        let (u, h) = l.user_with_password("an").unwrap().unwrap();
        assert_eq!((u.role, h.as_str(), u.enabled), (Role::Admin, "h1", true));
        assert!(l.set_enabled("an", false).unwrap());
        assert_eq!(l.enabled_admins().unwrap(), 0);
        assert!(l.set_password("binh", "h4").unwrap());
        assert!(!l.set_password("nobody", "h4").unwrap());
        assert!(l.set_role("binh", Role::Viewer).unwrap());

        l.add_session(&session("s1", "binh", 1000)).unwrap();
        l.add_session(&session("s2", "binh", 2000)).unwrap();
        let s = l.session("s1").unwrap().unwrap();
        assert_eq!((s.role, s.session.user.as_str()), (Role::Viewer, "binh"));
        l.touch_session("s1", DateTime::from_timestamp_millis(5000).unwrap())
            .unwrap();
        assert_eq!(l.sessions().unwrap()[0].id, "s1", "most recent first");
        assert_eq!(
            l.end_idle_sessions(DateTime::from_timestamp_millis(3000).unwrap())
                .unwrap(),
            1
        );
        assert!(l.session("s2").unwrap().is_none());
        assert!(l.remove_user("binh").unwrap());
        assert!(
            l.session("s1").unwrap().is_none(),
            "sessions go with the user"
        );
        assert_eq!(l.users().unwrap().len(), 1);
    }

    #[test]
    fn failures_counted_per_name_and_address() {
        let (_dir, path) = fresh();
        let mut l = Ledger::open_accounts(&path, TZ).unwrap();
        let t = |m: i64| DateTime::from_timestamp_millis(m * 60_000).unwrap();
        l.add_signin_failure(t(1), "an", "10.0.0.1", t(0)).unwrap();
        l.add_signin_failure(t(2), "an", "10.0.0.2", t(0)).unwrap();
        l.add_signin_failure(t(3), "binh", "10.0.0.1", t(0))
            .unwrap();
        let [name, addr] = l.signin_failures("an", "10.0.0.1", t(0)).unwrap();
        assert_eq!(name, (2, Some(t(2).timestamp_millis())));
        assert_eq!(addr, (2, Some(t(3).timestamp_millis())));
        let [name, _] = l.signin_failures("an", "10.0.0.1", t(2)).unwrap();
        assert_eq!(name.0, 1, "older ones are outside the window");
        l.clear_signin_failures("an").unwrap();
        assert_eq!(l.signin_failures("an", "x", t(0)).unwrap()[0].0, 0);
    }
}
