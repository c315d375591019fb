"""Fixtures for the collection's tests against pods in the real test cluster.

Needs the test bed's environment (``. ~/.cache/kubepool/testbed.env``): ``KUBECONFIG``,
``KUBEPOOL_TEST_KUBECTL`` and ``KUBEPOOL_TEST_IMAGE``; and a built ``kubepool`` (``KUBEPOOL_BIN``,
else ``$CARGO_TARGET_DIR/debug/kubepool``, else ``target/debug/kubepool``). Every test namespace
starts with ``ans-`` and is deleted at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "ansible-plugins"
VENV_BIN = Path(sys.executable).parent


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: source ~/.cache/kubepool/testbed.env first"
        )
    return value


def kubepool_binary() -> Path:
    candidates = []
    if os.environ.get("KUBEPOOL_BIN"):
        candidates.append(Path(os.environ["KUBEPOOL_BIN"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug/kubepool")
    candidates.append(ROOT / "target/debug/kubepool")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RuntimeError(
        f"kubepool is not built (looked at {', '.join(map(str, candidates))}); run cargo build"
    )


@dataclass
class Cluster:
    kubectl: str
    kubeconfig: str
    image: str
    kubepool: Path

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            check=check,
        )


@dataclass
class PodEnv:
    """A running pod, a kubeconfig whose context points at its namespace, and an agent socket."""

    namespace: str
    pod: str
    context: str
    kubeconfig: Path
    agent_socket: Path
    cluster: Cluster


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    return Cluster(
        kubectl=required_env("KUBEPOOL_TEST_KUBECTL"),
        kubeconfig=required_env("KUBECONFIG"),
        image=required_env("KUBEPOOL_TEST_IMAGE"),
        kubepool=kubepool_binary(),
    )


def pod_manifest(
    name: str, image: str, containers: list[str], shared: str | None = None
) -> dict:
    mounts = [{"name": "shared", "mountPath": shared}] if shared else []
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "shared", "emptyDir": {}}] if shared else [],
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "infinity"],
                    "volumeMounts": mounts,
                }
                for container in containers
            ],
        },
    }


def make_pod_env(
    cluster: Cluster,
    tmp: Path,
    containers: list[str],
    shared: str | None = None,
    image: str | None = None,
) -> PodEnv:
    namespace = f"ans-{secrets.token_hex(4)}"
    cluster.run("create", "namespace", namespace)
    pod = "node"
    manifest = json.dumps(
        pod_manifest(pod, image or cluster.image, containers, shared)
    ).encode()
    deadline = time.monotonic() + 30
    while True:
        # A brand-new namespace refuses pods until its default service account exists.
        result = cluster.run(
            "-n", namespace, "create", "-f", "-", input=manifest, check=False
        )
        if result.returncode == 0:
            break
        if time.monotonic() > deadline or b"service account" not in result.stderr:
            raise RuntimeError(result.stderr.decode())
        time.sleep(0.2)
    cluster.run(
        "-n", namespace, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=120s"
    )
    kubeconfig = tmp / "kubeconfig"
    shutil.copy(cluster.kubeconfig, kubeconfig)
    kubeconfig.chmod(0o600)
    view = json.loads(cluster.run("config", "view", "--minify", "-o", "json").stdout)
    context = f"{namespace}-context"
    subprocess.run(
        [
            cluster.kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "config",
            "set-context",
            context,
            f"--cluster={view['clusters'][0]['name']}",
            f"--user={view['users'][0]['name']}",
            f"--namespace={namespace}",
        ],
        check=True,
        capture_output=True,
    )
    return PodEnv(
        namespace, pod, context, kubeconfig, tmp / "agent" / "agent.sock", cluster
    )


@pytest.fixture(scope="module")
def pod_env(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PodEnv]:
    tmp = tmp_path_factory.mktemp("pod")
    env = make_pod_env(cluster, tmp, ["main"])
    try:
        yield env
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection built with ansible-galaxy and installed from its tarball (offline)."""
    target = install_collection(
        tmp_path_factory.mktemp("build"), tmp_path_factory.mktemp("collections")
    )
    assert (
        target / "ansible_collections/kubepool/pods/plugins/connection/kubectl.py"
    ).is_file()
    return target


def install_collection(build: Path, target: Path) -> Path:
    """Builds the collection into BUILD with ansible-galaxy and installs the tarball into
    TARGET (offline); returns TARGET (for ANSIBLE_COLLECTIONS_PATH)."""
    galaxy = str(VENV_BIN / "ansible-galaxy")
    subprocess.run(
        [galaxy, "collection", "build", str(COLLECTION), "--output-path", str(build)],
        check=True,
        capture_output=True,
    )
    (tarball,) = build.glob("kubepool-pods-*.tar.gz")
    subprocess.run(
        [galaxy, "collection", "install", str(tarball), "-p", str(target), "--offline"],
        check=True,
        capture_output=True,
    )
    return target


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
