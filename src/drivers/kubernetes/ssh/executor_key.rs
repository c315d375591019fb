//! The executor's public key(s) for a node's `authorized_keys`, read at each launch (so a
//! rotated key is used from the next node on) from a Secret or a file named in the config.

use crate::drivers::spec::AuthorizedKeys;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kubepool_driver_api::LaunchError;

/// Key types OpenSSH accepts in `authorized_keys` (a line may start with options, which the
/// config owner may use on purpose, so only the presence of one key is required).
const KEY_TYPES: [&str; 4] = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-", "sk-"];

pub async fn read(client: &kube::Client, source: &AuthorizedKeys) -> Result<String, LaunchError> {
    let text = match source {
        AuthorizedKeys::File(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| LaunchError::Transient(format!("read authorized keys {}: {e}", path.display())))?,
        AuthorizedKeys::Secret { namespace, name, key } => {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let secret = secrets
                .get(name)
                .await
                .map_err(|e| LaunchError::Transient(format!("read Secret {namespace}/{name}: {e}")))?;
            let bytes = secret
                .data
                .and_then(|mut d| d.remove(key))
                .ok_or_else(|| LaunchError::Transient(format!("Secret {namespace}/{name} has no key {key}")))?;
            String::from_utf8(bytes.0)
                .map_err(|_| LaunchError::Transient(format!("Secret {namespace}/{name} key {key} is not text")))?
        }
    };
    check(&text).map_err(LaunchError::Transient)?;
    Ok(text)
}

/// Refuses what is not a list of public keys — above all a private key, which must not be
/// copied into pods. The text itself never appears in the error.
pub fn check(text: &str) -> Result<(), String> {
    if text.contains("PRIVATE KEY") {
        return Err("the authorized keys source holds a private key, not public keys".into());
    }
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| l.split_whitespace().any(|w| KEY_TYPES.iter().any(|t| w.starts_with(t))))
        .count();
    if keys == 0 {
        return Err("the authorized keys source holds no public key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_pass_private_keys_and_junk_do_not() {
        assert!(check("ssh-ed25519 AAAAC3Nz zuul@executor\n").is_ok());
        assert!(check("# comment\nfrom=\"10.0.0.0/8\" ssh-rsa AAAAB3 x\n").is_ok());
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n";
        let error = check(private).expect_err("private key refused");
        assert!(!error.contains("b3Blbn"), "the key text is not in the error: {error}");
        assert!(check("\n# nothing\n").is_err());
    }
}
