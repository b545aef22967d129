//! Codex's hook configuration (`requirements.toml` machine-wide,
//! `config.toml` for a user): warden's hooks added and taken out with
//! `toml_edit`, so the user's comments, key order and layout stay as they
//! wrote them. Tables of arrays (`[[hooks.PreToolUse]]`) and inline arrays
//! are both read; new entries take the shape the file already uses.

use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value, value};
use warden_hooks::Agent;

use crate::agent_config::{GATE_TIMEOUT_SECS, RECORD_TIMEOUT_SECS, events, is_ours};

/// The key that makes Codex run only the hooks of its managed requirements.
const LOCK: &str = "allow_managed_hooks_only";

fn parse(text: &str) -> Result<DocumentMut, String> {
    text.parse::<DocumentMut>()
        .map_err(|e| format!("not TOML: {e}"))
}

fn ours(command: Option<&str>) -> bool {
    command.is_some_and(|c| is_ours(c, Agent::Codex))
}

fn is_empty_list(item: &Item) -> bool {
    match item {
        Item::ArrayOfTables(a) => a.is_empty(),
        Item::Value(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// The command of an inline handler (`{ type = "command", command = … }`).
fn inline_command(v: &Value) -> Option<&str> {
    v.as_inline_table()?.get("command")?.as_str()
}

/// Drops warden's handlers from an inline `hooks` list.
fn strip_inline(handlers: &mut toml_edit::Array) {
    handlers.retain(|v| !ours(inline_command(v)));
}

/// Drops warden's handlers from one group's `hooks` list.
fn strip_handlers(item: &mut Item) {
    match item {
        Item::ArrayOfTables(a) => a.retain(|t| !ours(t.get("command").and_then(Item::as_str))),
        Item::Value(Value::Array(a)) => strip_inline(a),
        _ => {}
    }
}

/// Drops warden's handlers from one event's groups, and groups left empty.
fn strip_groups(item: &mut Item) {
    match item {
        Item::ArrayOfTables(groups) => {
            for g in groups.iter_mut() {
                if let Some(h) = g.get_mut("hooks") {
                    strip_handlers(h);
                }
            }
            groups.retain(|g| g.get("hooks").is_none_or(|h| !is_empty_list(h)));
        }
        Item::Value(Value::Array(groups)) => {
            for g in groups.iter_mut() {
                if let Some(Value::Array(hs)) =
                    g.as_inline_table_mut().and_then(|t| t.get_mut("hooks"))
                {
                    strip_inline(hs);
                }
            }
            groups.retain(|g| {
                g.as_inline_table()
                    .and_then(|t| t.get("hooks"))
                    .is_none_or(|h| h.as_array().is_none_or(|a| !a.is_empty()))
            });
        }
        _ => {}
    }
}

/// Removes warden's hook entries (and events and `[hooks]` left empty).
fn remove_ours(doc: &mut DocumentMut) {
    let Some(hooks) = doc.get_mut("hooks").and_then(Item::as_table_like_mut) else {
        return;
    };
    let mut emptied = Vec::new();
    for (event, item) in hooks.iter_mut() {
        strip_groups(item);
        if is_empty_list(item) {
            emptied.push(event.get().to_string());
        }
    }
    for event in emptied {
        hooks.remove(&event);
    }
    if hooks.is_empty() {
        doc.remove("hooks");
    }
}

/// The file's text with warden's hooks (replacing any earlier ones).
pub fn install(text: &str, command: &str, managed: bool) -> Result<String, String> {
    let mut doc = parse(text)?;
    remove_ours(&mut doc);
    // Set only when not already true: replacing the key would drop the
    // comments written above it.
    if managed && doc.get(LOCK).and_then(Item::as_bool) != Some(true) {
        doc.insert(LOCK, value(true));
    }
    let hooks = doc.entry("hooks").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(hooks) = hooks.as_table_like_mut() else {
        return Err("`hooks` is not a table".into());
    };
    for (event, gates) in events(Agent::Codex) {
        let secs = if *gates {
            GATE_TIMEOUT_SECS
        } else {
            RECORD_TIMEOUT_SECS
        };
        let mut handler = InlineTable::new();
        handler.insert("type", "command".into());
        handler.insert("command", command.into());
        handler.insert("timeout", (secs as i64).into());
        let list = hooks
            .entry(event)
            .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
        match list {
            Item::ArrayOfTables(groups) => {
                let mut handlers = ArrayOfTables::new();
                handlers.push(handler.into_table());
                let mut group = Table::new();
                group.insert("matcher", value(".*"));
                group.insert("hooks", Item::ArrayOfTables(handlers));
                groups.push(group);
            }
            Item::Value(Value::Array(groups)) => {
                let mut handlers = toml_edit::Array::new();
                handlers.push(handler);
                let mut group = InlineTable::new();
                group.insert("matcher", ".*".into());
                group.insert("hooks", Value::Array(handlers));
                groups.push(group);
            }
            _ => return Err(format!("`hooks.{event}` is not a list of hook groups")),
        }
    }
    Ok(doc.to_string())
}

/// The file's text without warden's hooks; the lock key is removed too
/// unless `keep_lock` (it was there before warden's install).
pub fn uninstall(text: &str, keep_lock: bool) -> Result<String, String> {
    let mut doc = parse(text)?;
    remove_ours(&mut doc);
    if !keep_lock {
        doc.remove(LOCK);
    }
    Ok(doc.to_string())
}

/// Every hook handler's command in the file.
pub fn commands(text: &str) -> Vec<String> {
    let Ok(doc) = parse(text) else {
        return Vec::new();
    };
    let Some(hooks) = doc.get("hooks").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    let inline = |hs: &toml_edit::Array| -> Vec<String> {
        hs.iter()
            .filter_map(inline_command)
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for (_, item) in hooks.iter() {
        match item {
            Item::ArrayOfTables(groups) => {
                for g in groups.iter() {
                    match g.get("hooks") {
                        Some(Item::ArrayOfTables(hs)) => out.extend(
                            hs.iter()
                                .filter_map(|h| h.get("command").and_then(Item::as_str))
                                .map(str::to_string),
                        ),
                        Some(Item::Value(Value::Array(hs))) => out.extend(inline(hs)),
                        _ => {}
                    }
                }
            }
            Item::Value(Value::Array(groups)) => {
                for g in groups.iter().filter_map(Value::as_inline_table) {
                    if let Some(Value::Array(hs)) = g.get("hooks") {
                        out.extend(inline(hs));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether the file restricts Codex to managed hooks.
pub fn locked(text: &str) -> bool {
    parse(text)
        .ok()
        .and_then(|d| d.get(LOCK).and_then(Item::as_bool))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CMD: &str = "'/usr/bin/warden-hook' codex --secret-file '/etc/warden/hooks/codex.secret'";

    fn count_ours(text: &str) -> usize {
        commands(text)
            .iter()
            .filter(|c| is_ours(c, Agent::Codex))
            .count()
    }

    #[test]
    fn comments_and_the_users_own_hooks_survive_install_and_uninstall() {
        let text = "# Managed by IT: do not edit by hand.\nmodel = \"gpt\" # pinned\n\n# our audit hook\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = \"command\"\ncommand = \"mine\"\n";
        let once = install(text, CMD, true).unwrap();
        assert!(
            once.contains("# Managed by IT: do not edit by hand."),
            "{once}"
        );
        assert!(once.contains("# pinned") && once.contains("# our audit hook"));
        assert_eq!(count_ours(&once), events(Agent::Codex).len());
        assert!(locked(&once));
        assert_eq!(install(&once, CMD, true).unwrap(), once, "idempotent");
        let back = uninstall(&once, false).unwrap();
        assert_eq!(back, text, "uninstall gives back the file as it was");
    }

    #[test]
    fn inline_arrays_get_inline_entries() {
        let text = "hooks.Stop = [{ matcher = \"x\", hooks = [{ type = \"command\", command = \"mine\" }] }]\n";
        let once = install(text, CMD, false).unwrap();
        assert_eq!(count_ours(&once), events(Agent::Codex).len(), "{once}");
        let back = uninstall(&once, false).unwrap();
        assert_eq!(count_ours(&back), 0);
        assert!(back.contains("mine"));
    }

    #[test]
    fn an_admins_lock_is_kept_when_asked() {
        let text = "# set by IT\nallow_managed_hooks_only = true\n";
        let once = install(text, CMD, true).unwrap();
        assert_eq!(uninstall(&once, true).unwrap(), text);
        assert!(!locked(&uninstall(&once, false).unwrap()));
    }

    #[test]
    fn a_hooks_key_of_the_wrong_shape_is_an_error() {
        assert!(install("hooks = 3\n", CMD, true).is_err());
        assert!(install("[hooks]\nStop = \"x\"\n", CMD, true).is_err());
        assert!(install("= nope", CMD, true).is_err());
    }
}
