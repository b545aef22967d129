//! `warden bench proxy`: the egress proxy against a loopback upstream, side by
//! side with direct access in the same run — added latency, throughput at
//! many connections, failed requests, and the daemon's memory over the run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::audit::Mode;
use crate::bench_decide::{Scratch, percentile, rss_kib, start_scratch_daemon};

/// Arguments of `warden bench proxy`.
#[derive(Debug, Args)]
#[command(after_help = "\
Starts a loopback HTTP upstream in this process and `warden up` in a temporary
home (removed afterwards) with its proxy on loopback, registers a session, and
sends GETs on keep-alive connections: first straight to the upstream, then the
same through the proxy (each request decided by the policy and recorded in the
audit log), then through CONNECT tunnels (one decision per connection, then
bytes relayed, as HTTPS clients use a proxy) beside direct again. Figures: p50/p99
with one connection and with --connections, throughput, the proxy's share of
direct throughput for both kinds, failed requests, and the daemon's resident
memory before, halfway and after.

Example: warden bench proxy --requests 20000 --connections 100 --json
         warden bench proxy --requests 1000000 --mode fast   (memory over a long run)")]
pub struct BenchProxyArgs {
    /// Requests per run (direct and proxied each).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    requests: usize,
    /// Concurrent keep-alive connections for the throughput run.
    #[arg(long, default_value_t = 100, value_name = "N")]
    connections: usize,
    /// Audit durability of the daemon.
    #[arg(long, value_enum, default_value_t = Mode::Strict)]
    mode: Mode,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

const NAME: &str = "bench-upstream.warden-bench.net";

/// A minimal upstream: 200 with a short body for every request.
async fn upstream() -> Result<SocketAddr> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(Bytes::from_static(b"hello from upstream\n")),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

struct Target {
    connect: SocketAddr,
    uri: String,
    host: String,
    auth: Option<String>,
    /// Open a CONNECT tunnel to `host` first and send the GETs through it (as
    /// HTTPS clients use a proxy), rather than one absolute-form GET each.
    tunnel: bool,
}

/// Asks the proxy for a tunnel to `t.host` on `s`; fails unless it answers 200.
async fn open_tunnel(s: &mut tokio::net::TcpStream, t: &Target) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let auth = t
        .auth
        .as_deref()
        .map(|a| format!("proxy-authorization: {a}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "CONNECT {h} HTTP/1.1\r\nhost: {h}\r\n{auth}\r\n",
        h = t.host
    );
    s.write_all(head.as_bytes()).await?;
    // The proxy says nothing after its answer until the client speaks, so the
    // head is everything read up to the blank line.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await? == 0 || answer.len() > 8192 {
            bail!("the proxy closed the CONNECT without an answer");
        }
        answer.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&answer);
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        bail!(
            "the proxy refused the tunnel: {}",
            status.lines().next().unwrap_or_default()
        );
    }
    Ok(())
}

/// One keep-alive connection sending `n` GETs; round trips in µs.
async fn connection(t: Arc<Target>, n: usize, failed: Arc<AtomicU64>) -> Result<Vec<f64>> {
    let mut s = tokio::net::TcpStream::connect(t.connect).await?;
    s.set_nodelay(true)?;
    if t.tunnel {
        open_tunnel(&mut s, &t).await?;
    }
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
    tokio::spawn(conn);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let mut req = Request::get(t.uri.as_str()).header("host", t.host.as_str());
        if let Some(a) = t.auth.as_ref().filter(|_| !t.tunnel) {
            req = req.header("proxy-authorization", a.as_str());
        }
        let req = req.body(Empty::<Bytes>::new())?;
        let start = Instant::now();
        send.ready().await?;
        let resp = send.send_request(req).await?;
        let ok = resp.status().is_success();
        let _ = resp.into_body().collect().await?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
        if !ok {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(times)
}

struct Run {
    times: Vec<f64>,
    rate: f64,
    failed: u64,
}

async fn load(t: &Arc<Target>, connections: usize, total: usize) -> Result<Run> {
    let per = total.div_ceil(connections.max(1));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| tokio::spawn(connection(Arc::clone(t), per, Arc::clone(&failed))))
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        match task.await? {
            Ok(v) => times.extend(v),
            Err(e) => {
                failed.fetch_add(per as u64, Ordering::Relaxed);
                tracing::warn!("a benchmark connection failed: {e}");
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    Ok(Run {
        rate: times.len() as f64 / secs,
        times,
        failed: failed.load(Ordering::Relaxed),
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn run(a: BenchProxyArgs) -> Result<u8> {
    let scratch = Scratch::create("proxy")?;
    let base = scratch.0.clone();
    std::fs::create_dir_all(base.join("config/warden"))
        .with_context(|| format!("creating {}", base.display()))?;
    std::fs::write(
        base.join("config/warden/policy.toml"),
        format!(
            "version = 1\n[[rule]]\nid = \"bench-upstream\"\n\
             allow = [\"Net({NAME})\", \"WebFetch(domain:{NAME})\"]\n"
        ),
    )?;
    let home = base.join("state");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let up = rt.block_on(upstream())?;
    let proxy: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let mode = format!("{:?}", a.mode).to_lowercase();
    let pin = format!("{NAME}=127.0.0.1");
    let daemon = start_scratch_daemon(
        &base,
        &home,
        &[
            "--no-tcp",
            "--mode",
            &mode,
            "--proxy-listen",
            &proxy.to_string(),
            "--proxy-resolve",
            &pin,
            // The bench measures the proxy, not the per-agent rate limit.
            "--proxy-rate",
            "0",
        ],
        &rt,
    )?;
    let api =
        warden_daemon::client::Client::new(&home.join("warden.sock"), Duration::from_secs(10));
    let reg =
        json!({ "agent": "bench", "autonomy": "executor", "workspace": base.to_string_lossy() });
    let issued = rt.block_on(api.ok(hyper::Method::POST, "/v1/sessions", Some(&reg)))?;
    let secret = issued["secret"].as_str().unwrap_or_default();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("warden:{secret}"))
    );
    let direct = Arc::new(Target {
        connect: up,
        uri: "/".into(),
        host: format!("{NAME}:{}", up.port()),
        auth: None,
        tunnel: false,
    });
    let proxied = Arc::new(Target {
        connect: proxy,
        uri: format!("http://{NAME}:{}/", up.port()),
        host: format!("{NAME}:{}", up.port()),
        auth: Some(auth.clone()),
        tunnel: false,
    });
    let tunnelled = Arc::new(Target {
        connect: proxy,
        uri: "/".into(),
        host: format!("{NAME}:{}", up.port()),
        auth: Some(auth),
        tunnel: true,
    });
    let pid = daemon.0.id();
    let rss_start = rss_kib(pid).unwrap_or(0);
    let single = a.requests.min(5000);
    let figures = rt.block_on(async {
        // Warm up both paths, then alternate: one connection, then many.
        load(&direct, 1, 200).await?;
        load(&proxied, 1, 200).await?;
        let d1 = load(&direct, 1, single).await?;
        let p1 = load(&proxied, 1, single).await?;
        let dn = load(&direct, a.connections, a.requests).await?;
        let half = a.requests / 2;
        let pn_a = load(&proxied, a.connections, half).await?;
        let rss_half = rss_kib(pid).unwrap_or(0);
        let pn_b = load(&proxied, a.connections, a.requests - half).await?;
        // Tunnels: one decision per connection, then bytes relayed; direct
        // again alongside, so the ratio compares runs made moments apart.
        load(&tunnelled, 1, 200).await?;
        let t1 = load(&tunnelled, 1, single).await?;
        let d1b = load(&direct, 1, single).await?;
        let tn = load(&tunnelled, a.connections, a.requests).await?;
        let dnb = load(&direct, a.connections, a.requests).await?;
        Ok::<_, anyhow::Error>((d1, p1, dn, pn_a, rss_half, pn_b, [t1, d1b, tn, dnb]))
    })?;
    let (d1, p1, dn, pn_a, rss_half, pn_b, [t1, d1b, tn, dnb]) = figures;
    let rss_end = rss_kib(pid).unwrap_or(0);
    let mut pn_times = pn_a.times.clone();
    pn_times.extend(&pn_b.times);
    pn_times.sort_by(f64::total_cmp);
    let pn_rate = (pn_a.times.len() + pn_b.times.len()) as f64
        / (pn_a.times.len() as f64 / pn_a.rate + pn_b.times.len() as f64 / pn_b.rate);
    let failed = [&d1, &p1, &dn, &pn_a, &pn_b, &t1, &d1b, &tn, &dnb]
        .iter()
        .map(|r| r.failed)
        .sum::<u64>();
    let out = json!({
        "requests": a.requests,
        "connections": a.connections,
        "mode": mode,
        "one_connection": {
            "direct_p50_us": percentile(&d1.times, 0.5),
            "proxy_p50_us": percentile(&p1.times, 0.5),
            "added_p50_us": percentile(&p1.times, 0.5) - percentile(&d1.times, 0.5),
            "direct_p99_us": percentile(&d1.times, 0.99),
            "proxy_p99_us": percentile(&p1.times, 0.99),
        },
        "many_connections": {
            "direct_per_s": dn.rate,
            "proxy_per_s": pn_rate,
            "throughput_ratio": pn_rate / dn.rate.max(1.0),
            "direct_p50_us": percentile(&dn.times, 0.5),
            "proxy_p50_us": percentile(&pn_times, 0.5),
            "added_p50_us": percentile(&pn_times, 0.5) - percentile(&dn.times, 0.5),
        },
        "tunnel": {
            "one_connection": {
                "direct_p50_us": percentile(&d1b.times, 0.5),
                "proxy_p50_us": percentile(&t1.times, 0.5),
                "added_p50_us": percentile(&t1.times, 0.5) - percentile(&d1b.times, 0.5),
            },
            "many_connections": {
                "direct_per_s": dnb.rate,
                "proxy_per_s": tn.rate,
                "throughput_ratio": tn.rate / dnb.rate.max(1.0),
                "direct_p50_us": percentile(&dnb.times, 0.5),
                "proxy_p50_us": percentile(&tn.times, 0.5),
                "added_p50_us": percentile(&tn.times, 0.5) - percentile(&dnb.times, 0.5),
            },
        },
        "failed_requests": failed,
        "daemon_rss_kib": { "start": rss_start, "half": rss_half, "end": rss_end },
    });
    if a.json {
        println!("{out}");
    } else {
        let o = &out["one_connection"];
        let m = &out["many_connections"];
        println!(
            "egress proxy vs direct, loopback upstream, {mode} audit ({} requests each)",
            a.requests
        );
        println!(
            "  1 connection:    direct p50 {:.0} µs, proxy p50 {:.0} µs, added {:.0} µs",
            o["direct_p50_us"].as_f64().unwrap_or(0.0),
            o["proxy_p50_us"].as_f64().unwrap_or(0.0),
            o["added_p50_us"].as_f64().unwrap_or(0.0)
        );
        println!(
            "  {} connections: direct {:.0}/s, proxy {:.0}/s ({:.0} % of direct), added p50 {:.0} µs",
            a.connections,
            m["direct_per_s"].as_f64().unwrap_or(0.0),
            m["proxy_per_s"].as_f64().unwrap_or(0.0),
            m["throughput_ratio"].as_f64().unwrap_or(0.0) * 100.0,
            m["added_p50_us"].as_f64().unwrap_or(0.0)
        );
        let t = &out["tunnel"];
        println!(
            "  CONNECT tunnels (one decision each, then relayed): 1 connection added p50 {:.0} µs; {} connections {:.0}/s ({:.0} % of direct {:.0}/s), added p50 {:.0} µs",
            t["one_connection"]["added_p50_us"].as_f64().unwrap_or(0.0),
            a.connections,
            t["many_connections"]["proxy_per_s"].as_f64().unwrap_or(0.0),
            t["many_connections"]["throughput_ratio"]
                .as_f64()
                .unwrap_or(0.0)
                * 100.0,
            t["many_connections"]["direct_per_s"]
                .as_f64()
                .unwrap_or(0.0),
            t["many_connections"]["added_p50_us"]
                .as_f64()
                .unwrap_or(0.0)
        );
        println!("  failed requests: {failed}");
        println!(
            "  daemon RSS: {rss_start} KiB at start, {rss_half} KiB halfway, {rss_end} KiB at the end"
        );
    }
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    Ok(0)
}
