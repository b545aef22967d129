//! `warden bench hooks`: the interceptors of real agents, timed as the agents
//! see them — the hook process `warden init` installs (`warden-hook`, spawn
//! included), the
//! HTTP hook round trip over loopback TCP, and the MCP gateway's added
//! latency per `tools/call` (through `warden mcp` versus straight to the same
//! server), against a real daemon in a scratch home recording every verdict.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::audit::Mode;
use crate::bench_decide::{Scratch, percentile, start_scratch_daemon};

/// Arguments of `warden bench hooks`.
#[derive(Debug, Args)]
#[command(after_help = "\
Starts `warden up` in a temporary home (removed afterwards), enrolls a
claude-code hook as `warden init` would, and times:
  hook_process  `warden-hook claude-code` (what `warden init` installs) run as
                a process with a PreToolUse
                payload, spawn to exit (bare: spawning `true`, for scale);
  http_hook     POST /v1/hooks/claude-code over one keep-alive TCP connection;
  mcp_gateway   tools/call round trips through `warden mcp` minus the same calls
                straight to the server (a minimal echo server), i.e. what the
                gateway adds, its decision included.

Example: warden bench hooks --json")]
pub struct BenchHooksArgs {
    /// Hook processes to run.
    #[arg(long, default_value_t = 200, value_name = "N")]
    processes: usize,
    /// HTTP hook round trips and MCP calls.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    requests: usize,
    /// Audit durability of the daemon.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Internal: be a minimal MCP echo server on stdio.
    #[arg(long, hide = true)]
    serve_echo_mcp: bool,
}

const PAYLOAD: &str = r#"{"session_id":"bench-session","cwd":"CWD","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"git status"},"tool_use_id":"toolu_bench"}"#;

fn stats(mut us: Vec<f64>) -> Value {
    us.sort_by(f64::total_cmp);
    json!({"n": us.len(), "p50_us": percentile(&us, 0.5), "p90_us": percentile(&us, 0.9), "p99_us": percentile(&us, 0.99)})
}

/// A minimal MCP server: initialize, tools/list with one tool, tools/call echo.
fn serve_echo() -> Result<u8> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let Some(id) = v.get("id").cloned() else {
            continue;
        };
        let result = match v["method"].as_str() {
            Some("initialize") => {
                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "echo", "version": "1"}})
            }
            Some("tools/list") => {
                json!({"tools": [{"name": "echo", "description": "Echo the text back.", "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]})
            }
            Some("tools/call") => {
                json!({"content": [{"type": "text", "text": v["params"]["arguments"]["text"]}]})
            }
            _ => json!({}),
        };
        writeln!(
            out,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "result": result})
        )?;
        out.flush()?;
    }
    Ok(0)
}

/// Round trips of `n` tools/call requests to an MCP server started by `cmd`.
fn mcp_calls(mut cmd: Command, n: usize) -> Result<Vec<f64>> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the MCP server")?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let mut call = |id: usize, method: &str, params: Value| -> Result<f64> {
        let t = Instant::now();
        writeln!(
            stdin,
            "{}",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        )?;
        stdin.flush()?;
        let line = lines.next().context("the server closed")??;
        let v: Value = serde_json::from_str(&line)?;
        if v.get("result").is_none() || v["result"]["isError"] == true {
            bail!("{method} failed: {line}");
        }
        Ok(t.elapsed().as_secs_f64() * 1e6)
    };
    call(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
    )?;
    call(1, "tools/list", json!({}))?;
    let mut us = Vec::with_capacity(n);
    for i in 0..n {
        us.push(call(
            i + 2,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
        )?);
    }
    drop(stdin);
    let _ = child.wait();
    Ok(us)
}

pub fn run(a: BenchHooksArgs) -> Result<u8> {
    if a.serve_echo_mcp {
        return serve_echo();
    }
    let scratch = Scratch::create("hooks")?;
    let base = scratch.0.clone();
    std::fs::create_dir_all(base.join("config/warden"))?;
    let home = base.join("state");
    let ws = base.join("workspace");
    std::fs::create_dir_all(&ws)?;
    // The bench's agents are trusted with everyday work, so every decision
    // allows and is recorded (no person in the loop).
    std::fs::write(
        base.join("config/warden/policy.toml"),
        "version = 1\n[defaults]\nautonomy = \"delegated\"\n[[rule]]\nid = \"bench-mcp\"\nallow = [\"mcp__echo__*\"]\n",
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let exe = std::env::current_exe()?;
    let mode = format!("{:?}", a.mode).to_lowercase();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listen = format!("127.0.0.1:{port}");
    let daemon = start_scratch_daemon(
        &base,
        &home,
        // Any free proxy port: the default one may be a real daemon's.
        &[
            "--listen",
            &listen,
            "--proxy-listen",
            "127.0.0.1:0",
            "--mode",
            &mode,
        ],
        &rt,
    )?;
    let secret = warden_daemon::hookauth::EnrollKey::load_or_create(&home)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .secret_for("claude-code");
    let secret_file = base.join("claude-code.secret");
    std::fs::write(&secret_file, &secret)?;
    let payload = PAYLOAD.replace("CWD", &ws.to_string_lossy());

    // hook_process
    let spawn_one = |cmd: &mut Command, input: &[u8]| -> Result<f64> {
        let t = Instant::now();
        let mut c = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        c.stdin.take().context("stdin")?.write_all(input)?;
        let out = c.wait_with_output()?;
        let took = t.elapsed().as_secs_f64() * 1e6;
        if !input.is_empty() && !String::from_utf8_lossy(&out.stdout).contains("\"allow\"") {
            bail!(
                "the hook did not allow: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Ok(took)
    };
    // The hook `warden init` installs: the small binary next to this one.
    let small = exe.with_file_name("warden-hook");
    let hook_program = if small.is_file() { small } else { exe.clone() };
    let mut hook_us = Vec::new();
    let mut bare_us = Vec::new();
    for _ in 0..a.processes {
        let mut hook = Command::new(&hook_program);
        hook.arg("--home").arg(&home);
        if hook_program == exe {
            hook.arg("hook");
        }
        hook.args(["claude-code", "--secret-file"])
            .arg(&secret_file);
        hook_us.push(spawn_one(&mut hook, payload.as_bytes())?);
        bare_us.push(spawn_one(&mut Command::new("true"), b"")?);
    }

    // http_hook: one keep-alive connection, as an HTTP hook client keeps.
    let http_us = rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let mut us = Vec::with_capacity(a.requests);
        for _ in 0..a.requests {
            let req = Request::post("/v1/hooks/claude-code")
                .header("host", format!("127.0.0.1:{port}"))
                .header("content-type", "application/json")
                .header(warden_daemon::api::SECRET_HEADER, &secret)
                .body(Full::new(Bytes::from(payload.clone())))?;
            let t = Instant::now();
            let resp = sender.send_request(req).await?;
            let body = resp.into_body().collect().await?.to_bytes();
            us.push(t.elapsed().as_secs_f64() * 1e6);
            if !body.windows(7).any(|w| w == b"\"allow\"") {
                bail!(
                    "the HTTP hook did not allow: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
        anyhow::Ok(us)
    })?;

    // mcp_gateway
    let mut direct = Command::new(&exe);
    direct.args(["bench", "hooks", "--serve-echo-mcp"]);
    let direct_us = mcp_calls(direct, a.requests)?;
    let mut through = Command::new(&exe);
    through
        .arg("--home")
        .arg(&home)
        .args(["mcp", "--name", "echo", "--"])
        .arg(&exe)
        .args(["bench", "hooks", "--serve-echo-mcp"])
        .current_dir(&ws);
    let through_us = mcp_calls(through, a.requests)?;
    drop(daemon);

    let (h, b, http, d, t) = (
        stats(hook_us),
        stats(bare_us),
        stats(http_us),
        stats(direct_us),
        stats(through_us),
    );
    let added = t["p50_us"].as_f64().unwrap_or(0.0) - d["p50_us"].as_f64().unwrap_or(0.0);
    let report = json!({
        "mode": mode,
        "hook_program": hook_program.file_name().map(|n| n.to_string_lossy().into_owned()),
        "hook_process": h, "bare_spawn": b,
        "http_hook": http,
        "mcp_direct": d, "mcp_through_gateway": t, "mcp_added_p50_us": added,
        "targets": {"hook_process_p50_us": 5000, "http_hook_p50_us": 1000, "mcp_added_p50_us": 500},
    });
    if a.json {
        println!("{report}");
    } else {
        let ms = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0) / 1000.0;
        println!("audit mode: {mode}");
        println!("hook program: {}", hook_program.display());
        println!(
            "hook process (spawn to exit): p50 {:.2} ms  p90 {:.2} ms  (bare spawn of `true`: p50 {:.2} ms)  target p50 <= 5 ms",
            ms(&h, "p50_us"),
            ms(&h, "p90_us"),
            ms(&b, "p50_us")
        );
        println!(
            "HTTP hook round trip:         p50 {:.3} ms  p99 {:.3} ms  target p50 <= 1 ms",
            ms(&http, "p50_us"),
            ms(&http, "p99_us")
        );
        println!(
            "MCP tools/call direct:        p50 {:.3} ms;  through the gateway p50 {:.3} ms",
            ms(&d, "p50_us"),
            ms(&t, "p50_us")
        );
        println!(
            "MCP gateway added per call:   p50 {:.3} ms  target <= 0.5 ms",
            added / 1000.0
        );
    }
    Ok(0)
}
