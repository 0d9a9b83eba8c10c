//! Authentication of HTTP requests: HTTP Basic over TLS (RFC 7617), verified by logging in to the IMAP server
//! with the same credentials, so Viaduc keeps no password database of its own.
//!
//! - A successful verification is remembered for a short time as a salted SHA-256 hash of the password, never
//!   the password itself, so a busy Outlook does not cost one IMAP login per request.
//! - Failures are counted per user and per client address; past a threshold each further *failure* waits
//!   before its 401, doubling up to a ceiling. A correct password is never delayed: every client of a site may
//!   share one address, and one attacker must not lock everyone out.
//! - The result is a [`Principal`]: the login, the primary SMTP address and display name from the directory,
//!   and the credentials the back-ends need to act as the user (kept in memory for the request only).

mod throttle;

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use lru::LruCache;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::backend::imap;
use crate::backend::ldap::Directory;
use crate::config::{AuthConfig, ImapConfig};
use crate::error::{Error, Kind, Result, Source};
use crate::model::directory::DirectoryEntry;
pub use throttle::Throttle;

/// The caller of a request, as later front-ends receive it.
#[derive(Clone)]
pub struct Principal {
    /// The login name the IMAP server accepted (as typed, trimmed).
    pub login: String,
    /// Primary SMTP address, lower-cased.
    pub mail: String,
    pub display_name: String,
    /// The directory entry, when a directory is configured and knows the user.
    pub entry: Option<DirectoryEntry>,
    password: Arc<str>,
}

impl Principal {
    /// The password, for logging in to back-ends as this user. Never log it.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A back-end service account from the configuration (e.g. `[dav] service_user`), for requests Viaduc makes
    /// on behalf of a user against other users' data (free/busy). It never authenticates a client: it is built
    /// from configured credentials only, and its `mail` is the login.
    pub fn service(login: &str, password: &str) -> Principal {
        Principal {
            login: login.to_string(),
            mail: login.to_ascii_lowercase(),
            display_name: login.to_string(),
            entry: None,
            password: Arc::from(password),
        }
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("login", &self.login)
            .field("mail", &self.mail)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

/// Why a request is not authenticated.
#[derive(Debug)]
pub enum AuthFailure {
    /// No or unusable Authorization header: answer 401 with a challenge.
    Missing,
    /// Wrong user name or password: answer 401 (after the throttle delay).
    Rejected,
    /// The password authority could not be asked: answer 503, the client should retry.
    Unavailable(Error),
}

/// Credentials parsed from a Basic Authorization header.
pub struct BasicCredentials {
    pub user: String,
    pub password: String,
}

/// Parses `Authorization: Basic <base64(user:password)>` (RFC 7617 section 2).
pub fn parse_basic(header: &str) -> Option<BasicCredentials> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    let user = user.trim();
    if user.is_empty() || password.is_empty() {
        return None;
    }
    Some(BasicCredentials { user: user.to_string(), password: password.to_string() })
}

struct CachedLogin {
    salt: [u8; 16],
    hash: [u8; 32],
    principal: Principal,
    expires: Instant,
}

fn salted_hash(salt: &[u8; 16], user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(user.as_bytes());
    h.update([0u8]);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// Constant-time comparison of two hashes.
fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies Basic credentials and produces principals.
pub struct Authenticator {
    imap: ImapConfig,
    imap_tls: Arc<rustls::ClientConfig>,
    directory: Option<Directory>,
    default_domain: String,
    config: AuthConfig,
    cache: Mutex<LruCache<String, CachedLogin>>,
    throttle: Throttle,
}

impl Authenticator {
    pub fn new(
        imap: ImapConfig,
        imap_tls: Arc<rustls::ClientConfig>,
        directory: Option<Directory>,
        default_domain: String,
        config: AuthConfig,
    ) -> Authenticator {
        let entries = NonZeroUsize::new(config.cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        let throttle = Throttle::new(&config);
        Authenticator {
            imap,
            imap_tls,
            directory,
            default_domain,
            cache: Mutex::new(LruCache::new(entries)),
            throttle,
            config,
        }
    }

    /// Authenticates the request whose Authorization header is `header`, coming from `client`.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        client: IpAddr,
    ) -> std::result::Result<Principal, AuthFailure> {
        let Some(creds) = header.and_then(parse_basic) else {
            return Err(AuthFailure::Missing);
        };
        let key = creds.user.to_lowercase();
        if let Some(p) = self.cached(&key, &creds) {
            return Ok(p);
        }
        match self.verify(&creds).await {
            Ok(principal) => {
                self.throttle.forget(&key);
                self.remember(key, &creds, principal.clone());
                Ok(principal)
            }
            Err(e) if e.kind == Kind::AuthFailed => {
                let delay = self.throttle.failure(&key, client);
                tracing::info!(user = %key, client = %client, delay_ms = delay.as_millis() as u64, "authentication failed");
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Err(AuthFailure::Rejected)
            }
            Err(e) => {
                tracing::warn!(user = %key, error = %e, "cannot verify credentials");
                Err(AuthFailure::Unavailable(e))
            }
        }
    }

    fn cached(&self, key: &str, creds: &BasicCredentials) -> Option<Principal> {
        let mut cache = self.cache.lock().ok()?;
        let entry = cache.get(key)?;
        if entry.expires < Instant::now() {
            cache.pop(key);
            return None;
        }
        let hash = salted_hash(&entry.salt, key, &creds.password);
        same_hash(&hash, &entry.hash).then(|| entry.principal.clone())
    }

    fn remember(&self, key: String, creds: &BasicCredentials, principal: Principal) {
        if self.config.cache_ttl_secs == 0 {
            return;
        }
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let hash = salted_hash(&salt, &key, &creds.password);
        let expires = Instant::now() + Duration::from_secs(self.config.cache_ttl_secs);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(key, CachedLogin { salt, hash, principal, expires });
        }
    }

    /// Logs in to IMAP; on success looks the user up in the directory.
    async fn verify(&self, creds: &BasicCredentials) -> Result<Principal> {
        let session = imap::login(&self.imap, &self.imap_tls, &creds.user, &creds.password).await.map_err(|e| {
            // A client-side refusal (forbidden characters) is a wrong password as far as the caller is concerned.
            if e.source == Source::Client { Error::client(Kind::AuthFailed, e.message) } else { e }
        })?;
        imap::logout(session).await;
        let entry = match &self.directory {
            Some(dir) => match dir.find_user(&creds.user, &self.default_domain).await {
                Ok(e) => e,
                Err(e) => {
                    // The password is right; a directory outage must not lock the user out.
                    tracing::warn!(error = %e, "directory lookup failed; using the login as address");
                    None
                }
            },
            None => None,
        };
        let fallback_mail = if creds.user.contains('@') {
            creds.user.to_lowercase()
        } else {
            format!("{}@{}", creds.user.to_lowercase(), self.default_domain)
        };
        let mail = entry.as_ref().map(|e| e.mail.clone()).unwrap_or(fallback_mail);
        let display_name = entry.as_ref().map(|e| e.display_name.clone()).unwrap_or_else(|| mail.clone());
        Ok(Principal {
            login: creds.user.clone(),
            mail,
            display_name,
            entry,
            password: Arc::from(creds.password.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let h = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice@example.test:pa:ss"));
        let c = parse_basic(&h).unwrap();
        assert_eq!(c.user, "alice@example.test");
        assert_eq!(c.password, "pa:ss");
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
        let empty = format!("basic {}", base64::engine::general_purpose::STANDARD.encode(":x"));
        assert!(parse_basic(&empty).is_none());
    }

    #[test]
    fn hashes_are_salted_and_compared() {
        let s1 = [1u8; 16];
        let s2 = [2u8; 16];
        let a = salted_hash(&s1, "alice", "pw");
        assert!(same_hash(&a, &salted_hash(&s1, "alice", "pw")));
        assert!(!same_hash(&a, &salted_hash(&s2, "alice", "pw")));
        assert!(!same_hash(&a, &salted_hash(&s1, "alice", "pX")));
    }
}
