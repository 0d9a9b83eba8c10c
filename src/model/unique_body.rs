//! The unique part of a message body: what the sender wrote, without the text quoted from earlier messages of
//! the thread (EWS `UniqueBody`, MS-OXWSCORE 2.2.4.24 ItemType / 3.1.4.4; Exchange computes it heuristically
//! and so does Viaduc).
//!
//! The heuristic, for plain text ([`unique_text`]): the body is cut before the first line that starts quoted
//! material, which is
//! - an attribution line: `On <date>, <name> wrote:` (also when a client wrapped it over two lines, and the
//!   German `schrieb:` / French `a écrit :` forms),
//! - an Outlook separator: `-----Original Message-----` (any number of dashes, any case), or a line of ten or
//!   more underscores,
//! - an Outlook header block: a `From:` line followed within four lines by a `Sent:` or `Date:` line,
//! - the first `>`-quoted line (the start of the first run of quoted lines).
//!
//! For HTML ([`unique_html`]) the body is cut before the earliest of `<blockquote`, Outlook's `divRplyFwdMsg`
//! block, Gmail's `gmail_quote`, Thunderbird's `moz-cite-prefix`, Apple Mail's `AppleOriginalContents`, a
//! `-----Original Message-----` line, or an `<hr>` followed by a `From:` header block (Outlook's and Viaduc's
//! own reply layout); markers inside a tag cut at the start of that tag, a `<hr>` just before the cut goes too,
//! and an open `<body>`/`<html>` is closed again.
//!
//! Trailing blank lines are removed. A body without any quote is returned whole.

/// The unique part of a plain-text body.
pub fn unique_text(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut cut = text.len();
    let mut offset = 0;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if starts_quote(t, next, &lines[i + 1..]) {
            cut = offset;
            break;
        }
        offset += line.len();
    }
    text[..cut].trim_end().to_string()
}

/// `... wrote:`, and the German and French forms (`Am ... schrieb Bob <b@x>:`, `Le ... a écrit :`).
fn is_attribution(t: &str) -> bool {
    let lower = t.to_lowercase();
    lower.ends_with("wrote:") || (lower.ends_with(':') && (lower.contains("schrieb") || lower.contains("a écrit")))
}

fn starts_quote(t: &str, next: &str, rest: &[&str]) -> bool {
    if t.starts_with('>') {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("on ") || lower.starts_with("am ") || lower.starts_with("le ") {
        if is_attribution(t) {
            return true;
        }
        // A wrapped attribution: "On Mon, 1 Jan 2024 at 10:00, Bob <bob@x>" / "wrote:".
        if !next.is_empty() && next.len() < 80 && is_attribution(next) {
            return true;
        }
    }
    let bare = lower.trim_matches('-').trim();
    if lower.starts_with("-----") && bare == "original message" {
        return true;
    }
    if t.len() >= 10 && t.chars().all(|c| c == '_') {
        return true;
    }
    if lower.starts_with("from:") {
        return rest.iter().take(4).any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            l.starts_with("sent:") || l.starts_with("date:")
        });
    }
    false
}

/// Finds `needle` in `hay` ignoring ASCII case; the byte offset of the first match.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The start of the tag that contains byte `at`, when `at` is inside a tag; else `at`.
fn tag_start(html: &str, at: usize) -> usize {
    let before = &html[..at];
    match (before.rfind('<'), before.rfind('>')) {
        (Some(lt), Some(gt)) if lt > gt => lt,
        (Some(lt), None) => lt,
        _ => at,
    }
}

/// The unique part of an HTML body (see the module documentation for the markers).
pub fn unique_html(html: &str) -> String {
    let mut cut = html.len();
    for marker in ["<blockquote", "divRplyFwdMsg", "gmail_quote", "moz-cite-prefix", "AppleOriginalContents"] {
        if let Some(p) = find_ci(html, marker) {
            cut = cut.min(tag_start(html, p));
        }
    }
    if let Some(p) = find_ci(html, "-----Original Message-----") {
        cut = cut.min(p);
    }
    // An <hr> followed by a header block ("From: ..." as the next visible text).
    let mut from = 0;
    while let Some(p) = find_ci(&html[from..], "<hr").map(|p| p + from) {
        if p >= cut {
            break;
        }
        let mut end = html.len().min(p + 400);
        while !html.is_char_boundary(end) {
            end -= 1;
        }
        let after = &html[p..end];
        if visible_text(after).trim_start().to_ascii_lowercase().starts_with("from:") {
            cut = p;
            break;
        }
        from = p + 3;
    }
    if cut == html.len() {
        return html.to_string();
    }
    let mut out = html[..cut].trim_end().to_string();
    // A separator rule left just before the cut belongs to the quote.
    if let Some(hr) = find_last_ci(&out, "<hr")
        && out[hr..].find('>').is_some_and(|gt| out[hr + gt + 1..].trim().is_empty())
    {
        out.truncate(hr);
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
    }
    if find_ci(&out, "<body").is_some() && find_ci(&out, "</body").is_none() {
        out.push_str("</body>");
    }
    if find_ci(&out, "<html").is_some() && find_ci(&out, "</html").is_none() {
        out.push_str("</html>");
    }
    out
}

fn find_last_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).rev().find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The text of an HTML fragment with its tags removed (entities kept).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cuts_at_quote_headers_and_quoted_lines() {
        let gmail = "Sounds good.\r\n\r\nOn Mon, 13 Nov 2023 at 10:00, Bob <bob@x> wrote:\r\n> Lunch?\r\n";
        assert_eq!(unique_text(gmail), "Sounds good.");
        let wrapped = "Yes.\n\nOn Mon, 13 Nov 2023 at 10:00, Bob Brown\n<bob@example.test> wrote:\n> Lunch?\n";
        assert_eq!(unique_text(wrapped), "Yes.");
        let outlook = "Tuesday is fine.\r\n\r\n-----Original Message-----\r\nFrom: Bob\r\nSent: x\r\n\r\nOld";
        assert_eq!(unique_text(outlook), "Tuesday is fine.");
        let block = "Thanks\n\nFrom: Bob <bob@x>\nSent: Monday\nTo: me\nSubject: s\n\nold text";
        assert_eq!(unique_text(block), "Thanks");
        let quoted = "Answer\n> question\n> more\n";
        assert_eq!(unique_text(quoted), "Answer");
        let underscores = "Fine\n________________________________\nFrom: x\n";
        assert_eq!(unique_text(underscores), "Fine");
        let german = "Ja.\nAm 13.11.2023 um 10:00 schrieb Bob:\n> Mittag?";
        assert_eq!(unique_text(german), "Ja.");
    }

    #[test]
    fn text_without_quotes_is_whole() {
        let body = "From: the team, with love\nNo date line follows.\nOn balance, fine.";
        assert_eq!(unique_text(body), body);
        assert_eq!(unique_text(""), "");
        assert_eq!(unique_text("> all quoted"), "");
    }

    #[test]
    fn html_cuts_at_markers() {
        let gm = r#"<div dir="ltr">New</div><br><div class="gmail_quote"><div>On x wrote:</div><blockquote>old</blockquote></div>"#;
        assert_eq!(unique_html(gm), r#"<div dir="ltr">New</div><br>"#);
        let ol = r#"<html><body><div>Reply</div><hr style="display:inline-block"><div id="divRplyFwdMsg">From: Bob</div><div>old</div></body></html>"#;
        assert_eq!(unique_html(ol), "<html><body><div>Reply</div></body></html>");
        let viaduc = "<div><p>Tuesday</p></div><hr><div>From: Bob &lt;bob@x&gt;<br>Sent: 2024</div><br><p>old</p>";
        assert_eq!(unique_html(viaduc), "<div><p>Tuesday</p></div>");
        let plain = "<p>No quote <b>here</b></p><hr><p>signature</p>";
        assert_eq!(unique_html(plain), plain);
        assert_eq!(unique_html("<BLOCKQUOTE>x</BLOCKQUOTE>"), "");
    }
}
