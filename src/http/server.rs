//! The standalone server: [`serve`] binds, answers `/metrics` until told to stop, and
//! shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::opts::ServeOpts;
use super::service::{plain, MetricsService, ResponseFuture};
use crate::error::{Error, Result};
use crate::registry::Registry;

/// The most a client may send as request head (request line and headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Serves `registry` on `addr` at [`ServeOpts::path`] (other paths: 404) until the
/// returned [`Server`] is shut down or dropped. Must be called within a tokio runtime.
///
/// Slow or hostile clients cannot stall it: a client has
/// [`ServeOpts::header_read_timeout`] to send its request head (at most 16 KiB), idle
/// connections are closed after the same time, at most [`ServeOpts::max_connections`]
/// are open at once, and request bodies are never read.
///
/// ```
/// use promsdk::http::{serve, ServeOpts};
/// use promsdk::Registry;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = serve("127.0.0.1:0".parse().unwrap(), Registry::new(), ServeOpts::default()).await.unwrap();
/// assert!(server.local_addr().ip().is_loopback());
/// server.shutdown().await;
/// # });
/// ```
pub async fn serve(addr: SocketAddr, registry: Registry, opts: ServeOpts) -> Result<Server> {
    let service = MetricsService::new(registry, opts.clone())?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })?;
    Server::start(listener, service, opts)
}

/// A running standalone server, from [`serve`] or [`Server::start`]. Dropping it stops
/// the server as [`Server::shutdown`] does, without waiting.
#[must_use = "dropping the Server stops it"]
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `service` on an already bound listener (to serve several registries
    /// merged, or to pick the socket yourself). Only the server settings of `opts`
    /// are used here: path, timeouts, connection limit.
    pub fn start(listener: TcpListener, service: MetricsService, opts: ServeOpts) -> Result<Self> {
        let local_addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: "(listener)".to_owned(),
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, service, opts, stopped));
        Ok(Self {
            local_addr,
            stop,
            task: Some(task),
        })
    }

    /// The address the server listens on (the port chosen when `:0` was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets open ones finish the request they are
    /// serving (up to [`ServeOpts::shutdown_timeout`], then closes them), and returns
    /// once all are closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Runs until `signal` completes (e.g. `tokio::signal::ctrl_c()`), then shuts
    /// down gracefully.
    pub async fn shutdown_on(self, signal: impl Future) {
        signal.await;
        self.shutdown().await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    service: MetricsService,
    opts: ServeOpts,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let path: Arc<str> = opts.path.as_str().into();
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            _ = stopped.changed() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accepting a /metrics connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let routed = Routed {
            service: service.clone(),
            path: Arc::clone(&path),
        };
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), routed));
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "/metrics connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("/metrics connections still open after the shutdown timeout; closing them");
    }
    connections.shutdown().await;
}

/// The service on one path, 404 elsewhere.
#[derive(Clone)]
struct Routed {
    service: MetricsService,
    path: Arc<str>,
}

impl<B> hyper::service::Service<Request<B>> for Routed {
    type Response = http::Response<super::Body>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        if request.uri().path() == &*self.path {
            self.service.respond(request)
        } else {
            Box::pin(async { Ok(plain(StatusCode::NOT_FOUND, "Not found.\n".to_owned())) })
        }
    }
}
