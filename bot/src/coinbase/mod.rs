//! Coinbase Advanced Trade: [`market`], the public market data (REST
//! candles and the market-data WebSocket, combined into a gap-free live
//! candle feed).

pub mod market;
