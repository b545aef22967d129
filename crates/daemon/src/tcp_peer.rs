//! Who is on the other end of a loopback TCP connection, as the kernel says.
//!
//! TCP carries no credentials, but both ends of a loopback connection are
//! sockets of this machine: the connecting socket is the line of
//! `/proc/net/tcp` (or `tcp6`) whose local end is the peer's address and whose
//! remote end is our end of the same connection (found as the line whose
//! remote end is the peer), and that line gives the socket's inode. The
//! processes holding the socket are those with a `socket:[inode]` link in
//! their fd table. Nothing the client sends is believed: a connection the
//! kernel cannot tie to exactly one socket, or whose socket no readable
//! process holds, has no owner.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

use crate::registry::Session;

/// TCP_ESTABLISHED in the `st` column.
const ESTABLISHED: &str = "01";
/// Sockets whose holders are remembered (their inodes are not reused while
/// the socket lives); the memory is cleared when it is full.
const CACHE_MAX: usize = 4096;

/// A row of the kernel's TCP table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    local: SocketAddr,
    remote: SocketAddr,
    uid: u32,
    inode: u64,
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): each 32-bit
/// word in the kernel's byte order. A v4-mapped IPv6 address is given as IPv4.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = ip.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The established rows of a `/proc/net/tcp{,6}` text (the header and any
/// line that does not parse are skipped).
fn rows(table: &str) -> impl Iterator<Item = Row> + '_ {
    table.lines().filter_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[3] != ESTABLISHED {
            return None;
        }
        Some(Row {
            local: parse_addr(f[1])?,
            remote: parse_addr(f[2])?,
            uid: f[7].parse().ok()?,
            inode: f[9].parse().ok()?,
        })
    })
}

fn normal(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(a, |v4| SocketAddr::new(IpAddr::V4(v4), a.port())),
        IpAddr::V4(_) => a,
    }
}

/// The connecting socket (uid, inode) of the connection whose client end is
/// `peer`: exactly one row from `peer` to our end of it, or none.
fn client_socket(tables: &str, peer: SocketAddr) -> Option<(u32, u64)> {
    let peer = normal(peer);
    let mut ours = rows(tables).filter(|r| r.remote == peer && r.local.ip().is_loopback());
    let our_end = ours.next()?.local;
    if ours.next().is_some() {
        return None;
    }
    let mut theirs = rows(tables).filter(|r| r.local == peer && r.remote == our_end);
    let client = theirs.next()?;
    if theirs.next().is_some() || client.inode == 0 {
        return None;
    }
    Some((client.uid, client.inode))
}

/// The processes of `uid` whose fd table holds socket `inode`.
fn holders(proc_root: &Path, uid: u32, inode: u64) -> Vec<u32> {
    let target = format!("socket:[{inode}]");
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if entry.metadata().map(|m| m.uid()).ok() != Some(uid) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str())
        });
        if holds {
            out.push(pid);
        }
    }
    out
}

/// Finds the processes behind loopback TCP peers, remembering each socket's.
#[derive(Default)]
pub(crate) struct TcpPeers {
    known: Mutex<HashMap<u64, Vec<u32>>>,
}

impl TcpPeers {
    /// The processes holding the client socket of the connection from
    /// `peer` (empty when the kernel does not tie it to one socket).
    pub(crate) fn processes(&self, proc_root: &Path, peer: SocketAddr) -> Vec<u32> {
        let net = proc_root.join("net");
        let tables = ["tcp", "tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(net.join(t)).ok())
            .collect::<Vec<_>>()
            .join("\n");
        let Some((uid, inode)) = client_socket(&tables, peer) else {
            return Vec::new();
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pids) = known.get(&inode) {
            return pids.clone();
        }
        drop(known);
        let pids = holders(proc_root, uid, inode);
        known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= CACHE_MAX {
            known.clear();
        }
        known.insert(inode, pids.clone());
        pids
    }
}

impl crate::governor::Governor {
    /// The one process holding a loopback TCP caller's socket (an agent
    /// sending its own HTTP hooks), or none.
    pub(crate) fn tcp_peer_process(&self, peer: SocketAddr) -> Option<u32> {
        if !peer.ip().is_loopback() {
            return None;
        }
        match self.tcp_peers.processes(&self.config.proc_root, peer)[..] {
            [pid] => Some(pid),
            _ => None,
        }
    }

    /// The session a loopback TCP caller's process is in: every process
    /// holding the client's socket must be in that same session.
    pub(crate) fn session_of_tcp_peer(&self, peer: SocketAddr) -> Option<Session> {
        // Without a rooted session no process can be in one: no /proc walk.
        let rooted = self.registry.lock().is_ok_and(|r| !r.roots().is_empty());
        if !peer.ip().is_loopback() || !rooted {
            return None;
        }
        let pids = self.tcp_peers.processes(&self.config.proc_root, peer);
        let mut sessions = pids
            .iter()
            .map(|&pid| self.session_of_process(pid).ok().flatten());
        let first = sessions.next()??;
        sessions
            .all(|s| s.is_some_and(|s| s.id == first.id))
            .then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A client 127.0.0.1:40000 connected to a listener on 127.0.0.1:7421, as
    // this machine prints it (little-endian words), with the listener's row,
    // our accepted end and an unrelated connection.
    fn table() -> String {
        let a = |ip: [u8; 4], port: u16| format!("{:08X}:{port:04X}", u32::from_ne_bytes(ip));
        let lo = [127, 0, 0, 1];
        let row = |sl: u32, l: String, r: String, st: &str, uid: u32, inode: u64| {
            format!(
                "{sl:4}: {l} {r} {st} 00000000:00000000 00:00000000 00000000 {uid:5}        0 {inode} 1 0000000000000000 20 4 30 10 -1"
            )
        };
        [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode".to_string(),
            row(0, a(lo, 7421), a([0, 0, 0, 0], 0), "0A", 0, 100),
            row(1, a(lo, 7421), a(lo, 40000), "01", 0, 101),
            row(2, a(lo, 40000), a(lo, 7421), "01", 1000, 102),
            row(3, a(lo, 40001), a([10, 0, 0, 9], 443), "01", 1000, 103),
        ]
        .join("\n")
    }

    #[test]
    fn the_client_row_is_the_one_from_the_peer_to_our_end() {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(client_socket(&table(), peer), Some((1000, 102)));
        // No connection of ours from that port: nobody.
        assert_eq!(
            client_socket(&table(), "127.0.0.1:40001".parse().unwrap()),
            None
        );
        assert_eq!(
            client_socket(&table(), "127.0.0.1:1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn two_rows_that_could_be_the_client_mean_nobody() {
        let a = |port: u16| format!("{:08X}:{port:04X}", u32::from_ne_bytes([127, 0, 0, 1]));
        let extra = format!(
            "\n   9: {} {} 01 00000000:00000000 00:00000000 00000000  1001        0 999 1",
            a(40000),
            a(7421)
        );
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(client_socket(&(table() + &extra), peer), None);
    }

    #[test]
    fn ipv6_rows_and_v4_mapped_addresses_are_read() {
        let mapped = "0000000000000000FFFF00000100007F:1F90";
        assert_eq!(parse_addr(mapped), Some("127.0.0.1:8080".parse().unwrap()));
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        let hex: String = v6
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes(w.try_into().unwrap())))
            .collect();
        assert_eq!(
            parse_addr(&format!("{hex}:0050")),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_addr("0100007F"), None);
        assert_eq!(parse_addr("XYZ:0050"), None);
    }

    #[test]
    fn this_process_is_found_behind_its_own_loopback_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_accepted, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let pids = TcpPeers::default().processes(Path::new("/proc"), peer);
        assert_eq!(pids, vec![std::process::id()]);
    }

    proptest! {
        #[test]
        fn any_table_text_is_read_without_panicking(text in ".{0,400}", port in any::<u16>()) {
            let _ = client_socket(&text, SocketAddr::from(([127, 0, 0, 1], port)));
            let _ = parse_addr(&text);
        }
    }
}
