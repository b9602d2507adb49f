//! Botfleet trading engine: one process trades one account.
//!
//! Module map (one idea each):
//! - `domain`: exact money, prices, quantities, candles, orders, fills
//! - `market_data`: candle sources (CSV files, synthetic generator)
//! - `binance`: Binance public market data (REST klines + kline WebSocket)
//! - `indicators`: incremental technical indicators
//! - `ledger`: cash, positions, realized/unrealized P&L (exact)
//! - `execution`: brokers; `paper` simulates fills with fees and slippage
//! - `performance`: equity curve, drawdown, Sharpe/Sortino, win rate
//! - `store`: persistence with sqlx (SQLite default, PostgreSQL)
//! - `config`: the manifests (Strategy, RiskPolicy, TradingBot) resolved for one bot
//! - `report`: the backtest report (terminal table, JSON, self-contained HTML)
//! - `strategy`: the Strategy kinds and committee: candles in, signals with reasons out

pub mod backtest;
pub mod binance;
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
