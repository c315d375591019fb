//! Nodepool's status web app (`nodepool/webapp.py`) on the `webapp` key's address: `/ready`,
//! `/node-list`, `/request-list`, `/label-list` (and the image listings, empty: Kubernetes
//! drivers have no images), as a PrettyTable or JSON by the `Accept` header as webob chooses,
//! or JSON by a `.json` suffix (as older Nodepool releases; Nodepool 11 answers 404 for it).
//! Answers are cached for a second, with Nodepool's headers.

use crate::metrics::Metrics;
use crate::status::{self, Format, Table};
use crate::zk::{Store, ZkError};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tracing::{debug, info, warn};

/// How long an answer is reused (Nodepool's `cache_expiry`).
const CACHE_EXPIRY: Duration = Duration::from_secs(1);

/// The launcher's ZooKeeper store, once the engine has a session (shared: the engine moves it
/// to each new session).
pub type StoreSlot = Arc<OnceLock<Store>>;

/// What the web app answers from.
#[derive(Clone)]
pub struct WebApp {
    store: StoreSlot,
    metrics: Metrics,
    cache: Arc<Mutex<HashMap<String, (SystemTime, String)>>>,
}

impl WebApp {
    pub fn new(store: StoreSlot, metrics: Metrics) -> Self {
        Self { store, metrics, cache: Arc::default() }
    }
}

/// Binds `addr` and serves until the task is dropped. Returns the bound address.
pub async fn serve(addr: SocketAddr, app: WebApp) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let served = crate::http_server::serve(addr, "web app", move |request| {
        let app = app.clone();
        async move { app.respond(&request).await }
    })
    .await?;
    info!(addr = %served.0, "serving Nodepool's status web app");
    Ok(served)
}

/// The listings the app knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Nodes,
    Requests,
    Labels,
    Images,
    DibImages,
    ImageStatus,
}

impl Listing {
    fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/node-list" => Self::Nodes,
            "/request-list" => Self::Requests,
            "/label-list" => Self::Labels,
            "/image-list" => Self::Images,
            "/dib-image-list" => Self::DibImages,
            "/image-status" => Self::ImageStatus,
            _ => return None,
        })
    }
}

impl WebApp {
    async fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let accept = request.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
        let (path, format) = match request.uri().path().strip_suffix(".json") {
            Some(path) => (path, Format::Json),
            None => (request.uri().path(), wants(accept)),
        };
        let params = Params::parse(request.uri().query().unwrap_or(""));
        if path == "/ready" {
            return match self.metrics.ready() {
                Ok(_) => ok(format, SystemTime::now(), "OK".to_string()),
                Err(why) => {
                    debug!(reason = %why, "not ready");
                    plain(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable\n")
                }
            };
        }
        let Some(listing) = Listing::from_path(path) else {
            return plain(StatusCode::NOT_FOUND, "404 Not Found\n");
        };
        let key = format!("{path}.{}.{format:?}", params.key());
        if let Some((at, body)) = self.cached(&key) {
            return ok(format, at, body);
        }
        let Some(store) = self.store.get() else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable: no ZooKeeper session yet\n");
        };
        match table(store, listing, &params).await {
            Ok(table) => {
                let fields: Option<Vec<&str>> = params.get("fields").map(|f| f.split(',').collect());
                let body = table.output(format, fields.as_deref());
                let at = SystemTime::now();
                if let Ok(mut cache) = self.cache.lock() {
                    cache.retain(|_, (then, _)| at.duration_since(*then).unwrap_or_default() <= CACHE_EXPIRY);
                    cache.insert(key, (at, body.clone()));
                }
                ok(format, at, body)
            }
            Err(error) => {
                warn!(path, error = %crate::error::chain(&error), "web app cannot read ZooKeeper");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n")
            }
        }
    }

    fn cached(&self, key: &str) -> Option<(SystemTime, String)> {
        let cache = self.cache.lock().ok()?;
        let (at, body) = cache.get(key)?;
        (SystemTime::now().duration_since(*at).unwrap_or_default() <= CACHE_EXPIRY).then(|| (*at, body.clone()))
    }
}

async fn table(store: &Store, listing: Listing, params: &Params) -> Result<Table, ZkError> {
    match listing {
        Listing::Nodes => status::node_list(store, params.get("node_id")).await,
        Listing::Requests => status::request_list(store).await,
        Listing::Labels => status::label_list(store).await,
        Listing::Images => Ok(status::image_list()),
        Listing::DibImages => Ok(status::dib_image_list()),
        Listing::ImageStatus => Ok(status::image_status()),
    }
}

/// The query string's parameters (the last value of a repeated name, as webob's `params.get`).
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Self {
        Self(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn key(&self) -> String {
        let mut pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        pairs.join("&")
    }
}

/// Percent-decoding of a query component (`+` is a space; a `%` not followed by two hex
/// digits stays as it is).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// webob's choice among `text/html`, `text/plain` and `application/json` for an `Accept`
/// header: the offer with the highest quality, the first offered on a tie (so no header, or
/// `*/*`, is text). An unparsable header accepts everything.
fn wants(accept: Option<&str>) -> Format {
    const OFFERS: [&str; 3] = ["text/html", "text/plain", "application/json"];
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Format::Pretty };
    let Some(ranges) = parse_accept(accept) else { return Format::Pretty };
    let mut acceptable: Vec<(usize, f64)> = OFFERS
        .iter()
        .enumerate()
        .filter_map(|(i, offer)| {
            let (kind, sub) = offer.split_once('/')?;
            let best = ranges
                .iter()
                .filter_map(|(rk, rs, q)| {
                    let specificity = match (rk.as_str(), rs.as_str()) {
                        (k, s) if k == kind && s == sub => 3,
                        (k, "*") if k == kind => 2,
                        ("*", "*") => 1,
                        _ => return None,
                    };
                    Some((specificity, *q))
                })
                .max_by_key(|(specificity, _)| *specificity)?;
            (best.1 > 0.0).then_some((i, best.1))
        })
        .collect();
    acceptable.sort_by(|a, b| b.1.total_cmp(&a.1));
    match acceptable.first() {
        Some((2, _)) => Format::Json,
        _ => Format::Pretty,
    }
}

/// (type, subtype, q) of each media range, or `None` if the header does not parse.
fn parse_accept(accept: &str) -> Option<Vec<(String, String, f64)>> {
    let mut ranges = Vec::new();
    for range in accept.split(',') {
        let range = range.trim();
        if range.is_empty() {
            continue;
        }
        let mut parts = range.split(';');
        let media = parts.next()?.trim().to_ascii_lowercase();
        let (kind, sub) = media.split_once('/')?;
        if kind.is_empty() || sub.is_empty() {
            return None;
        }
        let mut q = 1.0;
        for param in parts {
            let (name, value) = param.trim().split_once('=')?;
            if name.trim().eq_ignore_ascii_case("q") {
                q = value.trim().parse::<f64>().ok().filter(|q| (0.0..=1.0).contains(q))?;
            }
        }
        ranges.push((kind.to_string(), sub.to_string(), q));
    }
    Some(ranges)
}

/// A listing or `/ready` answer with Nodepool's headers.
fn ok(format: Format, at: SystemTime, body: String) -> Response<Full<Bytes>> {
    let content_type = match format {
        Format::Json => "application/json; charset=UTF-8",
        Format::Pretty => "text/plain; charset=UTF-8",
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    let mut set = |name: http::header::HeaderName, value: String| {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(http::header::CONTENT_TYPE, content_type.to_string());
    set(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string());
    set(http::header::CACHE_CONTROL, format!("public, max-age={}", CACHE_EXPIRY.as_secs()));
    set(http::header::LAST_MODIFIED, httpdate::fmt_http_date(at));
    set(http::header::EXPIRES, httpdate::fmt_http_date(at + CACHE_EXPIRY));
    response
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=UTF-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_as_webob() {
        for (accept, format) in [
            (None, Format::Pretty),
            (Some("application/json"), Format::Json),
            (Some("application/json, text/plain"), Format::Pretty),
            (Some("*/*"), Format::Pretty),
            (Some("application/json;q=0.9, text/*;q=0.5"), Format::Json),
            (Some("text/html;q=0, application/*"), Format::Json),
            (Some("image/png"), Format::Pretty),
            (Some("garbage;;q=x"), Format::Pretty),
        ] {
            assert_eq!(wants(accept), format, "{accept:?}");
        }
    }

    #[test]
    fn query_parameters_are_decoded() {
        let params = Params::parse("node_id=0000000001&fields=id%2Cstate&x=a+b&x=c");
        assert_eq!(params.get("node_id"), Some("0000000001"));
        assert_eq!(params.get("fields"), Some("id,state"));
        assert_eq!(params.get("x"), Some("c"));
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
    }
}
