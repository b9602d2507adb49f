//! Binance spot trading: a signed REST client implementing [`Venue`].
//!
//! - [`credentials`]: the API key and secret, read from files or env, never
//!   printed.
//! - [`endpoint`]: which base URL a phase may use (none in Paper, the Spot
//!   Test Network in Sandbox, the live API in LimitedReal/Scaling).
//! - [`sign`]: HMAC-SHA256 over the exact query string; client order ids.
//! - [`parse`]: the documented response shapes, parsed into typed values
//!   (never a panic on what the network sends).
//! - [`filters`]: `exchangeInfo` filters applied before an order is sent.
//! - [`client`]: requests, retries, time sync, and the [`Venue`] impl.
//!
//! [`Venue`]: crate::execution::Venue

pub mod client;
pub mod credentials;
pub mod endpoint;
pub mod filters;
pub mod parse;
pub mod sign;

#[cfg(test)]
mod parse_tests;

pub use client::{SpotClient, SpotOptions};
pub use credentials::{CredentialsError, SpotCredentials};
pub use endpoint::{EndpointError, SpotEndpoint};
pub use filters::apply_filters;
pub use sign::{ClientOrderIds, sign_query};
