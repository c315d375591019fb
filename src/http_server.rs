//! The small HTTP/1 server the launcher's endpoints share: metrics and probes
//! ([`crate::metrics::serve`]) and Nodepool's status web app ([`crate::webapp::serve`]).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tracing::{debug, warn};

/// Binds `addr` and answers every request with `respond` until the task is dropped. Returns the
/// bound address (useful with port 0). `name` names the server in its log lines.
pub async fn serve<R, F>(
    addr: SocketAddr,
    name: &'static str,
    respond: R,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)>
where
    R: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(%error, "{name} listener");
                    continue;
                }
            };
            let respond = respond.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let answer = respond(request);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                    debug!(%peer, %error, "{name} connection");
                }
            });
        }
    });
    Ok((bound, task))
}
