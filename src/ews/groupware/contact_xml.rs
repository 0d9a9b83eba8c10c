//! EWS contacts and contact groups ↔ the internal model, sans-IO.
//!
//! * `t:Contact` is `ContactItemType` (MS-OXWSCONT 2.2.4.3), an extension of `ItemType` (MS-OXWSCORE 2.2.4.24);
//!   it becomes a [`Contact`].
//! * `t:DistributionList` is `DistributionListType` (MS-OXWSDLIST 2.2.4.1) with `MembersListType` /
//!   `MemberType`; it becomes a [`ContactGroup`].
//! * UpdateItem's `t:Updates` (MS-OXWSCORE 2.2.4.x `SetItemFieldType`, `AppendToItemFieldType`,
//!   `DeleteItemFieldType`) are applied to a model value; indexed paths (`IndexedFieldURI`, MS-OXWSCDATA
//!   2.2.4.x `PathToIndexedFieldType`) name one dictionary entry: `contacts:EmailAddress` + `EmailAddress1..3`,
//!   `contacts:PhoneNumber` + a `PhoneNumberKeyType`, `contacts:ImAddress` + `ImAddress1..3`,
//!   `contacts:PhysicalAddress:Street` (City, State, CountryOrRegion, PostalCode) + `Business`/`Home`/`Other`.
//!
//! The model keeps what vCard can carry (see docs/mapping.md). Elements a client may send that the model has no
//! field for are listed by [`ignored_contact_fields`] so that the caller can log them; an update of such a field
//! is refused with an error rather than dropped.
//!
//! Conventions: e-mail and IM slots are kept without gaps (the model is a list), so setting `EmailAddress3` on a
//! contact with one address fills the second slot, and deleting `EmailAddress1` moves the others up. `FileAs` is
//! not stored: it is read as a fallback for the display name and written as the display name. Date-only values
//! (`Birthday`, `WeddingAnniversary`) are written at 11:59 UTC, so that any client converting to a zone between
//! UTC−12 and UTC+12 shows the right day; on input the date of the written wall-clock time rounded to the
//! nearest midnight is taken (so both `T00:00:00Z` from exchangelib and `T22:00:00Z` — local midnight in UTC+2 —
//! from Outlook give the intended day).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, NaiveDate, NaiveDateTime};

use crate::ews::types::Shape;
use crate::ews::xml::{Element, NS_T, XmlWriter};
use crate::model::contact::{
    Address, AddressKind, Contact, ContactGroup, Email, GroupMember, MAX_EMAILS, MAX_IM_ADDRESSES, Phone, PhoneKind,
    Photo, PostalAddress,
};

// ---------------------------------------------------------------------------------------------------------------
// Shared with task_xml.rs
// ---------------------------------------------------------------------------------------------------------------

/// The already-encoded identifiers an item is rendered with (the caller encodes them with `crate::ids`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderIds {
    /// `ItemId/@Id`.
    pub item_id: String,
    /// `ItemId/@ChangeKey`.
    pub change_key: String,
    /// `ParentFolderId/@Id`.
    pub parent_folder_id: String,
    /// `ParentFolderId/@ChangeKey`.
    pub parent_change_key: String,
    /// The AttachmentId of the contact's photo, when it has one (EWS shows a contact photo as a FileAttachment
    /// with IsContactPhoto, MS-OXWSCONT 3.1.4.x).
    pub photo_attachment_id: Option<String>,
}

/// Writes `t:ItemId` (always, as Exchange does for every shape) and `t:ParentFolderId` (MS-OXWSCORE 2.2.4.24).
pub(crate) fn write_ids(w: &mut XmlWriter, ids: &RenderIds, shape: &Shape) {
    w.empty("t:ItemId", &[("Id", &ids.item_id), ("ChangeKey", &ids.change_key)]);
    if shape.wants("item:ParentFolderId", true) {
        w.empty("t:ParentFolderId", &[("Id", &ids.parent_folder_id), ("ChangeKey", &ids.parent_change_key)]);
    }
}

/// The text of an element, trimmed; `None` when empty.
pub(crate) fn text_of(el: &Element) -> Option<String> {
    let t = el.trimmed();
    (!t.is_empty()).then(|| t.to_string())
}

/// A `t:Body` (MS-OXWSCORE 2.2.4.5 BodyType) as plain text: HTML bodies are reduced to their text, since the
/// model keeps notes and descriptions as text (vCard NOTE, iCalendar DESCRIPTION). Empty → `None`.
pub(crate) fn read_body(el: &Element) -> Option<String> {
    let text = if el.attr("BodyType") == Some("HTML") {
        crate::ews::ops::items::html_to_text(&el.text)
    } else {
        el.text.clone()
    };
    let trimmed = text.trim_matches(|c: char| c == '\r' || c == '\n');
    (!trimmed.trim().is_empty()).then(|| trimmed.to_string())
}

/// Writes a text body as `t:Body`, in HTML when the shape asks for HTML (`BodyType`).
pub(crate) fn write_body(w: &mut XmlWriter, text: &str, shape: &Shape) {
    if shape.body_type.as_deref() == Some("HTML") {
        let html = format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><pre>{}</pre></body></html>",
            crate::ews::xml::escape(text)
        );
        w.leaf_with("t:Body", &[("BodyType", "HTML"), ("IsTruncated", "false")], &html);
    } else {
        w.leaf_with("t:Body", &[("BodyType", "Text"), ("IsTruncated", "false")], text);
    }
}

/// `t:Categories` (ArrayOfStringsType): every non-empty `t:String`.
pub(crate) fn read_categories(el: &Element) -> Vec<String> {
    el.children.iter().filter(|s| s.name == "String").filter_map(text_of).collect()
}

/// Writes `t:Categories` when there are any.
pub(crate) fn write_categories(w: &mut XmlWriter, cats: &[String]) {
    if cats.is_empty() {
        return;
    }
    w.start("t:Categories", &[]);
    for c in cats {
        w.leaf("t:String", c);
    }
    w.end();
}

/// Appends categories that are not there yet (AppendToItemField of `item:Categories`).
pub(crate) fn merge_categories(into: &mut Vec<String>, new: Vec<String>) {
    for c in new {
        if !into.contains(&c) {
            into.push(c);
        }
    }
}

/// One change of a `t:Updates` element.
#[derive(Debug)]
pub(crate) struct Change<'a> {
    /// `SetItemField`, `AppendToItemField` or `DeleteItemField`.
    pub kind: ChangeKind,
    /// `FieldURI` of the path (`contacts:GivenName`, `contacts:PhysicalAddress:Street`).
    pub uri: String,
    /// `FieldIndex` of an `IndexedFieldURI`.
    pub index: Option<String>,
    /// The item element carrying the new value (`t:Contact`, `t:Task`, …), for Set and Append.
    pub item: Option<&'a Element>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Set,
    Append,
    Delete,
}

/// Splits `t:Updates` (MS-OXWSCORE 2.2.4.x NonEmptyArrayOfItemChangeDescriptionsType) into its changes.
/// Extended properties (`ExtendedFieldURI`) are refused: the model has no place for them.
pub(crate) fn changes(updates: &Element) -> Result<Vec<Change<'_>>, String> {
    let mut out = Vec::new();
    for u in updates.children.iter().filter(|c| c.ns.as_deref() == Some(NS_T)) {
        let kind = match u.name.as_str() {
            "SetItemField" => ChangeKind::Set,
            "AppendToItemField" => ChangeKind::Append,
            "DeleteItemField" => ChangeKind::Delete,
            other => {
                return Err(format!(
                    "'{other}' is not an item change (SetItemField, AppendToItemField, DeleteItemField)"
                ));
            }
        };
        let mut path = None;
        let mut item = None;
        for c in u.children.iter().filter(|c| c.ns.as_deref() == Some(NS_T)) {
            match c.name.as_str() {
                "FieldURI" | "IndexedFieldURI" => path = Some(c),
                "ExtendedFieldURI" => {
                    return Err(format!("{}: extended properties are not supported on this item", u.name));
                }
                _ => item = Some(c),
            }
        }
        let path = path.ok_or_else(|| format!("{} has no FieldURI or IndexedFieldURI", u.name))?;
        let uri = path.attr("FieldURI").ok_or_else(|| format!("{} path has no FieldURI attribute", u.name))?;
        let index = path.attr("FieldIndex").map(str::to_string);
        if path.name == "IndexedFieldURI" && index.is_none() {
            return Err(format!("IndexedFieldURI '{uri}' has no FieldIndex"));
        }
        if kind != ChangeKind::Delete && item.is_none() {
            return Err(format!("{} of '{uri}' carries no item with the new value", u.name));
        }
        out.push(Change { kind, uri: uri.to_string(), index, item });
    }
    Ok(out)
}

impl Change<'_> {
    /// The element `t:<name>` inside the change's item.
    pub(crate) fn value(&self, name: &str) -> Result<&Element, String> {
        self.item
            .and_then(|i| i.t(name))
            .ok_or_else(|| format!("the change of '{}' carries no {name} element", self.uri))
    }
}

/// Reads a date-only value sent as `xs:date` or `xs:dateTime`: the wall-clock time as written, rounded to the
/// nearest midnight (see the module documentation).
pub(crate) fn parse_date_value(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a date");
    if let Some(dt) = s.get(..19).and_then(|p| NaiveDateTime::parse_from_str(p, "%Y-%m-%dT%H:%M:%S").ok()) {
        return dt.checked_add_signed(Duration::hours(12)).map(|d| d.date()).ok_or_else(bad);
    }
    s.get(..10).and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok()).ok_or_else(bad)
}

/// Writes a date-only value as an `xs:dateTime` at 11:59 UTC.
fn format_date_value(d: NaiveDate) -> String {
    format!("{}T11:59:00Z", d.format("%Y-%m-%d"))
}

// ---------------------------------------------------------------------------------------------------------------
// Contacts: reading
// ---------------------------------------------------------------------------------------------------------------

/// The optional text fields of `ContactItemType` that map one to one onto a model field, by element name
/// (the update path is `contacts:<name>`).
fn text_field<'a>(c: &'a mut Contact, name: &str) -> Option<&'a mut Option<String>> {
    Some(match name {
        "GivenName" => &mut c.given_name,
        "MiddleName" => &mut c.middle_name,
        "Surname" => &mut c.surname,
        "Nickname" => &mut c.nickname,
        "Generation" => &mut c.suffix,
        "CompanyName" => &mut c.company,
        "Department" => &mut c.department,
        "JobTitle" => &mut c.job_title,
        "Manager" => &mut c.manager,
        "AssistantName" => &mut c.assistant_name,
        "Profession" => &mut c.profession,
        "SpouseName" => &mut c.spouse_name,
        "BusinessHomePage" => &mut c.web_page,
        _ => return None,
    })
}

/// Elements of an item that are identity or computed values and never need a model field.
const CONTACT_READ_ONLY: &[&str] = &[
    "MimeContent",
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "DateTimeReceived",
    "Size",
    "DateTimeSent",
    "DateTimeCreated",
    "LastModifiedTime",
    "LastModifiedName",
    "HasAttachments",
    "HasPicture",
    "IsAssociated",
    "ConversationId",
    "EffectiveRights",
    "Culture",
    "CompleteName",
    "FileAsMapping",
];

/// Parses a `t:Contact` from CreateItem (MS-OXWSCONT 2.2.4.3) into a [`Contact`] with an empty `uid` (the
/// caller assigns one). Elements without a model field are skipped; [`ignored_contact_fields`] names them.
pub fn parse_contact(el: &Element) -> Result<Contact, String> {
    if el.name != "Contact" {
        return Err(format!("expected a Contact element, found '{}'", el.name));
    }
    let mut c = Contact::default();
    let mut file_as = None;
    let mut subject = None;
    for child in el.children.iter().filter(|c| c.ns.as_deref() == Some(NS_T)) {
        match child.name.as_str() {
            "FileAs" => file_as = text_of(child),
            "Subject" => subject = text_of(child),
            _ => {
                set_contact_element(&mut c, child, false)?;
            }
        }
    }
    if let Some(cn) = el.t("CompleteName") {
        read_complete_name(&mut c, cn);
    }
    if c.display_name.is_empty() {
        c.display_name = composed_name(&c).or(file_as).or(subject).unwrap_or_default();
    }
    Ok(c)
}

/// Names of the `t:Contact` children (in the EWS types namespace) that [`parse_contact`] does not carry into
/// the model (`Initials`, `OfficeLocation`, `Children`, `Sensitivity`, …), for the caller to log.
pub fn ignored_contact_fields(el: &Element) -> Vec<String> {
    let mut scratch = Contact::default();
    el.children
        .iter()
        .filter(|c| c.ns.as_deref() == Some(NS_T))
        .filter(|c| !CONTACT_READ_ONLY.contains(&c.name.as_str()) && !matches!(c.name.as_str(), "FileAs" | "Subject"))
        .filter(|c| matches!(set_contact_element(&mut scratch, c, false), Ok(false)))
        .map(|c| c.name.clone())
        .collect()
}

/// Sets the model field one `ContactItemType` element stands for. `append` adds to lists (Categories) and
/// text (Body) instead of replacing. `Ok(false)`: the model has no such field.
fn set_contact_element(c: &mut Contact, el: &Element, append: bool) -> Result<bool, String> {
    let name = el.name.as_str();
    if let Some(f) = text_field(c, name) {
        *f = text_of(el);
        return Ok(true);
    }
    match name {
        "DisplayName" => c.display_name = el.trimmed().to_string(),
        "Body" => {
            let text = read_body(el);
            c.notes = match (append, c.notes.take(), text) {
                (true, Some(old), Some(new)) => Some(old + &new),
                (true, old, None) => old,
                (_, _, new) => new,
            };
        }
        "Categories" if append => merge_categories(&mut c.categories, read_categories(el)),
        "Categories" => c.categories = read_categories(el),
        "EmailAddresses" => c.emails = read_emails(el)?,
        "PhoneNumbers" => c.phones = read_phones(el)?,
        "PhysicalAddresses" => c.addresses = read_addresses(el)?,
        "ImAddresses" => c.im_addresses = read_ims(el)?,
        "Birthday" => c.birthday = read_optional_date(el)?,
        "WeddingAnniversary" => c.anniversary = read_optional_date(el)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn read_optional_date(el: &Element) -> Result<Option<NaiveDate>, String> {
    let t = el.trimmed();
    if t.is_empty() { Ok(None) } else { parse_date_value(t).map(Some).map_err(|e| format!("{}: {e}", el.name)) }
}

/// `CompleteNameType` (MS-OXWSCONT 2.2.4.2) is computed by Exchange; its parts only fill name fields the
/// contact does not set otherwise (`Title` is the only way the prefix travels).
fn read_complete_name(c: &mut Contact, cn: &Element) {
    let fill = |f: &mut Option<String>, name: &str| {
        if f.is_none() {
            *f = cn.t(name).and_then(text_of);
        }
    };
    fill(&mut c.prefix, "Title");
    fill(&mut c.given_name, "FirstName");
    fill(&mut c.middle_name, "MiddleName");
    fill(&mut c.surname, "LastName");
    fill(&mut c.suffix, "Suffix");
    fill(&mut c.nickname, "Nickname");
    if c.display_name.is_empty()
        && let Some(full) = cn.t("FullName").and_then(text_of)
    {
        c.display_name = full;
    }
}

/// "Given Middle Surname", when any of them is set.
fn composed_name(c: &Contact) -> Option<String> {
    let parts: Vec<&str> =
        [&c.given_name, &c.middle_name, &c.surname].into_iter().filter_map(|p| p.as_deref()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The dictionary entries of an `EmailAddresses` / `PhoneNumbers` / … element.
fn entries(el: &Element) -> impl Iterator<Item = &Element> {
    el.children.iter().filter(|e| e.name == "Entry")
}

fn entry_key(e: &Element) -> Result<&str, String> {
    e.attr("Key").ok_or_else(|| "a dictionary Entry has no Key attribute".to_string())
}

/// The slot number of `EmailAddress1..3` / `ImAddress1..3`.
fn slot(key: &str, prefix: &str, max: usize) -> Result<usize, String> {
    key.strip_prefix(prefix)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("unknown key '{key}' (expected {prefix}1 to {prefix}{max})"))
}

/// `EmailAddressDictionaryType` (MS-OXWSCONT 2.2.4.10): entries in slot order, the `Name` attribute as the
/// address's display name.
fn read_emails(el: &Element) -> Result<Vec<Email>, String> {
    let mut slots: Vec<(usize, Email)> = Vec::new();
    for e in entries(el) {
        let n = slot(entry_key(e)?, "EmailAddress", MAX_EMAILS)?;
        let Some(address) = text_of(e) else { continue };
        let display_name = e.attr("Name").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        slots.retain(|(k, _)| *k != n);
        slots.push((n, Email { address, display_name }));
    }
    slots.sort_by_key(|(n, _)| *n);
    Ok(slots.into_iter().map(|(_, e)| e).collect())
}

/// `ImAddressDictionaryType` (MS-OXWSCONT 2.2.4.12), in slot order.
fn read_ims(el: &Element) -> Result<Vec<String>, String> {
    let mut slots: Vec<(usize, String)> = Vec::new();
    for e in entries(el) {
        let n = slot(entry_key(e)?, "ImAddress", MAX_IM_ADDRESSES)?;
        let Some(v) = text_of(e) else { continue };
        slots.retain(|(k, _)| *k != n);
        slots.push((n, v));
    }
    slots.sort_by_key(|(n, _)| *n);
    Ok(slots.into_iter().map(|(_, v)| v).collect())
}

fn phone_kind(key: &str) -> Result<PhoneKind, String> {
    PhoneKind::from_ews_key(key).ok_or_else(|| format!("unknown phone number key '{key}'"))
}

/// `PhoneNumberDictionaryType` (MS-OXWSCONT 2.2.4.20): one number per key.
fn read_phones(el: &Element) -> Result<Vec<Phone>, String> {
    let mut out: Vec<Phone> = Vec::new();
    for e in entries(el) {
        let kind = phone_kind(entry_key(e)?)?;
        out.retain(|p| p.kind != kind);
        if let Some(number) = text_of(e) {
            out.push(Phone { kind, number });
        }
    }
    Ok(out)
}

fn address_kind(key: &str) -> Result<AddressKind, String> {
    match key {
        "Business" => Ok(AddressKind::Business),
        "Home" => Ok(AddressKind::Home),
        "Other" => Ok(AddressKind::Other),
        _ => Err(format!("unknown physical address key '{key}' (Business, Home or Other)")),
    }
}

fn address_key(k: AddressKind) -> &'static str {
    match k {
        AddressKind::Business => "Business",
        AddressKind::Home => "Home",
        AddressKind::Other => "Other",
    }
}

/// The parts of `PhysicalAddressDictionaryEntryType` (MS-OXWSCONT 2.2.4.22), in schema order.
const ADDRESS_PARTS: [&str; 5] = ["Street", "City", "State", "CountryOrRegion", "PostalCode"];

fn address_part<'a>(a: &'a mut PostalAddress, part: &str) -> Option<&'a mut Option<String>> {
    Some(match part {
        "Street" => &mut a.street,
        "City" => &mut a.city,
        "State" => &mut a.state,
        "CountryOrRegion" => &mut a.country,
        "PostalCode" => &mut a.postal_code,
        _ => return None,
    })
}

fn address_part_ref<'a>(a: &'a PostalAddress, part: &str) -> Option<&'a str> {
    match part {
        "Street" => a.street.as_deref(),
        "City" => a.city.as_deref(),
        "State" => a.state.as_deref(),
        "CountryOrRegion" => a.country.as_deref(),
        "PostalCode" => a.postal_code.as_deref(),
        _ => None,
    }
}

/// `PhysicalAddressDictionaryType` (MS-OXWSCONT 2.2.4.21): one address per key, empty ones left out.
fn read_addresses(el: &Element) -> Result<Vec<Address>, String> {
    let mut out: Vec<Address> = Vec::new();
    for e in entries(el) {
        let kind = address_kind(entry_key(e)?)?;
        let mut address = PostalAddress::default();
        for part in &e.children {
            if let Some(f) = address_part(&mut address, &part.name) {
                *f = text_of(part);
            }
        }
        out.retain(|a| a.kind != kind);
        if address != PostalAddress::default() {
            out.push(Address { kind, address });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------------
// Contacts: updates
// ---------------------------------------------------------------------------------------------------------------

/// Applies UpdateItem's `t:Updates` (MS-OXWSCORE 2.2.4.x; contact paths MS-OXWSCONT 2.2.5.x) to a contact.
/// Paths: `item:Subject` (the display name), `item:Body`, `item:Categories`, `contacts:<element>` for every
/// field the model carries, the whole dictionaries (`contacts:EmailAddresses`, …) and the indexed entries.
/// A field the model does not carry is an error naming it. Changes before the failing one have been applied,
/// so on error the caller discards `c` (UpdateItem is all or nothing per item).
pub fn apply_contact_updates(c: &mut Contact, updates: &Element) -> Result<(), String> {
    for ch in changes(updates)? {
        match &ch.index {
            Some(index) => apply_indexed(c, &ch, index)?,
            None => apply_plain(c, &ch)?,
        }
    }
    if c.display_name.is_empty() {
        c.display_name = composed_name(c).unwrap_or_default();
    }
    Ok(())
}

/// The element name of a `contacts:` / `item:` path.
fn local_name(uri: &str) -> Option<&str> {
    uri.strip_prefix("contacts:").or_else(|| uri.strip_prefix("item:"))
}

fn unsupported(ch: &Change<'_>) -> String {
    format!("'{}' is not supported on contacts (the CardDAV back-end has no field for it)", ch.uri)
}

/// A change of a whole field (`FieldURI`).
fn apply_plain(c: &mut Contact, ch: &Change<'_>) -> Result<(), String> {
    let name = local_name(&ch.uri).ok_or_else(|| unsupported(ch))?;
    let name = if name == "Subject" { "DisplayName" } else { name };
    if name == "FileAs" {
        // FileAs is derived from the display name (module documentation); a FileAs alone names the contact.
        if ch.kind == ChangeKind::Set && c.display_name.is_empty() {
            c.display_name = text_of(ch.value("FileAs")?).unwrap_or_default();
        }
        return Ok(());
    }
    match ch.kind {
        ChangeKind::Delete => delete_contact_field(c, name).then_some(()).ok_or_else(|| unsupported(ch)),
        ChangeKind::Append if !matches!(name, "Categories" | "Body") => {
            Err(format!("AppendToItemField is not valid for '{}' (only Body and Categories)", ch.uri))
        }
        kind => {
            let el = ch.item.and_then(|i| i.t(name)).or_else(|| {
                // `item:Subject` arrives as a Subject element.
                (name == "DisplayName").then(|| ch.item.and_then(|i| i.t("Subject"))).flatten()
            });
            let el = el.ok_or_else(|| format!("the change of '{}' carries no {name} element", ch.uri))?;
            if el.name == "Subject" {
                c.display_name = el.trimmed().to_string();
                return Ok(());
            }
            set_contact_element(c, el, kind == ChangeKind::Append)?.then_some(()).ok_or_else(|| unsupported(ch))
        }
    }
}

/// DeleteItemField of a whole field; `false` when the model has no such field.
fn delete_contact_field(c: &mut Contact, name: &str) -> bool {
    if let Some(f) = text_field(c, name) {
        *f = None;
        return true;
    }
    match name {
        "DisplayName" => c.display_name.clear(),
        "Body" => c.notes = None,
        "Categories" => c.categories.clear(),
        "EmailAddresses" => c.emails.clear(),
        "PhoneNumbers" => c.phones.clear(),
        "PhysicalAddresses" => c.addresses.clear(),
        "ImAddresses" => c.im_addresses.clear(),
        "Birthday" => c.birthday = None,
        "WeddingAnniversary" => c.anniversary = None,
        _ => return false,
    }
    true
}

/// The dictionary entry for `index` in the change's item: the entry with that key (or the only entry).
fn indexed_entry<'a>(ch: &Change<'a>, dict: &str, index: &str) -> Result<&'a Element, String> {
    let d = ch.item.and_then(|i| i.t(dict)).ok_or_else(|| format!("the change of '{}' carries no {dict}", ch.uri))?;
    let all: Vec<&Element> = entries(d).collect();
    all.iter()
        .find(|e| e.attr("Key") == Some(index))
        .or_else(|| if all.len() == 1 { all.first() } else { None })
        .copied()
        .ok_or_else(|| format!("{dict} has no Entry with Key '{index}'"))
}

/// A change of one dictionary entry (`IndexedFieldURI` + `FieldIndex`).
fn apply_indexed(c: &mut Contact, ch: &Change<'_>, index: &str) -> Result<(), String> {
    if ch.kind == ChangeKind::Append {
        return Err(format!("AppendToItemField is not valid for the indexed field '{}'", ch.uri));
    }
    let set = ch.kind == ChangeKind::Set;
    match ch.uri.as_str() {
        "contacts:EmailAddress" => {
            let n = slot(index, "EmailAddress", MAX_EMAILS)?;
            let new = if set {
                let e = indexed_entry(ch, "EmailAddresses", index)?;
                text_of(e).map(|address| Email {
                    address,
                    display_name: e.attr("Name").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
                })
            } else {
                None
            };
            put_slot(&mut c.emails, n, new);
        }
        "contacts:ImAddress" => {
            let n = slot(index, "ImAddress", MAX_IM_ADDRESSES)?;
            let new = if set { text_of(indexed_entry(ch, "ImAddresses", index)?) } else { None };
            put_slot(&mut c.im_addresses, n, new);
        }
        "contacts:PhoneNumber" => {
            let kind = phone_kind(index)?;
            let new = if set { text_of(indexed_entry(ch, "PhoneNumbers", index)?) } else { None };
            match (c.phones.iter_mut().find(|p| p.kind == kind), new) {
                (Some(p), Some(number)) => p.number = number,
                (None, Some(number)) => c.phones.push(Phone { kind, number }),
                (_, None) => c.phones.retain(|p| p.kind != kind),
            }
        }
        uri => {
            let part = uri.strip_prefix("contacts:PhysicalAddress:").ok_or_else(|| unsupported(ch))?;
            if !ADDRESS_PARTS.contains(&part) {
                return Err(unsupported(ch));
            }
            let kind = address_kind(index)?;
            let new = if set { indexed_entry(ch, "PhysicalAddresses", index)?.t(part).and_then(text_of) } else { None };
            set_address_part(c, kind, part, new);
        }
    }
    Ok(())
}

/// Sets or clears slot `n` (1-based) of a gap-free slot list (module documentation).
fn put_slot<T>(list: &mut Vec<T>, n: usize, value: Option<T>) {
    match value {
        Some(v) if n <= list.len() => list[n - 1] = v,
        Some(v) => list.push(v),
        None if n <= list.len() => {
            list.remove(n - 1);
        }
        None => {}
    }
}

/// Sets one part of one postal address, dropping the address when it becomes empty.
fn set_address_part(c: &mut Contact, kind: AddressKind, part: &str, value: Option<String>) {
    if !c.addresses.iter().any(|a| a.kind == kind) {
        c.addresses.push(Address { kind, address: PostalAddress::default() });
    }
    for a in c.addresses.iter_mut().filter(|a| a.kind == kind) {
        if let Some(f) = address_part(&mut a.address, part) {
            *f = value.clone();
        }
    }
    c.addresses.retain(|a| a.address != PostalAddress::default());
}

// ---------------------------------------------------------------------------------------------------------------
// Contacts: writing
// ---------------------------------------------------------------------------------------------------------------

/// Writes one `t:Contact` (MS-OXWSCONT 2.2.4.3) in schema order: the `ItemType` part (MS-OXWSCORE 2.2.4.24),
/// then `ContactItemType`. `full_default` selects GetItem's Default shape (with the body) rather than
/// FindItem's. Fields with no value are left out, as Exchange does.
pub fn write_contact(w: &mut XmlWriter, c: &Contact, shape: &Shape, ids: &RenderIds, full_default: bool) {
    write_contact_with_source(w, c, shape, ids, full_default, None);
}

/// [`write_contact`] with a `t:ContactSource` (MS-OXWSCONT 2.2.5.1 ContactSourceType: `Store` for a contact of
/// the mailbox, as ResolveNames reports it), in its schema place between BusinessHomePage and Department.
pub fn write_contact_with_source(
    w: &mut XmlWriter,
    c: &Contact,
    shape: &Shape,
    ids: &RenderIds,
    full_default: bool,
    source: Option<&str>,
) {
    w.start("t:Contact", &[]);
    write_ids(w, ids, shape);
    if shape.wants("item:ItemClass", true) {
        w.leaf("t:ItemClass", "IPM.Contact");
    }
    if shape.wants("item:Subject", true) {
        w.leaf("t:Subject", &c.display_name);
    }
    if shape.wants("item:Body", full_default)
        && let Some(n) = &c.notes
    {
        write_body(w, n, shape);
    }
    if shape.wants("item:Attachments", full_default)
        && let (Some(p), Some(id)) = (&c.photo, &ids.photo_attachment_id)
    {
        write_photo_attachment(w, p, id);
    }
    if shape.wants("item:Categories", true) {
        write_categories(w, &c.categories);
    }
    if shape.wants("item:HasAttachments", true) {
        w.bool_leaf("t:HasAttachments", c.photo.is_some());
    }
    write_contact_names(w, c, shape);
    write_contact_dictionaries(w, c, shape);
    write_contact_details(w, c, shape, source);
    w.end();
}

/// The name Outlook gives a contact's photo attachment.
pub const PHOTO_NAME: &str = "ContactPicture.jpg";

/// A contact photo as EWS lists it among the item's attachments (FileAttachmentType with IsContactPhoto).
pub fn write_photo_attachment(w: &mut XmlWriter, p: &Photo, id: &str) {
    w.start("t:Attachments", &[]).start("t:FileAttachment", &[]);
    w.empty("t:AttachmentId", &[("Id", id)]);
    w.leaf("t:Name", PHOTO_NAME).leaf("t:ContentType", &p.media_type).leaf("t:Size", &p.data.len().to_string());
    w.bool_leaf("t:IsInline", false).bool_leaf("t:IsContactPhoto", true);
    w.end().end();
}

/// Writes an optional text element when it is wanted and set.
fn opt_leaf(w: &mut XmlWriter, shape: &Shape, uri: &str, name: &str, v: Option<&str>) {
    if let Some(v) = v.filter(|v| !v.is_empty())
        && shape.wants(uri, true)
    {
        w.leaf(name, v);
    }
}

/// FileAs … CompanyName.
fn write_contact_names(w: &mut XmlWriter, c: &Contact, shape: &Shape) {
    let dn = Some(c.display_name.as_str());
    opt_leaf(w, shape, "contacts:FileAs", "t:FileAs", dn);
    opt_leaf(w, shape, "contacts:DisplayName", "t:DisplayName", dn);
    opt_leaf(w, shape, "contacts:GivenName", "t:GivenName", c.given_name.as_deref());
    opt_leaf(w, shape, "contacts:MiddleName", "t:MiddleName", c.middle_name.as_deref());
    opt_leaf(w, shape, "contacts:Nickname", "t:Nickname", c.nickname.as_deref());
    if shape.wants("contacts:CompleteName", true) {
        // CompleteNameType (MS-OXWSCONT 2.2.4.2): Title, FirstName, MiddleName, LastName, Suffix, Initials,
        // FullName, Nickname, …
        w.start("t:CompleteName", &[]);
        for (name, v) in [
            ("t:Title", &c.prefix),
            ("t:FirstName", &c.given_name),
            ("t:MiddleName", &c.middle_name),
            ("t:LastName", &c.surname),
            ("t:Suffix", &c.suffix),
        ] {
            if let Some(v) = v {
                w.leaf(name, v);
            }
        }
        if !c.display_name.is_empty() {
            w.leaf("t:FullName", &c.display_name);
        }
        if let Some(n) = &c.nickname {
            w.leaf("t:Nickname", n);
        }
        w.end();
    }
    opt_leaf(w, shape, "contacts:CompanyName", "t:CompanyName", c.company.as_deref());
}

/// EmailAddresses, PhysicalAddresses, PhoneNumbers.
fn write_contact_dictionaries(w: &mut XmlWriter, c: &Contact, shape: &Shape) {
    if !c.emails.is_empty() && shape.wants("contacts:EmailAddresses", true) {
        w.start("t:EmailAddresses", &[]);
        for (i, e) in c.emails.iter().take(MAX_EMAILS).enumerate() {
            let key = format!("EmailAddress{}", i + 1);
            match &e.display_name {
                Some(n) => w.leaf_with("t:Entry", &[("Key", &key), ("Name", n)], &e.address),
                None => w.leaf_with("t:Entry", &[("Key", &key)], &e.address),
            };
        }
        w.end();
    }
    if !c.addresses.is_empty() && shape.wants("contacts:PhysicalAddresses", true) {
        w.start("t:PhysicalAddresses", &[]);
        for a in &c.addresses {
            w.start("t:Entry", &[("Key", address_key(a.kind))]);
            for part in ADDRESS_PARTS {
                if let Some(v) = address_part_ref(&a.address, part) {
                    w.leaf(&format!("t:{part}"), v);
                }
            }
            w.end();
        }
        w.end();
    }
    if !c.phones.is_empty() && shape.wants("contacts:PhoneNumbers", true) {
        w.start("t:PhoneNumbers", &[]);
        let mut seen = Vec::new();
        for p in &c.phones {
            // EWS has one slot per key; further numbers of a kind stay in the model (docs/mapping.md).
            if !seen.contains(&p.kind) {
                seen.push(p.kind);
                w.leaf_with("t:Entry", &[("Key", p.kind.ews_key())], &p.number);
            }
        }
        w.end();
    }
}

/// AssistantName … Photo.
fn write_contact_details(w: &mut XmlWriter, c: &Contact, shape: &Shape, source: Option<&str>) {
    opt_leaf(w, shape, "contacts:AssistantName", "t:AssistantName", c.assistant_name.as_deref());
    if let Some(b) = c.birthday
        && shape.wants("contacts:Birthday", true)
    {
        w.leaf("t:Birthday", &format_date_value(b));
    }
    opt_leaf(w, shape, "contacts:BusinessHomePage", "t:BusinessHomePage", c.web_page.as_deref());
    opt_leaf(w, shape, "contacts:ContactSource", "t:ContactSource", source);
    opt_leaf(w, shape, "contacts:Department", "t:Department", c.department.as_deref());
    opt_leaf(w, shape, "contacts:Generation", "t:Generation", c.suffix.as_deref());
    if !c.im_addresses.is_empty() && shape.wants("contacts:ImAddresses", true) {
        w.start("t:ImAddresses", &[]);
        for (i, a) in c.im_addresses.iter().take(MAX_IM_ADDRESSES).enumerate() {
            w.leaf_with("t:Entry", &[("Key", &format!("ImAddress{}", i + 1))], a);
        }
        w.end();
    }
    opt_leaf(w, shape, "contacts:JobTitle", "t:JobTitle", c.job_title.as_deref());
    opt_leaf(w, shape, "contacts:Manager", "t:Manager", c.manager.as_deref());
    opt_leaf(w, shape, "contacts:Profession", "t:Profession", c.profession.as_deref());
    opt_leaf(w, shape, "contacts:SpouseName", "t:SpouseName", c.spouse_name.as_deref());
    opt_leaf(w, shape, "contacts:Surname", "t:Surname", c.surname.as_deref());
    if let Some(a) = c.anniversary
        && shape.wants("contacts:WeddingAnniversary", true)
    {
        w.leaf("t:WeddingAnniversary", &format_date_value(a));
    }
    if shape.wants("contacts:HasPicture", true) {
        w.bool_leaf("t:HasPicture", c.photo.is_some());
    }
    if let Some(n) = &c.notes
        && shape.wants("contacts:Notes", false)
    {
        w.leaf("t:Notes", n);
    }
    if let Some(p) = &c.photo
        && shape.wants("contacts:Photo", false)
    {
        w.start("t:Photo", &[]).raw_text(&STANDARD.encode(&p.data)).end();
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Contact groups
// ---------------------------------------------------------------------------------------------------------------

/// What the caller knows about a contact that a group member refers to (by vCard UID), for rendering.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInfo {
    /// The contact's encoded EWS item id.
    pub item_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Parses a `t:DistributionList` (MS-OXWSDLIST 2.2.4.1 DistributionListType) into a [`ContactGroup`] with an
/// empty `uid`. A member whose `Mailbox` carries an `ItemId` (a contact of the store) is turned into a contact
/// reference with `resolve(item id) -> vCard UID`; when that fails, its e-mail address is kept as a one-off
/// member; a member with neither is an error.
pub fn parse_distribution_list(el: &Element, resolve: &dyn Fn(&str) -> Option<String>) -> Result<ContactGroup, String> {
    if el.name != "DistributionList" {
        return Err(format!("expected a DistributionList element, found '{}'", el.name));
    }
    let mut g = ContactGroup::default();
    let mut file_as = None;
    for child in el.children.iter().filter(|c| c.ns.as_deref() == Some(NS_T)) {
        match child.name.as_str() {
            "DisplayName" => g.display_name = child.trimmed().to_string(),
            "FileAs" => file_as = text_of(child),
            "Subject" if g.display_name.is_empty() => g.display_name = child.trimmed().to_string(),
            "Body" => g.notes = read_body(child),
            "Categories" => g.categories = read_categories(child),
            "Members" => g.members = read_members(child, resolve)?,
            _ => {}
        }
    }
    if g.display_name.is_empty() {
        g.display_name = file_as.unwrap_or_default();
    }
    Ok(g)
}

/// `MembersListType`: every `t:Member/t:Mailbox` (MS-OXWSDLIST 2.2.4.3 MemberType).
fn read_members(el: &Element, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Vec<GroupMember>, String> {
    let mut out = Vec::new();
    for m in el.children.iter().filter(|m| m.name == "Member") {
        let mb = m.t("Mailbox").ok_or_else(|| "a distribution list Member has no Mailbox".to_string())?;
        let name = mb.t("Name").and_then(text_of);
        let address = mb.t("EmailAddress").and_then(text_of);
        let uid = mb.t("ItemId").and_then(|i| i.attr("Id")).and_then(resolve);
        let member = match (uid, address) {
            (Some(uid), _) => GroupMember::Contact(uid),
            (None, Some(address)) => GroupMember::Email { address, name },
            (None, None) => {
                return Err(format!(
                    "distribution list member '{}' has neither a known ItemId nor an EmailAddress",
                    name.unwrap_or_default()
                ));
            }
        };
        if !out.contains(&member) {
            out.push(member);
        }
    }
    Ok(out)
}

/// Applies UpdateItem changes to a contact group: `item:Body`, `item:Categories`, `contacts:DisplayName` /
/// `contacts:FileAs` / `item:Subject` (the name) and `distributionlist:Members` (Set replaces, Append adds,
/// Delete empties).
pub fn apply_distribution_list_updates(
    g: &mut ContactGroup,
    updates: &Element,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<(), String> {
    for ch in changes(updates)? {
        let set = ch.kind != ChangeKind::Delete;
        let append = ch.kind == ChangeKind::Append;
        match ch.uri.as_str() {
            "item:Body" if !set => g.notes = None,
            "item:Body" => {
                let new = read_body(ch.value("Body")?);
                g.notes = match (append, g.notes.take(), new) {
                    (true, Some(old), Some(new)) => Some(old + &new),
                    (true, old, None) => old,
                    (_, _, new) => new,
                };
            }
            "item:Categories" if !set => g.categories.clear(),
            "item:Categories" if append => {
                merge_categories(&mut g.categories, read_categories(ch.value("Categories")?))
            }
            "item:Categories" => g.categories = read_categories(ch.value("Categories")?),
            "distributionlist:Members" if !set => g.members.clear(),
            "distributionlist:Members" => {
                let new = read_members(ch.value("Members")?, resolve)?;
                if !append {
                    g.members.clear();
                }
                for m in new {
                    if !g.members.contains(&m) {
                        g.members.push(m);
                    }
                }
            }
            "contacts:DisplayName" | "contacts:FileAs" | "item:Subject" if set && !append => {
                let name = &ch.uri[ch.uri.find(':').map_or(0, |i| i + 1)..];
                g.display_name = ch.value(name)?.trimmed().to_string();
            }
            _ => {
                return Err(format!(
                    "{:?} of '{}' is not supported on contact groups (DisplayName, Body, Categories and Members are)",
                    ch.kind, ch.uri
                ));
            }
        }
    }
    Ok(())
}

/// Writes one `t:DistributionList` (MS-OXWSDLIST 2.2.4.1): the `ItemType` part, then DisplayName, FileAs and
/// (GetItem's Default shape, or when asked) Members. `lookup(uid)` describes contact members; a member it
/// does not know is written with its UID as the name and `Status` `Unrecognized`.
pub fn write_distribution_list(
    w: &mut XmlWriter,
    g: &ContactGroup,
    shape: &Shape,
    ids: &RenderIds,
    full_default: bool,
    lookup: &dyn Fn(&str) -> Option<MemberInfo>,
) {
    w.start("t:DistributionList", &[]);
    write_ids(w, ids, shape);
    if shape.wants("item:ItemClass", true) {
        w.leaf("t:ItemClass", "IPM.DistList");
    }
    if shape.wants("item:Subject", true) {
        w.leaf("t:Subject", &g.display_name);
    }
    if shape.wants("item:Body", full_default)
        && let Some(n) = &g.notes
    {
        write_body(w, n, shape);
    }
    if shape.wants("item:Categories", true) {
        write_categories(w, &g.categories);
    }
    if shape.wants("contacts:DisplayName", true) {
        w.leaf("t:DisplayName", &g.display_name);
    }
    if shape.wants("contacts:FileAs", true) {
        w.leaf("t:FileAs", &g.display_name);
    }
    if shape.wants("distributionlist:Members", full_default) {
        w.start("t:Members", &[]);
        for m in &g.members {
            write_member(w, m, lookup);
        }
        w.end();
    }
    w.end();
}

/// One `t:Member` (MS-OXWSDLIST 2.2.4.3) with its `t:Mailbox` (MS-OXWSCDATA EmailAddressType).
fn write_member(w: &mut XmlWriter, m: &GroupMember, lookup: &dyn Fn(&str) -> Option<MemberInfo>) {
    w.start("t:Member", &[]);
    w.start("t:Mailbox", &[]);
    let status = match m {
        GroupMember::Email { address, name } => {
            if let Some(n) = name {
                w.leaf("t:Name", n);
            }
            w.leaf("t:EmailAddress", address);
            w.leaf("t:RoutingType", "SMTP");
            w.leaf("t:MailboxType", "OneOff");
            "Normal"
        }
        GroupMember::Contact(uid) => {
            let info = lookup(uid);
            let known = info.is_some();
            let info = info.unwrap_or_default();
            w.leaf("t:Name", info.name.as_deref().unwrap_or(uid));
            if let Some(e) = &info.email {
                w.leaf("t:EmailAddress", e);
                w.leaf("t:RoutingType", "SMTP");
            }
            w.leaf("t:MailboxType", "Contact");
            if let Some(id) = &info.item_id {
                w.empty("t:ItemId", &[("Id", id)]);
            }
            if known { "Normal" } else { "Unrecognized" }
        }
    };
    w.end();
    w.leaf("t:Status", status);
    w.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::types::{BaseShape, PropPath};

    const T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

    /// Parses `inner` wrapped in an element declaring the `t:` prefix and returns its first child.
    fn el(inner: &str) -> Element {
        let doc = format!(r#"<w xmlns:t="{T}">{inner}</w>"#);
        let root = crate::ews::xml::parse(doc.as_bytes()).expect("test XML parses");
        root.children.into_iter().next().expect("one child")
    }

    fn all() -> Shape {
        Shape { base: BaseShape::AllProperties, ..Shape::default() }
    }

    fn ids() -> RenderIds {
        RenderIds {
            item_id: "AAMk=".into(),
            change_key: "CQAA".into(),
            parent_folder_id: "AQMk=".into(),
            parent_change_key: "AQAA".into(),
            photo_attachment_id: None,
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    /// What exchangelib sends in CreateItem for a contact with every field it knows set.
    const FULL: &str = r#"<t:Contact>
        <t:Body BodyType="Text">Met at the conference.</t:Body>
        <t:Categories><t:String>Clients</t:String><t:String>VIP</t:String></t:Categories>
        <t:FileAs>Doe, Jane</t:FileAs>
        <t:DisplayName>Jane Q. Doe</t:DisplayName>
        <t:GivenName>Jane</t:GivenName>
        <t:Initials>J.Q.D.</t:Initials>
        <t:MiddleName>Quinn</t:MiddleName>
        <t:Nickname>JD</t:Nickname>
        <t:CompanyName>Example Corp</t:CompanyName>
        <t:EmailAddresses>
          <t:Entry Key="EmailAddress2">jane@home.example</t:Entry>
          <t:Entry Key="EmailAddress1" Name="Jane Doe (work)">jane.doe@example.com</t:Entry>
        </t:EmailAddresses>
        <t:PhysicalAddresses>
          <t:Entry Key="Business"><t:Street>1 Main St</t:Street><t:City>Springfield</t:City><t:State>IL</t:State><t:CountryOrRegion>USA</t:CountryOrRegion><t:PostalCode>62701</t:PostalCode></t:Entry>
          <t:Entry Key="Home"><t:City>Shelbyville</t:City></t:Entry>
        </t:PhysicalAddresses>
        <t:PhoneNumbers>
          <t:Entry Key="BusinessPhone">+1 555 0100</t:Entry>
          <t:Entry Key="MobilePhone">+1 555 0101</t:Entry>
          <t:Entry Key="HomePhone">+1 555 0102</t:Entry>
          <t:Entry Key="BusinessFax">+1 555 0103</t:Entry>
        </t:PhoneNumbers>
        <t:AssistantName>Al Assistant</t:AssistantName>
        <t:Birthday>1980-04-12T11:59:00Z</t:Birthday>
        <t:BusinessHomePage>https://example.com/jane</t:BusinessHomePage>
        <t:Children><t:String>Tim</t:String></t:Children>
        <t:Department>Sales</t:Department>
        <t:Generation>Jr.</t:Generation>
        <t:ImAddresses><t:Entry Key="ImAddress1">sip:jane@example.com</t:Entry></t:ImAddresses>
        <t:JobTitle>Account Manager</t:JobTitle>
        <t:Manager>Mr. Boss</t:Manager>
        <t:OfficeLocation>Building 2</t:OfficeLocation>
        <t:Profession>Economist</t:Profession>
        <t:SpouseName>John Doe</t:SpouseName>
        <t:Surname>Doe</t:Surname>
        <t:WeddingAnniversary>2005-06-17T22:00:00Z</t:WeddingAnniversary>
      </t:Contact>"#;

    #[test]
    fn parses_a_full_exchangelib_contact() {
        let c = parse_contact(&el(FULL)).expect("parses");
        assert_eq!(c.display_name, "Jane Q. Doe");
        assert_eq!(c.given_name.as_deref(), Some("Jane"));
        assert_eq!(c.middle_name.as_deref(), Some("Quinn"));
        assert_eq!(c.surname.as_deref(), Some("Doe"));
        assert_eq!(c.suffix.as_deref(), Some("Jr."));
        assert_eq!(c.nickname.as_deref(), Some("JD"));
        assert_eq!(c.company.as_deref(), Some("Example Corp"));
        assert_eq!(c.department.as_deref(), Some("Sales"));
        assert_eq!(c.job_title.as_deref(), Some("Account Manager"));
        assert_eq!(c.manager.as_deref(), Some("Mr. Boss"));
        assert_eq!(c.assistant_name.as_deref(), Some("Al Assistant"));
        assert_eq!(c.profession.as_deref(), Some("Economist"));
        assert_eq!(c.spouse_name.as_deref(), Some("John Doe"));
        assert_eq!(c.web_page.as_deref(), Some("https://example.com/jane"));
        assert_eq!(c.notes.as_deref(), Some("Met at the conference."));
        assert_eq!(c.categories, ["Clients", "VIP"]);
        assert_eq!(
            c.emails,
            [
                Email { address: "jane.doe@example.com".into(), display_name: Some("Jane Doe (work)".into()) },
                Email { address: "jane@home.example".into(), display_name: None },
            ]
        );
        assert_eq!(c.phone(PhoneKind::Business), Some("+1 555 0100"));
        assert_eq!(c.phone(PhoneKind::Mobile), Some("+1 555 0101"));
        assert_eq!(c.phone(PhoneKind::Home), Some("+1 555 0102"));
        assert_eq!(c.phone(PhoneKind::BusinessFax), Some("+1 555 0103"));
        let b = c.address(AddressKind::Business).expect("business address");
        assert_eq!(b.street.as_deref(), Some("1 Main St"));
        assert_eq!(b.city.as_deref(), Some("Springfield"));
        assert_eq!(b.state.as_deref(), Some("IL"));
        assert_eq!(b.country.as_deref(), Some("USA"));
        assert_eq!(b.postal_code.as_deref(), Some("62701"));
        assert_eq!(c.address(AddressKind::Home).and_then(|a| a.city.as_deref()), Some("Shelbyville"));
        assert_eq!(c.im_addresses, ["sip:jane@example.com"]);
        assert_eq!(c.birthday, Some(d(1980, 4, 12)));
        // Local midnight in UTC+2, written in UTC, is the 18th.
        assert_eq!(c.anniversary, Some(d(2005, 6, 18)));
        assert_eq!(ignored_contact_fields(&el(FULL)), ["Initials", "Children", "OfficeLocation"]);
    }

    #[test]
    fn display_name_falls_back_to_the_names_then_file_as() {
        let c = parse_contact(&el("<t:Contact><t:GivenName>Ann</t:GivenName><t:Surname>Lee</t:Surname></t:Contact>"))
            .expect("parses");
        assert_eq!(c.display_name, "Ann Lee");
        let c = parse_contact(&el("<t:Contact><t:FileAs>Lee, Ann</t:FileAs></t:Contact>")).expect("parses");
        assert_eq!(c.display_name, "Lee, Ann");
    }

    fn full_model() -> Contact {
        let mut c = parse_contact(&el(FULL)).expect("parses");
        c.prefix = Some("Dr.".into());
        c.emails.push(Email { address: "third@example.org".into(), display_name: Some("Third".into()) });
        c.im_addresses.push("xmpp:jane@jabber.example".into());
        c.phones.push(Phone { kind: PhoneKind::Tty, number: "+1 555 0199".into() });
        c.addresses.push(Address {
            kind: AddressKind::Other,
            address: PostalAddress { street: Some("Line 1\nLine 2".into()), ..PostalAddress::default() },
        });
        c.notes = Some("Two\nlines & <markup>".into());
        c
    }

    fn render(c: &Contact, shape: &Shape) -> String {
        let mut w = XmlWriter::new();
        w.start("w", &[("xmlns:t", T)]);
        write_contact(&mut w, c, shape, &ids(), true);
        w.finish()
    }

    #[test]
    fn render_then_parse_keeps_every_field() {
        let c = full_model();
        let xml = render(&c, &all());
        let root = crate::ews::xml::parse(xml.as_bytes()).expect("rendered XML parses");
        let back = parse_contact(&root.children[0]).expect("parses back");
        assert_eq!(back, c, "{xml}");
        assert!(xml.contains("<t:ItemClass>IPM.Contact</t:ItemClass>"));
        assert!(xml.contains(r#"<t:ItemId Id="AAMk=" ChangeKey="CQAA"/>"#));
        // Schema order: ItemType part, then FileAs … WeddingAnniversary.
        let pos = |s: &str| xml.find(s).unwrap_or_else(|| panic!("{s} missing in {xml}"));
        let order = [
            "<t:ItemId",
            "<t:ParentFolderId",
            "<t:ItemClass",
            "<t:Subject",
            "<t:Body",
            "<t:Categories",
            "<t:FileAs",
            "<t:DisplayName",
            "<t:GivenName",
            "<t:MiddleName",
            "<t:Nickname",
            "<t:CompleteName",
            "<t:CompanyName",
            "<t:EmailAddresses",
            "<t:PhysicalAddresses",
            "<t:PhoneNumbers",
            "<t:AssistantName",
            "<t:Birthday",
            "<t:BusinessHomePage",
            "<t:Department",
            "<t:Generation",
            "<t:ImAddresses",
            "<t:JobTitle",
            "<t:Manager",
            "<t:Profession",
            "<t:SpouseName",
            "<t:Surname>",
            "<t:WeddingAnniversary",
            "<t:HasPicture",
        ];
        for pair in order.windows(2) {
            assert!(pos(pair[0]) < pos(pair[1]), "{} before {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn shapes_select_fields() {
        let mut c = full_model();
        c.photo = Some(Photo { media_type: "image/png".into(), data: vec![1, 2, 3] });
        let id_only = render(&c, &Shape { base: BaseShape::IdOnly, ..Shape::default() });
        assert_eq!(
            id_only,
            format!(r#"<w xmlns:t="{T}"><t:Contact><t:ItemId Id="AAMk=" ChangeKey="CQAA"/></t:Contact></w>"#)
        );
        let shape = Shape {
            base: BaseShape::IdOnly,
            additional: vec![PropPath { uri: "contacts:Surname".into() }, PropPath { uri: "contacts:Photo".into() }],
            ..Shape::default()
        };
        let xml = render(&c, &shape);
        assert!(xml.contains("<t:Surname>Doe</t:Surname><t:Photo>AQID</t:Photo>"), "{xml}");
        assert!(!xml.contains("GivenName"));
        let mut w = XmlWriter::new();
        write_contact(&mut w, &c, &Shape::default(), &ids(), false);
        let find_default = w.finish();
        assert!(!find_default.contains("<t:Body") && find_default.contains("<t:GivenName>"));
    }

    #[test]
    fn html_body_in_and_out() {
        let c = parse_contact(&el(
            r#"<t:Contact><t:DisplayName>X</t:DisplayName><t:Body BodyType="HTML">&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;</t:Body></t:Contact>"#,
        ))
        .expect("parses");
        assert_eq!(c.notes.as_deref(), Some("Hello & bye"));
        let shape = Shape { body_type: Some("HTML".into()), ..all() };
        assert!(render(&c, &shape).contains(r#"<t:Body BodyType="HTML""#));
    }

    fn updates(inner: &str) -> Element {
        el(&format!("<t:Updates>{inner}</t:Updates>"))
    }

    #[test]
    fn updates_plain_indexed_and_deletes() {
        let mut c = parse_contact(&el(FULL)).expect("parses");
        let u = updates(
            r#"<t:SetItemField><t:FieldURI FieldURI="contacts:GivenName"/><t:Contact><t:GivenName>Janet</t:GivenName></t:Contact></t:SetItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/><t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress1" Name="J">janet@example.com</t:Entry></t:EmailAddresses></t:Contact></t:SetItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress3"/><t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress3">three@example.com</t:Entry></t:EmailAddresses></t:Contact></t:SetItemField>
            <t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress2"/></t:DeleteItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="MobilePhone"/><t:Contact><t:PhoneNumbers><t:Entry Key="MobilePhone">+1 555 0200</t:Entry></t:PhoneNumbers></t:Contact></t:SetItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="CarPhone"/><t:Contact><t:PhoneNumbers><t:Entry Key="CarPhone">+1 555 0201</t:Entry></t:PhoneNumbers></t:Contact></t:SetItemField>
            <t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhoneNumber" FieldIndex="HomePhone"/></t:DeleteItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:Street" FieldIndex="Home"/><t:Contact><t:PhysicalAddresses><t:Entry Key="Home"><t:Street>2 Elm St</t:Street></t:Entry></t:PhysicalAddresses></t:Contact></t:SetItemField>
            <t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:City" FieldIndex="Business"/></t:DeleteItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:City" FieldIndex="Other"/><t:Contact><t:PhysicalAddresses><t:Entry Key="Other"><t:City>Capital City</t:City></t:Entry></t:PhysicalAddresses></t:Contact></t:SetItemField>
            <t:SetItemField><t:IndexedFieldURI FieldURI="contacts:ImAddress" FieldIndex="ImAddress2"/><t:Contact><t:ImAddresses><t:Entry Key="ImAddress2">xmpp:j@example.com</t:Entry></t:ImAddresses></t:Contact></t:SetItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="contacts:Manager"/></t:DeleteItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="contacts:Birthday"/></t:DeleteItemField>
            <t:SetItemField><t:FieldURI FieldURI="contacts:WeddingAnniversary"/><t:Contact><t:WeddingAnniversary>2010-01-02T00:00:00Z</t:WeddingAnniversary></t:Contact></t:SetItemField>
            <t:AppendToItemField><t:FieldURI FieldURI="item:Categories"/><t:Contact><t:Categories><t:String>VIP</t:String><t:String>Golf</t:String></t:Categories></t:Contact></t:AppendToItemField>
            <t:SetItemField><t:FieldURI FieldURI="item:Body"/><t:Contact><t:Body BodyType="Text">New notes</t:Body></t:Contact></t:SetItemField>
            <t:SetItemField><t:FieldURI FieldURI="contacts:DisplayName"/><t:Contact><t:DisplayName>Janet Doe</t:DisplayName></t:Contact></t:SetItemField>"#,
        );
        apply_contact_updates(&mut c, &u).expect("applies");
        assert_eq!(c.given_name.as_deref(), Some("Janet"));
        assert_eq!(c.display_name, "Janet Doe");
        assert_eq!(
            c.emails,
            [
                Email { address: "janet@example.com".into(), display_name: Some("J".into()) },
                Email { address: "three@example.com".into(), display_name: None },
            ]
        );
        assert_eq!(c.phone(PhoneKind::Mobile), Some("+1 555 0200"));
        assert_eq!(c.phone(PhoneKind::Car), Some("+1 555 0201"));
        assert_eq!(c.phone(PhoneKind::Home), None);
        assert_eq!(c.address(AddressKind::Home).and_then(|a| a.street.as_deref()), Some("2 Elm St"));
        assert_eq!(c.address(AddressKind::Home).and_then(|a| a.city.as_deref()), Some("Shelbyville"));
        assert_eq!(c.address(AddressKind::Business).and_then(|a| a.city.as_deref()), None);
        assert_eq!(c.address(AddressKind::Business).and_then(|a| a.street.as_deref()), Some("1 Main St"));
        assert_eq!(c.address(AddressKind::Other).and_then(|a| a.city.as_deref()), Some("Capital City"));
        assert_eq!(c.im_addresses, ["sip:jane@example.com", "xmpp:j@example.com"]);
        assert_eq!(c.manager, None);
        assert_eq!(c.birthday, None);
        assert_eq!(c.anniversary, Some(d(2010, 1, 2)));
        assert_eq!(c.categories, ["Clients", "VIP", "Golf"]);
        assert_eq!(c.notes.as_deref(), Some("New notes"));
    }

    #[test]
    fn deleting_the_last_address_part_drops_the_address() {
        let mut c = parse_contact(&el(FULL)).expect("parses");
        let u = updates(
            r#"<t:DeleteItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:City" FieldIndex="Home"/></t:DeleteItemField>"#,
        );
        apply_contact_updates(&mut c, &u).expect("applies");
        assert_eq!(c.address(AddressKind::Home), None);
    }

    #[test]
    fn bad_input_is_an_error() {
        let bad = [
            r#"<t:Contact><t:PhoneNumbers><t:Entry Key="SatellitePhone">1</t:Entry></t:PhoneNumbers></t:Contact>"#,
            r#"<t:Contact><t:EmailAddresses><t:Entry Key="EmailAddress4">a@b</t:Entry></t:EmailAddresses></t:Contact>"#,
            r#"<t:Contact><t:EmailAddresses><t:Entry>a@b</t:Entry></t:EmailAddresses></t:Contact>"#,
            r#"<t:Contact><t:PhysicalAddresses><t:Entry Key="Work"/></t:PhysicalAddresses></t:Contact>"#,
            r#"<t:Contact><t:Birthday>next spring</t:Birthday></t:Contact>"#,
            r#"<t:Contact><t:Birthday>2024-13-01T00:00:00Z</t:Birthday></t:Contact>"#,
            r#"<t:Message/>"#,
        ];
        for b in bad {
            let e = parse_contact(&el(b)).expect_err(b);
            assert!(!e.is_empty());
        }
        let bad_updates = [
            r#"<t:SetItemField><t:FieldURI FieldURI="contacts:OfficeLocation"/><t:Contact><t:OfficeLocation>x</t:OfficeLocation></t:Contact></t:SetItemField>"#,
            r#"<t:SetItemField><t:FieldURI FieldURI="contacts:GivenName"/></t:SetItemField>"#,
            r#"<t:SetItemField><t:FieldURI FieldURI="contacts:GivenName"/><t:Contact/></t:SetItemField>"#,
            r#"<t:SetItemField><t:Contact/></t:SetItemField>"#,
            r#"<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress"/><t:Contact/></t:SetItemField>"#,
            r#"<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress9"/><t:Contact/></t:SetItemField>"#,
            r#"<t:SetItemField><t:IndexedFieldURI FieldURI="contacts:PhysicalAddress:Planet" FieldIndex="Home"/><t:Contact/></t:SetItemField>"#,
            r#"<t:AppendToItemField><t:FieldURI FieldURI="contacts:Surname"/><t:Contact><t:Surname>x</t:Surname></t:Contact></t:AppendToItemField>"#,
            r#"<t:SetItemField><t:ExtendedFieldURI PropertyTag="0x3a4e" PropertyType="String"/><t:Contact/></t:SetItemField>"#,
            r#"<t:DeleteItemField><t:FieldURI FieldURI="calendar:Start"/></t:DeleteItemField>"#,
            r#"<t:Frobnicate/>"#,
        ];
        for b in bad_updates {
            let mut c = Contact::default();
            let e = apply_contact_updates(&mut c, &updates(b)).expect_err(b);
            assert!(!e.is_empty());
        }
    }

    const DL: &str = r#"<t:DistributionList>
        <t:Body BodyType="Text">Team list</t:Body>
        <t:Categories><t:String>Work</t:String></t:Categories>
        <t:DisplayName>Team</t:DisplayName>
        <t:Members>
          <t:Member><t:Mailbox><t:Name>Bob</t:Name><t:EmailAddress>bob@example.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>OneOff</t:MailboxType></t:Mailbox></t:Member>
          <t:Member><t:Mailbox><t:Name>Jane</t:Name><t:EmailAddress>jane@example.com</t:EmailAddress><t:MailboxType>Contact</t:MailboxType><t:ItemId Id="ID-JANE"/></t:Mailbox></t:Member>
          <t:Member><t:Mailbox><t:EmailAddress>carol@example.com</t:EmailAddress></t:Mailbox></t:Member>
        </t:Members>
      </t:DistributionList>"#;

    fn resolve(id: &str) -> Option<String> {
        (id == "ID-JANE").then(|| "uid-jane".to_string())
    }

    fn lookup(uid: &str) -> Option<MemberInfo> {
        (uid == "uid-jane").then(|| MemberInfo {
            item_id: Some("ID-JANE".into()),
            name: Some("Jane".into()),
            email: Some("jane@example.com".into()),
        })
    }

    #[test]
    fn distribution_list_parse_render_round_trip() {
        let g = parse_distribution_list(&el(DL), &resolve).expect("parses");
        assert_eq!(g.display_name, "Team");
        assert_eq!(g.notes.as_deref(), Some("Team list"));
        assert_eq!(g.categories, ["Work"]);
        assert_eq!(
            g.members,
            [
                GroupMember::Email { address: "bob@example.com".into(), name: Some("Bob".into()) },
                GroupMember::Contact("uid-jane".into()),
                GroupMember::Email { address: "carol@example.com".into(), name: None },
            ]
        );
        let mut w = XmlWriter::new();
        w.start("w", &[("xmlns:t", T)]);
        write_distribution_list(&mut w, &g, &all(), &ids(), true, &lookup);
        let xml = w.finish();
        assert!(xml.contains("<t:ItemClass>IPM.DistList</t:ItemClass>"), "{xml}");
        let root = crate::ews::xml::parse(xml.as_bytes()).expect("rendered XML parses");
        assert_eq!(parse_distribution_list(&root.children[0], &resolve).expect("parses back"), g);
        // A contact member the store no longer knows is still listed.
        let mut w = XmlWriter::new();
        write_distribution_list(&mut w, &g, &all(), &ids(), true, &|_| None);
        assert!(w.finish().contains("<t:Name>uid-jane</t:Name><t:MailboxType>Contact</t:MailboxType></t:Mailbox><t:Status>Unrecognized</t:Status>"));
    }

    #[test]
    fn distribution_list_updates_and_errors() {
        let mut g = parse_distribution_list(&el(DL), &resolve).expect("parses");
        let u = updates(
            r#"<t:AppendToItemField><t:FieldURI FieldURI="distributionlist:Members"/><t:DistributionList><t:Members><t:Member><t:Mailbox><t:EmailAddress>dan@example.com</t:EmailAddress></t:Mailbox></t:Member></t:Members></t:DistributionList></t:AppendToItemField>
            <t:SetItemField><t:FieldURI FieldURI="contacts:DisplayName"/><t:DistributionList><t:DisplayName>Team 2</t:DisplayName></t:DistributionList></t:SetItemField>
            <t:DeleteItemField><t:FieldURI FieldURI="item:Body"/></t:DeleteItemField>"#,
        );
        apply_distribution_list_updates(&mut g, &u, &resolve).expect("applies");
        assert_eq!(g.members.len(), 4);
        assert_eq!(g.display_name, "Team 2");
        assert_eq!(g.notes, None);
        let u = updates(r#"<t:DeleteItemField><t:FieldURI FieldURI="distributionlist:Members"/></t:DeleteItemField>"#);
        apply_distribution_list_updates(&mut g, &u, &resolve).expect("applies");
        assert!(g.members.is_empty());
        let bad = el(
            r#"<t:DistributionList><t:Members><t:Member><t:Mailbox><t:Name>Ghost</t:Name><t:ItemId Id="gone"/></t:Mailbox></t:Member></t:Members></t:DistributionList>"#,
        );
        assert!(parse_distribution_list(&bad, &resolve).unwrap_err().contains("Ghost"));
        let bad = el(r#"<t:DistributionList><t:Members><t:Member/></t:Members></t:DistributionList>"#);
        assert!(parse_distribution_list(&bad, &resolve).is_err());
        let u = updates(
            r#"<t:SetItemField><t:FieldURI FieldURI="contacts:Surname"/><t:DistributionList/></t:SetItemField>"#,
        );
        assert!(apply_distribution_list_updates(&mut g, &u, &resolve).is_err());
    }
}
