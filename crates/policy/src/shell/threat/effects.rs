//! What commands do to files and the network: program tables, the paths a
//! command reads and writes, and small predicates the checks share.

use warden_types::Threat;

use super::paths::{self, PathRisk};
use super::{Finding, FindingKind};
use crate::shell::command::{RedirectOp, SimpleCommand};
use crate::shell::payload::inline_code;
use crate::shell::unwrap::{is_interpreter, program_name};
use crate::shell::words::Word;

/// Programs that only read their file operands (so a takeover path among their
/// arguments is read, not written).
pub(crate) const READERS: &[&str] = &[
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
pub(super) const DESCRIBERS: &[&str] = &[
    "which", "type", "whereis", "man", "info", "file", "ls", "stat", "readlink", "realpath",
    "chsh", "ldd", "command", "help", "tldr", "echo",
];

/// Programs that send data to the network.
pub(crate) const NETWORK: &[&str] = &[
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
pub(super) const AUTH_OPTIONS: &[&str] = &[
    "-i",
    "--identity",
    "--key",
    "--cert",
    "--cacert",
    "-E",
    "--private-key",
];

/// Programs whose output is a download.
pub(super) const DOWNLOADERS: &[&str] = &[
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
pub(super) const DECODERS: &[&str] = &["base64", "base32", "xxd", "openssl", "rev", "uudecode"];

/// Terminal programs that start a shell when given no command.
pub(super) const TERMINALS: &[&str] = &["screen", "tmux", "byobu", "script"];

pub(super) fn push(
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
        index: Some(cmd.index),
        pipeline: None,
    });
}

/// A high finding about data flowing through the pipeline `cmd` is a stage of:
/// located on the whole pipeline, so a rule trusting one stage (the download)
/// can loosen it and a rule for another pipeline cannot.
pub(super) fn push_on_pipeline(
    out: &mut Vec<Finding>,
    kind: FindingKind,
    cmd: &SimpleCommand,
    why: String,
) {
    out.push(Finding {
        kind,
        threat: Threat::High,
        command: cmd
            .pipeline_text
            .clone()
            .unwrap_or_else(|| cmd.text.clone()),
        why,
        index: Some(cmd.index),
        pipeline: cmd.pipe.map(|p| p.id),
    });
}

/// Path-like values among a command's words: operands, `--opt=value` values,
/// `key=value` operands (`dd of=...`), `@file` data references.
pub(super) fn path_operands(cmd: &SimpleCommand) -> Vec<String> {
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
        // A URL is not a path (its `//host/...` would read as one), except file:.
        if v.contains("://") && !v.starts_with("file://") {
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

pub(super) fn risks<'a>(
    items: impl IntoIterator<Item = &'a str>,
    home: &str,
) -> Vec<(String, PathRisk)> {
    items
        .into_iter()
        .map(|p| (p.to_string(), paths::classify(p, home)))
        .filter(|(_, r)| r.any())
        .collect()
}

/// The host part of a URL-looking word.
pub(super) fn url_host(v: &str) -> Option<&str> {
    let (_, rest) = v.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host))
}

pub(super) fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// Paths a command writes: redirections, output options, and operands of programs
/// that write them (the destination of `cp`, every file of `tee`, `sed -i` ...).
/// Unknown programs: a takeover path (other than commonly read ones) among their
/// operands is assumed written.
pub(crate) fn written_paths(cmd: &SimpleCommand, home: &str) -> Vec<String> {
    let prog = cmd
        .argv
        .first()
        .map(|w| program_name(&w.value))
        .unwrap_or("");
    let args = cmd.args();
    let mut out: Vec<String> = cmd
        .redirects
        .iter()
        .filter(|r| r.writes())
        .map(|r| r.target.value.clone())
        .collect();
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
        out.extend(value.map(str::to_string));
    }
    // Programs known to write their operands write any operand, path-like or not
    // (`cp x notes.txt` writes through a `notes.txt` symlink).
    let bare = bare_operands(cmd);
    let positional_all: Vec<&str> = bare.iter().map(String::as_str).collect();
    match prog {
        // `-t DIR` / `--target-directory=DIR`: each source lands in DIR.
        "cp" | "install" | "ln" | "mv"
            if args
                .iter()
                .any(|w| w.value == "-t" || w.value.starts_with("--target-directory")) =>
        {
            let dir = args
                .windows(2)
                .find(|p| p[0].value == "-t")
                .map(|p| p[1].value.clone())
                .or_else(|| {
                    args.iter().find_map(|w| {
                        w.value
                            .strip_prefix("--target-directory=")
                            .map(str::to_string)
                    })
                });
            if let Some(dir) = dir {
                let sources = positional_all.iter().filter(|s| **s != dir.as_str());
                out.extend(sources.map(|s| {
                    format!(
                        "{}/{}",
                        dir.trim_end_matches('/'),
                        s.rsplit('/').next().unwrap_or(s)
                    )
                }));
                if prog == "mv" {
                    out.extend(
                        positional_all
                            .iter()
                            .filter(|s| **s != dir.as_str())
                            .map(|s| s.to_string()),
                    );
                }
            }
        }
        // `mv` removes its sources as well as writing its destination.
        "mv" => out.extend(positional_all.iter().map(|p| p.to_string())),
        "find" => {
            for (i, w) in args.iter().enumerate() {
                if matches!(
                    w.value.as_str(),
                    "-fprint" | "-fprint0" | "-fprintf" | "-fls"
                ) {
                    out.extend(args.get(i + 1).map(|a| a.value.clone()));
                }
            }
            if args.iter().any(|w| w.value == "-delete") {
                out.extend(
                    crate::shell::find_roots(args)
                        .into_iter()
                        .map(|w| w.value.clone()),
                );
            }
        }
        "cp" | "install" | "ln" | "rsync" | "scp" | "link" | "dos2unix" | "unix2dos" => {
            out.extend(positional_all.last().map(|p| p.to_string()))
        }
        "tee" | "touch" | "truncate" | "rm" | "shred" | "unlink" | "rmdir" | "mkdir" | "chmod"
        | "chown" | "chgrp" | "chattr" | "setfacl" | "vi" | "vim" | "nvim" | "nano" | "emacs"
        | "ed" | "ex" | "pico" | "sudoedit" | "crontab" | "visudo" | "vipw" => {
            out.extend(positional_all.iter().map(|p| p.to_string()))
        }
        "sed" | "perl"
            if args
                .iter()
                .any(|w| w.value.starts_with("-i") || w.value == "--in-place") =>
        {
            out.extend(positional_all.iter().map(|p| p.to_string()))
        }
        _ if READERS.contains(&prog) => {}
        _ => {
            for p in path_operands(cmd).iter().filter(|p| !p.starts_with('-')) {
                let r = paths::classify(p, home);
                let common_read = [
                    "/etc/passwd",
                    "/etc/group",
                    "/etc/hosts",
                    "/etc/resolv.conf",
                ]
                .contains(&p.as_str());
                if (r.auth || r.persistence) && !common_read && !r.secret {
                    out.push(p.to_string());
                }
            }
        }
    }
    // Code (inline or in an argument) that opens a takeover path for writing.
    let joined = args
        .iter()
        .map(|w| w.value.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let code = inline_code(prog, args).or_else(|| (!READERS.contains(&prog)).then_some(joined));
    // Without a `/` or `~` no takeover path can be named; skip the scan.
    if let Some(code) = code.filter(|c| c.contains(['/', '~'])) {
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
            out.extend(
                paths::paths_in_text(&code)
                    .into_iter()
                    .filter(|p| {
                        let r = paths::classify(p, home);
                        r.auth || r.persistence
                    })
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Paths a command reads: path-like operands (and paths inside arguments), input
/// redirections.
/// Operands that are not options and not URLs: any of them may name a file (a
/// symlink in the workspace looks like a plain word).
/// Programs whose operands are never files they open (`echo ~/.ssh/id_rsa` reads
/// nothing).
fn takes_no_files(cmd: &SimpleCommand) -> bool {
    matches!(
        cmd.program(),
        "echo"
            | "printf"
            | "cd"
            | "pushd"
            | "popd"
            | "sleep"
            | "kill"
            | "type"
            | "which"
            | "command"
            | "alias"
            | "unset"
            | "export"
            | "set"
            | "true"
            | "false"
    )
}

pub(crate) fn bare_operands(cmd: &SimpleCommand) -> Vec<String> {
    if takes_no_files(cmd) {
        return Vec::new();
    }
    let args = cmd.args();
    let network = NETWORK.contains(&cmd.program());
    args.iter()
        .enumerate()
        // A network client's identity file authenticates it; it is not sent.
        .filter(|(i, _)| !(network && *i > 0 && AUTH_OPTIONS.contains(&args[i - 1].value.as_str())))
        .map(|(_, w)| w)
        .filter(|w| {
            let v = w.value.as_str();
            !v.is_empty() && !v.starts_with('-') && !v.contains("://") && !v.contains('\n')
        })
        .map(literal_globs)
        .collect()
}

/// Glob characters bash would expand only when unquoted: a quoted word's `*`,
/// `?`, `[` are literal, so they are replaced by private-use characters that no
/// glob logic treats as wildcards.
pub(crate) fn literal_globs(w: &Word) -> String {
    if w.quoted && w.value.contains(['*', '?', '[']) {
        w.value
            .replace('*', "\u{E000}")
            .replace('?', "\u{E001}")
            .replace('[', "\u{E002}")
    } else {
        w.value.clone()
    }
}

/// Paths a command may read, for rule matching: every operand (see
/// [`bare_operands`]), paths inside arguments, input redirections.
pub(crate) fn read_paths(cmd: &SimpleCommand) -> Vec<String> {
    // These print or move; even their path-like operands are not read. (Other
    // programs without file operands may still name paths, e.g. `export X=path`.)
    if matches!(cmd.program(), "echo" | "printf" | "cd" | "pushd" | "popd") {
        return cmd
            .redirects
            .iter()
            .filter(|r| r.op == RedirectOp::In)
            .map(|r| r.target.value.clone())
            .collect();
    }
    // Parts of quoted words keep their glob characters literal.
    let quoted: Vec<&str> = cmd
        .args()
        .iter()
        .filter(|w| w.quoted)
        .map(|w| w.value.as_str())
        .collect();
    let mut out: Vec<String> = path_operands(cmd)
        .into_iter()
        .map(|p| {
            if quoted.iter().any(|q| q.contains(p.as_str())) {
                literal_globs(&Word {
                    value: p,
                    quoted: true,
                    ..Word::default()
                })
            } else {
                p
            }
        })
        .collect();
    for b in bare_operands(cmd) {
        if !out.contains(&b) {
            out.push(b);
        }
    }
    out.extend(
        cmd.redirects
            .iter()
            .filter(|r| r.op == RedirectOp::In)
            .map(|r| r.target.value.clone()),
    );
    out
}

pub(super) fn is_decoder(c: &SimpleCommand) -> bool {
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
pub(super) fn reads_stdin_script(args: &[Word]) -> bool {
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

/// An interpreter started without a program: an interactive prompt.
pub(super) fn is_repl(prog: &str, args: &[Word]) -> bool {
    let base = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let interp = is_interpreter(base)
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
