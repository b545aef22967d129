//! From an action to the subjects rules are matched against.
//!
//! A shell line becomes one subject per simple command (with the files it reads
//! and writes); a file action one resolved path; a network action one normalised
//! host and port. Paths are resolved (symlinks, `..`, `/proc/self/root`) before any
//! rule sees them, so no spelling of a path reaches a different decision.

use std::path::{Path, PathBuf};

use warden_types::{Action, ActionKind, Threat};

use crate::engine::{ActionExt, EvalContext, file_findings};
use crate::net::AddressClass;
use crate::path::{self, PathContext};
use crate::shell::{self, Finding, FindingKind};
use crate::spec::{Spec, Tool};

mod command;
mod other;

use command::{command_subject, destructive_deletes};
pub(crate) use other::example_action;
use other::net_subject;

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
    /// An LLM provider and model.
    Llm(&'a str, &'a str),
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
            (Item::Llm(p, m), Tool::Llm) => spec.matches_llm(p, m),
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
    /// An MCP tool definition, to be shown to the model or hidden. Only deny
    /// rules of the tool hide it; findings ask.
    McpDefinition {
        /// Server name.
        server: String,
        /// Tool name.
        tool: String,
    },
    /// An LLM API call.
    Llm {
        /// Provider, lowercase.
        provider: String,
        /// Model as requested.
        model: String,
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
            Subject::Mcp { server, tool } | Subject::McpDefinition { server, tool } => {
                vec![Item::Mcp(server, tool)]
            }
            Subject::Llm { provider, model } => vec![Item::Llm(provider, model)],
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
            Subject::McpDefinition { server, tool } => {
                f.index.is_none() && f.command == format!("mcp__{server}__{tool}")
            }
            _ => false,
        }
    }

    pub(crate) fn class(&self) -> CommandClass {
        match self {
            Subject::Command { class, .. } | Subject::Exec { class, .. } => *class,
            Subject::File {
                op: FileOp::Read, ..
            }
            | Subject::Llm { .. }
            | Subject::McpDefinition { .. } => CommandClass::Read,
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
            Subject::McpDefinition { server, tool } => format!("mcp definition: {server}/{tool}"),
            Subject::Llm { provider, model } => format!("llm: {provider}/{model}"),
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

/// Most `cd` steps followed; after that the directory counts as unknown (also
/// bounds the work a line of thousands of `cd a;` can cause).
const MAX_CD_STEPS: usize = 64;

/// A subject per simple command, in order, following `cd` as it goes: in every
/// source (`sh -c`, `eval`, `$(...)` too), without subshell scoping (a directory
/// guessed outside the workspace errs on the cautious side). What makes the
/// directory unknowable (`cd "$X"`, `cd -`, `popd`, `pushd +N`, `CDPATH`,
/// `cdable_vars`) makes every later relative operand unplaceable.
fn command_subjects(
    script: &shell::Script,
    home: &str,
    pctx: &PathContext,
    ctx: &EvalContext,
    p: &mut Prepared,
) {
    let mut here = pctx.clone();
    let mut lost = false;
    let mut steps = 0;
    let cdpath = script.commands.iter().any(|c| {
        c.assignments.iter().any(|(n, _)| n == "CDPATH")
            || c.argv
                .iter()
                .any(|w| w.value.starts_with("CDPATH=") || w.value == "cdable_vars")
    });
    for cmd in script
        .commands
        .iter()
        .filter(|c| !c.argv.is_empty() || !c.redirects.is_empty())
    {
        p.subjects.push(command_subject(
            cmd,
            home,
            &here,
            here.cwd.as_deref(),
            lost,
            &mut p.unplaced,
        ));
        destructive_deletes(cmd, p.subjects.last(), home, &mut p.findings);
        let prog = cmd.program();
        if matches!(prog, "cd" | "pushd" | "popd" | "chdir") {
            steps += 1;
            let target = cmd
                .args()
                .iter()
                .find(|w| !w.value.starts_with('-') || w.value == "-");
            here.cwd = match target {
                _ if prog == "popd" || cdpath || steps > MAX_CD_STEPS => None,
                None if prog == "cd" => Some(ctx.home.clone()),
                None => None,
                Some(w)
                    if w.dynamic
                        || w.value == "-"
                        || w.value.starts_with('+')
                        || w.value.starts_with("~-")
                        || w.value.starts_with("~+") =>
                {
                    None
                }
                Some(w) => path::resolve(&w.value, &here).ok(),
            };
            lost = here.cwd.is_none();
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
    let mut pctx = PathContext {
        home: ctx.home.clone(),
        cwd: cwd.clone(),
        resolve_symlinks: ctx.resolve_symlinks,
        cwd_canonical: false,
    };
    // Walk the working directory once for the whole action, not once per path.
    if let Some(resolved) = crate::path::canonical_cwd(&pctx) {
        pctx.cwd = Some(resolved);
        pctx.cwd_canonical = true;
    }
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
            command_subjects(&analysis.script, &home, &pctx, ctx, &mut p);
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
                command_subjects(&analysis.script, &home, &pctx, ctx, &mut p);
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
                p.findings.extend(analysis.findings);
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
        ActionKind::ToolDefinition {
            server,
            tool,
            digest,
            findings,
            pinned,
        } => {
            p.findings
                .extend(definition_findings(server, tool, digest, findings, pinned));
            p.subjects.push(Subject::McpDefinition {
                server: server.clone(),
                tool: tool.clone(),
            })
        }
        ActionKind::LlmRequest {
            provider, model, ..
        } => p.subjects.push(Subject::Llm {
            provider: provider.to_ascii_lowercase(),
            model: model.clone(),
        }),
        // Notices are warden's own records, not requests: nothing to allow.
        ActionKind::Notice { .. } => {
            p.hard_deny = Some((
                "builtin:notice".into(),
                "a notice is recorded by warden itself, never decided".into(),
            ))
        }
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

/// A definition approved before (its digest is the pin) is shown without a
/// question; a changed one, or a new one the scan flagged, needs a person.
fn definition_findings(
    server: &str,
    tool: &str,
    digest: &str,
    scan: &[String],
    pinned: &Option<String>,
) -> Option<Finding> {
    let (kind, why) = match pinned {
        Some(p) if p == digest => return None,
        Some(p) => (
            FindingKind::ToolChanged,
            format!(
                "the definition of {server}/{tool} changed since it was approved (digest {} was {})",
                short(digest),
                short(p)
            ),
        ),
        None if !scan.is_empty() => (
            FindingKind::ToolPoisoning,
            format!(
                "the description of {server}/{tool} looks poisoned: {}",
                scan.join("; ")
            ),
        ),
        None => return None,
    };
    Some(Finding {
        kind,
        threat: Threat::High,
        command: format!("mcp__{server}__{tool}"),
        why,
        index: None,
        pipeline: None,
    })
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
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
