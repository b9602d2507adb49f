//! Key material of one control plane: a throwaway CA, the apiserver's serving
//! certificate signed by it, the service-account signing key and random bearer tokens.
//!
//! Everything is generated fresh per control plane so clients verify TLS for real
//! (no `insecure-skip-tls-verify`) and no secret outlives the run.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Names the serving certificate is valid for: what the tests dial (127.0.0.1,
/// localhost) and what in-cluster clients would use for the `kubernetes` Service.
const SERVING_NAMES: &[&str] = &[
    "127.0.0.1",
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "10.0.0.1",
];

/// Paths of the PEM files written into the control plane's directory.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate; clients trust it, the controller-manager puts it into
    /// service-account token secrets (`ca.crt`).
    pub ca_cert: PathBuf,
    /// The CA key, given to the controller-manager's CSR signer.
    pub ca_key: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    /// Signs service-account tokens (apiserver, controller-manager).
    pub service_account_key: PathBuf,
    /// Verifies them (apiserver; Go's public-key reader takes no PKCS#8 private key).
    pub service_account_public_key: PathBuf,
    /// The CA certificate in PEM, for kubeconfigs (`certificate-authority-data`).
    pub ca_pem: String,
}

impl Pki {
    /// Generates all key material and writes it under `dir`.
    pub fn generate(dir: &Path) -> Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "botfleet-test-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().context("generating the CA key")?;
        let ca_key_pem = ca_key.serialize_pem();
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).context("signing the CA")?;

        let names: Vec<String> = SERVING_NAMES.iter().map(|s| s.to_string()).collect();
        let mut serving_params = CertificateParams::new(names)?;
        serving_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        serving_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_key = KeyPair::generate().context("generating the serving key")?;
        let serving_cert = serving_params
            .signed_by(&serving_key, &ca)
            .context("signing the serving certificate")?;

        let sa_key = KeyPair::generate().context("generating the service-account key")?;

        let pki = Pki {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            service_account_key: dir.join("service-account.key"),
            service_account_public_key: dir.join("service-account.pub"),
            ca_pem: ca.pem(),
        };
        write(&pki.ca_cert, &pki.ca_pem)?;
        write(&pki.ca_key, &ca_key_pem)?;
        write(&pki.serving_cert, &serving_cert.pem())?;
        write(&pki.serving_key, &serving_key.serialize_pem())?;
        write(&pki.service_account_key, &sa_key.serialize_pem())?;
        write(&pki.service_account_public_key, &sa_key.public_key_pem())?;
        Ok(pki)
    }
}

fn write(path: &Path, contents: &str) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// A random bearer token (128 bits, hex) from the kernel's CSPRNG.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
