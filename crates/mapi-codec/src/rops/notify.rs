//! NotificationData of RopNotify (MS-OXCROPS 2.2.14.2, layout in MS-OXCNOTIF
//! 2.2.1.4.1.2): which fields are present follows from NotificationFlags
//! (the NotificationType in the low 12 bits and the T/U/S/M bits above) and,
//! for table notifications, from TableEventType.

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{ObjectId, PropTag};

/// NotificationFlags bits and NotificationType values (MS-OXCNOTIF 2.2.1.4.1.1).
pub mod notification_flags {
    pub const TYPE_MASK: u16 = 0x0FFF;
    pub const NEW_MAIL: u16 = 0x0002;
    pub const OBJECT_CREATED: u16 = 0x0004;
    pub const OBJECT_DELETED: u16 = 0x0008;
    pub const OBJECT_MODIFIED: u16 = 0x0010;
    pub const OBJECT_MOVED: u16 = 0x0020;
    pub const OBJECT_COPIED: u16 = 0x0040;
    pub const SEARCH_COMPLETE: u16 = 0x0080;
    pub const TABLE_MODIFIED: u16 = 0x0100;
    pub const EXTENDED: u16 = 0x0400;
    /// T: TotalMessageCount is present.
    pub const T: u16 = 0x1000;
    /// U: UnreadMessageCount is present.
    pub const U: u16 = 0x2000;
    /// S: the notification is about a search folder.
    pub const S: u16 = 0x4000;
    /// M: the notification is about a message (message ids are present).
    pub const M: u16 = 0x8000;
}

/// TableEventType values (MS-OXCNOTIF 2.2.1.4.1.2).
pub mod table_event {
    pub const TABLE_CHANGED: u16 = 0x0001;
    pub const TABLE_ROW_ADDED: u16 = 0x0003;
    pub const TABLE_ROW_DELETED: u16 = 0x0004;
    pub const TABLE_ROW_MODIFIED: u16 = 0x0005;
    pub const TABLE_RESTRICTION_CHANGED: u16 = 0x0007;
}

use notification_flags as nf;
use table_event as te;

/// The table-row part of a TableModified notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRowInfo {
    pub folder_id: ObjectId,
    /// TableRowMessageID and TableRowInstance, present with the M flag.
    pub message: Option<(ObjectId, u32)>,
}

/// The "insert after" part and row data of TableRowAdded / TableRowModified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRowInsert {
    pub insert_after_folder_id: ObjectId,
    /// InsertAfterTableRowID and InsertAfterTableRowInstance, present with the M flag.
    pub insert_after_message: Option<(ObjectId, u32)>,
    /// TableRowData: a PropertyRow over the table's columns, kept as bytes.
    pub row_data: Vec<u8>,
}

/// NotificationData (MS-OXCNOTIF 2.2.1.4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationData {
    pub flags: u16,
    pub table_event_type: Option<u16>,
    pub table_row: Option<TableRowInfo>,
    pub table_insert: Option<TableRowInsert>,
    pub folder_id: Option<ObjectId>,
    pub message_id: Option<ObjectId>,
    pub parent_folder_id: Option<ObjectId>,
    pub old_folder_id: Option<ObjectId>,
    pub old_message_id: Option<ObjectId>,
    pub old_parent_folder_id: Option<ObjectId>,
    /// TagCount and Tags of ObjectCreated / ObjectModified. `Some(None)` is a
    /// TagCount of 0xFFFF (all properties changed).
    pub tags: Option<Option<Vec<PropTag>>>,
    pub total_message_count: Option<u32>,
    pub unread_message_count: Option<u32>,
    /// NewMail: MessageFlags, then the message class (Unicode when `true`).
    pub new_mail: Option<(u32, NewMailClass)>,
}

/// The MessageClass of a NewMail notification, by UnicodeFlag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewMailClass {
    Unicode(String),
    String8(Vec<u8>),
}

struct Presence {
    table_event: bool,
    row: bool,
    row_message: bool,
    insert: bool,
    folder: bool,
    message: bool,
    parent: bool,
    old: bool,
    old_message: bool,
    old_parent: bool,
    tags: bool,
    new_mail: bool,
}

fn presence(flags: u16, event: Option<u16>) -> Presence {
    let t = flags & nf::TYPE_MASK;
    let m = flags & nf::M != 0;
    let table = t == nf::TABLE_MODIFIED;
    let ev = event.unwrap_or(0);
    let row = table && matches!(ev, te::TABLE_ROW_ADDED | te::TABLE_ROW_DELETED | te::TABLE_ROW_MODIFIED);
    let insert = table && matches!(ev, te::TABLE_ROW_ADDED | te::TABLE_ROW_MODIFIED);
    let object = !table && t != nf::EXTENDED;
    let moved = matches!(t, nf::OBJECT_MOVED | nf::OBJECT_COPIED);
    let ms = flags & (nf::M | nf::S);
    Presence {
        table_event: table,
        row,
        row_message: row && m,
        insert,
        folder: object,
        message: object && m,
        parent: matches!(t, nf::OBJECT_CREATED | nf::OBJECT_DELETED | nf::OBJECT_MOVED | nf::OBJECT_COPIED)
            && (ms == 0 || ms == nf::M | nf::S),
        old: moved,
        old_message: moved && m,
        old_parent: moved && !m,
        tags: matches!(t, nf::OBJECT_CREATED | nf::OBJECT_MODIFIED),
        new_mail: t == nf::NEW_MAIL,
    }
}

fn opt_id(r: &mut Reader, present: bool) -> Result<Option<ObjectId>> {
    if present { Ok(Some(ObjectId::decode(r)?)) } else { Ok(None) }
}

impl NotificationData {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let flags = r.u16()?;
        let table_event_type = if flags & nf::TYPE_MASK == nf::TABLE_MODIFIED { Some(r.u16()?) } else { None };
        let p = presence(flags, table_event_type);
        let table_row = if p.row {
            let folder_id = ObjectId::decode(r)?;
            let message = if p.row_message { Some((ObjectId::decode(r)?, r.u32()?)) } else { None };
            Some(TableRowInfo { folder_id, message })
        } else {
            None
        };
        let table_insert = if p.insert {
            let insert_after_folder_id = ObjectId::decode(r)?;
            let insert_after_message = if p.row_message { Some((ObjectId::decode(r)?, r.u32()?)) } else { None };
            let n = r.u16()? as usize;
            Some(TableRowInsert { insert_after_folder_id, insert_after_message, row_data: r.bytes(n)?.to_vec() })
        } else {
            None
        };
        let folder_id = opt_id(r, p.folder)?;
        let message_id = opt_id(r, p.message)?;
        let parent_folder_id = opt_id(r, p.parent)?;
        let old_folder_id = opt_id(r, p.old)?;
        let old_message_id = opt_id(r, p.old_message)?;
        let old_parent_folder_id = opt_id(r, p.old_parent)?;
        let tags = if p.tags {
            let n = r.u16()?;
            if n == 0xFFFF { Some(None) } else { Some(Some(crate::oxcdata::decode_tags(r, n as usize)?)) }
        } else {
            None
        };
        let total_message_count = if flags & nf::T != 0 { Some(r.u32()?) } else { None };
        let unread_message_count = if flags & nf::U != 0 { Some(r.u32()?) } else { None };
        let new_mail = if p.new_mail {
            let message_flags = r.u32()?;
            let class = if r.bool8()? { NewMailClass::Unicode(r.utf16z()?) } else { NewMailClass::String8(r.str8z()?) };
            Some((message_flags, class))
        } else {
            None
        };
        Ok(NotificationData {
            flags,
            table_event_type,
            table_row,
            table_insert,
            folder_id,
            message_id,
            parent_folder_id,
            old_folder_id,
            old_message_id,
            old_parent_folder_id,
            tags,
            total_message_count,
            unread_message_count,
            new_mail,
        })
    }

    /// Encodes the structure; every optional field must be present exactly
    /// when the flags (and TableEventType) call for it.
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        let p = presence(self.flags, self.table_event_type);
        let bad = |what: &'static str| Error::Invalid { what, value: self.flags as u64 };
        let ok = self.table_event_type.is_some() == p.table_event
            && self.table_row.is_some() == p.row
            && self.table_row.as_ref().is_none_or(|t| t.message.is_some() == p.row_message)
            && self.table_insert.is_some() == p.insert
            && self.table_insert.as_ref().is_none_or(|t| t.insert_after_message.is_some() == p.row_message)
            && self.folder_id.is_some() == p.folder
            && self.message_id.is_some() == p.message
            && self.parent_folder_id.is_some() == p.parent
            && self.old_folder_id.is_some() == p.old
            && self.old_message_id.is_some() == p.old_message
            && self.old_parent_folder_id.is_some() == p.old_parent
            && self.tags.is_some() == p.tags
            && self.total_message_count.is_some() == (self.flags & nf::T != 0)
            && self.unread_message_count.is_some() == (self.flags & nf::U != 0)
            && self.new_mail.is_some() == p.new_mail;
        if !ok {
            return Err(bad("NotificationData fields disagree with NotificationFlags"));
        }
        w.u16(self.flags);
        if let Some(e) = self.table_event_type {
            w.u16(e);
        }
        if let Some(t) = &self.table_row {
            t.folder_id.encode(w);
            if let Some((m, i)) = &t.message {
                m.encode(w);
                w.u32(*i);
            }
        }
        if let Some(t) = &self.table_insert {
            t.insert_after_folder_id.encode(w);
            if let Some((m, i)) = &t.insert_after_message {
                m.encode(w);
                w.u32(*i);
            }
            w.len16(t.row_data.len(), "TableRowDataSize")?;
            w.bytes(&t.row_data);
        }
        for id in [
            &self.folder_id,
            &self.message_id,
            &self.parent_folder_id,
            &self.old_folder_id,
            &self.old_message_id,
            &self.old_parent_folder_id,
        ]
        .into_iter()
        .flatten()
        {
            id.encode(w);
        }
        match &self.tags {
            Some(None) => w.u16(0xFFFF),
            Some(Some(tags)) => {
                if tags.len() >= 0xFFFF {
                    return Err(Error::EncodeOverflow { what: "TagCount", len: tags.len() });
                }
                w.u16(tags.len() as u16);
                tags.iter().for_each(|t| t.encode(w));
            }
            None => {}
        }
        if let Some(n) = self.total_message_count {
            w.u32(n);
        }
        if let Some(n) = self.unread_message_count {
            w.u32(n);
        }
        if let Some((message_flags, class)) = &self.new_mail {
            w.u32(*message_flags);
            match class {
                NewMailClass::Unicode(s) => {
                    w.u8(1);
                    w.utf16z(s);
                }
                NewMailClass::String8(s) => {
                    w.u8(0);
                    w.str8z(s);
                }
            }
        }
        Ok(())
    }

    /// A NewMail notification for message `mid` in folder `fid`.
    pub fn new_mail(fid: ObjectId, mid: ObjectId, message_flags: u32, message_class: &str) -> Self {
        NotificationData {
            flags: nf::NEW_MAIL | nf::M,
            table_event_type: None,
            table_row: None,
            table_insert: None,
            folder_id: Some(fid),
            message_id: Some(mid),
            parent_folder_id: None,
            old_folder_id: None,
            old_message_id: None,
            old_parent_folder_id: None,
            tags: None,
            total_message_count: None,
            unread_message_count: None,
            new_mail: Some((message_flags, NewMailClass::Unicode(message_class.to_owned()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_mail_layout() {
        let n = NotificationData::new_mail(ObjectId::new(1, 2), ObjectId::new(1, 3), 0, "IPM.Note");
        let mut w = Writer::new();
        n.encode(&mut w).unwrap();
        let b = w.into_vec();
        assert_eq!(&b[..2], &[0x02, 0x80]);
        assert_eq!(b.len(), 2 + 8 + 8 + 4 + 1 + 18);
        assert_eq!(NotificationData::decode(&mut Reader::new(&b)).unwrap(), n);
    }

    #[test]
    fn table_row_added_layout() {
        let b = {
            let mut w = Writer::new();
            w.u16(nf::TABLE_MODIFIED | nf::M);
            w.u16(te::TABLE_ROW_ADDED);
            for _ in 0..2 {
                ObjectId::new(1, 1).encode(&mut w);
                ObjectId::new(1, 9).encode(&mut w);
                w.u32(0);
            }
            w.u16(3);
            w.bytes(&[0, 1, 2]);
            w.into_vec()
        };
        let n = NotificationData::decode(&mut Reader::new(&b)).unwrap();
        assert_eq!(n.table_insert.as_ref().unwrap().row_data, vec![0, 1, 2]);
        let mut w = Writer::new();
        n.encode(&mut w).unwrap();
        assert_eq!(w.into_vec(), b);
    }
}
