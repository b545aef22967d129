//! "Always for this exact action": a person approves an ask and, with it, adds
//! a standing approval to the user policy file, so the same action (same
//! working directory, same command, path, URL or tool call) is allowed from
//! then on without asking. The approval is an ordinary `[[approval]]` table in
//! the file the user edits anyway: visible, reviewable, removable by deleting
//! it. Adding one is recorded in the audit log as a notice, and the approved
//! action's own entry names it.
//!
//! The file is rewritten whole and atomically (a temporary file in the same
//! directory, synced, renamed over it), and only if the result still loads: a
//! crash mid-write leaves the old policy, never half of a new one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tracing::info;
use warden_policy::Approval;
use warden_policy::file::{LayerKind, parse_layer};
use warden_types::{Decision, Threat};

use crate::consent::{AskError, AskView, HumanAnswer};
use crate::governor::{Governor, lock, now_rfc3339};
use crate::random_token;

/// Why an "always" approval was not made.
#[derive(Debug, thiserror::Error)]
pub enum AlwaysError {
    /// No such pending ask.
    #[error(transparent)]
    Ask(#[from] AskError),
    /// A system-layer rule asks: only a one-time approval is possible.
    #[error(
        "a system policy rule asks for this action ({rules}); it can be approved once, not always"
    )]
    NotWaivable {
        /// The rules that asked.
        rules: String,
    },
    /// The policy file could not be updated; the ask is still pending.
    #[error("could not add the approval to {path}: {message}; the ask is still pending")]
    Write {
        /// The user policy file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl Governor {
    /// Approves ask `id` and every other pending ask for the same exact action,
    /// after adding a standing approval of it to the user policy file.
    pub fn approve_always(&self, id: &str, by: &str) -> Result<(AskView, Approval), AlwaysError> {
        let view = lock(&self.asks)
            .get(id)
            .ok_or_else(|| AskError::NoAsk(id.to_string()))?;
        if !view.always {
            let base = lock(&self.policies).base();
            let system: Vec<&str> = base
                .rules()
                .iter()
                .filter(|r| r.layer == LayerKind::System && view.rules.contains(&r.id))
                .map(|r| r.id.as_str())
                .collect();
            return Err(AlwaysError::NotWaivable {
                rules: if system.is_empty() {
                    view.rules.join(", ")
                } else {
                    system.join(", ")
                },
            });
        }
        let approval = Approval::of(&view.action, by, &now_rfc3339());
        {
            // One writer at a time, so two approvals of the same action made at
            // once add one table, not two.
            let _writing = lock(&self.policy_writes);
            let already = lock(&self.policies).base().is_approved(&view.action);
            if !already {
                let path = &self.config.user_policy;
                add_to_file(path, &approval, &self.config.user_home).map_err(|message| {
                    AlwaysError::Write {
                        path: path.display().to_string(),
                        message,
                    }
                })?;
                self.reload();
                self.notice(
                    "approval-added",
                    &format!(
                        "{} always allowed from now on ({}, by {}, in {})",
                        approval.summary,
                        approval.id,
                        by,
                        path.display()
                    ),
                    Threat::Benign,
                );
                info!(approval = %approval.id, what = %approval.summary, "standing approval added");
            }
        }
        let mut asks = lock(&self.asks);
        let view = asks.answer(
            id,
            HumanAnswer {
                decision: Decision::Allow,
                by: format!("{by}, always ({})", approval.id),
            },
        )?;
        // The same action may be waiting more than once (two agents, a retry).
        let same: Vec<String> = asks
            .list()
            .into_iter()
            .filter(|v| v.always && warden_policy::fingerprint(&v.action) == approval.action)
            .map(|v| v.id)
            .collect();
        for other in same {
            let _ = asks.answer(
                &other,
                HumanAnswer {
                    decision: Decision::Allow,
                    by: approval.id.clone(),
                },
            );
        }
        Ok((view, approval))
    }
}

/// Appends `approval` to the policy file at `path`, atomically, if the result
/// loads.
fn add_to_file(path: &Path, approval: &Approval, home: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut updated = text;
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&approval.to_toml());
    parse_layer(&updated, &path.display().to_string(), LayerKind::User, home)
        .map_err(|e| format!("the policy would not load afterwards: {e}"))?;
    let dir = path
        .parent()
        .ok_or_else(|| "the policy file has no directory".to_string())?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", &random_token()[..12]));
    let write = || -> std::io::Result<()> {
        let mode = std::fs::metadata(path)?.permissions().mode();
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
        f.write_all(updated.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::{Action, ActionKind};

    fn push() -> Action {
        Action::new(
            "/w",
            ActionKind::Shell {
                command: "git push origin main".into(),
            },
        )
    }

    #[test]
    fn the_file_gains_one_table_and_keeps_its_text_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        let original = "version = 1\n# my comment\n[defaults]\nautonomy = \"executor\"";
        std::fs::write(&path, original).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let a = Approval::of(&push(), "dashboard", "2026-12-01T00:00:00.000Z");
        add_to_file(&path, &a, dir.path()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(original), "{text}");
        assert!(text.contains(&a.action));
        let layer = parse_layer(&text, "p", LayerKind::User, dir.path()).unwrap();
        assert_eq!(layer.approvals.len(), 1);
        assert_eq!(
            layer.default_autonomy,
            Some(warden_types::Autonomy::Executor)
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_file_that_would_not_load_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        // `approval` already taken by something that is not a table array.
        let original = "version = 1\napproval = 3\n";
        std::fs::write(&path, original).unwrap();
        let a = Approval::of(&push(), "dashboard", "t");
        let err = add_to_file(&path, &a, dir.path()).unwrap_err();
        assert!(err.contains("would not load"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        let missing = add_to_file(&dir.path().join("nope.toml"), &a, dir.path()).unwrap_err();
        assert!(missing.contains("No such file"), "{missing}");
    }
}
