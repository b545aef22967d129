//! Standing approvals: "always allow this exact action", granted by a person
//! answering an ask and kept in the user (or system) policy file as
//!
//! ```toml
//! [[approval]]
//! id = "approval-3f9a0c41d2e87b65"
//! action = "sha256:3f9a0c41d2e87b65…"   # fingerprint of the exact action
//! summary = "run git push origin main (in /home/u/proj)"
//! by = "cli:uid=1000,pid=4242"
//! at = "2026-12-01T20:00:00.000Z"
//! ```
//!
//! An approval turns an *ask* for exactly that action into an allow, never a
//! deny, and never an ask a system-layer rule raised (the administrator's asks
//! are not the user's to waive). "Exactly" is the working directory and the
//! whole action kind as sent (command text, argv, path, URL, tool and
//! arguments); the agent, session and time are not part of it. A project policy
//! cannot carry approvals: it arrives with the code an agent may have written.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use warden_types::Action;

use crate::file::{LayerKind, PolicyError};

/// Domain separation: a fingerprint is never the hash of anything else warden hashes.
const DOMAIN: &[u8] = b"warden exact action v1\0";

/// One standing approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// `approval-` and the first 16 hex digits of the fingerprint.
    pub id: String,
    /// `sha256:` and 64 hex digits: see [`fingerprint`].
    pub action: String,
    /// What was approved, for people.
    pub summary: String,
    /// Who approved it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// The policy file it is in.
    pub file: String,
    /// The 1-based line of its `[[approval]]`.
    pub line: usize,
    /// Which layer.
    pub layer: LayerKind,
}

/// The fingerprint of an action: SHA-256 over its working directory and its
/// kind, as canonical JSON (object keys sorted: serde_json's map is ordered).
pub fn fingerprint(action: &Action) -> String {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    // Serialising a String and an ActionKind cannot fail; were it ever to, the
    // empty body still yields a fingerprint no approval carries by accident,
    // because approvals are only ever written from a real action's fingerprint.
    h.update(serde_json::to_vec(&(&action.cwd, &action.kind)).unwrap_or_default());
    let digest = h.finalize();
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// An `[[approval]]` table as written in a policy file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApproval {
    id: String,
    action: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    at: String,
}

fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl Approval {
    /// The approval of `action`, by `by` at `at`.
    pub fn of(action: &Action, by: &str, at: &str) -> Approval {
        let fp = fingerprint(action);
        let summary = if action.cwd.is_empty() {
            action.kind.summary()
        } else {
            format!("{} (in {})", action.kind.summary(), action.cwd)
        };
        Approval {
            id: format!("approval-{}", &fp[7..23]),
            action: fp,
            summary,
            by: by.into(),
            at: at.into(),
            file: String::new(),
            line: 0,
            layer: LayerKind::User,
        }
    }

    /// The `[[approval]]` table for a policy file, preceded by a blank line.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct One<'a> {
            approval: [&'a RawApproval; 1],
        }
        let raw = RawApproval {
            id: self.id.clone(),
            action: self.action.clone(),
            summary: self.summary.clone(),
            by: self.by.clone(),
            at: self.at.clone(),
        };
        // Strings only: serialising cannot fail.
        let body = toml::to_string(&One { approval: [&raw] }).unwrap_or_default();
        format!("\n# Always allowed: approved by a person answering an ask.\n{body}")
    }

    pub(crate) fn compile(
        raw: RawApproval,
        file: &str,
        line: usize,
        kind: LayerKind,
    ) -> Result<Approval, PolicyError> {
        let err = |message: String| PolicyError::Rule {
            file: file.into(),
            line,
            rule: raw.id.clone(),
            message,
        };
        if kind == LayerKind::Project {
            return Err(err(
                "approvals are not accepted in a project policy (it arrives with the code); they belong in the user policy".into(),
            ));
        }
        if !is_fingerprint(&raw.action) {
            return Err(err(format!(
                "approval action {:?} is not a fingerprint (sha256: and 64 lowercase hex digits)",
                raw.action
            )));
        }
        if raw.id.trim().is_empty() || raw.id.contains(char::is_whitespace) {
            return Err(err(
                "an approval id must be non-empty and contain no spaces".into(),
            ));
        }
        Ok(Approval {
            id: raw.id,
            action: raw.action,
            summary: raw.summary,
            by: raw.by,
            at: raw.at,
            file: file.into(),
            line,
            layer: kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::ActionKind;

    fn shell(cwd: &str, command: &str) -> Action {
        Action::new(
            cwd,
            ActionKind::Shell {
                command: command.into(),
            },
        )
    }

    #[test]
    fn the_fingerprint_covers_cwd_and_kind_only() {
        let a = shell("/w", "git push origin main");
        let mut b = a.clone();
        b.id = "other".into();
        b.session = "s-1".into();
        b.agent.name = "codex".into();
        b.time = "2026-01-01T00:00:00Z".into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&shell("/x", "git push origin main"))
        );
        assert_ne!(
            fingerprint(&a),
            fingerprint(&shell("/w", "git push origin main "))
        );
        assert!(is_fingerprint(&fingerprint(&a)));
    }

    #[test]
    fn tool_arguments_are_canonical() {
        let call = |args: &str| {
            Action::new(
                "/w",
                ActionKind::ToolCall {
                    server: "gh".into(),
                    tool: "merge".into(),
                    arguments: serde_json::from_str(args).unwrap(),
                },
            )
        };
        assert_eq!(
            fingerprint(&call(r#"{"a":1,"b":[2,3]}"#)),
            fingerprint(&call(r#"{"b":[2,3],"a":1}"#))
        );
        assert_ne!(
            fingerprint(&call(r#"{"a":1}"#)),
            fingerprint(&call(r#"{"a":2}"#))
        );
    }

    #[test]
    fn an_approval_round_trips_through_toml() {
        let a = Approval::of(
            &shell("/w", "echo \"quoted\" \n next"),
            "cli:uid=1",
            "2026-12-01T00:00:00Z",
        );
        let text = format!("version = 1\n{}", a.to_toml());
        let layer =
            crate::file::parse_layer(&text, "p.toml", LayerKind::User, "/h".as_ref()).unwrap();
        assert_eq!(layer.approvals.len(), 1);
        let back = &layer.approvals[0];
        assert_eq!(
            (&back.id, &back.action, &back.summary),
            (&a.id, &a.action, &a.summary)
        );
        assert_eq!(back.line, 4, "the line of its [[approval]]");
    }

    #[test]
    fn bad_approvals_are_load_errors_naming_the_problem() {
        let one = |action: &str, kind| {
            let text =
                format!("version = 1\n[[approval]]\nid = \"approval-x\"\naction = \"{action}\"\n");
            crate::file::parse_layer(&text, "p.toml", kind, "/h".as_ref())
                .err()
                .map(|e| e.to_string())
        };
        let good = fingerprint(&shell("/w", "ls"));
        assert_eq!(one(&good, LayerKind::User), None);
        assert_eq!(one(&good, LayerKind::System), None);
        assert!(one(&good, LayerKind::Project).unwrap().contains("project"));
        assert!(
            one("sha256:abc", LayerKind::User)
                .unwrap()
                .contains("fingerprint")
        );
        assert!(
            one(&good.to_uppercase(), LayerKind::User)
                .unwrap()
                .contains("p.toml:2")
        );
    }
}
