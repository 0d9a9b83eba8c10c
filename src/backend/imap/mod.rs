//! The IMAP back-end: connections to the mail store (Dovecot, Cyrus), login as the user, and the capability
//! probe. IMAP is also the password authority: Basic credentials are verified by logging in here.
//!
//! Connections speak plain TCP, STARTTLS (RFC 3501 6.2.1) or implicit TLS as configured. Credentials are sent
//! with `AUTHENTICATE PLAIN` (RFC 4616), which carries any UTF-8 without IMAP quoting rules.

pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::{ImapConfig, TlsMode};
use crate::error::{Backend, Error, Kind, Result};
pub use stream::BackendStream;

/// An authenticated IMAP session.
pub type ImapSession = Session<BackendStream>;

/// Capabilities Viaduc looks for, and whether it cannot work without them.
pub const WANTED_CAPABILITIES: &[(&str, bool)] = &[
    ("CONDSTORE", true),
    ("QRESYNC", true),
    ("UIDPLUS", true),
    ("SPECIAL-USE", true),
    ("MOVE", true),
    ("METADATA", false),
    ("ACL", false),
    ("OBJECTID", false),
    ("IDLE", false),
];

/// Connects to the IMAP server and settles TLS, returning an unauthenticated client.
pub async fn connect(config: &ImapConfig, tls: &Arc<rustls::ClientConfig>) -> Result<Client<BackendStream>> {
    let limit = Duration::from_secs(config.timeout_secs.max(1));
    let work = async {
        let tcp = TcpStream::connect((config.host.as_str(), config.port))
            .await
            .map_err(|e| Error::unavailable(Backend::Imap, format!("connect {}:{}: {e}", config.host, config.port)))?;
        let _ = tcp.set_nodelay(true);
        let stream = match config.tls {
            TlsMode::Tls => BackendStream::tls(Backend::Imap, tcp, &config.host, tls).await?,
            _ => BackendStream::Plain(tcp),
        };
        let mut client = Client::new(stream);
        read_greeting(&mut client).await?;
        if config.tls == TlsMode::Starttls {
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| Error::backend(Backend::Imap, Kind::Refused, format!("STARTTLS refused: {e}")))?;
            let BackendStream::Plain(tcp) = client.into_inner() else {
                return Err(Error::internal("STARTTLS on a TLS stream"));
            };
            let stream = BackendStream::tls(Backend::Imap, tcp, &config.host, tls).await?;
            client = Client::new(stream);
        }
        Ok(client)
    };
    timeout(limit, work).await.map_err(|_| {
        Error::unavailable(Backend::Imap, format!("timed out connecting to {}:{}", config.host, config.port))
    })?
}

async fn read_greeting(client: &mut Client<BackendStream>) -> Result<()> {
    match client.read_response().await {
        Ok(Some(_greeting)) => Ok(()),
        Ok(None) => Err(Error::unavailable(Backend::Imap, "connection closed before the greeting")),
        Err(e) => Err(Error::unavailable(Backend::Imap, format!("reading greeting: {e}"))),
    }
}

/// SASL PLAIN (RFC 4616): `authzid NUL authcid NUL password`.
struct PlainAuth {
    message: Vec<u8>,
}

impl async_imap::Authenticator for PlainAuth {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        std::mem::take(&mut self.message)
    }
}

/// Rejects credentials that no IMAP server accepts and that could break the protocol framing.
pub fn credentials_are_sane(user: &str, password: &str) -> bool {
    let bad = |s: &str| s.chars().any(|c| c == '\0' || c == '\r' || c == '\n');
    !user.is_empty() && user.len() <= 256 && password.len() <= 1024 && !bad(user) && !bad(password)
}

/// Logs in as `user` with `password`. A refusal by the server is `Kind::AuthFailed`; anything else is a
/// backend failure.
pub async fn login(
    config: &ImapConfig,
    tls: &Arc<rustls::ClientConfig>,
    user: &str,
    password: &str,
) -> Result<ImapSession> {
    if !credentials_are_sane(user, password) {
        return Err(Error::client(Kind::AuthFailed, "credentials contain forbidden characters"));
    }
    let client = connect(config, tls).await?;
    let mut message = Vec::with_capacity(user.len() + password.len() + 2);
    message.push(0);
    message.extend_from_slice(user.as_bytes());
    message.push(0);
    message.extend_from_slice(password.as_bytes());
    authenticate(config, client, PlainAuth { message }).await
}

/// Logs in to `user`'s mailbox with the configured master user (delegated access), if one is configured.
pub async fn login_as_master(config: &ImapConfig, tls: &Arc<rustls::ClientConfig>, user: &str) -> Result<ImapSession> {
    let (Some(master), Some(password)) = (&config.master_user, &config.master_password) else {
        return Err(Error::backend(Backend::Imap, Kind::NotSupported, "no master user configured"));
    };
    let login = format!("{user}{}{master}", config.master_separator);
    if !credentials_are_sane(&login, password) {
        return Err(Error::client(Kind::Malformed, "user name contains forbidden characters"));
    }
    let client = connect(config, tls).await?;
    let mut message = Vec::new();
    message.push(0);
    message.extend_from_slice(login.as_bytes());
    message.push(0);
    message.extend_from_slice(password.as_bytes());
    authenticate(config, client, PlainAuth { message }).await
}

async fn authenticate(config: &ImapConfig, client: Client<BackendStream>, auth: PlainAuth) -> Result<ImapSession> {
    let limit = Duration::from_secs(config.timeout_secs.max(1));
    match timeout(limit, client.authenticate("PLAIN", auth)).await {
        Err(_) => Err(Error::unavailable(Backend::Imap, "timed out during login")),
        Ok(Ok(session)) => Ok(session),
        Ok(Err((async_imap::error::Error::No(text), _))) => {
            Err(Error::backend(Backend::Imap, Kind::AuthFailed, format!("login refused: {}", text.trim())))
        }
        Ok(Err((e, _))) => Err(Error::backend(Backend::Imap, Kind::Refused, format!("login failed: {e}"))),
    }
}

/// The capabilities the server announces after login, upper-cased.
pub async fn capabilities(session: &mut ImapSession) -> Result<Vec<String>> {
    let caps = session
        .capabilities()
        .await
        .map_err(|e| Error::backend(Backend::Imap, Kind::Refused, format!("CAPABILITY: {e}")))?;
    let mut out: Vec<String> = caps
        .iter()
        .map(|c| match c {
            async_imap::types::Capability::Imap4rev1 => "IMAP4REV1".to_string(),
            async_imap::types::Capability::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
            async_imap::types::Capability::Atom(a) => a.to_ascii_uppercase(),
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Ends a session politely; errors are irrelevant at this point.
pub async fn logout(mut session: ImapSession) {
    let _ = timeout(Duration::from_secs(2), session.logout()).await;
}
pub mod bodystructure;
pub mod codec;
pub mod message_cache;
pub mod pool;
pub mod store;
pub mod utf7;
pub mod watch;
