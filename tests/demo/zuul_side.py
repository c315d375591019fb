"""The Zuul side of `make demo`, with Zuul's own code: submit a node request as the scheduler
does, wait for kubepool to fulfil it, accept and use the node as the executor does, write the
executor's kubeconfig for it, run kubectl with the node's credentials, return the node.
"""

import argparse
import base64
import configparser
import json
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlparse

from zuul import model
from zuul.lib.tracing import Tracing
from zuul.nodepool import Nodepool
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool

SYSTEM_ID = "0123456789abcdef0123456789abcdef"


def say(text: str) -> None:
    print(f"[zuul] {text}", flush=True)


def kubeconfig(port: dict) -> dict:
    """The executor's kubeconfig for a namespace node (reference §6.1)."""
    cluster = urlparse(port["host"]).netloc.replace(".", "-")
    user = f"{port['namespace']}:{port['user']}"
    context = f"{user}/{cluster}"
    entry: dict = {"server": port["host"]}
    if port.get("ca_crt"):
        entry["certificate-authority-data"] = port["ca_crt"]
    if port.get("skiptls"):
        entry["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": entry}],
        "users": [{"name": user, "user": {"token": port["token"]}}],
        "contexts": [
            {
                "name": context,
                "context": {
                    "cluster": cluster,
                    "user": user,
                    "namespace": port["namespace"],
                },
            }
        ],
        "current-context": context,
    }


def kubectl(config_path: str, *args: str, stdin: str | None = None) -> None:
    command = [os.environ.get("KUBECTL", "kubectl"), *args]
    say("$ kubectl " + " ".join(args))
    result = subprocess.run(
        command,
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": config_path},
    )
    for line in (result.stdout + result.stderr).splitlines():
        print(f"    {line}", flush=True)


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
            "token": port["token"][:12] + "…",
            "ca_crt": "…" if port.get("ca_crt") else None,
        }
        say(
            f"node {node.id} is {node.state}: connection_type={node.connection_type} external_id={node.external_id}"
        )
        say("connection_port = " + json.dumps(shown, sort_keys=True))
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "kubeconfig")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(kubeconfig(port), handle)
            ca = base64.b64decode(port["ca_crt"]) if port.get("ca_crt") else b""
            say(
                f"wrote the executor's kubeconfig (mode 0600, CA {len(ca)} bytes); the job uses the node:"
            )
            kubectl(
                path, "create", "configmap", "build-info", "--from-literal=job=demo-job"
            )
            kubectl(path, "get", "configmaps")
            kubectl(path, "auth", "can-i", "create", "deployments.apps")
            kubectl(path, "get", "namespaces")
        nodepool.returnNodeSet(nodeset, None, "demo-tenant", "demo/project", 0)
        say(f"returned node {node.id} (state used); kubepool deletes it")
        while client.client.exists(f"{zk.NODES_ROOT}/{node.id}"):
            time.sleep(0.1)
        say(f"node {node.id} is gone from ZooKeeper")
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
