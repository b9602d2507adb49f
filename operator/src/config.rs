//! The operator's settings. `main` fills them from flags; tests build them
//! directly with short timings.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::engine_peers::EnginePeers;
use crate::signing::SigningKeys;

/// Leader election with a coordination.k8s.io Lease.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    /// Name of the Lease.
    pub lease_name: String,
    /// Namespace of the Lease.
    pub lease_namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a lease stays valid without renewal (whole seconds, ≥ 2).
    pub lease_duration: Duration,
    /// How long before expiry the holder renews (whole seconds, < duration).
    pub renew_before: Duration,
}

/// Everything the controller needs besides a client.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Port the engine serves `/status` and the control endpoints on.
    pub engine_port: u16,
    /// Engine image for bots that do not set `spec.engine.image`.
    pub engine_image: String,
    /// Market data and venue URLs handed to the engines (default: none).
    pub engine_endpoints: crate::endpoints::EngineEndpoints,
    /// The key control requests to the engines are signed with.
    pub signing: SigningKeys,
    /// Who may reach the engine pods (their NetworkPolicy); `None` renders
    /// none.
    pub network_peers: Option<EnginePeers>,
    /// Engine images allowed to run, by digest (`repo@sha256:...`); empty
    /// allows every image. Checked on the image a bot would run, the default
    /// included.
    pub trusted_engine_images: Vec<String>,
    /// Ask again, just before an approval lets a bot into real money,
    /// whether its recorded approver still holds `approve` on the bot. On
    /// where this operator's webhook records approvers (`approvedBy` is
    /// then the authenticated user); without it `approvedBy` is whatever
    /// was typed, and asking about it would prove nothing.
    pub recheck_approvers: bool,
    /// Only watch these namespaces (empty: every namespace). The chart then
    /// grants the operator Roles in these namespaces only.
    pub namespaces: Vec<String>,
    /// How often each bot is re-reconciled (and its engine polled).
    pub poll_interval: Duration,
    /// Requeue delay after a failed reconcile.
    pub error_requeue: Duration,
    /// Timeout of each engine HTTP call.
    pub engine_timeout: Duration,
    /// Consecutive failed polls after which `EngineHealthy` turns False.
    pub engine_failure_threshold: u32,
    /// Length of a "day" for gates (`minDays`) and capital intervals.
    /// 86400 in production; tests shorten it.
    pub day: Duration,
    /// Most reconciles running at once.
    pub concurrency: u16,
    /// Children are re-applied at least this often even when unchanged
    /// (repairs edits and deletions made behind the operator's back).
    pub resync_interval: Duration,
    /// How long the finalizer waits for the engine to confirm its shutdown.
    pub finalizer_timeout: Duration,
    /// `None` runs without leader election (a single replica).
    pub leader_election: Option<LeaderElection>,
    /// Name of this replica in Events (`reportingInstance`).
    pub instance: String,
}

impl OperatorConfig {
    /// Production timings with the given key and image.
    pub fn new(signing: SigningKeys, engine_image: impl Into<String>) -> Self {
        Self {
            engine_port: 8080,
            engine_image: engine_image.into(),
            engine_endpoints: Default::default(),
            signing,
            network_peers: Some(EnginePeers {
                operator_namespace: "botfleet".into(),
                operator_pod_labels: BTreeMap::from([(
                    "app.kubernetes.io/name".into(),
                    "botfleet-operator".into(),
                )]),
                scraper_namespace_labels: BTreeMap::new(),
                scraper_pod_labels: BTreeMap::new(),
            }),
            trusted_engine_images: Vec::new(),
            recheck_approvers: false,
            namespaces: Vec::new(),
            poll_interval: Duration::from_secs(10),
            error_requeue: Duration::from_secs(5),
            engine_timeout: Duration::from_secs(2),
            engine_failure_threshold: 3,
            day: Duration::from_secs(86_400),
            concurrency: 32,
            resync_interval: Duration::from_secs(300),
            finalizer_timeout: Duration::from_secs(30),
            leader_election: None,
            instance: "botfleet-operator".into(),
        }
    }

    /// `elapsed` in (fractional) operator days.
    pub fn days(&self, elapsed: Duration) -> f64 {
        elapsed.as_secs_f64() / self.day.as_secs_f64()
    }
}

/// Parses `250ms`, `10s`, `5m`, `1h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| (&t[..i], &t[i..]));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 500ms, 10s, 5m or 1h"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("unknown unit in `{text}`; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("ten").unwrap_err().contains("10s"));
        assert!(parse_duration("3d").unwrap_err().contains("unit"));
    }
}
