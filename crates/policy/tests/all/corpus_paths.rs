//! `jail_escapes` on `shared/corpora/paths`: every traversal string (657, from
//! public payload lists, each labelled with the trick it uses) must escape, and none
//! of the hard negatives (strings from the same lists that stay inside under every
//! modelled interpretation) may. The corpus is a development sample; the rates are
//! printed so regressions on new data show up beside the pass/fail.
//! `WARDEN_CORPUS_VERBOSE=1` lists every miss.

// Helpers, not `#[test]` fns, so clippy's allow-unwrap-in-tests does not reach them;
// a missing or malformed corpus should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use warden_policy::path::*;

/// The jail the corpus strings are judged against. Absolute rows name system paths
/// (`/etc/passwd`, `C:/boot.ini`), never this one.
const JAIL: &str = "/srv/www/jail";

/// `(path, mechanism)` of every row of `paths/<file>`.
fn path_rows(file: &str) -> Vec<(String, String)> {
    super::corpus::rows::<serde_json::Value>(&format!("paths/{file}"))
        .into_iter()
        .map(|row| {
            let field = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            (field("path"), field("mechanism"))
        })
        .collect()
}

#[test]
fn corpus_paths_rates() {
    let verbose = std::env::var_os("WARDEN_CORPUS_VERBOSE").is_some();
    let jail = Path::new(JAIL);

    let traversal = path_rows("traversal.jsonl");
    let mut missed = Vec::new();
    for (path, mechanism) in &traversal {
        if !jail_escapes(jail, path) {
            missed.push(format!("[{mechanism}] {path:?}"));
        }
    }
    let non_escaping = path_rows("non_escaping.jsonl");
    let flagged: Vec<&String> = non_escaping
        .iter()
        .map(|(p, _)| p)
        .filter(|p| jail_escapes(jail, p))
        .collect();

    println!(
        "paths: {}/{} traversal strings escape; {}/{} non-escaping flagged",
        traversal.len() - missed.len(),
        traversal.len(),
        flagged.len(),
        non_escaping.len(),
    );
    if verbose {
        missed.iter().for_each(|m| println!("MISSED {m}"));
        flagged.iter().for_each(|p| println!("FLAGGED {p:?}"));
    }
    assert!(traversal.len() >= 600, "traversal corpus looks truncated");
    assert!(
        missed.is_empty(),
        "{} traversal strings not caught, first: {}",
        missed.len(),
        missed[0]
    );
    assert!(
        flagged.is_empty(),
        "{} non-escaping strings flagged, first: {:?}",
        flagged.len(),
        flagged[0]
    );
}

/// The same strings placed inside the jail as absolute paths stay inside: the
/// decision depends on where the string points, not on it looking odd.
#[test]
fn corpus_paths_non_escaping_are_inside_when_absolute_under_the_jail() {
    let jail = Path::new(JAIL);
    for (path, _) in path_rows("non_escaping.jsonl") {
        let absolute = format!("{JAIL}/{path}");
        assert!(!jail_escapes(jail, &absolute), "{absolute:?}");
    }
}

/// The literal reading agrees with [`expand`]: when a corpus string, taken as an agent
/// tool's path with the jail as the cwd, expands to somewhere outside the jail,
/// `jail_escapes` says so too.
#[test]
fn corpus_paths_literal_expansion_agrees() {
    let ctx = PathContext {
        home: "/home/dev".into(),
        cwd: Some(JAIL.into()),
        resolve_symlinks: false,
        cwd_canonical: false,
    };
    let jail = Path::new(JAIL);
    for (path, _) in path_rows("traversal.jsonl")
        .into_iter()
        .chain(path_rows("non_escaping.jsonl"))
    {
        if let Ok(p) = expand(&path, &ctx)
            && !is_within(&p, jail)
        {
            assert!(jail_escapes(jail, &path), "{path:?} expands to {p:?}");
        }
    }
}
