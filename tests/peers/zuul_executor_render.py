"""Renders the kubeconfig, inventory and zuul.resources of node sets with Zuul's own executor
code (ZU `zuul/executor/server.py`: AnsibleJob.prepareNodes, prepareKubeConfig, getHostList,
squash_variables, AnsibleJob.writeInventory), for tests/executor_render.rs to compare with
kubepool's.

Input (--cases): a JSON list of cases; a case is {"nodes": [{"name", "label"?, "node"}],
"ports": {"<pod>": [port1, port2]}}. The stand-in for AnsibleJob holds only what those
methods read; KubeFwd is replaced by a stub that reports the given ports instead of running
kubectl. For case i, Zuul writes <out>/<i>/kubeconfig and <out>/<i>/inventory.yaml; the last
line printed is {"resources": [zuul.resources of each case]}.
"""

import argparse
import json
import logging
import os
import types
from typing import Any, ClassVar

import zuul.executor.server as executor_server
from peer_common import emit
from zuul import model
from zuul.executor.server import AnsibleJob, squash_variables


class StubKubeFwd:
    """Stands in for KubeFwd: the ports of the pod from the case, or a failure to start."""

    ports: ClassVar[dict[str, list[int]]] = {}

    def __init__(
        self,
        zuul_event_id: Any,
        build: str,
        kubeconfig: str,
        context: str,
        namespace: str,
        pod: str,
    ) -> None:
        self.pod = pod
        self.port1: int | None = None
        self.port2: int | None = None

    def start(self) -> None:
        if self.pod not in self.ports:
            # KubeFwd raises a bare Exception; prepareNodes catches any and goes on
            raise RuntimeError("Unable to start kubectl port forward")
        self.port1, self.port2 = self.ports[self.pod]

    def stop(self) -> None:
        pass


def nodeset_of(nodes: list[dict[str, Any]]) -> model.NodeSet:
    """The job's node set as the executor has it: each node serialized and read back."""
    nodeset = model.NodeSet()
    for entry in nodes:
        record = entry["node"]
        label = entry.get("label") or record["type"][0]
        node = model.Node([entry["name"]], label)
        node.updateFromDict(record)
        nodeset.addNode(model.Node.fromDict(node.toDict(internal_attributes=True)))
    return nodeset


def render(case: dict[str, Any], out: str) -> dict[str, Any]:
    os.makedirs(out, exist_ok=True)
    StubKubeFwd.ports = case.get("ports", {})
    job: Any = types.SimpleNamespace()
    job.nodeset = nodeset_of(case["nodes"])
    job.jobdir = types.SimpleNamespace(
        kubeconfig=os.path.join(out, "kubeconfig"),
        known_hosts=os.path.join(out, "known_hosts"),
    )
    job.zuul_event_id = None
    job.build_request = types.SimpleNamespace(uuid="build")
    job.port_forwards = []
    job.log = logging.getLogger("zuul_executor_render")
    job.job = types.SimpleNamespace(
        host_variables={}, group_variables={}, extra_variables={}
    )
    job.executor_server = types.SimpleNamespace(default_username="zuul")
    job.normal_vars = {}
    job.unreachable_nodes = set()
    job.prepareKubeConfig = lambda jobdir, data: AnsibleJob.prepareKubeConfig(
        job, jobdir, data
    )
    job.getHostList = lambda args, nodes: AnsibleJob.getHostList(job, args, nodes)

    resources = AnsibleJob.prepareNodes(job, {})
    # prepareVars with no job, group or extra variables.
    localhost = {"name": "localhost", "host_vars": {}}
    hostvars = squash_variables(job.host_list + [localhost], job.nodeset, {}, {}, {})
    playbook = types.SimpleNamespace(
        inventory=os.path.join(out, "inventory.yaml"), secrets_keys=[]
    )
    AnsibleJob.writeInventory(job, playbook, hostvars)
    return resources


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cases", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    executor_server.KubeFwd = StubKubeFwd  # type: ignore[misc, assignment]
    with open(args.cases) as f:
        cases = json.load(f)
    results = [
        render(case, os.path.join(args.out, str(i))) for i, case in enumerate(cases)
    ]
    emit({"resources": results})


if __name__ == "__main__":
    main()
