//! Policy files: TOML parsed raw → typed, every error naming file:line and rule id.
//!
//! A policy either loads whole or not at all: the caller keeps its previous policy
//! on error, so a typo can never leave a half-loaded rule set in force.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use warden_types::{Autonomy, Decision};

use crate::approval::{Approval, RawApproval};
use crate::shell::FindingKind;
use crate::spec::{Spec, SpecError};

/// The layers a policy is assembled from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LayerKind {
    /// Machine-wide, set by an administrator.
    System,
    /// The user's own policy.
    User,
    /// The project's `.warden/policy.toml`: untrusted, may only tighten.
    Project,
}

impl LayerKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::System => "system",
            LayerKind::User => "user",
            LayerKind::Project => "project",
        }
    }
}

/// Why a policy did not load.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// TOML syntax, an unknown key or a wrong type.
    #[error("{file}:{line}: {message}")]
    Toml {
        /// The policy file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Only version 1 exists.
    #[error("{file}: unsupported policy version {version} (this warden reads version 1)")]
    Version {
        /// The policy file.
        file: String,
        /// The version found.
        version: u32,
    },
    /// A rule's specifier does not compile.
    #[error("{file}:{line}: rule {rule:?}: {problem}")]
    Spec {
        /// The policy file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The rule id.
        rule: String,
        /// The specifier problem.
        problem: Box<SpecError>,
    },
    /// A rule is malformed (no decision, several decisions, empty id ...).
    #[error("{file}:{line}: rule {rule:?}: {message}")]
    Rule {
        /// The policy file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The rule id.
        rule: String,
        /// What is wrong.
        message: String,
    },
    /// An inline example did not behave as the rule says it should.
    #[error("{file}:{line}: rule {rule:?}: example {example:?} {expectation}")]
    Example {
        /// The policy file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The rule id.
        rule: String,
        /// The example.
        example: String,
        /// "should match but does not", or the reverse.
        expectation: &'static str,
    },
    /// A lower layer tried to loosen a higher one.
    #[error(
        "{file}:{line}: rule {rule:?}: the {layer} layer may only tighten the policy above it ({message})"
    )]
    Loosening {
        /// The policy file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The rule id (or setting name).
        rule: String,
        /// The layer.
        layer: &'static str,
        /// What it tried.
        message: String,
    },
    /// An `[agents.NAME]` table is wrong.
    #[error("{file}: [agents.{agent}]: {message}")]
    Agent {
        /// The policy file.
        file: String,
        /// The agent's name.
        agent: String,
        /// What is wrong.
        message: String,
    },
    /// A `[profile.NAME]` table is wrong.
    #[error("{file}: [profile.{profile}]: {message}")]
    Profile {
        /// The policy file.
        file: String,
        /// The profile's name.
        profile: String,
        /// What is wrong.
        message: String,
    },
    /// The file could not be read.
    #[error("{file}: {error}")]
    Io {
        /// The policy file.
        file: String,
        /// The I/O error.
        error: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: u32,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    agents: BTreeMap<String, RawAgent>,
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
    #[serde(default)]
    approval: Vec<toml::Spanned<RawApproval>>,
    #[serde(default)]
    profile: BTreeMap<String, crate::profile::RawProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    autonomy: Option<Autonomy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(default)]
    autonomy: Option<Autonomy>,
    #[serde(default)]
    requests_per_second: Option<u32>,
    #[serde(default)]
    max_body_mib: Option<u32>,
}

/// `[agents.<name>]` limits on what the agent sends out through the egress
/// proxy and the LLM gateway. Layers combine to the strictest value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentLimits {
    /// Requests per second (bursts of twice that).
    pub requests_per_second: Option<u32>,
    /// Largest request body sent out, in MiB.
    pub max_body_mib: Option<u32>,
}

impl AgentLimits {
    /// The strictest of `self` and `other`, limit by limit.
    pub fn tightest(self, other: AgentLimits) -> AgentLimits {
        fn min(a: Option<u32>, b: Option<u32>) -> Option<u32> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        AgentLimits {
            requests_per_second: min(self.requests_per_second, other.requests_per_second),
            max_body_mib: min(self.max_body_mib, other.max_body_mib),
        }
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.requests_per_second.is_some() || self.max_body_mib.is_some()
    }

    /// Each limit set, in words ("at most 5 requests per second per session
    /// (bursts of 10)", "request bodies up to 8 MiB").
    pub fn describe(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(r) = self.requests_per_second {
            parts.push(format!(
                "at most {r} requests per second per session (bursts of {})",
                r.saturating_mul(2)
            ));
        }
        if let Some(m) = self.max_body_mib {
            parts.push(format!("request bodies up to {m} MiB"));
        }
        parts
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    allow: Option<Vec<String>>,
    #[serde(default)]
    ask: Option<Vec<String>>,
    #[serde(default)]
    deny: Option<Vec<String>>,
    #[serde(default)]
    except: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    mode: RuleMode,
    #[serde(default)]
    agents: Vec<String>,
    #[serde(default)]
    loosen: Vec<String>,
    #[serde(default)]
    rewrite: Option<String>,
    #[serde(default, rename = "match")]
    match_examples: Vec<String>,
    #[serde(default)]
    not_match: Vec<String>,
}

/// Whether a rule is enforced or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleMode {
    /// The decision is enforced.
    #[default]
    Enforce,
    /// The decision is recorded as "would deny/ask" and not enforced.
    Audit,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Allow, ask or deny.
    pub decision: Decision,
    /// What it matches.
    pub specs: Vec<Spec>,
    /// What it does not match even if `specs` do.
    pub except: Vec<Spec>,
    /// Why (shown to agent and human).
    pub reason: String,
    /// Enforce or audit only.
    pub mode: RuleMode,
    /// Agent names it applies to (empty: all).
    pub agents: Vec<String>,
    /// Threat findings this rule, when it matches, overrides.
    pub loosen: Vec<FindingKind>,
    /// For an allow rule of `Bash(prefix:*)` specs: the words that replace
    /// the matched prefix (the rewritten command is then decided itself).
    pub rewrite: Option<String>,
    /// The file it was defined in.
    pub file: String,
    /// The 1-based line of its `[[rule]]`.
    pub line: usize,
    /// Which layer.
    pub layer: LayerKind,
    pub(crate) examples: (Vec<String>, Vec<String>),
}

impl Rule {
    /// The rule's inline `match` and `not_match` examples.
    pub fn examples(&self) -> (&[String], &[String]) {
        (&self.examples.0, &self.examples.1)
    }
}

/// One parsed policy file.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Which layer.
    pub kind: LayerKind,
    /// The file name used in messages.
    pub file: String,
    /// `[defaults] autonomy`.
    pub default_autonomy: Option<Autonomy>,
    /// `[agents.<name>] autonomy`.
    pub agents: BTreeMap<String, Autonomy>,
    /// `[agents.<name>] requests_per_second`, `max_body_mib`.
    pub agent_limits: BTreeMap<String, AgentLimits>,
    /// Its rules.
    pub rules: Vec<Rule>,
    /// Its standing approvals (`[[approval]]`).
    pub approvals: Vec<Approval>,
    /// Its sandbox profiles (`[profile.NAME]`).
    pub profiles: BTreeMap<String, crate::profile::Profile>,
}

/// Byte offset → 1-based line, via a table of line starts built once per file
/// (a per-rule scan from the start made loading quadratic in file size).
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|start| *start <= offset).max(1)
    }
}

/// Parse one layer. `home` expands `~` in path patterns.
pub fn parse_layer(
    text: &str,
    file: &str,
    kind: LayerKind,
    home: &Path,
) -> Result<Layer, PolicyError> {
    let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml {
        file: file.into(),
        line: e
            .span()
            .map(|s| Lines::new(text).line(s.start))
            .unwrap_or(1),
        message: e.message().to_string(),
    })?;
    if raw.version != 1 {
        return Err(PolicyError::Version {
            file: file.into(),
            version: raw.version,
        });
    }
    let lines = Lines::new(text);
    let mut ids = HashSet::new();
    let mut rules = Vec::with_capacity(raw.rule.len());
    for spanned in raw.rule {
        let line = lines.line(spanned.span().start);
        let r = spanned.into_inner();
        let rule_err = |message: String| PolicyError::Rule {
            file: file.into(),
            line,
            rule: r.id.clone(),
            message,
        };
        if r.id.trim().is_empty() || r.id.contains(char::is_whitespace) {
            return Err(rule_err(
                "a rule id must be non-empty and contain no spaces".into(),
            ));
        }
        if r.id.starts_with("builtin:")
            || r.id.starts_with("threat:")
            || r.id.starts_with("default:")
        {
            return Err(rule_err(
                "ids starting with builtin:, threat: or default: are reserved".into(),
            ));
        }
        if !ids.insert(r.id.clone()) {
            return Err(rule_err("duplicate rule id".into()));
        }
        let decisions = [
            (Decision::Allow, &r.allow),
            (Decision::Ask, &r.ask),
            (Decision::Deny, &r.deny),
        ];
        let mut present = decisions.iter().filter(|(_, v)| v.is_some());
        let (decision, specs) = match (present.next(), present.next()) {
            (Some((d, Some(v))), None) => (*d, v.clone()),
            (None, _) => {
                return Err(rule_err(
                    "needs one of allow = [...], ask = [...] or deny = [...]".into(),
                ));
            }
            _ => {
                return Err(rule_err(
                    "has more than one of allow/ask/deny; split it into several rules".into(),
                ));
            }
        };
        if specs.is_empty() {
            return Err(rule_err(format!("{decision} = [] matches nothing")));
        }
        let compile = |list: &[String]| -> Result<Vec<Spec>, PolicyError> {
            list.iter()
                .map(|s| {
                    Spec::parse(s, home).map_err(|source| PolicyError::Spec {
                        file: file.into(),
                        line,
                        rule: r.id.clone(),
                        problem: Box::new(source),
                    })
                })
                .collect()
        };
        let mut loosen = Vec::new();
        for l in &r.loosen {
            let k = FindingKind::from_id(l).ok_or_else(|| {
                rule_err(format!(
                    "loosen names unknown threat finding {l:?} (known: {})",
                    FindingKind::ALL.map(FindingKind::id).join(", ")
                ))
            })?;
            loosen.push(k);
        }
        if !loosen.is_empty() && decision == Decision::Deny {
            return Err(rule_err("a deny rule cannot loosen threat findings".into()));
        }
        if let Some(to) = &r.rewrite {
            let literal =
                |t: &str| !t.trim().is_empty() && !t.contains(crate::engine::rewrite::SHELL_SYNTAX);
            if decision != Decision::Allow {
                return Err(rule_err("rewrite goes with allow = [...] only".into()));
            }
            if kind == LayerKind::Project {
                return Err(rule_err(
                    "a project policy cannot rewrite commands (it may only tighten)".into(),
                ));
            }
            if !literal(to) {
                return Err(rule_err(format!(
                    "rewrite {to:?} must be plain words (no quotes, variables, redirections or separators)"
                )));
            }
            if let Some(bad) = specs
                .iter()
                .find(|s| crate::engine::rewrite::prefix_words(s).is_none())
            {
                return Err(rule_err(format!(
                    "rewrite needs Bash(<words>:*) specifiers of plain words; {bad:?} is not one"
                )));
            }
        }
        let reason = r
            .reason
            .or(r.description)
            .unwrap_or_else(|| format!("rule {}", r.id));
        rules.push(Rule {
            specs: compile(&specs)?,
            except: compile(&r.except)?,
            id: r.id,
            decision,
            reason,
            mode: r.mode,
            agents: r.agents,
            loosen,
            rewrite: r.rewrite,
            file: file.to_string(),
            line,
            layer: kind,
            examples: (r.match_examples, r.not_match),
        });
    }
    let mut approvals = Vec::with_capacity(raw.approval.len());
    for spanned in raw.approval {
        let line = lines.line(spanned.span().start);
        approvals.push(Approval::compile(spanned.into_inner(), file, line, kind)?);
    }
    if kind == LayerKind::Project && !raw.profile.is_empty() {
        return Err(PolicyError::Profile {
            file: file.into(),
            profile: raw.profile.keys().next().cloned().unwrap_or_default(),
            message: "a project layer cannot define profiles: they widen the sandbox, and the workspace is the agent's".into(),
        });
    }
    let mut profiles = BTreeMap::new();
    for (name, raw_profile) in raw.profile {
        let compiled = crate::profile::compile(&name, raw_profile, home).map_err(|message| {
            PolicyError::Profile {
                file: file.into(),
                profile: name.clone(),
                message,
            }
        })?;
        profiles.insert(name, compiled);
    }
    let mut agents = BTreeMap::new();
    let mut agent_limits = BTreeMap::new();
    for (name, a) in raw.agents {
        if a.requests_per_second == Some(0) || a.max_body_mib == Some(0) {
            return Err(PolicyError::Agent {
                file: file.into(),
                agent: name,
                message: "a limit of 0 would refuse everything; leave it out for no limit, or deny the traffic with a rule".into(),
            });
        }
        let limits = AgentLimits {
            requests_per_second: a.requests_per_second,
            max_body_mib: a.max_body_mib,
        };
        if limits.any() {
            agent_limits.insert(name.clone(), limits);
        }
        if let Some(autonomy) = a.autonomy {
            agents.insert(name, autonomy);
        } else if !limits.any() {
            return Err(PolicyError::Agent {
                file: file.into(),
                agent: name,
                message: "sets nothing: give autonomy, requests_per_second or max_body_mib".into(),
            });
        }
    }
    Ok(Layer {
        kind,
        approvals,
        profiles,
        file: file.into(),
        default_autonomy: raw.defaults.autonomy,
        agents,
        agent_limits,
        rules,
    })
}

/// Read and parse a policy file.
pub fn read_layer(path: &Path, kind: LayerKind, home: &Path) -> Result<Layer, PolicyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| PolicyError::Io {
        file: file.clone(),
        error,
    })?;
    parse_layer(&text, &file, kind, home)
}

/// Check that `lower` only tightens what `base` (the layers above it) allow.
pub(crate) fn check_tightens(
    base_default: Autonomy,
    base_agents: &BTreeMap<String, Autonomy>,
    lower: &Layer,
) -> Result<(), PolicyError> {
    let err = |rule: &str, line: usize, message: String| PolicyError::Loosening {
        file: lower.file.clone(),
        line,
        rule: rule.into(),
        layer: lower.kind.as_str(),
        message,
    };
    // The project layer arrives with the code and is untrusted: it may only add
    // deny/ask rules. A user layer below a system layer may add allow rules (they
    // never override a system deny or ask) but not raise autonomy.
    let project_rules = if lower.kind == LayerKind::Project {
        lower.rules.as_slice()
    } else {
        &[]
    };
    for r in project_rules {
        if r.decision == Decision::Allow {
            return Err(err(
                &r.id,
                r.line,
                "allow rules are not accepted here".into(),
            ));
        }
        if !r.loosen.is_empty() {
            return Err(err(&r.id, r.line, "loosen is not accepted here".into()));
        }
    }
    if let Some(a) = lower.default_autonomy.filter(|a| *a > base_default) {
        return Err(err(
            "defaults.autonomy",
            1,
            format!("raises the default autonomy to {a} above {base_default}"),
        ));
    }
    for (name, a) in &lower.agents {
        let above = base_agents.get(name).copied().unwrap_or(base_default);
        if *a > above {
            return Err(err(
                &format!("agents.{name}"),
                1,
                format!("raises {name}'s autonomy to {a} above {above}"),
            ));
        }
    }
    Ok(())
}

/// Default locations of the system and user layers.
pub fn default_paths(home: &Path) -> (PathBuf, PathBuf) {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    (
        PathBuf::from("/etc/warden/policy.toml"),
        config.join("warden/policy.toml"),
    )
}
