//! Lexical path handling: where a spelling points before the filesystem is consulted.
//!
//! The agent, not the policy, chooses how a path is written. `~/.ssh/id_rsa`,
//! `$HOME/.ssh/id_rsa`, `src/../../../home/dev/.ssh//id_rsa/` and `/home/dev/.ssh/id_rsa`
//! must all meet the same `Read(~/.ssh/**)` rule, so rules are matched against the
//! expanded, cleaned, absolute form built here. Lexical `..` collapsing is only sound
//! without symlinks (`link/..` is the link target's parent to the kernel), so the
//! resolver takes the uncleaned [`joined`] form from here and walks its components
//! against the filesystem itself.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::{MAX_PATH_BYTES, PathContext, PathError};

/// `raw` with its prefix expanded and made absolute, but not cleaned: `~` and `~/x`
/// (home), a leading `$HOME` / `${HOME}`, and a relative path joined to the cwd.
pub(super) fn joined(raw: &str, ctx: &PathContext) -> Result<Vec<u8>, PathError> {
    let bytes = raw.as_bytes();
    let input = || raw.to_owned();
    if bytes.is_empty() {
        return Err(PathError::Empty { input: input() });
    }
    if bytes.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong { input: input() });
    }
    let (base, rest): (&Path, &[u8]) = match bytes[0] {
        b'/' => (Path::new(""), bytes),
        b'~' => match bytes.get(1) {
            None | Some(b'/') => (home(raw, ctx)?, &bytes[1..]),
            // `~user`, `~+`, `~-`: shell forms naming directories we cannot know.
            Some(_) => return Err(PathError::OtherTilde { input: input() }),
        },
        b'$' => {
            let rest = home_var_rest(raw)?;
            (home(raw, ctx)?, rest)
        }
        _ => {
            let cwd = ctx
                .cwd
                .as_deref()
                .ok_or_else(|| PathError::UnknownCwd { input: input() })?;
            if !cwd.is_absolute() {
                return Err(PathError::RelativeCwd {
                    input: input(),
                    cwd: cwd.to_owned(),
                });
            }
            let mut out = Vec::with_capacity(cwd.as_os_str().len() + 1 + bytes.len());
            out.extend_from_slice(cwd.as_os_str().as_bytes());
            out.push(b'/');
            out.extend_from_slice(bytes);
            return no_nul(raw, out);
        }
    };
    let mut out = Vec::with_capacity(base.as_os_str().len() + rest.len());
    out.extend_from_slice(base.as_os_str().as_bytes());
    // String concatenation, as the shell does: `${HOME}x` is `/home/devx`.
    out.extend_from_slice(rest);
    no_nul(raw, out)
}

/// NUL is checked on the joined bytes so that a NUL smuggled in through the context
/// (a cwd reported by the agent) is caught too.
fn no_nul(raw: &str, out: Vec<u8>) -> Result<Vec<u8>, PathError> {
    if out.contains(&0) {
        return Err(PathError::Nul {
            input: raw.to_owned(),
        });
    }
    Ok(out)
}

fn home<'c>(raw: &str, ctx: &'c PathContext) -> Result<&'c Path, PathError> {
    if !ctx.home.is_absolute() {
        return Err(PathError::RelativeHome {
            input: raw.to_owned(),
            home: ctx.home.clone(),
        });
    }
    Ok(&ctx.home)
}

/// What follows a leading `$HOME` or `${HOME}` in `raw` (which starts with `$`). Any
/// other variable is an error: its value is whatever the agent exported.
fn home_var_rest(raw: &str) -> Result<&[u8], PathError> {
    if let Some(rest) = raw.strip_prefix("${HOME}") {
        return Ok(rest.as_bytes());
    }
    let ident = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    if let Some(rest) = raw.strip_prefix("$HOME") {
        // `$HOMEDIR` is a different variable; `$HOME.bak`, `$HOME/x` are `$HOME`.
        if !rest.as_bytes().first().is_some_and(ident) {
            return Ok(rest.as_bytes());
        }
    }
    let after = &raw[1..];
    let name = match after.strip_prefix('{') {
        Some(braced) => braced.split('}').next().unwrap_or(braced),
        None => {
            let end = after
                .bytes()
                .position(|b| !ident(&b))
                .unwrap_or(after.len());
            &after[..end]
        }
    };
    Err(PathError::UnknownVariable {
        input: raw.to_owned(),
        name: name.to_owned(),
    })
}

/// Collapses `//`, `.` and `..` in an absolute byte path; `..` never climbs above `/`.
fn clean_absolute(joined: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(joined.len());
    for comp in joined.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                // `out` is `/a/b/c`: dropping from the last `/` drops `c`; at the root
                // (`out` empty) there is nothing to drop.
                let cut = out.iter().rposition(|b| *b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            name => {
                out.push(b'/');
                out.extend_from_slice(name);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Lexical expansion: `~` and `~/x` (home), a leading `$HOME`/`${HOME}`, a relative
/// path joined to the agent's cwd (an error when the cwd is unknown), then `.`, `..`
/// (never above `/`), repeated and trailing slashes collapsed. No filesystem access:
/// symlinks are left in place (see [`resolve`](super::resolve())).
///
/// The result is absolute and clean, so `expand(expand(x))` is `expand(x)`.
pub fn expand(raw: &str, ctx: &PathContext) -> Result<PathBuf, PathError> {
    let joined = joined(raw, ctx)?;
    Ok(PathBuf::from(OsString::from_vec(clean_absolute(&joined))))
}

/// Components of `path` after lexical cleaning, and whether it is absolute. A
/// relative path keeps leading `..` (there is nothing to cancel them against).
fn clean_components(path: &Path) -> (bool, Vec<&[u8]>) {
    let bytes = path.as_os_str().as_bytes();
    let absolute = bytes.first() == Some(&b'/');
    let mut comps: Vec<&[u8]> = Vec::new();
    for comp in bytes.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => match comps.last() {
                Some(&last) if last != b".." => {
                    comps.pop();
                }
                _ if absolute => {}
                _ => comps.push(comp),
            },
            name => comps.push(name),
        }
    }
    (absolute, comps)
}

/// Lexically cleaned `path`: `.`, `..` and repeated or trailing slashes collapsed;
/// `..` never climbs above `/`, and leading `..` of a relative path are kept. An
/// empty relative result is `.`.
pub fn clean(path: &Path) -> PathBuf {
    let (absolute, comps) = clean_components(path);
    let mut out = Vec::with_capacity(path.as_os_str().len());
    if absolute {
        out.push(b'/');
    }
    for (i, comp) in comps.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(comp);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    PathBuf::from(OsString::from_vec(out))
}

/// Whether `path` is `root` or below it, component by component after lexical
/// cleaning: `/work/abc` is not within `/work/ab`, `/work/ab/../x` is not within
/// `/work/ab`. An absolute path is never within a relative root nor the reverse, so
/// pass the results of [`expand`] or [`resolve`](super::resolve()), never raw input.
pub fn is_within(path: &Path, root: &Path) -> bool {
    let (path_abs, path) = clean_components(path);
    let (root_abs, root) = clean_components(root);
    path_abs == root_abs && path.len() >= root.len() && path.iter().zip(&root).all(|(p, r)| p == r)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ctx() -> PathContext {
        PathContext {
            home: "/home/dev".into(),
            cwd: Some("/work/proj".into()),
            resolve_symlinks: false,
            cwd_canonical: false,
        }
    }

    fn ex(raw: &str) -> String {
        expand(raw, &ctx()).unwrap().to_str().unwrap().to_owned()
    }

    #[test]
    fn tilde_and_home_variable_expand_to_home() {
        assert_eq!(ex("~"), "/home/dev");
        assert_eq!(ex("~/"), "/home/dev");
        assert_eq!(ex("~/.ssh/id_rsa"), "/home/dev/.ssh/id_rsa");
        assert_eq!(ex("$HOME"), "/home/dev");
        assert_eq!(ex("$HOME/.ssh"), "/home/dev/.ssh");
        assert_eq!(ex("${HOME}/.ssh"), "/home/dev/.ssh");
        assert_eq!(ex("${HOME}x"), "/home/devx");
        assert_eq!(ex("$HOME.bak"), "/home/dev.bak");
    }

    #[test]
    fn other_tilde_forms_and_variables_are_errors() {
        for raw in ["~root/.ssh", "~+/x", "~-"] {
            assert!(
                matches!(expand(raw, &ctx()), Err(PathError::OtherTilde { .. })),
                "{raw}"
            );
        }
        for (raw, name) in [
            ("$HOMEDIR/x", "HOMEDIR"),
            ("$PWD/..", "PWD"),
            ("${X}/y", "X"),
            ("$", ""),
        ] {
            match expand(raw, &ctx()) {
                Err(PathError::UnknownVariable { name: n, .. }) => assert_eq!(n, name, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn tilde_inside_a_path_is_a_plain_name() {
        assert_eq!(ex("a/~/b"), "/work/proj/a/~/b");
        assert_eq!(ex("/x/$HOME"), "/x/$HOME");
    }

    #[test]
    fn relative_paths_join_the_cwd() {
        assert_eq!(ex("src/main.rs"), "/work/proj/src/main.rs");
        assert_eq!(ex("./src/../Cargo.toml"), "/work/proj/Cargo.toml");
        assert_eq!(ex("."), "/work/proj");
        assert_eq!(ex("../../../../etc/passwd"), "/etc/passwd");
    }

    #[test]
    fn relative_path_with_unknown_cwd_is_an_error() {
        let c = PathContext { cwd: None, ..ctx() };
        assert!(matches!(
            expand("src/x", &c),
            Err(PathError::UnknownCwd { .. })
        ));
        assert_eq!(expand("/abs", &c).unwrap(), Path::new("/abs"));
        let c = PathContext {
            cwd: Some("rel".into()),
            ..ctx()
        };
        assert!(matches!(
            expand("src/x", &c),
            Err(PathError::RelativeCwd { .. })
        ));
        let c = PathContext {
            home: "rel".into(),
            ..ctx()
        };
        assert!(matches!(
            expand("~/x", &c),
            Err(PathError::RelativeHome { .. })
        ));
    }

    #[test]
    fn dotdot_never_climbs_above_root() {
        assert_eq!(ex("/.."), "/");
        assert_eq!(ex("/../../etc/../../passwd"), "/passwd");
        assert_eq!(ex("/a/b/../../../../c"), "/c");
    }

    #[test]
    fn repeated_and_trailing_slashes_collapse() {
        assert_eq!(ex("//etc///passwd/"), "/etc/passwd");
        assert_eq!(ex("/"), "/");
        assert_eq!(ex("///"), "/");
        assert_eq!(ex("/a/./b/."), "/a/b");
    }

    #[test]
    fn nul_empty_and_overlong_input_are_errors() {
        assert!(matches!(
            expand("/etc/passwd\0.png", &ctx()),
            Err(PathError::Nul { .. })
        ));
        assert!(matches!(expand("", &ctx()), Err(PathError::Empty { .. })));
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        assert!(matches!(
            expand(&long, &ctx()),
            Err(PathError::TooLong { .. })
        ));
        let c = PathContext {
            cwd: Some("/w\0/x".into()),
            ..ctx()
        };
        assert!(matches!(expand("y", &c), Err(PathError::Nul { .. })));
    }

    #[test]
    fn backslash_is_an_ordinary_character_on_linux() {
        assert_eq!(ex("..\\..\\etc"), "/work/proj/..\\..\\etc");
    }

    #[test]
    fn is_within_is_component_wise() {
        let w = |p: &str, r: &str| is_within(Path::new(p), Path::new(r));
        assert!(w("/work/ab", "/work/ab"));
        assert!(w("/work/ab/c", "/work/ab"));
        assert!(w("/work/ab/c", "/work/ab/"));
        assert!(!w("/work/abc", "/work/ab"));
        assert!(!w("/work/a", "/work/ab"));
        assert!(!w("/work", "/work/ab"));
        assert!(!w("/work/ab/../x", "/work/ab"));
        assert!(w("/work//ab/./c/", "/work/ab"));
        assert!(w("/anything", "/"));
        assert!(!w("work/ab", "/work/ab"));
        assert!(!w("/work/ab", "work/ab"));
        assert!(w("/x/../../work/ab/c", "/work/ab"));
    }

    #[test]
    fn clean_keeps_leading_dotdot_of_relative_paths() {
        assert_eq!(clean(Path::new("a/../../b/./c/")), Path::new("../b/c"));
        assert_eq!(clean(Path::new("a/..")), Path::new("."));
        assert_eq!(clean(Path::new("/a/../../b")), Path::new("/b"));
        assert_eq!(clean(Path::new("")), Path::new("."));
    }

    /// Independent model: a stack of names starting at the cwd (or at `/` for an
    /// absolute path), `..` pops (never past the root).
    fn model_expand(raw: &str, segs: &[&str]) -> Vec<String> {
        let mut stack: Vec<String> = if raw.starts_with('/') {
            Vec::new()
        } else {
            vec!["work".into(), "proj".into()]
        };
        for s in segs {
            match *s {
                "" | "." => {}
                ".." => {
                    stack.pop();
                }
                name => stack.push(name.to_owned()),
            }
        }
        stack
    }

    const SEGS: &[&str] = &["..", ".", "", "a", "ab", "abc", "work", "proj", "b"];

    proptest! {
        #[test]
        fn expand_is_idempotent(raw in "[~$/a-z.\\\\%{}]{0,24}") {
            if let Ok(p) = expand(&raw, &ctx()) {
                let again = expand(p.to_str().unwrap(), &ctx()).unwrap();
                prop_assert_eq!(again, p);
            }
        }

        #[test]
        fn is_within_of_expand_agrees_with_a_component_model(
            segs in prop::collection::vec(prop::sample::select(SEGS), 0..10),
            root in prop::collection::vec(prop::sample::select(&["work", "proj", "a", "ab", "abc"][..]), 0..4),
        ) {
            let raw = match segs.join("/") { s if s.is_empty() => ".".to_owned(), s => s };
            let p = expand(&raw, &ctx()).unwrap();
            let model = model_expand(&raw, &segs);
            let expected = model.len() >= root.len() && model.iter().zip(&root).all(|(a, b)| a == b);
            let root_path = format!("/{}", root.join("/"));
            prop_assert_eq!(is_within(&p, Path::new(&root_path)), expected, "{} -> {:?}", raw, p);
            prop_assert_eq!(p, PathBuf::from(format!("/{}", model.join("/"))));
        }

        #[test]
        fn expand_and_is_within_never_panic(raw in any::<String>(), root in any::<String>()) {
            if let Ok(p) = expand(&raw, &ctx()) {
                prop_assert!(p.is_absolute());
                let _ = is_within(&p, Path::new(&root));
            }
            let _ = clean(Path::new(&raw));
        }
    }
}
