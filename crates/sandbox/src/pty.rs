//! The pseudo-terminal of `warden shell`: a shell started on a new PTY as
//! the leader of its own session, the user's terminal put in raw mode for
//! as long as warden stands between it and the shell, and the few terminal
//! queries the guard needs (window size, foreground process group, line
//! discipline mode). The guard itself is `warden-shell`; this is only the
//! kernel side.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WinSize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl WinSize {
    fn to_c(self) -> libc::winsize {
        libc::winsize {
            ws_row: self.rows,
            ws_col: self.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }
    }
}

/// A program running on a PTY of its own.
#[derive(Debug)]
pub struct Pty {
    master: OwnedFd,
    // Kept open so the master never reads EIO before the child has the
    // slave open (and after the child's last handle closes, until dropped).
    _slave: OwnedFd,
    child: Child,
}

/// The size of the terminal on `fd`, if it is one.
pub fn window_size(fd: BorrowedFd<'_>) -> Option<WinSize> {
    let mut ws = WinSize { rows: 0, cols: 0 }.to_c();
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points at a live, properly aligned `winsize` on this stack frame.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some(WinSize {
        rows: ws.ws_row,
        cols: ws.ws_col,
    })
}

impl Pty {
    /// Starts `command` on a new PTY of `size`: its stdin, stdout and stderr
    /// are the PTY, it leads a new session, and the PTY is its controlling
    /// terminal (so job control and ^C work as in any terminal).
    pub fn spawn(mut command: Command, size: WinSize) -> io::Result<Pty> {
        let (mut master, mut slave) = (-1, -1);
        let ws = size.to_c();
        // SAFETY: openpty writes two descriptors through the first two
        // pointers (live locals); the name pointer may be null; termios is
        // null (the default modes) and the winsize pointer is a live local.
        let r = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: openpty succeeded, so both are open descriptors that
        // nothing else owns.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        set_cloexec(master.as_raw_fd())?;
        set_cloexec(slave.as_raw_fd())?;
        command
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave.try_clone()?));
        // SAFETY: the closure runs in the forked child before exec and makes
        // only async-signal-safe calls (setsid, ioctl); stdin is already the
        // PTY's slave when it runs.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Pty {
            master,
            _slave: slave,
            child,
        })
    }

    /// A second handle on the master (one thread reads, another writes).
    pub fn master_clone(&self) -> io::Result<std::fs::File> {
        Ok(std::fs::File::from(self.master.try_clone()?))
    }

    /// The program's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Tells the program its terminal changed size (it gets SIGWINCH).
    pub fn resize(&self, size: WinSize) -> io::Result<()> {
        let ws = size.to_c();
        // SAFETY: TIOCSWINSZ reads one `winsize` through a pointer to a live local.
        let r = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The process group that has the terminal now: the shell's own while
    /// it reads a command line, a job's while the job runs.
    pub fn foreground(&self) -> Option<u32> {
        // Asked of the master: the kernel answers it for the slave side,
        // which is not warden's controlling terminal.
        // SAFETY: tcgetpgrp takes a descriptor and returns a number.
        let g = unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) };
        u32::try_from(g).ok().filter(|g| *g > 0)
    }

    /// True when the terminal is in canonical mode (the kernel edits the
    /// line; a shell with a line editor of its own turns this off while it
    /// reads a command line). Unknown counts as canonical: its editing is
    /// the simpler one, and treats every other byte as text.
    pub fn canonical(&self) -> bool {
        // SAFETY: termios is plain data; all-zero is valid and overwritten.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios through a pointer to a live local.
        let r = unsafe { libc::tcgetattr(self.master.as_raw_fd(), &mut t) };
        r != 0 || t.c_lflag & libc::ICANON != 0
    }

    /// Waits for the program; its exit code (128 + signal when killed).
    pub fn wait(&mut self) -> io::Result<i32> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.wait()?;
        Ok(status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
    }

    /// Ends the program's whole session (SIGHUP, as a closed terminal would).
    pub fn hang_up(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill takes numbers; a negative pid names the process group
        // the shell leads (it is a session leader, so its pgid is its pid).
        unsafe {
            libc::kill(-pid, libc::SIGHUP);
            libc::kill(pid, libc::SIGHUP);
        }
    }
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_SETFD takes a descriptor and an int flag.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The user's terminal in raw mode: every key reaches warden as typed, and
/// the shell's own line editing does the echo. Restored when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts the terminal on `fd` in raw mode.
    pub fn enter(fd: BorrowedFd<'_>) -> io::Result<RawMode> {
        let fd = fd.as_raw_fd();
        // SAFETY: termios is plain data; all-zero is a valid value that
        // tcgetattr overwrites.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr writes one termios through a pointer to a live local.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: cfmakeraw edits the termios it is given, a live local.
        unsafe { libc::cfmakeraw(&mut raw) };
        // SAFETY: tcsetattr reads one termios through a pointer to a live local.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: tcsetattr reads the termios saved at entry, owned by self.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_program_on_the_pty_sees_a_terminal_of_the_given_size() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "stty size; test -t 0 && echo tty"]);
        let mut pty = Pty::spawn(cmd, WinSize { rows: 31, cols: 97 }).unwrap();
        let mut out = pty.master_clone().unwrap();
        let mut text = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&text).contains("tty") {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains("31 97"), "{text}");
        assert!(text.contains("tty"), "{text}");
        assert!(pty.canonical(), "a fresh terminal is canonical");
        assert_eq!(pty.wait().unwrap(), 0);
    }

    #[test]
    fn the_session_leader_holds_the_foreground() {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "sleep 2"]);
        let mut pty = Pty::spawn(cmd, WinSize { rows: 24, cols: 80 }).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(pty.foreground(), Some(pty.pid()));
        pty.hang_up();
        let code = pty.wait().unwrap();
        assert_ne!(code, 0);
    }
}
