//! What the launcher knows of each provider's health: which providers do not answer, and why.
//! [`super::health`] keeps it up to date; the pool workers read it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Why each unhealthy provider is unhealthy; absent providers are healthy.
#[derive(Debug, Default)]
pub struct ProviderHealth {
    unhealthy: Mutex<BTreeMap<String, String>>,
}

impl ProviderHealth {
    /// `None` if `provider` answers, else why not.
    pub fn problem(&self, provider: &str) -> Option<String> {
        self.unhealthy.lock().ok()?.get(provider).cloned()
    }

    /// Records a check's outcome; returns true if the provider's state changed.
    pub(super) fn set(&self, provider: &str, problem: Option<String>) -> bool {
        let Ok(mut unhealthy) = self.unhealthy.lock() else { return false };
        match problem {
            Some(why) => unhealthy.insert(provider.to_string(), why).is_none(),
            None => unhealthy.remove(provider).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_changes_are_reported_once() {
        let health = ProviderHealth::default();
        assert!(health.problem("a").is_none());
        assert!(health.set("a", Some("down".into())));
        assert!(!health.set("a", Some("still down".into())), "already unhealthy");
        assert_eq!(health.problem("a").as_deref(), Some("still down"));
        assert!(health.problem("b").is_none(), "other providers unaffected");
        assert!(health.set("a", None));
        assert!(!health.set("a", None));
    }
}
