//! `RiskPolicy.spec.limits`: the risk limits of each phase, and their
//! defaults (the seed figures for LimitedReal and Scaling).
//!
//! Each phase has its own defaults, so a partially written phase
//! (`limitedReal: {maxPositionPct: 4}`) is completed from *that phase's*
//! defaults, both here (the overlay deserializer) and on the apiserver (the
//! per-phase `default`s in the schema).

use rust_decimal::Decimal;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};

use crate::amount::{Amount, Minutes, Percent};
use crate::common::{Phase, overlay_struct, schema_with_defaults};
use crate::validation::ValidationErrors;

overlay_struct! {
    /// The risk limits of one phase. A percentage limit and its absolute twin
    /// (e.g. `maxPositionPct` and `maxPosition`) both apply: the smaller wins.
    #[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct PhaseLimits overlay PhaseLimitsOverlay {
        /// Largest position in one symbol, as % of the bot's capital (a symbol's risk tier may lower it).
        pub max_position_pct: Percent,
        /// Largest position in one symbol, in quote currency (optional; required for LimitedReal).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub max_position: Option<Amount>,
        /// Most positions open at the same time, across symbols (≥ 1).
        #[schemars(range(min = 1))]
        pub max_open_positions: u32,
        /// Largest single order, in quote currency (optional; the position cap also bounds every order).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub max_order_notional: Option<Amount>,
        /// Most entries per UTC day (≥ 1); further entry signals are ignored until the next day.
        #[schemars(range(min = 1))]
        pub max_trades_per_day: u32,
        /// Close a position when it is this % below its entry price (above 0, below 100; a symbol's risk tier may replace it).
        pub stop_loss_pct: Percent,
        /// Close a position when it is this % above its entry price (optional).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub take_profit_pct: Option<Percent>,
        /// Close a position when it falls this % from its highest price since entry (optional).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub trailing_stop_pct: Option<Percent>,
        /// Daily loss limit as % of the day's starting equity: no new entries until the next UTC day (open positions keep their stops).
        pub daily_loss_limit_pct: Percent,
        /// Daily loss limit in quote currency (optional; required for LimitedReal); same effect as dailyLossLimitPct.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub daily_loss_limit: Option<Amount>,
        /// Halt the bot when equity falls this % below its peak in the phase.
        pub max_drawdown_pct: Percent,
        /// Halt the bot when equity falls this % below the capital it started the phase with.
        pub max_total_loss_pct: Percent,
        /// Halt the bot when the loss since the phase started reaches this amount (optional; required for LimitedReal).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub max_total_loss: Option<Amount>,
        /// Halt the bot after this many losing UTC days in a row (≥ 1).
        #[schemars(range(min = 1))]
        pub max_losing_days_in_row: u32,
        /// Pause new entries after a sudden price move (flash-crash breaker).
        pub flash_crash: FlashCrashBreaker,
        /// Minutes to wait after closing a position before entering the same symbol again (0 = no cooldown).
        pub symbol_cooldown_minutes: u32,
        /// Dead-man switch: when no operator poll (`GET /status`) has reached the engine for this many minutes, it opens no new position (exits, stops and take-profits keep working) until the next poll. Fractions allowed (0.5 = 30 s); at most 1440. 0 = off, allowed in Paper and Sandbox only.
        pub dead_man_minutes: Minutes,
    }
}

/// Flash-crash breaker: when a symbol's price moves more than `movePct`
/// within `windowMinutes`, new entries pause for `pauseMinutes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FlashCrashBreaker {
    /// Price move (up or down) that trips the breaker, as % of the price at the start of the window (> 0).
    pub move_pct: Percent,
    /// Length of the window the move is measured over, in minutes (≥ 1).
    #[schemars(range(min = 1))]
    pub window_minutes: u32,
    /// How long new entries stay paused after the breaker trips, in minutes (≥ 1).
    #[schemars(range(min = 1))]
    pub pause_minutes: u32,
}

impl Default for FlashCrashBreaker {
    fn default() -> Self {
        Self {
            move_pct: Percent::whole(10),
            window_minutes: 5,
            pause_minutes: 60,
        }
    }
}

/// The real phases' default `deadManMinutes`: an engine nobody has polled
/// for 5 minutes stops opening positions.
pub const DEAD_MAN_DEFAULT_MINUTES: u32 = 5;
/// The largest `deadManMinutes` (a day).
pub const DEAD_MAN_MAX_MINUTES: u32 = 1440;

fn amount(value: u32) -> Option<Amount> {
    Some(Amount::from(value))
}

impl PhaseLimits {
    /// Paper defaults: loose enough to learn what the strategy does, tight
    /// enough that a runaway strategy halts (25 % position as tier 1 allows,
    /// 5 % daily loss, 20 % drawdown halts).
    pub fn paper_default() -> Self {
        Self {
            max_position_pct: Percent::whole(25),
            max_position: None,
            max_open_positions: 5,
            max_order_notional: None,
            max_trades_per_day: 50,
            stop_loss_pct: Percent::whole(5),
            take_profit_pct: None,
            trailing_stop_pct: None,
            daily_loss_limit_pct: Percent::whole(5),
            daily_loss_limit: None,
            max_drawdown_pct: Percent::whole(20),
            max_total_loss_pct: Percent::whole(30),
            max_total_loss: None,
            max_losing_days_in_row: 5,
            flash_crash: FlashCrashBreaker::default(),
            symbol_cooldown_minutes: 15,
            dead_man_minutes: Minutes::ZERO,
        }
    }

    /// Sandbox defaults: between Paper and LimitedReal, so the test-network
    /// run rehearses limits close to the real ones.
    pub fn sandbox_default() -> Self {
        Self {
            max_position_pct: Percent::whole(10),
            max_open_positions: 3,
            max_trades_per_day: 20,
            daily_loss_limit_pct: Percent::whole(3),
            max_drawdown_pct: Percent::whole(15),
            max_total_loss_pct: Percent::whole(20),
            max_losing_days_in_row: 4,
            ..Self::paper_default()
        }
    }

    /// LimitedReal defaults, the seed's hard caps: max position $250 / 5 %,
    /// daily loss $50 / 1 %, total loss $500 / 10 %, 3 concurrent positions,
    /// 10 trades a day; orders at most $250, 3 % stop-loss, 10 % drawdown
    /// halts, 3 losing days in a row halt.
    pub fn limited_real_default() -> Self {
        Self {
            max_position_pct: Percent::whole(5),
            max_position: amount(250),
            max_open_positions: 3,
            max_order_notional: amount(250),
            max_trades_per_day: 10,
            stop_loss_pct: Percent::whole(3),
            take_profit_pct: None,
            trailing_stop_pct: None,
            daily_loss_limit_pct: Percent::whole(1),
            daily_loss_limit: amount(50),
            max_drawdown_pct: Percent::whole(10),
            max_total_loss_pct: Percent::whole(10),
            max_total_loss: amount(500),
            max_losing_days_in_row: 3,
            flash_crash: FlashCrashBreaker::default(),
            symbol_cooldown_minutes: 30,
            dead_man_minutes: Minutes::whole(DEAD_MAN_DEFAULT_MINUTES),
        }
    }

    /// Scaling defaults, the seed figures: 5 % position, 2 % daily loss,
    /// 15 % drawdown halts; no absolute caps (capital follows the schedule).
    pub fn scaling_default() -> Self {
        Self {
            max_position: None,
            max_open_positions: 5,
            max_order_notional: None,
            max_trades_per_day: 20,
            daily_loss_limit_pct: Percent::whole(2),
            daily_loss_limit: None,
            max_drawdown_pct: Percent::whole(15),
            max_total_loss_pct: Percent::whole(20),
            max_total_loss: None,
            max_losing_days_in_row: 5,
            ..Self::limited_real_default()
        }
    }

    /// The defaults of `phase`.
    pub fn default_for(phase: Phase) -> Self {
        match phase {
            Phase::Paper => Self::paper_default(),
            Phase::Sandbox => Self::sandbox_default(),
            Phase::LimitedReal => Self::limited_real_default(),
            Phase::Scaling => Self::scaling_default(),
        }
    }

    /// Reads one phase's limits, completing unset fields from that phase's
    /// defaults. Unknown fields are rejected.
    pub fn deserialize_for_phase<'de, D: Deserializer<'de>>(
        phase: Phase,
        deserializer: D,
    ) -> Result<Self, D::Error> {
        Ok(PhaseLimitsOverlay::deserialize(deserializer)?.apply(Self::default_for(phase)))
    }

    /// Largest position in one symbol for a bot with `capital`: the smaller
    /// of the percentage and the absolute cap.
    pub fn max_position_for(&self, capital: Amount) -> Amount {
        let by_pct = self.max_position_pct.of(capital);
        self.max_position.map_or(by_pct, |cap| by_pct.min(cap))
    }

    /// Largest single order for a bot with `capital`: `maxOrderNotional`,
    /// never more than the position cap.
    pub fn max_order_for(&self, capital: Amount) -> Amount {
        let position = self.max_position_for(capital);
        self.max_order_notional
            .map_or(position, |cap| position.min(cap))
    }

    /// Daily loss limit for a day that started at `equity`: the smaller of
    /// the percentage and the absolute cap.
    pub fn daily_loss_limit_for(&self, equity: Amount) -> Amount {
        let by_pct = self.daily_loss_limit_pct.of(equity);
        self.daily_loss_limit.map_or(by_pct, |cap| by_pct.min(cap))
    }

    /// Total loss that halts a bot that started the phase with `capital`.
    pub fn max_total_loss_for(&self, capital: Amount) -> Amount {
        let by_pct = self.max_total_loss_pct.of(capital);
        self.max_total_loss.map_or(by_pct, |cap| by_pct.min(cap))
    }

    pub(crate) fn check(&self, path: &str, phase: Phase, errs: &mut ValidationErrors) {
        let zero = Decimal::ZERO;
        let hundred = Decimal::ONE_HUNDRED;
        errs.check(
            self.max_position_pct.value() > zero,
            format!("{path}.maxPositionPct"),
            || "must be above 0; to stop trading set the bot's `halted: true` instead".into(),
        );
        for (name, cap) in [
            ("maxPosition", self.max_position),
            ("maxOrderNotional", self.max_order_notional),
            ("dailyLossLimit", self.daily_loss_limit),
            ("maxTotalLoss", self.max_total_loss),
        ] {
            if let Some(cap) = cap {
                errs.check(cap.value() > zero, format!("{path}.{name}"), || {
                    "must be above 0; remove the field for no absolute cap".into()
                });
            }
        }
        errs.check(
            self.max_open_positions >= 1,
            format!("{path}.maxOpenPositions"),
            || "must be at least 1".into(),
        );
        errs.check(
            self.max_trades_per_day >= 1,
            format!("{path}.maxTradesPerDay"),
            || "must be at least 1".into(),
        );
        errs.check(
            self.max_losing_days_in_row >= 1,
            format!("{path}.maxLosingDaysInRow"),
            || "must be at least 1".into(),
        );
        let sl = self.stop_loss_pct.value();
        errs.check(
            sl > zero && sl < hundred,
            format!("{path}.stopLossPct"),
            || format!("a stop-loss must be above 0 and below 100 %, got {sl}"),
        );
        if let Some(tp) = self.take_profit_pct {
            errs.check(tp.value() > zero, format!("{path}.takeProfitPct"), || {
                "must be above 0; remove the field for no take-profit".into()
            });
        }
        if let Some(ts) = self.trailing_stop_pct {
            errs.check(
                ts.value() > zero && ts.value() < hundred,
                format!("{path}.trailingStopPct"),
                || format!("a trailing stop must be above 0 and below 100 %, got {ts}"),
            );
        }
        for (name, value) in [
            ("dailyLossLimitPct", self.daily_loss_limit_pct),
            ("maxDrawdownPct", self.max_drawdown_pct),
            ("maxTotalLossPct", self.max_total_loss_pct),
        ] {
            errs.check(value.value() > zero, format!("{path}.{name}"), || {
                "must be above 0 (0 would stop the bot before its first trade)".into()
            });
        }
        errs.check(
            self.daily_loss_limit_pct <= self.max_total_loss_pct,
            format!("{path}.dailyLossLimitPct"),
            || {
                format!(
                    "daily loss limit ({} %) is above the total loss limit ({} %); lower it",
                    self.daily_loss_limit_pct, self.max_total_loss_pct
                )
            },
        );
        if let (Some(daily), Some(total)) = (self.daily_loss_limit, self.max_total_loss) {
            errs.check(daily <= total, format!("{path}.dailyLossLimit"), || {
                format!("daily loss limit ({daily}) is above maxTotalLoss ({total}); lower it")
            });
        }
        let breaker = &self.flash_crash;
        errs.check(
            breaker.move_pct.value() > zero,
            format!("{path}.flashCrash.movePct"),
            || "must be above 0".into(),
        );
        errs.check(
            breaker.window_minutes >= 1,
            format!("{path}.flashCrash.windowMinutes"),
            || "must be at least 1".into(),
        );
        errs.check(
            breaker.pause_minutes >= 1,
            format!("{path}.flashCrash.pauseMinutes"),
            || "must be at least 1".into(),
        );
        let dead_man = self.dead_man_minutes.value();
        errs.check(
            dead_man <= Decimal::from(DEAD_MAN_MAX_MINUTES),
            format!("{path}.deadManMinutes"),
            || format!("at most {DEAD_MAN_MAX_MINUTES} (a day), got {dead_man}"),
        );
        if phase.is_real_money() {
            errs.check(dead_man > zero, format!("{path}.deadManMinutes"), || {
                format!(
                    "{} trades real money: the engine must stop opening positions when the operator stops polling it; set it above 0 (default {DEAD_MAN_DEFAULT_MINUTES}, at most {DEAD_MAN_MAX_MINUTES}); 0 (off) is for Paper and Sandbox only",
                    phase.as_str()
                )
            });
        }
        if phase == Phase::LimitedReal {
            for (name, cap) in [
                ("maxPosition", self.max_position),
                ("dailyLossLimit", self.daily_loss_limit),
                ("maxTotalLoss", self.max_total_loss),
            ] {
                errs.check(cap.is_some(), format!("{path}.{name}"), || {
                    "LimitedReal trades real money under hard absolute caps; set this cap (seed: maxPosition 250, dailyLossLimit 50, maxTotalLoss 500)".into()
                });
            }
        }
    }
}

macro_rules! phase_field {
    ($de:ident, $schema:ident, $phase:expr, $default:path) => {
        fn $de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PhaseLimits, D::Error> {
            PhaseLimits::deserialize_for_phase($phase, deserializer)
        }
        fn $schema(generator: &mut SchemaGenerator) -> Schema {
            schema_with_defaults(generator, &$default())
        }
    };
}

phase_field!(
    de_paper,
    schema_paper,
    Phase::Paper,
    PhaseLimits::paper_default
);
phase_field!(
    de_sandbox,
    schema_sandbox,
    Phase::Sandbox,
    PhaseLimits::sandbox_default
);
phase_field!(
    de_limited_real,
    schema_limited_real,
    Phase::LimitedReal,
    PhaseLimits::limited_real_default
);
phase_field!(
    de_scaling,
    schema_scaling,
    Phase::Scaling,
    PhaseLimits::scaling_default
);

/// The limits of every phase. Unset fields take that phase's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Limits while paper trading (simulated fills).
    #[serde(default = "PhaseLimits::paper_default", deserialize_with = "de_paper")]
    #[schemars(schema_with = "schema_paper")]
    pub paper: PhaseLimits,
    /// Limits on the exchange's test network.
    #[serde(
        default = "PhaseLimits::sandbox_default",
        deserialize_with = "de_sandbox"
    )]
    #[schemars(schema_with = "schema_sandbox")]
    pub sandbox: PhaseLimits,
    /// Limits for the first real-money phase; absolute caps are required here.
    #[serde(
        default = "PhaseLimits::limited_real_default",
        deserialize_with = "de_limited_real"
    )]
    #[schemars(schema_with = "schema_limited_real")]
    pub limited_real: PhaseLimits,
    /// Limits while capital steps up the schedule; must be no tighter than limitedReal.
    #[serde(
        default = "PhaseLimits::scaling_default",
        deserialize_with = "de_scaling"
    )]
    #[schemars(schema_with = "schema_scaling")]
    pub scaling: PhaseLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            paper: PhaseLimits::paper_default(),
            sandbox: PhaseLimits::sandbox_default(),
            limited_real: PhaseLimits::limited_real_default(),
            scaling: PhaseLimits::scaling_default(),
        }
    }
}

impl Limits {
    /// The limits of `phase`.
    pub fn for_phase(&self, phase: Phase) -> &PhaseLimits {
        match phase {
            Phase::Paper => &self.paper,
            Phase::Sandbox => &self.sandbox,
            Phase::LimitedReal => &self.limited_real,
            Phase::Scaling => &self.scaling,
        }
    }

    pub(crate) fn check(&self, path: &str, errs: &mut ValidationErrors) {
        for phase in Phase::ALL {
            self.for_phase(phase)
                .check(&format!("{path}.{}", phase.key()), phase, errs);
        }
        // The first real-money phase is the cautious one: none of its
        // percentage limits may be looser than Scaling's.
        let (lr, sc) = (&self.limited_real, &self.scaling);
        let at = |name: &str| format!("{path}.limitedReal.{name}");
        let pct_pairs = [
            ("maxPositionPct", lr.max_position_pct, sc.max_position_pct),
            (
                "dailyLossLimitPct",
                lr.daily_loss_limit_pct,
                sc.daily_loss_limit_pct,
            ),
            ("maxDrawdownPct", lr.max_drawdown_pct, sc.max_drawdown_pct),
            (
                "maxTotalLossPct",
                lr.max_total_loss_pct,
                sc.max_total_loss_pct,
            ),
        ];
        for (name, lr_value, sc_value) in pct_pairs {
            errs.check(lr_value <= sc_value, at(name), || {
                format!("LimitedReal ({lr_value} %) must be no looser than Scaling ({sc_value} %); lower it or raise scaling.{name}")
            });
        }
        let count_pairs = [
            (
                "maxOpenPositions",
                lr.max_open_positions,
                sc.max_open_positions,
            ),
            (
                "maxTradesPerDay",
                lr.max_trades_per_day,
                sc.max_trades_per_day,
            ),
        ];
        for (name, lr_value, sc_value) in count_pairs {
            errs.check(lr_value <= sc_value, at(name), || {
                format!("LimitedReal ({lr_value}) must be no looser than Scaling ({sc_value}); lower it or raise scaling.{name}")
            });
        }
    }
}
