//! The admission webhook's HTTPS server: `POST /validate` answers with the
//! decision of [`crate::admission`] without changes, `POST /mutate` with
//! its JSON patch (approvedBy on PhaseApproval CREATE). Before a
//! PhaseApproval is admitted, the apiserver is asked whether its creator
//! may approve the bot ([`ApproverCheck`]). TLS with a certificate re-read
//! from its files when they change.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::admission;
use crate::approver::ApproverCheck;
use crate::webhook_tls::ReloadingCert;

/// Largest AdmissionReview accepted (the apiserver's own request limit is 3 MiB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The routes (exposed for tests without TLS).
pub fn router(approvers: ApproverCheck) -> Router {
    let (validate, mutate) = (approvers.clone(), approvers);
    Router::new()
        .route(
            "/validate",
            post(move |body: Bytes| review(body, false, validate.clone())),
        )
        .route(
            "/mutate",
            post(move |body: Bytes| review(body, true, mutate.clone())),
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

async fn review(body: Bytes, mutate: bool, approvers: ApproverCheck) -> Response {
    let review: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("body is not an AdmissionReview: {e}"),
            )
                .into_response();
        }
    };
    let approver = match admission::approver_question(&review) {
        Some(question) => Some(approvers.ask(&question).await),
        None => None,
    };
    let mut answer = admission::respond(&review, approver.as_ref());
    if !mutate && let Some(response) = answer["response"].as_object_mut() {
        // A validating webhook must not return a patch.
        response.remove("patch");
        response.remove("patchType");
    }
    axum::Json(answer).into_response()
}

/// The bound listener and its TLS configuration, before serving.
pub struct WebhookServer {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    approvers: ApproverCheck,
}

impl WebhookServer {
    /// Binds `addr` and loads the certificate (both errors are start-up
    /// errors naming the flag).
    pub async fn bind(
        addr: SocketAddr,
        cert_file: &Path,
        key_file: &Path,
        approvers: ApproverCheck,
    ) -> Result<Self> {
        let cert = ReloadingCert::load(cert_file, key_file)?;
        let acceptor = TlsAcceptor::from(Arc::new(cert.server_config()));
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--webhook-addr {addr}: cannot listen"))?;
        Ok(Self {
            listener,
            acceptor,
            approvers,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; each connection in its own task,
    /// so a slow or broken client holds up no one else.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        let service = TowerToHyperService::new(router(self.approvers.clone()));
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook accept failed");
                        continue;
                    }
                },
            };
            let acceptor = self.acceptor.clone();
            let service = service.clone();
            tokio::spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                        return;
                    }
                };
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "webhook connection ended with an error");
                }
            });
        }
    }
}
