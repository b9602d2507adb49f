//! Coinbase Advanced Trade, the seeds' own venue: [`trade`], the
//! JWT-authenticated order client (a [`crate::execution::Venue`]), and
//! [`market`], the public market data (REST candles and the market-data
//! WebSocket, combined into a gap-free live candle feed).

pub mod market;
pub mod trade;
