//! Starting the operator: with leader election when configured (only the
//! replica holding the Lease runs the controller), else the controller
//! right away.

use std::future::Future;
use std::sync::Arc;

use kube::Client;
use tokio::sync::watch;

use crate::config::OperatorConfig;
use crate::controller::run_controller;
use crate::error::Result;
use crate::leader;
use crate::metrics::Metrics;

/// Runs the operator until `shutdown` completes: with leader election when
/// `config.leader_election` is set, else right away.
pub async fn run(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    crate::install_crypto_provider();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    if config.leader_election.is_some() {
        leader::run_while_leading(client, config, metrics, rx).await
    } else {
        metrics.leader.set(1);
        run_controller(client, config, metrics, rx).await
    }
}
