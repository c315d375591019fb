//! The JSON payloads of Nodepool's znodes (reference §2.4–§2.7).
//!
//! Every model keeps the keys it does not know in `extra` and writes them back, so a
//! read → modify → write cycle never drops what Zuul or a newer Nodepool stored. Bad data
//! (invalid JSON, a missing required key, a wrong type) is a [`ZkError::Decode`] naming the
//! znode, never a panic.

mod node;
mod pool;
mod request;
mod state;

pub use node::Node;
pub use pool::{ComponentState, PoolComponent};
pub use request::NodeRequest;
pub use state::{NodeState, RequestState};

use super::ZkError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Seconds since the epoch as a float, the unit of `state_time` and `created_time`.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Decodes the JSON object stored at `path`.
pub(crate) fn decode<T: DeserializeOwned>(path: &str, data: &[u8]) -> Result<T, ZkError> {
    serde_json::from_slice(data).map_err(|source| ZkError::Decode { path: path.to_string(), source })
}

/// Encodes `value` as compact JSON, as Python's `json.dumps` would store it.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, ZkError> {
    serde_json::to_vec(value).map_err(|source| ZkError::Encode { what, source })
}
