//! HTML building: escaping and the page layout. Everything the agent can
//! influence (commands, paths, reasons, names) is escaped; the page carries no
//! inline script or style (the CSP forbids them).

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The navigation, in order.
const NAV: &[(&str, &str)] = &[
    ("/", "Live"),
    ("/asks", "Asks"),
    ("/agents", "Agents"),
    ("/audit", "Audit"),
    ("/rules", "Rules"),
    ("/insights", "Insights"),
];

/// A whole page: head, navigation, alerts banner, `body`.
pub fn page(title: &str, path: &str, csrf: &str, alerts: &[String], body: &str) -> String {
    let nav: String = NAV
        .iter()
        .map(|(href, label)| {
            let current = if *href == path {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<a href=\"{href}\"{current}>{label}</a>")
        })
        .collect();
    let banner = if alerts.is_empty() {
        String::new()
    } else {
        let items: String = alerts
            .iter()
            .rev()
            .take(3)
            .map(|a| format!("<li>{}</li>", esc(a)))
            .collect();
        format!(
            "<section class=\"alerts\" role=\"alert\"><strong>Alerts</strong><ul>{items}</ul></section>"
        )
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf\" content=\"{csrf}\"><title>{title} · warden</title>\
<link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script></head>\
<body data-page=\"{page}\"><header><span class=\"brand\">warden</span><nav>{nav}</nav>\
<form method=\"post\" action=\"/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">Log out</button></form></header>\
{banner}<main><h1>{title}</h1>{body}</main></body></html>",
        csrf = esc(csrf),
        title = esc(title),
        page = esc(path.trim_start_matches('/')),
    )
}

/// A decision as a coloured badge.
pub fn badge(decision: &str) -> String {
    let d = match decision {
        "allow" | "deny" | "ask" => decision,
        _ => "unknown",
    };
    format!("<span class=\"badge {d}\">{d}</span>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_inert() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        let p = page("t<", "/", "c\"sr", &["<b>".into()], "");
        assert!(!p.contains("<b>") && p.contains("&lt;b&gt;"));
        assert!(p.contains("content=\"c&quot;sr\""));
        assert_eq!(badge("<x>"), "<span class=\"badge unknown\">unknown</span>");
    }
}
