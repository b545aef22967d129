//! The policy the governor decides with: the system and user layers, loaded at
//! start and reloaded when their files change, plus each workspace's project
//! layer. A reload that fails keeps the previous policy (and raises an alert);
//! a project layer that fails to load denies that workspace's actions, since
//! ignoring it would loosen what its authors asked for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use warden_policy::Policy;
use warden_policy::defaults::DEFAULT_POLICY;
use warden_policy::file::{Layer, LayerKind, read_layer};

use crate::config::Config;

/// Why the policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// A layer did not parse or check.
    #[error(transparent)]
    Policy(#[from] warden_policy::file::PolicyError),
    /// The default policy could not be written to the user layer's path.
    #[error("creating {path} from the default policy: {source}")]
    Create {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// When a file was last changed, `None` if it does not exist.
fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The loaded base layers and the policies built from them.
pub struct Policies {
    base_layers: Vec<Layer>,
    base: Arc<Policy>,
    by_workspace: HashMap<PathBuf, Result<Arc<Policy>, String>>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    home: PathBuf,
}

impl Policies {
    /// Loads the system and user layers, creating the user layer from the default
    /// policy if it does not exist.
    pub fn load(config: &Config) -> Result<Policies, PolicyLoadError> {
        if !config.user_policy.exists() {
            let path = &config.user_policy;
            let create = || -> std::io::Result<()> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(path, DEFAULT_POLICY)
            };
            create().map_err(|source| PolicyLoadError::Create {
                path: path.clone(),
                source,
            })?;
        }
        let mut layers = Vec::new();
        if config.system_policy.is_file() {
            layers.push(read_layer(
                &config.system_policy,
                LayerKind::System,
                &config.user_home,
            )?);
        }
        layers.push(read_layer(
            &config.user_policy,
            LayerKind::User,
            &config.user_home,
        )?);
        let base = Arc::new(Policy::from_layers(layers.clone(), &config.user_home)?);
        Ok(Policies {
            base_layers: layers,
            base,
            by_workspace: HashMap::new(),
            stamps: (mtime(&config.system_policy), mtime(&config.user_policy)),
            home: config.user_home.clone(),
        })
    }

    /// Whether either base file changed since it was loaded.
    pub fn changed(&self, config: &Config) -> bool {
        (mtime(&config.system_policy), mtime(&config.user_policy)) != self.stamps
    }

    /// Takes the files' current time stamps as seen (after a failed reload, so
    /// the same broken file is not reloaded every tick).
    pub fn mark_seen(&mut self, config: &Config) {
        self.stamps = (mtime(&config.system_policy), mtime(&config.user_policy));
    }

    /// The policy without any project layer.
    pub fn base(&self) -> Arc<Policy> {
        Arc::clone(&self.base)
    }

    /// The layers the base policy was built from (for `GET /v1/policy`).
    pub fn layers(&self) -> &[Layer] {
        &self.base_layers
    }

    /// The policy for actions in `workspace`: the base plus its
    /// `.warden/policy.toml`, or why that layer did not load.
    pub fn for_workspace(&mut self, workspace: &str) -> Result<Arc<Policy>, String> {
        if workspace.is_empty() {
            return Ok(self.base());
        }
        let dir = PathBuf::from(workspace);
        if let Some(p) = self.by_workspace.get(&dir) {
            return p.clone();
        }
        let file = dir.join(".warden/policy.toml");
        let built = if file.is_file() {
            read_layer(&file, LayerKind::Project, &self.home)
                .and_then(|layer| {
                    let mut layers = self.base_layers.clone();
                    layers.push(layer);
                    Policy::from_layers(layers, &self.home)
                })
                .map(Arc::new)
                .map_err(|e| format!("the project policy {} does not load: {e}", file.display()))
        } else {
            Ok(self.base())
        };
        self.by_workspace.insert(dir, built.clone());
        built
    }
}

// Reloading is the governor's, kept here with the rest of policy loading.
impl crate::governor::Governor {
    /// Reloads the base policy if its files changed; a policy that fails to load
    /// keeps the previous one and raises an alert.
    pub fn reload_if_changed(&self) {
        let changed = crate::governor::lock(&self.policies).changed(&self.config);
        if changed {
            self.reload();
        }
    }

    /// Reloads the base policy now (see `reload_if_changed`).
    pub(crate) fn reload(&self) {
        match Policies::load(&self.config) {
            Ok(p) => {
                *crate::governor::lock(&self.policies) = p;
                tracing::info!("policy reloaded");
                let message = format!(
                    "the policy was reloaded from {}",
                    self.config.user_policy.display()
                );
                self.notice("policy-reloaded", &message, warden_types::Threat::Benign);
                self.feed.send(crate::events::Event::Alert { message });
            }
            Err(e) => {
                // Keep deciding with the previous policy, but stop noticing the
                // same broken file over and over: adopt its time stamps.
                crate::governor::lock(&self.policies).mark_seen(&self.config);
                self.alert(
                    "policy-invalid",
                    format!("the new policy does not load; the previous one stays in force: {e}"),
                );
            }
        }
    }
}
