//! Checks on what a command does to the system: destruction, privilege and
//! accounts, containers, git history, scheduling, history and kernel settings, and
//! the script-wide checks (downloads run later, secrets plus network).

use warden_types::Threat;

use super::paths;
use super::{Finding, FindingKind};
use crate::shell::command::{CommandSource, Script, SimpleCommand};
use crate::shell::unwrap::{is_interpreter, is_shell};
use crate::shell::words::Word;

use super::effects::*;

pub(super) fn destruction(
    cmd: &SimpleCommand,
    prog: &str,
    args: &[Word],
    home: &str,
    out: &mut Vec<Finding>,
) {
    let flags: String = args
        .iter()
        .filter(|w| w.value.starts_with('-') && !w.value.starts_with("--"))
        .map(|w| &w.value[1..])
        .collect();
    let long = |f: &str| args.iter().any(|w| w.value == f);
    let operands = || args.iter().filter(|w| !w.value.starts_with('-'));
    match prog {
        "rm" if flags.contains('r') || flags.contains('R') || long("--recursive") => {
            if let Some(w) = operands().find(|w| {
                paths::classify(&w.path_value(home), home).root_dir
                    || w.value == "~"
                    || w.value.starts_with("~/") && w.value.len() <= 3
            }) {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::Critical,
                    cmd,
                    format!("recursively deletes {}", w.value),
                );
            } else if long("--no-preserve-root") {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::Critical,
                    cmd,
                    "deletes with --no-preserve-root".into(),
                );
            } else if let Some(w) = operands().find(|w| {
                paths::classify(&w.value, home).system || paths::classify(&w.value, home).secret
            }) {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::High,
                    cmd,
                    format!("recursively deletes {}", w.value),
                );
            }
        }
        "shred" | "wipefs" | "blkdiscard" => push(
            out,
            FindingKind::Destructive,
            Threat::High,
            cmd,
            format!("{prog} irreversibly destroys data"),
        ),
        "dd" => {
            if let Some(w) = args
                .iter()
                .find(|w| w.value.strip_prefix("of=").is_some_and(paths::is_device))
            {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::Critical,
                    cmd,
                    format!("dd overwrites the device {}", &w.value[3..]),
                );
            }
        }
        "chmod" | "chown" | "chgrp" if flags.contains('R') || long("--recursive") => {
            if let Some(w) = operands()
                .skip(1)
                .find(|w| paths::classify(&w.path_value(home), home).root_dir)
            {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::Critical,
                    cmd,
                    format!(
                        "recursively changes ownership or permissions of {}",
                        w.value
                    ),
                );
            }
        }
        "fdisk" | "sfdisk" | "parted" | "sgdisk" | "gdisk" | "cfdisk"
            if args.iter().any(|w| paths::is_device(&w.value)) =>
        {
            push(
                out,
                FindingKind::Destructive,
                Threat::High,
                cmd,
                format!("{prog} repartitions a disk"),
            );
        }
        _ if prog.starts_with("mkfs") || prog == "mkswap" => push(
            out,
            FindingKind::Destructive,
            Threat::Critical,
            cmd,
            format!("{prog} formats a filesystem"),
        ),
        "find" if long("-delete") => {
            if let Some(w) = crate::shell::find_roots(args)
                .into_iter()
                .find(|w| paths::classify(&w.path_value(home), home).root_dir)
            {
                push(
                    out,
                    FindingKind::Destructive,
                    Threat::Critical,
                    cmd,
                    format!("deletes everything under {}", w.value),
                );
            }
        }
        _ => {}
    }
}

pub(super) fn privilege(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
    let has = |f: &str| args.iter().any(|w| w.value == f);
    match prog {
        "sudo" | "doas" | "run0" | "pkexec" | "su" | "runuser" | "calife" | "sudoedit" => {
            let shell_flag = args
                .iter()
                .any(|w| matches!(w.value.as_str(), "-s" | "-i" | "--shell" | "--login"));
            let no_command =
                args.iter().all(|w| w.value.starts_with('-')) || matches!(prog, "su") && !has("-c");
            if args.iter().any(|w| {
                w.value.starts_with("-u#-")
                    || w.value.starts_with("-u#4294967295")
                    || w.value == "#-1"
                    || w.value == "#4294967295"
            }) {
                push(
                    out,
                    FindingKind::PrivilegeEscalation,
                    Threat::Critical,
                    cmd,
                    "uses a negative user id to become root (CVE-2019-14287)".into(),
                );
            }
            if (shell_flag || prog == "su" || prog == "sg") && no_command
                || prog == "sg" && args.len() == 1
            {
                push(
                    out,
                    FindingKind::PrivilegeEscalation,
                    Threat::Critical,
                    cmd,
                    format!("opens a root shell with {prog}"),
                );
            } else {
                push(
                    out,
                    FindingKind::PrivilegeEscalation,
                    Threat::High,
                    cmd,
                    format!("runs a command as another user with {prog}"),
                );
            }
        }
        "chmod" => {
            let mode = args
                .iter()
                .find(|w| !w.value.starts_with('-') || w.value.starts_with("-s"))
                .map(|w| w.value.as_str())
                .unwrap_or("");
            let numeric_setuid = mode.len() == 4
                && mode.chars().all(|c| c.is_digit(8))
                && matches!(mode.as_bytes()[0], b'2' | b'4' | b'6');
            if mode.contains("+s") || mode.contains("u+s") || mode.contains("g+s") || numeric_setuid
            {
                push(
                    out,
                    FindingKind::Setuid,
                    Threat::Critical,
                    cmd,
                    format!("sets the set-user/group-id bit ({mode})"),
                );
            }
        }
        _ if cmd.privileged() && is_repl(prog, args) => {
            push(
                out,
                FindingKind::PrivilegeEscalation,
                Threat::Critical,
                cmd,
                format!("opens an interactive {prog} as root"),
            );
        }
        "setcap" => push(
            out,
            FindingKind::Setuid,
            Threat::Critical,
            cmd,
            "grants file capabilities".into(),
        ),
        "useradd" | "adduser" | "usermod" | "userdel" | "passwd" | "chpasswd" | "gpasswd"
        | "groupadd" | "groupmod" | "newusers" | "vipw" | "vigr" | "visudo" | "pwconv" => {
            let root_like = args.iter().any(|w| {
                matches!(
                    w.value.as_str(),
                    "sudo" | "wheel" | "root" | "admin" | "docker" | "0" | "-o" | "--non-unique"
                )
            });
            let t = if root_like {
                Threat::Critical
            } else {
                Threat::High
            };
            push(
                out,
                FindingKind::AccountChange,
                t,
                cmd,
                format!("{prog} changes accounts or groups"),
            );
        }
        "capsh"
            if args.iter().any(|w| {
                w.value == "--uid=0" || w.value == "--gid=0" || w.value.starts_with("--caps=")
            }) =>
        {
            push(
                out,
                FindingKind::PrivilegeEscalation,
                Threat::Critical,
                cmd,
                "capsh runs with uid 0 or raised capabilities".into(),
            );
        }
        "nsenter" => push(
            out,
            FindingKind::ContainerEscape,
            Threat::Critical,
            cmd,
            "enters another process's namespaces".into(),
        ),
        "docker" | "podman" | "nerdctl" => {
            let risky = args.iter().any(|w| {
                let v = w.value.as_str();
                v == "--privileged"
                    || v.starts_with("--pid=host")
                    || v == "--pid"
                    || v.starts_with("/:")
                    || v.contains("docker.sock")
                    || v.starts_with("--cap-add")
                    || v.contains("seccomp=unconfined")
            });
            if risky && (has("run") || has("exec") || has("create")) {
                push(
                    out,
                    FindingKind::ContainerEscape,
                    Threat::Critical,
                    cmd,
                    format!("{prog} starts a container with host access"),
                );
            }
        }
        _ => {}
    }
    if args.iter().any(|w| {
        w.value == "security.privileged=true"
            || w.value == "source=/"
            || w.value.starts_with("--privileged")
    }) && prog != "docker"
        && prog != "podman"
    {
        push(
            out,
            FindingKind::ContainerEscape,
            Threat::Critical,
            cmd,
            format!("{prog} gives a container privileged or whole-host access"),
        );
    }
    let local_package = args.iter().any(|w| {
        [".rpm", ".deb", ".snap", ".apk", ".pkg"]
            .iter()
            .any(|e| w.value.ends_with(e))
    });
    if cmd.privileged() && local_package {
        push(
            out,
            FindingKind::CodeExecution,
            Threat::Critical,
            cmd,
            "installs a local package as root (its scripts run as root)".into(),
        );
    }
    if args
        .iter()
        .any(|w| w.value.contains("docker.sock") || w.value.contains("containerd.sock"))
        && prog != "docker"
    {
        push(
            out,
            FindingKind::ContainerEscape,
            Threat::Critical,
            cmd,
            "talks to the container runtime socket".into(),
        );
    }
}

pub(super) fn git(cmd: &SimpleCommand, prog: &str, out: &mut Vec<Finding>) {
    if prog != "git" {
        return;
    }
    let sub_args = crate::shell::subcommand_args(cmd);
    let args: Vec<Word> = sub_args.iter().map(|a| Word::literal(a)).collect();
    let args = args.as_slice();
    let sub = args.first().map(|w| w.value.as_str());
    let has = |f: &str| {
        args.iter()
            .any(|w| w.value == f || w.value.strip_prefix(f).is_some_and(|r| r.starts_with('=')))
    };
    // `git config core.hooksPath x`, `alias.x '!cmd'`: commands git will run later.
    let runs_later = [
        "core.hookspath",
        "core.pager",
        "core.editor",
        "core.sshcommand",
        "core.fsmonitor",
        "core.askpass",
        "diff.external",
        "sequence.editor",
        "credential.helper",
    ];
    let sets = |i: usize, w: &Word| {
        let k = w.value.to_ascii_lowercase();
        let value = args.get(i + 1).map(|v| v.value.as_str());
        (runs_later.contains(&k.as_str()) || k.starts_with("filter.")) && value.is_some()
            || k.starts_with("alias.") && value.is_some_and(|v| v.starts_with('!'))
    };
    if sub == Some("config") && args.iter().enumerate().any(|(i, w)| sets(i, w)) {
        push(
            out,
            FindingKind::Persistence,
            Threat::High,
            cmd,
            "configures a command git will run later".into(),
        );
    }
    let why = match sub {
        Some("push")
            if has("--force")
                || has("-f")
                || has("--force-with-lease")
                || has("--mirror")
                || has("--delete")
                || args.iter().any(|w| w.value.starts_with('+')) =>
        {
            "force-pushes, rewriting remote history"
        }
        Some("filter-branch") | Some("filter-repo") => "rewrites repository history",
        _ => return,
    };
    push(
        out,
        FindingKind::GitDestructive,
        Threat::High,
        cmd,
        why.into(),
    );
    let _ = cmd;
}

pub(super) fn scheduling(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
    let has = |f: &str| args.iter().any(|w| w.value == f);
    if prog == "unset" && args.iter().any(|w| w.value.starts_with("HIST"))
        || prog == "history" && (has("-c") || has("-d") || has("-w") || has("-r"))
        || prog == "set" && has("+o") && has("history")
    {
        push(
            out,
            FindingKind::LogTampering,
            Threat::High,
            cmd,
            "erases or disables shell history".into(),
        );
    }
    if cmd.redirects.iter().any(|r| {
        r.writes()
            && (r.target.value.starts_with("/proc/sys/") || r.target.value.starts_with("/sys/"))
    }) || prog == "sysctl" && has("-w")
    {
        push(
            out,
            FindingKind::SystemChange,
            Threat::High,
            cmd,
            "changes kernel settings".into(),
        );
    }
    let raw_download = matches!(prog, "nc" | "ncat" | "netcat" | "socat" | "telnet" | "tftp")
        && (cmd.redirects.iter().any(|r| r.writes())
            || args
                .iter()
                .any(|w| w.value.to_ascii_lowercase().starts_with("open:") || w.value == "get"));
    let bare_ip_url = DOWNLOADERS.contains(&prog)
        && args
            .iter()
            .any(|w| url_host(&w.value).is_some_and(|h| h.parse::<std::net::IpAddr>().is_ok()));
    if raw_download || bare_ip_url {
        push(
            out,
            FindingKind::PayloadDownload,
            Threat::High,
            cmd,
            "fetches a file from a bare address or over a raw socket".into(),
        );
    }
    let why = match prog {
        "crontab" if !args.iter().any(|w| w.value == "-l") => "installs a cron table",
        "at" | "batch" if !args.iter().any(|w| w.value == "-l" || w.value == "-r") => {
            "schedules a command to run later"
        }
        "systemctl"
            if args
                .iter()
                .any(|w| w.value == "enable" || w.value == "link") =>
        {
            "enables a service at boot"
        }
        "launchctl"
            if args
                .iter()
                .any(|w| w.value == "load" || w.value == "bootstrap") =>
        {
            "loads a launch agent"
        }
        _ => return,
    };
    push(out, FindingKind::Persistence, Threat::High, cmd, why.into());
}

/// Checks that need the whole script: a download later made executable or run.
pub(super) fn script_level(script: &Script, home: &str, out: &mut Vec<Finding>) {
    let _ = home;
    let tcp = script.commands.iter().find(|c| {
        c.redirects.iter().any(|r| {
            r.target.value.starts_with("/dev/tcp/") || r.target.value.starts_with("/dev/udp/")
        })
    });
    if let Some(t) = tcp
        && script.commands.iter().any(|c| is_shell(c.program()))
    {
        push(
            out,
            FindingKind::ReverseShell,
            Threat::Critical,
            t,
            "connects a shell to a /dev/tcp socket".into(),
        );
    }
    let networked = script
        .commands
        .iter()
        .any(|c| NETWORK.contains(&c.program()));
    if networked {
        for f in out.iter_mut().filter(|f| f.kind == FindingKind::SecretRead) {
            f.kind = FindingKind::Exfiltration;
            f.threat = Threat::Critical;
            f.why
                .push_str(" in a command line that also talks to the network");
        }
    }
    for c in script
        .commands
        .iter()
        .filter(|c| c.source == CommandSource::Substitution && is_decoder(c))
    {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            c,
            format!("builds arguments from decoded text ({})", c.program()),
        );
    }
    let mut downloaded: Vec<String> = Vec::new();
    for c in &script.commands {
        if DOWNLOADERS.contains(&c.program()) {
            for (i, w) in c.args().iter().enumerate() {
                if matches!(
                    w.value.as_str(),
                    "-o" | "-O" | "--output" | "--output-document"
                ) && let Some(f) = c.args().get(i + 1)
                {
                    downloaded.push(f.value.trim_start_matches("./").to_string());
                }
            }
            for r in c.redirects.iter().filter(|r| r.writes()) {
                downloaded.push(r.target.value.trim_start_matches("./").to_string());
            }
        }
    }
    if downloaded.is_empty() {
        return;
    }
    for c in &script.commands {
        let runs = c
            .argv
            .first()
            .is_some_and(|w| downloaded.contains(&w.value.trim_start_matches("./").to_string()));
        let chmod_x = c.program() == "chmod"
            && c.args()
                .iter()
                .any(|w| w.value.contains('x') || w.value.starts_with('7'))
            && c.args()
                .iter()
                .any(|w| downloaded.contains(&w.value.trim_start_matches("./").to_string()));
        let interp = (is_shell(c.program()) || is_interpreter(c.program()))
            && c.args()
                .iter()
                .any(|w| downloaded.contains(&w.value.trim_start_matches("./").to_string()));
        if runs || chmod_x || interp {
            push(
                out,
                FindingKind::DownloadExec,
                Threat::High,
                c,
                "runs or makes executable a file it just downloaded".into(),
            );
        }
    }
}
