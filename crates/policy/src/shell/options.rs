//! Commands hidden in arguments: option values that name a program to run
//! (`--checkpoint-action=exec=`, `-o ProxyCommand=`, `core.pager=`, `--upload-pack`),
//! `!cmd` escapes typed into interactive programs, git's `rebase -x`/`bisect run`/
//! `submodule foreach`, and `find -exec`.

use super::command::{CommandSource, SimpleCommand};
use super::unwrap::Inner;
use super::words::Word;

pub(super) fn option_value(args: &[Word], names: &[&str]) -> Option<String> {
    for (i, w) in args.iter().enumerate() {
        for n in names {
            if w.value == *n {
                return args.get(i + 1).map(|a| a.value.clone());
            }
            if let Some(v) = w.value.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Commands git runs from its arguments: `rebase -x CMD`, `bisect run CMD...`,
/// `submodule foreach CMD`.
pub(super) fn git_commands(args: &[Word], mut embedded: impl FnMut(String)) {
    let words: Vec<&str> = args.iter().map(|w| w.value.as_str()).collect();
    for (i, w) in words.iter().enumerate() {
        let rest = || words.get(i + 1..).map(|r| r.join(" ")).unwrap_or_default();
        match *w {
            "-x" | "--exec" if words.contains(&"rebase") => {
                if let Some(c) = words.get(i + 1) {
                    embedded((*c).to_string());
                }
            }
            "run" if i > 0 && words[i - 1] == "bisect" => embedded(rest()),
            "foreach" if words.contains(&"submodule") => {
                embedded(rest().trim_start_matches("--recursive ").to_string())
            }
            _ => {}
        }
    }
}

/// The starting points of a `find` (operands before the first expression).
pub fn find_roots(args: &[Word]) -> Vec<&Word> {
    args.iter()
        .skip_while(|w| {
            matches!(w.value.as_str(), "-H" | "-L" | "-P")
                || w.value.starts_with("-O")
                || w.value.starts_with("-D")
        })
        .take_while(|w| !w.value.starts_with('-') && w.value != "(" && w.value != "!")
        .collect()
}

/// `find ... -exec CMD ... {} ;` (also `-execdir`, `-ok`, `-okdir`), possibly several.
/// `{}` stands for each starting point, since that is what it ranges over.
pub(super) fn find_exec(cmd: &SimpleCommand, args: &[Word], via: &[String], out: &mut Vec<Inner>) {
    let roots = find_roots(args);
    let mut i = 0;
    while i < args.len() {
        if matches!(
            args[i].value.as_str(),
            "-exec" | "-execdir" | "-ok" | "-okdir"
        ) {
            let start = i + 1;
            let mut end = start;
            while end < args.len() && args[end].value != ";" && args[end].value != "+" {
                end += 1;
            }
            if end > start {
                let placeholders: Vec<Option<&Word>> = if roots.is_empty() {
                    vec![None]
                } else {
                    roots.iter().take(4).map(|r| Some(*r)).collect()
                };
                for root in placeholders {
                    let argv = args[start..end]
                        .iter()
                        .map(|w| match root {
                            Some(r) if w.value == "{}" => (*r).clone(),
                            _ => w.clone(),
                        })
                        .collect();
                    out.push(Inner::Command(SimpleCommand {
                        argv,
                        assignments: Vec::new(),
                        redirects: Vec::new(),
                        text: cmd.text.clone(),
                        pipe: None,
                        pipeline_text: None,
                        source: CommandSource::Wrapped("find".into()),
                        via: via.to_vec(),
                        background: false,
                        index: 0,
                    }));
                }
            }
            i = end;
        }
        i += 1;
    }
}

/// `!cmd`, `:!cmd`, `:sh`, `:shell` as typed into vim, less, gdb, ftp and friends.
pub(super) fn bang_command(v: &str) -> Option<String> {
    let t = v.trim_start().trim_start_matches(':').trim_start();
    if let Some(rest) = t.strip_prefix('!') {
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('!') && !rest.starts_with('=') {
            return Some(rest.to_string());
        }
    }
    if matches!(t, "sh" | "shell") && v.trim_start().starts_with(':') {
        return Some("sh".into());
    }
    None
}

/// Option values that name a command to run: the option's name says so
/// (`exec`, `command`, `cmd`, `shell`, `pager`, `editor`, `rsh`, `proxy`...).
pub(super) fn command_option(args: &[Word], i: usize) -> Option<String> {
    let v = &args[i].value;
    let (name, value) = match v.split_once('=') {
        Some((n, val))
            if n.starts_with('-') || n.contains('.') || n.eq_ignore_ascii_case("proxycommand") =>
        {
            (n, Some(val.to_string()))
        }
        _ => (v.as_str(), None),
    };
    let lname = name.to_ascii_lowercase();
    // Options named exactly (their names say nothing generic).
    const EXACT: &[&str] = &[
        "--upload-pack",
        "--receive-pack",
        "--pre",
        "--checkpoint-action",
        "--to-command",
        "--info-command",
        "--new-volume-script",
        "--rsync-path",
    ];
    const HINTS: &[&str] = &[
        "exec",
        "command",
        "cmd",
        "shell",
        "pager",
        "editor",
        "rsh",
        "proxy",
        "askpass",
        "fsmonitor",
        "external",
        "compress-program",
    ];
    let git_alias =
        lname.starts_with("alias.") && value.as_deref().is_some_and(|v| v.starts_with('!'));
    let hinted = EXACT.contains(&lname.as_str())
        || (HINTS.iter().any(|h| lname.contains(h))
            && !lname.starts_with("--no-")
            && lname != "--exec-path");
    if !git_alias && !hinted {
        return None;
    }
    let value = match value {
        Some(v) => v,
        // `--exec CMD`, and single-dash long options such as `go test -exec CMD`.
        None if name.starts_with("--") || name.starts_with('-') && name.len() > 3 => {
            args.get(i + 1)?.value.clone()
        }
        None => return None,
    };
    // `exec=/bin/sh`, `EXEC:sh`, `ProxyCommand=...` and git's `!cmd` aliases.
    let mut text = value.as_str();
    for prefix in ["exec=", "EXEC:", "exec:", "system:", "SYSTEM:"] {
        if let Some(r) = text.strip_prefix(prefix) {
            text = r;
        }
    }
    let text = text.trim_start_matches('!').trim();
    (!text.is_empty()).then(|| text.to_string())
}
