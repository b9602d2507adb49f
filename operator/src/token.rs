//! The per-bot bearer token of the engine's control endpoints: HMAC-SHA256
//! of the bot's UID under a key mounted into the operator's pod. Derived, not
//! stored, so the operator never needs to read the Secret it writes and can
//! always re-derive it after a restart. A new UID (bot deleted and
//! re-created) gets a new token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// Key of the token in the `<bot>-engine-token` Secret.
pub const SECRET_KEY: &str = "token";

/// Name of the Secret holding the engine token of `bot`.
pub fn secret_name(bot: &str) -> String {
    format!("{bot}-engine-token")
}

/// The HMAC key, read from the operator's key file.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key of at least 32 bytes (surrounding whitespace of a key file is ignored).
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self> {
        let bytes = bytes.as_ref().trim_ascii();
        if bytes.len() < 32 {
            return Err(Error::Config(format!(
                "the token key has {} bytes; use at least 32 random bytes (e.g. `head -c 48 /dev/urandom | base64`)",
                bytes.len()
            )));
        }
        Ok(Self(bytes.to_vec()))
    }

    /// Reads the key file mounted into the operator's pod.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the token key file {} (--token-key-file): {e}",
                path.display()
            ))
        })?;
        Self::new(bytes)
    }

    /// The token of the bot with `uid`, hex encoded.
    pub fn derive(&self, uid: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(uid.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_uid_and_differ_between_bots_and_keys() {
        let key = TokenKey::new([7u8; 32]).unwrap();
        let a = key.derive("uid-a");
        assert_eq!(a, key.derive("uid-a"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, key.derive("uid-b"));
        let other = TokenKey::new([8u8; 32]).unwrap();
        assert_ne!(a, other.derive("uid-a"));
    }

    #[test]
    fn known_answer() {
        // Computed independently with Python's hmac module.
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            key.derive("uid"),
            "2d4d175f3bcb086911f1df2607d62a5f3bc6e7570d44e5e1766bd9d88a4cd990"
        );
    }

    #[test]
    fn short_keys_are_refused_with_the_fix() {
        let err = TokenKey::new(b"short\n").unwrap_err().to_string();
        assert!(
            err.contains("5 bytes") && err.contains("/dev/urandom"),
            "{err}"
        );
    }
}
