"""Running ansible-playbook against a pod with a given connection plugin, results as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
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
    # Seconds per task name (summed over tasks of the same name), from the callback's timestamps.
    durations: dict[str, float] = field(default_factory=dict)

    def result(self, name: str) -> dict[str, Any]:
        for task, result in self.tasks:
            if task == name:
                return result
        raise KeyError(f"no task {name!r} in {[t for t, _ in self.tasks]}")


class AsyncPlaybook:
    """An ansible-playbook running in the background."""

    def __init__(self, process: subprocess.Popen[bytes], started: float) -> None:
        self.process = process
        self.started = started

    def poll(self) -> int | None:
        return self.process.poll()

    def finish(self, timeout: float = 600) -> PlaybookRun:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return parse(
            self.process.returncode, time.monotonic() - self.started, stdout, stderr
        )


def run_playbook_async(
    env: PodEnv,
    connection: str,
    playbook: str,
    tmp: Path,
    collections: Path,
    extra_vars: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    venv_bin: Path | None = None,
    host_vars: dict[str, Any] | None = None,
) -> AsyncPlaybook:
    """VENV_BIN: the venv whose ansible-playbook runs (default this one's); HOST_VARS: the
    host's variables instead of the pod's (CONNECTION is then ignored)."""
    venv_bin = venv_bin or VENV_BIN
    inventory = tmp / "inventory.json"
    host = host_vars or {
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
                    str(venv_bin),
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
        str(venv_bin / "ansible-playbook"),
        "-i",
        str(inventory),
        str(PLAYBOOKS / playbook),
    ]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=process_env,
        cwd=PLAYBOOKS,
    )
    return AsyncPlaybook(process, started)


def run_playbook(
    env: PodEnv,
    connection: str,
    playbook: str,
    tmp: Path,
    collections: Path,
    extra_vars: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    venv_bin: Path | None = None,
    host_vars: dict[str, Any] | None = None,
) -> PlaybookRun:
    return run_playbook_async(
        env,
        connection,
        playbook,
        tmp,
        collections,
        extra_vars,
        extra_env,
        venv_bin,
        host_vars,
    ).finish()


def parse(returncode: int, seconds: float, stdout: bytes, stderr: bytes) -> PlaybookRun:
    try:
        output = json.loads(stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"ansible-playbook output is not JSON: {stdout[-3000:]!r} {stderr[-3000:]!r}"
        ) from error
    tasks = [
        (task["task"]["name"], task["hosts"].get("node", {}))
        for play in output["plays"]
        for task in play["tasks"]
    ]
    durations: dict[str, float] = {}
    for play in output["plays"]:
        for task in play["tasks"]:
            span = task["task"].get("duration") or {}
            if span.get("start") and span.get("end"):
                took = datetime.fromisoformat(
                    span["end"].rstrip("Z")
                ) - datetime.fromisoformat(span["start"].rstrip("Z"))
                name = task["task"]["name"]
                durations[name] = durations.get(name, 0.0) + took.total_seconds()
    return PlaybookRun(
        returncode, seconds, tasks, stderr.decode(errors="replace"), durations
    )
