//! Loopback servers the egress-proxy tests reach through the proxy: an HTTP
//! server that records what arrives and can stream, and a TCP echo server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP/1.1 server on 127.0.0.1. `/sse` sends one event, then waits for
/// [`Upstream::release`] before sending the second and closing; anything else
/// gets `hello from upstream` (keep-alive).
pub struct Upstream {
    pub addr: SocketAddr,
    /// Requests received (head and body), in order.
    pub seen: Arc<Mutex<Vec<String>>>,
    release: mpsc::Sender<()>,
}

pub const FIRST_EVENT: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_warden_test_01\",\"name\":\"Bash\",\"input\":{}}}\n\n";
pub const SECOND_EVENT: &str = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":17}}\n\n";

impl Upstream {
    pub fn start() -> Upstream {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let s = Arc::clone(&seen);
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let (s, gate) = (Arc::clone(&s), Arc::clone(&gate));
                std::thread::spawn(move || serve(c, &s, &gate));
            }
        });
        Upstream {
            addr,
            seen,
            release,
        }
    }

    pub fn release(&self) {
        let _ = self.release.send(());
    }

    pub fn heads(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(c: TcpStream, seen: &Mutex<Vec<String>>, gate: &Mutex<mpsc::Receiver<()>>) {
    let mut w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        let _ = r.read_exact(&mut body);
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        seen.lock()
            .unwrap()
            .push(format!("{head}{}", String::from_utf8_lossy(&body)));
        if path == "/sse" {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{FIRST_EVENT}"
            );
            let _ = w.flush();
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
            let _ = write!(w, "{SECOND_EVENT}");
            return;
        }
        let text = format!("hello from upstream, {} bytes received\n", body.len());
        let _ = write!(
            w,
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}

/// A TCP server that echoes every byte back; returns its address and a
/// counter of the bytes it received.
pub fn echo_server() -> (SocketAddr, Arc<Mutex<usize>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let got = Arc::new(Mutex::new(0));
    let g = Arc::clone(&got);
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let g = Arc::clone(&g);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    *g.lock().unwrap() += n;
                    if c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, got)
}

/// A connection to the proxy's Unix socket.
pub fn connect(socket: &Path) -> UnixStream {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one HTTP response head (and no body) from `s`.
pub fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Sends `request` and reads the whole response (the request must say
/// `Connection: close`).
pub fn exchange(socket: &Path, request: &str) -> String {
    let mut s = connect(socket);
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET url` through the proxy, the whole response.
pub fn get(socket: &Path, url: &str) -> String {
    exchange(
        socket,
        &format!("GET {url} HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n"),
    )
}

pub fn status(response: &str) -> u16 {
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
