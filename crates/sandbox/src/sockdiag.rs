//! The kernel's record of one TCP socket, found by its two ends: a
//! `SOCK_DIAG_BY_FAMILY` request on a `NETLINK_SOCK_DIAG` socket naming the
//! exact connection. The kernel looks it up in its hash table (microseconds;
//! reading `/proc/net/tcp` walks every bucket, milliseconds on a machine with
//! much memory) and answers with the socket's owner uid and inode.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_HDR: usize = 16;
/// `inet_diag_req_v2`: family, protocol, ext, pad, states, then the
/// 48-byte `inet_diag_sockid`.
const REQ_LEN: usize = 8 + SOCKID_LEN;
const SOCKID_LEN: usize = 48;
/// In `inet_diag_msg` (after the header): family, state, timer, retrans,
/// sockid, expires, rqueue, wqueue, then uid and inode.
const MSG_UID: usize = 4 + SOCKID_LEN + 12;
const MSG_INODE: usize = MSG_UID + 4;

/// The owner of a TCP socket: its uid and its inode (`socket:[inode]` in the
/// fd table of each process holding it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketOwner {
    /// The uid the socket was created under.
    pub uid: u32,
    /// The socket's inode.
    pub inode: u64,
}

/// The request for the TCP socket whose local end is `local` and remote end
/// `remote`, as a socket of `family` (an IPv4 address in an `AF_INET6`
/// request is written v4-mapped, as a dual-stack socket holds it).
fn request(local: SocketAddr, remote: SocketAddr, family: u8) -> Vec<u8> {
    let total = NLMSG_HDR + REQ_LEN;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    m.push(family);
    m.push(libc::IPPROTO_TCP as u8);
    m.push(0); // no extensions
    m.push(0);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&remote.port().to_be_bytes());
    let addr = |ip: IpAddr| -> [u8; 16] {
        match (ip, family as i32) {
            (IpAddr::V4(v4), libc::AF_INET) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v4.octets());
                b
            }
            (IpAddr::V4(v4), _) => v4.to_ipv6_mapped().octets(),
            (IpAddr::V6(v6), _) => v6.octets(),
        }
    };
    m.extend_from_slice(&addr(local.ip()));
    m.extend_from_slice(&addr(remote.ip()));
    m.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // INET_DIAG_NOCOOKIE
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    m
}

/// Reads the kernel's answer: the owner, `None` for "no such socket", or the
/// error it reported.
fn answer(buf: &[u8]) -> io::Result<Option<SocketOwner>> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
    };
    let short = || io::Error::new(io::ErrorKind::InvalidData, "short sock_diag answer");
    let kind = buf
        .get(4..6)
        .map(|b| u16::from_ne_bytes([b[0], b[1]]))
        .ok_or_else(short)?;
    if kind == NLMSG_ERROR {
        let errno = word(NLMSG_HDR).ok_or_else(short)? as i32;
        return match -errno {
            0 | libc::ENOENT => Ok(None),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected netlink message type {kind}"),
        ));
    }
    let uid = word(NLMSG_HDR + MSG_UID).ok_or_else(short)?;
    let inode = word(NLMSG_HDR + MSG_INODE).ok_or_else(short)?;
    Ok(Some(SocketOwner {
        uid,
        inode: u64::from(inode),
    }))
}

fn ask(req: &[u8]) -> io::Result<Option<SocketOwner>> {
    // SAFETY: socket(2) takes no pointers; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor just returned to us and owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: the option value points to a live timeval of the size given.
    let set = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::from_ref(&timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed sockaddr_nl is valid (pid 0, groups 0: the kernel).
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `req` and `to` are live for the call and their lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            std::ptr::from_ref(&to).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 1024];
    // SAFETY: zeroed sockaddr_nl is valid; recvfrom overwrites it.
    let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // SAFETY: `buf`, `from` and `from_len` are live and writable for the
    // lengths given.
    let got = unsafe {
        libc::recvfrom(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
            std::ptr::from_mut(&mut from).cast(),
            &mut from_len,
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    // Only the kernel (port 0) answers for sockets: anything else is refused.
    if from.nl_pid != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "a sock_diag answer from netlink port {}, not the kernel",
                from.nl_pid
            ),
        ));
    }
    answer(&buf[..got as usize])
}

/// The owner of the TCP socket whose local end is `local` and whose remote
/// end is `remote` (an IPv4 connection is also looked for among dual-stack
/// sockets), or `None` when the kernel has no such socket.
pub fn tcp_socket_owner(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<SocketOwner>> {
    let v4 = local.is_ipv4() && remote.is_ipv4();
    if v4 && let Some(owner) = ask(&request(local, remote, libc::AF_INET as u8))? {
        return Ok(Some(owner));
    }
    ask(&request(local, remote, libc::AF_INET6 as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn both_ends_of_a_loopback_connection_are_found_with_their_inodes() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, peer) = l.accept().unwrap();
        let ours = s.local_addr().unwrap();
        let client = tcp_socket_owner(peer, ours)
            .unwrap()
            .expect("the client's socket");
        let server = tcp_socket_owner(ours, peer)
            .unwrap()
            .expect("the accepted socket");
        let inode_of = |fd: i32| {
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        assert_eq!(client.inode, inode_of(c.as_raw_fd()));
        assert_eq!(server.inode, inode_of(s.as_raw_fd()));
        // SAFETY: geteuid takes no arguments and cannot fail.
        assert_eq!(client.uid, unsafe { libc::geteuid() });
        // A connection that does not exist.
        let nowhere: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(tcp_socket_owner(nowhere, ours).unwrap(), None);
    }

    #[test]
    fn a_dual_stack_client_is_found_by_its_ipv4_ends() {
        let Ok(l) = std::net::TcpListener::bind("[::]:0") else {
            eprintln!("SKIP: no IPv6 here");
            return;
        };
        let port = l.local_addr().unwrap().port();
        let c = std::net::TcpStream::connect(("::ffff:127.0.0.1", port)).unwrap();
        let (_s, peer) = l.accept().unwrap();
        let local = match peer.ip() {
            IpAddr::V6(v6) => {
                SocketAddr::new(IpAddr::V4(v6.to_ipv4_mapped().unwrap()), peer.port())
            }
            IpAddr::V4(_) => peer,
        };
        let remote: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let owner = tcp_socket_owner(local, remote).unwrap().expect("found");
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", c.as_raw_fd()))
            .unwrap()
            .ino();
        assert_eq!(owner.inode, ino);
    }

    #[test]
    fn answers_that_are_short_or_of_another_kind_are_errors_not_panics() {
        assert!(answer(&[]).is_err());
        let mut err = vec![0u8; 20];
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        assert_eq!(answer(&err).unwrap(), None);
        err[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert!(answer(&err).is_err());
        let mut other = vec![0u8; 100];
        other[4..6].copy_from_slice(&3u16.to_ne_bytes());
        assert!(answer(&other).is_err());
        let mut cut = vec![0u8; 30];
        cut[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert!(answer(&cut).is_err());
    }
}
