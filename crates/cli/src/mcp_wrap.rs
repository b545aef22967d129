//! `warden mcp wrap FILE` / `warden mcp unwrap FILE`: put the gateway in
//! front of every stdio MCP server an agent's configuration starts (Claude
//! Code `.mcp.json`/`~/.claude.json`, Cursor and Gemini `mcpServers`, Codex
//! `[mcp_servers.*]`), and take it out again. The server's own command moves
//! behind `warden mcp --name NAME --agent AGENT --`; nothing else changes.
//! Remote (URL) servers are listed: they go through `warden mcp --upstream`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The arguments before the original command, for server `name`.
fn prefix(home: &Path, name: &str, agent: &str, secret: Option<&Path>) -> Vec<String> {
    let mut out: Vec<String> = [
        "--home",
        &home.to_string_lossy(),
        "mcp",
        "--name",
        name,
        "--agent",
        agent,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(f) = secret {
        out.push("--secret-file".into());
        out.push(f.to_string_lossy().into_owned());
    }
    out.push("--".into());
    out
}

/// Whether `args` already run the gateway.
pub(crate) fn wrapped(command: &str, args: &[String]) -> bool {
    command.rsplit('/').next() == Some("warden")
        && args.iter().any(|a| a == "mcp")
        && args.iter().any(|a| a == "--")
}

/// The command the gateway runs, when `command args` run the gateway.
pub(crate) fn inner(command: &str, args: &[String]) -> Option<(String, Vec<String>)> {
    if !wrapped(command, args) {
        return None;
    }
    let at = args.iter().position(|a| a == "--")?;
    let (c, a) = args[at + 1..].split_first()?;
    Some((c.clone(), a.to_vec()))
}

/// (command, args) after wrapping or unwrapping one server; None: unchanged.
fn rewrite(
    wrap: bool,
    warden: &str,
    (home, agent, secret): (&Path, &str, Option<&Path>),
    name: &str,
    command: &str,
    args: &[String],
) -> Option<(String, Vec<String>)> {
    match (wrap, wrapped(command, args)) {
        (true, false) => {
            let mut a = prefix(home, name, agent, secret);
            a.push(command.to_string());
            a.extend(args.iter().cloned());
            Some((warden.to_string(), a))
        }
        (false, true) => inner(command, args),
        _ => None,
    }
}

pub fn run(file: &Path, wrap: bool, agent: &str, home: &Path) -> Result<u8> {
    let Some(ag) = warden_hooks::Agent::from_name(agent) else {
        bail!("--agent {agent:?}: use claude-code, codex, gemini or cursor");
    };
    // The gateway enrolls with the secret `warden init` wrote for the agent.
    let secret = crate::hook_client::secret_file_candidates(ag)
        .into_iter()
        .find(|p| p.exists());
    if wrap && secret.is_none() {
        println!(
            "note: no enrollment secret for {agent} yet (run `warden init {agent}`): until then the gateway decides as an unknown agent, which may only read"
        );
    }
    let warden = std::env::current_exe().context("finding this warden binary")?;
    let warden = warden.to_string_lossy().into_owned();
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut changed = Vec::new();
    let mut remote = Vec::new();
    let toml_file = file.extension().is_some_and(|e| e == "toml");
    let mut v: Value = if toml_file {
        serde_json::to_value(
            text.parse::<toml::Table>()
                .with_context(|| format!("{}: not TOML", file.display()))?,
        )?
    } else {
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?
    };
    let key = if toml_file {
        "mcp_servers"
    } else {
        "mcpServers"
    };
    if let Some(servers) = v.get_mut(key).and_then(Value::as_object_mut) {
        for (name, s) in servers.iter_mut() {
            let Some(command) = s.get("command").and_then(Value::as_str).map(str::to_string) else {
                if s.get("url").or(s.get("httpUrl")).is_some() {
                    remote.push(name.clone());
                }
                continue;
            };
            let args = crate::mcp_scan::strings(s.get("args"));
            if let Some((c, a)) = rewrite(
                wrap,
                &warden,
                (home, agent, secret.as_deref()),
                name,
                &command,
                &args,
            ) {
                s["command"] = Value::String(c);
                s["args"] = Value::Array(a.into_iter().map(Value::String).collect());
                changed.push(name.clone());
            }
        }
    }
    if changed.is_empty() {
        println!(
            "{}: no stdio MCP server to {}",
            file.display(),
            if wrap {
                "wrap (all are wrapped already)"
            } else {
                "unwrap"
            }
        );
    } else {
        let backup = file.with_file_name(format!(
            "{}.warden-backup",
            file.file_name().unwrap_or_default().to_string_lossy()
        ));
        if wrap && !backup.exists() {
            std::fs::copy(file, &backup)
                .with_context(|| format!("backing up to {}", backup.display()))?;
        }
        let out = if toml_file {
            let t: toml::Table = serde_json::from_value(v)?;
            toml::to_string(&t)?
        } else {
            serde_json::to_string_pretty(&v)? + "\n"
        };
        let tmp = file.with_extension("warden-tmp");
        std::fs::write(&tmp, out)?;
        std::fs::rename(&tmp, file)?;
        println!(
            "{}: {} {}{}",
            file.display(),
            if wrap { "wrapped" } else { "unwrapped" },
            changed.join(", "),
            if wrap {
                format!(" (backup {})", backup.display())
            } else {
                String::new()
            }
        );
    }
    for r in remote {
        println!(
            "  {r} is a remote server: run `warden mcp --upstream URL` and point the agent at it"
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wrap_then_unwrap_gives_back_the_command() {
        let home = Path::new("/s");
        let args = vec!["-y".to_string(), "pkg@1".to_string()];
        let who = (home, "claude-code", Some(Path::new("/k")));
        let (c, a) = rewrite(true, "/bin/warden", who, "gh", "npx", &args).unwrap();
        assert_eq!(c, "/bin/warden");
        assert_eq!(
            a[..10].join(" "),
            "--home /s mcp --name gh --agent claude-code --secret-file /k --"
        );
        assert!(
            rewrite(true, "/bin/warden", who, "gh", &c, &a).is_none(),
            "idempotent"
        );
        assert_eq!(
            rewrite(false, "/bin/warden", who, "gh", &c, &a),
            Some(("npx".into(), args))
        );
    }
}
