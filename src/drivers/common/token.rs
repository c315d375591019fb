//! Waiting for a service-account token Secret to be filled in by the token controller — by
//! watch, not by Nodepool's once-a-second polling.

use super::wait_progress;
use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::wait::await_condition;
use std::time::Duration;
use tokio::time::Instant;
use tracing::info;

/// A service account's credentials: the token in clear, the cluster CA base64-encoded PEM
/// (as Zuul's executor puts it into `certificate-authority-data`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub token: String,
    pub ca_crt_base64: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { token: <redacted>, .. }")
    }
}

/// The credentials in `secret`, once both `token` and `ca.crt` are there.
pub fn credentials(secret: &Secret) -> Option<Credentials> {
    let data = secret.data.as_ref()?;
    let token = String::from_utf8(data.get("token")?.0.clone()).ok().filter(|t| !t.is_empty())?;
    let ca = data.get("ca.crt").filter(|c| !c.0.is_empty())?;
    Some(Credentials { token, ca_crt_base64: base64::engine::general_purpose::STANDARD.encode(&ca.0) })
}

/// Waits until the Secret `name` carries a token and CA.
pub async fn wait_for_credentials(api: &Api<Secret>, name: &str, timeout: Duration) -> Result<Credentials, String> {
    let filled = await_condition(api.clone(), name, |secret: Option<&Secret>| secret.and_then(credentials).is_some());
    let namespace = api.namespace().unwrap_or_default();
    let waited = wait_progress::until(filled, Instant::now() + timeout, wait_progress::EVERY, |waited| {
        info!(
            namespace,
            secret = name,
            waited_seconds = waited.as_secs(),
            "waiting for the token controller to fill in the token Secret"
        );
    });
    match waited.await {
        Some(Ok(Some(secret))) => credentials(&secret).ok_or_else(|| format!("token Secret {name} lost its token")),
        Some(Ok(None)) => Err(format!("token Secret {name} was deleted")),
        Some(Err(error)) => Err(format!("watching token Secret {name}: {error}")),
        None => Err(format!("no token in Secret {name} after {}s", timeout.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(data: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.to_vec()))).collect::<BTreeMap<_, _>>()),
            ..Default::default()
        }
    }

    #[test]
    fn credentials_need_both_token_and_ca() {
        assert!(credentials(&Secret::default()).is_none());
        assert!(credentials(&secret(&[("token", b"abc")])).is_none());
        assert!(credentials(&secret(&[("token", b""), ("ca.crt", b"PEM")])).is_none());
        let found = credentials(&secret(&[("token", b"abc"), ("ca.crt", b"PEM")])).expect("credentials");
        assert_eq!(found.token, "abc");
        assert_eq!(found.ca_crt_base64, "UEVN");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let found = credentials(&secret(&[("token", b"s3cr3t"), ("ca.crt", b"PEM")])).expect("credentials");
        assert!(!format!("{found:?}").contains("s3cr3t"));
    }
}
