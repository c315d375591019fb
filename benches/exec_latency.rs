//! Latency of one short command in a pod (`true`), in the same run against the same pod:
//! `kubectl exec` (the baseline: what the stock Ansible plugin runs per command), `kubepool
//! exec --no-agent` (a process, kubeconfig parse and TLS handshake per command, like kubectl)
//! and `kubepool exec` through its per-user agent (warm API client). Prints the mean of each and
//! the ratios kubectl / kubepool.
//!
//! Run with `make bench` (tests/bench.sh), or `cargo bench --bench exec_latency` with the test
//! bed's environment. `KUBEPOOL_BENCH_SAMPLES` sets the number of commands of each (default
//! 30); they alternate between the three.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn time(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("run");
    let elapsed = started.elapsed();
    assert!(status.success(), "{command:?}: {status}");
    elapsed
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let samples: u32 = std::env::var("KUBEPOOL_BENCH_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let namespace = common::unique_name("ans-bench");
    let kubeconfig = common::required_env("KUBECONFIG");
    let kubectl = common::kubectl();
    let created = Command::new(&kubectl).args(["create", "namespace", &namespace]).output().expect("kubectl");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let socket = std::env::temp_dir().join(common::unique_name("kubepool-bench-agent")).join("agent.sock");
    let result = std::panic::catch_unwind(|| {
        runtime.block_on(async {
            let client = common::admin_client().await;
            common::run_pod(&client, &namespace, "node", &["sleep", "infinity"]).await;
        });
        let kubepool = env!("CARGO_BIN_EXE_kubepool");
        let kubepool_args = |agent: bool| {
            let mut command = Command::new(kubepool);
            command.args(["exec", "--kubeconfig", &kubeconfig, "-n", &namespace]).arg("--agent-socket").arg(&socket);
            if !agent {
                command.arg("--no-agent");
            }
            command.args(["node", "--", "true"]).env_remove("KUBEPOOL_EXEC_NO_AGENT");
            command
        };
        let kubectl_args = || {
            let mut command = Command::new(&kubectl);
            command.args(["--kubeconfig", &kubeconfig, "-n", &namespace, "exec", "node", "--", "true"]);
            command
        };
        // Warm-up: the agent starts, the pod's first exec.
        time(&mut kubepool_args(true));
        time(&mut kubectl_args());
        let (mut stock, mut direct, mut agent) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for _ in 0..samples {
            stock += time(&mut kubectl_args());
            direct += time(&mut kubepool_args(false));
            agent += time(&mut kubepool_args(true));
        }
        let mean = |total: Duration| total.as_secs_f64() * 1000.0 / f64::from(samples);
        println!("exec of `true`, mean of {samples}:");
        println!("  kubectl exec                   {:7.1} ms", mean(stock));
        println!("  kubepool exec --no-agent       {:7.1} ms", mean(direct));
        println!("  kubepool exec (agent)          {:7.1} ms", mean(agent));
        println!("ratio kubectl / kubepool (agent):    {:.2}x", mean(stock) / mean(agent));
        println!("ratio kubectl / kubepool (no agent): {:.2}x", mean(stock) / mean(direct));
    });
    let _ = Command::new(&kubectl).args(["delete", "namespace", &namespace, "--wait=false"]).output();
    if let Some(dir) = socket.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
