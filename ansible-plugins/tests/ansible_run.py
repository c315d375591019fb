"""Running ansible-playbook against a pod with a given connection plugin, results as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import VENV_BIN, PodEnv

PLAYBOOKS = Path(__file__).parent / "playbooks"
KUBEPOOL = "kubepool.pods.kubectl"
STOCK = "kubernetes.core.kubectl"


@dataclass
class PlaybookRun:
    returncode: int
    seconds: float
    tasks: list[tuple[str, dict[str, Any]]]
    stderr: str

    def result(self, name: str) -> dict[str, Any]:
        for task, result in self.tasks:
            if task == name:
                return result
        raise KeyError(f"no task {name!r} in {[t for t, _ in self.tasks]}")


def run_playbook(
    env: PodEnv,
    connection: str,
    playbook: str,
    tmp: Path,
    collections: Path,
    extra_vars: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> PlaybookRun:
    inventory = tmp / "inventory.json"
    host = {
        "ansible_connection": connection,
        "ansible_host": env.pod,
        "ansible_kubectl_context": env.context,
        "ansible_kubectl_kubeconfig": str(env.kubeconfig),
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    inventory.write_text(json.dumps({"all": {"hosts": {"node": host}}}))
    process_env = dict(os.environ)
    process_env.update(
        {
            "PATH": os.pathsep.join(
                [
                    str(Path(env.cluster.kubectl).parent),
                    str(env.cluster.kubepool.parent),
                    str(VENV_BIN),
                    os.environ["PATH"],
                ]
            ),
            "KUBEPOOL_BIN": str(env.cluster.kubepool),
            "KUBEPOOL_AGENT_SOCKET": str(env.agent_socket),
            "KUBEPOOL_AGENT_IDLE_SECONDS": "60",
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
            "ANSIBLE_HOME": str(tmp / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORKS": "1",
        }
    )
    process_env.pop("KUBECONFIG", None)
    process_env.update(extra_env or {})
    argv = [
        str(VENV_BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        str(PLAYBOOKS / playbook),
    ]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    started = time.monotonic()
    result = subprocess.run(
        argv, check=False, capture_output=True, env=process_env, cwd=PLAYBOOKS
    )
    seconds = time.monotonic() - started
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"ansible-playbook output is not JSON: {result.stdout[-3000:]!r} {result.stderr[-3000:]!r}"
        ) from error
    tasks = [
        (task["task"]["name"], task["hosts"].get("node", {}))
        for play in output["plays"]
        for task in play["tasks"]
    ]
    return PlaybookRun(
        result.returncode, seconds, tasks, result.stderr.decode(errors="replace")
    )
