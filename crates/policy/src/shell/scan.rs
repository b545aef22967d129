//! Text-level scans that need no parse tree: the exact fast path for plain
//! command lines, and characters that make a terminal show something other than
//! what runs.

use super::command::Script;

/// Split a command line that uses no character bash treats specially. Returns None
/// when the full parser is needed. Exactness argument: without quotes, `\`, `$`,
/// `` ` ``, operators, `#`, `!`, `=`-before-name or newlines, bash performs no expansion
/// except globbing and tilde (which we keep literal and expand ourselves), so the
/// words are exactly the blank-separated fields.
pub fn fast_split(src: &str) -> Option<Vec<&str>> {
    if src.len() > 512 {
        return None;
    }
    let ok = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\t'
                    | b'-'
                    | b'_'
                    | b'.'
                    | b'/'
                    | b':'
                    | b'@'
                    | b'+'
                    | b','
                    | b'%'
                    | b'^'
                    | b'~'
                    | b'*'
            )
    };
    if !src.bytes().all(ok) {
        return None;
    }
    let words: Vec<&str> = src.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    // `~user` expands to another user's home: leave it to the full path.
    if words
        .iter()
        .any(|w| w.starts_with('~') && !(w.len() == 1 || w.starts_with("~/")))
    {
        return None;
    }
    Some(words)
}

pub(crate) fn scan_hidden(command: &str, script: &mut Script) {
    for (i, c) in command.char_indices() {
        let what = match c {
            '\t' | '\n' | '\r' => continue,
            '\x1b' => "an escape sequence (ESC)",
            c if c.is_control() => "a control character",
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' => {
                "a bidirectional override"
            }
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {
                "an invisible character"
            }
            _ => continue,
        };
        script
            .hidden_characters
            .push(format!("{what} U+{:04X} at byte {i}", c as u32));
        if script.hidden_characters.len() >= 8 {
            break;
        }
    }
}
