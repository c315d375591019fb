"""Benchmark: durations of the same Zuul builds with Zuul's stock executor path and with
kubepool's, measured in one run on the same test bed.

* stock: the executor as Zuul ships it: Ansible's `kubectl` connection (kubernetes.core), the
  real `kubectl` on its PATH (Zuul's port-forward for console logs, `kubectl exec` in the
  library's roles), zuul_console in the pods;
* kubepool: set up as docs/zuul-executor.md says (deploy/zuul-executor/install.sh): kubepool's
  connection plugin as `kubectl`, the `kubectl` wrapper (kubepool exec and port-forward, the
  console served by the executor), `kubepool exec` in the roles.

Each mode starts its own Zuul (tests/zuul/harness.py: scheduler, executor, web, PostgreSQL,
kubepool's launcher); both run at once and get BENCH_ROUNDS (default 3) rounds of the jobs
below, each round a push to every job's branch of both, all builds side by side, so that both
paths see the same load. demo-namespace uses no pod (only kubectl on the executor): it shows the
noise between the two Zuuls. The jobs are kubepool-base jobs that work
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

from conftest import derived_image
from harness import Zuul, git, make_work_dir, shut_down, start

# branch -> job (demo-project's .zuul.yaml in tests/zuul/harness.py)
JOBS = {
    "output": "demo-output",  # two pods: workspace in, a shell task, output back per host
    "sidecar": "demo-sidecar",  # a pod with a sidecar: three command tasks, a copy
    "namespace": "demo-namespace",  # a namespace node: kubectl on the executor only
}
MODES = ("stock", "kubepool")


def push_round(z: Zuul, n: int) -> dict[str, str]:
    """A commit on each job's branch; returns branch -> new revision."""
    revs = {}
    for branch in JOBS:
        git(z.demo, "checkout", "-q", "-B", branch, f"origin/{branch}")
        z.commit(z.demo, {f"bench/{branch}-{n}.txt": f"round {n}\n"}, f"round {n}")
        revs[branch] = z.push(z.demo, branch)
    return revs


def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    """Both Zuuls run at once, and each round's builds of both run side by side, so that both
    paths see the same load on this machine."""
    images = (derived_image("tox"), derived_image("buildset"))
    zuuls: dict[str, Zuul] = {}
    try:
        for mode in MODES:
            t0 = time.monotonic()
            zuuls[mode] = start(make_work_dir(), *images, executor=mode)
            print(
                f"[bench] {mode}: Zuul up in {time.monotonic() - t0:.0f} s", flush=True
            )
        results = {mode: {job: [] for job in JOBS.values()} for mode in MODES}
        for n in range(rounds):
            revs = {mode: push_round(z, n) for mode, z in zuuls.items()}
            for mode, z in zuuls.items():
                for branch, rev in revs[mode].items():
                    build = z.wait_build(JOBS[branch], rev, timeout=600)
                    if build["result"] != "SUCCESS":
                        raise RuntimeError(
                            f"{mode} {JOBS[branch]} round {n}: {build['result']}\n"
                            f"{z.job_output(build)[-3000:]}"
                        )
                    results[mode][JOBS[branch]].append(float(build["duration"]))
        return results
    finally:
        for z in zuuls.values():
            shut_down(z)
            shutil.rmtree(z.work, ignore_errors=True)


def main() -> int:
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    results = measure(rounds)
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
