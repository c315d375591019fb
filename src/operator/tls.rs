//! ZooKeeper's TLS material, made by the operator itself (rcgen): a CA, a server certificate that
//! names the client Service and every pod, and one client certificate for Zuul and kubepool.
//!
//! Made once and kept: [`ensure`] reuses what the Secrets already hold, and issues only what is
//! missing or no longer matches (a new CA re-issues both leaves; a changed replica count
//! re-issues the server certificate with the new pod names).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// Why TLS material could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the ZooKeeper {what}: {source}")]
    Generate {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
}

/// A PEM certificate and its PEM (PKCS#8) private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub cert: String,
    pub key: String,
}

/// A leaf as stored: its pair, the CA it was issued by, and (server) the names it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub pair: Pair,
    pub ca_cert: String,
    pub names: String,
}

/// Everything ZooKeeper's TLS needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    pub ca: Pair,
    pub server: Leaf,
    pub client: Leaf,
}

/// What the Secrets already hold (each part absent when its Secret or a key is missing).
#[derive(Debug, Clone, Default)]
pub struct Existing {
    pub ca: Option<Pair>,
    pub server: Option<Leaf>,
    pub client: Option<Leaf>,
}

const CA_NAME: &str = "kubepool-operator zookeeper CA";

fn generate(what: &'static str) -> impl Fn(rcgen::Error) -> TlsError {
    move |source| TlsError::Generate { what, source }
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate("CA"))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

fn new_ca() -> Result<Pair, TlsError> {
    let key = KeyPair::generate().map_err(generate("CA key"))?;
    let cert = ca_params()?.self_signed(&key).map_err(generate("CA"))?;
    Ok(Pair { cert: cert.pem(), key: key.serialize_pem() })
}

/// Issues a leaf signed by `ca` for `names` (DNS SANs; the first is also the common name).
fn issue(
    ca: &Pair,
    names: &[String],
    usages: &[ExtendedKeyUsagePurpose],
    what: &'static str,
) -> Result<Leaf, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(generate("CA key (stored)"))?;
    // The issuer needs only the CA's name and key: the same parameters the CA was made from.
    let issuer = Issuer::new(ca_params()?, ca_key);
    let mut params = CertificateParams::new(names.to_vec()).map_err(generate(what))?;
    params.distinguished_name.push(DnType::CommonName, names.first().map_or("zookeeper", String::as_str));
    params.extended_key_usages = usages.to_vec();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let key = KeyPair::generate().map_err(generate(what))?;
    let cert = params.signed_by(&key, &issuer).map_err(generate(what))?;
    Ok(Leaf {
        pair: Pair { cert: cert.pem(), key: key.serialize_pem() },
        ca_cert: ca.cert.clone(),
        names: names.join(","),
    })
}

/// The material to store: `existing` where it is whole and still fits, new parts otherwise.
pub fn ensure(existing: Existing, server_names: &[String]) -> Result<Material, TlsError> {
    let ca = match existing.ca {
        Some(ca) if KeyPair::from_pem(&ca.key).is_ok() => ca,
        _ => new_ca()?,
    };
    let wanted = server_names.join(",");
    let server = match existing.server {
        Some(leaf) if leaf.ca_cert == ca.cert && leaf.names == wanted => leaf,
        _ =>
        // ZooKeeper servers are also clients of each other (quorum TLS).
        {
            issue(
                &ca,
                server_names,
                &[ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
                "server certificate",
            )?
        }
    };
    let client_names = ["zuul".to_string()];
    let client = match existing.client {
        Some(leaf) if leaf.ca_cert == ca.cert => leaf,
        _ => issue(&ca, &client_names, &[ExtendedKeyUsagePurpose::ClientAuth], "client certificate")?,
    };
    Ok(Material { ca, server, client })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn material_is_kept_while_it_fits_and_reissued_when_the_names_change() {
        let first = ensure(Existing::default(), &names(&["zk", "zk.ns"])).expect("new material");
        assert!(first.ca.cert.contains("BEGIN CERTIFICATE") && first.ca.key.contains("PRIVATE KEY"));
        let existing = || Existing {
            ca: Some(first.ca.clone()),
            server: Some(first.server.clone()),
            client: Some(first.client.clone()),
        };
        assert_eq!(ensure(existing(), &names(&["zk", "zk.ns"])).expect("kept"), first);
        let renamed = ensure(existing(), &names(&["zk", "zk.ns", "zk-0.h"])).expect("re-issued");
        assert_eq!(renamed.ca, first.ca);
        assert_eq!(renamed.client, first.client);
        assert_ne!(renamed.server.pair, first.server.pair);
        assert_eq!(renamed.server.names, "zk,zk.ns,zk-0.h");
    }
}
