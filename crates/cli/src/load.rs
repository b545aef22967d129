//! Finding and loading the layered policy for a command invocation.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use warden_policy::defaults::DEFAULT_POLICY;
use warden_policy::file::{LayerKind, default_paths, parse_layer, read_layer};
use warden_policy::{EvalContext, Policy};

pub(crate) use crate::hook_client::{
    state_dir_of as state_dir, user_home as home, warden_home_env,
};

/// The user layer's path: `--policy`, else the default location.
pub fn user_policy_path(explicit: Option<&Path>, home: &Path) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_paths(home).1)
}

/// Load system → user → project layers. `project_dir` is the workspace whose
/// `.warden/policy.toml` is the project layer.
pub fn load_policy(explicit: Option<&Path>, project_dir: Option<&Path>) -> Result<Policy> {
    let home = home();
    let (system_default, _) = default_paths(&home);
    let system = std::env::var_os("WARDEN_SYSTEM_POLICY")
        .map(PathBuf::from)
        .unwrap_or(system_default);
    let mut layers = Vec::new();
    if system.is_file() {
        layers.push(read_layer(&system, LayerKind::System, &home)?);
    }
    let user = user_policy_path(explicit, &home);
    if user.is_file() {
        layers.push(read_layer(&user, LayerKind::User, &home)?);
    } else if let Some(p) = explicit {
        anyhow::bail!(
            "policy file {} does not exist (create one with `warden policy init --path {}`)",
            p.display(),
            p.display()
        );
    } else {
        layers.push(parse_layer(
            DEFAULT_POLICY,
            "<default policy>",
            LayerKind::User,
            &home,
        )?);
    }
    if let Some(dir) = project_dir {
        let project = dir.join(".warden/policy.toml");
        if project.is_file() {
            layers.push(read_layer(&project, LayerKind::Project, &home)?);
        }
    }
    Policy::from_layers(layers, &home).context("the policy did not load; nothing was changed")
}

/// The evaluation context for this user: warden's own directories protected.
pub fn eval_context(human_available: bool) -> EvalContext {
    let home = home();
    let (system, user) = default_paths(&home);
    let mut ctx = EvalContext::new(home.clone());
    ctx.human_available = human_available;
    ctx.protected = vec![state_dir(&home)];
    ctx.protected.extend(user.parent().map(Path::to_path_buf));
    ctx.protected.extend(system.parent().map(Path::to_path_buf));
    ctx
}
