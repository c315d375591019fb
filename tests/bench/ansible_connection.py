"""Benchmark: wall time of one ansible-playbook with 50 small tasks against a pod, with the stock
kubernetes.core.kubectl connection and with kubepool's (kubepool.pods.kubectl), measured in the
same run against the same pod. Prints each time and the ratio stock / kubepool.

Both run with their defaults (the stock plugin does not pipeline unless told to; kubepool's
does). For a like-for-like view the stock plugin is also measured with pipelining on, and
kubepool's with it off.

Run by `tests/bench.sh ansible_connection` (make bench), with the test bed's environment and a
release build of kubepool in KUBEPOOL_BIN.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
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


def main() -> int:
    import subprocess

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
                ("stock", STOCK, {}),
                ("kubepool", KUBEPOOL, {}),
                ("stock, pipelining on", STOCK, {"ANSIBLE_PIPELINING": "True"}),
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
        return 0
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
