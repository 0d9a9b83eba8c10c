//! Configuration: the TOML file an administrator writes (documented key by key in docs/configuration.md).
//!
//! Every table rejects unknown keys (`deny_unknown_fields`) so a typo is an error that names the key,
//! never a silently ignored setting. Relative paths are resolved against the directory of the config file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub mail: MailConfig,
    pub imap: ImapConfig,
    #[serde(default)]
    pub dav: Option<DavConfig>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub sieve: Option<SieveConfig>,
    #[serde(default)]
    pub ldap: Option<LdapConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub mapi: MapiConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
}

/// `[server]`: the HTTPS listener and the public name clients see.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on, e.g. `0.0.0.0:443`.
    pub listen: SocketAddr,
    /// The base URL clients reach Viaduc at (scheme, host, optional port), e.g. `https://mail.example.org`.
    /// Every URL handed out by Autodiscover is built from it.
    pub public_url: String,
    /// PEM certificate chain (leaf first).
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: PathBuf,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Largest request head (request line plus headers), in bytes.
    #[serde(default = "default_max_header")]
    pub max_header_bytes: usize,
    /// How long an idle keep-alive connection is kept open, in seconds.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Seconds a graceful shutdown waits for in-flight requests before closing connections.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
    /// Serve plain HTTP instead of HTTPS. Only for running behind a TLS-terminating proxy (HAProxy) on a
    /// trusted network: Basic credentials travel in clear otherwise.
    #[serde(default)]
    pub plain_http_behind_proxy: bool,
}

fn default_max_body() -> usize {
    64 * 1024 * 1024
}
fn default_max_header() -> usize {
    64 * 1024
}
fn default_idle_timeout() -> u64 {
    120
}
fn default_shutdown_grace() -> u64 {
    10
}

/// `[mail]`: the domains this gateway serves and how the organisation is named.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Mail domains served; Autodiscover answers for addresses in these domains only. The first is the default
    /// domain for bare user names.
    pub domains: Vec<String>,
    /// Organisation name, used in the X.500 legacy DNs Outlook needs (`/o=<organization>/ou=...`).
    #[serde(default = "default_org")]
    pub organization: String,
    /// A stable identifier of this deployment (Autodiscover `DeploymentId`). Derived from the first domain when
    /// absent, so that every instance agrees without configuration.
    #[serde(default)]
    pub deployment_id: Option<String>,
}

fn default_org() -> String {
    "Viaduc".to_string()
}

/// How a connection to a backend is secured.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP (only for loopback or a trusted network).
    None,
    /// Plain TCP upgraded with STARTTLS before any credential is sent.
    Starttls,
    /// TLS from the first byte (IMAPS, SMTPS, LDAPS).
    Tls,
}

/// `[imap]`: the mail store. Also the authority for passwords: Basic credentials are verified by an IMAP login.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_tls_starttls")]
    pub tls: TlsMode,
    /// PEM file of CA certificates to trust for this backend, in addition to the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Optional master user for delegated access (Dovecot `user*master`).
    #[serde(default)]
    pub master_user: Option<String>,
    #[serde(default)]
    pub master_password: Option<String>,
    /// Separator between the target user and the master user in the login name.
    #[serde(default = "default_master_sep")]
    pub master_separator: String,
    /// Seconds to wait for a connection, a greeting or a command answer.
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
    /// Connection pool: IMAP sessions of one user in use at the same time (further requests wait).
    #[serde(default = "default_pool_sessions")]
    pub pool_max_sessions_per_user: usize,
    /// Connection pool: idle sessions kept per user for the next request.
    #[serde(default = "default_pool_idle")]
    pub pool_max_idle_per_user: usize,
    /// Connection pool: an idle session is logged out after this many seconds.
    #[serde(default = "default_pool_idle_timeout")]
    pub pool_idle_timeout_secs: u64,
    /// EWS streaming notifications: dedicated connections of one user that watch for changes (NOTIFY/IDLE); a
    /// stream beyond this polls. 0 turns watching off.
    #[serde(default = "default_watch_per_user")]
    pub watch_max_per_user: usize,
    /// Memory (MiB) for whole messages already read, kept per instance and served again without asking the
    /// IMAP server for the body (a message's content never changes under its UID); 0 turns the cache off.
    #[serde(default = "default_message_cache_mib")]
    pub message_cache_mib: usize,
}

fn default_message_cache_mib() -> usize {
    64
}

fn default_pool_sessions() -> usize {
    8
}
fn default_pool_idle() -> usize {
    8
}
fn default_watch_per_user() -> usize {
    2
}
fn default_pool_idle_timeout() -> u64 {
    300
}

fn default_tls_starttls() -> TlsMode {
    TlsMode::Starttls
}
fn default_master_sep() -> String {
    "*".to_string()
}
fn default_backend_timeout() -> u64 {
    15
}

/// `[dav]`: the CalDAV/CardDAV server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DavConfig {
    /// Base URL of the server, e.g. `https://dav.example.org/`. Principals and homes are discovered from it.
    pub base_url: String,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
    /// A DAV account that may read every user's calendars, used for free/busy of other people
    /// (GetUserAvailability). Without it the requester's own credentials are used, which only works where the
    /// server's ACLs let the requester read the attendee's calendar.
    #[serde(default)]
    pub service_user: Option<String>,
    #[serde(default)]
    pub service_password: Option<String>,
}

/// `[smtp]`: the submission server mail is sent through, authenticated as the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_tls_starttls")]
    pub tls: TlsMode,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
}

/// `[sieve]`: the ManageSieve server (RFC 5804) for out-of-office and rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SieveConfig {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_tls_starttls")]
    pub tls: TlsMode,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
}

/// `[ldap]`: the directory (Global Address List, display names, primary SMTP addresses).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:port` or `ldaps://host:port`.
    pub url: String,
    /// Search base for people and groups.
    pub base_dn: String,
    /// Bind DN; empty for an anonymous bind.
    #[serde(default)]
    pub bind_dn: String,
    #[serde(default)]
    pub bind_password: String,
    /// Use STARTTLS on an `ldap://` URL.
    #[serde(default)]
    pub starttls: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Filter that finds one user; `{login}` is replaced by the (escaped) login name without domain,
    /// `{mail}` by the full address.
    #[serde(default = "default_user_filter")]
    pub user_filter: String,
    /// Filter that selects every entry of the Global Address List.
    #[serde(default = "default_gal_filter")]
    pub gal_filter: String,
    #[serde(default)]
    pub attributes: LdapAttributes,
    #[serde(default = "default_backend_timeout")]
    pub timeout_secs: u64,
}

fn default_user_filter() -> String {
    "(&(objectClass=inetOrgPerson)(|(uid={login})(mail={mail})))".to_string()
}
fn default_gal_filter() -> String {
    "(|(objectClass=inetOrgPerson)(&(objectClass=groupOfNames)(mail=*)))".to_string()
}

/// `[ldap.attributes]`: which LDAP attribute holds each directory field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapAttributes {
    pub login: String,
    pub display_name: String,
    pub mail: String,
    pub given_name: String,
    pub surname: String,
    pub title: String,
    pub department: String,
    pub office: String,
    pub phone: String,
    pub mobile: String,
    pub manager: String,
    pub member: String,
}

impl Default for LdapAttributes {
    fn default() -> Self {
        LdapAttributes {
            login: "uid".into(),
            display_name: "displayName".into(),
            mail: "mail".into(),
            given_name: "givenName".into(),
            surname: "sn".into(),
            title: "title".into(),
            department: "ou".into(),
            office: "physicalDeliveryOfficeName".into(),
            phone: "telephoneNumber".into(),
            mobile: "mobile".into(),
            manager: "manager".into(),
            member: "member".into(),
        }
    }
}

/// `[auth]`: verification cache and brute-force slowdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// How long a successful verification is remembered (a salted hash, never the password), in seconds.
    pub cache_ttl_secs: u64,
    /// Most remembered verifications.
    pub cache_entries: usize,
    /// Failures (per user or per client address) before answers to further failures are delayed.
    pub failures_before_delay: u32,
    /// Delay added to a failed attempt once the threshold is passed, in milliseconds; it doubles per further
    /// failure up to `max_delay_ms`. A correct password is never delayed.
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// How long failures are remembered, in seconds.
    pub failure_window_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            cache_ttl_secs: 300,
            cache_entries: 10_000,
            failures_before_delay: 5,
            base_delay_ms: 250,
            max_delay_ms: 5_000,
            failure_window_secs: 900,
        }
    }
}

/// `[mapi]`: MAPI over HTTP sessions (MS-OXCMAPIHTTP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MapiConfig {
    /// Serve `/mapi/emsmdb` and `/mapi/nspi`. When false they answer X-ResponseCode 16 (endpoint disabled), and
    /// Autodiscover still offers EWS.
    pub enabled: bool,
    /// A session unused for this long is dropped (the client reconnects), in seconds.
    pub session_idle_secs: u64,
    /// Interval of the PENDING keep-alive lines in long responses (X-PendingPeriod), in milliseconds.
    pub pending_period_ms: u64,
    /// How long a NotificationWait request is held when nothing happens, in seconds.
    pub notification_wait_secs: u64,
    /// Most MAPI sessions held by one instance (least recently used are dropped first).
    pub max_sessions: usize,
}

impl Default for MapiConfig {
    fn default() -> Self {
        MapiConfig {
            enabled: true,
            session_idle_secs: 900,
            pending_period_ms: 15_000,
            notification_wait_secs: 300,
            max_sessions: 10_000,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A tracing filter such as `info` or `viaduc=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: "info".into(), format: "text".into() }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads, parses, resolves relative paths and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse { path: path.to_path_buf(), message },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid { path: path.to_path_buf(), message },
            other => other,
        })
    }

    /// Parses configuration text; relative paths are resolved against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: PathBuf::new(), message: e.to_string() })?;
        config.resolve_paths(base_dir);
        config.validate().map_err(|message| ConfigError::Invalid { path: PathBuf::new(), message })?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.server.tls_cert);
        fix(&mut self.server.tls_key);
        if let Some(p) = self.imap.ca_file.as_mut() {
            fix(p)
        }
        if let Some(p) = self.dav.as_mut().and_then(|d| d.ca_file.as_mut()) {
            fix(p)
        }
        if let Some(p) = self.smtp.as_mut().and_then(|d| d.ca_file.as_mut()) {
            fix(p)
        }
        if let Some(p) = self.sieve.as_mut().and_then(|d| d.ca_file.as_mut()) {
            fix(p)
        }
        if let Some(p) = self.ldap.as_mut().and_then(|d| d.ca_file.as_mut()) {
            fix(p)
        }
    }

    fn validate(&mut self) -> Result<(), String> {
        if self.mail.domains.is_empty() {
            return Err("mail.domains must name at least one domain".into());
        }
        for d in &mut self.mail.domains {
            *d = d.trim().to_ascii_lowercase();
            if d.is_empty() || d.contains('@') || d.contains(' ') {
                return Err(format!("mail.domains: {d:?} is not a domain name"));
            }
        }
        let url = self.server.public_url.trim_end_matches('/').to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("server.public_url must start with https:// (or http:// behind a proxy)".into());
        }
        self.server.public_url = url;
        if self.imap.master_user.is_some() != self.imap.master_password.is_some() {
            return Err("imap.master_user and imap.master_password go together".into());
        }
        if let Some(dav) = &self.dav
            && dav.service_user.is_some() != dav.service_password.is_some()
        {
            return Err("dav.service_user and dav.service_password go together".into());
        }
        if let Some(ldap) = &self.ldap
            && !(ldap.url.starts_with("ldap://") || ldap.url.starts_with("ldaps://"))
        {
            return Err("ldap.url must start with ldap:// or ldaps://".into());
        }
        Ok(())
    }

    /// The deployment id handed to Outlook: configured, or a name-based UUID of the first domain so that
    /// every instance of one deployment computes the same value.
    pub fn deployment_id(&self) -> String {
        match &self.mail.deployment_id {
            Some(id) => id.clone(),
            None => uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, self.mail.domains[0].as_bytes()).to_string(),
        }
    }

    /// Whether `domain` is one this gateway serves (case-insensitive).
    pub fn serves_domain(&self, domain: &str) -> bool {
        self.mail.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The public host (and port, when not the default) taken from `server.public_url`.
    pub fn public_host(&self) -> &str {
        let rest = self.server.public_url.split_once("://").map(|(_, r)| r).unwrap_or(&self.server.public_url);
        rest.split('/').next().unwrap_or(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../docs/viaduc.example.toml");

    #[test]
    fn example_file_parses() {
        let c = Config::parse(EXAMPLE, Path::new("/etc/viaduc")).expect("example parses");
        assert_eq!(c.mail.domains, vec!["example.org".to_string()]);
        assert!(c.server.tls_cert.is_absolute());
        assert_eq!(c.public_host(), "mail.example.org");
        assert!(c.ldap.is_some() && c.dav.is_some() && c.smtp.is_some() && c.sieve.is_some());
    }

    #[test]
    fn unknown_key_is_named() {
        let bad = EXAMPLE.replace("[imap]\n", "[imap]\nhots = \"x\"\n");
        let err = Config::parse(&bad, Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn unknown_table_is_named() {
        let bad = format!("{EXAMPLE}\n[frobnicate]\nx = 1\n");
        let err = Config::parse(&bad, Path::new("/")).unwrap_err().to_string();
        assert!(err.contains("frobnicate"), "{err}");
    }

    #[test]
    fn deployment_id_is_stable() {
        let a = Config::parse(EXAMPLE, Path::new("/")).unwrap();
        let b = Config::parse(EXAMPLE, Path::new("/tmp")).unwrap();
        assert_eq!(a.deployment_id(), b.deployment_id());
    }

    #[test]
    fn dav_service_account() {
        let with = EXAMPLE.replace("[dav]\n", "[dav]\nservice_user = \"viaduc\"\nservice_password = \"secret\"\n");
        let c = Config::parse(&with, Path::new("/")).unwrap();
        let dav = c.dav.unwrap();
        assert_eq!(dav.service_user.as_deref(), Some("viaduc"));
        assert_eq!(dav.service_password.as_deref(), Some("secret"));
        let half = EXAMPLE.replace("[dav]\n", "[dav]\nservice_user = \"viaduc\"\n");
        assert!(Config::parse(&half, Path::new("/")).is_err());
        assert!(Config::parse(EXAMPLE, Path::new("/")).unwrap().dav.unwrap().service_user.is_none());
    }

    #[test]
    fn master_user_needs_password() {
        let bad = EXAMPLE.replace("master_password = \"change-me\"\n", "");
        assert!(Config::parse(&bad, Path::new("/")).is_err());
    }
}
