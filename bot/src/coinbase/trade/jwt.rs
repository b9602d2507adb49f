//! Request authentication as Coinbase documents it for Advanced Trade API
//! keys: every REST request carries `Authorization: Bearer <JWT>`, a JWT
//! signed with ES256 (ECDSA P-256, SHA-256, the 64-byte `r‖s` signature)
//! whose header holds `kid` = the key name and a one-time `nonce`, and whose
//! claims are `sub` = the key name, `iss` = `"cdp"`, `nbf` = now, `exp` =
//! now + 120 s and `uri` = `"<METHOD> <host><path>"` (the path without the
//! query string). A JWT is good for one request URI and two minutes, so the
//! client signs one per request.
//! <https://docs.cdp.coinbase.com/coinbase-app/authentication-authorization/api-key-authentication>

use super::credentials::CoinbaseCredentials;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Coinbase's documented JWT lifetime.
pub const JWT_LIFETIME_SECS: i64 = 120;
/// The issuer claim Coinbase requires.
pub const ISSUER: &str = "cdp";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtHeader {
    pub alg: String,
    pub kid: String,
    pub nonce: String,
    pub typ: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    pub sub: String,
    pub iss: String,
    pub nbf: i64,
    pub exp: i64,
    pub uri: String,
}

/// The `uri` claim: `"GET api.coinbase.com/api/v3/brokerage/accounts"`.
/// `host` carries the port when the URL names one (a local simulator).
pub fn uri_claim(method: &str, host: &str, path: &str) -> String {
    format!("{method} {host}{path}")
}

/// A one-time nonce: 16 bytes, hex, unique per process and request (a hash
/// of the time, the process id and a counter; Coinbase asks for uniqueness,
/// not secrecy).
fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let digest = Sha256::digest(format!("{now}:{}:{n}", std::process::id()));
    hex::encode(&digest[..16])
}

/// A signed JWT for one request `uri`, valid from `now` (Unix seconds) for
/// `lifetime_secs`.
pub fn build_jwt(creds: &CoinbaseCredentials, uri: &str, now: i64, lifetime_secs: i64) -> String {
    let header = JwtHeader {
        alg: "ES256".into(),
        kid: creds.key_name().into(),
        nonce: nonce(),
        typ: "JWT".into(),
    };
    let claims = JwtClaims {
        sub: creds.key_name().into(),
        iss: ISSUER.into(),
        nbf: now,
        exp: now + lifetime_secs,
        uri: uri.into(),
    };
    let signing_input = format!("{}.{}", b64_json(&header), b64_json(&claims));
    let signature: Signature = creds.signing_key().sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

fn b64_json<T: Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("header and claims serialize"))
}

/// Why a JWT was refused (the simulator answers 401 with it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWT (three base64url parts)")]
    Malformed,
    #[error("unsupported algorithm {0}; Advanced Trade keys sign with ES256")]
    Algorithm(String),
    #[error("signature does not verify with the key's public half")]
    BadSignature,
    #[error("expired or not yet valid")]
    Expired,
    #[error("issuer must be `cdp`")]
    Issuer,
    #[error("`kid`/`sub` do not name the key")]
    KeyName,
    #[error("uri claim `{found}` does not match the request `{expected}`")]
    Uri { expected: String, found: String },
}

/// Checks a JWT as Coinbase would: ES256 signature under `key`, `kid` and
/// `sub` = `key_name`, issuer, `nbf ≤ now < exp`, and the `uri` claim equal
/// to `expected_uri`. Returns the claims.
pub fn verify_jwt(
    token: &str,
    key_name: &str,
    key: &VerifyingKey,
    expected_uri: &str,
    now: i64,
) -> Result<JwtClaims, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwtError::Malformed);
    let header: JwtHeader = serde_json::from_slice(&decode(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: JwtClaims = serde_json::from_slice(&decode(c)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "ES256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    let signature = Signature::from_slice(&decode(s)?).map_err(|_| JwtError::BadSignature)?;
    key.verify(format!("{h}.{c}").as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)?;
    if header.kid != key_name || claims.sub != key_name {
        return Err(JwtError::KeyName);
    }
    if claims.iss != ISSUER {
        return Err(JwtError::Issuer);
    }
    if !(claims.nbf <= now && now < claims.exp) {
        return Err(JwtError::Expired);
    }
    if claims.uri != expected_uri {
        return Err(JwtError::Uri {
            expected: expected_uri.into(),
            found: claims.uri,
        });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coinbase::trade::credentials::tests::{KEY_NAME, test_pem};

    fn creds() -> CoinbaseCredentials {
        CoinbaseCredentials::new(KEY_NAME, &test_pem()).unwrap()
    }

    #[test]
    fn jwt_has_the_documented_header_and_claims_and_verifies() {
        let c = creds();
        let uri = uri_claim("GET", "api.coinbase.com", "/api/v3/brokerage/accounts");
        assert_eq!(uri, "GET api.coinbase.com/api/v3/brokerage/accounts");
        let token = build_jwt(&c, &uri, 1_700_000_000, JWT_LIFETIME_SECS);
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], KEY_NAME);
        assert_eq!(header["nonce"].as_str().unwrap().len(), 32);
        let claims = verify_jwt(&token, KEY_NAME, &c.verifying_key(), &uri, 1_700_000_060).unwrap();
        assert_eq!(claims.iss, "cdp");
        assert_eq!(claims.sub, KEY_NAME);
        assert_eq!(claims.exp - claims.nbf, 120);
        // Two JWTs never share a nonce.
        let other = build_jwt(&c, &uri, 1_700_000_000, JWT_LIFETIME_SECS);
        assert_ne!(token.split('.').next(), other.split('.').next());
    }

    #[test]
    fn verification_refuses_expiry_other_uri_other_key_and_tampering() {
        let c = creds();
        let uri = uri_claim("POST", "api.coinbase.com", "/api/v3/brokerage/orders");
        let token = build_jwt(&c, &uri, 1_000, JWT_LIFETIME_SECS);
        let key = c.verifying_key();
        assert_eq!(
            verify_jwt(&token, KEY_NAME, &key, &uri, 1_120),
            Err(JwtError::Expired)
        );
        assert_eq!(
            verify_jwt(&token, KEY_NAME, &key, &uri, 999),
            Err(JwtError::Expired)
        );
        let get = uri_claim("GET", "api.coinbase.com", "/api/v3/brokerage/orders");
        assert!(matches!(
            verify_jwt(&token, KEY_NAME, &key, &get, 1_001),
            Err(JwtError::Uri { .. })
        ));
        let other = CoinbaseCredentials::new(
            KEY_NAME,
            &p256::SecretKey::from_slice(&[9u8; 32])
                .unwrap()
                .to_sec1_pem(p256::pkcs8::LineEnding::LF)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            verify_jwt(&token, KEY_NAME, &other.verifying_key(), &uri, 1_001),
            Err(JwtError::BadSignature)
        );
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&JwtClaims {
                sub: KEY_NAME.into(),
                iss: "cdp".into(),
                nbf: 1_000,
                exp: 9_999_999,
                uri: uri.clone(),
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(
            verify_jwt(&parts.join("."), KEY_NAME, &key, &uri, 1_001),
            Err(JwtError::BadSignature)
        );
    }
}
