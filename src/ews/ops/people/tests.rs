//! Matching, ordering and the FindPeople XML, without a DAV server (sans-IO), and FindPeople on the directory
//! through the whole request path against the in-memory store.

use super::*;
use crate::ews::groupware::folders::{DavFolder, DavKind};
use crate::ews::xml::{NS_M, NS_SOAP, NS_T, parse};
use crate::model::contact::Email;

const ME: &str = "alice@example.test";

fn ids() -> IdCodec {
    IdCodec::new([3u8; 32])
}

fn entry(name: &str, mail: &str, given: &str, surname: &str, kind: EntryKind) -> DirectoryEntry {
    DirectoryEntry {
        kind,
        dn: format!("cn={given},dc=example"),
        login: Some(given.to_lowercase()),
        display_name: name.into(),
        mail: mail.into(),
        given_name: Some(given.into()),
        surname: Some(surname.into()),
        title: Some("Engineer".into()),
        department: None,
        office: Some("Building A".into()),
        phone: Some("+1 555 0101".into()),
        mobile: None,
        manager_dn: None,
        members: Vec::new(),
    }
}

fn contact(resource: &str, name: &str, given: &str, surname: &str, emails: &[&str]) -> Card {
    Card {
        collection: "/alice/contacts/".into(),
        resource: resource.into(),
        etag: format!("\"{resource}\""),
        item: Gw::Contact(Contact {
            uid: resource.trim_end_matches(".vcf").into(),
            display_name: name.into(),
            given_name: Some(given.into()),
            surname: Some(surname.into()),
            emails: emails.iter().map(|a| Email { address: a.to_string(), display_name: None }).collect(),
            company: Some("Partner Inc.".into()),
            ..Contact::default()
        }),
    }
}

fn group(resource: &str, name: &str, members: Vec<GroupMember>) -> Card {
    Card {
        collection: "/alice/contacts/".into(),
        resource: resource.into(),
        etag: "\"g\"".into(),
        item: Gw::Group(ContactGroup {
            uid: resource.trim_end_matches(".vcf").into(),
            display_name: name.into(),
            members,
            ..ContactGroup::default()
        }),
    }
}

fn names(r: &[Resolution<'_>]) -> Vec<String> {
    r.iter()
        .map(|x| match x {
            Resolution::Directory(e) => format!("gal:{}", e.mail),
            Resolution::Contact { address, .. } => format!("contact:{address}"),
            Resolution::Group { group, .. } => format!("group:{}", group.display_name),
        })
        .collect()
}

#[test]
fn search_scopes_order_their_sources() {
    assert_eq!(SearchScope::parse(None).unwrap(), SearchScope::ActiveDirectoryContacts);
    assert_eq!(SearchScope::parse(Some("Contacts")).unwrap().sources(), &[Source::Contacts]);
    assert_eq!(
        SearchScope::parse(Some("ContactsActiveDirectory")).unwrap().sources(),
        &[Source::Contacts, Source::Directory]
    );
    assert_eq!(SearchScope::parse(Some("ActiveDirectory")).unwrap().sources(), &[Source::Directory]);
    assert_eq!(SearchScope::parse(Some("Everywhere")).unwrap_err().code, "ErrorInvalidRequest");
}

#[test]
fn contacts_match_by_name_prefix_and_address() {
    let Gw::Contact(c) =
        contact("d.vcf", "Dave External", "Dave", "External", &["dave@partner.example", "d2@home.example"]).item
    else {
        unreachable!()
    };
    for q in ["dave", "DAVE", "ext", "Dave E", "dave@", "dave@partner.example"] {
        assert!(match_contact(q, &c).is_some(), "{q}");
    }
    assert_eq!(match_contact("d2", &c).unwrap().address, "d2@home.example", "the matched address is the one used");
    assert_eq!(match_contact("Dave", &c).unwrap().address, "dave@partner.example", "else EmailAddress1");
    assert!(match_contact("DAVE@PARTNER.EXAMPLE", &c).unwrap().exact);
    assert!(!match_contact("dave", &c).unwrap().exact);
    assert!(match_contact("avid", &c).is_none(), "not a prefix");
    assert!(match_contact("partner", &c).is_none(), "the domain is not a prefix of the address");
    let Gw::Contact(no_mail) = contact("n.vcf", "Nora Nomail", "Nora", "Nomail", &[]).item else { unreachable!() };
    assert!(match_contact("nora", &no_mail).is_none(), "no address, no resolution");
    assert!(contact_answers("nora", &no_mail), "but FindPeople shows the person");
    let mut nick = no_mail.clone();
    nick.nickname = Some("Nono".into());
    nick.emails = vec![Email { address: "n@x.example".into(), display_name: None }];
    assert!(match_contact("non", &nick).is_some(), "nickname");
}

#[test]
fn resolutions_follow_the_scope_and_keep_duplicates() {
    // What the directory search answers (LDAP filters on the server).
    let all = [
        entry("Dave External", "dave@partner.example", "Dave", "External", EntryKind::Contact),
        entry("Daniel Doe", "daniel@example.test", "Daniel", "Doe", EntryKind::Mailbox),
    ];
    let gal = |q: &str| all.iter().filter(|e| match_directory(q, e)).cloned().collect::<Vec<_>>();
    let cards = vec![
        contact("dave.vcf", "Dave External", "Dave", "External", &["dave@partner.example"]),
        contact("dana.vcf", "Dana Smith", "Dana", "Smith", &["dana@home.example"]),
        group("team.vcf", "Darts team", vec![]),
        contact("erin.vcf", "Erin Example", "Erin", "Example", &["erin@supplier.example"]),
    ];
    let r = resolve(SearchScope::ActiveDirectoryContacts, "da", gal("da"), &cards);
    assert_eq!(
        names(&r),
        [
            "gal:daniel@example.test",
            "gal:dave@partner.example",
            "contact:dana@home.example",
            "group:Darts team",
            "contact:dave@partner.example"
        ]
    );
    let r = resolve(SearchScope::ContactsActiveDirectory, "dave", gal("dave"), &cards);
    assert_eq!(names(&r), ["contact:dave@partner.example", "gal:dave@partner.example"]);
    let r = resolve(SearchScope::Contacts, "da", gal("da"), &cards);
    assert!(names(&r).iter().all(|n| !n.starts_with("gal:")));
    let r = resolve(SearchScope::ActiveDirectory, "erin", gal("erin"), &cards);
    assert!(r.is_empty(), "contacts are not searched");
    // An exact address resolves uniquely in each source; groups drop out.
    let r = resolve(SearchScope::ActiveDirectoryContacts, "dave@partner.example", gal("dave@partner.example"), &cards);
    assert_eq!(names(&r), ["gal:dave@partner.example", "contact:dave@partner.example"]);
    let r = resolve(SearchScope::Contacts, "Dana@Home.Example", gal("Dana@Home.Example"), &cards);
    assert_eq!(names(&r), ["contact:dana@home.example"]);
    let r = resolve(SearchScope::ActiveDirectoryContacts, "daniel@example.test", gal("daniel@example.test"), &cards);
    assert_eq!(names(&r), ["gal:daniel@example.test"]);
}

fn contacts_node(href: &str, distinguished: Option<&'static str>, kind: DavKind) -> FolderNode {
    FolderNode {
        r: FolderRef::Dav(href.into()),
        name: None,
        display: "x".into(),
        parent: Some(FolderRef::MsgFolderRoot),
        info: None,
        distinguished,
        child_count: 0,
        delimiter: None,
        dav: Some(DavFolder { kind, href: href.into(), read_only: false, version: None, count: None }),
    }
}

fn el(xml: &str) -> Element {
    let doc = format!(r#"<r xmlns:t="{NS_T}" xmlns:m="{NS_M}">{xml}</r>"#);
    parse(doc.as_bytes()).unwrap().children.remove(0)
}

#[test]
fn contacts_folders_are_chosen_from_the_request() {
    let nodes = vec![
        contacts_node("/alice/calendar/", Some("calendar"), DavKind::Calendar),
        contacts_node("/alice/contacts/", Some("contacts"), DavKind::Contacts),
        contacts_node("/alice/work/", None, DavKind::Contacts),
    ];
    let c = ids();
    assert_eq!(select_collections(&nodes, &c, ME, &[]).unwrap(), ["/alice/contacts/"]);
    let fid = |href: &str, mb: &str| c.folder_id(&FolderId { mailbox: mb.into(), folder: FolderRef::Dav(href.into()) });
    let parents = vec![
        el(&format!(r#"<t:FolderId Id="{}"/>"#, fid("/alice/work/", ME))),
        el(r#"<t:DistinguishedFolderId Id="contacts"/>"#),
    ];
    assert_eq!(select_collections(&nodes, &c, ME, &parents).unwrap(), ["/alice/work/", "/alice/contacts/"]);
    let cal = [el(&format!(r#"<t:FolderId Id="{}"/>"#, fid("/alice/calendar/", ME)))];
    assert_eq!(select_collections(&nodes, &c, ME, &cal).unwrap_err().code, "ErrorInvalidRequest");
    let foreign = [el(&format!(r#"<t:FolderId Id="{}"/>"#, fid("/bob/contacts/", "bob@example.test")))];
    assert_eq!(select_collections(&nodes, &c, ME, &foreign).unwrap_err().code, "ErrorAccessDenied");
    let bad = [el(r#"<t:FolderId Id="AAAA"/>"#)];
    assert_eq!(select_collections(&nodes, &c, ME, &bad).unwrap_err().code, "ErrorInvalidIdMalformed");
    let inbox = [el(r#"<t:DistinguishedFolderId Id="inbox"/>"#)];
    assert!(is_request_error(&select_collections(&nodes, &c, ME, &inbox).unwrap_err()));
    assert!(select_collections(&[], &c, ME, &[]).unwrap().is_empty(), "no address book, nothing to search");
}

#[test]
fn group_members_expand_to_contacts_and_one_offs() {
    let cards = vec![contact("dave.vcf", "Dave External", "Dave", "External", &["dave@partner.example"])];
    let g = group(
        "g.vcf",
        "Friends",
        vec![
            GroupMember::Contact("dave".into()),
            GroupMember::Email { address: "zed@x.example".into(), name: Some("Zed".into()) },
            GroupMember::Contact("gone".into()),
        ],
    );
    let Gw::Group(g) = &g.item else { unreachable!() };
    let mut w = XmlWriter::new();
    w.start("r", &[("xmlns:t", NS_T)]);
    let n = write_group_members(&mut w, g, &cards, &ids(), ME);
    w.end();
    assert_eq!(n, 2, "a member whose contact is gone is left out");
    let root = parse(w.finish().as_bytes()).unwrap();
    let boxes: Vec<&Element> = root.children.iter().collect();
    assert_eq!(boxes[0].t_text("MailboxType"), Some("Contact"));
    assert_eq!(boxes[0].t_text("EmailAddress"), Some("dave@partner.example"));
    let id = boxes[0].t("ItemId").and_then(|i| i.attr("Id")).unwrap();
    assert_eq!(ids().parse_dav_item_id(id).unwrap().resource, "dave.vcf");
    assert_eq!(boxes[1].t_text("MailboxType"), Some("OneOff"));
    assert_eq!(boxes[1].t_text("Name"), Some("Zed"));
}

fn local_names(e: &Element) -> Vec<&str> {
    e.children.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn personas_are_written_in_schema_order_and_paged() {
    let c = ids();
    let gal = [
        entry("Bob Brown", "bob@example.test", "Bob", "Brown", EntryKind::Mailbox),
        entry("Carol Clark", "carol@example.test", "Carol", "Clark", EntryKind::Mailbox),
        entry("Team", "team@example.test", "Team", "List", EntryKind::DistributionList),
    ];
    let people: Vec<Persona> = gal.iter().map(|e| Persona::of_directory(e, &c, ME)).collect();
    let xml = format!(
        r#"<r xmlns:t="{NS_T}" xmlns:m="{NS_M}">{}</r>"#,
        write_people(&people, BaseShape::Default, Some(2), 1, false)
    );
    let root = parse(xml.as_bytes()).unwrap();
    assert_eq!(
        local_names(&root),
        ["People", "TotalNumberOfPeopleInView", "FirstMatchingRowIndex", "FirstLoadedRowIndex"]
    );
    assert_eq!(root.m("TotalNumberOfPeopleInView").unwrap().trimmed(), "3");
    assert_eq!(root.m("FirstLoadedRowIndex").unwrap().trimmed(), "1");
    let page = &root.m("People").unwrap().children;
    assert_eq!(page.len(), 2);
    let carol = &page[0];
    assert_eq!(
        local_names(carol),
        [
            "PersonaId",
            "PersonaType",
            "DisplayName",
            "DisplayNameFirstLast",
            "DisplayNameLastFirst",
            "FileAs",
            "GivenName",
            "Surname",
            "Title",
            "Location",
            "EmailAddress",
            "EmailAddresses",
            "PhoneNumber"
        ]
    );
    let id = carol.t("PersonaId").and_then(|p| p.attr("Id")).unwrap();
    assert_eq!(c.parse_gal_persona_id(id).unwrap(), (ME.to_string(), "carol@example.test".to_string()));
    assert_eq!(carol.t_text("DisplayNameLastFirst"), Some("Clark, Carol"));
    let email = carol.t("EmailAddress").unwrap();
    assert_eq!(local_names(email), ["Name", "EmailAddress", "RoutingType"]);
    assert_eq!(email.t_text("EmailAddress"), Some("carol@example.test"));
    assert_eq!(carol.t("EmailAddresses").unwrap().children[0].name, "Address");
    assert_eq!(page[1].t_text("PersonaType"), Some("DistributionList"));
    // From the end, and IdOnly.
    let xml = format!(
        r#"<r xmlns:t="{NS_T}" xmlns:m="{NS_M}">{}</r>"#,
        write_people(&people, BaseShape::IdOnly, Some(1), 0, true)
    );
    let root = parse(xml.as_bytes()).unwrap();
    let page = &root.m("People").unwrap().children;
    assert_eq!(page.len(), 1);
    assert_eq!(local_names(&page[0]), ["PersonaId"]);
    assert_eq!(root.m("FirstLoadedRowIndex").unwrap().trimmed(), "2");
}

#[test]
fn contact_personas_carry_their_item_id() {
    let c = ids();
    let card = contact("dave.vcf", "Dave External", "Dave", "External", &["dave@partner.example"]);
    let p = Persona::of_card(&card, &c, ME).unwrap();
    assert_eq!(c.parse_dav_item_id(&p.id).unwrap().collection, "/alice/contacts/");
    assert_eq!(p.company.as_deref(), Some("Partner Inc."));
    let g = Persona::of_card(&group("g.vcf", "Friends", vec![]), &c, ME).unwrap();
    assert_eq!(g.kind, "DistributionList");
}

#[test]
fn the_find_people_response_is_its_own_message() {
    let ok = render_unwrapped(
        "Exchange2016",
        "FindPeople",
        &[ResponseMessage::ok(write_people(&[], BaseShape::Default, None, 0, false))],
    );
    let root = parse(ok.as_bytes()).unwrap();
    let body = root.child(NS_SOAP, "Body").unwrap();
    let resp = &body.children[0];
    assert_eq!(resp.name, "FindPeopleResponse");
    assert_eq!(resp.attr("ResponseClass"), Some("Success"));
    assert_eq!(
        local_names(resp),
        ["ResponseCode", "People", "TotalNumberOfPeopleInView", "FirstMatchingRowIndex", "FirstLoadedRowIndex"]
    );
    assert_eq!(resp.m("ResponseCode").unwrap().trimmed(), "NoError");
    let err = render_unwrapped("Exchange2016", "FindPeople", &[ResponseMessage::error("ErrorInvalidRequest", "bad")]);
    let root = parse(err.as_bytes()).unwrap();
    let resp = &root.child(NS_SOAP, "Body").unwrap().children[0];
    assert_eq!(resp.attr("ResponseClass"), Some("Error"));
    assert_eq!(local_names(resp), ["MessageText", "ResponseCode", "DescriptiveLinkKey"]);
    assert!(!err.contains("ResponseMessages"));
}

fn envelope(op: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{NS_SOAP}" xmlns:m="{NS_M}" xmlns:t="{NS_T}"><s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

#[tokio::test]
async fn find_people_searches_the_directory() {
    let mut store = crate::ews::store::MemStore::standard();
    store.directory = vec![
        entry("Bob Brown", "bob@example.test", "Bob", "Brown", EntryKind::Mailbox),
        entry("Bobby Tables", "bobby@example.test", "Bobby", "Tables", EntryKind::Mailbox),
        entry("Carol Clark", "carol@example.test", "Carol", "Clark", EntryKind::Mailbox),
    ];
    let req = envelope(
        r#"<m:FindPeople><m:PersonaShape><t:BaseShape>Default</t:BaseShape></m:PersonaShape><m:IndexedPageItemView BasePoint="Beginning" Offset="0" MaxEntriesReturned="10"/><m:ParentFolderId><t:DistinguishedFolderId Id="directory"/></m:ParentFolderId><m:QueryString>bro</m:QueryString></m:FindPeople>"#,
    );
    let (status, xml, store) = crate::ews::process(ids(), ME, req.as_bytes(), store).await;
    assert_eq!(status, 200);
    let root = parse(xml.as_bytes()).unwrap();
    let resp = &root.child(NS_SOAP, "Body").unwrap().children[0];
    assert_eq!(resp.attr("ResponseClass"), Some("Success"), "{xml}");
    let people = &resp.m("People").unwrap().children;
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].t_text("DisplayName"), Some("Bob Brown"));
    // GetPersona reads it back by its id; its message is the body's element.
    let pid = people[0].t("PersonaId").and_then(|p| p.attr("Id")).unwrap().to_string();
    let req = envelope(&format!(r#"<m:GetPersona><m:PersonaId Id="{pid}"/></m:GetPersona>"#));
    let (_, xml, store) = crate::ews::process(ids(), ME, req.as_bytes(), store).await;
    let root = parse(xml.as_bytes()).unwrap();
    let msg = &root.child(NS_SOAP, "Body").unwrap().children[0];
    assert_eq!((msg.name.as_str(), msg.attr("ResponseClass")), ("GetPersonaResponseMessage", Some("Success")), "{xml}");
    assert_eq!(msg.m("Persona").and_then(|p| p.t_text("EmailAddresses").map(|_| ())), Some(()));
    assert_eq!(msg.m("Persona").and_then(|p| p.t_text("DisplayName")), Some("Bob Brown"));
    let req = envelope(r#"<m:GetPersona><m:PersonaId Id="AAAA"/></m:GetPersona>"#);
    let (_, xml, store) = crate::ews::process(ids(), ME, req.as_bytes(), store).await;
    assert!(xml.contains("ErrorInvalidIdMalformed"), "{xml}");
    // Without a DAV server a contacts folder cannot be searched: an error, still HTTP 200.
    let req = envelope(
        r#"<m:FindPeople><m:IndexedPageItemView BasePoint="Beginning" Offset="0" MaxEntriesReturned="10"/><m:ParentFolderId><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderId></m:FindPeople>"#,
    );
    let (status, xml, _) = crate::ews::process(ids(), ME, req.as_bytes(), store).await;
    assert_eq!(status, 200);
    let root = parse(xml.as_bytes()).unwrap();
    let resp = &root.child(NS_SOAP, "Body").unwrap().children[0];
    assert_eq!(resp.attr("ResponseClass"), Some("Error"), "{xml}");
}
