//! HTTP client of the engine: polls `GET /status` and makes the control
//! calls, each with a timeout. The engine is addressed by its pod IP and the
//! engine port, as CloudNativePG addresses its instance manager: no Service
//! lookup, no DNS, and a call never reaches another bot's pod.

use std::net::IpAddr;
use std::time::Duration;

use botfleet_crds::engine_api::{
    CANCEL_ALL_PATH, ENGINE_STATUS_API_VERSION, EngineStatus, HALT_PATH, HaltRequest, RESUME_PATH,
    ResumeRequest, STATUS_PATH,
};
use serde::Serialize;

use crate::error::{Error, Result};

/// Where one engine listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineAddress {
    /// The pod IP.
    pub ip: IpAddr,
    /// The engine port.
    pub port: u16,
}

impl EngineAddress {
    fn url(&self, path: &str) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("http://{ip}:{}{path}", self.port),
            IpAddr::V6(ip) => format!("http://[{ip}]:{}{path}", self.port),
        }
    }
}

/// Shared HTTP client of every engine call.
#[derive(Clone, Debug)]
pub struct EngineClient {
    http: reqwest::Client,
}

impl EngineClient {
    /// A client whose every call gives up after `timeout`.
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(Self { http })
    }

    /// `GET /status`, checked against the contract version.
    pub async fn status(&self, at: EngineAddress) -> Result<EngineStatus> {
        let err = |message: String| Error::Engine {
            endpoint: STATUS_PATH.into(),
            message,
        };
        let response = self
            .http
            .get(at.url(STATUS_PATH))
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        if !response.status().is_success() {
            return Err(err(format!("HTTP {}", response.status())));
        }
        let body = response.bytes().await.map_err(|e| err(describe(&e)))?;
        let status: EngineStatus = serde_json::from_slice(&body)
            .map_err(|e| err(format!("not a valid status document: {e}")))?;
        if status.api_version != ENGINE_STATUS_API_VERSION {
            return Err(err(format!(
                "apiVersion `{}` is not supported; this operator reads `{ENGINE_STATUS_API_VERSION}`",
                status.api_version
            )));
        }
        Ok(status)
    }

    /// `POST /v1/halt`.
    pub async fn halt(&self, at: EngineAddress, token: &str, request: &HaltRequest) -> Result<()> {
        self.post(at, HALT_PATH, token, request).await
    }

    /// `POST /v1/resume`.
    pub async fn resume(&self, at: EngineAddress, token: &str, halt_id: &str) -> Result<()> {
        let body = ResumeRequest {
            halt_id: halt_id.into(),
        };
        self.post(at, RESUME_PATH, token, &body).await
    }

    /// `POST /v1/cancel-all`.
    pub async fn cancel_all(&self, at: EngineAddress, token: &str) -> Result<()> {
        self.post(at, CANCEL_ALL_PATH, token, &serde_json::json!({}))
            .await
    }

    async fn post(
        &self,
        at: EngineAddress,
        path: &str,
        token: &str,
        body: &impl Serialize,
    ) -> Result<()> {
        let err = |message: String| Error::Engine {
            endpoint: path.into(),
            message,
        };
        let response = self
            .http
            .post(at.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        let code = response.status();
        if code.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(err(format!("HTTP {code}: {}", text.trim())))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_by_ip_family() {
        let v4 = EngineAddress {
            ip: "10.0.0.7".parse().unwrap(),
            port: 8080,
        };
        assert_eq!(v4.url("/status"), "http://10.0.0.7:8080/status");
        let v6 = EngineAddress {
            ip: "fd00::7".parse().unwrap(),
            port: 8080,
        };
        assert_eq!(v6.url("/v1/halt"), "http://[fd00::7]:8080/v1/halt");
    }
}
