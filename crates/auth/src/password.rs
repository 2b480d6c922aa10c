//! Password hashing (Argon2id, DESIGN.md §6) and verification of our own and imported Dovecot hashes.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::AuthError;

/// OWASP Password Storage Cheat Sheet, Argon2id: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
/// RFC 9106 §3.1 recommends a 128-bit salt.
const SALT_BYTES: usize = 16;

fn argon2id() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with Argon2id into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt_bytes: [u8; SALT_BYTES] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)?;
    let argon2 = argon2id()?;
    let hash = with_hash_slot(|| argon2.hash_password(password.as_bytes(), &salt))?;
    Ok(hash.to_string())
}

/// Checks `password` against the `stored` hash.
///
/// `stored` is `None` for an unknown account: then the password is still checked against a dummy
/// Argon2id hash made once, so that the answer takes the same time whether the account exists or
/// not (DESIGN.md §6), and the result is `false`. Hashes in an unknown scheme are treated the same way.
///
/// Besides our own `$argon2id$` hashes, this accepts hashes imported from Dovecot:
/// `{SHA512-CRYPT}$6$…`, `{SHA256-CRYPT}$5$…`, `{BLF-CRYPT}$2y$…`, `{ARGON2ID}$argon2id$…`,
/// `{CRYPT}` followed by any of those, and the same hashes without the `{SCHEME}` prefix.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    match stored.map(StoredHash::parse) {
        Some(Some(hash)) => hash.verify(password),
        Some(None) => {
            // Never log the hash itself: it is as good as a password to an offline attacker.
            tracing::warn!("stored password hash is in an unknown scheme; refusing the login");
            verify_against_dummy(password);
            false
        }
        None => {
            verify_against_dummy(password);
            false
        }
    }
}

/// Spends the time of one Argon2id verification with our current parameters.
fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        let random_password = format!("{:032x}", rand::random::<u128>());
        match hash_password(&random_password) {
            Ok(hash) => Some(hash),
            Err(error) => {
                tracing::error!(%error, "could not make the dummy password hash");
                None
            }
        }
    });
    if let Some(dummy) = dummy {
        // The result is meaningless: only the time spent matters.
        let _ = StoredHash::Argon2(dummy).verify(password);
    }
}

/// Slow hash computations running at once: at most one per CPU. More would not finish sooner,
/// only hold more memory at a time (each Argon2 computation allocates its m_cost, 19 MiB for
/// ours and 64 MiB for some imported ones), and the allocator keeps such peaks afterwards: 20
/// clients logging in together used to leave a process at 600 MB.
struct HashSlots {
    busy: Mutex<usize>,
    freed: Condvar,
}

static HASH_SLOTS: HashSlots = HashSlots::new();

impl HashSlots {
    const fn new() -> HashSlots {
        HashSlots {
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // A counter is consistent whatever panicked while holding it.
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` once fewer than `limit` others are running.
    fn run<T>(&self, limit: usize, work: impl FnOnce() -> T) -> T {
        let mut busy = self.lock();
        while *busy >= limit {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy += 1;
        drop(busy);

        /// Gives the slot back even if `work` panics.
        struct Release<'a>(&'a HashSlots);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.lock() -= 1;
                self.0.freed.notify_one();
            }
        }
        let _release = Release(self);
        work()
    }
}

/// Runs `work` (a blocking hash computation, on a blocking thread) once a slot is free.
fn with_hash_slot<T>(work: impl FnOnce() -> T) -> T {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    let limit = *LIMIT.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    HASH_SLOTS.run(limit, work)
}

/// A stored hash, by scheme, with any Dovecot `{SCHEME}` prefix removed.
#[derive(Debug, PartialEq, Eq)]
enum StoredHash<'a> {
    /// PHC string `$argon2id$…` (ours, and Dovecot's `{ARGON2ID}` / `{ARGON2I}`).
    Argon2(&'a str),
    /// crypt(3) SHA-512, `$6$…` (Dovecot `{SHA512-CRYPT}`).
    Sha512Crypt(&'a str),
    /// crypt(3) SHA-256, `$5$…` (Dovecot `{SHA256-CRYPT}`).
    Sha256Crypt(&'a str),
    /// bcrypt, `$2y$`, `$2b$` or `$2a$` (Dovecot `{BLF-CRYPT}`).
    Bcrypt(&'a str),
}

impl<'a> StoredHash<'a> {
    /// Recognises the scheme; `None` for anything we cannot verify.
    fn parse(stored: &'a str) -> Option<StoredHash<'a>> {
        let stored = stored.trim();
        let (scheme, hash) = match stored.strip_prefix('{') {
            Some(rest) => {
                let (scheme, hash) = rest.split_once('}')?;
                (Some(scheme.to_ascii_uppercase()), hash)
            }
            None => (None, stored),
        };
        let by_prefix = Self::from_crypt_prefix(hash)?;
        // A `{SCHEME}` prefix must agree with the hash it labels.
        let agrees = match scheme.as_deref() {
            None | Some("CRYPT") => true,
            Some("ARGON2ID" | "ARGON2I") => matches!(by_prefix, StoredHash::Argon2(_)),
            Some("SHA512-CRYPT") => matches!(by_prefix, StoredHash::Sha512Crypt(_)),
            Some("SHA256-CRYPT") => matches!(by_prefix, StoredHash::Sha256Crypt(_)),
            Some("BLF-CRYPT") => matches!(by_prefix, StoredHash::Bcrypt(_)),
            Some(_) => false,
        };
        agrees.then_some(by_prefix)
    }

    fn from_crypt_prefix(hash: &'a str) -> Option<StoredHash<'a>> {
        if hash.starts_with("$argon2id$") || hash.starts_with("$argon2i$") {
            Some(StoredHash::Argon2(hash))
        } else if hash.starts_with("$6$") {
            Some(StoredHash::Sha512Crypt(hash))
        } else if hash.starts_with("$5$") {
            Some(StoredHash::Sha256Crypt(hash))
        } else if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) {
            Some(StoredHash::Bcrypt(hash))
        } else {
            None
        }
    }

    fn verify(&self, password: &str) -> bool {
        with_hash_slot(|| self.verify_now(password))
    }

    fn verify_now(&self, password: &str) -> bool {
        match *self {
            StoredHash::Argon2(phc) => match PasswordHash::new(phc) {
                // The parameters and variant come from the PHC string itself.
                Ok(parsed) => Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            },
            StoredHash::Sha512Crypt(hash) => sha_crypt::sha512_check(password, hash).is_ok(),
            StoredHash::Sha256Crypt(hash) => sha_crypt::sha256_check(password, hash).is_ok(),
            StoredHash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_slots_bound_how_many_run_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let slots = Arc::new(HashSlots::new());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
                std::thread::spawn(move || {
                    slots.run(2, || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                })
            })
            .collect();
        let done: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(done, (0..8).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert_eq!(*slots.lock(), 0, "every slot given back");
    }

    #[test]
    fn hash_is_argon2id_with_owasp_parameters() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        // A fresh salt each time.
        assert_ne!(hash, hash_password("correct horse").unwrap());
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("correct horsE", Some(&hash)));
        assert!(!verify_password("", Some(&hash)));
        // Dovecot's label for the same format.
        assert!(verify_password(
            "correct horse",
            Some(&format!("{{ARGON2ID}}{hash}"))
        ));
    }

    #[test]
    fn unknown_account_is_refused() {
        assert!(!verify_password("anything", None));
        assert!(!verify_password("", None));
    }

    #[test]
    fn unknown_or_mismatched_scheme_is_refused() {
        assert!(!verify_password("secret", Some("secret")));
        assert!(!verify_password("secret", Some("{PLAIN}secret")));
        assert!(!verify_password("secret", Some("{MD5-CRYPT}$1$abc$def")));
        assert!(!verify_password("secret", Some("")));
        assert!(!verify_password("secret", Some("{SHA512-CRYPT")));
        // Prefix says bcrypt but the hash is SHA-512 crypt.
        let sha512 =
            sha_crypt::sha512_simple("secret", &sha_crypt::Sha512Params::new(1_000).unwrap())
                .unwrap();
        assert!(!verify_password(
            "secret",
            Some(&format!("{{BLF-CRYPT}}{sha512}"))
        ));
        assert!(!verify_password("secret", Some("$argon2id$garbage")));
    }

    #[test]
    fn dovecot_sha512_crypt() {
        let params = sha_crypt::Sha512Params::new(5_000).unwrap();
        let hash = sha_crypt::sha512_simple("hunter2", &params).unwrap();
        assert!(hash.starts_with("$6$"));
        let dovecot = format!("{{SHA512-CRYPT}}{hash}");
        assert!(verify_password("hunter2", Some(&dovecot)));
        assert!(verify_password("hunter2", Some(&hash)));
        assert!(verify_password(
            "hunter2",
            Some(&format!("{{CRYPT}}{hash}"))
        ));
        assert!(!verify_password("hunter3", Some(&dovecot)));
    }

    #[test]
    fn dovecot_sha512_crypt_known_vector() {
        // From Ulrich Drepper's SHA-crypt specification, test vectors.
        let hash = "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0";
        assert!(verify_password("This is just a test", Some(hash)));
        assert!(!verify_password("This is just a tesT", Some(hash)));
    }

    #[test]
    fn dovecot_sha256_crypt() {
        let params = sha_crypt::Sha256Params::new(5_000).unwrap();
        let hash = sha_crypt::sha256_simple("hunter2", &params).unwrap();
        assert!(hash.starts_with("$5$"));
        assert!(verify_password(
            "hunter2",
            Some(&format!("{{SHA256-CRYPT}}{hash}"))
        ));
        assert!(verify_password("hunter2", Some(&hash)));
        assert!(!verify_password("hunter", Some(&hash)));
    }

    #[test]
    fn dovecot_bcrypt() {
        let hash = bcrypt::hash_with_result("hunter2", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        assert!(hash.starts_with("$2y$04$"));
        assert!(verify_password(
            "hunter2",
            Some(&format!("{{BLF-CRYPT}}{hash}"))
        ));
        assert!(verify_password("hunter2", Some(&hash)));
        assert!(!verify_password(
            "hunter1",
            Some(&format!("{{BLF-CRYPT}}{hash}"))
        ));
        let hash_2b = bcrypt::hash("hunter2", 4).unwrap();
        assert!(hash_2b.starts_with("$2b$"));
        assert!(verify_password(
            "hunter2",
            Some(&format!("{{blf-crypt}}{hash_2b}"))
        ));
    }

    #[test]
    fn scheme_parsing() {
        assert_eq!(
            StoredHash::parse("{SHA512-CRYPT}$6$s$h"),
            Some(StoredHash::Sha512Crypt("$6$s$h"))
        );
        assert_eq!(
            StoredHash::parse("$2b$04$x"),
            Some(StoredHash::Bcrypt("$2b$04$x"))
        );
        assert_eq!(
            StoredHash::parse("{ARGON2ID}$argon2id$v=19"),
            Some(StoredHash::Argon2("$argon2id$v=19"))
        );
        assert_eq!(StoredHash::parse("{SHA256-CRYPT}$6$s$h"), None);
        assert_eq!(StoredHash::parse("{SSHA}abc"), None);
        assert_eq!(StoredHash::parse("$1$md5$x"), None);
    }
}
