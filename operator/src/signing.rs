//! The operator's Ed25519 key for signed control requests
//! (`botfleet_crds::control_signature`). The key material is a file mounted
//! from a Secret the chart creates; the operator re-reads it when asked
//! ([`SigningKeys::refresh`], at every reconcile), so rotating the Secret
//! needs no restart. After a rotation the previous key is kept: engines list
//! both public keys until their ConfigMap catches up, and a call the engine
//! refuses with the current key is retried with the previous one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use botfleet_crds::control_signature::{RequestParts, SignedHeaders, SigningKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Key of the public keys file in each bot's ConfigMap.
pub const PUBLIC_KEYS_KEY: &str = "control-keys.pub";

#[derive(Clone)]
struct Loaded {
    /// SHA-256 of the material, to notice a change without keeping it.
    fingerprint: [u8; 32],
    current: SigningKey,
    previous: Option<SigningKey>,
}

/// The current signing key (and the previous one after a rotation).
#[derive(Clone)]
pub struct SigningKeys {
    file: Option<PathBuf>,
    loaded: Arc<RwLock<Loaded>>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self.read();
        f.debug_struct("SigningKeys")
            .field("file", &self.file)
            .field("current", &l.current.public_key().to_string())
            .finish_non_exhaustive()
    }
}

fn load(material: &[u8]) -> Result<(SigningKey, [u8; 32])> {
    let key = SigningKey::from_material(material).map_err(Error::Config)?;
    Ok((key, Sha256::digest(material.trim_ascii()).into()))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the signing key file {} (--signing-key-file): {e}",
            path.display()
        ))
    })
}

impl SigningKeys {
    /// A fixed key from material (tests; nothing to reload).
    pub fn from_material(material: &[u8]) -> Result<Self> {
        let (current, fingerprint) = load(material)?;
        Ok(Self {
            file: None,
            loaded: Arc::new(RwLock::new(Loaded {
                fingerprint,
                current,
                previous: None,
            })),
        })
    }

    /// The key in `path`, re-read by [`Self::refresh`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let mut keys = Self::from_material(&read_file(path)?)?;
        keys.file = Some(path.to_path_buf());
        Ok(keys)
    }

    fn read(&self) -> Loaded {
        self.loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the key file; a new key becomes current and the one before
    /// it previous. Returns whether the key changed. An unreadable or short
    /// file keeps the loaded key (and is an error to log).
    pub fn refresh(&self) -> Result<bool> {
        let Some(path) = &self.file else {
            return Ok(false);
        };
        let (key, fingerprint) = load(&read_file(path)?)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        if loaded.fingerprint == fingerprint {
            return Ok(false);
        }
        let old = std::mem::replace(&mut loaded.current, key);
        loaded.previous = Some(old);
        loaded.fingerprint = fingerprint;
        tracing::info!(
            public_key = %loaded.current.public_key(),
            "the signing key changed: signing with the new key; engines accept the previous one until their ConfigMap lists the new one"
        );
        Ok(true)
    }

    /// The public keys file of the engines: current first, then previous.
    pub fn public_keys_file(&self) -> String {
        let l = self.read();
        let mut text = format!(
            "# Public keys of the botfleet operator: signed control requests verify with one of them.\n{}\n",
            l.current.public_key()
        );
        if let Some(previous) = &l.previous {
            text.push_str(&format!("{}\n", previous.public_key()));
        }
        text
    }

    /// The signature headers of `POST path` with `body` for the bot `uid`,
    /// by the current key and then the previous one (for a retry).
    pub fn sign(&self, path: &str, uid: &str, body: &[u8]) -> Vec<SignedHeaders> {
        let l = self.read();
        let request = RequestParts {
            method: "POST",
            path,
            uid,
            body,
        };
        let now = unix_now();
        std::iter::once(&l.current)
            .chain(l.previous.as_ref())
            .map(|key| key.sign(&request, now, &nonce()))
            .collect()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A value never used twice: the nonce only has to be unique (the
/// signature covers it), so the time in nanoseconds, the process id and a
/// counter suffice.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use botfleet_crds::control_signature::{Presented, parse_public_keys, verify};

    const A: &[u8] = b"material-a-0123456789abcdef0123456789abcdef";
    const B: &[u8] = b"material-b-0123456789abcdef0123456789abcdef";

    fn verifies(keys_file: &str, h: &SignedHeaders, body: &[u8]) -> bool {
        let keys = parse_public_keys(keys_file).unwrap();
        let request = RequestParts {
            method: "POST",
            path: "/v1/halt",
            uid: "uid-1",
            body,
        };
        let p = Presented {
            timestamp: Some(&h.timestamp),
            nonce: Some(&h.nonce),
            uid: Some(&h.uid),
            signature: Some(&h.signature),
        };
        verify(&keys, &request, &p, unix_now()).is_ok()
    }

    #[test]
    fn a_rotated_key_file_is_picked_up_and_the_previous_key_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, A).unwrap();
        let keys = SigningKeys::from_file(&path).unwrap();
        let before = keys.public_keys_file();
        assert_eq!(parse_public_keys(&before).unwrap().len(), 1);
        assert!(!keys.refresh().unwrap(), "unchanged");

        std::fs::write(&path, B).unwrap();
        assert!(keys.refresh().unwrap());
        let after = keys.public_keys_file();
        let listed = parse_public_keys(&after).unwrap();
        assert_eq!(listed.len(), 2, "new and previous: {after}");
        let signed = keys.sign("/v1/halt", "uid-1", b"{}");
        assert_eq!(signed.len(), 2);
        // The current signature verifies only with the new key; the retry
        // with the previous key verifies with an engine not yet updated.
        assert!(verifies(&after, &signed[0], b"{}"));
        assert!(!verifies(&before, &signed[0], b"{}"));
        assert!(verifies(&before, &signed[1], b"{}"));
        assert_ne!(signed[0].nonce, signed[1].nonce);
        // Nothing of the material shows.
        assert!(!format!("{keys:?}").contains("material"));
    }

    #[test]
    fn an_unreadable_or_short_file_keeps_the_loaded_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, A).unwrap();
        let keys = SigningKeys::from_file(&path).unwrap();
        let before = keys.public_keys_file();
        std::fs::write(&path, b"short").unwrap();
        let err = keys.refresh().unwrap_err().to_string();
        assert!(err.contains("5 bytes"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = keys.refresh().unwrap_err().to_string();
        assert!(err.contains("--signing-key-file"), "{err}");
        assert_eq!(keys.public_keys_file(), before);
    }
}
