//! Hook payloads come from the agent: any bytes parse or fail with an error,
//! and every error has a native refusal that blocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use warden_hooks::{Agent, event_name, parse, patch, refusal};

fn payload() -> impl Strategy<Value = String> {
    let events = prop::sample::select(vec![
        "PreToolUse",
        "PermissionRequest",
        "PostToolUse",
        "BeforeTool",
        "beforeShellExecution",
        "beforeMCPExecution",
        "beforeReadFile",
        "SessionStart",
        "Nope",
    ]);
    let tools = prop::sample::select(vec![
        "Bash",
        "Read",
        "Write",
        "apply_patch",
        "mcp__a__b",
        "mcp__",
        "run_shell_command",
        "web_fetch",
        "x",
    ]);
    (events, tools, "\\PC{0,40}").prop_map(|(e, t, s)| {
        serde_json::json!({
            "hook_event_name": e, "tool_name": t, "session_id": s, "cwd": s,
            "tool_input": {"command": s, "file_path": s, "prompt": s, "url": s},
            "command": s, "file_path": s, "tool_input_str": s,
        })
        .to_string()
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for agent in Agent::ALL {
            if parse(agent, &bytes).is_err() {
                let r = refusal(agent, event_name(&bytes).as_deref(), "x");
                prop_assert!(r.exit_code == 2 || r.body.contains("deny"));
            }
        }
    }

    #[test]
    fn plausible_payloads_parse_or_refuse(p in payload(), cut in 0usize..400) {
        let cut = p.char_indices().map(|(i, _)| i).find(|i| *i >= cut).unwrap_or(p.len());
        for text in [&p[..], &p[..cut]] {
            for agent in Agent::ALL {
                match parse(agent, text.as_bytes()) {
                    Ok(ev) => prop_assert!(!ev.decides() || !ev.actions.is_empty() || !ev.note.is_empty()),
                    Err(_) => {
                        let r = refusal(agent, event_name(text.as_bytes()).as_deref(), "x");
                        prop_assert!(r.exit_code == 2 || r.body.contains("deny"));
                    }
                }
            }
        }
    }

    #[test]
    fn patches_never_panic(text in "(\\*\\*\\* (Begin Patch|End Patch|Add File: |Update File: |Delete File: |Move to: )?[a-z/.]{0,8}\n){0,8}") {
        let _ = patch::changes(&text);
    }
}
