//! JSON kept byte-for-byte: values this implementation does not interpret and writes back.
//!
//! `serde_json::Value` would turn integers beyond 64 bits into floats; Zuul stores such
//! integers (the 128-bit `trace_id` in `requestor_data.span_info`), so opaque data and unknown
//! keys are kept as raw JSON text instead.

use super::ZkError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// One JSON value, kept as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Opaque(Box<RawValue>);

impl Opaque {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Parses the value (lossy for integers beyond 64 bits); `None` if it is not valid JSON for `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.0.get()).ok()
    }

    /// Wraps `value`.
    pub fn from_value<T: Serialize>(value: &T) -> Result<Self, ZkError> {
        serde_json::value::to_raw_value(value).map(Self).map_err(|source| ZkError::Encode { what: "value", source })
    }
}

impl PartialEq for Opaque {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// Keys a model does not know, with their values as written.
pub type Extra = BTreeMap<String, Opaque>;

/// Decodes `data` (stored at `path`) into `T` plus every key `T` does not write.
pub(crate) fn decode_with_extra<T: DeserializeOwned + Serialize>(
    path: &str,
    data: &[u8],
) -> Result<(T, Extra), ZkError> {
    let decode_error = |source| ZkError::Decode { path: path.to_string(), source };
    let typed: T = serde_json::from_slice(data).map_err(decode_error)?;
    let mut raw: Extra = serde_json::from_slice(data).map_err(decode_error)?;
    for known in known_keys(&typed)? {
        raw.remove(&known);
    }
    Ok((typed, raw))
}

/// Encodes `typed` and adds the `extra` keys it does not write itself.
pub(crate) fn encode_with_extra<T: Serialize>(
    what: &'static str,
    typed: &T,
    extra: &Extra,
) -> Result<Vec<u8>, ZkError> {
    let encode_error = |source| ZkError::Encode { what, source };
    let text = serde_json::to_string(typed).map_err(encode_error)?;
    let mut all: Extra = serde_json::from_str(&text).map_err(encode_error)?;
    for (key, value) in extra {
        all.entry(key.clone()).or_insert_with(|| value.clone());
    }
    serde_json::to_vec(&all).map_err(encode_error)
}

fn known_keys<T: Serialize>(typed: &T) -> Result<Vec<String>, ZkError> {
    let text = serde_json::to_string(typed).map_err(|source| ZkError::Encode { what: "model", source })?;
    let keys: BTreeMap<String, serde::de::IgnoredAny> =
        serde_json::from_str(&text).map_err(|source| ZkError::Encode { what: "model", source })?;
    Ok(keys.into_keys().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Known {
        a: i64,
        #[serde(default)]
        opaque: Option<Opaque>,
    }

    #[test]
    fn big_integers_and_unknown_keys_survive_byte_for_byte() {
        let data = br#"{"a": 1, "opaque": {"trace_id": 66096653307018640883071232725686971478},
                        "z": [1.5, 340282366920938463463374607431768211455]}"#;
        let (known, extra): (Known, Extra) = decode_with_extra("/p", data).expect("decode");
        assert_eq!(extra.keys().collect::<Vec<_>>(), ["z"]);
        let written = String::from_utf8(encode_with_extra("known", &known, &extra).expect("encode")).expect("utf8");
        assert_eq!(
            written,
            r#"{"a":1,"opaque":{"trace_id": 66096653307018640883071232725686971478},"z":[1.5, 340282366920938463463374607431768211455]}"#
        );
    }
}
