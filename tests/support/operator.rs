//! Shared by the operator tests: the Zuul CRD installed on the test bed, and a poll-until helper.

#![allow(dead_code)]

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use std::future::Future;
use std::time::{Duration, Instant};

pub const CRD_NAME: &str = "zuuls.operator.zuul-ci.org";

/// Installs the Zuul CRD by server-side apply (as `kubectl apply --server-side` would) and waits
/// until the API server serves it. Every operator test applies the same CRD, so parallel runs
/// agree.
pub async fn install_crd(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = <kubepool::operator::Zuul as kube::CustomResourceExt>::crd();
    crds.patch(CRD_NAME, &PatchParams::apply("kubepool-operator-test").force(), &Patch::Apply(&crd))
        .await
        .expect("server-side apply of the Zuul CRD");
    tokio::time::timeout(Duration::from_secs(30), await_condition(crds, CRD_NAME, conditions::is_crd_established()))
        .await
        .expect("CRD established within 30 s")
        .expect("watch the CRD");
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `limit`; panics naming `what`.
/// Returns the value and how long it took.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return (value, start.elapsed());
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
