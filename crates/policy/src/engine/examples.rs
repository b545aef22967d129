//! The inline `match` / `not_match` examples of every rule, checked at load.

use super::{ActionExt, EvalContext, Policy};
use crate::file::PolicyError;
use crate::subject::subjects_of;

use super::matching::rule_matches;

impl Policy {
    pub(super) fn check_examples(&self) -> Result<(), PolicyError> {
        let ctx = EvalContext {
            home: self.home.clone(),
            human_available: true,
            resolve_symlinks: false,
            protected: Vec::new(),
            autonomy: None,
            approvals: true,
        };
        for r in &self.rules {
            let check = |example: &str, expect: bool| -> Result<(), PolicyError> {
                let (file, line) = (r.file.clone(), r.line);
                let action = crate::subject::example_action(example).ok_or_else(|| PolicyError::Rule {
                    file: file.clone(),
                    line,
                    rule: r.id.clone(),
                    message: format!("example {example:?} is not of the form Tool(value), e.g. Bash(git push origin main) or Read(~/.ssh/id_rsa)"),
                })?;
                let prepared = subjects_of(&action, &ctx);
                let hit = prepared
                    .subjects
                    .iter()
                    .any(|s| rule_matches(r, &s.items(), action.cwd_path().as_deref()));
                if hit != expect {
                    return Err(PolicyError::Example {
                        file,
                        line,
                        rule: r.id.clone(),
                        example: example.into(),
                        expectation: if expect {
                            "should match the rule but does not"
                        } else {
                            "should not match the rule but does"
                        },
                    });
                }
                Ok(())
            };
            for e in &r.examples.0 {
                check(e, true)?;
            }
            for e in &r.examples.1 {
                check(e, false)?;
            }
        }
        Ok(())
    }
}
