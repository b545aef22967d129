//! The dashboard in a real browser: `warden up` as a real process, headless
//! Chromium driven by playwright-core (`tests/e2e/dashboard.mjs`). Screenshots
//! of every page land in `target/e2e-screenshots/`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Command;

use crate::support::Env;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_dashboard_works_in_a_real_browser_and_refuses_forgeries() {
    let chromium =
        std::env::var("WARDEN_E2E_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let e2e = repo().join("tests/e2e");
    let ready = std::path::Path::new(&chromium).exists()
        && e2e.join("node_modules/playwright-core").exists();
    if !ready {
        // scripts/test installs both; outside it, say so instead of passing quietly.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have {chromium} and tests/e2e/node_modules (scripts/test installs them)"
        );
        println!(
            "SKIPPED: the browser test needs {chromium} and `npm install` in tests/e2e (scripts/test does both)"
        );
        return;
    }
    let env = Env::new();
    // The default policy, and one agent's own settings for the Rules page.
    env.run(&["policy", "init"]).code(0);
    let mut policy = std::fs::read_to_string(env.user_policy()).unwrap();
    policy.push_str(
        "\n[agents.reviewer]\nautonomy = \"assistant\"\nrequests_per_second = 5\nmax_body_mib = 2\n",
    );
    std::fs::write(env.user_policy(), policy).unwrap();
    let mut up = env.spawn(&[
        "up",
        "--listen",
        "127.0.0.1:0",
        "--proxy-listen",
        "127.0.0.1:0",
        "--mode",
        "fast",
    ]);
    let stdout = up.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let link = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/login?token="))
                .map(str::to_string)
        })
        .expect("warden up prints a login link");
    std::thread::spawn(move || for _ in lines {});
    let shots = repo().join("target/e2e-screenshots");
    let out = Command::new("node")
        .arg(e2e.join("dashboard.mjs"))
        .arg(&link)
        .arg(env.state.join("warden.sock"))
        .arg(&shots)
        .env("WARDEN_E2E_CHROMIUM", &chromium)
        .current_dir(&e2e)
        .output()
        .expect("node runs");
    let _ = up.kill();
    let _ = up.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "live", "asks", "audit", "proof", "agents", "rules", "insights",
    ] {
        let f = shots.join(format!("{page}.png"));
        assert!(
            std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000),
            "no screenshot {}",
            f.display()
        );
    }
}
