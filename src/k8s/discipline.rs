//! Client discipline: a burst of node requests must not overload the API server, and a
//! passing API fault (429, 5xx, a dropped connection) must not fail a launch.
//!
//! kube-rs, unlike client-go, does not throttle by default. Every client kubepool builds goes
//! through this stack, outermost first:
//!
//! 1. retry: 429 and 500/502/503/504 responses and connection errors are retried with
//!    exponential backoff (honouring `Retry-After`), up to `max_retries` times;
//! 2. rate limit: a token bucket shared by all requests of the client (`qps`, `burst`);
//! 3. a buffer, so the stack can be cloned across tasks.
//!
//! Requests kubepool sends are idempotent by name (a create that already happened answers
//! 409, which the drivers treat as success), so retrying after a dropped connection is safe.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::retry::Policy;
use tower::{BoxError, Layer, Service};

/// Told of every failed API call (before any retry): `"throttled"` (429), `"server"` (5xx) or
/// `"connection"`.
pub type ApiErrorObserver = std::sync::Arc<dyn Fn(&'static str) + Send + Sync>;

/// How hard a client may press the API server.
#[derive(Clone)]
pub struct ApiDiscipline {
    /// Sustained requests per second.
    pub qps: u32,
    /// Requests that may be sent at once after a quiet spell.
    pub burst: u32,
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub observer: Option<ApiErrorObserver>,
}

impl std::fmt::Debug for ApiDiscipline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiDiscipline")
            .field("qps", &self.qps)
            .field("burst", &self.burst)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The default request rate of a launcher's client for one cluster: a token bucket that refills
/// at 50 requests/s and holds 500. Launching a namespace node takes 5 requests, a pod node about
/// 10, deleting one about 4. The sustained rate bounds what one launcher asks of an API server;
/// the bucket lets a burst of 100 node requests (a gate reset) go out as fast as the server
/// answers instead of queueing behind the rate: in the benchmark, a burst of 100 namespace
/// nodes took 8 s with a bucket of 100 and 2.4 s with no limit. (client-go's defaults are 5/10;
/// `--api-qps`, `--api-burst` change these.)
pub const DEFAULT_QPS: u32 = 50;
pub const DEFAULT_BURST: u32 = 500;

impl Default for ApiDiscipline {
    fn default() -> Self {
        Self {
            qps: DEFAULT_QPS,
            burst: DEFAULT_BURST,
            max_retries: 6,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            observer: None,
        }
    }
}

// ---------------------------------------------------------------- rate limit

/// A tower layer that makes every request wait for a token of a shared bucket.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl RateLimitLayer {
    pub fn new(qps: u32, burst: u32) -> Self {
        let qps = NonZeroU32::new(qps).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self { limiter: Arc::new(RateLimiter::direct(Quota::per_second(qps).allow_burst(burst))) }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimited { inner, limiter: self.limiter.clone() }
    }
}

#[derive(Clone)]
pub struct RateLimited<S> {
    inner: S,
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl<S, Req> Service<Req> for RateLimited<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // The clone is called after waiting; the ready one stays for the next request.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        Box::pin(async move {
            limiter.until_ready().await;
            ready.call(request).await
        })
    }
}

// ---------------------------------------------------------------- retry

/// Retries transient API failures with exponential backoff.
#[derive(Clone)]
pub struct RetryTransient {
    attempt: u32,
    discipline: ApiDiscipline,
}

impl RetryTransient {
    pub fn new(discipline: ApiDiscipline) -> Self {
        Self { attempt: 0, discipline }
    }

    /// The delay before retry number `attempt` (1-based): min × 2^(attempt-1), capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.discipline.min_backoff.saturating_mul(factor).min(self.discipline.max_backoff)
    }
}

/// Whether a response status is worth retrying.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let seconds: u64 = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(60)))
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for RetryTransient {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if let Some(observer) = &self.discipline.observer {
            match result {
                Ok(response) if response.status() == StatusCode::TOO_MANY_REQUESTS => observer("throttled"),
                Ok(response) if response.status().is_server_error() => observer("server"),
                Ok(_) => {}
                Err(_) => observer("connection"),
            }
        }
        if self.attempt >= self.discipline.max_retries {
            return None;
        }
        let server_delay = match result {
            Ok(response) if is_transient(response.status()) => {
                tracing::debug!(status = %response.status(), uri = %request.uri().path(), "transient API response; retrying");
                retry_after(response)
            }
            Ok(_) => return None,
            Err(error) => {
                tracing::debug!(%error, uri = %request.uri().path(), "API request failed; retrying");
                None
            }
        };
        self.attempt += 1;
        let delay = server_delay.unwrap_or_else(|| self.backoff(self.attempt));
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        let body = request.body().try_clone()?;
        let mut builder =
            Request::builder().method(request.method().clone()).uri(request.uri().clone()).version(request.version());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(request.headers().clone());
        }
        builder.body(body).ok().map(|mut clone| {
            *clone.extensions_mut() = request.extensions().clone();
            clone
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let retry = RetryTransient::new(ApiDiscipline {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..ApiDiscipline::default()
        });
        let delays: Vec<_> = (1..=6).map(|a| retry.backoff(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn only_throttling_and_server_errors_are_transient() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(code).expect("status")), "{code}");
        }
        for code in [200, 201, 400, 401, 403, 404, 409, 422] {
            assert!(!is_transient(StatusCode::from_u16(code).expect("status")), "{code}");
        }
    }

    #[test]
    fn retry_after_header_is_read_in_seconds_and_capped() {
        let response = Response::builder().header("Retry-After", "3").body(()).expect("response");
        assert_eq!(retry_after(&response), Some(Duration::from_secs(3)));
        let response = Response::builder().header("Retry-After", "3600").body(()).expect("response");
        assert_eq!(retry_after(&response), Some(Duration::from_secs(60)));
        let response = Response::builder().header("Retry-After", "soon").body(()).expect("response");
        assert_eq!(retry_after(&response), None);
    }

    #[tokio::test]
    async fn rate_limit_spaces_requests_beyond_the_burst() {
        let layer = RateLimitLayer::new(50, 2);
        let mut service =
            layer.layer(tower::service_fn(|_: ()| async { Ok::<_, BoxError>(tokio::time::Instant::now()) }));
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..5 {
            times.push(service.call(()).await.expect("call") - start);
        }
        // Two at once (the burst), then one every 20 ms: the fifth cannot start before 60 ms.
        assert!(times[4] >= Duration::from_millis(55), "{times:?}");
    }
}
