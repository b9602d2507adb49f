//! Which exchange keys a bot may use where: the test network's keys
//! (`sandboxCredentialsSecretRef`) only in Sandbox, the live keys
//! (`liveCredentialsSecretRef`) only in LimitedReal and Scaling, never one
//! Secret for both. The operator mounts only the phase's Secret
//! ([`crate::trading_bot::ExchangeSpec::credentials_for`]).

use crate::common::{Phase, is_k8s_name};
use crate::trading_bot::TradingBotSpec;
use crate::validation::ValidationErrors;

const SANDBOX: &str = "spec.exchange.sandboxCredentialsSecretRef";
const LIVE: &str = "spec.exchange.liveCredentialsSecretRef";

impl TradingBotSpec {
    /// The credential references: the ones of every venue phase up to
    /// `spec.phase` are required (a bot climbs through Sandbox to reach
    /// LimitedReal), the two must name different Secrets, and the removed
    /// single reference is refused with the fix.
    pub(crate) fn check_credentials(&self, errs: &mut ValidationErrors) {
        let ex = &self.exchange;
        errs.check(
            ex.credentials_secret_ref.is_none(),
            "spec.exchange.credentialsSecretRef",
            || {
                "was replaced by two references, so that a live key is never mounted into a \
                 Sandbox pod: move the test-network Secret to sandboxCredentialsSecretRef and \
                 the live Secret to liveCredentialsSecretRef, and remove this field"
                    .into()
            },
        );
        let needs = |phase: Phase| self.phase >= phase;
        for (path, r, from, what) in [
            (
                SANDBOX,
                &ex.sandbox_credentials_secret_ref,
                Phase::Sandbox,
                "the exchange's test network (Binance Spot Test Network) API key",
            ),
            (
                LIVE,
                &ex.live_credentials_secret_ref,
                Phase::LimitedReal,
                "the live (real-money) API key",
            ),
        ] {
            match r {
                None => errs.check(!needs(from), path, || {
                    format!(
                        "spec.phase {} trades in {from}, which needs {what}: create a Secret \
                         with keys apiKey and apiSecret and name it here",
                        self.phase
                    )
                }),
                Some(r) => errs.check(is_k8s_name(&r.name), format!("{path}.name"), || {
                    format!("`{}` is not a valid Secret name", r.name)
                }),
            }
        }
        if let (Some(sandbox), Some(live)) = (
            &ex.sandbox_credentials_secret_ref,
            &ex.live_credentials_secret_ref,
        ) {
            errs.check(sandbox.name != live.name, format!("{LIVE}.name"), || {
                format!(
                    "names the same Secret `{}` as sandboxCredentialsSecretRef: a live key must \
                     never reach a Sandbox pod, nor a test-network key a real-money one; keep \
                     the two keys in two Secrets",
                    live.name
                )
            });
        }
    }
}
