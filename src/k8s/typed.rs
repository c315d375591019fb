//! JSON as Kubernetes types: the shape check of config fragments the API takes verbatim.

use serde::de::DeserializeOwned;

/// A JSON value as a Kubernetes type, with the path of the first mismatch in the message.
pub fn typed<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
    })
}
