//! The daemon's settings, with the defaults `warden up` uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use warden_audit::Durability;

/// Where the dashboard and the token-authenticated API listen by default.
pub const DEFAULT_TCP: &str = "127.0.0.1:7420";

/// Where the egress proxy listens on loopback by default.
pub const DEFAULT_PROXY_TCP: &str = "127.0.0.1:7421";

/// Everything the daemon needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `$WARDEN_HOME`: audit log, keys, socket, tokens.
    pub state_dir: PathBuf,
    /// The user's home (for `~` in policies and protected paths).
    pub user_home: PathBuf,
    /// The user policy layer; created from the default policy if missing.
    pub user_policy: PathBuf,
    /// The system policy layer, used when it exists.
    pub system_policy: PathBuf,
    /// The TCP listener (loopback only unless `allow_remote`); `None` for none.
    pub tcp: Option<SocketAddr>,
    /// Allow a non-loopback TCP address (`--listen-anywhere`).
    pub allow_remote: bool,
    /// How long an ask waits for a human before it is a deny.
    pub ask_timeout: Duration,
    /// The longest any decision may take; past it the caller is answered deny.
    pub decide_deadline: Duration,
    /// Audit durability.
    pub durability: Durability,
    /// Largest request body accepted.
    pub max_body: usize,
    /// How long a client may take to send its request headers (slowloris).
    pub header_timeout: Duration,
    /// Approvals over the Unix socket need a caller that holds a terminal (an
    /// agent's tool process normally has none); see `api::human`.
    pub approvals_need_tty: bool,
    /// Where `/proc` is (tests point it elsewhere only to test parsing).
    pub proc_root: PathBuf,
    /// System mode: the socket is made group-accessible (0660) to this group,
    /// and its members are trusted like the daemon's own user.
    pub socket_group: Option<u32>,
    /// `notify-send`, when new asks are to be shown as desktop notifications.
    pub notify: Option<PathBuf>,
    /// How often the watchdog looks.
    pub watch_every: Duration,
    /// A session that reported before and has been silent this long while its
    /// process lives raises an alert (its interceptor may have been bypassed).
    pub stall_after: Duration,
    /// This many denials of one session within `denial_window` raise an alert.
    pub denial_burst: usize,
    /// See `denial_burst`.
    pub denial_window: Duration,
    /// The egress proxy's loopback listener (it always has `proxy.sock`);
    /// `None` for none.
    pub proxy_tcp: Option<SocketAddr>,
    /// Names the proxy resolves itself, like curl's `--resolve`.
    pub proxy_pins: Vec<(String, Vec<std::net::IpAddr>)>,
    /// Proxy requests per second per agent (twice as many at once); 0: none.
    pub proxy_rate: u32,
    /// LLM providers besides (or replacing) Anthropic's and OpenAI's APIs.
    pub llm_upstreams: Vec<(String, warden_proxy::llm::Upstream)>,
    /// What a secret in an LLM request body leads to.
    pub llm_dlp: warden_proxy::llm::DlpMode,
    /// More CA certificates the LLM gateway trusts (PEM files).
    pub llm_ca: Vec<PathBuf>,
}

impl Config {
    /// The defaults for a user whose home is `user_home`, state in `state_dir`.
    pub fn new(user_home: PathBuf, state_dir: PathBuf) -> Config {
        let (system, user) = warden_policy::file::default_paths(&user_home);
        Config {
            state_dir,
            user_home,
            user_policy: user,
            system_policy: std::env::var_os("WARDEN_SYSTEM_POLICY")
                .map(PathBuf::from)
                .unwrap_or(system),
            tcp: DEFAULT_TCP.parse().ok(),
            allow_remote: false,
            ask_timeout: Duration::from_secs(120),
            decide_deadline: Duration::from_secs(125),
            durability: Durability::Strict,
            max_body: 1 << 20,
            header_timeout: Duration::from_secs(5),
            approvals_need_tty: true,
            proc_root: PathBuf::from("/proc"),
            socket_group: None,
            notify: None,
            watch_every: Duration::from_secs(2),
            stall_after: Duration::from_secs(15 * 60),
            denial_burst: 5,
            denial_window: Duration::from_secs(60),
            proxy_tcp: DEFAULT_PROXY_TCP.parse().ok(),
            proxy_pins: Vec::new(),
            proxy_rate: 100,
            llm_upstreams: Vec::new(),
            llm_dlp: warden_proxy::llm::DlpMode::Deny,
            llm_ca: Vec::new(),
        }
    }

    /// The Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.state_dir.join("warden.sock")
    }

    /// The bearer token of the TCP API (0600).
    pub fn api_token_file(&self) -> PathBuf {
        self.state_dir.join("api.token")
    }

    /// The pid file of a detached daemon.
    pub fn pid_file(&self) -> PathBuf {
        self.state_dir.join("warden.pid")
    }
}
