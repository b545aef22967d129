//! Starting and stopping the daemon: the governor, the two listeners, the
//! policy reload ticker, and the shutdown sequence (stop accepting, deny and
//! record pending asks, flush the audit log, remove the socket).

use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tracing::info;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::governor::{Governor, StartError};
use crate::listen::{self, Limits};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Policy or audit log.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Another daemon serves this home.
    #[error("a warden daemon is already running for {0} (`warden status`; `warden down` stops it)")]
    AlreadyRunning(PathBuf),
    /// A listener or a file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A TCP address that is not loopback, without `allow_remote`.
    #[error(
        "{0} is not a loopback address; the dashboard and API are never exposed unless --listen-anywhere is given"
    )]
    NotLoopback(SocketAddr),
}

fn io(
    what: &'static str,
    path: impl std::fmt::Display,
) -> impl FnOnce(std::io::Error) -> DaemonError {
    let path = path.to_string();
    move |source| DaemonError::Io { what, path, source }
}

/// A running daemon.
pub struct Daemon {
    gov: Arc<Governor>,
    stop: Arc<Notify>,
    stop_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    proxy_addr: Option<SocketAddr>,
    proxy_socket: PathBuf,
    socket: PathBuf,
    tcp_addr: Option<SocketAddr>,
    dashboard: Arc<crate::dashboard::Dashboard>,
}

/// Reads the API token, creating it (0600) on first start.
fn api_token(config: &Config) -> Result<String, DaemonError> {
    let path = config.api_token_file();
    match std::fs::read_to_string(&path) {
        Ok(t) if t.trim().len() >= 32 => return Ok(t.trim().to_string()),
        _ => {}
    }
    let token = crate::random_token();
    warden_audit::keys::create_exclusive(&path, format!("{token}\n").as_bytes(), 0o600).map_err(
        |e| DaemonError::Io {
            what: "creating",
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        },
    )?;
    Ok(std::fs::read_to_string(&path)
        .map_err(io("reading", path.display()))?
        .trim()
        .to_string())
}

impl Daemon {
    /// Starts everything; returns once both listeners accept.
    pub async fn start(config: Config) -> Result<Daemon, DaemonError> {
        for addr in [config.tcp, config.proxy_tcp].into_iter().flatten() {
            if !addr.ip().is_loopback() && !config.allow_remote {
                return Err(DaemonError::NotLoopback(addr));
            }
        }
        warden_audit::keys::ensure_private_dir(&config.state_dir)
            .or_else(|e| match e {
                warden_audit::keys::KeyError::Permissions { .. } => Ok(()),
                e => Err(e),
            })
            .map_err(|e| DaemonError::Io {
                what: "creating",
                path: config.state_dir.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let gov = match Governor::start(config.clone()) {
            Err(StartError::Audit(warden_audit::AuditError::InUse(_))) => {
                return Err(DaemonError::AlreadyRunning(config.state_dir.clone()));
            }
            other => other?,
        };
        let token = api_token(&config)?;
        // We hold the audit lock, so a socket file left here is a dead daemon's.
        let socket = config.socket();
        let _ = std::fs::remove_file(&socket);
        let unix = UnixListener::bind(&socket).map_err(io("binding", socket.display()))?;
        let mode = if config.socket_group.is_some() {
            0o660
        } else {
            0o600
        };
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(mode))
            .map_err(io("securing", socket.display()))?;
        if let Some(gid) = config.socket_group {
            std::os::unix::fs::chown(&socket, None, Some(gid))
                .map_err(io("giving to its group", socket.display()))?;
        }
        let own_uid = std::fs::metadata(&socket)
            .map_err(io("reading", socket.display()))?
            .uid();
        let tcp = match config.tcp {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(io("binding", addr))?),
            None => None,
        };
        let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
        let (stop_tx, stop_rx) = watch::channel(false);
        // Before the API answers: whoever waits for the daemon to answer
        // (`warden up --detach`, `warden run`) finds the proxy ready too.
        let egress = crate::egress::start(&gov, &stop_rx)
            .await
            .map_err(|(what, path, source)| DaemonError::Io { what, path, source })?;
        let stop = Arc::new(Notify::new());
        let dashboard = Arc::new(crate::dashboard::Dashboard::default());
        let state = AppState {
            gov: Arc::clone(&gov),
            own_uid,
            api_token: Arc::new(token),
            tcp_addr,
            stop: Arc::clone(&stop),
            dashboard: Arc::clone(&dashboard),
            hook_key: Arc::new(
                crate::hookauth::EnrollKey::load_or_create(&config.state_dir).map_err(|e| {
                    DaemonError::Io {
                        what: "loading the hook enrollment key",
                        path: crate::hookauth::key_path(&config.state_dir)
                            .display()
                            .to_string(),
                        source: std::io::Error::other(e.to_string()),
                    }
                })?,
            ),
            hook_sessions: Arc::default(),
            ungoverned: Arc::default(),
            proxy: Arc::clone(&egress.proxy),
        };
        let app = listen::with_request_deadline(
            api::router(state),
            config.decide_deadline + Duration::from_secs(10),
        );
        let limits = Limits {
            header_timeout: config.header_timeout,
            connections: Arc::new(Semaphore::new(1024)),
        };
        let mut tasks = vec![tokio::spawn(listen::serve_unix(
            unix,
            app.clone(),
            limits.clone(),
            stop_rx.clone(),
        ))];
        tasks.extend(egress.tasks);
        if let Some(l) = tcp {
            tasks.push(tokio::spawn(listen::serve_tcp(
                l,
                app,
                limits,
                stop_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(crate::watchdog::run(
            Arc::clone(&gov),
            stop_rx.clone(),
        )));
        let ticker_gov = Arc::clone(&gov);
        let mut ticker_stop = stop_rx;
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = tick.tick() => ticker_gov.reload_if_changed(),
                    _ = ticker_stop.changed() => break,
                }
            }
        }));
        info!(socket = %socket.display(), tcp = ?tcp_addr, "warden daemon listening");
        Ok(Daemon {
            gov,
            stop,
            stop_tx,
            tasks,
            socket,
            tcp_addr,
            dashboard,
            proxy_addr: egress.tcp_addr,
            proxy_socket: egress.socket,
        })
    }

    /// The egress proxy's loopback address, if it has one.
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy_addr
    }

    /// The egress proxy's Unix socket.
    pub fn proxy_socket(&self) -> &std::path::Path {
        &self.proxy_socket
    }

    /// The governor.
    pub fn governor(&self) -> &Arc<Governor> {
        &self.gov
    }

    /// The TCP address actually bound (a configured port 0 picks one).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// A fresh one-time dashboard login link, if the TCP listener is up.
    pub fn login_link(&self) -> Option<String> {
        let addr = self.tcp_addr?;
        Some(format!(
            "http://{addr}/login?token={}",
            self.dashboard.new_link()
        ))
    }

    /// The Unix socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// What to notify to stop the daemon (signals, `POST /v1/shutdown`).
    pub fn stopper(&self) -> Arc<Notify> {
        Arc::clone(&self.stop)
    }

    /// Runs until stopped, then shuts down in order.
    pub async fn run(self) {
        self.stop.notified().await;
        self.shutdown().await;
    }

    /// Stops accepting, denies pending asks (their waiters record the denies),
    /// waits for connections to finish, flushes the audit log, removes the socket.
    pub async fn shutdown(self) {
        info!("warden daemon stopping");
        self.gov.shutdown().await;
        let _ = self.stop_tx.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(3), t).await;
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.proxy_socket);
        if let Err(e) = self.gov.audit().flush() {
            tracing::warn!(error = %e, "final audit flush");
        }
        info!("warden daemon stopped");
    }
}
