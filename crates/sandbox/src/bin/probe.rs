//! The escape probe: attempts one forbidden act and prints `ok` when it
//! worked or `errno NAME` when the kernel refused. Run inside the sandbox by
//! the escape tests, which assert the errno. Exit code 0 when the act
//! worked, 1 when it was refused, 2 on a usage error.

#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::ffi::CString;
use std::io::{self, Read, Write};

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// Turns a C return value into an io::Result.
fn sys(r: i64) -> io::Result<i64> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn name(e: &io::Error) -> String {
    let n = e.raw_os_error().unwrap_or(0);
    let known = [
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::EACCES, "EACCES"),
        (libc::EROFS, "EROFS"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
        (libc::ECONNREFUSED, "ECONNREFUSED"),
        (libc::ENETUNREACH, "ENETUNREACH"),
        (libc::ESRCH, "ESRCH"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::EINVAL, "EINVAL"),
        (libc::EBADF, "EBADF"),
        (libc::EEXIST, "EEXIST"),
        (libc::EBUSY, "EBUSY"),
        (libc::ENOTSOCK, "ENOTSOCK"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == n)
        .map_or(format!("errno {n}"), |(_, s)| format!("errno {s}"))
}

fn socket(family: i32, kind: i32, proto: i32) -> io::Result<i32> {
    // SAFETY: plain socket creation with integer arguments.
    sys(unsafe { libc::socket(family, kind, proto) }.into()).map(|r| r as i32)
}

fn connect_inet(kind: i32, ip: [u8; 4], port: u16) -> io::Result<()> {
    connect_inet_proto(kind, 0, ip, port)
}

fn connect_inet_proto(kind: i32, proto: i32, ip: [u8; 4], port: u16) -> io::Result<()> {
    let s = socket(libc::AF_INET, kind, proto)?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `addr` is a valid sockaddr_in of the size given.
    sys(unsafe {
        libc::connect(
            s,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    }
    .into())?;
    if kind != libc::SOCK_STREAM {
        // SAFETY: a one-byte buffer that outlives the call.
        sys(unsafe { libc::send(s, b"x".as_ptr().cast(), 1, 0) } as i64)?;
    }
    Ok(())
}

fn connect_unix(path: &[u8]) -> io::Result<()> {
    let s = socket(libc::AF_UNIX, libc::SOCK_STREAM, 0)?;
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as u16;
    for (d, b) in addr.sun_path.iter_mut().zip(path) {
        *d = *b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + path.len();
    // SAFETY: `addr` is a valid sockaddr_un; `len` covers the used part.
    sys(unsafe { libc::connect(s, (&addr as *const libc::sockaddr_un).cast(), len as u32) }.into())
        .map(drop)
}

fn ipv4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>()
        .map(|a| a.octets())
        .unwrap_or([127, 0, 0, 1])
}

fn act(args: &[String]) -> Result<io::Result<()>, String> {
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or_else(|| format!("{} needs argument {i}", args[0]))
    };
    let r = match args[0].as_str() {
        "read" => {
            let r = std::fs::File::open(arg(1)?).and_then(|mut f| {
                let mut b = Vec::new();
                f.read_to_end(&mut b).map(|_| b.len())
            });
            if let Ok(n) = r {
                println!("read: ok, {n} bytes");
                std::process::exit(0);
            }
            r.map(drop)
        }
        "write" => std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(arg(1)?)
            .and_then(|mut f| f.write_all(b"planted by the probe\n")),
        "symlink-write" => {
            let link = arg(2)?;
            std::os::unix::fs::symlink(arg(1)?, &link).and_then(|()| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&link)
                    .and_then(|mut f| f.write_all(b"x"))
            })
        }
        "hardlink" => std::fs::hard_link(arg(1)?, arg(2)?),
        "rename" => std::fs::rename(arg(1)?, arg(2)?),
        "mkdir" => std::fs::create_dir_all(arg(1)?),
        "connect-unix" => connect_unix(arg(1)?.as_bytes()),
        "connect-abstract" => {
            let mut p = vec![0u8];
            p.extend_from_slice(arg(1)?.as_bytes());
            connect_unix(&p)
        }
        "tcp" => connect_inet(
            libc::SOCK_STREAM,
            ipv4(&arg(1)?),
            arg(2)?.parse().unwrap_or(80),
        ),
        "udp" => connect_inet(
            libc::SOCK_DGRAM,
            ipv4(&arg(1)?),
            arg(2)?.parse().unwrap_or(53),
        ),
        "icmp" => connect_inet_proto(libc::SOCK_DGRAM, libc::IPPROTO_ICMP, ipv4(&arg(1)?), 0),
        "raw" => connect_inet_proto(libc::SOCK_RAW, libc::IPPROTO_ICMP, ipv4(&arg(1)?), 0),
        "packet" => socket(libc::AF_PACKET, libc::SOCK_RAW, 0).map(drop),
        "netlink" => socket(libc::AF_NETLINK, libc::SOCK_RAW, 0).map(drop),
        "io-uring" => {
            let mut params = [0u8; 120];
            // SAFETY: io_uring_setup reads and writes a 120-byte params struct.
            sys(unsafe { libc::syscall(libc::SYS_io_uring_setup, 8, params.as_mut_ptr()) })
                .map(drop)
        }
        "ptrace" => {
            let pid: i32 = arg(1)?.parse().map_err(|_| "ptrace needs a pid")?;
            // SAFETY: PTRACE_SEIZE takes integers only (and, unlike ATTACH, does
            // not stop the target).
            sys(unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, 0) }).map(drop)
        }
        "signal" => {
            let pid: i32 = arg(1)?.parse().map_err(|_| "signal needs a pid")?;
            // SAFETY: kill takes integers only.
            sys(unsafe { libc::kill(pid, libc::SIGCONT) }.into()).map(drop)
        }
        "tiocsti" => {
            let ch = b'x';
            // SAFETY: TIOCSTI reads one byte from the pointer given.
            sys(unsafe { libc::ioctl(0, libc::TIOCSTI, &ch as *const u8) }.into()).map(drop)
        }
        "unshare-user" => {
            // SAFETY: integer argument.
            sys(unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()).map(drop)
        }
        "clone-newuser" => {
            let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong;
            // SAFETY: a fork-like clone with no stack or tls; the child exits at once.
            let r = unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) };
            if r == 0 {
                // SAFETY: _exit is always safe.
                unsafe { libc::_exit(0) };
            }
            sys(r).map(drop)
        }
        "mount" => {
            let target = c(&arg(1)?);
            // SAFETY: NUL-terminated strings that outlive the call.
            sys(unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    target.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            }
            .into())
            .map(drop)
        }
        "daemonize" => {
            // A double-forked, setsid daemon that outlives the command: the
            // sandbox must kill it when the command exits.
            let token = arg(1)?;
            // SAFETY: the probe is single-threaded.
            match unsafe { libc::fork() } {
                0 => {
                    // SAFETY: setsid and fork take no pointers; the probe is single-threaded.
                    unsafe { libc::setsid() };
                    // SAFETY: as above.
                    if unsafe { libc::fork() } == 0 {
                        let exe = std::env::current_exe().unwrap_or_default();
                        let err = std::process::Command::new(exe)
                            .args(["linger", &token])
                            .spawn();
                        let _ = err.map(|mut c| c.wait());
                    }
                    // SAFETY: _exit is always safe.
                    unsafe { libc::_exit(0) }
                }
                -1 => Err(io::Error::last_os_error()),
                _ => {
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok(())
                }
            }
        }
        "linger" => {
            std::thread::sleep(std::time::Duration::from_secs(600));
            Ok(())
        }
        "exec" => {
            let err = std::process::Command::new(arg(1)?)
                .args(&args[2..])
                .status();
            err.and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(io::Error::other(format!("exited with {s}")))
                }
            })
        }
        "bind-tcp" => {
            let s = socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            s.and_then(|s| {
                let port: u16 = arg(1).ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
                let addr = libc::sockaddr_in {
                    sin_family: libc::AF_INET as u16,
                    sin_port: port.to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `addr` is a valid sockaddr_in of the size given.
                sys(unsafe {
                    libc::bind(
                        s,
                        (&addr as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as u32,
                    )
                }
                .into())
                .map(drop)
            })
        }
        "exists" => std::fs::symlink_metadata(arg(1)?).map(drop),
        "chmod-setuid" => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(arg(1)?, std::fs::Permissions::from_mode(0o4755))
        }
        "create-setuid" => {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o4755)
                .open(arg(1)?)
                .map(drop)
        }
        other => return Err(format!("unknown act {other:?}")),
    };
    Ok(r)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // The act can come in the environment, so that what a policy sees of
    // the exec is just the probe (the kernel, not the policy, is under test).
    if args.is_empty()
        && let Ok(act) = std::env::var("WARDEN_PROBE")
    {
        args = act.split(' ').map(str::to_string).collect();
    }
    if args.is_empty() {
        eprintln!("usage: warden-sandbox-probe ACT [ARGS...]  (or WARDEN_PROBE=\"ACT ARGS...\")");
        std::process::exit(2);
    }
    match act(&args) {
        Ok(Ok(())) => {
            println!("{}: ok", args[0]);
        }
        Ok(Err(e)) => {
            let e_name = if e.raw_os_error().is_some() {
                name(&e)
            } else {
                e.to_string()
            };
            println!("{}: {e_name}", args[0]);
            std::process::exit(1);
        }
        Err(usage) => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
