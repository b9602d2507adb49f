//! Coinbase Advanced Trade, the seeds' own venue: [`trade`], the
//! JWT-authenticated order client (a [`crate::execution::Venue`]).

pub mod trade;
