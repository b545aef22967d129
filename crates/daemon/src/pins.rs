//! Approved MCP tool definitions: `(server, tool) → digest`, kept in the state
//! directory (which no agent can reach), so a gateway — which runs beside the
//! agent and its MCP server — never holds the record of what was approved.
//! The governor fills each `tool_definition` action's `pinned` from here
//! (whatever the caller claimed) and pins a digest once its definition is
//! allowed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the pins could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// I/O on the pin file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The pin file is not what warden writes.
    #[error("{path}: not a pin file: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PinFile {
    version: u32,
    /// `server` → `tool` → digest.
    servers: BTreeMap<String, BTreeMap<String, String>>,
}

/// The pins, loaded once and written through.
#[derive(Debug)]
pub struct Pins {
    path: PathBuf,
    file: PinFile,
}

impl Pins {
    /// The pins in `state_dir` (none yet if the file does not exist).
    pub fn load(state_dir: &Path) -> Result<Pins, PinError> {
        let path = state_dir.join("mcp-pins.json");
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PinError::Format {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PinFile {
                version: 1,
                ..PinFile::default()
            },
            Err(source) => return Err(PinError::Io { path, source }),
        };
        Ok(Pins { path, file })
    }

    /// The approved digest of `server`'s `tool`.
    pub fn get(&self, server: &str, tool: &str) -> Option<&str> {
        self.file
            .servers
            .get(server)
            .and_then(|t| t.get(tool))
            .map(String::as_str)
    }

    /// Pins `digest`; written to disk before this returns (temp file, fsync,
    /// rename), so an approval survives a crash.
    pub fn set(&mut self, server: &str, tool: &str, digest: &str) -> Result<(), PinError> {
        if self.get(server, tool) == Some(digest) {
            return Ok(());
        }
        self.file
            .servers
            .entry(server.to_string())
            .or_default()
            .insert(tool.to_string(), digest.to_string());
        let io = |source| PinError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&self.file).unwrap_or_default();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&text).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pins_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Pins::load(dir.path()).unwrap();
        assert_eq!(p.get("gh", "t"), None);
        p.set("gh", "t", "abc").unwrap();
        let p = Pins::load(dir.path()).unwrap();
        assert_eq!(p.get("gh", "t"), Some("abc"));
        std::fs::write(dir.path().join("mcp-pins.json"), "{").unwrap();
        assert!(matches!(
            Pins::load(dir.path()),
            Err(PinError::Format { .. })
        ));
    }
}
