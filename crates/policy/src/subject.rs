//! From an action to the subjects rules are matched against.
//!
//! A shell line becomes one subject per simple command (with the files it reads
//! and writes); a file action one resolved path; a network action one normalised
//! host and port. Paths are resolved (symlinks, `..`, `/proc/self/root`) before any
//! rule sees them, so no spelling of a path reaches a different decision.

use std::path::{Path, PathBuf};

use warden_types::{Action, ActionKind};

use crate::engine::{ActionExt, EvalContext, file_findings};
use crate::net::{self, AddressClass, Host};
use crate::path::{self, PathContext};
use crate::shell::{self, Finding, SimpleCommand};
use crate::spec::{Spec, Tool};

/// How consequential an unmatched subject is, for the autonomy defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandClass {
    /// Only reads.
    Read,
    /// Changes confined to the workspace (or runs local programs).
    Local,
    /// Reaches outside: network, installs, publishes, pushes, privilege, changes
    /// outside the workspace.
    Outward,
}

/// File operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOp {
    /// Read.
    Read,
    /// Create or modify.
    Write,
    /// Delete.
    Delete,
}

/// One matchable item of a subject.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    /// A shell command line (literal or canonical form).
    Line(&'a str),
    /// An exec'd argv.
    ExecLine(&'a str),
    /// A path; `true` when it comes from a shell command's operands.
    Path(FileOp, &'a Path, bool),
    /// A command operand only partly known: its absolute components (globs
    /// allowed) and whether anything may follow.
    Reach(FileOp, &'a [String], bool),
    /// A host and port; `true` for http(s).
    Host(&'a str, u16, bool),
    /// An MCP server and tool.
    Mcp(&'a str, &'a str),
}

impl Item<'_> {
    /// Whether `spec` matches this item. Path items from shell commands match only
    /// deny/ask path rules (`path_rules`): an allow rule for a file never allows a
    /// whole command.
    pub(crate) fn matched_by(self, spec: &Spec, cwd: Option<&Path>, path_rules: bool) -> bool {
        match (self, spec.tool) {
            (Item::Line(l), Tool::Bash) => spec.matches_command(l),
            (Item::ExecLine(l), Tool::Exec) => spec.matches_command(l),
            (Item::Path(op, p, from_command), tool) if !from_command || path_rules => {
                match (op, tool) {
                    (FileOp::Read, Tool::Read)
                    | (FileOp::Write | FileOp::Delete, Tool::Write)
                    | (FileOp::Delete, Tool::Delete) => spec.matches_path(p, cwd),
                    // A command's writes may be deletions (`rm`, `mv`): Delete rules see them.
                    (FileOp::Write, Tool::Delete) if from_command => spec.matches_path(p, cwd),
                    _ => false,
                }
            }
            (Item::Reach(op, prefix, next), tool) if path_rules => match (op, tool) {
                (FileOp::Read, Tool::Read) | (FileOp::Write, Tool::Write | Tool::Delete) => {
                    spec.may_match_path(prefix, next, cwd)
                }
                _ => false,
            },
            (Item::Host(h, port, web), Tool::WebFetch) => web && spec.matches_host(h, port),
            (Item::Host(h, port, _), Tool::Net) => spec.matches_host(h, port),
            (Item::Mcp(s, t), Tool::Mcp) => spec.matches_mcp(s, t),
            _ => false,
        }
    }
}

/// One thing rules are matched against.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A simple command of a shell line.
    Command {
        /// Words joined by single spaces, and the canonical form when it differs.
        lines: Vec<String>,
        /// Position in the parsed script (findings name it).
        index: usize,
        /// The pipeline it is a stage of.
        pipe: Option<u32>,
        /// URL or host operands that are not public addresses.
        non_public: Vec<(AddressClass, String)>,
        /// Files it reads.
        reads: Vec<PathBuf>,
        /// Files it writes.
        writes: Vec<PathBuf>,
        /// Operands only partly known: (operation, components, open-ended).
        reach: Vec<(FileOp, Vec<String>, bool)>,
        /// Its class.
        class: CommandClass,
    },
    /// A directly exec'd program.
    Exec {
        /// Program name.
        program: String,
        /// argv joined.
        line: String,
        /// Its class.
        class: CommandClass,
    },
    /// A file.
    File {
        /// The operation.
        op: FileOp,
        /// The resolved path.
        path: PathBuf,
        /// Inside the workspace.
        in_workspace: bool,
    },
    /// A network destination.
    Net {
        /// Normalised host.
        host: String,
        /// Port.
        port: u16,
        /// Scheme.
        scheme: String,
        /// A read-only HTTP method (or unknown for a tunnel).
        safe_method: bool,
        /// The address class when known without DNS and not public.
        non_public: Option<AddressClass>,
    },
    /// An MCP tool.
    Mcp {
        /// Server name.
        server: String,
        /// Tool name.
        tool: String,
    },
    /// An LLM API call.
    Llm {
        /// Provider and model.
        what: String,
    },
}

impl Subject {
    /// The things rules are matched against, one by one: `except` must exclude
    /// the same item a specifier matched, not any item of the subject.
    pub(crate) fn items(&self) -> Vec<Item<'_>> {
        match self {
            Subject::Command {
                lines,
                reads,
                writes,
                reach,
                ..
            } => lines
                .iter()
                .map(|l| Item::Line(l))
                .chain(reads.iter().map(|p| Item::Path(FileOp::Read, p, true)))
                .chain(writes.iter().map(|p| Item::Path(FileOp::Write, p, true)))
                .chain(reach.iter().map(|(op, p, n)| Item::Reach(*op, p, *n)))
                .collect(),
            Subject::Exec { line, .. } => vec![Item::ExecLine(line)],
            Subject::File { op, path, .. } => vec![Item::Path(*op, path, false)],
            Subject::Net {
                host, port, scheme, ..
            } => vec![Item::Host(
                host,
                *port,
                matches!(scheme.as_str(), "http" | "https"),
            )],
            Subject::Mcp { server, tool } => vec![Item::Mcp(server, tool)],
            Subject::Llm { .. } => Vec::new(),
        }
    }

    /// Whether a finding is about this subject: the same sub-command, or the
    /// pipeline it is a stage of (indices, never text, so one pipeline's rule
    /// cannot reach another's finding).
    pub(crate) fn covers(&self, f: &Finding) -> bool {
        match self {
            Subject::Command { index, pipe, .. } => {
                f.index == Some(*index) || f.pipeline.is_some() && f.pipeline == *pipe
            }
            Subject::Exec { line, .. } => f.index.is_none() && line == &f.command,
            Subject::File { path, .. } => f.index.is_none() && path.to_string_lossy() == f.command,
            _ => false,
        }
    }

    pub(crate) fn class(&self) -> CommandClass {
        match self {
            Subject::Command { class, .. } | Subject::Exec { class, .. } => *class,
            Subject::File {
                op: FileOp::Read, ..
            }
            | Subject::Llm { .. } => CommandClass::Read,
            Subject::File {
                in_workspace: true, ..
            } => CommandClass::Local,
            Subject::File { .. } | Subject::Mcp { .. } => CommandClass::Outward,
            Subject::Net {
                safe_method: true, ..
            } => CommandClass::Local,
            Subject::Net { .. } => CommandClass::Outward,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Subject::Command { lines, .. } => {
                format!("bash: {}", lines.first().map(String::as_str).unwrap_or(""))
            }
            Subject::Exec { line, .. } => format!("exec: {line}"),
            Subject::File { op, path, .. } => format!(
                "{}: {}",
                match op {
                    FileOp::Read => "read",
                    FileOp::Write => "write",
                    FileOp::Delete => "delete",
                },
                path.display()
            ),
            Subject::Net {
                host, port, scheme, ..
            } => format!("net: {scheme}://{host}:{port}"),
            Subject::Mcp { server, tool } => format!("mcp: {server}/{tool}"),
            Subject::Llm { what } => format!("llm: {what}"),
        }
    }

    pub(crate) fn non_public(&self) -> Vec<(AddressClass, &str)> {
        match self {
            Subject::Net {
                non_public: Some(c),
                host,
                ..
            } => vec![(*c, host.as_str())],
            Subject::Command { non_public, .. } => {
                non_public.iter().map(|(c, h)| (*c, h.as_str())).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Subjects and findings of an action.
pub(crate) struct Prepared {
    pub subjects: Vec<Subject>,
    pub findings: Vec<Finding>,
    pub unparseable: Option<String>,
    /// Paths in a shell command that could not be placed (why, per path).
    pub unplaced: Vec<String>,
    /// A deny no rule can lift: `(rule id, reason)`.
    pub hard_deny: Option<(String, String)>,
}

pub(crate) fn subjects_of(action: &Action, ctx: &EvalContext) -> Prepared {
    let home = ctx.home.to_string_lossy().into_owned();
    let cwd = action.cwd_path();
    let pctx = PathContext {
        home: ctx.home.clone(),
        cwd: cwd.clone(),
        resolve_symlinks: ctx.resolve_symlinks,
    };
    let mut p = Prepared {
        subjects: Vec::new(),
        findings: Vec::new(),
        unparseable: None,
        unplaced: Vec::new(),
        hard_deny: None,
    };
    match &action.kind {
        ActionKind::Shell { command } => {
            let analysis = shell::analyze_with_home(command, &home);
            p.unparseable = analysis.unparseable().map(str::to_string);
            // `cd` moves where later relative paths point. Scoping is ignored on
            // purpose: guessing a directory outside the workspace is the cautious
            // error; an unknown target (`cd "$X"`, `cd -`) makes later relative
            // paths unplaceable.
            let mut here = pctx.clone();
            for cmd in analysis
                .script
                .commands
                .iter()
                .filter(|c| !c.argv.is_empty() || !c.redirects.is_empty())
            {
                p.subjects.push(command_subject(
                    cmd,
                    &home,
                    &here,
                    here.cwd.as_deref(),
                    &mut p.unplaced,
                ));
                destructive_deletes(cmd, p.subjects.last(), &home, &mut p.findings);
                if matches!(cmd.program(), "cd" | "pushd")
                    && cmd.source == shell::CommandSource::Direct
                {
                    let target = cmd.args().iter().find(|w| !w.value.starts_with('-'));
                    here.cwd = match target {
                        None => Some(ctx.home.clone()),
                        Some(w) if w.dynamic || w.value == "-" => None,
                        Some(w) => path::resolve(&w.value, &here).ok(),
                    };
                }
            }
            p.findings.extend(analysis.findings);
        }
        ActionKind::Exec { argv, .. } => {
            if argv.is_empty() {
                p.hard_deny = Some((
                    "builtin:malformed-input".into(),
                    "exec with an empty argv".into(),
                ));
            } else {
                let program = shell::program_name(&argv[0]).to_string();
                let line = std::iter::once(program.as_str())
                    .chain(argv[1..].iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                // The argv and everything it runs through wrappers (`sh -c`, `env`)
                // are judged like a shell line; Exec(...) rules see the argv.
                let analysis = shell::analyze_argv(argv, &home);
                p.unparseable = analysis.unparseable().map(str::to_string);
                for cmd in &analysis.script.commands {
                    p.subjects.push(command_subject(
                        cmd,
                        &home,
                        &pctx,
                        cwd.as_deref(),
                        &mut p.unplaced,
                    ));
                }
                let class = p
                    .subjects
                    .first()
                    .map(Subject::class)
                    .unwrap_or(CommandClass::Outward);
                p.subjects.push(Subject::Exec {
                    program,
                    line,
                    class,
                });
                p.findings = analysis.findings;
            }
        }
        ActionKind::FileRead { path }
        | ActionKind::FileWrite { path }
        | ActionKind::FileDelete { path } => {
            let op = match &action.kind {
                ActionKind::FileRead { .. } => FileOp::Read,
                ActionKind::FileWrite { .. } => FileOp::Write,
                _ => FileOp::Delete,
            };
            match path::resolve(path, &pctx) {
                Ok(resolved) => {
                    // Inside only if no reading of the spelling leaves the workspace
                    // (`%2e%2e/`, `..\\`, overlong UTF-8 ...): the path may reach a
                    // program that decodes it.
                    let in_workspace = cwd.as_deref().is_some_and(|c| {
                        path::is_within(&resolved, c) && !path::jail_escapes(c, path)
                    });
                    p.findings
                        .extend(file_findings(op, &resolved.to_string_lossy(), &home));
                    p.subjects.push(Subject::File {
                        op,
                        path: resolved,
                        in_workspace,
                    });
                }
                Err(e) => {
                    p.hard_deny = Some((
                        "builtin:bad-path".into(),
                        format!("cannot place the path: {e}"),
                    ))
                }
            }
        }
        ActionKind::Net(req) => match net_subject(req) {
            Ok(s) => p.subjects.push(s),
            Err(reason) => p.hard_deny = Some(("builtin:bad-destination".into(), reason)),
        },
        ActionKind::ToolCall { server, tool, .. } => p.subjects.push(Subject::Mcp {
            server: server.clone(),
            tool: tool.clone(),
        }),
        ActionKind::LlmRequest {
            provider, model, ..
        } => p.subjects.push(Subject::Llm {
            what: format!("{provider}/{model}"),
        }),
    }
    // warden's own state and configuration: no agent may touch them.
    for s in &p.subjects {
        let touched: Vec<&PathBuf> = match s {
            Subject::Command { reads, writes, .. } => reads.iter().chain(writes.iter()).collect(),
            Subject::File { path, .. } => vec![path],
            _ => Vec::new(),
        };
        if let Some(t) = touched
            .iter()
            .find(|t| ctx.protected.iter().any(|prot| path::is_within(t, prot)))
        {
            p.hard_deny = Some((
                "builtin:warden-state".into(),
                format!(
                    "{} belongs to warden's own state or configuration",
                    t.display()
                ),
            ));
        }
    }
    p
}

/// Deleting a directory that holds a system or a home, wherever `cd` and
/// relative paths led: judged on the resolved paths, which the text-only
/// classifier cannot see (`cd ~ && rm -rf .`).
fn destructive_deletes(
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
struct Placed {
    paths: Vec<PathBuf>,
    /// (components, open-ended, static prefix is outside the workspace or unknown)
    reach: Vec<(Vec<String>, bool, bool)>,
}

fn components(p: &Path) -> Vec<String> {
    p.iter()
        .skip(1)
        .map(|s| s.to_string_lossy().into_owned())
        .collect()
}

fn resolve_all(raw: &[String], pctx: &PathContext, unplaced: &mut Vec<String>) -> Placed {
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
            // relative operand is, and cannot be placed.
            Err(path::PathError::UnknownCwd { .. }) if !(r.contains('/') || r.starts_with('.')) => {
            }
            Err(e) => unplaced.push(e.to_string()),
        }
    }
    placed
}

fn command_subject(
    cmd: &SimpleCommand,
    home: &str,
    pctx: &PathContext,
    cwd: Option<&Path>,
    unplaced: &mut Vec<String>,
) -> Subject {
    let read = resolve_all(&shell::read_paths(cmd), pctx, unplaced);
    let written_raw = shell::written_paths(cmd, home);
    let written = resolve_all(&written_raw, pctx, unplaced);
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
    let args = cmd.args();
    let recursive = matches!(cmd.program(), "tar" | "zip" | "rsync" | "scp" | "rg" | "ag")
        || args.iter().any(|w| {
            matches!(
                w.value.as_str(),
                "-r" | "-R" | "--recursive" | "-a" | "--archive"
            )
        });
    if recursive {
        for p in reads
            .iter()
            .filter(|p| !cwd.is_some_and(|c| path::is_within(p, c)))
        {
            reach.push((FileOp::Read, components(p), true));
        }
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
    if destroys
        && written_raw
            .iter()
            .any(|w| w.contains(shell::DYNAMIC) && !w.contains('/'))
    {
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
    let mut non_public = Vec::new();
    for w in cmd.args() {
        let v = w.value.as_str();
        let network_scheme = v.split_once("://").is_some_and(|(s, _)| {
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
        });
        let host = if network_scheme {
            net::parse_url(v).ok().map(|t| t.host)
        } else if shell::NETWORK_PROGRAMS.contains(&cmd.program()) && looks_like_host(v) {
            net::parse_host(v.split(':').next().unwrap_or(v)).ok()
        } else {
            None
        };
        if let Some(h) = host {
            class = CommandClass::Outward;
            if let Some(c) = net::classify_host(&h).filter(|c| !c.is_public()) {
                non_public.push((c, h.to_string()));
            }
        }
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

/// A bare operand that names a host: an IP literal in any notation, or a
/// well-known local name (`localhost`, `metadata.google.internal`). Ordinary words
/// are not hosts.
fn looks_like_host(v: &str) -> bool {
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
    "push", "publish", "install", "add", "i", "upload", "deploy", "release", "apply", "login",
];

fn command_class(
    cmd: &SimpleCommand,
    writes: &[PathBuf],
    _home: &str,
    cwd: Option<&Path>,
) -> CommandClass {
    let prog = cmd.program();
    let args: Vec<&str> = cmd.args().iter().map(|w| w.value.as_str()).collect();
    let sub = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or("");
    let outside = writes.iter().any(|w| {
        !cwd.is_some_and(|c| path::is_within(w, c))
            && !w.starts_with("/tmp")
            && !w.starts_with("/dev/null")
    });
    if shell::NETWORK_PROGRAMS.contains(&prog)
        || cmd.privileged()
        || outside
        || matches!(prog, "sudo" | "su" | "doas" | "pkexec")
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

fn net_subject(req: &warden_types::NetRequest) -> Result<Subject, String> {
    let method = req.method.as_deref().map(str::to_ascii_uppercase);
    let safe_method = matches!(method.as_deref(), None | Some("GET" | "HEAD" | "OPTIONS"));
    let (scheme, host, port) = if let Some(url) = &req.url {
        let t = net::parse_url(url).map_err(|e| format!("cannot parse the URL: {e}"))?;
        if !matches!(t.scheme.as_str(), "http" | "https" | "ws" | "wss") {
            return Err(format!(
                "the {}: scheme is not allowed for network requests",
                t.scheme
            ));
        }
        (t.scheme, t.host, t.port)
    } else {
        let raw = req
            .host
            .as_deref()
            .ok_or("a net action needs a url or a host")?;
        let host = net::parse_host(raw).map_err(|e| format!("cannot parse the host: {e}"))?;
        let scheme = req
            .scheme
            .clone()
            .unwrap_or_else(|| "tcp".into())
            .to_ascii_lowercase();
        let port = req
            .port
            .or_else(|| net::default_port(&scheme))
            .ok_or("a net action with a host needs a port")?;
        (scheme, host, port)
    };
    let non_public = net::classify_host(&host).filter(|c| !c.is_public());
    let host = match &host {
        Host::Name(n) => n.clone(),
        Host::Ip(ip) => ip.to_string(),
    };
    Ok(Subject::Net {
        host,
        port,
        scheme,
        safe_method,
        non_public,
    })
}

/// The action an inline example (`Bash(git push)`, `Read(~/.ssh/id_rsa)`,
/// `mcp__gh__create_issue`) stands for. Examples run with cwd `/workspace`.
pub(crate) fn example_action(example: &str) -> Option<Action> {
    let e = example.trim();
    let cwd = "/workspace";
    if let Some(rest) = e.strip_prefix("mcp__") {
        let (server, tool) = rest.split_once("__")?;
        return Some(Action::new(
            cwd,
            ActionKind::ToolCall {
                server: server.into(),
                tool: tool.into(),
                arguments: serde_json::Value::Null,
            },
        ));
    }
    let (tool, value) = e.split_once('(')?;
    let value = value.strip_suffix(')')?.to_string();
    let kind = match tool {
        "Bash" => ActionKind::Shell { command: value },
        "Exec" => ActionKind::Exec {
            argv: value.split_whitespace().map(str::to_string).collect(),
            env_keys: None,
        },
        "Read" => ActionKind::FileRead { path: value },
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => ActionKind::FileWrite { path: value },
        "Delete" => ActionKind::FileDelete { path: value },
        "WebFetch" => {
            let v = value.strip_prefix("domain:").unwrap_or(&value);
            let url = if v.contains("://") {
                v.to_string()
            } else {
                format!("https://{v}/")
            };
            ActionKind::Net(warden_types::NetRequest {
                url: Some(url),
                ..Default::default()
            })
        }
        "Net" => {
            let (h, p) = value.rsplit_once(':')?;
            ActionKind::Net(warden_types::NetRequest {
                host: Some(h.into()),
                port: p.parse().ok(),
                ..Default::default()
            })
        }
        _ => return None,
    };
    Some(Action::new(cwd, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_parse() {
        assert!(matches!(
            example_action("Bash(ls -l)").unwrap().kind,
            ActionKind::Shell { .. }
        ));
        assert!(matches!(
            example_action("mcp__gh__x").unwrap().kind,
            ActionKind::ToolCall { .. }
        ));
        assert!(example_action("Nope").is_none());
    }
}
