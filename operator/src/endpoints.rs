//! Where engines reach their market data and venue when the public Binance
//! hosts are not the right ones: a cluster with an exchange simulator, a
//! mirror, an egress proxy. Empty by default (the engine's own defaults: the
//! public market data, the test network in Sandbox, the live API above).
//!
//! The engine enforces the phase guard itself (`SpotEndpoint::with_url`: no
//! venue in Paper, no live Binance host in Sandbox); the operator only picks
//! which URL a phase gets, so a Sandbox pod is never even given the live one.

use botfleet_crds::Phase;
use reqwest::Url;

/// Base URLs handed to every engine pod as flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineEndpoints {
    /// Public market data REST (`--binance-rest-url`), every phase.
    pub market_rest_url: Option<String>,
    /// Public market data WebSocket (`--binance-ws-url`), every phase.
    pub market_ws_url: Option<String>,
    /// The venue of Sandbox (`--venue-url`): a test network.
    pub testnet_venue_url: Option<String>,
    /// The venue of LimitedReal and Scaling (`--venue-url`).
    pub live_venue_url: Option<String>,
}

impl EngineEndpoints {
    /// Checks every URL is absolute, of the expected scheme, and carries no
    /// user, password or query (nothing secret belongs in a pod's args).
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            (
                "--engine-market-rest-url",
                &self.market_rest_url,
                ["http", "https"],
            ),
            ("--engine-market-ws-url", &self.market_ws_url, ["ws", "wss"]),
            (
                "--engine-testnet-venue-url",
                &self.testnet_venue_url,
                ["http", "https"],
            ),
            (
                "--engine-live-venue-url",
                &self.live_venue_url,
                ["http", "https"],
            ),
        ];
        for (flag, url, schemes) in checks {
            let Some(url) = url else { continue };
            let parsed = Url::parse(url).map_err(|e| format!("{flag}: not a URL ({e})"))?;
            if !schemes.contains(&parsed.scheme()) {
                return Err(format!(
                    "{flag}: the scheme must be {}",
                    schemes.join(" or ")
                ));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(format!(
                    "{flag}: a user or password does not belong in the URL (credentials come from the bot's Secret)"
                ));
            }
            if parsed.query().is_some() {
                return Err(format!("{flag}: a base URL has no query string"));
            }
        }
        Ok(())
    }

    /// The engine flags of a pod trading in `phase`.
    pub fn engine_args(&self, phase: Phase) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, url: &Option<String>| {
            if let Some(url) = url {
                args.push(format!("{flag}={url}"));
            }
        };
        push("--binance-rest-url", &self.market_rest_url);
        push("--binance-ws-url", &self.market_ws_url);
        match phase {
            Phase::Paper => {}
            Phase::Sandbox => push("--venue-url", &self.testnet_venue_url),
            Phase::LimitedReal | Phase::Scaling => push("--venue-url", &self.live_venue_url),
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> EngineEndpoints {
        EngineEndpoints {
            market_rest_url: Some("http://sim:8080".into()),
            market_ws_url: Some("ws://sim:8080".into()),
            testnet_venue_url: Some("http://sim-testnet:8080".into()),
            live_venue_url: Some("http://sim-live:8080".into()),
        }
    }

    #[test]
    fn each_phase_gets_only_its_own_venue() {
        let e = all();
        let venue = |p| {
            e.engine_args(p)
                .into_iter()
                .filter(|a| a.starts_with("--venue-url"))
                .collect::<Vec<_>>()
        };
        assert!(venue(Phase::Paper).is_empty());
        assert_eq!(
            venue(Phase::Sandbox),
            ["--venue-url=http://sim-testnet:8080"]
        );
        assert_eq!(
            venue(Phase::LimitedReal),
            ["--venue-url=http://sim-live:8080"]
        );
        assert_eq!(venue(Phase::Scaling), ["--venue-url=http://sim-live:8080"]);
        assert!(
            e.engine_args(Phase::Paper)
                .contains(&"--binance-rest-url=http://sim:8080".to_string())
        );
    }

    #[test]
    fn no_endpoints_no_flags() {
        assert!(
            EngineEndpoints::default()
                .engine_args(Phase::Scaling)
                .is_empty()
        );
    }

    #[test]
    fn a_url_with_a_password_is_refused_without_showing_it() {
        let e = EngineEndpoints {
            live_venue_url: Some("https://user:hunter2@api.example".into()),
            ..Default::default()
        };
        let err = e.validate().unwrap_err();
        assert!(err.contains("--engine-live-venue-url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let ws = EngineEndpoints {
            market_ws_url: Some("http://sim:8080".into()),
            ..Default::default()
        };
        assert!(ws.validate().unwrap_err().contains("ws or wss"));
        assert_eq!(all().validate(), Ok(()));
    }
}
