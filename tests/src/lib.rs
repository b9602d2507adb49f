//! End-to-end harness of Botfleet: a real local Kubernetes control plane
//! ([`control_plane::ControlPlane`]), a Binance spot exchange simulator
//! ([`exchange_sim::ExchangeSim`]) and the tools the tests drive ([`tools`]).
//! The end-to-end tests themselves live in `tests/tests/`.

pub mod control_plane;
pub mod exchange_sim;
pub mod llm_sim;
pub mod tools;
pub mod venue_kind;
