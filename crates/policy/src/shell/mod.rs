//! Shell command analysis: what a command line will actually run.
//!
//! An agent's `Bash` tool call is a whole script, not a program name. Rules and the
//! threat classifier must see every simple command in it — across `&&`, `;`, pipes,
//! subshells, `$(...)`, backticks, process substitution and here-docs — and see
//! through wrappers (`sudo`, `env`, `bash -c`, `find -exec`, `eval` ...) to the program
//! that really runs. Anything the parser cannot make sense of is reported as
//! unparseable, which the engine turns into an ask (or a deny when no human can
//! answer): we never guess "benign" about text we did not understand.
//!
//! Parser choice: tree-sitter-bash. It is the grammar behind GitHub's and Codex
//! CLI's shell handling, error-tolerant (a syntax error becomes an `ERROR` node we can
//! report instead of a failed parse that loses the rest), and yields explicit nodes for
//! command and process substitution, here-docs and ANSI-C strings. brush-parser was
//! the alternative: pure Rust and aimed at executing scripts, but it parses words
//! lazily (expansions need a second parser) and stops at the first error, which loses
//! exactly the partial structure a security classifier wants. Plain words-only
//! commands skip the parser entirely (see [`scan::fast_split`]): bash gives their
//! characters no special meaning, so splitting on blanks is exact and 10x cheaper.

mod canon;
mod command;
mod nodes;
mod options;
mod parse;
mod payload;
mod scan;
mod threat;
mod unwrap;
mod words;

pub use canon::{canonical_words, subcommand_args};
pub use command::{CommandSource, PipePos, Redirect, RedirectOp, Script, SimpleCommand, basename};
pub use options::find_roots;
pub use parse::parse;
pub use threat::paths;
pub use threat::{Finding, FindingKind, analyze_script, classify_argv};
pub(crate) use threat::{NETWORK_PROGRAMS, READ_ONLY_PROGRAMS, read_paths, written_paths};
pub(crate) use unwrap::is_interpreter;
pub use unwrap::program_name;

pub use words::{DYNAMIC, Word};

use warden_types::Threat;

/// Longest command text analysed. Longer input is reported as unparseable (and so
/// asked about or denied), never silently truncated.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// The result of analysing a command line.
#[derive(Debug, Clone)]
pub struct ShellAnalysis {
    /// Every simple command that would run, wrappers unwrapped, in source order.
    pub script: Script,
    /// Threat findings, each naming the sub-command and why.
    pub findings: Vec<Finding>,
}

impl ShellAnalysis {
    /// The highest threat among the findings.
    pub fn threat(&self) -> Threat {
        self.findings
            .iter()
            .map(|f| f.threat)
            .max()
            .unwrap_or(Threat::Benign)
    }

    /// Why the command could not be fully parsed, if it could not.
    pub fn unparseable(&self) -> Option<&str> {
        self.script.errors.first().map(String::as_str)
    }
}

/// Parse and classify a command line. `home` is used to recognise `~` and `$HOME`
/// paths; pass the agent's home directory.
pub fn analyze_with_home(command: &str, home: &str) -> ShellAnalysis {
    let script = parse(command);
    let findings = analyze_script(&script, home);
    ShellAnalysis { script, findings }
}

/// Analyse a directly exec'd argv (the sandbox's view): the program and
/// everything it runs through wrappers.
pub fn analyze_argv(argv: &[String], home: &str) -> ShellAnalysis {
    let script = parse::parse_argv(argv);
    let findings = analyze_script(&script, home);
    ShellAnalysis { script, findings }
}

/// [`analyze_with_home`] with the home directory taken from `$HOME` (or `/root`).
pub fn analyze(command: &str) -> ShellAnalysis {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    analyze_with_home(command, &home)
}
