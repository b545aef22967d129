//! The checks behind [`super::analyze_script`]: one entry point per command.

use warden_types::Threat;

use super::paths;
use super::{Finding, FindingKind};
use crate::shell::command::{RedirectOp, Script, SimpleCommand};
use crate::shell::payload::inline_code;
use crate::shell::unwrap::program_name;

use super::effects::*;
use super::execution::*;
use super::network::*;
use super::payloads::*;
use super::system::*;

/// Classify a bare argv (the sandbox's exec view) by building a one-command script.
pub fn classify_argv(argv: &[String], home: &str) -> Vec<Finding> {
    super::analyze_script(&crate::shell::parse::parse_argv(argv), home)
}

pub(super) fn command(cmd: &SimpleCommand, script: &Script, home: &str, out: &mut Vec<Finding>) {
    assignments(cmd, out);
    let Some(first) = cmd.argv.first() else {
        // `< file` alone (zsh reads it to stdout; `$(<file)` in bash).
        let reads = risks(
            cmd.redirects
                .iter()
                .filter(|r| r.op == RedirectOp::In)
                .map(|r| r.target.value.as_str()),
            home,
        );
        if let Some((p, _)) = reads.iter().find(|(_, r)| r.secret) {
            push(
                out,
                FindingKind::SecretRead,
                Threat::High,
                cmd,
                format!("reads {p}"),
            );
        }
        return;
    };
    let prog = program_name(&first.value);
    let args = cmd.args();
    let operands = path_operands(cmd);
    let code = inline_code(prog, args);
    let code_paths: Vec<&str> = code
        .as_deref()
        .map(paths::paths_in_text)
        .unwrap_or_default();

    disguise(cmd, first, prog, out);
    let is_net = NETWORK.contains(&prog)
        || (prog == "openssl" && args.iter().any(|w| w.value == "s_client"))
        || args.iter().any(|w| is_url(&w.value))
        || cmd.redirects.iter().any(|r| {
            r.target.value.starts_with("/dev/tcp/") || r.target.value.starts_with("/dev/udp/")
        });

    // Paths this command reads and writes.
    let mut reads = risks(operands.iter().map(String::as_str), home);
    reads.extend(risks(code_paths.iter().copied(), home));
    reads.extend(risks(
        cmd.redirects
            .iter()
            .filter(|r| r.op == RedirectOp::In)
            .map(|r| r.target.value.as_str()),
        home,
    ));
    let written = written_paths(cmd, home);
    let writes = risks(written.iter().map(String::as_str), home);

    for (p, r) in &writes {
        if r.device {
            push(
                out,
                FindingKind::Destructive,
                Threat::Critical,
                cmd,
                format!("writes to the raw device {p}"),
            );
        } else if r.auth || (r.persistence && (r.system || r.login_script)) {
            push(
                out,
                FindingKind::AuthWrite,
                Threat::Critical,
                cmd,
                format!("modifies {p}, which controls who gets in or what runs as root"),
            );
        } else if r.persistence {
            push(
                out,
                FindingKind::Persistence,
                Threat::High,
                cmd,
                format!("modifies {p}, which runs code later"),
            );
        } else if r.log {
            push(
                out,
                FindingKind::LogTampering,
                Threat::High,
                cmd,
                format!("overwrites the log or history {p}"),
            );
        }
    }
    if is_net {
        // Substitutions feeding the request (`curl -d "$(cat ~/.netrc)"`), minus the
        // key a client reads to authenticate itself (`scp -i ~/.ssh/key`).
        let auth_values: Vec<&str> = args
            .windows(2)
            .filter(|p| AUTH_OPTIONS.contains(&p[0].value.as_str()))
            .map(|p| p[1].value.as_str())
            .collect();
        let in_text = paths::paths_in_text(&cmd.text).into_iter().filter(|p| {
            !auth_values
                .iter()
                .any(|a| a.ends_with(p.trim_start_matches('~')))
        });
        reads.extend(risks(in_text, home));
    }
    let secrets: Vec<&String> = reads
        .iter()
        .filter(|(_, r)| r.secret)
        .map(|(p, _)| p)
        .collect();
    if let Some(p) = secrets.first() {
        if is_net {
            push(
                out,
                FindingKind::Exfiltration,
                Threat::Critical,
                cmd,
                format!("sends {p} over the network"),
            );
        } else {
            push(
                out,
                FindingKind::SecretRead,
                Threat::High,
                cmd,
                format!("reads {p}"),
            );
        }
    }

    shells(cmd, prog, args, script, out);
    written_payload(cmd, prog, args, home, out);
    network_shell(cmd, prog, args, code.as_deref(), script, out);
    destruction(cmd, prog, args, home, out);
    privilege(cmd, prog, args, out);
    if let Some(code) = code.as_deref() {
        inline_code_behaviour(cmd, prog, code, out);
    }
    git(cmd, prog, out);
    scheduling(cmd, prog, args, out);
    library_loading(cmd, prog, args, out);
}
