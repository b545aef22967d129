//! The parsed form of a command line: simple commands with their words,
//! redirections, pipeline position and the wrappers they run under.

use super::unwrap;
use super::words::Word;

/// Where in a pipeline a command sits: stage `index` of `len`, pipeline `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipePos {
    /// Pipeline id, unique within a script.
    pub id: u32,
    /// Stage index, 0 is the first.
    pub index: u16,
    /// Number of stages.
    pub len: u16,
}

/// How a command came to be in the script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSource {
    /// Written directly in the command line.
    Direct,
    /// Inside `$(...)`, backticks or `<(...)`: its output becomes part of a word.
    Substitution,
    /// Run by a wrapper program (`sudo`, `env`, `find -exec`, `bash -c` ...); the
    /// wrapper's name.
    Wrapped(String),
    /// A here-doc or here-string fed to a shell.
    HereDoc,
    /// Named in another program's inline code, option or `!` escape (`python -c
    /// "os.system(...)"`, `vim -c ':!sh'`); the host program's name.
    Embedded(String),
    /// Given as the value of another program's option (`--checkpoint-action=exec=`,
    /// `-o ProxyCommand=`, `--upload-pack=`); the host program's name.
    OptionValue(String),
}

/// A redirection operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOp {
    /// `<`
    In,
    /// `>`, `>|`, `&>`
    Out,
    /// `>>`, `&>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `>&N`, `<&N`
    Dup,
    /// `<<` / `<<-`
    HereDoc,
    /// `<<<`
    HereString,
}

/// One redirection of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The operator.
    pub op: RedirectOp,
    /// The file (or fd, or here-string) it names.
    pub target: Word,
    /// The body of a here-doc.
    pub body: Option<String>,
}

impl Redirect {
    /// Whether this redirection writes to its target.
    pub fn writes(&self) -> bool {
        matches!(
            self.op,
            RedirectOp::Out | RedirectOp::Append | RedirectOp::ReadWrite
        )
    }
}

/// One simple command: a program with arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleCommand {
    /// The argument vector, `argv[0]` being the program as written. Empty for a bare
    /// assignment such as `HISTFILE=/dev/null`.
    pub argv: Vec<Word>,
    /// `NAME=value` prefixes (or `export NAME=value`).
    pub assignments: Vec<(String, Word)>,
    /// Redirections.
    pub redirects: Vec<Redirect>,
    /// The command's source text (for wrapped commands, the wrapper's).
    pub text: String,
    /// Pipeline position, if in a pipeline of two or more stages.
    pub pipe: Option<PipePos>,
    /// The whole pipeline's source text, if in one (findings about data flowing
    /// between stages are located on the pipeline, not one stage).
    pub pipeline_text: Option<String>,
    /// How it got here.
    pub source: CommandSource,
    /// Wrappers this command runs under, outermost first (`sudo`, `env` ...).
    pub via: Vec<String>,
    /// Runs with `&`.
    pub background: bool,
    /// Position in [`Script::commands`].
    pub index: usize,
}

impl SimpleCommand {
    /// The program name: `argv[0]`'s last path component ("" if there is none).
    pub fn program(&self) -> &str {
        self.argv.first().map(|w| basename(&w.value)).unwrap_or("")
    }

    /// The arguments after the program name.
    pub fn args(&self) -> &[Word] {
        self.argv.get(1..).unwrap_or(&[])
    }

    /// The words joined with single spaces: what rules such as `Bash(git push:*)`
    /// are matched against.
    pub fn command_line(&self) -> String {
        let mut s = String::new();
        for (i, w) in self.argv.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(if i == 0 {
                basename_if_system(&w.value)
            } else {
                &w.value
            });
        }
        s
    }

    /// A command from a bare argv (no shell involved).
    pub fn from_argv(argv: &[String]) -> Self {
        SimpleCommand {
            argv: argv.iter().map(|a| Word::literal(a)).collect(),
            assignments: Vec::new(),
            redirects: Vec::new(),
            text: argv.join(" "),
            pipe: None,
            pipeline_text: None,
            source: CommandSource::Direct,
            via: Vec::new(),
            background: false,
            index: 0,
        }
    }

    /// Whether any wrapper in the chain runs the command as another user.
    pub fn privileged(&self) -> bool {
        self.via.iter().any(|v| unwrap::is_privilege_wrapper(v))
    }
}

/// The last path component of a program path.
pub fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// `/usr/bin/git` matches rules written for `git`; `./git` stays as written since a
/// program in the workspace is not the system's git.
fn basename_if_system(p: &str) -> &str {
    const SYSTEM_DIRS: &[&str] = &[
        "/bin/",
        "/usr/bin/",
        "/usr/local/bin/",
        "/sbin/",
        "/usr/sbin/",
        "/usr/local/sbin/",
    ];
    for d in SYSTEM_DIRS {
        if let Some(rest) = p.strip_prefix(d)
            && !rest.contains('/')
        {
            return rest;
        }
    }
    p
}

/// Every simple command of a command line, and why it could not be fully parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Simple commands in source order, wrapped commands following their wrapper.
    pub commands: Vec<SimpleCommand>,
    /// Parse problems; any entry makes the whole script unparseable.
    pub errors: Vec<String>,
    /// Function definitions that call themselves through a pipe or `&` (fork bombs).
    pub self_spawning_functions: Vec<String>,
    /// Control characters, bidi overrides or invisible characters in the text.
    pub hidden_characters: Vec<String>,
}
