//! How a node's service-account token is minted, and the cluster CA that goes with it.
//!
//! Nodepool creates a `kubernetes.io/service-account-token` Secret and polls until the
//! controller-manager's token controller fills it in (reference §4.2 step 3–4). That puts the
//! controller-manager, with its own client rate limit (20 requests/s by default), in the path
//! of every launch: in a burst of 100 namespaces the last token arrives seconds after its
//! Secret was created. The TokenRequest API mints the token in the API server, in the reply to
//! one call. Zuul only needs a token string (reference §10.8).

use base64::Engine;
use std::time::Duration;

/// One year: a node's token should outlive any node (held nodes, min-ready nodes that wait for
/// days). It is not a long-lived credential in practice: the API server rejects it as soon as
/// its service account is deleted with the node's namespace or pod.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// Where a node's token comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The TokenRequest API: the token is in the reply; it expires after `lifetime`, or sooner
    /// when the cluster caps token lifetimes (`--service-account-max-token-expiration`).
    Request { lifetime: Duration },
    /// An explicitly created token Secret, filled in by the token controller (Nodepool's way):
    /// the token never expires, the launch waits for the controller-manager.
    Secret,
}

impl Default for TokenSource {
    fn default() -> Self {
        Self::Request { lifetime: DEFAULT_TOKEN_LIFETIME }
    }
}

/// The CA certificates a client config trusts, as Zuul's executor wants them in
/// `connection_port.ca_crt`: base64 of the PEM bundle. `None` when the config names none.
pub fn ca_bundle_base64(root_certs: Option<&[Vec<u8>]>) -> Option<String> {
    let certs = root_certs.filter(|c| !c.is_empty())?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut pem = String::new();
    for der in certs {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let body = engine.encode(der);
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Some(engine.encode(pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_certificates_no_bundle() {
        assert_eq!(ca_bundle_base64(None), None);
        assert_eq!(ca_bundle_base64(Some(&[])), None);
    }

    #[test]
    fn bundle_is_base64_of_pem_blocks_wrapped_at_64() {
        let der: Vec<u8> = (0..=255u8).collect();
        let bundle = ca_bundle_base64(Some(&[der.clone(), vec![1, 2, 3]])).expect("bundle");
        let pem =
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(bundle).expect("base64")).expect("utf8");
        let blocks: Vec<&str> = pem.split("-----END CERTIFICATE-----\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 2);
        let body: String = blocks[0].trim_start_matches("-----BEGIN CERTIFICATE-----\n").lines().collect();
        assert!(blocks[0].lines().skip(1).all(|l| l.len() <= 64), "{pem}");
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(body).expect("der"), der);
        assert!(blocks[1].contains("AQID"));
    }
}
