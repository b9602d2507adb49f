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
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::signing::SigningKeys;

/// Who a control call is for, and the keys that sign it.
#[derive(Clone, Copy, Debug)]
pub struct Signer<'a> {
    pub keys: &'a SigningKeys,
    /// The TradingBot's UID: the engine refuses a request for another bot.
    pub uid: &'a str,
}

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

/// The largest `/status` body read. A real document is a few KiB; a bigger
/// one is refused before it is buffered, so one engine cannot exhaust the
/// operator's memory.
pub const MAX_STATUS_BYTES: usize = 1 << 20;

/// Shared HTTP client of every engine call.
#[derive(Clone, Debug)]
pub struct EngineClient {
    http: reqwest::Client,
}

impl EngineClient {
    /// A client whose every call (body included) gives up after `timeout`.
    /// It follows no redirect: an engine answers for itself or not at all.
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
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
        let mut response = self
            .http
            .get(at.url(STATUS_PATH))
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        if !response.status().is_success() {
            return Err(err(format!("HTTP {}", response.status())));
        }
        let too_big = || err(format!("the body is larger than {MAX_STATUS_BYTES} bytes"));
        if response
            .content_length()
            .is_some_and(|n| n > MAX_STATUS_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| err(describe(&e)))? {
            if body.len() + chunk.len() > MAX_STATUS_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let status: EngineStatus = serde_json::from_slice(&body)
            .map_err(|e| err(format!("not a valid status document: {e}")))?;
        check_magnitudes(&status).map_err(err)?;
        if status.api_version != ENGINE_STATUS_API_VERSION {
            return Err(err(format!(
                "apiVersion `{}` is not supported; this operator reads `{ENGINE_STATUS_API_VERSION}`",
                status.api_version
            )));
        }
        Ok(status)
    }

    /// `POST /v1/halt`.
    pub async fn halt(
        &self,
        at: EngineAddress,
        signer: Signer<'_>,
        request: &HaltRequest,
    ) -> Result<()> {
        self.post(at, HALT_PATH, signer, request).await
    }

    /// `POST /v1/resume`.
    pub async fn resume(&self, at: EngineAddress, signer: Signer<'_>, halt_id: &str) -> Result<()> {
        let body = ResumeRequest {
            halt_id: halt_id.into(),
        };
        self.post(at, RESUME_PATH, signer, &body).await
    }

    /// `POST /v1/cancel-all`.
    pub async fn cancel_all(&self, at: EngineAddress, signer: Signer<'_>) -> Result<()> {
        self.post(at, CANCEL_ALL_PATH, signer, &serde_json::json!({}))
            .await
    }

    /// A signed POST. Refused (401) with the current key while the previous
    /// one is still held, it is signed again with the previous key: the
    /// engine's ConfigMap may not list the new key yet.
    async fn post(
        &self,
        at: EngineAddress,
        path: &str,
        signer: Signer<'_>,
        body: &impl Serialize,
    ) -> Result<()> {
        let err = |message: String| Error::Engine {
            endpoint: path.into(),
            message,
        };
        let body = serde_json::to_vec(body)?;
        let mut last = None;
        for headers in signer.keys.sign(path, signer.uid, &body) {
            let mut request = self
                .http
                .post(at.url(path))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            for (name, value) in headers.pairs() {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(|e| err(describe(&e)))?;
            let code = response.status();
            if code.is_success() {
                return Ok(());
            }
            let text = response.text().await.unwrap_or_default();
            let failure = err(format!("HTTP {code}: {}", text.trim()));
            if code != reqwest::StatusCode::UNAUTHORIZED {
                return Err(failure);
            }
            last = Some(failure);
        }
        Err(last.unwrap_or_else(|| err("no signing key".into())))
    }
}

/// The largest amount of money a status may report, in quote currency (10¹⁵).
/// Beyond it a number is nonsense, and arithmetic on it could overflow.
const MAX_MONEY: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// Refuses money beyond ±[`MAX_MONEY`]: such a document is unusable, and
/// the bot is unhealthy rather than trusted.
fn check_magnitudes(status: &EngineStatus) -> std::result::Result<(), String> {
    let w = &status.window;
    let money = [
        ("window.startEquity", w.start_equity),
        ("window.equity", w.equity),
        ("window.dailyPnl", w.daily_pnl),
    ];
    let positions = status.open_positions.iter().flat_map(|p| {
        [
            ("openPositions[].quantity", p.quantity),
            ("openPositions[].averagePrice", p.average_price),
            ("openPositions[].unrealizedPnl", p.unrealized_pnl),
        ]
    });
    for (field, value) in money.into_iter().chain(positions) {
        if value.abs() > MAX_MONEY {
            return Err(format!(
                "{field} is {value}, beyond ±{MAX_MONEY}: not a usable status document"
            ));
        }
    }
    Ok(())
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
    fn the_money_bound_is_ten_to_the_fifteen() {
        assert_eq!(MAX_MONEY, Decimal::from(1_000_000_000_000_000_u64));
    }

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
