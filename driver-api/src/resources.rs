//! Quota arithmetic (Nodepool protocol §2.10).
//!
//! A node's `resources` is a map from resource name to an amount, for example
//! `{"cores": 1, "instances": 1, "ram": 512}`. Pool limits (`max-servers` → `instances`,
//! `max-cores` → `cores`, `max-ram` → `ram`, `max-resources`) and tenant limits are maps of the
//! same names; a name without a limit is unlimited, and a missing amount counts as zero.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Amounts of resources used or needed, keyed by resource name.
///
/// Serialises exactly as the node JSON's `resources` field (a JSON object of integers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Resources(BTreeMap<String, i64>);

impl Resources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `amount` and returns `self`, for building literals.
    pub fn with(mut self, name: impl Into<String>, amount: i64) -> Self {
        self.0.insert(name.into(), amount);
        self
    }

    /// The amount of `name`; a resource that is not present counts as zero.
    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds every amount of `other` to this one.
    pub fn add(&mut self, other: &Resources) {
        for (name, amount) in &other.0 {
            *self.0.entry(name.clone()).or_insert(0) += amount;
        }
    }

    /// The sum of an iterator of resources.
    pub fn sum<'a>(items: impl IntoIterator<Item = &'a Resources>) -> Resources {
        let mut total = Resources::new();
        for item in items {
            total.add(item);
        }
        total
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// Upper bounds per resource name; a name without a bound is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Limits(BTreeMap<String, i64>);

impl Limits {
    pub fn unlimited() -> Self {
        Self::default()
    }

    pub fn with(mut self, name: impl Into<String>, limit: i64) -> Self {
        self.0.insert(name.into(), limit);
        self
    }

    /// The limit on `name`, or `None` when it is unlimited.
    pub fn get(&self, name: &str) -> Option<i64> {
        self.0.get(name).copied()
    }

    /// Every limited resource and its limit, in name order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(name, limit)| (name.as_str(), *limit))
    }

    /// The names whose limit `used + needed` would exceed, in name order (empty: it fits).
    pub fn exceeded_by(&self, used: &Resources, needed: &Resources) -> Vec<String> {
        self.0
            .iter()
            .filter(|(name, limit)| used.get(name) + needed.get(name) > **limit)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Whether `needed` could ever fit, even with nothing else in use.
    pub fn can_ever_fit(&self, needed: &Resources) -> bool {
        self.exceeded_by(&Resources::new(), needed).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> Resources {
        Resources::new().with("instances", 1).with("cores", 2).with("ram", 512)
    }

    #[test]
    fn missing_amounts_count_as_zero() {
        assert_eq!(label().get("ephemeral-storage"), 0);
    }

    #[test]
    fn sum_adds_per_name() {
        let total = Resources::sum([&label(), &label(), &Resources::new().with("gpu", 1)]);
        assert_eq!(total, Resources::new().with("instances", 2).with("cores", 4).with("ram", 1024).with("gpu", 1));
    }

    #[test]
    fn limits_report_each_exceeded_name() {
        let limits = Limits::unlimited().with("instances", 2).with("cores", 3).with("ram", 4096);
        let used = label();
        assert!(limits.exceeded_by(&Resources::new(), &label()).is_empty());
        assert_eq!(limits.exceeded_by(&used, &label()), vec!["cores".to_string()]);
        let used = Resources::sum([&label(), &label()]);
        assert_eq!(limits.exceeded_by(&used, &label()), vec!["cores".to_string(), "instances".to_string()]);
    }

    #[test]
    fn unlimited_names_never_block() {
        let limits = Limits::unlimited().with("instances", 10);
        assert!(limits.can_ever_fit(&Resources::new().with("cores", 1_000_000)));
        assert!(!Limits::unlimited().with("cores", 1).can_ever_fit(&label()));
    }

    #[test]
    fn serialises_as_the_node_json_field() {
        let json = serde_json::to_string(&label()).expect("serialise");
        assert_eq!(json, r#"{"cores":2,"instances":1,"ram":512}"#);
        let back: Resources = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, label());
    }
}
