//! The events the BPF programs write, decoded. The layout is `struct
//! event` of `bpf/observer.bpf.c`; a record of another size is refused, and
//! every string is read up to its NUL within its field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes of one record.
pub const EVENT_SIZE: usize = 2376;
const PPID: usize = 2368;
const MAX_ARGS: usize = 16;
const ARG_LEN: usize = 128;
const COMM: usize = 24;
const PATH: usize = 40;
const ARGV: usize = 296;
const FAMILY: usize = 2344;
const PORT: usize = 2346;
const ADDR: usize = 2348;
const TRUNCATED: usize = 2364;

/// What a process did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `execve` was called (whether or not it then succeeded).
    Exec {
        /// Who.
        process: Process,
        /// The path given to execve.
        path: String,
        /// The arguments (at most 16, each at most 127 bytes).
        argv: Vec<String>,
        /// There were more arguments than were read.
        truncated: bool,
    },
    /// `connect` to an IP address was called.
    Connect {
        /// Who.
        process: Process,
        /// Where to.
        addr: IpAddr,
        /// Port.
        port: u16,
    },
}

/// The process an event is about, as the kernel saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Thread group id.
    pub pid: u32,
    /// Its parent's thread group id when the event happened (the process
    /// may be gone by the time the event is read; its parent often is not).
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// cgroup v2 id.
    pub cgroup: u64,
    /// The command name (`comm`, 15 bytes at most).
    pub comm: String,
}

impl Event {
    /// Who did it.
    pub fn process(&self) -> &Process {
        match self {
            Event::Exec { process, .. } | Event::Connect { process, .. } => process,
        }
    }
}

/// A record that is not an event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// Not the size of `struct event`.
    #[error("an event record has {0} bytes, not {EVENT_SIZE}")]
    Size(usize),
    /// An unknown kind.
    #[error("unknown event kind {0}")]
    Kind(u32),
    /// A connect of a family other than IPv4 and IPv6.
    #[error("unknown address family {0}")]
    Family(u16),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes one ring buffer record.
pub fn parse(b: &[u8]) -> Result<Event, EventError> {
    if b.len() != EVENT_SIZE {
        return Err(EventError::Size(b.len()));
    }
    let mut cgroup = [0u8; 8];
    cgroup.copy_from_slice(&b[16..24]);
    let process = Process {
        pid: u32_at(b, 4),
        ppid: u32_at(b, PPID),
        uid: u32_at(b, 8),
        cgroup: u64::from_ne_bytes(cgroup),
        comm: string(&b[COMM..PATH]),
    };
    match u32_at(b, 0) {
        1 => {
            let argc = (u32_at(b, 12) as usize).min(MAX_ARGS);
            let argv = (0..argc)
                .map(|i| string(&b[ARGV + i * ARG_LEN..ARGV + (i + 1) * ARG_LEN]))
                .collect();
            Ok(Event::Exec {
                process,
                path: string(&b[PATH..ARGV]),
                argv,
                truncated: u32_at(b, TRUNCATED) != 0,
            })
        }
        2 => {
            let port = u16_at(b, PORT);
            let addr = match u16_at(b, FAMILY) {
                2 => IpAddr::V4(Ipv4Addr::new(
                    b[ADDR],
                    b[ADDR + 1],
                    b[ADDR + 2],
                    b[ADDR + 3],
                )),
                10 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(&b[ADDR..ADDR + 16]);
                    IpAddr::V6(Ipv6Addr::from(a))
                }
                f => return Err(EventError::Family(f)),
            };
            Ok(Event::Connect {
                process,
                addr,
                port,
            })
        }
        k => Err(EventError::Kind(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(kind: u32) -> Vec<u8> {
        let mut b = vec![0u8; EVENT_SIZE];
        b[0..4].copy_from_slice(&kind.to_ne_bytes());
        b[4..8].copy_from_slice(&4242u32.to_ne_bytes());
        b[16..24].copy_from_slice(&77u64.to_ne_bytes());
        b[COMM..COMM + 4].copy_from_slice(b"curl");
        b
    }

    #[test]
    fn an_exec_record_decodes_to_its_path_and_arguments() {
        let mut b = record(1);
        b[PATH..PATH + 9].copy_from_slice(b"/bin/echo");
        b[12..16].copy_from_slice(&2u32.to_ne_bytes());
        b[ARGV..ARGV + 4].copy_from_slice(b"echo");
        b[ARGV + ARG_LEN..ARGV + ARG_LEN + 2].copy_from_slice(b"hi");
        let Event::Exec {
            process,
            path,
            argv,
            truncated,
        } = parse(&b).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (process.pid, process.cgroup, process.comm.as_str()),
            (4242, 77, "curl")
        );
        assert_eq!(
            (path.as_str(), argv, truncated),
            ("/bin/echo", vec!["echo".into(), "hi".into()], false)
        );
    }

    #[test]
    fn a_connect_record_decodes_to_its_address() {
        let mut b = record(2);
        b[FAMILY..FAMILY + 2].copy_from_slice(&2u16.to_ne_bytes());
        b[PORT..PORT + 2].copy_from_slice(&443u16.to_ne_bytes());
        b[ADDR..ADDR + 4].copy_from_slice(&[169, 254, 169, 254]);
        assert!(matches!(
            parse(&b).unwrap(),
            Event::Connect { port: 443, addr, .. } if addr.to_string() == "169.254.169.254"
        ));
        b[FAMILY..FAMILY + 2].copy_from_slice(&1u16.to_ne_bytes());
        assert_eq!(parse(&b), Err(EventError::Family(1)));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused(b in proptest::collection::vec(any::<u8>(), 0..3000), kind in 0u32..4) {
            let _ = parse(&b);
            let mut r = vec![0u8; EVENT_SIZE];
            let n = b.len().min(EVENT_SIZE);
            r[..n].copy_from_slice(&b[..n]);
            r[0..4].copy_from_slice(&kind.to_ne_bytes());
            let _ = parse(&r);
        }
    }
}
