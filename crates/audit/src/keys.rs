//! The key files in `$WARDEN_HOME/keys/`: created on first use, 0600, and refused
//! when anyone but the owner could read them.
//!
//! | file | contents |
//! | --- | --- |
//! | `audit-master.key` | the master key that wraps every segment's data key |
//! | `log-signing.key` | the Ed25519 checkpoint signing key, Go `PRIVATE+KEY+…` syntax |
//! | `log.vkey` | its public verifier key (world-readable, to hand out) |
//!
//! The signing key is separate from the encryption keys: handing out the verifier
//! key, or losing a data key to retention, changes nothing about the other.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError, SecretKey};
use crate::note::{NoteError, SignerKey, VerifierKey};

const MASTER_FILE: &str = "audit-master.key";
const SIGNER_FILE: &str = "log-signing.key";
const VERIFIER_FILE: &str = "log.vkey";
const MASTER_LABEL: &str = "warden audit master key v1";

/// Why the keys could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A secret file others can read or write.
    #[error(
        "{path} has mode {mode:04o}: a key file must be readable by its owner only (chmod 600; for the directory, chmod 700)"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file with unexpected contents.
    #[error("{path} is not a warden key file: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// No keys: the log was never created in this home.
    #[error("{0} does not exist: no audit log has been created in this home")]
    Missing(PathBuf),
    /// The random source failed while creating a key.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A signing key the note module refused.
    #[error(transparent)]
    Note(#[from] NoteError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The secret keys a writer needs.
#[derive(Debug)]
pub struct KeyRing {
    /// Wraps the data keys.
    pub master: SecretKey,
    /// Signs checkpoints; its name is the log's origin.
    pub signer: SignerKey,
}

/// Where the keys of `home` live.
pub fn keys_dir(home: &Path) -> PathBuf {
    home.join("keys")
}

/// The signing key's file (its presence means a log was created here).
pub fn signer_path(home: &Path) -> PathBuf {
    keys_dir(home).join(SIGNER_FILE)
}

/// Loads the keys of `home`, creating any that do not exist yet. `origin` names a
/// new signing key (`warden/<machine-id>`); an existing key keeps its own name.
pub fn load_or_create(home: &Path, origin: &str) -> Result<KeyRing, KeyError> {
    let dir = keys_dir(home);
    ensure_private_dir(&dir)?;
    let master_path = dir.join(MASTER_FILE);
    if !master_path.exists() {
        let key = SecretKey::generate()?;
        let text = Zeroizing::new(format!("{MASTER_LABEL}\n{}\n", B64.encode(key.expose())));
        create_exclusive(&master_path, text.as_bytes(), 0o600)?;
    }
    let signer_path = dir.join(SIGNER_FILE);
    if !signer_path.exists() {
        let mut seed = Zeroizing::new([0u8; 32]);
        crypto::random_bytes(&mut *seed)?;
        let signer = SignerKey::from_seed(origin, &seed)?;
        let text = Zeroizing::new(format!("{}\n", &*signer.to_secret_text()));
        create_exclusive(&signer_path, text.as_bytes(), 0o600)?;
    }
    let ring = KeyRing {
        master: read_master(&master_path)?,
        signer: read_signer(&signer_path)?,
    };
    let verifier_path = dir.join(VERIFIER_FILE);
    if !verifier_path.exists() {
        let text = format!("{}\n", ring.signer.verifier());
        create_exclusive(&verifier_path, text.as_bytes(), 0o644)?;
    }
    Ok(ring)
}

/// Loads the keys of an existing log without creating anything.
pub fn load_existing(home: &Path) -> Result<KeyRing, KeyError> {
    let dir = keys_dir(home);
    check_private(&dir)?;
    Ok(KeyRing {
        master: read_master(&dir.join(MASTER_FILE))?,
        signer: read_signer(&dir.join(SIGNER_FILE))?,
    })
}

/// The master key alone (readers that decrypt but never sign).
pub fn load_master(home: &Path) -> Result<SecretKey, KeyError> {
    let dir = keys_dir(home);
    check_private(&dir)?;
    read_master(&dir.join(MASTER_FILE))
}

/// The public verifier key of the log in `home`, from `keys/log.vkey`.
pub fn load_verifier(home: &Path) -> Result<VerifierKey, KeyError> {
    let path = keys_dir(home).join(VERIFIER_FILE);
    let text = read(&path)?;
    text.trim()
        .parse()
        .map_err(|e: NoteError| KeyError::Malformed {
            path,
            why: e.to_string(),
        })
}

fn read(path: &Path) -> Result<String, KeyError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(KeyError::Missing(path.to_path_buf()))
        }
        Err(e) => Err(io(path)(e)),
    }
}

fn read_master(path: &Path) -> Result<SecretKey, KeyError> {
    check_private(path)?;
    let text = Zeroizing::new(read(path)?);
    let malformed = |why: &str| KeyError::Malformed {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let mut lines = text.lines();
    if lines.next() != Some(MASTER_LABEL) {
        return Err(malformed("the first line is not the master key label"));
    }
    let bytes = Zeroizing::new(
        B64.decode(lines.next().unwrap_or_default())
            .map_err(|_| malformed("the key is not base64"))?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| malformed("the key is not 32 bytes"))?;
    Ok(SecretKey::from_bytes(key))
}

fn read_signer(path: &Path) -> Result<SignerKey, KeyError> {
    check_private(path)?;
    let text = Zeroizing::new(read(path)?);
    SignerKey::parse(&text).map_err(|e| KeyError::Malformed {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// Refuses a secret file or directory that group or others can access.
fn check_private(path: &Path) -> Result<(), KeyError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(io(path)(e)),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Creates `dir` (and its parents) if missing; the directory itself 0700.
pub fn ensure_private_dir(dir: &Path) -> Result<(), KeyError> {
    if !dir.exists() {
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        match fs::create_dir(dir) {
            Ok(()) => {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(dir)(e)),
        }
    }
    check_private(dir)
}

/// Writes `contents` to `path` only if `path` does not exist, atomically: the
/// bytes go to a private temporary file, are synced, and are linked into place.
/// Two processes racing to create a key both end up reading the winner's key.
pub fn create_exclusive(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut suffix = [0u8; 8];
    crypto::random_bytes(&mut suffix)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        hex::encode(suffix)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io(&tmp))?;
        f.write_all(contents).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(path)(e)),
        }
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// This machine's id: `/etc/machine-id` when it holds one, else an id generated
/// once and kept in `$WARDEN_HOME/machine-id`.
pub fn machine_id(home: &Path) -> Result<String, KeyError> {
    let valid = |s: &str| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    for system in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(text) = fs::read_to_string(system) {
            let id = text.trim().to_ascii_lowercase();
            if valid(&id) {
                return Ok(id);
            }
        }
    }
    let own = home.join("machine-id");
    if let Ok(text) = fs::read_to_string(&own) {
        let id = text.trim().to_string();
        if valid(&id) {
            return Ok(id);
        }
        return Err(KeyError::Malformed {
            path: own,
            why: "not 32 lowercase hex digits".into(),
        });
    }
    let mut raw = [0u8; 16];
    crypto::random_bytes(&mut raw)?;
    create_exclusive(&own, format!("{}\n", hex::encode(raw)).as_bytes(), 0o644)?;
    let text = fs::read_to_string(&own).map_err(io(&own))?;
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let home = tempfile::tempdir().unwrap();
        let a = load_or_create(home.path(), "warden/test").unwrap();
        let b = load_or_create(home.path(), "warden/other").unwrap();
        assert_eq!(a.master.expose(), b.master.expose());
        assert_eq!(a.signer.verifier(), b.signer.verifier());
        assert_eq!(b.signer.name(), "warden/test");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = keys_dir(home.path());
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(MASTER_FILE)), 0o600);
        assert_eq!(mode(&dir.join(SIGNER_FILE)), 0o600);
        assert_eq!(load_verifier(home.path()).unwrap(), a.signer.verifier());
    }

    #[test]
    fn readable_key_files_are_refused_and_named() {
        let home = tempfile::tempdir().unwrap();
        load_or_create(home.path(), "warden/test").unwrap();
        let master = keys_dir(home.path()).join(MASTER_FILE);
        fs::set_permissions(&master, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_existing(home.path()).unwrap_err().to_string();
        assert!(
            err.contains("audit-master.key") && err.contains("0644"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_log_is_named() {
        let home = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_existing(home.path()),
            Err(KeyError::Missing(_))
        ));
    }
}
