//! The guard: user input in, what to send the shell and which lines to
//! decide out. The caller owns the terminal, the PTY and the daemon; the
//! guard only says what each byte means.

use std::collections::VecDeque;

use crate::continuation::needs_more;
use crate::keys::{Key, KeyReader};
use crate::line::LineMirror;

/// What the caller knows of the terminal when input arrives.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// The shell itself has the terminal (it is reading a command line), not
    /// a job it started. Input for a job passes through untouched.
    pub at_prompt: bool,
    /// The shell turned bracketed paste on.
    pub paste_mode: bool,
    /// The terminal is in canonical mode: the kernel edits the line (a
    /// shell without a line editor, such as dash). Only the kernel's
    /// erase, kill and word-erase keys edit; every other byte, escape
    /// sequences included, is text.
    pub canonical: bool,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes to the shell.
    Forward(Vec<u8>),
    /// A new line begins here (the caller notes where the shell's cursor
    /// is, to read the line back from the screen if it has to).
    LineStarted,
    /// Enter was pressed: decide [`Submission`], then call
    /// [`Guard::resolve`]. Nothing more is forwarded until then.
    Submit(Submission),
}

/// A line the shell is about to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Earlier lines of the same command (continuation lines), each ended
    /// by a line feed.
    pub earlier: String,
    /// This line as the keys tell it.
    pub line: String,
    /// False when the keys do not tell the line (see [`LineMirror`]): the
    /// caller must read it from the screen and decide it before it runs.
    pub certain: bool,
    /// The Enter byte, to forward when the line is let through.
    pub enter: u8,
}

impl Submission {
    /// The whole command, with `line` as this line's text.
    pub fn command(&self, line: &str) -> String {
        format!("{}{line}", self.earlier)
    }
}

/// How a submitted line ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The Enter was forwarded; `line` is the text the decision was about.
    Passed {
        /// This line's text.
        line: String,
    },
    /// The line was thrown away (the caller sent the shell ^C).
    Blocked,
}

/// The guard of one shell.
#[derive(Debug, Default)]
pub struct Guard {
    keys: KeyReader,
    line: LineMirror,
    earlier: String,
    started: bool,
    queue: VecDeque<u8>,
    waiting: bool,
}

impl Guard {
    /// A guard at the shell's first prompt.
    pub fn new() -> Self {
        Self::default()
    }

    /// True while a submitted line waits for [`Guard::resolve`].
    pub fn waiting(&self) -> bool {
        self.waiting
    }

    /// Input held back while a line waits.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Takes `input` from the user's terminal. While a line waits for its
    /// decision, input is held and handled after [`Guard::resolve`] (call
    /// `feed(&[], ..)` then).
    pub fn feed(&mut self, input: &[u8], ctx: Context) -> Vec<Step> {
        self.queue.extend(input);
        let mut steps = Vec::new();
        if self.waiting {
            return steps;
        }
        if !ctx.at_prompt {
            // A job has the terminal; what it is typed is its input. The
            // shell's line starts afresh when the shell is back.
            self.restart();
            self.earlier.clear();
            if !self.queue.is_empty() {
                steps.push(Step::Forward(self.queue.drain(..).collect()));
            }
            return steps;
        }
        let mut out = Vec::new();
        let mut keys = Vec::new();
        while let Some(b) = self.queue.pop_front() {
            if !self.started {
                self.started = true;
                flush(&mut out, &mut steps);
                steps.push(Step::LineStarted);
            }
            keys.clear();
            if ctx.canonical {
                keys.push(canonical_key(b));
            } else {
                self.keys.feed(b, ctx.paste_mode, &mut keys);
            }
            let mut submitted = false;
            for key in keys.drain(..) {
                match key {
                    Key::Enter => {
                        flush(&mut out, &mut steps);
                        steps.push(Step::Submit(Submission {
                            earlier: self.earlier.clone(),
                            line: self.line.text(),
                            certain: !self.line.uncertain(),
                            enter: b,
                        }));
                        self.waiting = true;
                        submitted = true;
                    }
                    Key::Interrupt => {
                        self.earlier.clear();
                        self.line.clear();
                    }
                    k => self.line.apply(&k),
                }
            }
            if submitted {
                return steps;
            }
            out.push(b);
            if self.line.fresh() && self.earlier.is_empty() && !self.keys.partial() {
                // ^C: the next byte starts a new line (and a new anchor).
                self.started = false;
            }
        }
        flush(&mut out, &mut steps);
        steps
    }

    /// Ends the wait for the submitted line. A blocked line also throws away
    /// what was typed after it (it was typed expecting the line to have
    /// run); the number of bytes thrown away is returned.
    pub fn resolve(&mut self, outcome: Outcome) -> usize {
        self.waiting = false;
        match outcome {
            Outcome::Passed { line } => {
                let text = format!("{}{line}", self.earlier);
                self.earlier = if needs_more(&text) {
                    text + "\n"
                } else {
                    String::new()
                };
                self.restart();
                0
            }
            Outcome::Blocked => {
                self.earlier.clear();
                self.restart();
                let n = self.queue.len();
                self.queue.clear();
                n
            }
        }
    }

    fn restart(&mut self) {
        self.line.clear();
        self.keys.reset();
        self.started = false;
    }
}

fn flush(out: &mut Vec<u8>, steps: &mut Vec<Step>) {
    if !out.is_empty() {
        steps.push(Step::Forward(std::mem::take(out)));
    }
}

/// A byte as the kernel's canonical line editing reads it (the default
/// erase, kill and word-erase characters; ICRNL makes CR a line end).
fn canonical_key(b: u8) -> Key {
    match b {
        b'\r' | b'\n' => Key::Enter,
        0x7f | 0x08 => Key::Backspace,
        0x15 => Key::KillToStart,
        0x17 => Key::RuboutWord,
        0x03 => Key::Interrupt,
        0x04 => Key::Opaque(vec![b]),
        0x00..=0x7f => Key::Text(b as char),
        // Bytes of a multi-byte character one at a time are not text the
        // mirror can hold exactly.
        _ => Key::Opaque(vec![b]),
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
