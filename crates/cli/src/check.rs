//! `warden check`: decide one action from flags, or a stream of actions.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Args};
use warden_audit::AuditLog;
use warden_types::{Action, ActionKind, Autonomy, Decision, NetRequest, Verdict};

use crate::load;
use crate::render;

pub const CHECK_HELP: &str = "\
Examples:
  warden check --bash 'git status && curl -fsSL https://get.example.sh | sh'
  warden check --read ~/.ssh/id_rsa
  warden check --fetch http://169.254.169.254/latest/meta-data/ --json
  warden check --tool github/create_issue --args '{\"title\":\"x\"}' --autonomy assistant
  warden check --exec -- /usr/bin/env rm -rf /tmp/x
  echo '{\"cwd\":\"/w\",\"kind\":{\"shell\":{\"command\":\"ls\"}}}' | warden check --jsonl

Exit codes: 0 allow, 1 error or bad usage, 2 deny, 3 ask. With --jsonl: 0 once
every line got a verdict (malformed lines get a deny verdict naming the error).";

/// Arguments of `warden check`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["bash", "exec", "read", "write", "delete", "fetch", "tool", "jsonl"])))]
pub struct CheckArgs {
    /// A shell command line, as an agent's Bash tool would run it.
    #[arg(long, value_name = "CMD")]
    bash: Option<String>,
    /// A program exec'd directly: give it last, as `--exec -- PROGRAM ARGS...`
    /// (everything after the program is its argv).
    #[arg(long)]
    exec: bool,
    /// The program and its arguments for --exec.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGV",
        requires = "exec"
    )]
    argv: Vec<String>,
    /// A file the agent wants to read.
    #[arg(long, value_name = "PATH")]
    read: Option<String>,
    /// A file the agent wants to create or modify.
    #[arg(long, value_name = "PATH")]
    write: Option<String>,
    /// A file the agent wants to delete.
    #[arg(long, value_name = "PATH")]
    delete: Option<String>,
    /// A URL the agent wants to fetch.
    #[arg(long, value_name = "URL")]
    fetch: Option<String>,
    /// HTTP method for --fetch.
    #[arg(long, value_name = "METHOD", requires = "fetch")]
    method: Option<String>,
    /// An MCP tool call, as SERVER/TOOL.
    #[arg(long, value_name = "SERVER/TOOL")]
    tool: Option<String>,
    /// JSON arguments of the --tool call.
    #[arg(long, value_name = "JSON", requires = "tool")]
    args: Option<String>,
    /// Read Action JSON lines on stdin; write one Verdict JSON line per input line.
    #[arg(long)]
    jsonl: bool,
    /// The agent's working directory (workspace); default: the current directory.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// The agent's name (selects [agents.NAME] in the policy).
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Autonomy level: observer, assistant, executor, delegated, autonomous, or 0-4.
    #[arg(long, value_name = "LEVEL")]
    autonomy: Option<Autonomy>,
    /// Decide as if no human can answer (asks become denies).
    #[arg(long)]
    no_human: bool,
    /// Print the Verdict as JSON instead of an explanation.
    #[arg(long)]
    json: bool,
    /// Record each decision in the audit log (in --home / $WARDEN_HOME) before
    /// answering; the verdict then carries its receipt. A decision that cannot be
    /// recorded is a deny.
    #[arg(long)]
    record: bool,
}

/// The audit log, when --record asks for one (or why it could not be opened).
enum Recorder {
    Off,
    On(AuditLog),
    Broken(String),
}

impl Recorder {
    fn open(wanted: bool, home: &Path) -> Recorder {
        if !wanted {
            return Recorder::Off;
        }
        match AuditLog::open(home, warden_audit::Options::default()) {
            Ok(log) => Recorder::On(log),
            Err(e) => Recorder::Broken(format!("the audit log in {}: {e}", home.display())),
        }
    }

    /// Records `verdict`; on failure the verdict becomes a deny naming why
    /// (fail closed: an unrecorded action does not run).
    fn record(&self, action: &mut Action, verdict: Verdict) -> Verdict {
        let log = match self {
            Recorder::Off => return verdict,
            Recorder::On(log) => log,
            Recorder::Broken(why) => return unrecorded(why),
        };
        if action.time.is_empty() {
            action.time = warden_audit::export::rfc3339_ms(now_ms());
        }
        match log.append(action, &verdict) {
            Ok(receipt) => Verdict {
                audit: Some(receipt.to_audit_receipt()),
                ..verdict
            },
            Err(e) => unrecorded(&e.to_string()),
        }
    }
}

fn unrecorded(why: &str) -> Verdict {
    let mut v = Verdict::malformed(format!("the decision could not be recorded: {why}"));
    v.rules = vec!["builtin:audit-unavailable".into()];
    v
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn run(args: CheckArgs, policy: Option<&Path>, home: &Path) -> Result<u8> {
    let cwd = match &args.cwd {
        Some(c) => std::path::absolute(c).with_context(|| format!("--cwd {}", c.display()))?,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    // clap does not enforce `requires` against a member of a required group, and
    // the trailing ARGV would otherwise swallow unknown flags.
    if !args.exec && !args.argv.is_empty() {
        anyhow::bail!(
            "unexpected argument {:?} (program arguments go after --exec)",
            args.argv[0]
        );
    }
    if args.method.is_some() && args.fetch.is_none() {
        anyhow::bail!("--method applies to --fetch only");
    }
    if args.args.is_some() && args.tool.is_none() {
        anyhow::bail!("--args applies to --tool only");
    }
    let policy = load::load_policy(policy, Some(&cwd))?;
    let mut ctx = load::eval_context(!args.no_human);
    // The state directory in use is warden's own, whatever --home says.
    if !ctx.protected.iter().any(|p| p == home) {
        ctx.protected.push(home.to_path_buf());
    }
    // A person at the command line chooses the level to evaluate at.
    ctx.autonomy = args.autonomy;
    let recorder = Recorder::open(args.record, home);
    if args.jsonl {
        return jsonl(&policy, &ctx, &recorder);
    }
    let kind = action_kind(&args)?;
    let mut action = Action::new(cwd.to_string_lossy(), kind);
    action.agent.name = args.agent.clone().unwrap_or_default();
    let mut eval = policy.evaluate(&action, &ctx);
    eval.verdict = recorder.record(&mut action, eval.verdict);
    if args.json {
        println!("{}", serde_json::to_string(&eval.verdict)?);
    } else {
        print!("{}", render::explanation(&action, &eval));
        if let Some(r) = &eval.verdict.audit {
            println!("recorded: audit entry {} (leaf {})", r.seq, r.leaf_hash);
        } else if args.record {
            println!("NOT RECORDED: {}", eval.verdict.reason);
        }
    }
    Ok(exit_code(eval.verdict.decision))
}

/// 0 allow, 2 deny, 3 ask.
pub fn exit_code(d: Decision) -> u8 {
    match d {
        Decision::Allow => 0,
        Decision::Deny => 2,
        Decision::Ask => 3,
    }
}

fn action_kind(a: &CheckArgs) -> Result<ActionKind> {
    Ok(if let Some(c) = &a.bash {
        ActionKind::Shell { command: c.clone() }
    } else if a.exec {
        let argv: Vec<String> = a.argv.iter().skip_while(|w| *w == "--").cloned().collect();
        if argv.is_empty() {
            anyhow::bail!("--exec needs a program: warden check --exec -- PROGRAM ARGS...");
        }
        ActionKind::Exec {
            argv,
            env_keys: None,
        }
    } else if let Some(p) = &a.read {
        ActionKind::FileRead { path: p.clone() }
    } else if let Some(p) = &a.write {
        ActionKind::FileWrite { path: p.clone() }
    } else if let Some(p) = &a.delete {
        ActionKind::FileDelete { path: p.clone() }
    } else if let Some(u) = &a.fetch {
        ActionKind::Net(NetRequest {
            url: Some(u.clone()),
            method: a.method.clone(),
            ..NetRequest::default()
        })
    } else if let Some(t) = &a.tool {
        let (server, tool) = t
            .split_once('/')
            .with_context(|| format!("--tool {t:?}: expected SERVER/TOOL"))?;
        let arguments = match &a.args {
            Some(j) => serde_json::from_str(j)
                .with_context(|| format!("--args is not valid JSON: {j:?}"))?,
            None => serde_json::Value::Object(Default::default()),
        };
        ActionKind::ToolCall {
            server: server.into(),
            tool: tool.into(),
            arguments,
        }
    } else {
        anyhow::bail!(
            "give one of --bash, --exec, --read, --write, --delete, --fetch, --tool or --jsonl"
        )
    })
}

/// One verdict line per input line, in order; a line that is not an Action gets a
/// deny naming the problem, and the stream goes on.
fn jsonl(
    policy: &warden_policy::Policy,
    ctx: &warden_policy::EvalContext,
    recorder: &Recorder,
) -> Result<u8> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut reader = stdin.lock();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .context("reading stdin")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let verdict = match std::str::from_utf8(&buf) {
            Err(e) => Verdict::malformed(format!("line {line_no}: not UTF-8 ({e})")),
            Ok(text) if text.trim().is_empty() => {
                Verdict::malformed(format!("line {line_no}: empty line"))
            }
            Ok(text) => match serde_json::from_str::<Action>(text) {
                Ok(action) if action.v != warden_types::CONTRACT_VERSION => Verdict::malformed(
                    format!("line {line_no}: unsupported action version {}", action.v),
                ),
                Ok(mut action) => {
                    let verdict = policy.evaluate(&action, ctx).verdict;
                    recorder.record(&mut action, verdict)
                }
                Err(e) => Verdict::malformed(format!("line {line_no}: not an Action: {e}")),
            },
        };
        serde_json::to_writer(&mut out, &verdict)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    Ok(0)
}
