//! The directory back-end (LDAP, RFC 4511): finds users by login or address, lists the Global Address List
//! and expands distribution lists. Entries come back as [`DirectoryEntry`] values of the internal model.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use tokio::time::timeout;

use crate::config::LdapConfig;
use crate::error::{Backend, Error, Kind, Result};
use crate::model::directory::{DirectoryEntry, EntryKind};

/// A configured directory. Each call opens, binds and closes its own connection; results are cached by the
/// callers that need speed.
#[derive(Clone)]
pub struct Directory {
    config: Arc<LdapConfig>,
    tls: Arc<rustls::ClientConfig>,
}

fn ldap_error(e: impl std::fmt::Display) -> Error {
    Error::backend(Backend::Ldap, Kind::Refused, e.to_string())
}

impl Directory {
    pub fn new(config: LdapConfig, tls: Arc<rustls::ClientConfig>) -> Directory {
        Directory { config: Arc::new(config), tls }
    }

    fn limit(&self) -> Duration {
        Duration::from_secs(self.config.timeout_secs.max(1))
    }

    async fn connect(&self) -> Result<ldap3::Ldap> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.limit())
            .set_starttls(self.config.starttls)
            .set_config(self.tls.clone());
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|e| Error::unavailable(Backend::Ldap, format!("connect {}: {e}", self.config.url)))?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.limit());
        if !self.config.bind_dn.is_empty() {
            ldap.simple_bind(&self.config.bind_dn, &self.config.bind_password)
                .await
                .map_err(|e| Error::unavailable(Backend::Ldap, format!("bind: {e}")))?
                .success()
                .map_err(|e| Error::backend(Backend::Ldap, Kind::AuthFailed, format!("bind refused: {e}")))?;
        }
        Ok(ldap)
    }

    fn attribute_list(&self) -> Vec<String> {
        let a = &self.config.attributes;
        vec![
            "objectClass".into(),
            a.login.clone(),
            a.display_name.clone(),
            "cn".into(),
            a.mail.clone(),
            a.given_name.clone(),
            a.surname.clone(),
            a.title.clone(),
            a.department.clone(),
            a.office.clone(),
            a.phone.clone(),
            a.mobile.clone(),
            a.manager.clone(),
            a.member.clone(),
        ]
    }

    /// Runs `filter` under the base DN and maps every entry that has an address.
    pub async fn search(&self, filter: &str, size_limit: i32) -> Result<Vec<DirectoryEntry>> {
        let mut ldap = self.connect().await?;
        let attrs = self.attribute_list();
        let work = async {
            let mut stream =
                ldap.streaming_search(&self.config.base_dn, Scope::Subtree, filter, attrs).await.map_err(ldap_error)?;
            let mut out = Vec::new();
            while let Some(entry) = stream.next().await.map_err(ldap_error)? {
                if let Some(e) = self.map_entry(SearchEntry::construct(entry)) {
                    out.push(e);
                    if size_limit > 0 && out.len() >= size_limit as usize {
                        break;
                    }
                }
            }
            let _ = stream.finish().await;
            Ok(out)
        };
        let result =
            timeout(self.limit(), work).await.map_err(|_| Error::unavailable(Backend::Ldap, "search timed out"))?;
        let _ = ldap.unbind().await;
        result
    }

    /// Finds the mailbox user a login name or address belongs to. `default_domain` completes a bare login.
    pub async fn find_user(&self, login: &str, default_domain: &str) -> Result<Option<DirectoryEntry>> {
        let (local, mail) = match login.split_once('@') {
            Some((l, _)) => (l.to_string(), login.to_ascii_lowercase()),
            None => (login.to_string(), format!("{}@{}", login.to_ascii_lowercase(), default_domain)),
        };
        let filter = self
            .config
            .user_filter
            .replace("{login}", &ldap_escape(local.as_str()))
            .replace("{mail}", &ldap_escape(mail.as_str()));
        let found = self.search(&filter, 2).await?;
        Ok(found.into_iter().find(|e| e.kind == EntryKind::Mailbox))
    }

    /// Finds any entry (user, list, contact) with this primary address.
    pub async fn find_by_mail(&self, mail: &str) -> Result<Option<DirectoryEntry>> {
        let filter = format!("({}={})", self.config.attributes.mail, ldap_escape(mail));
        Ok(self.search(&filter, 2).await?.into_iter().next())
    }

    /// Every entry of the Global Address List.
    pub async fn global_address_list(&self) -> Result<Vec<DirectoryEntry>> {
        self.search(&self.config.gal_filter, 0).await
    }

    fn map_entry(&self, e: SearchEntry) -> Option<DirectoryEntry> {
        let a = &self.config.attributes;
        let first = |name: &str| -> Option<String> {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first().cloned())
                .filter(|v| !v.is_empty())
        };
        let all = |name: &str| -> Vec<String> {
            e.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let mail = first(&a.mail)?.to_ascii_lowercase();
        let classes: Vec<String> = all("objectClass").iter().map(|c| c.to_ascii_lowercase()).collect();
        let login = first(&a.login);
        let kind = if classes.iter().any(|c| c == "groupofnames" || c == "groupofuniquenames") {
            EntryKind::DistributionList
        } else if login.is_some() {
            EntryKind::Mailbox
        } else {
            EntryKind::Contact
        };
        let display_name = first(&a.display_name).or_else(|| first("cn")).unwrap_or_else(|| mail.clone());
        Some(DirectoryEntry {
            kind,
            dn: e.dn.clone(),
            login,
            display_name,
            mail,
            given_name: first(&a.given_name),
            surname: first(&a.surname),
            title: first(&a.title),
            department: first(&a.department),
            office: first(&a.office),
            phone: first(&a.phone),
            mobile: first(&a.mobile),
            manager_dn: first(&a.manager),
            members: all(&a.member),
        })
    }

    /// Binds and runs one search; returns how many GAL entries were found (for `viaduc check`).
    pub async fn probe(&self) -> Result<usize> {
        Ok(self.global_address_list().await?.len())
    }
}
