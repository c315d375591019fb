"""Benchmark: wall time of one ansible-playbook with 50 small tasks against a pod, with the stock
kubernetes.core.kubectl connection and with kubepool's (kubepool.pods.kubectl), measured in the
same run against the same pod. Prints each time and the ratio stock / kubepool, and kubepool
against the floor: the same playbook over Ansible's own `local` connection (no pod at all).

Then transfers with kubepool's plugin: ten 1 MB `copy` tasks and one `synchronize` (rsync over
kubepool exec) of a tree (BENCH_SYNC_MB, default 20 MB, in BENCH_SYNC_FILES files, default
2,000; the issue's figure is 200 MB in 10,000), each against a raw `kubepool exec` tar stream of
the same bytes into the same pod, measured in the same run (throughput ratio).

Both run with their defaults (the stock plugin does not pipeline unless told to; kubepool's
does). For a like-for-like view the stock plugin is also measured with pipelining on, and
kubepool's with it off; kubepool also with its agent's spare exec streams off
(KUBEPOOL_AGENT_SPARES=0, its own agent).

Run by `tests/bench.sh ansible_connection` (make bench-all), with the test bed's environment and a
release build of kubepool in KUBEPOOL_BIN.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ansible-plugins/tests"))

from ansible_run import KUBEPOOL, PLAYBOOKS, STOCK, run_playbook
from conftest import (
    COLLECTION,
    VENV_BIN,
    Cluster,
    kubepool_binary,
    make_pod_env,
    required_env,
)

TASKS = 50


def playbook() -> list[dict]:
    kinds = [
        lambda i: {"command": f"echo task {i}"},
        lambda i: {"shell": f"echo task {i} | wc -c"},
        lambda i: {"file": {"path": f"/tmp/bench-{i}", "state": "touch"}},
        lambda i: {"stat": {"path": f"/tmp/bench-{i - 2}"}},
        lambda i: {"command": "true"},
    ]
    tasks = [{"name": f"task {i}", **kinds[i % len(kinds)](i)} for i in range(TASKS)]
    return [{"hosts": "node", "gather_facts": False, "tasks": tasks}]


def transfer_playbook(files: Path, tree: Path, dest: str) -> list[dict]:
    tasks = [
        {
            "name": "copy 1 MB",
            "copy": {
                "src": str(files / f"f{i}.bin"),
                "dest": f"{dest}/copy-{i}.bin",
            },
        }
        for i in range(10)
    ]
    tasks.insert(
        0, {"name": "destination", "file": {"path": dest, "state": "directory"}}
    )
    tasks.append(
        {
            "name": "synchronize tree",
            "synchronize": {"src": f"{tree}/", "dest": f"{dest}/sync/"},
        }
    )
    return [{"hosts": "node", "gather_facts": False, "tasks": tasks}]


def make_transfer_inputs(tmp: Path) -> tuple[Path, Path, int]:
    files = tmp / "copies"
    files.mkdir()
    for i in range(10):
        (files / f"f{i}.bin").write_bytes(os.urandom(1 << 20))
    tree = tmp / "tree"
    total = int(os.environ.get("BENCH_SYNC_MB", "20")) << 20
    count = int(os.environ.get("BENCH_SYNC_FILES", "2000"))
    for i in range(count):
        directory = tree / f"d{i // 100}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{i}").write_bytes(os.urandom(total // count))
    return files, tree, total


def raw_stream_seconds(env, source: Path, dest: str) -> float:
    """A tar of ``source`` piped through one raw ``kubepool exec -i`` into the pod."""
    argv = [
        str(env.cluster.kubepool),
        "exec",
        "--kubeconfig",
        str(env.kubeconfig),
        "--context",
        env.context,
        "-i",
        env.pod,
        "--",
        "sh",
        "-c",
        f"mkdir -p {dest} && tar -x -f - -C {dest}",
    ]
    started = time.monotonic()
    tar = subprocess.Popen(
        ["tar", "-c", "-f", "-", "-C", str(source), "."], stdout=subprocess.PIPE
    )
    subprocess.run(
        argv,
        stdin=tar.stdout,
        check=True,
        capture_output=True,
        env={**os.environ, "KUBEPOOL_AGENT_SOCKET": str(env.agent_socket)},
    )
    tar.wait()
    return time.monotonic() - started


def main() -> int:
    cluster = Cluster(
        kubectl=required_env("KUBEPOOL_TEST_KUBECTL"),
        kubeconfig=required_env("KUBECONFIG"),
        image=required_env("KUBEPOOL_TEST_IMAGE"),
        kubepool=kubepool_binary(),
    )
    tmp = Path(tempfile.mkdtemp(prefix="kubepool-bench-"))
    env = make_pod_env(cluster, tmp, ["main"])
    try:
        collections = tmp / "collections"
        subprocess.run(
            [
                str(VENV_BIN / "ansible-galaxy"),
                "collection",
                "build",
                str(COLLECTION),
                "--output-path",
                str(tmp),
            ],
            check=True,
            capture_output=True,
        )
        (tarball,) = tmp.glob("kubepool-pods-*.tar.gz")
        subprocess.run(
            [
                str(VENV_BIN / "ansible-galaxy"),
                "collection",
                "install",
                str(tarball),
                "-p",
                str(collections),
            ],
            check=True,
            capture_output=True,
        )
        name = f"bench-{env.namespace}.yml"
        (PLAYBOOKS / name).write_text(json.dumps(playbook()))
        try:
            variants = [
                ("kubepool (warm-up)", KUBEPOOL, {}),
                ("local (floor)", "local", {}),
                ("stock", STOCK, {}),
                ("kubepool", KUBEPOOL, {}),
                ("stock, pipelining on", STOCK, {"ANSIBLE_PIPELINING": "True"}),
                (
                    "kubepool, no spare streams",
                    KUBEPOOL,
                    {
                        "KUBEPOOL_AGENT_SPARES": "0",
                        "KUBEPOOL_AGENT_SOCKET": str(
                            tmp / "agent-no-spares" / "agent.sock"
                        ),
                    },
                ),
                (
                    "kubepool, pipelining off",
                    KUBEPOOL,
                    {"ANSIBLE_KUBEPOOL_PIPELINING": "False"},
                ),
            ]
            seconds = {}
            for label, connection, extra_env in variants:
                work = tmp / label.replace(" ", "_").replace(",", "")
                work.mkdir()
                run = run_playbook(
                    env, connection, name, work, collections, extra_env=extra_env
                )
                ok = sum(1 for _, r in run.tasks if not r.get("failed"))
                if run.returncode != 0 or ok != TASKS:
                    print(
                        f"{label}: FAILED (exit {run.returncode}, {ok}/{TASKS} tasks ok)\n{run.stderr[-2000:]}\n"
                        f"first failed task: {next((r for _, r in run.tasks if r.get('failed')), None)}"
                    )
                    return 1
                seconds[label] = run.seconds
                print(
                    f"{label:28} {run.seconds:7.2f} s  ({run.seconds / TASKS * 1000:6.0f} ms/task)"
                )
        finally:
            (PLAYBOOKS / name).unlink()
        print(
            f"ratio kubepool / local floor:                {seconds['kubepool'] / seconds['local (floor)']:.2f}x"
        )
        print(
            "ratio kubepool without / with spare streams: "
            f"{seconds['kubepool, no spare streams'] / seconds['kubepool']:.2f}x"
        )
        print(
            f"ratio stock / kubepool (defaults):          {seconds['stock'] / seconds['kubepool']:.2f}x"
        )
        print(
            "ratio stock / kubepool (both pipelining):    "
            f"{seconds['stock, pipelining on'] / seconds['kubepool']:.2f}x"
        )
        print(
            "ratio stock / kubepool (neither pipelining): "
            f"{seconds['stock'] / seconds['kubepool, pipelining off']:.2f}x"
        )
        return transfers(env, tmp, collections)
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def transfers(env, tmp: Path, collections: Path) -> int:
    files, tree, total = make_transfer_inputs(tmp)
    name = f"bench-transfer-{env.namespace}.yml"
    (PLAYBOOKS / name).write_text(
        json.dumps(transfer_playbook(files, tree, f"/tmp/{env.namespace}"))
    )
    try:
        work = tmp / "transfer"
        work.mkdir()
        raw_copy = raw_stream_seconds(env, files, "/tmp/bench-raw-copy")
        run = run_playbook(env, KUBEPOOL, name, work, collections)
        raw_tree = raw_stream_seconds(env, tree, "/tmp/bench-raw-tree")
        floor_work = tmp / "transfer-local"
        floor_work.mkdir()
        floor = run_playbook(env, "local", name, floor_work, collections)
    finally:
        (PLAYBOOKS / name).unlink()
        # What the local-connection run wrote on this machine.
        shutil.rmtree(f"/tmp/{env.namespace}", ignore_errors=True)
    failed = [n for n, r in run.tasks + floor.tasks if r.get("failed")]
    if run.returncode != 0 or floor.returncode != 0 or failed:
        print(f"transfer playbook FAILED: {failed} {run.stderr[-2000:]}")
        return 1
    copy = run.durations["copy 1 MB"]
    sync = run.durations["synchronize tree"]
    mb = total / (1 << 20)
    print(f"10 x 1 MB copy tasks          {copy:7.2f} s  ({10 / copy:6.1f} MB/s)")
    print(
        f"raw kubepool exec, 10 MB      {raw_copy:7.2f} s  ({10 / raw_copy:6.1f} MB/s)"
    )
    print(f"synchronize {mb:.0f} MB tree        {sync:7.2f} s  ({mb / sync:6.1f} MB/s)")
    print(
        f"raw kubepool exec tar, tree   {raw_tree:7.2f} s  ({mb / raw_tree:6.1f} MB/s)"
    )
    floor_copy = floor.durations["copy 1 MB"]
    floor_sync = floor.durations["synchronize tree"]
    print(
        f"local floor: 10 copies        {floor_copy:7.2f} s, synchronize {floor_sync:.2f} s"
    )
    print(
        f"ratio kubepool / floor: copies {copy / floor_copy:.2f}x, synchronize {sync / floor_sync:.2f}x"
    )
    print(f"throughput copy / raw:        {raw_copy / copy:.2f}")
    print(f"throughput synchronize / raw: {raw_tree / sync:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
