//! Which REST base URL a phase may talk to. Paper has none; Sandbox only the
//! Spot Test Network (or a local simulator), never a live Binance host;
//! LimitedReal and Scaling the live API. The constructor is the only way to
//! get a [`SpotEndpoint`], so a Paper or Sandbox engine cannot reach the live
//! API by construction.

use crate::binance::{BINANCE_API_URL, BINANCE_TESTNET_API_URL};
use botfleet_crds::Phase;
use reqwest::Url;

/// A base URL checked against the phase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotEndpoint {
    url: Url,
    phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("phase Paper trades on simulated fills and has no exchange endpoint")]
    PaperHasNoVenue,
    #[error(
        "phase {phase:?} may not use {url}: only the Spot Test Network ({BINANCE_TESTNET_API_URL}) \
         or a local simulator is allowed outside LimitedReal/Scaling"
    )]
    LiveUrlRefused { phase: Phase, url: String },
    #[error("invalid base URL `{url}`: {reason}")]
    Invalid { url: String, reason: String },
}

impl SpotEndpoint {
    /// The phase's default: the Spot Test Network in Sandbox, the live API in
    /// LimitedReal/Scaling. Paper is refused.
    pub fn for_phase(phase: Phase) -> Result<Self, EndpointError> {
        let url = match phase {
            Phase::Paper => return Err(EndpointError::PaperHasNoVenue),
            Phase::Sandbox => BINANCE_TESTNET_API_URL,
            Phase::LimitedReal | Phase::Scaling => BINANCE_API_URL,
        };
        Self::with_url(phase, url)
    }

    /// A chosen base URL (a simulator in tests). Paper is refused, and in
    /// Sandbox any Binance host other than the test network is refused.
    pub fn with_url(phase: Phase, url: &str) -> Result<Self, EndpointError> {
        let invalid = |reason: &str| EndpointError::Invalid {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if phase == Phase::Paper {
            return Err(EndpointError::PaperHasNoVenue);
        }
        let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            // Never echo what looks like a credential.
            return Err(EndpointError::Invalid {
                url: "(not shown: it carries a user or password)".into(),
                reason: "a user or password does not belong in the URL; give the API key \
                         with --api-key-file or BOTFLEET_EXCHANGE_API_KEY"
                    .into(),
            });
        }
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if parsed.query().is_some() {
            return Err(invalid("a base URL has no query string"));
        }
        let host = parsed.host_str().unwrap_or("").to_ascii_lowercase();
        let testnet = Url::parse(BINANCE_TESTNET_API_URL).expect("constant URL");
        let is_testnet = Some(host.as_str()) == testnet.host_str();
        let is_binance = host.contains("binance");
        if phase == Phase::Sandbox && is_binance && !is_testnet {
            return Err(EndpointError::LiveUrlRefused {
                phase,
                url: url.to_string(),
            });
        }
        Ok(Self { url: parsed, phase })
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
