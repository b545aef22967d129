//! What a path means to an attacker: secrets to steal, files whose modification
//! hands over the machine, places that run code at the next login.
//!
//! Paths are compared after `~`, `$HOME`, `/root/` and `/home/<user>/` are folded to
//! one home form, so a secret is recognised in anyone's home directory.

/// What touching a path would mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathRisk {
    /// Credentials or private data: reading it is a secret read.
    pub secret: bool,
    /// System authentication or loader configuration: writing it is a takeover.
    pub auth: bool,
    /// Runs code later (rc files, cron, systemd units, git hooks, agent config).
    pub persistence: bool,
    /// A block device or raw memory.
    pub device: bool,
    /// A directory whose recursive deletion destroys the system or a home.
    pub root_dir: bool,
    /// Logs and shell history.
    pub log: bool,
    /// Lives in root's home or a system location (writing it needs or grants root).
    pub system: bool,
    /// A login or shell start-up script: writing it runs code in every new shell.
    pub login_script: bool,
}

impl PathRisk {
    /// Whether anything at all is sensitive.
    pub fn any(&self) -> bool {
        self.secret || self.auth || self.persistence || self.device || self.root_dir || self.log
    }
}

/// Fold a path to `~/...` if it is in some home directory. Returns the folded path
/// and whether the home was root's.
fn fold_home<'a>(p: &'a str, home: &str) -> (std::borrow::Cow<'a, str>, bool) {
    let home = home.trim_end_matches('/');
    if p == "~" || p == home || p == "/root" {
        return ("~".into(), p == "/root");
    }
    if let Some(r) = p.strip_prefix("~/") {
        return (format!("~/{r}").into(), false);
    }
    if !home.is_empty()
        && let Some(r) = p.strip_prefix(home).and_then(|r| r.strip_prefix('/'))
    {
        return (format!("~/{r}").into(), home == "/root");
    }
    if let Some(r) = p.strip_prefix("/root/") {
        return (format!("~/{r}").into(), true);
    }
    if let Some(rest) = p
        .strip_prefix("/home/")
        .or_else(|| p.strip_prefix("/Users/"))
    {
        return match rest.split_once('/') {
            Some((_, r)) => (format!("~/{r}").into(), false),
            None => ("~".into(), false),
        };
    }
    (p.into(), false)
}

/// Collapse `//`, `/./` and `x/..` lexically; the classifier sees words, not files.
fn lexical(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != ".." && *l != "~") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if abs {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

const SECRET_HOME: &[&str] = &[
    ".aws/credentials",
    ".aws/cli/cache",
    ".aws/sso/cache",
    ".gnupg",
    ".password-store",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".docker/config.json",
    ".kube/config",
    ".config/gh/hosts.yml",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".gem/credentials",
    ".config/gcloud",
    ".azure",
    ".terraform.d/credentials.tfrc.json",
    ".vault-token",
    ".pgpass",
    ".my.cnf",
    ".local/share/keyrings",
    ".mozilla/firefox",
    ".config/google-chrome",
    ".config/chromium",
    ".config/BraveSoftware",
    ".m2/settings.xml",
];
const HISTORY: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
    ".sh_history",
    ".node_repl_history",
];
const SECRET_SYSTEM: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/master.passwd",
    "/etc/security/opasswd",
    "/etc/sudoers",
    "/proc/kcore",
    "/dev/mem",
    "/dev/kmem",
    "/var/run/secrets",
    "/run/secrets",
    "/etc/ssl/private",
];
const AUTH_SYSTEM: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/doas.conf",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/etc/pam.d",
    "/etc/security",
    "/etc/ssh/sshd_config",
    "/etc/polkit-1",
    "/etc/master.passwd",
    "/etc/login.defs",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/environment",
    "/etc/modprobe.d",
    "/etc/apt/sources.list",
];
const PERSIST_SYSTEM: &[&str] = &[
    "/etc/crontab",
    "/etc/cron.d",
    "/etc/cron.daily",
    "/etc/cron.hourly",
    "/etc/cron.weekly",
    "/etc/cron.monthly",
    "/var/spool/cron",
    "/etc/systemd",
    "/lib/systemd",
    "/usr/lib/systemd",
    "/etc/init.d",
    "/etc/rc.local",
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/xdg/autostart",
    "/etc/udev/rules.d",
    "/etc/network/if-up.d",
];
/// Persistence under the home directory beyond the login scripts
/// ([`warden_types::LOGIN_SCRIPTS`]).
const PERSIST_HOME: &[&str] = &[
    ".config/autostart",
    ".config/systemd",
    ".ssh/authorized_keys",
    ".ssh/rc",
];
const ROOT_DIRS: &[&str] = &[
    "/",
    "/*",
    "~",
    "~/*",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/boot",
    "/var",
    "/home",
    "/lib",
    "/lib64",
    "/opt",
    "/root",
    "/sys",
    "/proc",
    "/dev",
    "/srv",
    "/usr/local",
];
const SYSTEM_PREFIXES: &[&str] = &[
    "/etc/",
    "/usr/",
    "/bin/",
    "/sbin/",
    "/lib",
    "/boot/",
    "/var/",
    "/opt/",
    "/sys/",
    "/proc/sys/",
];

fn under(p: &str, prefix: &str) -> bool {
    p == prefix || p.strip_prefix(prefix).is_some_and(|r| r.starts_with('/'))
}

/// Classify one path-like word (already `~`-expanded or not; both work).
pub fn classify(raw: &str, home: &str) -> PathRisk {
    let mut r = PathRisk::default();
    let p = raw.trim_end_matches('/');
    let p = if p.is_empty() && raw.starts_with('/') {
        "/"
    } else {
        p
    };
    let lex = lexical(p);
    let (folded, root_home) = fold_home(&lex, home);
    let f = folded.as_ref();
    r.root_dir =
        ROOT_DIRS.contains(&f) || ROOT_DIRS.contains(&lex.as_str()) || f == "~/" || raw == "/*";
    if let Some(rel) = f.strip_prefix("~/") {
        r.secret |= SECRET_HOME.iter().any(|s| under(rel, s));
        r.secret |= rel.starts_with(".ssh/")
            && !rel.ends_with(".pub")
            && rel != ".ssh/known_hosts"
            && rel != ".ssh/config";
        r.log |= HISTORY.iter().any(|s| under(rel, s));
        r.secret |= r.log;
        let login = warden_types::LOGIN_SCRIPTS.iter().any(|s| under(rel, s));
        r.persistence |= login || PERSIST_HOME.iter().any(|s| under(rel, s));
        r.auth |= under(rel, ".ssh/authorized_keys");
        r.login_script |= login;
        r.system |= root_home;
    }
    let name = lex.rsplit('/').next().unwrap_or("");
    // Credentials by file name wherever they are: private keys and dotenv files.
    r.secret |= name == ".env"
        || (name.starts_with(".env.")
            && !name.ends_with(".example")
            && !name.ends_with(".sample")
            && !name.ends_with(".template"));
    r.secret |= name.starts_with("id_")
        && (name.contains("rsa")
            || name.contains("ed25519")
            || name.contains("ecdsa")
            || name.contains("dsa"))
        && !name.ends_with(".pub");
    r.secret |= name.ends_with(".pem") && name.contains("key")
        || name.ends_with(".key")
        || name.ends_with(".p12")
        || name.ends_with(".pfx")
        || name.ends_with(".kdbx");
    r.secret |= lex.starts_with("/proc/") && (lex.ends_with("/environ") || lex.ends_with("/mem"));
    r.secret |= SECRET_SYSTEM.iter().any(|s| under(&lex, s));
    r.secret |= lex.starts_with("/etc/ssh/ssh_host_") && !lex.ends_with(".pub");
    r.auth |= AUTH_SYSTEM.iter().any(|s| under(&lex, s));
    r.auth |= lex.starts_with("/etc/sudoers");
    r.persistence |=
        PERSIST_SYSTEM.iter().any(|s| under(&lex, s)) || lex.starts_with("/etc/profile.d");
    r.persistence |= lex.contains("/.git/hooks/")
        || lex.ends_with("/.git/hooks")
        || lex.starts_with(".git/hooks");
    r.log |= lex.starts_with("/var/log/") || lex == "/var/log";
    r.device |= is_device(&lex);
    r.system |= SYSTEM_PREFIXES.iter().any(|s| lex.starts_with(s)) || r.auth;
    r
}

/// Block devices and raw memory: writing them destroys disks.
pub fn is_device(p: &str) -> bool {
    let Some(dev) = p.strip_prefix("/dev/") else {
        return false;
    };
    [
        "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "disk", "mapper/", "md", "dm-", "loop", "mem",
        "kmem", "port",
    ]
    .iter()
    .any(|d| dev.starts_with(d))
}

/// Path-like tokens inside free text (inline code, option values): absolute paths,
/// `~/...`, and `./` or `../` relatives.
pub fn paths_in_text(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (bytes[i] == b'/'
            || bytes[i] == b'~'
            || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(|b| *b == b'/' || *b == b'.')))
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'_' | b'.' | b'/' | b'-')));
        if starts {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || matches!(
                        bytes[i],
                        b'/' | b'.' | b'_' | b'-' | b'~' | b'+' | b'@' | b'*'
                    ))
            {
                i += 1;
            }
            if let Some(s) = text.get(start..i)
                && s.len() > 1
            {
                out.push(s);
            }
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_any_home() {
        for p in [
            "~/.ssh/id_rsa",
            "/home/dev/.aws/credentials",
            "/root/.netrc",
            "/home/x/.bash_history",
            "/etc/shadow",
            "/proc/self/environ",
            "./.env",
            "/srv/app/.env.production",
        ] {
            assert!(classify(p, "/home/me").secret, "{p}");
        }
        for p in [
            "~/.ssh/id_rsa.pub",
            "src/main.rs",
            ".env.example",
            "/etc/hostname",
            "~/.ssh/known_hosts",
        ] {
            assert!(!classify(p, "/home/me").secret, "{p}");
        }
    }

    #[test]
    fn takeover_and_persistence_targets() {
        assert!(classify("/etc/sudoers.d/x", "/h").auth);
        assert!(classify("/etc/profile.d/x.sh", "/h").persistence);
        assert!(
            classify("/root/.bashrc", "/h").persistence && classify("/root/.bashrc", "/h").system
        );
        assert!(
            classify("/", "/h").root_dir
                && classify("~", "/h").root_dir
                && classify("/etc/", "/h").root_dir
        );
        assert!(classify("/usr/../", "/h").root_dir);
        assert!(!classify("./build", "/h").root_dir);
        assert!(classify("/dev/sda", "/h").device && !classify("/dev/null", "/h").device);
    }

    #[test]
    fn finds_paths_in_code() {
        assert_eq!(
            paths_in_text(r#"open("/etc/shadow").read()"#),
            vec!["/etc/shadow"]
        );
        assert_eq!(paths_in_text("a=1/2; cat ~/.netrc"), vec!["~/.netrc"]);
    }
}
