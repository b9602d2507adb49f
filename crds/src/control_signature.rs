//! Signed control requests: how the operator proves to an engine that a
//! `POST /v1/*` comes from it, for this bot, now, once. Shared by both sides
//! so the signed bytes can never drift; documented in `docs/engine-api.md`.
//!
//! The operator holds an Ed25519 key; an engine holds only public keys (the
//! current one and, during a rotation, the previous one), so nothing an
//! engine pod holds lets it, or anyone reading its ConfigMap, sign.
//!
//! The signed message is, lines joined by `\n`:
//! `botfleet-control-v1`, the method, the path, the bot UID, the timestamp
//! (Unix seconds), the nonce and the hex SHA-256 of the body.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

/// Header: Unix seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "x-botfleet-timestamp";
/// Header: a value used once (16 to 64 of `[0-9A-Za-z_-]`).
pub const NONCE_HEADER: &str = "x-botfleet-nonce";
/// Header: the UID of the TradingBot the request is for.
pub const BOT_UID_HEADER: &str = "x-botfleet-bot-uid";
/// Header: the base64 Ed25519 signature of [`message`].
pub const SIGNATURE_HEADER: &str = "x-botfleet-signature";
/// The most a request's timestamp may differ from the engine's clock.
pub const MAX_SKEW_SECS: i64 = 30;
/// Key material shorter than this is refused.
pub const MIN_KEY_MATERIAL_BYTES: usize = 32;

const DOMAIN: &str = "botfleet-control-v1";

/// The bytes signed for one request.
pub fn message(
    method: &str,
    path: &str,
    uid: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let body_hash = hex_lower(&Sha256::digest(body));
    format!(
        "{DOMAIN}\n{}\n{path}\n{uid}\n{timestamp}\n{nonce}\n{body_hash}",
        method.to_ascii_uppercase()
    )
    .into_bytes()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The operator's private key. Never printed.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key())
    }
}

impl SigningKey {
    /// The key derived from random key material (e.g. the 64 random
    /// characters the chart generates): the Ed25519 seed is the SHA-256 of
    /// the material, so any random text of at least 32 bytes is a key.
    /// Surrounding whitespace (a trailing newline) is ignored.
    pub fn from_material(material: &[u8]) -> Result<Self, String> {
        let material = material.trim_ascii();
        if material.len() < MIN_KEY_MATERIAL_BYTES {
            return Err(format!(
                "the signing key material has {} bytes; use at least {MIN_KEY_MATERIAL_BYTES} random bytes \
                 (e.g. `head -c 48 /dev/urandom | base64`)",
                material.len()
            ));
        }
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN.as_bytes());
        hasher.update(material);
        let seed: [u8; 32] = hasher.finalize().into();
        Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The public key engines verify with.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The headers of a request, signed at `timestamp` with `nonce`.
    pub fn sign(&self, request: &RequestParts<'_>, timestamp: i64, nonce: &str) -> SignedHeaders {
        let msg = message(
            request.method,
            request.path,
            request.uid,
            timestamp,
            nonce,
            request.body,
        );
        SignedHeaders {
            timestamp: timestamp.to_string(),
            nonce: nonce.to_string(),
            uid: request.uid.to_string(),
            signature: BASE64.encode(self.0.sign(&msg).to_bytes()),
        }
    }
}

/// What is signed besides the timestamp and nonce.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub uid: &'a str,
    pub body: &'a [u8],
}

/// The four header values of a signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub uid: String,
    pub signature: String,
}

impl SignedHeaders {
    /// `(header name, value)` pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (TIMESTAMP_HEADER, &self.timestamp),
            (NONCE_HEADER, &self.nonce),
            (BOT_UID_HEADER, &self.uid),
            (SIGNATURE_HEADER, &self.signature),
        ]
    }
}

/// An Ed25519 public key, base64 (standard alphabet) of its 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64.encode(self.0.as_bytes()))
    }
}

impl std::str::FromStr for PublicKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bytes = BASE64
            .decode(s.trim())
            .map_err(|e| format!("`{}` is not base64: {e}", s.trim()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("an Ed25519 public key has 32 bytes, not {}", b.len()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| format!("not an Ed25519 public key: {e}"))
    }
}

/// The public keys file an engine reads: one base64 key a line, `#`
/// comments and blank lines ignored. At least one key.
pub fn parse_public_keys(text: &str) -> Result<Vec<PublicKey>, String> {
    let keys = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| l.parse().map_err(|e| format!("line {}: {e}", i + 1)))
        .collect::<Result<Vec<PublicKey>, String>>()?;
    if keys.is_empty() {
        return Err("no public key: put one base64 Ed25519 key per line".into());
    }
    Ok(keys)
}

/// Why a control request was refused (the engine answers 401 with it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A header is missing.
    Unsigned(&'static str),
    /// A header is not in its format.
    Malformed(&'static str, String),
    /// Signed for another bot.
    OtherBot,
    /// The timestamp is further than [`MAX_SKEW_SECS`] from now.
    Stale { skew_secs: i64 },
    /// No key verifies the signature.
    BadSignature,
    /// The nonce was already used within the window.
    Replayed,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unsigned(h) => write!(
                f,
                "unsigned request: header `{h}` is missing; control requests must be signed by the operator \
                 (see docs/engine-api.md, \"Signed control requests\")"
            ),
            Refusal::Malformed(h, why) => write!(f, "header `{h}` is malformed: {why}"),
            Refusal::OtherBot => write!(
                f,
                "signed for another bot: `{BOT_UID_HEADER}` is not this engine's bot UID"
            ),
            Refusal::Stale { skew_secs } => write!(
                f,
                "stale request: signed {skew_secs}s away from the engine's clock (at most {MAX_SKEW_SECS}s); \
                 check both clocks"
            ),
            Refusal::BadSignature => write!(
                f,
                "invalid signature: no configured operator public key verifies it (a key rotation not yet \
                 delivered, or not the operator)"
            ),
            Refusal::Replayed => write!(f, "replayed request: this nonce was already used"),
        }
    }
}

/// The header values as received (`None` when absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct Presented<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub uid: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> Presented<'a> {
    /// Reads the four signature headers with `header` (a case-insensitive
    /// look-up of the HTTP library at hand, `None` when absent or not text).
    pub fn from_headers(header: impl Fn(&str) -> Option<&'a str>) -> Self {
        Self {
            timestamp: header(TIMESTAMP_HEADER),
            nonce: header(NONCE_HEADER),
            uid: header(BOT_UID_HEADER),
            signature: header(SIGNATURE_HEADER),
        }
    }
}

/// A verified request's timestamp and nonce (for the replay cache).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub timestamp: i64,
    pub nonce: String,
}

/// Checks a request against `keys` for the bot `uid` at `now` (Unix
/// seconds). Pure: the replay check is [`NonceCache`]'s.
pub fn verify(
    keys: &[PublicKey],
    request: &RequestParts<'_>,
    presented: &Presented<'_>,
    now: i64,
) -> Result<Verified, Refusal> {
    let timestamp = presented
        .timestamp
        .ok_or(Refusal::Unsigned(TIMESTAMP_HEADER))?;
    let nonce = presented.nonce.ok_or(Refusal::Unsigned(NONCE_HEADER))?;
    let uid = presented.uid.ok_or(Refusal::Unsigned(BOT_UID_HEADER))?;
    let signature = presented
        .signature
        .ok_or(Refusal::Unsigned(SIGNATURE_HEADER))?;
    if uid != request.uid {
        return Err(Refusal::OtherBot);
    }
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| {
        Refusal::Malformed(
            TIMESTAMP_HEADER,
            "give Unix seconds, e.g. 1767225600".into(),
        )
    })?;
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Refusal::Malformed(
            NONCE_HEADER,
            "16 to 64 characters of [0-9A-Za-z_-]".into(),
        ));
    }
    let skew_secs = timestamp.saturating_sub(now);
    if skew_secs.abs() > MAX_SKEW_SECS {
        return Err(Refusal::Stale { skew_secs });
    }
    let signature = BASE64
        .decode(signature.trim())
        .ok()
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
        .ok_or_else(|| {
            Refusal::Malformed(
                SIGNATURE_HEADER,
                "base64 of a 64-byte Ed25519 signature".into(),
            )
        })?;
    let msg = message(
        request.method,
        request.path,
        request.uid,
        timestamp,
        nonce,
        request.body,
    );
    if keys.iter().any(|k| k.0.verify(&msg, &signature).is_ok()) {
        Ok(Verified {
            timestamp,
            nonce: nonce.to_string(),
        })
    } else {
        Err(Refusal::BadSignature)
    }
}

/// Nonces of verified requests, kept while their timestamp is within the
/// window: a request replayed inside the window is refused here, one
/// replayed after it is refused as stale.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: HashMap<String, i64>,
}

impl NonceCache {
    /// Records `verified`'s nonce; `Err(Replayed)` when already seen.
    pub fn admit(&mut self, verified: &Verified, now: i64) -> Result<(), Refusal> {
        self.seen
            .retain(|_, at| now.saturating_sub(*at) <= MAX_SKEW_SECS);
        if self.seen.contains_key(&verified.nonce) {
            return Err(Refusal::Replayed);
        }
        self.seen.insert(verified.nonce.clone(), verified.timestamp);
        Ok(())
    }

    /// Nonces held (tests).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
#[path = "control_signature_tests.rs"]
mod tests;
