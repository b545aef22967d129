//! What is typed into `warden shell` is untrusted (an agent may be the one
//! typing), and so is what the shell prints. The guard must take any bytes,
//! split anywhere, without panicking; it must hold every line end outside a
//! paste for a decision; and it must forward every byte it does not throw
//! away, in order. The screen mirror must take any output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_shell::guard::Context;
use warden_shell::{Guard, Outcome, ScreenMirror, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let ctx = Context {
        at_prompt: true,
        paste_mode: flags & 1 != 0,
        canonical: flags & 2 != 0,
    };
    let cut = usize::from(flags >> 2).min(rest.len());
    let mut g = Guard::new();
    let mut sent = Vec::new();
    let mut submits = 0usize;
    for chunk in [&rest[..cut], &rest[cut..]] {
        let mut steps = g.feed(chunk, ctx);
        while !steps.is_empty() {
            let mut more = Vec::new();
            for s in steps {
                match s {
                    Step::Forward(b) => sent.extend(b),
                    Step::LineStarted => {}
                    Step::Submit(sub) => {
                        submits += 1;
                        sent.push(sub.enter);
                        g.resolve(Outcome::Passed { line: sub.line });
                        more = g.feed(&[], ctx);
                    }
                }
            }
            steps = more;
        }
    }
    assert_eq!(sent, rest, "the guard changed or lost input");
    if !ctx.paste_mode {
        let ends = rest.iter().filter(|b| **b == b'\r' || **b == b'\n').count();
        assert_eq!(submits, ends, "a line end went by without a decision");
    }
    let mut screen = ScreenMirror::new(5, 20);
    let anchor = screen.anchor();
    screen.process(rest);
    let _ = screen.line_since(&anchor);
});
