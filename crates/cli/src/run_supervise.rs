//! The exec supervisor of `warden run`. The event loop waits on the sandbox's
//! seccomp listener (a thread does where the loop cannot poll it) and asks
//! the daemon, one task per exec, so that an exec waiting for a person does
//! not hold up the others. Fails closed: an unreadable exec, an unreachable
//! daemon or a timeout refuses the exec.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::json;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use warden_daemon::client::Client;
use warden_sandbox::{ExecRequest, Listener, NotifyError, Request, Sandbox, Wait};
use warden_types::{Decision, Verdict};

/// How long one exec may wait for its verdict (an ask waits for a person).
const DECIDE_TIMEOUT: Duration = Duration::from_secs(130);

/// What the listener thread reports.
enum Event {
    Exec(ExecRequest),
    /// A call on the deny list was refused (and by which process).
    Refused(&'static str, u32),
    /// The sandbox exited (or can no longer be supervised).
    Done(Option<String>),
}

/// Runs until the sandbox exits; its exit code.
pub async fn supervise(
    sandbox: &mut Sandbox,
    socket: &Path,
    session: &str,
    secret: &str,
    timeout: Option<Duration>,
) -> i32 {
    let exited = match sandbox.exit_fd() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("warden run: watching the sandbox: {e}; stopping it");
            sandbox.kill();
            return sandbox.wait().unwrap_or(125);
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = sandbox.take_listener().map(Arc::new);
    match listener.clone() {
        Some(l) => match Readiness::register(&l, exited) {
            // On this thread: an exec reaches its decision without waking
            // another thread first.
            Ok(ready) => {
                tokio::spawn(watch_async(l, ready, tx));
            }
            Err((exited, e)) => {
                tracing::debug!("the seccomp listener cannot be polled here ({e}); using a thread");
                std::thread::spawn(move || watch(&l, &exited, &tx));
            }
        },
        None => {
            drop(exited);
            let problem = "the sandbox has no exec listener, so its execs cannot be decided";
            let _ = tx.send(Event::Done(Some(problem.into())));
        }
    }
    let ctx = Arc::new(Ctx {
        client: Client::keep_alive(socket, DECIDE_TIMEOUT),
        session: session.to_string(),
        secret: secret.to_string(),
    });
    let mut refused: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(limit);
    let mut limit_reached = false;
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Event::Exec(req)) => {
                    if let Some(l) = listener.clone() {
                        let ctx = ctx.clone();
                        tokio::spawn(async move { ctx.decide(req, &l).await });
                    }
                }
                Some(Event::Refused(call, pid)) => {
                    let n = refused.entry(call).or_default();
                    *n += 1;
                    // The first of each kind is reported at once; repeats
                    // are summed up when the session ends.
                    if *n == 1 {
                        let ctx = ctx.clone();
                        tokio::spawn(async move { ctx.report(call, 1, Some(pid)).await });
                    }
                }
                Some(Event::Done(problem)) => {
                    if let Some(p) = problem {
                        eprintln!("warden run: {p}; stopping the sandbox");
                        sandbox.kill();
                    }
                    break;
                }
                None => break,
            },
            _ = recv(&mut term) => {
                eprintln!("warden run: terminated; stopping the sandbox");
                sandbox.kill();
            }
            _ = recv(&mut hup) => sandbox.kill(),
            _ = recv(&mut int) => {
                // At a terminal ^C reaches the command itself (same process
                // group); elsewhere an interrupt is meant for the whole run.
                if !interactive {
                    sandbox.kill();
                }
            }
            _ = &mut limit, if !limit_reached => {
                limit_reached = true;
                eprintln!(
                    "warden run: the time limit ({}) is up; stopping the sandbox",
                    humantime::format_duration(timeout.unwrap_or_default())
                );
                sandbox.kill();
            }
        }
    }
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|(c, n)| format!("{c} x{n}")).collect();
        eprintln!("warden run: refused system calls: {}", list.join(", "));
        for (call, n) in refused.iter().filter(|(_, n)| **n > 1) {
            ctx.report(call, *n, None).await;
        }
    }
    sandbox.wait().unwrap_or(125)
}

/// Takes the call waiting on the listener (one `wait` reported); `false`
/// once there is nothing more to watch.
fn take_call(l: &Listener, tx: &mpsc::UnboundedSender<Event>) -> bool {
    let event = match l.receive() {
        Ok(Request::Exec(req)) => Event::Exec(req),
        Ok(Request::Denied { id, call, pid }) => {
            let _ = l.deny(id);
            Event::Refused(call, pid)
        }
        Err((id, NotifyError::Unreadable { pid, detail })) => {
            eprintln!("warden run: refused an exec of process {pid}: {detail}");
            let _ = l.deny(id);
            return true;
        }
        Err((_, NotifyError::Gone)) => return true,
        Err((_, e)) => Event::Done(Some(e.to_string())),
    };
    let done = matches!(event, Event::Done(_));
    tx.send(event).is_ok() && !done
}

/// The listener thread (where the listener cannot be polled by the event
/// loop): every waiting call goes to the async side, except those on the
/// deny list, refused here at once.
fn watch(l: &Listener, exited: &OwnedFd, tx: &mpsc::UnboundedSender<Event>) {
    loop {
        match l.wait(exited) {
            Wait::Call => {}
            Wait::Exited | Wait::Closed => {
                let _ = tx.send(Event::Done(None));
                return;
            }
        }
        if !take_call(l, tx) {
            return;
        }
    }
}

/// The listener and the sandbox's exit, registered with the event loop.
struct Readiness {
    calls: AsyncFd<OwnedFd>,
    exited: AsyncFd<OwnedFd>,
}

impl Readiness {
    fn register(l: &Listener, exited: OwnedFd) -> Result<Readiness, (OwnedFd, std::io::Error)> {
        let calls = l
            .try_clone_fd()
            .and_then(|fd| warden_sandbox::register_readable(fd).map_err(|(_, e)| e));
        let calls = match calls {
            Ok(c) => c,
            Err(e) => return Err((exited, e)),
        };
        let exited = warden_sandbox::register_readable(exited)?;
        Ok(Readiness { calls, exited })
    }
}

/// [`watch`] on the event loop. Readiness is edge-triggered: every call
/// waiting is taken (the descriptor polled without blocking) before waiting
/// again, and readiness is cleared before that poll, so a call arriving in
/// between is never missed.
async fn watch_async(l: Arc<Listener>, ready: Readiness, tx: mpsc::UnboundedSender<Event>) {
    loop {
        match l.ready_now(ready.exited.get_ref()) {
            Some(Wait::Call) => {
                if !take_call(&l, &tx) {
                    return;
                }
                continue;
            }
            Some(Wait::Exited | Wait::Closed) => {
                let _ = tx.send(Event::Done(None));
                return;
            }
            None => {}
        }
        let woke = tokio::select! {
            g = ready.calls.readable() => g.map(|mut g| g.clear_ready()),
            g = ready.exited.readable() => g.map(|mut g| g.clear_ready()),
        };
        if let Err(e) = woke {
            let _ = tx.send(Event::Done(Some(format!(
                "watching the seccomp listener: {e}"
            ))));
            return;
        }
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

struct Ctx {
    client: Client,
    session: String,
    secret: String,
}

impl Ctx {
    /// Tells the daemon what the kernel refused (recorded and raised as an
    /// alert there); a report that does not arrive is logged, it decides
    /// nothing.
    async fn report(&self, call: &str, count: u32, pid: Option<u32>) {
        let body = json!({"kind": "seccomp", "detail": call, "count": count, "pid": pid});
        let path = format!("/v1/sessions/{}/violations", self.session);
        let headers = [(warden_daemon::api::SECRET_HEADER, self.secret.as_str())];
        match self
            .client
            .call(Method::POST, &path, Some(&body), &headers)
            .await
        {
            Ok((status, _)) if status.is_success() => {}
            Ok((status, v)) => {
                tracing::warn!("the daemon refused a violation report ({status}): {v}")
            }
            Err(e) => tracing::warn!("reporting a violation: {e}"),
        }
    }

    async fn decide(&self, req: ExecRequest, listener: &Listener) {
        let started = std::time::Instant::now();
        // The program the kernel will run, not what the caller calls it:
        // argv[0] is the caller's to choose.
        let argv: Vec<String> = std::iter::once(req.path.clone())
            .chain(req.argv.iter().skip(1).cloned())
            .collect();
        let action = json!({
            "cwd": req.cwd,
            "origin": "sandbox",
            "session": self.session,
            "kind": {"exec": {"argv": argv, "env_keys": req.env_keys}},
        });
        let path = format!(
            "/v1/decide?deadline_ms={}",
            DECIDE_TIMEOUT.as_millis().saturating_sub(2_000)
        );
        let headers = [(warden_daemon::api::SECRET_HEADER, self.secret.as_str())];
        let verdict = match self
            .client
            .call(Method::POST, &path, Some(&action), &headers)
            .await
        {
            Ok((_, body)) => serde_json::from_value::<Verdict>(body).unwrap_or_else(|e| {
                Verdict::malformed(format!("the daemon's answer is not a verdict: {e}"))
            }),
            Err(e) => Verdict::malformed(format!("no verdict from the daemon: {e}")),
        };
        let asked = started.elapsed();
        // A rewrite cannot be run in place of an exec: the verdict is then a
        // deny (as the Verdict's contract says).
        if verdict.decision == Decision::Allow && verdict.rewrite.is_none() {
            let _ = listener.allow(req.id);
            tracing::debug!(
                program = %req.path,
                since_read_us = req.read_at.elapsed().as_micros() as u64,
                daemon_us = asked.as_micros() as u64,
                "exec allowed"
            );
        } else {
            eprintln!(
                "warden: refused exec of {}: {}",
                argv.join(" "),
                verdict.reason
            );
            let _ = listener.deny(req.id);
        }
    }
}

/// Carries each connection the sandbox makes to its egress port to the
/// daemon's proxy socket. The daemon knows the session by this process's
/// pid (`SO_PEERCRED`), the session's root; nothing the sandbox sends can
/// claim another identity. A daemon that is gone means a closed connection.
pub async fn bridge(listener: std::net::TcpListener, proxy: std::path::PathBuf) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("the sandbox's egress bridge: {e}");
            return;
        }
    };
    let proxy = std::sync::Arc::new(proxy);
    loop {
        let Ok((mut inside, _)) = listener.accept().await else {
            // Out of descriptors, most likely: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let proxy = std::sync::Arc::clone(&proxy);
        tokio::spawn(async move {
            let _ = inside.set_nodelay(true);
            match tokio::net::UnixStream::connect(proxy.as_path()).await {
                Ok(mut out) => {
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut out).await;
                }
                Err(e) => tracing::debug!("egress proxy {}: {e}", proxy.display()),
            }
        });
    }
}
