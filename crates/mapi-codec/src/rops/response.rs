//! ROP response structures (MS-OXCROPS 2.2.3 – 2.2.15).
//!
//! Every ordinary response starts RopId, a handle index (InputHandleIndex,
//! OutputHandleIndex, ResponseHandleIndex or SourceHandleIndex, depending on
//! the ROP) and ReturnValue. A non-zero ReturnValue leaves only those three
//! fields ([`RopResponse::Error`]), except for the few documented special
//! failure layouts (redirected logon, null destination object, server busy).

use super::codec::{self, wire_struct};
use super::rop_id as id;
use crate::cursor::{CountWidth, Reader, Writer};
use crate::error::{Error, Result};
use crate::oxcdata::{Guid, LongTermId, ObjectId, PropTag, PropertyRow, TaggedPropertyValue};

/// ecWrongServer: the RopLogon redirect response (MS-OXCROPS 2.2.3.1.4).
pub const EC_WRONG_SERVER: u32 = 0x0000_0478;
/// ecDstNullObject: the destination-object failure responses of the copy/move ROPs.
pub const EC_DST_NULL_OBJECT: u32 = 0x0000_0503;
/// ecServerBusy: RopFastTransferSourceGetBuffer failure with BackoffTime.
pub const EC_SERVER_BUSY: u32 = 0x0000_0480;

/// Supplies the column set needed to decode rows in responses (RopQueryRows,
/// RopFindRow, RopExpandRow use the table's columns; RopGetPropertiesSpecific
/// uses the tags of its request). Keyed by RopId and the response handle index.
pub trait ColumnSource {
    fn columns(&self, rop_id: u8, handle_index: u8) -> Option<Vec<PropTag>>;
}

impl ColumnSource for () {
    fn columns(&self, _: u8, _: u8) -> Option<Vec<PropTag>> {
        None
    }
}

impl<F: Fn(u8, u8) -> Option<Vec<PropTag>>> ColumnSource for F {
    fn columns(&self, rop_id: u8, handle_index: u8) -> Option<Vec<PropTag>> {
        self(rop_id, handle_index)
    }
}

/// LogonTime (MS-OXCROPS 2.2.3.1.2): Seconds, Minutes, Hour, DayOfWeek, Day, Month, Year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogonTime {
    pub seconds: u8,
    pub minutes: u8,
    pub hour: u8,
    pub day_of_week: u8,
    pub day: u8,
    pub month: u8,
    pub year: u16,
}

impl LogonTime {
    fn decode(r: &mut Reader) -> Result<Self> {
        Ok(LogonTime {
            seconds: r.u8()?,
            minutes: r.u8()?,
            hour: r.u8()?,
            day_of_week: r.u8()?,
            day: r.u8()?,
            month: r.u8()?,
            year: r.u16()?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        for b in [self.seconds, self.minutes, self.hour, self.day_of_week, self.day, self.month] {
            w.u8(b);
        }
        w.u16(self.year);
    }
}

/// RopLogon success response for a private mailbox (MS-OXCROPS 2.2.3.1.2).
#[derive(Debug, Clone, PartialEq)]
pub struct LogonPrivate {
    pub logon_flags: u8,
    /// The 13 special folder ids, in the order of MS-OXCSTOR 2.2.1.1.3.
    pub folder_ids: [ObjectId; 13],
    pub response_flags: u8,
    pub mailbox_guid: Guid,
    pub replica_id: u16,
    pub replica_guid: Guid,
    pub logon_time: LogonTime,
    pub gwart_time: u64,
    pub store_state: u32,
}

/// RopLogon success response for public folders (MS-OXCROPS 2.2.3.1.3).
#[derive(Debug, Clone, PartialEq)]
pub struct LogonPublic {
    pub logon_flags: u8,
    pub folder_ids: [ObjectId; 13],
    pub replica_id: u16,
    pub replica_guid: Guid,
    pub per_user_guid: Guid,
}

/// RopLogon success response; the Private bit (0x01) of LogonFlags selects the layout.
#[derive(Debug, Clone, PartialEq)]
pub enum Logon {
    Private(LogonPrivate),
    Public(LogonPublic),
}

fn folder_ids(r: &mut Reader) -> Result<[ObjectId; 13]> {
    let mut a = [ObjectId::default(); 13];
    for x in a.iter_mut() {
        *x = ObjectId::decode(r)?;
    }
    Ok(a)
}

impl Logon {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let logon_flags = r.u8()?;
        let ids = folder_ids(r)?;
        if logon_flags & 0x01 != 0 {
            Ok(Logon::Private(LogonPrivate {
                logon_flags,
                folder_ids: ids,
                response_flags: r.u8()?,
                mailbox_guid: Guid(r.array()?),
                replica_id: r.u16()?,
                replica_guid: Guid(r.array()?),
                logon_time: LogonTime::decode(r)?,
                gwart_time: r.u64()?,
                store_state: r.u32()?,
            }))
        } else {
            Ok(Logon::Public(LogonPublic {
                logon_flags,
                folder_ids: ids,
                replica_id: r.u16()?,
                replica_guid: Guid(r.array()?),
                per_user_guid: Guid(r.array()?),
            }))
        }
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        match self {
            Logon::Private(p) => {
                if p.logon_flags & 1 == 0 {
                    return Err(Error::Invalid {
                        what: "private logon response without Private flag",
                        value: p.logon_flags as u64,
                    });
                }
                w.u8(p.logon_flags);
                p.folder_ids.iter().for_each(|f| f.encode(w));
                w.u8(p.response_flags);
                w.bytes(&p.mailbox_guid.0);
                w.u16(p.replica_id);
                w.bytes(&p.replica_guid.0);
                p.logon_time.encode(w);
                w.u64(p.gwart_time);
                w.u32(p.store_state);
            }
            Logon::Public(p) => {
                if p.logon_flags & 1 != 0 {
                    return Err(Error::Invalid {
                        what: "public logon response with Private flag",
                        value: p.logon_flags as u64,
                    });
                }
                w.u8(p.logon_flags);
                p.folder_ids.iter().for_each(|f| f.encode(w));
                w.u16(p.replica_id);
                w.bytes(&p.replica_guid.0);
                w.bytes(&p.per_user_guid.0);
            }
        }
        Ok(())
    }
}

/// Ghosted-folder server list: ServerCount (2), CheapServerCount (2), Servers (NUL-terminated ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Servers {
    pub cheap_server_count: u16,
    pub servers: Vec<String>,
}

impl Servers {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let n = r.u16()? as usize;
        let cheap_server_count = r.u16()?;
        r.check_count("ServerCount", n, 1)?;
        let servers = (0..n).map(|_| r.asciiz()).collect::<Result<_>>()?;
        Ok(Servers { cheap_server_count, servers })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.len16(self.servers.len(), "ServerCount")?;
        w.u16(self.cheap_server_count);
        for s in &self.servers {
            codec::asciiz::enc(s, w)?;
        }
        Ok(())
    }
}

fn opt_servers(r: &mut Reader) -> Result<Option<Servers>> {
    Ok(if r.bool8()? { Some(Servers::decode(r)?) } else { None })
}

fn enc_opt_servers(s: &Option<Servers>, w: &mut Writer) -> Result<()> {
    w.bool8(s.is_some());
    if let Some(s) = s {
        s.encode(w)?;
    }
    Ok(())
}

/// TypedString (the SubjectPrefix / NormalizedSubject fields of the RopOpenMessage
/// response, MS-OXCROPS 2.2.6.1.2): StringType (1 byte) then the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedString {
    /// 0x00: no string.
    None,
    /// 0x01: empty string.
    Empty,
    /// 0x02: 8-bit string in the message code page.
    String8(Vec<u8>),
    /// 0x03: "reduced Unicode": UTF-16 code units < 0x100 sent as 8-bit, NUL-terminated.
    ReducedUnicode(Vec<u8>),
    /// 0x04: UTF-16LE string.
    Unicode(String),
}

impl TypedString {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        Ok(match r.u8()? {
            0 => TypedString::None,
            1 => TypedString::Empty,
            2 => TypedString::String8(r.str8z()?),
            3 => TypedString::ReducedUnicode(r.str8z()?),
            4 => TypedString::Unicode(r.utf16z()?),
            v => {
                return Err(Error::Invalid { what: "StringType", value: v as u64 });
            }
        })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        match self {
            TypedString::None => w.u8(0),
            TypedString::Empty => w.u8(1),
            TypedString::String8(s) => {
                w.u8(2);
                w.str8z(s)
            }
            TypedString::ReducedUnicode(s) => {
                w.u8(3);
                w.str8z(s)
            }
            TypedString::Unicode(s) => {
                w.u8(4);
                w.utf16z(s)
            }
        }
        Ok(())
    }
}

/// OpenRecipientRow (MS-OXCROPS 2.2.6.1.2.1); RecipientRow kept raw (MS-OXCDATA 2.8.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRecipientRow {
    pub recipient_type: u8,
    pub code_page_id: u16,
    pub reserved: u16,
    pub recipient_row: Vec<u8>,
}

impl OpenRecipientRow {
    /// Parses `recipient_row` against the RecipientColumns of the response.
    pub fn row(&self, columns: &[PropTag]) -> Result<crate::oxcdata::RecipientRow> {
        crate::oxcdata::RecipientRow::from_bytes(&self.recipient_row, columns)
    }
}

/// The message part shared by RopOpenMessage, RopOpenEmbeddedMessage and
/// RopReloadCachedInformation responses.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageInfo {
    pub has_named_properties: bool,
    pub subject_prefix: TypedString,
    pub normalized_subject: TypedString,
    pub recipient_count: u16,
    pub recipient_columns: Vec<PropTag>,
    pub recipient_rows: Vec<OpenRecipientRow>,
}

impl MessageInfo {
    pub fn decode(r: &mut Reader) -> Result<Self> {
        let has_named_properties = r.bool8()?;
        let subject_prefix = TypedString::decode(r)?;
        let normalized_subject = TypedString::decode(r)?;
        let recipient_count = r.u16()?;
        let recipient_columns = codec::tags16::dec(r)?;
        let n = r.u8()? as usize;
        let mut recipient_rows = Vec::with_capacity(n);
        for _ in 0..n {
            let recipient_type = r.u8()?;
            let code_page_id = r.u16()?;
            let reserved = r.u16()?;
            let recipient_row = codec::bytes16::dec(r)?;
            recipient_rows.push(OpenRecipientRow { recipient_type, code_page_id, reserved, recipient_row });
        }
        Ok(MessageInfo {
            has_named_properties,
            subject_prefix,
            normalized_subject,
            recipient_count,
            recipient_columns,
            recipient_rows,
        })
    }
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.bool8(self.has_named_properties);
        self.subject_prefix.encode(w)?;
        self.normalized_subject.encode(w)?;
        w.u16(self.recipient_count);
        codec::tags16::enc(&self.recipient_columns, w)?;
        let n = u8::try_from(self.recipient_rows.len())
            .map_err(|_| Error::EncodeOverflow { what: "RecipientRows", len: self.recipient_rows.len() })?;
        w.u8(n);
        for row in &self.recipient_rows {
            w.u8(row.recipient_type);
            w.u16(row.code_page_id);
            w.u16(row.reserved);
            codec::bytes16::enc(&row.recipient_row, w)?;
        }
        Ok(())
    }
}

/// ReadRecipientRow (MS-OXCROPS 2.2.6.6.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecipientRow {
    pub row_id: u32,
    pub recipient_type: u8,
    pub code_page_id: u16,
    pub reserved: u16,
    pub recipient_row: Vec<u8>,
}

impl ReadRecipientRow {
    /// Parses `recipient_row` against the recipient columns of the message.
    pub fn row(&self, columns: &[PropTag]) -> Result<crate::oxcdata::RecipientRow> {
        crate::oxcdata::RecipientRow::from_bytes(&self.recipient_row, columns)
    }
}

/// Rows decoded against a column set. `columns` is not on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet {
    pub columns: Vec<PropTag>,
    pub rows: Vec<PropertyRow>,
}

impl RowSet {
    fn decode_n(r: &mut Reader, columns: Vec<PropTag>, n: usize) -> Result<Self> {
        r.check_count("rows", n, 1)?;
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            rows.push(PropertyRow::decode(r, &columns, CountWidth::U16)?);
        }
        Ok(RowSet { columns, rows })
    }
    fn encode_rows(&self, w: &mut Writer) -> Result<()> {
        for row in &self.rows {
            row.encode(w, &self.columns, CountWidth::U16)?;
        }
        Ok(())
    }
}

/// Columns of RopGetReceiveFolderTable rows (MS-OXCROPS 2.2.3.4.2):
/// PidTagFolderId, PidTagMessageClass (PtypString8), PidTagLastModificationTime.
pub const RECEIVE_FOLDER_TABLE_COLUMNS: [PropTag; 3] =
    [PropTag(0x6748_0014), PropTag(0x001A_001E), PropTag(0x3008_0040)];

wire_struct! { /// RopGetReceiveFolder response (MS-OXCROPS 2.2.3.2.2).
GetReceiveFolder { folder_id: ObjectId => oid, explicit_message_class: String => asciiz } }
wire_struct! { /// RopReadPerUserInformation response (MS-OXCROPS 2.2.3.12.2).
ReadPerUserInformation { has_finished: bool => bool8, data: Vec<u8> => bytes16 } }
wire_struct! { /// RopGetSearchCriteria response (MS-OXCROPS 2.2.4.5.2).
GetSearchCriteria {
    restriction: Option<crate::oxcdata::Restriction> => restriction16, logon_id: u8 => u8,
    folder_ids: Vec<ObjectId> => oids16, search_flags: u32 => u32,
} }
wire_struct! { /// RopQueryPosition response (MS-OXCROPS 2.2.5.7.2).
QueryPosition { numerator: u32 => u32, denominator: u32 => u32 } }
wire_struct! { /// RopSeekRow response (MS-OXCROPS 2.2.5.8.2).
SeekRow { has_sought_less: bool => bool8, rows_sought: i32 => i32 } }
wire_struct! { /// RopSeekRowBookmark response (MS-OXCROPS 2.2.5.9.2).
SeekRowBookmark { row_no_longer_visible: bool => bool8, has_sought_less: bool => bool8, rows_sought: i32 => i32 } }
wire_struct! { /// RopSaveChangesMessage response (MS-OXCROPS 2.2.6.3.2).
SaveChangesMessage { input_handle_index: u8 => u8, message_id: ObjectId => oid } }
wire_struct! { /// RopCopyToStream response (MS-OXCROPS 2.2.9.9.2).
CopyToStream { read_byte_count: u64 => u64, written_byte_count: u64 => u64 } }
wire_struct! { /// RopFastTransferDestinationPutBuffer response (MS-OXCROPS 2.2.12.2.2).
PutBuffer {
    transfer_status: u16 => u16, in_progress_count: u16 => u16, total_step_count: u16 => u16,
    reserved: u8 => u8, buffer_used_size: u16 => u16,
} }
wire_struct! { /// RopFastTransferDestinationPutBufferExtended response (MS-OXCROPS 2.2.12.3.2):
/// InProgressCount and TotalStepCount are 4 bytes here.
PutBufferExtended {
    transfer_status: u16 => u16, in_progress_count: u32 => u32, total_step_count: u32 => u32,
    reserved: u8 => u8, buffer_used_size: u16 => u16,
} }
wire_struct! { /// RopFastTransferSourceGetBuffer success response fields (MS-OXCROPS 2.2.12.4.2).
GetBuffer {
    transfer_status: u16 => u16, in_progress_count: u16 => u16, total_step_count: u16 => u16,
    reserved: u8 => u8, transfer_buffer: Vec<u8> => bytes16,
} }
wire_struct! { /// RopGetLocalReplicaIds response (MS-OXCROPS 2.2.13.13.2).
GetLocalReplicaIds { repl_guid: Guid => guid, global_count: [u8; 6] => gc6 } }
wire_struct! { /// RopProgress response (MS-OXCROPS 2.2.8.13.2).
Progress { logon_id: u8 => u8, completed_task_count: u32 => u32, total_task_count: u32 => u32 } }
wire_struct! { /// RopSetCollapseState response / RopCreateBookmark response: a bookmark.
Bookmark { bookmark: Vec<u8> => bytes16 } }
wire_struct! { /// RopLongTermIdFromId response (MS-OXCROPS 2.2.3.8.2).
LongTermIdResp { long_term_id: LongTermId => ltid } }

/// A successful response body, one variant per response layout.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Body {
    /// ROPs whose success response has no fields beyond ReturnValue.
    Empty(u8),
    Logon(Logon),
    GetReceiveFolder(GetReceiveFolder),
    GetReceiveFolderTable(RowSet),
    /// RopGetStoreState StoreState.
    GetStoreState(u32),
    GetOwningServers(Servers),
    PublicFolderIsGhosted(Option<Servers>),
    LongTermIdFromId(LongTermIdResp),
    IdFromLongTermId(ObjectId),
    GetPerUserLongTermIds(Vec<LongTermId>),
    GetPerUserGuid(Guid),
    ReadPerUserInformation(ReadPerUserInformation),
    /// RopOpenFolder: HasRules, then IsGhosted + servers.
    OpenFolder {
        has_rules: bool,
        ghost: Option<Servers>,
    },
    /// RopCreateFolder: FolderId, IsExistingFolder, then (HasRules, IsGhosted + servers) when existing.
    CreateFolder {
        folder_id: ObjectId,
        existing: Option<(bool, Option<Servers>)>,
    },
    GetSearchCriteria(GetSearchCriteria),
    /// PartialCompletion of RopDeleteFolder, RopDeleteMessages, RopMoveCopyMessages,
    /// RopMoveFolder, RopCopyFolder, RopEmptyFolder, RopSetReadFlags and the hard-delete ROPs.
    PartialCompletion(u8, bool),
    /// RowCount of RopGetHierarchyTable / RopGetContentsTable.
    TableRowCount(u8, u32),
    /// TableStatus of RopSetColumns, RopSortTable, RopRestrict, RopGetStatus, RopAbort.
    TableStatus(u8, u8),
    /// RopQueryRows: Origin, RowCount, RowData.
    QueryRows {
        origin: u8,
        rows: RowSet,
    },
    QueryPosition(QueryPosition),
    SeekRow(SeekRow),
    SeekRowBookmark(SeekRowBookmark),
    /// RopCreateBookmark, RopSetCollapseState (bookmark), RopGetCollapseState (state).
    Bookmark(u8, Bookmark),
    /// RopQueryColumnsAll and RopGetPropertiesList: PropertyTagCount + tags.
    Tags(u8, Vec<PropTag>),
    /// RopFindRow: RowNoLongerVisible, HasRowData, RowData.
    FindRow {
        row_no_longer_visible: bool,
        row: Option<RowSet>,
    },
    /// RopExpandRow: ExpandedRowCount, RowCount, RowData.
    ExpandRow {
        expanded_row_count: u32,
        rows: RowSet,
    },
    /// RopCollapseRow CollapsedRowCount.
    CollapseRow(u32),
    /// RopOpenMessage and RopReloadCachedInformation.
    MessageInfo(u8, MessageInfo),
    /// RopOpenEmbeddedMessage: Reserved, MessageId, then the message info.
    OpenEmbeddedMessage {
        reserved: u8,
        message_id: ObjectId,
        info: MessageInfo,
    },
    /// RopCreateMessage: HasMessageId, MessageId.
    CreateMessage(Option<ObjectId>),
    SaveChangesMessage(SaveChangesMessage),
    ReadRecipients(Vec<ReadRecipientRow>),
    /// MessageStatusFlags of RopSetMessageStatus / RopGetMessageStatus.
    MessageStatus(u8, u32),
    /// RopSetMessageReadFlag: ReadStatusChanged, then LogonId + ClientData when changed.
    SetMessageReadFlag(Option<(u8, [u8; 24])>),
    /// RopCreateAttachment AttachmentID.
    CreateAttachment(u32),
    /// RopGetValidAttachments AttachmentIdArray.
    GetValidAttachments(Vec<u32>),
    /// RopGetAddressTypes: AddressTypeCount, AddressTypeSize, AddressTypes.
    GetAddressTypes(Vec<String>),
    /// RopTransportSend: NoPropertiesReturned, then values when properties are returned.
    TransportSend(Option<Vec<TaggedPropertyValue>>),
    /// RopGetTransportFolder FolderId.
    GetTransportFolder(ObjectId),
    /// RopOptionsData: Reserved, OptionsInfo, HelpFile, HelpFileName.
    OptionsData {
        reserved: u8,
        options_info: Vec<u8>,
        help_file: Vec<u8>,
        help_file_name: Option<String>,
    },
    /// RopGetPropertiesSpecific RowData.
    GetPropertiesSpecific(RowSet),
    /// RopGetPropertiesAll PropertyValues.
    GetPropertiesAll(Vec<TaggedPropertyValue>),
    /// PropertyProblems of RopSetProperties, RopDeleteProperties (and NoReplicate), RopCopyProperties, RopCopyTo.
    Problems(u8, Vec<crate::oxcdata::PropertyProblem>),
    /// RopQueryNamedProperties: IdCount, PropertyIds, PropertyNames.
    QueryNamedProperties(Vec<u16>, Vec<crate::oxcdata::PropertyName>),
    GetPropertyIdsFromNames(Vec<u16>),
    GetNamesFromPropertyIds(Vec<crate::oxcdata::PropertyName>),
    /// StreamSize (4 bytes) of RopOpenStream / RopGetStreamSize.
    StreamSize(u8, u32),
    /// RopReadStream Data.
    ReadStream(Vec<u8>),
    /// WrittenSize of RopWriteStream / RopWriteAndCommitStream.
    WrittenSize(u8, u16),
    /// RopSeekStream NewPosition.
    SeekStream(u64),
    CopyToStream(CopyToStream),
    PutBuffer(PutBuffer),
    PutBufferExtended(PutBufferExtended),
    GetBuffer(GetBuffer),
    /// RopWriteStreamExtended WrittenSize (4 bytes).
    WrittenSizeExtended(u32),
    /// MessageId of RopSynchronizationImportMessageChange / ImportMessageMove.
    MessageId(u8, ObjectId),
    /// RopSynchronizationImportHierarchyChange FolderId.
    ImportHierarchyChange(ObjectId),
    GetLocalReplicaIds(GetLocalReplicaIds),
    Progress(Progress),
}

/// Which response layout a RopId uses on success.
fn empty_success(rop: u8) -> bool {
    matches!(
        rop,
        id::SetReceiveFolder
            | id::WritePerUserInformation
            | id::SetSearchCriteria
            | id::SeekRowFractional
            | id::FreeBookmark
            | id::ResetTable
            | id::RemoveAllRecipients
            | id::ModifyRecipients
            | id::GetAttachmentTable
            | id::OpenAttachment
            | id::DeleteAttachment
            | id::SaveChangesAttachment
            | id::SubmitMessage
            | id::AbortSubmit
            | id::SetSpooler
            | id::SpoolerLockMessage
            | id::TransportNewMail
            | id::CommitStream
            | id::SetStreamSize
            | id::LockRegionStream
            | id::UnlockRegionStream
            | id::CloneStream
            | id::ModifyPermissions
            | id::ModifyRules
            | id::GetPermissionsTable
            | id::GetRulesTable
            | id::UpdateDeferredActionMessages
            | id::FastTransferDestinationConfigure
            | id::FastTransferSourceCopyFolder
            | id::FastTransferSourceCopyMessages
            | id::FastTransferSourceCopyTo
            | id::FastTransferSourceCopyProperties
            | id::TellVersion
            | id::SynchronizationConfigure
            | id::SynchronizationImportDeletes
            | id::SynchronizationImportReadStateChanges
            | id::SynchronizationOpenCollector
            | id::SynchronizationGetTransferState
            | id::SynchronizationUploadStateStreamBegin
            | id::SynchronizationUploadStateStreamContinue
            | id::SynchronizationUploadStateStreamEnd
            | id::SetLocalReplicaMidsetDeleted
            | id::RegisterNotification
    )
}

fn need_columns(cols: &dyn ColumnSource, rop: u8, hi: u8) -> Result<Vec<PropTag>> {
    cols.columns(rop, hi).ok_or(Error::Invalid { what: "row columns unknown for response", value: rop as u64 })
}

impl Body {
    /// Decodes the success body of ROP `rop` (after RopId, handle index and a zero ReturnValue).
    pub fn decode(r: &mut Reader, rop: u8, hi: u8, cols: &dyn ColumnSource) -> Result<Body> {
        use Body as B;
        if empty_success(rop) {
            return Ok(B::Empty(rop));
        }
        Ok(match rop {
            id::Logon => B::Logon(Logon::decode(r)?),
            id::GetReceiveFolder => B::GetReceiveFolder(GetReceiveFolder::decode(r)?),
            id::GetReceiveFolderTable => {
                let n = r.u32()? as usize;
                B::GetReceiveFolderTable(RowSet::decode_n(r, RECEIVE_FOLDER_TABLE_COLUMNS.to_vec(), n)?)
            }
            id::GetStoreState => B::GetStoreState(r.u32()?),
            id::GetOwningServers => B::GetOwningServers(Servers::decode(r)?),
            id::PublicFolderIsGhosted => B::PublicFolderIsGhosted(opt_servers(r)?),
            id::LongTermIdFromId => B::LongTermIdFromId(LongTermIdResp::decode(r)?),
            id::IdFromLongTermId => B::IdFromLongTermId(ObjectId::decode(r)?),
            id::GetPerUserLongTermIds => B::GetPerUserLongTermIds(codec::ltids16::dec(r)?),
            id::GetPerUserGuid => B::GetPerUserGuid(Guid(r.array()?)),
            id::ReadPerUserInformation => B::ReadPerUserInformation(ReadPerUserInformation::decode(r)?),
            id::OpenFolder => B::OpenFolder { has_rules: r.bool8()?, ghost: opt_servers(r)? },
            id::CreateFolder => {
                let folder_id = ObjectId::decode(r)?;
                let existing = if r.bool8()? { Some((r.bool8()?, opt_servers(r)?)) } else { None };
                B::CreateFolder { folder_id, existing }
            }
            id::GetSearchCriteria => B::GetSearchCriteria(GetSearchCriteria::decode(r)?),
            id::DeleteFolder
            | id::DeleteMessages
            | id::HardDeleteMessages
            | id::MoveCopyMessages
            | id::MoveFolder
            | id::CopyFolder
            | id::EmptyFolder
            | id::HardDeleteMessagesAndSubfolders
            | id::SetReadFlags => B::PartialCompletion(rop, r.bool8()?),
            id::GetHierarchyTable | id::GetContentsTable => B::TableRowCount(rop, r.u32()?),
            id::SetColumns | id::SortTable | id::Restrict | id::GetStatus | id::Abort => B::TableStatus(rop, r.u8()?),
            id::QueryRows => {
                let origin = r.u8()?;
                let n = r.u16()? as usize;
                B::QueryRows { origin, rows: RowSet::decode_n(r, need_columns(cols, rop, hi)?, n)? }
            }
            id::QueryPosition => B::QueryPosition(QueryPosition::decode(r)?),
            id::SeekRow => B::SeekRow(SeekRow::decode(r)?),
            id::SeekRowBookmark => B::SeekRowBookmark(SeekRowBookmark::decode(r)?),
            id::CreateBookmark | id::SetCollapseState | id::GetCollapseState => B::Bookmark(rop, Bookmark::decode(r)?),
            id::QueryColumnsAll | id::GetPropertiesList => B::Tags(rop, codec::tags16::dec(r)?),
            id::FindRow => {
                let row_no_longer_visible = r.bool8()?;
                let row = if r.bool8()? { Some(RowSet::decode_n(r, need_columns(cols, rop, hi)?, 1)?) } else { None };
                B::FindRow { row_no_longer_visible, row }
            }
            id::ExpandRow => {
                let expanded_row_count = r.u32()?;
                let n = r.u16()? as usize;
                B::ExpandRow { expanded_row_count, rows: RowSet::decode_n(r, need_columns(cols, rop, hi)?, n)? }
            }
            id::CollapseRow => B::CollapseRow(r.u32()?),
            id::OpenMessage | id::ReloadCachedInformation => B::MessageInfo(rop, MessageInfo::decode(r)?),
            id::OpenEmbeddedMessage => B::OpenEmbeddedMessage {
                reserved: r.u8()?,
                message_id: ObjectId::decode(r)?,
                info: MessageInfo::decode(r)?,
            },
            id::CreateMessage => B::CreateMessage(if r.bool8()? { Some(ObjectId::decode(r)?) } else { None }),
            id::SaveChangesMessage => B::SaveChangesMessage(SaveChangesMessage::decode(r)?),
            id::ReadRecipients => {
                let n = r.u8()? as usize;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(ReadRecipientRow {
                        row_id: r.u32()?,
                        recipient_type: r.u8()?,
                        code_page_id: r.u16()?,
                        reserved: r.u16()?,
                        recipient_row: codec::bytes16::dec(r)?,
                    });
                }
                B::ReadRecipients(v)
            }
            id::SetMessageStatus | id::GetMessageStatus => B::MessageStatus(rop, r.u32()?),
            id::SetMessageReadFlag => {
                B::SetMessageReadFlag(if r.bool8()? { Some((r.u8()?, r.array()?)) } else { None })
            }
            id::CreateAttachment => B::CreateAttachment(r.u32()?),
            id::GetValidAttachments => B::GetValidAttachments(codec::u32s16::dec(r)?),
            id::GetAddressTypes => {
                let n = r.u16()? as usize;
                let size = r.u16()? as usize;
                let mut sub = r.sub(size)?;
                sub.check_count("AddressTypeCount", n, 1)?;
                let v = (0..n).map(|_| sub.asciiz()).collect::<Result<Vec<_>>>()?;
                sub.finish()?;
                B::GetAddressTypes(v)
            }
            id::TransportSend => B::TransportSend(if r.bool8()? { None } else { Some(codec::values16::dec(r)?) }),
            id::GetTransportFolder => B::GetTransportFolder(ObjectId::decode(r)?),
            id::OptionsData => {
                let reserved = r.u8()?;
                let options_info = codec::bytes16::dec(r)?;
                let help_file = codec::bytes16::dec(r)?;
                let help_file_name = if help_file.is_empty() { None } else { Some(r.asciiz()?) };
                B::OptionsData { reserved, options_info, help_file, help_file_name }
            }
            id::GetPropertiesSpecific => {
                B::GetPropertiesSpecific(RowSet::decode_n(r, need_columns(cols, rop, hi)?, 1)?)
            }
            id::GetPropertiesAll => B::GetPropertiesAll(codec::values16::dec(r)?),
            id::SetProperties
            | id::SetPropertiesNoReplicate
            | id::DeleteProperties
            | id::DeletePropertiesNoReplicate
            | id::CopyProperties
            | id::CopyTo => B::Problems(rop, codec::problems16::dec(r)?),
            id::QueryNamedProperties => {
                let n = r.u16()? as usize;
                let ids = crate::oxcdata::decode_prop_ids(r, n)?;
                r.check_count("PropertyNames", n, 17)?;
                let names = (0..n).map(|_| crate::oxcdata::PropertyName::decode(r)).collect::<Result<_>>()?;
                B::QueryNamedProperties(ids, names)
            }
            id::GetPropertyIdsFromNames => B::GetPropertyIdsFromNames(codec::prop_ids16::dec(r)?),
            id::GetNamesFromPropertyIds => B::GetNamesFromPropertyIds(codec::names16::dec(r)?),
            id::OpenStream | id::GetStreamSize => B::StreamSize(rop, r.u32()?),
            id::ReadStream => B::ReadStream(codec::bytes16::dec(r)?),
            id::WriteStream | id::WriteAndCommitStream => B::WrittenSize(rop, r.u16()?),
            id::SeekStream => B::SeekStream(r.u64()?),
            id::CopyToStream => B::CopyToStream(CopyToStream::decode(r)?),
            id::FastTransferDestinationPutBuffer => B::PutBuffer(PutBuffer::decode(r)?),
            id::FastTransferDestinationPutBufferExtended => B::PutBufferExtended(PutBufferExtended::decode(r)?),
            id::WriteStreamExtended => B::WrittenSizeExtended(r.u32()?),
            id::FastTransferSourceGetBuffer => B::GetBuffer(GetBuffer::decode(r)?),
            id::SynchronizationImportMessageChange | id::SynchronizationImportMessageMove => {
                B::MessageId(rop, ObjectId::decode(r)?)
            }
            id::SynchronizationImportHierarchyChange => B::ImportHierarchyChange(ObjectId::decode(r)?),
            id::GetLocalReplicaIds => B::GetLocalReplicaIds(GetLocalReplicaIds::decode(r)?),
            id::Progress => B::Progress(Progress::decode(r)?),
            other => return Err(Error::UnknownRop(other)),
        })
    }

    /// The RopId this body answers.
    pub fn rop_id(&self) -> u8 {
        use Body as B;
        match self {
            B::Empty(r)
            | B::PartialCompletion(r, _)
            | B::TableRowCount(r, _)
            | B::TableStatus(r, _)
            | B::Bookmark(r, _)
            | B::Tags(r, _)
            | B::MessageInfo(r, _)
            | B::MessageStatus(r, _)
            | B::Problems(r, _)
            | B::StreamSize(r, _)
            | B::WrittenSize(r, _)
            | B::MessageId(r, _) => *r,
            B::Logon(_) => id::Logon,
            B::GetReceiveFolder(_) => id::GetReceiveFolder,
            B::GetReceiveFolderTable(_) => id::GetReceiveFolderTable,
            B::GetStoreState(_) => id::GetStoreState,
            B::GetOwningServers(_) => id::GetOwningServers,
            B::PublicFolderIsGhosted(_) => id::PublicFolderIsGhosted,
            B::LongTermIdFromId(_) => id::LongTermIdFromId,
            B::IdFromLongTermId(_) => id::IdFromLongTermId,
            B::GetPerUserLongTermIds(_) => id::GetPerUserLongTermIds,
            B::GetPerUserGuid(_) => id::GetPerUserGuid,
            B::ReadPerUserInformation(_) => id::ReadPerUserInformation,
            B::OpenFolder { .. } => id::OpenFolder,
            B::CreateFolder { .. } => id::CreateFolder,
            B::GetSearchCriteria(_) => id::GetSearchCriteria,
            B::QueryRows { .. } => id::QueryRows,
            B::QueryPosition(_) => id::QueryPosition,
            B::SeekRow(_) => id::SeekRow,
            B::SeekRowBookmark(_) => id::SeekRowBookmark,
            B::FindRow { .. } => id::FindRow,
            B::ExpandRow { .. } => id::ExpandRow,
            B::CollapseRow(_) => id::CollapseRow,
            B::OpenEmbeddedMessage { .. } => id::OpenEmbeddedMessage,
            B::CreateMessage(_) => id::CreateMessage,
            B::SaveChangesMessage(_) => id::SaveChangesMessage,
            B::ReadRecipients(_) => id::ReadRecipients,
            B::SetMessageReadFlag(_) => id::SetMessageReadFlag,
            B::CreateAttachment(_) => id::CreateAttachment,
            B::GetValidAttachments(_) => id::GetValidAttachments,
            B::GetAddressTypes(_) => id::GetAddressTypes,
            B::TransportSend(_) => id::TransportSend,
            B::GetTransportFolder(_) => id::GetTransportFolder,
            B::OptionsData { .. } => id::OptionsData,
            B::GetPropertiesSpecific(_) => id::GetPropertiesSpecific,
            B::GetPropertiesAll(_) => id::GetPropertiesAll,
            B::QueryNamedProperties(..) => id::QueryNamedProperties,
            B::GetPropertyIdsFromNames(_) => id::GetPropertyIdsFromNames,
            B::GetNamesFromPropertyIds(_) => id::GetNamesFromPropertyIds,
            B::ReadStream(_) => id::ReadStream,
            B::SeekStream(_) => id::SeekStream,
            B::CopyToStream(_) => id::CopyToStream,
            B::PutBuffer(_) => id::FastTransferDestinationPutBuffer,
            B::PutBufferExtended(_) => id::FastTransferDestinationPutBufferExtended,
            B::WrittenSizeExtended(_) => id::WriteStreamExtended,
            B::GetBuffer(_) => id::FastTransferSourceGetBuffer,
            B::ImportHierarchyChange(_) => id::SynchronizationImportHierarchyChange,
            B::GetLocalReplicaIds(_) => id::GetLocalReplicaIds,
            B::Progress(_) => id::Progress,
        }
    }

    /// Encodes the success body (without RopId, handle index, ReturnValue).
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        use Body as B;
        match self {
            B::Empty(_) => {}
            B::Logon(x) => x.encode(w)?,
            B::GetReceiveFolder(x) => x.encode(w)?,
            B::GetReceiveFolderTable(rs) => {
                w.len32(rs.rows.len(), "RowCount")?;
                rs.encode_rows(w)?;
            }
            B::GetStoreState(v) | B::CollapseRow(v) | B::CreateAttachment(v) => w.u32(*v),
            B::GetOwningServers(s) => s.encode(w)?,
            B::PublicFolderIsGhosted(s) => enc_opt_servers(s, w)?,
            B::LongTermIdFromId(x) => x.encode(w)?,
            B::IdFromLongTermId(o) | B::GetTransportFolder(o) | B::ImportHierarchyChange(o) | B::MessageId(_, o) => {
                o.encode(w)
            }
            B::GetPerUserLongTermIds(v) => codec::ltids16::enc(v, w)?,
            B::GetPerUserGuid(g) => w.bytes(&g.0),
            B::ReadPerUserInformation(x) => x.encode(w)?,
            B::OpenFolder { has_rules, ghost } => {
                w.bool8(*has_rules);
                enc_opt_servers(ghost, w)?;
            }
            B::CreateFolder { folder_id, existing } => {
                folder_id.encode(w);
                w.bool8(existing.is_some());
                if let Some((has_rules, ghost)) = existing {
                    w.bool8(*has_rules);
                    enc_opt_servers(ghost, w)?;
                }
            }
            B::GetSearchCriteria(x) => x.encode(w)?,
            B::PartialCompletion(_, b) => w.bool8(*b),
            B::TableRowCount(_, n) | B::MessageStatus(_, n) | B::StreamSize(_, n) => w.u32(*n),
            B::TableStatus(_, s) => w.u8(*s),
            B::QueryRows { origin, rows } => {
                w.u8(*origin);
                w.len16(rows.rows.len(), "RowCount")?;
                rows.encode_rows(w)?;
            }
            B::QueryPosition(x) => x.encode(w)?,
            B::SeekRow(x) => x.encode(w)?,
            B::SeekRowBookmark(x) => x.encode(w)?,
            B::Bookmark(_, b) => b.encode(w)?,
            B::Tags(_, t) => codec::tags16::enc(t, w)?,
            B::FindRow { row_no_longer_visible, row } => {
                w.bool8(*row_no_longer_visible);
                match row {
                    Some(rs) if rs.rows.len() == 1 => {
                        w.bool8(true);
                        rs.encode_rows(w)?;
                    }
                    Some(_) => {
                        return Err(Error::Invalid { what: "RopFindRow row count", value: 0 });
                    }
                    None => w.bool8(false),
                }
            }
            B::ExpandRow { expanded_row_count, rows } => {
                w.u32(*expanded_row_count);
                w.len16(rows.rows.len(), "RowCount")?;
                rows.encode_rows(w)?;
            }
            B::MessageInfo(_, m) => m.encode(w)?,
            B::OpenEmbeddedMessage { reserved, message_id, info } => {
                w.u8(*reserved);
                message_id.encode(w);
                info.encode(w)?;
            }
            B::CreateMessage(m) => {
                w.bool8(m.is_some());
                if let Some(m) = m {
                    m.encode(w);
                }
            }
            B::SaveChangesMessage(x) => x.encode(w)?,
            B::ReadRecipients(rows) => {
                let n = u8::try_from(rows.len())
                    .map_err(|_| Error::EncodeOverflow { what: "RecipientRows", len: rows.len() })?;
                w.u8(n);
                for r in rows {
                    w.u32(r.row_id);
                    w.u8(r.recipient_type);
                    w.u16(r.code_page_id);
                    w.u16(r.reserved);
                    codec::bytes16::enc(&r.recipient_row, w)?;
                }
            }
            B::SetMessageReadFlag(c) => {
                w.bool8(c.is_some());
                if let Some((l, d)) = c {
                    w.u8(*l);
                    w.bytes(d);
                }
            }
            B::GetValidAttachments(v) => codec::u32s16::enc(v, w)?,
            B::GetAddressTypes(v) => {
                let mut inner = Writer::new();
                for s in v {
                    codec::asciiz::enc(s, &mut inner)?;
                }
                w.len16(v.len(), "AddressTypeCount")?;
                w.len16(inner.len(), "AddressTypeSize")?;
                w.bytes(inner.as_slice());
            }
            B::TransportSend(v) => {
                w.bool8(v.is_none());
                if let Some(v) = v {
                    codec::values16::enc(v, w)?;
                }
            }
            B::OptionsData { reserved, options_info, help_file, help_file_name } => {
                w.u8(*reserved);
                codec::bytes16::enc(options_info, w)?;
                codec::bytes16::enc(help_file, w)?;
                match (help_file.is_empty(), help_file_name) {
                    (false, Some(n)) => codec::asciiz::enc(n, w)?,
                    (true, None) => {}
                    _ => {
                        return Err(Error::Invalid { what: "HelpFileName presence", value: 0 });
                    }
                }
            }
            B::GetPropertiesSpecific(rs) => {
                if rs.rows.len() != 1 {
                    return Err(Error::Invalid {
                        what: "RopGetPropertiesSpecific row count",
                        value: rs.rows.len() as u64,
                    });
                }
                rs.encode_rows(w)?;
            }
            B::GetPropertiesAll(v) => codec::values16::enc(v, w)?,
            B::Problems(_, p) => codec::problems16::enc(p, w)?,
            B::QueryNamedProperties(ids, names) => {
                if ids.len() != names.len() {
                    return Err(Error::Invalid { what: "QueryNamedProperties ids/names", value: ids.len() as u64 });
                }
                w.len16(ids.len(), "IdCount")?;
                ids.iter().for_each(|i| w.u16(*i));
                for n in names {
                    n.encode(w)?;
                }
            }
            B::GetPropertyIdsFromNames(v) => codec::prop_ids16::enc(v, w)?,
            B::GetNamesFromPropertyIds(v) => codec::names16::enc(v, w)?,
            B::ReadStream(d) => codec::bytes16::enc(d, w)?,
            B::WrittenSize(_, n) => w.u16(*n),
            B::SeekStream(p) => w.u64(*p),
            B::CopyToStream(x) => x.encode(w)?,
            B::PutBuffer(x) => x.encode(w)?,
            B::PutBufferExtended(x) => x.encode(w)?,
            B::WrittenSizeExtended(n) => w.u32(*n),
            B::GetBuffer(x) => x.encode(w)?,
            B::GetLocalReplicaIds(x) => x.encode(w)?,
            B::Progress(x) => x.encode(w)?,
        }
        Ok(())
    }
}

/// One ROP response (MS-OXCROPS 2.2.3 – 2.2.15).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum RopResponse {
    /// ReturnValue 0 and the ROP's success fields.
    Success { handle_index: u8, body: Body },
    /// The generic failure response: RopId, handle index, non-zero ReturnValue.
    Error { rop_id: u8, handle_index: u8, return_value: u32 },
    /// RopLogon redirect response (ReturnValue ecWrongServer): LogonFlags,
    /// ServerNameSize, ServerName.
    LogonRedirect { output_handle_index: u8, logon_flags: u8, server_name: String },
    /// Copy/move ROPs failing with ecDstNullObject: DestHandleIndex (4 bytes)
    /// and, for some ROPs, PartialCompletion or the stream byte counts.
    NullDestination { rop_id: u8, source_handle_index: u8, dest_handle_index: u32, trailer: NullDestTrailer },
    /// RopFastTransferSourceGetBuffer failing with ecServerBusy: BackoffTime.
    ServerBusy { input_handle_index: u8, backoff_time: u32 },
    /// RopNotify (MS-OXCROPS 2.2.14.2): NotificationHandle, LogonId, NotificationData.
    Notify { notification_handle: u32, logon_id: u8, data: super::notify::NotificationData },
    /// RopPending (MS-OXCROPS 2.2.14.3): SessionIndex.
    Pending { session_index: u16 },
    /// RopBackoff (MS-OXCROPS 2.2.15.2).
    Backoff { logon_id: u8, duration: u32, rops: Vec<(u8, u32)>, additional_data: Vec<u8> },
    /// RopBufferTooSmall (MS-OXCROPS 2.2.15.1): SizeNeeded and the unprocessed request bytes.
    BufferTooSmall { size_needed: u16, request_buffers: Vec<u8> },
}

/// Extra fields after DestHandleIndex in ecDstNullObject failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NullDestTrailer {
    /// RopCopyTo, RopCopyProperties.
    None,
    /// RopMoveCopyMessages, RopMoveFolder, RopCopyFolder.
    PartialCompletion(bool),
    /// RopCopyToStream: ReadByteCount, WrittenByteCount.
    ByteCounts(u64, u64),
}

impl RopResponse {
    /// A generic failure response.
    pub fn error(rop_id: u8, handle_index: u8, return_value: u32) -> Self {
        RopResponse::Error { rop_id, handle_index, return_value }
    }

    /// A success response.
    pub fn success(handle_index: u8, body: Body) -> Self {
        RopResponse::Success { handle_index, body }
    }

    /// The RopId of the response.
    pub fn rop_id(&self) -> u8 {
        match self {
            RopResponse::Success { body, .. } => body.rop_id(),
            RopResponse::Error { rop_id, .. } | RopResponse::NullDestination { rop_id, .. } => *rop_id,
            RopResponse::LogonRedirect { .. } => id::Logon,
            RopResponse::ServerBusy { .. } => id::FastTransferSourceGetBuffer,
            RopResponse::Notify { .. } => id::Notify,
            RopResponse::Pending { .. } => id::Pending,
            RopResponse::Backoff { .. } => id::Backoff,
            RopResponse::BufferTooSmall { .. } => id::BufferTooSmall,
        }
    }

    /// Decodes one response. `cols` supplies column sets for row-bearing responses.
    pub fn decode(r: &mut Reader, cols: &dyn ColumnSource) -> Result<Self> {
        let rop = r.u8()?;
        match rop {
            id::Notify => {
                let notification_handle = r.u32()?;
                let logon_id = r.u8()?;
                let data = super::notify::NotificationData::decode(r)?;
                return Ok(RopResponse::Notify { notification_handle, logon_id, data });
            }
            id::Pending => {
                return Ok(RopResponse::Pending { session_index: r.u16()? });
            }
            id::Backoff => {
                let logon_id = r.u8()?;
                let duration = r.u32()?;
                let n = r.u8()? as usize;
                let mut rops = Vec::with_capacity(n);
                for _ in 0..n {
                    rops.push((r.u8()?, r.u32()?));
                }
                let additional_data = codec::bytes16::dec(r)?;
                return Ok(RopResponse::Backoff { logon_id, duration, rops, additional_data });
            }
            id::BufferTooSmall => {
                let size_needed = r.u16()?;
                return Ok(RopResponse::BufferTooSmall { size_needed, request_buffers: r.rest().to_vec() });
            }
            id::Release => {
                return Err(Error::Invalid { what: "RopRelease has no response", value: rop as u64 });
            }
            _ => {}
        }
        if super::rop_name(rop).is_none() {
            return Err(Error::UnknownRop(rop));
        }
        let hi = r.u8()?;
        let rv = r.u32()?;
        if rv == 0 {
            return Ok(RopResponse::Success { handle_index: hi, body: Body::decode(r, rop, hi, cols)? });
        }
        Ok(match (rop, rv) {
            (id::Logon, EC_WRONG_SERVER) => {
                let logon_flags = r.u8()?;
                let size = r.u8()? as usize;
                let mut sub = r.sub(size)?;
                let server_name = sub.asciiz()?;
                sub.finish()?;
                RopResponse::LogonRedirect { output_handle_index: hi, logon_flags, server_name }
            }
            (id::FastTransferSourceGetBuffer, EC_SERVER_BUSY) => {
                RopResponse::ServerBusy { input_handle_index: hi, backoff_time: r.u32()? }
            }
            (id::MoveCopyMessages | id::MoveFolder | id::CopyFolder, EC_DST_NULL_OBJECT) => {
                RopResponse::NullDestination {
                    rop_id: rop,
                    source_handle_index: hi,
                    dest_handle_index: r.u32()?,
                    trailer: NullDestTrailer::PartialCompletion(r.bool8()?),
                }
            }
            (id::CopyTo | id::CopyProperties, EC_DST_NULL_OBJECT) => RopResponse::NullDestination {
                rop_id: rop,
                source_handle_index: hi,
                dest_handle_index: r.u32()?,
                trailer: NullDestTrailer::None,
            },
            (id::CopyToStream, EC_DST_NULL_OBJECT) => RopResponse::NullDestination {
                rop_id: rop,
                source_handle_index: hi,
                dest_handle_index: r.u32()?,
                trailer: NullDestTrailer::ByteCounts(r.u64()?, r.u64()?),
            },
            _ => RopResponse::Error { rop_id: rop, handle_index: hi, return_value: rv },
        })
    }

    /// Encodes one response.
    pub fn encode(&self, w: &mut Writer) -> Result<()> {
        w.u8(self.rop_id());
        match self {
            RopResponse::Success { handle_index, body } => {
                if body.rop_id() == id::Release {
                    return Err(Error::Invalid { what: "RopRelease has no response", value: 1 });
                }
                w.u8(*handle_index);
                w.u32(0);
                body.encode(w)?;
            }
            RopResponse::Error { handle_index, return_value, .. } => {
                if *return_value == 0 {
                    return Err(Error::Invalid { what: "error response with ReturnValue 0", value: 0 });
                }
                w.u8(*handle_index);
                w.u32(*return_value);
            }
            RopResponse::LogonRedirect { output_handle_index, logon_flags, server_name } => {
                w.u8(*output_handle_index);
                w.u32(EC_WRONG_SERVER);
                w.u8(*logon_flags);
                let n = u8::try_from(server_name.len() + 1)
                    .map_err(|_| Error::EncodeOverflow { what: "ServerName", len: server_name.len() })?;
                w.u8(n);
                codec::asciiz::enc(server_name, w)?;
            }
            RopResponse::NullDestination { source_handle_index, dest_handle_index, trailer, .. } => {
                w.u8(*source_handle_index);
                w.u32(EC_DST_NULL_OBJECT);
                w.u32(*dest_handle_index);
                match trailer {
                    NullDestTrailer::None => {}
                    NullDestTrailer::PartialCompletion(b) => w.bool8(*b),
                    NullDestTrailer::ByteCounts(a, b) => {
                        w.u64(*a);
                        w.u64(*b);
                    }
                }
            }
            RopResponse::ServerBusy { input_handle_index, backoff_time } => {
                w.u8(*input_handle_index);
                w.u32(EC_SERVER_BUSY);
                w.u32(*backoff_time);
            }
            RopResponse::Notify { notification_handle, logon_id, data } => {
                w.u32(*notification_handle);
                w.u8(*logon_id);
                data.encode(w)?;
            }
            RopResponse::Pending { session_index } => w.u16(*session_index),
            RopResponse::Backoff { logon_id, duration, rops, additional_data } => {
                w.u8(*logon_id);
                w.u32(*duration);
                let n = u8::try_from(rops.len())
                    .map_err(|_| Error::EncodeOverflow { what: "BackoffRopCount", len: rops.len() })?;
                w.u8(n);
                for (rid, d) in rops {
                    w.u8(*rid);
                    w.u32(*d);
                }
                codec::bytes16::enc(additional_data, w)?;
            }
            RopResponse::BufferTooSmall { size_needed, request_buffers } => {
                w.u16(*size_needed);
                w.bytes(request_buffers);
            }
        }
        Ok(())
    }
}
