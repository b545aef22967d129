//! Inline code handed to interpreters (`python -c`, `perl -e`, `awk '...'`) and
//! the shell commands such code spawns. Only strings passed to process-spawning
//! calls are parsed as shell; the rest of the code is the classifier's business.

use super::words::Word;

/// The inline program text of an interpreter invocation, if any.
pub(crate) fn inline_code(name: &str, args: &[Word]) -> Option<String> {
    let lang = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let flags: &[&str] = match lang {
        "python" | "pypy" => &["-c"],
        "perl" => &["-e", "-E"],
        "ruby" | "lua" | "luajit" | "Rscript" | "jrunscript" | "osascript" | "tclsh" | "wish" => {
            &["-e"]
        }
        "node" | "nodejs" | "bun" | "deno" => &["-e", "-p", "--eval", "--print", "eval"],
        "php" => &["-r"],
        "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk" => {
            return args
                .iter()
                .find(|w| !w.value.starts_with('-'))
                .map(|w| w.value.clone());
        }
        _ => return None,
    };
    for (i, w) in args.iter().enumerate() {
        if flags.contains(&w.value.as_str()) {
            return args.get(i + 1).map(|a| a.value.clone());
        }
        // Attached code: `ruby -e'...'`.
        for fl in flags.iter().filter(|f| f.len() == 2) {
            if let Some(code) = w.value.strip_prefix(fl).filter(|c| !c.is_empty()) {
                return Some(code.to_string());
            }
        }
        // Grouped flags ending in the code flag: `perl -wle '...'`.
        if let Some(f) = w.value.strip_prefix('-')
            && !f.starts_with('-')
            && f.len() > 1
            && flags
                .iter()
                .any(|fl| fl.len() == 2 && f.ends_with(&fl[1..]))
        {
            return args.get(i + 1).map(|a| a.value.clone());
        }
    }
    None
}

/// String literals passed to process-spawning calls, and backtick strings.
pub(crate) fn spawned_strings(code: &str) -> Vec<String> {
    const SPAWNERS: &[&str] = &[
        "system",
        "popen",
        "exec",
        "execl",
        "execlp",
        "execv",
        "execvp",
        "spawn",
        "execSync",
        "spawnSync",
        "check_output",
        "check_call",
        "getoutput",
        "Popen",
        "shell_exec",
        "passthru",
        "proc_open",
        "run",
        "callCommand",
        "Exec",
        "execute",
    ];
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            let start = i + 1;
            let mut j = start;
            while j < bytes.len() && bytes[j] != c {
                if bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let literal = code.get(start..j.min(bytes.len())).unwrap_or("");
            let before = code.get(..i).unwrap_or("").trim_end();
            let before = before.trim_end_matches(['(', '[', ' ', '{']).trim_end();
            let word_before: String = before
                .chars()
                .rev()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let spawned = c == b'`'
                || SPAWNERS.contains(&word_before.as_str())
                || before.ends_with("do shell script")
                || before.ends_with("%x")
                || before.ends_with('|') // awk: "cmd" | getline, print | "cmd"
                || code.get(j + 1..).is_some_and(|after| after.trim_start().starts_with("| getline") || after.trim_start().starts_with("|getline"));
            if spawned && !literal.trim().is_empty() {
                out.push(literal.to_string());
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_strings_finds_calls_not_data() {
        assert_eq!(
            spawned_strings(r#"import os; os.system("id; ls")"#),
            vec!["id; ls"]
        );
        assert_eq!(
            spawned_strings(r#"BEGIN{system("/bin/sh")}"#),
            vec!["/bin/sh"]
        );
        assert_eq!(spawned_strings(r#"exec "/bin/sh""#), vec!["/bin/sh"]);
        assert!(spawned_strings(r#"print("hello world")"#).is_empty());
        assert_eq!(spawned_strings("print `id`"), vec!["id"]);
    }
}
