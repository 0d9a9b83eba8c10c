//! The production [`MailStore`]: the caller's mailbox on the IMAP server, through the back-end's typed store
//! (`backend::imap::store`) and its per-user session pool.

use std::sync::{Arc, OnceLock};

use super::ops::{FolderNode, build_tree};
use super::store::{Addr, Changes, Filter, FolderInfo, ListQuery, MailStore, MsgSummary, PartMeta, SortField, Special};
use crate::auth::Principal;
use crate::backend::imap::bodystructure;
use crate::backend::imap::codec::{Command, Value};
use crate::backend::imap::store::{Criteria, MailStore as ImapMailStore, MessageSummary, Sort, SortKey, SpecialUse};
use crate::backend::ldap::Directory;
use crate::backend::{smtp, tls};
use crate::config::{LdapConfig, SmtpConfig};
use crate::error::{Backend, Error, Kind, Result};
use crate::model::directory::DirectoryEntry;
use crate::model::message::{DateTime, Recipient};
use crate::model::mime_tree::{self, MimeNode};
use crate::server::Gateway;

/// The IMAP store EWS uses. `Gateway` has no field for it (and this module may not add one); there is one
/// Gateway per process, so one lazily created store serves every request.
/// The server's non-personal namespace prefixes (RFC 2342: other users' first, then shared), read once with
/// NAMESPACE.
static FOREIGN_NAMESPACES: OnceLock<(Vec<String>, Vec<String>)> = OnceLock::new();
/// TLS settings for the SMTP submission server (built once; `None` when it cannot be built).
static SMTP_TLS: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
static SIEVE_TLS: std::sync::OnceLock<Option<Arc<rustls::ClientConfig>>> = std::sync::OnceLock::new();

/// How long a user's cached folder list may be used to resolve ids.
const TREE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Per-user folder lists (bounded; keyed by IMAP login), see [`MailStore::list_folders_cached`].
type TreeCache = std::sync::Mutex<lru::LruCache<String, CachedTree>>;

/// A user's folder list as listed at `at`, and the tree built from it once a request needed it.
struct CachedTree {
    at: std::time::Instant,
    list: Arc<Vec<FolderInfo>>,
    nodes: Option<Arc<Vec<FolderNode>>>,
}
static TREES: OnceLock<TreeCache> = OnceLock::new();

fn trees() -> &'static TreeCache {
    TREES.get_or_init(|| std::sync::Mutex::new(lru::LruCache::new(std::num::NonZeroUsize::new(1024).unwrap())))
}

/// Forgets a user's cached folder list (after Viaduc's own folder changes).
fn forget_tree(login: &str) {
    if let Ok(mut c) = trees().lock() {
        c.pop(login);
    }
}

/// One request's view of the caller's mailbox.
pub struct ImapStore {
    store: &'static ImapMailStore,
    principal: Principal,
    smtp: Option<(SmtpConfig, Arc<rustls::ClientConfig>)>,
    directory: Option<(Directory, LdapConfig)>,
    /// ManageSieve and the IMAP master credentials (Dovecot `user*master`): to read colleagues' automatic
    /// replies for GetMailTips.
    sieve: Option<(crate::config::SieveConfig, Arc<rustls::ClientConfig>, String, String, String)>,
}

impl ImapStore {
    pub async fn open(gw: &Gateway, principal: &Principal) -> Result<ImapStore> {
        let store = crate::backend::imap::store::shared(&gw.config.imap, &gw.imap_tls);
        let smtp = gw.config.smtp.as_ref().and_then(|c| {
            let tls = SMTP_TLS
                .get_or_init(|| match tls::client_config(Backend::Smtp, c.ca_file.as_deref()) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        tracing::warn!(error = %e, "EWS: cannot set up TLS for SMTP; sending is disabled");
                        None
                    }
                })
                .clone()?;
            Some((c.clone(), tls))
        });
        let directory = match (&gw.directory, &gw.config.ldap) {
            (Some(d), Some(c)) => Some((d.clone(), c.clone())),
            _ => None,
        };
        let sieve = match (&gw.config.sieve, &gw.config.imap.master_user, &gw.config.imap.master_password) {
            (Some(c), Some(user), Some(pw)) => SIEVE_TLS
                .get_or_init(|| tls::client_config(Backend::Sieve, c.ca_file.as_deref()).ok())
                .clone()
                .map(|t| (c.clone(), t, user.clone(), pw.clone(), gw.config.imap.master_separator.clone())),
            _ => None,
        };
        Ok(ImapStore { store, principal: principal.clone(), smtp, directory, sieve })
    }

    /// Ends the request's use of the store (sessions go back to the pool as each call ends).
    pub fn release(self) {}
}

fn addr(r: &Recipient) -> Addr {
    Addr { name: r.name.clone().filter(|n| !n.is_empty()), email: r.address.clone() }
}

fn summary(m: MessageSummary) -> MsgSummary {
    MsgSummary {
        uid: m.uid,
        modseq: m.modseq,
        size: m.size,
        internal_date: m.internal_date.map(|d| d.unix).or(m.date.map(|d| d.unix)).unwrap_or(0),
        date: m.date.map(|d| d.unix),
        subject: m.subject,
        from: m.from.as_ref().map(addr),
        sender: m.sender.as_ref().map(addr),
        to: m.to.iter().map(addr).collect(),
        cc: m.cc.iter().map(addr).collect(),
        bcc: m.bcc.iter().map(addr).collect(),
        reply_to: m.reply_to.iter().map(addr).collect(),
        message_id: m.message_id,
        in_reply_to: m.in_reply_to,
        references: m.references,
        has_attachments: m.has_attachments,
        calendar_method: m.calendar_method,
        importance: m.importance,
        flags: m.flags,
    }
}

fn special(s: SpecialUse) -> Special {
    match s {
        SpecialUse::Inbox => Special::Inbox,
        SpecialUse::Drafts => Special::Drafts,
        SpecialUse::Sent => Special::Sent,
        SpecialUse::Trash => Special::Trash,
        SpecialUse::Junk => Special::Junk,
        SpecialUse::Archive => Special::Archive,
        SpecialUse::All => Special::All,
        SpecialUse::Flagged => Special::Flagged,
    }
}

/// Maps a filter onto IMAP SEARCH criteria (RFC 3501 6.4.4). SINCE/BEFORE have day granularity in IMAP.
fn criteria(f: &Filter) -> Criteria {
    let day = |t: i64| DateTime::from_unix(t).date_utc();
    match f {
        Filter::And(v) => Criteria::And(v.iter().map(criteria).collect()),
        Filter::Or(v) => Criteria::Or(v.iter().map(criteria).collect()),
        Filter::Not(x) => Criteria::Not(Box::new(criteria(x))),
        Filter::Seen(b) => Criteria::Seen(*b),
        Filter::Flagged(b) => Criteria::Flagged(*b),
        Filter::Subject(s) => Criteria::SubjectContains(s.clone()),
        Filter::From(s) => Criteria::FromContains(s.clone()),
        Filter::Body(s) => Criteria::BodyContains(s.clone()),
        Filter::ReceivedSince(t) => Criteria::Since(day(*t)),
        Filter::ReceivedBefore(t) => Criteria::Before(day(*t)),
        Filter::Nothing => Criteria::Uids(Vec::new()),
    }
}

/// The prefixes of the "other users" and "shared" namespaces of a NAMESPACE response (RFC 2342 section 5):
/// `* NAMESPACE (("" "/")) (("shared/" "/")) (("Public/" "/"))` → `(["shared/"], ["Public/"])`.
pub fn foreign_namespaces(data: &[Value]) -> (Vec<String>, Vec<String>) {
    if data.first().and_then(Value::as_atom).is_none_or(|a| !a.eq_ignore_ascii_case("NAMESPACE")) {
        return (Vec::new(), Vec::new());
    }
    let group = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(|ns| ns.as_list().and_then(|l| l.first()).and_then(Value::as_text))
            .filter(|p| !p.is_empty())
            .collect()
    };
    (group(data.get(2)), group(data.get(3)))
}

impl ImapStore {
    async fn namespaces(&self) -> (Vec<String>, Vec<String>) {
        if let Some(n) = FOREIGN_NAMESPACES.get() {
            return n.clone();
        }
        let found = async {
            let mut s = self.store.session(&self.principal).await.ok()?;
            let done = s.run(&Command::new("NAMESPACE")).await.ok()?;
            done.data()
                .find(|d| d.first().and_then(Value::as_atom).is_some_and(|a| a.eq_ignore_ascii_case("NAMESPACE")))
                .map(foreign_namespaces)
        }
        .await;
        match found {
            Some(n) => FOREIGN_NAMESPACES.get_or_init(|| n).clone(),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn info(m: crate::backend::imap::store::MailboxInfo) -> FolderInfo {
        FolderInfo {
            special: m.special_use.map(special),
            selectable: m.selectable,
            messages: m.messages,
            unseen: m.unseen,
            uid_validity: m.uid_validity,
            uid_next: m.uid_next,
            highest_modseq: m.highest_modseq,
            guid: m.guid,
            delimiter: m.delimiter,
            name: m.name,
        }
    }
}

impl MailStore for ImapStore {
    async fn list_folders_cached(&mut self) -> Result<Vec<FolderInfo>> {
        let key = self.principal.login.to_lowercase();
        if let Ok(mut c) = trees().lock()
            && let Some(e) = c.get(&key)
            && e.at.elapsed() < TREE_TTL
        {
            return Ok(e.list.as_ref().clone());
        }
        self.list_folders().await
    }

    async fn folder_tree_cached(&mut self) -> Result<Arc<Vec<FolderNode>>> {
        let key = self.principal.login.to_lowercase();
        let fresh = trees().lock().ok().and_then(|mut c| {
            c.get(&key).filter(|e| e.at.elapsed() < TREE_TTL).map(|e| (e.list.clone(), e.nodes.clone()))
        });
        let list = match fresh {
            Some((_, Some(nodes))) => return Ok(nodes),
            Some((list, None)) => list,
            // A fresh listing refreshes the cache; the next request builds the tree from that entry.
            None => return Ok(Arc::new(build_tree(self.list_folders().await?))),
        };
        let nodes = Arc::new(build_tree(list.as_ref().clone()));
        // Kept only with the very list it was built from (another request may have listed again meanwhile).
        if let Ok(mut c) = trees().lock()
            && let Some(e) = c.get_mut(&key)
            && Arc::ptr_eq(&e.list, &list)
        {
            e.nodes = Some(nodes.clone());
        }
        Ok(nodes)
    }

    async fn list_folders(&mut self) -> Result<Vec<FolderInfo>> {
        let list = self.store.list_mailboxes(&self.principal).await?;
        // Other users' and shared folders are not part of this mailbox (they are reached by delegate access).
        let (others, shared) = self.namespaces().await;
        let is_foreign = |name: &str| {
            others
                .iter()
                .chain(&shared)
                .any(|p| name.starts_with(p.as_str()) || p.strip_suffix(['/', '.']).is_some_and(|root| name == root))
        };
        let list: Vec<FolderInfo> = list
            .into_iter()
            .filter(|m| !is_foreign(&m.name))
            .filter(|m| !m.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\NonExistent")))
            .map(Self::info)
            .collect();
        // Every fresh listing refreshes the cache the item operations use.
        if let Ok(mut c) = trees().lock() {
            let entry = CachedTree { at: std::time::Instant::now(), list: Arc::new(list.clone()), nodes: None };
            c.put(self.principal.login.to_lowercase(), entry);
        }
        Ok(list)
    }

    async fn other_user_folders(&mut self, owner: &str) -> Result<Option<(String, Vec<FolderInfo>)>> {
        let (others, _) = self.namespaces().await;
        let Some(ns) = others.first() else { return Ok(None) };
        let delim = ns.chars().last().filter(|c| !c.is_alphanumeric()).unwrap_or('/');
        let prefix = format!("{ns}{owner}{delim}");
        let root = format!("{ns}{owner}");
        let list = self.store.list_mailboxes(&self.principal).await?;
        let mine = list
            .into_iter()
            .filter(|m| m.name.starts_with(&prefix) || m.name == root)
            .filter(|m| !m.attributes.iter().any(|a| a.eq_ignore_ascii_case("\\NonExistent")))
            .map(Self::info)
            .collect();
        Ok(Some((prefix, mine)))
    }

    async fn create_folder(&mut self, name: &str) -> Result<()> {
        forget_tree(&self.principal.login.to_lowercase());
        self.store.create_mailbox(&self.principal, name).await
    }

    async fn rename_folder(&mut self, from: &str, to: &str) -> Result<()> {
        forget_tree(&self.principal.login.to_lowercase());
        self.store.rename_mailbox(&self.principal, from, to).await
    }

    async fn delete_folder(&mut self, name: &str) -> Result<()> {
        forget_tree(&self.principal.login.to_lowercase());
        self.store.delete_mailbox(&self.principal, name).await
    }

    async fn list_messages(&mut self, folder: &str, q: &ListQuery) -> Result<(u32, Vec<MsgSummary>)> {
        let key = match q.sort {
            SortField::Received => SortKey::Arrival,
            SortField::Sent => SortKey::Date,
            SortField::Subject => SortKey::Subject,
            SortField::From => SortKey::From,
            SortField::Size => SortKey::Size,
        };
        let sort = Sort { key, descending: q.descending };
        let c = q.filter.as_ref().map(criteria).unwrap_or(Criteria::All);
        let (total, page) =
            self.store.list_messages_matching(&self.principal, folder, &c, sort, q.offset, q.limit).await?;
        Ok((total, page.into_iter().map(summary).collect()))
    }

    async fn summaries(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<MsgSummary>> {
        let mut v: Vec<MsgSummary> =
            self.store.fetch_summaries(&self.principal, folder, uids).await?.into_iter().map(summary).collect();
        v.sort_by_key(|m| m.uid);
        v.dedup_by_key(|m| m.uid);
        Ok(v)
    }

    async fn fetch_full(&mut self, folder: &str, uid: u32) -> Result<Option<(MsgSummary, Vec<u8>)>> {
        Ok(self
            .store
            .fetch_message(&self.principal, folder, uid)
            .await?
            .map(|m| (summary(m.summary), Vec::from(m.raw))))
    }

    async fn fetch_full_many(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<(MsgSummary, Vec<u8>)>> {
        Ok(self
            .store
            .fetch_messages(&self.principal, folder, uids)
            .await?
            .into_iter()
            .map(|m| (summary(m.summary), Vec::from(m.raw)))
            .collect())
    }

    async fn summaries_in(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
        ids_only: bool,
    ) -> Result<Vec<MsgSummary>> {
        let found = self.store.fetch_summaries_in(&self.principal, folder, Some(uid_validity), uids, ids_only).await?;
        let mut v: Vec<MsgSummary> = found.into_iter().map(summary).collect();
        v.sort_by_key(|m| m.uid);
        v.dedup_by_key(|m| m.uid);
        Ok(v)
    }

    async fn fetch_full_many_in(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
        ids_only: bool,
    ) -> Result<Vec<(MsgSummary, Vec<u8>)>> {
        Ok(self
            .store
            .fetch_messages_in(&self.principal, folder, Some(uid_validity), uids, ids_only)
            .await?
            .into_iter()
            .map(|m| (summary(m.summary), Vec::from(m.raw)))
            .collect())
    }

    async fn fetch_raw(&mut self, folder: &str, uid: u32) -> Result<Option<Vec<u8>>> {
        Ok(self.store.fetch_message(&self.principal, folder, uid).await?.map(|m| Vec::from(m.raw)))
    }

    async fn mime_structure(&mut self, folder: &str, uid_validity: u32, uid: u32) -> Result<Option<MimeNode>> {
        let v = self.store.fetch_bodystructure(&self.principal, folder, uid_validity, uid).await?;
        Ok(v.as_ref().and_then(bodystructure::mime_tree))
    }

    async fn part_meta(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        section: &[u32],
    ) -> Result<Option<PartMeta>> {
        let section = mime_tree::section_text(section);
        let meta = self.store.fetch_part_meta(&self.principal, folder, uid_validity, uid, &section).await?;
        Ok(meta.map(|(size, mime_headers)| PartMeta { size, mime_headers }))
    }

    async fn fetch_part_range(
        &mut self,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        section: &[u32],
        offset: u64,
        len: u32,
    ) -> Result<Option<Vec<u8>>> {
        let section = mime_tree::section_text(section);
        self.store.fetch_binary_range(&self.principal, folder, uid_validity, uid, &section, offset, len).await
    }

    async fn set_flags(
        &mut self,
        folder: &str,
        uids: &[u32],
        add: &[String],
        remove: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<Vec<u32>> {
        let add: Vec<&str> = add.iter().map(String::as_str).collect();
        let remove: Vec<&str> = remove.iter().map(String::as_str).collect();
        let mut failed = Vec::new();
        // One STORE per message (the store's API); bulk callers (MarkAllItemsAsRead) pass many UIDs.
        for uid in uids {
            match self.store.set_flags(&self.principal, folder, *uid, &add, &remove, unchanged_since).await {
                Ok(_) => {}
                Err(e) if e.kind == Kind::Conflict => failed.push(*uid),
                Err(e) if e.kind == Kind::NotFound && uids.len() > 1 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(failed)
    }

    async fn append(&mut self, folder: &str, raw: &[u8], flags: &[String]) -> Result<(u32, u32)> {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        self.store.append(&self.principal, folder, raw, &flags).await
    }

    async fn move_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        let pairs = self.store.move_messages(&self.principal, from, uids, to).await?;
        let uv = self.store.mailbox_status(&self.principal, to).await?.uid_validity;
        Ok((uv, pairs))
    }

    async fn copy_messages(&mut self, from: &str, uids: &[u32], to: &str) -> Result<(u32, Vec<(u32, u32)>)> {
        let pairs = self.store.copy_messages(&self.principal, from, uids, to).await?;
        let uv = self.store.mailbox_status(&self.principal, to).await?.uid_validity;
        Ok((uv, pairs))
    }

    async fn delete_messages(&mut self, folder: &str, uids: &[u32]) -> Result<()> {
        self.store.delete_messages(&self.principal, folder, uids).await
    }

    async fn changes_since(&mut self, folder: &str, modseq: u64) -> Result<Changes> {
        // One session: EXAMINE gives UIDVALIDITY and HIGHESTMODSEQ (RFC 7162 3.1.2.1), then the UID SEARCH and,
        // for a caller that has synchronised before, the CHANGEDSINCE fetch — on the mailbox just selected. With
        // modseq 0 everything is new to the caller: no summaries are fetched (see the trait's contract).
        let snap = self.store.sync_snapshot(&self.principal, folder, modseq).await?;
        if modseq > 0 && snap.selected.highest_modseq == 0 {
            return Err(Error::backend(Backend::Imap, Kind::NotSupported, format!("{folder:?} has no mod-sequences")));
        }
        Ok(Changes {
            uid_validity: snap.selected.uid_validity,
            highest_modseq: snap.selected.highest_modseq,
            uids: snap.uids,
            changed: snap.changed.into_iter().map(summary).collect(),
        })
    }

    async fn uids(&mut self, folder: &str) -> Result<Vec<u32>> {
        self.store.search_uids(&self.principal, folder, &Criteria::Deleted(false)).await
    }

    async fn submit(&mut self, from: &str, recipients: &[String], raw: &[u8]) -> Result<()> {
        let Some((config, tls)) = &self.smtp else {
            return Err(Error::backend(Backend::Smtp, Kind::NotSupported, "no SMTP submission server is configured"));
        };
        smtp::send(config, tls, &self.principal, from, recipients, raw).await
    }

    async fn automatic_reply(&mut self, entry: &DirectoryEntry) -> Result<Option<(String, Option<(i64, i64)>)>> {
        use crate::backend::oof::OofState;
        let Some((config, tls, master, pw, sep)) = &self.sieve else { return Ok(None) };
        let Some(login) = entry.login.clone().or_else(|| entry.mail.split('@').next().map(str::to_string)) else {
            return Ok(None);
        };
        // Read as the colleague through the master user: only the reply text and its schedule are used.
        let as_owner = Principal::service(&format!("{login}{sep}{master}"), pw);
        let settings = crate::backend::oof::get_oof(config, tls, &as_owner).await?;
        let now = crate::ews::groupware::items::now();
        let window = match settings.state {
            OofState::Disabled => return Ok(None),
            OofState::Enabled => None,
            OofState::Scheduled { start, end } if start <= now && now < end => {
                Some((start.timestamp(), end.timestamp()))
            }
            OofState::Scheduled { .. } => return Ok(None),
        };
        // The caller is a colleague (same organisation): the internal reply (MS-OXWSMTGS 2.2.4.x OutOfOffice).
        Ok(Some((crate::backend::oof::reply_text(&settings.internal_reply), window)))
    }

    async fn directory_entries(&mut self) -> Result<Vec<DirectoryEntry>> {
        match &self.directory {
            Some((dir, _)) => dir.global_address_list().await,
            None => Ok(Vec::new()),
        }
    }

    fn has_directory(&self) -> bool {
        self.directory.is_some()
    }

    async fn resolve_names(&mut self, query: &str) -> Result<Vec<DirectoryEntry>> {
        let Some((dir, config)) = &self.directory else {
            return Ok(Vec::new());
        };
        let q = ldap3::ldap_escape(query);
        let a = &config.attributes;
        let filter = format!(
            "(&{}(|({dn}=*{q}*)({given}={q}*)({sn}={q}*)({mail}={q}*)({login}={q})))",
            config.gal_filter,
            dn = a.display_name,
            given = a.given_name,
            sn = a.surname,
            mail = a.mail,
            login = a.login,
        );
        dir.search(&filter, super::ops::directory::MAX_RESOLUTIONS as i32 + 1).await
    }

    async fn find_header(&mut self, folder: &str, name: &str, value: &str) -> Result<Vec<u32>> {
        let c = Criteria::And(vec![Criteria::Deleted(false), Criteria::Header(name.to_string(), value.to_string())]);
        self.store.search_uids(&self.principal, folder, &c).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_prefixes() {
        let s = |t: &str| Value::Str(t.as_bytes().to_vec());
        let ns = |p: &str| Value::List(vec![Value::List(vec![s(p), s("/")])]);
        let data = vec![Value::Atom("NAMESPACE".into()), ns(""), ns("shared/"), ns("Public/")];
        assert_eq!(foreign_namespaces(&data), (vec!["shared/".to_string()], vec!["Public/".to_string()]));
        let data = vec![Value::Atom("NAMESPACE".into()), ns(""), Value::Nil, Value::Nil];
        assert_eq!(foreign_namespaces(&data), (Vec::new(), Vec::new()));
    }
}
