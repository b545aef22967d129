//! Payloads written for later: `echo '... /bin/sh ...' > f`, here-docs into
//! config files that load libraries or read secrets, which another program (often
//! run with sudo) then executes.

use warden_types::Threat;

use super::effects::*;
use super::paths;
use super::{Finding, FindingKind};
use crate::shell::command::SimpleCommand;
use crate::shell::unwrap::{is_shell, program_name};
use crate::shell::words::Word;

/// `echo '... /bin/sh ...' > file` and friends: writing a payload that starts a
/// shell or reads a secret, for another program to run later.
pub(super) fn written_payload(
    cmd: &SimpleCommand,
    prog: &str,
    args: &[Word],
    home: &str,
    out: &mut Vec<Finding>,
) {
    let writes_file = cmd
        .redirects
        .iter()
        .any(|r| r.writes() && !r.target.value.starts_with("/dev/"));
    let content: Vec<&str> = match prog {
        "echo" | "printf" if writes_file => args.iter().map(|w| w.value.as_str()).collect(),
        "cat" | "tee" => cmd
            .redirects
            .iter()
            .filter_map(|r| r.body.as_deref())
            .collect(),
        _ => return,
    };
    for text in content {
        let body = text.trim_start();
        let body = if body.starts_with("#!") {
            body.split_once('\n').map(|(_, r)| r).unwrap_or("")
        } else {
            body
        };
        let shell = paths::paths_in_text(body)
            .into_iter()
            .find(|p| p.starts_with('/') && is_shell(program_name(p)));
        let spawns = crate::shell::payload::spawned_strings(body);
        if let Some(p) = shell {
            push(
                out,
                FindingKind::ShellEscape,
                Threat::High,
                cmd,
                format!("writes a payload that starts the shell {p}"),
            );
        } else if let Some(s) = spawns.first().filter(|_| prog != "cat" && prog != "tee") {
            push(
                out,
                FindingKind::CodeExecution,
                Threat::High,
                cmd,
                format!("writes a payload that runs `{s}`"),
            );
        } else if body.contains("exec /") {
            push(
                out,
                FindingKind::CodeExecution,
                Threat::High,
                cmd,
                "writes a payload that execs a program".into(),
            );
        }
        if let Some(p) = paths::paths_in_text(body)
            .into_iter()
            .find(|p| p.ends_with(".so"))
        {
            push(
                out,
                FindingKind::LibraryInjection,
                Threat::High,
                cmd,
                format!("writes a configuration that loads {p}"),
            );
        }
        if let Some(p) = paths::paths_in_text(body)
            .into_iter()
            .find(|p| paths::classify(p, home).secret)
        {
            push(
                out,
                FindingKind::SecretRead,
                Threat::High,
                cmd,
                format!("writes code that reads {p}"),
            );
        }
    }
}
