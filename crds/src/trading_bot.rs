//! `TradingBot` (short name `tbot`): one bot trading one account, its
//! desired phase, and the status the operator reports.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::common::{ObjectRef, Phase, SecretKeyRef, SecretRef, is_k8s_name};
use crate::validation::ValidationErrors;

pub use crate::bot_status::{
    ApprovalRecord, BotMetrics, BotState, CapitalPeriod, CapitalStatus, GateCriterionStatus,
    GateStatus, HaltStatus, PHASE_HISTORY_LIMIT, PhaseTransition, TradingBotStatus,
};

/// Spec of a TradingBot.
// Repeated `printcolumn(type_ = ...)` entries look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "botfleet.dev",
    version = "v1alpha1",
    kind = "TradingBot",
    plural = "tradingbots",
    namespaced,
    shortname = "tbot",
    category = "botfleet",
    status = "TradingBotStatus",
    derive = "PartialEq",
    doc = "A crypto trading bot: a Strategy traded on an exchange account under a RiskPolicy, promoted phase by phase from paper trading to real money.",
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Effective phase"
    ),
    printcolumn(
        name = "Target",
        type_ = "string",
        json_path = ".spec.phase",
        description = "Desired phase"
    ),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Equity",
        type_ = "number",
        json_path = ".status.metrics.equity"
    ),
    printcolumn(
        name = "Drawdown",
        type_ = "number",
        json_path = ".status.metrics.drawdownPct",
        description = "Drawdown from the equity peak, %"
    ),
    printcolumn(
        name = "Trades",
        type_ = "integer",
        json_path = ".status.metrics.trades"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Strategy",
        type_ = "string",
        json_path = ".spec.strategyRef.name",
        priority = 1
    ),
    printcolumn(
        name = "Capital",
        type_ = "number",
        json_path = ".status.capital.allocated",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TradingBotSpec {
    /// The Strategy (same namespace) whose signals the bot trades.
    pub strategy_ref: ObjectRef,
    /// The RiskPolicy (same namespace) whose limits and gates apply.
    pub risk_policy_ref: ObjectRef,
    /// Exchange account and symbols.
    pub exchange: ExchangeSpec,
    /// Desired phase: Paper, Sandbox, LimitedReal or Scaling. Raising it requests a promotion (one step at a time, only when the gate is met); lowering it demotes at once.
    #[serde(default)]
    pub phase: Phase,
    /// Manual (default): promote only when spec.phase is raised. Automatic: the operator promotes as soon as the gate is met.
    #[serde(default)]
    pub promotion: Promotion,
    /// Capital the bot trades with in Paper, Sandbox and LimitedReal, in quote currency (> 0); in Scaling the policy's capital schedule decides.
    pub capital: Amount,
    /// Manual kill switch: true halts the bot (cancel orders or flatten, per the policy) and keeps it halted.
    #[serde(default)]
    pub halted: bool,
    /// Engine container settings.
    #[serde(default)]
    pub engine: EngineSpec,
    /// Where the engine keeps orders, fills, positions and its audit log: sqlite (default) or postgres.
    #[serde(default)]
    pub persistence: Persistence,
}

/// How promotions happen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Promotion {
    /// Promote only when a person raises spec.phase and the gate is met.
    #[default]
    Manual,
    /// Promote one step as soon as the gate is met.
    Automatic,
}

/// The exchange account a bot trades.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeSpec {
    /// Exchange: binance (default) or coinbase (Coinbase Advanced Trade).
    #[serde(default)]
    pub venue: Venue,
    /// Exchange symbols to trade, upper-case, at least one, in the venue's form: BTCUSDT on binance, product ids such as BTC-USD on coinbase.
    #[schemars(length(min = 1), inner(regex(pattern = r"^[A-Z0-9]+(-[A-Z0-9]+)?$")))]
    pub symbols: Vec<String>,
    /// Secret (same namespace) with the exchange's TEST-NETWORK API key and secret (keys `apiKey`, `apiSecret`): mounted only into the Sandbox pod; required when spec.phase is Sandbox or above. Keys are never written in the TradingBot itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_credentials_secret_ref: Option<SecretRef>,
    /// Secret (same namespace) with the LIVE (real-money) API key and secret (keys `apiKey`, `apiSecret`): mounted only into LimitedReal and Scaling pods; required when spec.phase is LimitedReal or Scaling. Must be another Secret than the test-network one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_credentials_secret_ref: Option<SecretRef>,
    /// Removed: one reference for every phase could hand a live key to a Sandbox bot. Name the test-network Secret in sandboxCredentialsSecretRef and the live one in liveCredentialsSecretRef instead; a TradingBot that still sets this field is refused with that fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
}

impl ExchangeSpec {
    /// The credentials the engine of `phase` uses: none in Paper (it
    /// sends no order), the test network's in Sandbox, the live ones in
    /// LimitedReal and Scaling. Never the other phase's.
    pub fn credentials_for(&self, phase: Phase) -> Option<&SecretRef> {
        match phase {
            Phase::Paper => None,
            Phase::Sandbox => self.sandbox_credentials_secret_ref.as_ref(),
            Phase::LimitedReal | Phase::Scaling => self.live_credentials_secret_ref.as_ref(),
        }
    }
}

/// Supported exchanges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Venue {
    /// Binance spot (Sandbox uses the Binance spot test network).
    #[default]
    Binance,
    /// Coinbase Advanced Trade (Sandbox uses Coinbase's static sandbox, which answers with canned responses).
    Coinbase,
}

impl Venue {
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Coinbase => "coinbase",
        }
    }

    /// Whether `symbol` is in this venue's form (BTCUSDT on Binance,
    /// BTC-USD on Coinbase); `Err` holds the symbol in the right form.
    pub fn check_symbol(self, symbol: &str) -> Result<(), String> {
        let suggestion = suggest_symbol(self, symbol);
        if suggestion == symbol {
            Ok(())
        } else {
            Err(suggestion)
        }
    }
}

/// Engine container settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineSpec {
    /// Engine container image; defaults to the image the operator was installed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// CPU and memory requests and limits of the engine container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Storage of the engine's state: set exactly one of `sqlite` or `postgres`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Persistence {
    /// SQLite on a persistent volume owned by the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqlitePersistence>,
    /// An external PostgreSQL database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresPersistence>,
}

impl Default for Persistence {
    fn default() -> Self {
        Self {
            sqlite: Some(SqlitePersistence::default()),
            postgres: None,
        }
    }
}

/// SQLite settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SqlitePersistence {
    /// Size of the volume holding the database, e.g. 1Gi.
    pub storage_size: Quantity,
}

impl Default for SqlitePersistence {
    fn default() -> Self {
        Self {
            storage_size: Quantity("1Gi".into()),
        }
    }
}

/// PostgreSQL settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresPersistence {
    /// Secret key holding the connection URL (postgres://user:password@host/db).
    pub url_secret_ref: SecretKeyRef,
}

/// The selected persistence backend, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PersistenceBackend<'a> {
    /// SQLite on a volume.
    Sqlite(&'a SqlitePersistence),
    /// External PostgreSQL.
    Postgres(&'a PostgresPersistence),
}

impl Persistence {
    /// The backend, or `None` unless exactly one is set.
    pub fn backend(&self) -> Option<PersistenceBackend<'_>> {
        match (&self.sqlite, &self.postgres) {
            (Some(s), None) => Some(PersistenceBackend::Sqlite(s)),
            (None, Some(p)) => Some(PersistenceBackend::Postgres(p)),
            _ => None,
        }
    }
}

impl TradingBotSpec {
    /// Every problem the schema cannot catch, with paths like `spec.exchange.symbols[0]`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errs = ValidationErrors::new();
        for (field, r) in [
            ("strategyRef", &self.strategy_ref),
            ("riskPolicyRef", &self.risk_policy_ref),
        ] {
            errs.check(is_k8s_name(&r.name), format!("spec.{field}.name"), || {
                format!(
                    "`{}` is not a valid resource name (lower-case letters, digits, `-`, `.`)",
                    r.name
                )
            });
        }
        let symbols = &self.exchange.symbols;
        let venue = self.exchange.venue;
        errs.check(!symbols.is_empty(), "spec.exchange.symbols", || {
            format!(
                "list at least one symbol, e.g. [{}]",
                venue.example_symbol()
            )
        });
        let mut seen = BTreeSet::new();
        for (i, s) in symbols.iter().enumerate() {
            if let Err(fix) = venue.check_symbol(s) {
                errs.add(
                    format!("spec.exchange.symbols[{i}]"),
                    venue.symbol_form(s, &fix),
                );
            }
            errs.check(
                seen.insert(s.as_str()),
                format!("spec.exchange.symbols[{i}]"),
                || format!("`{s}` is listed twice; remove the duplicate"),
            );
        }
        self.check_credentials(&mut errs);
        errs.check(self.capital.value() > Decimal::ZERO, "spec.capital", || {
            "must be above 0 (the quote-currency amount the bot trades with)".into()
        });
        if let Some(image) = &self.engine.image {
            errs.check(!image.trim().is_empty(), "spec.engine.image", || {
                "must not be empty; remove the field to use the default image".into()
            });
        }
        match (&self.persistence.sqlite, &self.persistence.postgres) {
            (Some(s), None) => errs.check(
                !s.storage_size.0.trim().is_empty(),
                "spec.persistence.sqlite.storageSize",
                || "set a volume size such as 1Gi".into(),
            ),
            (None, Some(p)) => {
                let r = &p.url_secret_ref;
                errs.check(
                    is_k8s_name(&r.name),
                    "spec.persistence.postgres.urlSecretRef.name",
                    || format!("`{}` is not a valid Secret name", r.name),
                );
                errs.check(
                    !r.key.trim().is_empty(),
                    "spec.persistence.postgres.urlSecretRef.key",
                    || "name the key in the Secret that holds the URL, e.g. url".into(),
                );
            }
            (None, None) => errs.add(
                "spec.persistence",
                "set sqlite (e.g. `sqlite: {}`) or postgres",
            ),
            (Some(_), Some(_)) => errs.add(
                "spec.persistence.postgres",
                "set either sqlite or postgres, not both",
            ),
        }
        errs.into_result()
    }
}

/// `s` in `venue`'s symbol form: upper case, letters and digits; Binance
/// joins base and quote (BTCUSDT), Coinbase separates them with a dash
/// (BTC-USDT).
fn suggest_symbol(venue: Venue, s: &str) -> String {
    let parts: Vec<String> = s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    let joined = parts.concat();
    match venue {
        Venue::Binance if joined.is_empty() => "BTCUSDT".into(),
        Venue::Binance => joined,
        Venue::Coinbase if joined.is_empty() => "BTC-USD".into(),
        Venue::Coinbase if parts.len() >= 2 => format!("{}-{}", parts[0], parts[1..].concat()),
        Venue::Coinbase => crate::tiers::QUOTES
            .iter()
            .find(|q| joined.len() > q.len() && joined.ends_with(*q))
            .map(|q| format!("{}-{q}", &joined[..joined.len() - q.len()]))
            // No known quote: the form is still base-quote.
            .unwrap_or_else(|| format!("{joined}-USD")),
    }
}

impl Venue {
    fn example_symbol(self) -> &'static str {
        match self {
            Venue::Binance => "BTCUSDT",
            Venue::Coinbase => "BTC-USD",
        }
    }

    /// The error text for `symbol`, not in this venue's form; `fix` is.
    fn symbol_form(self, symbol: &str, fix: &str) -> String {
        match self {
            Venue::Binance => format!(
                "`{symbol}` is not a Binance symbol (upper case, base and quote joined \
                 without a separator): use {fix}"
            ),
            Venue::Coinbase => format!(
                "`{symbol}` is not a Coinbase product id (upper case, base and quote \
                 separated by a dash): use {fix}"
            ),
        }
    }
}
