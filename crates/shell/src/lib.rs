//! The PTY guard of `warden shell`: it stands between a terminal and an
//! interactive shell and works out, from the keys typed, the command line
//! the shell will run when Enter is pressed, before the shell sees the
//! Enter. The runtime (the PTY, the daemon, the user's terminal) lives in
//! the binary; this crate is the pure part, tested without a terminal.
//!
//! Two sources of the line, and which one is trusted when:
//! - **the keys** ([`keys`], [`line`]): printable text, backspace, the
//!   cursor keys, kill and word-rubout, bracketed paste. What these do to
//!   readline's buffer is certain, so a line made only of them is known
//!   exactly and at once, with no wait for the shell's echo;
//! - **the screen** ([`screen`]): history recall, completion, incremental
//!   search and any key the model does not know change the buffer in ways
//!   only the shell knows. Such a line is marked *uncertain* and read back
//!   from the shell's own display (a terminal emulator fed with everything
//!   the shell prints), and then always decided before it is let through.
//!
//! A line whose text cannot be read at all is reported so and refused by
//! the caller: the guard never guesses that unknown text is harmless.
#![forbid(unsafe_code)]

pub mod continuation;
pub mod guard;
pub mod keys;
pub mod line;
pub mod screen;

pub use guard::{Guard, Outcome, Step, Submission};
pub use keys::{Key, KeyReader};
pub use line::LineMirror;
pub use screen::{Anchor, ScreenMirror};
