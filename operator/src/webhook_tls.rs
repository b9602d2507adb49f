//! The webhook's serving certificate, read from PEM files and re-read when
//! they change: cert-manager, the chart's Secret or an admin rotates them
//! in place, and the listener must not need a restart to pick them up.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// What identifies one version of the two files: their modification times
/// and sizes (a Secret volume swaps a symlink, which changes both).
type Stamp = [(Option<SystemTime>, u64); 2];

/// A certificate resolver that reloads `cert_file`/`key_file` on the next
/// handshake after they change; a half-written or broken pair keeps the
/// previous certificate in service (and is logged).
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: Mutex<(Stamp, Arc<CertifiedKey>)>,
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Loads the pair once; an unreadable or invalid pair is an error here
    /// (at start-up), naming the file.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self> {
        let stamp = stamp(cert_file, key_file);
        let key = certified_key(cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            current: Mutex::new((stamp, key)),
        })
    }

    /// A TLS server configuration serving this certificate (HTTP/1.1).
    pub fn server_config(self) -> ServerConfig {
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }

    fn get(&self) -> Arc<CertifiedKey> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamp(&self.cert_file, &self.key_file);
        if now != current.0 {
            match certified_key(&self.cert_file, &self.key_file) {
                Ok(key) => {
                    tracing::info!(cert_file = %self.cert_file.display(), "webhook certificate reloaded");
                    *current = (now, key);
                }
                // Keep serving the old pair; the stamp stays old so the next
                // handshake tries again (the writer may be half-way through).
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "webhook certificate not reloaded")
                }
            }
        }
        current.1.clone()
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

fn stamp(cert_file: &Path, key_file: &Path) -> Stamp {
    let one = |p: &Path| {
        fs::metadata(p)
            .map(|m| (m.modified().ok(), m.len()))
            .unwrap_or((None, 0))
    };
    [one(cert_file), one(key_file)]
}

fn certified_key(cert_file: &Path, key_file: &Path) -> Result<Arc<CertifiedKey>> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "--webhook-cert-file {}: not a PEM certificate chain",
                cert_file.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "--webhook-cert-file {}: no certificate in it",
            cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| {
        format!(
            "--webhook-key-file {}: not a PEM private key",
            key_file.display()
        )
    })?;
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let key = CertifiedKey::from_der(certs, key, &provider).with_context(|| {
        format!(
            "--webhook-key-file {} does not match --webhook-cert-file {}",
            key_file.display(),
            cert_file.display()
        )
    })?;
    Ok(Arc::new(key))
}
