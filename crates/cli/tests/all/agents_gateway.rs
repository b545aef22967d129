//! The real Claude Code talking to its (scripted) provider through warden's
//! LLM gateway, with its hooks installed too: the tool call the model emitted
//! is recorded by the gateway with the same id the PreToolUse hook reports.

use serde_json::{Value, json};

use crate::agents::{
    Provider, agent, audit_entries, claude_command, codex_command, policy, run_agent,
};
use crate::daemon::up;
use crate::support::{Env, write};

#[test]
fn claude_code_through_the_llm_gateway_lines_up_with_its_hooks() {
    let Some(claude) = agent("claude") else {
        return;
    };
    let env = Env::new();
    let outside = env.home.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    write(&env.user_policy(), &policy(&outside));
    let provider = Provider::start(
        &env.home,
        "anthropic",
        json!([
            {"tool": "Bash", "input": {"command": "echo through > gateway.txt", "description": "write"}},
            {"text": "finished"}
        ]),
    );
    let (_daemon, port) = up_with_gateway(&env, "anthropic", &provider);
    env.run(&["init", "claude-code", "--user"]).code(0);
    let mut cmd = claude_command(&claude, &env, &provider, "write the file");
    cmd.env(
        "ANTHROPIC_BASE_URL",
        format!("http://127.0.0.1:{port}/llm/anthropic"),
    );
    let (code, stdout, stderr) = run_agent(cmd, || {});
    assert_eq!(code, Some(0), "claude failed: {stdout}\n{stderr}");
    assert!(env.ws.join("gateway.txt").exists(), "the tool call ran");
    assert!(
        !provider.requests().is_empty(),
        "the provider was not reached"
    );
    let entries = audit_entries(&env);
    let is_llm = |e: &&Value| e["action"]["kind"]["llm_request"].is_object();
    assert!(
        entries
            .iter()
            .filter(is_llm)
            .all(|e| e["action"]["origin"] == "proxy"),
        "{entries:?}"
    );
    // The gateway's record of the model's tool call: `Bash:<id>`.
    let id = entries
        .iter()
        .filter(is_llm)
        .filter_map(|e| e["action"]["context"]["extra"]["tool_uses"].as_str())
        .find_map(|u| u.strip_prefix("Bash:").map(str::to_string))
        .unwrap_or_else(|| panic!("no tool call recorded by the gateway: {entries:#?}"));
    // The hook's decision for the same tool call carries the same id.
    assert!(
        entries
            .iter()
            .any(|e| e["action"]["origin"] == "hook:claude-code"
                && e["action"]["context"]["tool_use_id"] == id.as_str()),
        "no hook entry for {id}: {entries:#?}"
    );
}

#[test]
fn codex_through_the_llm_gateway_lines_up_with_its_hooks() {
    let Some(codex) = agent("codex") else { return };
    let mut env = Env::new();
    let codex_home = env.home.join(".codex");
    env.set_env("CODEX_HOME", &codex_home.display().to_string());
    let outside = env.home.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    write(&env.user_policy(), &policy(&outside));
    let provider = Provider::start(
        &env.home,
        "openai",
        json!([
            {"function_call": {"name": "exec_command", "arguments": {"cmd": "touch codex-gateway.txt"}}},
            {"text": "finished"}
        ]),
    );
    let (_daemon, port) = up_with_gateway(&env, "openai", &provider);
    write(
        &codex_home.join("config.toml"),
        &format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"e2e\"\n\n[model_providers.e2e]\nname = \"e2e\"\n\
             base_url = \"http://127.0.0.1:{port}/llm/openai/v1\"\nwire_api = \"responses\"\nenv_key = \"E2E_OPENAI_KEY\"\n"
        ),
    );
    env.run(&["init", "codex", "--user"]).code(0);
    let cmd = codex_command(&codex, &env, &codex_home, "make the file");
    let (code, stdout, stderr) = run_agent(cmd, || {});
    assert_eq!(code, Some(0), "codex failed: {stdout}\n{stderr}");
    assert!(
        env.ws.join("codex-gateway.txt").exists(),
        "the tool call ran"
    );
    let entries = audit_entries(&env);
    let id = entries
        .iter()
        .filter(|e| e["action"]["kind"]["llm_request"]["provider"] == "openai")
        .filter_map(|e| e["action"]["context"]["extra"]["tool_uses"].as_str())
        .find_map(|u| u.strip_prefix("exec_command:").map(str::to_string))
        .unwrap_or_else(|| panic!("no tool call recorded by the gateway: {entries:#?}"));
    assert!(
        entries.iter().any(|e| e["action"]["origin"] == "hook:codex"
            && e["action"]["context"]["tool_use_id"] == id.as_str()),
        "no hook entry for {id}: {entries:#?}"
    );
}

/// The daemon with its proxy (and LLM gateway) on a free loopback port,
/// forwarding `name` to the scripted `provider`; returns the daemon and port.
fn up_with_gateway(env: &Env, name: &str, provider: &Provider) -> (crate::daemon::Up, u16) {
    let port = crate::support::free_port();
    let daemon = up(
        env,
        &[
            "--proxy-listen",
            &format!("127.0.0.1:{port}"),
            "--llm-upstream",
            &format!("{name}=http://127.0.0.1:{}", provider.port),
        ],
    );
    (daemon, port)
}
