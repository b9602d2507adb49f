//! Botfleet trading engine: one process trades one account.
//!
//! Module map, in reading order (one idea each).
//!
//! Where to start: `main.rs` has the two commands, each a module, both
//! reading the same manifests.
//! - `config`: the manifests (Strategy, RiskPolicy, TradingBot) resolved for one bot
//! - `backtest`: replays CSV or synthetic candles through the engine, then a report
//! - `run`: live mode: a feed, the engine, each step stored; HTTP status and control
//!
//! Where a candle goes, in order:
//! - `market_data` (CSV files, synthetic generator) or `binance` (live klines;
//!   `binance::spot` is the real venue): where candles come from
//! - `engine`: `Engine::on_candle`, one step per closed candle through the
//!   modules below; what it did as events and audit records
//! - `strategy`: the Strategy kinds and committee: candle in, advice (a signal
//!   with its reason) out, computed with `indicators` (incremental, O(1) per candle)
//! - `risk`: every RiskPolicy limit: approves and sizes entries, stops, pauses, halts
//! - `execution`: where orders go: the paper broker (fills with fees and
//!   slippage) or a `Venue`; restart reconciliation
//! - `ledger`: cash, positions, realized/unrealized P&L (exact)
//! - `performance`: equity curve, drawdown, Sharpe/Sortino, win rate
//! - out to `store` (live: one transaction per step, SQLite or PostgreSQL) or
//!   `report` (backtest: terminal table, JSON, self-contained HTML)
//!
//! Under everything: `domain`: exact money, prices, quantities, candles, orders, fills.

pub mod backtest;
pub mod binance;
pub mod coinbase;
pub mod config;
pub mod domain;
pub mod engine;
pub mod execution;
pub mod indicators;
pub mod ledger;
pub mod market_data;
pub mod performance;
pub mod report;
pub mod risk;
pub mod run;
pub mod store;
pub mod strategy;
pub mod sweep;
