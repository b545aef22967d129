//! `warden check --jsonl`: one verdict line per input line, in order; a line that
//! is not an Action is denied (naming the problem and the line) and the stream goes
//! on. An interceptor pipes agent-controlled data here, so no line may stop the
//! stream, crash warden or be skipped.

use crate::support::{Env, assert_verdict, decision, reason, rules};

/// Lines joined with `\n`, with a trailing newline.
fn lines(ls: &[&str]) -> Vec<u8> {
    let mut b = ls.join("\n").into_bytes();
    b.push(b'\n');
    b
}

#[test]
fn minimal_action_from_the_contract_gets_a_verdict() {
    let env = Env::new();
    let out = env.run_with_stdin(
        &["check", "--jsonl"],
        &lines(&[r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#]),
    );
    out.code(0);
    let v = out.verdict();
    assert_verdict(&v, "allow", "everyday-development");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn every_action_kind_gets_one_verdict_in_order() {
    let env = Env::new();
    // Each line has a distinct expected outcome, so a reordered, dropped or
    // duplicated verdict shows.
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#,
            "allow",
            "everyday-development",
        ),
        (
            r#"{"cwd":"/w","kind":{"exec":{"argv":["git","push","origin","main"],"env_keys":["PATH"]}}}"#,
            "ask",
            "git-push",
        ),
        (
            r#"{"cwd":"/w","kind":{"file_read":{"path":"~/.ssh/id_rsa"}}}"#,
            "deny",
            "secrets-read",
        ),
        (
            r#"{"cwd":"/w","kind":{"file_write":{"path":"src/main.rs"}}}"#,
            "allow",
            "default:autonomy",
        ),
        (
            r#"{"cwd":"/w","kind":{"file_delete":{"path":"/opt/app/data.db"}}}"#,
            "ask",
            "delete-outside-workspace",
        ),
        (
            r#"{"cwd":"/w","kind":{"net":{"url":"http://169.254.169.254/latest/meta-data/"}}}"#,
            "deny",
            "builtin:non-public-address",
        ),
        (
            r#"{"cwd":"/w","kind":{"net":{"host":"example.com","port":443,"scheme":"https","method":"GET"}}}"#,
            "allow",
            "default:autonomy",
        ),
        (
            r#"{"cwd":"/w","kind":{"tool_call":{"server":"github","tool":"create_issue","arguments":{"title":"x"}}}}"#,
            "ask",
            "default:autonomy",
        ),
        (
            r#"{"cwd":"/w","kind":{"llm_request":{"provider":"anthropic","model":"claude","tools_offered":["Bash"]}}}"#,
            "allow",
            "default:autonomy",
        ),
        // Every field of the contract, with the agent's autonomy set to observer:
        // the unmatched write is then denied, which shows the field was read.
        (
            r#"{"v":1,"id":"a-1","time":"2025-01-01T00:00:00Z","agent":{"id":"ag","name":"claude-code","autonomy":"observer"},"session":"s-1","cwd":"/w","origin":"hook:claude-code","kind":{"file_write":{"path":"src/lib.rs"}},"context":{"tool_use_id":"t","turn_id":"u","pid":42}}"#,
            "deny",
            "default:autonomy",
        ),
    ];
    let input: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let out = env.run_with_stdin(&["check", "--jsonl"], &lines(&input));
    out.code(0);
    let verdicts = out.verdicts();
    assert_eq!(verdicts.len(), cases.len(), "{}", out.stdout);
    for (i, ((line, want, rule), v)) in cases.iter().zip(&verdicts).enumerate() {
        assert_eq!(decision(v), *want, "line {}: {line}\nverdict: {v}", i + 1);
        assert!(
            rules(v).contains(rule),
            "line {}: {line}\nexpected rule {rule}: {v}",
            i + 1
        );
    }
}

#[test]
fn bad_lines_are_denied_by_line_number_and_the_stream_continues() {
    let env = Env::new();
    let good = br#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#;
    let mut input = Vec::new();
    let mut push = |l: &[u8]| {
        input.extend_from_slice(l);
        input.push(b'\n');
    };
    push(good); // 1
    push(b"{this is not json"); // 2
    push(good); // 3
    push(b""); // 4
    push(good); // 5
    push(b"\xff\xfe\x80 not utf-8"); // 6
    push(good); // 7
    push(br#"{"cwd":"/w","kind":{"shell":{"command":"ls"}},"admin":true}"#); // 8
    push(good); // 9
    push(br#"{"v":2,"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#); // 10
    push(good); // 11
    push(br#"{"cwd":"/w","kind":{"shell":{"command":"ls","sudo":true}}}"#); // 12
    push(br#"{"cwd":"/w","kind":{"teleport":{}}}"#); // 13
    push(good); // 14
    let out = env.run_with_stdin(&["check", "--jsonl"], &input);
    out.code(0);
    let v = out.verdicts();
    assert_eq!(v.len(), 14, "one verdict per input line:\n{}", out.stdout);
    for n in [1, 3, 5, 7, 9, 11, 14] {
        assert_eq!(decision(&v[n - 1]), "allow", "line {n}: {}", v[n - 1]);
    }
    let bad: &[(usize, &str)] = &[
        (2, "not an Action"),
        (4, "empty line"),
        (6, "not UTF-8"),
        (8, "admin"),
        (10, "version 2"),
        (12, "sudo"),
        (13, "teleport"),
    ];
    for (n, problem) in bad {
        let verdict = &v[n - 1];
        assert_verdict(verdict, "deny", "builtin:malformed-input");
        let r = reason(verdict);
        assert!(r.contains(&format!("line {n}")), "line {n}: {verdict}");
        assert!(
            r.contains(problem),
            "line {n} should name {problem:?}: {verdict}"
        );
    }
}

#[test]
fn last_line_without_newline_and_crlf_lines_get_verdicts() {
    let env = Env::new();
    let input = b"{\"cwd\":\"/w\",\"kind\":{\"shell\":{\"command\":\"git push\"}}}\r\n{\"cwd\":\"/w\",\"kind\":{\"shell\":{\"command\":\"ls\"}}}";
    let out = env.run_with_stdin(&["check", "--jsonl"], input);
    out.code(0);
    let v = out.verdicts();
    assert_eq!(v.len(), 2, "{}", out.stdout);
    assert_verdict(&v[0], "ask", "git-push");
    assert_verdict(&v[1], "allow", "everyday-development");
}

#[test]
fn empty_stdin_gives_no_verdicts_and_exit_0() {
    let env = Env::new();
    let out = env.run_with_stdin(&["check", "--jsonl"], b"");
    out.code(0);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn no_human_applies_to_every_line() {
    let env = Env::new();
    let out = env.run_with_stdin(
        &["check", "--jsonl", "--no-human"],
        &lines(&[
            r#"{"cwd":"/w","kind":{"shell":{"command":"git push origin main"}}}"#,
            r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#,
        ]),
    );
    out.code(0);
    let v = out.verdicts();
    assert_eq!(v.len(), 2, "{}", out.stdout);
    assert_verdict(&v[0], "deny", "git-push");
    assert!(reason(&v[0]).contains("no human"), "{}", v[0]);
    assert_eq!(decision(&v[1]), "allow", "{}", v[1]);
}

#[test]
fn one_megabyte_command_gets_a_size_verdict_without_crashing() {
    let env = Env::new();
    let command = format!("echo {}", "a".repeat(1 << 20));
    let big = serde_json::json!({"cwd": "/w", "kind": {"shell": {"command": command}}}).to_string();
    let out = env.run_with_stdin(
        &["check", "--jsonl"],
        &lines(&[&big, r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#]),
    );
    out.code(0);
    let v = out.verdicts();
    assert_eq!(v.len(), 2, "{}", out.stdout);
    assert!(
        ["deny", "ask"].contains(&decision(&v[0])),
        "an unanalysable command is never allowed: {}",
        v[0]
    );
    assert!(
        reason(&v[0]).contains("bytes"),
        "the reason names the size: {}",
        v[0]
    );
    assert_eq!(decision(&v[1]), "allow", "the stream goes on: {}", v[1]);
}

#[test]
fn one_megabyte_command_is_denied_when_no_human_can_answer() {
    let env = Env::new();
    let command = format!("rm -rf / # {}", "a".repeat(1 << 20));
    let big = serde_json::json!({"cwd": "/w", "kind": {"shell": {"command": command}}}).to_string();
    let out = env.run_with_stdin(&["check", "--jsonl", "--no-human"], &lines(&[&big]));
    out.code(0);
    assert_eq!(decision(&out.verdict()), "deny", "{}", out.stdout);
}

#[test]
fn deeply_nested_json_is_denied_not_a_stack_overflow() {
    let env = Env::new();
    let depth = 100_000;
    let line = format!(
        r#"{{"cwd":"/w","kind":{{"tool_call":{{"server":"a","tool":"b","arguments":{}{}}}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let out = env.run_with_stdin(&["check", "--jsonl"], &lines(&[&line]));
    out.code(0);
    assert_verdict(&out.verdict(), "deny", "builtin:malformed-input");
}

#[test]
fn duplicate_keys_are_rejected_not_last_one_wins() {
    // With last-one-wins, a filter that checked the first `kind` would see `ls`
    // while the engine judged the second.
    let env = Env::new();
    let out = env.run_with_stdin(
        &["check", "--jsonl"],
        &lines(&[
            r#"{"cwd":"/w","kind":{"shell":{"command":"rm -rf /"}},"kind":{"shell":{"command":"ls"}}}"#,
        ]),
    );
    out.code(0);
    assert_verdict(&out.verdict(), "deny", "builtin:malformed-input");
}

#[test]
fn relative_path_without_cwd_is_denied() {
    let env = Env::new();
    let out = env.run_with_stdin(
        &["check", "--jsonl"],
        &lines(&[r#"{"kind":{"file_write":{"path":"../../etc/passwd"}}}"#]),
    );
    out.code(0);
    assert_verdict(&out.verdict(), "deny", "builtin:bad-path");
}

#[test]
fn jsonl_with_a_broken_policy_exits_1() {
    let env = Env::new();
    env.write_project_policy("version = 1\n[[rule]]\nid = \"x\"\n");
    let out = env.run_with_stdin(
        &["check", "--jsonl"],
        &lines(&[r#"{"cwd":"/w","kind":{"shell":{"command":"ls"}}}"#]),
    );
    out.code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(out.stderr.contains("policy.toml"), "{}", out.stderr);
}
