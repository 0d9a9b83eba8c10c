//! The EMSMDB endpoint (MS-OXCMAPIHTTP 2.2.4): Connect, Execute (ROP buffers inside RPC_HEADER_EXT extended
//! buffers, MS-OXCRPC 2.2.2.1), Disconnect and NotificationWait (in [`super::http`]).
//!
//! ROPs served so far: RopLogon to the caller's private mailbox (MS-OXCROPS 2.2.3.1, MS-OXCSTOR 2.2.1.1),
//! RopGetReceiveFolder, RopGetReceiveFolderTable, RopGetPropertiesSpecific / RopGetPropertiesAll /
//! RopGetPropertiesList on the logon, RopGetStoreState, RopGetAddressTypes, RopGetTransportFolder,
//! RopLongTermIdFromId / RopIdFromLongTermId and RopRelease. Every other ROP gets its
//! failure response with ecNotSupported inside a well-formed ROP output buffer.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mapi_codec::oxcdata::{
    LongTermId, ObjectId, PropTag, PropType, PropValue, PropertyRow, RowValue, TaggedPropertyValue,
};
use mapi_codec::rops::response::{Body, GetReceiveFolder, Logon, LogonPrivate, LogonTime, LongTermIdResp, RowSet};
use mapi_codec::rops::{RopContext, RopRequest, RopRequestBuffer, RopResponse, RopResponseBuffer, rop_id};
use mapi_codec::rpc::{self, EncodeOptions};

use super::Ctx;
use super::named;
use super::props as p;
use super::session::{EmsmdbState, Object, SessionRef, State};
use super::store::{self, StoreInfo, slot};
use super::wire::{self, ConnectRequest, ConnectResponse, ExecuteRequest, ExecuteResponse, Response};

/// The DN prefix of the organisation's recipients: the user's legacy DN without its last two components.
fn dn_prefix(legacy_dn: &str) -> String {
    match legacy_dn.to_ascii_lowercase().find("/cn=") {
        Some(i) => legacy_dn[..i].to_string(),
        None => legacy_dn.to_string(),
    }
}

/// Connect (MS-OXCMAPIHTTP 2.2.4.1): checks that the UserDn is the caller's own legacy DN and opens an EMSMDB
/// session. Returns the response body and, on success, the new session state.
pub fn connect(ctx: &Ctx, req: &ConnectRequest) -> (Vec<u8>, Option<State>) {
    let mine = req.user_dn.eq_ignore_ascii_case(&ctx.me.legacy_dn);
    let response = Response::Success {
        error_code: if mine { p::EC_SUCCESS } else { p::EC_UNKNOWN_USER },
        fields: ConnectResponse {
            max_polling_interval: 60_000,
            retry_count: 6,
            retry_delay: 10_000,
            dn_prefix: dn_prefix(&ctx.me.legacy_dn),
            display_name: ctx.me.display_name.clone(),
        },
        aux: Vec::new(),
    };
    if !mine {
        tracing::info!(user = %ctx.principal.mail, dn = %req.user_dn, "MAPI Connect for another user's DN refused");
    }
    let state = mine.then(|| State::Emsmdb(EmsmdbState::new(req.default_code_page, req.lcid_string)));
    (response.encode().unwrap_or_default(), state)
}

/// An Execute request decoded up front (so malformed input answers X-ResponseCode 12 before streaming).
pub struct PreparedExecute {
    pub flags: u32,
    pub max_rop_out: u32,
    pub buffers: Vec<RopRequestBuffer>,
}

/// Decodes the Execute body, undoes XOR/LZ77 of every RPC_HEADER_EXT segment and parses each ROP buffer's
/// framing. ROPs the codec cannot decode do not fail here: they get an error response.
pub fn prepare_execute(body: &[u8]) -> Result<PreparedExecute, mapi_codec::Error> {
    let req = ExecuteRequest::from_bytes(body)?;
    let segments = rpc::decode_chain(&req.rop_buffer)?;
    let ctx = RopContext::default();
    let buffers = segments.iter().map(|s| RopRequestBuffer::decode(&s.payload, &ctx)).collect::<Result<Vec<_>, _>>()?;
    Ok(PreparedExecute { flags: req.flags, max_rop_out: req.max_rop_out, buffers })
}

/// Runs the ROPs of an Execute request and returns the response body (MS-OXCMAPIHTTP 2.2.4.2.2).
pub async fn execute(ctx: Arc<Ctx>, session: SessionRef, prepared: PreparedExecute) -> Vec<u8> {
    let mut state = session.state.lock().await;
    let State::Emsmdb(es) = &mut *state else {
        return execute_response(p::EC_GENERAL_FAILURE, Vec::new());
    };
    let mut outputs = Vec::new();
    for buffer in &prepared.buffers {
        let out = run_buffer(&ctx, es, buffer).await;
        match out.encode() {
            Ok(b) => outputs.push(b),
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a ROP response buffer");
                return execute_response(p::EC_RPC_FORMAT, Vec::new());
            }
        }
    }
    let opts = EncodeOptions {
        compress: prepared.flags & wire::EXECUTE_NO_COMPRESSION == 0,
        xor: prepared.flags & wire::EXECUTE_NO_XOR_MAGIC == 0,
    };
    let slices: Vec<&[u8]> = outputs.iter().map(Vec::as_slice).collect();
    let (error_code, rop_buffer) = match rpc::encode_chain(&slices, opts) {
        Ok(b) if b.len() <= prepared.max_rop_out.max(0x8000) as usize => (p::EC_SUCCESS, b),
        Ok(_) => (0x0000_047D, Vec::new()), // ecBufferTooSmall (MS-OXCRPC 3.1.4.2)
        Err(_) => (p::EC_RPC_FORMAT, Vec::new()),
    };
    execute_response(error_code, rop_buffer)
}

/// An Execute response body (MS-OXCMAPIHTTP 2.2.4.2.2) with transport status 0.
fn execute_response(error_code: u32, rop_buffer: Vec<u8>) -> Vec<u8> {
    Response::Success { error_code, fields: ExecuteResponse { flags: 0, rop_buffer }, aux: Vec::new() }
        .encode()
        .unwrap_or_default()
}

/// ROPs whose request carries an OutputHandleIndex after the InputHandleIndex, for ROPs the codec could not
/// decode (decoded ones answer `RopRequest::output_handle_index`).
fn has_output_handle(id: u8) -> bool {
    matches!(
        id,
        0x02 | 0x03
            | 0x04
            | 0x05
            | 0x06
            | 0x1C
            | 0x21
            | 0x22
            | 0x23
            | 0x29
            | 0x2B
            | 0x3B
            | 0x3E
            | 0x3F
            | 0x46
            | 0x4B
            | 0x4C
            | 0x4D
            | 0x53
            | 0x69
            | 0x70
            | 0x7E
            | 0x82
    )
}

fn store_info(ctx: &Ctx, es: &EmsmdbState) -> StoreInfo {
    let mail = ctx.principal.mail.clone();
    StoreInfo {
        display_name: ctx.me.display_name.clone(),
        legacy_dn: ctx.me.legacy_dn.clone(),
        mailbox_guid: store::guid(crate::autodiscover::settings::mailbox_guid(&mail)),
        replica_guid: store::replica_guid(&mail),
        code_page: if es.code_page == 0 { 1252 } else { es.code_page },
        locale: if es.locale == 0 { 1033 } else { es.locale },
        mail,
    }
}

/// Converts a value to the type the client asked for, where MAPI allows it (string flavours).
fn coerce(v: &PropValue, want: PropTag, unicode: bool) -> Option<PropValue> {
    let raw = want.type_raw();
    let to8 =
        |s: &str| PropValue::String8(s.chars().map(|c| if (c as u32) < 0x100 { c as u8 } else { b'?' }).collect());
    match v {
        PropValue::String(s) if raw == PropType::String8.as_u16() => Some(to8(s)),
        PropValue::String(s) if raw == PropType::Unspecified.as_u16() && !unicode => Some(to8(s)),
        _ if raw == PropType::Unspecified.as_u16() || raw == v.prop_type().as_u16() => Some(v.clone()),
        _ => None,
    }
}

fn now_filetime() -> u64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(d.subsec_nanos() / 100)
}

/// The current UTC time as a LogonTime (MS-OXCROPS 2.2.3.1.2).
fn logon_time() -> LogonTime {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    LogonTime {
        seconds: (rem % 60) as u8,
        minutes: ((rem / 60) % 60) as u8,
        hour: (rem / 3600) as u8,
        day_of_week: ((days + 4).rem_euclid(7)) as u8,
        day: day as u8,
        month: month as u8,
        year: year as u16,
    }
}

/// The receive folder of a message class (MS-OXCSTOR 3.2.5.2 defaults): IPC classes go to the root, everything
/// else to the Inbox. Returns the folder slot and the explicit class that matched.
fn receive_folder(class: &str) -> (u64, &'static str) {
    let c = class.to_ascii_uppercase();
    if c == "IPC" || c.starts_with("IPC.") {
        (slot::ROOT, "IPC")
    } else if c == "IPM" || c.starts_with("IPM.") {
        (slot::INBOX, "IPM")
    } else if c == "REPORT.IPM" || c.starts_with("REPORT.IPM.") {
        (slot::INBOX, "REPORT.IPM")
    } else {
        (slot::INBOX, "")
    }
}

async fn run_buffer(ctx: &Ctx, es: &mut EmsmdbState, buffer: &RopRequestBuffer) -> RopResponseBuffer {
    let mut handles = buffer.handles.clone();
    let mut out = Vec::new();
    for rop in &buffer.rops {
        let named = match rop {
            RopRequest::GetPropertyIdsFromNames(_)
            | RopRequest::GetNamesFromPropertyIds(_)
            | RopRequest::QueryNamedProperties(_) => Some(run_named(ctx, es, &handles, rop).await),
            _ => None,
        };
        if let Some(r) = named {
            out.push(r);
        } else if let Some(r) = run_rop(ctx, es, &mut handles, rop) {
            out.push(r);
        }
    }
    if let Some(stop) = &buffer.stopped {
        tracing::debug!(rop = stop.rop_id, error = %stop.error, "ROP not decodable; answering ecNotSupported and stopping");
        let index = if has_output_handle(stop.rop_id) { stop.remaining.get(3).copied() } else { stop.handle_index };
        out.push(RopResponse::error(stop.rop_id, index.unwrap_or(0), p::EC_NOT_SUPPORTED));
    }
    RopResponseBuffer { rops: out, handles }
}

/// The named-property ROPs (MS-OXCPRPT 3.2.5.x), answered from the mailbox's log (`named`). Unmappable names
/// get id 0 and unknown ids a kind-0xFF name, with ReturnValue 0: the codec has no "warning with body" response
/// (ecWarnWithErrors) yet.
async fn run_named(ctx: &Ctx, es: &mut EmsmdbState, handles: &[u32], rop: &RopRequest) -> RopResponse {
    use mapi_codec::oxcdata::{NameKind, PropertyName};
    let id = rop.rop_id();
    let index = rop.response_handle_index();
    let input = match rop {
        RopRequest::GetPropertyIdsFromNames(g) => g.input_handle_index,
        RopRequest::GetNamesFromPropertyIds(g) => g.input_handle_index,
        RopRequest::QueryNamedProperties(q) => q.input_handle_index,
        _ => return RopResponse::error(id, index, p::EC_NOT_SUPPORTED),
    };
    if object(es, handles, input).is_none() {
        return RopResponse::error(id, index, p::EC_NULL_OBJECT);
    }
    let map = |es: &EmsmdbState| es.named.clone().unwrap_or_default();
    match rop {
        RopRequest::GetPropertyIdsFromNames(g) => {
            let create = g.flags & 0x02 != 0;
            let ids = match &ctx.imap {
                Some((store, principal)) => {
                    match named::resolve(store, principal, es.named.clone(), &g.property_names, create).await {
                        Ok((m, ids)) => {
                            es.named = Some(m);
                            ids
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "named-property map unavailable");
                            return RopResponse::error(id, index, p::EC_GENERAL_FAILURE);
                        }
                    }
                }
                None => {
                    let m = map(es);
                    g.property_names.iter().map(|n| m.id_of(n).unwrap_or(0)).collect()
                }
            };
            RopResponse::success(index, Body::GetPropertyIdsFromNames(ids))
        }
        RopRequest::GetNamesFromPropertyIds(g) => {
            if g.property_ids.iter().any(|i| *i >= named::FIRST_ID && map(es).name_of(*i).is_none())
                && let Some((store, principal)) = &ctx.imap
            {
                match named::load(store, principal).await {
                    Ok(m) => es.named = Some(Arc::new(m)),
                    Err(e) => {
                        tracing::warn!(error = %e, "named-property map unavailable");
                        return RopResponse::error(id, index, p::EC_GENERAL_FAILURE);
                    }
                }
            }
            let m = map(es);
            let names = g
                .property_ids
                .iter()
                .map(|i| {
                    if *i < 0x8000 {
                        PropertyName { guid: mapi_codec::oxcdata::PS_MAPI, kind: NameKind::Lid(u32::from(*i)) }
                    } else {
                        m.name_of(*i).unwrap_or(PropertyName { guid: Default::default(), kind: NameKind::None })
                    }
                })
                .collect();
            RopResponse::success(index, Body::GetNamesFromPropertyIds(names))
        }
        RopRequest::QueryNamedProperties(q) => {
            if let Some((store, principal)) = &ctx.imap {
                match named::load(store, principal).await {
                    Ok(m) => es.named = Some(Arc::new(m)),
                    Err(e) => {
                        tracing::warn!(error = %e, "named-property map unavailable");
                        return RopResponse::error(id, index, p::EC_GENERAL_FAILURE);
                    }
                }
            }
            // QueryFlags: NoStrings 0x01, NoIds 0x02 (MS-OXCROPS 2.2.8.10.1).
            let (ids, names): (Vec<u16>, Vec<PropertyName>) = map(es)
                .all()
                .into_iter()
                .filter(|(_, n)| q.property_guid.is_none_or(|g| n.guid == g))
                .filter(|(_, n)| match n.kind {
                    NameKind::Name(_) => q.query_flags & 0x01 == 0,
                    NameKind::Lid(_) => q.query_flags & 0x02 == 0,
                    NameKind::None => false,
                })
                .unzip();
            RopResponse::success(index, Body::QueryNamedProperties(ids, names))
        }
        _ => RopResponse::error(id, index, p::EC_NOT_SUPPORTED),
    }
}

fn object<'a>(es: &'a EmsmdbState, handles: &[u32], index: u8) -> Option<&'a Object> {
    handles.get(index as usize).and_then(|h| es.handles.get(h))
}

fn run_rop(ctx: &Ctx, es: &mut EmsmdbState, handles: &mut [u32], rop: &RopRequest) -> Option<RopResponse> {
    let id = rop.rop_id();
    // MS-OXCROPS 2.2.1: responses carry the OutputHandleIndex for ROPs that create an object, else the
    // InputHandleIndex (or the ResponseHandleIndex / SourceHandleIndex in its place).
    let (index, output) = (rop.response_handle_index(), rop.output_handle_index());
    let err = |code| Some(RopResponse::error(id, index, code));
    match rop {
        RopRequest::Release(b) => {
            if let Some(h) = handles.get(b.input_handle_index as usize) {
                es.handles.remove(h);
            }
            None
        }
        RopRequest::Logon(l) => {
            let out = l.output_handle_index;
            if l.logon_flags & 0x01 == 0 {
                // Public folders are not offered.
                return err(p::EC_NOT_SUPPORTED);
            }
            if let Some(dn) = &l.essdn
                && !dn.is_empty()
                && !dn.eq_ignore_ascii_case(&ctx.me.legacy_dn)
            {
                tracing::info!(user = %ctx.principal.mail, essdn = %dn, "logon to another mailbox refused");
                return err(p::EC_LOGIN_PERM);
            }
            if (out as usize) >= handles.len() {
                return err(p::EC_INVALID_PARAM);
            }
            let info = store_info(ctx, es);
            let h = es.add(Object::Logon { logon_id: l.logon_id });
            handles[out as usize] = h;
            Some(RopResponse::success(
                out,
                Body::Logon(Logon::Private(LogonPrivate {
                    logon_flags: l.logon_flags,
                    folder_ids: store::logon_folder_ids(),
                    // Reserved | OwnerRight | SendAsRight (MS-OXCROPS 2.2.3.1.2).
                    response_flags: 0x07,
                    mailbox_guid: info.mailbox_guid,
                    replica_id: store::REPLICA_ID,
                    replica_guid: info.replica_guid,
                    logon_time: logon_time(),
                    gwart_time: now_filetime(),
                    store_state: 0,
                })),
            ))
        }
        RopRequest::GetReceiveFolder(g) => {
            if !matches!(object(es, handles, g.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            let (slot, explicit) = receive_folder(&g.message_class);
            Some(RopResponse::success(
                index,
                Body::GetReceiveFolder(GetReceiveFolder {
                    folder_id: store::fid(slot),
                    explicit_message_class: explicit.to_string(),
                }),
            ))
        }
        RopRequest::GetPropertiesSpecific(g) => {
            if !matches!(object(es, handles, g.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            let props = store_info(ctx, es).properties();
            let unicode = g.want_unicode != 0;
            let values = g
                .property_tags
                .iter()
                .map(|t| {
                    props
                        .iter()
                        .find(|(pt, _)| pt.id() == t.id())
                        .and_then(|(_, v)| coerce(v, *t, unicode))
                        .map(RowValue::Value)
                        .unwrap_or(RowValue::Error(p::EC_NOT_FOUND))
                })
                .collect();
            let row = PropertyRow::from_values(values);
            Some(RopResponse::success(
                index,
                Body::GetPropertiesSpecific(RowSet { columns: g.property_tags.clone(), rows: vec![row] }),
            ))
        }
        RopRequest::GetPropertiesAll(g) => {
            if !matches!(object(es, handles, g.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            let unicode = g.want_unicode != 0;
            let values = store_info(ctx, es)
                .properties()
                .into_iter()
                .filter_map(|(t, v)| {
                    let want = if unicode { t } else { t.with_type(PropType::Unspecified.as_u16()) };
                    coerce(&v, want, unicode).map(|v| {
                        let tag = t.with_type(v.prop_type().as_u16());
                        TaggedPropertyValue::new(tag, v)
                    })
                })
                .collect();
            Some(RopResponse::success(index, Body::GetPropertiesAll(values)))
        }
        RopRequest::GetPropertiesList(b) => {
            if !matches!(object(es, handles, b.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            let tags = store_info(ctx, es).properties().into_iter().map(|(t, _)| t).collect();
            Some(RopResponse::success(index, Body::Tags(id, tags)))
        }
        RopRequest::GetReceiveFolderTable(b) => {
            if !matches!(object(es, handles, b.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            // MS-OXCSTOR 3.2.5.3: every explicit entry of the receive folder table, in the shape of
            // RECEIVE_FOLDER_TABLE_COLUMNS. The defaults are fixed, so the modification time is a constant
            // (2000-01-01T00:00:00Z) every instance agrees on.
            const Y2K_FILETIME: u64 = 125_911_584_000_000_000;
            let rows = ["", "IPC", "IPM", "REPORT.IPM"]
                .iter()
                .map(|class| {
                    let (slot, _) = receive_folder(class);
                    PropertyRow::from_values(vec![
                        RowValue::Value(PropValue::Integer64(store::fid(slot).to_u64() as i64)),
                        RowValue::Value(PropValue::String8(class.as_bytes().to_vec())),
                        RowValue::Value(PropValue::Time(Y2K_FILETIME)),
                    ])
                })
                .collect();
            let columns = mapi_codec::rops::response::RECEIVE_FOLDER_TABLE_COLUMNS.to_vec();
            Some(RopResponse::success(index, Body::GetReceiveFolderTable(RowSet { columns, rows })))
        }
        RopRequest::GetAddressTypes(b) => {
            if !matches!(object(es, handles, b.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            // MS-OXOMSG 2.2.3.x: the recipient address types the transport accepts.
            Some(RopResponse::success(index, Body::GetAddressTypes(vec!["EX".into(), "SMTP".into()])))
        }
        RopRequest::GetTransportFolder(b) => {
            if !matches!(object(es, handles, b.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            // MS-OXOMSG 3.2.5.x: messages to send are placed in the Outbox.
            Some(RopResponse::success(index, Body::GetTransportFolder(store::fid(slot::OUTBOX))))
        }
        RopRequest::GetStoreState(b) => {
            if !matches!(object(es, handles, b.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            Some(RopResponse::success(index, Body::GetStoreState(0)))
        }
        RopRequest::LongTermIdFromId(x) => {
            if !matches!(object(es, handles, x.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            if x.object_id.replica_id != store::REPLICA_ID {
                return err(p::EC_NOT_FOUND);
            }
            let long_term_id = LongTermId {
                database_guid: store::replica_guid(&ctx.principal.mail),
                global_counter: x.object_id.global_counter,
                pad: 0,
            };
            Some(RopResponse::success(index, Body::LongTermIdFromId(LongTermIdResp { long_term_id })))
        }
        RopRequest::IdFromLongTermId(x) => {
            if !matches!(object(es, handles, x.input_handle_index), Some(Object::Logon { .. })) {
                return err(p::EC_NULL_OBJECT);
            }
            if x.long_term_id.database_guid != store::replica_guid(&ctx.principal.mail) {
                return err(p::EC_NOT_FOUND);
            }
            let oid = ObjectId { replica_id: store::REPLICA_ID, global_counter: x.long_term_id.global_counter };
            Some(RopResponse::success(index, Body::IdFromLongTermId(oid)))
        }
        _ => {
            tracing::debug!(rop = rop.name(), "ROP not implemented; ecNotSupported");
            if let Some(o) = output
                && let Some(h) = handles.get_mut(o as usize)
            {
                *h = 0xFFFF_FFFF;
            }
            err(p::EC_NOT_SUPPORTED)
        }
    }
}

/// RopIds this module answers with something other than ecNotSupported (for docs/protocol-coverage.md).
pub const IMPLEMENTED_ROPS: &[u8] = &[
    rop_id::Release,
    rop_id::Logon,
    rop_id::GetReceiveFolder,
    rop_id::GetPropertiesSpecific,
    rop_id::GetPropertiesAll,
    rop_id::GetPropertiesList,
    rop_id::GetStoreState,
    rop_id::GetReceiveFolderTable,
    rop_id::GetAddressTypes,
    rop_id::GetTransportFolder,
    rop_id::LongTermIdFromId,
    rop_id::IdFromLongTermId,
    rop_id::GetPropertyIdsFromNames,
    rop_id::GetNamesFromPropertyIds,
    rop_id::QueryNamedProperties,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapi::Caller;
    use mapi_codec::oxcdata::Guid;

    fn ctx() -> Ctx {
        let config: crate::config::Config = toml::from_str(
            r#"
            [server]
            listen = "127.0.0.1:8443"
            public_url = "https://mail.example.test"
            tls_cert = "c.pem"
            tls_key = "k.pem"
            [mail]
            domains = ["example.test"]
            organization = "Viaduc Demo"
            [imap]
            host = "127.0.0.1"
            port = 143
            "#,
        )
        .expect("config");
        let caller = Caller {
            login: "alice".into(),
            mail: "alice@example.test".into(),
            display_name: "Alice Anderson".into(),
            entry: None,
        };
        Ctx::for_caller(Arc::new(config), None, caller)
    }

    fn run(ctx: &Ctx, es: &mut EmsmdbState, rops: &[u8], handles: &[u32]) -> RopResponseBuffer {
        let mut w = mapi_codec::Writer::new();
        w.u16((rops.len() + 2) as u16);
        w.bytes(rops);
        for h in handles {
            w.u32(*h);
        }
        let buffer = RopRequestBuffer::decode(w.as_slice(), &RopContext::default()).unwrap();
        let out = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run_buffer(ctx, es, &buffer));
        // Whatever was answered encodes.
        out.encode().unwrap();
        out
    }

    fn logon_bytes(dn: &str, out_index: u8) -> Vec<u8> {
        let mut v = vec![0xFE, 0, out_index, 0x01];
        v.extend_from_slice(&0x0100_0000u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&((dn.len() + 1) as u16).to_le_bytes());
        v.extend_from_slice(dn.as_bytes());
        v.push(0);
        v
    }

    #[test]
    fn handle_table_semantics() {
        let ctx = ctx();
        let mut es = EmsmdbState::new(1252, 1033);
        // A ROP on an empty slot: ecNullObject.
        let out = run(&ctx, &mut es, &[0x27, 0, 0, b'I', b'P', b'M', 0], &[0xFFFF_FFFF]);
        assert!(matches!(out.rops[0], RopResponse::Error { rop_id: 0x27, return_value: p::EC_NULL_OBJECT, .. }));
        // Logon into slot 1; the other slot is left alone.
        let out = run(&ctx, &mut es, &logon_bytes(&ctx.me.legacy_dn, 1), &[7, 0xFFFF_FFFF]);
        let h = out.handles[1];
        assert!(h != 0xFFFF_FFFF && out.handles[0] == 7);
        assert!(matches!(&out.rops[0], RopResponse::Success { handle_index: 1, .. }));
        // Output index beyond the table: ecInvalidParam, nothing registered.
        let before = es.handles.len();
        let out = run(&ctx, &mut es, &logon_bytes(&ctx.me.legacy_dn, 3), &[0xFFFF_FFFF]);
        assert!(matches!(out.rops[0], RopResponse::Error { return_value: p::EC_INVALID_PARAM, .. }));
        assert_eq!(es.handles.len(), before);
        // The logon handle works in a later Execute; RopRelease frees it and answers nothing.
        let out = run(&ctx, &mut es, &[0x7B, 0, 0, 0x01, 0, 0], &[h]);
        assert_eq!(out.rops.len(), 1);
        assert!(matches!(out.rops[0], RopResponse::Success { body: Body::GetStoreState(0), .. }));
        assert!(!es.handles.contains_key(&h));
        // Long-term ids round-trip through the ReplicaGuid.
        let out = run(&ctx, &mut es, &logon_bytes("", 0), &[0xFFFF_FFFF]);
        let h = out.handles[0];
        let mut rop = vec![0x43, 0, 0];
        rop.extend_from_slice(&1u16.to_le_bytes());
        rop.extend_from_slice(&[0, 0, 0, 0, 0, 5]);
        let out = run(&ctx, &mut es, &rop, &[h]);
        let RopResponse::Success { body: Body::LongTermIdFromId(lt), .. } = &out.rops[0] else {
            panic!("{:?}", out.rops)
        };
        assert_eq!(lt.long_term_id.database_guid, store::replica_guid("alice@example.test"));
        let mut rop = vec![0x44, 0, 0];
        rop.extend_from_slice(&lt.long_term_id.database_guid.0);
        rop.extend_from_slice(&lt.long_term_id.global_counter.0);
        rop.extend_from_slice(&[0, 0]);
        let out = run(&ctx, &mut es, &rop, &[h]);
        assert!(
            matches!(&out.rops[0], RopResponse::Success { body: Body::IdFromLongTermId(o), .. } if *o == store::fid(slot::INBOX))
        );
        let mut rop = vec![0x44, 0, 0];
        rop.extend_from_slice(&Guid([9; 16]).0);
        rop.extend_from_slice(&[0; 8]);
        let out = run(&ctx, &mut es, &rop, &[h]);
        assert!(matches!(out.rops[0], RopResponse::Error { return_value: p::EC_NOT_FOUND, .. }));
    }

    #[test]
    fn logon_refusals_and_unsupported() {
        let ctx = ctx();
        let mut es = EmsmdbState::new(1252, 1033);
        // Public folders.
        let mut public = logon_bytes("", 0);
        public[3] = 0x00;
        let out = run(&ctx, &mut es, &public, &[0xFFFF_FFFF]);
        assert!(matches!(out.rops[0], RopResponse::Error { rop_id: 0xFE, return_value: p::EC_NOT_SUPPORTED, .. }));
        // Someone else's mailbox.
        let out = run(&ctx, &mut es, &logon_bytes("/o=Viaduc Demo/cn=Recipients/cn=bob", 0), &[0xFFFF_FFFF]);
        assert!(matches!(out.rops[0], RopResponse::Error { return_value: p::EC_LOGIN_PERM, .. }));
        assert!(es.handles.is_empty());
        // An unsupported ROP that creates an object names its output index and leaves the slot invalid.
        let mut rops = logon_bytes(&ctx.me.legacy_dn, 0);
        rops.extend_from_slice(&[0x02, 0, 0, 1]); // RopOpenFolder: in 0, out 1
        rops.extend_from_slice(&store::fid(slot::INBOX).to_u64().to_le_bytes());
        rops.push(0);
        let out = run(&ctx, &mut es, &rops, &[0xFFFF_FFFF, 5]);
        assert!(matches!(
            out.rops[1],
            RopResponse::Error { rop_id: 0x02, handle_index: 1, return_value: p::EC_NOT_SUPPORTED }
        ));
        assert_eq!(out.handles[1], 0xFFFF_FFFF);
    }

    #[test]
    fn store_properties_follow_want_unicode() {
        let ctx = ctx();
        let mut es = EmsmdbState::new(1252, 1033);
        let out = run(&ctx, &mut es, &logon_bytes(&ctx.me.legacy_dn, 0), &[0xFFFF_FFFF]);
        let h = out.handles[0];
        // RopGetPropertiesAll, WantUnicode = 0: strings come back as PtypString8.
        let out = run(&ctx, &mut es, &[0x08, 0, 0, 0, 0, 0, 0], &[h]);
        let RopResponse::Success { body: Body::GetPropertiesAll(all), .. } = &out.rops[0] else { panic!() };
        let name = all.iter().find(|v| v.tag.id() == p::DISPLAY_NAME.id()).unwrap();
        assert_eq!(name.tag.type_raw(), 0x001E);
        assert_eq!(name.value, PropValue::String8(b"Alice Anderson".to_vec()));
        // RopGetPropertiesSpecific with a PtypUnspecified tag and WantUnicode = 1.
        let mut rop = vec![0x07, 0, 0, 0, 0, 1, 0, 1, 0];
        rop.extend_from_slice(&p::MAILBOX_OWNER_NAME.with_type(0).0.to_le_bytes());
        let out = run(&ctx, &mut es, &rop, &[h]);
        let RopResponse::Success { body: Body::GetPropertiesSpecific(rs), .. } = &out.rops[0] else { panic!() };
        assert_eq!(rs.rows[0].values[0], RowValue::Value(PropValue::String("Alice Anderson".into())));
        // RopGetReceiveFolderTable, RopGetAddressTypes, RopGetTransportFolder.
        let out = run(&ctx, &mut es, &[0x68, 0, 0, 0x49, 0, 0, 0x6D, 0, 0], &[h]);
        let RopResponse::Success { body: Body::GetReceiveFolderTable(t), .. } = &out.rops[0] else { panic!() };
        assert_eq!(t.rows.len(), 4);
        assert_eq!(t.rows[1].values[0], RowValue::Value(PropValue::Integer64(store::fid(slot::ROOT).to_u64() as i64)));
        assert!(
            matches!(&out.rops[1], RopResponse::Success { body: Body::GetAddressTypes(v), .. } if v == &["EX", "SMTP"])
        );
        assert!(
            matches!(&out.rops[2], RopResponse::Success { body: Body::GetTransportFolder(f), .. } if *f == store::fid(slot::OUTBOX))
        );
        // Round trip through the codec's response decoder.
        let bytes = out.encode().unwrap();
        assert_eq!(RopResponseBuffer::decode(&bytes, &()).unwrap(), out);
        // RopGetPropertiesList.
        let out = run(&ctx, &mut es, &[0x09, 0, 0], &[h]);
        assert!(
            matches!(&out.rops[0], RopResponse::Success { body: Body::Tags(0x09, t), .. } if t.contains(&p::STORE_SUPPORT_MASK))
        );
    }

    #[test]
    fn receive_folders() {
        assert_eq!(receive_folder(""), (slot::INBOX, ""));
        assert_eq!(receive_folder("IPM.Note"), (slot::INBOX, "IPM"));
        assert_eq!(receive_folder("ipc.foo"), (slot::ROOT, "IPC"));
        assert_eq!(receive_folder("REPORT.IPM.Note.NDR"), (slot::INBOX, "REPORT.IPM"));
    }

    #[test]
    fn time_is_sane() {
        let t = logon_time();
        assert!(t.year >= 2024 && (1..=12).contains(&t.month) && (1..=31).contains(&t.day) && t.day_of_week < 7);
        assert!(now_filetime() > 133_000_000_000_000_000);
    }

    #[test]
    fn prefix() {
        assert_eq!(
            dn_prefix("/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"),
            "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
        );
    }

    #[test]
    fn coerce_strings() {
        let s = PropValue::String("Ab".into());
        assert_eq!(coerce(&s, p::DISPLAY_NAME, true), Some(s.clone()));
        assert_eq!(coerce(&s, p::DISPLAY_NAME.with_type(0x1E), true), Some(PropValue::String8(b"Ab".to_vec())));
        assert_eq!(coerce(&s, p::DISPLAY_NAME.with_type(0), false), Some(PropValue::String8(b"Ab".to_vec())));
        assert_eq!(coerce(&s, p::DISPLAY_NAME.with_type(3), true), None);
    }
}
