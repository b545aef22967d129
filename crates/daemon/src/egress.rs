//! The egress proxy, run by the daemon: its listeners (loopback TCP and
//! `$WARDEN_HOME/proxy.sock`, which `warden run` bridges into each sandbox)
//! and the decider that hands its `net` actions to the governor.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use warden_proxy::{Client, ClientLimits, Decider, Proxy, Settings, SystemResolver};
use warden_types::{Action, Decision, Verdict};

use crate::config::Config;
use crate::governor::{Caller, Governor, Peer};

/// The proxy's socket in the state directory.
pub fn socket(config: &Config) -> PathBuf {
    socket_in(&config.state_dir)
}

/// The proxy's socket in the state directory `state_dir`.
pub fn socket_in(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("proxy.sock")
}

struct GovernorDecider(Arc<Governor>);

impl Decider for GovernorDecider {
    fn decide<'a>(
        &'a self,
        action: Action,
        client: &'a Client,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            let deadline = self.0.config.decide_deadline;
            self.0.decide(action, &caller(client), deadline).await
        })
    }

    fn check(&self, action: Action, client: &Client) -> Verdict {
        self.0.check(action, &caller(client))
    }

    fn record<'a>(
        &'a self,
        action: Action,
        client: &'a Client,
        rule: &'a str,
        decision: Decision,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>> {
        Box::pin(async move {
            self.0
                .observe(action, &caller(client), rule, decision)
                .await
        })
    }

    fn limits(&self, client: &Client) -> ClientLimits {
        let l = self.0.agent_limits(&caller(client));
        ClientLimits {
            requests_per_second: l.requests_per_second,
            max_body: l.max_body_mib.map(|m| (m as usize).saturating_mul(1 << 20)),
        }
    }
}

/// The proxy client a caller of the daemon's API is.
pub(crate) fn client_of(peer: &Peer, secret: Option<String>) -> Client {
    match peer {
        Peer::Unix { uid, pid } => Client::Unix {
            uid: *uid,
            pid: *pid,
            secret,
        },
        Peer::Tcp { addr, local } => Client::Tcp {
            addr: *addr,
            local: *local,
            secret,
        },
    }
}

fn caller(client: &Client) -> Caller {
    match client {
        Client::Unix { uid, pid, secret } => Caller {
            peer: Peer::Unix {
                uid: *uid,
                pid: *pid,
            },
            secret: secret.clone(),
        },
        Client::Tcp {
            addr,
            local,
            secret,
        } => Caller {
            peer: Peer::Tcp {
                addr: *addr,
                local: *local,
            },
            secret: secret.clone(),
        },
    }
}

/// The running proxy's listeners.
pub(crate) struct Egress {
    pub proxy: Arc<Proxy>,
    pub tcp_addr: Option<SocketAddr>,
    pub socket: PathBuf,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Binds the proxy's listeners and starts serving them.
pub(crate) async fn start(
    gov: &Arc<Governor>,
    stop: &watch::Receiver<bool>,
) -> Result<Egress, (&'static str, String, std::io::Error)> {
    let config = &gov.config;
    let resolver = SystemResolver::with_pins(config.proxy_pins.iter().cloned());
    let gateway = warden_proxy::llm::Gateway::new(
        config.llm_upstreams.clone(),
        config.llm_dlp,
        &config.llm_ca,
    )
    .map_err(|e| {
        (
            "setting up",
            "the LLM gateway".to_string(),
            std::io::Error::other(e),
        )
    })?;
    let proxy = Arc::new(
        Proxy::new(
            Arc::new(GovernorDecider(Arc::clone(gov))),
            Arc::new(resolver),
            Settings {
                header_timeout: config.header_timeout,
                rate_per_second: config.proxy_rate,
                rate_burst: config.proxy_rate.saturating_mul(2),
                ..Settings::default()
            },
        )
        .with_llm(gateway),
    );
    let path = socket(config);
    let shown = path.display().to_string();
    let _ = std::fs::remove_file(&path);
    let unix = UnixListener::bind(&path).map_err(|e| ("binding", shown.clone(), e))?;
    let mode = if config.socket_group.is_some() {
        0o660
    } else {
        0o600
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ("securing", shown.clone(), e))?;
    if let Some(gid) = config.socket_group {
        std::os::unix::fs::chown(&path, None, Some(gid))
            .map_err(|e| ("giving to its group", shown.clone(), e))?;
    }
    let mut tasks = vec![tokio::spawn(warden_proxy::serve_unix(
        Arc::clone(&proxy),
        unix,
        stop.clone(),
    ))];
    let mut tcp_addr = None;
    if let Some(addr) = config.proxy_tcp {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| ("binding the proxy to", addr.to_string(), e))?;
        tcp_addr = l.local_addr().ok();
        tasks.push(tokio::spawn(warden_proxy::serve_tcp(
            Arc::clone(&proxy),
            l,
            stop.clone(),
        )));
    }
    Ok(Egress {
        proxy,
        tcp_addr,
        socket: path,
        tasks,
    })
}
