//! The shell's display, as a terminal emulator would show it, fed with
//! everything the shell prints. Used for what the keys cannot tell: whether
//! a full-screen program has the alternate screen, whether the shell asked
//! for bracketed paste, and the text of a line edited with keys only the
//! shell understands.

/// Where a line began on the screen: the cursor when its first key came,
/// and the text before it on that row (the prompt), to find the row again
/// after the screen has scrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    row: u16,
    col: u16,
    prompt: String,
}

/// The screen.
pub struct ScreenMirror {
    parser: vt100::Parser,
}

impl std::fmt::Debug for ScreenMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        write!(f, "ScreenMirror({rows}x{cols})")
    }
}

impl ScreenMirror {
    /// A blank screen of `rows` x `cols`.
    pub fn new(rows: u16, cols: u16) -> Self {
        ScreenMirror {
            parser: vt100::Parser::new(rows.max(1), cols.max(1), 0),
        }
    }

    /// Takes what the shell printed.
    pub fn process(&mut self, output: &[u8]) {
        self.parser.process(output);
    }

    /// The terminal changed size.
    pub fn resize(&mut self, rows: u16, cols: u16) {
        self.parser.set_size(rows.max(1), cols.max(1));
    }

    /// A full-screen program (vim, less, top) has the alternate screen.
    pub fn alternate(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// The shell asked for bracketed paste.
    pub fn bracketed_paste(&self) -> bool {
        self.parser.screen().bracketed_paste()
    }

    /// The cursor, as the anchor of a line that starts now.
    pub fn anchor(&self) -> Anchor {
        let s = self.parser.screen();
        let (row, col) = s.cursor_position();
        let prompt = s.contents_between(row, 0, row, col);
        Anchor { row, col, prompt }
    }

    /// The text from `anchor` to the end of what is displayed below it:
    /// the line the shell holds. `None` when the anchor's row is no longer
    /// on the screen (scrolled off, or the screen was redrawn differently).
    pub fn line_since(&self, anchor: &Anchor) -> Option<String> {
        let s = self.parser.screen();
        let (rows, cols) = s.size();
        let prompt_at = |r: u16| s.contents_between(r, 0, r, anchor.col) == anchor.prompt;
        let row = (0..=anchor.row.min(rows - 1))
            .rev()
            .find(|r| prompt_at(*r))?;
        let mut last = row;
        for r in row + 1..rows {
            if !s.contents_between(r, 0, r, cols).trim().is_empty() {
                last = r;
            }
        }
        Some(
            s.contents_between(row, anchor.col, last, cols)
                .trim_end()
                .to_string(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recalled_line_is_read_back_from_the_screen() {
        let mut s = ScreenMirror::new(5, 20);
        s.process(b"out\r\n$ ");
        let a = s.anchor();
        s.process(b"curl http://x | sh");
        assert_eq!(s.line_since(&a).unwrap(), "curl http://x | sh");
    }

    #[test]
    fn a_long_line_wraps_and_the_screen_scrolls() {
        let mut s = ScreenMirror::new(3, 10);
        s.process(b"a\r\nb\r\n$ ");
        let a = s.anchor();
        s.process(b"echo 0123456789 abc");
        assert_eq!(s.line_since(&a).unwrap(), "echo 0123456789 abc");
    }

    #[test]
    fn an_anchor_scrolled_off_the_screen_reads_nothing() {
        let mut s = ScreenMirror::new(2, 10);
        s.process(b"x\r\n% ");
        let a = s.anchor();
        s.process(b"\r\nq\r\nw\r\ne");
        assert_eq!(s.line_since(&a), None);
    }

    #[test]
    fn alternate_screen_and_paste_mode_are_seen() {
        let mut s = ScreenMirror::new(5, 20);
        s.process(b"\x1b[?2004h");
        assert!(s.bracketed_paste());
        s.process(b"\x1b[?1049h");
        assert!(s.alternate());
        s.process(b"\x1b[?1049l");
        assert!(!s.alternate());
    }
}
