//! From command text to the flat list of simple commands that would run.

use std::cell::RefCell;

use tree_sitter::{Node, Parser};

use super::MAX_COMMAND_BYTES;
use super::command::{CommandSource, PipePos, Redirect, RedirectOp, Script, SimpleCommand};
use super::nodes::{ascii_view, assignment, named_children, redirect};
use super::scan::{fast_split, scan_hidden};
use super::unwrap;
use super::words::{self, Word, text};

/// Deepest nesting walked (subshells in substitutions in `bash -c` ...). Deeper input
/// is reported as unparseable rather than risking the stack.
const MAX_DEPTH: usize = 48;

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// A directly exec'd argv as a script: the program itself, and whatever it runs
/// through wrappers (`sh -c`, `env`, `sudo` ...).
pub fn parse_argv(argv: &[String]) -> Script {
    let mut walker = Walker {
        script: Script::default(),
        next_pipe: 0,
    };
    walker.push(SimpleCommand::from_argv(argv), 0);
    walker.script
}

/// Parse a command line.
pub fn parse(command: &str) -> Script {
    let mut script = Script::default();
    scan_hidden(command, &mut script);
    if command.len() > MAX_COMMAND_BYTES {
        script.errors.push(format!(
            "command is {} bytes, over the {MAX_COMMAND_BYTES}-byte analysis limit",
            command.len()
        ));
        return script;
    }
    let mut walker = Walker {
        script,
        next_pipe: 0,
    };
    // Line continuation happens before tokenising: `r\<newline>m` is `rm`.
    let joined;
    let command = if command.contains("\\\n") {
        joined = command.replace("\\\n", "");
        joined.as_str()
    } else {
        command
    };
    walker.script_text(command, 0, CommandSource::Direct, &[]);
    walker.script
}

struct Walker {
    script: Script,
    next_pipe: u32,
}

#[derive(Clone, Default)]
struct Ctx {
    pipe: Option<PipePos>,
    pipe_text: Option<String>,
    source: Option<CommandSource>,
    redirects: Vec<Redirect>,
    background: bool,
    via: Vec<String>,
}

impl Walker {
    /// Parse `text` as a script and walk it. Used for the top level and recursively
    /// for `bash -c`, `eval`, here-docs fed to shells.
    pub(super) fn script_text(
        &mut self,
        src: &str,
        depth: usize,
        source: CommandSource,
        via: &[String],
    ) {
        if depth > MAX_DEPTH {
            self.script
                .errors
                .push("command nests too deeply to analyse".into());
            return;
        }
        if let Some(words) = fast_split(src) {
            if !words.is_empty() {
                let cmd = SimpleCommand {
                    argv: words.iter().map(|w| Word::literal(w)).collect(),
                    assignments: Vec::new(),
                    redirects: Vec::new(),
                    text: src.trim().to_string(),
                    pipe: None,
                    pipeline_text: None,
                    source,
                    via: via.to_vec(),
                    background: false,
                    index: 0,
                };
                self.push(cmd, depth);
            }
            return;
        }
        let tree = PARSER.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                let mut p = Parser::new();
                if p.set_language(&tree_sitter_bash::LANGUAGE.into()).is_err() {
                    return None;
                }
                *slot = Some(p);
            }
            slot.as_mut()
                .and_then(|p| p.parse(ascii_view(src).as_ref(), None))
        });
        let Some(tree) = tree else {
            self.script
                .errors
                .push("the shell parser failed on this input".into());
            return;
        };
        let root = tree.root_node();
        let ctx = Ctx {
            source: Some(source),
            via: via.to_vec(),
            ..Ctx::default()
        };
        self.node(root, src.as_bytes(), depth, &ctx);
    }

    fn node(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        if depth > MAX_DEPTH {
            self.script
                .errors
                .push("command nests too deeply to analyse".into());
            return;
        }
        if node.is_error() || node.is_missing() {
            let snippet: String = text(node, src).chars().take(40).collect();
            self.script.errors.push(format!(
                "shell syntax error at byte {}: {snippet:?}",
                node.start_byte()
            ));
        }
        match node.kind() {
            "command" => self.command(node, src, depth, ctx),
            "variable_assignment" => {
                let (name, value) = assignment(node, src);
                self.walk_children(
                    node,
                    src,
                    depth,
                    &Ctx {
                        pipe: None,
                        pipe_text: None,
                        ..ctx.clone()
                    },
                );
                let cmd = self.new_command(node, src, ctx, Vec::new(), vec![(name, value)]);
                self.push(cmd, depth);
            }
            "declaration_command" | "unset_command" => self.declaration(node, src, depth, ctx),
            "pipeline" => {
                // `a | b 2>&1 | c` parses as a pipeline nested in a pipeline: stages
                // of the inner one belong to the outer one, in order (each outer
                // stage has room for 64 inner ones).
                let (id, base, whole) = match (ctx.pipe, &ctx.pipe_text) {
                    (Some(outer), Some(t)) => (outer.id, outer.index, t.clone()),
                    _ => {
                        let id = self.next_pipe;
                        self.next_pipe += 1;
                        (id, 0, text(node, src).trim().to_string())
                    }
                };
                let stages: Vec<Node<'_>> = named_children(node).collect();
                let len = u16::try_from(stages.len()).unwrap_or(u16::MAX);
                for (i, stage) in stages.into_iter().enumerate() {
                    let step = if ctx.pipe.is_none() { 64 } else { 1 };
                    let index = base
                        .saturating_add(u16::try_from(i).unwrap_or(u16::MAX).saturating_mul(step));
                    let c = Ctx {
                        pipe: Some(PipePos { id, index, len }),
                        pipe_text: Some(whole.clone()),
                        ..ctx.clone()
                    };
                    self.node(stage, src, depth + 1, &c);
                }
                self.literal_text_into_shell(id, depth);
            }
            "redirected_statement" => {
                let mut c = ctx.clone();
                let mut body = None;
                // Commands written after a here-doc's start line (`cat <<EOF | sh`,
                // `cat <<EOF && rm x`) parse as children of the redirect.
                let mut continuations = Vec::new();
                for child in named_children(node) {
                    match child.kind() {
                        "file_redirect" | "heredoc_redirect" | "herestring_redirect" => {
                            c.redirects.push(redirect(child, src));
                            self.walk_children(child, src, depth + 1, ctx);
                            continuations.extend(named_children(child).filter(|n| {
                                !matches!(
                                    n.kind(),
                                    "heredoc_start"
                                        | "heredoc_body"
                                        | "heredoc_end"
                                        | "file_descriptor"
                                        | "word"
                                        | "string"
                                        | "raw_string"
                                        | "concatenation"
                                        | "simple_expansion"
                                        | "expansion"
                                        | "number"
                                )
                            }));
                        }
                        _ => body = Some(child),
                    }
                }
                let piped = continuations
                    .iter()
                    .any(|n| n.kind() == "pipeline" || n.kind() == "command");
                if piped && ctx.pipe.is_none() {
                    // The here-doc's command is stage 0 of the pipeline that follows.
                    let id = self.next_pipe;
                    self.next_pipe += 1;
                    let whole = text(node, src).trim().to_string();
                    let stage = |index: u16| Ctx {
                        pipe: Some(PipePos { id, index, len: 2 }),
                        pipe_text: Some(whole.clone()),
                        source: ctx.source.clone(),
                        via: ctx.via.clone(),
                        ..Ctx::default()
                    };
                    if let Some(b) = body {
                        self.node(
                            b,
                            src,
                            depth + 1,
                            &Ctx {
                                redirects: c.redirects.clone(),
                                ..stage(0)
                            },
                        );
                    }
                    let mut index = 64;
                    for cont in &continuations {
                        let parts: Vec<Node<'_>> = if cont.kind() == "pipeline" {
                            named_children(*cont).collect()
                        } else {
                            vec![*cont]
                        };
                        for part in parts {
                            self.node(part, src, depth + 1, &stage(index));
                            index += 64;
                        }
                    }
                    self.literal_text_into_shell(id, depth);
                } else {
                    if let Some(b) = body {
                        self.node(b, src, depth + 1, &c);
                    }
                    for cont in continuations {
                        self.node(cont, src, depth + 1, ctx);
                    }
                }
            }
            "function_definition" => self.function(node, src, depth, ctx),
            "comment" | "heredoc_body" | "heredoc_start" | "heredoc_end" => {}
            _ => {
                // Containers (program, list, subshell, if/while/for/case bodies, test
                // commands, negation): walk everything. A trailing `&` among the
                // children marks the preceding command as backgrounded.
                let mut cursor = node.walk();
                let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
                for (i, child) in children.iter().enumerate() {
                    if !child.is_named() && !child.is_error() && !child.is_missing() {
                        continue;
                    }
                    let bg = children.get(i + 1).is_some_and(|n| n.kind() == "&");
                    let c = if bg {
                        Ctx {
                            background: true,
                            ..ctx.clone()
                        }
                    } else {
                        ctx.clone()
                    };
                    self.node(*child, src, depth + 1, &c);
                }
            }
        }
    }

    fn walk_children(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        for child in named_children(node) {
            self.substitutions(child, src, depth + 1, ctx);
        }
    }

    /// Commands hidden inside words: `$(...)`, backticks, `<(...)`.
    fn substitutions(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        if depth > MAX_DEPTH {
            self.script
                .errors
                .push("command nests too deeply to analyse".into());
            return;
        }
        match node.kind() {
            "command_substitution" | "process_substitution" => {
                let c = Ctx {
                    source: Some(CommandSource::Substitution),
                    pipe: None,
                    pipe_text: None,
                    redirects: Vec::new(),
                    background: false,
                    via: ctx.via.clone(),
                };
                for child in named_children(node) {
                    self.node(child, src, depth + 1, &c);
                }
            }
            _ => {
                if node.is_error() || node.is_missing() {
                    self.node(node, src, depth, ctx);
                    return;
                }
                for child in named_children(node) {
                    self.substitutions(child, src, depth + 1, ctx);
                }
            }
        }
    }

    fn command(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        let mut argv = Vec::new();
        let mut assignments = Vec::new();
        let mut redirects = ctx.redirects.clone();
        for child in named_children(node) {
            match child.kind() {
                "variable_assignment" => assignments.push(assignment(child, src)),
                "file_redirect" | "heredoc_redirect" | "herestring_redirect" => {
                    redirects.push(redirect(child, src))
                }
                "comment" => continue,
                _ => argv.push(words::eval(child, src)),
            }
            self.substitutions(child, src, depth + 1, ctx);
        }
        let cmd = self.new_command(node, src, ctx, argv, assignments);
        let cmd = SimpleCommand { redirects, ..cmd };
        self.push(cmd, depth);
    }

    fn declaration(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        let mut argv = Vec::new();
        let mut assignments = Vec::new();
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            match child.kind() {
                "variable_assignment" => {
                    let (name, value) = assignment(child, src);
                    argv.push(Word {
                        value: format!("{name}={}", value.value),
                        raw: text(child, src).to_string(),
                        ..value.clone()
                    });
                    assignments.push((name, value));
                }
                "export" | "declare" | "local" | "readonly" | "typeset" | "unset" | "unsetenv" => {
                    argv.push(Word::literal(child.kind()))
                }
                _ if child.is_named() => argv.push(words::eval(child, src)),
                _ => {}
            }
            self.substitutions(child, src, depth + 1, ctx);
        }
        let cmd = self.new_command(node, src, ctx, argv, assignments);
        self.push(cmd, depth);
    }

    fn function(&mut self, node: Node<'_>, src: &[u8], depth: usize, ctx: &Ctx) {
        let name = node
            .child_by_field_name("name")
            .map(|n| text(n, src).to_string());
        let before = self.script.commands.len();
        if let Some(body) = node.child_by_field_name("body") {
            self.node(body, src, depth + 1, ctx);
        }
        if let Some(name) = name {
            let calls_itself_concurrently = self.script.commands[before..].iter().any(|c| {
                c.argv.first().is_some_and(|w| w.value == name)
                    && (c.pipe.is_some() || c.background)
            });
            if calls_itself_concurrently {
                self.script.self_spawning_functions.push(name);
            }
        }
    }

    fn new_command(
        &self,
        node: Node<'_>,
        src: &[u8],
        ctx: &Ctx,
        argv: Vec<Word>,
        assignments: Vec<(String, Word)>,
    ) -> SimpleCommand {
        SimpleCommand {
            argv,
            assignments,
            redirects: Vec::new(),
            text: text(node, src).trim().to_string(),
            pipe: ctx.pipe,
            pipeline_text: ctx.pipe_text.clone(),
            source: ctx.source.clone().unwrap_or(CommandSource::Direct),
            via: ctx.via.clone(),
            background: ctx.background,
            index: 0,
        }
    }

    /// `echo 'cmd' | sh`, `printf ... | bash`, `cat <<EOF | sh`: the text a literal
    /// producer pipes into a shell is a script of its own.
    fn literal_text_into_shell(&mut self, pipe_id: u32, depth: usize) {
        let stages: Vec<&SimpleCommand> = self
            .script
            .commands
            .iter()
            .filter(|c| {
                c.pipe.is_some_and(|p| p.id == pipe_id) && c.source != CommandSource::Substitution
            })
            .collect();
        let mut scripts = Vec::new();
        for pair in stages.windows(2) {
            let (producer, consumer) = (pair[0], pair[1]);
            if !unwrap::is_shell(consumer.program())
                || consumer
                    .args()
                    .iter()
                    .any(|w| w.value.starts_with('-') && w.value.contains('c'))
            {
                continue;
            }
            let text = match producer.program() {
                "echo" | "printf" if producer.args().iter().all(|w| !w.dynamic) => {
                    let words: Vec<&str> = producer
                        .args()
                        .iter()
                        .map(|w| w.value.as_str())
                        .filter(|v| !matches!(*v, "-e" | "-n" | "-E"))
                        .collect();
                    Some(words.join(" ").replace("\\n", "\n"))
                }
                "cat" => producer.redirects.iter().find_map(|r| match r.op {
                    RedirectOp::HereDoc => r.body.clone(),
                    RedirectOp::HereString => Some(r.target.value.clone()),
                    _ => None,
                }),
                _ => None,
            };
            if let Some(t) = text {
                scripts.push((t, consumer.via.clone()));
            }
        }
        for (t, via) in scripts {
            self.script_text(&t, depth + 1, CommandSource::HereDoc, &via);
        }
    }

    /// Record a command and everything its wrappers run.
    fn push(&mut self, mut cmd: SimpleCommand, depth: usize) {
        cmd.index = self.script.commands.len();
        let inner = unwrap::unwrap(&cmd);
        self.script.commands.push(cmd);
        for item in inner {
            match item {
                unwrap::Inner::Command(c) => self.push(c, depth + 1),
                unwrap::Inner::Script { text, source, via } => {
                    self.script_text(&text, depth + 1, source, &via)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_after_a_brace_does_not_crash_the_parser() {
        // tree-sitter-bash#337: these crashed the process with SIGSEGV.
        for s in ["{\u{31860}", "{\u{d7812}", "x {\u{10ffff}} ; {é"] {
            let _ = parse(s);
        }
    }

    #[test]
    fn non_ascii_words_keep_their_text() {
        let s = parse("echo 'café' naïve && grep \u{00a0}x f");
        assert_eq!(s.commands[0].argv[1].value, "café");
        assert_eq!(s.commands[0].argv[2].value, "naïve");
        // A no-break space is a word character to bash, not a separator.
        assert_eq!(s.commands[1].argv[1].value, "\u{00a0}x");
    }

    #[test]
    fn every_kind_of_nesting_is_found() {
        let s = parse(
            "a | b && (c; d) || { e; } ; x=$(f `g`) <(h) ; bash -c 'i; j' ; find . -exec k {} \\; ; sudo env A=1 l",
        );
        let programs: Vec<&str> = s.commands.iter().map(SimpleCommand::program).collect();
        for p in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
            assert!(programs.contains(&p), "{p} missing from {programs:?}");
        }
        assert!(s.errors.is_empty(), "{:?}", s.errors);
    }

    #[test]
    fn line_continuations_join_words() {
        let s = parse("r\\\nm -rf /x");
        assert_eq!(s.commands[0].program(), "rm");
    }

    #[test]
    fn nested_pipelines_are_one_pipeline() {
        let s = parse("cat f|sh -i 2>&1|nc h 1 >f");
        let ids: Vec<u32> = s
            .commands
            .iter()
            .filter_map(|c| c.pipe.map(|p| p.id))
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
        let idx: Vec<u16> = s
            .commands
            .iter()
            .filter_map(|c| c.pipe.map(|p| p.index))
            .collect();
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "{idx:?}");
    }

    #[test]
    fn commands_after_a_here_doc_start_line_are_seen() {
        let s = parse("cat <<EOF | sh\nrm -rf /x\nEOF\n");
        assert!(
            s.commands.iter().any(|c| c.program() == "sh"),
            "{:?}",
            s.commands
        );
        assert!(
            s.commands.iter().any(|c| c.program() == "rm"),
            "the body piped into sh is a script"
        );
        let s = parse("cat <<EOF && touch y\nhi\nEOF\n");
        assert!(
            s.commands.iter().any(|c| c.program() == "touch"),
            "{:?}",
            s.commands
        );
    }

    #[test]
    fn here_docs_fed_to_shells_are_parsed() {
        let s = parse("bash <<'EOF'\nrm -rf /tmp/x\ncurl x | sh\nEOF\n");
        assert!(
            s.commands.iter().any(|c| c.program() == "rm"),
            "{:?}",
            s.commands
        );
    }

    #[test]
    fn syntax_errors_are_reported_not_guessed() {
        assert!(!parse("echo 'unterminated").errors.is_empty());
        assert!(!parse("if then fi (").errors.is_empty());
        let deep = format!("{}x{}", "$(".repeat(200), ")".repeat(200));
        assert!(
            !parse(&deep).errors.is_empty(),
            "nesting past the limit is an error"
        );
    }
}
