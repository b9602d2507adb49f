//! Leader election on a coordination.k8s.io/v1 Lease (kube-lease-manager):
//! the controller runs only while this replica holds the Lease and stops as
//! soon as it loses it, so two replicas never act on the same bots.

use std::sync::Arc;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tracing::info;

use crate::config::OperatorConfig;
use crate::controller::run_controller;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Campaigns for the Lease and runs the controller while leading, until
/// `shutdown` turns true; then releases the Lease.
pub async fn run_while_leading(
    client: Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let le = config
        .leader_election
        .clone()
        .ok_or_else(|| Error::Config("leader election is not configured".into()))?;
    let secs = |d: std::time::Duration| d.as_secs().max(1);
    let manager = LeaseManagerBuilder::new(client.clone(), &le.lease_name)
        .with_namespace(&le.lease_namespace)
        .with_identity(&le.identity)
        .with_duration(secs(le.lease_duration).max(2))
        .with_grace(secs(le.renew_before))
        .build()
        .await?;
    let (mut leading, task) = manager.watch().await;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            r = leading.wait_for(|l| *l) => if r.is_err() { break },
        }
        info!(identity = %le.identity, lease = %le.lease_name, "became the leader");
        metrics.leader.set(1);
        // Stop when the Lease is lost or on shutdown, whichever comes first.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut lost = leading.clone();
        let mut down = shutdown.clone();
        let watcher = tokio::spawn(async move {
            tokio::select! {
                _ = lost.wait_for(|l| !*l) => {},
                _ = down.wait_for(|s| *s) => {},
            }
            let _ = stop_tx.send(true);
        });
        let result = run_controller(client.clone(), config.clone(), metrics.clone(), stop_rx).await;
        watcher.abort();
        metrics.leader.set(0);
        info!(identity = %le.identity, "stopped leading");
        result?;
        if *shutdown.borrow() {
            break;
        }
    }
    drop(leading);
    let _ = task.await;
    Ok(())
}

impl From<kube_lease_manager::LeaseManagerError> for Error {
    fn from(e: kube_lease_manager::LeaseManagerError) -> Self {
        Error::Config(format!("leader election: {e}"))
    }
}
