//! Shared helpers: a fresh home, synthetic actions, direct SQL on the file.

use std::path::{Path, PathBuf};

use warden_audit::{AuditLog, Options};
use warden_types::{Action, ActionKind, Decision, Origin, Threat, Verdict};

pub struct Home {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("warden-audit-test-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("state");
        Home { _dir: dir, path }
    }

    pub fn db(&self) -> PathBuf {
        self.path.join("audit.db")
    }

    /// Opens the log, fast durability (these tests are not about fsync).
    pub fn open(&self) -> AuditLog {
        AuditLog::open(&self.path, fast()).unwrap()
    }

    /// Raw read-write SQL on the database, as an attacker with file access has:
    /// the append-only triggers are dropped first.
    pub fn sql(&self, statements: &str) {
        sql_on(&self.db(), statements);
    }
}

pub fn sql_on(db: &Path, statements: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;
         DROP TRIGGER IF EXISTS nodes_no_update; DROP TRIGGER IF EXISTS nodes_no_delete;
         DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS checkpoints_no_delete;",
    )
    .unwrap();
    conn.execute_batch(statements).unwrap();
}

pub fn fast() -> Options {
    Options {
        durability: warden_audit::Durability::Fast,
        ..Options::default()
    }
}

/// A varied synthetic action: the `i`-th of a session.
pub fn action(i: u64) -> Action {
    let kind = match i % 4 {
        0 => ActionKind::Shell {
            command: format!("git commit -m 'change {i}'"),
        },
        1 => ActionKind::FileWrite {
            path: format!("src/file{i}.rs"),
        },
        2 => ActionKind::Net(warden_types::NetRequest {
            url: Some(format!("https://example.org/{i}")),
            ..Default::default()
        }),
        _ => ActionKind::ToolCall {
            server: "github".into(),
            tool: "create_issue".into(),
            arguments: serde_json::json!({ "title": format!("issue {i}") }),
        },
    };
    let mut a = Action::new("/work/project", kind);
    a.id = format!("act-{i}");
    a.session = format!("sess-{}", i / 100);
    a.agent.name = if i.is_multiple_of(2) {
        "claude-code"
    } else {
        "codex"
    }
    .into();
    a.origin = if i.is_multiple_of(2) {
        Origin::HookClaudeCode
    } else {
        Origin::HookCodex
    };
    a
}

pub fn verdict(i: u64) -> Verdict {
    let mut v = Verdict::malformed("");
    v.decision = match i % 3 {
        0 => Decision::Allow,
        1 => Decision::Ask,
        _ => Decision::Deny,
    };
    v.rules = vec![format!("rule-{}", i % 5)];
    v.reason = format!("reason {i}");
    v.threat = Threat::Benign;
    v
}

/// Appends `n` entries (numbered from `from`) and closes the log.
pub fn fill(home: &Home, from: u64, n: u64) {
    let log = home.open();
    for i in from..from + n {
        log.submit(&action(i), &verdict(i), |r| {
            r.unwrap();
        })
        .unwrap();
    }
    log.close().unwrap();
}
