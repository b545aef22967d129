//! A mirror of the shell's line buffer, kept from the keys alone.

use crate::keys::Key;

/// What the shell's line editor holds, as far as the keys tell.
#[derive(Debug, Clone, Default)]
pub struct LineMirror {
    buf: Vec<char>,
    cursor: usize,
    /// A key whose effect only the shell knows has been pressed since the
    /// line began: the buffer here is not to be relied on.
    uncertain: bool,
    /// Any key at all since the line began.
    touched: bool,
}

impl LineMirror {
    /// An empty line.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text as the keys tell it.
    pub fn text(&self) -> String {
        self.buf.iter().collect()
    }

    /// True when the text cannot be known from the keys.
    pub fn uncertain(&self) -> bool {
        self.uncertain
    }

    /// True when no key has touched this line yet.
    pub fn fresh(&self) -> bool {
        !self.touched
    }

    /// Starts over with an empty line.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Applies an editing key (Enter and ^C are the guard's to handle).
    pub fn apply(&mut self, key: &Key) {
        self.touched = true;
        match key {
            Key::Text(c) => self.insert(std::iter::once(*c)),
            // readline turns a pasted carriage return into a line feed.
            Key::Paste(s) => self.insert(s.chars().map(|c| if c == '\r' { '\n' } else { c })),
            Key::Backspace => {
                if self.cursor > 0 {
                    self.cursor -= 1;
                    self.buf.remove(self.cursor);
                }
            }
            Key::Delete | Key::CtrlD => {
                if self.cursor < self.buf.len() {
                    self.buf.remove(self.cursor);
                }
            }
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(self.buf.len()),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = self.buf.len(),
            Key::KillToStart => {
                self.buf.drain(..self.cursor);
                self.cursor = 0;
            }
            Key::KillToEnd => self.buf.truncate(self.cursor),
            Key::RuboutWord => {
                // unix-word-rubout: blanks before the cursor, then the word.
                let mut start = self.cursor;
                while start > 0 && self.buf[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !self.buf[start - 1].is_whitespace() {
                    start -= 1;
                }
                self.buf.drain(start..self.cursor);
                self.cursor = start;
            }
            Key::Redraw => {}
            Key::Enter | Key::Interrupt | Key::Opaque(_) => self.uncertain = true,
        }
    }

    fn insert(&mut self, chars: impl Iterator<Item = char>) {
        for c in chars {
            self.buf.insert(self.cursor, c);
            self.cursor += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::read_all;

    fn mirror(bytes: &[u8]) -> LineMirror {
        let mut m = LineMirror::new();
        for k in read_all(bytes) {
            m.apply(&k);
        }
        m
    }

    #[test]
    fn editing_keys_change_the_line_as_readline_does() {
        let cases: &[(&[u8], &str)] = &[
            (b"lss\x7f -l", "ls -l"),
            (b"r\x1b[Dm -rf x", "m -rf xr"),
            (b"r\x1b[D\x1b[Cm -rf x", "rm -rf x"),
            (b"m -rf ~\x01r", "rm -rf ~"),
            (b"echo abc\x1b[D\x1b[D\x0b", "echo a"),
            (b"echo abc\x1b[D\x15", "c"),
            (b"rm -rf /tmp/x  \x17", "rm -rf "),
            (b"echo ab\x01\x1b[3~", "cho ab"),
            (b"echo \x1b[200~a\nb\x1b[201~", "echo a\nb"),
            (b"echo \x1b[200~a\rb\x1b[201~", "echo a\nb"),
            (b"\x1b[Hx\x1b[Fy", "xy"),
        ];
        for (bytes, want) in cases {
            let m = mirror(bytes);
            assert_eq!(m.text(), *want, "{bytes:?}");
            assert!(!m.uncertain(), "{bytes:?}");
        }
    }

    #[test]
    fn history_and_completion_make_the_line_uncertain() {
        for bytes in [&b"\x1b[A"[..], b"ech\t", b"\x12curl", b"ab\x14"] {
            assert!(mirror(bytes).uncertain(), "{bytes:?}");
        }
    }
}
