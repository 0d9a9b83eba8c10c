//! MAPI over HTTP against the real stack (Dovecot + OpenLDAP): what Outlook for Windows does when it creates a
//! profile — POX Autodiscover, the NSPI address-book calls, EMSMDB Connect, Execute with RopLogon and the store
//! properties, Disconnect — plus the transport's failure paths (MS-OXCMAPIHTTP X-ResponseCode values).
//!
//! Needs `VIADUC_TEST_STACK` (see docs/testing.md). With `VIADUC_RECORD=1` the exchanged bodies of the profile
//! creation are written to `protocol-fixtures/mapi/profile-creation/`.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stack, free_port, repo_root};
use mapi_codec::oxcdata::{PermanentEntryId, PropTag, PropValue, RowValue};
use mapi_codec::rops::response::{Body as RopBody, Logon};
use mapi_codec::rops::{RopResponse, RopResponseBuffer};
use mapi_codec::rpc::{self, EncodeOptions};
use mapi_codec::{Reader, Writer};
use viaduc::mapi::wire::{self, ConnectRequest, ConnectResponse, ExecuteRequest, ExecuteResponse, Response, Stat};

const PASSWORD: &str = "viaduc-demo";

/// A `viaduc serve` started with extra environment (MAPI tuning knobs), killed on drop.
struct Server {
    url: String,
    ca: PathBuf,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(stack: &Stack, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("viaduc.toml");
        std::fs::write(&config, stack.config_text(port)).expect("config");
        let log = dir.path().join("viaduc.log");
        let out = std::fs::File::create(&log).expect("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_viaduc"));
        cmd.args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "viaduc=debug,info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start viaduc");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "viaduc did not listen:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { url: format!("https://127.0.0.1:{port}"), ca: stack.ca_file(), log, child, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One MAPI/HTTP exchange as the client saw it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    raw: Vec<u8>,
    /// X-ResponseCode of the HTTP headers.
    code: u32,
    /// Meta-tags (PROCESSING, PENDING, DONE), meta headers and binary body of a successful response.
    tags: Vec<String>,
    meta: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

/// A MAPI/HTTP client keeping cookies per endpoint, as Outlook does.
struct Client {
    http: reqwest::Client,
    base: String,
    user: String,
    cookies: HashMap<String, String>,
    seq: u32,
    record: Option<PathBuf>,
    transcript: String,
}

impl Client {
    fn new(server: &Server, user: &str) -> Client {
        let pem = std::fs::read(&server.ca).expect("CA");
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(60));
        for c in reqwest::Certificate::from_pem_bundle(&pem).expect("CA PEM") {
            b = b.add_root_certificate(c);
        }
        Client {
            http: b.build().expect("client"),
            base: server.url.clone(),
            user: user.to_string(),
            cookies: HashMap::new(),
            seq: 0,
            record: None,
            transcript: String::new(),
        }
    }

    fn recording(mut self, name: &str) -> Client {
        if std::env::var("VIADUC_RECORD").as_deref() == Ok("1") {
            let dir = repo_root().join("protocol-fixtures/mapi").join(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("fixture dir");
            self.record = Some(dir);
        }
        self
    }

    fn cookie_header(&self) -> String {
        let mut v: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        v.sort();
        v.join("; ")
    }

    /// POSTs `body` with `X-RequestType: request_type` to `path` with the stored cookies.
    async fn call(&mut self, path: &str, request_type: &str, body: Vec<u8>) -> Reply {
        let cookie = self.cookie_header();
        self.call_with(path, request_type, body, Some(&cookie), "application/mapi-http").await
    }

    async fn call_with(
        &mut self,
        path: &str,
        request_type: &str,
        body: Vec<u8>,
        cookie: Option<&str>,
        content_type: &str,
    ) -> Reply {
        self.seq += 1;
        let mut rb = self
            .http
            .post(format!("{}{}", self.base, path))
            .basic_auth(&self.user, Some(PASSWORD))
            .header("Content-Type", content_type)
            .header("X-RequestType", request_type)
            .header("X-RequestId", format!("{{E2EA6C1C-6F1E-4A7E-9C2B-0B1A2C3D4E5F}}:{}", self.seq))
            .header("X-ClientInfo", "{2D1E1F0A-9A4B-4C3D-8E7F-6A5B4C3D2E1F}-1")
            .header("X-ClientApplication", "Outlook/16.0.17928.20114")
            .body(body.clone());
        if let Some(c) = cookie.filter(|c| !c.is_empty()) {
            rb = rb.header("Cookie", c);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for sc in headers.get_all("set-cookie") {
            if let Some((k, v)) = sc.to_str().ok().and_then(|s| s.split(';').next()).and_then(|kv| kv.split_once('=')) {
                self.cookies.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        let raw = resp.bytes().await.expect("body").to_vec();
        let code = headers
            .get("x-responsecode")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(u32::MAX);
        let split = if code == 0 {
            viaduc::mapi::http::split_response(&raw).expect("meta-tag framing")
        } else {
            Default::default()
        };
        let (tags, meta, rbody) = (split.tags, split.meta, split.body);
        if let Some(dir) = &self.record {
            let n = self.seq;
            let name = format!("{n:02}-{}-{request_type}", if path.contains("nspi") { "nspi" } else { "emsmdb" });
            std::fs::write(dir.join(format!("{name}.request.bin")), &body).expect("write fixture");
            std::fs::write(dir.join(format!("{name}.response.bin")), &raw).expect("write fixture");
            self.transcript.push_str(&format!("C: POST {path}\nC: X-RequestType: {request_type}\n"));
            for (k, v) in &headers {
                if k.as_str().starts_with("x-") || k == "set-cookie" || k == "content-type" {
                    self.transcript.push_str(&format!("S: {k}: {}\n", v.to_str().unwrap_or("?")));
                }
            }
            self.transcript.push_str(&format!("S: body {} bytes -> {name}.response.bin\n\n", raw.len()));
            std::fs::write(dir.join("transcript.txt"), &self.transcript).expect("write transcript");
        }
        Reply { status, headers, raw, code, tags, meta, body: rbody }
    }
}

fn stat(current_rec: u32, delta: i32, code_page: u32) -> Stat {
    Stat { code_page, current_rec, delta, template_locale: 1033, sort_locale: 1033, ..Default::default() }
}

/// The success fields of a MAPI/HTTP response body (StatusCode 0), with its ErrorCode.
fn fields<T: mapi_codec::mapihttp::ResponseFields>(body: &[u8]) -> (u32, T) {
    match Response::<T>::decode(body).expect("response body") {
        Response::Success { error_code, fields, .. } => (error_code, fields),
        Response::Failure { status_code, .. } => panic!("StatusCode {status_code}"),
    }
}

fn put_stat(w: &mut Writer, s: &Stat) {
    w.u8(0xFF);
    s.encode(w);
}

fn put_tags(w: &mut Writer, tags: &[u32]) {
    w.u8(0xFF);
    w.u32(tags.len() as u32);
    for t in tags {
        w.u32(*t);
    }
}

fn status_error(r: &mut Reader) -> (u32, u32) {
    (r.u32().unwrap(), r.u32().unwrap())
}

/// Reads Columns + RowCount + AddressBookPropertyRows as (tag, Option<value>) per row.
fn read_rowset(r: &mut Reader) -> (Vec<PropTag>, Vec<Vec<Option<PropValue>>>) {
    let n = r.u32().unwrap() as usize;
    let cols: Vec<PropTag> = (0..n).map(|_| PropTag(r.u32().unwrap())).collect();
    let rows = r.u32().unwrap();
    let mut out = Vec::new();
    for _ in 0..rows {
        let flagged = r.u8().unwrap() == 1;
        let mut row = Vec::new();
        for c in &cols {
            let mut ty = c.prop_type().unwrap();
            if c.type_raw() == 0 {
                ty = mapi_codec::oxcdata::PropType::from_u16(r.u16().unwrap()).unwrap();
            }
            if flagged {
                match r.u8().unwrap() {
                    0x00 => {}
                    0x0A => {
                        r.u32().unwrap();
                        row.push(None);
                        continue;
                    }
                    f => panic!("flag {f}"),
                }
            }
            row.push(wire::decode_abk_value(r, ty).unwrap());
        }
        out.push(row);
    }
    (cols, out)
}

fn text(v: &Option<PropValue>) -> String {
    match v {
        Some(PropValue::String(s)) => s.clone(),
        Some(PropValue::String8(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a string: {other:?}"),
    }
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let a = s.find(open).unwrap_or_else(|| panic!("{open} missing in {s}")) + open.len();
    let b = s[a..].find(close).unwrap() + a;
    &s[a..b]
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

const PR_DISPLAY_NAME: u32 = 0x3001_001F;
const PR_EMAIL_ADDRESS: u32 = 0x3003_001F;
const PR_SMTP_ADDRESS: u32 = 0x39FE_001F;
const PR_PROXY_ADDRESSES: u32 = 0x800F_101F;
const PR_ENTRYID: u32 = 0x0FFF_0102;
const PR_OBJECT_TYPE: u32 = 0x0FFE_0003;
const PR_DISPLAY_TYPE: u32 = 0x3900_0003;
const PR_TITLE: u32 = 0x3A17_001F;
const PR_MANAGER_DN: u32 = 0x8005_001F;
const PR_ACCOUNT: u32 = 0x3A00_001F;
const PR_INSTANCE_KEY: u32 = 0x0FF6_0102;

fn logon_rop(essdn: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(0xFE); // RopLogon
    w.u8(0); // LogonId
    w.u8(0); // OutputHandleIndex
    w.u8(0x01); // LogonFlags: Private
    w.u32(0x0100_0000 | 0x0000_0004); // OpenFlags: USE_PER_MDB_REPLID_MAPPING | HOME_LOGON
    w.u32(0); // StoreState
    w.u16((essdn.len() + 1) as u16);
    w.str8z(essdn.as_bytes());
    w.into_vec()
}

/// RopSize + ROPs + handle table, wrapped into an RPC_HEADER_EXT chain.
fn rop_buffer(rops: &[u8], handles: &[u32], opts: EncodeOptions) -> Vec<u8> {
    let mut w = Writer::new();
    w.u16((rops.len() + 2) as u16);
    w.bytes(rops);
    for h in handles {
        w.u32(*h);
    }
    rpc::encode_chain(&[w.as_slice()], opts).unwrap()
}

fn execute_body(rop_buf: Vec<u8>, flags: u32) -> Vec<u8> {
    ExecuteRequest { flags, rop_buffer: rop_buf, max_rop_out: 0x10008, aux: vec![] }.to_bytes().unwrap()
}

fn connect_body(dn: &str) -> Vec<u8> {
    ConnectRequest {
        user_dn: dn.into(),
        flags: 0,
        default_code_page: 1252,
        lcid_sort: 1033,
        lcid_string: 1033,
        aux: vec![],
    }
    .to_bytes()
    .unwrap()
}

struct Discovered {
    legacy_dn: String,
    emsmdb: String,
    nspi: String,
}

async fn autodiscover(c: &mut Client, mail: &str) -> Discovered {
    let req = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{mail}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#
    );
    let resp = c
        .http
        .post(format!("{}/autodiscover/autodiscover.xml", c.base))
        .basic_auth(&c.user, Some(PASSWORD))
        .header("Content-Type", "text/xml")
        .header("X-MapiHttpCapability", "1")
        .body(req)
        .send()
        .await
        .expect("autodiscover");
    assert_eq!(resp.status(), 200);
    let xml = resp.text().await.unwrap();
    let mapi = between(&xml, "Type=\"mapiHttp\"", "</Protocol>");
    Discovered {
        legacy_dn: between(&xml, "<LegacyDN>", "</LegacyDN>").to_string(),
        emsmdb: path_of(between(between(mapi, "<MailStore>", "</MailStore>"), "<InternalUrl>", "</InternalUrl>")),
        nspi: path_of(between(between(mapi, "<AddressBook>", "</AddressBook>"), "<InternalUrl>", "</InternalUrl>")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_profile_creation() {
    let stack = Stack::from_env();
    let server = Server::start(&stack, &[]);
    let mut c = Client::new(&server, "alice@example.test").recording("profile-creation");

    // 1. Autodiscover (POX, with X-MapiHttpCapability).
    let d = autodiscover(&mut c, "alice@example.test").await;
    assert!(d.legacy_dn.ends_with("/cn=Recipients/cn=alice"), "{}", d.legacy_dn);
    assert!(d.emsmdb.to_ascii_lowercase().starts_with("/mapi/emsmdb/?mailboxid="), "{}", d.emsmdb);

    // 2. NSPI Bind.
    let mut w = Writer::new();
    w.u32(0);
    put_stat(&mut w, &stat(0, 0, 1252));
    w.u32(0);
    let r = c.call(&d.nspi, "Bind", w.into_vec()).await;
    assert_eq!((r.status, r.code), (200, 0), "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(r.tags.first().map(String::as_str), Some("PROCESSING"));
    assert_eq!(r.tags.last().map(String::as_str), Some("DONE"));
    assert!(r.meta.iter().any(|(k, v)| k == "X-ResponseCode" && v == "0"));
    assert!(r.meta.iter().any(|(k, _)| k == "X-ElapsedTime"));
    assert!(r.meta.iter().any(|(k, _)| k == "X-StartTime"));
    assert_eq!(r.header("x-requesttype").as_deref(), Some("Bind"));
    assert!(r.header("x-requestid").unwrap().ends_with(":1"));
    assert!(r.header("x-serverapplication").unwrap().starts_with("Exchange/15."));
    assert!(r.header("x-pendingperiod").is_some() && r.header("x-expirationinfo").is_some());
    assert!(c.cookies.contains_key("MapiContext") && c.cookies.contains_key("MapiSequence"));
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    let server_guid = rd.array::<16>().unwrap();
    assert_ne!(server_guid, [0; 16]);

    // 3. GetSpecialTable (hierarchy, Unicode).
    let mut w = Writer::new();
    w.u32(0x4);
    put_stat(&mut w, &stat(0, 0, 1252));
    w.u8(0);
    w.u32(0);
    let r = c.call(&d.nspi, "GetSpecialTable", w.into_vec()).await;
    assert_eq!(r.code, 0);
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    rd.u32().unwrap(); // code page
    assert_eq!(rd.u8().unwrap(), 0xFF);
    rd.u32().unwrap(); // version
    assert_eq!(rd.u8().unwrap(), 0xFF);
    assert_eq!(rd.u32().unwrap(), 1, "one container: the GAL");
    let n = rd.u32().unwrap();
    let mut names = Vec::new();
    for _ in 0..n {
        let (tag, v) = wire::decode_abk_tagged(&mut rd).unwrap();
        if tag.0 == PR_DISPLAY_NAME {
            names.push(text(&v));
        }
        if tag.0 == 0xFFFD_0003 {
            assert_eq!(v, Some(PropValue::Integer32(0)));
        }
    }
    assert_eq!(names, ["Global Address List"]);

    // 4. DNToMId for the user's own DN (and an unknown one).
    let mut w = Writer::new();
    w.u32(0);
    w.u8(0xFF);
    w.u32(2);
    w.str8z(d.legacy_dn.as_bytes());
    w.str8z(b"/o=Nowhere/cn=nobody");
    w.u32(0);
    let r = c.call(&d.nspi, "DNToMId", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    assert_eq!(rd.u8().unwrap(), 0xFF);
    assert_eq!(rd.u32().unwrap(), 2);
    let my_mid = rd.u32().unwrap();
    assert!(my_mid >= 0x10, "MId {my_mid:#x}");
    assert_eq!(rd.u32().unwrap(), 0, "unknown DN -> MID_UNRESOLVED");

    // 5. GetProps of that MId.
    let mut w = Writer::new();
    w.u32(0);
    put_stat(&mut w, &stat(my_mid, 0, 1200));
    put_tags(
        &mut w,
        &[
            PR_DISPLAY_NAME,
            PR_EMAIL_ADDRESS,
            PR_SMTP_ADDRESS,
            PR_PROXY_ADDRESSES,
            PR_ENTRYID,
            PR_OBJECT_TYPE,
            PR_DISPLAY_TYPE,
            PR_TITLE,
            PR_ACCOUNT,
            PR_MANAGER_DN,
        ],
    );
    w.u32(0);
    let r = c.call(&d.nspi, "GetProps", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    let (_, ec) = status_error(&mut rd);
    assert_eq!(ec, 0x0004_0380, "alice has no manager: ecWarnWithErrors");
    rd.u32().unwrap();
    assert_eq!(rd.u8().unwrap(), 0xFF);
    let n = rd.u32().unwrap();
    let mut props = HashMap::new();
    for _ in 0..n {
        let (tag, v) = wire::decode_abk_tagged(&mut rd).unwrap();
        props.insert(tag.0, v);
    }
    assert_eq!(text(&props[&PR_DISPLAY_NAME]), "Alice Anderson");
    assert_eq!(text(&props[&PR_EMAIL_ADDRESS]), d.legacy_dn);
    assert_eq!(text(&props[&PR_SMTP_ADDRESS]), "alice@example.test");
    assert_eq!(props[&PR_PROXY_ADDRESSES], Some(PropValue::MultipleString(vec!["SMTP:alice@example.test".into()])));
    assert_eq!(text(&props[&PR_TITLE]), "Engineering Manager");
    assert_eq!(text(&props[&PR_ACCOUNT]), "alice");
    assert_eq!(props[&PR_OBJECT_TYPE], Some(PropValue::Integer32(6)));
    assert_eq!(props[&PR_DISPLAY_TYPE], Some(PropValue::Integer32(0)));
    let Some(PropValue::Binary(eid)) = &props[&PR_ENTRYID] else { panic!("entry id") };
    let pe = PermanentEntryId::decode(&mut Reader::new(eid)).unwrap();
    assert_eq!(pe.dn, d.legacy_dn);
    assert_eq!(props[&((PR_MANAGER_DN & 0xFFFF_0000) | 0x000A)], Some(PropValue::ErrorCode(0x8004_010F)));

    // 6. QueryRows: the whole GAL from the start, in display-name order, in two pages.
    let cols = [PR_DISPLAY_NAME, PR_SMTP_ADDRESS, PR_DISPLAY_TYPE, PR_MANAGER_DN, PR_INSTANCE_KEY];
    let mut all = Vec::new();
    let mut st = stat(0, 0, 1200);
    for page in 0..2 {
        let mut w = Writer::new();
        w.u32(0);
        put_stat(&mut w, &st);
        w.u32(0); // no explicit table
        w.u32(4); // Count
        put_tags(&mut w, &cols);
        w.u32(0);
        let r = c.call(&d.nspi, "QueryRows", w.into_vec()).await;
        let mut rd = Reader::new(&r.body);
        assert_eq!(status_error(&mut rd), (0, 0));
        assert_eq!(rd.u8().unwrap(), 0xFF);
        st = Stat::decode(&mut rd).unwrap();
        assert_eq!(rd.u8().unwrap(), 0xFF);
        let (_, rows) = read_rowset(&mut rd);
        if page == 0 {
            assert_eq!(rows.len(), 4);
            assert_eq!(st.num_pos, 4);
        }
        all.extend(rows);
    }
    assert_eq!(st.current_rec, 2, "MID_END_OF_TABLE after the last page");
    assert_eq!(st.total_recs as usize, all.len());
    let names: Vec<String> = all.iter().map(|r| text(&r[0])).collect();
    assert_eq!(
        names,
        ["Alice Anderson", "Bob Brown", "Carol Clark", "Dave External", "Engineering Team", "Shared Mailbox"]
    );
    assert_eq!(all[1][3].as_ref().map(|_| text(&all[1][3])), Some(d.legacy_dn.clone()), "Bob's manager is Alice");
    assert_eq!(all[4][2], Some(PropValue::Integer32(1)), "the team is a distribution list");

    // 7. ResolveNames: resolved, unresolved, ambiguous.
    let mut w = Writer::new();
    w.u32(0);
    put_stat(&mut w, &stat(0, 0, 1200));
    put_tags(&mut w, &[PR_DISPLAY_NAME, PR_SMTP_ADDRESS]);
    w.u8(0xFF);
    w.u32(3);
    for n in ["bob", "zzz-nobody", "e"] {
        w.utf16z(n);
    }
    w.u32(0);
    let r = c.call(&d.nspi, "ResolveNames", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    rd.u32().unwrap();
    assert_eq!(rd.u8().unwrap(), 0xFF);
    assert_eq!(rd.u32().unwrap(), 3);
    let bob = rd.u32().unwrap();
    assert!(bob >= 0x10);
    assert_eq!(rd.u32().unwrap(), 0, "unresolved");
    assert_eq!(rd.u32().unwrap(), 1, "ambiguous");
    assert_eq!(rd.u8().unwrap(), 0xFF);
    let (_, rows) = read_rowset(&mut rd);
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0][1]), "bob@example.test");

    // 8. GetMatches with an ANR restriction, SeekEntries, GetMailboxUrl.
    let mut w = Writer::new();
    w.u32(0);
    put_stat(&mut w, &stat(0, 0, 1200));
    w.u8(0); // no input MIds
    w.u32(0);
    w.u8(0xFF);
    w.u8(0x04); // PropertyRestriction
    w.u8(0x04); // RELOP_EQ
    w.u32(0x360C_001F); // PidTagAnr
    w.u32(0x360C_001F);
    w.utf16z("car");
    w.u8(0); // no PropName
    w.u32(50);
    put_tags(&mut w, &[PR_DISPLAY_NAME]);
    w.u32(0);
    let r = c.call(&d.nspi, "GetMatches", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    assert_eq!(rd.u8().unwrap(), 0xFF);
    Stat::decode(&mut rd).unwrap();
    assert_eq!(rd.u8().unwrap(), 0xFF);
    assert_eq!(rd.u32().unwrap(), 1);
    rd.u32().unwrap();
    assert_eq!(rd.u8().unwrap(), 0xFF);
    let (_, rows) = read_rowset(&mut rd);
    assert_eq!(text(&rows[0][0]), "Carol Clark");

    // Expanding the "Engineering Team" list: a link table (no filter, ContainerID = PidTagAddressBookMember).
    let team = all.iter().position(|r| text(&r[0]) == "Engineering Team").unwrap();
    let Some(PropValue::Binary(team_key)) = &all[team][4] else { panic!("instance key") };
    let team_mid = u32::from_le_bytes(team_key[..4].try_into().unwrap());
    let mut w = Writer::new();
    w.u32(0);
    let mut members_stat = stat(team_mid, 0, 1200);
    members_stat.container_id = 0x8009_000D;
    put_stat(&mut w, &members_stat);
    w.u8(0);
    w.u32(0);
    w.u8(0); // no filter
    w.u8(0);
    w.u32(50);
    put_tags(&mut w, &[PR_DISPLAY_NAME]);
    w.u32(0);
    let r = c.call(&d.nspi, "GetMatches", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    assert_eq!(rd.u8().unwrap(), 0xFF);
    Stat::decode(&mut rd).unwrap();
    assert_eq!(rd.u8().unwrap(), 0xFF);
    let n = rd.u32().unwrap();
    for _ in 0..n {
        rd.u32().unwrap();
    }
    assert_eq!(rd.u8().unwrap(), 0xFF);
    let (_, rows) = read_rowset(&mut rd);
    let members: Vec<String> = rows.iter().map(|r| text(&r[0])).collect();
    assert_eq!(members, ["Alice Anderson", "Bob Brown", "Carol Clark"]);

    let mut w = Writer::new();
    w.u32(0);
    w.utf16z(&d.legacy_dn);
    w.u32(0);
    let r = c.call(&d.nspi, "GetAddressBookUrl", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    assert_eq!(path_of(&rd.utf16z().unwrap()), d.nspi);

    // 9. Unbind.
    let mut w = Writer::new();
    w.u32(0);
    w.u32(0);
    let r = c.call(&d.nspi, "Unbind", w.into_vec()).await;
    assert_eq!(status_error(&mut Reader::new(&r.body)), (0, 0));

    // 10. EMSMDB Connect.
    c.cookies.clear();
    let r = c.call(&d.emsmdb, "Connect", connect_body(&d.legacy_dn)).await;
    assert_eq!(r.code, 0, "{}", String::from_utf8_lossy(&r.raw));
    let (ec, cr) = fields::<ConnectResponse>(&r.body);
    assert_eq!(ec, 0);
    assert_eq!(cr.display_name, "Alice Anderson");
    assert!(d.legacy_dn.starts_with(&cr.dn_prefix));

    // 11. Execute: RopLogon, RopGetReceiveFolder, RopGetPropertiesSpecific, RopGetPropertiesAll, an unsupported ROP
    //     (RopGetHierarchyTable), RopRelease. Compressed and obfuscated, as the RPC flags allow.
    let tags = [PR_DISPLAY_NAME, 0x661C_001F, 0x340D_0003, 0x35E0_0102, 0x6619_0102, 0x1234_0003];
    let mut rops = logon_rop(&d.legacy_dn);
    rops.extend_from_slice(&[0x27, 0, 0]);
    rops.extend_from_slice(b"IPM.Note\0");
    rops.extend_from_slice(&[0x07, 0, 0]);
    rops.extend_from_slice(&0u16.to_le_bytes());
    rops.extend_from_slice(&1u16.to_le_bytes());
    rops.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    for t in tags {
        rops.extend_from_slice(&t.to_le_bytes());
    }
    rops.extend_from_slice(&[0x08, 0, 0, 0, 0, 1, 0]);
    rops.extend_from_slice(&[0x04, 0, 0, 1, 0x00]); // RopGetHierarchyTable, TableFlags 0
    let body =
        execute_body(rop_buffer(&rops, &[0xFFFF_FFFF, 0xFFFF_FFFF], EncodeOptions { compress: true, xor: true }), 0);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    assert_eq!(r.code, 0, "{}\n{}", String::from_utf8_lossy(&r.raw), server.log());
    let (ec, er) = fields::<ExecuteResponse>(&r.body);
    assert_eq!(ec, 0);
    let segs = rpc::decode_chain(&er.rop_buffer).unwrap();
    assert_ne!(segs[0].header.flags & rpc::FLAG_XOR_MAGIC, 0, "response obfuscated like the request allowed");
    let cols = move |rop: u8, _: u8| (rop == 0x07).then(|| tags.iter().map(|t| PropTag(*t)).collect());
    let out = RopResponseBuffer::decode(&segs[0].payload, &cols).unwrap();
    assert_eq!(out.rops.len(), 5, "{:?}", out.rops);
    let RopResponse::Success { body: RopBody::Logon(Logon::Private(logon)), .. } = &out.rops[0] else {
        panic!("logon: {:?}", out.rops[0])
    };
    assert_eq!(logon.folder_ids[4].to_u64(), mapi_codec::oxcdata::ObjectId::new(1, 5).to_u64(), "Inbox FID");
    assert_eq!(logon.replica_id, 1);
    assert_ne!(out.handles[0], 0xFFFF_FFFF, "logon handle in the table");
    let RopResponse::Success { body: RopBody::GetReceiveFolder(rf), .. } = &out.rops[1] else {
        panic!("{:?}", out.rops[1])
    };
    assert_eq!(rf.folder_id, logon.folder_ids[4]);
    assert_eq!(rf.explicit_message_class, "IPM");
    let RopResponse::Success { body: RopBody::GetPropertiesSpecific(rs), .. } = &out.rops[2] else {
        panic!("{:?}", out.rops[2])
    };
    let row = &rs.rows[0];
    assert_eq!(row.values[0], RowValue::Value(PropValue::String("Alice Anderson".into())));
    assert_eq!(row.values[1], RowValue::Value(PropValue::String("Alice Anderson".into())));
    assert!(matches!(row.values[3], RowValue::Value(PropValue::Binary(ref b)) if b.len() == 46));
    assert_eq!(row.values[5], RowValue::Error(0x8004_010F));
    let RopResponse::Success { body: RopBody::GetPropertiesAll(all), .. } = &out.rops[3] else {
        panic!("{:?}", out.rops[3])
    };
    assert!(all.iter().any(|v| v.tag.0 == 0x340D_0003));
    assert!(
        matches!(out.rops[4], RopResponse::Error { rop_id: 0x04, handle_index: 1, return_value: 0x8004_0102 }),
        "{:?}",
        out.rops[4]
    );

    // RopRelease on its own: no response ROP.
    let body = execute_body(rop_buffer(&[0x01, 0, 0], &[out.handles[0]], EncodeOptions::default()), 3);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    let (_, er) = fields::<ExecuteResponse>(&r.body);
    let segs = rpc::decode_chain(&er.rop_buffer).unwrap();
    assert_eq!(segs[0].header.flags & (rpc::FLAG_XOR_MAGIC | rpc::FLAG_COMPRESSED), 0, "client asked for neither");
    assert!(RopResponseBuffer::decode(&segs[0].payload, &()).unwrap().rops.is_empty());

    // 12. Disconnect; the context is gone afterwards.
    let mut w = Writer::new();
    w.u32(0);
    let r = c.call(&d.emsmdb, "Disconnect", w.into_vec()).await;
    assert_eq!(r.code, 0);
    assert_eq!(status_error(&mut Reader::new(&r.body)), (0, 0));
    let body = execute_body(rop_buffer(&[0x01, 0, 0], &[1], EncodeOptions::default()), 3);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    assert_eq!((r.status, r.code), (200, 10));
    assert!(!server.log().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures() {
    let stack = Stack::from_env();
    let server = Server::start(&stack, &[]);
    let mut alice = Client::new(&server, "alice@example.test");
    let d = autodiscover(&mut alice, "alice@example.test").await;
    let ping = alice.call(&d.emsmdb, "PING", vec![]).await;
    assert_eq!((ping.status, ping.code), (200, 0));
    assert_eq!(ping.tags.last().map(String::as_str), Some("DONE"));

    let r = alice.call(&d.emsmdb, "Connect", connect_body(&d.legacy_dn)).await;
    assert_eq!(r.code, 0);
    let noop = || execute_body(rop_buffer(&[], &[], EncodeOptions::default()), 3);

    // Missing cookie, malformed cookie, forged cookie.
    let r = alice.call_with(&d.emsmdb, "Execute", noop(), None, "application/mapi-http").await;
    assert_eq!((r.status, r.code), (200, 13));
    let r = alice
        .call_with(&d.emsmdb, "Execute", noop(), Some("MapiContext=zz; MapiSequence=x"), "application/mapi-http")
        .await;
    assert_eq!((r.status, r.code), (200, 6));
    let forged = "MapiContext=0123456789abcdef0123456789abcdef; MapiSequence=0123456789abcdef0123456789abcdef";
    let r = alice.call_with(&d.emsmdb, "Execute", noop(), Some(forged), "application/mapi-http").await;
    assert_eq!((r.status, r.code), (200, 10), "context not found");

    // Wrong sequence: a stale value is refused, the current one still works and advances.
    let good = alice.cookie_header();
    let ctx = alice.cookies["MapiContext"].clone();
    let r = alice
        .call_with(
            &d.emsmdb,
            "Execute",
            noop(),
            Some(&format!("MapiContext={ctx}; MapiSequence=00000000000000000000000000000000")),
            "application/mapi-http",
        )
        .await;
    assert_eq!((r.status, r.code), (200, 15));
    let r = alice.call(&d.emsmdb, "Execute", noop()).await;
    assert_eq!(r.code, 0);
    let r = alice.call_with(&d.emsmdb, "Execute", noop(), Some(&good), "application/mapi-http").await;
    assert_eq!(r.code, 15, "replaying an older sequence cookie");
    let r = alice
        .call_with(&d.emsmdb, "Execute", noop(), Some(&format!("MapiContext={ctx}")), "application/mapi-http")
        .await;
    assert_eq!(r.code, 13, "sequence cookie missing");

    // Another user presenting alice's cookies.
    let mut bob = Client::new(&server, "bob@example.test");
    let r = bob.call_with(&d.emsmdb, "Execute", noop(), Some(&alice.cookie_header()), "application/mapi-http").await;
    assert_eq!((r.status, r.code), (200, 11));
    // The NSPI endpoint does not know EMSMDB contexts.
    let mut w = Writer::new();
    w.u32(0);
    w.u32(0);
    let r = alice.call(&d.nspi, "Unbind", w.into_vec()).await;
    assert_eq!(r.code, 10);

    // Headers and verbs.
    let r = alice.call(&d.emsmdb, "Frobnicate", vec![]).await;
    assert_eq!((r.status, r.code), (200, 5));
    let r = alice.call(&d.emsmdb, "Bind", vec![]).await;
    assert_eq!(r.code, 5, "Bind is an NSPI request type");
    let r = alice.call_with(&d.emsmdb, "Execute", noop(), Some(&alice.cookie_header()), "text/plain").await;
    assert_eq!(r.code, 4);
    let resp = alice
        .http
        .post(format!("{}{}", alice.base, d.emsmdb))
        .basic_auth("alice@example.test", Some(PASSWORD))
        .header("Content-Type", "application/mapi-http")
        .header("X-RequestId", "{x}:1")
        .header("X-ClientInfo", "{y}")
        .body(vec![])
        .send()
        .await
        .unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["x-responsecode"].to_str().unwrap()), (200, "7"));
    let resp = alice
        .http
        .get(format!("{}{}", alice.base, d.emsmdb))
        .basic_auth("alice@example.test", Some(PASSWORD))
        .header("X-RequestType", "Connect")
        .send()
        .await
        .unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["x-responsecode"].to_str().unwrap()), (200, "2"));

    // Truncated bodies, oversized body, corrupt compression, a bad ROP buffer: X-ResponseCode 12/9, no panic.
    let connect = connect_body(&d.legacy_dn);
    let r = alice
        .call_with(&d.emsmdb, "Connect", connect[..connect.len() - 3].to_vec(), None, "application/mapi-http")
        .await;
    assert_eq!((r.status, r.code), (200, 12));
    let full = noop();
    let r = alice.call(&d.emsmdb, "Execute", full[..full.len() - 2].to_vec()).await;
    assert_eq!(r.code, 12);
    let r = alice.call(&d.emsmdb, "Execute", vec![0u8; 5 * 1024 * 1024]).await;
    assert_eq!(r.code, 9);
    let mut corrupt = Writer::new();
    corrupt.u16(0); // Version
    corrupt.u16(rpc::FLAG_COMPRESSED | rpc::FLAG_LAST);
    corrupt.u16(8);
    corrupt.u16(300);
    corrupt.bytes(&[0xFF; 8]);
    let r = alice.call(&d.emsmdb, "Execute", execute_body(corrupt.into_vec(), 0)).await;
    assert_eq!(r.code, 12, "corrupt LZ77");
    let bad_ropsize = rpc::encode_chain(&[&[0x40, 0x00, 0x01]], EncodeOptions::default()).unwrap();
    let r = alice.call(&d.emsmdb, "Execute", execute_body(bad_ropsize, 3)).await;
    assert_eq!(r.code, 12, "RopSize beyond the buffer");
    let mut w = Writer::new();
    w.u32(0);
    w.u8(0xFF);
    w.bytes(&[1, 2, 3]);
    let r = alice.call_with(&d.nspi, "Bind", w.into_vec(), None, "application/mapi-http").await;
    assert_eq!(r.code, 12, "truncated STAT");

    // A Connect for someone else's DN: transport success, ecUnknownUser, no session.
    let mut eve = Client::new(&server, "bob@example.test");
    let r = eve.call(&d.emsmdb, "Connect", connect_body(&d.legacy_dn)).await;
    assert_eq!(r.code, 0);
    assert_eq!(fields::<ConnectResponse>(&r.body).0, 0x3EB);
    assert!(!eve.cookies.contains_key("MapiContext"));

    // Unknown ROP id inside a valid buffer: a well-formed error response, parsing stops there.
    let mut rops = logon_rop(&d.legacy_dn);
    rops.extend_from_slice(&[0xEE, 0, 0, 7, 7]);
    let r = alice
        .call(&d.emsmdb, "Execute", execute_body(rop_buffer(&rops, &[0xFFFF_FFFF], EncodeOptions::default()), 3))
        .await;
    assert_eq!(r.code, 0);
    let (_, er) = fields::<ExecuteResponse>(&r.body);
    let segs = rpc::decode_chain(&er.rop_buffer).unwrap();
    // The codec (rightly) cannot decode a response for a RopId it does not know: check the bytes.
    let payload = &segs[0].payload;
    let rop_size = u16::from_le_bytes([payload[0], payload[1]]) as usize;
    let list = &payload[2..rop_size];
    let mut rd = Reader::new(list);
    assert!(matches!(RopResponse::decode(&mut rd, &()).unwrap(), RopResponse::Success { .. }), "the logon");
    assert_eq!(rd.peek_rest(), [0xEE, 0x00, 0x02, 0x01, 0x04, 0x80], "generic failure response, ecNotSupported");
    // A logon to another user's mailbox is refused (ecLoginPerm).
    let body = execute_body(
        rop_buffer(
            &logon_rop("/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=bob"),
            &[0xFFFF_FFFF],
            EncodeOptions::default(),
        ),
        3,
    );
    let r = alice.call(&d.emsmdb, "Execute", body).await;
    let (_, er) = fields::<ExecuteResponse>(&r.body);
    let out = RopResponseBuffer::decode(&rpc::decode_chain(&er.rop_buffer).unwrap()[0].payload, &()).unwrap();
    assert!(matches!(out.rops[0], RopResponse::Error { rop_id: 0xFE, return_value: 0x3F2, .. }), "{:?}", out.rops[0]);

    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_notification_wait() {
    let stack = Stack::from_env();
    let server = Server::start(
        &stack,
        &[
            ("VIADUC_MAPI_SESSION_IDLE_SECS", "2"),
            ("VIADUC_MAPI_PENDING_MS", "300"),
            ("VIADUC_MAPI_NOTIFICATION_WAIT_SECS", "1"),
        ],
    );
    let mut c = Client::new(&server, "carol@example.test");
    let d = autodiscover(&mut c, "carol@example.test").await;
    let r = c.call(&d.emsmdb, "Connect", connect_body(&d.legacy_dn)).await;
    assert_eq!(r.code, 0);
    assert_eq!(r.header("x-expirationinfo").as_deref(), Some("2000"));
    assert_eq!(r.header("x-pendingperiod").as_deref(), Some("300"));

    // NotificationWait is held until its timeout, with PENDING keep-alives, then reports no event.
    let mut w = Writer::new();
    w.u32(0);
    w.u32(0);
    let started = Instant::now();
    let r = c.call(&d.emsmdb, "NotificationWait", w.into_vec()).await;
    assert_eq!(r.code, 0);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(r.tags.iter().any(|t| t == "PENDING"), "{:?}", r.tags);
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    assert_eq!(rd.u32().unwrap(), 0, "EventPending");

    // Idle past the expiry: Context Not Found, so Outlook reconnects.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let body = execute_body(rop_buffer(&[], &[], EncodeOptions::default()), 3);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    assert_eq!((r.status, r.code), (200, 10));
    assert!(!server.log().contains("panicked"));
}

/// Replays the stored fixtures through the decoders (no stack needed): every request decodes, every response
/// has the meta-tag framing and a zero StatusCode.
#[test]
fn recorded_fixtures_decode() {
    let dir = repo_root().join("protocol-fixtures/mapi/profile-creation");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    let mut seen = 0;
    for name in names.iter().filter(|n| n.ends_with(".request.bin")) {
        let stem = name.trim_end_matches(".request.bin");
        let kind = stem.splitn(3, '-').nth(2).unwrap();
        let request = std::fs::read(dir.join(name)).unwrap();
        let response = std::fs::read(dir.join(format!("{stem}.response.bin"))).unwrap();
        match kind {
            "Connect" => {
                ConnectRequest::from_bytes(&request).unwrap();
            }
            "Execute" => {
                viaduc::mapi::emsmdb::prepare_execute(&request).unwrap();
            }
            "Disconnect" => {
                wire::DisconnectRequest::from_bytes(&request).unwrap();
            }
            nspi => {
                wire::NspiRequest::decode(nspi, &request).unwrap();
            }
        }
        if response.starts_with(b"<html>") {
            continue; // a transport failure (X-ResponseCode in the headers)
        }
        let viaduc::mapi::http::SplitResponse { tags, meta, body } =
            viaduc::mapi::http::split_response(&response).unwrap();
        assert_eq!(tags.last().map(String::as_str), Some("DONE"), "{name}");
        assert!(meta.contains(&("X-ResponseCode".to_string(), "0".to_string())), "{name}");
        assert_eq!(Reader::new(&body).u32().unwrap(), 0, "{name}: StatusCode");
        if kind == "Execute" {
            let (_, er) = fields::<ExecuteResponse>(&body);
            rpc::decode_chain(&er.rop_buffer).unwrap();
        }
        if kind == "Connect" {
            fields::<ConnectResponse>(&body);
        }
        seen += 1;
    }
    assert!(seen >= 10, "fixtures present but only {seen} decoded");
}

async fn bind_and_resolve(c: &mut Client, d: &Discovered) -> ([u8; 16], u32) {
    c.cookies.clear();
    let mut w = Writer::new();
    w.u32(0);
    put_stat(&mut w, &stat(0, 0, 1252));
    w.u32(0);
    let r = c.call(&d.nspi, "Bind", w.into_vec()).await;
    assert_eq!(r.code, 0);
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    let guid = rd.array::<16>().unwrap();
    let mut w = Writer::new();
    w.u32(0);
    w.u8(0xFF);
    w.u32(1);
    w.str8z(d.legacy_dn.as_bytes());
    w.u32(0);
    let r = c.call(&d.nspi, "DNToMId", w.into_vec()).await;
    let mut rd = Reader::new(&r.body);
    assert_eq!(status_error(&mut rd), (0, 0));
    rd.u8().unwrap();
    rd.u32().unwrap();
    (guid, rd.u32().unwrap())
}

async fn logon(c: &mut Client, d: &Discovered) -> mapi_codec::rops::response::LogonPrivate {
    c.cookies.clear();
    let r = c.call(&d.emsmdb, "Connect", connect_body(&d.legacy_dn)).await;
    assert_eq!(r.code, 0);
    let body = execute_body(rop_buffer(&logon_rop(&d.legacy_dn), &[0xFFFF_FFFF], EncodeOptions::default()), 3);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    let (_, er) = fields::<ExecuteResponse>(&r.body);
    let out = RopResponseBuffer::decode(&rpc::decode_chain(&er.rop_buffer).unwrap()[0].payload, &()).unwrap();
    match out.rops.into_iter().next() {
        Some(RopResponse::Success { body: RopBody::Logon(Logon::Private(l)), .. }) => l,
        other => panic!("logon: {other:?}"),
    }
}

/// Two gateway instances of one deployment hand out the same ids (ADR 0002 §3); a session lives on one
/// instance only, so another instance answers Context Not Found (hence cookie affinity at HAProxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_agree() {
    let stack = Stack::from_env();
    let a = Server::start(&stack, &[]);
    let b = Server::start(&stack, &[]);
    let mut ca = Client::new(&a, "alice@example.test");
    let mut cb = Client::new(&b, "alice@example.test");
    let da = autodiscover(&mut ca, "alice@example.test").await;
    let db = autodiscover(&mut cb, "alice@example.test").await;
    assert_eq!(da.legacy_dn, db.legacy_dn);
    assert_eq!(bind_and_resolve(&mut ca, &da).await, bind_and_resolve(&mut cb, &db).await, "server GUID and MId");
    let la = logon(&mut ca, &da).await;
    let lb = logon(&mut cb, &db).await;
    assert_eq!(la.folder_ids, lb.folder_ids);
    assert_eq!((la.replica_id, la.replica_guid, la.mailbox_guid), (lb.replica_id, lb.replica_guid, lb.mailbox_guid));
    // Instance A's session cookie on instance B.
    let cookie = ca.cookie_header();
    let body = execute_body(rop_buffer(&[], &[], EncodeOptions::default()), 3);
    let r = cb.call_with(&db.emsmdb, "Execute", body, Some(&cookie), "application/mapi-http").await;
    assert_eq!((r.status, r.code), (200, 10));
}

/// Every NSPI request type against the real directory, each response decoded with mapi-codec's own
/// MS-OXCMAPIHTTP structures (an independent check of Viaduc's address-book encoders).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nspi_calls_decode_with_codec() {
    use mapi_codec::mapihttp::ab::{AbRowValue, Stat as CStat};
    use mapi_codec::mapihttp::nspi as n;
    let stack = Stack::from_env();
    let server = Server::start(&stack, &[]);
    let mut c = Client::new(&server, "bob@example.test");
    let d = autodiscover(&mut c, "bob@example.test").await;
    let (_, me) = bind_and_resolve(&mut c, &d).await;
    let st = |current_rec, delta| Some(CStat { code_page: 1200, current_rec, delta, ..Default::default() });
    let name_col = vec![PropTag(PR_DISPLAY_NAME)];
    let names = |set: &mapi_codec::mapihttp::ab::AbRowSet| -> Vec<String> {
        set.rows
            .iter()
            .map(|r| match &r.values[0] {
                AbRowValue::Value(v) => text(v),
                other => panic!("{other:?}"),
            })
            .collect()
    };

    // GetSpecialTable, 8-bit: the container name comes back as PtypString8.
    let body = n::GetSpecialTableRequest {
        flags: 0,
        state: Some(CStat { code_page: 1252, ..Default::default() }),
        version: None,
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let r = c.call(&d.nspi, "GetSpecialTable", body).await;
    let (ec, f) = fields::<n::GetSpecialTableResponse>(&r.body);
    assert_eq!(ec, 0);
    let rows = f.rows.unwrap();
    assert!(
        rows[0]
            .iter()
            .any(|v| v.tag.0 == 0x3001_001E && v.value == Some(PropValue::String8(b"Global Address List".to_vec())))
    );

    // QueryColumns (Unicode types) and GetPropList.
    let body = n::QueryColumnsRequest { reserved: 0, mapi_flags: 0x8000_0000, aux: vec![] }.to_bytes().unwrap();
    let (ec, f) = fields::<n::QueryColumnsResponse>(&c.call(&d.nspi, "QueryColumns", body).await.body);
    assert_eq!(ec, 0);
    assert!(f.columns.unwrap().contains(&PropTag(PR_SMTP_ADDRESS)));
    let body = n::GetPropListRequest { flags: 0, minimal_id: me, code_page: 1200, aux: vec![] }.to_bytes().unwrap();
    let (ec, f) = fields::<n::GetPropListResponse>(&c.call(&d.nspi, "GetPropList", body).await.body);
    assert_eq!(ec, 0);
    let tags = f.property_tags.unwrap();
    assert!(tags.contains(&PropTag(PR_MANAGER_DN)), "bob has a manager: {tags:x?}");

    // GetProps with the ephemeral entry id flag.
    let body = n::GetPropsRequest {
        flags: 0x2,
        state: st(me, 0),
        property_tags: Some(vec![PropTag(PR_ENTRYID), PropTag(PR_MANAGER_DN)]),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::GetPropsResponse>(&c.call(&d.nspi, "GetProps", body).await.body);
    assert_eq!(ec, 0);
    let v = f.property_values.unwrap();
    let Some(PropValue::Binary(eid)) = &v[0].value else { panic!("{v:?}") };
    let eph = mapi_codec::oxcdata::EphemeralEntryId::decode(&mut Reader::new(eid)).unwrap();
    assert_eq!(eph.mid, me);
    assert!(text(&v[1].value).ends_with("/cn=alice"));

    // QueryRows through the codec's row decoder, then UpdateStat and CompareMIds on the same positions.
    let body = n::QueryRowsRequest {
        flags: 0,
        state: st(0, 1),
        explicit_table: vec![],
        row_count: 2,
        columns: Some(name_col.clone()),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::QueryRowsResponse>(&c.call(&d.nspi, "QueryRows", body).await.body);
    assert_eq!(ec, 0);
    assert_eq!(names(&f.columns_and_rows.unwrap()), ["Bob Brown", "Carol Clark"]);
    let state = f.state.unwrap();
    assert_eq!((state.num_pos, state.total_recs), (3, 6));
    let body =
        n::UpdateStatRequest { reserved: 0, state: st(0, 2), delta_requested: true, aux: vec![] }.to_bytes().unwrap();
    let (ec, f) = fields::<n::UpdateStatResponse>(&c.call(&d.nspi, "UpdateStat", body).await.body);
    assert_eq!(ec, 0);
    let carol = f.state.unwrap().current_rec;
    assert_eq!(f.delta, Some(2));
    let body = n::CompareMIdsRequest { reserved: 0, state: st(0, 0), minimal_id1: me, minimal_id2: carol, aux: vec![] }
        .to_bytes()
        .unwrap();
    let (ec, f) = fields::<n::CompareMIdsResponse>(&c.call(&d.nspi, "CompareMIds", body).await.body);
    assert_eq!((ec, f.result), (0, -1), "Bob sorts before Carol");

    // SeekEntries on a display-name prefix.
    let target = mapi_codec::mapihttp::ab::AbTaggedValue {
        tag: PropTag(PR_DISPLAY_NAME),
        value: Some(PropValue::String("Da".into())),
    };
    let body = n::SeekEntriesRequest {
        reserved: 0,
        state: st(0, 0),
        target: Some(target),
        explicit_table: None,
        columns: Some(name_col.clone()),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::SeekEntriesResponse>(&c.call(&d.nspi, "SeekEntries", body).await.body);
    assert_eq!(ec, 0);
    assert_eq!(names(&f.columns_and_rows.unwrap()), ["Dave External"]);
    assert_eq!(f.state.unwrap().num_pos, 3);

    // ResortRestriction puts MIds in display-name order; ResolveNames through the codec.
    let body = n::ResortRestrictionRequest {
        reserved: 0,
        state: st(0, 0),
        minimal_ids: Some(vec![carol, me, 0xDEAD]),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::ResortRestrictionResponse>(&c.call(&d.nspi, "ResortRestriction", body).await.body);
    assert_eq!((ec, f.minimal_ids.unwrap()), (0, vec![me, carol]));
    let body = n::ResolveNamesRequest {
        reserved: 0,
        state: st(0, 0),
        property_tags: Some(name_col.clone()),
        names: Some(vec!["carol@example.test".into(), "Shared".into()]),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::ResolveNamesResponse>(&c.call(&d.nspi, "ResolveNames", body).await.body);
    assert_eq!(ec, 0);
    assert_eq!(f.minimal_ids.unwrap()[0], carol);
    assert_eq!(names(&f.rows_and_columns.unwrap()), ["Carol Clark", "Shared Mailbox"]);

    // GetMatches with a content (prefix) restriction on the display name.
    let filter = mapi_codec::oxcdata::Restriction::Content {
        fuzzy_level_low: 0x0002,
        fuzzy_level_high: 0x0001,
        tag: PropTag(PR_DISPLAY_NAME),
        value: mapi_codec::oxcdata::TaggedPropertyValue::new(PropTag(PR_DISPLAY_NAME), PropValue::String("eng".into())),
    };
    let body = n::GetMatchesRequest {
        reserved: 0,
        state: st(0, 0),
        minimal_ids: None,
        interface_option_flags: 0,
        filter: Some(filter),
        property_name: None,
        row_count: 10,
        columns: Some(name_col.clone()),
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::GetMatchesResponse>(&c.call(&d.nspi, "GetMatches", body).await.body);
    assert_eq!(ec, 0);
    assert_eq!(names(&f.columns_and_rows.unwrap()), ["Engineering Team"]);

    // GetMailboxUrl for Alice's mailbox server DN; GetTemplateInfo and ModProps refused with ec codes.
    let alice_server = format!(
        "/o=Viaduc Demo/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={}",
        {
            let a = autodiscover(&mut c, "alice@example.test").await;
            a.emsmdb.split("MailboxId=").nth(1).unwrap().to_string()
        }
    );
    let body = n::GetMailboxUrlRequest { flags: 0, server_dn: alice_server, aux: vec![] }.to_bytes().unwrap();
    let (ec, f) = fields::<n::GetMailboxUrlResponse>(&c.call(&d.nspi, "GetMailboxUrl", body).await.body);
    assert_eq!(ec, 0);
    let alice = autodiscover(&mut c, "alice@example.test").await;
    assert_eq!(path_of(&f.server_url), alice.emsmdb);
    let body = n::GetTemplateInfoRequest {
        flags: 0,
        display_type: 0,
        template_dn: None,
        code_page: 1252,
        locale_id: 1033,
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, f) = fields::<n::GetTemplateInfoResponse>(&c.call(&d.nspi, "GetTemplateInfo", body).await.body);
    assert_eq!((ec, f.row), (0x8004_010F, None));
    let body = n::ModPropsRequest {
        reserved: 0,
        state: st(me, 0),
        property_tags_to_remove: None,
        property_values: None,
        aux: vec![],
    }
    .to_bytes()
    .unwrap();
    let (ec, _) = fields::<n::ModPropsResponse>(&c.call(&d.nspi, "ModProps", body).await.body);
    assert_eq!(ec, 0x8004_0102);
    assert!(!server.log().contains("panicked"));
}

async fn execute_rops(c: &mut Client, d: &Discovered, rops: Vec<u8>, handle: u32) -> RopResponseBuffer {
    let body = execute_body(rop_buffer(&rops, &[handle], EncodeOptions::default()), 3);
    let r = c.call(&d.emsmdb, "Execute", body).await;
    let (_, er) = fields::<ExecuteResponse>(&r.body);
    RopResponseBuffer::decode(&rpc::decode_chain(&er.rop_buffer).unwrap()[0].payload, &()).unwrap()
}

/// Named properties (ADR 0002 §2): ids allocated with the create flag are persisted in the hidden IMAP folder,
/// so another session — on another instance — maps the same names to the same ids and back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_properties_persist_across_instances() {
    use mapi_codec::oxcdata::{Guid, NameKind, PropertyName};
    let stack = Stack::from_env();
    let a = Server::start(&stack, &[]);
    let b = Server::start(&stack, &[]);
    let unique = format!(
        "viaduc-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let psetid_appointment = Guid::from_fields(0x00062002, 0, 0, [0xC0, 0, 0, 0, 0, 0, 0, 0x46]);
    let names = vec![
        PropertyName { guid: psetid_appointment, kind: NameKind::Lid(0x8205) },
        PropertyName { guid: mapi_codec::oxcdata::PS_PUBLIC_STRINGS, kind: NameKind::Name("Keywords".into()) },
        PropertyName { guid: mapi_codec::oxcdata::PS_PUBLIC_STRINGS, kind: NameKind::Name(unique.clone()) },
        PropertyName { guid: mapi_codec::oxcdata::PS_MAPI, kind: NameKind::Lid(0x3001) },
    ];
    let ids_rop = |create: bool| {
        let mut w = Writer::new();
        w.u8(0x56);
        w.u8(0);
        w.u8(0);
        w.u8(if create { 0x02 } else { 0x00 });
        w.u16(names.len() as u16);
        for n in &names {
            n.encode(&mut w).unwrap();
        }
        w.into_vec()
    };
    let mut ca = Client::new(&a, "carol@example.test");
    let da = autodiscover(&mut ca, "carol@example.test").await;
    logon(&mut ca, &da).await;
    let mut rops = logon_rop(&da.legacy_dn);
    rops.extend(ids_rop(true));
    let out = execute_rops(&mut ca, &da, rops, 0xFFFF_FFFF).await;
    let RopResponse::Success { body: RopBody::GetPropertyIdsFromNames(ids), .. } = &out.rops[1] else {
        panic!("{:?}", out.rops)
    };
    assert_eq!(ids.len(), 4);
    assert!(ids[..3].iter().all(|i| *i >= 0x8001), "{ids:x?}");
    assert_eq!(ids[3], 0x3001, "PS_MAPI LID is the id");
    let created = ids.clone();

    // Instance B, a new session, without the create flag: the same ids.
    let mut cb = Client::new(&b, "carol@example.test");
    let db = autodiscover(&mut cb, "carol@example.test").await;
    logon(&mut cb, &db).await;
    let mut rops = logon_rop(&db.legacy_dn);
    rops.extend(ids_rop(false));
    rops.extend_from_slice(&[0x55, 0, 0]);
    rops.extend_from_slice(&3u16.to_le_bytes());
    for i in &created[..3] {
        rops.extend_from_slice(&i.to_le_bytes());
    }
    rops.extend_from_slice(&[0x5F, 0, 0, 0x00, 0x00]); // RopQueryNamedProperties, all, no GUID filter
    let out = execute_rops(&mut cb, &db, rops, 0xFFFF_FFFF).await;
    let RopResponse::Success { body: RopBody::GetPropertyIdsFromNames(ids), .. } = &out.rops[1] else {
        panic!("{:?}", out.rops)
    };
    assert_eq!(ids, &created);
    let RopResponse::Success { body: RopBody::GetNamesFromPropertyIds(back), .. } = &out.rops[2] else {
        panic!("{:?}", out.rops)
    };
    assert_eq!(back.as_slice(), &names[..3]);
    let RopResponse::Success { body: RopBody::QueryNamedProperties(qids, qnames), .. } = &out.rops[3] else {
        panic!("{:?}", out.rops)
    };
    assert!(qids.contains(&created[2]) && qnames.contains(&names[2]));
    assert!(!a.log().contains("panicked") && !b.log().contains("panicked"));
}
