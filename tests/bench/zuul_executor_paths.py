"""Benchmark: durations of the same Zuul builds with Zuul's stock executor path and with
kubepool's, measured in one run on the same test bed.

* stock: the executor as Zuul ships it: Ansible's `kubectl` connection (kubernetes.core), the
  real `kubectl` on its PATH (Zuul's port-forward for console logs, `kubectl exec` in the
  library's roles), zuul_console in the pods;
* kubepool: set up as docs/zuul-executor.md says (deploy/zuul-executor/install.sh): kubepool's
  connection plugin as `kubectl`, the `kubectl` wrapper (kubepool exec and port-forward, the
  console served by the executor), `kubepool exec` in the roles.

Each mode starts its own Zuul (tests/zuul/harness.py: scheduler, executor, web, PostgreSQL,
kubepool's launcher) and runs BENCH_ROUNDS (default 2) rounds of the jobs below, each round a
push to every job's branch, the builds side by side. The jobs are kubepool-base jobs that work
with both paths (kubepool-project's start-in-the-project-directory needs kubepool's plugin, and
the image without Python needs it too). Prints each build's duration (Zuul's own figure), the
median per job and mode, and the ratio stock / kubepool.

Run by `tests/bench.sh zuul_executor_paths` (make bench-all), with the test bed's environment.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/zuul"))

from conftest import derived_image, wait_nodes_deleted
from harness import Zuul, git, make_work_dir, start, zk_client

# branch -> job (demo-project's .zuul.yaml in tests/zuul/harness.py)
JOBS = {
    "output": "demo-output",  # two pods: workspace in, a shell task, output back per host
    "sidecar": "demo-sidecar",  # a pod with a sidecar: three command tasks, a copy
    "namespace": "demo-namespace",  # a namespace node: kubectl on the executor only
}
MODES = ("stock", "kubepool")


def run_rounds(z: Zuul, rounds: int) -> dict[str, list[float]]:
    durations: dict[str, list[float]] = {job: [] for job in JOBS.values()}
    clone = z.demo
    for n in range(rounds):
        revs = {}
        for branch in JOBS:
            git(clone, "checkout", "-q", "-B", branch, f"origin/{branch}")
            z.commit(clone, {f"bench/round-{n}.txt": f"round {n}\n"}, f"round {n}")
            revs[branch] = z.push(clone, branch)
        for branch, rev in revs.items():
            job = JOBS[branch]
            build = z.wait_build(job, rev, timeout=600)
            if build["result"] != "SUCCESS":
                raise RuntimeError(
                    f"{job} round {n}: {build['result']}\n{z.job_output(build)[-3000:]}"
                )
            durations[job].append(float(build["duration"]))
    return durations


def run_mode(mode: str, images: tuple[str, str], rounds: int) -> dict[str, list[float]]:
    work = make_work_dir()
    z = None
    t0 = time.monotonic()
    try:
        z = start(work, *images, executor=mode)
        print(f"[bench] {mode}: Zuul up in {time.monotonic() - t0:.0f} s", flush=True)
        return run_rounds(z, rounds)
    finally:
        if z is not None:
            wait_nodes_deleted(z)
            z.stop_zuul()
            z.stop()
            zk_client(lambda zk: zk.delete(z.chroot, recursive=True))
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    images = (derived_image("tox"), derived_image("buildset"))
    results = {mode: run_mode(mode, images, rounds) for mode in MODES}
    print(f"\nZuul build durations (s), {rounds} round(s) per job, builds side by side")
    print(f"{'job':<16} {'stock':>22} {'kubepool':>22} {'stock/kubepool':>15}")
    totals = {mode: 0.0 for mode in MODES}
    for job in JOBS.values():
        med = {mode: statistics.median(results[mode][job]) for mode in MODES}
        for mode in MODES:
            totals[mode] += med[mode]
        cells = [
            f"{med[m]:6.1f} ({', '.join(f'{d:.1f}' for d in results[m][job])})"
            for m in MODES
        ]
        print(
            f"{job:<16} {cells[0]:>22} {cells[1]:>22} {med['stock'] / med['kubepool']:>14.2f}x"
        )
    print(
        f"{'sum of medians':<16} {totals['stock']:>22.1f} {totals['kubepool']:>22.1f} "
        f"{totals['stock'] / totals['kubepool']:>14.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
