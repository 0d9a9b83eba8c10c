//! Contacts and contact groups: EWS `ContactItemType` / `DistributionListType` (MS-OXWSCONT, MS-OXWSDLIST), MAPI
//! contact and personal distribution list objects (MS-OXOCNTC), and vCard 3.0 (RFC 2426) / 4.0 (RFC 6350) as the
//! DAV back-end reads and writes them (MS-OXVCARD).

use chrono::NaiveDate;

/// Which phone number (EWS `PhoneNumberKeyType`, MAPI PidTag*TelephoneNumber).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhoneKind {
    Business,
    Business2,
    BusinessFax,
    Home,
    Home2,
    HomeFax,
    Mobile,
    Pager,
    Car,
    Assistant,
    Callback,
    Company,
    Isdn,
    OtherFax,
    Radio,
    Telex,
    Tty,
    Primary,
    Other,
}

impl PhoneKind {
    pub const ALL: [PhoneKind; 19] = [
        PhoneKind::Business,
        PhoneKind::Business2,
        PhoneKind::BusinessFax,
        PhoneKind::Home,
        PhoneKind::Home2,
        PhoneKind::HomeFax,
        PhoneKind::Mobile,
        PhoneKind::Pager,
        PhoneKind::Car,
        PhoneKind::Assistant,
        PhoneKind::Callback,
        PhoneKind::Company,
        PhoneKind::Isdn,
        PhoneKind::OtherFax,
        PhoneKind::Radio,
        PhoneKind::Telex,
        PhoneKind::Tty,
        PhoneKind::Primary,
        PhoneKind::Other,
    ];

    /// The EWS `PhoneNumberKeyType` value.
    pub fn ews_key(self) -> &'static str {
        match self {
            PhoneKind::Business => "BusinessPhone",
            PhoneKind::Business2 => "BusinessPhone2",
            PhoneKind::BusinessFax => "BusinessFax",
            PhoneKind::Home => "HomePhone",
            PhoneKind::Home2 => "HomePhone2",
            PhoneKind::HomeFax => "HomeFax",
            PhoneKind::Mobile => "MobilePhone",
            PhoneKind::Pager => "Pager",
            PhoneKind::Car => "CarPhone",
            PhoneKind::Assistant => "AssistantPhone",
            PhoneKind::Callback => "Callback",
            PhoneKind::Company => "CompanyMainPhone",
            PhoneKind::Isdn => "Isdn",
            PhoneKind::OtherFax => "OtherFax",
            PhoneKind::Radio => "RadioPhone",
            PhoneKind::Telex => "Telex",
            PhoneKind::Tty => "TtyTddPhone",
            PhoneKind::Primary => "PrimaryPhone",
            PhoneKind::Other => "OtherTelephone",
        }
    }

    pub fn from_ews_key(key: &str) -> Option<PhoneKind> {
        PhoneKind::ALL.into_iter().find(|k| k.ews_key() == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    pub kind: PhoneKind,
    pub number: String,
}

/// Which postal address (EWS `PhysicalAddressKeyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKind {
    Business,
    Home,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PostalAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    /// Post office box (vCard ADR first component).
    pub po_box: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub kind: AddressKind,
    pub address: PostalAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Photo {
    /// MIME type (`image/jpeg`).
    pub media_type: String,
    pub data: Vec<u8>,
}

/// One e-mail slot. Exchange keeps three (EmailAddress1–3, MS-OXOCNTC 2.2.1.2); `emails[0]` is EmailAddress1.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email {
    pub address: String,
    /// The display name Outlook shows for the address (PidLidEmail1DisplayName).
    pub display_name: Option<String>,
}

/// The most e-mail addresses an Exchange contact holds.
pub const MAX_EMAILS: usize = 3;
/// The most instant-messaging addresses an Exchange contact holds.
pub const MAX_IM_ADDRESSES: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub uid: String,
    pub display_name: String,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub surname: Option<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    pub nickname: Option<String>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    /// In EmailAddress1–3 order.
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub addresses: Vec<Address>,
    pub birthday: Option<NaiveDate>,
    pub anniversary: Option<NaiveDate>,
    pub notes: Option<String>,
    pub categories: Vec<String>,
    pub photo: Option<Photo>,
    pub web_page: Option<String>,
    /// Instant-messaging addresses, as URIs (`xmpp:alice@example.test`); Exchange keeps three (ImAddress1–3).
    pub im_addresses: Vec<String>,
    /// EWS `Profession` (vCard ROLE).
    pub profession: Option<String>,
    /// EWS `SpouseName`.
    pub spouse_name: Option<String>,
    /// EWS `Manager` (a name, not a reference).
    pub manager: Option<String>,
    /// EWS `AssistantName`.
    pub assistant_name: Option<String>,
}

impl Contact {
    pub fn phone(&self, kind: PhoneKind) -> Option<&str> {
        self.phones.iter().find(|p| p.kind == kind).map(|p| p.number.as_str())
    }
    pub fn address(&self, kind: AddressKind) -> Option<&PostalAddress> {
        self.addresses.iter().find(|a| a.kind == kind).map(|a| &a.address)
    }
}

/// A member of a contact group: a vCard UID (`urn:uuid:...`) of another contact, or a plain address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupMember {
    /// Another contact in the address book, by its UID (without the `urn:uuid:` prefix).
    Contact(String),
    /// A one-off address (`mailto:`).
    Email { address: String, name: Option<String> },
}

/// A contact group (personal distribution list).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactGroup {
    pub uid: String,
    pub display_name: String,
    pub members: Vec<GroupMember>,
    pub notes: Option<String>,
    pub categories: Vec<String>,
}
