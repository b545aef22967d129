//! The built-in threat classifier: which commands need a human, which never run.
//!
//! Mechanisms, not lists of bad strings. Each check asks what a command *does*:
//! whether it spawns a shell (directly, through another program's option, escape or
//! inline code), touches a secret or a takeover path, talks to the network while doing
//! so, feeds downloaded or decoded text to an interpreter, destroys a disk, or hides
//! what it is. Running under `sudo` and friends raises any finding to critical.

mod checks;
mod effects;
mod execution;
mod network;
pub mod paths;
mod payloads;
mod system;

use warden_types::Threat;

use super::command::{Script, SimpleCommand};

pub use checks::classify_argv;
pub(crate) use effects::{
    NETWORK as NETWORK_PROGRAMS, READERS as READ_ONLY_PROGRAMS, read_paths, written_paths,
};

/// What kind of danger a finding is; its `id` names it in rules (`loosen = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A shell wired to a network socket.
    ReverseShell,
    /// A shell listening on a port.
    BindShell,
    /// Secrets or private files sent to the network.
    Exfiltration,
    /// Reading credentials or private data.
    SecretRead,
    /// Modifying system authentication, loader or sudo configuration.
    AuthWrite,
    /// Installing something that runs later (rc files, cron, systemd, git hooks).
    Persistence,
    /// Irreversible destruction (`rm -rf /`, `mkfs`, `dd of=/dev/sda`, fork bombs).
    Destructive,
    /// Downloaded text fed to an interpreter (`curl | sh`).
    PipeToShell,
    /// A download made executable or run.
    DownloadExec,
    /// Disguised commands: encoded, quoted-apart or variable command names, `$IFS`.
    Obfuscation,
    /// Terminal escapes, bidi overrides, invisible or look-alike characters.
    HiddenCharacters,
    /// A shell started through another program (GTFOBins "shell").
    ShellEscape,
    /// An interactive shell started directly.
    ShellSpawn,
    /// Becoming another user (`sudo`, `su`, `doas`).
    PrivilegeEscalation,
    /// Setting SUID/SGID bits or file capabilities.
    Setuid,
    /// Creating or changing user accounts and groups.
    AccountChange,
    /// Breaking out of a container or into the host's namespaces.
    ContainerEscape,
    /// Making programs load a library or engine of the caller's choosing.
    LibraryInjection,
    /// Erasing history or logs.
    LogTampering,
    /// Rewriting or discarding git history or work.
    GitDestructive,
    /// Running commands through another program's inline code or escapes.
    CodeExecution,
    /// Fetching a payload from a bare address or over a raw socket.
    PayloadDownload,
    /// Changing kernel or system settings.
    SystemChange,
    /// An MCP tool description that instructs the model (hidden directives,
    /// concealment, smuggling data, invisible characters).
    ToolPoisoning,
    /// An MCP tool definition that differs from the one approved before.
    ToolChanged,
}

impl FindingKind {
    /// The stable id used in rules and verdicts (`threat:<id>`).
    pub fn id(self) -> &'static str {
        match self {
            FindingKind::ReverseShell => "reverse-shell",
            FindingKind::BindShell => "bind-shell",
            FindingKind::Exfiltration => "exfiltration",
            FindingKind::SecretRead => "secret-read",
            FindingKind::AuthWrite => "auth-write",
            FindingKind::Persistence => "persistence",
            FindingKind::Destructive => "destructive",
            FindingKind::PipeToShell => "pipe-to-shell",
            FindingKind::DownloadExec => "download-exec",
            FindingKind::Obfuscation => "obfuscation",
            FindingKind::HiddenCharacters => "hidden-characters",
            FindingKind::ShellEscape => "shell-escape",
            FindingKind::ShellSpawn => "shell-spawn",
            FindingKind::PrivilegeEscalation => "privilege-escalation",
            FindingKind::Setuid => "setuid",
            FindingKind::AccountChange => "account-change",
            FindingKind::ContainerEscape => "container-escape",
            FindingKind::LibraryInjection => "library-injection",
            FindingKind::LogTampering => "log-tampering",
            FindingKind::GitDestructive => "git-destructive",
            FindingKind::CodeExecution => "code-execution",
            FindingKind::PayloadDownload => "payload-download",
            FindingKind::SystemChange => "system-change",
            FindingKind::ToolPoisoning => "tool-poisoning",
            FindingKind::ToolChanged => "tool-changed",
        }
    }

    /// Every kind, for validating `loosen = [...]` in policies.
    pub const ALL: [FindingKind; 25] = [
        FindingKind::ReverseShell,
        FindingKind::BindShell,
        FindingKind::Exfiltration,
        FindingKind::SecretRead,
        FindingKind::AuthWrite,
        FindingKind::Persistence,
        FindingKind::Destructive,
        FindingKind::PipeToShell,
        FindingKind::DownloadExec,
        FindingKind::Obfuscation,
        FindingKind::HiddenCharacters,
        FindingKind::ShellEscape,
        FindingKind::ShellSpawn,
        FindingKind::PrivilegeEscalation,
        FindingKind::Setuid,
        FindingKind::AccountChange,
        FindingKind::ContainerEscape,
        FindingKind::LibraryInjection,
        FindingKind::LogTampering,
        FindingKind::GitDestructive,
        FindingKind::CodeExecution,
        FindingKind::PayloadDownload,
        FindingKind::SystemChange,
        FindingKind::ToolPoisoning,
        FindingKind::ToolChanged,
    ];

    /// Parse an id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }
}

/// One reason a command is dangerous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of danger.
    pub kind: FindingKind,
    /// How bad.
    pub threat: Threat,
    /// The sub-command it was found in (its source text).
    pub command: String,
    /// Why, in words.
    pub why: String,
    /// Index of the sub-command in [`Script::commands`], when it is in one.
    pub index: Option<usize>,
    /// The pipeline it concerns as a whole (data flowing between stages).
    pub pipeline: Option<u32>,
}

impl Finding {
    /// A finding about no particular sub-command (the whole text, a file path).
    pub fn general(kind: FindingKind, threat: Threat, command: String, why: String) -> Self {
        Finding {
            kind,
            threat,
            command,
            why,
            index: None,
            pipeline: None,
        }
    }
}

/// Classify every command of a parsed script.
pub fn analyze_script(script: &Script, home: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if !script.hidden_characters.is_empty() {
        out.push(Finding {
            index: None,
            pipeline: None,
            kind: FindingKind::HiddenCharacters,
            threat: Threat::High,
            command: String::new(),
            why: format!(
                "the command contains {}: what is shown may not be what runs",
                script.hidden_characters.join(", ")
            ),
        });
    }
    for name in &script.self_spawning_functions {
        out.push(Finding {
            index: None,
            pipeline: None,
            kind: FindingKind::Destructive,
            threat: Threat::Critical,
            command: name.clone(),
            why: format!("function `{name}` spawns copies of itself (a fork bomb)"),
        });
    }
    for cmd in &script.commands {
        checks::command(cmd, script, home, &mut out);
    }
    system::script_level(script, home, &mut out);
    escalate_privileged(script, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.threat));
    out.dedup_by(|a, b| a.kind == b.kind && a.command == b.command);
    out
}

/// A finding in a command that runs as root is critical: the damage is no longer
/// bounded by the user's own permissions.
fn escalate_privileged(script: &Script, out: &mut [Finding]) {
    if !script.commands.iter().any(SimpleCommand::privileged) {
        return;
    }
    // Script-wide on purpose: `echo payload > f; sudo prog f` splits the setup and
    // the root execution over two commands, and the pair is the attack.
    for f in out.iter_mut() {
        if f.threat == Threat::High
            && f.kind != FindingKind::PrivilegeEscalation
            && f.kind != FindingKind::GitDestructive
        {
            f.threat = Threat::Critical;
            f.why.push_str(", as another user (root)");
        }
    }
}
