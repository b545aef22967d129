//! Loading the programs, reading the ring buffer, guarding cgroups.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use aya::maps::{Array, HashMap, MapData, RingBuf};
use aya::programs::cgroup_sock_addr::CgroupSockAddrLinkId;
use aya::programs::raw_trace_point::RawTracePointLinkId;
use aya::programs::{CgroupAttachMode, CgroupSockAddr, Lsm, Program, ProgramError, RawTracePoint};
use aya::{Ebpf, include_bytes_aligned};

use crate::event::{self, Event, EventError};

static OBJECT: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/observer.bpf.o"));

/// Why the observer could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The object could not be loaded (no privilege, no BPF, a verifier refusal).
    #[error("loading the BPF programs: {0}")]
    Load(#[from] aya::EbpfError),
    /// A program could not be loaded or attached.
    #[error("{what}: {source}")]
    Program {
        /// Which program, where.
        what: String,
        /// The kernel's refusal.
        source: ProgramError,
    },
    /// A map operation failed.
    #[error("{what}: {source}")]
    Map {
        /// Which map.
        what: &'static str,
        /// The error.
        source: aya::maps::MapError,
    },
    /// The object lacks a program or map this code expects.
    #[error("the BPF object has no {0}")]
    Missing(&'static str),
    /// A cgroup directory could not be read.
    #[error("the cgroup {path}: {source}")]
    Cgroup {
        /// The directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The loaded observer: its exec and connect programs stay attached while
/// it lives (unless [`Observer::detach`]ed).
pub struct Observer {
    bpf: Ebpf,
    ring: RingBuf<MapData>,
    guarded: HashSet<u64>,
    lsm: bool,
    /// The exec and connect programs' links while they are attached.
    attached: Option<(
        RawTracePointLinkId,
        Vec<(&'static str, CgroupSockAddrLinkId)>,
    )>,
    /// The cgroup v2 root, where the connect observers attach.
    root: std::fs::File,
    root_path: std::path::PathBuf,
    /// Keeps the kernel counting the programs' runs while it is open.
    counting: Option<std::os::fd::OwnedFd>,
}

/// How often an observing program ran and for how long in all, as the
/// kernel counted while [`Observer::count_runs`] had it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramRuns {
    /// The program ([`EXEC_PROGRAM`], one of [`CONNECT_PROGRAMS`]).
    pub name: &'static str,
    /// Runs counted.
    pub count: u64,
    /// Time spent in the program over those runs.
    pub time: std::time::Duration,
}

/// A cgroup v2 directory's id, as `bpf_get_current_cgroup_id` gives it (the
/// directory's inode number on the cgroup2 file system).
fn cgroup_id(cgroup: &Path) -> Result<u64, LoadError> {
    std::fs::metadata(cgroup)
        .map(|m| m.ino())
        .map_err(cgroup_failed(cgroup))
}

fn cgroup_failed(cgroup: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Cgroup {
        path: cgroup.display().to_string(),
        source,
    }
}

/// The error of a program step, naming the program and where.
fn failed(what: &str) -> impl Fn(ProgramError) -> LoadError + '_ {
    move |source| LoadError::Program {
        what: what.to_string(),
        source,
    }
}

/// The program `name` of the object, as its type `T`.
fn program<'a, T>(bpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut Program, Error = ProgramError>,
{
    bpf.program_mut(name)
        .ok_or(LoadError::Missing(name))?
        .try_into()
        .map_err(failed(name))
}

/// The cgroup connect programs, attached per guarded cgroup.
const GUARDS: [&str; 2] = ["guard_connect4", "guard_connect6"];

/// The program that sees every exec, on the raw tracepoint `EXEC_TRACEPOINT`.
pub const EXEC_PROGRAM: &str = "exec_observed";
const EXEC_TRACEPOINT: &str = "sched_process_exec";
/// The programs that see every IPv4 and IPv6 connect, on the cgroup v2 root.
pub const CONNECT_PROGRAMS: [&str; 2] = ["connect4_observed", "connect6_observed"];

fn exec_what() -> String {
    format!("{EXEC_PROGRAM} on the raw tracepoint {EXEC_TRACEPOINT}")
}

fn connect_what(name: &str, root: &Path) -> String {
    format!("{name} on the cgroup v2 root {}", root.display())
}

impl Observer {
    /// Loads the programs and attaches the exec and connect observers,
    /// the connect ones to `cgroup_root` (the cgroup v2 mount: every process
    /// is under it), alongside whatever else is attached there.
    pub fn load(cgroup_root: &Path) -> Result<Observer, LoadError> {
        let mut bpf = Ebpf::load(OBJECT)?;
        let exec: &mut RawTracePoint = program(&mut bpf, EXEC_PROGRAM)?;
        exec.load().map_err(failed(&exec_what()))?;
        for name in CONNECT_PROGRAMS {
            let prog: &mut CgroupSockAddr = program(&mut bpf, name)?;
            prog.load()
                .map_err(failed(&connect_what(name, cgroup_root)))?;
        }
        for name in GUARDS {
            let prog: &mut CgroupSockAddr = program(&mut bpf, name)?;
            prog.load().map_err(failed(name))?;
        }
        let ring = RingBuf::try_from(bpf.take_map("EVENTS").ok_or(LoadError::Missing("EVENTS"))?)
            .map_err(|source| LoadError::Map {
            what: "EVENTS",
            source,
        })?;
        let root = std::fs::File::open(cgroup_root).map_err(cgroup_failed(cgroup_root))?;
        let mut observer = Observer {
            bpf,
            ring,
            guarded: HashSet::new(),
            lsm: false,
            attached: None,
            root,
            root_path: cgroup_root.to_path_buf(),
            counting: None,
        };
        observer.attach()?;
        Ok(observer)
    }

    /// Attaches the exec and connect observers again after
    /// [`Observer::detach`] (a no-op while they are attached).
    pub fn attach(&mut self) -> Result<(), LoadError> {
        if self.attached.is_some() {
            return Ok(());
        }
        let exec = program::<RawTracePoint>(&mut self.bpf, EXEC_PROGRAM)?
            .attach(EXEC_TRACEPOINT)
            .map_err(failed(&exec_what()))?;
        let mut connects = Vec::new();
        for name in CONNECT_PROGRAMS {
            let what = connect_what(name, &self.root_path);
            // As a BPF link (aya's choice where the kernel has them), which
            // the kernel always attaches alongside the others there
            // (systemd's, say) and the guards of the cgroups below; it
            // refuses attach flags on links, so none are given.
            let attached = program::<CgroupSockAddr>(&mut self.bpf, name).and_then(|p| {
                p.attach(&self.root, CgroupAttachMode::Single)
                    .map_err(failed(&what))
            });
            match attached {
                Ok(link) => connects.push((name, link)),
                Err(e) => {
                    // All or none: a half-attached observer would stay half blind.
                    self.attached = Some((exec, connects));
                    self.detach();
                    return Err(e);
                }
            }
        }
        self.attached = Some((exec, connects));
        Ok(())
    }

    /// Has the kernel count the runs of every BPF program and the time they
    /// take (`BPF_ENABLE_STATS`) for as long as this observer lives.
    pub fn count_runs(&mut self) -> Result<(), LoadError> {
        if self.counting.is_none() {
            let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime)
                .map_err(|e| failed("counting program runs")(ProgramError::SyscallError(e)))?;
            self.counting = Some(fd);
        }
        Ok(())
    }

    /// The observing programs' runs counted so far (zero unless
    /// [`Observer::count_runs`] was called).
    pub fn runs(&self) -> Vec<ProgramRuns> {
        std::iter::once(EXEC_PROGRAM)
            .chain(CONNECT_PROGRAMS)
            .filter_map(|name| {
                let info = self.bpf.program(name)?.info().ok()?;
                Some(ProgramRuns {
                    name,
                    count: info.run_count(),
                    time: info.run_time(),
                })
            })
            .collect()
    }

    /// Detaches the exec and connect observers, the programs staying
    /// loaded and the cgroup guards in force: nothing more is observed until
    /// [`Observer::attach`].
    pub fn detach(&mut self) {
        let Some((exec, connects)) = self.attached.take() else {
            return;
        };
        // A link that is already gone needs no detaching.
        if let Ok(p) = program::<RawTracePoint>(&mut self.bpf, EXEC_PROGRAM) {
            let _ = p.detach(exec);
        }
        for (name, link) in connects {
            if let Ok(p) = program::<CgroupSockAddr>(&mut self.bpf, name) {
                let _ = p.detach(link);
            }
        }
    }

    /// Hands every event waiting in the ring buffer to `f`; how many.
    pub fn drain(&mut self, mut f: impl FnMut(Result<Event, EventError>)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            f(event::parse(&item));
            n += 1;
        }
        n
    }

    /// Events the kernel side dropped because the ring buffer was full.
    pub fn dropped(&self) -> u64 {
        self.bpf
            .map("DROPPED")
            .and_then(|m| Array::<_, u64>::try_from(m).ok())
            .and_then(|a| a.get(&0, 0).ok())
            .unwrap_or(0)
    }

    /// Loads and attaches the BPF LSM program that refuses execs in marked
    /// cgroups. `Err` says why the kernel would not (on many kernels the
    /// program type is not built in, whatever the LSM list says).
    pub fn enforce_execs(&mut self) -> Result<(), LoadError> {
        if self.lsm {
            return Ok(());
        }
        let what = "deny_marked_exec on lsm/bprm_check_security";
        let btf = aya::Btf::from_sys_fs().map_err(|e| failed(what)(ProgramError::Btf(e)))?;
        let prog: &mut Lsm = program(&mut self.bpf, "deny_marked_exec")?;
        prog.load("bprm_check_security", &btf)
            .map_err(failed(what))?;
        prog.attach().map_err(failed(what))?;
        self.lsm = true;
        Ok(())
    }

    /// Refuses every exec in the cgroup v2 directory `cgroup` (needs
    /// [`Observer::enforce_execs`] to have succeeded).
    pub fn deny_execs_in(&mut self, cgroup: &Path) -> Result<(), LoadError> {
        self.enforce_execs()?;
        let id = cgroup_id(cgroup)?;
        self.mark("MARKED", id)
    }

    /// Sets `key` to 1 in the hash map `name`.
    fn mark<K: aya::Pod>(&mut self, name: &'static str, key: K) -> Result<(), LoadError> {
        let map = self.bpf.map_mut(name).ok_or(LoadError::Missing(name))?;
        let mut map: HashMap<_, K, u8> =
            HashMap::try_from(map).map_err(|source| LoadError::Map { what: name, source })?;
        map.insert(key, 1, 0)
            .map_err(|source| LoadError::Map { what: name, source })
    }

    /// Refuses connects to `port` (TCP and UDP, IPv4 and IPv6) from the
    /// processes of the cgroup v2 directory `cgroup` and its descendants.
    pub fn deny_port(&mut self, cgroup: &Path, port: u16) -> Result<(), LoadError> {
        let dir = std::fs::File::open(cgroup).map_err(cgroup_failed(cgroup))?;
        let id = cgroup_id(cgroup)?;
        if self.guarded.insert(id) {
            for name in GUARDS {
                let prog: &mut CgroupSockAddr = program(&mut self.bpf, name)?;
                prog.attach(&dir, CgroupAttachMode::Single)
                    .map_err(failed(&format!("{name} on {}", cgroup.display())))?;
            }
        }
        // The key is `struct cgroup_port` in the C: two u64s.
        self.mark("DENIED", [id, u64::from(port)])
    }
}
