//! Containment of untrusted path strings that another program will decode and open.
//!
//! A tool argument or the path of a web request is not opened by us: it passes
//! through a URL decoder, a framework, perhaps a Windows API, before some `open`. Each
//! layer may read it differently, so [`jail_escapes`] considers every spelling from
//! [`variants`] under every reading below and reports an escape if
//! any of them leaves the jail:
//!
//! - separators: `/` only, or `/` and `\` (Windows APIs; Zip Slip archives);
//! - a naive filter that removed `../` (and `..\`) once, non-recursively, before the
//!   open: `....//` and `..././` become `../` (PortSwigger's "stripped
//!   non-recursively");
//! - segments read exactly, or leniently as servers and Windows do: `..;x` is `..`
//!   (Tomcat/Spring path parameters, "Breaking Parser Logic", Black Hat 2018), `..:x`
//!   is `..` (NTFS stream names), and trailing dots and spaces are dropped so `...`,
//!   `....` and `.. ` are `..`;
//! - a leading `/` is absolute: inside the jail only if it names the jail or below it
//!   (`os.path.join(jail, "/etc/passwd")` is `/etc/passwd`; absolute archive member
//!   names, CVE-2007-4559);
//! - always escaping: any NUL (C-level truncation, CVE-2006-7243), a drive letter
//!   (`C:`), a UNC or network-path prefix (`\\server`, `//host`), `~` and `$` (shell
//!   expansion), `file:` (a URL a library will open).
//!
//! **Climbing out and back counts as escaping.** `../jail/x` with jail `/srv/jail`
//! ends inside, but on the way it named `/srv`, which a jail-naive resolver visits and
//! a jail-aware one (`openat2` with `RESOLVE_BENEATH`, chroot) refuses with EXDEV; the
//! string also shows the sender knows the jail's name. We refuse as well: a `..` that
//! would take the path above the jail root is an escape, whatever follows. An absolute
//! path must spell out the jail's own components before anything else
//! (`/srv/x/../jail/a` escapes), for the same reason.

use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::MAX_PATH_BYTES;
use super::decode::variants;

/// Whether any plausible interpretation of `untrusted`, as a path relative to `jail`
/// or absolute, leaves `jail` (see the module documentation for the interpretations).
///
/// Fails closed: true when `jail` is not absolute, `untrusted` is longer than
/// [`MAX_PATH_BYTES`], or it decodes to too many spellings to check. The empty string
/// and `.` name the jail itself and do not escape.
pub fn jail_escapes(jail: &Path, untrusted: &str) -> bool {
    let Some(root) = jail_components(jail) else {
        return true;
    };
    if untrusted.len() > MAX_PATH_BYTES {
        return true;
    }
    let Some(spellings) = variants(untrusted.as_bytes()) else {
        return true;
    };
    spellings.iter().any(|s| spelling_escapes(&root, s))
}

/// The jail's components after lexical cleaning, or `None` when it is not absolute.
fn jail_components(jail: &Path) -> Option<Vec<&[u8]>> {
    let bytes = jail.as_os_str().as_bytes();
    if bytes.first() != Some(&b'/') {
        return None;
    }
    let mut comps = Vec::new();
    for comp in bytes.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                comps.pop();
            }
            name => comps.push(name),
        }
    }
    Some(comps)
}

fn spelling_escapes(root: &[&[u8]], spelling: &[u8]) -> bool {
    if spelling.contains(&0) {
        return true;
    }
    let has_backslash = spelling.contains(&b'\\');
    for backslash_separates in [false, true] {
        if backslash_separates && !has_backslash {
            continue;
        }
        let separated: Cow<[u8]> = if backslash_separates {
            Cow::Owned(
                spelling
                    .iter()
                    .map(|&b| if b == b'\\' { b'/' } else { b })
                    .collect(),
            )
        } else {
            Cow::Borrowed(spelling)
        };
        let stripped = strip_dotdot_once(&separated);
        for reading in [Some(separated.as_ref()), stripped.as_deref()]
            .into_iter()
            .flatten()
        {
            if names_outside(reading)
                || walk_escapes(root, reading, Segments::Exact)
                || walk_escapes(root, reading, Segments::Lenient)
            {
                return true;
            }
        }
    }
    false
}

/// Prefixes that leave any jail whatever follows. `reading` has `\` already turned
/// into `/` when the reading treats it as a separator.
fn names_outside(reading: &[u8]) -> bool {
    match reading {
        // `//host/share` (UNC once backslashes separate) or a protocol-relative URL.
        [b'/', b'/', ..] => true,
        // `C:\`, `C:/`, and drive-relative `C:x`.
        [drive, b':', ..] if drive.is_ascii_alphabetic() => true,
        // Home and variable expansion by a shell between us and the open.
        [b'~' | b'$', ..] => true,
        _ => reading
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"file:")),
    }
}

/// One pass of `s.replace("../", "")`: the filter that `....//` and `..././` defeat.
fn strip_dotdot_once(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if s.get(i..i + 3) == Some(b"../") {
            changed = true;
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    changed.then_some(out)
}

#[derive(Clone, Copy)]
enum Segments {
    /// POSIX: only `..` climbs, only `.` and the empty segment are nothing.
    Exact,
    /// As servers and Windows read them (see the module documentation).
    Lenient,
}

enum Step<'a> {
    Stay,
    Up,
    Down(&'a [u8]),
}

fn step(seg: &[u8], mode: Segments) -> Step<'_> {
    match mode {
        Segments::Exact => match seg {
            b"" | b"." => Step::Stay,
            b".." => Step::Up,
            name => Step::Down(name),
        },
        Segments::Lenient => {
            // `..;jsessionid=x` and `..::$INDEX_ALLOCATION`: the part before the
            // parameter or stream name is the segment.
            let end = seg
                .iter()
                .position(|&b| b == b';' || b == b':')
                .unwrap_or(seg.len());
            let seg = &seg[..end];
            if seg.iter().all(|&b| b == b'.' || b == b' ') {
                // Windows drops trailing dots and spaces, and exploit lists rely on
                // runs of dots collapsing: `...`, `.. .` climb like `..`.
                return if seg.starts_with(b"..") {
                    Step::Up
                } else {
                    Step::Stay
                };
            }
            let trimmed = seg
                .iter()
                .rposition(|&b| b != b'.' && b != b' ')
                .map_or(seg, |last| &seg[..=last]);
            Step::Down(trimmed)
        }
    }
}

/// Whether `reading` climbs above the jail root at any point (relative), or does not
/// spell out the jail's components first (absolute).
fn walk_escapes(root: &[&[u8]], reading: &[u8], mode: Segments) -> bool {
    let absolute = reading.first() == Some(&b'/');
    // Components of the jail still to be matched by an absolute path.
    let mut to_match = if absolute { root } else { &[][..] };
    let mut depth: usize = 0;
    for seg in reading.split(|b| *b == b'/') {
        match step(seg, mode) {
            Step::Stay => {}
            Step::Up => {
                if !to_match.is_empty() || depth == 0 {
                    return true;
                }
                depth -= 1;
            }
            Step::Down(name) => match to_match.split_first() {
                Some((first, rest)) => {
                    if name != *first {
                        return true;
                    }
                    to_match = rest;
                }
                None => depth += 1,
            },
        }
    }
    // An absolute path that stopped at an ancestor of the jail (`/srv`).
    !to_match.is_empty()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const JAIL: &str = "/srv/jail";

    fn esc(s: &str) -> bool {
        jail_escapes(Path::new(JAIL), s)
    }

    #[test]
    fn plain_relative_paths_stay_inside() {
        for s in [
            "",
            ".",
            "a",
            "a/b/c.txt",
            "a/../b",
            "./a/./b/",
            "a/b/../../c",
            "a//b",
            "..a",
            "a..",
            "a/..b",
        ] {
            assert!(!esc(s), "{s:?}");
        }
    }

    #[test]
    fn climbing_above_the_root_escapes_even_when_it_comes_back() {
        for s in [
            "..",
            "../",
            "../x",
            "a/../..",
            "a/../../jail/x",
            "../jail",
            "./../jail/a",
        ] {
            assert!(esc(s), "{s:?}");
        }
    }

    #[test]
    fn absolute_paths_must_start_with_the_jail() {
        assert!(!esc("/srv/jail"));
        assert!(!esc("/srv/jail/a/b"));
        assert!(!esc("/srv//jail/./a"));
        assert!(esc("/etc/passwd"));
        assert!(esc("/srv"));
        assert!(esc("/srv/jailbreak/a"));
        assert!(esc("/srv/jail/../other"));
        assert!(esc("/srv/x/../jail/a"));
        assert!(esc("/srv/jail;x/a"), "exact reading: a sibling of the jail");
        assert!(!jail_escapes(Path::new("/"), "/etc/passwd"));
        assert!(jail_escapes(Path::new("/"), "../x"));
    }

    #[test]
    fn relative_or_dotted_jail() {
        assert!(
            jail_escapes(Path::new("srv/jail"), "a"),
            "relative jail fails closed"
        );
        assert!(!jail_escapes(Path::new("/srv/./jail/"), "/srv/jail/a"));
        assert!(!jail_escapes(Path::new("/srv/x/../jail"), "/srv/jail/a"));
    }

    #[test]
    fn encodings_and_separators() {
        for s in [
            "..\\",
            "a\\..\\..\\x",
            "%2e%2e%2f",
            "%252e%252e%252f",
            "..%c0%af",
            "%uff0e%uff0e%u2215",
            "．．／",
            "‥/",
            "..∕",
            "0x2e0x2e0x2f",
            "..%c0%9v",
            "..;/etc/passwd",
            "....//",
            "..././",
            ".../x",
            ".. /x",
            "..::$INDEX_ALLOCATION/x",
        ] {
            assert!(esc(s), "{s:?}");
        }
    }

    #[test]
    fn always_outside_prefixes() {
        for s in [
            "C:\\boot.ini",
            "c:/x",
            "C:x",
            "\\\\server\\share",
            "//host/x",
            "~/x",
            "~root",
            "$HOME/.ssh",
            "FILE:///etc/passwd",
            "%43%3a/x",
            "a\0b",
            "a%00.png",
            "%7e/x",
        ] {
            assert!(esc(s), "{s:?}");
        }
    }

    #[test]
    fn look_alikes_that_are_only_names_stay_inside() {
        for s in [
            "?./x",
            ".?/x",
            "%c0.%c0./x",
            "..%c1%pc..",
            "%c0%ee%c0%ee/x",
            "..%%32%%66..",
            "ab:c",
        ] {
            assert!(!esc(s), "{s:?}");
        }
    }

    #[test]
    fn overlong_input_fails_closed() {
        assert!(esc(&"a/".repeat(MAX_PATH_BYTES)));
    }

    /// Segments and their effect in the most decoded reading (every decoder applied,
    /// `\` separating, lenient segments): -1 climbs, 0 stays, 1 descends.
    const CLIMB_SEGS: &[(&str, i32)] = &[
        ("..", -1),
        (".", 0),
        ("", 0),
        ("a", 1),
        ("b", 1),
        ("%2e%2e", -1),
        ("..\\", -1),
        ("%252e%252e", -1),
        (".%2e", -1),
        ("%c0%ae%c0%ae", -1),
        ("..;x", -1),
        ("...", -1),
        ("%uff0e%uff0e", -1),
        ("0x2e0x2e", -1),
    ];

    /// Independent model: the running depth of the decoded reading goes below 0.
    fn climbs(segs: &[(&str, i32)]) -> bool {
        let mut depth = 0;
        for (_, d) in segs {
            depth += d;
            if depth < 0 {
                return true;
            }
        }
        false
    }

    proptest! {
        #[test]
        fn climbing_strings_always_escape(segs in prop::collection::vec(prop::sample::select(CLIMB_SEGS), 1..12)) {
            let s = segs.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("/");
            if climbs(&segs) || s.starts_with('/') {
                prop_assert!(esc(&s), "{:?}", s);
            }
        }

        #[test]
        fn plain_segments_escape_exactly_when_they_climb(
            segs in prop::collection::vec(prop::sample::select(&CLIMB_SEGS[..5]), 1..12),
        ) {
            let s = segs.iter().map(|(s, _)| *s).collect::<Vec<_>>().join("/");
            prop_assert_eq!(esc(&s), climbs(&segs) || s.starts_with('/'), "{:?}", s);
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = esc(&s);
        }

        #[test]
        fn never_panics_on_encoding_soup(s in "([%./\\\\;:~$a-f0-9uxcgqv ]|\u{ff0e}|\u{2215}|\u{c0}){0,60}") {
            let _ = esc(&s);
        }
    }
}
