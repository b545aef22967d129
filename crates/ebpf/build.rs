//! Compiles the BPF programs with clang when the `bpf` feature is on; with
//! it off nothing is built and clang is not needed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=bpf/observer.bpf.c");
    if std::env::var_os("CARGO_FEATURE_BPF").is_none() {
        return;
    }
    if let Err(e) = compile() {
        eprintln!("warden-ebpf: {e}");
        std::process::exit(1);
    }
}

fn compile() -> Result<(), String> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo did not set OUT_DIR")?);
    let arch_include = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "/usr/include/aarch64-linux-gnu",
        _ => "/usr/include/x86_64-linux-gnu",
    };
    let clang = std::env::var("WARDEN_BPF_CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-Wall",
            "-Werror",
            "-I",
            arch_include,
        ])
        .args(["-c", "bpf/observer.bpf.c", "-o"])
        .arg(out.join("observer.bpf.o"))
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!(
            "{clang} failed to compile bpf/observer.bpf.c ({s})"
        )),
        Err(e) => Err(format!(
            "the `bpf` feature compiles bpf/observer.bpf.c with {clang}, which could not run: {e} (apt install clang libbpf-dev)"
        )),
    }
}
