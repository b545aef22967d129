//! `warden up | down | status` and `warden asks | approve | deny`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use hyper::Method;
use serde_json::Value;
use warden_daemon::{Config, Daemon};

use crate::audit::Mode;
use warden_daemon::client::Client;

pub const UP_HELP: &str = "\
Runs until Ctrl-C, SIGTERM or `warden down`. On the way out, pending asks are
denied and recorded, and the audit log is flushed.

Files: the policy is ~/.config/warden/policy.toml (created from the default policy
if missing; edits are picked up within a second, a broken edit keeps the previous
policy and raises an alert); the audit log, keys, api.token and warden.sock live in
--home / $WARDEN_HOME (default ~/.local/state/warden).

Examples:
  warden up                      # in the foreground
  warden up --detach             # in the background; `warden status`, `warden down`
  warden up --ask-timeout 300 --listen 127.0.0.1:7421
  warden up --notify             # asks also pop up as desktop notifications
  warden up --system             # one daemon for the machine (docs/system-mode.md)";

/// Arguments of `warden up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stay in the foreground (the default).
    #[arg(long, conflicts_with = "detach")]
    foreground: bool,
    /// Run in the background; the pid goes to --pid-file.
    #[arg(long)]
    detach: bool,
    /// Pid file (default: $WARDEN_HOME/warden.pid).
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// TCP address of the API (loopback only unless --listen-anywhere).
    #[arg(long, value_name = "ADDR", default_value = warden_daemon::config::DEFAULT_TCP)]
    listen: SocketAddr,
    /// Serve only the Unix socket.
    #[arg(long, conflicts_with = "listen_anywhere")]
    no_tcp: bool,
    /// Allow a non-loopback --listen address (the API is then reachable from
    /// the network: only behind something that authenticates).
    #[arg(long)]
    listen_anywhere: bool,
    /// Seconds an ask waits for a human before it becomes a deny.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    ask_timeout: u64,
    /// Audit durability.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
    /// System mode: state in /var/lib/warden (unless --home), the socket shared
    /// (0660) with the group `warden`, whose members are trusted like the
    /// daemon's own user. See docs/system-mode.md.
    #[arg(long)]
    system: bool,
    /// Share the socket with this group (0660) and trust its members.
    #[arg(long, value_name = "GROUP")]
    socket_group: Option<String>,
    /// Show each new ask as a desktop notification (needs `notify-send`,
    /// Debian package libnotify-bin, and the desktop session's bus). The
    /// notification only says that something waits; answer on the dashboard
    /// or with `warden asks`.
    #[arg(long)]
    notify: bool,
    /// Loopback address of the egress proxy (HTTP, CONNECT and SOCKS5; it is
    /// also always on $WARDEN_HOME/proxy.sock, which `warden run` bridges into
    /// its sandboxes). Default 127.0.0.1:7421; none with --no-tcp unless given.
    #[arg(long, value_name = "ADDR")]
    proxy_listen: Option<SocketAddr>,
    /// Make the proxy resolve NAME to these addresses instead of asking DNS,
    /// like curl's --resolve (split-horizon names, tests). Repeatable. The
    /// addresses are still judged: a private one needs a rule naming NAME.
    #[arg(long, value_name = "NAME=ADDR[,ADDR]", value_parser = warden_proxy::parse_pin)]
    proxy_resolve: Vec<(String, Vec<std::net::IpAddr>)>,
    /// Requests per second each agent may send through the proxy (twice as
    /// many in a burst); more get 429 with Retry-After. 0: no limit. An
    /// agent's `[agents.NAME] requests_per_second` in the policy sets its own.
    #[arg(long, value_name = "N", default_value_t = 100)]
    proxy_rate: u32,
    /// An LLM provider for the gateway at /llm/NAME/ on the proxy's address:
    /// NAME=URL (e.g. ollama=http://127.0.0.1:11434). anthropic and openai
    /// are built in (their public APIs); naming them replaces the URL.
    /// Repeatable.
    #[arg(long, value_name = "NAME=URL", value_parser = warden_proxy::llm::parse_upstream)]
    llm_upstream: Vec<(String, warden_proxy::llm::Upstream)>,
    /// Secrets found in an LLM request body: deny the request (default) or
    /// redact them and send it. Either way the audit log holds only each
    /// secret's kind and fingerprint.
    #[arg(long, value_enum, default_value_t = LlmDlp::Deny)]
    llm_dlp: LlmDlp,
    /// A PEM file of CA certificates the LLM gateway trusts besides the
    /// system's (a corporate gateway, a test CA). Repeatable.
    #[arg(long, value_name = "FILE")]
    llm_upstream_ca: Vec<PathBuf>,
}

/// `--llm-dlp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LlmDlp {
    /// Refuse the request.
    Deny,
    /// Replace each secret by [REDACTED kind fingerprint].
    Redact,
}

/// The gid of group `name`, from /etc/group.
fn group_id(name: &str) -> Result<u32> {
    let text = std::fs::read_to_string("/etc/group").context("reading /etc/group")?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let n = f.next()?;
            let _pw = f.next()?;
            let gid = f.next()?.parse().ok()?;
            (n == name).then_some(gid)
        })
        .next()
        .with_context(|| {
            format!("there is no group {name:?} (create it: groupadd --system {name})")
        })
}

/// The system daemon's state directory (`warden up --system`).
pub const SYSTEM_HOME: &str = "/var/lib/warden";

/// The state directory of `warden up`: --home, $WARDEN_HOME, /var/lib/warden
/// in system mode, else the user's default.
pub fn up_home(args: &UpArgs, explicit: Option<&Path>) -> PathBuf {
    match explicit
        .map(Path::to_path_buf)
        .or_else(crate::load::warden_home_env)
    {
        Some(h) => h,
        None if args.system => PathBuf::from(SYSTEM_HOME),
        None => crate::audit::home_dir(None),
    }
}

fn config(args: &UpArgs, home: &Path, policy: Option<&Path>) -> Result<Config> {
    let mut c = Config::new(crate::load::home(), home.to_path_buf());
    if let Some(p) = policy {
        c.user_policy = p.to_path_buf();
    }
    let group = args
        .socket_group
        .clone()
        .or_else(|| args.system.then(|| "warden".to_string()));
    c.socket_group = group.map(|g| group_id(&g)).transpose()?;
    c.tcp = (!args.no_tcp).then_some(args.listen);
    c.allow_remote = args.listen_anywhere;
    c.proxy_tcp = match args.proxy_listen {
        Some(a) => Some(a),
        None if args.no_tcp => None,
        None => c.proxy_tcp,
    };
    c.proxy_pins = args.proxy_resolve.clone();
    c.proxy_rate = args.proxy_rate;
    c.llm_upstreams = args.llm_upstream.clone();
    c.llm_dlp = match args.llm_dlp {
        LlmDlp::Deny => warden_proxy::llm::DlpMode::Deny,
        LlmDlp::Redact => warden_proxy::llm::DlpMode::Redact,
    };
    c.llm_ca = args.llm_upstream_ca.clone();
    c.ask_timeout = Duration::from_secs(args.ask_timeout.max(1));
    c.decide_deadline = c.ask_timeout + Duration::from_secs(5);
    c.durability = args.mode.into();
    if args.notify {
        c.notify =
            Some(warden_daemon::notify::find_notify_send().context(
                "--notify needs notify-send on PATH (Debian: apt install libnotify-bin)",
            )?);
    }
    Ok(c)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `policy`: the global `--policy` file, used as the user layer.
pub fn up(args: UpArgs, home: &Path, policy: Option<&Path>) -> Result<u8> {
    let pid_file = args
        .pid_file
        .clone()
        .unwrap_or_else(|| home.join("warden.pid"));
    if args.detach {
        return detach(&args, home, &pid_file, policy);
    }
    let cfg = config(&args, home, policy)?;
    let rt = runtime()?;
    rt.block_on(async move {
        let daemon = Daemon::start(cfg.clone()).await?;
        std::fs::write(&pid_file, format!("{}\n", std::process::id()))
            .with_context(|| format!("writing {}", pid_file.display()))?;
        print_banner(&daemon, &cfg);
        let stop = daemon.stopper();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.notify_one();
        });
        daemon.run().await;
        let _ = std::fs::remove_file(&pid_file);
        println!("warden stopped");
        Ok(0)
    })
}

fn print_banner(daemon: &Daemon, cfg: &Config) {
    println!("warden is up (pid {})", std::process::id());
    println!("  socket   {}", daemon.socket().display());
    if let Some(a) = daemon.tcp_addr() {
        println!(
            "  api      http://{a}/v1/  (Authorization: Bearer <{}>)",
            cfg.api_token_file().display()
        );
    }
    match daemon.proxy_addr() {
        Some(a) => println!(
            "  proxy    http://{a}  (HTTP, CONNECT, SOCKS5; and {})",
            daemon.proxy_socket().display()
        ),
        None => println!("  proxy    {}", daemon.proxy_socket().display()),
    }
    if let Some(a) = daemon.proxy_addr() {
        println!(
            "  llm      http://{a}/llm/anthropic  http://{a}/llm/openai/v1  (LLM API gateway)"
        );
    }
    println!(
        "  audit    {} ({} entries)",
        cfg.state_dir.join("audit.db").display(),
        daemon.governor().audit_size()
    );
    println!("  policy   {}", cfg.user_policy.display());
    if let Some(n) = &cfg.notify {
        let bus = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|_| {
            "no DBUS_SESSION_BUS_ADDRESS: notify-send may not reach a desktop".into()
        });
        println!(
            "  notify   asks as desktop notifications ({}; {bus})",
            n.display()
        );
    }
    if let Some(link) = daemon.login_link() {
        println!("  dashboard {link}");
        println!(
            "           (a one-time login link, valid 10 minutes; `warden dashboard` makes another)"
        );
    }
    println!("Ctrl-C or `warden down` stops it.");
}

/// Starts `warden up --foreground` in its own process group, detached from this
/// terminal, and waits until it answers.
fn detach(args: &UpArgs, home: &Path, pid_file: &Path, policy: Option<&Path>) -> Result<u8> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("finding the warden executable")?;
    let log_path = home.join("warden.log");
    std::fs::create_dir_all(home).with_context(|| format!("creating {}", home.display()))?;
    // The log carries the one-time dashboard link: only its owner may read it.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    // An older log may have been created readable by others.
    std::fs::set_permissions(&log_path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", log_path.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--home").arg(home);
    if let Some(p) = policy {
        // Absolute: the detached daemon does not keep this directory.
        cmd.arg("--policy")
            .arg(std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    }
    cmd.arg("up").arg("--foreground");
    cmd.arg("--pid-file").arg(pid_file);
    cmd.arg("--ask-timeout").arg(args.ask_timeout.to_string());
    cmd.arg("--mode")
        .arg(format!("{:?}", args.mode).to_lowercase());
    if args.no_tcp {
        cmd.arg("--no-tcp");
    } else {
        cmd.arg("--listen").arg(args.listen.to_string());
    }
    if args.listen_anywhere {
        cmd.arg("--listen-anywhere");
    }
    if let Some(a) = args.proxy_listen {
        cmd.arg("--proxy-listen").arg(a.to_string());
    }
    cmd.arg("--proxy-rate").arg(args.proxy_rate.to_string());
    for (name, u) in &args.llm_upstream {
        let scheme = if u.tls { "https" } else { "http" };
        let host = if u.host.contains(':') {
            format!("[{}]", u.host)
        } else {
            u.host.clone()
        };
        cmd.arg("--llm-upstream")
            .arg(format!("{name}={scheme}://{host}:{}{}", u.port, u.base));
    }
    if args.llm_dlp == LlmDlp::Redact {
        cmd.arg("--llm-dlp").arg("redact");
    }
    for f in &args.llm_upstream_ca {
        cmd.arg("--llm-upstream-ca")
            .arg(std::path::absolute(f).unwrap_or_else(|_| f.clone()));
    }
    for (name, addrs) in &args.proxy_resolve {
        let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        cmd.arg("--proxy-resolve")
            .arg(format!("{name}={}", addrs.join(",")));
    }
    if let Some(g) = &args.socket_group {
        cmd.arg("--socket-group").arg(g);
    } else if args.system {
        cmd.arg("--socket-group").arg("warden");
    }
    if args.notify {
        cmd.arg("--notify");
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let mut child = cmd.spawn().context("starting the daemon")?;
    let client = Client::new(&home.join("warden.sock"), Duration::from_secs(2));
    let rt = runtime()?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the daemon exited ({status}) before it was up; see {}",
                log_path.display()
            );
        }
        if let Ok(v) = rt.block_on(client.ok(Method::GET, "/v1/status", None))
            && v["pid"].as_u64() == Some(u64::from(child.id()))
            // The pid file is written just after the daemon starts answering.
            && std::fs::read_to_string(pid_file)
                .is_ok_and(|p| p.trim() == child.id().to_string())
        {
            println!("warden is up in the background (pid {})", child.id());
            println!("  socket   {}", home.join("warden.sock").display());
            println!("  log      {}", log_path.display());
            match rt.block_on(client.ok(Method::POST, "/v1/dashboard/link", None)) {
                Ok(v) => println!("  dashboard {}", v["url"].as_str().unwrap_or_default()),
                Err(e) => println!("  dashboard: {e}"),
            }
            println!("`warden status` shows it, `warden down` stops it.");
            return Ok(0);
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon did not come up within 15 s; see {}",
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn dashboard(home: &Path) -> Result<u8> {
    let v = runtime()?.block_on(client(home).ok(Method::POST, "/v1/dashboard/link", None))?;
    println!("{}", v["url"].as_str().unwrap_or_default());
    eprintln!("(a one-time login link, valid 10 minutes)");
    Ok(0)
}

pub fn down(home: &Path) -> Result<u8> {
    let socket = home.join("warden.sock");
    let client = Client::new(&socket, Duration::from_secs(10));
    let rt = runtime()?;
    match rt.block_on(client.ok(Method::POST, "/v1/shutdown", None)) {
        Err(e) if e.is_not_running() => {
            println!("warden is not running (no daemon at {})", socket.display());
            return Ok(0);
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while socket.exists() {
        if Instant::now() > deadline {
            bail!("the daemon was asked to stop but is still running after 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("warden stopped");
    Ok(0)
}

pub fn status(home: &Path, json: bool) -> Result<u8> {
    let client = Client::new(&home.join("warden.sock"), Duration::from_secs(10));
    let rt = runtime()?;
    let v = match rt.block_on(client.ok(Method::GET, "/v1/status", None)) {
        Err(e) if e.is_not_running() => {
            println!("warden is not running (home {})", home.display());
            return Ok(1);
        }
        other => other?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "warden is running (pid {}, up {} s)",
        v["pid"], v["uptime_s"]
    );
    println!("  home       {}", v["home"].as_str().unwrap_or_default());
    println!(
        "  decisions  {} allowed, {} asked, {} denied",
        v["decisions"]["allow"], v["decisions"]["ask"], v["decisions"]["deny"]
    );
    println!("  asks       {} pending", v["pending_asks"]);
    println!("  sessions   {}", v["sessions"]);
    println!(
        "  audit      {} entries ({})",
        v["audit"]["entries"],
        v["audit"]["origin"].as_str().unwrap_or_default()
    );
    if let Some(alerts) = v["alerts"].as_array() {
        for a in alerts.iter().rev().take(5) {
            println!("  alert      {}", a.as_str().unwrap_or_default());
        }
    }
    Ok(0)
}

/// Arguments of `warden deny`.
#[derive(Debug, Args)]
pub struct AnswerArgs {
    /// The ask's id (from `warden asks`).
    id: String,
}

/// Arguments of `warden approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The ask's id (from `warden asks`).
    id: String,
    /// Also allow exactly this action from now on: the same working directory
    /// and the same command, path, URL or tool call. Adds an `[[approval]]`
    /// table to your policy file (delete it to take the approval back). Not
    /// possible when a system policy rule is among those asking.
    #[arg(long)]
    always: bool,
}

fn client(home: &Path) -> Client {
    Client::new(&home.join("warden.sock"), Duration::from_secs(30))
}

pub fn asks(home: &Path, json: bool) -> Result<u8> {
    let client = client(home);
    let v = runtime()?.block_on(client.ok(Method::GET, "/v1/asks", None))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let list = v.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no pending asks");
    }
    for a in list {
        let kind = a["action"]["kind"].to_string();
        println!("{}", a["id"].as_str().unwrap_or_default());
        println!(
            "  agent    {}",
            a["agent"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("(unregistered)")
        );
        println!("  action   {kind}");
        println!(
            "  why      {} [{}]",
            a["reason"].as_str().unwrap_or_default(),
            rules(&a)
        );
        println!("  threat   {}", a["threat"].as_str().unwrap_or_default());
        if a["always"].as_bool() == Some(false) {
            println!("  always   not possible: a system policy rule asks");
        }
    }
    Ok(0)
}

fn rules(a: &Value) -> String {
    a["rules"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub fn deny(home: &Path, args: AnswerArgs) -> Result<u8> {
    let v = runtime()?.block_on(client(home).ok(
        Method::POST,
        &format!("/v1/asks/{}/deny", args.id),
        None,
    ))?;
    println!(
        "denied {}: {}",
        args.id,
        v["by"].as_str().unwrap_or_default()
    );
    Ok(0)
}

pub fn approve(home: &Path, args: ApproveArgs) -> Result<u8> {
    let body = serde_json::json!({ "always": args.always });
    let v = runtime()?.block_on(client(home).ok(
        Method::POST,
        &format!("/v1/asks/{}/approve", args.id),
        Some(&body),
    ))?;
    println!(
        "approved {}: {}",
        args.id,
        v["by"].as_str().unwrap_or_default()
    );
    if let Some(a) = v.get("always") {
        println!(
            "always allowed from now on: {} ({} in {})",
            a["summary"].as_str().unwrap_or_default(),
            a["approval"].as_str().unwrap_or_default(),
            a["file"].as_str().unwrap_or_default()
        );
    }
    Ok(0)
}
