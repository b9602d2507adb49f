//! Which REST base URL a phase may talk to. Paper has none; Sandbox only the
//! Spot Test Network (or a local simulator), never a live Binance host;
//! LimitedReal and Scaling the live API. The constructor is the only way to
//! get a [`SpotEndpoint`], so a Paper or Sandbox engine cannot reach the live
//! API by construction.

use crate::binance::{BINANCE_API_URL, BINANCE_TESTNET_API_URL};
use crate::execution::endpoint::{self, VenueHosts};
use botfleet_crds::Phase;
use reqwest::Url;

/// A base URL checked against the phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotEndpoint {
    url: Url,
    phase: Phase,
}

pub use crate::execution::endpoint::EndpointError;

/// Binance's hosts for the guard.
const HOSTS: VenueHosts = VenueHosts {
    family: "binance",
    test_network_url: BINANCE_TESTNET_API_URL,
    test_network_name: "the Spot Test Network",
    live_url: BINANCE_API_URL,
};

impl SpotEndpoint {
    /// The phase's default: the test network in Sandbox, the live API in
    /// LimitedReal/Scaling. Paper is refused.
    pub fn for_phase(phase: Phase) -> Result<Self, EndpointError> {
        Self::with_url(phase, endpoint::default_url(phase, &HOSTS)?)
    }

    /// A chosen base URL (a simulator in tests). Paper is refused, and in
    /// Sandbox any Binance host other than the test network is refused.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_map_to_their_urls() {
        assert_eq!(
            SpotEndpoint::for_phase(Phase::Paper),
            Err(EndpointError::PaperHasNoVenue)
        );
        let sandbox = SpotEndpoint::for_phase(Phase::Sandbox).unwrap();
        assert_eq!(sandbox.url().host_str(), Some("testnet.binance.vision"));
        for phase in [Phase::LimitedReal, Phase::Scaling] {
            let live = SpotEndpoint::for_phase(phase).unwrap();
            assert_eq!(live.url().host_str(), Some("api.binance.com"));
        }
    }

    #[test]
    fn live_urls_are_unreachable_in_paper_and_sandbox() {
        let live = [
            BINANCE_API_URL,
            "https://api1.binance.com",
            "https://API.BINANCE.COM/",
            "http://api.binance.us",
        ];
        for url in live {
            assert_eq!(
                SpotEndpoint::with_url(Phase::Paper, url),
                Err(EndpointError::PaperHasNoVenue)
            );
            assert!(
                matches!(
                    SpotEndpoint::with_url(Phase::Sandbox, url),
                    Err(EndpointError::LiveUrlRefused { .. })
                ),
                "{url}"
            );
        }
        // A simulator or the test network is fine in Sandbox.
        assert!(SpotEndpoint::with_url(Phase::Sandbox, "http://127.0.0.1:8080").is_ok());
        assert!(SpotEndpoint::with_url(Phase::Sandbox, BINANCE_TESTNET_API_URL).is_ok());
        assert!(SpotEndpoint::with_url(Phase::Sandbox, "ftp://x").is_err());
    }

    #[test]
    fn a_url_with_a_user_or_password_is_refused_without_echoing_it() {
        for url in [
            "http://apiKey123:s3cret@127.0.0.1:8080",
            "https://apiKey123@testnet.binance.vision",
        ] {
            let err = SpotEndpoint::with_url(Phase::Sandbox, url)
                .unwrap_err()
                .to_string();
            assert!(err.contains("--api-key-file"), "{err}");
            assert!(
                !err.contains("apiKey123") && !err.contains("s3cret"),
                "{err}"
            );
        }
    }
}
