//! Reading tree-sitter nodes: assignments, redirections, children, and the
//! ASCII view of the text the parser is given.

use tree_sitter::Node;

use super::command::{Redirect, RedirectOp};
use super::words::{self, Word, text};

/// The text tree-sitter parses: every non-ASCII character replaced by as many
/// `x` as its UTF-8 bytes. Two reasons: tree-sitter-bash 0.25.1's scanner passes
/// code points to `isdigit` and friends, which read out of bounds and crash the
/// process on input such as `{\u{31860}` (upstream tree-sitter-bash#337); and bash
/// itself treats non-ASCII characters, Unicode spaces included, as ordinary word
/// characters, which `x` also is. Byte offsets are unchanged, so node ranges index
/// the original text.
pub(super) fn ascii_view(src: &str) -> std::borrow::Cow<'_, str> {
    if src.is_ascii() {
        return std::borrow::Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len());
    for c in src.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('x', c.len_utf8()));
        }
    }
    std::borrow::Cow::Owned(out)
}

pub(super) fn assignment(node: Node<'_>, src: &[u8]) -> (String, Word) {
    let name = node
        .child_by_field_name("name")
        .map(|n| text(n, src).to_string())
        .unwrap_or_default();
    let value = node
        .child_by_field_name("value")
        .map(|n| words::eval(n, src))
        .unwrap_or_default();
    (name, value)
}

pub(super) fn redirect(node: Node<'_>, src: &[u8]) -> Redirect {
    let t = text(node, src);
    match node.kind() {
        "heredoc_redirect" => {
            let body = named_children(node)
                .find(|c| c.kind() == "heredoc_body")
                .map(|b| text(b, src).to_string());
            Redirect {
                op: RedirectOp::HereDoc,
                target: Word::default(),
                body,
            }
        }
        "herestring_redirect" => {
            let target = named_children(node)
                .last()
                .map(|n| words::eval(n, src))
                .unwrap_or_default();
            Redirect {
                op: RedirectOp::HereString,
                target,
                body: None,
            }
        }
        _ => {
            let target = node
                .child_by_field_name("destination")
                .or_else(|| {
                    named_children(node)
                        .filter(|c| c.kind() != "file_descriptor")
                        .last()
                })
                .map(|n| words::eval(n, src))
                .unwrap_or_default();
            let after_fd =
                t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '{' || c == '}');
            let op = if after_fd.starts_with(">>") || after_fd.starts_with("&>>") {
                RedirectOp::Append
            } else if after_fd.starts_with("<>") {
                RedirectOp::ReadWrite
            } else if after_fd.starts_with(">&") || after_fd.starts_with("<&") {
                if target.value.chars().all(|c| c.is_ascii_digit() || c == '-') {
                    RedirectOp::Dup
                } else {
                    RedirectOp::Out
                }
            } else if after_fd.starts_with('<') {
                RedirectOp::In
            } else {
                RedirectOp::Out
            };
            Redirect {
                op,
                target,
                body: None,
            }
        }
    }
}

pub(super) fn named_children<'t>(node: Node<'t>) -> impl Iterator<Item = Node<'t>> {
    (0..node.named_child_count()).filter_map(move |i| node.named_child(i))
}
