//! `botfleet-operator`: the controller process. Flags (each also an
//! environment variable) set the engine defaults, the timings and leader
//! election; `/metrics`, `/healthz` and `/readyz` are served on
//! `--metrics-addr`, the admission webhook on `--webhook-addr` when set. SIGTERM/SIGINT stop it gracefully: in-flight
//! reconciles finish and the Lease is released.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use botfleet_operator::approver::ApproverCheck;
use botfleet_operator::config::{LeaderElection, parse_duration};
use botfleet_operator::endpoints::EngineEndpoints;
use botfleet_operator::network_policy::{EnginePeers, parse_labels};
use botfleet_operator::signing::SigningKeys;
use botfleet_operator::webhook::WebhookServer;
use botfleet_operator::{Metrics, OperatorConfig, http, telemetry};
use clap::Parser;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(
    name = "botfleet-operator",
    version,
    about = "Runs TradingBots as Kubernetes resources"
)]
struct Flags {
    /// Engine image for bots that do not set spec.engine.image.
    #[arg(long, env = "BOTFLEET_ENGINE_IMAGE", default_value = concat!("ghcr.io/botfleet/botfleet-bot:", env!("CARGO_PKG_VERSION")))]
    engine_image: String,
    /// Market data REST base URL for every engine (default: public Binance).
    #[arg(long, env = "BOTFLEET_ENGINE_MARKET_REST_URL")]
    engine_market_rest_url: Option<String>,
    /// Market data WebSocket base URL for every engine (default: public Binance).
    #[arg(long, env = "BOTFLEET_ENGINE_MARKET_WS_URL")]
    engine_market_ws_url: Option<String>,
    /// Venue base URL of Sandbox engines (default: Binance's test network).
    #[arg(long, env = "BOTFLEET_ENGINE_TESTNET_VENUE_URL")]
    engine_testnet_venue_url: Option<String>,
    /// Venue base URL of LimitedReal and Scaling engines (default: Binance).
    #[arg(long, env = "BOTFLEET_ENGINE_LIVE_VENUE_URL")]
    engine_live_venue_url: Option<String>,
    /// An engine image allowed to run, pinned by digest (repo@sha256:...);
    /// repeat for several. None given: every image may run.
    #[arg(long = "trusted-engine-image")]
    trusted_engine_images: Vec<String>,
    /// Port the engines serve /status and the control endpoints on.
    #[arg(long, env = "BOTFLEET_ENGINE_PORT", default_value_t = 8080)]
    engine_port: u16,
    /// File with the random key material (≥ 32 bytes) of the Ed25519 key
    /// that signs control requests to the engines; re-read on change.
    #[arg(
        long,
        env = "BOTFLEET_SIGNING_KEY_FILE",
        default_value = "/etc/botfleet/signing-key/key"
    )]
    signing_key_file: PathBuf,
    /// Watch only these namespaces (repeat the flag or separate by commas;
    /// default: all namespaces).
    #[arg(long, env = "BOTFLEET_NAMESPACE", value_delimiter = ',')]
    namespace: Vec<String>,
    /// Render a NetworkPolicy per engine pod (ingress: the operator and the
    /// metrics scraper; egress: DNS, the venue's HTTPS, PostgreSQL).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    engine_network_policy: bool,
    /// The operator's own namespace (the engines admit its pods).
    #[arg(long, env = "POD_NAMESPACE", default_value = "botfleet")]
    operator_namespace: String,
    /// Labels of the operator's pods, `k=v,k=v`.
    #[arg(long, default_value = "app.kubernetes.io/name=botfleet-operator", value_parser = labels)]
    operator_pod_labels: BTreeMap<String, String>,
    /// Labels of the namespaces the metrics scraper runs in (empty: any).
    #[arg(long, default_value = "", value_parser = labels)]
    metrics_scraper_namespace_labels: BTreeMap<String, String>,
    /// Labels of the metrics scraper's pods (empty: any pod there).
    #[arg(long, default_value = "", value_parser = labels)]
    metrics_scraper_pod_labels: BTreeMap<String, String>,
    /// How often each bot is reconciled and its engine polled.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    poll_interval: Duration,
    /// Requeue delay after a failed reconcile.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    error_requeue: Duration,
    /// Timeout of each engine HTTP call.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    engine_timeout: Duration,
    /// Failed polls in a row before EngineHealthy turns False.
    #[arg(long, default_value_t = 3)]
    engine_failure_threshold: u32,
    /// Most reconciles running at once.
    #[arg(long, default_value_t = 32)]
    concurrency: u16,
    /// Re-apply unchanged children at least this often.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    resync_interval: Duration,
    /// How long deletion waits for the engine to confirm its halt.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    finalizer_timeout: Duration,
    /// Length of a gate/capital "day"; only shorten it for demos and tests.
    #[arg(long, default_value = "24h", value_parser = parse_duration, hide = true)]
    day_length: Duration,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "BOTFLEET_METRICS_ADDR", default_value = "0.0.0.0:9090")]
    metrics_addr: SocketAddr,
    /// Elect a leader with a Lease (run several replicas safely).
    #[arg(long, env = "BOTFLEET_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Name of the leader Lease.
    #[arg(long, default_value = "botfleet-operator")]
    lease_name: String,
    /// Namespace of the leader Lease (default: the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "botfleet-system")]
    lease_namespace: String,
    /// Lease duration.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    lease_duration: Duration,
    /// Renew this long before the Lease expires.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    lease_renew_before: Duration,
    /// This replica's name (Events, Lease holder).
    #[arg(long, env = "POD_NAME", default_value = "botfleet-operator")]
    instance: String,
    /// Serve the admission webhook (HTTPS: POST /validate, /mutate) on this
    /// address; off when unset.
    #[arg(long, env = "BOTFLEET_WEBHOOK_ADDR", requires_all = ["webhook_cert_file", "webhook_key_file"])]
    webhook_addr: Option<SocketAddr>,
    /// PEM certificate (chain) of the webhook; re-read when it changes.
    #[arg(long, env = "BOTFLEET_WEBHOOK_CERT_FILE")]
    webhook_cert_file: Option<PathBuf>,
    /// PEM private key of the webhook; re-read when it changes.
    #[arg(long, env = "BOTFLEET_WEBHOOK_KEY_FILE")]
    webhook_key_file: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, env = "BOTFLEET_LOG_JSON")]
    log_json: bool,
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    botfleet_operator::install_crypto_provider();
    telemetry::init(flags.log_json);
    let signing = SigningKeys::from_file(&flags.signing_key_file)?;
    let mut config = OperatorConfig::new(signing, flags.engine_image);
    config.engine_endpoints = EngineEndpoints {
        market_rest_url: flags.engine_market_rest_url,
        market_ws_url: flags.engine_market_ws_url,
        testnet_venue_url: flags.engine_testnet_venue_url,
        live_venue_url: flags.engine_live_venue_url,
    };
    config
        .engine_endpoints
        .validate()
        .map_err(|e| anyhow::anyhow!(e))?;
    botfleet_crds::image_trust::check_allowlist(&flags.trusted_engine_images)
        .map_err(anyhow::Error::msg)?;
    config.trusted_engine_images = flags.trusted_engine_images;
    // The webhook records who approved; only then is there someone to ask about.
    config.recheck_approvers = flags.webhook_addr.is_some();
    config.engine_port = flags.engine_port;
    config.namespaces = flags.namespace;
    config.network_peers = flags.engine_network_policy.then_some(EnginePeers {
        operator_namespace: flags.operator_namespace,
        operator_pod_labels: flags.operator_pod_labels,
        scraper_namespace_labels: flags.metrics_scraper_namespace_labels,
        scraper_pod_labels: flags.metrics_scraper_pod_labels,
    });
    config.poll_interval = flags.poll_interval;
    config.error_requeue = flags.error_requeue;
    config.engine_timeout = flags.engine_timeout;
    config.engine_failure_threshold = flags.engine_failure_threshold;
    config.resync_interval = flags.resync_interval;
    config.concurrency = flags.concurrency;
    config.finalizer_timeout = flags.finalizer_timeout;
    config.day = flags.day_length;
    config.instance = flags.instance.clone();
    if flags.leader_elect {
        config.leader_election = Some(LeaderElection {
            lease_name: flags.lease_name,
            lease_namespace: flags.lease_namespace,
            identity: flags.instance,
            lease_duration: flags.lease_duration,
            renew_before: flags.lease_renew_before,
        });
    }
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster config or KUBECONFIG)")?;
    let webhook = match (
        &flags.webhook_addr,
        &flags.webhook_cert_file,
        &flags.webhook_key_file,
    ) {
        (Some(addr), Some(cert), Some(key)) => {
            let approvers = ApproverCheck::new(client.clone());
            Some(WebhookServer::bind(*addr, cert, key, approvers).await?)
        }
        _ => None,
    };
    let metrics = Arc::new(Metrics::new());
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = tx.send(true);
    });
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(http::serve(
        flags.metrics_addr,
        metrics.clone(),
        wait(rx.clone()),
    ));
    let webhook = webhook.map(|w| tokio::spawn(w.serve(wait(rx.clone()))));
    botfleet_operator::run(client, config, metrics, wait(rx)).await?;
    if let Some(webhook) = webhook {
        webhook.await??;
    }
    server.await??;
    Ok(())
}

fn labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    parse_labels(text)
}
