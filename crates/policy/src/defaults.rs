//! The policy warden ships: written by `warden policy init`, used when no policy
//! file exists. It is an ordinary policy file, so it is held to the same rules:
//! its inline examples are checked when it loads (see the tests below).

use std::path::Path;

use crate::Policy;
use crate::file::{LayerKind, PolicyError, parse_layer};

/// The default policy, commented for people to edit.
pub const DEFAULT_POLICY: &str = include_str!("../default-policy.toml");

/// Load the default policy for a user whose home directory is `home`.
pub fn default_policy(home: &Path) -> Result<Policy, PolicyError> {
    let layer = parse_layer(DEFAULT_POLICY, "<default policy>", LayerKind::User, home)?;
    Policy::from_layers(vec![layer], home)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_loads_and_its_examples_hold() {
        let p = default_policy(Path::new("/home/u")).unwrap();
        assert!(p.rules().len() >= 10);
    }
}
