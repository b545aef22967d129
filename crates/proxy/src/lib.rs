//! warden's egress proxy: every connection out of a governed agent is a `net`
//! action the governor decides before a byte leaves.
//!
//! One listener speaks HTTP/1.1 (absolute-form requests, `CONNECT` tunnels,
//! WebSocket upgrades) and SOCKS5 (told apart by the first byte: `0x05` is
//! never the start of an HTTP request). The daemon runs it on loopback and on a
//! Unix socket; `warden run` bridges the Unix socket into each sandbox's empty
//! network namespace, so the proxy is the sandbox's only way out.
//!
//! Trust: the client is untrusted. Its request line is read with the policy
//! crate's URL and host parsers (the host connected to is the host judged);
//! names are resolved once and the resolved addresses are judged too
//! ([`connect`]); a tunnel's TLS server name must pass as well ([`sni`]). Who
//! the client is comes from the kernel (`SO_PEERCRED` on the Unix socket) or a
//! session secret in `Proxy-Authorization`, never from a header's claim.
//! Every failure to decide is a refusal.

#![forbid(unsafe_code)]

pub mod connect;
pub mod dlp;
mod http;
mod io;
mod limit;
pub mod llm;
mod scanned;
mod server;
pub mod sni;
pub mod socks;
pub mod target;
mod tunnel;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use warden_policy::net::{Host, classify_ip};
use warden_types::{Action, ActionKind, Decision, NetRequest, Origin, Verdict};

pub use connect::{ConnectError, Resolver, SystemResolver, parse_pin};
pub use server::{serve_connection, serve_tcp, serve_unix};
pub use target::{Destination, TargetError};

/// Asks the governor. Must fail closed: an unreachable or slow governor is a
/// deny verdict, never an error.
pub trait Decider: Send + Sync + 'static {
    /// The final verdict for `action` made by `client` (an ask is answered by
    /// a person or times out before this returns).
    fn decide<'a>(
        &'a self,
        action: Action,
        client: &'a Client,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

    /// The policy's verdict for `action`, asking no one and recording
    /// nothing: a second look at a request already decided (the addresses an
    /// allowed name resolved to). A deny acted on is then recorded.
    fn check(&self, action: Action, client: &Client) -> Verdict;

    /// Records what the proxy saw or refused on its own (a secret in an LLM
    /// request, a model's response) under `rule` with `decision`.
    fn record<'a>(
        &'a self,
        action: Action,
        client: &'a Client,
        rule: &'a str,
        decision: Decision,
    ) -> Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>;

    /// What the policy limits for `client`'s agent (by default nothing
    /// beyond the proxy's own [`Settings`]).
    fn limits(&self, _client: &Client) -> ClientLimits {
        ClientLimits::default()
    }
}

/// Limits the policy sets for one agent (`[agents.NAME]`), where they are
/// stricter than or in addition to the proxy's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientLimits {
    /// Requests (and tunnels) per second, in bursts of twice that; `None`:
    /// the proxy's `rate_per_second`.
    pub requests_per_second: Option<u32>,
    /// Largest request body sent out, in bytes; `None`: no limit beyond the
    /// LLM gateway's own.
    pub max_body: Option<usize>,
}

/// The header a client outside a sandbox may present its session secret in
/// (LLM gateway clients: `ANTHROPIC_CUSTOM_HEADERS`), besides
/// `Proxy-Authorization`. Never forwarded upstream.
pub const SECRET_HEADER: &str = "x-warden-secret";

/// Who is on the other end of a proxy connection, as the kernel says, plus
/// the session secret it presented (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// Over the Unix socket: `SO_PEERCRED`.
    Unix {
        /// The peer's uid.
        uid: u32,
        /// Its pid, when the kernel said.
        pid: Option<u32>,
        /// A session secret presented in the request.
        secret: Option<String>,
    },
    /// Over loopback TCP.
    Tcp {
        /// The peer's address.
        addr: SocketAddr,
        /// Our end of the connection.
        local: Option<SocketAddr>,
        /// A session secret presented in the request.
        secret: Option<String>,
    },
}

impl Client {
    /// The same client presenting `secret` (from `Proxy-Authorization` or the
    /// SOCKS5 password).
    pub fn with_secret(&self, secret: Option<String>) -> Client {
        let mut c = self.clone();
        match &mut c {
            Client::Unix { secret: s, .. } | Client::Tcp { secret: s, .. } => *s = secret,
        }
        c
    }
}

/// The proxy's limits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Resolving a name and connecting, each.
    pub connect_timeout: Duration,
    /// How long a client may take to send a request head or SOCKS handshake.
    pub header_timeout: Duration,
    /// Largest request head accepted (headers included).
    pub max_head: usize,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Requests (and tunnels) per second per client; 0 for no limit.
    pub rate_per_second: u32,
    /// Requests a client may make at once before the rate applies.
    pub rate_burst: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_head: 64 * 1024,
            max_connections: 4096,
            rate_per_second: 100,
            rate_burst: 200,
        }
    }
}

/// One proxy: the decider, the resolver, the limits.
pub struct Proxy {
    decider: Arc<dyn Decider>,
    resolver: Arc<dyn Resolver>,
    settings: Settings,
    llm: Option<llm::Gateway>,
    rate: limit::RateLimit,
}

/// Why a destination may not be reached, as the client is told.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The governor said no (403).
    Denied(Verdict),
    /// The request could not be read (400).
    BadTarget(TargetError),
    /// No connection could be made (502/504).
    Unreachable(ConnectError),
    /// The URL or host name holds a secret (403); the refusal is recorded.
    Secret(Vec<dlp::Finding>),
}

/// Records the refusal of `action` for the secrets `found`: a deny under
/// [`dlp::RULE`] naming their kinds and fingerprints, never the secrets.
pub(crate) async fn record_secrets(
    decider: &dyn Decider,
    mut action: Action,
    client: &Client,
    found: &[dlp::Finding],
) {
    action
        .context
        .get_or_insert_with(Default::default)
        .extra
        .insert("dlp".into(), dlp::listed(found));
    let _ = decider
        .record(action, client, dlp::RULE, Decision::Deny)
        .await;
}

/// What to send a request as, besides its destination.
#[derive(Debug, Default, Clone)]
pub(crate) struct Request {
    /// The URL (plain HTTP requests).
    pub url: Option<String>,
    /// The method (plain HTTP requests).
    pub method: Option<String>,
    /// How the client reached the proxy: `connect`, `socks5`, `http`.
    pub via: &'static str,
}

impl Proxy {
    /// A proxy asking `decider`, resolving with `resolver`.
    pub fn new(
        decider: Arc<dyn Decider>,
        resolver: Arc<dyn Resolver>,
        settings: Settings,
    ) -> Proxy {
        Proxy {
            decider,
            resolver,
            rate: limit::RateLimit::new(settings.rate_per_second, settings.rate_burst),
            settings,
            llm: None,
        }
    }

    /// Serves the LLM API gateway under `/llm/{provider}/` too.
    pub fn with_llm(mut self, gateway: llm::Gateway) -> Proxy {
        self.llm = Some(gateway);
        self
    }

    /// The limits.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Serves an LLM gateway request (`/llm/{provider}/...`) that reached the
    /// daemon some other way than the proxy's listeners (its API port), or
    /// `None` when no gateway is configured.
    pub async fn serve_llm<B>(
        &self,
        client: Client,
        req: hyper::Request<B>,
    ) -> Option<hyper::Response<http_body_util::combinators::BoxBody<bytes::Bytes, hyper::Error>>>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let gw = self.llm.as_ref()?;
        let limits = match self.admit(&client) {
            Ok(l) => l,
            Err(rate) => return Some(llm::rate_limited(rate)),
        };
        Some(llm::handle(gw, &self.decider, client, req, limits).await)
    }

    /// Whether `client` is within its request rate; `Err` holds the rate
    /// it went over (the policy's for its agent, else the proxy's).
    pub(crate) fn admit(&self, client: &Client) -> Result<ClientLimits, u32> {
        let limits = self.decider.limits(client);
        self.rate
            .admit(client, limits.requests_per_second)
            .map(|()| limits)
    }

    /// Decides whether `client` may reach `dest`, and returns the addresses
    /// it may be connected to.
    ///
    /// A name is decided before it is resolved (a denied name is never looked
    /// up: DNS queries carry data out too). When it is allowed and resolves to
    /// public addresses only, that decision stands; when any address is not
    /// public, the request is checked again with the addresses (without asking
    /// a person twice: only the address classes can change the answer), so
    /// that only a rule naming the host opens a private or loopback address;
    /// a refusal then is recorded.
    pub(crate) async fn judge(
        &self,
        client: &Client,
        dest: &Destination,
        req: &Request,
    ) -> Result<Vec<IpAddr>, Refusal> {
        self.refuse_secrets(client, dest, req).await?;
        let mut action = self.action(dest, req, None);
        let first = self.decider.decide(action.clone(), client).await;
        if first.decision != Decision::Allow {
            return Err(Refusal::Denied(first));
        }
        let addrs = connect::resolve(
            self.resolver.as_ref(),
            &dest.host,
            dest.port,
            self.settings.connect_timeout,
        )
        .await
        .map_err(Refusal::Unreachable)?;
        if matches!(dest.host, Host::Name(_)) && addrs.iter().any(|a| !classify_ip(*a).is_public())
        {
            action = self.action(dest, req, Some(&addrs));
            let second = self.decider.check(action.clone(), client);
            if second.decision == Decision::Deny {
                let rules = second.rules.join(", ");
                let _ = self
                    .decider
                    .record(action, client, &rules, Decision::Deny)
                    .await;
                return Err(Refusal::Denied(second));
            }
        }
        Ok(addrs)
    }

    /// Refuses (and records) a request whose URL or host name holds a
    /// secret, before it is decided or its name looked up: a query string or
    /// a DNS label carries it out as well as a body. The audit holds the URL
    /// with each secret replaced by its fingerprint.
    async fn refuse_secrets(
        &self,
        client: &Client,
        dest: &Destination,
        req: &Request,
    ) -> Result<(), Refusal> {
        let found = match &req.url {
            Some(url) => dlp::scan_target(url),
            // A name is read case-blind (and has been lower-cased): a key id
            // in a DNS label shows only upper-cased.
            None => {
                let host = dest.host.to_string();
                dlp::scan_target(&host).or_else(|| dlp::scan_target(&host.to_ascii_uppercase()))
            }
        };
        let Some((found, audited)) = found else {
            return Ok(());
        };
        let mut action = self.action(dest, req, None);
        if let ActionKind::Net(n) = &mut action.kind {
            if n.url.is_some() {
                n.url = Some(audited);
            } else {
                n.host = Some(audited);
            }
        }
        record_secrets(self.decider.as_ref(), action, client, &found).await;
        Err(Refusal::Secret(found))
    }

    fn action(&self, dest: &Destination, req: &Request, addrs: Option<&[IpAddr]>) -> Action {
        let scheme = if dest.scheme == "tunnel" {
            // A tunnel's scheme is a guess from its port; rules match host and port.
            match dest.port {
                443 | 8443 => "https",
                _ => "tcp",
            }
        } else {
            dest.scheme.as_str()
        };
        let mut a = Action::new(
            "",
            ActionKind::Net(NetRequest {
                url: req.url.clone(),
                host: req.url.is_none().then(|| dest.host.to_string()),
                port: req.url.is_none().then_some(dest.port),
                scheme: req.url.is_none().then(|| scheme.to_string()),
                method: req.method.clone(),
                resolved: addrs.map(|a| a.iter().map(IpAddr::to_string).collect()),
            }),
        );
        a.origin = Origin::Proxy;
        a.context
            .get_or_insert_with(Default::default)
            .extra
            .insert("via".into(), req.via.into());
        a
    }

    /// Decides a differing TLS server name of a tunnel to `dest`, connected
    /// to `addrs` (which were judged already).
    pub(crate) async fn judge_server_name(
        &self,
        client: &Client,
        dest: &Destination,
        name: &str,
        addrs: &[IpAddr],
    ) -> Result<(), Refusal> {
        let host = warden_policy::net::parse_host(name)
            .map_err(|e| Refusal::BadTarget(TargetError::Host(e)))?;
        if host == dest.host {
            return Ok(());
        }
        let fronted = Destination {
            host,
            ..dest.clone()
        };
        let req = Request {
            via: "tls-server-name",
            ..Request::default()
        };
        let v = self
            .decider
            .decide(self.action(&fronted, &req, Some(addrs)), client)
            .await;
        if v.decision == Decision::Allow {
            Ok(())
        } else {
            Err(Refusal::Denied(v))
        }
    }
}
