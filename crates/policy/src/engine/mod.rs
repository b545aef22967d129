//! The decision: rules, autonomy defaults and the threat layer combined.
//!
//! Per subject (each sub-command of a shell line, or the one file, host or tool of
//! other actions) the strictest enforced rule wins (deny > ask > allow); a subject no
//! rule matched falls to the agent's autonomy default. The built-in threat layer then
//! raises the result (critical → deny, high → ask) unless a matching rule explicitly
//! loosens that finding, which is recorded. The action's decision is the strictest
//! over its subjects. Non-public network destinations and warden's own files are
//! denied at every level unless a rule names them (the former) or never (the latter).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use warden_types::{Action, Autonomy, Decision, Threat, Verdict};

mod examples;
mod matching;
pub(crate) mod rewrite;

use crate::approval::{Approval, fingerprint};
use crate::file::{Layer, LayerKind, PolicyError, Rule, RuleMode, check_tightens};
use crate::shell::Finding;
use crate::spec::Tool;
use crate::subject::{Subject, subjects_of};
pub(crate) use matching::file_findings;
use matching::{autonomy_default, tool_bit};

/// What the engine needs besides the action.
#[derive(Debug, Clone)]
pub struct EvalContext {
    /// The agent user's home directory (for `~`).
    pub home: PathBuf,
    /// Whether a human can answer an ask; if not, asks become denies.
    pub human_available: bool,
    /// Resolve symlinks against the real filesystem.
    pub resolve_symlinks: bool,
    /// warden's own state and configuration: never writable by an agent.
    pub protected: Vec<PathBuf>,
    /// The autonomy level a trusted caller grants (the daemon from its session
    /// registry, a person at the CLI); None: the policy's level for the agent.
    /// An action's own `agent.autonomy` can only lower it.
    pub autonomy: Option<Autonomy>,
    /// Whether standing approvals apply. The daemon turns them off for callers
    /// no person stands behind (unknown agents): they get nothing a person granted.
    pub approvals: bool,
}

impl EvalContext {
    /// A context for `home` with a human available and symlinks resolved.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        EvalContext {
            home: home.into(),
            human_available: true,
            resolve_symlinks: true,
            protected: Vec::new(),
            autonomy: None,
            approvals: true,
        }
    }
}

/// A loaded, layered policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) rules: Vec<Rule>,
    bash_by_head: HashMap<String, Vec<usize>>,
    bash_other: Vec<usize>,
    /// Path-only rules by the first component of every path they can match.
    path_by_root: HashMap<String, Vec<usize>>,
    /// Per rule, the tools its specifiers name (see `tool_bit`).
    rule_tools: Vec<u16>,
    other_rules: Vec<usize>,
    /// Enforced rewrite rules and the word prefixes they rewrite, parsed
    /// once (nearly always empty: shell decisions then skip rewriting).
    pub(crate) rewrites: Vec<(usize, Vec<Vec<String>>)>,
    default_autonomy: Autonomy,
    agents: BTreeMap<String, Autonomy>,
    /// Per-agent egress limits, every layer's combined to the strictest.
    agent_limits: BTreeMap<String, crate::file::AgentLimits>,
    /// `(layer, file)` of each layer loaded, most trusted first.
    pub layers: Vec<(crate::file::LayerKind, String)>,
    home: PathBuf,
    /// Standing approvals by action fingerprint.
    approvals: HashMap<String, Approval>,
    /// Sandbox profiles, the most trusted layer's definition of each name.
    pub profiles: BTreeMap<String, crate::profile::Profile>,
}

/// One subject's outcome, for `explain`.
#[derive(Debug, Clone)]
pub struct SubjectReport {
    /// What was judged, e.g. `bash: git push origin main`.
    pub what: String,
    /// Its decision before the threat layer.
    pub decision: Decision,
    /// Rules that matched it (enforced and audit-only).
    pub matched: Vec<String>,
    /// Where the decision came from.
    pub why: String,
}

/// The full result of an evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The verdict to enforce.
    pub verdict: Verdict,
    /// The autonomy level applied.
    pub autonomy: Autonomy,
    /// Per-subject outcomes.
    pub subjects: Vec<SubjectReport>,
    /// Threat findings (including loosened ones).
    pub findings: Vec<Finding>,
    /// Why a shell command could not be parsed, if so.
    pub unparseable: Option<String>,
    /// For an ask: whether a standing approval of this exact action would
    /// allow it (no system-layer rule is among those asking).
    pub approvable: bool,
    /// The standing approval that turned an ask into this allow, if one did.
    pub approval: Option<String>,
}

struct Contribution {
    decision: Decision,
    id: String,
    reason: String,
    /// From a system-layer rule: a user's approval cannot waive it.
    system: bool,
}

impl Policy {
    /// Assemble layers, most trusted first. Lower layers may only tighten; inline
    /// examples of every rule are checked. On any error nothing is loaded.
    pub fn from_layers(layers: Vec<Layer>, home: &Path) -> Result<Policy, PolicyError> {
        let mut default_autonomy = Autonomy::Executor;
        let mut agents = BTreeMap::new();
        let mut agent_limits: BTreeMap<String, crate::file::AgentLimits> = BTreeMap::new();
        let mut rules = Vec::new();
        let mut names = Vec::new();
        let mut ids = std::collections::HashSet::new();
        let mut approvals = HashMap::new();
        let mut profiles = BTreeMap::new();
        for (i, layer) in layers.into_iter().enumerate() {
            if i > 0 {
                check_tightens(default_autonomy, &agents, &layer)?;
            }
            if let Some(a) = layer.default_autonomy {
                default_autonomy = a;
            }
            agents.extend(layer.agents);
            for (name, l) in layer.agent_limits {
                let e = agent_limits.entry(name).or_insert(l);
                *e = e.tightest(l);
            }
            crate::profile::merge(&mut profiles, layer.profiles);
            names.push((layer.kind, layer.file));
            for a in layer.approvals {
                approvals.entry(a.action.clone()).or_insert(a);
            }
            for r in layer.rules {
                if !ids.insert(r.id.clone()) {
                    let (file, line) = (r.file.clone(), r.line);
                    return Err(PolicyError::Rule {
                        file,
                        line,
                        rule: r.id,
                        message: "rule id already defined in a higher layer".into(),
                    });
                }
                rules.push(r);
            }
        }
        let mut policy = Policy {
            rules,
            bash_by_head: HashMap::new(),
            bash_other: Vec::new(),
            rule_tools: Vec::new(),
            path_by_root: HashMap::new(),
            other_rules: Vec::new(),
            rewrites: Vec::new(),
            default_autonomy,
            agents,
            agent_limits,
            layers: names,
            home: home.to_path_buf(),
            approvals,
            profiles,
        };
        policy.index();
        policy.check_examples()?;
        Ok(policy)
    }

    /// Parse a single-layer policy from text (the user layer).
    pub fn from_toml(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        let layer = crate::file::parse_layer(text, file, crate::file::LayerKind::User, &home)?;
        Policy::from_layers(vec![layer], &home)
    }

    fn index(&mut self) {
        self.rewrites = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.rewrite.is_some() && r.mode == RuleMode::Enforce)
            .map(|(i, r)| {
                let prefixes = r
                    .specs
                    .iter()
                    .filter_map(|s| rewrite::prefix_words(&s.text));
                (i, prefixes.collect())
            })
            .collect();
        self.rule_tools = self
            .rules
            .iter()
            .map(|r| r.specs.iter().fold(0, |m, s| m | tool_bit(s.tool)))
            .collect();
        for (i, r) in self.rules.iter().enumerate() {
            let bash: Vec<_> = r
                .specs
                .iter()
                .filter(|s| matches!(s.tool, Tool::Bash | Tool::Exec))
                .collect();
            if bash.len() == r.specs.len() && bash.iter().all(|s| s.command_head().is_some()) {
                for s in bash {
                    if let Some(h) = s.command_head() {
                        let v = self.bash_by_head.entry(h.to_string()).or_default();
                        if !v.contains(&i) {
                            v.push(i);
                        }
                    }
                }
            } else if !bash.is_empty() {
                self.bash_other.push(i);
            } else if let Some(roots) = r
                .specs
                .iter()
                .map(|s| s.path_roots())
                .collect::<Option<Vec<_>>>()
            {
                // Every specifier is an absolute path pattern: index by root.
                for root in roots.into_iter().flatten() {
                    let v = self.path_by_root.entry(root).or_default();
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            } else {
                self.other_rules.push(i);
            }
        }
    }

    /// Every rule, in layer order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The ports every connection to is denied, whatever the host, for
    /// `agent`: the enforced deny rules of `Net(*:PORT)` with no exceptions
    /// (an exception names hosts, which a port alone cannot tell apart), in
    /// any layer (a deny anywhere holds). Sorted, once each.
    pub fn ports_denied_everywhere(&self, agent: &str) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .rules
            .iter()
            .filter(|r| r.decision == Decision::Deny && r.mode == RuleMode::Enforce)
            .filter(|r| r.except.is_empty())
            .filter(|r| r.agents.is_empty() || r.agents.iter().any(|a| a == agent))
            .flat_map(|r| r.specs.iter().filter_map(|s| s.port_for_every_host()))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The standing approvals, by id.
    pub fn approvals(&self) -> Vec<&Approval> {
        let mut v: Vec<&Approval> = self.approvals.values().collect();
        v.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        v
    }

    /// Whether this exact action has a standing approval.
    pub fn is_approved(&self, action: &Action) -> bool {
        !self.approvals.is_empty() && self.approvals.contains_key(&fingerprint(action))
    }

    /// The autonomy applied to an agent of this name when the action does not carry one.
    pub fn autonomy_for(&self, agent: &str) -> Autonomy {
        self.agents
            .get(agent)
            .copied()
            .unwrap_or(self.default_autonomy)
    }

    /// The egress limits `[agents.<agent>]` sets (none set: no per-agent
    /// limit; the daemon's own apply).
    pub fn limits_for(&self, agent: &str) -> crate::file::AgentLimits {
        self.agent_limits.get(agent).copied().unwrap_or_default()
    }

    /// Every agent with egress limits, by name.
    pub fn agent_limits(&self) -> impl Iterator<Item = (&str, crate::file::AgentLimits)> {
        self.agent_limits.iter().map(|(n, l)| (n.as_str(), *l))
    }

    /// The autonomy of an agent no `[agents.<name>]` table gives one.
    pub fn default_autonomy(&self) -> Autonomy {
        self.default_autonomy
    }

    /// Every agent an `[agents.<name>]` table speaks of, by name: the
    /// autonomy set for it (none: the default applies) and its egress limits.
    pub fn named_agents(&self) -> Vec<(&str, Option<Autonomy>, crate::file::AgentLimits)> {
        let names: std::collections::BTreeSet<&str> = self
            .agents
            .keys()
            .chain(self.agent_limits.keys())
            .map(String::as_str)
            .collect();
        names
            .into_iter()
            .map(|n| {
                (
                    n,
                    self.agents.get(n).copied(),
                    self.agent_limits.get(n).copied().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Decide an action.
    pub fn evaluate(&self, action: &Action, ctx: &EvalContext) -> Evaluation {
        self.evaluate_rewritten(action, ctx)
            .unwrap_or_else(|| self.evaluate_plain(action, ctx))
    }

    /// Decides `action` as it is (no rewrite).
    fn evaluate_plain(&self, action: &Action, ctx: &EvalContext) -> Evaluation {
        // An action may carry a lower autonomy than the policy grants its agent (a
        // session started more carefully), never a higher one.
        let granted = ctx
            .autonomy
            .unwrap_or_else(|| self.autonomy_for(&action.agent.name));
        let autonomy = action.agent.autonomy.map_or(granted, |a| a.min(granted));
        let prepared = subjects_of(action, ctx);
        let mut findings = prepared.findings;
        let mut reports = Vec::new();
        let mut contributions: Vec<Contribution> = Vec::new();
        let mut audit: Vec<Contribution> = Vec::new();
        let mut loosened = Vec::new();
        if let Some(c) = prepared.hard_deny {
            contributions.push(Contribution {
                decision: Decision::Deny,
                id: c.0,
                reason: c.1,
                system: false,
            });
        }
        for subject in &prepared.subjects {
            let (enforced, audited) =
                self.matching_rules(subject, &action.agent.name, action.cwd_path().as_deref());
            // Rules of trusted layers decide; at `autonomous` their asks allow.
            // Project rules (untrusted, written next to the code) only tighten: they
            // combine with what the trusted layers and the autonomy default decided.
            let trusted: Vec<&&Rule> = enforced
                .iter()
                .filter(|r| r.layer != LayerKind::Project)
                .collect();
            let project: Vec<&&Rule> = enforced
                .iter()
                .filter(|r| r.layer == LayerKind::Project)
                .collect();
            // A definition is shown unless a deny rule hides it: asking before a
            // tool is *called* is not asking before it is seen.
            let definition = matches!(subject, Subject::McpDefinition { .. });
            let relax = |r: &Rule| {
                if r.rewrite.is_some() {
                    // A rewrite that could not be applied here (a compound or
                    // quoted line) allows nothing: a person decides.
                    Decision::Ask
                } else if r.decision == Decision::Ask
                    && (autonomy == Autonomy::Autonomous || definition)
                {
                    Decision::Allow
                } else {
                    r.decision
                }
            };
            let (mut decision, mut why) = match trusted.iter().map(|r| relax(r)).max() {
                Some(d) => {
                    for r in trusted.iter().filter(|r| relax(r) == d) {
                        contributions.push(Contribution {
                            decision: d,
                            id: r.id.clone(),
                            reason: r.reason.clone(),
                            system: r.layer == LayerKind::System,
                        });
                    }
                    (
                        d,
                        format!(
                            "rule {}",
                            trusted
                                .iter()
                                .map(|r| r.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                }
                None => {
                    let (d, why) = autonomy_default(autonomy, subject);
                    contributions.push(Contribution {
                        decision: d,
                        id: "default:autonomy".into(),
                        reason: why.clone(),
                        system: false,
                    });
                    (d, why)
                }
            };
            for r in &project {
                contributions.push(Contribution {
                    decision: r.decision,
                    id: r.id.clone(),
                    reason: r.reason.clone(),
                    system: false,
                });
                if r.decision > decision {
                    decision = r.decision;
                    why = format!("project rule {}", r.id);
                }
            }
            // Loopback, private, link-local and metadata addresses: denied at every
            // level unless a trusted allow/ask rule names the host without wildcards.
            for (class, host) in subject.non_public() {
                let named = trusted.iter().any(|r| {
                    r.decision != Decision::Deny
                        && r.specs.iter().any(|s| s.names_host_literally(host))
                });
                if !named {
                    contributions.push(Contribution {
                        decision: Decision::Deny,
                        id: "builtin:non-public-address".into(),
                        reason: format!(
                            "{host} is a {} address; only a rule naming it can open it",
                            class.as_str()
                        ),
                        system: false,
                    });
                }
            }
            for r in &audited {
                audit.push(Contribution {
                    decision: r.decision,
                    id: r.id.clone(),
                    reason: r.reason.clone(),
                    system: false,
                });
            }
            // Loosening: a matching allow/ask rule that names a finding in this subject.
            for f in findings.iter_mut() {
                if subject.covers(f)
                    && let Some(r) = trusted.iter().find(|r| r.loosen.contains(&f.kind))
                {
                    loosened.push(format!("{}:{}", r.id, f.kind.id()));
                    f.threat = Threat::Benign;
                }
            }
            reports.push(SubjectReport {
                what: subject.describe(),
                decision,
                matched: enforced
                    .iter()
                    .chain(audited.iter())
                    .map(|r| r.id.clone())
                    .collect(),
                why,
            });
        }
        let threat = findings
            .iter()
            .map(|f| f.threat)
            .max()
            .unwrap_or(Threat::Benign);
        for f in findings.iter().filter(|f| f.threat > Threat::Benign) {
            let d = if f.threat == Threat::Critical {
                Decision::Deny
            } else {
                Decision::Ask
            };
            contributions.push(Contribution {
                decision: d,
                id: format!("threat:{}", f.kind.id()),
                reason: f.why.clone(),
                system: false,
            });
        }
        if let Some(u) = prepared.unplaced.first() {
            contributions.push(Contribution {
                decision: Decision::Ask,
                id: "builtin:unplaceable-path".into(),
                reason: format!("a path in the command cannot be placed ({u})"),
                system: false,
            });
        }
        if let Some(u) = &prepared.unparseable {
            contributions.push(Contribution {
                decision: Decision::Ask,
                id: "builtin:unparseable".into(),
                reason: format!("the command could not be fully analysed ({u})"),
                system: false,
            });
        }
        if contributions.is_empty() {
            contributions.push(Contribution {
                decision: Decision::Deny,
                id: "builtin:empty-action".into(),
                reason: "the action names nothing to do".into(),
                system: false,
            });
        }
        let mut decision = contributions
            .iter()
            .map(|c| c.decision)
            .max()
            .unwrap_or(Decision::Deny);
        let winners: Vec<&Contribution> = contributions
            .iter()
            .filter(|c| c.decision == decision)
            .collect();
        let mut rules: Vec<String> = Vec::new();
        for w in &winners {
            if !rules.contains(&w.id) {
                rules.push(w.id.clone());
            }
        }
        let mut reason = winners
            .iter()
            .find(|c| !c.id.starts_with("default:"))
            .or(winners.first())
            .map(|c| c.reason.clone())
            .unwrap_or_default();
        let approvable = decision == Decision::Ask && winners.iter().all(|w| !w.system);
        let mut approval = None;
        if approvable
            && ctx.approvals
            && !self.approvals.is_empty()
            && let Some(a) = self.approvals.get(&fingerprint(action))
        {
            decision = Decision::Allow;
            reason = format!(
                "always allowed by {} ({}, approved by {} at {}); it would ask: {reason}",
                a.id, a.file, a.by, a.at
            );
            rules = vec![a.id.clone()];
            approval = Some(a.id.clone());
        }
        if decision == Decision::Ask && !ctx.human_available {
            decision = Decision::Deny;
            reason.push_str(" (no human is available to approve, so it is denied)");
        }
        let would_block: Vec<String> = audit
            .iter()
            .filter(|a| a.decision > decision)
            .map(|a| a.id.clone())
            .collect();
        Evaluation {
            verdict: Verdict {
                decision,
                rules,
                reason,
                threat,
                would_block,
                loosened,
                answered: None,
                rewrite: None,
                audit: None,
            },
            autonomy,
            subjects: reports,
            findings,
            unparseable: prepared.unparseable,
            approvable: approvable && approval.is_none(),
            approval,
        }
    }
}

/// Helpers on [`Action`] the engine needs.
pub(crate) trait ActionExt {
    fn cwd_path(&self) -> Option<PathBuf>;
}

impl ActionExt for Action {
    fn cwd_path(&self) -> Option<PathBuf> {
        (!self.cwd.is_empty() && self.cwd.starts_with('/')).then(|| PathBuf::from(&self.cwd))
    }
}
