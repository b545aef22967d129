//! Seeing through wrappers: the program that really runs.
//!
//! `sudo env X=1 nice -n5 timeout 9 rm -rf /` runs `rm`. A rule for `rm` and the
//! classifier must see it, and also that it runs as root. Commands handed to another
//! program as text (`bash -c`, `eval`, `find -exec`, `su -c`, `watch`, an option such
//! as `--checkpoint-action=exec=...` or `core.pager=...`, `!cmd` escapes of vim/gdb/
//! less, `system(...)` inside `python -c`/`awk`) are parsed as scripts of their own.
//! The wrapper tables are option grammars, not lists of bad commands: they say which
//! options consume a value so the first real operand is found.

use super::command::{CommandSource, RedirectOp, SimpleCommand, basename};
use super::options::{bang_command, command_option, find_exec, git_commands, option_value};
use super::payload::spawned_strings;
use super::words::Word;

/// What a wrapper runs.
pub(crate) enum Inner {
    /// A program with arguments.
    Command(SimpleCommand),
    /// Text run by a shell.
    Script {
        text: String,
        source: CommandSource,
        via: Vec<String>,
    },
}

/// Wrappers that run their command as another (usually more privileged) user.
pub(crate) fn is_privilege_wrapper(name: &str) -> bool {
    matches!(
        name,
        "sudo" | "doas" | "run0" | "pkexec" | "su" | "runuser" | "sg" | "sudoedit" | "calife"
    )
}

/// Interpreters that run code read from stdin.
pub(crate) fn is_interpreter(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    matches!(
        base,
        "python"
            | "pypy"
            | "perl"
            | "ruby"
            | "node"
            | "nodejs"
            | "php"
            | "lua"
            | "bun"
            | "deno"
            | "tclsh"
            | "osascript"
            | "Rscript"
            | "julia"
            | "guile"
    )
}

/// Programs that are shells: `-c TEXT` is a script and no arguments means an
/// interactive shell.
pub(crate) fn is_shell(name: &str) -> bool {
    matches!(
        name,
        "sh" | "bash"
            | "zsh"
            | "dash"
            | "ksh"
            | "mksh"
            | "pdksh"
            | "ash"
            | "yash"
            | "posh"
            | "fish"
            | "tcsh"
            | "csh"
            | "rbash"
            | "rc"
            | "sash"
            | "es"
            | "elvish"
            | "nu"
            | "xonsh"
            | "oksh"
            | "ksh93"
            | "lksh"
            | "bash5"
            | "hush"
            | "pwsh"
            | "powershell"
    )
}

struct Grammar {
    /// Options that consume the next word (or `--opt=value`).
    valued: &'static [&'static str],
    /// Operands to skip after the options before the command starts.
    skip_operands: usize,
}

/// Wrappers whose remaining words are a command line of their own.
fn grammar(name: &str) -> Option<Grammar> {
    let g = |valued: &'static [&'static str], skip_operands| {
        Some(Grammar {
            valued,
            skip_operands,
        })
    };
    match name {
        "sudo" => g(
            &[
                "-u",
                "-g",
                "-C",
                "-D",
                "-h",
                "-p",
                "-r",
                "-t",
                "-T",
                "-U",
                "-R",
                "--user",
                "--group",
                "--host",
                "--prompt",
                "--chdir",
                "--role",
                "--type",
                "--other-user",
                "--close-from",
                "--chroot",
                "--command-timeout",
            ],
            0,
        ),
        "doas" => g(&["-u", "-C"], 0),
        "run0" => g(
            &[
                "-u",
                "--user",
                "-g",
                "--group",
                "-D",
                "--chdir",
                "--setenv",
                "--unit",
                "--property",
                "--description",
                "--slice",
                "--nice",
                "--machine",
            ],
            0,
        ),
        "pkexec" => g(&["--user", "-u"], 0),
        "nohup" | "unbuffer" | "caffeinate" | "nocorrect" | "noglob" | "builtin" | "torsocks"
        | "fakeroot" | "coproc" | "numactl" | "chpst" | "setpriv" | "prlimit" | "systemd-run"
        | "setsid" | "firejail" | "catchsegv" | "trickle" | "faketime" => g(&[], 0),
        "time" => g(&["-f", "--format", "-o", "--output"], 0),
        "nice" => g(&["-n", "--adjustment"], 0),
        "ionice" => g(&["-c", "-n", "-t", "--class", "--classdata"], 0),
        "stdbuf" => g(&["-i", "-o", "-e", "--input", "--output", "--error"], 0),
        "timeout" => g(&["-s", "-k", "--signal", "--kill-after"], 1),
        "chrt" => g(&["-T", "-P", "-D"], 1),
        "taskset" => g(&[], 1),
        "flock" => g(&["-w", "--timeout", "-E", "--conflict-exit-code"], 1),
        "chroot" => g(&["--userspec", "--groups"], 1),
        "proxychains" | "proxychains4" => g(&["-f"], 0),
        "strace" | "ltrace" => g(
            &[
                "-o", "-p", "-e", "-s", "-a", "-u", "-E", "-P", "-I", "-b", "-X", "-O", "-S", "-U",
            ],
            0,
        ),
        "valgrind" | "gdbserver" => g(&[], 0),
        "unshare" => g(
            &[
                "--map-user",
                "--map-group",
                "--setgroups",
                "--propagation",
                "-S",
                "-G",
                "-R",
                "-w",
                "--root",
                "--wd",
            ],
            0,
        ),
        "nsenter" => g(
            &[
                "-t", "--target", "-S", "-G", "--setuid", "--setgid", "-r", "-w", "--root", "--wd",
            ],
            0,
        ),
        "xargs" => g(
            &[
                "-I",
                "-i",
                "-n",
                "-P",
                "-d",
                "-E",
                "-e",
                "-L",
                "-l",
                "-s",
                "-a",
                "--max-args",
                "--max-procs",
                "--delimiter",
                "--arg-file",
                "--replace",
                "--max-lines",
                "--max-chars",
                "--eof",
                "--process-slot-var",
            ],
            0,
        ),
        "exec" => g(&["-a"], 0),
        "command" => g(&[], 0),
        "watch" => g(
            &["-n", "--interval", "-d", "-q", "--equexit", "-s", "--shell"],
            0,
        ),
        "busybox" => g(&[], 0),
        "env" => g(
            &[
                "-u",
                "--unset",
                "-C",
                "--chdir",
                "-S",
                "--split-string",
                "-P",
                "--default-signal",
                "--ignore-signal",
                "--block-signal",
            ],
            0,
        ),
        _ => None,
    }
}

/// Everything `cmd` runs by way of its arguments.
pub(crate) fn unwrap(cmd: &SimpleCommand) -> Vec<Inner> {
    let mut out = Vec::new();
    let Some(first) = cmd.argv.first() else {
        return out;
    };
    let name = program_name(&first.value);
    let mut via = cmd.via.clone();
    via.push(name.to_string());
    let script = |text: String, out: &mut Vec<Inner>| {
        if !text.trim().is_empty() {
            out.push(Inner::Script {
                text,
                source: CommandSource::Wrapped(name.to_string()),
                via: via.clone(),
            });
        }
    };
    let embedded = |text: String, out: &mut Vec<Inner>| {
        if !text.trim().is_empty() {
            out.push(Inner::Script {
                text,
                source: CommandSource::Embedded(name.to_string()),
                via: via.clone(),
            });
        }
    };
    let args = cmd.args();

    // Text fed on stdin by a here-doc or here-string: a script for a shell, code
    // for an interpreter.
    let stdin_text: Vec<String> = cmd
        .redirects
        .iter()
        .filter_map(|r| match r.op {
            RedirectOp::HereDoc => r.body.clone(),
            RedirectOp::HereString => Some(r.target.value.clone()),
            _ => None,
        })
        .collect();
    if is_shell(name) {
        let mut has_script = false;
        shell_args(args, |t| {
            has_script = true;
            script(t, &mut out)
        });
        if !has_script {
            for text in &stdin_text {
                out.push(Inner::Script {
                    text: text.clone(),
                    source: CommandSource::HereDoc,
                    via: via.clone(),
                });
            }
        }
    } else if let Some(g) = grammar(name) {
        wrapper(cmd, name, &g, args, &via, &mut out);
    } else {
        match name {
            "eval" => script(join(args), &mut out),
            // `trap 'cmd' SIG` and `alias x='cmd'` store a command to run later.
            "trap" => {
                if let Some(w) = args.first() {
                    script(w.value.clone(), &mut out);
                }
            }
            "alias" => {
                for w in args {
                    if let Some((_, body)) = w.value.split_once('=') {
                        script(body.to_string(), &mut out);
                    }
                }
            }
            // `parallel cmd ::: args`: the command is everything before `:::`.
            "parallel" => {
                let cmd_words: Vec<&Word> = args
                    .iter()
                    .skip_while(|w| w.value.starts_with('-'))
                    .take_while(|w| !w.value.starts_with(":::"))
                    .collect();
                // Each input after `:::` is appended to the command.
                let inputs: Vec<&str> = args
                    .iter()
                    .skip_while(|w| !w.value.starts_with(":::"))
                    .skip(1)
                    .map(|w| w.value.as_str())
                    .take(4)
                    .collect();
                let base = cmd_words
                    .iter()
                    .map(|w| w.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                for input in &inputs {
                    script(format!("{base} {input}"), &mut out);
                }
                if !cmd_words.is_empty() && inputs.is_empty() {
                    script(
                        cmd_words
                            .iter()
                            .map(|w| w.value.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        &mut out,
                    );
                }
            }
            "git" => git_commands(args, |t| embedded(t, &mut out)),
            "su" | "runuser" | "sg" | "script" | "flock" => {
                if let Some(text) = option_value(args, &["-c", "--command", "--session-command"]) {
                    script(text, &mut out);
                } else if name == "sg"
                    && let Some(w) = args.get(1)
                {
                    script(w.value.clone(), &mut out);
                }
            }
            "find" => find_exec(cmd, args, &via, &mut out),
            _ => {}
        }
        if is_interpreter(name) {
            for text in &stdin_text {
                for t in spawned_strings(text) {
                    embedded(t, &mut out);
                }
            }
        }
        // Strings handed to process-spawning calls in any argument: inline code of
        // python/perl/ruby/node/php/awk and of anything else that evaluates code
        // (`guile -c '(system "sh")'`, `julia -e 'run(`sh`)'`, make's `$(shell ...)`).
        for w in args {
            if w.value.contains(['(', '`', '"', '\'', '{']) {
                for t in spawned_strings(&w.value) {
                    embedded(t, &mut out);
                }
            }
            if let Some(rest) = w.value.split_once("$(shell ").map(|(_, r)| r) {
                embedded(rest.trim_end_matches(')').to_string(), &mut out);
            }
        }
    }
    // Any program: commands given in options (`--checkpoint-action=exec=sh`,
    // `-o ProxyCommand=...`, `core.pager=...`) and `!cmd` / `:!cmd` escapes.
    for (i, w) in args.iter().enumerate() {
        if let Some(text) = bang_command(&w.value) {
            embedded(text, &mut out);
        }
        if let Some(text) = command_option(args, i) {
            out.push(Inner::Script {
                text,
                source: CommandSource::OptionValue(name.to_string()),
                via: via.clone(),
            });
        }
    }
    out
}

/// A program name as invoked: the basename, without the `!`/`:!` a line typed into
/// an interactive program may start with.
pub fn program_name(word: &str) -> &str {
    basename(word.trim_start_matches([':', '!']).trim_start())
}

fn join(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.value.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `bash [opts] -c TEXT` → TEXT. Option letters may be grouped (`-lc`, `-ec`).
fn shell_args(args: &[Word], mut script: impl FnMut(String)) {
    let mut i = 0;
    let mut wants_c = false;
    while let Some(w) = args.get(i) {
        let v = w.value.as_str();
        if wants_c {
            script(v.to_string());
            return;
        }
        if v == "--" {
            return;
        }
        if v == "-o" || v == "+o" || v == "-O" || v == "+O" || v == "--rcfile" || v == "--init-file"
        {
            i += 2;
            continue;
        }
        if let Some(flags) = v.strip_prefix('-').filter(|f| !f.starts_with('-')) {
            if flags.contains('c') {
                wants_c = true;
            }
        } else if !v.starts_with('-') && !v.starts_with('+') {
            return; // a script file: its content is not known here
        }
        i += 1;
    }
}

fn wrapper(
    cmd: &SimpleCommand,
    name: &str,
    g: &Grammar,
    args: &[Word],
    via: &[String],
    out: &mut Vec<Inner>,
) {
    let mut i = 0;
    let mut assignments = cmd.assignments.clone();
    while let Some(w) = args.get(i) {
        let v = w.value.as_str();
        if v == "--" {
            i += 1;
            break;
        }
        if !v.starts_with('-') || v == "-" {
            break;
        }
        if name == "command" && (v == "-v" || v == "-V") {
            return; // a lookup, runs nothing
        }
        if name == "env" && (v == "-S" || v == "--split-string" || v.starts_with("--split-string="))
        {
            let text = v
                .strip_prefix("--split-string=")
                .map(str::to_string)
                .or_else(|| args.get(i + 1).map(|a| a.value.clone()));
            if let Some(t) = text {
                let rest = join(args.get(i + 2..).unwrap_or(&[]));
                out.push(Inner::Script {
                    text: format!("{t} {rest}"),
                    source: CommandSource::Wrapped(name.into()),
                    via: via.to_vec(),
                });
            }
            return;
        }
        // `-u root` consumes the next word; `-uroot` and `--user=root` do not.
        i += if g.valued.contains(&v) { 2 } else { 1 };
    }
    if matches!(name, "env" | "sudo" | "doas" | "run0") {
        while let Some(w) = args.get(i) {
            match w.value.split_once('=') {
                Some((k, val))
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    assignments.push((
                        k.to_string(),
                        Word {
                            value: val.to_string(),
                            ..w.clone()
                        },
                    ));
                    i += 1;
                }
                _ => break,
            }
        }
    }
    i += g.skip_operands;
    let rest = args.get(i..).unwrap_or(&[]);
    if rest.is_empty() {
        return;
    }
    // `flock FILE -c 'cmd'`: the command is a script.
    if name == "flock"
        && rest
            .first()
            .is_some_and(|w| w.value == "-c" || w.value == "--command")
    {
        if let Some(t) = rest.get(1) {
            out.push(Inner::Script {
                text: t.value.clone(),
                source: CommandSource::Wrapped(name.into()),
                via: via.to_vec(),
            });
        }
        return;
    }
    if name == "watch" && !args.iter().any(|w| w.value == "-x" || w.value == "--exec") {
        out.push(Inner::Script {
            text: join(rest),
            source: CommandSource::Wrapped(name.into()),
            via: via.to_vec(),
        });
        return;
    }
    if name == "sudo"
        && args
            .iter()
            .take(i)
            .any(|w| w.value == "-s" || w.value == "--shell")
    {
        out.push(Inner::Script {
            text: join(rest),
            source: CommandSource::Wrapped(name.into()),
            via: via.to_vec(),
        });
        return;
    }
    out.push(Inner::Command(SimpleCommand {
        argv: rest.to_vec(),
        assignments,
        // The wrapper execs its command with the same open files.
        redirects: cmd.redirects.clone(),
        text: cmd.text.clone(),
        pipe: cmd.pipe,
        pipeline_text: cmd.pipeline_text.clone(),
        source: CommandSource::Wrapped(name.into()),
        via: via.to_vec(),
        background: cmd.background,
        index: 0,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bang_commands() {
        assert_eq!(bang_command(":!/bin/sh").as_deref(), Some("/bin/sh"));
        assert_eq!(bang_command("!sh").as_deref(), Some("sh"));
        assert_eq!(bang_command(":shell").as_deref(), Some("sh"));
        assert_eq!(bang_command("!!"), None);
        assert_eq!(bang_command("hello!"), None);
    }
}
