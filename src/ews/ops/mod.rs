//! EWS operations: each parses its request element, executes against a [`MailStore`], and renders its
//! response messages. Everything here is generic over the store, so it runs against the in-memory store in
//! unit tests and against IMAP in production.

pub mod convert_id;
pub mod create;
pub mod directory;
pub mod drafts;
pub mod folders;
pub mod items;
pub mod misc;
pub mod notify;
pub mod people;
pub mod sync;

use super::soap::ResponseMessage;
use super::store::{FolderInfo, MailStore, Special};
use super::xml::{Element, XmlWriter};
use crate::error::Result;
use crate::ids::{FolderId, FolderRef, IdCodec, IdError};

/// Everything an operation may use.
pub struct Ctx<S> {
    pub ids: IdCodec,
    /// The caller's primary SMTP address (lower-case): the mailbox ids must belong to.
    pub mailbox: String,
    pub display_name: String,
    /// The request's `RequestServerVersion` (or the default).
    pub version: String,
    pub store: S,
    /// The folder tree, shared with other requests while the store's cached listing is fresh.
    folders: Option<std::sync::Arc<Vec<FolderNode>>>,
    /// Set when the request addresses another user's mailbox (delegate access): its address.
    pub delegate: Option<String>,
    /// Whether the folder tree may come from the store's short-lived cache (item operations, which only
    /// resolve ids through it); folder operations, which show counts, always list afresh.
    pub cached_tree: bool,
    /// The mail domains this gateway serves (`[mail] domains`).
    pub domains: Vec<String>,
    /// The CalDAV/CardDAV side, when configured (see [`crate::ews::groupware`]).
    pub groupware: Option<crate::ews::groupware::Groupware>,
    /// Whether the folder tree includes the DAV collections: set for requests that name groupware folders or
    /// items and for the folder-hierarchy operations; mail-only requests skip the DAV round trip.
    pub include_dav: bool,
    /// The request's `TimeZoneContext` (a Windows time zone id), if any.
    pub time_zone: Option<String>,
    /// Attachment contents GetAttachment left as markers in its response messages, to be streamed into the
    /// response body from the store ([`crate::ews::attachment_stream`]).
    pub deferred: Vec<crate::ews::attachment_stream::Deferred>,
}

impl<S: MailStore> Ctx<S> {
    pub fn new(ids: IdCodec, mailbox: &str, display_name: &str, version: &str, store: S) -> Ctx<S> {
        Ctx {
            ids,
            mailbox: mailbox.to_lowercase(),
            display_name: display_name.to_string(),
            version: version.to_string(),
            store,
            folders: None,
            delegate: None,
            cached_tree: false,
            domains: Vec::new(),
            groupware: None,
            include_dav: false,
            time_zone: None,
            deferred: Vec::new(),
        }
    }

    /// Makes the request act on `addr`'s mailbox. For another user's mailbox this is delegate access: the
    /// folders are those the IMAP server lets the caller see in its "other users" namespace (the server's ACLs
    /// decide, RFC 4314), ids carry that mailbox's address, and sending as that user is refused.
    pub fn set_target(&mut self, addr: &str) {
        if !addr.eq_ignore_ascii_case(&self.mailbox) {
            self.mailbox = addr.to_lowercase();
            self.delegate = Some(addr.to_lowercase());
            self.folders = None;
        }
    }

    /// The folder tree of the mailbox (listed once per request; [`Ctx::invalidate`] after changes).
    pub async fn tree(&mut self) -> Result<&[FolderNode]> {
        if self.folders.is_none() {
            let nodes = match &self.delegate {
                None => {
                    let mut nodes = if self.cached_tree {
                        self.store.folder_tree_cached().await?
                    } else {
                        std::sync::Arc::new(build_tree(self.store.list_folders().await?))
                    };
                    if self.include_dav
                        && let Some(g) = &self.groupware
                    {
                        // The DAV server being down must not take mail with it: its folders are left out.
                        match g.folder_nodes().await {
                            Ok(dav) => {
                                // The shared mail tree is copied before the DAV folders are added to it.
                                let nodes = std::sync::Arc::make_mut(&mut nodes);
                                if let Some(top) = nodes.iter_mut().find(|n| n.r == FolderRef::MsgFolderRoot) {
                                    top.child_count += dav.len() as u32;
                                }
                                nodes.extend(dav);
                            }
                            Err(e) => tracing::warn!(error = %e, "EWS: DAV collections unavailable"),
                        }
                    }
                    nodes
                }
                Some(owner) => {
                    let local = owner.split('@').next().unwrap_or(owner).to_string();
                    let denied = || {
                        crate::error::Error::client(
                            crate::error::Kind::AccessDenied,
                            format!("no folder of {owner} is shared with this user"),
                        )
                    };
                    match self.store.other_user_folders(&local).await? {
                        Some((prefix, infos)) if !infos.is_empty() => {
                            std::sync::Arc::new(delegate_tree(&prefix, infos))
                        }
                        _ => return Err(denied()),
                    }
                }
            };
            self.folders = Some(nodes);
        }
        Ok(self.folders.as_deref().map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Forgets the cached folder tree.
    pub fn invalidate(&mut self) {
        self.folders = None;
    }

    /// Finds a folder node by reference. A folder missing from a cached tree is looked for again in a fresh
    /// listing (another client may have created it since).
    pub async fn node(&mut self, r: &FolderRef) -> Result<Option<FolderNode>> {
        let found = self.tree().await?.iter().find(|n| &n.r == r).cloned();
        if found.is_none() && self.cached_tree {
            self.cached_tree = false;
            self.invalidate();
            return Ok(self.tree().await?.iter().find(|n| &n.r == r).cloned());
        }
        Ok(found)
    }

    /// Resolves a `t:FolderId` / `t:DistinguishedFolderId` element to a folder node.
    pub async fn resolve_folder(&mut self, el: &Element) -> std::result::Result<FolderNode, Fail> {
        self.load().await?;
        let mut r = self.folder_ref(el);
        // A folder another client created since the cached listing: list afresh before saying it is missing.
        if self.cached_tree
            && (r.is_err()
                || matches!(&r, Ok(x) if self.folders.as_deref().is_some_and(|t| !t.iter().any(|n| &n.r == x))))
        {
            self.cached_tree = false;
            self.invalidate();
            self.load().await?;
            r = self.folder_ref(el);
        }
        if let Err(f) = &r
            && f.code == "ErrorFolderNotFound"
            && self.delegate.is_none()
            && el.name == "DistinguishedFolderId"
            && let Some(kind) = el.attr("Id").and_then(crate::ews::groupware::folders::DavKind::from_distinguished)
            && let Some(g) = self.groupware.clone()
        {
            // Every Exchange mailbox has a calendar, contacts and tasks folder: create the collection on first use.
            g.provision(kind).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            self.include_dav = true;
            self.cached_tree = false;
            self.invalidate();
            self.load().await?;
            r = self.folder_ref(el);
        }
        let r = r?;
        match self.node(&r).await {
            Ok(Some(n)) => Ok(n),
            // Another user's folder that is missing from the list may exist but not be shared: IMAP cannot tell.
            Ok(None) if self.delegate.is_some() => Err(not_shared()),
            Ok(None) => Err(Fail::new("ErrorFolderNotFound", "The specified folder could not be found in the store.")),
            Err(e) => Err(Fail::from_error(&e, "ErrorFolderNotFound")),
        }
    }

    /// The folder reference an id element names (without checking that it exists).
    pub fn folder_ref(&self, el: &Element) -> std::result::Result<FolderRef, Fail> {
        match el.name.as_str() {
            "FolderId" => {
                let id = el.attr("Id").unwrap_or("");
                let fid = self.ids.parse_folder_id(id).map_err(Fail::id)?;
                self.check_mailbox(&fid.mailbox)?;
                Ok(fid.folder)
            }
            "DistinguishedFolderId" => {
                if let Some(addr) = el.t("Mailbox").and_then(|m| m.t_text("EmailAddress"))
                    && !addr.is_empty()
                {
                    self.check_mailbox(addr)?;
                }
                let name = el.attr("Id").unwrap_or("");
                match name {
                    "root" => Ok(FolderRef::Root),
                    "msgfolderroot" => Ok(FolderRef::MsgFolderRoot),
                    _ => {
                        let tree = self.folders.as_deref().map(Vec::as_slice).unwrap_or(&[]);
                        let found = tree.iter().find(|n| n.distinguished == Some(distinguished_static(name)));
                        match found {
                            Some(n) => Ok(n.r.clone()),
                            None if self.delegate.is_some() => Err(not_shared()),
                            None => Err(Fail::new(
                                "ErrorFolderNotFound",
                                format!("The distinguished folder '{name}' does not exist in this mailbox."),
                            )),
                        }
                    }
                }
            }
            _ => Err(Fail::new("ErrorInvalidRequest", format!("'{}' is not a folder id.", el.name))),
        }
    }

    /// Refuses ids and addresses of another mailbox (delegation is not mapped yet).
    pub fn check_mailbox(&self, addr: &str) -> std::result::Result<(), Fail> {
        if addr.eq_ignore_ascii_case(&self.mailbox) {
            Ok(())
        } else {
            Err(Fail::new("ErrorAccessDenied", "Access to another user's mailbox is not granted."))
        }
    }

    /// The text of a folder id for a node.
    pub fn folder_id_text(&self, r: &FolderRef) -> String {
        self.ids.folder_id(&FolderId { mailbox: self.mailbox.clone(), folder: r.clone() })
    }

    /// Makes sure the tree is loaded (distinguished ids are resolved from it).
    pub async fn load(&mut self) -> std::result::Result<(), Fail> {
        self.tree().await.map(|_| ()).map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))
    }
}

fn not_shared() -> Fail {
    Fail::new("ErrorAccessDenied", "The folder does not exist or is not shared with this user.")
}

fn distinguished_static(name: &str) -> &'static str {
    DISTINGUISHED
        .iter()
        .map(|(n, _)| *n)
        .chain(crate::ews::groupware::DAV_DISTINGUISHED.iter().copied())
        .find(|n| *n == name)
        .unwrap_or("")
}

/// Distinguished folder ids backed by IMAP special-use folders (RFC 6154), and the names used when the server
/// marks none.
const DISTINGUISHED: &[(&str, Special)] = &[
    ("inbox", Special::Inbox),
    ("drafts", Special::Drafts),
    ("sentitems", Special::Sent),
    ("deleteditems", Special::Trash),
    ("junkemail", Special::Junk),
    ("archive", Special::Archive),
];

/// A per-item failure, rendered as an error response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub code: &'static str,
    pub text: String,
}

impl Fail {
    pub fn new(code: &'static str, text: impl Into<String>) -> Fail {
        Fail { code, text: text.into() }
    }
    pub fn id(_: IdError) -> Fail {
        Fail::new("ErrorInvalidIdMalformed", "Id is malformed.")
    }
    pub fn from_error(e: &crate::error::Error, not_found: &'static str) -> Fail {
        tracing::debug!(error = %e, "EWS operation failed");
        Fail::new(super::types::code_for(e, not_found), e.message.clone())
    }
    pub fn message(&self) -> ResponseMessage {
        ResponseMessage::error(self.code, self.text.clone())
    }
}

/// One folder of the tree as EWS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderNode {
    pub r: FolderRef,
    /// IMAP name; `None` for the two virtual roots.
    pub name: Option<String>,
    pub display: String,
    pub parent: Option<FolderRef>,
    pub info: Option<FolderInfo>,
    pub distinguished: Option<&'static str>,
    pub child_count: u32,
    pub delimiter: Option<char>,
    /// Set for a calendar, task list or address book on the DAV server (`name` and `info` are then `None`).
    pub dav: Option<crate::ews::groupware::folders::DavFolder>,
}

impl FolderNode {
    /// One of the two roots above the mail folders.
    pub fn is_virtual(&self) -> bool {
        self.name.is_none() && self.dav.is_none()
    }
}

/// The reference ids use for an IMAP folder: its object id when the server has one, else its name.
pub fn folder_ref_of(info: &FolderInfo) -> FolderRef {
    match &info.guid {
        Some(g) if !g.is_empty() => FolderRef::Object(g.clone()),
        _ => FolderRef::Name(info.name.clone()),
    }
}

/// Builds the EWS folder tree from an IMAP listing: `root` → `msgfolderroot` → top-level mailboxes →
/// their children (by the hierarchy delimiter). Distinguished folders come from SPECIAL-USE, else from
/// common names. Parents come before children (depth-first, siblings by name with INBOX first).
pub fn build_tree(mut infos: Vec<FolderInfo>) -> Vec<FolderNode> {
    infos.sort_by(|a, b| {
        let ka = (!a.name.eq_ignore_ascii_case("INBOX"), a.name.to_lowercase());
        let kb = (!b.name.eq_ignore_ascii_case("INBOX"), b.name.to_lowercase());
        ka.cmp(&kb)
    });
    // Distinguished mapping: special-use first, then names.
    let mut dist: Vec<Option<&'static str>> = vec![None; infos.len()];
    for (id, sp) in DISTINGUISHED {
        let by_use = infos
            .iter()
            .position(|i| i.special == Some(*sp) || (*sp == Special::Inbox && i.name.eq_ignore_ascii_case("INBOX")));
        let pos = by_use.or_else(|| {
            let names: &[&str] = match sp {
                Special::Drafts => &["Drafts"],
                Special::Sent => &["Sent", "Sent Items", "Sent Messages"],
                Special::Trash => &["Trash", "Deleted Items", "Deleted Messages"],
                Special::Junk => &["Junk", "Spam", "Junk Email"],
                Special::Archive => &["Archive"],
                _ => &[],
            };
            infos.iter().position(|i| names.iter().any(|n| i.name.eq_ignore_ascii_case(n)))
        });
        if let Some(p) = pos
            && dist[p].is_none()
        {
            dist[p] = Some(id);
        }
    }
    let names: std::collections::HashMap<String, usize> =
        infos.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
    let parent_of = |f: &FolderInfo| -> Option<usize> {
        let d = f.delimiter?;
        let (p, _) = f.name.rsplit_once(d)?;
        names.get(p).copied()
    };
    let mut nodes = vec![
        FolderNode {
            r: FolderRef::Root,
            name: None,
            display: String::new(),
            parent: None,
            info: None,
            distinguished: Some("root"),
            child_count: 1,
            delimiter: None,
            dav: None,
        },
        FolderNode {
            r: FolderRef::MsgFolderRoot,
            name: None,
            display: "Top of Information Store".into(),
            parent: Some(FolderRef::Root),
            info: None,
            distinguished: Some("msgfolderroot"),
            child_count: 0,
            delimiter: None,
            dav: None,
        },
    ];
    let parents: Vec<Option<usize>> = infos.iter().map(parent_of).collect();
    // Depth-first from the top-level mailboxes.
    fn visit(
        i: usize,
        parent: FolderRef,
        infos: &[FolderInfo],
        parents: &[Option<usize>],
        dist: &[Option<&'static str>],
        out: &mut Vec<FolderNode>,
    ) {
        let f = &infos[i];
        let r = folder_ref_of(f);
        let leaf = match f.delimiter {
            Some(d) => f.name.rsplit(d).next().unwrap_or(&f.name),
            None => &f.name,
        };
        let display = if f.name.eq_ignore_ascii_case("INBOX") { "Inbox".to_string() } else { leaf.to_string() };
        let children: Vec<usize> = (0..infos.len()).filter(|j| parents[*j] == Some(i)).collect();
        out.push(FolderNode {
            r: r.clone(),
            name: Some(f.name.clone()),
            display,
            parent: Some(parent),
            info: Some(f.clone()),
            distinguished: dist[i],
            child_count: children.len() as u32,
            delimiter: f.delimiter,
            dav: None,
        });
        for c in children {
            visit(c, r.clone(), infos, parents, dist, out);
        }
    }
    let tops: Vec<usize> = (0..infos.len()).filter(|i| parents[*i].is_none()).collect();
    nodes[1].child_count = tops.len() as u32;
    for i in tops {
        visit(i, FolderRef::MsgFolderRoot, &infos, &parents, &dist, &mut nodes);
    }
    nodes
}

/// The tree of another user's mailbox seen through the caller's "other users" namespace: `prefix` (e.g.
/// `shared/bob/`) is removed to get the owner's own names (the namespace root `shared/bob` is the owner's
/// INBOX), the tree is built on those, and the IMAP names are put back for the store operations. Name-based
/// folder references stay in the owner's terms, so ids read the same for the owner and for delegates.
pub fn delegate_tree(prefix: &str, infos: Vec<FolderInfo>) -> Vec<FolderNode> {
    let root = prefix.strip_suffix(['/', '.']).unwrap_or(prefix).to_string();
    let mut full: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let local: Vec<FolderInfo> = infos
        .into_iter()
        .filter_map(|mut i| {
            let l = if i.name == root { "INBOX".to_string() } else { i.name.strip_prefix(prefix)?.to_string() };
            if l.is_empty() {
                return None;
            }
            full.insert(l.clone(), i.name.clone());
            i.name = l;
            Some(i)
        })
        .collect();
    let mut nodes = build_tree(local);
    for n in &mut nodes {
        if let Some(l) = &n.name {
            n.name = full.get(l).cloned().or_else(|| Some(l.clone()));
        }
    }
    nodes
}

/// Every mailbox a request names: in `DistinguishedFolderId/Mailbox/EmailAddress` elements and in the folder,
/// item and attachment ids it carries, in document order.
pub fn request_mailboxes(op: &Element, ids: &IdCodec) -> Vec<String> {
    fn walk(el: &Element, ids: &IdCodec, out: &mut Vec<String>) {
        let found = match el.name.as_str() {
            "DistinguishedFolderId" => {
                el.t("Mailbox").and_then(|m| m.t_text("EmailAddress")).filter(|a| !a.is_empty()).map(str::to_lowercase)
            }
            "FolderId" => el.attr("Id").and_then(|i| ids.parse_folder_id(i).ok()).map(|f| f.mailbox),
            "ItemId" | "ParentItemId" => el.attr("Id").and_then(|i| ids.parse_item_id(i).ok()).map(|i| i.mailbox),
            "AttachmentId" => el.attr("Id").and_then(|i| ids.parse_attachment_id(i).ok()).map(|a| a.item.mailbox),
            // Message content (recipients' mailboxes) says nothing about the mailbox acted on.
            "Items" | "Message" | "SourceIds" => return,
            _ => None,
        };
        if let Some(m) = found.filter(|m| !out.contains(m)) {
            out.push(m);
        }
        for c in &el.children {
            walk(c, ids, out);
        }
    }
    let mut out = Vec::new();
    walk(op, ids, &mut out);
    out
}

/// The mailbox a request acts on: the caller's own unless every mailbox it names is another one, then the first
/// of those (one mailbox per request; ids of any other mailbox get ErrorAccessDenied item by item).
pub fn request_target(op: &Element, ids: &IdCodec, me: &str) -> Option<String> {
    let all = request_mailboxes(op, ids);
    if all.iter().any(|m| m.eq_ignore_ascii_case(me)) { None } else { all.into_iter().next() }
}

/// Every descendant of `r` in `tree` (depth-first, parents first), without `r` itself.
pub fn descendants<'a>(tree: &'a [FolderNode], r: &FolderRef) -> Vec<&'a FolderNode> {
    let mut out = Vec::new();
    fn walk<'a>(tree: &'a [FolderNode], r: &FolderRef, out: &mut Vec<&'a FolderNode>) {
        for n in tree.iter().filter(|n| n.parent.as_ref() == Some(r)) {
            out.push(n);
            walk(tree, &n.r, out);
        }
    }
    walk(tree, r, &mut out);
    out
}

/// Writes `<t:FolderId Id=".." ChangeKey=".."/>` (or another element name with the same attributes).
pub fn write_folder_id<S: MailStore>(w: &mut XmlWriter, cx: &Ctx<S>, el: &str, node: &FolderNode) {
    let id = cx.folder_id_text(&node.r);
    let ck = match &node.dav {
        Some(d) => cx.ids.dav_change_key(d.version.as_deref().unwrap_or("")),
        None => cx.ids.change_key(node.info.as_ref().map(|i| i.highest_modseq).unwrap_or(0)),
    };
    w.empty(el, &[("Id", &id), ("ChangeKey", &ck)]);
}

/// Reads an `IndexedPage*View` element: (max entries, offset, from the end).
pub fn parse_paging(el: Option<&Element>) -> std::result::Result<(Option<u32>, u32, bool), Fail> {
    let Some(v) = el else { return Ok((None, 0, false)) };
    let max = match v.attr("MaxEntriesReturned") {
        Some(m) => Some(
            m.trim()
                .parse::<u32>()
                .map_err(|_| Fail::new("ErrorInvalidRequest", "MaxEntriesReturned is not a number."))?,
        ),
        None => None,
    };
    let offset = match v.attr("Offset") {
        Some(o) => o.trim().parse::<u32>().map_err(|_| Fail::new("ErrorInvalidRequest", "Offset is not a number."))?,
        None => 0,
    };
    let from_end = v.attr("BasePoint") == Some("End");
    Ok((max, offset, from_end))
}
