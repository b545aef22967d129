//! Path normalisation and workspace containment.
//!
//! Every file rule (`Read(~/.ssh/**)`, `Write(./src/**)`) and the workspace boundary
//! itself are judged on a path. An agent controls the spelling of that path, so a
//! policy that compared the spelling it was handed could be walked around with
//! `~`, `$HOME`, `..`, a relative path, `//`, a symlink planted in the workspace, or a
//! `/proc/self/root` magic link. This module turns a spelling into the one place the
//! kernel would open, and answers "is this inside that" component-wise:
//!
//! - [`expand`]: lexical only (no I/O) — `~`, `$HOME`, the agent's cwd, `.`/`..`, `//`.
//! - [`resolve()`]: [`expand`]'s prefix handling, then symlinks and `/proc` magic links
//!   resolved against the real filesystem, one component at a time, the way the
//!   kernel walks a path (so `link/..` is the link target's parent, not the link's).
//! - [`is_within`]: component-wise containment (`/work/abc` is not within `/work/ab`).
//! - [`jail_escapes`]: for untrusted path strings from a web request or tool argument
//!   that some other program will decode and open: true if any plausible decoding
//!   (percent-encoding 1-3x, `%u`, overlong UTF-8, Unicode look-alikes, backslashes,
//!   NUL truncation, Windows drive letters ...) leaves the jail.
//!
//! Every failure is an error the engine turns into Deny: a path we cannot place is
//! never assumed to be harmless. Resolution reads the filesystem of the daemon's mount
//! namespace at decision time; the agent can still race a rename against the open
//! that follows (TOCTOU), which is why the sandbox enforces the same boundary in the
//! kernel with Landlock.

mod decode;
mod jail;
mod lexical;
mod resolve;

use std::path::PathBuf;

pub use jail::jail_escapes;
pub use lexical::{clean, expand, is_within};
pub use resolve::{canonical_cwd, resolve, resolve_in_process};

/// Most symbolic links followed while resolving one path; more is a loop. The same
/// bound as Linux's `MAXSYMLINKS` (ELOOP after 40).
pub const MAX_SYMLINKS: u32 = 40;

/// Longest path string accepted, in bytes: Linux's `PATH_MAX`. The kernel refuses
/// longer paths (ENAMETOOLONG), so nothing legitimate is lost, and the bound caps the
/// work an agent can make us do.
pub const MAX_PATH_BYTES: usize = 4096;

/// Where an agent's relative and home-relative paths point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathContext {
    /// The agent's home directory (`~`, `$HOME`). Must be absolute.
    pub home: PathBuf,
    /// The agent's working directory; `None` when unknown, and then every relative
    /// path is an error. Must be absolute.
    pub cwd: Option<PathBuf>,
    /// Whether [`resolve()`] follows symlinks on the real filesystem; when false it is
    /// [`expand`].
    pub resolve_symlinks: bool,
    /// `cwd` is already resolved: it exists, holds no symlink and lies outside
    /// `/proc` ([`canonical_cwd`] said so in this same evaluation). Walks of
    /// relative paths then start there instead of at `/`, saving a `readlink`
    /// per component of the working directory.
    pub cwd_canonical: bool,
}

/// Why a path could not be placed. Each variant carries the agent's input; the
/// engine answers Deny for every one of them.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The empty string names no file (`open("")` is ENOENT).
    #[error("empty path {input:?}")]
    Empty { input: String },
    /// A NUL byte: C APIs stop reading at it, so the string names a different file
    /// depending on who reads it (CVE-2006-7243, PHP's NUL-truncated include paths).
    #[error("path {input:?} contains a NUL byte")]
    Nul { input: String },
    /// Longer than [`MAX_PATH_BYTES`].
    #[error("path {input:?} is longer than {MAX_PATH_BYTES} bytes")]
    TooLong { input: String },
    /// A relative path, and the agent's working directory is unknown.
    #[error("relative path {input:?} but the agent's working directory is unknown")]
    UnknownCwd { input: String },
    /// The working directory in the context is itself relative.
    #[error("working directory {cwd:?} for path {input:?} is not absolute")]
    RelativeCwd { input: String, cwd: PathBuf },
    /// The home directory in the context is itself relative.
    #[error("home directory {home:?} for path {input:?} is not absolute")]
    RelativeHome { input: String, home: PathBuf },
    /// `~user`, `~+`, `~-`: another user's home or the shell's directory stack, which
    /// warden cannot know.
    #[error("path {input:?} starts with a tilde form other than `~` or `~/`")]
    OtherTilde { input: String },
    /// A leading shell variable other than `$HOME` (`$PWD/..`, `${X}`): its value is
    /// the agent's to choose.
    #[error("path {input:?} starts with shell variable {name:?}, whose value is unknown")]
    UnknownVariable { input: String, name: String },
    /// More than [`MAX_SYMLINKS`] links: a loop, or a chain built to exhaust us.
    #[error("path {input:?}: more than {MAX_SYMLINKS} symbolic links (loop?)")]
    SymlinkLoop { input: String },
    /// `/proc/self/cwd`, `/proc/self/fd/N`, `/dev/fd/N`, `/dev/stdin` name the agent
    /// process's state, which this call cannot see (`what` says which); the daemon's
    /// own `/proc/self` would be the wrong process.
    #[error("path {input:?} refers to the agent process's {what}, which is unknown")]
    ProcessRelative { input: String, what: &'static str },
    /// A file-descriptor or cwd link whose target is not a path (`pipe:[123]`,
    /// `socket:[456]`, `anon_inode:...`).
    #[error("path {input:?}: {link:?} points to {target:?}, which is not a path")]
    NotAPath {
        input: String,
        link: PathBuf,
        target: PathBuf,
    },
    /// A component could not be inspected (permission denied, I/O error): we cannot
    /// tell whether it is a symlink, so we cannot tell where the path goes.
    #[error("path {input:?}: cannot inspect {at:?}: {source}")]
    Io {
        input: String,
        at: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PathError {
    /// The agent's path string this error is about.
    pub fn input(&self) -> &str {
        match self {
            PathError::Empty { input }
            | PathError::Nul { input }
            | PathError::TooLong { input }
            | PathError::UnknownCwd { input }
            | PathError::RelativeCwd { input, .. }
            | PathError::RelativeHome { input, .. }
            | PathError::OtherTilde { input }
            | PathError::UnknownVariable { input, .. }
            | PathError::SymlinkLoop { input }
            | PathError::ProcessRelative { input, .. }
            | PathError::NotAPath { input, .. }
            | PathError::Io { input, .. } => input,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_input_and_say_what_went_wrong() {
        let e = expand(
            "~bob/x",
            &PathContext {
                home: "/home/dev".into(),
                cwd: None,
                resolve_symlinks: false,
                cwd_canonical: false,
            },
        )
        .unwrap_err();
        assert_eq!(e.input(), "~bob/x");
        assert!(e.to_string().contains("~bob/x"), "{e}");
    }
}
