"""kubepool against Nodepool 11.0.0 on the same cluster and ZooKeeper, side by side.

In one run: the real `nodepool-launcher` with a nodepool.yaml, then `kubepool launcher` with the
same file (only the ZooKeeper chroot differs), each driven by the same request stream written
with the `zuul` package's ZooKeeper code — 10 sequential requests, then bursts of 20 and 100
concurrent requests, for a namespace label and for a pod label. Every node is accepted, used and
returned as Zuul's executor does. Each launcher talks to the API server through a counting proxy
(tests/bench/api_counter.py). The physical floor — the same objects created directly with the
Python client, each as soon as what it depends on exists, and (Nodepool's way) one after the
other — is measured in the same run.

Writes target/bench/launchers.json and target/bench/launchers.md.
"""

import argparse
import base64
import configparser
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from api_counter import ApiCounter
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from zuul import model
from zuul.lib.tracing import Tracing
from zuul.nodepool import Nodepool
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool

SYSTEM_ID = "0123456789abcdef0123456789abcdef"


def bench_node_request(label: str) -> model.NodeRequest:
    """A node request for one LABEL, as a Zuul scheduler makes it (the benches' requestor)."""
    return model.NodeRequest(
        requestor=SYSTEM_ID,
        build_set_uuid="bench",
        tenant_name="bench-tenant",
        pipeline_name="check",
        job_uuid="bench-job",
        job_name="bench-job",
        labels=[label],
        provider=None,
        relative_priority=0,
        event_id="bench-event",
    )


POOL = "bench"
FLOOR_POOL = "bench-floor"
NS_LABEL = "bench-namespace"
POD_LABEL = "bench-pod"
BENCH_SA = "kubepool-bench"


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(
            f"{name} is not set: run through tests/bench.sh (it brings the test bed up)"
        )
    return value


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------- cluster side


class Cluster:
    """Admin access to the test cluster, a namespace-deletion watch, and the launchers' kubeconfig."""

    def __init__(self) -> None:
        k8s_config.load_kube_config()
        self.core = k8s.CoreV1Api()
        self.rbac = k8s.RbacAuthorizationV1Api()
        self.gone: dict[str, float] = {}
        self.present: set[str] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._watch_namespaces, daemon=True).start()

    def _watch_namespaces(self) -> None:
        while True:
            try:
                for event in k8s_watch.Watch().stream(
                    self.core.list_namespace,
                    label_selector=f"nodepool_pool_name={POOL}",
                    timeout_seconds=300,
                ):
                    name = event["object"].metadata.name
                    with self.lock:
                        if event["type"] == "DELETED":
                            self.gone[name] = time.monotonic()
                            self.present.discard(name)
                        else:
                            self.present.add(name)
            except Exception as error:  # noqa: BLE001 - a dropped watch is restarted
                log(f"namespace watch restarted: {error}")
                time.sleep(0.5)

    def pool_namespaces(self, pool: str = POOL) -> list[str]:
        items = self.core.list_namespace(
            label_selector=f"nodepool_pool_name={pool}"
        ).items
        return [ns.metadata.name for ns in items]

    def wait_pool_empty(self, pool: str = POOL, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.pool_namespaces(pool):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"namespaces of pool {pool} still there after {timeout}s"
                )
            time.sleep(1)

    def launcher_kubeconfig(self, path: Path, server: str, ca_file: str) -> None:
        """A bearer-token kubeconfig (cluster-admin service account), so the counting proxy can
        forward credentials; the node tokens the launchers hand out pass through it too."""
        try:
            self.core.create_namespaced_service_account(
                "kube-system", {"metadata": {"name": BENCH_SA}}
            )
        except k8s.ApiException as error:
            if error.status != 409:
                raise
        try:
            self.rbac.create_cluster_role_binding(
                {
                    "metadata": {"name": BENCH_SA},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "name": BENCH_SA,
                            "namespace": "kube-system",
                        }
                    ],
                }
            )
        except k8s.ApiException as error:
            if error.status != 409:
                raise
        try:
            self.core.create_namespaced_secret(
                "kube-system",
                {
                    "metadata": {
                        "name": BENCH_SA,
                        "annotations": {"kubernetes.io/service-account.name": BENCH_SA},
                    },
                    "type": "kubernetes.io/service-account-token",
                },
            )
        except k8s.ApiException as error:
            if error.status != 409:
                raise
        token = ""
        for _ in range(100):
            data = self.core.read_namespaced_secret(BENCH_SA, "kube-system").data or {}
            if data.get("token"):
                token = base64.b64decode(data["token"]).decode()
                break
            time.sleep(0.1)
        ca = base64.b64encode(Path(ca_file).read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "bench",
                    "cluster": {"server": server, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "bench", "user": {"token": token}}],
            "contexts": [
                {"name": "bench", "context": {"cluster": "bench", "user": "bench"}}
            ],
            "current-context": "bench",
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f)

    def use_floor_client(self, kubeconfig: Path) -> None:
        """The floor's client: the launchers' kubeconfig, so that its requests take the same
        path (the counting proxy) as theirs."""
        api = k8s_config.new_client_from_config(str(kubeconfig))
        self.floor_core = k8s.CoreV1Api(api)
        self.floor_rbac = k8s.RbacAuthorizationV1Api(api)

    def floor_sample(
        self, index: int, pod: bool, image: str, concurrent: bool
    ) -> float:
        """The objects a node needs, created directly; returns seconds until the last is usable.

        concurrent=False: one after the other, with a token Secret filled in by the token
        controller (Nodepool's way). concurrent=True: the objects kubepool's defaults make, each
        created as soon as what it depends on exists (the namespace first; then the service
        account and its TokenRequest, the Role, the RoleBinding and, for a pod, the pod once the
        namespace's `default` service account exists) — the floor for a client that does not wait
        needlessly. Through the same counting proxy as the launchers (use_floor_client)."""
        way = "c" if concurrent else "s"
        name = f"bench-floor-{os.getpid()}-{index}-{way}-{'pod' if pod else 'ns'}"
        labels = {"nodepool_pool_name": FLOOR_POOL}
        started = time.monotonic()
        self.floor_core.create_namespace({"metadata": {"name": name, "labels": labels}})
        steps = [
            lambda: self.floor_account(name, token_request=concurrent),
            lambda: self.floor_role(name),
            lambda: self.floor_role_binding(name),
        ]
        if pod:
            steps.append(lambda: self.floor_pod(name, image))
        if concurrent:
            with ThreadPoolExecutor(len(steps)) as pool:
                for future in [pool.submit(step) for step in steps]:
                    future.result()
        else:
            for step in steps:
                step()
        elapsed = time.monotonic() - started
        self.floor_core.delete_namespace(name)
        return elapsed

    def floor_account(self, namespace: str, token_request: bool) -> None:
        self.floor_core.create_namespaced_service_account(
            namespace, {"metadata": {"name": "zuul-worker"}}
        )
        if token_request:
            self.floor_core.create_namespaced_service_account_token(
                "zuul-worker",
                namespace,
                {"spec": {"audiences": [], "expirationSeconds": 365 * 24 * 3600}},
            )
            return
        self.floor_core.create_namespaced_secret(
            namespace,
            {
                "metadata": {
                    "name": "zuul-worker",
                    "annotations": {
                        "kubernetes.io/service-account.name": "zuul-worker"
                    },
                },
                "type": "kubernetes.io/service-account-token",
            },
        )
        for event in k8s_watch.Watch().stream(
            self.floor_core.list_namespaced_secret,
            namespace,
            field_selector="metadata.name=zuul-worker",
            timeout_seconds=60,
        ):
            if (event["object"].data or {}).get("token"):
                break

    def floor_role(self, namespace: str) -> None:
        self.floor_rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "zuul"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "pods/exec"],
                        "verbs": ["get", "create"],
                    }
                ],
            },
        )

    def floor_role_binding(self, namespace: str) -> None:
        self.floor_rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "zuul-role"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "zuul",
                },
                "subjects": [
                    {
                        "kind": "ServiceAccount",
                        "name": "zuul-worker",
                        "namespace": namespace,
                    }
                ],
            },
        )

    def floor_pod(self, namespace: str, image: str) -> None:
        # Pod admission needs the namespace's `default` service account.
        for _event in k8s_watch.Watch().stream(
            self.floor_core.list_namespaced_service_account,
            namespace,
            field_selector="metadata.name=default",
            timeout_seconds=60,
        ):
            break
        self.floor_core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": POD_LABEL},
                "spec": {
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": POD_LABEL,
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": [
                                "/bin/sh",
                                "-c",
                                "trap 'exit 0' TERM; while true; do sleep 30 & wait $!; done",
                            ],
                        }
                    ],
                },
            },
        )
        for event in k8s_watch.Watch().stream(
            self.floor_core.list_namespaced_pod,
            namespace,
            field_selector=f"metadata.name={POD_LABEL}",
            timeout_seconds=120,
        ):
            if event["object"].status.phase == "Running":
                break


# ---------------------------------------------------------------- Zuul side


class ZuulSide:
    """Zuul's scheduler and executor, with Zuul's own ZooKeeper code."""

    def __init__(self, hosts: str, ca: str, cert: str, key: str) -> None:
        Tracing(configparser.ConfigParser())  # Zuul's request submission records a span
        self.client = ZooKeeperClient(
            hosts, timeout=10.0, tls_ca=ca, tls_cert=cert, tls_key=key
        )
        self.client.connect()
        self.zk = ZooKeeperNodepool(self.client)
        self.nodepool = Nodepool(self.client, SYSTEM_ID, None)

    def close(self) -> None:
        self.client.disconnect()

    def wait_for_pool(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.client.exists(
                "/nodepool/components/pool"
            ) and self.client.client.get_children("/nodepool/components/pool"):
                return
            time.sleep(0.2)
        raise RuntimeError("no launcher registered a pool")

    def run(self, label: str, count: int, concurrent: bool) -> dict[str, Any]:
        """Submits `count` requests (all at once, or one after the other); returns timings."""
        done: dict[str, float] = {}
        states: dict[str, str] = {}
        cond = threading.Condition()

        def watch(request_id: str) -> None:
            path = f"{self.zk.REQUEST_ROOT}/{request_id}"

            def changed(data: bytes | None, _stat: Any) -> bool:
                if data is None:
                    return False
                state = json.loads(data).get("state")
                if state in (model.STATE_FULFILLED, model.STATE_FAILED):
                    with cond:
                        done.setdefault(request_id, time.monotonic())
                        states[request_id] = state
                        cond.notify_all()
                    return False
                return True

            self.client.client.DataWatch(path, changed)

        submitted: dict[str, float] = {}
        first = time.monotonic()

        def submit() -> str:
            request = bench_node_request(label)
            t = time.monotonic()
            self.zk.submitNodeRequest(request, 200)
            submitted[request.id] = t
            watch(request.id)
            return request.id

        ids: list[str] = []
        if concurrent:
            ids = [submit() for _ in range(count)]
            with cond:
                cond.wait_for(lambda: len(done) == count, timeout=900)
        else:
            for _ in range(count):
                rid = submit()
                ids.append(rid)
                with cond:
                    cond.wait_for(lambda rid=rid: rid in done, timeout=600)
        last = max(done.values()) if done else time.monotonic()
        latencies = [
            done[i] - submitted[i]
            for i in ids
            if states.get(i) == model.STATE_FULFILLED
        ]
        failed = sum(1 for i in ids if states.get(i) == model.STATE_FAILED)
        missing = sum(1 for i in ids if i not in done)
        returned = self.accept_and_return(ids, label)
        return {
            "latencies": latencies,
            "failed": failed,
            "unanswered": missing,
            "span": last - first,
            "returned": returned,
        }

    def accept_and_return(self, ids: list[str], label: str) -> dict[str, float]:
        """Accepts each fulfilled request's node as the executor does, uses it and returns it;
        returns {external_id: returned-at}."""
        returned: dict[str, float] = {}
        for rid in ids:
            request = self.zk.getNodeRequest(rid)
            if request is None or request.state != model.STATE_FULFILLED:
                if request is not None:
                    self.zk.deleteNodeRequest(request)
                continue
            nodeset = model.NodeSet()
            nodeset.addNode(model.Node(["node"], label))
            self.nodepool.acceptNodes(request, nodeset)
            self.nodepool.useNodeSet(
                nodeset, "bench-tenant", "bench/project", "bench-event"
            )
            node = nodeset.getNodes()[0]
            self.nodepool.returnNodeSet(
                nodeset, None, "bench-tenant", "bench/project", 0
            )
            returned[str(node.external_id)] = time.monotonic()
        return returned


# ---------------------------------------------------------------- launchers


def nodepool_yaml(chroot: str, context: str, image: str) -> str:
    return yaml.safe_dump(
        {
            "zookeeper-servers": [
                {
                    "host": env("KUBEPOOL_TEST_ZK_TLS").rsplit(":", 1)[0],
                    "port": int(env("KUBEPOOL_TEST_ZK_TLS").rsplit(":", 1)[1]),
                    "chroot": chroot,
                }
            ],
            "zookeeper-tls": {
                "ca": env("KUBEPOOL_TEST_ZK_CA"),
                "cert": env("KUBEPOOL_TEST_ZK_CERT"),
                "key": env("KUBEPOOL_TEST_ZK_KEY"),
            },
            "labels": [{"name": NS_LABEL}, {"name": POD_LABEL}],
            "providers": [
                {
                    "name": "bench",
                    "driver": "kubernetes",
                    "context": context,
                    "pools": [
                        {
                            "name": POOL,
                            "max-servers": 500,
                            "labels": [
                                {"name": NS_LABEL, "type": "namespace"},
                                {
                                    "name": POD_LABEL,
                                    "type": "pod",
                                    "image": image,
                                    "image-pull": "IfNotPresent",
                                    "python-path": "/usr/bin/python3",
                                },
                            ],
                        }
                    ],
                }
            ],
        },
        sort_keys=False,
    )


def request_shapes(requests: "Counter[str]") -> "Counter[str]":
    """Requests by shape: each node's namespace and pod name become placeholders."""
    shapes: Counter[str] = Counter()
    for key, count in requests.items():
        shape = re.sub(rf"/namespaces/{POOL}-\d+", "/namespaces/{ns}", key)
        shape = re.sub(rf"/namespaces/{POOL}-\d+$", "/namespaces/{ns}", shape)
        shape = re.sub(r"/pods/[^/?]+", "/pods/{pod}", shape)
        shapes[shape] += count
    return shapes


def proc_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user+system) and peak RSS in KiB of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return cpu, peak


def run_launcher(
    name: str,
    command: list[str],
    kubeconfig: Path,
    chroot: str,
    cluster: Cluster,
    counter: ApiCounter,
    scenarios: list[tuple[str, str, int, bool]],
    logs: Path,
) -> dict[str, Any]:
    log(f"starting {name}: {' '.join(command)}")
    counter.take()
    log_file = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        start_new_session=True,
    )
    zuul = ZuulSide(
        f"{env('KUBEPOOL_TEST_ZK_TLS')}{chroot}",
        env("KUBEPOOL_TEST_ZK_CA"),
        env("KUBEPOOL_TEST_ZK_CERT"),
        env("KUBEPOOL_TEST_ZK_KEY"),
    )
    results: dict[str, Any] = {"scenarios": {}}
    nodes = 0
    try:
        zuul.wait_for_pool()
        for key, label, count, concurrent in scenarios:
            log(f"{name}: {key}")
            outcome = zuul.run(label, count, concurrent)
            nodes += len(outcome["latencies"])
            cluster.wait_pool_empty()
            gone_after = [
                cluster.gone[ext] - t
                for ext, t in outcome["returned"].items()
                if ext in cluster.gone and cluster.gone[ext] >= t
            ]
            lat = outcome["latencies"]
            results["scenarios"][key] = {
                "requests": count,
                "fulfilled": len(lat),
                "failed": outcome["failed"],
                "unanswered": outcome["unanswered"],
                "p50": percentile(lat, 0.5),
                "p95": percentile(lat, 0.95),
                "max": max(lat) if lat else float("nan"),
                "per_minute": (len(lat) / outcome["span"] * 60)
                if outcome["span"] > 0
                else float("nan"),
                "gone_p50": percentile(gone_after, 0.5),
                "gone_max": max(gone_after) if gone_after else float("nan"),
            }
            log(f"{name}: {key}: {json.dumps(results['scenarios'][key])}")
        cpu, rss = proc_usage(proc.pid)
        results["cpu_seconds"] = cpu
        results["peak_rss_mib"] = rss / 1024
    finally:
        zuul.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log_file.close()
    requests = counter.take()
    total = sum(requests.values())
    results["api_requests"] = total
    results["api_requests_per_node"] = total / nodes if nodes else float("nan")
    results["top_api_requests"] = dict(request_shapes(requests).most_common(12))
    time.sleep(2)
    results["leaks"] = cluster.pool_namespaces()
    return results


def markdown(result: dict[str, Any]) -> str:
    np_, kp = result["nodepool"], result["kubepool"]
    lines = [
        f"Benchmark run {result['started']} on {result['machine']} (`make bench`, tests/bench/compare_launchers.py)",
        "",
        "| scenario | Nodepool p50 / p95 / max (s) | kubepool p50 / p95 / max (s) | p50 ratio kp/np | fulfilled per min np / kp | failed np / kp | namespace gone after return p50 np / kp (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in kp["scenarios"]:
        a, b = np_["scenarios"].get(key, {}), kp["scenarios"][key]
        ratio = b["p50"] / a["p50"] if a.get("p50") else float("nan")
        lines.append(
            f"| {key} | {a.get('p50', float('nan')):.2f} / {a.get('p95', float('nan')):.2f} / {a.get('max', float('nan')):.2f} "
            f"| {b['p50']:.2f} / {b['p95']:.2f} / {b['max']:.2f} | {ratio:.2f} "
            f"| {a.get('per_minute', float('nan')):.0f} / {b['per_minute']:.0f} | {a.get('failed', 0) + a.get('unanswered', 0)} / {b['failed'] + b['unanswered']} "
            f"| {a.get('gone_p50', float('nan')):.1f} / {b['gone_p50']:.1f} |"
        )
    lines += [
        "",
        "| launcher | CPU seconds | peak RSS (MiB) | API requests | per node | leaks |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (("Nodepool 11.0.0", np_), ("kubepool", kp)):
        lines.append(
            f"| {name} | {r.get('cpu_seconds', float('nan')):.1f} | {r.get('peak_rss_mib', float('nan')):.1f} | {r['api_requests']} "
            f"| {r['api_requests_per_node']:.1f} | {len(r['leaks'])} |"
        )
    floor = result["floor"]
    lines += [
        "",
        (
            f"Physical floor (the same objects created directly with the Python client, median of {floor['samples']}): "
            f"each as soon as what it depends on exists (TokenRequest), namespace {floor['namespace_concurrent_p50']:.2f} s, "
            f"pod {floor['pod_concurrent_p50']:.2f} s; one after the other (token Secret, Nodepool's way), "
            f"namespace {floor['namespace_sequential_p50']:.2f} s, pod {floor['pod_sequential_p50']:.2f} s. "
            f"kubepool sequential p50 / the first floor: namespace {result['ratios']['kubepool_over_floor_namespace']:.2f}, "
            f"pod {result['ratios']['kubepool_over_floor_pod']:.2f}."
        ),
        "",
        "Ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in result["ratios"].items()),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--kubepool", required=True, help="the kubepool binary (release build)"
    )
    p.add_argument("--nodepool-launcher", required=True)
    p.add_argument("--out", default="target/bench")
    p.add_argument("--bursts", default="20,100", help="burst sizes, comma-separated")
    p.add_argument("--sequential", type=int, default=10)
    p.add_argument("--floor-samples", type=int, default=10)
    p.add_argument(
        "--launchers",
        default="nodepool,kubepool",
        help="which launchers to run (a subset: no ratios)",
    )
    p.add_argument("--kinds", default="namespace,pod", help="which label kinds to run")
    args = p.parse_args()
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    image = os.environ.get("KUBEPOOL_TEST_IMAGE", "localhost/kubepool-node:bookworm")
    pki = Path(env("KUBECONFIG")).parent / "pki"
    cluster = Cluster()
    server = k8s.Configuration.get_default_copy().host
    host, port = server.split("://")[1].rsplit(":", 1)
    counter = ApiCounter(
        host,
        int(port),
        str(pki / "apiserver.crt"),
        str(pki / "apiserver.key"),
        str(pki / "ca.crt"),
    )
    work = Path(tempfile.mkdtemp(prefix="kubepool-bench-"))
    kubeconfig = work / "kubeconfig"
    cluster.launcher_kubeconfig(
        kubeconfig, f"https://127.0.0.1:{counter.port}", str(pki / "ca.crt")
    )
    cluster.wait_pool_empty()
    bursts = [int(b) for b in args.bursts.split(",") if b]
    scenarios: list[tuple[str, str, int, bool]] = []
    kinds = args.kinds.split(",")
    for kind, label in (("namespace", NS_LABEL), ("pod", POD_LABEL)):
        if kind not in kinds:
            continue
        scenarios.append(
            (f"{kind} sequential {args.sequential}", label, args.sequential, False)
        )
        scenarios += [(f"{kind} burst {b}", label, b, True) for b in bursts]
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{os.cpu_count()} cores",
    }

    log("physical floor")
    cluster.use_floor_client(kubeconfig)
    result["floor"] = {"samples": args.floor_samples}
    for way, concurrent in (("sequential", False), ("concurrent", True)):
        for kind, pod in (("namespace", False), ("pod", True)):
            samples = [
                cluster.floor_sample(i, pod, image, concurrent)
                for i in range(args.floor_samples)
            ]
            result["floor"][f"{kind}_{way}"] = samples
            result["floor"][f"{kind}_{way}_p50"] = statistics.median(samples)
            # The next group does not share the cluster with this one's deletions.
            cluster.wait_pool_empty(FLOOR_POOL, timeout=300)
    for name, command in (
        (
            "nodepool",
            [
                args.nodepool_launcher,
                "-f",
                "-c",
                "{config}",
                "--no-webapp",
                "-p",
                str(work / "nodepool.pid"),
            ],
        ),
        ("kubepool", [args.kubepool, "launcher", "-c", "{config}"]),
    ):
        if name not in args.launchers.split(","):
            continue
        chroot = f"/kubepool-bench-{name}-{os.getpid()}"
        config = work / f"nodepool-{name}.yaml"
        config.write_text(nodepool_yaml(chroot, "bench", image))
        command = [c.replace("{config}", str(config)) for c in command]
        result[name] = run_launcher(
            name, command, kubeconfig, chroot, cluster, counter, scenarios, logs
        )

    if "nodepool" not in result or "kubepool" not in result:
        (out / "launchers-partial.json").write_text(
            json.dumps(result, indent=2, sort_keys=True)
        )
        return
    np_, kp = result["nodepool"], result["kubepool"]

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    def figure(results: dict[str, Any], scenario: str, name: str) -> float:
        """A scenario's figure; NaN for a scenario this run left out (--kinds)."""
        return results["scenarios"].get(scenario, {}).get(name, float("nan"))

    seq_ns, seq_pod = (
        f"namespace sequential {args.sequential}",
        f"pod sequential {args.sequential}",
    )
    big = max(bursts) if bursts else None
    result["ratios"] = {
        "p50_namespace_kubepool_over_nodepool": ratio(
            figure(kp, seq_ns, "p50"), figure(np_, seq_ns, "p50")
        ),
        "p50_pod_kubepool_over_nodepool": ratio(
            figure(kp, seq_pod, "p50"), figure(np_, seq_pod, "p50")
        ),
        "peak_rss_kubepool_over_nodepool": ratio(
            kp["peak_rss_mib"], np_["peak_rss_mib"]
        ),
        "cpu_kubepool_over_nodepool": ratio(kp["cpu_seconds"], np_["cpu_seconds"]),
        "api_requests_per_node_kubepool_over_nodepool": ratio(
            kp["api_requests_per_node"], np_["api_requests_per_node"]
        ),
        # Against the concurrent floor: the sequential one is Nodepool's way, not a lower bound.
        "kubepool_over_floor_namespace": ratio(
            figure(kp, seq_ns, "p50"), result["floor"]["namespace_concurrent_p50"]
        ),
        "kubepool_over_floor_pod": ratio(
            figure(kp, seq_pod, "p50"), result["floor"]["pod_concurrent_p50"]
        ),
    }
    if big:
        for kind in ("namespace", "pod"):
            key = f"{kind} burst {big}"
            result["ratios"][
                f"throughput_{kind}_burst_{big}_kubepool_over_nodepool"
            ] = ratio(figure(kp, key, "per_minute"), figure(np_, key, "per_minute"))
    (out / "launchers.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    (out / "launchers.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
