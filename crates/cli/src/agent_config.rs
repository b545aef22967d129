//! The hook configuration each agent reads, and how warden's hooks are added
//! to it and taken out again. Entries are warden's when their command runs
//! `warden … hook AGENT --secret-file …`; everything else in the file is the
//! user's and is kept.

use serde_json::{Value, json};
use warden_hooks::Agent;

/// The events warden hooks, per agent: (event, gates an action).
pub fn events(agent: Agent) -> &'static [(&'static str, bool)] {
    match agent {
        Agent::ClaudeCode => &[
            ("PreToolUse", true),
            ("PermissionRequest", true),
            ("UserPromptSubmit", true),
            ("PostToolUse", false),
            ("PostToolUseFailure", false),
            ("SessionStart", false),
            ("SessionEnd", false),
            ("Stop", false),
        ],
        Agent::Codex => &[
            ("PreToolUse", true),
            ("PermissionRequest", true),
            ("UserPromptSubmit", true),
            ("PostToolUse", false),
            ("SessionStart", false),
            ("SessionEnd", false),
            ("Stop", false),
        ],
        Agent::Gemini => &[
            ("BeforeTool", true),
            ("AfterTool", false),
            ("BeforeAgent", false),
            ("SessionStart", false),
            ("SessionEnd", false),
        ],
        Agent::Cursor => &[
            ("beforeShellExecution", true),
            ("beforeMCPExecution", true),
            ("beforeReadFile", true),
            ("beforeSubmitPrompt", false),
            ("afterFileEdit", false),
            ("stop", false),
        ],
    }
}

/// Seconds an agent waits for a gating hook: longer than warden's ask
/// timeout, so a person has the time warden gives them.
pub const GATE_TIMEOUT_SECS: u64 = 135;
pub(crate) const RECORD_TIMEOUT_SECS: u64 = 10;

/// Whether a hook command is one of warden's for `agent` (`warden-hook …
/// AGENT --secret-file …` or `warden … hook AGENT --secret-file …`).
pub fn is_ours(command: &str, agent: Agent) -> bool {
    (command.contains("warden-hook") || command.contains(" hook "))
        && command.contains(&format!(" {} --secret-file ", agent.name()))
}

/// The file's text with warden's hooks (replacing any earlier ones).
pub fn install(agent: Agent, text: &str, command: &str, managed: bool) -> Result<String, String> {
    match agent {
        Agent::Codex => crate::codex_config::install(text, command, managed),
        _ => {
            let mut v = parse_json(text)?;
            remove_json(agent, &mut v);
            add_json(agent, &mut v, command, managed);
            serde_json::to_string_pretty(&v)
                .map(|t| t + "\n")
                .map_err(|e| e.to_string())
        }
    }
}

/// The file's text without warden's hooks, and without the key that locks
/// hooks down unless `keep_lock` (the file had it before warden's install:
/// an administrator's setting is not warden's to remove).
pub fn uninstall(agent: Agent, text: &str, keep_lock: bool) -> Result<String, String> {
    match agent {
        Agent::Codex => crate::codex_config::uninstall(text, keep_lock),
        _ => {
            let mut v = parse_json(text)?;
            remove_json(agent, &mut v);
            if agent == Agent::ClaudeCode
                && !keep_lock
                && let Some(o) = v.as_object_mut()
            {
                o.remove("allowManagedHooksOnly");
            }
            serde_json::to_string_pretty(&v)
                .map(|t| t + "\n")
                .map_err(|e| e.to_string())
        }
    }
}

/// warden's hook commands in the file.
pub fn our_commands(agent: Agent, text: &str) -> Vec<String> {
    let all = match agent {
        Agent::Codex => crate::codex_config::commands(text),
        _ => parse_json(text)
            .map(|v| commands_json(&v))
            .unwrap_or_default(),
    };
    all.into_iter().filter(|c| is_ours(c, agent)).collect()
}

/// The state directory a hook command names with `--home '…'` (as `warden
/// init` quotes it), i.e. the daemon it talks to.
pub fn command_home(command: &str) -> Option<std::path::PathBuf> {
    let rest = command.split_once(" --home '")?.1;
    let mut home = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            // `'\''` closes the quote, adds a quote, opens it again.
            '\'' if chars.as_str().starts_with("\\''") => {
                home.push('\'');
                chars.nth(2);
            }
            '\'' => return Some(home.into()),
            c => home.push(c),
        }
    }
}

/// Whether the file locks hooks to the managed ones (where the agent has
/// such a key).
pub fn locked(agent: Agent, text: &str) -> bool {
    match agent {
        Agent::ClaudeCode => parse_json(text)
            .ok()
            .and_then(|v| v.get("allowManagedHooksOnly").and_then(Value::as_bool))
            .unwrap_or(false),
        Agent::Codex => crate::codex_config::locked(text),
        _ => false,
    }
}

fn parse_json(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("not a JSON object".into())
    }
}

fn commands_json(v: &Value) -> Vec<String> {
    let Some(hooks) = v.get("hooks").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for groups in hooks.values().filter_map(Value::as_array) {
        for g in groups {
            if let Some(c) = g.get("command").and_then(Value::as_str) {
                out.push(c.to_string());
            }
            for h in g
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(c) = h.get("command").and_then(Value::as_str) {
                    out.push(c.to_string());
                }
            }
        }
    }
    out
}

fn remove_json(agent: Agent, v: &mut Value) {
    let Some(hooks) = v.get_mut("hooks").and_then(Value::as_object_mut) else {
        return;
    };
    let ours = |x: &Value| {
        x.get("command")
            .and_then(Value::as_str)
            .is_some_and(|c| is_ours(c, agent))
    };
    for groups in hooks.values_mut().filter_map(Value::as_array_mut) {
        groups.retain(|g| !ours(g));
        for g in groups.iter_mut() {
            if let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) {
                hs.retain(|h| !ours(h));
            }
        }
        groups.retain(|g| {
            g.get("hooks")
                .and_then(Value::as_array)
                .is_none_or(|h| !h.is_empty())
        });
    }
    hooks.retain(|_, groups| groups.as_array().is_none_or(|g| !g.is_empty()));
    if hooks.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.remove("hooks");
    }
}

fn add_json(agent: Agent, v: &mut Value, command: &str, managed: bool) {
    let Some(root) = v.as_object_mut() else {
        return;
    };
    if agent == Agent::ClaudeCode && managed {
        root.insert("allowManagedHooksOnly".into(), json!(true));
    }
    if agent == Agent::Cursor {
        root.entry("version").or_insert(json!(1));
    }
    if agent == Agent::Gemini {
        let cfg = root.entry("hooksConfig").or_insert(json!({}));
        if let Some(c) = cfg.as_object_mut() {
            c.insert("enabled".into(), json!(true));
        }
    }
    let hooks = root.entry("hooks").or_insert(json!({}));
    let Some(hooks) = hooks.as_object_mut() else {
        return;
    };
    for (event, gates) in events(agent) {
        let secs = if *gates {
            GATE_TIMEOUT_SECS
        } else {
            RECORD_TIMEOUT_SECS
        };
        let entry = match agent {
            Agent::ClaudeCode => {
                let mut h = json!({"type": "command", "command": command, "timeout": secs});
                if *gates {
                    // A hook that crashes or times out blocks instead of allowing.
                    h["onFailure"] = json!("block");
                }
                json!({"matcher": "*", "hooks": [h]})
            }
            Agent::Gemini => json!({"matcher": ".*", "hooks": [
                {"name": "warden", "type": "command", "command": command, "timeout": secs * 1000}
            ]}),
            Agent::Cursor => json!({"command": command, "timeout": secs, "failClosed": *gates}),
            Agent::Codex => continue,
        };
        let list = hooks.entry(event.to_string()).or_insert(json!([]));
        if let Some(l) = list.as_array_mut() {
            l.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CMD: &str = "'/usr/bin/warden' --home '/var/lib/warden' hook AGENT --secret-file '/etc/warden/hooks/AGENT.secret'";

    fn cmd(agent: Agent) -> String {
        CMD.replace("AGENT", agent.name())
    }

    #[test]
    fn install_is_idempotent_keeps_the_users_hooks_and_uninstall_removes_only_ours() {
        let users = [
            (
                Agent::ClaudeCode,
                r#"{"model":"x","hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"mine"}]}]}}"#,
            ),
            (
                Agent::Gemini,
                r#"{"hooks":{"BeforeTool":[{"matcher":"x","hooks":[{"type":"command","command":"mine"}]}]}}"#,
            ),
            (
                Agent::Cursor,
                r#"{"version":1,"hooks":{"stop":[{"command":"mine"}]}}"#,
            ),
            (
                Agent::Codex,
                "model = \"gpt\"\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"mine\"\n",
            ),
        ];
        for (agent, text) in users {
            let once = install(agent, text, &cmd(agent), true).unwrap();
            let twice = install(agent, &once, &cmd(agent), true).unwrap();
            assert_eq!(once, twice, "{agent:?}");
            assert_eq!(
                our_commands(agent, &once).len(),
                events(agent).len(),
                "{agent:?}"
            );
            assert!(once.contains("mine"), "{agent:?}");
            let back = uninstall(agent, &once, false).unwrap();
            assert_eq!(our_commands(agent, &back).len(), 0, "{agent:?}");
            assert!(back.contains("mine"), "{agent:?}: {back}");
            assert!(!locked(agent, &back));
        }
    }

    #[test]
    fn managed_claude_code_locks_hooks_and_gates_fail_closed() {
        let t = install(Agent::ClaudeCode, "", &cmd(Agent::ClaudeCode), true).unwrap();
        assert!(locked(Agent::ClaudeCode, &t));
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            v["hooks"]["PreToolUse"][0]["hooks"][0]["onFailure"],
            "block"
        );
        assert!(
            v["hooks"]["PostToolUse"][0]["hooks"][0]
                .get("onFailure")
                .is_none()
        );
        let user = install(Agent::ClaudeCode, "", &cmd(Agent::ClaudeCode), false).unwrap();
        assert!(!locked(Agent::ClaudeCode, &user));
        let codex = install(Agent::Codex, "", &cmd(Agent::Codex), true).unwrap();
        assert!(locked(Agent::Codex, &codex));
    }

    #[test]
    fn an_admins_lock_survives_uninstall_when_it_was_there_before() {
        let admin = r#"{"allowManagedHooksOnly":true}"#;
        let once = install(Agent::ClaudeCode, admin, &cmd(Agent::ClaudeCode), true).unwrap();
        assert!(locked(
            Agent::ClaudeCode,
            &uninstall(Agent::ClaudeCode, &once, true).unwrap()
        ));
        assert!(!locked(
            Agent::ClaudeCode,
            &uninstall(Agent::ClaudeCode, &once, false).unwrap()
        ));
    }

    #[test]
    fn the_daemon_a_hook_talks_to_is_read_back_from_its_command() {
        assert_eq!(
            command_home(&cmd(Agent::Codex)),
            Some("/var/lib/warden".into())
        );
        let odd = "'/bin/warden-hook' --home '/home/o'\\''brien/s t' codex --secret-file '/x'";
        assert_eq!(command_home(odd), Some("/home/o'brien/s t".into()));
        assert_eq!(command_home("'/bin/warden-hook' codex"), None);
        assert_eq!(command_home("x --home '/unterminated"), None);
    }

    #[test]
    fn a_file_that_is_not_config_is_an_error_not_overwritten() {
        assert!(install(Agent::ClaudeCode, "[1,2]", "x", true).is_err());
        assert!(install(Agent::Codex, "= nope", "x", true).is_err());
    }
}
