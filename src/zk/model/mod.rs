//! The JSON payloads of Nodepool's znodes (reference §2.4–§2.7).
//!
//! Every model keeps the keys it does not know in `extra` and writes them back byte for byte
//! ([`Opaque`]), so a read → modify → write cycle never drops or alters what Zuul or a newer
//! Nodepool stored. Bad data
//! (invalid JSON, a missing required key, a wrong type) is a [`ZkError::Decode`] naming the
//! znode, never a panic.

mod node;
mod opaque;
mod pool;
mod request;
mod state;

pub use node::Node;
pub use opaque::{Extra, Opaque};
pub use pool::{ComponentState, PoolComponent};
pub use request::NodeRequest;
pub use state::{NodeState, RequestState};

use super::ZkError;
use opaque::{decode_with_extra, encode_with_extra};

/// Seconds since the epoch as a float, the unit of `state_time` and `created_time`.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
