//! The events the BPF programs write, decoded. The layouts are `struct
//! exec_event` and `struct connect_event` of `bpf/observer.bpf.c`, both
//! starting with `struct process`; a record not of its kind's size is
//! refused, and every string is read up to its NUL within its field.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Bytes of an exec record (`struct exec_event`).
pub const EXEC_SIZE: usize = 2352;
/// Bytes of a connect record (`struct connect_event`).
pub const CONNECT_SIZE: usize = 64;
/// The most bytes of arguments a record holds (`ARGS_LEN`).
pub const ARGS_LEN: usize = 2048;
/// Offsets in `struct process`, the start of every record.
const KIND: usize = 0;
const PID: usize = 4;
const UID: usize = 8;
const PPID: usize = 12;
const CGROUP: usize = 16;
const COMM: usize = 24;
const PROCESS_END: usize = 40;
/// Offsets in `struct exec_event`.
const ARGS_READ: usize = 40;
const FLAGS: usize = 44;
/// `exec_event.flags`.
const EXEC_TRUNCATED: u32 = 1;
const EXEC_SCRIPT: u32 = 2;
const PATH: usize = 48;
const ARGS: usize = 304;
/// Offsets in `struct connect_event`.
const FAMILY: usize = 40;
const PORT: usize = 42;
const ADDR: usize = 48;

/// What a process did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A program was executed (seen once the exec succeeded, before the new
    /// program ran).
    Exec {
        /// Who: the process as the new program (`comm` is its name).
        process: Process,
        /// The path given to execve.
        path: String,
        /// The arguments, as many as fit in 2,048 bytes. For a script, the
        /// kernel has already dropped the caller's argv[0]: these start
        /// with the script's path, then the caller's other arguments.
        argv: Vec<String>,
        /// For a script (`#!`, binfmt_misc), the interpreter the kernel
        /// runs it with, and the interpreter's own `#!` argument if any.
        interpreter: Vec<String>,
        /// The command line was longer: the last argument read may be cut.
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
    /// Not the size of the record its kind names.
    #[error("a kind {kind} event record has {len} bytes, not {expected}")]
    Size {
        /// The kind the record says it is.
        kind: u32,
        /// Its bytes.
        len: usize,
        /// The bytes of that kind.
        expected: usize,
    },
    /// Too short to hold even the process.
    #[error("an event record of {0} bytes is too short")]
    Short(usize),
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

/// The NUL-terminated arguments laid one after another, as on a new
/// program's stack; a last one without its NUL (cut short) is kept.
fn split_args(b: &[u8]) -> Vec<String> {
    if b.is_empty() {
        return Vec::new();
    }
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    b.split(|c| *c == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// A script's command line as the kernel made it, `interpreter [#! arg]
/// script args...`, split at the script's path (the kernel's own copy of
/// the path given): `argv` keeps the script's part, the interpreter's part
/// is returned. One that cannot be split so (an interpreter that is itself
/// a script) is left whole, the interpreter named by its first element.
fn script_interpreter(argv: &mut Vec<String>, path: &str) -> Vec<String> {
    match (1..argv.len().min(3)).find(|i| argv[*i] == path) {
        Some(at) => argv.drain(..at).collect(),
        None => argv.first().cloned().into_iter().collect(),
    }
}

fn sized(b: &[u8], kind: u32, expected: usize) -> Result<(), EventError> {
    if b.len() == expected {
        Ok(())
    } else {
        Err(EventError::Size {
            kind,
            len: b.len(),
            expected,
        })
    }
}

/// Decodes one ring buffer record.
pub fn parse(b: &[u8]) -> Result<Event, EventError> {
    if b.len() < PROCESS_END {
        return Err(EventError::Short(b.len()));
    }
    let mut cgroup = [0u8; 8];
    cgroup.copy_from_slice(&b[CGROUP..CGROUP + 8]);
    let process = Process {
        pid: u32_at(b, PID),
        ppid: u32_at(b, PPID),
        uid: u32_at(b, UID),
        cgroup: u64::from_ne_bytes(cgroup),
        comm: string(&b[COMM..PROCESS_END]),
    };
    match u32_at(b, KIND) {
        1 => {
            sized(b, 1, EXEC_SIZE)?;
            let read = (u32_at(b, ARGS_READ) as usize).min(ARGS_LEN);
            let flags = u32_at(b, FLAGS);
            let path = string(&b[PATH..ARGS]);
            let mut argv = split_args(&b[ARGS..ARGS + read]);
            let interpreter = if flags & EXEC_SCRIPT != 0 {
                script_interpreter(&mut argv, &path)
            } else {
                Vec::new()
            };
            Ok(Event::Exec {
                process,
                path,
                argv,
                interpreter,
                truncated: flags & EXEC_TRUNCATED != 0,
            })
        }
        2 => {
            sized(b, 2, CONNECT_SIZE)?;
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

    fn record(kind: u32, size: usize) -> Vec<u8> {
        let mut b = vec![0u8; size];
        b[KIND..KIND + 4].copy_from_slice(&kind.to_ne_bytes());
        b[PID..PID + 4].copy_from_slice(&4242u32.to_ne_bytes());
        b[PPID..PPID + 4].copy_from_slice(&7u32.to_ne_bytes());
        b[CGROUP..CGROUP + 8].copy_from_slice(&77u64.to_ne_bytes());
        b[COMM..COMM + 4].copy_from_slice(b"curl");
        b
    }

    fn exec_record(args: &[u8], truncated: bool) -> Vec<u8> {
        exec_with(
            b"/bin/echo",
            args,
            if truncated { EXEC_TRUNCATED } else { 0 },
        )
    }

    fn exec_with(path: &[u8], args: &[u8], flags: u32) -> Vec<u8> {
        let mut b = record(1, EXEC_SIZE);
        b[PATH..PATH + path.len()].copy_from_slice(path);
        b[ARGS_READ..ARGS_READ + 4].copy_from_slice(&(args.len() as u32).to_ne_bytes());
        b[FLAGS..FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
        b[ARGS..ARGS + args.len()].copy_from_slice(args);
        b
    }

    #[test]
    fn an_exec_record_decodes_to_its_path_and_arguments() {
        let Event::Exec {
            process,
            path,
            argv,
            truncated,
            interpreter,
        } = parse(&exec_record(b"echo\0hi\0\0x\0", false)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                process.pid,
                process.ppid,
                process.cgroup,
                process.comm.as_str()
            ),
            (4242, 7, 77, "curl")
        );
        // An empty argument stays one.
        assert_eq!(
            (path.as_str(), argv, truncated),
            (
                "/bin/echo",
                vec!["echo".into(), "hi".into(), "".into(), "x".into()],
                false
            )
        );
        assert!(interpreter.is_empty());
    }

    #[test]
    fn a_script_is_told_from_its_interpreter() {
        let e = parse(&exec_with(b"./s.sh", b"/bin/sh\0./s.sh\0a\0", EXEC_SCRIPT)).unwrap();
        assert!(matches!(&e, Event::Exec { argv, interpreter, .. }
            if argv == &["./s.sh", "a"] && interpreter == &["/bin/sh"]));
        let e = parse(&exec_with(
            b"./e.py",
            b"/usr/bin/env\0python3\0./e.py\0-v\0",
            EXEC_SCRIPT,
        ))
        .unwrap();
        assert!(matches!(&e, Event::Exec { argv, interpreter, .. }
            if argv == &["./e.py", "-v"] && interpreter == &["/usr/bin/env", "python3"]));
        // Not split at the path: whole, the interpreter named.
        let e = parse(&exec_with(b"./x", b"/bin/sh\0./y\0", EXEC_SCRIPT)).unwrap();
        assert!(matches!(&e, Event::Exec { argv, interpreter, .. }
            if argv == &["/bin/sh", "./y"] && interpreter == &["/bin/sh"]));
    }

    #[test]
    fn a_cut_command_line_keeps_its_last_piece_and_says_so() {
        let e = parse(&exec_record(b"sh\0-c\0ech", true)).unwrap();
        assert!(matches!(&e, Event::Exec { argv, truncated: true, .. }
            if argv == &["sh", "-c", "ech"]));
        // No arguments read (the copy failed): none, not one empty.
        let e = parse(&exec_record(b"", false)).unwrap();
        assert!(matches!(&e, Event::Exec { argv, .. } if argv.is_empty()));
    }

    #[test]
    fn a_connect_record_decodes_to_its_address() {
        let mut b = record(2, CONNECT_SIZE);
        b[FAMILY..FAMILY + 2].copy_from_slice(&2u16.to_ne_bytes());
        b[PORT..PORT + 2].copy_from_slice(&443u16.to_ne_bytes());
        b[ADDR..ADDR + 4].copy_from_slice(&[169, 254, 169, 254]);
        assert!(matches!(
            parse(&b).unwrap(),
            Event::Connect { port: 443, addr, .. } if addr.to_string() == "169.254.169.254"
        ));
        b[FAMILY..FAMILY + 2].copy_from_slice(&10u16.to_ne_bytes());
        b[ADDR..ADDR + 16].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert!(matches!(
            parse(&b).unwrap(),
            Event::Connect { addr, .. } if addr == Ipv6Addr::LOCALHOST
        ));
        b[FAMILY..FAMILY + 2].copy_from_slice(&1u16.to_ne_bytes());
        assert_eq!(parse(&b), Err(EventError::Family(1)));
    }

    #[test]
    fn a_record_of_another_size_than_its_kind_is_refused() {
        assert_eq!(
            parse(&record(2, EXEC_SIZE)),
            Err(EventError::Size {
                kind: 2,
                len: EXEC_SIZE,
                expected: CONNECT_SIZE
            })
        );
        assert!(matches!(
            parse(&record(1, CONNECT_SIZE)),
            Err(EventError::Size { kind: 1, .. })
        ));
        assert_eq!(parse(&[0; 39]), Err(EventError::Short(39)));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_refused(b in proptest::collection::vec(any::<u8>(), 0..3000), kind in 0u32..4) {
            let _ = parse(&b);
            for size in [EXEC_SIZE, CONNECT_SIZE] {
                let mut r = vec![0u8; size];
                let n = b.len().min(size);
                r[..n].copy_from_slice(&b[..n]);
                r[0..4].copy_from_slice(&kind.to_ne_bytes());
                let _ = parse(&r);
            }
        }

        #[test]
        fn arguments_without_nuls_come_back_as_given(args in proptest::collection::vec("[^\\x00]{0,40}", 1..20)) {
            let mut blob = Vec::new();
            for a in &args {
                blob.extend_from_slice(a.as_bytes());
                blob.push(0);
            }
            prop_assume!(blob.len() <= ARGS_LEN);
            let e = parse(&exec_record(&blob, false)).unwrap();
            let Event::Exec { argv, .. } = e else { panic!() };
            prop_assert_eq!(argv, args);
        }
    }
}
