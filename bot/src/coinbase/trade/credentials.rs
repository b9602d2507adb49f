//! Coinbase Advanced Trade API key: its name
//! (`organizations/{org_id}/apiKeys/{key_id}`) and its EC P-256 private key
//! (PEM, `-----BEGIN EC PRIVATE KEY-----` as Coinbase hands it out, or
//! PKCS#8). They come only from files (a mounted Secret) or the environment
//! and never leave this type in text: `Debug` and `Display` redact, and no
//! error built here names more than the file or variable.

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use std::fmt;
use std::path::Path;

/// A Coinbase API key name and its signing key.
#[derive(Clone)]
pub struct CoinbaseCredentials {
    key_name: String,
    signing_key: SigningKey,
}

/// Why credentials could not be loaded. Names the file or variable, never its content.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the {what} from {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("environment variable {var} (the {what}) is not set or not valid UTF-8")]
    Env { what: &'static str, var: String },
    #[error(
        "the API key name is empty or has characters other than letters, digits and `/-_`; \
         Coinbase names keys like organizations/<org id>/apiKeys/<key id>"
    )]
    MalformedKeyName,
    #[error(
        "the private key is not an EC P-256 key in PEM form (Coinbase's \
         `-----BEGIN EC PRIVATE KEY-----` block, or PKCS#8 `BEGIN PRIVATE KEY`); \
         an Ed25519 key is not supported for Advanced Trade; check the Secret it is mounted from"
    )]
    MalformedPrivateKey,
}

impl CoinbaseCredentials {
    /// Credentials from their values. Surrounding whitespace is trimmed and
    /// a PEM pasted with literal `\n` sequences (as in Coinbase's JSON key
    /// file) is accepted.
    pub fn new(key_name: &str, private_key_pem: &str) -> Result<Self, CredentialsError> {
        let key_name = key_name.trim();
        let name_ok = !key_name.is_empty()
            && key_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'));
        if !name_ok {
            return Err(CredentialsError::MalformedKeyName);
        }
        let pem = private_key_pem.trim().replace("\\n", "\n");
        let signing_key = if pem.contains("BEGIN EC PRIVATE KEY") {
            p256::SecretKey::from_sec1_pem(&pem)
                .map(SigningKey::from)
                .map_err(|_| CredentialsError::MalformedPrivateKey)?
        } else {
            SigningKey::from_pkcs8_pem(&pem).map_err(|_| CredentialsError::MalformedPrivateKey)?
        };
        Ok(Self {
            key_name: key_name.to_string(),
            signing_key,
        })
    }

    /// Reads the key name and the PEM private key from two files (a
    /// Kubernetes Secret mounted as a volume).
    pub fn from_files(
        key_name_path: &Path,
        private_key_path: &Path,
    ) -> Result<Self, CredentialsError> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read_to_string(path).map_err(|e| CredentialsError::File {
                what,
                path: path.display().to_string(),
                reason: e.kind().to_string(),
            })
        };
        Self::new(
            &read(key_name_path, "API key name")?,
            &read(private_key_path, "API private key")?,
        )
    }

    /// Reads the key name and the PEM private key from two environment variables.
    pub fn from_env(name_var: &str, key_var: &str) -> Result<Self, CredentialsError> {
        let read = |var: &str, what: &'static str| {
            std::env::var(var).map_err(|_| CredentialsError::Env {
                what,
                var: var.to_string(),
            })
        };
        Self::new(
            &read(name_var, "API key name")?,
            &read(key_var, "API private key")?,
        )
    }

    /// The key name: the JWT's `kid` and `sub`.
    pub(crate) fn key_name(&self) -> &str {
        &self.key_name
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The public half (what Coinbase, or the simulator, verifies with).
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.signing_key.verifying_key()
    }
}

impl fmt::Debug for CoinbaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CoinbaseCredentials { key_name: <redacted>, private_key: <redacted> }")
    }
}

impl fmt::Display for CoinbaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted Coinbase credentials>")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use p256::pkcs8::{EncodePrivateKey, LineEnding};

    pub(crate) const KEY_NAME: &str = "organizations/org-1/apiKeys/key-1";

    /// A fixed test key in Coinbase's SEC1 PEM form.
    pub(crate) fn test_pem() -> String {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        secret.to_sec1_pem(LineEnding::LF).unwrap().to_string()
    }

    #[test]
    fn sec1_and_pkcs8_pem_load_and_debug_redacts() {
        let pem = test_pem();
        let c = CoinbaseCredentials::new(KEY_NAME, &pem).unwrap();
        let pkcs8 = p256::SecretKey::from_slice(&[7u8; 32])
            .unwrap()
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        let c2 = CoinbaseCredentials::new(KEY_NAME, &pkcs8).unwrap();
        assert_eq!(c.verifying_key(), c2.verifying_key());
        // Coinbase's JSON key file escapes the newlines.
        let escaped = pem.replace('\n', "\\n");
        assert!(CoinbaseCredentials::new(KEY_NAME, &escaped).is_ok());
        let body_line = pem.lines().nth(1).unwrap();
        for text in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
            assert!(!text.contains("org-1"), "{text}");
            assert!(!text.contains(body_line), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn bad_inputs_name_the_problem_not_the_content() {
        let err = CoinbaseCredentials::new(
            KEY_NAME,
            "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n-----END EC PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(err.to_string().contains("EC P-256"), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
        let err = CoinbaseCredentials::new("name with space", &test_pem()).unwrap_err();
        assert!(matches!(err, CredentialsError::MalformedKeyName), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = CoinbaseCredentials::from_files(&missing, &missing).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
