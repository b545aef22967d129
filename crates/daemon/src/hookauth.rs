//! Hook enrollment: how a hook that `warden init` installed proves it was
//! installed by warden. A hook runs as a fresh process for every event, long
//! after its agent started and across daemon restarts, so it cannot hold a
//! session secret; it holds an enrollment secret instead, written into the
//! hook configuration: `wh1.<agent>.<mac>` where the MAC is HMAC-SHA256 of the
//! agent's name under a key in the state directory. The daemon verifies it
//! and opens one session per agent session id it reports. A caller without
//! one is an unknown agent (autonomy 0), whatever it claims.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "wh1";

/// Why the enrollment key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// Reading or creating the key.
    #[error("{path}: {message}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The key enrollment secrets are derived with.
#[derive(Clone)]
pub struct EnrollKey([u8; 32]);

impl std::fmt::Debug for EnrollKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollKey(…)")
    }
}

/// The key file in a state directory.
pub fn key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("keys").join("hooks.key")
}

impl EnrollKey {
    /// Loads the key, creating it (0600, in the 0700 `keys/`) on first use.
    pub fn load_or_create(state_dir: &Path) -> Result<EnrollKey, EnrollError> {
        let path = key_path(state_dir);
        let err = |message: String| EnrollError::Key {
            path: path.clone(),
            message,
        };
        if !path.exists() {
            let dir = state_dir.join("keys");
            std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| err(e.to_string()))?;
            }
            let hex_key = crate::random_token();
            match warden_audit::keys::create_exclusive(
                &path,
                format!("{hex_key}\n").as_bytes(),
                0o600,
            ) {
                Ok(()) => {}
                // Another process created it first: use theirs.
                Err(_) if path.exists() => {}
                Err(e) => return Err(err(e.to_string())),
            }
        }
        EnrollKey::load(state_dir)
    }

    /// Loads the key; an error if the daemon of `state_dir` never made one.
    pub fn load(state_dir: &Path) -> Result<EnrollKey, EnrollError> {
        let path = key_path(state_dir);
        let err = |message: String| EnrollError::Key {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        let bytes = hex::decode(text.trim()).map_err(|e| err(format!("not a key: {e}")))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| err("not a 32-byte key".into()))?;
        Ok(EnrollKey(key))
    }

    fn mac(&self, agent: &str) -> String {
        // HMAC accepts keys of any length; a 32-byte key cannot fail.
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable_key());
        m.update(b"warden hook enrollment\0");
        m.update(agent.as_bytes());
        hex::encode(m.finalize().into_bytes())
    }

    /// The enrollment secret for `agent`.
    pub fn secret_for(&self, agent: &str) -> String {
        format!("{PREFIX}.{agent}.{}", self.mac(agent))
    }

    /// The agent an enrollment secret was issued for, if it is genuine.
    pub fn verify(&self, secret: &str) -> Option<String> {
        let mut parts = secret.splitn(3, '.');
        let (Some(PREFIX), Some(agent), Some(mac)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        crate::api::constant_time_eq(mac.as_bytes(), self.mac(agent).as_bytes())
            .then(|| agent.to_string())
    }
}

fn unreachable_key() -> Hmac<Sha256> {
    // Only reached if HMAC refused a 32-byte key, which it never does;
    // stopping is the fail-closed answer.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_verify_for_their_agent_only() {
        let dir = tempfile::tempdir().unwrap();
        let k = EnrollKey::load_or_create(dir.path()).unwrap();
        let s = k.secret_for("claude-code");
        assert_eq!(k.verify(&s).as_deref(), Some("claude-code"));
        let forged = s.replace("claude-code", "codex");
        assert_eq!(k.verify(&forged), None);
        assert_eq!(k.verify("wh1.claude-code.00"), None);
        assert_eq!(k.verify("garbage"), None);
        // The same key after a restart.
        let again = EnrollKey::load_or_create(dir.path()).unwrap();
        assert_eq!(again.verify(&s).as_deref(), Some("claude-code"));
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            EnrollKey::load_or_create(other.path()).unwrap().verify(&s),
            None
        );
    }
}
