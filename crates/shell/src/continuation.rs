//! Whether a shell will read another line before it runs what it has:
//! an open quote, a trailing backslash or operator, an unfinished compound
//! command, a here-document still waiting for its end word.
//!
//! The guard classifies the whole text at *every* Enter, so this only decides
//! which lines belong together. Erring towards "more" joins the next line to
//! this one (the classifier then sees more text, never less); erring towards
//! "complete" classifies the next line on its own, where a fragment such as
//! `| sh` does not parse and is held rather than passed.

/// True when a POSIX shell, given `text` (one or more lines), would prompt
/// for a continuation line.
pub fn needs_more(text: &str) -> bool {
    let mut s = Scan::default();
    let mut heredocs: Vec<(String, bool)> = Vec::new();
    for line in text.split('\n') {
        if let Some((word, strip)) = heredocs.first() {
            let l = if *strip {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if l == word {
                heredocs.remove(0);
            }
            continue;
        }
        s.line(line, &mut heredocs);
    }
    !heredocs.is_empty() || s.open()
}

#[derive(Default)]
struct Scan {
    quote: Option<char>,
    /// `(`, `$(`, `{`, `if`, `case`, `do` not closed yet.
    depth: i32,
    escaped_newline: bool,
    trailing_operator: bool,
}

impl Scan {
    fn open(&self) -> bool {
        self.quote.is_some() || self.depth > 0 || self.escaped_newline || self.trailing_operator
    }

    fn line(&mut self, line: &str, heredocs: &mut Vec<(String, bool)>) {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut word = String::new();
        self.escaped_newline = false;
        let mut last_token = String::new();
        while i < chars.len() {
            let c = chars[i];
            if let Some(q) = self.quote {
                match c {
                    '\\' if q != '\'' => i += 1,
                    _ if c == q => self.quote = None,
                    _ => {}
                }
                i += 1;
                continue;
            }
            match c {
                '\\' => {
                    if i + 1 == chars.len() {
                        self.escaped_newline = true;
                    }
                    word.push(c);
                    i += 2;
                    continue;
                }
                '\'' | '"' | '`' => {
                    self.quote = Some(c);
                    word.push(c);
                }
                '#' if word.is_empty() => break,
                ' ' | '\t' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => {
                    self.word(&word);
                    if !word.is_empty() {
                        last_token = std::mem::take(&mut word);
                    }
                    match c {
                        '(' => self.depth += 1,
                        ')' => self.depth -= 1,
                        '<' if chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') => {
                            i += 2;
                            let strip = chars.get(i) == Some(&'-');
                            if strip {
                                i += 1;
                            }
                            while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
                                i += 1;
                            }
                            let mut end = String::new();
                            while let Some(&c) = chars.get(i) {
                                if " \t;&|<>()".contains(c) {
                                    break;
                                }
                                if c != '\'' && c != '"' && c != '\\' {
                                    end.push(c);
                                }
                                i += 1;
                            }
                            if !end.is_empty() {
                                heredocs.push((end, strip));
                            }
                            last_token = "<<".into();
                            continue;
                        }
                        _ => {}
                    }
                    if c != ' ' && c != '\t' {
                        let mut op = c.to_string();
                        if (c == '&' || c == '|') && matches!(chars.get(i + 1), Some('&' | '|')) {
                            op.push(chars[i + 1]);
                            i += 1;
                        }
                        last_token = op;
                    }
                }
                '$' if chars.get(i + 1) == Some(&'(') => {
                    self.depth += 1;
                    i += 2;
                    continue;
                }
                _ => word.push(c),
            }
            i += 1;
        }
        if self.quote.is_none() {
            self.word(&word);
            if !word.is_empty() {
                last_token = word;
            }
        }
        self.trailing_operator =
            self.quote.is_none() && matches!(last_token.as_str(), "|" | "&&" | "||" | "|&");
    }

    fn word(&mut self, w: &str) {
        match w {
            "if" | "case" | "do" | "{" => self.depth += 1,
            "fi" | "esac" | "done" | "}" => self.depth -= 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_that_wait_for_more() {
        for t in [
            "curl http://x |",
            "make &&",
            "echo 'abc",
            "echo \"abc",
            "echo abc \\",
            "for i in 1 2; do",
            "if true; then",
            "case x in",
            "f() {",
            "echo $(date",
            "( cd /tmp",
            "cat <<EOF",
            "cat <<-'END'\n\tx",
            "for i in 1; do\necho $i",
        ] {
            assert!(needs_more(t), "{t:?}");
        }
    }

    #[test]
    fn lines_that_run() {
        for t in [
            "ls -l",
            "curl http://x | sh",
            "echo 'a|'",
            "echo a # |",
            "for i in 1 2; do echo $i; done",
            "if true; then echo; fi",
            "echo $(date)",
            "cat <<EOF\nhello\nEOF",
            "cat <<-'END'\n\tx\n\tEND",
            "echo a\\\\",
            "echo 'it''s'",
            "x=1 && echo $x",
            "curl http://x |\nsh",
        ] {
            assert!(!needs_more(t), "{t:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(t in "\\PC{0,200}") {
            let _ = needs_more(&t);
        }
    }
}
