//! Property tests: the parsers of untrusted input never panic, and disguises of a
//! command or path never change the decision.

use std::path::Path;

use proptest::prelude::*;
use warden_policy::shell::analyze_with_home;
use warden_policy::{EvalContext, Policy};
use warden_types::{Action, ActionKind, Decision};

fn shellish() -> impl Strategy<Value = String> {
    // Tokens chosen to reach every construct of the grammar, in any order.
    let token = prop::sample::select(vec![
        "ls",
        "rm",
        "-rf",
        "/",
        "~",
        "$(",
        ")",
        "`",
        "'",
        "\"",
        "\\",
        "|",
        "||",
        "&&",
        ";",
        "&",
        "<",
        ">",
        ">>",
        "<<EOF\n",
        "\nEOF\n",
        "<(",
        "{",
        "}",
        "(",
        "$'\\x72'",
        "${IFS}",
        "$X",
        "=",
        "bash -c",
        "eval",
        "sudo",
        "find . -exec",
        "\\;",
        "#",
        "\n",
        " ",
        "!",
        "*",
        "?",
        "[",
        "]",
        "\u{1b}",
        "\u{202e}",
        "é",
        "\0",
    ]);
    prop::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn shell_analysis_never_panics_on_shell_like_input(s in shellish()) {
        let a = analyze_with_home(&s, "/home/u");
        let _ = a.threat();
    }

    #[test]
    fn shell_analysis_never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
        let _ = analyze_with_home(&s, "/home/u");
    }

    /// `rm`, `r''m`, `"r"m`, `r\m`, `$'\x72\x6d'` all run rm; the program seen
    /// must be the same and the disguise itself is flagged.
    #[test]
    fn quoting_a_program_name_does_not_change_the_program(
        name in "[a-z]{2,8}",
        split in 1usize..8,
        style in 0usize..4,
    ) {
        let cut = split.min(name.len() - 1).max(1);
        let (a, b) = name.split_at(cut);
        let disguised = match style {
            0 => format!("{a}''{b} x"),
            1 => format!("\"{a}\"{b} x"),
            2 => format!("{a}\\{b} x"),
            _ => format!("$'{}' x", name.bytes().map(|c| format!("\\x{c:02x}")).collect::<String>()),
        };
        let an = analyze_with_home(&disguised, "/home/u");
        // Either the real program is seen (and the disguise flagged), or the line
        // is unparseable (asked about): never silently another program. The
        // grammar reads `if''a` as the keyword `if`; bash reads the word `ifa`.
        if an.unparseable().is_none() {
            prop_assert_eq!(an.script.commands[0].program(), name.as_str());
            prop_assert!(an.findings.iter().any(|f| f.kind.id() == "obfuscation"), "{disguised}");
        }
    }

    #[test]
    fn policy_parser_never_panics(s in "\\PC{0,300}") {
        let _ = Policy::from_toml(&s, "fuzz.toml");
    }

    /// Random edits of a valid policy either load or fail with an error; never panic.
    #[test]
    fn policy_parser_survives_mutations(cut in 0usize..4000, insert in "\\PC{0,20}") {
        let base = warden_policy::defaults::DEFAULT_POLICY;
        let at = (cut % base.len()..=base.len()).find(|i| base.is_char_boundary(*i)).unwrap_or(base.len());
        let text = format!("{}{insert}{}", &base[..at], &base[at..]);
        let _ = Policy::from_toml(&text, "mutated.toml");
    }

    /// No spelling that lands under a denied directory is allowed.
    #[test]
    fn traversal_spellings_of_a_denied_path_are_denied(
        pre in prop::collection::vec(prop::sample::select(vec!["a", "b", ".", "..", ""]), 0..6),
        post in prop::collection::vec(prop::sample::select(vec!["x", ".", "y"]), 1..4),
    ) {
        let policy = Policy::from_toml("version = 1\n[[rule]]\nid = \"s\"\ndeny = [\"Read(/secret/**)\"]\n", "p.toml").unwrap();
        let ctx = EvalContext { home: "/home/u".into(), human_available: true, resolve_symlinks: false, protected: Vec::new(), autonomy: None, approvals: true };
        // Climb from /srv/ws back to / with extra `..` (clamped at /), then detour.
        let path = format!("../../../../{}/../../../../../../secret/{}", pre.join("/"), post.join("/"));
        let a = Action::new("/srv/ws", ActionKind::FileRead { path: path.clone() });
        let lexical_target_is_secret = Path::new("/secret").join(post.join("/")).components().count() >= 2;
        let v = policy.evaluate(&a, &ctx).verdict;
        prop_assert!(!lexical_target_is_secret || v.decision == Decision::Deny, "{path}: {v:?}");
    }
}

proptest! {
    // Each case loads the default policy twice: fewer cases, same reach.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A standing approval changes one thing only: an ask for exactly its
    /// action becomes an allow. Every other decision of every other action is
    /// what it was without it.
    #[test]
    fn an_approval_only_turns_its_own_ask_into_an_allow(
        approved in shellish(),
        other in shellish(),
        same_cwd in any::<bool>(),
    ) {
        let base = warden_policy::defaults::DEFAULT_POLICY;
        let without = Policy::from_toml(base, "p.toml").unwrap();
        let a = Action::new("/work/p", ActionKind::Shell { command: approved.clone() });
        let with_text = format!("{base}{}", warden_policy::Approval::of(&a, "t", "t").to_toml());
        let with = Policy::from_toml(&with_text, "p.toml").unwrap();
        let ctx = EvalContext { home: "/home/u".into(), human_available: true, resolve_symlinks: false, protected: Vec::new(), autonomy: None, approvals: true };
        let cwd = if same_cwd { "/work/p" } else { "/work/q" };
        for action in [a.clone(), Action::new(cwd, ActionKind::Shell { command: other.clone() })] {
            let before = without.evaluate(&action, &ctx).verdict.decision;
            let after = with.evaluate(&action, &ctx).verdict.decision;
            let exact = warden_policy::fingerprint(&action) == warden_policy::fingerprint(&a);
            if exact && before == Decision::Ask {
                prop_assert_eq!(after, Decision::Allow, "{:?}", action);
            } else {
                prop_assert_eq!(after, before, "{:?}", action);
            }
        }
    }
}
