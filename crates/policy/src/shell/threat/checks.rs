//! The individual checks behind [`super::analyze_script`].

use warden_types::Threat;

use super::paths::{self, PathRisk};
use super::{Finding, FindingKind};
use crate::shell::parse::{CommandSource, RedirectOp, Script, SimpleCommand};
use crate::shell::unwrap::{inline_code, is_privilege_wrapper, is_shell, program_name};
use crate::shell::words::Word;

/// Programs that only read their file operands (so a takeover path among their
/// arguments is read, not written).
const READERS: &[&str] = &[
    "cat",
    "less",
    "more",
    "head",
    "tail",
    "grep",
    "egrep",
    "fgrep",
    "rg",
    "ag",
    "wc",
    "file",
    "stat",
    "ls",
    "diff",
    "cmp",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "strings",
    "od",
    "hexdump",
    "nl",
    "cut",
    "jq",
    "bat",
    "view",
    "column",
    "tac",
    "rev",
    "base64",
    "comm",
    "paste",
    "readlink",
    "realpath",
    "test",
    "[",
    "getent",
    "awk",
    "sed",
    "sort",
    "find",
];
/// Programs that only describe other programs (a shell path among their arguments
/// is a subject, not something run).
const DESCRIBERS: &[&str] = &[
    "which", "type", "whereis", "man", "info", "file", "ls", "stat", "readlink", "realpath",
    "chsh", "ldd", "command", "help", "tldr", "echo",
];
/// Programs that send data to the network.
const NETWORK: &[&str] = &[
    "curl",
    "wget",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "ftp",
    "tftp",
    "aria2c",
    "http",
    "https",
    "xh",
    "ab",
    "restic",
    "rclone",
    "smbclient",
    "whois",
    "nmap",
    "lftp",
    "finger",
    "s_client",
    "ztcp",
    "sshfs",
    "socket",
    "curlie",
];
/// Options whose value a network client reads to authenticate itself, not to send.
const AUTH_OPTIONS: &[&str] = &[
    "-i",
    "--identity",
    "--key",
    "--cert",
    "--cacert",
    "-E",
    "--private-key",
];
/// Programs whose output is a download.
const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "aria2c",
    "http",
    "xh",
    "lwp-download",
    "iwr",
];
/// Programs that turn encoded text back into commands.
const DECODERS: &[&str] = &["base64", "base32", "xxd", "openssl", "rev", "uudecode"];
/// Interpreters that run what arrives on stdin.
const INTERPRETERS: &[&str] = &[
    "python",
    "python2",
    "python3",
    "perl",
    "ruby",
    "node",
    "php",
    "lua",
    "bun",
    "deno",
    "osascript",
    "tclsh",
];
/// Terminal programs that start a shell when given no command.
const TERMINALS: &[&str] = &["screen", "tmux", "byobu", "script"];

fn push(
    out: &mut Vec<Finding>,
    kind: FindingKind,
    threat: Threat,
    cmd: &SimpleCommand,
    why: String,
) {
    out.push(Finding {
        kind,
        threat,
        command: cmd.text.clone(),
        why,
    });
}

/// Path-like values among a command's words: operands, `--opt=value` values,
/// `key=value` operands (`dd of=...`), `@file` data references.
fn path_operands(cmd: &SimpleCommand) -> Vec<String> {
    let mut out = Vec::new();
    let args = cmd.args();
    for (i, w) in args.iter().enumerate() {
        let v = w.value.as_str();
        if i > 0
            && NETWORK.contains(&cmd.program())
            && AUTH_OPTIONS.contains(&args[i - 1].value.as_str())
        {
            continue;
        }
        let v = v.strip_prefix("file://").unwrap_or(v);
        let candidates = [
            Some(v),
            v.split_once('=').map(|(_, r)| r),
            v.strip_prefix('@'),
        ];
        for c in candidates.into_iter().flatten() {
            if c.contains('/') || c.starts_with('~') || c.starts_with(".env") || c.starts_with('.')
            {
                out.push(c.to_string());
            }
        }
        // Paths inside a larger argument: `-c 'Include /proc/self/environ'`,
        // `man:/proc/self/environ`, `-H/bin/sh`.
        if v.contains(' ') || v.contains(':') || v.contains('=') || v.starts_with('-') {
            let from_slash = v
                .starts_with('-')
                .then(|| v.find('/').map(|i| &v[i..]))
                .flatten();
            for t in paths::paths_in_text(v).into_iter().chain(from_slash) {
                if t != v {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}

fn risks<'a>(items: impl IntoIterator<Item = &'a str>, home: &str) -> Vec<(String, PathRisk)> {
    items
        .into_iter()
        .map(|p| (p.to_string(), paths::classify(p, home)))
        .filter(|(_, r)| r.any())
        .collect()
}

/// The host part of a URL-looking word.
fn url_host(v: &str) -> Option<&str> {
    let (_, rest) = v.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host))
}

fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// Classify a bare argv (the sandbox's exec view) by building a one-command script.
pub fn classify_argv(argv: &[String], home: &str) -> Vec<Finding> {
    let cmd = SimpleCommand {
        argv: argv.iter().map(|a| Word::literal(a)).collect(),
        assignments: Vec::new(),
        redirects: Vec::new(),
        text: argv.join(" "),
        pipe: None,
        source: CommandSource::Direct,
        via: Vec::new(),
        background: false,
    };
    let script = Script {
        commands: vec![cmd],
        ..Script::default()
    };
    super::analyze_script(&script, home)
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
    let mut writes = risks(
        cmd.redirects
            .iter()
            .filter(|r| r.writes())
            .map(|r| r.target.value.as_str()),
        home,
    );
    writes.extend(written_operands(
        cmd,
        prog,
        &operands,
        code.as_deref(),
        home,
    ));

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
    git(cmd, prog, args, out);
    scheduling(cmd, prog, args, out);
    library_loading(cmd, prog, args, out);
}

fn assignments(cmd: &SimpleCommand, out: &mut Vec<Finding>) {
    for (name, value) in &cmd.assignments {
        match name.as_str() {
            "LD_PRELOAD"
            | "LD_AUDIT"
            | "LD_LIBRARY_PATH"
            | "DYLD_INSERT_LIBRARIES"
            | "BASH_ENV"
            | "ENV"
            | "PROMPT_COMMAND"
            | "PERL5OPT"
            | "PYTHONSTARTUP"
            | "NODE_OPTIONS"
            | "GIT_SSH_COMMAND"
            | "GIT_EXTERNAL_DIFF"
            | "PAGER"
            | "EDITOR"
            | "VISUAL"
            | "GIT_PAGER"
            | "MANPAGER"
            | "LESSOPEN"
            | "GIT_EDITOR"
            | "SUDO_ASKPASS"
            | "AUTOM4TE" => {
                if name.starts_with("LD_")
                    || name.starts_with("DYLD")
                    || !value.value.is_empty() && name != "LD_LIBRARY_PATH"
                {
                    push(
                        out,
                        FindingKind::LibraryInjection,
                        Threat::High,
                        cmd,
                        format!("sets {name}, making programs load or run {}", value.value),
                    );
                }
            }
            "HISTFILE" | "HISTSIZE" | "HISTFILESIZE" | "HISTCONTROL" | "HISTIGNORE" => {
                let v = value.value.as_str();
                if v.is_empty()
                    || v == "0"
                    || v == "/dev/null"
                    || name == "HISTIGNORE" && v.contains('*')
                    || v == "ignorespace"
                    || v == "ignoreboth"
                {
                    push(
                        out,
                        FindingKind::LogTampering,
                        Threat::High,
                        cmd,
                        format!("disables shell history ({name}={v})"),
                    );
                }
            }
            n if n.ends_with("PAGER")
                || n.ends_with("EDITOR")
                || n.ends_with("_COMMAND")
                || n.ends_with("_CMD")
                || n.ends_with("ASKPASS")
                || n == "PATH" && cmd.privileged() =>
            {
                push(
                    out,
                    FindingKind::LibraryInjection,
                    Threat::High,
                    cmd,
                    format!("sets {name}, choosing a program others will run"),
                );
            }
            _ => {}
        }
    }
}

fn disguise(cmd: &SimpleCommand, first: &Word, prog: &str, out: &mut Vec<Finding>) {
    let name_is_word = prog
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    // `r''m`, `r\m`, `"r"m`: quoting inside a plain program name has no use but to
    // dodge a matcher. A lone leading backslash (`\rm`, bypassing an alias) is an
    // idiom people use and stays benign.
    let inner_quote = first.quoted
        && first.raw != format!("\\{}", first.value)
        && first.raw != format!("'{}'", first.value)
        && first.raw != format!("\"{}\"", first.value);
    if first.encoded || first.ifs || cmd.argv.iter().any(|w| w.ifs) {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            cmd,
            format!(
                "the command is encoded or uses $IFS to hide itself ({})",
                first.raw
            ),
        );
    } else if inner_quote && name_is_word && !first.dynamic {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            cmd,
            format!(
                "the program name `{}` is quoted apart to disguise it",
                first.raw
            ),
        );
    } else if first.dynamic
        && matches!(
            cmd.source,
            CommandSource::Direct | CommandSource::Substitution
        )
        && cmd.via.is_empty()
    {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            cmd,
            format!("the program to run is computed at run time ({})", first.raw),
        );
    }
    if cmd
        .argv
        .iter()
        .any(|w| w.encoded && w.value.chars().any(|c| ";|&`$<>".contains(c)))
    {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            cmd,
            "an argument is hex/octal-encoded shell syntax".into(),
        );
    }
    if !prog.is_ascii() && prog.chars().any(char::is_alphabetic) {
        push(
            out,
            FindingKind::HiddenCharacters,
            Threat::High,
            cmd,
            format!("the program name `{prog}` uses non-ASCII look-alike letters"),
        );
    }
}

fn written_operands(
    cmd: &SimpleCommand,
    prog: &str,
    operands: &[String],
    code: Option<&str>,
    home: &str,
) -> Vec<(String, PathRisk)> {
    let args = cmd.args();
    let mut out = Vec::new();
    // Values of output options (`-o FILE`, `--output=FILE`, `of=FILE`) are writes
    // whatever the program.
    for (i, w) in args.iter().enumerate() {
        let v = w.value.as_str();
        let value = if matches!(
            v,
            "-o" | "--output"
                | "-w"
                | "--out"
                | "-out"
                | "--outfile"
                | "--log-file"
                | "-O"
                | "--output-document"
                | "-n"
                | "--filename"
        ) {
            args.get(i + 1).map(|a| a.value.as_str())
        } else {
            [
                "--output=",
                "--out=",
                "of=",
                "--outfile=",
                "--log-file=",
                "--output-document=",
            ]
            .iter()
            .find_map(|p| v.strip_prefix(p))
        };
        if let Some(p) = value {
            out.push(p);
        }
    }
    let positional: Vec<&str> = operands
        .iter()
        .map(String::as_str)
        .filter(|p| !p.starts_with('-'))
        .collect();
    match prog {
        "cp" | "mv" | "install" | "ln" | "rsync" | "scp" | "link" | "dos2unix" | "unix2dos" => {
            out.extend(positional.last().copied())
        }
        "tee" | "touch" | "truncate" | "rm" | "shred" | "unlink" | "rmdir" | "chmod" | "chown"
        | "chgrp" | "chattr" | "setfacl" | "vi" | "vim" | "nvim" | "nano" | "emacs" | "ed"
        | "ex" | "pico" | "sudoedit" | "crontab" | "visudo" | "vipw" => {
            out.extend(positional.iter().copied())
        }
        "sed" | "perl"
            if cmd
                .args()
                .iter()
                .any(|w| w.value.starts_with("-i") || w.value == "--in-place") =>
        {
            out.extend(positional.iter().copied())
        }
        _ if READERS.contains(&prog) => {}
        _ => {
            // Unknown programs: a takeover path (not a commonly read one like
            // /etc/passwd) among its operands is assumed written.
            for p in &positional {
                let r = paths::classify(p, home);
                let common_read = [
                    "/etc/passwd",
                    "/etc/group",
                    "/etc/hosts",
                    "/etc/resolv.conf",
                ]
                .contains(p);
                if (r.auth || r.persistence) && !common_read && !r.secret {
                    out.push(p);
                }
            }
        }
    }
    // Inline code that opens a takeover path for writing.
    let joined = args
        .iter()
        .map(|w| w.value.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let code = code.or(if READERS.contains(&prog) {
        None
    } else {
        Some(joined.as_str())
    });
    if let Some(code) = code {
        let writes_file = [
            "\"w",
            "'w",
            "\"a",
            "'a",
            "write",
            ">>",
            "> ",
            ">/",
            ">~",
            "O_WRONLY",
            "appendFile",
            "writeFile",
            "dump ",
            "--filename",
        ]
        .iter()
        .any(|m| code.contains(m));
        if writes_file {
            out.extend(paths::paths_in_text(code).into_iter().filter(|p| {
                let r = paths::classify(p, home);
                r.auth || r.persistence
            }));
        }
    }
    risks(out, home)
}

fn shells(cmd: &SimpleCommand, prog: &str, args: &[Word], script: &Script, out: &mut Vec<Finding>) {
    let fed = cmd.pipe.is_some_and(|p| p.index > 0)
        || cmd.redirects.iter().any(|r| {
            matches!(
                r.op,
                RedirectOp::HereDoc | RedirectOp::HereString | RedirectOp::In
            )
        });
    let has_script = args
        .iter()
        .any(|w| !w.value.starts_with('-') && !w.value.starts_with('+'))
        || args.iter().any(|w| {
            w.value.starts_with('-') && !w.value.starts_with("--") && w.value.contains('c')
        });
    let wrapped_by = match &cmd.source {
        CommandSource::Wrapped(w) => Some(w.as_str()),
        _ => None,
    };
    let privileged_mode = is_shell(prog)
        && args.iter().any(|w| {
            w.value == "-p"
                || (w.value.starts_with('-')
                    && !w.value.starts_with("--")
                    && w.value.contains('p')
                    && w.value.len() <= 4)
        });
    if privileged_mode {
        push(
            out,
            FindingKind::PrivilegeEscalation,
            Threat::Critical,
            cmd,
            format!("starts {prog} -p, keeping elevated (set-user-id) privileges"),
        );
    }
    if is_shell(prog) && has_script {
        if let Some(w) = wrapped_by.filter(|w| {
            !is_shell(w)
                && !is_privilege_wrapper(w)
                && !matches!(
                    *w,
                    "env"
                        | "nohup"
                        | "exec"
                        | "command"
                        | "time"
                        | "nice"
                        | "setsid"
                        | "timeout"
                        | "xargs"
                        | "find"
                        | "watch"
                        | "flock"
                        | "stdbuf"
                        | "ionice"
                        | "unbuffer"
                        | "strace"
                        | "script"
                        | "eval"
                )
        }) {
            push(
                out,
                FindingKind::ShellEscape,
                Threat::High,
                cmd,
                format!("{w} is used to run a shell ({prog})"),
            );
        }
    }
    if let CommandSource::Embedded(host) = &cmd.source {
        if !is_shell(prog) {
            push(
                out,
                FindingKind::CodeExecution,
                Threat::High,
                cmd,
                format!(
                    "{host} is used to run `{}`",
                    cmd.argv
                        .iter()
                        .map(|w| w.value.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
    }
    if is_shell(prog) && !has_script && !fed {
        match wrapped_by {
            Some(w) if is_privilege_wrapper(w) => push(
                out,
                FindingKind::PrivilegeEscalation,
                Threat::Critical,
                cmd,
                format!("opens a root shell through {w}"),
            ),
            Some(w)
                if !is_shell(w)
                    && !matches!(
                        w,
                        "env" | "nohup" | "exec" | "command" | "time" | "nice" | "setsid"
                    ) =>
            {
                push(
                    out,
                    FindingKind::ShellEscape,
                    Threat::High,
                    cmd,
                    format!("{w} is used to start a shell ({prog})"),
                )
            }
            _ => push(
                out,
                FindingKind::ShellSpawn,
                Threat::High,
                cmd,
                format!("starts an interactive shell ({prog})"),
            ),
        }
    }
    if TERMINALS.contains(&prog)
        && args
            .iter()
            .all(|w| w.value.starts_with('-') || w.value == "/dev/null")
        && !args.iter().any(|w| {
            [
                "-ls",
                "-list",
                "-r",
                "-x",
                "-c",
                "ls",
                "list-sessions",
                "attach",
            ]
            .contains(&w.value.as_str())
        })
    {
        push(
            out,
            FindingKind::ShellSpawn,
            Threat::High,
            cmd,
            format!("{prog} starts a new interactive shell"),
        );
    }
    // A shell binary handed to another program as an operand: `aa-exec /bin/sh`.
    if !is_shell(prog)
        && !DESCRIBERS.contains(&prog)
        && !READERS.contains(&prog)
        && !is_privilege_wrapper(prog)
    {
        let shell_path = args
            .iter()
            .flat_map(|w| paths::paths_in_text(&w.value))
            .find(|p| p.contains('/') && is_shell(program_name(p)));
        let keeps_privilege = args.iter().any(|w| {
            w.value == "-p"
                || w.value.contains("sh -p")
                || w.value.contains("sh\\ -p")
                || w.value.contains("\"-p\"")
        });
        if let Some(p) = shell_path {
            if matches!(prog, "cp" | "ln" | "install" | "mv" | "rsync") {
                push(
                    out,
                    FindingKind::ShellEscape,
                    Threat::High,
                    cmd,
                    format!("copies the shell {p} under another name"),
                );
            } else if !matches!(
                prog,
                "chmod"
                    | "chown"
                    | "apt"
                    | "apt-get"
                    | "dpkg"
                    | "ldd"
                    | "objdump"
                    | "nm"
                    | "strace"
                    | "printf"
            ) {
                let t = if keeps_privilege {
                    Threat::Critical
                } else {
                    Threat::High
                };
                push(
                    out,
                    FindingKind::ShellEscape,
                    t,
                    cmd,
                    format!("{prog} is given the shell {p} to run"),
                );
            }
        }
    }
    // Text piped into a shell or interpreter: download or decoded.
    if (is_shell(prog)
        || INTERPRETERS.contains(&prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')))
        && reads_stdin_script(args)
    {
        if let Some(pos) = cmd.pipe.filter(|p| p.index > 0) {
            let upstream: Vec<&SimpleCommand> = script
                .commands
                .iter()
                .filter(|c| {
                    c.pipe
                        .is_some_and(|p| p.id == pos.id && p.index < pos.index)
                })
                .collect();
            if upstream.iter().any(|c| DOWNLOADERS.contains(&c.program())) {
                push(
                    out,
                    FindingKind::PipeToShell,
                    Threat::High,
                    cmd,
                    format!("runs a downloaded script with {prog}"),
                );
            } else if upstream.iter().any(|c| is_decoder(c)) {
                push(
                    out,
                    FindingKind::Obfuscation,
                    Threat::High,
                    cmd,
                    format!("runs decoded text with {prog}"),
                );
            }
        }
    }
    // `sh -c "$(curl ...)"`, `bash <(wget ...)`, `eval "$(curl ...)"`, `. <(curl ...)`.
    if is_shell(prog) || matches!(prog, "eval" | "source" | ".") || INTERPRETERS.contains(&prog) {
        let substituted_download = script.commands.iter().any(|c| {
            c.source == CommandSource::Substitution
                && DOWNLOADERS.contains(&c.program())
                && cmd.text.contains(&c.text)
        });
        if substituted_download {
            push(
                out,
                FindingKind::PipeToShell,
                Threat::High,
                cmd,
                format!("runs a downloaded script with {prog}"),
            );
        }
        let substituted_decode = script.commands.iter().any(|c| {
            c.source == CommandSource::Substitution && is_decoder(c) && cmd.text.contains(&c.text)
        });
        if substituted_decode {
            push(
                out,
                FindingKind::Obfuscation,
                Threat::High,
                cmd,
                format!("runs decoded text with {prog}"),
            );
        }
    }
    if prog == "eval"
        && args.iter().any(|w| w.dynamic)
        && !out.iter().any(|f| f.command == cmd.text)
    {
        push(
            out,
            FindingKind::Obfuscation,
            Threat::High,
            cmd,
            "evaluates text only known at run time".into(),
        );
    }
}

fn is_decoder(c: &SimpleCommand) -> bool {
    let p = c.program();
    let decode_flag = c.args().iter().any(|w| {
        matches!(
            w.value.as_str(),
            "-d" | "--decode" | "-D" | "-r" | "-revert" | "-base64" | "enc" | "-ps" | "-p"
        )
    });
    (DECODERS.contains(&p) && decode_flag)
        || p == "rev"
        || (p == "printf"
            && c.args()
                .iter()
                .any(|w| w.raw.contains("\\x") || w.raw.contains("\\0")))
}

/// A shell reads its script from stdin when given no `-c` and no script file, or
/// `-s`, or `-` as the file.
fn reads_stdin_script(args: &[Word]) -> bool {
    let mut operands = args
        .iter()
        .filter(|w| !w.value.starts_with('-') || w.value == "-");
    let first = operands.next();
    let dash_c = args
        .iter()
        .any(|w| w.value.starts_with('-') && !w.value.starts_with("--") && w.value.contains('c'));
    let dash_s = args.iter().any(|w| {
        w.value == "-s"
            || w.value.starts_with('-') && !w.value.starts_with("--") && w.value.contains('s')
    });
    !dash_c && (first.is_none() || first.is_some_and(|w| w.value == "-") || dash_s)
}

/// `echo '... /bin/sh ...' > file` and friends: writing a payload that starts a
/// shell or reads a secret, for another program to run later.
fn written_payload(
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
        let spawns = crate::shell::unwrap::spawned_strings(body);
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

fn network_shell(
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
    let shellish = is_shell(prog) || INTERPRETERS.contains(&prog);
    if let Some(e) = exec_opt {
        let kind = if listen {
            FindingKind::BindShell
        } else {
            FindingKind::ReverseShell
        };
        push(
            out,
            kind,
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
    if let Some(pos) = cmd.pipe {
        if NETWORK.contains(&prog)
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
                let kind = if listen {
                    FindingKind::BindShell
                } else {
                    FindingKind::ReverseShell
                };
                push(
                    out,
                    kind,
                    Threat::Critical,
                    cmd,
                    format!("pipes a shell through {prog}"),
                );
            }
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

fn destruction(cmd: &SimpleCommand, prog: &str, args: &[Word], home: &str, out: &mut Vec<Finding>) {
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
            if let Some(w) = operands()
                .next()
                .filter(|w| paths::classify(&w.path_value(home), home).root_dir)
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

fn privilege(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
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
            if risky && has("run") || risky && has("exec") || risky && has("create") {
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

/// An interpreter started without a program: an interactive prompt.
fn is_repl(prog: &str, args: &[Word]) -> bool {
    let base = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let interp = INTERPRETERS.contains(&base)
        || matches!(
            base,
            "jjs"
                | "irb"
                | "ghci"
                | "julia"
                | "guile"
                | "R"
                | "scala"
                | "gdb"
                | "wish"
                | "csi"
                | "sqlite"
                | "mysql"
        );
    (interp && args.iter().all(|w| w.value.starts_with('-')))
        || (prog == "dotnet" && args.first().is_some_and(|w| w.value == "fsi"))
}

fn inline_code_behaviour(cmd: &SimpleCommand, prog: &str, code: &str, out: &mut Vec<Finding>) {
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

fn git(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
    if prog != "git" {
        return;
    }
    let sub = args
        .iter()
        .map(|w| w.value.as_str())
        .find(|v| !v.starts_with('-'));
    let has = |f: &str| {
        args.iter()
            .any(|w| w.value == f || w.value.starts_with(&format!("{f}=")))
    };
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

fn scheduling(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
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

fn library_loading(cmd: &SimpleCommand, prog: &str, args: &[Word], out: &mut Vec<Finding>) {
    for (i, w) in args.iter().enumerate() {
        let v = w.value.as_str();
        let so_value = i > 0
            && args[i - 1].value.starts_with('-')
            && !matches!(args[i - 1].value.as_str(), "-o" | "--output")
            && (v.ends_with(".so") || v.contains(".so."));
        if so_value {
            push(
                out,
                FindingKind::LibraryInjection,
                Threat::High,
                cmd,
                format!("{prog} is pointed at the shared library {v}"),
            );
        }
        let loads = matches!(
            v,
            "-engine"
                | "--engine"
                | "-load"
                | "--load"
                | "--preload"
                | "-plugin"
                | "--plugin"
                | "-dlopen"
                | "-z"
                | "--load-extension"
        );
        if loads {
            if let Some(lib) = args.get(i + 1).filter(|a| {
                a.value.contains(".so") || a.value.starts_with('/') || a.value.starts_with("./")
            }) {
                push(
                    out,
                    FindingKind::LibraryInjection,
                    Threat::High,
                    cmd,
                    format!("{prog} loads the library {}", lib.value),
                );
            }
        }
    }
    if prog == "ldconfig"
        || prog == "insmod"
        || prog == "modprobe" && !args.iter().any(|w| w.value == "-l" || w.value == "-r")
    {
        push(
            out,
            FindingKind::LibraryInjection,
            Threat::High,
            cmd,
            format!("{prog} loads code into the loader or kernel"),
        );
    }
}

/// Checks that need the whole script: a download later made executable or run.
pub(super) fn script_level(script: &Script, home: &str, out: &mut Vec<Finding>) {
    let _ = home;
    let tcp = script.commands.iter().find(|c| {
        c.redirects.iter().any(|r| {
            r.target.value.starts_with("/dev/tcp/") || r.target.value.starts_with("/dev/udp/")
        })
    });
    if let Some(t) = tcp {
        if script.commands.iter().any(|c| is_shell(c.program())) {
            push(
                out,
                FindingKind::ReverseShell,
                Threat::Critical,
                t,
                "connects a shell to a /dev/tcp socket".into(),
            );
        }
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
                ) {
                    if let Some(f) = c.args().get(i + 1) {
                        downloaded.push(f.value.trim_start_matches("./").to_string());
                    }
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
        let interp = (is_shell(c.program()) || INTERPRETERS.contains(&c.program()))
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
