//! Reading a bot fresh without a GET when the cache already is fresh.
//!
//! A reconcile must decide on a status that includes this operator's last
//! write (a lagging cache would repeat a transition). The cached copy is
//! good enough exactly when its `resourceVersion` is the one this operator
//! last wrote or read for that bot: then the cache holds that write. Any
//! other version (older, or someone else's newer write) is read with a GET.
//! Writes stay fenced by `resourceVersion` either way (see `status::write`).
//! Per leadership term: a new leader starts with nothing known.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use botfleet_crds::TradingBot;
use kube::{Api, ResourceExt};

use crate::error::Result;

/// The last `resourceVersion` this process wrote or read, per bot UID.
#[derive(Default)]
pub struct KnownVersions {
    by_bot: Mutex<HashMap<String, String>>,
}

impl KnownVersions {
    /// Remembers the version of `bot` as just written or read.
    pub fn record(&self, bot: &TradingBot) {
        if let (Some(uid), Some(version)) = (bot.uid(), bot.resource_version()) {
            self.lock().insert(uid, version);
        }
    }

    /// Whether `bot` is the version last written or read.
    pub fn is_current(&self, bot: &TradingBot) -> bool {
        match (bot.uid(), bot.resource_version()) {
            (Some(uid), Some(version)) => self.lock().get(&uid) == Some(&version),
            _ => false,
        }
    }

    /// Forgets a bot (deleted, or a write was refused: read it again).
    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.by_bot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `cached` when it is the version last written or read, else a GET.
pub async fn read(
    api: &Api<TradingBot>,
    cached: &TradingBot,
    known: &KnownVersions,
) -> Result<TradingBot> {
    if known.is_current(cached) {
        return Ok(cached.clone());
    }
    let bot = api.get(&cached.name_any()).await?;
    known.record(&bot);
    Ok(bot)
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;

    use super::*;

    fn bot(uid: &str, version: &str) -> TradingBot {
        TradingBot {
            metadata: ObjectMeta {
                name: Some("b".into()),
                uid: Some(uid.into()),
                resource_version: Some(version.into()),
                ..Default::default()
            },
            spec: serde_json::from_value(serde_json::json!({
                "strategyRef": {"name": "s"}, "riskPolicyRef": {"name": "p"},
                "exchange": {"symbols": ["BTCUSDT"]}, "capital": 1000
            }))
            .unwrap(),
            status: None,
        }
    }

    #[test]
    fn only_the_version_last_written_counts_as_fresh() {
        let known = KnownVersions::default();
        assert!(!known.is_current(&bot("u", "1")), "nothing known yet");
        known.record(&bot("u", "5"));
        assert!(known.is_current(&bot("u", "5")));
        assert!(!known.is_current(&bot("u", "4")), "a lagging cache");
        assert!(!known.is_current(&bot("u", "6")), "someone else wrote");
        assert!(!known.is_current(&bot("other", "5")));
        known.forget("u");
        assert!(!known.is_current(&bot("u", "5")));
    }
}
