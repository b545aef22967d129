//! Actions from inline rule examples and network subjects from `net` actions.

use warden_types::{Action, ActionKind};

use super::Subject;
use crate::net::{self, Host};

pub(super) fn net_subject(req: &warden_types::NetRequest) -> Result<Subject, String> {
    let method = req.method.as_deref().map(str::to_ascii_uppercase);
    let safe_method = matches!(method.as_deref(), None | Some("GET" | "HEAD" | "OPTIONS"));
    let (scheme, host, port) = if let Some(url) = &req.url {
        let t = net::parse_url(url).map_err(|e| format!("cannot parse the URL: {e}"))?;
        if !matches!(t.scheme.as_str(), "http" | "https" | "ws" | "wss") {
            return Err(format!(
                "the {}: scheme is not allowed for network requests",
                t.scheme
            ));
        }
        (t.scheme, t.host, t.port)
    } else {
        let raw = req
            .host
            .as_deref()
            .ok_or("a net action needs a url or a host")?;
        let host = net::parse_host(raw).map_err(|e| format!("cannot parse the host: {e}"))?;
        let scheme = req
            .scheme
            .clone()
            .unwrap_or_else(|| "tcp".into())
            .to_ascii_lowercase();
        let port = req
            .port
            .or_else(|| net::default_port(&scheme))
            .ok_or("a net action with a host needs a port")?;
        (scheme, host, port)
    };
    let mut non_public = net::classify_host(&host).filter(|c| !c.is_public());
    // What the proxy will really connect to: a public name that resolves to a
    // loopback or metadata address is that address (DNS rebinding, wildcard DNS).
    if let Some(addrs) = &req.resolved {
        if addrs.is_empty() {
            return Err("the host resolved to no address".into());
        }
        for a in addrs {
            let ip: std::net::IpAddr = a
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("resolved address {a:?} is not an IP address"))?;
            let class = net::classify_ip(ip);
            if !class.is_public() {
                non_public = Some(non_public.map_or(class, |c| c.least_public(class)));
            }
        }
    }
    let host = match &host {
        Host::Name(n) => n.clone(),
        Host::Ip(ip) => ip.to_string(),
    };
    Ok(Subject::Net {
        host,
        port,
        scheme,
        safe_method,
        non_public,
    })
}

/// The action an inline example (`Bash(git push)`, `Read(~/.ssh/id_rsa)`,
/// `mcp__gh__create_issue`) stands for. Examples run with cwd `/workspace`.
pub(crate) fn example_action(example: &str) -> Option<Action> {
    let e = example.trim();
    let cwd = "/workspace";
    if let Some(rest) = e.strip_prefix("mcp__") {
        let (server, tool) = rest.split_once("__")?;
        return Some(Action::new(
            cwd,
            ActionKind::ToolCall {
                server: server.into(),
                tool: tool.into(),
                arguments: serde_json::Value::Null,
            },
        ));
    }
    let (tool, value) = e.split_once('(')?;
    let value = value.strip_suffix(')')?.to_string();
    let kind = match tool {
        "Bash" => ActionKind::Shell { command: value },
        "Exec" => ActionKind::Exec {
            argv: value.split_whitespace().map(str::to_string).collect(),
            env_keys: None,
        },
        "Read" => ActionKind::FileRead { path: value },
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => ActionKind::FileWrite { path: value },
        "Delete" => ActionKind::FileDelete { path: value },
        "WebFetch" => {
            let v = value.strip_prefix("domain:").unwrap_or(&value);
            let url = if v.contains("://") {
                v.to_string()
            } else {
                format!("https://{v}/")
            };
            ActionKind::Net(warden_types::NetRequest {
                url: Some(url),
                ..Default::default()
            })
        }
        "Net" => {
            let (h, p) = value.rsplit_once(':')?;
            ActionKind::Net(warden_types::NetRequest {
                host: Some(h.into()),
                port: p.parse().ok(),
                ..Default::default()
            })
        }
        "Llm" => {
            let (provider, model) = value.split_once(':')?;
            ActionKind::LlmRequest {
                provider: provider.into(),
                model: model.into(),
                tools_offered: None,
            }
        }
        _ => return None,
    };
    Some(Action::new(cwd, kind))
}
