//! `Verdict`: the governor's answer to an action, which the interceptor enforces.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens to an action. Ordered by strictness: `Allow < Ask < Deny`, so the
/// strictest of several decisions is their maximum.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Let it run.
    Allow,
    /// A human must decide.
    Ask,
    /// Refuse it.
    Deny,
}

impl Decision {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Ask => "ask",
            Decision::Deny => "deny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How dangerous the threat classifier judged an action. Ordered by severity.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Threat {
    /// Nothing alarming found.
    #[default]
    Benign,
    /// Needs a human: asks at every autonomy level.
    High,
    /// Denied at every autonomy level.
    Critical,
}

impl Threat {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Threat::Benign => "benign",
            Threat::High => "high",
            Threat::Critical => "critical",
        }
    }
}

impl fmt::Display for Threat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The governor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// The decision to enforce.
    pub decision: Decision,
    /// Ids of the rules that produced the decision (built-in threat and default
    /// rules included, e.g. `threat:reverse-shell`, `default:autonomy`).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Why, in one sentence a person can act on.
    #[serde(default)]
    pub reason: String,
    /// The threat level the classifier assigned.
    #[serde(default)]
    pub threat: Threat,
    /// Rules in `mode = "audit"` that would have tightened the decision had they been
    /// enforced ("would deny").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub would_block: Vec<String>,
    /// Threat findings an explicit rule loosened, as `rule-id:finding`; recorded so a
    /// loosening is visible in every decision it affects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loosened: Vec<String>,
    /// Who answered an ask, when a human did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<Answer>,
    /// For a shell action a rule rewrote: the command line to run instead.
    /// The decision is the rewritten command's; an interceptor that cannot
    /// run the rewrite in place of the original must deny.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite: Option<String>,
    /// Where the decision was recorded in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditReceipt>,
}

impl Verdict {
    /// A deny for input that could not be understood; `reason` names what was wrong.
    pub fn malformed(reason: impl Into<String>) -> Self {
        Verdict {
            decision: Decision::Deny,
            rules: vec!["builtin:malformed-input".into()],
            reason: reason.into(),
            threat: Threat::Benign,
            would_block: Vec::new(),
            loosened: Vec::new(),
            answered: None,
            rewrite: None,
            audit: None,
        }
    }
}

/// A human's answer to an ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    /// The final decision the human (or the timeout) gave.
    pub decision: Decision,
    /// Who answered: `dashboard:<user>`, `cli:<uid>`, or `timeout`.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// Proof that the decision was durably recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditReceipt {
    /// Sequence number of the audit entry.
    pub seq: u64,
    /// Hex SHA-256 Merkle leaf hash of the entry.
    pub leaf_hash: String,
    /// The signed checkpoint that covers the entry.
    pub checkpoint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness_orders_deny_over_ask_over_allow() {
        assert!(Decision::Deny > Decision::Ask && Decision::Ask > Decision::Allow);
        assert_eq!(
            [Decision::Allow, Decision::Deny, Decision::Ask]
                .into_iter()
                .max(),
            Some(Decision::Deny)
        );
        assert!(Threat::Critical > Threat::High && Threat::High > Threat::Benign);
    }

    #[test]
    fn verdict_json_shape() {
        let v = Verdict::malformed("bad json at line 1");
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["decision"], "deny");
        assert_eq!(j["threat"], "benign");
        assert!(j.get("audit").is_none());
        let back: Verdict = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);
    }
}
