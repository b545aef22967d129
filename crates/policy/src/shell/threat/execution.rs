//! Checks on what a command runs: shells started directly or through other
//! programs, payloads written for later, network-connected shells, disguised
//! commands, environment variables that make programs run or load code.

use warden_types::Threat;

use super::paths;
use super::{Finding, FindingKind};
use crate::shell::command::{CommandSource, RedirectOp, Script, SimpleCommand};
use crate::shell::unwrap::{is_interpreter, is_privilege_wrapper, is_shell, program_name};
use crate::shell::words::Word;

use super::effects::*;

pub(super) fn shells(
    cmd: &SimpleCommand,
    prog: &str,
    args: &[Word],
    script: &Script,
    out: &mut Vec<Finding>,
) {
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
        CommandSource::Wrapped(w) | CommandSource::OptionValue(w) => Some(w.as_str()),
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
    if is_shell(prog)
        && has_script
        && let Some(w) = wrapped_by.filter(|w| {
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
        })
    {
        push(
            out,
            FindingKind::ShellEscape,
            Threat::High,
            cmd,
            format!("{w} is used to run a shell ({prog})"),
        );
    }
    // Run through an option, with arguments only the host program knows: a
    // destructive or networking program there is as good as unrestricted.
    if let CommandSource::OptionValue(host) = &cmd.source
        && !is_shell(prog)
        && (matches!(prog, "curl" | "wget" | "nc" | "ncat" | "netcat" | "socat")
            || matches!(
                prog,
                "rm" | "shred"
                    | "dd"
                    | "mv"
                    | "cp"
                    | "chmod"
                    | "chown"
                    | "truncate"
                    | "tee"
                    | "touch"
                    | "ln"
                    | "install"
                    | "kill"
                    | "pkill"
                    | "xargs"
                    | "eval"
            ))
    {
        push(
            out,
            FindingKind::CodeExecution,
            Threat::High,
            cmd,
            format!("{host} is made to run {prog} on arguments it chooses"),
        );
    }
    if let CommandSource::Embedded(host) = &cmd.source
        && !is_shell(prog)
    {
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
    if (is_shell(prog) || is_interpreter(prog))
        && reads_stdin_script(args)
        && let Some(pos) = cmd.pipe.filter(|p| p.index > 0)
    {
        let upstream: Vec<&SimpleCommand> = script
            .commands
            .iter()
            .filter(|c| {
                c.pipe
                    .is_some_and(|p| p.id == pos.id && p.index < pos.index)
            })
            .collect();
        if upstream.iter().any(|c| DOWNLOADERS.contains(&c.program())) {
            push_on_pipeline(
                out,
                FindingKind::PipeToShell,
                cmd,
                format!("runs a downloaded script with {prog}"),
            );
        } else if is_shell(prog)
            && !upstream.iter().any(|c| {
                matches!(c.program(), "echo" | "printf" | "cat")
                    && c.args().iter().all(|w| !w.dynamic)
            })
            && !upstream.iter().any(|c| is_decoder(c))
        {
            push_on_pipeline(
                out,
                FindingKind::CodeExecution,
                cmd,
                format!("runs text generated by another command with {prog}"),
            );
        } else if upstream.iter().any(|c| is_decoder(c)) {
            push_on_pipeline(
                out,
                FindingKind::Obfuscation,
                cmd,
                format!("runs decoded text with {prog}"),
            );
        }
    }
    // `sh -c "$(curl ...)"`, `bash <(wget ...)`, `eval "$(curl ...)"`, `. <(curl ...)`.
    if is_shell(prog) || matches!(prog, "eval" | "source" | ".") || is_interpreter(prog) {
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

pub(super) fn library_loading(
    cmd: &SimpleCommand,
    prog: &str,
    args: &[Word],
    out: &mut Vec<Finding>,
) {
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
        if loads
            && let Some(lib) = args.get(i + 1).filter(|a| {
                a.value.contains(".so") || a.value.starts_with('/') || a.value.starts_with("./")
            })
        {
            push(
                out,
                FindingKind::LibraryInjection,
                Threat::High,
                cmd,
                format!("{prog} loads the library {}", lib.value),
            );
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

pub(super) fn disguise(cmd: &SimpleCommand, first: &Word, prog: &str, out: &mut Vec<Finding>) {
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
    } else if first.dynamic {
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

pub(super) fn assignments(cmd: &SimpleCommand, out: &mut Vec<Finding>) {
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
            | "AUTOM4TE"
                if (name.starts_with("LD_")
                    || name.starts_with("DYLD")
                    || !value.value.is_empty() && name != "LD_LIBRARY_PATH") =>
            {
                push(
                    out,
                    FindingKind::LibraryInjection,
                    Threat::High,
                    cmd,
                    format!("sets {name}, making programs load or run {}", value.value),
                );
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
