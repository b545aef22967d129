//! The seccomp filter: a deny list kept as data ([`denied`]) so that a reviewer
//! reads what is refused and why, compiled into a classic BPF program with an
//! architecture check. Exec calls go to the supervisor (user notification);
//! so do the denied calls, so that each refusal is reported, not just failed.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::sys::SysError;

/// A system call the sandbox refuses, and why.
#[derive(Debug, Clone, Copy)]
pub struct Denied {
    /// The call.
    pub name: &'static str,
    /// Its number on this architecture.
    pub nr: libc::c_long,
    /// Why an agent has no business making it.
    pub why: &'static str,
}

macro_rules! denied {
    ($($sys:ident => $why:literal,)*) => {
        &[$(Denied {
            name: stringify!($sys),
            nr: libc_sys::$sys,
            why: $why,
        }),*]
    };
}

/// The call numbers under their plain names (`libc` prefixes them `SYS_`).
#[allow(non_upper_case_globals)]
mod libc_sys {
    macro_rules! nrs {
        ($($name:ident = $sys:ident),* $(,)?) => {
            $(pub const $name: libc::c_long = libc::$sys;)*
        };
    }
    nrs!(
        io_uring_setup = SYS_io_uring_setup,
        io_uring_enter = SYS_io_uring_enter,
        io_uring_register = SYS_io_uring_register,
        ptrace = SYS_ptrace,
        process_vm_readv = SYS_process_vm_readv,
        process_vm_writev = SYS_process_vm_writev,
        pidfd_getfd = SYS_pidfd_getfd,
        bpf = SYS_bpf,
        perf_event_open = SYS_perf_event_open,
        keyctl = SYS_keyctl,
        add_key = SYS_add_key,
        request_key = SYS_request_key,
        userfaultfd = SYS_userfaultfd,
        kexec_load = SYS_kexec_load,
        kexec_file_load = SYS_kexec_file_load,
        init_module = SYS_init_module,
        finit_module = SYS_finit_module,
        delete_module = SYS_delete_module,
        mount = SYS_mount,
        umount2 = SYS_umount2,
        pivot_root = SYS_pivot_root,
        chroot = SYS_chroot,
        open_tree = SYS_open_tree,
        move_mount = SYS_move_mount,
        fsopen = SYS_fsopen,
        fsconfig = SYS_fsconfig,
        fsmount = SYS_fsmount,
        fspick = SYS_fspick,
        mount_setattr = SYS_mount_setattr,
        unshare = SYS_unshare,
        setns = SYS_setns,
        open_by_handle_at = SYS_open_by_handle_at,
        name_to_handle_at = SYS_name_to_handle_at,
        swapon = SYS_swapon,
        swapoff = SYS_swapoff,
        reboot = SYS_reboot,
        acct = SYS_acct,
        quotactl = SYS_quotactl,
    );
    #[cfg(target_arch = "x86_64")]
    nrs!(
        iopl = SYS_iopl,
        ioperm = SYS_ioperm,
        modify_ldt = SYS_modify_ldt
    );
    // Newer than the `libc` crate's tables; numbered alike on every
    // architecture (the unified numbering of calls from 424 on).
    pub const statmount: libc::c_long = 457;
    pub const listmount: libc::c_long = 458;
    pub const open_tree_attr: libc::c_long = 467;
}

/// The refused calls every architecture has, in review order.
const COMMON: &[Denied] = denied![
    io_uring_setup => "io_uring does file and network I/O that seccomp and Landlock do not see",
    io_uring_enter => "io_uring does file and network I/O that seccomp and Landlock do not see",
    io_uring_register => "io_uring does file and network I/O that seccomp and Landlock do not see",
    ptrace => "would let one process of the tree drive another past the supervisor",
    process_vm_readv => "reads another process's memory",
    process_vm_writev => "writes another process's memory",
    pidfd_getfd => "steals a descriptor from another process",
    bpf => "loads kernel programs",
    perf_event_open => "kernel profiling is a side channel and an attack surface",
    keyctl => "the kernel keyring holds other sessions' secrets",
    add_key => "the kernel keyring holds other sessions' secrets",
    request_key => "the kernel keyring holds other sessions' secrets",
    userfaultfd => "a classic aid to kernel exploits",
    kexec_load => "replaces the running kernel",
    kexec_file_load => "replaces the running kernel",
    init_module => "loads kernel modules",
    finit_module => "loads kernel modules",
    delete_module => "unloads kernel modules",
    mount => "would change the sandbox's view of the files",
    umount2 => "would uncover what the sandbox hides",
    pivot_root => "would change the sandbox's root",
    chroot => "would change the sandbox's root",
    open_tree => "would change the sandbox's view of the files",
    move_mount => "would change the sandbox's view of the files",
    fsopen => "would change the sandbox's view of the files",
    fsconfig => "would change the sandbox's view of the files",
    fsmount => "would change the sandbox's view of the files",
    fspick => "would change the sandbox's view of the files",
    mount_setattr => "would make read-only mounts writable",
    open_tree_attr => "would change the sandbox's view of the files",
    statmount => "reads the mount table past the sandbox's view",
    listmount => "reads the mount table past the sandbox's view",
    unshare => "new namespaces would shed the sandbox's restrictions",
    setns => "would join another namespace",
    open_by_handle_at => "opens files by handle, past every path check",
    name_to_handle_at => "pairs with open_by_handle_at",
    swapon => "system administration",
    swapoff => "system administration",
    reboot => "system administration",
    acct => "system administration",
    quotactl => "system administration",
];

/// The refused calls only this architecture has.
#[cfg(target_arch = "x86_64")]
const ARCH_ONLY: &[Denied] = denied![
    iopl => "raw port I/O",
    ioperm => "raw port I/O",
    modify_ldt => "a classic aid to kernel exploits",
];
#[cfg(not(target_arch = "x86_64"))]
const ARCH_ONLY: &[Denied] = &[];

/// Every refused call.
pub fn denied() -> impl Iterator<Item = &'static Denied> {
    COMMON.iter().chain(ARCH_ONLY)
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64

/// The namespace flags `clone` may not carry.
const NEW_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32;

/// ioctls that push input into a terminal or drive the console.
pub const DENIED_IOCTLS: &[(&str, u32)] = &[("TIOCSTI", 0x5412), ("TIOCLINUX", 0x541C)];

/// Socket families a process may open; the others (AF_NETLINK, AF_PACKET,
/// AF_VSOCK…) fail with EAFNOSUPPORT.
pub const ALLOWED_FAMILIES: &[(&str, u32)] = &[
    ("AF_UNIX", libc::AF_UNIX as u32),
    ("AF_INET", libc::AF_INET as u32),
    ("AF_INET6", libc::AF_INET6 as u32),
];

/// Why each argument-filtered call is filtered, for `--explain`.
pub const ARGUMENT_RULES: &[&str] = &[
    "clone with a CLONE_NEW* flag: EPERM (new namespaces would shed the sandbox's restrictions)",
    "clone3: ENOSYS, so that C libraries fall back to clone, whose flags the filter can read",
    "ioctl TIOCSTI / TIOCLINUX: EPERM (typing into the terminal of whoever holds it)",
    "socket with a family other than AF_UNIX, AF_INET, AF_INET6: EAFNOSUPPORT",
    "chmod, fchmod, fchmodat(2), open(at), creat, mknod(at) with a setuid or setgid bit: EPERM (a setuid file left in the workspace would run as the caller on the host later)",
    "openat2: ENOSYS (its mode is in a struct the filter cannot read; C libraries fall back to openat)",
];

/// The mode bits no file made in the sandbox may carry (S_ISUID | S_ISGID).
const SET_ID_BITS: u32 = 0o6000;

/// The calls that set a file's mode, and which argument holds it.
fn mode_setters() -> Vec<(libc::c_long, u32)> {
    let mut v = vec![
        (libc::SYS_fchmod, 1),
        (libc::SYS_fchmodat, 2),
        (libc::SYS_fchmodat2, 2),
        (libc::SYS_openat, 3),
        (libc::SYS_mknodat, 2),
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        (libc::SYS_chmod, 1),
        (libc::SYS_open, 2),
        (libc::SYS_creat, 1),
        (libc::SYS_mknod, 1),
    ]);
    v
}

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// The low 32 bits of argument `i` (little-endian layout of seccomp_data).
const fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

fn op(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

fn ret(action: u32) -> libc::sock_filter {
    op(RET_K, 0, 0, action)
}

/// `if nr == n { body } else { skip body }`: the body must end in returns.
fn on_nr(prog: &mut Vec<libc::sock_filter>, n: libc::c_long, body: Vec<libc::sock_filter>) {
    let skip = u8::try_from(body.len()).unwrap_or(u8::MAX);
    prog.push(op(JEQ_K, 0, skip, n as u32));
    prog.extend(body);
}

/// What happens to exec calls and to the denied calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervision {
    /// Both go to the supervisor's listener.
    Notify,
    /// No supervisor: execs run, denied calls fail with EPERM.
    None,
}

/// The filter program.
pub fn program(supervision: Supervision) -> Vec<libc::sock_filter> {
    let errno = |e: i32| ret(RET_ERRNO | (e as u32 & 0xffff));
    let refused = match supervision {
        Supervision::Notify => ret(RET_USER_NOTIF),
        Supervision::None => errno(libc::EPERM),
    };
    let mut p = vec![
        op(LD_W_ABS, 0, 0, OFF_ARCH),
        op(JEQ_K, 1, 0, AUDIT_ARCH),
        ret(RET_KILL_PROCESS),
        op(LD_W_ABS, 0, 0, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // The x32 ABI numbers every call anew; none of it is needed.
        p.push(op(JGE_K, 0, 1, 0x4000_0000));
        p.push(errno(libc::ENOSYS));
    }
    if supervision == Supervision::Notify {
        for nr in [libc::SYS_execve, libc::SYS_execveat] {
            on_nr(&mut p, nr, vec![ret(RET_USER_NOTIF)]);
        }
    }
    for d in denied() {
        on_nr(&mut p, d.nr, vec![refused]);
    }
    on_nr(&mut p, libc::SYS_clone3, vec![errno(libc::ENOSYS)]);
    // Argument-filtered refusals are answered in the filter itself: the
    // supervisor only ever sees calls it can tell apart by number.
    on_nr(
        &mut p,
        libc::SYS_clone,
        vec![
            op(LD_W_ABS, 0, 0, arg_low(0)),
            op(JSET_K, 0, 1, NEW_NAMESPACES),
            errno(libc::EPERM),
            ret(RET_ALLOW),
        ],
    );
    on_nr(&mut p, libc::SYS_openat2, vec![errno(libc::ENOSYS)]);
    for (nr, arg) in mode_setters() {
        on_nr(
            &mut p,
            nr,
            vec![
                op(LD_W_ABS, 0, 0, arg_low(arg)),
                op(JSET_K, 0, 1, SET_ID_BITS),
                errno(libc::EPERM),
                ret(RET_ALLOW),
            ],
        );
    }
    let mut ioctl = vec![op(LD_W_ABS, 0, 0, arg_low(1))];
    for (i, (_, cmd)) in DENIED_IOCTLS.iter().enumerate() {
        let to_deny = u8::try_from(DENIED_IOCTLS.len() - i).unwrap_or(u8::MAX);
        ioctl.push(op(JEQ_K, to_deny, 0, *cmd));
    }
    ioctl.push(ret(RET_ALLOW));
    ioctl.push(errno(libc::EPERM));
    on_nr(&mut p, libc::SYS_ioctl, ioctl);
    let mut socket = vec![op(LD_W_ABS, 0, 0, arg_low(0))];
    for (i, (_, fam)) in ALLOWED_FAMILIES.iter().enumerate() {
        let to_allow = u8::try_from(ALLOWED_FAMILIES.len() - i).unwrap_or(u8::MAX);
        socket.push(op(JEQ_K, to_allow, 0, *fam));
    }
    socket.push(errno(libc::EAFNOSUPPORT));
    socket.push(ret(RET_ALLOW));
    on_nr(&mut p, libc::SYS_socket, socket);
    p.push(ret(RET_ALLOW));
    p
}

/// The name of a denied call, by number.
pub fn denied_name(nr: i32) -> Option<&'static str> {
    denied()
        .find(|d| d.nr == libc::c_long::from(nr))
        .map(|d| d.name)
}

/// Installs the filter on this thread (its children and execs inherit it);
/// with [`Supervision::Notify`], returns the listener the supervisor reads.
/// `no_new_privs` must be set already.
pub fn install(supervision: Supervision) -> Result<Option<OwnedFd>, SysError> {
    let prog = program(supervision);
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).unwrap_or(u16::MAX),
        filter: prog.as_ptr().cast_mut(),
    };
    let flags: libc::c_ulong = match supervision {
        Supervision::Notify => libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_ulong,
        Supervision::None => 0,
    };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel
    // copies the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(SysError {
            call: "seccomp",
            what: "SECCOMP_SET_MODE_FILTER".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(match supervision {
        // SAFETY: with NEW_LISTENER the kernel returns a new descriptor.
        Supervision::Notify => Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }),
        Supervision::None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program() {
        for s in [Supervision::Notify, Supervision::None] {
            let p = program(s);
            assert!(p.len() < u16::MAX as usize);
            for (i, ins) in p.iter().enumerate() {
                if ins.code & 0x07 == 0x05 {
                    let far = i + 1 + ins.jt.max(ins.jf) as usize;
                    assert!(far < p.len(), "jump at {i} leaves the program");
                }
            }
            assert_eq!(p.last().map(|i| (i.code, i.k)), Some((RET_K, RET_ALLOW)));
        }
    }

    #[test]
    fn the_deny_list_names_each_call_once() {
        let mut nrs: Vec<_> = denied().map(|d| d.nr).collect();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), denied().count());
        assert_eq!(denied_name(libc::SYS_ptrace as i32), Some("ptrace"));
        assert_eq!(denied_name(libc::SYS_read as i32), None);
    }
}
