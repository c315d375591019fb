"""Writes the kubeconfig for nodes with Zuul's own executor code (ZU `AnsibleJob.prepareKubeConfig`,
reference §6.1), as the executor does for every kubectl/namespace/project node of a build.

Reads a JSON file holding a list of node `connection_port` dicts; prints {"path", "contexts"}.
"""

import json
import os
import sys
from dataclasses import dataclass

from peer_common import emit
from zuul.executor.server import AnsibleJob


@dataclass
class JobDir:
    """The one attribute of Zuul's JobDir that prepareKubeConfig uses."""

    kubeconfig: str


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: zuul_kubeconfig.py KUBECONFIG_PATH CONNECTION_PORTS_JSON")
    path = sys.argv[1]
    with open(sys.argv[2]) as f:
        ports = json.load(f)
    jobdir = JobDir(kubeconfig=path)
    contexts = []
    for port in ports:
        data = dict(port)
        # `self` is unused by prepareKubeConfig; the executor passes its AnsibleJob.
        AnsibleJob.prepareKubeConfig(None, jobdir, data)  # type: ignore[arg-type]
        contexts.append(data["context_name"])
    # The executor's job dir is private to the build; keep the token file private here too.
    os.chmod(path, 0o600)
    emit({"path": path, "contexts": contexts})


if __name__ == "__main__":
    main()
