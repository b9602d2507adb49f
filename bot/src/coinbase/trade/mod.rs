//! Coinbase Advanced Trade: a JWT-authenticated REST client implementing
//! [`Venue`].
//!
//! - [`credentials`]: the API key name and its EC private key, read from
//!   files or env, never printed.
//! - [`endpoint`]: which base URL a phase may use (none in Paper, Coinbase's
//!   static sandbox or a simulator in Sandbox, the live API in
//!   LimitedReal/Scaling).
//! - [`jwt`]: the per-request ES256 JWT Coinbase documents.
//! - [`parse`]: the documented response shapes, parsed into typed values.
//! - [`rules`]: a product's increments and sizes applied before an order is sent.
//! - [`client`]: requests, retries, rate limits, and the [`Venue`] impl.
//!
//! [`Venue`]: crate::execution::Venue

pub mod client;
pub mod credentials;
pub mod endpoint;
pub mod jwt;
pub mod parse;
pub mod rules;

#[cfg(test)]
mod parse_tests;

pub use client::{CoinbaseClient, CoinbaseOptions};
pub use credentials::{CoinbaseCredentials, CredentialsError};
pub use endpoint::{COINBASE_API_URL, COINBASE_SANDBOX_API_URL, CoinbaseEndpoint, EndpointError};
pub use parse::FeeTier;
