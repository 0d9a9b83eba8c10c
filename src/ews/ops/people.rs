//! The address book: the user's own contacts (vCards of the CardDAV address books) beside the Global Address
//! List (LDAP), for ResolveNames (MS-OXWSRSLNM), ExpandDL of a personal distribution list (MS-OXWSXPDL) and
//! FindPeople (MS-OXWSPERS 3.1.4.1).
//!
//! - [`SearchScope`]: which sources ResolveNames searches, in which order (MS-OXWSRSLNM 2.2.5.1).
//! - [`match_contact`], [`match_group`], [`match_directory`]: when an entry answers a query: the query is a
//!   case-insensitive prefix of a name (display name or one of its words, given name, surname, nickname) or of an
//!   e-mail address. An exact address makes the resolution unique.
//! - [`resolve`]: the resolutions of a query, one source after the other as the scope orders them, each source
//!   sorted by display name. An address both in the directory and in the contacts is returned twice (Exchange
//!   does the same); the scope's first source comes first.
//! - [`load_cards`]: the vCards of the contacts folders a request names (default: the distinguished `contacts`).
//! - [`find_people`]: FindPeople on a contacts folder or on the directory (`DistinguishedFolderId` `directory`),
//!   with `QueryString` and `IndexedPageItemView` paging; [`render_unwrapped`] writes its response, which is
//!   not wrapped in `ResponseMessages` (MS-OXWSPERS 3.1.4.1.2.2 FindPeopleResponse); [`get_persona`] reads one
//!   persona back by its id (MS-OXWSPERS 3.1.4.2), as exchangelib's `folder.people()` does for each.
//!
//! Everything but [`load_cards`], [`expand_private_dl`], [`find_people`] and [`get_persona`] is sans-IO.

use super::{Ctx, Fail, FolderNode, parse_paging};
use crate::backend::dav::client::split_href;
use crate::ews::groupware::codec::{self, Gw};
use crate::ews::groupware::folders::DavKind;
use crate::ews::soap::{self, ResponseClass, ResponseMessage};
use crate::ews::store::MailStore;
use crate::ews::types::BaseShape;
use crate::ews::xml::{Element, NS_M, NS_SOAP, NS_T, XmlWriter};
use crate::ids::{DavItemId, FolderId, FolderRef, IdCodec};
use crate::model::contact::{Contact, ContactGroup, GroupMember};
use crate::model::directory::{DirectoryEntry, EntryKind};

/// The most resolutions one ResolveNames answer carries (as [`super::directory::MAX_RESOLUTIONS`]).
const MAX_RESOLUTIONS: usize = super::directory::MAX_RESOLUTIONS;
/// The most personas one FindPeople page returns.
const MAX_PAGE: usize = 1000;

// ------------------------------------------------------------------------------------------------ scope

/// Where a ResolveNames request looks (MS-OXWSRSLNM 2.2.5.1 ResolveNamesSearchScopeType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    ActiveDirectory,
    ActiveDirectoryContacts,
    Contacts,
    ContactsActiveDirectory,
}

/// One source of resolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Directory,
    Contacts,
}

impl SearchScope {
    /// The `SearchScope` attribute; `ActiveDirectoryContacts` when absent (MS-OXWSRSLNM 3.1.4.1.2.1).
    pub fn parse(attr: Option<&str>) -> Result<SearchScope, Fail> {
        match attr.map(str::trim) {
            None | Some("ActiveDirectoryContacts") => Ok(SearchScope::ActiveDirectoryContacts),
            Some("ActiveDirectory") => Ok(SearchScope::ActiveDirectory),
            Some("Contacts") => Ok(SearchScope::Contacts),
            Some("ContactsActiveDirectory") => Ok(SearchScope::ContactsActiveDirectory),
            Some(other) => Err(Fail::new(
                "ErrorInvalidRequest",
                format!(
                    "SearchScope '{}' is not a ResolveNamesSearchScopeType value.",
                    other.chars().take(64).collect::<String>()
                ),
            )),
        }
    }

    /// The sources, in the order their resolutions are returned.
    pub fn sources(self) -> &'static [Source] {
        match self {
            SearchScope::ActiveDirectory => &[Source::Directory],
            SearchScope::ActiveDirectoryContacts => &[Source::Directory, Source::Contacts],
            SearchScope::Contacts => &[Source::Contacts],
            SearchScope::ContactsActiveDirectory => &[Source::Contacts, Source::Directory],
        }
    }

    pub fn includes(self, s: Source) -> bool {
        self.sources().contains(&s)
    }
}

// ------------------------------------------------------------------------------------------------ matching

/// Whether the lower-cased query `q` begins `text` or one of its words.
fn name_prefix(text: &str, q: &str) -> bool {
    let t = text.to_lowercase();
    t.starts_with(q) || t.split_whitespace().skip(1).any(|w| w.starts_with(q))
}

fn opt_prefix(text: Option<&str>, q: &str) -> bool {
    text.is_some_and(|t| name_prefix(t, q))
}

/// How a contact answers a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactHit {
    /// The address it resolves to: the one the query matched, else its first (EmailAddress1).
    pub address: String,
    /// The query is that address exactly.
    pub exact: bool,
}

/// Whether a contact answers `query` (already stripped of `SMTP:`): a case-insensitive prefix of its display
/// name, given name, surname, nickname or one of its addresses. A contact without an address resolves to
/// nothing (a resolution is an address), so it never matches.
pub fn match_contact(query: &str, c: &Contact) -> Option<ContactHit> {
    let q = query.trim().to_lowercase();
    let first = c.emails.iter().map(|e| e.address.trim()).find(|a| !a.is_empty())?;
    if q.is_empty() {
        return Some(ContactHit { address: first.to_string(), exact: false });
    }
    if let Some(e) = c.emails.iter().find(|e| e.address.trim().eq_ignore_ascii_case(&q)) {
        return Some(ContactHit { address: e.address.trim().to_string(), exact: true });
    }
    if let Some(e) = c.emails.iter().find(|e| e.address.trim().to_lowercase().starts_with(&q)) {
        return Some(ContactHit { address: e.address.trim().to_string(), exact: false });
    }
    name_matches(&q, c).then(|| ContactHit { address: first.to_string(), exact: false })
}

/// Whether the lower-cased query begins one of a contact's names.
fn name_matches(q: &str, c: &Contact) -> bool {
    name_prefix(&c.display_name, q)
        || opt_prefix(c.given_name.as_deref(), q)
        || opt_prefix(c.surname.as_deref(), q)
        || opt_prefix(c.nickname.as_deref(), q)
}

/// Whether a contact answers a FindPeople query: as [`match_contact`], but a contact without an address is a
/// person too.
pub fn contact_answers(query: &str, c: &Contact) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty() || name_matches(&q, c) || c.emails.iter().any(|e| e.address.trim().to_lowercase().starts_with(&q))
}

/// Whether a contact group answers `query`: by its name (a group has no address of its own).
pub fn match_group(query: &str, g: &ContactGroup) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty() || name_prefix(&g.display_name, &q)
}

/// Whether a directory entry answers `query` (FindPeople on the directory): a prefix of its display name or one
/// of its words, given name, surname, address or login.
pub fn match_directory(query: &str, e: &DirectoryEntry) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty()
        || name_prefix(&e.display_name, &q)
        || opt_prefix(e.given_name.as_deref(), &q)
        || opt_prefix(e.surname.as_deref(), &q)
        || e.mail.to_lowercase().starts_with(&q)
        || e.login.as_deref().is_some_and(|l| l.to_lowercase().starts_with(&q))
}

// ------------------------------------------------------------------------------------------------ cards

/// One vCard of the user's address books: a contact or a contact group.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The address book's path, with its trailing slash.
    pub collection: String,
    pub resource: String,
    pub etag: String,
    pub item: Gw,
}

impl Card {
    pub fn display_name(&self) -> &str {
        match &self.item {
            Gw::Contact(c) => &c.display_name,
            Gw::Group(g) => &g.display_name,
            _ => "",
        }
    }

    /// The card's EWS item id (the DAV item id of groupware/items.rs).
    pub fn item_id(&self, ids: &IdCodec, mailbox: &str) -> String {
        ids.dav_item_id(&DavItemId {
            mailbox: mailbox.to_string(),
            collection: self.collection.clone(),
            resource: self.resource.clone(),
            occurrence: None,
        })
    }

    /// The item id and change key, and the parent folder's, for rendering the card as an item.
    pub fn render_ids(&self, ids: &IdCodec, mailbox: &str) -> crate::ews::groupware::contact_xml::RenderIds {
        crate::ews::groupware::contact_xml::RenderIds {
            item_id: self.item_id(ids, mailbox),
            change_key: ids.dav_change_key(&self.etag),
            parent_folder_id: ids
                .folder_id(&FolderId { mailbox: mailbox.to_string(), folder: FolderRef::Dav(self.collection.clone()) }),
            parent_change_key: ids.dav_change_key(""),
            photo_attachment_id: None,
        }
    }
}

/// The address books a request names among the user's DAV folders: each `t:FolderId` of a contacts folder and
/// the distinguished `contacts`; no element at all means the distinguished `contacts` (MS-OXWSRSLNM 3.1.4.1.2.1
/// ParentFolderIds). A mailbox without a contacts collection has nothing to search.
pub fn select_collections(
    nodes: &[FolderNode],
    ids: &IdCodec,
    mailbox: &str,
    parents: &[Element],
) -> Result<Vec<String>, Fail> {
    let default = || {
        nodes.iter().find(|n| n.distinguished == Some("contacts")).and_then(|n| n.dav.as_ref()).map(|d| d.href.clone())
    };
    if parents.is_empty() {
        return Ok(default().into_iter().collect());
    }
    let mut out: Vec<String> = Vec::new();
    for el in parents {
        let href = match el.name.as_str() {
            "FolderId" => {
                let fid = ids.parse_folder_id(el.attr("Id").unwrap_or("")).map_err(Fail::id)?;
                if !fid.mailbox.eq_ignore_ascii_case(mailbox) {
                    return Err(Fail::new("ErrorAccessDenied", "Access to another user's contacts is not granted."));
                }
                let node = nodes.iter().find(|n| n.r == fid.folder);
                match node.and_then(|n| n.dav.as_ref()) {
                    Some(d) if d.kind == DavKind::Contacts => Some(d.href.clone()),
                    Some(_) => {
                        return Err(Fail::new(
                            "ErrorInvalidRequest",
                            "Only contacts folders can be searched for people.",
                        ));
                    }
                    None if node.is_some() => {
                        return Err(Fail::new(
                            "ErrorInvalidRequest",
                            "Only contacts folders can be searched for people.",
                        ));
                    }
                    None => {
                        return Err(Fail::new(
                            "ErrorFolderNotFound",
                            "The specified folder could not be found in the store.",
                        ));
                    }
                }
            }
            "DistinguishedFolderId" => {
                if let Some(addr) = el.t("Mailbox").and_then(|m| m.t_text("EmailAddress"))
                    && !addr.trim().is_empty()
                    && !addr.trim().eq_ignore_ascii_case(mailbox)
                {
                    return Err(Fail::new("ErrorAccessDenied", "Access to another user's contacts is not granted."));
                }
                match el.attr("Id") {
                    Some("contacts") => default(),
                    _ => {
                        return Err(Fail::new(
                            "ErrorInvalidRequest",
                            "Only contacts folders can be searched for people.",
                        ));
                    }
                }
            }
            other => {
                return Err(Fail::new("ErrorInvalidRequest", format!("'{other}' is not a folder id.")));
            }
        };
        if let Some(h) = href
            && !out.contains(&h)
        {
            out.push(h);
        }
    }
    Ok(out)
}

/// Whether a failure is the request's fault (a bad or foreign folder id) rather than the DAV server's.
pub fn is_request_error(f: &Fail) -> bool {
    matches!(f.code, "ErrorInvalidIdMalformed" | "ErrorInvalidRequest" | "ErrorAccessDenied" | "ErrorFolderNotFound")
}

/// The contacts and groups of the address books `parents` names (see [`select_collections`]). Without a DAV
/// server, or for another user's mailbox, there are none.
pub async fn load_cards<S: MailStore>(cx: &Ctx<S>, parents: &[Element]) -> Result<Vec<Card>, Fail> {
    let Some(g) = cx.groupware.clone() else { return Ok(Vec::new()) };
    if cx.delegate.is_some() {
        return Ok(Vec::new());
    }
    let nodes = g.folder_nodes().await.map_err(|e| Fail::from_error(&e, "ErrorMailboxStoreUnavailable"))?;
    let hrefs = select_collections(&nodes, &cx.ids, &cx.mailbox, parents)?;
    let mut out = Vec::new();
    for href in hrefs {
        let objs = g
            .client
            .addressbook_query(&g.principal, &href)
            .await
            .map_err(|e| Fail::from_error(&e, "ErrorMailboxStoreUnavailable"))?;
        for o in objs {
            let (collection, resource) = split_href(&o.href);
            match codec::parse_object(&o.data) {
                Ok(item @ (Gw::Contact(_) | Gw::Group(_))) => {
                    out.push(Card { collection, resource, etag: o.etag.unwrap_or_default(), item })
                }
                Ok(_) => {}
                // One unreadable card must not hide the others.
                Err(e) => tracing::warn!(href = %o.href, error = %e, "vCard skipped"),
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------ ResolveNames

/// One resolution of ResolveNames (MS-OXWSRSLNM 2.2.4.2 ResolutionType).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution<'a> {
    /// A directory entry: MailboxType `Mailbox` or `PublicDL`.
    Directory(Box<DirectoryEntry>),
    /// A contact of the store: MailboxType `Contact`.
    Contact { card: &'a Card, contact: &'a Contact, address: String },
    /// A contact group: MailboxType `PrivateDL`.
    Group { card: &'a Card, group: &'a ContactGroup },
}

impl Resolution<'_> {
    pub fn display_name(&self) -> &str {
        match self {
            Resolution::Directory(e) => &e.display_name,
            Resolution::Contact { contact, .. } => &contact.display_name,
            Resolution::Group { group, .. } => &group.display_name,
        }
    }
}

/// The resolutions of `query` (without `SMTP:`): `directory` (what the directory search found) and the matching
/// cards, each source sorted by display name, in the scope's order. When the query is exactly an address,
/// only the entries with that address are kept (unique resolution: MS-OXWSRSLNM 3.1.4.1); groups, which have no
/// address, then drop out. At most 100 in all.
pub fn resolve<'a>(
    scope: SearchScope,
    query: &str,
    directory: Vec<DirectoryEntry>,
    cards: &'a [Card],
) -> Vec<Resolution<'a>> {
    let mut dir = if scope.includes(Source::Directory) { directory } else { Vec::new() };
    let mut contacts: Vec<(Resolution<'a>, bool)> = Vec::new();
    if scope.includes(Source::Contacts) {
        for card in cards {
            match &card.item {
                Gw::Contact(c) => {
                    if let Some(hit) = match_contact(query, c) {
                        contacts.push((Resolution::Contact { card, contact: c, address: hit.address }, hit.exact));
                    }
                }
                Gw::Group(g) if match_group(query, g) => contacts.push((Resolution::Group { card, group: g }, false)),
                _ => {}
            }
        }
    }
    let q = query.trim();
    let exact_dir = dir.iter().position(|e| e.mail.eq_ignore_ascii_case(q));
    let exact_contact = contacts.iter().any(|(_, exact)| *exact);
    if exact_dir.is_some() || exact_contact {
        dir = match exact_dir {
            Some(i) => vec![dir.swap_remove(i)],
            None => Vec::new(),
        };
        contacts.retain(|(_, exact)| *exact);
    }
    dir.sort_by_key(|e| e.display_name.to_lowercase());
    let mut contacts: Vec<Resolution<'a>> = contacts.into_iter().map(|(r, _)| r).collect();
    contacts.sort_by_key(|r| r.display_name().to_lowercase());
    let mut dir: Vec<Resolution<'a>> = dir.into_iter().map(|e| Resolution::Directory(Box::new(e))).collect();
    let mut out = Vec::new();
    for s in scope.sources() {
        match s {
            Source::Directory => out.append(&mut dir),
            Source::Contacts => out.append(&mut contacts),
        }
    }
    out.truncate(MAX_RESOLUTIONS);
    out
}

// ------------------------------------------------------------------------------------------------ ExpandDL

/// The members of a contact group as ExpandDL shows them (MS-OXWSXPDL 3.1.4.1.2.2: one `t:Mailbox` each):
/// contacts of the address book (found by vCard UID among `cards`) as MailboxType `Contact` with their item
/// id, one-off addresses as `OneOff`. A member whose contact is gone is left out.
pub fn write_group_members(
    w: &mut XmlWriter,
    group: &ContactGroup,
    cards: &[Card],
    ids: &IdCodec,
    mailbox: &str,
) -> usize {
    let mut n = 0;
    for m in &group.members {
        match m {
            GroupMember::Contact(uid) => {
                let found = cards.iter().find_map(|card| match &card.item {
                    Gw::Contact(c) if c.uid == *uid || c.uid.strip_prefix("urn:uuid:") == Some(uid.as_str()) => {
                        Some((card, c))
                    }
                    _ => None,
                });
                let Some((card, c)) = found else { continue };
                w.start("t:Mailbox", &[]);
                w.leaf("t:Name", &c.display_name);
                if let Some(e) = c.emails.first() {
                    w.leaf("t:EmailAddress", &e.address);
                    w.leaf("t:RoutingType", "SMTP");
                }
                w.leaf("t:MailboxType", "Contact");
                w.empty(
                    "t:ItemId",
                    &[("Id", &card.item_id(ids, mailbox)), ("ChangeKey", &ids.dav_change_key(&card.etag))],
                );
                w.end();
            }
            GroupMember::Email { address, name } => {
                w.start("t:Mailbox", &[]);
                w.leaf("t:Name", name.as_deref().unwrap_or(address));
                w.leaf("t:EmailAddress", address);
                w.leaf("t:RoutingType", "SMTP");
                w.leaf("t:MailboxType", "OneOff");
                w.end();
            }
        }
        n += 1;
    }
    n
}

/// ExpandDL of a personal distribution list named by its item id (a contact group on the CardDAV server).
pub async fn expand_private_dl<S: MailStore>(cx: &Ctx<S>, item_id: &str) -> ResponseMessage {
    let r = async {
        let id = cx.ids.parse_dav_item_id(item_id).map_err(Fail::id)?;
        cx.check_mailbox(&id.mailbox)?;
        let g = cx
            .groupware
            .clone()
            .ok_or_else(|| Fail::new("ErrorInvalidOperation", "No CalDAV/CardDAV server is configured."))?;
        let href = format!("{}{}", id.collection, id.resource);
        let obj = g.client.get(&g.principal, &href).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
        let obj =
            obj.ok_or_else(|| Fail::new("ErrorItemNotFound", "The specified object was not found in the store."))?;
        let Ok(Gw::Group(group)) = codec::parse_object(&obj.data) else {
            return Err(Fail::new("ErrorNameResolutionNoResults", "The item is not a distribution list."));
        };
        // Contact members are named by vCard UID: read the address book they live in.
        let cards = if group.members.iter().any(|m| matches!(m, GroupMember::Contact(_))) {
            let objs = g
                .client
                .addressbook_query(&g.principal, &id.collection)
                .await
                .map_err(|e| Fail::from_error(&e, "ErrorMailboxStoreUnavailable"))?;
            objs.into_iter()
                .filter_map(|o| {
                    let (collection, resource) = split_href(&o.href);
                    let item = codec::parse_object(&o.data).ok()?;
                    Some(Card { collection, resource, etag: o.etag.unwrap_or_default(), item })
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut body = XmlWriter::new();
        let n = write_group_members(&mut body, &group, &cards, &cx.ids, &cx.mailbox);
        let mut w = XmlWriter::new();
        let n = n.to_string();
        w.start("m:DLExpansion", &[("TotalItemsInView", &n), ("IncludesLastItemInRange", "true")]);
        w.raw_text(&body.finish());
        w.end();
        Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
    }
    .await;
    r.unwrap_or_else(|f| f.message())
}

// ------------------------------------------------------------------------------------------------ FindPeople

/// One persona of a FindPeople answer (MS-OXWSPERS 2.2.4.19 PersonaType), with what Viaduc knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Persona {
    pub id: String,
    /// `Person` or `DistributionList`.
    pub kind: &'static str,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub nickname: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub company: Option<String>,
    pub location: Option<String>,
    /// (display name, address) of every address, the primary first.
    pub emails: Vec<(String, String)>,
    /// (number, PersonaPhoneNumberType value) of the first phone number.
    pub phone: Option<(String, &'static str)>,
}

impl Persona {
    /// A directory entry (its id from the address: see [`IdCodec::gal_persona_id`]).
    pub fn of_directory(e: &DirectoryEntry, ids: &IdCodec, mailbox: &str) -> Persona {
        Persona {
            id: ids.gal_persona_id(mailbox, &e.mail),
            kind: if e.kind == EntryKind::DistributionList { "DistributionList" } else { "Person" },
            display_name: e.display_name.clone(),
            given_name: e.given_name.clone(),
            surname: e.surname.clone(),
            nickname: None,
            title: e.title.clone(),
            department: e.department.clone(),
            company: None,
            location: e.office.clone(),
            emails: vec![(e.display_name.clone(), e.mail.clone())],
            phone: e.phone.clone().map(|p| (p, "Business")).or_else(|| e.mobile.clone().map(|p| (p, "Mobile"))),
        }
    }

    /// A card of the address book (its id is the card's item id).
    pub fn of_card(card: &Card, ids: &IdCodec, mailbox: &str) -> Option<Persona> {
        let id = card.item_id(ids, mailbox);
        match &card.item {
            Gw::Contact(c) => {
                use crate::model::contact::PhoneKind;
                let phone = c.phones.first().map(|p| {
                    let kind = match p.kind {
                        PhoneKind::Business | PhoneKind::Business2 => "Business",
                        PhoneKind::Home | PhoneKind::Home2 => "Home",
                        PhoneKind::Mobile => "Mobile",
                        _ => "Other",
                    };
                    (p.number.clone(), kind)
                });
                Some(Persona {
                    id,
                    kind: "Person",
                    display_name: c.display_name.clone(),
                    given_name: c.given_name.clone(),
                    surname: c.surname.clone(),
                    nickname: c.nickname.clone(),
                    title: c.job_title.clone(),
                    department: c.department.clone(),
                    company: c.company.clone(),
                    location: None,
                    emails: c
                        .emails
                        .iter()
                        .map(|e| (e.display_name.clone().unwrap_or_else(|| c.display_name.clone()), e.address.clone()))
                        .collect(),
                    phone,
                })
            }
            Gw::Group(g) => Some(Persona {
                id,
                kind: "DistributionList",
                display_name: g.display_name.clone(),
                ..Persona::default()
            }),
            _ => None,
        }
    }
}

fn write_email(w: &mut XmlWriter, el: &str, name: &str, address: &str) {
    w.start(el, &[]);
    w.leaf("t:Name", name);
    w.leaf("t:EmailAddress", address);
    w.leaf("t:RoutingType", "SMTP");
    w.end();
}

/// Writes one `t:Persona` in PersonaType's element order (MS-OXWSPERS 2.2.4.19): PersonaId, PersonaType,
/// DisplayName, DisplayNameFirstLast, DisplayNameLastFirst, FileAs, GivenName, Surname, Nickname, Title,
/// Department, CompanyName, Location, EmailAddress, EmailAddresses, PhoneNumber. `IdOnly` writes the id alone.
pub fn write_persona(w: &mut XmlWriter, p: &Persona, base: BaseShape) {
    write_persona_as(w, "t:Persona", p, base);
}

/// [`write_persona`] under another element name (GetPersona's `m:Persona`).
fn write_persona_as(w: &mut XmlWriter, element: &str, p: &Persona, base: BaseShape) {
    w.start(element, &[]);
    w.empty("t:PersonaId", &[("Id", &p.id)]);
    if base != BaseShape::IdOnly {
        w.leaf("t:PersonaType", p.kind);
        w.leaf("t:DisplayName", &p.display_name);
        let first_last = match (&p.given_name, &p.surname) {
            (Some(g), Some(s)) => format!("{g} {s}"),
            _ => p.display_name.clone(),
        };
        let last_first = match (&p.given_name, &p.surname) {
            (Some(g), Some(s)) => format!("{s}, {g}"),
            _ => p.display_name.clone(),
        };
        w.leaf("t:DisplayNameFirstLast", &first_last);
        w.leaf("t:DisplayNameLastFirst", &last_first);
        w.leaf("t:FileAs", &p.display_name);
        for (name, v) in [("t:GivenName", &p.given_name), ("t:Surname", &p.surname), ("t:Nickname", &p.nickname)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                w.leaf(name, v);
            }
        }
        for (name, v) in [
            ("t:Title", &p.title),
            ("t:Department", &p.department),
            ("t:CompanyName", &p.company),
            ("t:Location", &p.location),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                w.leaf(name, v);
            }
        }
        if let Some((name, addr)) = p.emails.first() {
            write_email(w, "t:EmailAddress", name, addr);
            w.start("t:EmailAddresses", &[]);
            for (name, addr) in &p.emails {
                write_email(w, "t:Address", name, addr);
            }
            w.end();
        }
        if let Some((number, kind)) = &p.phone {
            w.start("t:PhoneNumber", &[]);
            w.leaf("t:Number", number);
            w.leaf("t:Type", kind);
            w.end();
        }
    }
    w.end();
}

/// The content of a FindPeople answer (MS-OXWSPERS 3.1.4.1.3.3 FindPeopleResponseMessageType): `People`,
/// `TotalNumberOfPeopleInView` (every match), `FirstMatchingRowIndex` (0: the view holds matches only) and
/// `FirstLoadedRowIndex` (where this page starts). `people` is the whole sorted view; the page is cut here.
pub fn write_people(people: &[Persona], base: BaseShape, max: Option<u32>, offset: u32, from_end: bool) -> String {
    let total = people.len();
    let max = (max.unwrap_or(MAX_PAGE as u32) as usize).min(MAX_PAGE);
    let offset = (offset as usize).min(total);
    let (start, end) = if from_end {
        let end = total - offset;
        (end.saturating_sub(max), end)
    } else {
        (offset, (offset + max).min(total))
    };
    let mut w = XmlWriter::new();
    w.start("m:People", &[]);
    for p in &people[start..end] {
        write_persona(&mut w, p, base);
    }
    w.end();
    w.leaf("m:TotalNumberOfPeopleInView", &total.to_string());
    w.leaf("m:FirstMatchingRowIndex", "0");
    w.leaf("m:FirstLoadedRowIndex", &start.to_string());
    w.finish()
}

/// The `BaseShape` of a `PersonaShape` (anything but `IdOnly` is served as `Default`).
fn persona_base(op: &Element) -> BaseShape {
    match op.m("PersonaShape").and_then(|s| s.t_text("BaseShape")).map(str::trim) {
        Some("IdOnly") => BaseShape::IdOnly,
        _ => BaseShape::Default,
    }
}

/// FindPeople (MS-OXWSPERS 3.1.4.1): the people of one contacts folder, or of the Global Address List for the
/// distinguished folder `directory`, whose names or addresses begin with `QueryString` (all without one),
/// sorted by display name and paged by `IndexedPageItemView`. `Restriction`, `AggregationRestriction` and
/// `SortOrder` are not applied.
pub async fn find_people<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let base = persona_base(op);
        let (max, offset, from_end) = parse_paging(op.m("IndexedPageItemView"))?;
        let query = op.m("QueryString").map(|q| q.trimmed().to_string()).unwrap_or_default();
        let query = super::directory::query_text(&query).to_string();
        let parent = op.m("ParentFolderId").and_then(|p| p.children.first()).cloned();
        let directory =
            parent.as_ref().is_some_and(|p| p.name == "DistinguishedFolderId" && p.attr("Id") == Some("directory"));
        let mut people: Vec<Persona> = if directory {
            let gal =
                cx.store.directory_entries().await.map_err(|e| Fail::from_error(&e, "ErrorMailboxStoreUnavailable"))?;
            gal.iter()
                .filter(|e| match_directory(&query, e))
                .map(|e| Persona::of_directory(e, &cx.ids, &cx.mailbox))
                .collect()
        } else {
            if cx.groupware.is_none() {
                return Err(Fail::new("ErrorInvalidOperation", "No CardDAV server is configured."));
            }
            let parents: Vec<Element> = parent.into_iter().collect();
            let cards = load_cards(cx, &parents).await?;
            cards
                .iter()
                .filter(|c| match &c.item {
                    Gw::Contact(ct) => contact_answers(&query, ct),
                    Gw::Group(g) => match_group(&query, g),
                    _ => false,
                })
                .filter_map(|c| Persona::of_card(c, &cx.ids, &cx.mailbox))
                .collect()
        };
        people.sort_by_key(|a| a.display_name.to_lowercase());
        Ok::<_, Fail>(ResponseMessage::ok(write_people(&people, base, max, offset, from_end)))
    }
    .await;
    vec![r.unwrap_or_else(|f| f.message())]
}

/// GetPersona (MS-OXWSPERS 3.1.4.2): one persona by the `PersonaId` FindPeople gave: a card of the user's
/// address books (its item id) or a directory entry ([`IdCodec::gal_persona_id`]).
pub async fn get_persona<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let r = async {
        let id = op
            .m("PersonaId")
            .and_then(|p| p.attr("Id"))
            .ok_or_else(|| Fail::new("ErrorInvalidRequest", "PersonaId is required."))?;
        let persona = if let Ok(dav) = cx.ids.parse_dav_item_id(id) {
            cx.check_mailbox(&dav.mailbox)?;
            let g = cx
                .groupware
                .clone()
                .ok_or_else(|| Fail::new("ErrorInvalidOperation", "No CardDAV server is configured."))?;
            let href = format!("{}{}", dav.collection, dav.resource);
            let obj = g.client.get(&g.principal, &href).await.map_err(|e| Fail::from_error(&e, "ErrorItemNotFound"))?;
            let obj = obj.ok_or_else(|| Fail::new("ErrorItemNotFound", "The persona was not found."))?;
            let item = codec::parse_object(&obj.data).map_err(|e| Fail::new("ErrorCorruptData", e))?;
            let card =
                Card { collection: dav.collection, resource: dav.resource, etag: obj.etag.unwrap_or_default(), item };
            Persona::of_card(&card, &cx.ids, &cx.mailbox)
                .ok_or_else(|| Fail::new("ErrorItemNotFound", "The item is not a contact."))?
        } else {
            let (mailbox, address) = cx.ids.parse_gal_persona_id(id).map_err(Fail::id)?;
            cx.check_mailbox(&mailbox)?;
            let gal =
                cx.store.directory_entries().await.map_err(|e| Fail::from_error(&e, "ErrorMailboxStoreUnavailable"))?;
            let e = gal
                .iter()
                .find(|e| e.mail.eq_ignore_ascii_case(&address))
                .ok_or_else(|| Fail::new("ErrorItemNotFound", "The persona was not found."))?;
            Persona::of_directory(e, &cx.ids, &cx.mailbox)
        };
        let mut w = XmlWriter::new();
        write_persona_as(&mut w, "m:Persona", &persona, BaseShape::Default);
        Ok::<_, Fail>(ResponseMessage::ok(w.finish()))
    }
    .await;
    vec![r.unwrap_or_else(|f| f.message())]
}

/// The response document of FindPeople or GetPersona, whose message is not wrapped in `ResponseMessages`:
/// `m:FindPeopleResponse` is itself a response message (MS-OXWSPERS 3.1.4.1.2.2), and GetPersona answers with a
/// bare `m:GetPersonaResponseMessage` (3.1.4.2.2.2). ResponseMessageType order: MessageText, ResponseCode,
/// DescriptiveLinkKey, then the content.
pub fn render_unwrapped(version: &str, op: &str, messages: &[ResponseMessage]) -> String {
    let element = if op == "GetPersona" { "m:GetPersonaResponseMessage" } else { "m:FindPeopleResponse" };
    let fallback = ResponseMessage::error("ErrorInternalServerError", "No response.");
    let m = messages.first().unwrap_or(&fallback);
    let class = match m.class {
        ResponseClass::Success => "Success",
        ResponseClass::Warning => "Warning",
        ResponseClass::Error => "Error",
    };
    let mut w = XmlWriter::with_decl();
    w.start("s:Envelope", &[("xmlns:s", NS_SOAP)]);
    w.start("s:Header", &[]);
    soap::write_server_version_info(&mut w, version);
    w.end();
    w.start(
        "s:Body",
        &[
            ("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"),
            ("xmlns:xsd", "http://www.w3.org/2001/XMLSchema"),
        ],
    );
    w.start(element, &[("ResponseClass", class), ("xmlns:m", NS_M), ("xmlns:t", NS_T)]);
    if let Some(t) = &m.text {
        w.leaf("m:MessageText", t);
    }
    w.leaf("m:ResponseCode", m.code);
    if m.class != ResponseClass::Success {
        w.leaf("m:DescriptiveLinkKey", "0");
    }
    w.raw_text(&m.content);
    w.finish()
}

#[cfg(test)]
mod tests;
