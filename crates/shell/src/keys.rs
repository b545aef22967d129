//! The bytes a terminal sends for keys, turned back into keys.
//!
//! Incremental: a read may end in the middle of an escape sequence or a
//! UTF-8 character, so the reader keeps what it has not finished and
//! completes it with the next read. Bounded: an escape sequence longer than
//! [`MAX_SEQUENCE`] is given up on as an unknown key, and a paste never
//! holds more than [`MAX_PASTE`] bytes before it is reported.

/// The longest escape sequence collected before it is reported as unknown.
pub const MAX_SEQUENCE: usize = 64;

/// The most pasted text held in one [`Key::Paste`]; longer pastes arrive as
/// several.
pub const MAX_PASTE: usize = 64 * 1024;

/// One key, as the line editor of an interactive shell (readline's emacs
/// mode, which bash, and zsh's and dash's line editors, agree with for these)
/// understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Text(char),
    /// Text pasted between the bracketed-paste markers: inserted as it is,
    /// line ends included, without running anything.
    Paste(String),
    /// Carriage return or line feed: the shell accepts the line.
    Enter,
    /// Backspace (DEL or ^H): deletes the character before the cursor.
    Backspace,
    /// The Delete key: deletes the character under the cursor.
    Delete,
    /// ^D: deletes the character under the cursor; on an empty line, end of input.
    CtrlD,
    /// Left arrow or ^B.
    Left,
    /// Right arrow or ^F.
    Right,
    /// Home or ^A.
    Home,
    /// End or ^E.
    End,
    /// ^U: deletes from the start of the line to the cursor.
    KillToStart,
    /// ^K: deletes from the cursor to the end of the line.
    KillToEnd,
    /// ^W: deletes the blank-separated word before the cursor.
    RuboutWord,
    /// ^C: the line is thrown away.
    Interrupt,
    /// ^L: the screen is redrawn; the line is unchanged.
    Redraw,
    /// A key whose effect on the line only the shell knows: history (arrows,
    /// ^P, ^N), completion (Tab), search (^R), yank, transpose, meta keys and
    /// every escape sequence not listed above. Carries the bytes.
    Opaque(Vec<u8>),
}

#[derive(Debug, Clone, Default)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// Inside `ESC [` ... final byte.
    Csi(Vec<u8>),
    /// After `ESC O`: one more byte.
    Ss3,
    /// Inside a bracketed paste.
    Paste(Vec<u8>),
    /// Inside a multi-byte UTF-8 character.
    Utf8(Vec<u8>),
}

/// Turns terminal input bytes into [`Key`]s.
#[derive(Debug, Clone, Default)]
pub struct KeyReader {
    state: State,
    /// A broken UTF-8 character found by the byte just pushed, which also
    /// made a key of its own: [`KeyReader::feed`] reports both.
    broken: Option<Key>,
}

const PASTE_START: &[u8] = b"200~";
const PASTE_END: &[u8] = b"\x1b[201~";

impl KeyReader {
    /// A reader at the start of input.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the reader holds part of a key (an escape sequence, a
    /// paste or a character that has not ended yet).
    pub fn partial(&self) -> bool {
        !matches!(self.state, State::Ground)
    }

    /// Forgets any partial key.
    pub fn reset(&mut self) {
        self.state = State::Ground;
        self.broken = None;
    }

    /// Feeds one byte; the keys it completes (at most two), in order.
    pub fn feed(&mut self, b: u8, paste_mode: bool, out: &mut Vec<Key>) {
        let key = self.push(b, paste_mode);
        out.extend(self.broken.take());
        out.extend(key);
    }

    /// Feeds one byte; the key it completes, if any. `paste_mode` says
    /// whether the shell asked for bracketed paste: only then do the paste
    /// markers mean a paste (otherwise a typed `ESC [ 200 ~` followed by a
    /// line end would be run by a shell that never saw a paste).
    fn push(&mut self, b: u8, paste_mode: bool) -> Option<Key> {
        let state = std::mem::take(&mut self.state);
        // A control byte ends an unfinished escape sequence: the sequence
        // is opaque and the byte is a key of its own. Line editors differ
        // in what they make of such a sequence, and counting a line end in
        // it as part of it would let a line run unseen.
        if b < 0x20 && b != 0x1b {
            let unfinished = match &state {
                State::Escape => Some(vec![0x1b]),
                State::Ss3 => Some(vec![0x1b, b'O']),
                State::Csi(params) => Some([&[0x1b, b'['][..], params].concat()),
                _ => None,
            };
            if let Some(bytes) = unfinished {
                self.broken = Some(Key::Opaque(bytes));
                return self.ground(b);
            }
        }
        match state {
            State::Ground => self.ground(b),
            State::Escape => match b {
                b'[' => {
                    self.state = State::Csi(Vec::new());
                    None
                }
                b'O' => {
                    self.state = State::Ss3;
                    None
                }
                _ => Some(Key::Opaque(vec![0x1b, b])),
            },
            State::Ss3 => Some(match b {
                b'C' => Key::Right,
                b'D' => Key::Left,
                b'H' => Key::Home,
                b'F' => Key::End,
                _ => Key::Opaque(vec![0x1b, b'O', b]),
            }),
            State::Csi(mut params) => {
                if (0x40..=0x7e).contains(&b) {
                    if b == b'~' && params == PASTE_START[..3] && paste_mode {
                        self.state = State::Paste(Vec::new());
                        return None;
                    }
                    return Some(csi_key(&params, b));
                }
                params.push(b);
                if params.len() > MAX_SEQUENCE || !(0x20..=0x3f).contains(&b) {
                    let mut bytes = vec![0x1b, b'['];
                    bytes.extend(params);
                    return Some(Key::Opaque(bytes));
                }
                self.state = State::Csi(params);
                None
            }
            State::Paste(mut text) => {
                text.push(b);
                if text.ends_with(PASTE_END) {
                    text.truncate(text.len() - PASTE_END.len());
                    return Some(Key::Paste(String::from_utf8_lossy(&text).into_owned()));
                }
                if text.len() >= MAX_PASTE {
                    // Hand over what is safe to hand over: nothing that could
                    // be the start of the end marker.
                    let keep = marker_prefix_len(&text);
                    let rest = text.split_off(text.len() - keep);
                    self.state = State::Paste(rest);
                    return Some(Key::Paste(String::from_utf8_lossy(&text).into_owned()));
                }
                self.state = State::Paste(text);
                None
            }
            State::Utf8(mut bytes) => {
                if b & 0xc0 != 0x80 {
                    // A broken character: it is reported as opaque (which
                    // makes the line uncertain) and b is read afresh.
                    self.broken = Some(Key::Opaque(bytes));
                    return self.ground(b);
                }
                bytes.push(b);
                match std::str::from_utf8(&bytes) {
                    Ok(s) => s.chars().next().map(Key::Text),
                    Err(e) if e.error_len().is_none() && bytes.len() < 4 => {
                        self.state = State::Utf8(bytes);
                        None
                    }
                    Err(_) => Some(Key::Opaque(bytes)),
                }
            }
        }
    }

    fn ground(&mut self, b: u8) -> Option<Key> {
        Some(match b {
            b'\r' | b'\n' => Key::Enter,
            0x7f | 0x08 => Key::Backspace,
            0x01 => Key::Home,
            0x02 => Key::Left,
            0x03 => Key::Interrupt,
            0x04 => Key::CtrlD,
            0x05 => Key::End,
            0x06 => Key::Right,
            0x0b => Key::KillToEnd,
            0x0c => Key::Redraw,
            0x15 => Key::KillToStart,
            0x17 => Key::RuboutWord,
            0x1b => {
                self.state = State::Escape;
                return None;
            }
            0x20..=0x7e => Key::Text(b as char),
            0x80..=0xff => {
                if b & 0xe0 == 0xc0 || b & 0xf0 == 0xe0 || b & 0xf8 == 0xf0 {
                    self.state = State::Utf8(vec![b]);
                    return None;
                }
                Key::Opaque(vec![b])
            }
            // Tab, ^P, ^N, ^R, ^T, ^Y, ^Z ... : the shell's business.
            _ => Key::Opaque(vec![b]),
        })
    }
}

/// How many bytes at the end of `text` could begin the paste end marker.
fn marker_prefix_len(text: &[u8]) -> usize {
    (1..PASTE_END.len())
        .rev()
        .find(|n| text.ends_with(&PASTE_END[..*n]))
        .unwrap_or(0)
}

fn csi_key(params: &[u8], fin: u8) -> Key {
    match (params, fin) {
        (b"", b'C') => Key::Right,
        (b"", b'D') => Key::Left,
        (b"", b'H') | (b"1", b'~') | (b"7", b'~') => Key::Home,
        (b"", b'F') | (b"4", b'~') | (b"8", b'~') => Key::End,
        (b"3", b'~') => Key::Delete,
        _ => {
            let mut bytes = vec![0x1b, b'['];
            bytes.extend_from_slice(params);
            bytes.push(fin);
            Key::Opaque(bytes)
        }
    }
}

/// Every key in `bytes`, for tests and tools (paste mode on).
pub fn read_all(bytes: &[u8]) -> Vec<Key> {
    read_with(&mut KeyReader::new(), bytes, true)
}

/// Every key `bytes` complete on `reader`.
pub fn read_with(reader: &mut KeyReader, bytes: &[u8], paste_mode: bool) -> Vec<Key> {
    let mut out = Vec::new();
    for b in bytes {
        reader.feed(*b, paste_mode, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_of_a_typed_line() {
        let keys = read_all(b"ls\x7f\x1b[D\x1b[3~\x01\x05\x15\x17\r");
        assert_eq!(
            keys,
            vec![
                Key::Text('l'),
                Key::Text('s'),
                Key::Backspace,
                Key::Left,
                Key::Delete,
                Key::Home,
                Key::End,
                Key::KillToStart,
                Key::RuboutWord,
                Key::Enter,
            ]
        );
    }

    #[test]
    fn history_completion_and_unknown_sequences_are_opaque() {
        let keys = read_all(b"\x1b[A\t\x12\x1bb\x1b[1;5C");
        assert!(keys.iter().all(|k| matches!(k, Key::Opaque(_))), "{keys:?}");
        assert_eq!(keys.len(), 5);
    }

    #[test]
    fn a_paste_keeps_its_line_ends_only_when_the_shell_asked_for_pastes() {
        let bytes = b"\x1b[200~echo a\recho b\x1b[201~";
        assert_eq!(read_all(bytes), vec![Key::Paste("echo a\recho b".into())]);
        let keys = read_with(&mut KeyReader::new(), bytes, false);
        assert!(keys.contains(&Key::Enter), "{keys:?}");
    }

    #[test]
    fn utf8_split_across_reads() {
        let mut r = KeyReader::new();
        let s = "é".as_bytes();
        assert_eq!(read_with(&mut r, &s[..1], true), vec![]);
        assert!(r.partial());
        assert_eq!(read_with(&mut r, &s[1..], true), vec![Key::Text('é')]);
    }

    #[test]
    fn a_broken_character_does_not_swallow_the_enter_after_it() {
        assert_eq!(
            read_all(b"\xc3\r"),
            vec![Key::Opaque(vec![0xc3]), Key::Enter]
        );
    }

    #[test]
    fn a_huge_paste_arrives_in_bounded_pieces() {
        let mut bytes = b"\x1b[200~".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', MAX_PASTE * 2 + 10));
        bytes.extend_from_slice(PASTE_END);
        let keys = read_all(&bytes);
        let total: usize = keys
            .iter()
            .map(|k| match k {
                Key::Paste(s) => s.len(),
                _ => panic!("{k:?}"),
            })
            .sum();
        assert_eq!(total, MAX_PASTE * 2 + 10);
    }

    #[test]
    fn a_line_end_inside_an_unfinished_sequence_is_still_an_enter() {
        for bytes in [&b"\x1b\r"[..], b"\x1b[1\r", b"\x1bO\n"] {
            let keys = read_all(bytes);
            assert_eq!(keys.last(), Some(&Key::Enter), "{bytes:?}: {keys:?}");
        }
    }

    proptest! {
        /// Every line end outside a paste is an Enter: the guard must never
        /// miss the moment the shell runs a line.
        #[test]
        fn every_line_end_outside_a_paste_is_an_enter(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let keys = read_with(&mut KeyReader::new(), &bytes, false);
            let ends = bytes.iter().filter(|b| **b == b'\r' || **b == b'\n').count();
            let enters = keys.iter().filter(|k| **k == Key::Enter).count();
            prop_assert_eq!(ends, enters);
        }

        /// Whatever arrives, and however it is split: no panic, bounded
        /// state, and the same keys as in one piece.
        #[test]
        fn splitting_never_changes_the_keys(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
            let whole = read_all(&bytes);
            let cut = cut.min(bytes.len());
            let mut r = KeyReader::new();
            let mut keys = read_with(&mut r, &bytes[..cut], true);
            keys.extend(read_with(&mut r, &bytes[cut..], true));
            prop_assert_eq!(whole, keys);
        }
    }
}
