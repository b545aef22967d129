//! Shell commands as subjects: the files they read and write (resolved, or
//! judged by what they can still become), the destinations they name, and how
//! consequential they are for the autonomy defaults.

use std::path::{Path, PathBuf};

use super::{CommandClass, FileOp, Subject};
use crate::net;
use crate::path::{self, PathContext};
use crate::shell::{self, Finding, SimpleCommand};

/// Deleting a directory that holds a system or a home, wherever `cd` and
/// relative paths led: judged on the resolved paths, which the text-only
/// classifier cannot see (`cd ~ && rm -rf .`).
/// Whether a command reads everything below its operands, per program (`ls -r`
/// reverses, `grep -r` recurses).
fn reads_recursively(cmd: &SimpleCommand) -> bool {
    let args = cmd.args();
    let short_has = |letters: &[char]| {
        args.iter().any(|w| {
            w.value.starts_with('-')
                && !w.value.starts_with("--")
                && w.value.chars().skip(1).any(|c| letters.contains(&c))
        })
    };
    let long = |names: &[&str]| {
        args.iter().any(|w| {
            names.iter().any(|n| {
                w.value == *n || w.value.strip_prefix(*n).is_some_and(|r| r.starts_with('='))
            })
        })
    };
    match cmd.program() {
        "tar" | "zip" | "rsync" | "rg" | "ag" | "7z" | "borg" | "restic" => true,
        "grep" | "egrep" | "fgrep" => {
            short_has(&['r', 'R'])
                || long(&["--recursive", "--dereference-recursive"])
                || args
                    .windows(2)
                    .any(|p| p[0].value == "-d" && p[1].value == "recurse")
                || long(&["--directories"])
        }
        "cp" | "scp" | "diff" | "chmod" | "chown" => {
            short_has(&['r', 'R', 'a']) || long(&["--recursive", "--archive"])
        }
        _ => long(&["--recursive"]),
    }
}

/// Where a recursive writer puts a tree (`cp -r SRC DEST`, `rsync SRC DEST`,
/// `unzip -d DEST`, `tar -x -C DEST`): the destination, for rules on paths below.
fn tree_destination(cmd: &SimpleCommand) -> Option<String> {
    let args = cmd.args();
    let value_of = |opts: &[&str]| {
        args.windows(2)
            .find(|p| opts.contains(&p[0].value.as_str()))
            .map(|p| p[1].value.clone())
    };
    let operands: Vec<&str> = args
        .iter()
        .map(|w| w.value.as_str())
        .filter(|v| !v.starts_with('-'))
        .collect();
    match cmd.program() {
        "cp" | "scp" if reads_recursively(cmd) => value_of(&["-t", "--target-directory"])
            .or_else(|| operands.last().map(|s| s.to_string())),
        "rsync" => operands.last().map(|s| s.to_string()),
        "unzip" => value_of(&["-d"]),
        "tar"
            if args.iter().any(|w| {
                w.value.starts_with('-') && w.value.contains('x')
                    || w.value.starts_with('x')
                    || w.value == "--extract"
            }) =>
        {
            value_of(&["-C", "--directory"]).or_else(|| Some(".".into()))
        }
        "7z" if args.iter().any(|w| w.value == "x") => args
            .iter()
            .find_map(|w| w.value.strip_prefix("-o").map(str::to_string)),
        _ => None,
    }
}

pub(super) fn destructive_deletes(
    cmd: &SimpleCommand,
    subject: Option<&Subject>,
    home: &str,
    findings: &mut Vec<Finding>,
) {
    let recursive = cmd.args().iter().any(|w| {
        w.value == "--recursive"
            || w.value.starts_with('-')
                && !w.value.starts_with("--")
                && (w.value.contains('r') || w.value.contains('R'))
    });
    let deletes = matches!(cmd.program(), "rmdir" | "shred" | "mv" | "unlink")
        || cmd.program() == "rm" && recursive;
    let Some(Subject::Command { writes, .. }) = subject else {
        return;
    };
    if !deletes {
        return;
    }
    for w in writes {
        let text = w.to_string_lossy();
        if shell::paths::classify(&text, home).root_dir {
            findings.push(Finding {
                kind: shell::FindingKind::Destructive,
                threat: warden_types::Threat::Critical,
                command: cmd.text.clone(),
                why: format!("{} deletes {text}", cmd.program()),
                index: Some(cmd.index),
                pipeline: None,
            });
        }
    }
}

/// Resolve the paths a command names. Fail closed: what cannot be placed is
/// returned in `unplaced` (the engine asks about it). Operands only partly known
/// go to `reach`: globs as the patterns they are; expansions when a static
/// prefix is given (`"$HOME"$x/.aws` reaches anything below the home).
pub(super) struct Placed {
    paths: Vec<PathBuf>,
    /// (components, open-ended, static prefix is outside the workspace or unknown)
    reach: Vec<(Vec<String>, bool, bool)>,
}

pub(super) fn components(p: &Path) -> Vec<String> {
    p.iter()
        .skip(1)
        .map(|s| s.to_string_lossy().into_owned())
        .collect()
}

pub(super) fn resolve_all(
    raw: &[String],
    pctx: &PathContext,
    cwd_lost: bool,
    unplaced: &mut Vec<String>,
) -> Placed {
    let mut placed = Placed {
        paths: Vec::new(),
        reach: Vec::new(),
    };
    let inside = |p: &Path| pctx.cwd.as_deref().is_some_and(|c| path::is_within(p, c));
    for r in raw {
        let dynamic = r.contains(shell::DYNAMIC);
        if dynamic || r.contains(['*', '?', '[']) {
            let comps: Vec<&str> = r.split('/').collect();
            let open_at = comps
                .iter()
                .position(|c| c.contains(shell::DYNAMIC) || c.contains(['*', '?', '[']))
                .unwrap_or(0);
            let mut prefix = comps[..open_at].join("/");
            let mut rest: Vec<String> = comps[open_at..]
                .iter()
                .filter(|c| !c.is_empty())
                .map(|c| c.to_string())
                .collect();
            // `"$HOME"$x/...`: the home, then components only known at run time.
            if open_at == 0 && r.starts_with('~') {
                prefix = "~".into();
                if let Some(first) = rest.first_mut() {
                    *first = first.trim_start_matches('~').to_string();
                }
                rest.retain(|c| !c.is_empty());
            }
            if prefix.is_empty() && r.starts_with('/') {
                prefix = "/".into();
            }
            if prefix.is_empty() && dynamic {
                continue; // `$F`: nothing static to judge by
            }
            let base = if prefix.is_empty() {
                pctx.cwd.clone().ok_or(())
            } else {
                path::resolve(&prefix, pctx).map_err(|_| ())
            };
            let Ok(base) = base else {
                unplaced.push(format!("{r}: its start cannot be placed"));
                continue;
            };
            let outside = !inside(&base);
            if dynamic {
                // An expansion may hold `/` or `..`: anything below the prefix.
                placed.reach.push((components(&base), true, outside));
            } else {
                let mut item = components(&base);
                item.extend(rest.into_iter().map(|c| c.replace(shell::DYNAMIC, "*")));
                placed.reach.push((item, false, outside));
            }
            continue;
        }
        match path::resolve(r, pctx) {
            Ok(p) => placed.paths.push(p),
            // The process's own stdio is not a file of the host.
            Err(path::PathError::ProcessRelative { .. }) => {}
            // Without a cwd a bare word is no evidence of a file; a path-like
            // relative operand is, and cannot be placed. After a `cd` to an
            // unknown place, any operand may name a file there.
            Err(path::PathError::UnknownCwd { .. })
                if !(cwd_lost || r.contains('/') || r.starts_with('.')) => {}
            Err(e) => unplaced.push(e.to_string()),
        }
    }
    placed
}

pub(super) fn command_subject(
    cmd: &SimpleCommand,
    home: &str,
    pctx: &PathContext,
    cwd: Option<&Path>,
    cwd_lost: bool,
    unplaced: &mut Vec<String>,
) -> Subject {
    let read = resolve_all(&shell::read_paths(cmd), pctx, cwd_lost, unplaced);
    let written_raw = shell::written_paths(cmd, home);
    let written = resolve_all(&written_raw, pctx, cwd_lost, unplaced);
    let reads = read.paths;
    let writes = written.paths;
    let mut reach: Vec<(FileOp, Vec<String>, bool)> = read
        .reach
        .into_iter()
        // Expansions only outside the workspace: `cat "$f"` says nothing, while
        // `cat "$HOME"$x/...` points somewhere on purpose.
        .filter(|(_, open, outside)| !open || *outside)
        .map(|(c, open, _)| (FileOp::Read, c, open))
        .collect();
    // Recursive readers (`grep -r`, `cp -r`, `tar`, `zip -r`, `rsync -a`) read
    // everything below their operands: outside the workspace that may be a secret.
    let recursive = reads_recursively(cmd);
    if recursive {
        for p in reads
            .iter()
            .filter(|p| !cwd.is_some_and(|c| path::is_within(p, c)))
        {
            reach.push((FileOp::Read, components(p), true));
        }
    }
    // A tree written into a directory: outside the workspace, or into a dot
    // directory (`.git/`, `.claude/`), anything below it may be what a rule names.
    if let Some(dest) = tree_destination(cmd)
        && let Ok(d) = path::resolve(&dest, pctx)
    {
        let hidden = d
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let outside = !cwd.is_some_and(|c| path::is_within(&d, c));
        reach.push((FileOp::Write, components(&d), outside || hidden));
    }
    let destroys = matches!(
        cmd.program(),
        "rm" | "rmdir" | "shred" | "mv" | "truncate" | "dd" | "chmod" | "chown" | "ln" | "unlink"
    );
    for (c, open, outside) in written.reach {
        // A write whose target is only known at run time and may lie outside the
        // workspace cannot be judged: ask.
        if open && (outside || destroys) {
            unplaced.push(format!(
                "{} writes to /{}/... only known at run time",
                cmd.program(),
                c.join("/")
            ));
        }
        reach.push((FileOp::Write, c, open));
    }
    // `rm -rf "$X"`, `rm -rf "$X/build"`: no static part to judge by.
    let no_static_prefix = |w: &String| {
        w.split('/')
            .next()
            .is_some_and(|first| first.contains(shell::DYNAMIC))
    };
    if destroys && written_raw.iter().any(no_static_prefix) {
        unplaced.push(format!(
            "{} deletes or changes a path only known at run time",
            cmd.program()
        ));
    }
    let mut class = command_class(cmd, &writes, home, cwd);
    let mut lines = vec![cmd.command_line()];
    if let Some(c) = shell::canonical_words(cmd) {
        lines.push(c.join(" "));
    }
    // Destinations named on the command line are judged like fetches: a
    // non-public address needs a rule naming it.
    let (non_public, outward) = destinations(cmd);
    if outward {
        class = CommandClass::Outward;
    }
    Subject::Command {
        lines,
        index: cmd.index,
        pipe: cmd.pipe.map(|p| p.id),
        non_public,
        reads,
        reach,
        writes,
        class,
    }
}

/// Schemes whose URLs open network connections.
fn network_scheme(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "http"
            | "https"
            | "ws"
            | "wss"
            | "ftp"
            | "ftps"
            | "gopher"
            | "dict"
            | "ldap"
            | "ldaps"
            | "tftp"
            | "telnet"
            | "smb"
            | "sftp"
            | "scp"
            | "ssh"
            | "rtsp"
            | "redis"
            | "mongodb"
            | "postgres"
            | "postgresql"
            | "mysql"
            | "mqtt"
    )
}

/// The network destinations a command names, judged like fetches: URLs anywhere
/// in an argument (inline code included), host operands of network programs
/// (`curl 169.254.169.254/x`), `socat TCP:host:port`, and the addresses of
/// `--resolve`/`--connect-to`. A network URL that cannot be parsed, or that
/// parser families read differently, counts as non-public. Returns the
/// non-public ones and whether any destination was named.
fn destinations(cmd: &SimpleCommand) -> (Vec<(net::AddressClass, String)>, bool) {
    let mut hosts: Vec<Result<net::Host, String>> = Vec::new();
    let networked = shell::NETWORK_PROGRAMS.contains(&cmd.program());
    let args = cmd.args();
    for (i, w) in args.iter().enumerate() {
        let v = w.value.as_str();
        // URLs anywhere in the text only for programs that connect or run code;
        // elsewhere only a word that is a URL (`--build-arg X=http://...`
        // configures, it does not connect).
        let scan_inside = networked || shell::is_interpreter(cmd.program());
        let mut rest = if scan_inside
            || v.split_once("://")
                .is_some_and(|(s, _)| !s.contains(['=', ' ']))
        {
            v
        } else {
            ""
        };
        while let Some(pos) = rest.find("://") {
            let start = rest[..pos]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map_or(0, |i| i + 1);
            let end = rest[pos..]
                .find(|c: char| c.is_whitespace() || "'\"`<>()".contains(c))
                .map_or(rest.len(), |e| pos + e);
            let url = &rest[start..end];
            if network_scheme(&rest[start..pos]) {
                hosts.push(
                    net::parse_url(url)
                        .map(|t| t.host)
                        .map_err(|e| format!("{url}: {e}")),
                );
            }
            rest = &rest[end.max(pos + 3).min(rest.len())..];
        }
        let after_option =
            i > 0 && matches!(args[i - 1].value.as_str(), "--resolve" | "--connect-to");
        if after_option {
            if let Some(addr) = v.rsplit(':').next() {
                hosts.push(
                    net::parse_host(addr.trim_matches(['[', ']'])).map_err(|e| e.to_string()),
                );
            }
        } else if networked && !v.contains("://") {
            let upper = v.to_ascii_uppercase();
            let socat = [
                "TCP:", "TCP4:", "TCP6:", "UDP:", "UDP4:", "UDP6:", "OPENSSL:",
            ]
            .iter()
            .find_map(|p| upper.starts_with(p).then(|| &v[p.len()..]));
            let candidate = socat.unwrap_or(v).split('/').next().unwrap_or(v);
            if looks_like_host(candidate) {
                let host = candidate
                    .strip_prefix('[')
                    .and_then(|h| h.split_once(']'))
                    .map_or_else(
                        || candidate.split(':').next().unwrap_or(candidate),
                        |(h, _)| h,
                    );
                hosts.push(net::parse_host(host).map_err(|e| e.to_string()));
            }
        }
    }
    let named = !hosts.is_empty();
    let non_public = hosts
        .into_iter()
        .filter_map(|h| match h {
            Ok(h) => net::classify_host(&h)
                .filter(|c| !c.is_public())
                .map(|c| (c, h.to_string())),
            Err(e) => Some((
                net::AddressClass::Reserved,
                format!("an unparseable destination ({e})"),
            )),
        })
        .collect();
    (non_public, named)
}

/// A bare operand that names a host: an IP literal in any notation, or a
/// well-known local name (`localhost`, `metadata.google.internal`). Ordinary words
/// are not hosts.
pub(super) fn looks_like_host(v: &str) -> bool {
    let h = v.split(':').next().unwrap_or(v).trim_start_matches('[');
    if h.is_empty() || h.contains('/') {
        return false;
    }
    let numeric = h
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | 'x' | 'X'))
        && h.chars().any(|c| c.is_ascii_digit())
        && (h.contains('.') || h.len() >= 8);
    numeric
        || h.contains("::")
        || h == "localhost"
        || h.ends_with(".internal")
        || h.ends_with(".localhost")
}

/// Everyday read-only programs beyond the classifier's reader list.
const QUIET: &[&str] = &[
    "pwd", "echo", "printf", "which", "whoami", "id", "date", "uname", "true", "false", "du", "df",
    "tree", "ps", "printenv", "hostname", "tr", "uniq", "basename", "dirname", "seq", "sleep",
    "type", "man", "tldr", "help", "cd", "ls",
];

/// Subcommands that publish, install or push.
const OUTWARD_SUBCOMMANDS: &[&str] = &[
    "pub",
    "exec",
    "x",
    "dlx",
    "send-pack",
    "delete",
    "push",
    "publish",
    "install",
    "add",
    "i",
    "upload",
    "deploy",
    "release",
    "apply",
    "login",
];

pub(super) fn command_class(
    cmd: &SimpleCommand,
    writes: &[PathBuf],
    _home: &str,
    cwd: Option<&Path>,
) -> CommandClass {
    let prog = cmd.program();
    // The subcommand after global options (`npm --access public publish`).
    let canonical = shell::canonical_words(cmd);
    let sub = match &canonical {
        Some(words) => words
            .iter()
            .skip(1)
            .map(String::as_str)
            .find(|a| !a.starts_with('-')),
        None => cmd
            .args()
            .iter()
            .map(|w| w.value.as_str())
            .find(|a| !a.starts_with('-')),
    }
    .unwrap_or("");
    let outside = writes.iter().any(|w| {
        !cwd.is_some_and(|c| path::is_within(w, c))
            && !w.starts_with("/tmp")
            && !w.starts_with("/dev/null")
    });
    if shell::NETWORK_PROGRAMS.contains(&prog)
        || cmd.privileged()
        || outside
        || matches!(
            prog,
            "sudo" | "su" | "doas" | "pkexec" | "npx" | "bunx" | "uvx" | "pipx" | "gh" | "pnpx"
        )
    {
        return CommandClass::Outward;
    }
    let tool_with_subcommands = matches!(
        prog,
        "git"
            | "npm"
            | "pnpm"
            | "yarn"
            | "bun"
            | "pip"
            | "pip3"
            | "uv"
            | "cargo"
            | "gem"
            | "go"
            | "apt"
            | "apt-get"
            | "brew"
            | "dnf"
            | "yum"
            | "pacman"
            | "docker"
            | "kubectl"
            | "helm"
            | "terraform"
            | "twine"
            | "poetry"
            | "gh"
            | "npx"
    );
    if tool_with_subcommands && OUTWARD_SUBCOMMANDS.contains(&sub) {
        return CommandClass::Outward;
    }
    let git_read = prog == "git"
        && matches!(
            sub,
            "status"
                | "log"
                | "diff"
                | "show"
                | "blame"
                | "ls-files"
                | "rev-parse"
                | "describe"
                | "shortlog"
                | "grep"
        );
    let reader = shell::READ_ONLY_PROGRAMS.contains(&prog)
        && !matches!(prog, "sed" | "awk" | "find" | "sort")
        || QUIET.contains(&prog)
        || git_read;
    if reader && writes.is_empty() {
        CommandClass::Read
    } else {
        CommandClass::Local
    }
}
