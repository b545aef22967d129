//! Rule specifiers: the permission grammar agent users already know from Claude
//! Code (`Bash(git push:*)`, `Read(~/.ssh/**)`, `WebFetch(domain:*.github.com)`,
//! `mcp__server__tool`) plus warden's `Exec(...)`, `Net(host:port)`, `Delete(...)`.
//!
//! Specifiers compile once at load: command patterns to a wildcard matcher, path
//! patterns to globs with `~` already expanded, so matching an action allocates
//! nothing.

use std::path::Path;

use crate::pathglob::PathGlob;

/// Why a specifier did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not of the form `Tool(pattern)` or `mcp__server__tool`.
    #[error(
        "{spec:?} is not a rule specifier: expected Tool(pattern) or mcp__server__tool (tools: Bash, Exec, Read, Write, Edit, Delete, WebFetch, Net)"
    )]
    Syntax {
        /// The specifier.
        spec: String,
    },
    /// An unknown tool name.
    #[error(
        "unknown tool {tool:?} in {spec:?}: expected Bash, Exec, Read, Write, Edit, Delete, WebFetch, Net or mcp__server__tool"
    )]
    UnknownTool {
        /// The specifier.
        spec: String,
        /// The tool name given.
        tool: String,
    },
    /// The glob in a path or host pattern is malformed.
    #[error("bad pattern {pattern:?} in {spec:?}: {message}")]
    BadGlob {
        /// The specifier.
        spec: String,
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A `Net(host:port)` port that is not a number or `*`.
    #[error("bad port {port:?} in {spec:?}: expected 1-65535 or *")]
    BadPort {
        /// The specifier.
        spec: String,
        /// The port text.
        port: String,
    },
}

/// The kind of action a specifier applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// Shell command lines (each sub-command) and exec'd programs.
    Bash,
    /// Exec'd programs only (the sandbox's view).
    Exec,
    /// File reads (and paths a shell command reads).
    Read,
    /// File writes (`Write` and `Edit` are the same) and deletes.
    Write,
    /// File deletes.
    Delete,
    /// HTTP(S) fetches by domain.
    WebFetch,
    /// Network connections by host and port.
    Net,
    /// MCP tool calls.
    Mcp,
    /// LLM API calls by provider and model: `Llm(anthropic)`,
    /// `Llm(openai:gpt-4o*)`.
    Llm,
}

/// A compiled specifier.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The source text.
    pub text: String,
    /// Which actions it applies to.
    pub tool: Tool,
    matcher: Matcher,
}

impl Spec {
    /// For `Net(*:PORT)` — every host, one port — the port: what a kernel
    /// hook that sees addresses, not names, can enforce of a network rule.
    pub fn port_for_every_host(&self) -> Option<u16> {
        match (&self.tool, &self.matcher) {
            (Tool::Net, Matcher::Host { host, port }) if host.matches_everything() => *port,
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Matcher {
    Any,
    Command(Wildcard),
    Path(PathPattern),
    Host { host: Wildcard, port: Option<u16> },
    Mcp { server: Wildcard, tool: Wildcard },
    Llm { provider: Wildcard, model: Wildcard },
}

#[derive(Debug, Clone)]
enum PathPattern {
    /// Absolute (after `~` expansion).
    Absolute(PathGlob),
    /// Relative to the action's working directory.
    Relative(PathGlob),
}

impl Spec {
    /// Compile a specifier. `home` expands `~`.
    pub fn parse(text: &str, home: &Path) -> Result<Spec, SpecError> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix("mcp__") {
            let (server, tool) = rest.split_once("__").unwrap_or((rest, "*"));
            if server.is_empty() || tool.is_empty() {
                return Err(SpecError::Syntax { spec: text.into() });
            }
            return Ok(Spec {
                text: t.into(),
                tool: Tool::Mcp,
                matcher: Matcher::Mcp {
                    server: Wildcard::new(server),
                    tool: Wildcard::new(tool),
                },
            });
        }
        let (name, pattern) = match t.split_once('(') {
            Some((n, rest)) => {
                let p = rest
                    .strip_suffix(')')
                    .ok_or_else(|| SpecError::Syntax { spec: text.into() })?;
                (n, Some(p))
            }
            None => (t, None),
        };
        let tool = match name {
            "Bash" => Tool::Bash,
            "Exec" => Tool::Exec,
            "Read" => Tool::Read,
            "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => Tool::Write,
            "Delete" => Tool::Delete,
            "WebFetch" => Tool::WebFetch,
            "Net" => Tool::Net,
            "Llm" => Tool::Llm,
            _ if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.is_empty() =>
            {
                return Err(SpecError::UnknownTool {
                    spec: text.into(),
                    tool: name.into(),
                });
            }
            _ => return Err(SpecError::Syntax { spec: text.into() }),
        };
        let pattern = pattern
            .map(str::trim)
            .filter(|p| !p.is_empty() && *p != "*" && *p != "**");
        let Some(p) = pattern else {
            return Ok(Spec {
                text: t.into(),
                tool,
                matcher: Matcher::Any,
            });
        };
        let matcher = match tool {
            Tool::Bash | Tool::Exec => Matcher::Command(command_pattern(p)),
            Tool::Read | Tool::Write | Tool::Delete => Matcher::Path(path_pattern(text, p, home)?),
            Tool::WebFetch => {
                let host = p.strip_prefix("domain:").unwrap_or(p);
                Matcher::Host {
                    host: Wildcard::new(&host.to_ascii_lowercase()),
                    port: None,
                }
            }
            Tool::Net => {
                let (host, port) = match p.rsplit_once(':') {
                    Some((h, port))
                        if !h.ends_with(':') && !h.contains('[') || h.ends_with(']') =>
                    {
                        (h, Some(port))
                    }
                    _ => (p, None),
                };
                let port = match port {
                    None | Some("*") => None,
                    Some(n) => Some(n.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        SpecError::BadPort {
                            spec: text.into(),
                            port: n.into(),
                        }
                    })?),
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Matcher::Host {
                    host: Wildcard::new(&host.to_ascii_lowercase()),
                    port,
                }
            }
            Tool::Mcp => Matcher::Any,
            Tool::Llm => {
                let (provider, model) = p.split_once(':').unwrap_or((p, "*"));
                Matcher::Llm {
                    provider: Wildcard::new(&provider.trim().to_ascii_lowercase()),
                    model: Wildcard::new(model.trim()),
                }
            }
        };
        Ok(Spec {
            text: t.into(),
            tool,
            matcher,
        })
    }

    /// The literal first word of a command pattern, for indexing (None when the
    /// pattern starts with a wildcard or is not a command pattern).
    pub fn command_head(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Command(w) => w.literal_head(),
            _ => None,
        }
    }

    /// Match a command line (words joined by single spaces).
    pub fn matches_command(&self, line: &str) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Command(w) => w.matches(line),
            _ => false,
        }
    }

    /// Match an absolute, normalised path; `cwd` anchors relative patterns.
    pub fn matches_path(&self, path: &Path, cwd: Option<&Path>) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Path(PathPattern::Absolute(g)) => g.is_match(path),
            Matcher::Path(PathPattern::Relative(g)) => cwd
                .and_then(|c| path.strip_prefix(c).ok())
                .is_some_and(|rel| g.is_match(rel)),
            _ => false,
        }
    }

    /// Whether a partly-known path (absolute components, globs allowed;
    /// `open_ended`: anything below) could match this path pattern.
    pub fn may_match_path(&self, item: &[String], open_ended: bool, cwd: Option<&Path>) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Path(PathPattern::Absolute(g)) => g.may_match(item, open_ended),
            Matcher::Path(PathPattern::Relative(g)) => {
                let Some(c) = cwd else { return false };
                let base: Vec<String> = c
                    .iter()
                    .skip(1)
                    .map(|s| s.to_string_lossy().into_owned())
                    .collect();
                item.starts_with(&base) && g.may_match(&item[base.len()..], open_ended)
            }
            _ => false,
        }
    }

    /// For absolute path patterns, the first path component of every match.
    pub fn path_roots(&self) -> Option<Vec<String>> {
        match &self.matcher {
            Matcher::Path(PathPattern::Absolute(g)) => g.roots(),
            _ => None,
        }
    }

    /// Match a host (lowercase, normalised) and port.
    pub fn matches_host(&self, host: &str, port: u16) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Host { host: h, port: p } => h.matches(host) && p.is_none_or(|p| p == port),
            _ => false,
        }
    }

    /// Whether a host pattern names this host without wildcards (needed to reach a
    /// non-public address: `*` never opens the metadata service).
    pub fn names_host_literally(&self, host: &str) -> bool {
        matches!(&self.matcher, Matcher::Host { host: h, .. } if h.is_literal() && h.matches(host))
    }

    /// Match an LLM provider and model.
    pub fn matches_llm(&self, provider: &str, model: &str) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Llm {
                provider: p,
                model: m,
            } => p.matches(provider) && m.matches(model),
            _ => false,
        }
    }

    /// Match an MCP server and tool.
    pub fn matches_mcp(&self, server: &str, tool: &str) -> bool {
        match &self.matcher {
            Matcher::Any => true,
            Matcher::Mcp { server: s, tool: t } => s.matches(server) && t.matches(tool),
            _ => false,
        }
    }
}

/// `git push:*` (prefix on a word boundary) or `npm run *` (wildcards anywhere).
fn command_pattern(p: &str) -> Wildcard {
    let collapsed = p.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.strip_suffix(":*") {
        Some(prefix) => Wildcard::prefix(prefix.trim_end()),
        None => Wildcard::new(&collapsed),
    }
}

fn path_pattern(spec: &str, p: &str, home: &Path) -> Result<PathPattern, SpecError> {
    let home_s = home.to_string_lossy();
    let (absolute, pat) = if p == "~" {
        (true, home_s.to_string())
    } else if let Some(rest) = p.strip_prefix("~/") {
        (true, format!("{}/{rest}", home_s.trim_end_matches('/')))
    } else if let Some(rest) = p.strip_prefix("//") {
        (true, format!("/{rest}"))
    } else if p.starts_with('/') {
        (true, p.to_string())
    } else {
        (false, p.strip_prefix("./").unwrap_or(p).to_string())
    };
    // A pattern naming a directory covers what is inside it (see PathGlob).
    let glob = PathGlob::new(pat.trim_end_matches('/')).map_err(|e| SpecError::BadGlob {
        spec: spec.into(),
        pattern: p.into(),
        message: e.to_string(),
    })?;
    Ok(if absolute {
        PathPattern::Absolute(glob)
    } else {
        PathPattern::Relative(glob)
    })
}

/// A `*` wildcard pattern over plain text (`*` matches any run of characters).
#[derive(Debug, Clone)]
pub struct Wildcard {
    parts: Vec<String>,
    /// Prefix pattern (`git push:*`): matches the prefix alone or followed by a space.
    prefix: bool,
}

impl Wildcard {
    /// A pattern with `*` wildcards.
    pub fn new(p: &str) -> Self {
        Wildcard {
            parts: p.split('*').map(str::to_string).collect(),
            prefix: false,
        }
    }

    fn prefix(p: &str) -> Self {
        Wildcard {
            parts: vec![p.to_string()],
            prefix: true,
        }
    }

    /// Whether it matches any text at all (`*`, `**`).
    fn matches_everything(&self) -> bool {
        !self.prefix && self.parts.len() > 1 && self.parts.iter().all(String::is_empty)
    }

    fn is_literal(&self) -> bool {
        self.parts.len() == 1 && !self.prefix
    }

    fn literal_head(&self) -> Option<&str> {
        let first = self.parts.first()?;
        let head = first.split(' ').next()?;
        // The head is literal only if the first part holds the whole first word.
        (first.contains(' ') || self.parts.len() == 1 || self.prefix)
            .then_some(head)
            .filter(|h| !h.is_empty())
    }

    /// Match the whole of `text`.
    pub fn matches(&self, text: &str) -> bool {
        if self.prefix {
            let p = &self.parts[0];
            return text == p
                || text
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with(' '));
        }
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return text.is_empty(),
        };
        let Some(mut remaining) = text.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        for part in middle {
            match remaining.find(part.as_str()) {
                Some(i) => remaining = &remaining[i + part.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Spec {
        Spec::parse(s, Path::new("/home/u")).unwrap()
    }

    #[test]
    fn command_prefix_is_word_bounded() {
        let s = spec("Bash(git push:*)");
        assert!(s.matches_command("git push"));
        assert!(s.matches_command("git push origin main"));
        assert!(!s.matches_command("git pushx"));
        assert!(!s.matches_command("git status"));
        assert_eq!(s.command_head(), Some("git"));
    }

    #[test]
    fn command_wildcards() {
        let s = spec("Bash(npm run *)");
        assert!(s.matches_command("npm run build"));
        assert!(!s.matches_command("npm install"));
        assert!(spec("Bash(* --force)").matches_command("git push --force"));
        assert!(spec("Bash").matches_command("anything"));
    }

    #[test]
    fn paths_expand_home_and_cover_directories() {
        let s = spec("Read(~/.ssh/**)");
        assert!(s.matches_path(Path::new("/home/u/.ssh/id_rsa"), None));
        assert!(!s.matches_path(Path::new("/home/u/.sshx"), None));
        let d = spec("Read(~/.aws)");
        assert!(d.matches_path(Path::new("/home/u/.aws/credentials"), None));
        let rel = spec("Write(./src/**)");
        assert!(rel.matches_path(Path::new("/w/src/main.rs"), Some(Path::new("/w"))));
        assert!(!rel.matches_path(Path::new("/w/docs/x"), Some(Path::new("/w"))));
        let star = spec("Read(**/.env*)");
        assert!(star.matches_path(Path::new("/w/.env.local"), Some(Path::new("/w"))));
        assert!(star.matches_path(Path::new("/w/app/.env"), Some(Path::new("/w"))));
        assert!(
            !star.matches_path(Path::new("/w/.env.local"), None),
            "relative patterns need a cwd"
        );
        let anywhere = spec("Read(/**/.env)");
        assert!(anywhere.matches_path(Path::new("/srv/app/.env"), None));
    }

    #[test]
    fn hosts_and_mcp() {
        let s = spec("WebFetch(domain:*.github.com)");
        assert!(
            s.matches_host("api.github.com", 443) && !s.matches_host("github.com.evil.org", 443)
        );
        let n = spec("Net(db.internal:5432)");
        assert!(n.matches_host("db.internal", 5432) && !n.matches_host("db.internal", 22));
        assert!(n.names_host_literally("db.internal"));
        let m = spec("mcp__github__create_*");
        assert!(m.matches_mcp("github", "create_issue") && !m.matches_mcp("github", "delete_repo"));
        assert!(spec("mcp__fs").matches_mcp("fs", "read"));
    }

    #[test]
    fn errors_name_the_input() {
        let home = Path::new("/h");
        assert!(matches!(
            Spec::parse("Frobnicate(x)", home),
            Err(SpecError::UnknownTool { .. })
        ));
        assert!(matches!(
            Spec::parse("Bash(git", home),
            Err(SpecError::Syntax { .. })
        ));
        assert!(matches!(
            Spec::parse("Read([a)", home),
            Err(SpecError::BadGlob { .. })
        ));
        assert!(matches!(
            Spec::parse("Net(h:99999)", home),
            Err(SpecError::BadPort { .. })
        ));
    }
}
