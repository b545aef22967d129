//! A command's canonical form: global options that sit before a subcommand are
//! dropped, so `git -C . -c x=y push` is judged as `git push`, `cargo +stable
//! publish` as `cargo publish`, `python3 -m pip install` as `pip install`. Rules
//! and the classifier both see this form, besides the literal one.

use super::command::SimpleCommand;

/// Global options (taking a value when listed in `valued`) of tools with
/// subcommands.
fn globals(prog: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match prog {
        "git" => (
            &[
                "-C",
                "-c",
                "--git-dir",
                "--work-tree",
                "--namespace",
                "--super-prefix",
                "--config-env",
                "--exec-path",
            ],
            &[
                "-P",
                "--no-pager",
                "-p",
                "--paginate",
                "--bare",
                "--no-replace-objects",
                "--literal-pathspecs",
                "--glob-pathspecs",
                "--noglob-pathspecs",
                "--icase-pathspecs",
                "--no-optional-locks",
                "--no-advice",
            ],
        ),
        "npm" | "pnpm" | "yarn" | "bun" => (
            &[
                "--prefix",
                "-C",
                "--dir",
                "--cwd",
                "--workspace",
                "-w",
                "--registry",
                "--userconfig",
                "--access",
                "--tag",
                "--otp",
            ],
            &[
                "-g",
                "--global",
                "-s",
                "--silent",
                "-q",
                "--quiet",
                "-d",
                "--loglevel",
            ],
        ),
        "cargo" => (
            &["--config", "-Z", "--color", "--manifest-path"],
            &[
                "-q",
                "--quiet",
                "-v",
                "-vv",
                "--verbose",
                "--locked",
                "--offline",
                "--frozen",
            ],
        ),
        "pip" | "pip3" | "uv" | "poetry" | "gem" | "go" | "docker" | "kubectl" | "helm" | "gh" => (
            &[
                "--python",
                "-C",
                "--directory",
                "--context",
                "-n",
                "--namespace",
                "--kubeconfig",
                "-H",
                "--host",
                "-R",
                "--repo",
            ],
            &[
                "-q",
                "--quiet",
                "-v",
                "--verbose",
                "--isolated",
                "--no-cache",
            ],
        ),
        _ => return None,
    })
}

/// The canonical words, or None when they equal the literal ones.
pub fn canonical_words(cmd: &SimpleCommand) -> Option<Vec<String>> {
    let prog = cmd.program();
    let args: Vec<&str> = cmd.args().iter().map(|w| w.value.as_str()).collect();
    // `python -m module args` runs `module args`.
    let base = prog.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    if base == "python" || base == "pypy" {
        let m = args.iter().position(|a| *a == "-m")?;
        let module = args.get(m + 1)?;
        return Some(
            std::iter::once(module.to_string())
                .chain(args[m + 2..].iter().map(|a| a.to_string()))
                .collect(),
        );
    }
    let (valued, flags) = globals(prog)?;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        if prog == "cargo" && a.starts_with('+') {
            i += 1;
        } else if valued.contains(a) {
            i += 2;
        } else if flags.contains(a)
            || valued.iter().any(|v| {
                v.starts_with("--") && a.strip_prefix(v).is_some_and(|r| r.starts_with('='))
            })
        {
            i += 1;
        } else {
            break;
        }
    }
    if i == 0 {
        return None;
    }
    Some(
        std::iter::once(prog.to_string())
            .chain(args.get(i..).unwrap_or(&[]).iter().map(|a| a.to_string()))
            .collect(),
    )
}

/// The subcommand and its arguments after global options (`push --force ...`).
pub fn subcommand_args(cmd: &SimpleCommand) -> Vec<String> {
    match canonical_words(cmd) {
        Some(w) => w.into_iter().skip(1).collect(),
        None => cmd.args().iter().map(|w| w.value.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::parse;

    fn canon(s: &str) -> Option<String> {
        canonical_words(&parse(s).commands[0]).map(|w| w.join(" "))
    }

    #[test]
    fn global_options_are_dropped() {
        assert_eq!(
            canon("git -C . -c a=b --no-pager push --force").as_deref(),
            Some("git push --force")
        );
        assert_eq!(
            canon("cargo +stable -q publish").as_deref(),
            Some("cargo publish")
        );
        assert_eq!(
            canon("npm --prefix . publish").as_deref(),
            Some("npm publish")
        );
        assert_eq!(
            canon("python3 -m pip install x").as_deref(),
            Some("pip install x")
        );
        assert_eq!(canon("git status"), None);
    }
}
