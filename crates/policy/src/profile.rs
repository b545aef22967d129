//! `[profile.NAME]`: what `warden run` grants one kind of agent beyond the
//! sandbox's defaults (writable paths, passed environment, ports, limits).
//! Profiles widen what the sandbox allows, so they come only from the system
//! and user layers: a project layer lives in the workspace, which is the
//! agent's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A profile as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// The agent name the session is registered under (selects `[agents.NAME]`).
    #[serde(default)]
    pub agent: Option<String>,
    /// More writable paths (absolute, or `~/…`).
    #[serde(default)]
    pub read_write: Vec<String>,
    /// More hidden paths (absolute, or `~/…`).
    #[serde(default)]
    pub hidden: Vec<String>,
    /// Environment variables passed in (`NAME`, or `PREFIX*`).
    #[serde(default)]
    pub env: Vec<String>,
    /// TCP ports the sandbox may bind (inside its own network namespace).
    #[serde(default)]
    pub tcp_bind: Vec<u16>,
    /// TCP ports the sandbox may connect to.
    #[serde(default)]
    pub tcp_connect: Vec<u16>,
    /// CPU seconds per process.
    #[serde(default)]
    pub cpu_seconds: Option<u64>,
    /// Address space per process, in MiB.
    #[serde(default)]
    pub memory_mb: Option<u64>,
    /// Processes of the sandbox's user.
    #[serde(default)]
    pub processes: Option<u64>,
    /// Open files per process.
    #[serde(default)]
    pub open_files: Option<u64>,
}

/// A profile with its paths made absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// See [`RawProfile::agent`].
    pub agent: Option<String>,
    /// Writable paths.
    pub read_write: Vec<PathBuf>,
    /// Hidden paths.
    pub hidden: Vec<PathBuf>,
    /// See [`RawProfile::env`].
    pub env: Vec<String>,
    /// See [`RawProfile::tcp_bind`].
    pub tcp_bind: Vec<u16>,
    /// See [`RawProfile::tcp_connect`].
    pub tcp_connect: Vec<u16>,
    /// See [`RawProfile::cpu_seconds`].
    pub cpu_seconds: Option<u64>,
    /// Address space per process, in bytes.
    pub memory_bytes: Option<u64>,
    /// See [`RawProfile::processes`].
    pub processes: Option<u64>,
    /// See [`RawProfile::open_files`].
    pub open_files: Option<u64>,
}

/// Checks and resolves one profile; the error names the offending entry.
pub fn compile(name: &str, raw: RawProfile, home: &Path) -> Result<Profile, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "profile name {name:?}: use letters, digits, '-', '_' and '.'"
        ));
    }
    let path = |what: &str, p: &str| -> Result<PathBuf, String> {
        let resolved = match p.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None if p == "~" => home.to_path_buf(),
            None => PathBuf::from(p),
        };
        if !resolved.is_absolute() {
            return Err(format!("{what} {p:?} is not absolute (write /… or ~/…)"));
        }
        if resolved
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!("{what} {p:?} holds '..'"));
        }
        Ok(resolved)
    };
    let mut read_write = Vec::new();
    for p in &raw.read_write {
        let r = path("read_write", p)?;
        if r == Path::new("/") || r == home {
            return Err(format!(
                "read_write {p:?} would make everything (or the whole home) writable"
            ));
        }
        read_write.push(r);
    }
    let hidden = raw
        .hidden
        .iter()
        .map(|p| path("hidden", p))
        .collect::<Result<_, _>>()?;
    for e in &raw.env {
        let bare = e.strip_suffix('*').unwrap_or(e);
        if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "env {e:?}: a variable name, or a prefix ending in '*'"
            ));
        }
    }
    Ok(Profile {
        agent: raw.agent,
        read_write,
        hidden,
        env: raw.env,
        tcp_bind: raw.tcp_bind,
        tcp_connect: raw.tcp_connect,
        cpu_seconds: raw.cpu_seconds,
        memory_bytes: raw.memory_mb.map(|m| m.saturating_mul(1 << 20)),
        processes: raw.processes,
        open_files: raw.open_files,
    })
}

/// Merges a less trusted layer's profiles into `into`: a name already
/// defined keeps its definition and only gains the other's hidden paths.
pub fn merge(into: &mut BTreeMap<String, Profile>, from: BTreeMap<String, Profile>) {
    for (name, p) in from {
        match into.get_mut(&name) {
            Some(existing) => existing.hidden.extend(p.hidden),
            None => {
                into.insert(name, p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawProfile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn paths_resolve_and_bad_entries_are_named() {
        let home = Path::new("/home/a");
        let p = compile(
            "dev",
            raw("read_write = [\"~/.cache/x\", \"/srv/data\"]\nmemory_mb = 512\nenv = [\"GO*\"]"),
            home,
        )
        .unwrap();
        assert_eq!(
            p.read_write,
            [
                PathBuf::from("/home/a/.cache/x"),
                PathBuf::from("/srv/data")
            ]
        );
        assert_eq!(p.memory_bytes, Some(512 << 20));
        for (text, needle) in [
            ("read_write = [\"rel/path\"]", "not absolute"),
            ("read_write = [\"/\"]", "everything"),
            ("read_write = [\"~\"]", "whole home"),
            ("hidden = [\"/a/../b\"]", "'..'"),
            ("env = [\"A-B\"]", "env \"A-B\""),
        ] {
            let e = compile("dev", raw(text), home).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(compile("bad name", RawProfile::default(), home).is_err());
        assert!(toml::from_str::<RawProfile>("writable = []").is_err());
    }

    #[test]
    fn a_less_trusted_layer_only_adds_hidden_paths() {
        let home = Path::new("/h");
        let mut sys = BTreeMap::new();
        sys.insert(
            "x".to_string(),
            compile("x", raw("read_write = [\"/srv\"]"), home).unwrap(),
        );
        let mut user = BTreeMap::new();
        user.insert(
            "x".to_string(),
            compile(
                "x",
                raw("read_write = [\"/etc\"]\nhidden = [\"/srv/secret\"]"),
                home,
            )
            .unwrap(),
        );
        user.insert("y".to_string(), Profile::default());
        merge(&mut sys, user);
        assert_eq!(sys["x"].read_write, [PathBuf::from("/srv")]);
        assert_eq!(sys["x"].hidden, [PathBuf::from("/srv/secret")]);
        assert!(sys.contains_key("y"));
    }
}
