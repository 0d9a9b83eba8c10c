//! Directory entries: people and distribution lists of the Global Address List, as the directory back-end
//! (LDAP) finds them and as Autodiscover, NSPI and ResolveNames present them.

/// What kind of address-book entry this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A mail user with a mailbox on this deployment.
    Mailbox,
    /// A distribution list (a group with an address).
    DistributionList,
    /// A contact outside the organisation.
    Contact,
}

/// One entry of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub kind: EntryKind,
    /// The directory's own name for the entry (an LDAP DN).
    pub dn: String,
    /// The login name, for mailboxes.
    pub login: Option<String>,
    pub display_name: String,
    /// Primary SMTP address, lower-cased.
    pub mail: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub office: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    /// The manager's DN in the directory.
    pub manager_dn: Option<String>,
    /// Member DNs, for distribution lists.
    pub members: Vec<String>,
}

impl DirectoryEntry {
    /// The X.500 legacy distinguished name Exchange clients use as the entry's address-book identity
    /// (Autodiscover `LegacyDN`, NSPI `PidTagEmailAddress`, MAPI `Connect` user DN). Derived from the
    /// organisation and the local part of the address so that every instance computes the same value.
    pub fn legacy_dn(&self, organization: &str) -> String {
        legacy_dn(organization, &self.mail)
    }
}

/// The X.500 legacy DN for `mail` in `organization`:
/// `/o=<org>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=<local part>`.
pub fn legacy_dn(organization: &str, mail: &str) -> String {
    let local = mail.split('@').next().unwrap_or(mail);
    format!(
        "/o={}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}",
        x500_safe(organization),
        x500_safe(local)
    )
}

/// The mailbox GUID of an address: a name-based UUID (version 5, URL namespace, `mailto:<lower-cased address>`),
/// so every instance computes the same value without storing it. Autodiscover hands it out as the MAPI
/// `MailboxId` and the server name (`<guid>@<domain>`); MAPI uses it for the store. Changing the derivation
/// would move every mailbox for Outlook: it is pinned by a test.
pub fn mailbox_guid(mail: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("mailto:{}", mail.trim().to_ascii_lowercase()).as_bytes())
}

/// The legacy DN of the mailbox server object for a mailbox (used by Outlook as the store's server DN).
pub fn server_legacy_dn(organization: &str, mailbox_guid: &str) -> String {
    format!(
        "/o={}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={}",
        x500_safe(organization),
        mailbox_guid
    )
}

/// Keeps a DN component free of the separators of the X.500 string form.
fn x500_safe(s: &str) -> String {
    s.chars().map(|c| if c == '/' || c == '=' || c.is_control() { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_dn_shape() {
        assert_eq!(
            legacy_dn("Viaduc Demo", "alice@example.test"),
            "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"
        );
        assert_eq!(
            legacy_dn("a/b", "x=y@d"),
            "/o=a_b/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=x_y"
        );
    }
}
