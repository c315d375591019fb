"""Live console logs without the zuul_console daemon in the pod: kubepool's connection plugin
copies the console log Zuul's command module writes in the pod, while the task runs, into a
local directory that ``kubepool console-server`` serves with the zuul_console protocol (§6.5).
A client speaking that protocol (``v:0``, ``s:<id>``, later ``f:<id>``) receives the lines
while ansible-playbook is still running, then Zuul's exit code line."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

from ansible_run import KUBEPOOL, run_playbook_async
from conftest import PodEnv


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
