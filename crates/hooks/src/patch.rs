//! The files a Codex `apply_patch` touches. The patch format is Codex's own:
//!
//! ```text
//! *** Begin Patch
//! *** Add File: path        (followed by +lines)
//! *** Update File: path     (optionally *** Move to: new-path, then hunks)
//! *** Delete File: path
//! *** End Patch
//! ```
//!
//! Only the file headers matter for a decision; hunks are skipped. A patch
//! without its envelope, or naming no file, is an error: a decision about
//! "some files" is not a decision.

/// What a patch does to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Created or modified.
    Write(String),
    /// Removed.
    Delete(String),
}

/// Why a patch could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// No `*** Begin Patch` line.
    #[error("the patch does not start with \"*** Begin Patch\"")]
    NoBegin,
    /// No `*** End Patch` line.
    #[error("the patch does not end with \"*** End Patch\"")]
    NoEnd,
    /// A file header without a path.
    #[error("line {0}: a file header without a path")]
    EmptyPath(usize),
    /// `*** Move to:` not right after an `*** Update File:` header.
    #[error("line {0}: \"*** Move to:\" must follow \"*** Update File:\"")]
    StrayMove(usize),
    /// A patch that touches no file.
    #[error("the patch changes no file")]
    Empty,
}

/// The file changes of `patch`, in order.
pub fn changes(patch: &str) -> Result<Vec<FileChange>, PatchError> {
    // Lines are read trimmed, as Codex reads headers: hunk lines start with
    // '+', '-' or ' ', so an indented header (or a context line that looks
    // like one) counts as a header — more file changes, never fewer.
    let lines: Vec<(usize, &str)> = patch
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines.first().map(|(_, l)| *l) != Some("*** Begin Patch") {
        return Err(PatchError::NoBegin);
    }
    // The patch ends at its last line, as Codex reads it: an "*** End Patch"
    // inside (a context line) must not hide the headers after it. (A lone
    // line cannot be both; the length check keeps the slice below sound.)
    if lines.len() < 2 || lines.last().map(|(_, l)| *l) != Some("*** End Patch") {
        return Err(PatchError::NoEnd);
    }
    let mut out = Vec::new();
    let mut last_update: Option<usize> = None;
    for &(n, line) in &lines[1..lines.len() - 1] {
        let header = |prefix: &str| line.strip_prefix(prefix).map(str::trim);
        if let Some(p) = header("*** Add File:") {
            out.push(FileChange::Write(path(p, n)?));
            last_update = None;
        } else if let Some(p) = header("*** Update File:") {
            out.push(FileChange::Write(path(p, n)?));
            last_update = Some(out.len() - 1);
        } else if let Some(p) = header("*** Delete File:") {
            out.push(FileChange::Delete(path(p, n)?));
            last_update = None;
        } else if let Some(p) = header("*** Move to:") {
            let Some(i) = last_update.take() else {
                return Err(PatchError::StrayMove(n));
            };
            // A move deletes the old name and writes the new one.
            if let FileChange::Write(old) = out[i].clone() {
                out[i] = FileChange::Delete(old);
            }
            out.push(FileChange::Write(path(p, n)?));
        }
    }
    if out.is_empty() {
        return Err(PatchError::Empty);
    }
    Ok(out)
}

fn path(p: &str, line: usize) -> Result<String, PatchError> {
    if p.is_empty() {
        Err(PatchError::EmptyPath(line))
    } else {
        Ok(p.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_updates_moves_and_deletes() {
        let p = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** Update File: src/b.rs\n*** Move to: src/c.rs\n@@\n-x\n+y\n*** Delete File: ../outside\n*** End Patch\n";
        assert_eq!(
            changes(p).unwrap(),
            vec![
                FileChange::Write("a.txt".into()),
                FileChange::Delete("src/b.rs".into()),
                FileChange::Write("src/c.rs".into()),
                FileChange::Delete("../outside".into()),
            ]
        );
    }

    #[test]
    fn a_hunk_line_that_looks_like_a_header_is_still_a_header() {
        // A '+' or '-' line is hunk content, never a header.
        let p =
            "*** Begin Patch\n*** Update File: a\n+*** Delete File: not-a-header\n*** End Patch";
        assert_eq!(changes(p).unwrap(), vec![FileChange::Write("a".into())]);
    }

    #[test]
    fn an_end_marker_inside_or_an_indented_header_hides_nothing() {
        let p = "*** Begin Patch\n*** Update File: a\n@@\n *** End Patch\n*** Add File: ~/.bashrc\n+x\n  *** Delete File: b\n*** End Patch\n";
        assert_eq!(
            changes(p).unwrap(),
            vec![
                FileChange::Write("a".into()),
                FileChange::Write("~/.bashrc".into()),
                FileChange::Delete("b".into()),
            ]
        );
    }

    #[test]
    fn malformed_patches_are_errors() {
        assert_eq!(changes("rm -rf /"), Err(PatchError::NoBegin));
        assert_eq!(
            changes("*** Begin Patch\n*** Add File: a\n"),
            Err(PatchError::NoEnd)
        );
        assert_eq!(
            changes("*** Begin Patch\n*** End Patch"),
            Err(PatchError::Empty)
        );
        assert_eq!(
            changes("*** Begin Patch\n*** Add File: \n*** End Patch"),
            Err(PatchError::EmptyPath(2))
        );
        assert_eq!(
            changes("*** Begin Patch\n*** Move to: x\n*** End Patch"),
            Err(PatchError::StrayMove(2))
        );
    }
}
