"""The Zuul side of `make demo`, with Zuul's own code: submit a node request as the scheduler
does, wait for kubepool to fulfil it, accept the node as the executor does, write the build's
kubeconfig with the executor's own `prepareKubeConfig`, use the node with its own credentials
(for a pod: run a command in it with live output), and return it.
"""

import argparse
import configparser
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from zuul import model
from zuul.executor.server import AnsibleJob
from zuul.lib.tracing import Tracing
from zuul.nodepool import Nodepool
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool

SYSTEM_ID = "0123456789abcdef0123456789abcdef"
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[zuul {time.monotonic() - STARTED:6.2f}s] {text}", flush=True)


@dataclass
class JobDir:
    """The one attribute of the executor's JobDir that prepareKubeConfig uses."""

    kubeconfig: str


def write_kubeconfig(path: str, port: dict) -> str:
    """The build's kubeconfig, written by Zuul's executor code; returns the node's context."""
    data = dict(port)
    umask = os.umask(0o077)  # the file holds the node's token: never readable by others
    try:
        AnsibleJob.prepareKubeConfig(None, JobDir(path), data)  # type: ignore[arg-type]
    finally:
        os.umask(umask)
    return data["context_name"]


def kubectl(config_path: str, *args: str, live: bool = False) -> int:
    """Runs kubectl with the node's kubeconfig; with `live`, prints output as it comes."""
    command = [os.environ.get("KUBECTL", "kubectl"), *args]
    say("$ kubectl " + " ".join(args))
    env = {**os.environ, "KUBECONFIG": config_path}
    if live:
        with subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                say(f"  | {line.rstrip()}")
        say(f"  exit status {proc.returncode}")
        return proc.returncode
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env
    )
    for line in (result.stdout + result.stderr).splitlines():
        say(f"  | {line}")
    return result.returncode


def use_pod(path: str, pod: str) -> None:
    """What a job does with a pod node: run commands in it, as the kubectl connection does."""
    script = (
        'echo "running on $(hostname) as $(id -un)"; '
        'for i in 1 2 3; do echo "step $i"; sleep 1; done; '
        "python3 --version; git --version; echo oops >&2; exit 3"
    )
    status = kubectl(path, "exec", pod, "--", "sh", "-c", script, live=True)
    if status != 3:
        sys.exit(f"expected the command's own exit status 3, got {status}")
    kubectl(path, "get", "pods")
    kubectl(path, "get", "pods", "-n", "default")


def use_namespace(path: str) -> None:
    kubectl(path, "create", "configmap", "build-info", "--from-literal=job=demo-job")
    kubectl(path, "get", "configmaps")
    kubectl(path, "auth", "can-i", "create", "deployments.apps")
    kubectl(path, "get", "namespaces")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hosts", required=True)
    p.add_argument("--label", required=True)
    args = p.parse_args()
    Tracing(configparser.ConfigParser())
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        zk = ZooKeeperNodepool(client)
        request = model.NodeRequest(
            requestor=SYSTEM_ID,
            build_set_uuid="demo",
            tenant_name="demo-tenant",
            pipeline_name="check",
            job_uuid="demo-job",
            job_name="demo-job",
            labels=[args.label],
            provider=None,
            relative_priority=0,
            event_id="demo-event",
        )
        started = time.monotonic()
        zk.submitNodeRequest(request, 200)
        say(f"submitted node request {request.id} for {args.label}")
        while True:
            current = zk.getNodeRequest(request.id)
            if current is not None and current.state in (
                model.STATE_FULFILLED,
                model.STATE_FAILED,
            ):
                break
            time.sleep(0.05)
        say(
            f"request {current.state} after {time.monotonic() - started:.2f}s, nodes {current.nodes}"
        )
        if current.state != model.STATE_FULFILLED:
            sys.exit(1)
        nodepool = Nodepool(client, SYSTEM_ID, None)
        nodeset = model.NodeSet()
        nodeset.addNode(model.Node(["controller"], args.label))
        nodepool.acceptNodes(current, nodeset)
        nodepool.useNodeSet(nodeset, "demo-tenant", "demo/project", "demo-event")
        node = nodeset.getNodes()[0]
        port = dict(node.connection_port)
        shown = {
            **port,
            "token": "<redacted>",
            "ca_crt": "<base64 PEM>" if port.get("ca_crt") else None,
        }
        say(
            f"node {node.id} is {node.state}: connection_type={node.connection_type} "
            f"interface_ip={node.interface_ip} host_id={node.host_id} external_id={node.external_id}"
        )
        say("connection_port = " + json.dumps(shown, sort_keys=True))
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "kubeconfig")
            context = write_kubeconfig(path, port)
            say(
                f"wrote the build's kubeconfig with Zuul's prepareKubeConfig (mode {os.stat(path).st_mode & 0o777:o})"
            )
            if node.connection_type == "kubectl":
                entry = {
                    "ansible_connection": "kubectl",
                    "ansible_host": node.interface_ip,
                    "ansible_kubectl_context": context,
                    "ansible_python_interpreter": node.python_path,
                    "ansible_user": "zuul",
                }
                say("inventory entry: controller: " + json.dumps(entry, sort_keys=True))
                use_pod(path, str(node.interface_ip))
            else:
                say(
                    f"zuul.resources.controller: namespace={port['namespace']} context={context}"
                )
                use_namespace(path)
        nodepool.returnNodeSet(nodeset, None, "demo-tenant", "demo/project", 0)
        say(f"returned node {node.id} (state used); kubepool deletes it")
        while client.client.exists(f"{zk.NODES_ROOT}/{node.id}"):
            time.sleep(0.1)
        say(f"node {node.id} is gone from ZooKeeper")
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
