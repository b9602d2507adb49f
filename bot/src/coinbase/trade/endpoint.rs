//! Which REST base URL a phase may talk to, as for Binance
//! ([`crate::binance::spot::SpotEndpoint`]): Paper has none; Sandbox only
//! Coinbase's Advanced Trade sandbox (`api-sandbox.coinbase.com`, static
//! canned answers) or a local simulator, never another Coinbase host;
//! LimitedReal and Scaling the live API. The constructor is the only way to
//! get a [`CoinbaseEndpoint`], so a Sandbox engine cannot reach the live API
//! by any flag.

use crate::execution::endpoint::{self, VenueHosts};
use botfleet_crds::Phase;
use reqwest::Url;

/// The live Advanced Trade REST API.
pub const COINBASE_API_URL: &str = "https://api.coinbase.com";
/// Coinbase's Advanced Trade sandbox: same paths and response formats,
/// static pre-defined responses, no matching engine
/// (<https://docs.cdp.coinbase.com/coinbase-app/advanced-trade-apis/sandbox>).
pub const COINBASE_SANDBOX_API_URL: &str = "https://api-sandbox.coinbase.com";

/// A base URL checked against the phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoinbaseEndpoint {
    url: Url,
    phase: Phase,
}

pub use crate::execution::endpoint::EndpointError;

/// Coinbase's hosts for the guard.
const HOSTS: VenueHosts = VenueHosts {
    family: "coinbase",
    test_network_url: COINBASE_SANDBOX_API_URL,
    test_network_name: "Coinbase's sandbox",
    live_url: COINBASE_API_URL,
};

impl CoinbaseEndpoint {
    /// The phase's default: the sandbox in Sandbox, the live API in
    /// LimitedReal/Scaling. Paper is refused.
    pub fn for_phase(phase: Phase) -> Result<Self, EndpointError> {
        Self::with_url(phase, endpoint::default_url(phase, &HOSTS)?)
    }

    /// A chosen base URL (a simulator in tests). Paper is refused, and in
    /// Sandbox any Coinbase host other than the sandbox is refused.
    pub fn with_url(phase: Phase, url: &str) -> Result<Self, EndpointError> {
        let url = endpoint::check_base_url(phase, url, &HOSTS)?;
        Ok(Self { url, phase })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True for Coinbase's static sandbox, whose answers are canned: an
    /// order placed there is never matched.
    pub fn is_static_sandbox(&self) -> bool {
        self.url.host_str()
            == Url::parse(COINBASE_SANDBOX_API_URL)
                .ok()
                .as_ref()
                .and_then(Url::host_str)
    }

    /// The host as it appears in the JWT's `uri` claim (with the port when
    /// the URL names one).
    pub fn jwt_host(&self) -> String {
        let host = self.url.host_str().unwrap_or("");
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_map_to_their_urls() {
        assert_eq!(
            CoinbaseEndpoint::for_phase(Phase::Paper),
            Err(EndpointError::PaperHasNoVenue)
        );
        let sandbox = CoinbaseEndpoint::for_phase(Phase::Sandbox).unwrap();
        assert_eq!(sandbox.url().host_str(), Some("api-sandbox.coinbase.com"));
        assert!(sandbox.is_static_sandbox());
        for phase in [Phase::LimitedReal, Phase::Scaling] {
            let live = CoinbaseEndpoint::for_phase(phase).unwrap();
            assert_eq!(live.url().host_str(), Some("api.coinbase.com"));
            assert_eq!(live.jwt_host(), "api.coinbase.com");
            assert!(!live.is_static_sandbox());
        }
    }

    #[test]
    fn a_sandbox_bot_cannot_reach_any_live_coinbase_host() {
        let live = [
            COINBASE_API_URL,
            "https://API.COINBASE.COM/",
            "https://api.coinbase.com.",
            "http://api.coinbase.com:443",
            "https://api.exchange.coinbase.com",
            "https://api.prime.coinbase.com",
            "https://advanced-trade.coinbase.com",
        ];
        for url in live {
            assert_eq!(
                CoinbaseEndpoint::with_url(Phase::Paper, url),
                Err(EndpointError::PaperHasNoVenue)
            );
            assert!(
                matches!(
                    CoinbaseEndpoint::with_url(Phase::Sandbox, url),
                    Err(EndpointError::LiveUrlRefused { .. })
                ),
                "{url}"
            );
        }
        // A user part cannot smuggle the live host past the check.
        assert!(
            CoinbaseEndpoint::with_url(
                Phase::Sandbox,
                "https://api-sandbox.coinbase.com@api.coinbase.com"
            )
            .is_err()
        );
        // The sandbox and a local simulator are fine in Sandbox.
        assert!(CoinbaseEndpoint::with_url(Phase::Sandbox, COINBASE_SANDBOX_API_URL).is_ok());
        let sim = CoinbaseEndpoint::with_url(Phase::Sandbox, "http://127.0.0.1:8080").unwrap();
        assert_eq!(sim.jwt_host(), "127.0.0.1:8080");
        assert!(CoinbaseEndpoint::with_url(Phase::Sandbox, "ftp://x").is_err());
    }
}
