//! Folder operations (MS-OXWSFOLD): GetFolder (3.1.4.6), FindFolder (3.1.4.5), CreateFolder (3.1.4.2),
//! UpdateFolder (3.1.4.9), DeleteFolder (3.1.4.4), MoveFolder (3.1.4.8), EmptyFolder (3.1.4.10 in
//! MS-OXWSFOLD; "EmptyFolder"), on the IMAP folder tree (`root` → `msgfolderroot` → mailboxes).

use super::{Ctx, Fail, FolderNode, descendants, parse_paging, write_folder_id};
use crate::ews::groupware::folders::DavKind;
use crate::ews::soap::ResponseMessage;
use crate::ews::store::MailStore;
use crate::ews::types::{Shape, path_uri};
use crate::ews::xml::{Element, XmlWriter, parse_bool};
use crate::ids::FolderRef;

/// Writes one `t:Folder` with the properties the shape asks for (MS-OXWSFOLD 2.2.4.12 FolderType; element
/// order of BaseFolderType, MS-OXWSCDATA 2.2.4.5).
pub fn write_folder<S: MailStore>(w: &mut XmlWriter, cx: &Ctx<S>, node: &FolderNode, shape: &Shape) {
    w.start(node.dav.as_ref().map(|d| d.kind.element()).unwrap_or("t:Folder"), &[]);
    write_folder_id(w, cx, "t:FolderId", node);
    if shape.wants("folder:ParentFolderId", false)
        && let Some(p) = &node.parent
    {
        let id = cx.folder_id_text(p);
        w.empty("t:ParentFolderId", &[("Id", &id), ("ChangeKey", &cx.ids.change_key(0))]);
    }
    if shape.wants("folder:FolderClass", false)
        && let Some(class) = folder_class(node)
    {
        w.leaf("t:FolderClass", class);
    }
    if shape.wants("folder:DisplayName", true) {
        w.leaf("t:DisplayName", &node.display);
    }
    let info = node.info.as_ref();
    if shape.wants("folder:TotalCount", true) {
        let n = match &node.dav {
            Some(d) => d.count.unwrap_or(0),
            None => info.map(|i| i.messages).unwrap_or(0),
        };
        w.leaf("t:TotalCount", &n.to_string());
    }
    if shape.wants("folder:ChildFolderCount", true) {
        w.leaf("t:ChildFolderCount", &node.child_count.to_string());
    }
    if shape.wants("folder:EffectiveRights", false) {
        // The owner's rights on her own mailbox (MS-OXWSCDATA 2.2.4.30 EffectiveRightsType).
        let selectable = info.is_some_and(|i| i.selectable) || node.dav.as_ref().is_some_and(|d| !d.read_only);
        w.start("t:EffectiveRights", &[]);
        w.bool_leaf("t:CreateAssociated", selectable);
        w.bool_leaf("t:CreateContents", selectable);
        w.bool_leaf("t:CreateHierarchy", true);
        w.bool_leaf("t:Delete", !node.is_virtual() && node.distinguished.is_none());
        w.bool_leaf("t:Modify", !node.is_virtual());
        w.bool_leaf("t:Read", true);
        w.bool_leaf("t:ViewPrivateItems", true);
        w.end();
    }
    if shape.wants("folder:DistinguishedFolderId", false)
        && let Some(d) = node.distinguished
    {
        w.leaf("t:DistinguishedFolderId", d);
    }
    // UnreadCount is a mail folder's (MS-OXWSFOLD 2.2.4.12 FolderType); calendar, contacts and tasks folders
    // have none.
    if shape.wants("folder:UnreadCount", true) && node.dav.is_none() {
        w.leaf("t:UnreadCount", &info.map(|i| i.unseen).unwrap_or(0).to_string());
    }
    w.end();
}

/// The container class of a folder (none for the two roots).
pub fn folder_class(node: &FolderNode) -> Option<&'static str> {
    match &node.dav {
        Some(d) => Some(d.kind.folder_class()),
        None if node.is_virtual() => None,
        None => Some("IPF.Note"),
    }
}

fn folders_message<S: MailStore>(cx: &Ctx<S>, nodes: &[&FolderNode], shape: &Shape) -> ResponseMessage {
    let mut w = XmlWriter::new();
    w.start("m:Folders", &[]);
    for n in nodes {
        write_folder(&mut w, cx, n, shape);
    }
    w.end();
    ResponseMessage::ok(w.finish())
}

/// The folder-id elements (`t:FolderId`, `t:DistinguishedFolderId`) under `el`.
fn id_elements(el: Option<&Element>) -> Vec<&Element> {
    el.map(|e| e.children.iter().filter(|c| c.name == "FolderId" || c.name == "DistinguishedFolderId").collect())
        .unwrap_or_default()
}

/// GetFolder: one response message per requested folder; a missing one gets its own ErrorFolderNotFound.
pub async fn get_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("FolderShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    let ids = id_elements(op.m("FolderIds"));
    if ids.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "FolderIds is empty.")];
    }
    let mut out = Vec::with_capacity(ids.len());
    for el in ids {
        match cx.resolve_folder(el).await {
            Ok(mut node) => {
                count_dav(cx, std::slice::from_mut(&mut node), &shape).await;
                out.push(folders_message(cx, &[&node], &shape))
            }
            Err(f) => out.push(f.message()),
        }
    }
    out
}

/// Counts the objects of DAV folders when the shape shows TotalCount.
async fn count_dav<S: MailStore>(cx: &Ctx<S>, nodes: &mut [FolderNode], shape: &Shape) {
    if let Some(g) = &cx.groupware
        && shape.wants("folder:TotalCount", true)
        && nodes.iter().any(|n| n.dav.is_some())
    {
        g.count(nodes).await;
    }
}

/// FindFolder: the children (Shallow) or all descendants (Deep) of each parent, paged.
pub async fn find_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let shape = match Shape::parse(op.m("FolderShape")) {
        Ok(s) => s,
        Err(e) => return vec![ResponseMessage::error("ErrorInvalidRequest", e)],
    };
    let deep = match op.attr("Traversal") {
        Some("Deep") => true,
        Some("Shallow") | None => false,
        Some(other) => {
            return vec![ResponseMessage::error(
                "ErrorInvalidRequest",
                format!("Traversal '{other}' is not supported."),
            )];
        }
    };
    let (max, offset, from_end) = match parse_paging(op.m("IndexedPageFolderView")) {
        Ok(p) => p,
        Err(f) => return vec![f.message()],
    };
    let restriction = match op.m("Restriction").map(FolderFilter::parse) {
        Some(Ok(r)) => Some(r),
        Some(Err(f)) => return vec![f.message()],
        None => None,
    };
    let parents = id_elements(op.m("ParentFolderIds"));
    if parents.is_empty() {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ParentFolderIds is empty.")];
    }
    let mut out = Vec::new();
    for el in parents {
        let node = match cx.resolve_folder(el).await {
            Ok(n) => n,
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        let tree = match cx.tree().await {
            Ok(t) => t.to_vec(),
            Err(e) => {
                out.push(Fail::from_error(&e, "ErrorFolderNotFound").message());
                continue;
            }
        };
        let all: Vec<&FolderNode> = if deep {
            descendants(&tree, &node.r)
        } else {
            tree.iter().filter(|n| n.parent.as_ref() == Some(&node.r)).collect()
        };
        let all: Vec<&FolderNode> = match &restriction {
            Some(r) => all.into_iter().filter(|n| r.matches(n)).collect(),
            None => all,
        };
        let total = all.len() as u32;
        let (start, end) = page_bounds(total, max, offset, from_end);
        let mut page: Vec<FolderNode> = all[start as usize..end as usize].iter().map(|n| (*n).clone()).collect();
        count_dav(cx, &mut page, &shape).await;
        let mut w = XmlWriter::new();
        let (o, t, last) = (end.to_string(), total.to_string(), end >= total);
        w.start(
            "m:RootFolder",
            &[
                ("IndexedPagingOffset", &o),
                ("TotalItemsInView", &t),
                ("IncludesLastItemInRange", if last { "true" } else { "false" }),
            ],
        );
        w.start("t:Folders", &[]);
        for n in &page {
            write_folder(&mut w, cx, n, &shape);
        }
        w.end().end();
        out.push(ResponseMessage::ok(w.finish()));
    }
    out
}

/// A FindFolder restriction (MS-OXWSSRCH 2.2.4.x) on the folder properties Viaduc has: DisplayName (IsEqualTo,
/// IsNotEqualTo, Contains) and FolderClass (IsEqualTo, IsNotEqualTo, Contains), combined with And/Or/Not.
/// Anything else is refused (ErrorUnsupportedQueryFilter), never ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderFilter {
    And(Vec<FolderFilter>),
    Or(Vec<FolderFilter>),
    Not(Box<FolderFilter>),
    Name { value: String, contains: bool },
    Class { value: String, contains: bool },
}

impl FolderFilter {
    pub fn parse(el: &Element) -> Result<FolderFilter, Fail> {
        let unsupported = |what: &str| {
            Fail::new("ErrorUnsupportedQueryFilter", format!("The folder restriction '{what}' is not supported."))
        };
        let value = |e: &Element| -> Option<String> {
            e.t("FieldURIOrConstant")
                .and_then(|c| c.t("Constant"))
                .or_else(|| e.t("Constant"))
                .and_then(|c| c.attr("Value"))
                .map(str::to_string)
        };
        match el.name.as_str() {
            "Restriction" => FolderFilter::parse(el.children.first().ok_or_else(|| unsupported("empty"))?),
            "And" => Ok(FolderFilter::And(el.children.iter().map(FolderFilter::parse).collect::<Result<_, _>>()?)),
            "Or" => Ok(FolderFilter::Or(el.children.iter().map(FolderFilter::parse).collect::<Result<_, _>>()?)),
            "Not" => Ok(FolderFilter::Not(Box::new(FolderFilter::parse(
                el.children.first().ok_or_else(|| unsupported("Not"))?,
            )?))),
            op @ ("IsEqualTo" | "IsNotEqualTo" | "Contains") => {
                let v = value(el).ok_or_else(|| unsupported("comparison without a constant"))?;
                let contains = op == "Contains";
                let f = match path_uri(el).as_deref() {
                    Some("folder:DisplayName") => FolderFilter::Name { value: v, contains },
                    Some("folder:FolderClass") => FolderFilter::Class { value: v, contains },
                    other => return Err(unsupported(other.unwrap_or(op))),
                };
                Ok(if op == "IsNotEqualTo" { FolderFilter::Not(Box::new(f)) } else { f })
            }
            other => Err(unsupported(other)),
        }
    }

    pub fn matches(&self, n: &FolderNode) -> bool {
        let test = |have: &str, want: &str, contains: bool| {
            if contains { have.to_lowercase().contains(&want.to_lowercase()) } else { have.eq_ignore_ascii_case(want) }
        };
        match self {
            FolderFilter::And(v) => v.iter().all(|f| f.matches(n)),
            FolderFilter::Or(v) => v.iter().any(|f| f.matches(n)),
            FolderFilter::Not(f) => !f.matches(n),
            FolderFilter::Name { value, contains } => test(&n.display, value, *contains),
            FolderFilter::Class { value, contains } => folder_class(n).is_some_and(|c| test(c, value, *contains)),
        }
    }
}

/// The [start, end) window of an indexed page view (MS-OXWSSRCH 2.2.4.x IndexedPageViewType): `offset`
/// counted from the beginning or the end.
pub fn page_bounds(total: u32, max: Option<u32>, offset: u32, from_end: bool) -> (u32, u32) {
    let max = max.unwrap_or(u32::MAX);
    if from_end {
        let end = total.saturating_sub(offset);
        (end.saturating_sub(max), end)
    } else {
        let start = offset.min(total);
        (start, start.saturating_add(max).min(total))
    }
}

fn delimiter<S>(cx: &Ctx<S>, node: &FolderNode) -> char {
    node.delimiter.or_else(|| cx.folders_ref().iter().find_map(|n| n.delimiter)).unwrap_or('/')
}

impl<S> Ctx<S> {
    fn folders_ref(&self) -> &[FolderNode] {
        self.folders.as_deref().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The IMAP name of a child called `leaf` under `parent`.
fn child_name<S>(cx: &Ctx<S>, parent: &FolderNode, leaf: &str) -> String {
    match &parent.name {
        Some(p) => format!("{p}{}{leaf}", delimiter(cx, parent)),
        None => leaf.to_string(),
    }
}

fn valid_leaf<S>(cx: &Ctx<S>, parent: &FolderNode, leaf: &str) -> Result<(), Fail> {
    let d = delimiter(cx, parent);
    if leaf.trim().is_empty() || leaf.contains(d) || leaf.chars().any(|c| c.is_control()) || leaf.len() > 255 {
        return Err(Fail::new(
            "ErrorInvalidRequest",
            "The folder name is empty, too long or contains the hierarchy delimiter.",
        ));
    }
    Ok(())
}

/// Finds a node by IMAP name after the tree was re-listed.
async fn node_by_name<S: MailStore>(cx: &mut Ctx<S>, name: &str) -> Option<FolderNode> {
    cx.invalidate();
    cx.tree().await.ok()?.iter().find(|n| n.name.as_deref() == Some(name)).cloned()
}

fn id_only() -> Shape {
    Shape { base: crate::ews::types::BaseShape::IdOnly, ..Shape::default() }
}

/// CreateFolder: creates each `t:Folder` (mail folders only) under the parent.
pub async fn create_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let Some(parent_el) = op.m("ParentFolderId").and_then(|p| id_elements(Some(p)).into_iter().next()) else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ParentFolderId is required.")];
    };
    let parent = match cx.resolve_folder(parent_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let Some(folders) = op.m("Folders") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "Folders is required.")];
    };
    let mut out = Vec::new();
    for f in &folders.children {
        if let Some(kind) = DavKind::from_new_folder(&f.name, f.t_text("FolderClass")) {
            out.push(match create_dav_folder(cx, kind, f.t_text("DisplayName").unwrap_or("")).await {
                Ok(node) => folders_message(cx, &[&node], &id_only()),
                Err(e) => e.message(),
            });
            continue;
        }
        let class = f.t_text("FolderClass").unwrap_or("IPF.Note");
        if f.name != "Folder" || !(class == "IPF.Note" || class.starts_with("IPF.Note.")) {
            out.push(ResponseMessage::error(
                "ErrorInvalidFolderTypeForOperation",
                "Only mail folders can be created in the IMAP store.",
            ));
            continue;
        }
        let leaf = f.t_text("DisplayName").unwrap_or("");
        if let Err(e) = valid_leaf(cx, &parent, leaf) {
            out.push(e.message());
            continue;
        }
        let name = child_name(cx, &parent, leaf);
        if cx.folders_ref().iter().any(|n| n.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(&name))) {
            out.push(ResponseMessage::error("ErrorFolderExists", "A folder with the specified name already exists."));
            continue;
        }
        match cx.store.create_folder(&name).await {
            Ok(()) => match node_by_name(cx, &name).await {
                Some(node) => out.push(folders_message(cx, &[&node], &id_only())),
                None => {
                    out.push(ResponseMessage::error("ErrorFolderSave", "The folder was created but cannot be listed."))
                }
            },
            Err(e) => out.push(Fail::from_error(&e, "ErrorFolderNotFound").message()),
        }
        cx.invalidate();
        let _ = cx.load().await;
    }
    out
}

/// Creates a calendar, task list or address book (MKCALENDAR / extended MKCOL) named `display`. Such folders
/// are always children of `msgfolderroot`, whatever parent the request names (DAV homes are flat).
async fn create_dav_folder<S: MailStore>(cx: &mut Ctx<S>, kind: DavKind, display: &str) -> Result<FolderNode, Fail> {
    let Some(g) = cx.groupware.clone() else {
        return Err(Fail::new(
            "ErrorInvalidFolderTypeForOperation",
            "No CalDAV/CardDAV server is configured for calendar, contact and task folders.",
        ));
    };
    let display = display.trim();
    if display.is_empty() {
        return Err(Fail::new("ErrorInvalidRequest", "DisplayName is required."));
    }
    cx.include_dav = true;
    cx.invalidate();
    let existing = cx.tree().await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?.to_vec();
    if existing
        .iter()
        .any(|n| n.dav.as_ref().is_some_and(|d| d.kind == kind) && n.display.eq_ignore_ascii_case(display))
    {
        return Err(Fail::new("ErrorFolderExists", "A folder with the specified name already exists."));
    }
    let segment = crate::ews::groupware::folders::segment_for(display, &existing);
    let href = g.create(kind, &segment, display).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    cx.invalidate();
    let tree = cx.tree().await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    tree.iter()
        .find(|n| n.r == FolderRef::Dav(href.clone()))
        .cloned()
        .ok_or_else(|| Fail::new("ErrorFolderSave", "The folder was created but cannot be listed."))
}

/// CreateFolderPath (MS-OXWSCFP): creates each folder of `RelativeFolderPath` under the previous one, starting
/// at the parent; folders of the path that already exist are used as they are. One response message per folder
/// of the path; after a failure the rest fail too.
pub async fn create_folder_path<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let Some(parent_el) = op.m("ParentFolderId").and_then(|p| id_elements(Some(p)).into_iter().next()) else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ParentFolderId is required.")];
    };
    let mut parent = match cx.resolve_folder(parent_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let Some(path) = op.m("RelativeFolderPath") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "RelativeFolderPath is required.")];
    };
    let mut out = Vec::new();
    let mut failed: Option<Fail> = None;
    for f in &path.children {
        if let Some(e) = &failed {
            out.push(e.message());
            continue;
        }
        let r = async {
            let class = f.t_text("FolderClass").unwrap_or("IPF.Note");
            if f.name != "Folder" || !(class == "IPF.Note" || class.starts_with("IPF.Note.")) {
                return Err(Fail::new(
                    "ErrorInvalidFolderTypeForOperation",
                    "Only mail folders can be created in the IMAP store.",
                ));
            }
            let leaf = f.t_text("DisplayName").unwrap_or("");
            valid_leaf(cx, &parent, leaf)?;
            let name = child_name(cx, &parent, leaf);
            let existing = cx
                .folders_ref()
                .iter()
                .find(|n| n.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(&name)))
                .cloned();
            if let Some(n) = existing {
                return Ok(n);
            }
            cx.store.create_folder(&name).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
            node_by_name(cx, &name)
                .await
                .ok_or_else(|| Fail::new("ErrorFolderSave", "The folder was created but cannot be listed."))
        }
        .await;
        match r {
            Ok(node) => {
                out.push(folders_message(cx, &[&node], &id_only()));
                parent = node;
            }
            Err(e) => {
                out.push(e.message());
                failed = Some(e);
            }
        }
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "RelativeFolderPath is empty."));
    }
    out
}

/// Renames `node` (and its subtree) to `new_name`.
async fn rename<S: MailStore>(cx: &mut Ctx<S>, node: &FolderNode, new_name: &str) -> Result<FolderNode, Fail> {
    let Some(old) = node.name.as_deref() else {
        return Err(Fail::new("ErrorInvalidRequest", "This folder cannot be renamed."));
    };
    if node.distinguished.is_some() {
        return Err(Fail::new("ErrorInvalidRequest", "Distinguished folders cannot be renamed or moved."));
    }
    if cx.folders_ref().iter().any(|n| n.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(new_name))) {
        return Err(Fail::new("ErrorFolderExists", "A folder with the specified name already exists."));
    }
    cx.store.rename_folder(old, new_name).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    node_by_name(cx, new_name)
        .await
        .ok_or_else(|| Fail::new("ErrorFolderNotFound", "The renamed folder cannot be listed."))
}

/// UpdateFolder: SetFolderField DisplayName renames the folder; other fields are refused per change.
pub async fn update_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let Some(changes) = op.m("FolderChanges") else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "FolderChanges is required.")];
    };
    let mut out = Vec::new();
    for ch in changes.children.iter().filter(|c| c.name == "FolderChange") {
        let Some(id_el) = ch.children.iter().find(|c| c.name == "FolderId" || c.name == "DistinguishedFolderId") else {
            out.push(ResponseMessage::error("ErrorInvalidRequest", "FolderChange without a folder id."));
            continue;
        };
        let mut node = match cx.resolve_folder(id_el).await {
            Ok(n) => n,
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        let mut failure = None;
        for upd in ch.t("Updates").map(|u| u.children.as_slice()).unwrap_or(&[]) {
            let uri = path_uri(upd).unwrap_or_default();
            match (upd.name.as_str(), uri.as_str()) {
                ("SetFolderField", "folder:DisplayName") if node.dav.is_some() => {
                    let new_display = upd
                        .children
                        .iter()
                        .find(|c| c.name.ends_with("Folder"))
                        .and_then(|f| f.t_text("DisplayName"))
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    let (Some(g), Some(d)) = (cx.groupware.clone(), node.dav.clone()) else { break };
                    if new_display.is_empty() {
                        failure = Some(Fail::new("ErrorInvalidRequest", "DisplayName cannot be empty."));
                        break;
                    }
                    match g.rename(&d.href, &new_display).await {
                        Ok(()) => node.display = new_display,
                        Err(e) => {
                            failure = Some(Fail::from_error(&e, "ErrorFolderNotFound"));
                            break;
                        }
                    }
                }
                ("SetFolderField", "folder:DisplayName") => {
                    let new_leaf = upd
                        .children
                        .iter()
                        .find(|c| c.name.ends_with("Folder"))
                        .and_then(|f| f.t_text("DisplayName"))
                        .unwrap_or("");
                    let parent = match &node.parent {
                        Some(p) => cx.folders_ref().iter().find(|n| &n.r == p).cloned(),
                        None => None,
                    };
                    let Some(parent) = parent else {
                        failure = Some(Fail::new("ErrorInvalidRequest", "This folder cannot be renamed."));
                        break;
                    };
                    if let Err(f) = valid_leaf(cx, &parent, new_leaf) {
                        failure = Some(f);
                        break;
                    }
                    if new_leaf == node.display {
                        continue;
                    }
                    let new_name = child_name(cx, &parent, new_leaf);
                    match rename(cx, &node, &new_name).await {
                        Ok(n) => node = n,
                        Err(f) => {
                            failure = Some(f);
                            break;
                        }
                    }
                }
                _ => {
                    failure = Some(Fail::new(
                        "ErrorInvalidPropertySet",
                        format!("Updating '{uri}' on a folder is not supported; only DisplayName can be set."),
                    ));
                    break;
                }
            }
        }
        match failure {
            Some(f) => out.push(f.message()),
            None => out.push(folders_message(cx, &[&node], &id_only())),
        }
        cx.invalidate();
    }
    out
}

/// MoveFolder: moves each folder under the target (an IMAP RENAME).
pub async fn move_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let Some(to_el) = op.m("ToFolderId").and_then(|p| id_elements(Some(p)).into_iter().next()) else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ToFolderId is required.")];
    };
    let target = match cx.resolve_folder(to_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let mut out = Vec::new();
    for el in id_elements(op.m("FolderIds")) {
        let node = match cx.resolve_folder(el).await {
            Ok(n) => n,
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        if node.dav.is_some() || target.dav.is_some() {
            out.push(ResponseMessage::error(
                "ErrorMoveCopyFailed",
                "Calendar, contact and task folders cannot be moved (the DAV server keeps them in one home).",
            ));
            continue;
        }
        let tree = cx.folders_ref().to_vec();
        if target.r == node.r || descendants(&tree, &node.r).iter().any(|d| d.r == target.r) {
            out.push(ResponseMessage::error("ErrorMoveCopyFailed", "A folder cannot be moved into itself."));
            continue;
        }
        let new_name = child_name(cx, &target, &node.display);
        match rename(cx, &node, &new_name).await {
            Ok(n) => out.push(folders_message(cx, &[&n], &id_only())),
            Err(f) => out.push(f.message()),
        }
        cx.invalidate();
    }
    out
}

/// DeleteFolder: HardDelete and SoftDelete delete the mailbox and its subtree; MoveToDeletedItems moves it
/// under the Trash folder. Distinguished folders are refused (ErrorDeleteDistinguishedFolder).
pub async fn delete_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let delete_type = op.attr("DeleteType").unwrap_or("HardDelete").to_string();
    let mut out = Vec::new();
    for el in id_elements(op.m("FolderIds")) {
        let node = match cx.resolve_folder(el).await {
            Ok(n) => n,
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        if node.is_virtual() || node.distinguished.is_some() {
            out.push(ResponseMessage::error(
                "ErrorDeleteDistinguishedFolder",
                "Distinguished folders cannot be deleted.",
            ));
            continue;
        }
        if let (Some(d), Some(g)) = (&node.dav, cx.groupware.clone()) {
            // A collection has no Deleted Items to go to: every delete type removes it (with its objects).
            out.push(match g.delete(&d.href).await {
                Ok(()) => ResponseMessage::ok(String::new()),
                Err(e) => Fail::from_error(&e, "ErrorFolderNotFound").message(),
            });
            cx.invalidate();
            continue;
        }
        let tree = cx.folders_ref().to_vec();
        let trash = tree.iter().find(|n| n.distinguished == Some("deleteditems")).cloned();
        let in_trash = trash.as_ref().is_some_and(|t| descendants(&tree, &t.r).iter().any(|d| d.r == node.r));
        let result = match trash.filter(|_| delete_type == "MoveToDeletedItems" && !in_trash) {
            Some(trash) => {
                let new_name = child_name(cx, &trash, &node.display);
                rename(cx, &node, &new_name).await.map(|_| ())
            }
            None => delete_subtree(cx, &tree, &node).await,
        };
        match result {
            Ok(()) => out.push(ResponseMessage::ok(String::new())),
            Err(f) => out.push(f.message()),
        }
        cx.invalidate();
    }
    out
}

async fn delete_subtree<S: MailStore>(cx: &mut Ctx<S>, tree: &[FolderNode], node: &FolderNode) -> Result<(), Fail> {
    let mut names: Vec<String> = descendants(tree, &node.r).iter().filter_map(|n| n.name.clone()).collect();
    names.reverse(); // children before parents
    names.extend(node.name.clone());
    for n in names {
        cx.store.delete_folder(&n).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
    }
    Ok(())
}

/// EmptyFolder: deletes every message of each folder (or moves them to Deleted Items), and with
/// `DeleteSubFolders="true"` its subfolders.
pub async fn empty_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let delete_type = op.attr("DeleteType").unwrap_or("HardDelete").to_string();
    let sub = op.attr("DeleteSubFolders").and_then(parse_bool).unwrap_or(false);
    let mut out = Vec::new();
    for el in id_elements(op.m("FolderIds")) {
        let node = match cx.resolve_folder(el).await {
            Ok(n) => n,
            Err(f) => {
                out.push(f.message());
                continue;
            }
        };
        if node.is_virtual() && sub {
            // Emptying the top of the store with its subfolders would delete every folder of the mailbox.
            out.push(ResponseMessage::error(
                "ErrorCannotEmptyFolder",
                "The root folders cannot be emptied with their subfolders.",
            ));
            continue;
        }
        if let (Some(d), Some(g)) = (&node.dav, cx.groupware.clone()) {
            out.push(match g.empty(&d.href).await {
                Ok(()) => ResponseMessage::ok(String::new()),
                Err(e) => Fail::from_error(&e, "ErrorFolderNotFound").message(),
            });
            continue;
        }
        let tree = cx.folders_ref().to_vec();
        let trash = tree.iter().find(|n| n.distinguished == Some("deleteditems")).and_then(|n| n.name.clone());
        let r = async {
            if let Some(name) = node.name.as_deref() {
                let uids = cx.store.uids(name).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                if !uids.is_empty() {
                    match (&trash, delete_type.as_str()) {
                        (Some(t), "MoveToDeletedItems") if t != name => {
                            cx.store.move_messages(name, &uids, t).await.map(|_| ())
                        }
                        _ => cx.store.delete_messages(name, &uids).await,
                    }
                    .map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                }
            }
            if sub {
                let children: Vec<FolderNode> = tree
                    .iter()
                    .filter(|n| n.parent.as_ref() == Some(&node.r) && n.distinguished.is_none())
                    .cloned()
                    .collect();
                for c in children {
                    delete_subtree(cx, &tree, &c).await?;
                }
            }
            Ok::<(), Fail>(())
        }
        .await;
        match r {
            Ok(()) => out.push(ResponseMessage::ok(String::new())),
            Err(f) => out.push(f.message()),
        }
        cx.invalidate();
    }
    out
}

/// CopyFolder: copies each folder with its messages and subfolders under the target (IMAP CREATE + UID COPY,
/// recursively). The copy gets a free name (`Name`, `Name (2)`, ...) when the target already has one.
pub async fn copy_folder<S: MailStore>(cx: &mut Ctx<S>, op: &Element) -> Vec<ResponseMessage> {
    let Some(to_el) = op.m("ToFolderId").and_then(|p| id_elements(Some(p)).into_iter().next()) else {
        return vec![ResponseMessage::error("ErrorInvalidRequest", "ToFolderId is required.")];
    };
    let target = match cx.resolve_folder(to_el).await {
        Ok(n) => n,
        Err(f) => return vec![f.message()],
    };
    let mut out = Vec::new();
    for el in id_elements(op.m("FolderIds")) {
        let r = async {
            let node = cx.resolve_folder(el).await?;
            if node.is_virtual() {
                return Err(Fail::new("ErrorInvalidRequest", "This folder cannot be copied."));
            }
            let tree = cx.folders_ref().to_vec();
            if target.r == node.r || descendants(&tree, &node.r).iter().any(|d| d.r == target.r) {
                return Err(Fail::new("ErrorMoveCopyFailed", "A folder cannot be copied into itself."));
            }
            let mut leaf = node.display.clone();
            let mut n = 2;
            while tree.iter().any(|x| x.parent.as_ref() == Some(&target.r) && x.display.eq_ignore_ascii_case(&leaf)) {
                leaf = format!("{} ({n})", node.display);
                n += 1;
            }
            let new_root = child_name(cx, &target, &leaf);
            // Source names and their copies, parents first.
            let mut plan = vec![(node.clone(), new_root.clone())];
            let old_root = node.name.clone().unwrap_or_default();
            for d in descendants(&tree, &node.r) {
                if let Some(dn) = &d.name {
                    plan.push((d.clone(), format!("{new_root}{}", &dn[old_root.len()..])));
                }
            }
            for (src, dst) in &plan {
                cx.store.create_folder(dst).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                let sname = src.name.clone().unwrap_or_default();
                if src.info.as_ref().is_some_and(|i| i.selectable) {
                    let uids = cx.store.uids(&sname).await.map_err(|e| Fail::from_error(&e, "ErrorFolderNotFound"))?;
                    if !uids.is_empty() {
                        cx.store
                            .copy_messages(&sname, &uids, dst)
                            .await
                            .map_err(|e| Fail::from_error(&e, "ErrorMoveCopyFailed"))?;
                    }
                }
            }
            let copy = node_by_name(cx, &new_root)
                .await
                .ok_or_else(|| Fail::new("ErrorFolderNotFound", "The copy cannot be listed."))?;
            Ok(folders_message(cx, &[&copy], &id_only()))
        }
        .await;
        out.push(match r {
            Ok(m) => m,
            Err(f) => f.message(),
        });
        cx.invalidate();
    }
    if out.is_empty() {
        out.push(ResponseMessage::error("ErrorInvalidRequest", "FolderIds is empty."));
    }
    out
}

/// Whether a node is the Inbox or another folder whose moves Viaduc refuses.
pub fn is_root(r: &FolderRef) -> bool {
    matches!(r, FolderRef::Root | FolderRef::MsgFolderRoot)
}
