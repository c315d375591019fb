//! Small helpers over kube's `Api`: idempotent create, delete-and-wait by watch, and the
//! mapping of API errors to launch outcomes.

use kube::Resource;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::wait::await_condition;
use kubepool_driver_api::LaunchError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::time::Duration;

/// Creates `object`; one that already exists (a retry after a dropped connection, or an
/// earlier attempt) counts as created.
pub async fn create_idempotent<K>(api: &Api<K>, object: &K) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    create_or_existing(api, object).await.map(|_| ())
}

/// Creates `object` and returns what the API server made of it; `None` if it already existed
/// (a retry after a dropped connection, or an earlier attempt).
pub async fn create_or_existing<K>(api: &Api<K>, object: &K) -> Result<Option<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(created) => Ok(Some(created)),
        Err(kube::Error::Api(status)) if status.code == 409 && status.reason == "AlreadyExists" => Ok(None),
        Err(error) => Err(error),
    }
}

/// Deletes `name` (background propagation) and waits by watch until it is gone. A missing
/// object is already gone.
pub async fn delete_and_wait<K>(api: &Api<K>, name: &str, timeout: Duration) -> Result<(), String>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
        Err(error) => return Err(format!("delete {name}: {error}")),
    }
    let gone = await_condition(api.clone(), name, |object: Option<&K>| object.is_none());
    match tokio::time::timeout(timeout, gone).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("watching {name} until it is gone: {error}")),
        Err(_) => Err(format!("{name} still exists {}s after deletion", timeout.as_secs())),
    }
}

/// Deletes `name` with `params`; a missing object counts as deleted. Does not wait.
pub async fn delete_if_present<K>(api: &Api<K>, name: &str, params: &DeleteParams) -> Result<(), String>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    match api.delete(name, params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(format!("delete {} {name}: {error}", K::kind(&Default::default()))),
    }
}

/// What a failed API call means for the launch.
pub fn launch_error(what: &str, error: kube::Error) -> LaunchError {
    match &error {
        // The ResourceQuota admission plugin: "exceeded quota: ..." when a quota is used up,
        // "insufficient quota to consume: ..." when no quota covers a limited resource.
        kube::Error::Api(status)
            if status.message.contains("exceeded quota") || status.message.contains("insufficient quota") =>
        {
            LaunchError::Quota(format!("{what}: {}", status.message))
        }
        // Invalid objects never become valid by trying again.
        kube::Error::Api(status) if status.code == 422 || status.code == 400 => {
            LaunchError::Permanent(format!("{what}: {}", status.message))
        }
        _ => LaunchError::Transient(format!("{what}: {error}")),
    }
}
