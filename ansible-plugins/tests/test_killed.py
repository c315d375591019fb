"""The in-pod side killed with `kill -9` mid-task: kubepool's supervisor of a running task (the
exec stream's process and the subshell that waits for the command) is killed in the pod. The
stream then ends with exit status 137 and no recorded exit code, so the task must fail with an
error that says so, never succeed nor report 137 as the command's own; the next task (on a
spare exec stream, or a new one) works."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ansible_run import KUBEPOOL, run_playbook_async
from conftest import PodEnv

# Supervisors started for a command, or started ahead of one (a spare's command line still
# says "spare"); the bracket keeps pgrep's own shell out.
SUPERVISORS = "pgrep -f 'kubepool-exe[c] (start|spare)' || true"


def in_pod(env: PodEnv, script: str) -> str:
    return env.cluster.run(
        "-n", env.namespace, "exec", env.pod, "--", "sh", "-c", script
    ).stdout.decode()


def test_a_supervisor_killed_mid_task_fails_the_task_and_the_next_task_works(
    pod_env: PodEnv, collections_path: Path, tmp_path: Path
) -> None:
    playbook = run_playbook_async(
        pod_env, KUBEPOOL, "killed.yml", tmp_path, collections_path
    )
    deadline = time.monotonic() + 60
    pids: list[str] = []
    while time.monotonic() < deadline and playbook.poll() is None:
        # The task runs once its command's sleep is there.
        if "sleep 40" in in_pod(pod_env, "ps -eo args"):
            pids = in_pod(pod_env, SUPERVISORS).split()
            break
        time.sleep(0.5)
    assert pids, "the task never started in the pod"
    in_pod(pod_env, f"kill -9 {' '.join(pids)}")
    try:
        run = playbook.finish(timeout=120)
    except subprocess.TimeoutExpired:
        playbook.process.kill()
        raise
    long = run.result("long")
    assert long.get("unreachable") is True, long
    assert "supervisor" in long["msg"] and "killed" in long["msg"], long["msg"]
    assert long.get("rc") != 0 and "never" not in long.get("stdout", "")
    assert run.result("next")["stdout"] == "next task"
