//! A scripted [`Driver`] for launcher tests that need no cluster: it replaces kubepool's own
//! drivers, never a peer (ZooKeeper is real). Every "cloud resource" it makes lives in a shared
//! [`FakeCloud`], so that two launchers can share one cloud and a test can see what leaked.
//!
//! A label's [`Script`] says how its launches go: fail first (transient, quota, permanent), wait
//! at a [`Gate`] the test opens, or succeed after a delay.

#![allow(dead_code)]

use async_trait::async_trait;
use kubepool_driver_api::{
    DeleteError, Driver, LaunchError, LaunchProgress, LaunchedNode, ListError, NodeSpec, ResourceRef,
};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// One step of a launch, in order; after the list runs out a launch succeeds.
#[derive(Debug, Clone)]
pub enum Step {
    Transient,
    Quota,
    Permanent,
}

/// How the launches of one label go.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Outcomes of the first attempts (shared by all nodes of the label, consumed in order).
    pub first: Vec<Step>,
    /// Wait at this gate after the resource exists (external id recorded) until it opens.
    pub gate: Option<Gate>,
    /// How long a successful launch takes.
    pub delay: Duration,
}

/// Launches wait here until the test opens it.
#[derive(Debug, Clone)]
pub struct Gate {
    open: Arc<watch::Sender<bool>>,
    /// How many launches are waiting at it now.
    waiting: Arc<watch::Sender<usize>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self { open: Arc::new(watch::Sender::new(false)), waiting: Arc::new(watch::Sender::new(0)) }
    }
}

impl Gate {
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Waits until `count` launches wait at the gate.
    pub async fn until_waiting(&self, count: usize) {
        let mut waiting = self.waiting.subscribe();
        tokio::time::timeout(Duration::from_secs(60), waiting.wait_for(|n| *n >= count))
            .await
            .expect("launches reach the gate within 60 s")
            .expect("gate alive");
    }

    async fn pass(&self) {
        let mut open = self.open.subscribe();
        self.waiting.send_modify(|n| *n += 1);
        let _ = open.wait_for(|o| *o).await;
        self.waiting.send_modify(|n| *n -= 1);
    }
}

/// One resource of the fake cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub provider: String,
    pub node_id: String,
    pub pool: String,
}

/// The resources of every fake driver sharing it, by external id.
#[derive(Debug, Default)]
pub struct FakeCloud {
    resources: Mutex<BTreeMap<String, Resource>>,
    launched: Mutex<Vec<String>>,
    serial: Mutex<u64>,
    /// Providers whose cloud does not answer now.
    down: Mutex<std::collections::BTreeSet<String>>,
}

impl FakeCloud {
    /// External ids of the resources that exist now.
    pub fn live(&self) -> Vec<String> {
        self.resources.lock().map(|r| r.keys().cloned().collect()).unwrap_or_default()
    }

    /// Node ids for which a launch ran (in order, one per attempt).
    pub fn launched(&self) -> Vec<String> {
        self.launched.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Makes `provider`'s cloud stop answering (`true`) or answer again.
    pub fn set_down(&self, provider: &str, down: bool) {
        if let Ok(mut set) = self.down.lock() {
            if down {
                set.insert(provider.to_string());
            } else {
                set.remove(provider);
            }
        }
    }

    fn is_down(&self, provider: &str) -> bool {
        self.down.lock().map(|set| set.contains(provider)).unwrap_or(false)
    }

    /// Puts a resource of `provider` for node `node_id` into the cloud, as a launcher that died
    /// before writing its node record would leave it.
    pub fn plant(&self, provider: &str, external_id: &str, node_id: &str) {
        if let Ok(mut resources) = self.resources.lock() {
            let resource = Resource { provider: provider.into(), node_id: node_id.into(), pool: String::new() };
            resources.insert(external_id.to_string(), resource);
        }
    }

    pub fn resource(&self, external_id: &str) -> Option<Resource> {
        self.resources.lock().ok()?.get(external_id).cloned()
    }
}

pub struct FakeDriver {
    provider: String,
    cloud: Arc<FakeCloud>,
    scripts: BTreeMap<String, Script>,
    steps: Mutex<BTreeMap<String, VecDeque<Step>>>,
}

impl FakeDriver {
    pub fn new(provider: &str, cloud: Arc<FakeCloud>, scripts: BTreeMap<String, Script>) -> Self {
        let steps =
            scripts.iter().map(|(label, script)| (label.clone(), script.first.iter().cloned().collect())).collect();
        Self { provider: provider.into(), cloud, scripts, steps: Mutex::new(steps) }
    }
}

#[async_trait]
impl Driver for FakeDriver {
    async fn launch(&self, spec: &NodeSpec, progress: &dyn LaunchProgress) -> Result<LaunchedNode, LaunchError> {
        if self.cloud.is_down(&self.provider) {
            return Err(LaunchError::Transient(format!("fake cloud {} is down", self.provider)));
        }
        if let Ok(mut launched) = self.cloud.launched.lock() {
            launched.push(spec.node_id.clone());
        }
        let step = self.steps.lock().ok().and_then(|mut s| s.get_mut(&spec.label).and_then(VecDeque::pop_front));
        match step {
            Some(Step::Transient) => return Err(LaunchError::Transient("scripted transient failure".into())),
            Some(Step::Quota) => return Err(LaunchError::Quota("scripted quota".into())),
            Some(Step::Permanent) => return Err(LaunchError::Permanent("scripted permanent failure".into())),
            None => {}
        }
        let external_id = {
            let mut serial = self.cloud.serial.lock().map_err(|_| LaunchError::Permanent("poisoned".into()))?;
            *serial += 1;
            format!("fake-{}-{}", spec.node_id, *serial)
        };
        if let Ok(mut resources) = self.cloud.resources.lock() {
            resources.insert(
                external_id.clone(),
                Resource { provider: self.provider.clone(), node_id: spec.node_id.clone(), pool: spec.pool.clone() },
            );
        }
        progress.external_id(&external_id).await;
        let script = self.scripts.get(&spec.label).cloned().unwrap_or_default();
        if let Some(gate) = &script.gate {
            gate.pass().await;
        }
        tokio::time::sleep(script.delay).await;
        Ok(LaunchedNode {
            external_id,
            connection_type: "kubectl".into(),
            connection_port: serde_json::json!({"namespace": "fake", "pod": spec.node_id}),
            interface_ip: Some(spec.node_id.clone()),
            host_id: None,
            python_path: Some("auto".into()),
            shell_type: None,
            username: None,
            host_keys: Vec::new(),
        })
    }

    async fn delete(&self, external_id: &str) -> Result<(), DeleteError> {
        if let Ok(mut resources) = self.cloud.resources.lock() {
            resources.remove(external_id);
        }
        Ok(())
    }

    async fn list_resources(&self) -> Result<Vec<ResourceRef>, ListError> {
        let resources = self.cloud.resources.lock().map_err(|_| ListError("poisoned".into()))?;
        Ok(resources
            .iter()
            .filter(|(_, r)| r.provider == self.provider)
            .map(|(id, r)| ResourceRef { external_id: id.clone(), node_id: Some(r.node_id.clone()), deleting: false })
            .collect())
    }

    async fn check_health(&self) -> Result<(), String> {
        if self.cloud.is_down(&self.provider) { Err(format!("fake cloud {} is down", self.provider)) } else { Ok(()) }
    }
}
