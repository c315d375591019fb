//! Nodepool's znode paths (reference §2.1) and request ids with their sort order (§2.2).

use super::ZkError;
use std::cmp::Ordering;

/// Parent of all node requests (`/nodepool/requests/<PPP>-<SEQ10>`).
pub const REQUEST_ROOT: &str = "/nodepool/requests";
/// Parent of the per-request kazoo lock directories.
pub const REQUEST_LOCK_ROOT: &str = "/nodepool/requests-lock";
/// Parent of all nodes (`/nodepool/nodes/<SEQ10>`).
pub const NODE_ROOT: &str = "/nodepool/nodes";
/// Parent of component registrations, one directory per kind.
pub const COMPONENT_ROOT: &str = "/nodepool/components";
/// Directory of pool-worker registrations (`<hostname><SEQ10>`).
pub const POOL_COMPONENT_ROOT: &str = "/nodepool/components/pool";
/// Directory of launcher-process registrations (`<hostname><SEQ10>`).
pub const LAUNCHER_COMPONENT_ROOT: &str = "/nodepool/components/launcher";

/// `/nodepool/requests/<id>`.
/// kubepool's own znodes (Nodepool and Zuul never look here).
pub const KUBEPOOL_ROOT: &str = "/nodepool/kubepool";

/// The lock that serialises quota decisions for one pool across launcher processes.
pub fn pool_quota_lock(provider: &str, pool: &str) -> String {
    format!("{KUBEPOOL_ROOT}/pool-locks/{provider}/{pool}")
}

pub fn request(id: &str) -> String {
    format!("{REQUEST_ROOT}/{id}")
}

/// `/nodepool/requests-lock/<id>`: the kazoo lock directory of a request.
pub fn request_lock(id: &str) -> String {
    format!("{REQUEST_LOCK_ROOT}/{id}")
}

/// `/nodepool/nodes/<id>`.
pub fn node(id: &str) -> String {
    format!("{NODE_ROOT}/{id}")
}

/// `/nodepool/nodes/<id>/lock`: the kazoo lock directory of a node.
pub fn node_lock(id: &str) -> String {
    format!("{NODE_ROOT}/{id}/lock")
}

/// `/nodepool/components/<kind>`.
pub fn component_dir(kind: &str) -> String {
    format!("{COMPONENT_ROOT}/{kind}")
}

/// The last path segment (`/nodepool/nodes/0000000042` → `0000000042`).
pub fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A parsed request id `<PPP>-<SEQ10>` (§2.2): Zuul writes the priority zero-padded to three
/// digits, ZooKeeper appends the 10-digit sequence. Zuul recognises a request id by its 4th
/// character being `-`; both parts are kept as the strings Nodepool compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId {
    id: String,
    dash: usize,
}

impl RequestId {
    /// Parses `id`; the priority and the sequence must both be non-empty runs of ASCII digits
    /// (the sequence may carry a leading `-` after a sequence-counter overflow).
    pub fn parse(id: &str) -> Result<Self, ZkError> {
        let bad = || ZkError::BadRequestId(id.to_string());
        let (priority, sequence) = id.split_once('-').ok_or_else(bad)?;
        let sequence_digits = sequence.strip_prefix('-').unwrap_or(sequence);
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(priority) || !all_digits(sequence_digits) {
            return Err(bad());
        }
        Ok(Self { id: id.to_string(), dash: priority.len() })
    }

    /// The whole id, as it appears in the znode name.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The priority prefix as written (`"100"`, `"099"`, `"900"` …); compared as a string.
    pub fn priority(&self) -> &str {
        &self.id[..self.dash]
    }

    /// The ZooKeeper sequence part as written; compared as a string.
    pub fn sequence(&self) -> &str {
        &self.id[self.dash + 1..]
    }

    /// Nodepool's sort key (`NodeRequest.priority`): (priority prefix, relative_priority,
    /// sequence), lowest first.
    pub fn sort_key(&self, relative_priority: i64) -> RequestSortKey<'_> {
        RequestSortKey { priority: self.priority(), relative_priority, sequence: self.sequence() }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// Sort key of a request inside a launcher; the derived order is Nodepool's tuple order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestSortKey<'a> {
    pub priority: &'a str,
    pub relative_priority: i64,
    pub sequence: &'a str,
}

/// Compares two requests the way Nodepool orders them (§2.2).
pub fn compare_requests(a: (&RequestId, i64), b: (&RequestId, i64)) -> Ordering {
    a.0.sort_key(a.1).cmp(&b.0.sort_key(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_nodepools() {
        assert_eq!(request("100-0000000001"), "/nodepool/requests/100-0000000001");
        assert_eq!(request_lock("100-0000000001"), "/nodepool/requests-lock/100-0000000001");
        assert_eq!(node("0000000042"), "/nodepool/nodes/0000000042");
        assert_eq!(node_lock("0000000042"), "/nodepool/nodes/0000000042/lock");
        assert_eq!(component_dir("pool"), POOL_COMPONENT_ROOT);
        assert_eq!(component_dir("launcher"), LAUNCHER_COMPONENT_ROOT);
        assert_eq!(last_segment("/nodepool/nodes/0000000042"), "0000000042");
    }

    #[test]
    fn request_id_parts() {
        let id = RequestId::parse("099-0000000123").expect("valid");
        assert_eq!(id.priority(), "099");
        assert_eq!(id.sequence(), "0000000123");
        assert_eq!(id.as_str(), "099-0000000123");
        assert_eq!(id.to_string(), "099-0000000123");
    }

    #[test]
    fn bad_request_ids_are_errors() {
        for bad in ["", "100", "100-", "-0000000001", "abc-0000000001", "100-00000x0001", "0000000042"] {
            match RequestId::parse(bad) {
                Err(ZkError::BadRequestId(id)) => assert_eq!(id, bad),
                other => panic!("{bad:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn requests_sort_by_priority_then_relative_priority_then_sequence() {
        let parse = |s: &str| RequestId::parse(s).expect("valid");
        let mut requests = [
            (parse("300-0000000001"), 0),
            (parse("200-0000000005"), 0),
            (parse("200-0000000003"), 2),
            (parse("200-0000000004"), 1),
            (parse("100-0000000009"), 5),
            (parse("099-0000000010"), 7),
            (parse("900-0000000000"), -1),
            (parse("200-0000000002"), 1),
        ];
        requests.sort_by(|a, b| compare_requests((&a.0, a.1), (&b.0, b.1)));
        let order: Vec<&str> = requests.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            order,
            [
                "099-0000000010",
                "100-0000000009",
                "200-0000000005",
                "200-0000000002",
                "200-0000000004",
                "200-0000000003",
                "300-0000000001",
                "900-0000000000",
            ]
        );
    }
}
