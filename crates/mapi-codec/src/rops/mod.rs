//! MS-OXCROPS remote operations: ROP request and response structures, the ROP
//! buffer framing (RopSize, ROP list, server object handle table; MS-OXCROPS
//! 2.2.1) and the special responses (RopBufferTooSmall, RopBackoff, RopPending,
//! RopNotify with its NotificationData, see [`notify`]).
//!
//! Requests are decoded with [`RopRequest::decode`]; an unknown RopId stops the
//! parse with [`crate::Error::UnknownRop`], and [`buffer::RopRequestBuffer`]
//! keeps the ROPs decoded before it so a server can still answer them.

pub mod buffer;
pub(crate) mod codec;
pub mod notify;
pub mod request;
pub mod response;

pub use buffer::{RopRequestBuffer, RopResponseBuffer};
pub use response::{Body, ColumnSource, RopResponse};

/// A borrowed column source.
pub type ColumnSourceRef<'a> = &'a dyn ColumnSource;

use crate::cursor::{Reader, Writer};
use crate::error::{Error, Result};
use request as rq;

/// Per-session facts that change how some requests are laid out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RopContext {
    /// Bit set of LogonIds whose logon is a public-folder logon (affects
    /// RopSetMessageReadFlag ClientData and RopWritePerUserInformation ReplGuid).
    pub public_logons: [u64; 4],
}

impl RopContext {
    pub fn is_public(&self, logon_id: u8) -> bool {
        self.public_logons[(logon_id >> 6) as usize] & (1u64 << (logon_id & 63)) != 0
    }
    pub fn set_public(&mut self, logon_id: u8, public: bool) {
        let (i, b) = ((logon_id >> 6) as usize, 1u64 << (logon_id & 63));
        if public {
            self.public_logons[i] |= b;
        } else {
            self.public_logons[i] &= !b;
        }
    }
}

macro_rules! dec_call {
    ($t:ty, $f:ident, $r:ident, $ctx:ident) => {
        <$t>::$f($r)
    };
    ($t:ty, ctx $f:ident, $r:ident, $ctx:ident) => {
        <$t>::$f($r, $ctx)
    };
}

macro_rules! rop_requests {
    ($($id:literal $name:ident($t:ty) $($kw:ident)? : $f:ident),* $(,)?) => {
        /// RopId values (MS-OXCROPS 2.2.1 / 2.2.3 – 2.2.15).
        #[allow(non_upper_case_globals)]
        pub mod rop_id {
            $(#[allow(non_upper_case_globals)] pub const $name: u8 = $id;)*
            pub const Notify: u8 = 0x2A;
            pub const Pending: u8 = 0x6E;
            pub const Backoff: u8 = 0xF9;
            pub const BufferTooSmall: u8 = 0xFF;
        }

        /// A decoded ROP request (MS-OXCROPS 2.2.3 – 2.2.15).
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum RopRequest {
            $($name($t),)*
        }

        impl RopRequest {
            /// The RopId byte of this request.
            pub fn rop_id(&self) -> u8 {
                match self { $(RopRequest::$name(_) => $id,)* }
            }
            /// A human-readable ROP name, e.g. `"Logon"`.
            pub fn name(&self) -> &'static str {
                match self { $(RopRequest::$name(_) => stringify!($name),)* }
            }
            /// Decodes one request, RopId included.
            #[allow(unused_variables)]
            pub fn decode(r: &mut Reader, ctx: &RopContext) -> Result<RopRequest> {
                let id = r.u8()?;
                Ok(match id {
                    $($id => RopRequest::$name(dec_call!($t, $($kw)? $f, r, ctx)?),)*
                    other => return Err(Error::UnknownRop(other)),
                })
            }
            /// Encodes one request, RopId included.
            pub fn encode(&self, w: &mut Writer) -> Result<()> {
                w.u8(self.rop_id());
                match self { $(RopRequest::$name(x) => x.encode(w),)* }
            }
        }

        /// The name of a RopId, if known to this codec.
        pub fn rop_name(id: u8) -> Option<&'static str> {
            match id {
                $($id => Some(stringify!($name)),)*
                0x2A => Some("Notify"),
                0x6E => Some("Pending"),
                0xF9 => Some("Backoff"),
                0xFF => Some("BufferTooSmall"),
                _ => None,
            }
        }
    };
}

rop_requests! {
    0x01 Release(rq::Basic): decode,
    0x02 OpenFolder(rq::OpenFolder): decode,
    0x03 OpenMessage(rq::OpenMessage): decode,
    0x04 GetHierarchyTable(rq::GetTable): decode,
    0x05 GetContentsTable(rq::GetTable): decode,
    0x06 CreateMessage(rq::CreateMessage): decode,
    0x07 GetPropertiesSpecific(rq::GetPropertiesSpecific): decode,
    0x08 GetPropertiesAll(rq::GetPropertiesAll): decode,
    0x09 GetPropertiesList(rq::Basic): decode,
    0x0A SetProperties(rq::SetProperties): decode,
    0x0B DeleteProperties(rq::DeleteProperties): decode,
    0x0C SaveChangesMessage(rq::SaveChanges): decode,
    0x0D RemoveAllRecipients(rq::RemoveAllRecipients): decode,
    0x0E ModifyRecipients(rq::ModifyRecipients): decode,
    0x0F ReadRecipients(rq::ReadRecipients): decode,
    0x10 ReloadCachedInformation(rq::ReloadCachedInformation): decode,
    0x11 SetMessageReadFlag(rq::SetMessageReadFlag) ctx: decode_ctx,
    0x12 SetColumns(rq::SetColumns): decode,
    0x13 SortTable(rq::SortTable): decode,
    0x14 Restrict(rq::Restrict): decode,
    0x15 QueryRows(rq::QueryRows): decode,
    0x16 GetStatus(rq::Basic): decode,
    0x17 QueryPosition(rq::Basic): decode,
    0x18 SeekRow(rq::SeekRow): decode,
    0x19 SeekRowBookmark(rq::SeekRowBookmark): decode,
    0x1A SeekRowFractional(rq::SeekRowFractional): decode,
    0x1B CreateBookmark(rq::Basic): decode,
    0x1C CreateFolder(rq::CreateFolder): decode,
    0x1D DeleteFolder(rq::DeleteFolder): decode,
    0x1E DeleteMessages(rq::DeleteMessages): decode,
    0x1F GetMessageStatus(rq::GetMessageStatus): decode,
    0x20 SetMessageStatus(rq::SetMessageStatus): decode,
    0x21 GetAttachmentTable(rq::GetTable): decode,
    0x22 OpenAttachment(rq::OpenAttachment): decode,
    0x23 CreateAttachment(rq::BasicOut): decode,
    0x24 DeleteAttachment(rq::DeleteAttachment): decode,
    0x25 SaveChangesAttachment(rq::SaveChanges): decode,
    0x26 SetReceiveFolder(rq::SetReceiveFolder): decode,
    0x27 GetReceiveFolder(rq::GetReceiveFolder): decode,
    0x29 RegisterNotification(rq::RegisterNotification): decode,
    0x2B OpenStream(rq::OpenStream): decode,
    0x2C ReadStream(rq::ReadStream): decode,
    0x2D WriteStream(rq::WriteStream): decode,
    0x2E SeekStream(rq::SeekStream): decode,
    0x2F SetStreamSize(rq::SetStreamSize): decode,
    0x30 SetSearchCriteria(rq::SetSearchCriteria): decode,
    0x31 GetSearchCriteria(rq::GetSearchCriteria): decode,
    0x32 SubmitMessage(rq::SubmitMessage): decode,
    0x33 MoveCopyMessages(rq::MoveCopyMessages): decode,
    0x34 AbortSubmit(rq::AbortSubmit): decode,
    0x35 MoveFolder(rq::MoveCopyFolder): decode_move,
    0x36 CopyFolder(rq::MoveCopyFolder): decode_copy,
    0x37 QueryColumnsAll(rq::Basic): decode,
    0x38 Abort(rq::Basic): decode,
    0x39 CopyTo(rq::CopyTo): decode,
    0x3A CopyToStream(rq::CopyToStream): decode,
    0x3B CloneStream(rq::BasicOut): decode,
    0x3E GetPermissionsTable(rq::GetTable): decode,
    0x3F GetRulesTable(rq::GetTable): decode,
    0x40 ModifyPermissions(rq::ModifyTable): decode,
    0x41 ModifyRules(rq::ModifyTable): decode,
    0x42 GetOwningServers(rq::FolderIdRequest): decode,
    0x43 LongTermIdFromId(rq::LongTermIdFromId): decode,
    0x44 IdFromLongTermId(rq::IdFromLongTermId): decode,
    0x45 PublicFolderIsGhosted(rq::FolderIdRequest): decode,
    0x46 OpenEmbeddedMessage(rq::OpenEmbeddedMessage): decode,
    0x47 SetSpooler(rq::Basic): decode,
    0x48 SpoolerLockMessage(rq::SpoolerLockMessage): decode,
    0x49 GetAddressTypes(rq::Basic): decode,
    0x4A TransportSend(rq::Basic): decode,
    0x4B FastTransferSourceCopyMessages(rq::FastTransferSourceCopyMessages): decode,
    0x4C FastTransferSourceCopyFolder(rq::FastTransferSourceCopyFolder): decode,
    0x4D FastTransferSourceCopyTo(rq::FastTransferSourceCopyTo): decode,
    0x4E FastTransferSourceGetBuffer(rq::FastTransferSourceGetBuffer): decode,
    0x4F FindRow(rq::FindRow): decode,
    0x50 Progress(rq::Progress): decode,
    0x51 TransportNewMail(rq::TransportNewMail): decode,
    0x52 GetValidAttachments(rq::Basic): decode,
    0x53 FastTransferDestinationConfigure(rq::FastTransferDestinationConfigure): decode,
    0x54 FastTransferDestinationPutBuffer(rq::FastTransferDestinationPutBuffer): decode,
    0x55 GetNamesFromPropertyIds(rq::GetNamesFromPropertyIds): decode,
    0x56 GetPropertyIdsFromNames(rq::GetPropertyIdsFromNames): decode,
    0x57 UpdateDeferredActionMessages(rq::UpdateDeferredActionMessages): decode,
    0x58 EmptyFolder(rq::EmptyFolder): decode,
    0x59 ExpandRow(rq::ExpandRow): decode,
    0x5A CollapseRow(rq::CollapseRow): decode,
    0x5B LockRegionStream(rq::LockRegionStream): decode,
    0x5C UnlockRegionStream(rq::LockRegionStream): decode,
    0x5D CommitStream(rq::Basic): decode,
    0x5E GetStreamSize(rq::Basic): decode,
    0x5F QueryNamedProperties(rq::QueryNamedProperties): decode,
    0x60 GetPerUserLongTermIds(rq::GetPerUserLongTermIds): decode,
    0x61 GetPerUserGuid(rq::GetPerUserGuid): decode,
    0x63 ReadPerUserInformation(rq::ReadPerUserInformation): decode,
    0x64 WritePerUserInformation(rq::WritePerUserInformation) ctx: decode_ctx,
    0x66 SetReadFlags(rq::SetReadFlags): decode,
    0x67 CopyProperties(rq::CopyProperties): decode,
    0x68 GetReceiveFolderTable(rq::Basic): decode,
    0x69 FastTransferSourceCopyProperties(rq::FastTransferSourceCopyProperties): decode,
    0x6B GetCollapseState(rq::GetCollapseState): decode,
    0x6C SetCollapseState(rq::SetCollapseState): decode,
    0x6D GetTransportFolder(rq::Basic): decode,
    0x6F OptionsData(rq::OptionsData): decode,
    0x70 SynchronizationConfigure(rq::SynchronizationConfigure): decode,
    0x72 SynchronizationImportMessageChange(rq::SynchronizationImportMessageChange): decode,
    0x73 SynchronizationImportHierarchyChange(rq::SynchronizationImportHierarchyChange): decode,
    0x74 SynchronizationImportDeletes(rq::SynchronizationImportDeletes): decode,
    0x75 SynchronizationUploadStateStreamBegin(rq::SynchronizationUploadStateStreamBegin): decode,
    0x76 SynchronizationUploadStateStreamContinue(rq::SynchronizationUploadStateStreamContinue): decode,
    0x77 SynchronizationUploadStateStreamEnd(rq::Basic): decode,
    0x78 SynchronizationImportMessageMove(rq::SynchronizationImportMessageMove): decode,
    0x79 SetPropertiesNoReplicate(rq::SetProperties): decode,
    0x7A DeletePropertiesNoReplicate(rq::DeleteProperties): decode,
    0x7B GetStoreState(rq::Basic): decode,
    0x7E SynchronizationOpenCollector(rq::SynchronizationOpenCollector): decode,
    0x7F GetLocalReplicaIds(rq::GetLocalReplicaIds): decode,
    0x80 SynchronizationImportReadStateChanges(rq::SynchronizationImportReadStateChanges): decode,
    0x81 ResetTable(rq::Basic): decode,
    0x82 SynchronizationGetTransferState(rq::BasicOut): decode,
    0x86 TellVersion(rq::TellVersion): decode,
    0x89 FreeBookmark(rq::FreeBookmark): decode,
    0x90 WriteAndCommitStream(rq::WriteStream): decode,
    0x91 HardDeleteMessages(rq::DeleteMessages): decode,
    0x92 HardDeleteMessagesAndSubfolders(rq::EmptyFolder): decode,
    0x93 SetLocalReplicaMidsetDeleted(rq::SetLocalReplicaMidsetDeleted): decode,
    0x9D FastTransferDestinationPutBufferExtended(rq::FastTransferDestinationPutBuffer): decode,
    0xA3 WriteStreamExtended(rq::WriteStream): decode,
    0xFE Logon(rq::Logon): decode,
}

/// RopIds whose request carries an OutputHandleIndex (a new Server object is
/// created and its handle stored at that index of the handle table).
const CREATES_OBJECT: &[u8] = &[
    0x02, 0x03, 0x04, 0x05, 0x06, 0x1C, 0x21, 0x22, 0x23, 0x29, 0x2B, 0x3B, 0x3E, 0x3F, 0x46, 0x4B, 0x4C, 0x4D, 0x53,
    0x69, 0x70, 0x72, 0x7E, 0x82, 0xFE,
];

impl RopRequest {
    fn header_bytes(&self) -> [u8; 4] {
        let mut w = Writer::new();
        // Encoding a decoded request cannot fail for lengths that were decodable;
        // on failure the header simply reads as zeros.
        let _ = self.encode(&mut w);
        let b = w.as_slice();
        [0, 1, 2, 3].map(|i| b.get(i).copied().unwrap_or(0))
    }

    /// The LogonId byte (the second byte of every ROP request).
    pub fn logon_id(&self) -> u8 {
        self.header_bytes()[1]
    }

    /// The OutputHandleIndex, for ROPs that create a Server object.
    pub fn output_handle_index(&self) -> Option<u8> {
        let id = self.rop_id();
        if !CREATES_OBJECT.contains(&id) {
            return None;
        }
        let h = self.header_bytes();
        Some(if id == rop_id::Logon { h[2] } else { h[3] })
    }

    /// The handle index the response echoes: OutputHandleIndex for ROPs that
    /// create an object, ResponseHandleIndex for RopSaveChangesMessage /
    /// RopSaveChangesAttachment / RopSetMessageReadFlag, SourceHandleIndex for
    /// the copy and move ROPs, InputHandleIndex otherwise.
    pub fn response_handle_index(&self) -> u8 {
        self.output_handle_index().unwrap_or_else(|| self.header_bytes()[2])
    }

    /// The generic failure response to this request (MS-OXCROPS: RopId,
    /// handle index, ReturnValue). `None` for RopRelease, which has no response.
    pub fn error_response(&self, return_value: u32) -> Option<RopResponse> {
        if self.rop_id() == rop_id::Release {
            return None;
        }
        Some(RopResponse::error(self.rop_id(), self.response_handle_index(), return_value))
    }
}
