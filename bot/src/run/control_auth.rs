//! Who may call the control endpoints: requests signed by the operator
//! (`botfleet_crds::control_signature`). The engine holds only the
//! operator's public keys, from a file (the rendered ConfigMap in a
//! cluster) that is re-read on every control request, so a key rotation
//! reaches a running engine without a restart. `/status` stays unsigned: it
//! holds no secret.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};
use axum::http::HeaderMap;
use botfleet_crds::control_signature::{
    NonceCache, Presented, PublicKey, RequestParts, parse_public_keys, verify,
};

/// Env var naming the public keys file (the operator's StatefulSet sets it).
pub const KEYS_FILE_ENV: &str = "BOTFLEET_CONTROL_KEYS_FILE";

/// Who may call the control endpoints.
#[derive(Debug)]
pub enum Auth {
    Signed(SignedAuth),
    /// `--insecure-no-auth`: anyone who reaches the port.
    Disabled,
}

/// Checks operator signatures for one bot.
#[derive(Debug)]
pub struct SignedAuth {
    keys_file: PathBuf,
    uid: String,
    nonces: Mutex<NonceCache>,
}

impl SignedAuth {
    /// Checks that `keys_file` holds at least one key now, so a broken file
    /// stops the engine at start rather than at the first halt.
    pub fn new(keys_file: PathBuf, uid: String) -> anyhow::Result<Self> {
        read_keys(&keys_file)?;
        Ok(Self {
            keys_file,
            uid,
            nonces: Mutex::new(NonceCache::default()),
        })
    }

    /// `Err(reason)` when the request is not the operator's, for this bot,
    /// now and once. The reason never echoes what was sent.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let keys = read_keys(&self.keys_file).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "control request refused: the public keys file is unusable");
            "the engine cannot read its operator public keys; see its log".to_string()
        })?;
        let presented =
            Presented::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()));
        let request = RequestParts {
            method,
            path,
            uid: &self.uid,
            body,
        };
        let now = chrono::Utc::now().timestamp();
        let verified = verify(&keys, &request, &presented, now).map_err(|r| r.to_string())?;
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.admit(&verified, now).map_err(|r| r.to_string())
    }
}

fn read_keys(path: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the operator public keys from --control-keys-file {}",
            path.display()
        )
    })?;
    parse_public_keys(&text)
        .map_err(|e| anyhow::anyhow!("--control-keys-file {}: {e}", path.display()))
}

/// The control auth from `--control-keys-file` (or its env var) and the
/// bot's UID; without a keys file only `--insecure-no-auth` starts.
pub fn from_args(
    keys_file: Option<&Path>,
    insecure_no_auth: bool,
    uid: Option<&str>,
) -> anyhow::Result<Auth> {
    let env = std::env::var(KEYS_FILE_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let keys_file = keys_file.map(Path::to_path_buf).or(env.map(PathBuf::from));
    match keys_file {
        Some(path) => {
            let Some(uid) = uid.filter(|u| !u.trim().is_empty()) else {
                bail!(
                    "signed control requests are bound to the bot's UID, and the config's TradingBot has no \
                     metadata.uid: set it (the operator's rendered config always does)"
                );
            };
            if insecure_no_auth {
                tracing::warn!(
                    "--insecure-no-auth is ignored: operator public keys are configured"
                );
            }
            Ok(Auth::Signed(SignedAuth::new(path, uid.to_string())?))
        }
        None if insecure_no_auth => Ok(Auth::Disabled),
        None => bail!(
            "no operator public keys: give --control-keys-file PATH or set {KEYS_FILE_ENV} (the keys that \
             verify signed /v1/halt, /v1/resume and /v1/cancel-all); for local use only, --insecure-no-auth \
             serves them unsigned"
        ),
    }
}
