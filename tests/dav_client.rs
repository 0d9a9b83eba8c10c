//! The CalDAV/CardDAV client against the real Radicale of the test stack (`VIADUC_TEST_STACK`, started and seeded by
//! `scripts/test`; these tests fail when it is not set). Writes go to collections created per run and removed
//! at the end; the seeded data is only read.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use viaduc::auth::{Authenticator, Principal};
use viaduc::backend::dav::client::{CalComponent, CollectionKind, DavClient, IfMatch, ObjectKind, object_href};
use viaduc::backend::dav::ical;
use viaduc::config::{AuthConfig, DavConfig, ImapConfig, TlsMode};
use viaduc::error::{Backend, Kind};
use viaduc::model::calendar::CalendarItem;
use viaduc::model::freebusy;
use viaduc::model::timezone::EventTime;

/// The stack `scripts/test` started (tests/common), with this file's helpers on top.
struct Stack(common::Stack);

impl Stack {
    fn get() -> Stack {
        Stack(common::Stack::from_env())
    }
    fn var(&self, k: &str) -> &str {
        self.0.var(k)
    }
    fn dav(&self) -> DavClient {
        DavClient::new(&DavConfig {
            base_url: format!("http://127.0.0.1:{}/", self.var("DAV_PORT")),
            ca_file: None,
            timeout_secs: 20,
            service_user: None,
            service_password: None,
        })
        .unwrap()
    }
    fn tls(&self) -> Arc<rustls::ClientConfig> {
        viaduc::backend::tls::client_config(Backend::Imap, Some(&PathBuf::from(self.var("CA_FILE")))).unwrap()
    }
    /// A principal as the authenticator makes it (a real IMAP login), logging in as `login`.
    async fn principal(&self, login: &str) -> Principal {
        let imap = ImapConfig {
            host: "127.0.0.1".into(),
            port: self.var("IMAP_PORT").parse().unwrap(),
            tls: TlsMode::Starttls,
            ca_file: Some(PathBuf::from(self.var("CA_FILE"))),
            master_user: None,
            master_password: None,
            master_separator: "*".into(),
            timeout_secs: 20,
            pool_max_sessions_per_user: 2,
            pool_max_idle_per_user: 1,
            pool_idle_timeout_secs: 60,
            watch_max_per_user: 2,
            message_cache_mib: 0,
        };
        let auth = Authenticator::new(imap, self.tls(), None, "example.test".into(), AuthConfig::default());
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{login}:{}", self.var("PASSWORD")))
        );
        match auth.authenticate(Some(&header), IpAddr::V4(Ipv4Addr::LOCALHOST)).await {
            Ok(p) => p,
            Err(e) => panic!("login as {login}: {e:?}"),
        }
    }
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> EventTime {
    EventTime::Zoned(NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, 0).unwrap(), Tz::Europe__Paris)
}

const ICS: &str = "text/calendar; charset=utf-8";

#[tokio::test]
async fn discovers_homes_and_seeded_collections() {
    let stack = Stack::get();
    let dav = stack.dav();
    for login in ["alice", "alice@example.test"] {
        let alice = stack.principal(login).await;
        let homes = dav.discover(&alice).await.unwrap();
        assert_eq!(homes.principal, "/alice/");
        assert_eq!(homes.calendar_home.as_deref(), Some("/alice/"));
        assert_eq!(homes.addressbook_home.as_deref(), Some("/alice/"));
        let cols = dav.list_collections(&alice).await.unwrap();
        let find = |h: &str| cols.iter().find(|c| c.href == h).unwrap_or_else(|| panic!("{h} missing from {cols:#?}"));
        let cal = find("/alice/calendar/");
        assert_eq!(cal.kind, CollectionKind::Calendar { components: vec![CalComponent::Event] });
        assert!(cal.sync_token.is_some() && cal.ctag.is_some() && !cal.read_only);
        assert_eq!(find("/alice/tasks/").kind, CollectionKind::Calendar { components: vec![CalComponent::Todo] });
        assert_eq!(find("/alice/contacts/").kind, CollectionKind::AddressBook);
    }
    let nobody = dav.discover(&stack.principal("bob").await).await.unwrap();
    assert_eq!(nobody.principal, "/bob/");
}

#[tokio::test]
async fn queries_the_seeded_events_tasks_and_contacts() {
    let stack = Stack::get();
    let dav = stack.dav();
    let alice = stack.principal("alice").await;
    let (from, to) =
        (Utc.with_ymd_and_hms(2025, 1, 10, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2025, 1, 25, 0, 0, 0).unwrap());
    let objs = dav.calendar_query(&alice, "/alice/calendar/", CalComponent::Event, Some((from, to))).await.unwrap();
    // (Other tests may add items of their own: only the seeded ones are checked.)
    let seeded = ["/alice/calendar/kickoff.ics", "/alice/calendar/weekly-standup.ics", "/alice/calendar/holiday.ics"];
    let objs: Vec<_> = objs.into_iter().filter(|o| seeded.contains(&o.href.as_str())).collect();
    let mut hrefs: Vec<&str> = objs.iter().map(|o| o.href.as_str()).collect();
    hrefs.sort();
    assert_eq!(hrefs, &seeded[..2], "the all-day 1 May event is outside");
    let weekly = objs.iter().find(|o| o.href.ends_with("weekly-standup.ics")).unwrap();
    let parsed = ical::parse_calendar(&weekly.data).unwrap();
    assert_eq!(parsed.events.len(), 1);
    let item = &parsed.events[0];
    assert_eq!(item.subject, "Weekly standup");
    assert_eq!(item.start, paris(2025, 1, 6, 9, 30));
    assert_eq!(item.deleted_occurrences, [paris(2025, 1, 20, 9, 30)]);
    assert_eq!(item.modified_occurrences.len(), 1);
    assert_eq!(item.modified_occurrences[0].start, Some(paris(2025, 1, 13, 11, 0)));
    // Expanded in the window: 13 Jan at 11:00 Paris (the override), 20 Jan deleted.
    let occ = item.occurrences(Tz::UTC, from, to);
    assert_eq!(occ.len(), 1, "{occ:?}");
    assert_eq!(occ[0].start, Utc.with_ymd_and_hms(2025, 1, 13, 10, 0, 0).unwrap());
    assert_eq!(occ[0].override_index, Some(0));
    // Free/busy over the same items: the override and the kickoff.
    let items: Vec<CalendarItem> = objs.iter().flat_map(|o| ical::parse_calendar(&o.data).unwrap().events).collect();
    let fb = freebusy::free_busy(&items, Tz::UTC, from, to);
    assert_eq!(fb.len(), 2, "{fb:?}");
    assert_eq!(fb[1].start, Utc.with_ymd_and_hms(2025, 1, 15, 14, 0, 0).unwrap());

    let all = dav.calendar_query(&alice, "/alice/calendar/", CalComponent::Event, None).await.unwrap();
    for h in seeded {
        assert!(all.iter().any(|o| o.href == h), "{h} missing");
    }
    let tasks = dav.calendar_query(&alice, "/alice/tasks/", CalComponent::Todo, None).await.unwrap();
    assert!(!tasks.is_empty());
    assert!(tasks.iter().all(|t| ical::parse_calendar(&t.data).unwrap().tasks.len() == 1));
    let cards = dav.addressbook_query(&alice, "/alice/contacts/").await.unwrap();
    assert!(cards.len() >= 2 && cards.iter().any(|c| c.href == "/alice/contacts/dave.vcf"), "{cards:?}");
    let got = dav
        .multiget(
            &alice,
            "/alice/contacts/",
            ObjectKind::AddressBook,
            &[cards[0].href.clone(), "/alice/contacts/missing.vcf".into()],
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, cards[0].data);
    let one = dav
        .multiget(&alice, "/alice/calendar/", ObjectKind::Calendar, std::slice::from_ref(&weekly.href))
        .await
        .unwrap();
    assert_eq!((one[0].etag.as_ref(), one[0].data.as_str()), (weekly.etag.as_ref(), weekly.data.as_str()));
    assert!(dav.get(&alice, "/alice/calendar/missing.ics").await.unwrap().is_none());
}

#[tokio::test]
async fn writes_with_etags_syncs_and_manages_collections() {
    let stack = Stack::get();
    let dav = stack.dav();
    let other = stack.dav(); // a second client (another device of alice's)
    let alice = stack.principal("alice@example.test").await;
    let name = unique("vtest-cal");
    let col = dav.mkcalendar(&alice, &name, "Viaduc test & co", &[CalComponent::Event]).await.unwrap();
    assert_eq!(col, format!("/alice/{name}/"));
    assert_eq!(dav.mkcalendar(&alice, &name, "again", &[CalComponent::Event]).await.unwrap_err().kind, Kind::Conflict);
    let c = dav.collection(&alice, &col).await.unwrap().expect("created");
    assert_eq!(c.display_name.as_deref(), Some("Viaduc test & co"));
    assert!(c.holds(CalComponent::Event));

    let sync0 = dav.sync_collection(&alice, &col, None).await.unwrap();
    assert!(sync0.changed.is_empty() && sync0.full);
    let token0 = sync0.new_token.clone().expect("a sync token");

    // A new event from the model, create-only.
    let uid = unique("viaduc-event");
    let mut item =
        CalendarItem::new(uid.clone(), "Design review", paris(2026, 3, 30, 14, 0), paris(2026, 3, 30, 15, 0));
    item.location = Some("Room 3".into());
    item.stamp(chrono::DateTime::<Utc>::from(SystemTime::now()));
    let href = object_href(&col, &uid, "ics");
    let etag1 = dav.put(&alice, &href, &ical::write_event(&item), ICS, IfMatch::None).await.unwrap();
    assert_eq!(
        dav.put(&alice, &href, &ical::write_event(&item), ICS, IfMatch::None).await.unwrap_err().kind,
        Kind::Conflict
    );
    let second = object_href(&col, &unique("viaduc-second"), "ics");
    let mut item2 =
        CalendarItem::new(unique("viaduc-second"), "Second", paris(2026, 3, 31, 9, 0), paris(2026, 3, 31, 9, 30));
    item2.stamp(chrono::DateTime::<Utc>::from(SystemTime::now()));
    let etag_second = dav.put(&alice, &second, &ical::write_event(&item2), ICS, IfMatch::None).await.unwrap();

    let sync1 = dav.sync_collection(&alice, &col, Some(&token0)).await.unwrap();
    let mut changed: Vec<_> = sync1.changed.clone();
    changed.sort();
    let mut want = vec![(href.clone(), etag1.clone()), (second.clone(), etag_second.clone())];
    want.sort();
    assert_eq!(changed, want);
    assert!(sync1.deleted.is_empty() && !sync1.full);
    let token1 = sync1.new_token.clone().unwrap();

    // Update with the right etag; a stale etag is a conflict.
    item.subject = "Design review (moved)".into();
    item.start = paris(2026, 3, 30, 16, 0);
    item.end = paris(2026, 3, 30, 17, 0);
    let etag2 = dav.put(&alice, &href, &ical::write_event(&item), ICS, IfMatch::Etag(etag1.clone())).await.unwrap();
    assert_ne!(etag1, etag2);
    let stale = dav.put(&alice, &href, &ical::write_event(&item), ICS, IfMatch::Etag(etag1.clone())).await.unwrap_err();
    assert_eq!(stale.kind, Kind::Conflict, "{stale}");
    let got = dav.get(&alice, &href).await.unwrap().expect("stored");
    assert_eq!(got.etag.as_deref(), Some(etag2.as_str()));
    let back = ical::parse_calendar(&got.data).unwrap();
    assert_eq!(back.events[0].subject, "Design review (moved)");
    assert_eq!(back.events[0].start, paris(2026, 3, 30, 16, 0));
    assert_eq!(back.events[0].location.as_deref(), Some("Room 3"));

    // The second client deletes the other event; a stale etag on delete is a conflict too.
    assert_eq!(other.delete(&alice, &second, Some("\"stale\"")).await.unwrap_err().kind, Kind::Conflict);
    other.delete(&alice, &second, Some(&etag_second)).await.unwrap();

    let sync2 = dav.sync_collection(&alice, &col, Some(&token1)).await.unwrap();
    assert_eq!(sync2.changed, [(href.clone(), etag2.clone())]);
    assert_eq!(sync2.deleted, std::slice::from_ref(&second));
    // Nothing new since.
    let sync3 = dav.sync_collection(&alice, &col, sync2.new_token.as_deref()).await.unwrap();
    assert!(sync3.changed.is_empty() && sync3.deleted.is_empty());
    // A token the server does not know: Conflict, the caller starts over.
    let bad = dav.sync_collection(&alice, &col, Some("http://radicale.org/ns/sync/0000")).await.unwrap_err();
    assert_eq!(bad.kind, Kind::Conflict, "{bad}");
    // The PROPFIND listing (the fallback of servers without sync-collection) agrees.
    assert_eq!(dav.list_etags(&alice, &col).await.unwrap(), [(href.clone(), etag2.clone())]);

    // Rename, then delete the collection.
    dav.proppatch_displayname(&alice, &col, "Renamed calendar").await.unwrap();
    assert_eq!(dav.collection(&alice, &col).await.unwrap().unwrap().display_name.as_deref(), Some("Renamed calendar"));
    assert!(dav.list_collections(&alice).await.unwrap().iter().any(|c| c.href == col));
    dav.delete_collection(&alice, &col).await.unwrap();
    assert!(dav.collection(&alice, &col).await.unwrap().is_none());
    assert!(dav.get(&alice, &href).await.unwrap().is_none());

    // An address book through extended MKCOL.
    let ab_name = unique("vtest-ab");
    let ab = dav.mkaddressbook(&alice, &ab_name, "Test contacts").await.unwrap();
    let c = dav.collection(&alice, &ab).await.unwrap().expect("address book");
    assert_eq!(c.kind, CollectionKind::AddressBook);
    assert_eq!(c.display_name.as_deref(), Some("Test contacts"));
    dav.delete_collection(&alice, &ab).await.unwrap();
}

#[tokio::test]
async fn bob_reads_alices_calendar_but_cannot_write_it() {
    let stack = Stack::get();
    let dav = stack.dav();
    let bob = stack.principal("bob").await;
    let shared = dav.collection(&bob, "/alice/calendar/").await.unwrap().expect("bob sees alice's calendar");
    assert!(shared.read_only, "{shared:?}");
    let objs = dav.calendar_query(&bob, "/alice/calendar/", CalComponent::Event, None).await.unwrap();
    assert!(objs.iter().any(|o| o.href == "/alice/calendar/kickoff.ics"));
    let kickoff = dav.get(&bob, "/alice/calendar/kickoff.ics").await.unwrap().expect("readable");
    let e = dav
        .put(
            &bob,
            "/alice/calendar/bob-was-here.ics",
            &kickoff.data.replace("kickoff-alice", "bob-was-here"),
            ICS,
            IfMatch::None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, Kind::AccessDenied, "{e}");
    let e = dav.delete(&bob, "/alice/calendar/kickoff.ics", None).await.unwrap_err();
    assert_eq!(e.kind, Kind::AccessDenied, "{e}");
    let e = dav.addressbook_query(&bob, "/alice/contacts/").await.unwrap_err();
    assert_eq!(e.kind, Kind::AccessDenied, "{e}");
}

#[tokio::test]
async fn other_users_private_calendar_is_access_denied() {
    let stack = Stack::get();
    let dav = stack.dav();
    // carol has no right on alice's calendar: refused access (403), not failed authentication.
    let carol = stack.principal("carol").await;
    let e = dav.calendar_query(&carol, "/alice/calendar/", CalComponent::Event, None).await.unwrap_err();
    assert_eq!(e.kind, Kind::AccessDenied, "{e}");
}
