//! From a workspace and a profile's few choices to the full [`Spec`]: which
//! secrets to hide, which files to protect inside the grants, which
//! environment to pass, what Landlock allows. Kept apart from the launching
//! so that `warden run --explain` prints exactly what would be enforced.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::floor::FloorGrants;
use crate::launch::{Limits, Spec};
use crate::view::{DEVICES, ViewPlan};

/// Secrets under the home directory that the sandbox never shows.
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".aws",
    ".azure",
    ".gnupg",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".password-store",
    ".vault-token",
    ".npmrc",
    ".pypirc",
    ".pki",
    ".mozilla",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".config/gh",
    ".config/gcloud",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".config/warden",
    ".local/share/keyrings",
    ".local/state/warden",
    ".terraform.d/credentials.tfrc.json",
];

/// Secrets of the machine.
pub const SYSTEM_SECRETS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssl/private",
    "/etc/wireguard",
    "/etc/NetworkManager/system-connections",
    "/etc/krb5.keytab",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/var/lib/warden",
];

/// Files that run code later on the host, or configure the agent or warden,
/// and so stay read-only even inside a writable grant (as do the login
/// scripts, [`warden_types::LOGIN_SCRIPTS`]).
pub const PROTECTED_NAMES: &[&str] = &[
    ".envrc",
    ".warden",
    ".claude/settings.json",
    ".claude/settings.local.json",
    ".codex/config.toml",
    ".codex/requirements.toml",
    ".gemini/settings.json",
    ".cursor/hooks.json",
    ".mcp.json",
    ".vscode/settings.json",
    ".vscode/tasks.json",
];

/// Environment variables that make a program load code of the caller's
/// choosing; dropped unless a profile passes them by name.
pub const CODE_LOADING_ENV: &[&str] = &[
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "NODE_OPTIONS",
    "BASH_ENV",
    "ENV",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "GIT_CONFIG_GLOBAL",
    "PROMPT_COMMAND",
];

/// Variables passed from the caller's environment by default.
pub const DEFAULT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "TZ",
    "NO_COLOR",
];

/// The choices a profile makes; everything else follows from them.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// The workspace (read-write).
    pub workspace: PathBuf,
    /// The caller's home directory.
    pub home: PathBuf,
    /// Further writable paths (missing ones are skipped).
    pub read_write: Vec<PathBuf>,
    /// Further hidden paths (warden's own state and config among them).
    pub hidden: Vec<PathBuf>,
    /// Environment variables to pass beyond [`DEFAULT_ENV`] (a name ending
    /// in `*` passes every variable with that prefix).
    pub env: Vec<String>,
    /// Variables to set.
    pub set_env: Vec<(String, String)>,
    /// TCP ports that may be bound / connected to (inside the sandbox's own
    /// network namespace).
    pub tcp_bind: Vec<u16>,
    /// See `tcp_bind`.
    pub tcp_connect: Vec<u16>,
    /// Resource limits.
    pub limits: Limits,
    /// Start even when protections are missing.
    pub allow_degraded: bool,
    /// The port on the sandbox's loopback where the egress proxy is bridged
    /// in; the proxy variables of common tools point at it. `None`: no
    /// network at all.
    pub egress_port: Option<u16>,
}

/// What planning found worth telling the user.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    /// Git repositories found in the workspace.
    pub repos: usize,
    /// Whether the walk stopped at [`crate::repos::WALK_LIMIT`] entries.
    pub walk_truncated: bool,
}

/// Builds the spec for `argv` in `cwd` from `choices` and the caller's
/// environment `env`.
pub fn plan(
    choices: &Choices,
    argv: Vec<String>,
    cwd: PathBuf,
    env: &[(String, String)],
) -> (Spec, Notes) {
    let mut read_write = vec![choices.workspace.clone()];
    read_write.extend(
        choices
            .read_write
            .iter()
            .filter_map(|p| p.canonicalize().ok()),
    );
    let mut hidden: Vec<PathBuf> = HOME_SECRETS.iter().map(|s| choices.home.join(s)).collect();
    hidden.extend(SYSTEM_SECRETS.iter().map(PathBuf::from));
    hidden.extend(choices.hidden.iter().cloned());
    // Connecting to a socket needs no write access, and Landlock below ABI 9
    // does not govern it: every socket the host has bound is covered.
    hidden.extend(bound_unix_sockets());
    let hidden = canonical_set(hidden);
    let mut notes = Notes::default();
    let mut found = BTreeSet::new();
    let names = || PROTECTED_NAMES.iter().chain(warden_types::LOGIN_SCRIPTS);
    for root in &read_write {
        found.extend(names().map(|n| root.join(n)));
        let repos = crate::repos::find(root);
        notes.repos += repos.found.len();
        notes.walk_truncated |= repos.truncated;
        for dir in repos.found {
            // Made first where missing, so that it cannot be planted.
            let hooks = dir.join("hooks");
            let _ = std::fs::create_dir_all(&hooks);
            found.insert(hooks);
            found.insert(dir.join("config"));
        }
    }
    // Names under the home directory count inside a grant below it too
    // (`~/.claude/settings.json` when `~/.claude` is writable).
    found.extend(names().map(|n| choices.home.join(n)));
    let inside = |p: &Path| read_write.iter().any(|r| p.starts_with(r) && p != r);
    let protected: BTreeSet<PathBuf> = found
        .into_iter()
        .filter_map(|p| p.canonicalize().ok())
        .filter(|p| inside(p))
        .collect();
    // Each directory between a grant and a protected path is pinned (a mount
    // point cannot be renamed), so that `mv .git x` and a fresh `.git` with
    // a planted config cannot take a protected path's place.
    let mut pinned = BTreeSet::new();
    for p in &protected {
        let mut dir = p.parent();
        while let Some(d) = dir.filter(|d| inside(d)) {
            pinned.insert(d.to_path_buf());
            dir = d.parent();
        }
    }
    let view = ViewPlan {
        read_write: read_write.clone(),
        hidden,
        pinned: pinned.into_iter().collect(),
        protected: protected.into_iter().collect(),
    };
    let mut writable = read_write;
    writable.extend(["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from));
    let mut devices: Vec<PathBuf> = DEVICES.iter().map(|d| Path::new("/dev").join(d)).collect();
    devices.push("/dev/pts".into());
    let floor = FloorGrants {
        read: vec!["/".into()],
        write: writable,
        devices,
        tcp_bind: choices.tcp_bind.clone(),
        tcp_connect: choices
            .tcp_connect
            .iter()
            .copied()
            .chain(choices.egress_port)
            .collect(),
    };
    let mut set_env = choices.egress_port.map(proxy_env).unwrap_or_default();
    set_env.extend(choices.set_env.iter().cloned());
    let spec = Spec {
        argv,
        cwd,
        env: environment(env, &choices.env, &set_env),
        view,
        floor,
        limits: choices.limits.clone(),
        supervise: true,
        allow_degraded: choices.allow_degraded,
        egress_port: choices.egress_port,
        cgroup: None,
    };
    (spec, notes)
}

/// The proxy settings of the tools agents run, pointing at the egress
/// bridge on the sandbox's loopback (the only way out). Loopback itself stays
/// direct: it is the sandbox's own.
pub fn proxy_env(port: u16) -> Vec<(String, String)> {
    let http = format!("http://127.0.0.1:{port}");
    let socks = format!("socks5h://127.0.0.1:{port}");
    let jvm = format!(
        "-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort={port} \
         -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort={port}"
    );
    let mut out = Vec::new();
    for k in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        out.push((k.to_string(), http.clone()));
    }
    for k in ["ALL_PROXY", "all_proxy"] {
        out.push((k.to_string(), socks.clone()));
    }
    for k in ["NO_PROXY", "no_proxy"] {
        out.push((k.to_string(), "localhost,127.0.0.1,::1".to_string()));
    }
    for k in [
        "npm_config_proxy",
        "npm_config_https_proxy",
        "PIP_PROXY",
        "CARGO_HTTP_PROXY",
    ] {
        out.push((k.to_string(), http.clone()));
    }
    // Node's own fetch honours the variables above only when asked to.
    out.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
    out.push(("JAVA_TOOL_OPTIONS".into(), jvm));
    out
}

/// The command's environment: the defaults and the profile's names from the
/// caller's, code-loading variables only when named exactly, then the
/// profile's own settings; `TMPDIR` is always the sandbox's `/tmp`.
pub fn environment(
    caller: &[(String, String)],
    pass: &[String],
    set: &[(String, String)],
) -> Vec<(String, String)> {
    let wanted = |k: &str| {
        if CODE_LOADING_ENV.contains(&k) {
            return pass.iter().any(|p| p == k);
        }
        DEFAULT_ENV.contains(&k)
            || k.starts_with("LC_")
            || pass.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => k.starts_with(prefix),
                None => p == k,
            })
    };
    let mut out: Vec<(String, String)> = caller
        .iter()
        .filter(|(k, _)| wanted(k) && k != "TMPDIR")
        .cloned()
        .collect();
    for (k, v) in set {
        out.retain(|(o, _)| o != k);
        out.push((k.clone(), v.clone()));
    }
    out.push(("TMPDIR".into(), "/tmp".into()));
    out.push(("WARDEN_SANDBOX".into(), "1".into()));
    out
}

/// The paths of the Unix sockets bound in this (the host's) network
/// namespace, from /proc/net/unix (its last column; `@` marks abstract ones,
/// which the sandbox's own network namespace already separates).
pub fn bound_unix_sockets() -> Vec<PathBuf> {
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else {
        return Vec::new();
    };
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .collect()
}

fn canonical_set(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for p in paths {
        if let Ok(c) = p.canonicalize() {
            out.insert(c);
        }
        if p.symlink_metadata()
            .is_ok_and(|m| !m.file_type().is_symlink())
        {
            out.insert(p);
        }
    }
    out.into_iter().collect()
}

/// A plain-language account of what `spec` enforces.
pub fn explain(spec: &Spec, notes: &Notes) -> String {
    let mut s = String::new();
    let abi = crate::floor::kernel_abi();
    let _ = writeln!(s, "command:     {}", spec.argv.join(" "));
    let _ = writeln!(s, "working dir: {}", spec.cwd.display());
    let _ = writeln!(
        s,
        "namespaces:  user, mount, pid, ipc, uts, network (empty: loopback only), cgroup"
    );
    let _ = match spec.egress_port {
        Some(p) => writeln!(
            s,
            "network:     out only through warden's egress proxy, bridged to 127.0.0.1:{p} \
             (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, npm, pip, cargo, JVM point at it)"
        ),
        None => writeln!(s, "network:     none (loopback only)"),
    };
    let _ = writeln!(s, "\nfiles (mount view):");
    let _ = writeln!(s, "  read-only   / (the host tree, at the same paths)");
    for p in &spec.view.read_write {
        let _ = writeln!(s, "  read-write  {}", p.display());
    }
    let _ = writeln!(
        s,
        "  fresh       /tmp, /var/tmp, /run, /dev/shm, /proc (own pids only)"
    );
    let _ = writeln!(s, "  devices     {}, /dev/pts", DEVICES.join(", "));
    for p in &spec.view.hidden {
        let _ = writeln!(s, "  hidden      {}", p.display());
    }
    for p in &spec.view.pinned {
        let _ = writeln!(s, "  pinned      {} (cannot be renamed)", p.display());
    }
    for p in &spec.view.protected {
        let _ = writeln!(s, "  protected   {} (read-only)", p.display());
    }
    let _ = writeln!(
        s,
        "  ({} git repositories found{})",
        notes.repos,
        if notes.walk_truncated {
            "; the search stopped early, nested repositories may be missing"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "\nLandlock (kernel ABI {abi}):");
    for (needs, feature) in crate::floor::FEATURES {
        let state = if *needs <= abi {
            "enforced"
        } else {
            "not on this kernel"
        };
        let _ = writeln!(s, "  {state:<19} {feature}");
    }
    let ports = |v: &[u16]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(
        s,
        "  TCP bind: {}; TCP connect: {}",
        ports(&spec.floor.tcp_bind),
        ports(&spec.floor.tcp_connect)
    );
    let _ = writeln!(s, "\nseccomp (refused, each reported to the supervisor):");
    for d in crate::seccomp::denied() {
        let _ = writeln!(s, "  {:<18} {}", d.name, d.why);
    }
    for r in crate::seccomp::ARGUMENT_RULES {
        let _ = writeln!(s, "  {r}");
    }
    let _ = writeln!(
        s,
        "\nexecs:       every execve/execveat of the tree is decided by the daemon"
    );
    let _ = writeln!(s, "privileges:  no_new_privs, every capability dropped");
    let keys: Vec<&str> = spec.env.iter().map(|(k, _)| k.as_str()).collect();
    let _ = writeln!(s, "environment: {}", keys.join(" "));
    let l = &spec.limits;
    let show = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
    let _ = writeln!(
        s,
        "limits:      cpu {} s, memory {} bytes, processes {}, open files {} (rlimits)",
        show(l.cpu_seconds),
        show(l.memory_bytes),
        show(l.processes),
        show(l.open_files)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_is_clean_unless_the_profile_passes_a_name() {
        let caller = env(&[
            ("PATH", "/usr/bin"),
            ("LD_PRELOAD", "/evil.so"),
            ("NODE_OPTIONS", "--require /evil.js"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("ANTHROPIC_API_KEY", "k"),
            ("TMPDIR", "/host/tmp"),
            ("LC_ALL", "C"),
        ]);
        let out = environment(&caller, &["ANTHROPIC_*".into()], &[]);
        let keys: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "PATH",
                "ANTHROPIC_API_KEY",
                "LC_ALL",
                "TMPDIR",
                "WARDEN_SANDBOX"
            ]
        );
        assert!(out.contains(&("TMPDIR".into(), "/tmp".into())));
        // A wildcard does not reach code-loading variables; the exact name does.
        let out = environment(&caller, &["*".into(), "NODE_OPTIONS".into()], &[]);
        assert!(out.iter().any(|(k, _)| k == "NODE_OPTIONS"));
        assert!(!out.iter().any(|(k, _)| k == "LD_PRELOAD"));
    }

    #[test]
    fn git_hooks_and_config_of_nested_repositories_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().canonicalize().unwrap();
        use crate::repos::fake_repository;
        // Two repositories, and a submodule's inside the superproject's.
        for repo in [".git", "vendor/lib/.git", ".git/modules/sub"] {
            fake_repository(&ws.join(repo));
        }
        // A work directory whose `.git` links the store and `HEAD` of another.
        let linked = ws.join("work/.git");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(ws.join(".git/objects"), linked.join("objects")).unwrap();
        std::os::unix::fs::symlink(ws.join(".git/HEAD"), linked.join("HEAD")).unwrap();
        // An object store is not entered: what looks like a repository in it
        // is none git would use.
        let stray = ws.join("vendor/lib/.git/objects/ab");
        fake_repository(&stray);
        // Nor is a directory a repository because its entries carry the names
        // but not the kinds.
        std::fs::create_dir_all(ws.join("data/HEAD")).unwrap();
        std::fs::write(ws.join("data/objects"), "").unwrap();
        std::fs::write(ws.join(".envrc"), "").unwrap();
        let choices = Choices {
            workspace: ws.clone(),
            home: ws.join("home"),
            ..Choices::default()
        };
        let (spec, notes) = plan(&choices, vec!["true".into()], ws.clone(), &[]);
        assert_eq!(notes.repos, 4);
        for p in [
            ".git/hooks",
            ".git/config",
            "vendor/lib/.git/hooks",
            ".git/modules/sub/hooks",
            "work/.git/hooks",
            ".envrc",
        ] {
            assert!(
                spec.view.protected.contains(&ws.join(p)),
                "{p} not protected"
            );
        }
        assert!(ws.join("vendor/lib/.git/hooks").is_dir());
        assert!(!stray.join("hooks").exists());
        assert!(!ws.join("data/hooks").exists());
    }
}
