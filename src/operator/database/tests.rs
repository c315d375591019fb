use super::*;

fn names() -> Names {
    Names::new("z", "ns")
}

fn status(generation: i64, status: Value) -> Value {
    json!({"metadata": {"name": "z-db", "generation": generation}, "status": status})
}

#[test]
fn ready_only_when_its_own_status_says_so_at_the_current_generation() {
    let ready = json!({"state": "ready", "ready": 2, "size": 2, "host": "z-db-haproxy.ns", "observedGeneration": 3});
    assert_eq!(cluster_ready(&status(3, ready.clone())), Ok("z-db-haproxy.ns".to_string()));
    // An older generation observed: the status may describe the previous spec.
    let old = cluster_ready(&status(4, ready.clone())).expect_err("not ready");
    assert!(old.contains("generation 4 not yet observed"), "{old}");
    let mut initializing = ready.clone();
    initializing["state"] = json!("initializing");
    initializing["ready"] = json!(1);
    assert_eq!(
        cluster_ready(&status(3, initializing)).expect_err("not ready"),
        "PerconaXtraDBCluster z-db: state initializing, 1/2 ready"
    );
    // `ready` but one replica short (upstream counted running pods instead).
    let mut short = ready.clone();
    short["ready"] = json!(1);
    assert!(cluster_ready(&status(3, short)).is_err());
    let mut no_host = ready;
    no_host["host"] = json!("");
    assert!(cluster_ready(&status(3, no_host)).is_err());
    assert!(cluster_ready(&status(1, json!(null))).expect_err("not ready").contains("not yet observed"));
}

#[test]
fn a_small_cluster_is_one_node_allowed_by_unsafe_flags_not_the_removed_field() {
    let db = DbNames::new(&names());
    let spec = DatabaseSpec { allow_unsafe_config: Some(true), ..DatabaseSpec::default() };
    let cr = cluster(&names(), &db, Some(&spec));
    assert_eq!(cr["apiVersion"], "pxc.percona.com/v1");
    assert_eq!(cr["spec"]["crVersion"], PXC_CR_VERSION);
    assert_eq!(cr["spec"]["secretsName"], "z-db-secrets");
    assert_eq!(cr["spec"]["pxc"]["size"], 1);
    assert_eq!(cr["spec"]["haproxy"]["size"], 1);
    assert_eq!(cr["spec"]["unsafeFlags"], json!({"tls": true, "pxcSize": true, "proxySize": true}));
    assert_eq!(cr["spec"]["tls"]["enabled"], false);
    assert!(cr["spec"].get("allowUnsafeConfigurations").is_none());
    assert!(cr["spec"]["pxc"].get("resources").is_none());
    assert_eq!(cr["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kubepool-operator");

    let full = cluster(&names(), &db, None);
    assert_eq!((full["spec"]["pxc"]["size"].clone(), full["spec"]["haproxy"]["size"].clone()), (json!(3), json!(3)));
    assert_eq!(full["spec"]["unsafeFlags"], json!({"tls": false, "pxcSize": false, "proxySize": false}));
    assert_eq!(full["spec"]["pxc"]["image"], DEFAULT_PXC_IMAGE);
    assert_eq!(full["spec"]["pxc"]["resources"]["requests"]["memory"], "1G");
}

#[test]
fn the_setup_job_gets_the_passwords_by_reference_only() {
    let db = DbNames::new(&names());
    let job = setup_job(&names(), &db, "img", "z-db-haproxy.ns");
    let command = job["spec"]["template"]["spec"]["containers"][0]["command"].to_string();
    assert_eq!(job["metadata"]["annotations"][HOST_ANNOTATION], "z-db-haproxy.ns");
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"], json!({"name": "z-db-secrets", "key": "root"}));
    assert_eq!(env[2]["valueFrom"]["secretKeyRef"], json!({"name": "z-database", "key": "password"}));
    assert!(!command.contains(" -p") && !command.contains("--password"), "no password on a command line: {command}");
    assert_eq!(dburi("h.ns", "pw"), "mysql+pymysql://zuul:pw@h.ns:3306/zuul");
    assert!(operator_missing_message().contains("Percona XtraDB Cluster operator"));
    assert!(operator_missing_message().contains(PXC_CRD));
}
