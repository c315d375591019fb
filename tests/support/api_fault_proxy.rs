//! An HTTPS proxy in front of the real API server that answers chosen requests with an error
//! (500, 429, …) and forwards all others, for fault-injection tests. The real server does the
//! work; the proxy only adds faults the real server will not produce on demand.
//!
//! Clients connect to the proxy with the kubeconfig it returns (its own throw-away CA, no
//! credentials); the proxy forwards as the test's admin client. Upgraded connections (exec,
//! port-forward) are not forwarded.

#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody as BoxBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Answer `times` requests matching `method` and a path containing `path` with `status`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path: String,
    pub status: u16,
    pub times: usize,
    pub retry_after_seconds: Option<u64>,
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub status: u16,
    pub injected: bool,
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    seen: Vec<Seen>,
}

pub struct ApiFaultProxy {
    pub addr: SocketAddr,
    /// A kubeconfig whose only context (`proxy`) goes through the proxy.
    pub kubeconfig: kube::config::Kubeconfig,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiFaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiFaultProxy {
    /// Starts a proxy on 127.0.0.1 that forwards through `upstream`.
    pub async fn start(upstream: kube::Client, faults: Vec<Fault>) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("leaf params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf cert");

        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key der"),
            )
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(State { faults, seen: Vec::new() }));

        let task_state = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                let state = task_state.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = service_fn(move |request| handle(request, upstream.clone(), state.clone()));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });

        let kubeconfig = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {
                "server": format!("https://{addr}"),
                "certificate-authority-data": base64_encode(ca.pem().as_bytes()),
            }}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy",
        }))
        .expect("kubeconfig");
        Self { addr, kubeconfig, state, task }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().map(|s| s.seen.clone()).unwrap_or_default()
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.seen().iter().filter(|s| s.injected).count()
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn take_fault(state: &Mutex<State>, method: &Method, path: &str) -> Option<Fault> {
    let mut state = state.lock().ok()?;
    let fault = state.faults.iter_mut().find(|f| f.times > 0 && f.method == *method && path.contains(&f.path))?;
    fault.times -= 1;
    Some(fault.clone())
}

fn record(state: &Mutex<State>, seen: Seen) {
    if let Ok(mut state) = state.lock() {
        state.seen.push(seen);
    }
}

async fn handle(
    request: Request<Incoming>,
    upstream: kube::Client,
    state: Arc<Mutex<State>>,
) -> Result<Response<BoxBody<Bytes, BoxError>>, BoxError> {
    let method = request.method().clone();
    let path_and_query = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
    let path = request.uri().path().to_string();

    if let Some(fault) = take_fault(&state, &method, &path) {
        record(&state, Seen { method, path, status: fault.status, injected: true });
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("injected fault {}", fault.status), "reason": "InternalError", "code": fault.status,
        });
        let mut response =
            Response::new(Full::new(Bytes::from(status.to_string())).map_err(|e| match e {}).boxed_unsync());
        *response.status_mut() = StatusCode::from_u16(fault.status)?;
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        if let Some(seconds) = fault.retry_after_seconds {
            response.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        return Ok(response);
    }

    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut forward = Request::builder().method(parts.method.clone()).uri(path_and_query);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::AUTHORIZATION {
            forward = forward.header(name, value);
        }
    }
    let forward = forward.body(kube::client::Body::from(body.to_vec()))?;
    let response = upstream.send(forward).await?;
    record(&state, Seen { method: parts.method, path, status: response.status().as_u16(), injected: false });
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, body.map_err(|e| Box::new(e) as BoxError).boxed_unsync()))
}
