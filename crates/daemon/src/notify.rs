//! Desktop notifications of asks (`warden up --notify`): each new ask is shown
//! through the desktop's notification service with `notify-send` (libnotify),
//! which speaks the freedesktop Notifications protocol on the session bus.
//!
//! A notification only tells a person that something waits; it carries no ask
//! id and cannot answer anything (the agent may share the session bus, and an
//! answer needs the dashboard or a terminal anyway). Sending is fire and
//! forget: a missing or slow notification service never delays a decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::warn;

use crate::consent::AskView;

/// How long one `notify-send` may take before it is killed.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest command text shown; the rest is on the dashboard.
const MAX_WHAT: usize = 200;

/// Finds `notify-send` on `PATH`.
pub fn find_notify_send() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("notify-send"))
        .find(|p| p.is_file())
}

/// The notification's title and body for an ask.
pub fn message(ask: &AskView) -> (String, String) {
    let agent = if ask.agent.is_empty() {
        "an unregistered agent"
    } else {
        ask.agent.as_str()
    };
    let mut what = ask.action.kind.summary();
    if what.chars().count() > MAX_WHAT {
        what = what.chars().take(MAX_WHAT).collect::<String>() + "…";
    }
    let title = format!("warden: {agent} asks");
    let body = format!(
        "{}\n{}\nAnswer on the dashboard or with `warden asks`.",
        escape(&what),
        escape(&ask.reason)
    );
    (title, body)
}

/// Bodies may be read as markup by the notification service: `<`, `>` and
/// `&` in a command line must show as themselves.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Shows `ask` on the desktop, in the background.
pub fn ask(program: &Path, ask: &AskView) {
    let (title, body) = message(ask);
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(["--app-name=warden", "--urgency=critical", "--"])
        .arg(title)
        .arg(body)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    tokio::spawn(async move {
        let run = async {
            let out = cmd.spawn()?.wait_with_output().await?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err(std::io::Error::other(format!("{}: {err}", out.status)));
            }
            Ok(())
        };
        match tokio::time::timeout(SEND_TIMEOUT, run).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "the desktop notification failed"),
            Err(_) => warn!("the desktop notification timed out"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_types::{Action, ActionKind, Threat};

    fn view(command: &str, agent: &str) -> AskView {
        AskView {
            id: "ask-secret".into(),
            action: Action::new(
                "/w",
                ActionKind::Shell {
                    command: command.into(),
                },
            ),
            rules: vec!["git-push".into()],
            reason: "pushing publishes work".into(),
            threat: Threat::Benign,
            session: None,
            agent: agent.into(),
            asked: String::new(),
            expires_ms: 0,
            always: true,
        }
    }

    #[test]
    fn the_message_names_agent_and_action_but_never_the_ask_id() {
        let (title, body) = message(&view(
            "git push origin main > /dev/null && echo <ok>",
            "codex",
        ));
        assert_eq!(title, "warden: codex asks");
        assert!(
            body.starts_with(
                "run git push origin main &gt; /dev/null &amp;&amp; echo &lt;ok&gt;\n"
            ),
            "{body}"
        );
        assert!(!body.contains("ask-secret") && !title.contains("ask-secret"));
        let (title, _) = message(&view("ls", ""));
        assert_eq!(title, "warden: an unregistered agent asks");
    }

    #[test]
    fn long_commands_are_cut() {
        let (_, body) = message(&view(&"x".repeat(5000), "codex"));
        assert!(body.len() < 400, "{}", body.len());
        assert!(body.contains('…'));
    }
}
