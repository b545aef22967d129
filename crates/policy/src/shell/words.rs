//! Shell words: what a word's text becomes after bash removes quotes and escapes.
//!
//! Obfuscation lives here: `r''m`, `\r\m`, `"r"m` and `$'\x72\x6d'` all run `rm`, so
//! rules and the classifier match on [`Word::value`], while [`Word::raw`] keeps the
//! source text so the classifier can notice that someone bothered to disguise a
//! command name.

use tree_sitter::Node;

/// Placeholder standing in for text only known when the command runs (`$X`,
/// `$(...)`). Chosen so it can never match a path or a program name.
pub const DYNAMIC: &str = "\u{FFFD}";

/// One shell word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// The text bash would pass to the program, with [`DYNAMIC`] for expansions
    /// (except `$HOME`, which becomes `~`, and `$IFS`, which becomes a space).
    pub value: String,
    /// The source text of the word.
    pub raw: String,
    /// Contains an expansion or substitution, so `value` is only partly known.
    pub dynamic: bool,
    /// Uses quotes, backslashes or `$'...'` anywhere.
    pub quoted: bool,
    /// Uses `$'...'` with escapes that encode printable characters (`\x72`).
    pub encoded: bool,
    /// Uses `$IFS` (an old trick to write spaces without spaces).
    pub ifs: bool,
}

impl Word {
    /// A plain unquoted word.
    pub fn literal(text: &str) -> Self {
        Word {
            value: text.to_string(),
            raw: text.to_string(),
            ..Word::default()
        }
    }

    /// The value with `~` and `~/` expanded against `home`.
    pub fn path_value(&self, home: &str) -> String {
        if self.value == "~" {
            home.to_string()
        } else if let Some(rest) = self.value.strip_prefix("~/") {
            format!("{}/{rest}", home.trim_end_matches('/'))
        } else {
            self.value.clone()
        }
    }
}

/// Evaluate a word-like node (word, string, raw_string, concatenation, expansion ...).
/// Command and process substitutions inside are not evaluated here; the parser walks
/// them as commands of their own.
pub(crate) fn eval(node: Node<'_>, src: &[u8]) -> Word {
    let mut w = Word {
        raw: text(node, src).to_string(),
        ..Word::default()
    };
    eval_into(node, src, &mut w);
    w
}

fn eval_into(node: Node<'_>, src: &[u8], w: &mut Word) {
    match node.kind() {
        "word" | "number" | "command_name" | "file_descriptor" | "heredoc_start"
            if node.named_child_count() == 0 =>
        {
            unescape_unquoted(text(node, src), w)
        }
        "raw_string" => {
            w.quoted = true;
            let t = text(node, src);
            w.value.push_str(
                t.strip_prefix('\'')
                    .and_then(|t| t.strip_suffix('\''))
                    .unwrap_or(t),
            );
        }
        "ansi_c_string" => {
            w.quoted = true;
            let t = text(node, src);
            let body = t
                .strip_prefix("$'")
                .and_then(|t| t.strip_suffix('\''))
                .unwrap_or(t);
            decode_ansi_c(body, w);
        }
        "string" | "translated_string" => {
            w.quoted = true;
            eval_gaps(node, src, w, |t, w| {
                unescape_double_quoted(trim_quotes(t), w)
            });
        }
        "simple_expansion" | "expansion" => {
            let name = expansion_name(node, src);
            match name.as_deref() {
                Some("HOME") => w.value.push('~'),
                Some("IFS") => {
                    w.ifs = true;
                    w.value.push(' ');
                }
                _ => {
                    w.dynamic = true;
                    w.value.push_str(DYNAMIC);
                }
            }
        }
        "command_substitution" | "process_substitution" | "arithmetic_expansion" => {
            w.dynamic = true;
            w.value.push_str(DYNAMIC);
        }
        _ if node.named_child_count() == 0 => unescape_unquoted(text(node, src), w),
        // concatenation, command_name wrapping a word, brace_expression ...
        _ => eval_gaps(node, src, w, unescape_unquoted),
    }
}

/// Walk named children in order, treating the source text between them with `gap`.
/// tree-sitter-bash leaves literal text between expansions un-noded in some
/// constructs, so gaps carry meaning.
fn eval_gaps(node: Node<'_>, src: &[u8], w: &mut Word, gap: fn(&str, &mut Word)) {
    let mut pos = node.start_byte();
    let mut cursor = node.walk();
    let kind = node.kind();
    let quoted_container = kind == "string" || kind == "translated_string";
    for child in node.named_children(&mut cursor) {
        if child.start_byte() > pos {
            let between = slice(src, pos, child.start_byte());
            gap_text(between, quoted_container, pos == node.start_byte(), w, gap);
        }
        if child.kind() == "string_content" {
            unescape_double_quoted(text(child, src), w);
        } else {
            eval_into(child, src, w);
        }
        pos = child.end_byte();
    }
    if node.end_byte() > pos {
        let rest = slice(src, pos, node.end_byte());
        gap_text(rest, quoted_container, pos == node.start_byte(), w, gap);
    }
}

fn gap_text(t: &str, in_string: bool, at_start: bool, w: &mut Word, gap: fn(&str, &mut Word)) {
    if in_string {
        // Strip the quote characters that delimit the string itself.
        let t = if at_start {
            t.trim_start_matches('$').trim_start_matches('"')
        } else {
            t
        };
        let t = t.strip_suffix('"').unwrap_or(t);
        unescape_double_quoted(t, w);
    } else {
        gap(t, w);
    }
}

fn trim_quotes(t: &str) -> &str {
    let t = t.strip_prefix('$').unwrap_or(t);
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
}

fn expansion_name(node: Node<'_>, src: &[u8]) -> Option<String> {
    let t = text(node, src);
    let inner = t
        .strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .or_else(|| t.strip_prefix('$'))?;
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_len);
    // `${HOME:-x}`, `${HOME-x}`, `${HOME:=x}`, `${HOME:?}` are $HOME whenever HOME
    // is set; other operators transform the value, so it is unknown.
    let keeps_value = op.is_empty()
        || [":-", "-", ":=", "=", ":?", "?"]
            .iter()
            .any(|o| op.starts_with(o));
    (!name.is_empty() && keeps_value).then(|| name.to_string())
}

/// Backslash removal outside quotes: `\x` is `x`, backslash-newline disappears.
pub(crate) fn unescape_unquoted(t: &str, w: &mut Word) {
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            w.quoted = true;
            match chars.next() {
                Some('\n') | None => {}
                Some(n) => w.value.push(n),
            }
        } else {
            w.value.push(c);
        }
    }
}

/// Inside double quotes a backslash escapes only `$`, `` ` ``, `"`, `\` and newline.
fn unescape_double_quoted(t: &str, w: &mut Word) {
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(n) = chars.next() {
                        w.value.push(n);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => w.value.push('\\'),
            }
        } else {
            w.value.push(c);
        }
    }
}

/// Decode the body of `$'...'` as bash does.
fn decode_ansi_c(body: &str, w: &mut Word) {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            w.value.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            w.value.push(s);
            continue;
        }
        let (radix, max) = match e {
            'x' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='7' => (8, 3),
            'c' => {
                if let Some(n) = chars.next() {
                    w.value.push(char::from((n as u32 & 0x1f) as u8));
                }
                continue;
            }
            other => {
                w.value.push('\\');
                w.value.push(other);
                continue;
            }
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        while digits.len() < max {
            match chars.peek() {
                Some(d) if d.is_digit(radix) => {
                    digits.push(*d);
                    chars.next();
                }
                _ => break,
            }
        }
        let decoded = u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32);
        match decoded {
            Some(ch) => {
                if ch.is_ascii_graphic() {
                    w.encoded = true;
                }
                w.value.push(ch);
            }
            None => {
                w.value.push('\\');
                w.value.push(e);
                w.value.push_str(&digits);
            }
        }
    }
}

pub(crate) fn text<'a>(node: Node<'_>, src: &'a [u8]) -> &'a str {
    slice(src, node.start_byte(), node.end_byte())
}

fn slice(src: &[u8], start: usize, end: usize) -> &str {
    // The parser was given a &str, so node boundaries fall on char boundaries; a
    // boundary that does not yields "" rather than a panic.
    src.get(start..end)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_c_decodes_and_marks_encoding() {
        let mut w = Word::default();
        decode_ansi_c(r"\x72\x6d \101\u0042\n", &mut w);
        assert_eq!(w.value, "rm AB\n");
        assert!(w.encoded);
    }

    #[test]
    fn backslashes_outside_quotes_vanish() {
        let mut w = Word::default();
        unescape_unquoted(r"\r\m", &mut w);
        assert_eq!(w.value, "rm");
        assert!(w.quoted);
    }
}
