//! The kernel's view of a caller's process: its ancestors and whether it holds a
//! terminal, read from `/proc`. Identity decisions rest on this, never on what a
//! caller says about itself.
//!
//! A peer's pid comes from `SO_PEERCRED` at connect time; a process that exits
//! and whose pid is reused before we read `/proc` is a race we accept (the
//! window is microseconds and the reused pid must also sit in the right tree).
//! A session's root is held for longer, so it is named by pid and start time:
//! once the root exits, a new process given its pid is nobody's session.

use std::path::Path;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Parent pid (0 for the kernel's own).
    pub ppid: u32,
    /// Controlling terminal device number; 0 means none.
    pub tty_nr: i64,
    /// When it started (clock ticks after boot): with the pid, this names one
    /// process, where a pid alone is reused once its process exits.
    pub start: u64,
}

/// Parses the part of a `stat` line after the command name. The name is in
/// parentheses and may itself contain `)` and spaces, so the fields start after
/// the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let _pgrp = fields.next()?;
    let _session = fields.next()?;
    let tty_nr = fields.next()?.parse().ok()?;
    // tpgid, flags, minflt, cminflt, majflt, cmajflt, utime, stime, cutime,
    // cstime, priority, nice, num_threads, itrealvalue, then starttime.
    let start = fields.nth(14)?.parse().ok()?;
    Some(ProcStat {
        ppid,
        tty_nr,
        start,
    })
}

/// The `stat` of `pid`, or `None` if it is gone or unreadable.
pub fn stat(proc_root: &Path, pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    parse_stat(&text)
}

/// The nearest of `pid` and its ancestors that is one of `roots` (pid and
/// start time: a process, not a pid that may since have been reused), reading
/// no further up than needed (each step is a read of `/proc/<pid>/stat`).
/// `Ok(None)`: the top was reached without one. `Err(Unreadable)`: a step
/// could not be read (the process is gone, `/proc` hides it), so nobody can
/// say — callers must not take that for "outside every session".
pub fn nearest_root(
    proc_root: &Path,
    pid: u32,
    roots: &[(u32, u64)],
) -> Result<Option<(u32, u64)>, Unreadable> {
    let mut cur = pid;
    for _ in 0..256 {
        let s = stat(proc_root, cur).ok_or(Unreadable)?;
        if roots.contains(&(cur, s.start)) {
            return Ok(Some((cur, s.start)));
        }
        if s.ppid == 0 || s.ppid == cur {
            return Ok(None);
        }
        cur = s.ppid;
    }
    Err(Unreadable)
}

/// A process's ancestry could not be read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// The effective gid and supplementary groups of `pid` (`/proc/<pid>/status`).
pub fn groups(proc_root: &Path, pid: u32) -> Vec<u32> {
    let Ok(text) = std::fs::read_to_string(proc_root.join(pid.to_string()).join("status")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(gids) = line.strip_prefix("Gid:") {
            // real, effective, saved, filesystem: the effective one counts.
            out.extend(
                gids.split_whitespace()
                    .nth(1)
                    .and_then(|g| g.parse::<u32>().ok()),
            );
        } else if let Some(gs) = line.strip_prefix("Groups:") {
            out.extend(gs.split_whitespace().filter_map(|g| g.parse::<u32>().ok()));
        }
    }
    out
}

/// The agent a hook process belongs to: the nearest ancestor of `pid` that
/// is not a shell or a wrapper the agent ran the hook through (`sh -c …`,
/// `env`, `timeout`). Its process tree is the agent's session, so what the
/// agent runs is never taken for a person at the terminal.
pub fn hook_agent_root(proc_root: &Path, pid: u32) -> Option<u32> {
    const WRAPPERS: [&str; 9] = [
        "sh", "bash", "dash", "zsh", "env", "timeout", "nice", "nohup", "setsid",
    ];
    let mut cur = stat(proc_root, pid)?.ppid;
    for _ in 0..16 {
        if cur <= 1 {
            return None;
        }
        let comm = std::fs::read_to_string(proc_root.join(cur.to_string()).join("comm")).ok()?;
        if !WRAPPERS.contains(&comm.trim()) {
            return Some(cur);
        }
        cur = stat(proc_root, cur)?.ppid;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_belongs_to_the_agent_above_its_shells() {
        let root = tempfile::tempdir().unwrap();
        let proc = |pid: u32, comm: &str, ppid: u32| {
            let d = root.path().join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("stat"), fake_stat(pid, comm, ppid, 7)).unwrap();
            std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        };
        proc(40, "warden-hook", 30);
        proc(30, "sh", 20);
        proc(20, "claude", 10);
        proc(10, "bash", 1);
        assert_eq!(hook_agent_root(root.path(), 40), Some(20));
        // A hook whose parents are only shells belongs to no agent.
        proc(50, "warden-hook", 10);
        assert_eq!(hook_agent_root(root.path(), 50), None);
    }

    #[test]
    fn stat_lines_with_hostile_command_names_parse() {
        let line = "4242 (a) b) (c 1) S 17 4242 4242 34817 4242 4194560 0 0 0 0 5 3 0 0 20 0 1 0 98765 1 2";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                ppid: 17,
                tty_nr: 34817,
                start: 98765,
            })
        );
        let short = "4242 (a) S 17 4242 4242 34817 4242 4194560 ...";
        assert_eq!(parse_stat(short), None, "no start time, no identity");
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
    }

    /// A `/proc/PID/stat` line as the kernel writes it.
    fn fake_stat(pid: u32, comm: &str, ppid: u32, start: u64) -> String {
        format!("{pid} ({comm}) S {ppid} 1 1 34817 1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1 1")
    }

    #[test]
    fn a_root_is_a_process_not_a_reused_pid() {
        let root = tempfile::tempdir().unwrap();
        let proc = |pid: u32, ppid: u32, start: u64| {
            let d = root.path().join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("stat"), fake_stat(pid, "x", ppid, start)).unwrap();
        };
        proc(30, 20, 900);
        proc(20, 10, 500);
        proc(10, 1, 100);
        proc(1, 0, 1);
        let r = root.path();
        assert_eq!(nearest_root(r, 30, &[(20, 500)]), Ok(Some((20, 500))));
        assert_eq!(
            nearest_root(r, 30, &[(10, 100), (20, 500)]),
            Ok(Some((20, 500)))
        );
        assert_eq!(nearest_root(r, 30, &[(10, 100)]), Ok(Some((10, 100))));
        // Pid 20 is now a process that started later: not the root.
        assert_eq!(nearest_root(r, 30, &[(20, 499)]), Ok(None));
        assert_eq!(
            nearest_root(r, 31, &[(20, 500)]),
            Err(Unreadable),
            "no such process"
        );
        proc(40, 35, 950);
        assert_eq!(
            nearest_root(r, 40, &[(20, 500)]),
            Err(Unreadable),
            "an ancestor that cannot be read"
        );
    }

    #[test]
    fn our_own_process_is_found_by_pid_and_start() {
        let me = std::process::id();
        let s = stat(Path::new("/proc"), me).unwrap();
        assert!(s.start > 0);
        let parent = stat(Path::new("/proc"), s.ppid).unwrap();
        let roots = [(s.ppid, parent.start)];
        assert_eq!(
            nearest_root(Path::new("/proc"), me, &roots),
            Ok(Some(roots[0]))
        );
    }
}
