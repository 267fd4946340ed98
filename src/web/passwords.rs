//! Password checks and hashes (argon2id) on one dedicated thread that
//! keeps its memory between checks.
//!
//! An argon2id check with the crate's default parameters fills 19 MiB. Run
//! on the runtime's blocking threads, every thread that ever checked a
//! password kept its own glibc malloc arena with those 19 MiB in it: a
//! hundred sign-ins took the daemon from 17 to 416 MiB, two hundred wrong
//! ones from many addresses to 7.4 GiB, never given back. A station is a
//! 1 GB board. So here
//! - one thread ([`Passwords`]) does every check and hash of the web
//!   console, one at a time, in a block buffer it keeps
//!   (`Argon2::hash_password_into_with_memory`), and gives the buffer back
//!   to the system after [`IDLE_RELEASE`] without work;
//! - at most [`QUEUE`] checks wait their turn; past that a sign-in is told
//!   to come back ([`Busy`]) instead of queueing without bound;
//! - a stored hash whose parameters ask for more than [`MAX_BLOCKS`] KiB is
//!   refused rather than allocated.
//!
//! [`Hasher`] is the same work without the thread, for `loa user` (one
//! hash per process) and tests.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Checks that may wait for the thread (besides the one it is doing).
/// At ~0.1–0.5 s a check, the last waits a few seconds at most.
pub(crate) const QUEUE: usize = 8;

/// The largest memory parameter (in KiB blocks) a stored hash may ask for:
/// twice the default, so hashes from a tool with somewhat stronger
/// parameters still verify, and a forged hash cannot make the station
/// allocate gigabytes.
pub(crate) const MAX_BLOCKS: usize = 2 * Params::DEFAULT_M_COST as usize;

/// How long the thread keeps its buffer without work.
pub(crate) const IDLE_RELEASE: Duration = Duration::from_secs(30);

/// Longest password checked or hashed (bytes); a longer one is wrong, or
/// refused when set.
pub(crate) const MAX_PASSWORD: usize = 1024;

/// The argon2 work with a kept block buffer.
#[derive(Default)]
pub(crate) struct Hasher {
    memory: Vec<Block>,
}

impl Hasher {
    /// The buffer, at least `blocks` long (grown once, then reused).
    fn memory(&mut self, blocks: usize) -> &mut [Block] {
        if self.memory.len() < blocks {
            self.memory = Vec::new();
            self.memory.resize(blocks, Block::default());
        }
        &mut self.memory[..blocks]
    }

    /// Give the buffer back to the system.
    fn release(&mut self) {
        if !self.memory.is_empty() {
            self.memory = Vec::new();
            trim();
        }
    }

    /// Whether `password` is the one `phc` (an argon2 PHC string) was made
    /// from; compared in constant time. A malformed or oversized hash
    /// matches nothing.
    pub(crate) fn verify(&mut self, phc: &str, password: &str) -> bool {
        self.try_verify(phc, password).unwrap_or_else(|e| {
            tracing::warn!("a stored password hash cannot be checked: {e:#}");
            false
        })
    }

    fn try_verify(&mut self, phc: &str, password: &str) -> Result<bool> {
        if password.len() > MAX_PASSWORD {
            return Ok(false);
        }
        let hash = PasswordHash::new(phc).map_err(|e| anyhow!("not a PHC string: {e}"))?;
        let algorithm =
            Algorithm::try_from(hash.algorithm).map_err(|e| anyhow!("not argon2: {e}"))?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).map_err(|e| anyhow!("argon2 version: {e}"))?,
            None => Version::default(),
        };
        let params = Params::try_from(&hash).map_err(|e| anyhow!("argon2 parameters: {e}"))?;
        if params.block_count() > MAX_BLOCKS {
            bail!(
                "it asks for {} KiB of memory, more than the {MAX_BLOCKS} KiB allowed",
                params.block_count()
            );
        }
        let expected = hash.hash.context("no hash in the PHC string")?;
        let mut salt = [0u8; 64];
        let salt = hash
            .salt
            .context("no salt in the PHC string")?
            .decode_b64(&mut salt)
            .map_err(|e| anyhow!("salt: {e}"))?;
        let mut out = vec![0u8; expected.len()];
        let blocks = params.block_count();
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                self.memory(blocks),
            )
            .map_err(|e| anyhow!("argon2: {e}"))?;
        Ok(constant_time_eq(&out, expected.as_bytes()))
    }

    /// The argon2id PHC string of a password (default parameters, a
    /// fresh salt).
    pub(crate) fn hash(&mut self, password: &str) -> Result<String> {
        if password.len() > MAX_PASSWORD {
            bail!("a password has at most {MAX_PASSWORD} bytes");
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).context("reading the OS random source")?;
        let salt = SaltString::encode_b64(&bytes).map_err(|e| anyhow!("making a salt: {e}"))?;
        let argon = Argon2::default();
        let params = Params::default();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon
            .hash_password_into_with_memory(
                password.as_bytes(),
                &bytes,
                &mut out,
                self.memory(params.block_count()),
            )
            .map_err(|e| anyhow!("hashing the password: {e}"))?;
        let output = argon2::password_hash::Output::new(&out)
            .map_err(|e| anyhow!("hashing the password: {e}"))?;
        let phc = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::default().into()),
            params: (&params)
                .try_into()
                .map_err(|e| anyhow!("hashing the password: {e}"))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }
}

/// Equal bytes, compared in constant time for equal lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y))
            == 0
}

/// Return freed memory of every malloc arena to the system (glibc keeps
/// it otherwise).
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The thread is busy: come back in about this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Busy(pub(crate) u64);

enum Job {
    Verify {
        phc: String,
        password: String,
        reply: oneshot::Sender<bool>,
    },
    Hash {
        password: String,
        reply: oneshot::Sender<Result<String>>,
    },
}

/// The web console's password thread (started on first use, ended when
/// the last handle is dropped).
pub(crate) struct Passwords {
    jobs: std::sync::Mutex<Option<mpsc::Sender<(Job, OwnedSemaphorePermit)>>>,
    /// One permit per check running or waiting.
    places: Arc<Semaphore>,
}

impl Default for Passwords {
    fn default() -> Self {
        Passwords {
            jobs: std::sync::Mutex::new(None),
            places: Arc::new(Semaphore::new(QUEUE + 1)),
        }
    }
}

impl Passwords {
    fn send(&self, job: Job, place: OwnedSemaphorePermit) -> Result<()> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if jobs.is_none() {
            let (tx, rx) = mpsc::channel();
            std::thread::Builder::new()
                .name("loa-passwords".into())
                .spawn(move || work(rx))
                .context("starting the password thread")?;
            *jobs = Some(tx);
        }
        jobs.as_ref()
            .expect("made above")
            .send((job, place))
            .map_err(|_| anyhow!("the password thread stopped"))
    }

    /// Check `password` against `phc`; [`Busy`] when [`QUEUE`] checks
    /// already wait.
    pub(crate) async fn verify(&self, phc: String, password: String) -> Result<bool, Busy> {
        let place = Arc::clone(&self.places)
            .try_acquire_owned()
            .map_err(|_| Busy(2))?;
        let (reply, answer) = oneshot::channel();
        let job = Job::Verify {
            phc,
            password,
            reply,
        };
        if let Err(e) = self.send(job, place) {
            tracing::error!("{e:#}");
            return Ok(false);
        }
        Ok(answer.await.unwrap_or(false))
    }

    /// The PHC string of a new password; waits its turn (an admin's
    /// change is not refused for others' sign-ins).
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let place = Arc::clone(&self.places)
            .acquire_owned()
            .await
            .context("the password thread stopped")?;
        let (reply, answer) = oneshot::channel();
        self.send(Job::Hash { password, reply }, place)?;
        answer.await.context("the password thread stopped")?
    }
}

/// The thread: one job at a time in one kept buffer, given back when idle.
fn work(jobs: mpsc::Receiver<(Job, OwnedSemaphorePermit)>) {
    let mut hasher = Hasher::default();
    loop {
        let (job, place) = match jobs.recv_timeout(IDLE_RELEASE) {
            Ok(j) => j,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                hasher.release();
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // The place is free before the answer is seen.
        match job {
            Job::Verify {
                phc,
                password,
                reply,
            } => {
                let right = hasher.verify(&phc, &password);
                drop(place);
                let _ = reply.send(right);
            }
            Job::Hash { password, reply } => {
                let hash = hasher.hash(&password);
                drop(place);
                let _ = reply.send(hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    #[test]
    fn hashes_verify_with_the_crate_and_the_crate_s_with_ours() {
        use argon2::PasswordVerifier;
        let mut h = Hasher::default();
        let ours = h.hash("mật khẩu dài").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password("mật khẩu dài".as_bytes(), &parsed)
            .is_ok());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"mat khau", &salt)
            .unwrap()
            .to_string();
        assert!(h.verify(&theirs, "mat khau"));
        assert!(!h.verify(&theirs, "mat khau "));
        assert!(!h.verify("not a hash", "x"));
        // Other parameters (argon2i, smaller memory) are read from the string.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 3, 1, Some(24)).unwrap(),
        )
        .hash_password(b"khac", &salt)
        .unwrap()
        .to_string();
        assert!(h.verify(&other, "khac"));
        assert!(!h.verify(&other, "khac!"));
    }

    #[test]
    fn oversized_hashes_and_passwords_are_refused() {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MAX_BLOCKS as u32 + 8, 1, 1, None).unwrap(),
        )
        .hash_password(b"x", &salt)
        .unwrap()
        .to_string();
        let mut h = Hasher::default();
        assert!(!h.verify(&big, "x"), "more memory than allowed");
        let long = "x".repeat(MAX_PASSWORD + 1);
        assert!(h.hash(&long).is_err());
    }

    #[tokio::test]
    async fn the_thread_checks_and_refuses_past_its_queue() {
        let p = Arc::new(Passwords::default());
        let phc = p.hash("mat-khau-dai".into()).await.unwrap();
        assert_eq!(p.verify(phc.clone(), "mat-khau-dai".into()).await, Ok(true));
        assert_eq!(p.verify(phc.clone(), "sai".into()).await, Ok(false));
        // Many at once: some are checked, the rest told to come back.
        let tries: Vec<_> = (0..3 * (QUEUE + 1))
            .map(|_| {
                let (p, phc) = (Arc::clone(&p), phc.clone());
                tokio::spawn(async move { p.verify(phc, "mat-khau-dai".into()).await })
            })
            .collect();
        let mut checked = 0;
        let mut busy = 0;
        for t in tries {
            match t.await.unwrap() {
                Ok(true) => checked += 1,
                Err(Busy(_)) => busy += 1,
                Ok(false) => panic!("a right password refused"),
            }
        }
        assert!(checked > QUEUE, "{checked} checked, {busy} busy");
        assert!(busy > 0, "{checked} checked, {busy} busy");
    }
}
