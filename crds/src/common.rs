//! Types shared by the three resources: the phase ladder, timeframes,
//! references, and schema helpers.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// The promotion ladder, in order: `Paper` → `Sandbox` → `LimitedReal` →
/// `Scaling`. Ordering follows the ladder (`Paper < Scaling`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum Phase {
    /// Simulated fills (fees and slippage) on live or replayed market data.
    #[default]
    Paper,
    /// Orders go to the exchange's test network with sandbox keys.
    Sandbox,
    /// Real orders under the policy's hard caps.
    LimitedReal,
    /// Real orders, capital stepped by the policy's schedule.
    Scaling,
}

impl Phase {
    /// Every phase, lowest first.
    pub const ALL: [Phase; 4] = [
        Phase::Paper,
        Phase::Sandbox,
        Phase::LimitedReal,
        Phase::Scaling,
    ];

    /// The next phase up the ladder (`None` from `Scaling`).
    pub fn next(self) -> Option<Phase> {
        match self {
            Phase::Paper => Some(Phase::Sandbox),
            Phase::Sandbox => Some(Phase::LimitedReal),
            Phase::LimitedReal => Some(Phase::Scaling),
            Phase::Scaling => None,
        }
    }

    /// The phase one step down (`None` from `Paper`).
    pub fn previous(self) -> Option<Phase> {
        match self {
            Phase::Paper => None,
            Phase::Sandbox => Some(Phase::Paper),
            Phase::LimitedReal => Some(Phase::Sandbox),
            Phase::Scaling => Some(Phase::LimitedReal),
        }
    }

    /// Where this phase's book (positions and orders) lives. A book never
    /// moves between phases with different books: it is flattened first.
    pub fn book(self) -> &'static str {
        match self {
            Phase::Paper => "the paper broker",
            Phase::Sandbox => "the exchange's test network",
            Phase::LimitedReal | Phase::Scaling => "the live exchange",
        }
    }

    /// True for the phases that trade real money (`LimitedReal`, `Scaling`).
    pub fn is_real_money(self) -> bool {
        matches!(self, Phase::LimitedReal | Phase::Scaling)
    }

    /// The name as written in YAML (`LimitedReal`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Paper => "Paper",
            Phase::Sandbox => "Sandbox",
            Phase::LimitedReal => "LimitedReal",
            Phase::Scaling => "Scaling",
        }
    }

    /// The camelCase key used for this phase in `RiskPolicy.spec.limits`
    /// (`limitedReal`).
    pub fn key(self) -> &'static str {
        match self {
            Phase::Paper => "paper",
            Phase::Sandbox => "sandbox",
            Phase::LimitedReal => "limitedReal",
            Phase::Scaling => "scaling",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown phase `{s}`; use one of Paper, Sandbox, LimitedReal, Scaling")
            })
    }
}

/// Candle interval a strategy trades on.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
pub enum Timeframe {
    /// One minute.
    #[serde(rename = "1m")]
    M1,
    /// Five minutes.
    #[serde(rename = "5m")]
    M5,
    /// Fifteen minutes.
    #[serde(rename = "15m")]
    M15,
    /// One hour.
    #[default]
    #[serde(rename = "1h")]
    H1,
    /// Four hours.
    #[serde(rename = "4h")]
    H4,
    /// One day.
    #[serde(rename = "1d")]
    D1,
}

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 6] = [
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::H1,
        Timeframe::H4,
        Timeframe::D1,
    ];

    /// The text used in YAML and by Binance (`1m`, `1h`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::H1 => "1h",
            Timeframe::H4 => "4h",
            Timeframe::D1 => "1d",
        }
    }

    /// Length of one candle in milliseconds.
    pub fn millis(self) -> i64 {
        i64::from(self.minutes()) * 60_000
    }

    /// Candles in a 365-day year (crypto trades every day), for annualizing
    /// per-candle returns.
    pub fn periods_per_year(self) -> f64 {
        365.0 * 1440.0 / f64::from(self.minutes())
    }

    /// Length of one candle in minutes.
    pub fn minutes(self) -> u32 {
        match self {
            Timeframe::M1 => 1,
            Timeframe::M5 => 5,
            Timeframe::M15 => 15,
            Timeframe::H1 => 60,
            Timeframe::H4 => 240,
            Timeframe::D1 => 1440,
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Timeframe::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| format!("unknown timeframe `{s}`; use one of 1m, 5m, 15m, 1h, 4h, 1d"))
    }
}

/// A reference to another Botfleet resource in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRef {
    /// Name of the referenced resource (same namespace).
    pub name: String,
}

impl ObjectRef {
    /// A reference to `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

/// A reference to a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the Secret (same namespace).
    pub name: String,
}

/// A reference to one key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Name of the Secret (same namespace).
    pub name: String,
    /// Key inside the Secret whose value is used.
    pub key: String,
}

/// True for a DNS-1123 subdomain-ish Kubernetes object name.
pub(crate) fn is_k8s_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

/// The schema of `T` with every top-level property defaulted from `value`,
/// and nothing required. Used where one struct type appears several times
/// with different defaults (per-phase limits, per-promotion gates), so that
/// the apiserver fills in the same values as the Rust deserializer does.
pub(crate) fn schema_with_defaults<T: JsonSchema + Serialize>(
    generator: &mut SchemaGenerator,
    value: &T,
) -> Schema {
    let mut schema = T::json_schema(generator);
    let value = serde_json::to_value(value).expect("defaults serialize to JSON");
    if let (Some(properties), Some(values)) = (
        schema.get_mut("properties").and_then(|p| p.as_object_mut()),
        value.as_object(),
    ) {
        for (name, default) in values {
            if let Some(property) = properties.get_mut(name).and_then(|p| p.as_object_mut()) {
                property.insert("default".into(), default.clone());
            }
        }
    }
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
    }
    schema
}

/// Schema of an optional enum field: the enum's schema plus `nullable`.
/// Used instead of the derived `Option<T>` schema, whose rewrite replaces the
/// field's own description with the enum type's.
pub(crate) fn optional_enum<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = T::json_schema(generator);
    if let Some(object) = schema.as_object_mut() {
        object.remove("description");
        object.insert("nullable".into(), true.into());
    }
    schema
}

/// Declares a spec struct together with a private "overlay" twin whose
/// fields are all optional. The overlay deserializes what the user wrote and
/// applies it over a base value, so one struct type can have different
/// defaults in different places (e.g. `limits.paper` vs
/// `limits.limitedReal`). Unknown fields are rejected.
macro_rules! overlay_struct {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident overlay $overlay:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$smeta])*
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        /// What the user wrote; unset fields keep the base value.
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct $overlay {
            $(
                #[serde(default)]
                $field: Option<$ty>,
            )*
        }

        impl $overlay {
            fn apply(self, mut base: $name) -> $name {
                $(
                    if let Some(value) = self.$field {
                        base.$field = value;
                    }
                )*
                base
            }
        }
    };
}

pub(crate) use overlay_struct;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_ladder() {
        assert!(Phase::Paper < Phase::Sandbox && Phase::LimitedReal < Phase::Scaling);
        assert_eq!(Phase::Paper.next(), Some(Phase::Sandbox));
        assert_eq!(Phase::Scaling.next(), None);
        assert_eq!(Phase::Paper.previous(), None);
        assert_eq!(Phase::Scaling.previous(), Some(Phase::LimitedReal));
        let real: Vec<_> = Phase::ALL
            .into_iter()
            .filter(|p| p.is_real_money())
            .collect();
        assert_eq!(real, [Phase::LimitedReal, Phase::Scaling]);
        assert_eq!("limitedreal".parse::<Phase>().unwrap(), Phase::LimitedReal);
        assert!("Live".parse::<Phase>().unwrap_err().contains("LimitedReal"));
        assert_eq!(
            serde_json::to_string(&Phase::LimitedReal).unwrap(),
            "\"LimitedReal\""
        );
    }

    #[test]
    fn timeframes_use_exchange_notation() {
        assert_eq!(
            serde_yaml::from_str::<Timeframe>("15m").unwrap(),
            Timeframe::M15
        );
        assert_eq!(serde_json::to_string(&Timeframe::D1).unwrap(), "\"1d\"");
        assert!(serde_yaml::from_str::<Timeframe>("2h").is_err());
        assert_eq!(Timeframe::H4.minutes(), 240);
        for t in Timeframe::ALL {
            assert_eq!(t.as_str().parse::<Timeframe>().unwrap(), t);
        }
    }

    #[test]
    fn kubernetes_names() {
        assert!(is_k8s_name("sma-btc.v2"));
        assert!(!is_k8s_name("Sma"));
        assert!(!is_k8s_name("-a"));
        assert!(!is_k8s_name(""));
    }
}
