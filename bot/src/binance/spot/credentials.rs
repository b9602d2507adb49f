//! API credentials. They come only from files (a mounted Secret) or the
//! environment, and never leave this type in text: `Debug` and `Display`
//! redact, and no error built here or in the client contains them.

use std::fmt;
use std::path::Path;

/// A Binance API key and its HMAC secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SpotCredentials {
    api_key: String,
    secret: String,
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
        "the {what} is empty or contains characters other than ASCII letters and digits; \
         check the Secret it is mounted from"
    )]
    Malformed { what: &'static str },
}

impl SpotCredentials {
    /// Credentials from their values; surrounding whitespace (a trailing
    /// newline in a mounted file) is trimmed.
    pub fn new(api_key: &str, secret: &str) -> Result<Self, CredentialsError> {
        let api_key = checked(api_key, "API key")?;
        let secret = checked(secret, "API secret")?;
        Ok(Self { api_key, secret })
    }

    /// Reads the key and secret from two files (a Kubernetes Secret mounted as a volume).
    pub fn from_files(key_path: &Path, secret_path: &Path) -> Result<Self, CredentialsError> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read_to_string(path).map_err(|e| CredentialsError::File {
                what,
                path: path.display().to_string(),
                reason: e.kind().to_string(),
            })
        };
        Self::new(
            &read(key_path, "API key")?,
            &read(secret_path, "API secret")?,
        )
    }

    /// Reads the key and secret from two environment variables.
    pub fn from_env(key_var: &str, secret_var: &str) -> Result<Self, CredentialsError> {
        let read = |var: &str, what: &'static str| {
            std::env::var(var).map_err(|_| CredentialsError::Env {
                what,
                var: var.to_string(),
            })
        };
        Self::new(&read(key_var, "API key")?, &read(secret_var, "API secret")?)
    }

    /// The key, sent in the `X-MBX-APIKEY` header.
    pub(crate) fn api_key(&self) -> &str {
        &self.api_key
    }

    pub(crate) fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }
}

fn checked(value: &str, what: &'static str) -> Result<String, CredentialsError> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CredentialsError::Malformed { what });
    }
    Ok(v.to_string())
}

impl fmt::Debug for SpotCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpotCredentials { api_key: <redacted>, secret: <redacted> }")
    }
}

impl fmt::Display for SpotCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted Binance credentials>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_both_values() {
        let c = SpotCredentials::new("KEYabc123", "SECRETxyz789\n").unwrap();
        for text in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
            assert!(!text.contains("KEYabc123"), "{text}");
            assert!(!text.contains("SECRETxyz789"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
        assert_eq!(c.secret(), b"SECRETxyz789");
    }

    #[test]
    fn files_are_read_and_trimmed_and_errors_name_the_path_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("api-key");
        let secret = dir.path().join("api-secret");
        std::fs::write(&key, "k1\n").unwrap();
        std::fs::write(&secret, "s1 with space").unwrap();
        let err = SpotCredentials::from_files(&key, &secret).unwrap_err();
        assert!(err.to_string().contains("API secret"), "{err}");
        assert!(!err.to_string().contains("s1 with space"), "{err}");
        std::fs::write(&secret, "s1\n").unwrap();
        let c = SpotCredentials::from_files(&key, &secret).unwrap();
        assert_eq!(c.api_key(), "k1");
        let missing = dir.path().join("nope");
        let err = SpotCredentials::from_files(&missing, &secret).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let err = SpotCredentials::from_env("BOTFLEET_TEST_SURELY_UNSET_KEY", "X").unwrap_err();
        assert!(err.to_string().contains("BOTFLEET_TEST_SURELY_UNSET_KEY"));
    }
}
