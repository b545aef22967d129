//! How `warden shell` gets its lines decided: which ones wait for the
//! governor, and the calls to the daemon. Fails closed: a line that waits
//! and gets no verdict is blocked, and once the daemon has failed to answer
//! every later line waits (and so is blocked while it stays away), so a
//! daemon that is gone never means lines run unrecorded for long.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::Method;
use serde_json::json;
use warden_daemon::client::Client;
use warden_policy::shell::Script;
use warden_types::{Decision, Threat, Verdict};

use crate::session::Session;

/// How long a held line may wait for its verdict (an ask waits for a person).
const DECIDE_TIMEOUT: Duration = Duration::from_secs(130);

/// Shell built-ins and programs that change how keys are read — a key
/// rebound to accept-line, vi mode, another erase character — and so what
/// the guard's reading of later lines rests on.
const REBINDING: &[&str] = &["bind", "bindkey", "zle", "stty", "fish_vi_key_bindings"];

/// Why a line waits for its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// It does not: benign, parsed, read from the keys, simply allowed.
    No,
    /// The shell parser could not make sense of it.
    Unparseable(String),
    /// Read back from the screen rather than known from the keys.
    Uncertain,
    /// It changes how the shell reads keys.
    Rebinding(String),
    /// The daemon failed to answer or denied a benign line before: every
    /// line waits now.
    Strict,
    /// The policy would not simply allow it (a rule asks or denies), or
    /// the threat classifier found something in it.
    Policy,
}

impl Held {
    /// True when the line waits for its verdict.
    pub fn hold(&self) -> bool {
        *self != Held::No
    }
}

pub struct Decider {
    client: Client,
    session: String,
    secret: String,
    /// Set when a background decision failed or came back other than allow.
    strict: AtomicBool,
}

impl Decider {
    pub fn new(socket: &Path, session: &Session) -> Decider {
        Decider {
            client: Client::keep_alive(socket, DECIDE_TIMEOUT),
            session: session.id.clone(),
            secret: session.secret.clone(),
            strict: AtomicBool::new(false),
        }
    }

    /// Whether `command` (parsed as `script`) waits for its verdict: what
    /// needs no round trip first (unparseable, read back, rebinding keys,
    /// strict mode), then the daemon's policy without ask or record
    /// (`/v1/check`), whose verdict carries the threat classifier's finding:
    /// a line is held when a rule asks or denies, or when it is not benign.
    pub async fn screen(&self, command: &str, script: &Script, cwd: &Path, certain: bool) -> Held {
        if let Some(why) = script.errors.first() {
            return Held::Unparseable(why.clone());
        }
        if let Some(c) = script.commands.iter().find(|c| rebinds(c)) {
            return Held::Rebinding(c.program().to_string());
        }
        if !certain {
            return Held::Uncertain;
        }
        if self.strict.load(Ordering::Acquire) {
            return Held::Strict;
        }
        let v = self.call("/v1/check", command, cwd).await;
        if v.decision == Decision::Allow && v.rewrite.is_none() && v.threat == Threat::Benign {
            Held::No
        } else {
            Held::Policy
        }
    }

    /// Decides and records a line that has already gone through.
    pub fn record(self: Arc<Self>, command: String, cwd: PathBuf) {
        tokio::spawn(async move {
            let v = self.ask(&command, &cwd).await;
            if v.decision != Decision::Allow {
                self.strict.store(true, Ordering::Release);
                tracing::warn!(
                    "a line that went through was not allowed ({}): {command}",
                    v.reason
                );
                say(&format!(
                    "\nwarden: the line `{command}` went through but was not allowed: {}; from now on every line waits for its verdict\n",
                    v.reason
                ));
            }
        });
    }

    /// Decides a held line: `Ok` to let it through, else why not.
    pub async fn decide(
        self: Arc<Self>,
        command: String,
        cwd: PathBuf,
        held: Held,
    ) -> Result<(), String> {
        let v = self.ask(&command, &cwd).await;
        if v.decision == Decision::Allow && v.rewrite.is_none() {
            return Ok(());
        }
        let mut reason = v.reason.clone();
        if !v.rules.is_empty() {
            reason.push_str(&format!(" [{}]", v.rules.join(", ")));
        }
        if let Some(r) = &v.rewrite {
            reason.push_str(&format!(" (the policy suggests: {r})"));
        }
        if let Held::Rebinding(p) = held {
            reason.push_str(&format!(" ({p} changes how warden reads keys)"));
        }
        Err(reason)
    }

    async fn ask(&self, command: &str, cwd: &Path) -> Verdict {
        let path = format!(
            "/v1/decide?deadline_ms={}",
            DECIDE_TIMEOUT.as_millis().saturating_sub(2_000)
        );
        self.call(&path, command, cwd).await
    }

    async fn call(&self, path: &str, command: &str, cwd: &Path) -> Verdict {
        let action = json!({
            "cwd": cwd.to_string_lossy(),
            "origin": "pty",
            "session": self.session,
            "kind": {"shell": {"command": command}},
        });
        let headers = [(warden_daemon::api::SECRET_HEADER, self.secret.as_str())];
        let v = match self
            .client
            .call(Method::POST, path, Some(&action), &headers)
            .await
        {
            Ok((_, body)) => serde_json::from_value::<Verdict>(body).unwrap_or_else(|e| {
                Verdict::malformed(format!("the daemon's answer is not a verdict: {e}"))
            }),
            Err(e) => Verdict::malformed(format!("no verdict from the daemon: {e}")),
        };
        if v.rules.iter().any(|r| r == "builtin:malformed-input") {
            self.strict.store(true, Ordering::Release);
        }
        v
    }
}

/// True when the shell will only prompt for more at this Enter and run
/// nothing: the command is unfinished both to the continuation scan and to
/// the full parser, and this line holds no line break of its own. (A shell
/// runs each complete line as it reads it, so a pasted `a\nb '…` runs `a`
/// at once; a single unfinished line runs nothing until it is finished.)
pub fn unfinished(command: &str, script: &Script, line: &str) -> bool {
    !line.contains('\n')
        && !script.errors.is_empty()
        && warden_shell::continuation::needs_more(command)
}

fn rebinds(c: &warden_policy::shell::SimpleCommand) -> bool {
    let program = c.program();
    if REBINDING.contains(&program) {
        return true;
    }
    // `set -o vi`, `set +o emacs`, `set -o` anything: line-editing modes.
    let o = c.args().iter().any(|w| w.value == "-o" || w.value == "+o");
    (program == "set" && o) || c.assignments.iter().any(|(name, _)| name == "INPUTRC")
}

/// Writes `text` to the user's terminal, which is in raw mode (line ends
/// as CR LF).
pub fn say(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.replace('\n', "\r\n").as_bytes());
    let _ = out.flush();
}
