//! Serving an axum router on a TCP address in the background: the REST API and the Prometheus
//! endpoint both start this way.

use axum::Router;
use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A server running in the background; dropping it does not stop it, [`stop`](Self::stop) does.
#[derive(Debug)]
pub struct HttpServer {
    /// The address it is bound to (the real port when asked for port 0).
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Binds `addr` and serves `router` on it.
    pub async fn start(addr: SocketAddr, router: Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Self::serve(listener, router)
    }

    /// Serves `router` on an already bound listener (e.g. bound early to publish its address).
    pub fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(%addr, error = %e, "HTTP server stopped");
            }
        });
        Ok(Self { addr, task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}
