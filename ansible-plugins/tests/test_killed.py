"""The in-pod side killed with `kill -9` mid-task: kubepool's supervisor of a running task (the
exec stream's process and the subshell that waits for the command) is killed in the pod. The
stream then ends with exit status 137 and no recorded exit code, so the task must fail with an
error that says so, never succeed nor report 137 as the command's own; the next task (on a
spare exec stream, or a new one) works."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ansible_run import KUBEPOOL, AsyncPlaybook, run_playbook_async
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
    assert_failed_not_succeeded(playbook, "supervisor")


def assert_failed_not_succeeded(playbook: AsyncPlaybook, word: str) -> None:
    """The long task is unreachable with an error naming ``word`` and "killed", never success;
    the next task works."""
    try:
        run = playbook.finish(timeout=120)
    except subprocess.TimeoutExpired:
        playbook.process.kill()
        raise
    long = run.result("long")
    assert long.get("unreachable") is True, long
    assert word in long["msg"] and "killed" in long["msg"], long["msg"]
    assert long.get("rc") != 0 and "never" not in long.get("stdout", "")
    assert run.result("next")["stdout"] == "next task"


def ancestry(ps: str, pid: str) -> list[str]:
    """The command lines of ``pid`` and its ancestors, from ``ps -eo pid=,ppid=,args=``."""
    processes = {}
    for line in ps.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3:
            processes[fields[0]] = (fields[1], fields[2])
    chain = []
    while pid in processes:
        parent, args = processes[pid]
        chain.append(args)
        pid = parent
    return chain


def test_the_channel_server_killed_mid_task_fails_the_task_and_the_next_task_works(
    pod_env: PodEnv, collections_path: Path, tmp_path: Path
) -> None:
    # A fresh agent of this test's own, so that its log is this playbook's.
    env = PodEnv(
        pod_env.namespace,
        pod_env.pod,
        pod_env.context,
        pod_env.kubeconfig,
        tmp_path / "agent" / "agent.sock",
        pod_env.cluster,
    )
    playbook = run_playbook_async(
        env,
        KUBEPOOL,
        "killed_channel.yml",
        tmp_path,
        collections_path,
        extra_env={"RUST_LOG": "kubepool::pod_exec=debug"},
    )
    # (sleep 41: the previous test's orphaned `sleep 40` may still run in the pod)
    deadline = time.monotonic() + 60
    chain: list[str] = []
    while time.monotonic() < deadline and playbook.poll() is None:
        ps = in_pod(pod_env, "ps -eo pid=,ppid=,args=")
        sleeper = [
            line.split()[0] for line in ps.splitlines() if line.endswith(" sleep 41")
        ]
        if sleeper:
            chain = ancestry(ps, sleeper[0])
            break
        time.sleep(0.5)
    assert chain, "the task never started in the pod"
    # The command runs under a channel server (the supervisor's `channel` mode).
    assert any("kubepool-exec channel" in args for args in chain), chain
    in_pod(pod_env, "kill -9 $(pgrep -f 'kubepool-exe[c] channel')")
    assert_failed_not_succeeded(playbook, "channel")
    agent_log = (tmp_path / "agent" / "agent.log").read_text()
    assert "agent: exec on a persistent channel" in agent_log, agent_log
