//! Checks on shells wired to the network (reverse and bind shells over `nc`,
//! `socat`, `/dev/tcp`, or sockets opened in inline code) and on inline code that
//! spawns processes or changes user.

use warden_types::Threat;

use super::effects::*;
use super::{Finding, FindingKind};
use crate::shell::command::{Script, SimpleCommand};
use crate::shell::unwrap::{is_interpreter, is_shell};
use crate::shell::words::Word;

pub(super) fn network_shell(
    cmd: &SimpleCommand,
    prog: &str,
    args: &[Word],
    code: Option<&str>,
    script: &Script,
    out: &mut Vec<Finding>,
) {
    let listen = args.iter().any(|w| {
        let v = w.value.as_str();
        (v.starts_with('-')
            && !v.starts_with("--")
            && v.contains('l')
            && matches!(prog, "nc" | "ncat" | "netcat"))
            || v == "--listen"
            || v.to_ascii_uppercase().contains("-LISTEN:")
    });
    let exec_opt = args.iter().enumerate().find_map(|(i, w)| {
        let v = w.value.as_str();
        if matches!(v, "-e" | "-c" | "--exec" | "--sh-exec" | "--lua-exec")
            && matches!(
                prog,
                "nc" | "ncat" | "netcat" | "ncat.openbsd" | "nc.traditional"
            )
        {
            return args.get(i + 1).map(|a| a.value.clone());
        }
        let up = v.to_ascii_uppercase();
        (prog == "socat" && (up.starts_with("EXEC:") || up.starts_with("SYSTEM:")))
            .then(|| v.to_string())
    });
    let tcp_redirect = cmd.redirects.iter().any(|r| {
        r.target.value.starts_with("/dev/tcp/") || r.target.value.starts_with("/dev/udp/")
    });
    let shellish = is_shell(prog) || is_interpreter(prog);
    let socket_shell = if listen {
        FindingKind::BindShell
    } else {
        FindingKind::ReverseShell
    };
    if let Some(e) = exec_opt {
        push(
            out,
            socket_shell,
            Threat::Critical,
            cmd,
            format!("{prog} connects a program ({e}) to a network socket"),
        );
    } else if tcp_redirect && (shellish || cmd.pipe.is_some()) {
        push(
            out,
            FindingKind::ReverseShell,
            Threat::Critical,
            cmd,
            "wires a shell's input/output to /dev/tcp".into(),
        );
    } else if tcp_redirect {
        push(
            out,
            FindingKind::Exfiltration,
            Threat::High,
            cmd,
            "opens a raw network connection through /dev/tcp".into(),
        );
    }
    // A pipeline (or fifo loop) joining a network tool and a shell.
    if let Some(pos) = cmd.pipe
        && NETWORK.contains(&prog)
        && matches!(
            prog,
            "nc" | "ncat" | "netcat" | "socat" | "telnet" | "openssl"
        )
    {
        let shell_stage = script
            .commands
            .iter()
            .any(|c| c.pipe.is_some_and(|p| p.id == pos.id) && is_shell(c.program()));
        if shell_stage {
            push(
                out,
                socket_shell,
                Threat::Critical,
                cmd,
                format!("pipes a shell through {prog}"),
            );
        }
    }
    if let Some(code) = code {
        let socket = [
            "socket",
            "Socket",
            "fsockopen",
            "TCPSocket",
            "net.connect",
            "require(\"net\")",
            "createServer",
            "createConnection",
            "/dev/tcp",
            "/inet/tcp",
            "/inet/udp",
            "IO::Socket",
            "socket.socket",
        ]
        .iter()
        .any(|m| code.contains(m));
        let spawns = [
            "exec",
            "spawn",
            "popen",
            "system",
            "dup2",
            "/bin/sh",
            "/bin/bash",
            "sh -i",
            "pty",
            "subprocess",
            "Process",
            "child_process",
            "|&",
        ]
        .iter()
        .any(|m| code.contains(m));
        if socket && spawns {
            let bind = code.contains("bind(")
                || code.contains("listen(")
                || code.contains("TCPServer")
                || code.contains("createServer");
            let kind = if bind {
                FindingKind::BindShell
            } else {
                FindingKind::ReverseShell
            };
            push(
                out,
                kind,
                Threat::Critical,
                cmd,
                format!("{prog} code opens a socket and runs a process over it"),
            );
        }
    }
}

pub(super) fn inline_code_behaviour(
    cmd: &SimpleCommand,
    prog: &str,
    code: &str,
    out: &mut Vec<Finding>,
) {
    // Code that deletes trees (`shutil.rmtree`, `fs.rmSync`, `FileUtils.rm_rf`)
    // aimed at a home or a system directory.
    let deletes = [
        "rmtree",
        "rm_rf",
        "rmSync",
        "rimraf",
        "remove_dir_all",
        "unlinkSync",
        "os.remove",
        "File.delete",
        "rmdirSync",
        "unlink(",
    ]
    .iter()
    .any(|m| code.contains(m));
    if deletes
        && let Some(p) = crate::shell::paths::paths_in_text(code)
            .into_iter()
            .find(|p| {
                let r = crate::shell::paths::classify(p, "");
                r.root_dir
                    || r.system
                    || p.starts_with("/home/")
                    || p.starts_with("/root")
                    || p.starts_with('~')
            })
    {
        push(
            out,
            FindingKind::Destructive,
            Threat::Critical,
            cmd,
            format!("{prog} code deletes {p}"),
        );
    }
    if [
        "setuid(0",
        "setuid(0)",
        "setreuid(0",
        "Sys.setuid(0",
        "posix_setuid(0",
    ]
    .iter()
    .any(|m| code.contains(m))
    {
        push(
            out,
            FindingKind::PrivilegeEscalation,
            Threat::Critical,
            cmd,
            format!("{prog} code switches to uid 0"),
        );
    }
    if [
        "pty.spawn",
        "os.exec",
        "POSIX::setuid",
        "Process::Sys.setuid",
        "posix_setuid",
        "Runtime.getRuntime().exec",
        "child_process",
        "pcntl_exec",
    ]
    .iter()
    .any(|m| code.contains(m))
    {
        push(
            out,
            FindingKind::ShellEscape,
            Threat::High,
            cmd,
            format!("{prog} code spawns processes or changes user"),
        );
    }
}
