//! ROP request structures (MS-OXCROPS 2.2.3 – 2.2.15). Each struct holds every
//! field after RopId, in wire order; [`super::RopRequest`] dispatches on RopId.

use super::RopContext;
use super::codec::wire_struct;
use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{Guid, LongTermId, ObjectId, PropTag, TaggedPropertyValue};

wire_struct! {
    /// MS-OXCROPS 2.2.15.3.1 RopRelease request (also the shape of every ROP
    /// request that carries only LogonId and InputHandleIndex).
    Basic { logon_id: u8 => u8, input_handle_index: u8 => u8 }
}

wire_struct! {
    /// Request shape: LogonId, InputHandleIndex, OutputHandleIndex (e.g. MS-OXCROPS
    /// 2.2.6.13.1 RopCreateAttachment, 2.2.9.13.1 RopCloneStream, 2.2.13.8.1 RopSynchronizationGetTransferState).
    BasicOut { logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8 }
}

/// MS-OXCROPS 2.2.3.1.1 RopLogon request.
#[derive(Debug, Clone, PartialEq)]
pub struct Logon {
    pub logon_id: u8,
    pub output_handle_index: u8,
    /// MS-OXCSTOR 2.2.1.1.1: 0x01 Private, 0x02 Undercover, 0x04 Ghosted, 0x08 SpoolerProcess.
    pub logon_flags: u8,
    pub open_flags: u32,
    pub store_state: u32,
    /// The ESSDN of the mailbox (private logon) or empty; EssdnSize counts the terminator.
    pub essdn: Option<String>,
}

impl Logon {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let output_handle_index = r.u8()?;
        let logon_flags = r.u8()?;
        let open_flags = r.u32()?;
        let store_state = r.u32()?;
        let size = r.u16()? as usize;
        let essdn = if size == 0 {
            None
        } else {
            let mut sub = r.sub(size)?;
            let s = sub.asciiz()?;
            sub.finish()?;
            Some(s)
        };
        Ok(Logon { logon_id, output_handle_index, logon_flags, open_flags, store_state, essdn })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.output_handle_index);
        w.u8(self.logon_flags);
        w.u32(self.open_flags);
        w.u32(self.store_state);
        match &self.essdn {
            None => w.u16(0),
            Some(s) => {
                w.len16(s.len() + 1, "Essdn")?;
                super::codec::asciiz::enc(s, w)?;
            }
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.3.2.1 RopGetReceiveFolder request.
    GetReceiveFolder { logon_id: u8 => u8, input_handle_index: u8 => u8, message_class: String => asciiz }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.3.1 RopSetReceiveFolder request.
    SetReceiveFolder { logon_id: u8 => u8, input_handle_index: u8 => u8, folder_id: ObjectId => oid, message_class: String => asciiz }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.6.1 RopGetOwningServers request (also 2.2.3.7.1 RopPublicFolderIsGhosted).
    FolderIdRequest { logon_id: u8 => u8, input_handle_index: u8 => u8, folder_id: ObjectId => oid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.8.1 RopLongTermIdFromId request.
    LongTermIdFromId { logon_id: u8 => u8, input_handle_index: u8 => u8, object_id: ObjectId => oid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.9.1 RopIdFromLongTermId request.
    IdFromLongTermId { logon_id: u8 => u8, input_handle_index: u8 => u8, long_term_id: LongTermId => ltid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.10.1 RopGetPerUserLongTermIds request.
    GetPerUserLongTermIds { logon_id: u8 => u8, input_handle_index: u8 => u8, database_guid: Guid => guid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.11.1 RopGetPerUserGuid request.
    GetPerUserGuid { logon_id: u8 => u8, input_handle_index: u8 => u8, long_term_id: LongTermId => ltid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.3.12.1 RopReadPerUserInformation request.
    ReadPerUserInformation {
        logon_id: u8 => u8, input_handle_index: u8 => u8, folder_id: LongTermId => ltid,
        reserved: u8 => u8, data_offset: u32 => u32, max_data_size: u16 => u16,
    }
}

/// MS-OXCROPS 2.2.3.13.1 RopWritePerUserInformation request. ReplGuid is
/// present only when DataOffset is 0 and the logon is a private mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct WritePerUserInformation {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub folder_id: LongTermId,
    pub has_finished: bool,
    pub data_offset: u32,
    pub data: Vec<u8>,
    pub repl_guid: Option<Guid>,
}

impl WritePerUserInformation {
    pub fn decode_ctx(r: &mut Reader, ctx: &RopContext) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let folder_id = LongTermId::decode(r)?;
        let has_finished = r.bool8()?;
        let data_offset = r.u32()?;
        let n = r.u16()? as usize;
        let data = r.bytes(n)?.to_vec();
        let repl_guid = if data_offset == 0 && !ctx.is_public(logon_id) { Some(Guid(r.array()?)) } else { None };
        Ok(WritePerUserInformation {
            logon_id,
            input_handle_index,
            folder_id,
            has_finished,
            data_offset,
            data,
            repl_guid,
        })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        self.folder_id.encode(w);
        w.bool8(self.has_finished);
        w.u32(self.data_offset);
        w.len16(self.data.len(), "DataSize")?;
        w.bytes(&self.data);
        if let Some(g) = &self.repl_guid {
            w.bytes(&g.0);
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.4.1.1 RopOpenFolder request.
    OpenFolder {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        folder_id: ObjectId => oid, open_mode_flags: u8 => u8,
    }
}

/// A folder name whose encoding is chosen by a UseUnicode flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlaggedString {
    Unicode(String),
    String8(Vec<u8>),
}

impl FlaggedString {
    fn decode(r: &mut Reader, unicode: bool) -> Result<Self> {
        Ok(if unicode { FlaggedString::Unicode(r.utf16z()?) } else { FlaggedString::String8(r.str8z()?) })
    }
    fn encode(&self, w: &mut Writer) {
        match self {
            FlaggedString::Unicode(s) => w.utf16z(s),
            FlaggedString::String8(s) => w.str8z(s),
        }
    }
    fn is_unicode(&self) -> bool {
        matches!(self, FlaggedString::Unicode(_))
    }
}

/// MS-OXCROPS 2.2.4.2.1 RopCreateFolder request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateFolder {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub output_handle_index: u8,
    pub folder_type: u8,
    pub open_existing: bool,
    pub reserved: u8,
    /// Both strings use the encoding of `display_name` (UseUnicodeStrings).
    pub display_name: FlaggedString,
    pub comment: FlaggedString,
}

impl CreateFolder {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let output_handle_index = r.u8()?;
        let folder_type = r.u8()?;
        let unicode = r.bool8()?;
        let open_existing = r.bool8()?;
        let reserved = r.u8()?;
        let display_name = FlaggedString::decode(r, unicode)?;
        let comment = FlaggedString::decode(r, unicode)?;
        Ok(CreateFolder {
            logon_id,
            input_handle_index,
            output_handle_index,
            folder_type,
            open_existing,
            reserved,
            display_name,
            comment,
        })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        if self.display_name.is_unicode() != self.comment.is_unicode() {
            return Err(Error::Invalid { what: "CreateFolder string encodings differ", value: 0 });
        }
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u8(self.output_handle_index);
        w.u8(self.folder_type);
        w.bool8(self.display_name.is_unicode());
        w.bool8(self.open_existing);
        w.u8(self.reserved);
        self.display_name.encode(w);
        self.comment.encode(w);
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.4.3.1 RopDeleteFolder request.
    DeleteFolder { logon_id: u8 => u8, input_handle_index: u8 => u8, delete_folder_flags: u8 => u8, folder_id: ObjectId => oid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.4.4.1 RopSetSearchCriteria request.
    SetSearchCriteria {
        logon_id: u8 => u8, input_handle_index: u8 => u8, restriction: Option<crate::oxcdata::Restriction> => restriction16,
        folder_ids: Vec<ObjectId> => oids16, search_flags: u32 => u32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.4.5.1 RopGetSearchCriteria request.
    GetSearchCriteria {
        logon_id: u8 => u8, input_handle_index: u8 => u8, use_unicode: bool => bool8,
        include_restriction: bool => bool8, include_folders: bool => bool8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.4.6.1 RopMoveCopyMessages request.
    MoveCopyMessages {
        logon_id: u8 => u8, source_handle_index: u8 => u8, dest_handle_index: u8 => u8,
        message_ids: Vec<ObjectId> => oids16, want_asynchronous: bool => bool8, want_copy: bool => bool8,
    }
}

/// MS-OXCROPS 2.2.4.7.1 RopMoveFolder request and 2.2.4.8.1 RopCopyFolder
/// request (`want_recursive` is present only for RopCopyFolder).
#[derive(Debug, Clone, PartialEq)]
pub struct MoveCopyFolder {
    pub logon_id: u8,
    pub source_handle_index: u8,
    pub dest_handle_index: u8,
    pub want_asynchronous: bool,
    pub want_recursive: Option<bool>,
    pub folder_id: ObjectId,
    pub new_folder_name: FlaggedString,
}

impl MoveCopyFolder {
    fn decode_inner(r: &mut Reader, copy: bool) -> Result<Self> {
        let logon_id = r.u8()?;
        let source_handle_index = r.u8()?;
        let dest_handle_index = r.u8()?;
        let want_asynchronous = r.bool8()?;
        let want_recursive = if copy { Some(r.bool8()?) } else { None };
        let unicode = r.bool8()?;
        let folder_id = ObjectId::decode(r)?;
        let new_folder_name = FlaggedString::decode(r, unicode)?;
        Ok(MoveCopyFolder {
            logon_id,
            source_handle_index,
            dest_handle_index,
            want_asynchronous,
            want_recursive,
            folder_id,
            new_folder_name,
        })
    }
    pub fn decode_move(r: &mut Reader) -> Result<Self> {
        Self::decode_inner(r, false)
    }
    pub fn decode_copy(r: &mut Reader) -> Result<Self> {
        Self::decode_inner(r, true)
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.source_handle_index);
        w.u8(self.dest_handle_index);
        w.bool8(self.want_asynchronous);
        if let Some(x) = self.want_recursive {
            w.bool8(x);
        }
        w.bool8(self.new_folder_name.is_unicode());
        self.folder_id.encode(w);
        self.new_folder_name.encode(w);
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.4.9.1 RopEmptyFolder request (also 2.2.4.10.1 RopHardDeleteMessagesAndSubfolders).
    EmptyFolder { logon_id: u8 => u8, input_handle_index: u8 => u8, want_asynchronous: bool => bool8, want_delete_associated: bool => bool8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.4.11.1 RopDeleteMessages request (also 2.2.4.12.1 RopHardDeleteMessages).
    DeleteMessages {
        logon_id: u8 => u8, input_handle_index: u8 => u8, want_asynchronous: bool => bool8,
        notify_non_read: bool => bool8, message_ids: Vec<ObjectId> => oids16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.4.13.1 RopGetHierarchyTable / 2.2.4.14.1 RopGetContentsTable request
    /// (also the shape of RopGetAttachmentTable, RopGetPermissionsTable, RopGetRulesTable).
    GetTable { logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, table_flags: u8 => u8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.1.1 RopSetColumns request.
    SetColumns { logon_id: u8 => u8, input_handle_index: u8 => u8, set_columns_flags: u8 => u8, property_tags: Vec<PropTag> => tags16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.2.1 RopSortTable request.
    SortTable {
        logon_id: u8 => u8, input_handle_index: u8 => u8, sort_table_flags: u8 => u8,
        sort_order_set: crate::oxcdata::SortOrderSet => sort_orders,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.3.1 RopRestrict request.
    Restrict {
        logon_id: u8 => u8, input_handle_index: u8 => u8, restrict_flags: u8 => u8,
        restriction: Option<crate::oxcdata::Restriction> => restriction16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.4.1 RopQueryRows request.
    QueryRows {
        logon_id: u8 => u8, input_handle_index: u8 => u8, query_rows_flags: u8 => u8,
        forward_read: bool => bool8, row_count: u16 => u16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.8.1 RopSeekRow request.
    SeekRow {
        logon_id: u8 => u8, input_handle_index: u8 => u8, origin: u8 => u8,
        row_count: i32 => i32, want_row_moved_count: bool => bool8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.9.1 RopSeekRowBookmark request.
    SeekRowBookmark {
        logon_id: u8 => u8, input_handle_index: u8 => u8, bookmark: Vec<u8> => bytes16,
        row_count: i32 => i32, want_row_moved_count: bool => bool8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.10.1 RopSeekRowFractional request.
    SeekRowFractional { logon_id: u8 => u8, input_handle_index: u8 => u8, numerator: u32 => u32, denominator: u32 => u32 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.13.1 RopFindRow request.
    FindRow {
        logon_id: u8 => u8, input_handle_index: u8 => u8, find_row_flags: u8 => u8,
        restriction: Option<crate::oxcdata::Restriction> => restriction16, origin: u8 => u8, bookmark: Vec<u8> => bytes16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.14.1 RopFreeBookmark request.
    FreeBookmark { logon_id: u8 => u8, input_handle_index: u8 => u8, bookmark: Vec<u8> => bytes16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.16.1 RopExpandRow request.
    ExpandRow { logon_id: u8 => u8, input_handle_index: u8 => u8, max_row_count: u16 => u16, category_id: u64 => u64 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.17.1 RopCollapseRow request.
    CollapseRow { logon_id: u8 => u8, input_handle_index: u8 => u8, category_id: u64 => u64 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.18.1 RopGetCollapseState request.
    GetCollapseState { logon_id: u8 => u8, input_handle_index: u8 => u8, row_id: u64 => u64, row_instance_number: u32 => u32 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.5.19.1 RopSetCollapseState request.
    SetCollapseState { logon_id: u8 => u8, input_handle_index: u8 => u8, collapse_state: Vec<u8> => bytes16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.1.1 RopOpenMessage request.
    OpenMessage {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, code_page_id: u16 => u16,
        folder_id: ObjectId => oid, open_mode_flags: u8 => u8, message_id: ObjectId => oid,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.2.1 RopCreateMessage request.
    CreateMessage {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, code_page_id: u16 => u16,
        folder_id: ObjectId => oid, associated_flag: bool => bool8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.3.1 RopSaveChangesMessage request (also 2.2.6.15.1 RopSaveChangesAttachment).
    SaveChanges { logon_id: u8 => u8, response_handle_index: u8 => u8, input_handle_index: u8 => u8, save_flags: u8 => u8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.4.1 RopRemoveAllRecipients request.
    RemoveAllRecipients { logon_id: u8 => u8, input_handle_index: u8 => u8, reserved: u32 => u32 }
}

/// ModifyRecipientRow (MS-OXCROPS 2.2.6.5.1.1). The RecipientRow (MS-OXCDATA 2.8.3) is kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyRecipientRow {
    pub row_id: u32,
    pub recipient_type: u8,
    pub recipient_row: Vec<u8>,
}

impl ModifyRecipientRow {
    /// Parses `recipient_row` against the RecipientColumns of the request.
    pub fn row(&self, columns: &[PropTag]) -> Result<crate::oxcdata::RecipientRow> {
        crate::oxcdata::RecipientRow::from_bytes(&self.recipient_row, columns)
    }
}

/// MS-OXCROPS 2.2.6.5.1 RopModifyRecipients request.
#[derive(Debug, Clone, PartialEq)]
pub struct ModifyRecipients {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub recipient_columns: Vec<PropTag>,
    pub rows: Vec<ModifyRecipientRow>,
}

impl ModifyRecipients {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let recipient_columns = super::codec::tags16::dec(r)?;
        let n = r.u16()? as usize;
        r.check_count("ModifyRecipientRow", n, 7)?;
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let row_id = r.u32()?;
            let recipient_type = r.u8()?;
            let size = r.u16()? as usize;
            rows.push(ModifyRecipientRow { row_id, recipient_type, recipient_row: r.bytes(size)?.to_vec() });
        }
        Ok(ModifyRecipients { logon_id, input_handle_index, recipient_columns, rows })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        super::codec::tags16::enc(&self.recipient_columns, w)?;
        w.len16(self.rows.len(), "RowCount")?;
        for row in &self.rows {
            w.u32(row.row_id);
            w.u8(row.recipient_type);
            w.len16(row.recipient_row.len(), "RecipientRowSize")?;
            w.bytes(&row.recipient_row);
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.6.6.1 RopReadRecipients request.
    ReadRecipients { logon_id: u8 => u8, input_handle_index: u8 => u8, row_id: u32 => u32, reserved: u16 => u16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.7.1 RopReloadCachedInformation request.
    ReloadCachedInformation { logon_id: u8 => u8, input_handle_index: u8 => u8, reserved: u16 => u16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.8.1 RopSetMessageStatus request.
    SetMessageStatus {
        logon_id: u8 => u8, input_handle_index: u8 => u8, message_id: ObjectId => oid,
        message_status_flags: u32 => u32, message_status_mask: u32 => u32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.9.1 RopGetMessageStatus request.
    GetMessageStatus { logon_id: u8 => u8, input_handle_index: u8 => u8, message_id: ObjectId => oid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.10.1 RopSetReadFlags request.
    SetReadFlags {
        logon_id: u8 => u8, input_handle_index: u8 => u8, want_asynchronous: bool => bool8,
        read_flags: u8 => u8, message_ids: Vec<ObjectId> => oids16,
    }
}

/// MS-OXCROPS 2.2.6.11.1 RopSetMessageReadFlag request. ClientData is present
/// only when the logon is a public-folder logon.
#[derive(Debug, Clone, PartialEq)]
pub struct SetMessageReadFlag {
    pub logon_id: u8,
    pub response_handle_index: u8,
    pub input_handle_index: u8,
    pub read_flags: u8,
    pub client_data: Option<[u8; 24]>,
}

impl SetMessageReadFlag {
    pub fn decode_ctx(r: &mut Reader, ctx: &RopContext) -> Result<Self> {
        let logon_id = r.u8()?;
        let response_handle_index = r.u8()?;
        let input_handle_index = r.u8()?;
        let read_flags = r.u8()?;
        let client_data = if ctx.is_public(logon_id) { Some(r.array()?) } else { None };
        Ok(SetMessageReadFlag { logon_id, response_handle_index, input_handle_index, read_flags, client_data })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.response_handle_index);
        w.u8(self.input_handle_index);
        w.u8(self.read_flags);
        if let Some(c) = &self.client_data {
            w.bytes(c);
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.6.12.1 RopOpenAttachment request.
    OpenAttachment {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        open_attachment_flags: u8 => u8, attachment_id: u32 => u32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.14.1 RopDeleteAttachment request.
    DeleteAttachment { logon_id: u8 => u8, input_handle_index: u8 => u8, attachment_id: u32 => u32 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.6.16.1 RopOpenEmbeddedMessage request.
    OpenEmbeddedMessage {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        code_page_id: u16 => u16, open_mode_flags: u8 => u8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.7.1.1 RopSubmitMessage request.
    SubmitMessage { logon_id: u8 => u8, input_handle_index: u8 => u8, submit_flags: u8 => u8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.7.2.1 RopAbortSubmit request.
    AbortSubmit { logon_id: u8 => u8, input_handle_index: u8 => u8, folder_id: ObjectId => oid, message_id: ObjectId => oid }
}
wire_struct! {
    /// MS-OXCROPS 2.2.7.5.1 RopSpoolerLockMessage request.
    SpoolerLockMessage { logon_id: u8 => u8, input_handle_index: u8 => u8, message_id: ObjectId => oid, lock_state: u8 => u8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.7.7.1 RopTransportNewMail request.
    TransportNewMail {
        logon_id: u8 => u8, input_handle_index: u8 => u8, message_id: ObjectId => oid,
        folder_id: ObjectId => oid, message_class: String => asciiz, message_flags: u32 => u32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.7.9.1 RopOptionsData request.
    OptionsData { logon_id: u8 => u8, input_handle_index: u8 => u8, address_type: String => asciiz, want_win32: bool => bool8 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.3.1 RopGetPropertiesSpecific request.
    GetPropertiesSpecific {
        logon_id: u8 => u8, input_handle_index: u8 => u8, property_size_limit: u16 => u16,
        want_unicode: u16 => u16, property_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.4.1 RopGetPropertiesAll request.
    GetPropertiesAll { logon_id: u8 => u8, input_handle_index: u8 => u8, property_size_limit: u16 => u16, want_unicode: u16 => u16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.6.1 RopSetProperties request (also 2.2.8.7.1 RopSetPropertiesNoReplicate).
    SetProperties { logon_id: u8 => u8, input_handle_index: u8 => u8, property_values: Vec<TaggedPropertyValue> => sized_values16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.8.1 RopDeleteProperties request (also 2.2.8.9.1 RopDeletePropertiesNoReplicate).
    DeleteProperties { logon_id: u8 => u8, input_handle_index: u8 => u8, property_tags: Vec<PropTag> => tags16 }
}

/// MS-OXCROPS 2.2.8.10.1 RopQueryNamedProperties request.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryNamedProperties {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub query_flags: u8,
    pub property_guid: Option<Guid>,
}

impl QueryNamedProperties {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let query_flags = r.u8()?;
        let has = r.bool8()?;
        let property_guid = if has { Some(Guid(r.array()?)) } else { None };
        Ok(QueryNamedProperties { logon_id, input_handle_index, query_flags, property_guid })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u8(self.query_flags);
        w.bool8(self.property_guid.is_some());
        if let Some(g) = &self.property_guid {
            w.bytes(&g.0);
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.8.11.1 RopCopyProperties request.
    CopyProperties {
        logon_id: u8 => u8, source_handle_index: u8 => u8, dest_handle_index: u8 => u8,
        want_asynchronous: bool => bool8, copy_flags: u8 => u8, property_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.12.1 RopCopyTo request.
    CopyTo {
        logon_id: u8 => u8, source_handle_index: u8 => u8, dest_handle_index: u8 => u8,
        want_asynchronous: bool => bool8, want_sub_objects: bool => bool8, copy_flags: u8 => u8,
        excluded_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.1.1 RopGetPropertyIdsFromNames request.
    GetPropertyIdsFromNames {
        logon_id: u8 => u8, input_handle_index: u8 => u8, flags: u8 => u8,
        property_names: Vec<crate::oxcdata::PropertyName> => names16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.8.2.1 RopGetNamesFromPropertyIds request.
    GetNamesFromPropertyIds { logon_id: u8 => u8, input_handle_index: u8 => u8, property_ids: Vec<u16> => prop_ids16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.9.1.1 RopOpenStream request.
    OpenStream {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        property_tag: PropTag => tag, open_mode_flags: u8 => u8,
    }
}

/// MS-OXCROPS 2.2.9.2.1 RopReadStream request: ByteCount, then MaximumByteCount
/// (4 bytes) only when ByteCount is 0xBABE.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadStream {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub byte_count: u16,
    pub maximum_byte_count: Option<u32>,
}

impl ReadStream {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let byte_count = r.u16()?;
        let maximum_byte_count = if byte_count == 0xBABE { Some(r.u32()?) } else { None };
        Ok(ReadStream { logon_id, input_handle_index, byte_count, maximum_byte_count })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u16(self.byte_count);
        if self.byte_count == 0xBABE {
            w.u32(self.maximum_byte_count.unwrap_or(0));
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.9.3.1 RopWriteStream request (also 2.2.9.4.1 RopWriteStreamExtended and 2.2.9.12.1 RopWriteAndCommitStream).
    WriteStream { logon_id: u8 => u8, input_handle_index: u8 => u8, data: Vec<u8> => bytes16 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.9.7.1 RopSetStreamSize request.
    SetStreamSize { logon_id: u8 => u8, input_handle_index: u8 => u8, stream_size: u64 => u64 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.9.8.1 RopSeekStream request.
    SeekStream { logon_id: u8 => u8, input_handle_index: u8 => u8, origin: u8 => u8, offset: u64 => u64 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.9.9.1 RopCopyToStream request.
    CopyToStream { logon_id: u8 => u8, source_handle_index: u8 => u8, dest_handle_index: u8 => u8, byte_count: u64 => u64 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.9.10.1 RopLockRegionStream request (also 2.2.9.11.1 RopUnlockRegionStream).
    LockRegionStream {
        logon_id: u8 => u8, input_handle_index: u8 => u8, region_offset: u64 => u64,
        region_size: u64 => u64, lock_flags: u32 => u32,
    }
}

/// PermissionData / RuleData (MS-OXCROPS 2.2.10.1.1.1, 2.2.11.1.1.1): flags + values.
#[derive(Debug, Clone, PartialEq)]
pub struct FlaggedValues {
    pub flags: u8,
    pub property_values: Vec<TaggedPropertyValue>,
}

/// MS-OXCROPS 2.2.10.1.1 RopModifyPermissions and 2.2.11.1.1 RopModifyRules requests.
#[derive(Debug, Clone, PartialEq)]
pub struct ModifyTable {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub modify_flags: u8,
    pub data: Vec<FlaggedValues>,
}

impl ModifyTable {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let modify_flags = r.u8()?;
        let n = r.u16()? as usize;
        r.check_count("ModifyCount", n, 3)?;
        let mut data = Vec::with_capacity(n);
        for _ in 0..n {
            let flags = r.u8()?;
            data.push(FlaggedValues { flags, property_values: super::codec::values16::dec(r)? });
        }
        Ok(ModifyTable { logon_id, input_handle_index, modify_flags, data })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u8(self.modify_flags);
        w.len16(self.data.len(), "ModifyCount")?;
        for d in &self.data {
            w.u8(d.flags);
            super::codec::values16::enc(&d.property_values, w)?;
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.11.3.1 RopUpdateDeferredActionMessages request.
    UpdateDeferredActionMessages {
        logon_id: u8 => u8, input_handle_index: u8 => u8, server_entry_id: Vec<u8> => bytes16, client_entry_id: Vec<u8> => bytes16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.1.1 RopFastTransferDestinationConfigure request.
    FastTransferDestinationConfigure {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        source_operation: u8 => u8, copy_flags: u8 => u8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.2.1 RopFastTransferDestinationPutBuffer request (also 2.2.12.3.1 RopFastTransferDestinationPutBufferExtended).
    FastTransferDestinationPutBuffer { logon_id: u8 => u8, input_handle_index: u8 => u8, transfer_data: Vec<u8> => bytes16 }
}

/// MS-OXCROPS 2.2.12.4.1 RopFastTransferSourceGetBuffer request: BufferSize,
/// then MaximumBufferSize (2 bytes) only when BufferSize is 0xBABE.
#[derive(Debug, Clone, PartialEq)]
pub struct FastTransferSourceGetBuffer {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub buffer_size: u16,
    pub maximum_buffer_size: Option<u16>,
}

impl FastTransferSourceGetBuffer {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let buffer_size = r.u16()?;
        let maximum_buffer_size = if buffer_size == 0xBABE { Some(r.u16()?) } else { None };
        Ok(FastTransferSourceGetBuffer { logon_id, input_handle_index, buffer_size, maximum_buffer_size })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u16(self.buffer_size);
        if self.buffer_size == 0xBABE {
            w.u16(self.maximum_buffer_size.unwrap_or(0));
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.12.5.1 RopFastTransferSourceCopyFolder request.
    FastTransferSourceCopyFolder {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        copy_flags: u8 => u8, send_options: u8 => u8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.6.1 RopFastTransferSourceCopyMessages request.
    FastTransferSourceCopyMessages {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        message_ids: Vec<ObjectId> => oids16, copy_flags: u8 => u8, send_options: u8 => u8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.7.1 RopFastTransferSourceCopyTo request.
    FastTransferSourceCopyTo {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, level: u8 => u8,
        copy_flags: u32 => u32, send_options: u8 => u8, property_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.8.1 RopFastTransferSourceCopyProperties request.
    FastTransferSourceCopyProperties {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, level: u8 => u8,
        copy_flags: u8 => u8, send_options: u8 => u8, property_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.12.9.1 RopTellVersion request.
    TellVersion { logon_id: u8 => u8, input_handle_index: u8 => u8, version: [u16; 3] => ver6 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.1.1 RopSynchronizationConfigure request.
    SynchronizationConfigure {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        synchronization_type: u8 => u8, send_options: u8 => u8, synchronization_flags: u16 => u16,
        restriction: Option<crate::oxcdata::Restriction> => restriction16, synchronization_extra_flags: u32 => u32,
        property_tags: Vec<PropTag> => tags16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.2.1 RopSynchronizationImportMessageChange request.
    SynchronizationImportMessageChange {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8,
        import_flag: u8 => u8, property_values: Vec<TaggedPropertyValue> => values16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.3.1 RopSynchronizationImportReadStateChanges request:
    /// MessageReadStatesSize then MessageReadState structures (kept raw here; see [`MessageReadState`]).
    SynchronizationImportReadStateChanges { logon_id: u8 => u8, input_handle_index: u8 => u8, message_read_states: Vec<u8> => bytes16 }
}

/// MessageReadState (MS-OXCROPS 2.2.13.3.1.1): MessageIdSize (2), MessageId, MarkAsRead (1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageReadState {
    pub message_id: Vec<u8>,
    pub mark_as_read: bool,
}

impl MessageReadState {
    /// Parses the MessageReadStates field of RopSynchronizationImportReadStateChanges.
    pub fn decode_all(b: &[u8]) -> Result<Vec<MessageReadState>> {
        let mut r = Reader::new(b);
        let mut out = Vec::new();
        while !r.is_empty() {
            let n = r.u16()? as usize;
            let message_id = r.bytes(n)?.to_vec();
            out.push(MessageReadState { message_id, mark_as_read: r.bool8()? });
        }
        Ok(out)
    }
    /// Encodes a MessageReadStates field.
    pub fn encode_all(v: &[MessageReadState]) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        for s in v {
            w.len16(s.message_id.len(), "MessageIdSize")?;
            w.bytes(&s.message_id);
            w.bool8(s.mark_as_read);
        }
        Ok(w.into_vec())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.13.4.1 RopSynchronizationImportHierarchyChange request.
    SynchronizationImportHierarchyChange {
        logon_id: u8 => u8, input_handle_index: u8 => u8, hierarchy_values: Vec<TaggedPropertyValue> => values16,
        property_values: Vec<TaggedPropertyValue> => values16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.5.1 RopSynchronizationImportDeletes request.
    SynchronizationImportDeletes {
        logon_id: u8 => u8, input_handle_index: u8 => u8, import_delete_flags: u8 => u8,
        property_values: Vec<TaggedPropertyValue> => values16,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.6.1 RopSynchronizationImportMessageMove request.
    SynchronizationImportMessageMove {
        logon_id: u8 => u8, input_handle_index: u8 => u8, source_folder_id: Vec<u8> => bytes32,
        source_message_id: Vec<u8> => bytes32, predecessor_change_list: Vec<u8> => bytes32,
        destination_message_id: Vec<u8> => bytes32, change_number: Vec<u8> => bytes32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.7.1 RopSynchronizationOpenCollector request.
    SynchronizationOpenCollector {
        logon_id: u8 => u8, input_handle_index: u8 => u8, output_handle_index: u8 => u8, is_contents_collector: bool => bool8,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.9.1 RopSynchronizationUploadStateStreamBegin request.
    SynchronizationUploadStateStreamBegin {
        logon_id: u8 => u8, input_handle_index: u8 => u8, state_property: PropTag => tag, transfer_buffer_size: u32 => u32,
    }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.10.1 RopSynchronizationUploadStateStreamContinue request.
    SynchronizationUploadStateStreamContinue { logon_id: u8 => u8, input_handle_index: u8 => u8, stream_data: Vec<u8> => bytes32 }
}
wire_struct! {
    /// MS-OXCROPS 2.2.13.12.1 RopSetLocalReplicaMidsetDeleted request: DataSize (2)
    /// then LongTermIdRangeCount (4) and ranges; kept as the raw DataSize bytes
    /// (see [`LongTermIdRange`]).
    SetLocalReplicaMidsetDeleted { logon_id: u8 => u8, input_handle_index: u8 => u8, data: Vec<u8> => bytes16 }
}

/// LongTermIdRange (MS-OXCROPS 2.2.13.12.1.1): MinLongTermId, MaxLongTermId.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongTermIdRange {
    pub min: LongTermId,
    pub max: LongTermId,
}

impl LongTermIdRange {
    /// Parses the data of RopSetLocalReplicaMidsetDeleted (count + ranges).
    pub fn decode_all(b: &[u8]) -> Result<Vec<LongTermIdRange>> {
        let mut r = Reader::new(b);
        let n = r.u32()? as usize;
        r.check_count("LongTermIdRangeCount", n, 48)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(LongTermIdRange { min: LongTermId::decode(&mut r)?, max: LongTermId::decode(&mut r)? });
        }
        r.finish()?;
        Ok(v)
    }
    pub fn encode_all(v: &[LongTermIdRange]) -> Result<Vec<u8>> {
        let mut w = Writer::new();
        w.len32(v.len(), "LongTermIdRangeCount")?;
        for x in v {
            x.min.encode(&mut w);
            x.max.encode(&mut w);
        }
        Ok(w.into_vec())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.13.13.1 RopGetLocalReplicaIds request.
    GetLocalReplicaIds { logon_id: u8 => u8, input_handle_index: u8 => u8, id_count: u32 => u32 }
}

/// MS-OXCROPS 2.2.14.1.1 RopRegisterNotification request.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterNotification {
    pub logon_id: u8,
    pub input_handle_index: u8,
    pub output_handle_index: u8,
    pub notification_types: u8,
    pub reserved: u8,
    /// `None` when WantWholeStore is true; otherwise the folder and message ids.
    pub target: Option<(ObjectId, ObjectId)>,
}

impl RegisterNotification {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_id = r.u8()?;
        let input_handle_index = r.u8()?;
        let output_handle_index = r.u8()?;
        let notification_types = r.u8()?;
        let reserved = r.u8()?;
        let whole = r.bool8()?;
        let target = if whole { None } else { Some((ObjectId::decode(r)?, ObjectId::decode(r)?)) };
        Ok(RegisterNotification {
            logon_id,
            input_handle_index,
            output_handle_index,
            notification_types,
            reserved,
            target,
        })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.logon_id);
        w.u8(self.input_handle_index);
        w.u8(self.output_handle_index);
        w.u8(self.notification_types);
        w.u8(self.reserved);
        w.bool8(self.target.is_none());
        if let Some((f, m)) = &self.target {
            f.encode(w);
            m.encode(w);
        }
        Ok(())
    }
}

wire_struct! {
    /// MS-OXCROPS 2.2.8.13.1 RopProgress request.
    Progress { logon_id: u8 => u8, input_handle_index: u8 => u8, want_cancel: bool => bool8 }
}
