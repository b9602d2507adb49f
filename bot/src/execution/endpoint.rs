//! The one rule of which REST base URL a phase may send requests to, for
//! every venue: Paper has none; Sandbox only the venue's test network (or a
//! local simulator), never another host of the venue; LimitedReal and
//! Scaling the live API. Each venue names its hosts in a [`VenueHosts`];
//! its endpoint type (`SpotEndpoint`, `CoinbaseEndpoint`) is built only
//! through [`check_base_url`], so a Paper or Sandbox engine cannot reach a
//! live API by any flag.

use botfleet_crds::Phase;
use reqwest::Url;

/// A venue's hosts, for the guard.
#[derive(Clone, Copy, Debug)]
pub struct VenueHosts {
    /// What every host of the venue contains (`binance`, `coinbase`).
    pub family: &'static str,
    /// The test network's base URL and how to name it in an error.
    pub test_network_url: &'static str,
    pub test_network_name: &'static str,
    /// The live API's base URL.
    pub live_url: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("phase Paper trades on simulated fills and has no exchange endpoint")]
    PaperHasNoVenue,
    #[error(
        "phase {phase:?} may not use {url}: only {allowed} or a local simulator is allowed \
         outside LimitedReal/Scaling"
    )]
    LiveUrlRefused {
        phase: Phase,
        url: String,
        allowed: String,
    },
    #[error("invalid base URL `{url}`: {reason}")]
    Invalid { url: String, reason: String },
}

/// The phase's default base URL: the test network in Sandbox, the live API
/// in LimitedReal/Scaling. Paper is refused.
pub fn default_url(phase: Phase, hosts: &VenueHosts) -> Result<&'static str, EndpointError> {
    match phase {
        Phase::Paper => Err(EndpointError::PaperHasNoVenue),
        Phase::Sandbox => Ok(hosts.test_network_url),
        Phase::LimitedReal | Phase::Scaling => Ok(hosts.live_url),
    }
}

/// `url` checked against `phase` (a simulator in tests, the operator's
/// endpoint flags in a cluster): Paper is refused, in Sandbox any host of
/// the venue other than its test network is refused, and a URL carrying a
/// user or password is refused without being echoed.
pub fn check_base_url(phase: Phase, url: &str, hosts: &VenueHosts) -> Result<Url, EndpointError> {
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
                     with --api-key-file and --api-secret-file (or BOTFLEET_EXCHANGE_API_KEY)"
                .into(),
        });
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if parsed.query().is_some() {
        return Err(invalid("a base URL has no query string"));
    }
    let host = parsed
        .host_str()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let test_network = Url::parse(hosts.test_network_url).expect("constant URL");
    let is_test_network = Some(host.as_str()) == test_network.host_str();
    if phase == Phase::Sandbox && host.contains(hosts.family) && !is_test_network {
        return Err(EndpointError::LiveUrlRefused {
            phase,
            url: url.to_string(),
            allowed: format!("{} ({})", hosts.test_network_name, hosts.test_network_url),
        });
    }
    Ok(parsed)
}
