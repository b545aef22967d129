//! The control for the escape tests: outside the sandbox, the probe's acts
//! succeed. Without this, an escape test that sees an errno could be seeing
//! a broken probe rather than a working sandbox.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::Command;

fn probe(act: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-sandbox-probe"))
        .env("WARDEN_PROBE", act)
        .output()
        .expect("run the probe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[track_caller]
fn works(act: &str) {
    let (code, out) = probe(act);
    assert_eq!(code, 0, "{act}: {out}");
    assert!(out.contains(": ok"), "{act}: {out}");
}

#[test]
fn the_probes_acts_work_where_nothing_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("target.txt"), "x").unwrap();
    works(&format!("write {d}/written"));
    works(&format!("read {d}/target.txt"));
    works(&format!("symlink-write {d}/target.txt {d}/link"));
    works(&format!("hardlink {d}/target.txt {d}/hard"));
    works(&format!("rename {d}/hard {d}/moved"));
    let sock = dir.path().join("docker.sock");
    let _l = UnixListener::bind(&sock).unwrap();
    works(&format!("connect-unix {}", sock.display()));
    let name = format!("warden-probe-control-{}", std::process::id());
    let _a =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    works(&format!("connect-abstract {name}"));
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    works(&format!(
        "tcp 127.0.0.1 {}",
        tcp.local_addr().unwrap().port()
    ));
    works("netlink");
    works("udp 127.0.0.1 9");
    works(&format!("signal {}", std::process::id()));
    works("unshare-user");
    works("clone-newuser");
    works("exists /");
    works(&format!("chmod-setuid {d}/written"));
    works(&format!("create-setuid {d}/setuid-new"));
    works("exec /bin/true");
}

#[test]
fn the_probe_reports_refusals_and_usage_errors_distinctly() {
    let (code, out) = probe("read /nonexistent/warden-probe");
    assert_eq!((code, out.as_str()), (1, "read: errno ENOENT"));
    let (code, _) = probe("no-such-act");
    assert_eq!(code, 2);
}
