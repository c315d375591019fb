//! Whether a pool worker takes a request, leaves it to another pool, or declines it
//! (reference §2.8, step 3). Pure: no ZooKeeper, no clock.

use super::plan::PoolPlan;
use crate::zk::{NodeRequest, PoolComponent};

/// What a pool does with a request in state `requested`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Leave it (another pool should take it, or it is not for us now).
    Yield(&'static str),
    /// Decline it, with the reason logged.
    Decline(String),
    /// Take it, if the quota allows now.
    Accept,
}

/// Decides for pool `me` (whose registered id is `my_id`) about `request`, given every
/// registered pool component (ours included) and whether we are paused.
pub fn decide(
    me: &PoolPlan,
    my_id: &str,
    paused: bool,
    request: &NodeRequest,
    registered: &[PoolComponent],
) -> Verdict {
    if request.declined_by(my_id) {
        return Verdict::Yield("already declined by this pool");
    }
    let labels = &request.node_types;
    let candidates: Vec<&PoolComponent> = registered
        .iter()
        .filter(|c| c.id.as_deref() != Some(my_id))
        .filter(|c| c.id.as_deref().is_some_and(|id| !request.declined_by(id)))
        .filter(|c| c.supports_all(labels))
        .collect();

    // Provider affinity: a paused parent job's nodes came from that provider.
    if let Some(wanted) = request.provider.as_deref()
        && wanted != me.provider
        && candidates.iter().any(|c| c.provider_name.as_deref() == Some(wanted))
    {
        return Verdict::Yield("another provider has affinity");
    }
    let serves_all = labels.iter().all(|l| me.labels.contains_key(l));
    if serves_all && candidates.iter().any(|c| c.priority < me.priority && !c.paused) {
        return Verdict::Yield("a pool with a lower priority number can serve it");
    }
    if !serves_all && !candidates.is_empty() {
        return Verdict::Yield("another pool serves all its labels");
    }

    if me.disabled() {
        return Verdict::Decline("pool is disabled (max-servers: 0)".to_string());
    }
    if labels.is_empty() {
        return Verdict::Decline("the request names no labels".to_string());
    }
    let needed = match me.needed(labels) {
        Ok(needed) => needed,
        Err(label) => return Verdict::Decline(format!("unknown label {label}")),
    };
    if !me.limits.can_ever_fit(&needed) {
        return Verdict::Decline(format!(
            "the request can never fit the pool's limits ({})",
            me.limits.exceeded_by(&kubepool_driver_api::Resources::new(), &needed).join(", ")
        ));
    }
    if paused {
        return Verdict::Yield("pool is paused at quota");
    }
    Verdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubepool_driver_api::{Limits, Resources};
    use std::collections::BTreeMap;

    fn plan(provider: &str, labels: &[&str], priority: i64) -> PoolPlan {
        PoolPlan {
            provider: provider.into(),
            pool: "main".into(),
            priority,
            labels: labels
                .iter()
                .map(|l| (l.to_string(), Resources::new().with("instances", 1)))
                .collect::<BTreeMap<_, _>>(),
            limits: Limits::unlimited().with("instances", 10),
            node_attributes: None,
            launch_retries: 3,
            max_concurrency: None,
        }
    }

    fn component(id: &str, provider: &str, labels: &[&str], priority: i64, paused: bool) -> PoolComponent {
        let mut c = PoolComponent::running("host", id, provider, "main");
        c.supported_labels = labels.iter().map(|l| l.to_string()).collect();
        c.priority = priority;
        c.paused = paused;
        c
    }

    fn request(labels: &[&str]) -> NodeRequest {
        NodeRequest::new(labels.iter().map(|l| l.to_string()).collect())
    }

    #[test]
    fn accepts_what_it_serves_when_alone() {
        let me = plan("k8s", &["ns"], 100);
        let registered = [component("me", "k8s", &["ns"], 100, false)];
        assert_eq!(decide(&me, "me", false, &request(&["ns", "ns"]), &registered), Verdict::Accept);
    }

    #[test]
    fn yields_to_a_preferred_pool_unless_it_is_paused() {
        let me = plan("k8s", &["ns"], 100);
        let preferred = component("other", "k8s2", &["ns"], 50, false);
        let registered = [component("me", "k8s", &["ns"], 100, false), preferred.clone()];
        assert!(matches!(decide(&me, "me", false, &request(&["ns"]), &registered), Verdict::Yield(_)));
        let paused = component("other", "k8s2", &["ns"], 50, true);
        let registered = [component("me", "k8s", &["ns"], 100, false), paused];
        assert_eq!(decide(&me, "me", false, &request(&["ns"]), &registered), Verdict::Accept);
    }

    #[test]
    fn provider_affinity_yields_to_the_named_provider() {
        let me = plan("k8s", &["ns"], 100);
        let registered = [component("me", "k8s", &["ns"], 100, false), component("o", "parent", &["ns"], 100, false)];
        let mut r = request(&["ns"]);
        r.provider = Some("parent".into());
        assert!(matches!(decide(&me, "me", false, &r, &registered), Verdict::Yield(_)));
        // If the named provider cannot serve it, affinity does not hold it back.
        r.provider = Some("gone".into());
        assert_eq!(decide(&me, "me", false, &r, &registered), Verdict::Accept);
    }

    #[test]
    fn unknown_labels_yield_to_a_pool_that_has_them_else_decline() {
        let me = plan("k8s", &["ns"], 100);
        let registered = [component("me", "k8s", &["ns"], 100, false), component("o", "x", &["vm"], 100, false)];
        assert!(matches!(decide(&me, "me", false, &request(&["vm"]), &registered), Verdict::Yield(_)));
        let alone = [component("me", "k8s", &["ns"], 100, false)];
        assert_eq!(decide(&me, "me", false, &request(&["vm"]), &alone), Verdict::Decline("unknown label vm".into()));
    }

    #[test]
    fn declines_what_can_never_fit_and_when_disabled() {
        let mut me = plan("k8s", &["ns"], 100);
        me.limits = Limits::unlimited().with("instances", 2);
        let registered = [component("me", "k8s", &["ns"], 100, false)];
        assert!(matches!(decide(&me, "me", false, &request(&["ns", "ns", "ns"]), &registered), Verdict::Decline(_)));
        me.limits = Limits::unlimited().with("instances", 0);
        assert!(matches!(decide(&me, "me", false, &request(&["ns"]), &registered), Verdict::Decline(_)));
    }

    #[test]
    fn a_declined_request_is_left_alone_and_a_paused_pool_waits() {
        let me = plan("k8s", &["ns"], 100);
        let registered = [component("me", "k8s", &["ns"], 100, false)];
        let mut r = request(&["ns"]);
        assert!(matches!(decide(&me, "me", true, &r, &registered), Verdict::Yield(_)));
        r.declined_by.push("me".into());
        assert!(matches!(decide(&me, "me", false, &r, &registered), Verdict::Yield(_)));
    }
}
