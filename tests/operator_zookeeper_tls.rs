//! The managed ZooKeeper's configuration and TLS material, exactly as the operator builds them
//! (its zoo.cfg ConfigMap and its server and client Secrets), served by a real ZooKeeper 3.8 (the
//! Debian one the test bed runs, started here on a free loopback port):
//! - kubepool's TLS stack (rustls with the CA as the only root and the client certificate, as
//!   `src/zk` connects) verifies the server certificate for the client Service's names, and
//!   refuses a name the certificate does not carry;
//! - Zuul's ZooKeeper client (kazoo, from the test venv) opens a TLS session with the client
//!   certificate and writes a znode.

use base64::Engine as _;
use kubepool::operator::crd::ZookeeperSpec;
use kubepool::operator::names::Names;
use kubepool::operator::{tls, zookeeper};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Kills the ZooKeeper this test started, when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("the operator builds no {kind} {name}"))
}

/// A Secret key's content, decoded.
fn secret_key(secret: &Value, key: &str) -> Vec<u8> {
    let text = secret["data"][key].as_str().unwrap_or_else(|| panic!("no key {key}"));
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn venv() -> PathBuf {
    std::env::var_os("KUBEPOOL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/kubepool/venv"))
}

async fn handshake(port: u16, name: &str, dir: &Path) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(dir.join("client/ca.crt")).expect("CA") {
        roots.add(ca.expect("CA")).expect("root");
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(dir.join("client/tls.crt"))
        .expect("cert")
        .collect::<Result<_, _>>()
        .expect("cert");
    let key = PrivateKeyDer::from_pem_file(dir.join("client/tls.key")).expect("key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client auth");
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(name, stream).await.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_real_zookeeper_serves_the_operators_config_and_certificates() {
    let names = Names::new("z", "zk-ns");
    let spec = ZookeeperSpec { replicas: Some(1), ..ZookeeperSpec::default() };
    let mut server_names = names.zookeeper_service_names();
    server_names.extend(names.zookeeper_pod_names(1));
    let material = tls::ensure(tls::Existing::default(), &server_names).expect("TLS material");
    let mut objects = zookeeper::tls_secrets(&names, &material);
    objects.extend(zookeeper::objects(&names, Some(&spec), &material, "policy/v1", &[], false));

    // What the pods mount, written where the test's ZooKeeper reads it.
    let dir = std::env::temp_dir().join(format!("kp-op-zk-{}", uuid::Uuid::new_v4().simple()));
    for sub in ["data", "server", "client"] {
        std::fs::create_dir_all(dir.join(sub)).expect("dir");
    }
    let server_secret = named(&objects, "Secret", "z-zookeeper-server-tls");
    for key in ["server.pem", "ca.crt"] {
        std::fs::write(dir.join("server").join(key), secret_key(server_secret, key)).expect("write");
    }
    let client_secret = named(&objects, "Secret", "z-zookeeper-client-tls");
    for key in ["ca.crt", "tls.crt", "tls.key"] {
        std::fs::write(dir.join("client").join(key), secret_key(client_secret, key)).expect("write");
    }
    let port = free_port();
    let cfg = named(&objects, "ConfigMap", "z-zookeeper-config")["data"]["zoo.cfg"].as_str().expect("zoo.cfg");
    assert!(cfg.contains("secureClientPort=2281\n") && cfg.contains("ssl.clientAuth=need\n"), "{cfg}");
    let cfg = cfg
        .replace("dataDir=/data", &format!("dataDir={}", dir.join("data").display()))
        .replace("/tls/server/", &format!("{}/server/", dir.display()))
        .replace("secureClientPort=2281", &format!("secureClientPortAddress=127.0.0.1\nsecureClientPort={port}"));
    std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");

    // Debian's zookeeper.jar lacks netty-codec and an slf4j binding in its manifest (as up.sh).
    let classpath = ["zookeeper", "netty-codec", "netty-resolver", "slf4j-simple"]
        .map(|jar| format!("/usr/share/java/{jar}.jar"))
        .join(":");
    let log = std::fs::File::create(dir.join("zookeeper.log")).expect("log");
    let child = Command::new("java")
        .args(["-Xmx128m", "-Djava.net.preferIPv4Stack=true", "-cp", &classpath])
        .args(["org.apache.zookeeper.server.quorum.QuorumPeerMain"])
        .arg(dir.join("zoo.cfg"))
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start ZooKeeper");
    let _server = Server(child);
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        let log = std::fs::read_to_string(dir.join("zookeeper.log")).unwrap_or_default();
        assert!(start.elapsed() < Duration::from_secs(60), "ZooKeeper did not listen within 60 s:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("ZooKeeper listening after {:?}", start.elapsed());

    // kubepool's TLS: the Service names verify, another name does not.
    for name in ["z-zookeeper", "z-zookeeper.zk-ns.svc", "z-zookeeper.zk-ns.svc.cluster.local"] {
        handshake(port, name, &dir).await.unwrap_or_else(|e| panic!("TLS as {name}: {e}"));
    }
    let refused = handshake(port, "zookeeper.elsewhere", &dir).await.expect_err("a name not in the certificate");
    assert!(refused.contains("NotValidForName") || refused.contains("not valid"), "{refused}");

    // Zuul's client: a TLS session with the client certificate, and a write.
    let script = format!(
        "from kazoo.client import KazooClient\n\
         c = KazooClient(hosts='127.0.0.1:{port}', use_ssl=True, verify_certs=True, ca='{d}/client/ca.crt', \
         certfile='{d}/client/tls.crt', keyfile='{d}/client/tls.key', timeout=10)\n\
         c.start(timeout=30)\n\
         c.create('/operator-tls-check', b'ok')\n\
         print(c.get('/operator-tls-check')[0].decode())\n\
         c.stop()\n",
        d = dir.display()
    );
    let out = Command::new(venv().join("bin/python3")).args(["-c", &script]).output().expect("run kazoo");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "kazoo over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
