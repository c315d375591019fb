"""An SSH node made the way kubepool makes one, for the ansible_connection bench's reference.

The real `kubepool launcher` serves a small nodepool.yaml (one kubernetes pod label with
`kubepool.io/ssh`, docs/config.md "SSH nodes") on the test bed's ZooKeeper under a chroot of its
own; the node is requested, accepted and used with Zuul's own ZooKeeper code (as
tests/bench/compare_launchers.py and tests/ssh_node_e2e.rs do), and Ansible reaches it with its
`ssh` connection: the NodePort on 127.0.0.1, the host key the node record names in a known_hosts
file with strict checking, the executor key kubepool put into the pod's authorized_keys.

`ssh_node(...)` is a context manager: on exit the node set is returned, the launcher deletes the
node's namespace (waited for), the launcher is stopped, the chroot deleted and Ansible's ssh
ControlPersist masters under WORK are told to exit.
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ansible-plugins/tests"))
sys.path.append(
    str(ROOT / "tests/zuul")
)  # after ansible-plugins/tests: its conftest is the one meant

from conftest import required_env
from harness import zk_client

LABEL = "bench-ssh"


@dataclass
class SshNode:
    address: str
    port: int
    username: str
    private_key: Path
    known_hosts: Path
    namespace: str
    launch_seconds: float

    def host_vars(self) -> dict[str, Any]:
        """Inventory variables: Ansible's ssh connection, pipelining on, its default ssh_args
        (ControlMaster=auto, ControlPersist=60s), strict host key checking."""
        return {
            "ansible_connection": "ssh",
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_user": self.username,
            "ansible_ssh_private_key_file": str(self.private_key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
            "ansible_pipelining": True,
            "ansible_python_interpreter": "/usr/bin/python3",
        }


def nodepool_yaml(chroot: str, pool: str, image: str, public_key: Path) -> str:
    host, port = required_env("KUBEPOOL_TEST_ZK_TLS").rsplit(":", 1)
    return yaml.safe_dump(
        {
            "zookeeper-servers": [{"host": host, "port": int(port), "chroot": chroot}],
            "zookeeper-tls": {
                "ca": required_env("KUBEPOOL_TEST_ZK_CA"),
                "cert": required_env("KUBEPOOL_TEST_ZK_CERT"),
                "key": required_env("KUBEPOOL_TEST_ZK_KEY"),
            },
            "labels": [{"name": LABEL}],
            "providers": [
                {
                    "name": pool,
                    "driver": "kubernetes",
                    "pools": [
                        {
                            "name": pool,
                            "max-servers": 1,
                            "labels": [
                                {
                                    "name": LABEL,
                                    "type": "pod",
                                    "image": image,
                                    "image-pull": "IfNotPresent",
                                    "python-path": "/usr/bin/python3",
                                    "annotations": {
                                        "kubepool.io/ssh": {
                                            "authorized-keys": {
                                                "file": str(public_key)
                                            },
                                            "service": "NodePort",
                                        }
                                    },
                                }
                            ],
                        }
                    ],
                }
            ],
        },
        sort_keys=False,
    )


def namespace_gone(kubectl: str, namespace: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = subprocess.run(
            [kubectl, "get", "namespace", namespace, "-o", "name"],
            capture_output=True,
            check=False,
        )
        if got.returncode != 0 and b"NotFound" in got.stderr:
            return True
        time.sleep(1)
    return False


def close_control_masters(work: Path) -> None:
    """Asks every ssh ControlPersist master whose socket is under WORK to exit."""
    for socket in work.glob("**/cp/*"):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "bench-ssh-node"],
            capture_output=True,
            check=False,
            timeout=10,
        )


@contextmanager
def ssh_node(kubepool: Path, kubectl: str, image: str, work: Path) -> Iterator[SshNode]:
    # Zuul's modules come from the main venv (tests/requirements.txt).
    from compare_launchers import SYSTEM_ID, bench_node_request
    from zuul import model
    from zuul.lib.tracing import Tracing
    from zuul.nodepool import Nodepool
    from zuul.zk import ZooKeeperClient
    from zuul.zk.nodepool import ZooKeeperNodepool

    work.mkdir(parents=True, exist_ok=True)
    key = work / "executor_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench@executor"]
        + ["-f", str(key)],
        check=True,
        capture_output=True,
    )
    suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
    chroot = f"/kubepool-bench-ssh-{suffix}"
    pool = f"bench-ssh-{secrets.token_hex(3)}"
    config = work / "nodepool.yaml"
    config.write_text(nodepool_yaml(chroot, pool, image, key.with_suffix(".pub")))
    zk_client(lambda zk: zk.ensure_path(chroot))
    log = (work / "launcher.log").open("w")
    launcher = subprocess.Popen(
        [str(kubepool), "launcher", "-c", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "KUBECONFIG": required_env("KUBECONFIG"),
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        },
        start_new_session=True,
    )
    Tracing(configparser.ConfigParser())  # Zuul's request submission records a span
    client = ZooKeeperClient(
        required_env("KUBEPOOL_TEST_ZK_TLS") + chroot,
        timeout=10.0,
        tls_ca=required_env("KUBEPOOL_TEST_ZK_CA"),
        tls_cert=required_env("KUBEPOOL_TEST_ZK_CERT"),
        tls_key=required_env("KUBEPOOL_TEST_ZK_KEY"),
    )
    nodeset = None
    namespace = None
    nodepool = None
    try:
        client.connect()
        zk = ZooKeeperNodepool(client)
        nodepool = Nodepool(client, SYSTEM_ID, None)
        deadline = time.monotonic() + 120
        while not (
            client.client.exists("/nodepool/components/pool")
            and client.client.get_children("/nodepool/components/pool")
        ):
            if launcher.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"kubepool launcher registered no pool: {(work / 'launcher.log').read_text()[-3000:]}"
                )
            time.sleep(0.2)
        request = bench_node_request(LABEL)
        started = time.monotonic()
        zk.submitNodeRequest(request, 200)
        deadline = started + 180
        while True:
            current = zk.getNodeRequest(request.id)
            if current is not None and current.state in (
                model.STATE_FULFILLED,
                model.STATE_FAILED,
            ):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SSH node request {request.id} not answered in 180 s"
                )
            time.sleep(0.2)
        if current.state != model.STATE_FULFILLED:
            raise RuntimeError(
                f"SSH node request failed: {(work / 'launcher.log').read_text()[-3000:]}"
            )
        launched = time.monotonic() - started
        nodeset = model.NodeSet()
        nodeset.addNode(model.Node(["node"], LABEL))
        nodepool.acceptNodes(current, nodeset)
        nodepool.useNodeSet(nodeset, "bench-tenant", "bench/project", "bench-event")
        node = nodeset.getNodes()[0]
        record = node.toDict()
        namespace = f"{pool}-{node.id}"
        if record.get("connection_type") != "ssh":
            raise RuntimeError(f"not an SSH node: {json.dumps(record)}")
        port = int(record["connection_port"])
        address = record["interface_ip"]
        known_hosts = work / "known_hosts"
        known_hosts.write_text(
            "".join(f"[{address}]:{port} {k}\n" for k in record["host_keys"])
        )
        yield SshNode(
            address,
            port,
            record["username"],
            key,
            known_hosts,
            namespace,
            launched,
        )
    finally:
        close_control_masters(work.parent)
        if nodeset is not None and nodepool is not None:
            nodepool.returnNodeSet(nodeset, None, "bench-tenant", "bench/project", 0)
        if namespace and not namespace_gone(kubectl, namespace, 120):
            print(f"kubepool left namespace {namespace}: deleting it")
        client.disconnect()
        os.killpg(launcher.pid, signal.SIGTERM)
        try:
            launcher.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        log.close()
        if namespace:
            subprocess.run(
                [kubectl, "delete", "namespace", namespace, "--wait=false"],
                capture_output=True,
                check=False,
            )
        zk_client(lambda zk: zk.delete(chroot, recursive=True))
