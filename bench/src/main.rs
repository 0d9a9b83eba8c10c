//! `ews-load`: an end-to-end load tool. It runs N concurrent EWS clients against Viaduc doing FindItem,
//! GetItem (whole 50 KB messages as MimeContent) and SyncFolderItems, and, in the same run, N concurrent IMAP
//! clients doing the equivalent reads directly against the IMAP server Viaduc uses. It prints throughput and
//! p50/p99 latency of both and their ratio. Only loopback addresses are accepted. `--rounds` alternates the
//! sides in slices (fairer on a shared machine); `--viaduc-plain` also runs the EWS side against a plain-HTTP
//! Viaduc to show the cost of the client-facing TLS; the `noop` workload (ConvertId against IMAP NOOP)
//! measures the per-request cost of HTTP, TLS, authentication and SOAP alone.
//!
//! ```text
//! ews-load --viaduc https://127.0.0.1:8443 --ca tls/ca.pem --imap-port 10143 \
//!          --user alice@example.test --password viaduc-demo --clients 64 --seconds 10
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::TryStreamExt;
use rand::Rng;

mod lean_http;

use lean_http::LeanEws;
use viaduc::backend::imap::{self, ImapSession};
use viaduc::backend::tls;
use viaduc::config::{ImapConfig, TlsMode};
use viaduc::error::Backend;

#[derive(Parser, Clone)]
#[command(about = "EWS through Viaduc versus direct IMAP, same reads, same run")]
struct Args {
    /// Viaduc's base URL (loopback only).
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    viaduc: String,
    /// CA certificate that signed Viaduc's and the IMAP server's certificates.
    #[arg(long)]
    ca: std::path::PathBuf,
    #[arg(long, default_value = "127.0.0.1")]
    imap_host: String,
    #[arg(long, default_value_t = 10143)]
    imap_port: u16,
    #[arg(long, default_value = "alice@example.test")]
    user: String,
    #[arg(long, default_value = "viaduc-demo")]
    password: String,
    /// Concurrent clients on each side.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds each workload runs on each side.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Alternate the sides this many times per workload (each slice `seconds / rounds` long), so that load
    /// from other processes on the machine weighs on both sides alike.
    #[arg(long, default_value_t = 1)]
    rounds: u64,
    /// Messages in the benchmark folder (created and filled when it has fewer).
    #[arg(long, default_value_t = 200)]
    messages: u32,
    /// Size of each message in bytes.
    #[arg(long, default_value_t = 50 * 1024)]
    size: usize,
    /// Folder to use (a top-level IMAP mailbox).
    #[arg(long, default_value = "ViaducBench")]
    folder: String,
    /// Workloads to run, comma-separated: getitem, finditem, sync, noop (EWS ConvertId, which does no IMAP
    /// work, against IMAP NOOP: the per-request cost of HTTP, TLS, authentication and SOAP).
    #[arg(long, default_value = "getitem,finditem,sync")]
    workloads: String,
    /// A second Viaduc of the same configuration serving plain HTTP (`plain_http_behind_proxy = true`,
    /// loopback only): each workload also runs against it, so the cost of the client-facing TLS layer shows
    /// as the difference between the two Viaduc rows.
    #[arg(long)]
    viaduc_plain: Option<String>,
}

const SOAP_HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header><soap:Body>"#;
const SOAP_TAIL: &str = "</soap:Body></soap:Envelope>";

fn envelope(body: &str) -> String {
    format!("{SOAP_HEAD}{body}{SOAP_TAIL}")
}

/// Values of attribute `attr` on every element whose local name is `element` (any prefix).
fn attribute_values(xml: &str, element: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name = tag.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == element {
            let needle = format!("{attr}=\"");
            if let Some(j) = tag.find(&needle) {
                let v = &tag[j + needle.len()..];
                if let Some(k) = v.find('"') {
                    out.push(v[..k].to_string());
                }
            }
        }
    }
    out
}

/// The FolderId of the folder whose DisplayName is `name` in a FindFolder response.
fn folder_id_named(xml: &str, name: &str) -> Option<String> {
    let marker = format!("DisplayName>{name}</");
    let pos = xml.find(&marker)?;
    let before = &xml[..pos];
    let start = before.rfind("FolderId Id=\"")? + "FolderId Id=\"".len();
    let end = before[start..].find('"')? + start;
    Some(before[start..end].to_string())
}

struct Ews {
    http: reqwest::Client,
    url: String,
    user: String,
    password: String,
}

impl Ews {
    fn new(args: &Args) -> Ews {
        Ews::with_base(args, &args.viaduc)
    }

    fn with_base(args: &Args, base: &str) -> Ews {
        let pem = std::fs::read(&args.ca).expect("read CA file");
        let mut builder = reqwest::Client::builder().pool_max_idle_per_host(4).timeout(Duration::from_secs(60));
        for cert in reqwest::Certificate::from_pem_bundle(&pem).expect("CA PEM") {
            builder = builder.add_root_certificate(cert);
        }
        Ews {
            http: builder.build().expect("HTTP client"),
            url: format!("{}/EWS/Exchange.asmx", base.trim_end_matches('/')),
            user: args.user.clone(),
            password: args.password.clone(),
        }
    }

    async fn call(&self, body: &str) -> Result<String, String> {
        let r = self
            .http
            .post(&self.url)
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(envelope(body))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() || text.contains("ResponseClass=\"Error\"") {
            return Err(format!("HTTP {status}: {}", &text[..text.len().min(400)]));
        }
        Ok(text)
    }
}

fn imap_config(args: &Args) -> ImapConfig {
    ImapConfig {
        host: args.imap_host.clone(),
        port: args.imap_port,
        tls: TlsMode::Starttls,
        ca_file: Some(args.ca.clone()),
        master_user: None,
        master_password: None,
        master_separator: "*".into(),
        timeout_secs: 30,
        pool_max_sessions_per_user: 1,
        pool_max_idle_per_user: 0,
        pool_idle_timeout_secs: 1,
        watch_max_per_user: 2,
        message_cache_mib: 0,
    }
}

async fn imap_login(args: &Args) -> ImapSession {
    let tls = tls::client_config(Backend::Imap, Some(&args.ca)).expect("TLS config");
    imap::login(&imap_config(args), &tls, &args.user, &args.password).await.expect("IMAP login")
}

fn message(i: u32, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Bench <bench@example.test>\r\nTo: {i}@example.test\r\nSubject: Benchmark message {i}\r\nDate: Sun, 29 Nov 2026 08:00:00 +0000\r\nMessage-ID: <bench-{i}@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again, for the benchmark.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

/// Makes sure the benchmark folder exists and holds `messages` messages; returns their UIDs.
async fn prepare(args: &Args) -> Vec<u32> {
    let mut s = imap_login(args).await;
    let _ = s.create(&args.folder).await;
    let mailbox = s.select(&args.folder).await.expect("select benchmark folder");
    for i in mailbox.exists..args.messages {
        s.append(&args.folder, Some("(\\Seen)"), None, message(i, args.size)).await.expect("append");
    }
    s.select(&args.folder).await.expect("select");
    let uids = s.uid_search("ALL").await.expect("search");
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    imap::logout(s).await;
    uids
}

/// How long each timed slice of one side runs.
fn slice(args: &Args) -> Duration {
    Duration::from_secs(args.seconds) / args.rounds.max(1) as u32
}

/// Latencies of one side of one workload.
struct Sample {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Sample {
    /// Adds another slice of the same side.
    fn absorb(&mut self, other: Sample) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&mut self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        self.latencies.sort_unstable();
        let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[idx]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    GetItem,
    FindItem,
    Sync,
    Noop,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::GetItem => "GetItem (MimeContent)",
            Workload::FindItem => "FindItem (50, Default)",
            Workload::Sync => "SyncFolderItems (100)",
            Workload::Noop => "ConvertId / NOOP",
        }
    }
}

fn ews_body(w: Workload, args: &Args, folder_id: &str, item_ids: &[String]) -> String {
    let id = &item_ids[rand::rng().random_range(0..item_ids.len())];
    match w {
        Workload::GetItem => format!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
        ),
        Workload::FindItem => format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="50" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:FolderId Id="{folder_id}"/></m:ParentFolderIds></m:FindItem>"#
        ),
        Workload::Sync => format!(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:FolderId Id="{folder_id}"/></m:SyncFolderId><m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>"#
        ),
        Workload::Noop => format!(
            r#"<m:ConvertId DestinationFormat="EwsId"><m:SourceIds><t:AlternateId Format="EwsId" Id="{id}" Mailbox="{}"/></m:SourceIds></m:ConvertId>"#,
            args.user
        ),
    }
}

async fn run_ews(
    args: Arc<Args>,
    base: String,
    w: Workload,
    folder_id: Arc<String>,
    item_ids: Arc<Vec<String>>,
) -> Sample {
    // Open every client's keep-alive connection (TLS handshake, authentication) and warm Viaduc's session pool
    // with one untimed request each, as the direct side logs in before its clock starts.
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (args, base, folder_id, item_ids) = (args.clone(), base.clone(), folder_id.clone(), item_ids.clone());
        clients.push(tokio::spawn(async move {
            let tls = tls::client_config(Backend::Imap, Some(&args.ca)).expect("TLS config");
            let mut ews = LeanEws::connect(&base, &tls, &args.user, &args.password).await.expect("connect to Viaduc");
            if let Err(e) = ews.call(envelope(&ews_body(w, &args, &folder_id, &item_ids))).await {
                eprintln!("EWS warm-up error: {e}");
            }
            ews
        }));
    }
    let mut warm = Vec::new();
    for c in clients {
        warm.push(c.await.expect("warm-up task"));
    }
    let deadline = Instant::now() + slice(&args);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut ews in warm {
        let (args, folder_id, item_ids) = (args.clone(), folder_id.clone(), item_ids.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let body = ews_body(w, &args, &folder_id, &item_ids);
                let t = Instant::now();
                match ews.call(envelope(&body)).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("EWS error: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            (lat, errors)
        }));
    }
    collect(tasks, started).await
}

async fn run_imap(args: Arc<Args>, w: Workload, uids: Arc<Vec<u32>>) -> Sample {
    // Log every client in first (as Viaduc's pool would be warm), then start the clock.
    let mut sessions = Vec::new();
    for _ in 0..args.clients {
        let mut s = imap_login(&args).await;
        s.select(&args.folder).await.expect("select");
        sessions.push(s);
    }
    let deadline = Instant::now() + slice(&args);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut s in sessions {
        let uids = uids.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                if w == Workload::Noop {
                    let t = Instant::now();
                    match s.noop().await {
                        Ok(()) => lat.push(t.elapsed()),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("IMAP error: {e}");
                            }
                            errors += 1;
                        }
                    }
                    continue;
                }
                let (set, query) = match w {
                    Workload::Noop => unreachable!("handled above"),
                    Workload::GetItem => (uids[rand::rng().random_range(0..uids.len())].to_string(), "BODY.PEEK[]"),
                    Workload::FindItem => {
                        let last = uids[uids.len().min(50) - 1];
                        (format!("{}:{last}", uids[0]), "(UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE)")
                    }
                    Workload::Sync => {
                        let last = uids[uids.len().min(100) - 1];
                        (format!("{}:{last}", uids[0]), "(UID FLAGS MODSEQ)")
                    }
                };
                let t = Instant::now();
                let result = async {
                    let stream = s.uid_fetch(&set, query).await?;
                    let fetched: Vec<_> = stream.try_collect().await?;
                    Ok::<usize, async_imap::error::Error>(fetched.len())
                }
                .await;
                match result {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("IMAP error: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            imap::logout(s).await;
            (lat, errors)
        }));
    }
    collect(tasks, started).await
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>, started: Instant) -> Sample {
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    Sample { latencies, errors, elapsed: started.elapsed() }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn loopback_only(args: &Args) {
    let ok = |h: &str| h == "127.0.0.1" || h == "localhost" || h == "[::1]" || h.starts_with("127.");
    for url in std::iter::once(&args.viaduc).chain(args.viaduc_plain.as_ref()) {
        let host = url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
        assert!(ok(host), "ews-load only targets loopback addresses (got {host})");
    }
    assert!(ok(&args.imap_host), "ews-load only targets loopback addresses (got {})", args.imap_host);
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    loopback_only(&args);
    let uids = prepare(&args).await;
    assert!(!uids.is_empty(), "no messages in the benchmark folder");
    let ews = Ews::new(&args);
    let folders = ews
        .call(r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="msgfolderroot"/></m:ParentFolderIds></m:FindFolder>"#)
        .await
        .expect("FindFolder through Viaduc");
    let folder_id = folder_id_named(&folders, &args.folder).expect("benchmark folder visible through EWS");
    let items = ews
        .call(&format!(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="1000" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:FolderId Id="{folder_id}"/></m:ParentFolderIds></m:FindItem>"#))
        .await
        .expect("FindItem through Viaduc");
    let item_ids = attribute_values(&items, "ItemId", "Id");
    assert!(!item_ids.is_empty(), "FindItem returned no ids");

    println!(
        "ews-load: {} clients, {} s per side in {} round(s), {} messages of {} bytes in {}",
        args.clients,
        args.seconds,
        args.rounds.max(1),
        uids.len(),
        args.size,
        args.folder
    );
    println!(
        "{:<24} {:>6} {:>10} {:>9} {:>9} {:>7} | {:>10} {:>9} {:>9} | {:>8} {:>8}",
        "workload", "side", "req/s", "p50 ms", "p99 ms", "errors", "", "", "", "thr x", "p50 x"
    );
    let args = Arc::new(args);
    let folder_id = Arc::new(folder_id);
    let item_ids = Arc::new(item_ids);
    let uids = Arc::new(uids);
    for name in args.workloads.split(',') {
        let w = match name.trim() {
            "getitem" => Workload::GetItem,
            "finditem" => Workload::FindItem,
            "sync" => Workload::Sync,
            "noop" => Workload::Noop,
            other => panic!("unknown workload {other}"),
        };
        let mut direct = run_imap(args.clone(), w, uids.clone()).await;
        let mut viaduc = run_ews(args.clone(), args.viaduc.clone(), w, folder_id.clone(), item_ids.clone()).await;
        let mut plain = match &args.viaduc_plain {
            Some(url) => Some(run_ews(args.clone(), url.clone(), w, folder_id.clone(), item_ids.clone()).await),
            None => None,
        };
        for _ in 1..args.rounds.max(1) {
            direct.absorb(run_imap(args.clone(), w, uids.clone()).await);
            viaduc.absorb(run_ews(args.clone(), args.viaduc.clone(), w, folder_id.clone(), item_ids.clone()).await);
            if let (Some(p), Some(url)) = (plain.as_mut(), &args.viaduc_plain) {
                p.absorb(run_ews(args.clone(), url.clone(), w, folder_id.clone(), item_ids.clone()).await);
            }
        }
        let (d50, d99, v50, v99) =
            (direct.percentile(0.5), direct.percentile(0.99), viaduc.percentile(0.5), viaduc.percentile(0.99));
        println!(
            "{:<24} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>7}",
            w.name(),
            "IMAP",
            direct.throughput(),
            ms(d50),
            ms(d99),
            direct.errors
        );
        println!(
            "{:<24} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>7} | {:>10} {:>9} {:>9} | {:>8.2} {:>8.2}",
            "",
            "Viaduc",
            viaduc.throughput(),
            ms(v50),
            ms(v99),
            viaduc.errors,
            "",
            "",
            "",
            viaduc.throughput() / direct.throughput().max(f64::MIN_POSITIVE),
            ms(v50) / ms(d50).max(f64::MIN_POSITIVE)
        );
        if let Some(mut p) = plain {
            let (p50, p99) = (p.percentile(0.5), p.percentile(0.99));
            println!(
                "{:<24} {:>6} {:>10.1} {:>9.2} {:>9.2} {:>7} | {:>10} {:>9} {:>9} | {:>8.2} {:>8.2}",
                "",
                "V-http",
                p.throughput(),
                ms(p50),
                ms(p99),
                p.errors,
                "",
                "",
                "",
                p.throughput() / direct.throughput().max(f64::MIN_POSITIVE),
                ms(p50) / ms(d50).max(f64::MIN_POSITIVE)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_and_named_folders() {
        let xml = r#"<m:RootFolder><t:Folders><t:Folder><t:FolderId Id="AAA" ChangeKey="x"/><t:DisplayName>Inbox</t:DisplayName></t:Folder><t:Folder><t:FolderId Id="BBB" ChangeKey="y"/><t:DisplayName>ViaducBench</t:DisplayName></t:Folder></t:Folders></m:RootFolder><t:ItemId Id="i1" ChangeKey="c"/><t:ItemId Id="i2"/>"#;
        assert_eq!(folder_id_named(xml, "ViaducBench").as_deref(), Some("BBB"));
        assert_eq!(folder_id_named(xml, "Inbox").as_deref(), Some("AAA"));
        assert_eq!(attribute_values(xml, "ItemId", "Id"), vec!["i1", "i2"]);
    }

    #[test]
    fn messages_have_the_requested_size() {
        let m = message(1, 50 * 1024);
        assert!(m.len() >= 50 * 1024 && m.len() < 50 * 1024 + 200);
    }
}
