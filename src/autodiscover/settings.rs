//! The settings every Autodiscover flavour hands out, computed once per answered mailbox from the configuration
//! and the directory entry. Everything derives from `server.public_url`, `mail.organization`, the deployment id
//! and the mailbox's primary address, so every instance of a deployment gives the same answer.

use crate::config::Config;
use crate::model::directory::{legacy_dn, server_legacy_dn};

/// The Exchange build Viaduc presents itself as: Exchange Server 2016 CU23 (15.1.2507.x), the last on-premises
/// generation whose Autodiscover, EWS schema (`Exchange2016`) and MAPI/HTTP behaviour Outlook and EWS clients
/// are tested against.
pub const SERVER_MAJOR: u32 = 15;
pub const SERVER_MINOR: u32 = 1;
pub const SERVER_BUILD: u32 = 2507;
pub const SERVER_REVISION: u32 = 6;
/// The `Version` reported in the SOAP Autodiscover `ServerVersionInfo` header (MS-OXWSADISC 2.2.3.x): Exchange
/// 2016 servers report `Exchange2015` there.
pub const SOAP_SERVER_VERSION_NAME: &str = "Exchange2015";
/// EWS schema versions the EWS endpoint accepts (the `EwsSupportedSchemas` user setting).
pub const EWS_SUPPORTED_SCHEMAS: &str = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2015, Exchange2016";

/// The build as `15.01.2507.006`, the form of the `CasVersion` and `ExternalEwsVersion` settings.
pub fn server_version_string() -> String {
    format!("{SERVER_MAJOR}.{SERVER_MINOR:02}.{SERVER_BUILD:04}.{SERVER_REVISION:03}")
}

/// The POX `ServerVersion` value (MS-OXDSCLI 2.2.4.1.1.2.6.x ServerVersion): a 32-bit number written in
/// hexadecimal, laid out as 4 bits `0111`, 6 bits major version, 6 bits minor version, 1 bit set, 15 bits major
/// build number (so Exchange 2010 SP1 14.1.218 is `738180DA`).
pub fn pox_server_version() -> String {
    let v: u32 = (0b0111 << 28) | (SERVER_MAJOR << 22) | (SERVER_MINOR << 16) | (1 << 15) | (SERVER_BUILD & 0x7FFF);
    format!("{v:08X}")
}

// The mailbox GUID (MAPI/HTTP `MailboxId`, server DN) is defined once, in the model.
pub use crate::model::directory::mailbox_guid;

/// A stable 32-bit number naming this deployment, for the POX `Error Id` attribute (which Exchange fills with
/// a hash of the server name).
pub fn server_id(config: &Config) -> u32 {
    use sha2::Digest;
    let h = sha2::Sha256::digest(config.deployment_id().as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// Everything Autodiscover says about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSettings {
    pub display_name: String,
    /// Primary SMTP address, lower-cased.
    pub mail: String,
    /// X.500 legacy DN of the user (`/o=<org>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=<local>`).
    pub legacy_dn: String,
    pub deployment_id: String,
    /// `<mailbox guid>@<domain>`: the "server" name Exchange 2013 and later hand out for a mailbox.
    pub mailbox_server: String,
    /// X.500 DN of that mailbox "server".
    pub server_dn: String,
    /// X.500 DN of the mailbox database.
    pub mdb_dn: String,
    /// `server.public_url` without a trailing slash.
    pub public_url: String,
    /// Host (and port when not the default) of `public_url`.
    pub public_host: String,
    /// Whether `public_url` is HTTPS.
    pub ssl: bool,
}

impl UserSettings {
    /// The settings of the mailbox `mail` (any case) shown as `display_name`.
    pub fn new(config: &Config, mail: &str, display_name: &str) -> UserSettings {
        let mail = mail.trim().to_ascii_lowercase();
        let domain =
            mail.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| config.mail.domains[0].clone());
        let org = &config.mail.organization;
        let mailbox_server = format!("{}@{}", mailbox_guid(&mail), domain);
        let server_dn = server_legacy_dn(org, &mailbox_server);
        let mdb_dn = format!("{server_dn}/cn=Microsoft Private MDB");
        let public_url = config.server.public_url.trim_end_matches('/').to_string();
        let display_name = if display_name.trim().is_empty() { mail.clone() } else { display_name.to_string() };
        UserSettings {
            display_name,
            legacy_dn: legacy_dn(org, &mail),
            deployment_id: config.deployment_id(),
            mailbox_server,
            server_dn,
            mdb_dn,
            ssl: public_url.starts_with("https://"),
            public_host: config.public_host().to_string(),
            public_url,
            mail,
        }
    }

    /// The EWS endpoint (also the Availability, OOF and Exchange Management Web Services URL).
    pub fn ews_url(&self) -> String {
        format!("{}/EWS/Exchange.asmx", self.public_url)
    }

    /// MAPI/HTTP mailbox endpoint (MS-OXCMAPIHTTP), with the `MailboxId` query Exchange uses.
    pub fn emsmdb_url(&self) -> String {
        format!("{}/mapi/emsmdb/?MailboxId={}", self.public_url, self.mailbox_server)
    }

    /// MAPI/HTTP address-book endpoint.
    pub fn nspi_url(&self) -> String {
        format!("{}/mapi/nspi/?MailboxId={}", self.public_url, self.mailbox_server)
    }

    /// The web client URL.
    pub fn owa_url(&self) -> String {
        format!("{}/owa/", self.public_url)
    }

    /// The POX Autodiscover URL (Autodiscover v2 `AutodiscoverV1`).
    pub fn pox_url(&self) -> String {
        format!("{}/autodiscover/autodiscover.xml", self.public_url)
    }

    /// The value Exchange uses to group mailboxes served by the same site (`GroupingInformation`).
    pub fn grouping_information(&self) -> &str {
        &self.public_host
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use super::*;

    /// A configuration like the test stack's.
    pub fn config() -> Config {
        Config::parse(
            r#"
[server]
listen = "127.0.0.1:8443"
public_url = "https://mail.example.test/"
tls_cert = "cert.pem"
tls_key = "key.pem"

[mail]
domains = ["example.test", "Other.Example"]
organization = "Viaduc Demo"

[imap]
host = "127.0.0.1"
port = 143
"#,
            Path::new("/etc/viaduc"),
        )
        .expect("test config parses")
    }

    #[test]
    fn server_version_encoding_matches_the_documented_example() {
        // The documented example 738180DA decodes to 14.1.218; check our encoder with those numbers.
        let v: u32 = (0b0111 << 28) | (14 << 22) | (1 << 16) | (1 << 15) | 218;
        assert_eq!(format!("{v:08X}"), "738180DA");
        assert_eq!(pox_server_version(), "73C189CB");
        assert_eq!(server_version_string(), "15.01.2507.006");
    }

    #[test]
    fn mailbox_guid_is_stable_and_case_insensitive() {
        let a = mailbox_guid("Alice@Example.Test");
        assert_eq!(a, mailbox_guid("alice@example.test"));
        assert_eq!(a.get_version_num(), 5);
        assert_ne!(a, mailbox_guid("bob@example.test"));
        // Pinned: changing the derivation would move every mailbox.
        assert_eq!(
            a.to_string(),
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"mailto:alice@example.test").to_string()
        );
    }

    #[test]
    fn settings_derive_from_config() {
        let c = config();
        let s = UserSettings::new(&c, "Alice@Example.Test", "Alice Anderson");
        let guid = mailbox_guid("alice@example.test");
        assert_eq!(s.mail, "alice@example.test");
        assert_eq!(s.mailbox_server, format!("{guid}@example.test"));
        assert_eq!(s.ews_url(), "https://mail.example.test/EWS/Exchange.asmx");
        assert_eq!(s.emsmdb_url(), format!("https://mail.example.test/mapi/emsmdb/?MailboxId={guid}@example.test"));
        assert_eq!(s.nspi_url(), format!("https://mail.example.test/mapi/nspi/?MailboxId={guid}@example.test"));
        assert_eq!(
            s.legacy_dn,
            "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
        );
        assert_eq!(
            s.server_dn,
            format!(
                "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={guid}@example.test"
            )
        );
        assert!(s.mdb_dn.ends_with("/cn=Microsoft Private MDB"));
        assert_eq!(s.public_host, "mail.example.test");
        assert!(s.ssl);
        assert_eq!(s.deployment_id, c.deployment_id());
        assert_eq!(UserSettings::new(&c, "x@example.test", " ").display_name, "x@example.test");
    }
}
