//! `warden shell [-- shell…]`: an interactive shell on a PTY with warden
//! between it and the terminal. Each command line is classified when Enter
//! is pressed, before the shell sees the Enter: benign lines go through at
//! once and are decided and recorded in the background; high-risk,
//! unparseable and uncertain lines wait for the governor's verdict and are
//! then passed or thrown away with a visible reason.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;
use warden_daemon::client::Client;
use warden_sandbox::pty::{Pty, RawMode, WinSize, window_size};
use warden_shell::{Anchor, Guard, Outcome, ScreenMirror, Step, Submission, guard::Context as Ctx};

use crate::shell_decide::{Decider, say};

pub const SHELL_HELP: &str = "\
Runs your shell (or the given one) with warden between it and the terminal.
When Enter is pressed, warden works out the command line the shell is about
to run — from the keys typed (editing keys, arrows, paste) or, after history
recall or completion, from the shell's own display — and classifies it with
the policy's shell analysis:

  benign lines      go through at once; decided and recorded in the background
  high-risk lines   (and lines warden cannot parse or read back) wait for the
                    daemon's verdict: let through, or thrown away with
                    \"warden: blocked: <reason>\"; ^C stops the wait
  full-screen programs and running jobs get their input untouched

The shell is a registered session of the daemon (start it with `warden up`).

Examples:
  warden shell
  warden shell -- bash --norc
  warden shell --agent my-agent --autonomy 1 -- zsh";

/// Arguments of `warden shell`.
#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    /// The agent name the session is registered under (selects
    /// `[agents.NAME]` in the policy).
    #[arg(long, value_name = "NAME", default_value = "shell")]
    agent: String,
    /// The session's autonomy level (0-4; default: the policy's for the agent).
    #[arg(long, value_name = "LEVEL")]
    autonomy: Option<u8>,
    /// The shell and its arguments (default: $SHELL, else /bin/bash).
    #[arg(last = true, value_name = "SHELL")]
    command: Vec<String>,
}

/// Programs whose prompt is guarded when they have the terminal (a shell
/// started from the shell reads command lines just the same).
const SHELLS: &[&str] = &[
    "bash", "sh", "dash", "zsh", "ksh", "mksh", "fish", "ash", "busybox",
];

enum Event {
    Input(Vec<u8>),
    InputClosed,
    Exited,
}

pub fn run(a: ShellArgs, home: &Path) -> Result<u8> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("warden shell needs a terminal on stdin (it stands between a terminal and a shell)");
    }
    let argv = if a.command.is_empty() {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/bash".into())]
    } else {
        a.command.clone()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let socket = home.join("warden.sock");
    let api = Client::new(&socket, Duration::from_secs(10));
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let session = crate::session::register(
        &rt,
        &api,
        &a.agent,
        a.autonomy,
        &cwd,
        "warden shell needs the daemon to decide command lines; no shell was started",
    )?;
    let size = window_size(stdin.as_fd()).unwrap_or(WinSize { rows: 24, cols: 80 });
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env("WARDEN_SHELL", "1")
        .env("WARDEN_SESSION", &session.id);
    let program = std::path::Path::new(&argv[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !SHELLS.contains(&program.as_str()) && program != "warden" {
        eprintln!(
            "warden shell: {program} is not a shell warden knows ({}); only the lines typed at one of those are guarded",
            SHELLS.join(", ")
        );
    }
    let mut pty = match Pty::spawn(cmd, size) {
        Ok(p) => p,
        Err(e) => {
            crate::session::stop(&rt, &api, &session);
            bail!("starting {}: {e}", argv[0]);
        }
    };
    let decider = Arc::new(Decider::new(&socket, &session));
    let code = match RawMode::enter(stdin.as_fd()) {
        Ok(raw) => {
            let r = rt.block_on(guard_loop(&pty, size, decider));
            drop(raw);
            r
        }
        Err(e) => Err(anyhow::Error::new(e).context("putting the terminal in raw mode")),
    };
    pty.hang_up();
    let status = pty.wait().unwrap_or(125);
    crate::session::stop(&rt, &api, &session);
    code?;
    Ok(u8::try_from(status).unwrap_or(125))
}

/// What the output side shares with the input side.
struct Display {
    screen: Mutex<ScreenMirror>,
    /// When the shell last printed, in microseconds since `epoch`.
    last_output: AtomicU64,
    /// When input was last sent to the shell, likewise.
    last_input: AtomicU64,
    epoch: Instant,
    closed: AtomicBool,
}

impl Display {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn sent(&self) {
        self.last_input.store(self.now(), Ordering::Release);
    }

    /// True once the shell has printed since it was last sent input, and
    /// then nothing for `quiet`: its echo and redisplay of what it was sent
    /// are on the screen.
    fn settled(&self, quiet: Duration) -> bool {
        let out = self.last_output.load(Ordering::Acquire);
        out > self.last_input.load(Ordering::Acquire)
            && self.now().saturating_sub(out) >= quiet.as_micros() as u64
    }

    /// Waits (at most `cap`) until [`Display::settled`]; whether it did.
    async fn settle(&self, quiet: Duration, cap: Duration) -> bool {
        let until = Instant::now() + cap;
        loop {
            if self.settled(quiet) {
                return true;
            }
            if Instant::now() >= until || self.closed.load(Ordering::Acquire) {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn guard_loop(pty: &Pty, size: WinSize, decider: Arc<Decider>) -> Result<()> {
    let display = Arc::new(Display {
        screen: Mutex::new(ScreenMirror::new(size.rows, size.cols)),
        last_output: AtomicU64::new(0),
        last_input: AtomicU64::new(0),
        epoch: Instant::now(),
        closed: AtomicBool::new(false),
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut from_shell = pty.master_clone().context("opening the PTY")?;
    let mut to_shell = pty.master_clone().context("opening the PTY")?;
    {
        let (tx, display) = (tx.clone(), display.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from_shell.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf[..n]);
                        let _ = out.flush();
                        drop(out);
                        if let Ok(mut s) = display.screen.lock() {
                            s.process(&buf[..n]);
                        }
                        display.last_output.store(display.now(), Ordering::Release);
                    }
                }
            }
            display.closed.store(true, Ordering::Release);
            let _ = tx.send(Event::Exited);
        });
    }
    {
        let mut input = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match input.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Event::InputClosed);
                        break;
                    }
                    Ok(n) => {
                        if tx.send(Event::Input(buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("watching the terminal's size")?;
    let mut guard = Guard::new();
    let mut anchor: Option<Anchor> = None;
    loop {
        let input = tokio::select! {
            e = rx.recv() => match e {
                Some(Event::Input(bytes)) => bytes,
                Some(Event::InputClosed) => {
                    // The terminal is gone: so is the shell's.
                    pty.hang_up();
                    continue;
                }
                Some(Event::Exited) | None => return Ok(()),
            },
            _ = winch.recv() => {
                if let Some(ws) = window_size(std::io::stdin().as_fd()) {
                    let _ = pty.resize(ws);
                    if let Ok(mut s) = display.screen.lock() {
                        s.resize(ws.rows, ws.cols);
                    }
                }
                continue;
            }
        };
        let mut steps = guard.feed(&input, context(pty, &display));
        while !steps.is_empty() {
            let mut next = Vec::new();
            for step in steps {
                match step {
                    Step::Forward(bytes) => {
                        write_all(&mut to_shell, &bytes)?;
                        display.sent();
                    }
                    Step::LineStarted => {
                        // Right after a line was let through the shell may
                        // not have drawn its prompt yet: a moment's wait
                        // gives the right anchor (a person typing never
                        // waits here; the prompt is long drawn).
                        display
                            .settle(Duration::from_millis(3), Duration::from_millis(100))
                            .await;
                        anchor = display.screen.lock().ok().map(|s| s.anchor());
                    }
                    Step::Submit(sub) => {
                        let outcome = submit(
                            &sub,
                            anchor.as_ref(),
                            &display,
                            &decider,
                            &mut rx,
                            &mut guard,
                            pty,
                        )
                        .await;
                        if let Outcome::Passed { .. } = &outcome {
                            write_all(&mut to_shell, &[sub.enter])?;
                        } else {
                            // The shell throws its line away, as at ^C.
                            write_all(&mut to_shell, &[0x03])?;
                        }
                        display.sent();
                        let dropped = guard.resolve(outcome);
                        if dropped > 0 {
                            say(&format!(
                                "warden: {dropped} bytes typed after the blocked line were not sent\n"
                            ));
                        }
                        next = guard.feed(&[], context(pty, &display));
                    }
                }
            }
            steps = next;
        }
    }
}

/// Decides a submitted line; input that arrives meanwhile is queued in the
/// guard (a ^C among it stops the wait and blocks the line).
#[allow(clippy::too_many_arguments)]
async fn submit(
    sub: &Submission,
    anchor: Option<&Anchor>,
    display: &Display,
    decider: &Arc<Decider>,
    rx: &mut mpsc::UnboundedReceiver<Event>,
    guard: &mut Guard,
    pty: &Pty,
) -> Outcome {
    let line = if sub.certain {
        Some(sub.line.clone())
    } else {
        // What the keys could not tell, the shell's display does, once the
        // shell has answered the last keys sent and finished redrawing. A
        // shell that does not answer leaves the screen stale: not read.
        if display
            .settle(Duration::from_millis(30), Duration::from_secs(2))
            .await
        {
            match (anchor, display.screen.lock()) {
                (Some(a), Ok(s)) => s.line_since(a),
                _ => None,
            }
        } else {
            None
        }
    };
    let Some(line) = line else {
        say("\nwarden: blocked: the line could not be read back from the screen\n");
        return Outcome::Blocked;
    };
    let command = sub.command(&line);
    let script = warden_policy::shell::parse(&command);
    if command.trim().is_empty() || crate::shell_decide::unfinished(&command, &script, &line) {
        // Nothing runs yet: the shell prompts for the rest, and the whole
        // command is decided at the Enter that completes it.
        return Outcome::Passed { line };
    }
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", pty.pid()))
        .unwrap_or_else(|_| PathBuf::from("/"));
    let started = Instant::now();
    let held = decider.screen(&command, &script, &cwd, sub.certain).await;
    tracing::debug!(?held, certain = sub.certain, %command, screened_us = started.elapsed().as_micros() as u64, "line submitted");
    if !held.hold() {
        decider.clone().record(command, cwd);
        return Outcome::Passed { line };
    }
    let decision = decider.clone().decide(command, cwd, held);
    tokio::pin!(decision);
    let mut told = false;
    let wait_note = tokio::time::sleep(Duration::from_millis(400));
    tokio::pin!(wait_note);
    loop {
        tokio::select! {
            verdict = &mut decision => {
                return match verdict {
                    Ok(()) => Outcome::Passed { line },
                    Err(reason) => {
                        say(&format!("\nwarden: blocked: {reason}\n"));
                        Outcome::Blocked
                    }
                };
            }
            _ = &mut wait_note, if !told => {
                told = true;
                say("\nwarden: this line waits for a decision (the dashboard, or `warden asks` in another terminal); ^C gives up\n");
            }
            e = rx.recv() => match e {
                Some(Event::Input(bytes)) => {
                    if bytes.contains(&0x03) {
                        say("\nwarden: blocked: given up at the terminal\n");
                        return Outcome::Blocked;
                    }
                    let _ = guard.feed(&bytes, context(pty, display));
                }
                Some(Event::InputClosed) | Some(Event::Exited) | None => return Outcome::Blocked,
            }
        }
    }
}

fn write_all(to: &mut std::fs::File, bytes: &[u8]) -> Result<()> {
    to.write_all(bytes).context("writing to the shell")
}

/// Whether the shell is reading a command line, and how.
fn context(pty: &Pty, display: &Display) -> Ctx {
    let (alternate, paste_mode) = display
        .screen
        .lock()
        .map(|s| (s.alternate(), s.bracketed_paste()))
        .unwrap_or((false, false));
    // Whoever leads the foreground group must be a shell: the command
    // started may be a launcher (`warden run -- bash`) whose own input is
    // not command lines until the shell it starts takes the terminal. A
    // foreground group the kernel does not tell is guarded.
    let at_prompt = !alternate && pty.foreground().is_none_or(leader_is_shell);
    Ctx {
        at_prompt,
        paste_mode,
        canonical: pty.canonical(),
    }
}

/// Whether the process leading group `pgid` is a shell. What cannot be
/// read counts as one (its lines are then guarded): a shell of another
/// user (`sudo -s`) hides its executable, not its command name, and a
/// leader that cannot be looked at at all is no reason to let keys by.
fn leader_is_shell(pgid: u32) -> bool {
    let name = std::fs::read_link(format!("/proc/{pgid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| {
            std::fs::read_to_string(format!("/proc/{pgid}/comm"))
                .ok()
                .map(|c| c.trim_end().to_string())
        });
    name.is_none_or(|n| SHELLS.contains(&n.as_str()))
}
