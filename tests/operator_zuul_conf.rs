//! The zuul.conf the operator renders, read by Zuul 14.3.0's own code (the test venv): its
//! configparser (with interpolation, as `zuul.cmd` reads it), `get_default` as the ZooKeeper
//! client reads its section (its `fromConfig` also opens the files), the connection registry building every connection, and the executor's job-volume
//! options. Secret values with `%` survive interpolation.

use kubepool::operator::ZuulSpec;
use kubepool::operator::zuulconf::{Inputs, SecretData, render};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn venv() -> PathBuf {
    std::env::var_os("KUBEPOOL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/kubepool/venv"))
}

#[test]
fn zuul_reads_the_rendered_zuul_conf() {
    let spec: ZuulSpec = serde_json::from_value(json!({
        "connections": {
            "opendev": {"driver": "git", "baseurl": "https://opendev.org", "poll_delay": 2},
            "gerrit": {
                "driver": "gerrit", "server": "review.example.org", "user": "zuul", "port": 29418,
                "sshkey": {"secretName": "gerrit"},
                "password": {"secretName": "gerrit", "key": "http_password"},
            },
        },
        "executor": {"options": {"disk_limit_per_job": "100"}},
        "jobVolumes": [
            {"context": "trusted", "access": "ro", "path": "/etc/site", "volume": {"name": "a", "emptyDir": {}}},
            {"context": "untrusted", "access": "rw", "path": "/cache", "volume": {"name": "b", "emptyDir": {}}},
        ],
        "web": {"status_url": "https://zuul.example.org/t/%(tenant)"},
    }))
    .expect("spec");
    let secrets = SecretData::from([(
        "gerrit".to_string(),
        BTreeMap::from([
            ("sshkey".to_string(), "KEY".to_string()),
            ("http_password".to_string(), "p%ss%(x)s\nline2".to_string()),
        ]),
    )]);
    let rendered = render(
        &spec,
        &Inputs {
            zookeeper_hosts: "z-zookeeper.ns.svc:2281".into(),
            dburi: "postgresql://zuul:p%40ss@db/zuul".into(),
            keystore_password: "ks".into(),
            secrets: &secrets,
            logging_key: Some("logging.conf".into()),
            tenant_config: true,
        },
    )
    .expect("rendered");
    let dir = std::env::temp_dir().join(format!("kp-op-conf-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("zuul.conf");
    std::fs::write(&path, &rendered.text).expect("write");

    let script = format!(
        r#"
import configparser, json
from zuul.lib.connections import ConnectionRegistry
from zuul.lib.config import get_default
config = configparser.ConfigParser({{}})
config.read({path:?})
registry = ConnectionRegistry()
registry.configure(config, sources=True, triggers=True, reporters=True)
gerrit = registry.connections['gerrit']
print(json.dumps({{
    "zk": [get_default(config, 'zookeeper', k) for k in ('hosts', 'tls_ca', 'tls_cert', 'tls_key')],
    "connections": sorted(type(c).__name__ for k, c in registry.connections.items() if k in ('gerrit', 'opendev')),
    "gerrit": [gerrit.user, gerrit.keyfile, gerrit.password, gerrit.port],
    "dburi": config.get('database', 'dburi'),
    "status_url": config.get('web', 'status_url'),
    "paths": [config.get('executor', 'trusted_ro_paths'), config.get('executor', 'untrusted_rw_paths')],
    "executor": [config.get('executor', 'manage_ansible'), config.get('executor', 'disk_limit_per_job')],
    "log_config": [config.get(s, 'log_config') for s in ('scheduler', 'executor', 'merger', 'web', 'fingergw')],
    "tenant_config": config.get('scheduler', 'tenant_config'),
}}))
"#,
        path = path.display().to_string()
    );
    let out = Command::new(venv().join("bin/python3")).args(["-c", &script]).output().expect("run Zuul's code");
    assert!(
        out.status.success(),
        "Zuul refused the zuul.conf:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        rendered.text
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        seen["zk"],
        json!(["z-zookeeper.ns.svc:2281", "/tls/client/ca.crt", "/tls/client/tls.crt", "/tls/client/tls.key"])
    );
    assert_eq!(seen["connections"], json!(["GerritConnection", "GitConnection"]));
    assert_eq!(seen["gerrit"], json!(["zuul", "/etc/zuul/connections/gerrit/sshkey", "p%ss%(x)s\nline2", 29418]));
    assert_eq!(seen["dburi"], "postgresql://zuul:p%40ss@db/zuul");
    assert_eq!(seen["status_url"], "https://zuul.example.org/t/%(tenant)");
    assert_eq!(seen["paths"], json!(["/etc/site", "/cache"]));
    assert_eq!(seen["executor"], json!(["false", "100"]));
    assert_eq!(seen["log_config"], json!(vec!["/etc/zuul/logging/logging.conf"; 5]));
    assert_eq!(seen["tenant_config"], "/etc/zuul/tenant/main.yaml");
    let _ = std::fs::remove_dir_all(&dir);
}
