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

/// One thing rules are matched against.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A simple command of a shell line.
    Command {
        /// Program name (first word), for the rule index.
        program: String,
        /// Words joined by single spaces.
        line: String,
        /// Source text.
        text: String,
        /// Files it reads.
        reads: Vec<PathBuf>,
        /// Files it writes.
        writes: Vec<PathBuf>,
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
    pub(crate) fn matched_by(&self, spec: &Spec, cwd: Option<&Path>, path_derived: bool) -> bool {
        match (self, spec.tool) {
            (Subject::Command { line, .. }, Tool::Bash) => spec.matches_command(line),
            (Subject::Command { reads, .. }, Tool::Read) if path_derived => {
                reads.iter().any(|p| spec.matches_path(p, cwd))
            }
            (Subject::Command { writes, .. }, Tool::Write | Tool::Delete) if path_derived => {
                writes.iter().any(|p| spec.matches_path(p, cwd))
            }
            (Subject::Exec { line, .. }, Tool::Bash | Tool::Exec) => spec.matches_command(line),
            (
                Subject::File {
                    op: FileOp::Read,
                    path,
                    ..
                },
                Tool::Read,
            ) => spec.matches_path(path, cwd),
            (
                Subject::File {
                    op: FileOp::Write | FileOp::Delete,
                    path,
                    ..
                },
                Tool::Write,
            ) => spec.matches_path(path, cwd),
            (
                Subject::File {
                    op: FileOp::Delete,
                    path,
                    ..
                },
                Tool::Delete,
            ) => spec.matches_path(path, cwd),
            (
                Subject::Net {
                    host, port, scheme, ..
                },
                Tool::WebFetch,
            ) => matches!(scheme.as_str(), "http" | "https") && spec.matches_host(host, *port),
            (Subject::Net { host, port, .. }, Tool::Net) => spec.matches_host(host, *port),
            (Subject::Mcp { server, tool }, Tool::Mcp) => spec.matches_mcp(server, tool),
            _ => false,
        }
    }

    /// Whether a finding located at `command` (source text or path) is in this subject.
    pub(crate) fn covers(&self, command: &str) -> bool {
        match self {
            Subject::Command { text, .. } => {
                !command.is_empty()
                    && (text == command
                        || command.contains(text.as_str())
                        || text.contains(command))
            }
            Subject::Exec { line, .. } => line == command,
            Subject::File { path, .. } => path.to_string_lossy() == command,
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
            Subject::Command { line, .. } => format!("bash: {line}"),
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

    pub(crate) fn non_public(&self) -> Option<(AddressClass, &str)> {
        match self {
            Subject::Net {
                non_public: Some(c),
                host,
                ..
            } => Some((*c, host.as_str())),
            _ => None,
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
            for cmd in analysis
                .script
                .commands
                .iter()
                .filter(|c| !c.argv.is_empty() || !c.redirects.is_empty())
            {
                p.subjects.push(command_subject(
                    cmd,
                    &home,
                    &pctx,
                    cwd.as_deref(),
                    &mut p.unplaced,
                ));
            }
            p.findings = analysis.findings;
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
                let cmd = SimpleCommand::from_argv(argv);
                let class = command_class(&cmd, &[], &home, cwd.as_deref());
                p.subjects.push(Subject::Exec {
                    program,
                    line,
                    class,
                });
                p.findings = shell::classify_argv(argv, &home);
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

/// Resolve the paths a command names. Paths that cannot be placed are returned
/// separately: the engine asks about them rather than guessing (fail closed).
/// Relative paths without a known cwd, and the process's own stdio (`/dev/stdout`,
/// `/dev/fd/N`), are not files of the host and are skipped.
fn resolve_all(raw: &[String], pctx: &PathContext, unplaced: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for r in raw.iter().filter(|r| !r.contains(shell::DYNAMIC)) {
        match path::resolve(r, pctx) {
            Ok(p) => out.push(p),
            Err(
                path::PathError::UnknownCwd { .. }
                | path::PathError::ProcessRelative { .. }
                | path::PathError::UnknownVariable { .. },
            ) => {}
            Err(e) => unplaced.push(e.to_string()),
        }
    }
    out
}

fn command_subject(
    cmd: &SimpleCommand,
    home: &str,
    pctx: &PathContext,
    cwd: Option<&Path>,
    unplaced: &mut Vec<String>,
) -> Subject {
    let reads = resolve_all(&shell::read_paths(cmd), pctx, unplaced);
    let writes = resolve_all(&shell::written_paths(cmd, home), pctx, unplaced);
    let class = command_class(cmd, &writes, home, cwd);
    Subject::Command {
        program: cmd.program().to_string(),
        line: cmd.command_line(),
        text: cmd.text.clone(),
        reads,
        writes,
        class,
    }
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
