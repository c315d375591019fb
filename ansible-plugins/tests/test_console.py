"""Live console logs without the zuul_console daemon in the pod: kubepool's connection plugin
copies the console log Zuul's command module writes in the pod, while the task runs, into a
local directory that ``kubepool console-server`` serves with the zuul_console protocol (§6.5).
A client speaking that protocol (``v:0``, ``s:<id>``, later ``f:<id>``) receives the lines
while ansible-playbook is still running, then Zuul's exit code line."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from ansible_run import KUBEPOOL, run_playbook_async
from conftest import Cluster, PodEnv, make_pod_env


def zuul_library() -> str:
    spec = importlib.util.find_spec("zuul.ansible.base.library.command")
    assert spec is not None and spec.origin is not None
    return os.path.dirname(spec.origin)


def test_console_lines_arrive_live_through_the_executor_side_server(
    pod_env: PodEnv, collections_path: Path, tmp_path: Path
) -> None:
    console_dir = tmp_path / "console"
    console_dir.mkdir()
    server = subprocess.Popen(
        [str(pod_env.cluster.kubepool), "console-server", "--dir", str(console_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("Listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        log_id = f"{uuid.uuid4()}-1-node"
        playbook = run_playbook_async(
            pod_env,
            KUBEPOOL,
            "console.yml",
            tmp_path,
            collections_path,
            {"log_id": log_id},
            {
                "KUBEPOOL_CONSOLE_DIR": str(console_dir),
                "ANSIBLE_LIBRARY": zuul_library(),
            },
        )
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            client.sendall(b"v:0\n")
            reader = client.makefile("rb")
            assert reader.readline() == b"1\n"
            client.sendall(f"s:{log_id}\n".encode())
            lines = []
            live = None
            while True:
                line = reader.readline()
                assert line, f"stream ended early: {lines}"
                if line == b"[Zuul] Log not found\n":
                    continue
                if live is None:
                    live = playbook.poll() is None
                lines.append(line.decode())
                if "[Zuul] Task exit code:" in line.decode():
                    break
        result = playbook.finish()
        assert result.returncode == 0, result.stderr
        assert live, "the first line arrived only after ansible-playbook had finished"
        assert [line.split(" | ", 1)[1] for line in lines] == [
            *(f"line {i}\n" for i in range(1, 7)),
            "[Zuul] Task exit code: 0\n",
        ]
        assert result.result("streamed")["stdout"].splitlines() == [
            f"line {i}" for i in range(1, 7)
        ]
        # f:<id> removes the local copy.
        path = console_dir / f"console-{log_id}.log"
        assert path.exists()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(f"f:{log_id}\n".encode())
            deadline = time.monotonic() + 10
            while path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert not path.exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def nopython_pod(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PodEnv]:
    image = os.environ.get(
        "KUBEPOOL_TEST_NOPYTHON_IMAGE", "localhost/kubepool-nopython:bookworm"
    )
    env = make_pod_env(
        cluster, tmp_path_factory.mktemp("nopython"), ["main"], image=image
    )
    try:
        yield env
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)


def test_command_tasks_run_in_a_pod_without_python(
    nopython_pod: PodEnv, collections_path: Path, tmp_path: Path
) -> None:
    """An image without Python: fact gathering gets the facts a shell tells; command and
    shell tasks still run, with the real rc, output, chdir, stdin, environment and creates, and
    their console log is written live (Zuul's format, then its exit code line). A module that
    needs Python fails, naming it."""
    assert (
        nopython_pod.cluster.run(
            "-n",
            nopython_pod.namespace,
            "exec",
            "node",
            "--",
            "sh",
            "-c",
            "command -v python3 || echo none",
        ).stdout.strip()
        == b"none"
    )
    console_dir = tmp_path / "console"
    log_id = f"{uuid.uuid4()}-1-node"
    log = console_dir / f"console-{log_id}.log"
    playbook = run_playbook_async(
        nopython_pod,
        KUBEPOOL,
        "nopython.yml",
        tmp_path,
        collections_path,
        {"log_id": log_id},
        {"KUBEPOOL_CONSOLE_DIR": str(console_dir), "ANSIBLE_LIBRARY": zuul_library()},
    )
    # The first line is in the local console log while the task still runs.
    deadline = time.monotonic() + 60
    while not (log.exists() and "line 1" in log.read_text()):
        assert time.monotonic() < deadline, "no console line within 60 s"
        assert playbook.poll() is None, "the playbook ended before the first line"
        time.sleep(0.1)
    assert "line 5" not in log.read_text(), "the lines came all at once"
    result = playbook.finish()
    assert result.returncode == 0, result.stdout[-3000:]
    lines = log.read_text().splitlines()
    assert [line.split(" | ", 1)[1] for line in lines] == [
        *(f"line {i}" for i in range(1, 6)),
        "to stderr",
        "[Zuul] Task exit code: 3",
    ]
    # Zuul's timestamp format, one second apart
    stamps = [datetime.fromisoformat(line.split(" | ", 1)[0]) for line in lines[:5]]
    assert (stamps[-1] - stamps[0]).total_seconds() > 3, stamps

    assert result.result("facts")["msg"] == "/root root"
    streamed = result.result("streamed")
    assert streamed["rc"] == 3
    assert streamed["stdout_lines"] == [
        *(f"line {i}" for i in range(1, 6)),
        "to stderr",
    ]
    assert streamed["zuul_log_id"] == log_id
    assert result.result("argv")["stdout"] == "a b|/root|/root/x|"
    assert result.result("in chdir with stdin")["stdout_lines"] == [
        "/tmp",
        "from stdin",
    ]
    assert result.result("environment")["stdout"] == "set"
    assert result.result("creates")["changed"] is True
    missing = result.result("missing command")
    assert missing["rc"] == 127 and missing.get("failed"), missing
    ping = result.result("python module")
    assert ping.get("failed"), ping
    assert "python3" in json.dumps(ping), ping
