//! Who is on the other end of a loopback TCP connection, as the kernel says.
//!
//! TCP carries no credentials, but both ends of a loopback connection are
//! sockets of this machine: the kernel finds the connecting socket by the
//! connection's two ends (`warden_sandbox::sockdiag`), with its owner uid and
//! inode, and the processes holding it are those with a `socket:[inode]` link
//! in their fd table. Nothing the client sends is believed: a connection
//! whose socket the kernel does not find, or that no readable process holds,
//! has no owner.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;

use warden_sandbox::sockdiag;

use crate::registry::Session;

/// Sockets whose holders are remembered (their inodes are not reused while
/// the socket lives); the memory is cleared when it is full.
const CACHE_MAX: usize = 4096;

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
    /// `peer` to our `local` end (empty when the kernel does not find it).
    pub(crate) fn processes(
        &self,
        proc_root: &Path,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Vec<u32> {
        let owner = match sockdiag::tcp_socket_owner(peer, local) {
            Ok(Some(o)) if o.inode != 0 => o,
            Ok(_) => return Vec::new(),
            Err(e) => {
                tracing::debug!(error = %e, %peer, "the kernel did not say whose socket this is");
                return Vec::new();
            }
        };
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pids) = known.get(&owner.inode) {
            return pids.clone();
        }
        drop(known);
        let pids = holders(proc_root, owner.uid, owner.inode);
        known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= CACHE_MAX {
            known.clear();
        }
        known.insert(owner.inode, pids.clone());
        pids
    }
}

impl crate::governor::Governor {
    /// The one process holding a loopback TCP caller's socket (an agent
    /// sending its own HTTP hooks), or none.
    pub(crate) fn tcp_peer_process(&self, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
        if !peer.ip().is_loopback() {
            return None;
        }
        match self
            .tcp_peers
            .processes(&self.config.proc_root, peer, local)[..]
        {
            [pid] => Some(pid),
            _ => None,
        }
    }

    /// The session a loopback TCP caller's process is in: every process
    /// holding the client's socket must be in that same session.
    pub(crate) fn session_of_tcp_peer(
        &self,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Option<Session> {
        // Without a rooted session no process can be in one: no /proc walk.
        let rooted = self.registry.lock().is_ok_and(|r| !r.roots().is_empty());
        if !peer.ip().is_loopback() || !rooted {
            return None;
        }
        let pids = self
            .tcp_peers
            .processes(&self.config.proc_root, peer, local);
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

    #[test]
    fn this_process_is_found_behind_its_own_loopback_connection() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let local = accepted.local_addr().unwrap();
        let peers = TcpPeers::default();
        assert_eq!(
            peers.processes(Path::new("/proc"), peer, local),
            vec![std::process::id()]
        );
        // Remembered: the same answer without walking /proc again.
        assert_eq!(peers.known.lock().unwrap().len(), 1);
        assert_eq!(
            peers.processes(Path::new("/proc"), peer, local),
            vec![std::process::id()]
        );
        // Our own end is a socket too, but not the one asked about: a wrong
        // pairing finds nothing.
        let elsewhere: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(
            peers
                .processes(Path::new("/proc"), peer, elsewhere)
                .is_empty()
        );
    }
}
