"""Benchmark (issue 22): Ansible against a pod with kubepool's connection (kubepool.pods.kubectl)
against the physical floor, the stock kubernetes.core.kubectl plugin and an SSH node, all
measured in the same run; a summary table at the end, also written to
target/bench/ansible_connection.md.

Parts, each the wall time of a real ansible-playbook:
* 50 small tasks, with ansible-core 2.18 (the main venv, tests/setup-python.sh) and with 2.19
  (`tests/setup-python.sh ansible-2.19`): the local-connection floor (the same playbook over
  Ansible's own `local` connection, no pod at all: Ansible's own cost; with its defaults and with
  pipelining on, the lower of the two is the floor), kubepool (its defaults),
  the stock plugin with its defaults (no pipelining) and with pipelining on, and the SSH node.
* Ten 1 MB `copy` tasks and one `synchronize` of a tree (BENCH_SYNC_MB, default 200 MB, in
  BENCH_SYNC_FILES files, default 10,000), with BENCH_TRANSFER_ANSIBLE (default 2.18): the floor,
  kubepool, the SSH node, and against a raw `kubepool exec -i` tar stream of the same bytes into
  the same pod (throughput ratio). The stock plugin on the copies (defaults, pipelining on); its
  `synchronize` is run once on a one-file tree to show it cannot work on a kubectl host.
* The SSH node is one of kubepool's SSHD pod label (`kubepool.io/ssh`), made by the real
  `kubepool launcher` on the test bed's ZooKeeper (tests/bench/ssh_node.py); Ansible reaches it
  with its `ssh` connection, pipelining on, ControlPersist as by default.

BENCH_REPEAT=N runs each variant of the small-task part N times, in rounds, and takes the lowest
time of each (default 1: one run each, to keep the bench near ten minutes on two cores).
BENCH_ANSIBLE_EXTRA=1 adds kubepool with pipelining off and with its agent's spare exec streams
off (KUBEPOOL_AGENT_SPARES=0, its own agent) to the 50-task part.

Run by `tests/bench.sh ansible_connection` (make bench, make bench-all), with the test bed's
environment and kubepool in KUBEPOOL_BIN.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ansible-plugins/tests"))

from ansible_run import KUBEPOOL, STOCK, PlaybookRun, run_playbook
from conftest import (
    VENV_BIN,
    Cluster,
    PodEnv,
    install_collection,
    kubepool_binary,
    make_pod_env,
    required_env,
)
from ssh_node import SshNode, ssh_node

# BENCH_TASKS: fewer tasks for a quick look (the figure, and the default, is 50).
TASKS = int(os.environ.get("BENCH_TASKS", "50"))
COPIES = 10
# BENCH_REPEAT: runs of each variant of the small-task part (its lowest time counts).
REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))
PIPELINING = {"ANSIBLE_PIPELINING": "True"}
# Must-show targets of issue 22.
FLOOR_TARGET = 1.10
THROUGHPUT_TARGET = 0.80
SSH_TARGET = 1.00


def playbook(prefix: str) -> list[dict]:
    """PREFIX: where the file tasks touch (``PREFIX-<n>``)."""
    kinds = [
        lambda i: {"command": f"echo task {i}"},
        lambda i: {"shell": f"echo task {i} | wc -c"},
        lambda i: {"file": {"path": f"{prefix}-{i}", "state": "touch"}},
        lambda i: {"stat": {"path": f"{prefix}-{i - 2}"}},
        lambda i: {"command": "true"},
    ]
    tasks = [{"name": f"task {i}", **kinds[i % len(kinds)](i)} for i in range(TASKS)]
    return [{"hosts": "node", "gather_facts": False, "tasks": tasks}]


def transfer_playbook(
    files: Path, tree: Path | None, dest: str, copies: bool = True
) -> list[dict]:
    tasks: list[dict] = [
        {"name": "destination", "file": {"path": dest, "state": "directory"}}
    ]
    if copies:
        tasks += [
            {
                "name": "copy 1 MB",
                "copy": {
                    "src": str(files / f"f{i}.bin"),
                    "dest": f"{dest}/copy-{i}.bin",
                },
            }
            for i in range(COPIES)
        ]
    if tree is not None:
        tasks.append(
            {
                "name": "synchronize tree",
                "synchronize": {"src": f"{tree}/", "dest": f"{dest}/sync/"},
            }
        )
    return [{"hosts": "node", "gather_facts": False, "tasks": tasks}]


def make_transfer_inputs(tmp: Path) -> tuple[Path, Path, int, int]:
    files = tmp / "copies"
    files.mkdir()
    for i in range(COPIES):
        (files / f"f{i}.bin").write_bytes(os.urandom(1 << 20))
    tree = tmp / "tree"
    total = int(os.environ.get("BENCH_SYNC_MB", "200")) << 20
    count = int(os.environ.get("BENCH_SYNC_FILES", "10000"))
    for i in range(count):
        directory = tree / f"d{i // 100}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{i}").write_bytes(os.urandom(total // count))
    return files, tree, (total // count) * count, count


def raw_stream_seconds(env: PodEnv, source: Path, dest: str) -> float:
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


def ansible_219_venv_bin() -> Path:
    """The ansible-core 2.19 venv: KUBEPOOL_ANSIBLE_219_VENV (tests/bench.sh sets it), else made
    or found by `tests/setup-python.sh ansible-2.19` (cached)."""
    venv = os.environ.get("KUBEPOOL_ANSIBLE_219_VENV")
    if not venv:
        venv = subprocess.run(
            [str(ROOT / "tests/setup-python.sh"), "ansible-2.19"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    return Path(venv) / "bin"


def core_version(venv_bin: Path) -> str:
    return subprocess.run(
        [
            str(venv_bin / "python"),
            "-c",
            "import ansible.release; print(ansible.release.__version__)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@dataclass
class Bench:
    env: PodEnv
    tmp: Path
    collections: Path
    ssh: SshNode
    failures: list[str]

    def run(
        self,
        label: str,
        connection: str,
        playbook: Path,
        venv_bin: Path,
        expect_tasks: int,
        extra_env: dict[str, str] | None = None,
        ssh: bool = False,
        expect_failure: bool = False,
    ) -> PlaybookRun | None:
        """One ansible-playbook; None (failure printed in full, unless EXPECT_FAILURE) unless
        every task succeeded."""
        work = Path(tempfile.mkdtemp(prefix="run-", dir=self.tmp))
        try:
            run = run_playbook(
                self.env,
                connection,
                str(playbook),
                work,
                self.collections,
                extra_env=extra_env,
                venv_bin=venv_bin,
                host_vars=self.ssh.host_vars() if ssh else None,
            )
        except (
            AssertionError
        ) as error:  # no JSON result: ansible-playbook itself failed
            print(f"{label}: FAILED: {str(error)[-3000:]}", flush=True)
            self.failures.append(label)
            return None
        ok = sum(1 for _, r in run.tasks if not r.get("failed"))
        if run.returncode != 0 or ok != expect_tasks:
            failed = next(
                (
                    (n, r)
                    for n, r in run.tasks
                    if r.get("failed") or r.get("unreachable")
                ),
                None,
            )
            if expect_failure:
                print(f"{label}: failed as expected: {json.dumps(failed)[:600]}")
            else:
                print(
                    f"{label}: FAILED (exit {run.returncode}, {ok}/{expect_tasks} tasks ok)\n"
                    f"first failed task: {json.dumps(failed)[:3000]}\n"
                    f"stderr: {run.stderr[-3000:]}",
                    flush=True,
                )
                self.failures.append(label)
            return None
        return run


def fmt_s(seconds: float | None) -> str:
    return "FAILED" if seconds is None else f"{seconds:.2f} s"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a / b:.2f}"


def lowest(*values: float | None) -> float | None:
    """The lowest of the values measured (None if none was)."""
    measured = [v for v in values if v is not None]
    return min(measured) if measured else None


def throughput_cell(raw: float, kubepool: float | None, floor: float | None) -> str:
    """kubepool's throughput against raw exec, and the floor's (Ansible's own limit) beside it."""
    return f"{fmt_ratio(raw, kubepool)} (floor {fmt_ratio(raw, floor)})"


def small_tasks(bench: Bench, version: str, venv_bin: Path) -> dict[str, str]:
    """The 50-task part with one ansible-core; returns its row of the summary."""
    print(f"---- {TASKS} small tasks, ansible-core {version}", flush=True)
    path = bench.tmp / "tasks.json"
    path.write_text(json.dumps(playbook(f"/tmp/{bench.env.namespace}-bench")))
    variants: list[tuple[str, str, dict[str, str], bool]] = [
        ("kubepool (warm-up)", KUBEPOOL, {}, False),
        ("local (defaults)", "local", {}, False),
        ("local, pipelining on", "local", PIPELINING, False),
        ("kubepool", KUBEPOOL, {}, False),
        ("stock", STOCK, {}, False),
        ("stock, pipelining on", STOCK, PIPELINING, False),
        ("SSH node", "ssh", {}, True),
    ]
    if os.environ.get("BENCH_ANSIBLE_EXTRA") == "1":
        variants += [
            (
                "kubepool, no spare streams",
                KUBEPOOL,
                {
                    "KUBEPOOL_AGENT_SPARES": "0",
                    "KUBEPOOL_AGENT_SOCKET": str(
                        bench.tmp / f"agent-no-spares-{version}" / "agent.sock"
                    ),
                },
                False,
            ),
            (
                "kubepool, pipelining off",
                KUBEPOOL,
                {"ANSIBLE_KUBEPOOL_PIPELINING": "False"},
                False,
            ),
        ]
    # Each variant's lowest of BENCH_REPEAT runs (rounds over all variants, so that a busy
    # spell of the machine hits them alike); a failed run counts as failed.
    seconds: dict[str, float | None] = {}
    for round_ in range(REPEAT):
        for label, connection, extra_env, ssh in variants:
            if round_ > 0 and label.endswith("(warm-up)"):
                continue
            run = bench.run(
                f"{label} [{version}]",
                connection,
                path,
                venv_bin,
                TASKS,
                extra_env,
                ssh,
            )
            if run is None:
                seconds[label] = None
                continue
            if label not in seconds or seconds[label] is not None:
                seconds[label] = lowest(seconds.get(label), run.seconds)
            print(
                f"{label:28} {run.seconds:7.2f} s  ({run.seconds / TASKS * 1000:6.0f} ms/task)",
                flush=True,
            )
    kp, ssh = seconds["kubepool"], seconds["SSH node"]
    floor = lowest(seconds["local (defaults)"], seconds["local, pipelining on"])
    print(f"ratio kubepool / local floor:      {fmt_ratio(kp, floor)}")
    print(f"ratio kubepool / SSH node:         {fmt_ratio(kp, ssh)}")
    print(f"ratio stock / kubepool (defaults): {fmt_ratio(seconds['stock'], kp)}")
    print(
        f"ratio stock, pipelining on / kubepool: {fmt_ratio(seconds['stock, pipelining on'], kp)}",
        flush=True,
    )
    if "kubepool, no spare streams" in seconds:
        print(
            "ratio kubepool without / with spare streams: "
            f"{fmt_ratio(seconds['kubepool, no spare streams'], kp)}"
        )
        print(
            "ratio stock / kubepool (neither pipelining): "
            f"{fmt_ratio(seconds['stock'], seconds['kubepool, pipelining off'])}"
        )
    return {
        "part": f"{TASKS} tasks, ansible-core {version}",
        "floor": fmt_s(seconds["local (defaults)"]),
        "floor pipelining": fmt_s(seconds["local, pipelining on"]),
        "kubepool": fmt_s(kp),
        "stock": fmt_s(seconds["stock"]),
        "stock pipelining": fmt_s(seconds["stock, pipelining on"]),
        "SSH": fmt_s(ssh),
        "raw exec": "–",
        "kubepool/floor": fmt_ratio(kp, floor),
        "throughput/raw": "–",
        "kubepool/SSH": fmt_ratio(kp, ssh),
    }


def with_rate(seconds: float | None, mb: float) -> str:
    return (
        fmt_s(seconds)
        if seconds is None
        else f"{seconds:.2f} s ({mb / seconds:.1f} MB/s)"
    )


def transfers(bench: Bench, version: str, venv_bin: Path) -> list[dict[str, str]]:
    """Ten 1 MB copies and one synchronize; returns their rows of the summary."""
    env, tmp = bench.env, bench.tmp
    files, tree, total, count = make_transfer_inputs(tmp)
    mb = total / (1 << 20)
    print(
        f"---- transfers, ansible-core {version}: {COPIES} x 1 MB copy, "
        f"synchronize {mb:.0f} MB in {count} files",
        flush=True,
    )
    base = f"/tmp/{env.namespace}"

    def playbook_file(name: str, tree_: Path | None, copies: bool = True) -> Path:
        path = tmp / f"transfer-{name}.json"
        path.write_text(
            json.dumps(transfer_playbook(files, tree_, f"{base}/{name}", copies))
        )
        return path

    expect = 1 + COPIES + 1
    try:
        raw_copy = raw_stream_seconds(env, files, f"{base}/raw-copy")
        kp = bench.run(
            "kubepool transfers",
            KUBEPOOL,
            playbook_file("kubepool", tree),
            venv_bin,
            expect,
        )
        raw_tree = raw_stream_seconds(env, tree, f"{base}/raw-tree")
        floor = bench.run(
            "local (defaults) transfers",
            "local",
            playbook_file("floor", tree),
            venv_bin,
            expect,
        )
        floor_pl = bench.run(
            "local, pipelining on, transfers",
            "local",
            playbook_file("floor-pipelining", tree),
            venv_bin,
            expect,
            PIPELINING,
        )
        stock = bench.run(
            "stock copies",
            STOCK,
            playbook_file("stock", None),
            venv_bin,
            1 + COPIES,
        )
        stock_pl = bench.run(
            "stock copies, pipelining on",
            STOCK,
            playbook_file("stock-pipelining", None),
            venv_bin,
            1 + COPIES,
            PIPELINING,
        )
        ssh = bench.run(
            "SSH node transfers",
            "ssh",
            playbook_file("ssh", tree),
            venv_bin,
            expect,
            ssh=True,
        )
        # The stock plugin's synchronize, on a one-file tree: expected to fail.
        small = tmp / "small-tree"
        small.mkdir()
        (small / "one").write_text("one file\n")
        stock_sync = bench.run(
            "stock synchronize",
            STOCK,
            playbook_file("stock-sync", small, copies=False),
            venv_bin,
            2,
            expect_failure=True,
        )
    finally:
        # What the local-connection run wrote on this machine.
        shutil.rmtree(base, ignore_errors=True)
    if stock_sync is None:
        stock_sync_cell = "n/a (fails)"
    else:
        sync_took = stock_sync.durations.get("synchronize tree")
        stock_sync_cell = f"ran ({fmt_s(sync_took)} for one file)"
        print(f"stock synchronize on a kubectl host: ran, {stock_sync_cell}")

    def durations(run: PlaybookRun | None, name: str) -> float | None:
        return run.durations[name] if run else None

    copy = {
        "floor": durations(floor, "copy 1 MB"),
        "floor pipelining": durations(floor_pl, "copy 1 MB"),
        "kubepool": durations(kp, "copy 1 MB"),
        "stock": durations(stock, "copy 1 MB"),
        "stock pipelining": durations(stock_pl, "copy 1 MB"),
        "SSH": durations(ssh, "copy 1 MB"),
    }
    sync = {
        "floor": durations(floor, "synchronize tree"),
        "floor pipelining": durations(floor_pl, "synchronize tree"),
        "kubepool": durations(kp, "synchronize tree"),
        "SSH": durations(ssh, "synchronize tree"),
    }
    for label, value in copy.items():
        print(f"{COPIES} x 1 MB copy, {label:17} {with_rate(value, COPIES)}")
    print(f"raw kubepool exec tar, {COPIES} MB    {with_rate(raw_copy, COPIES)}")
    for label, value in sync.items():
        print(f"synchronize {mb:.0f} MB, {label:12} {with_rate(value, mb)}")
    print(f"raw kubepool exec tar, {mb:.0f} MB  {with_rate(raw_tree, mb)}")
    copy_floor = lowest(copy["floor"], copy["floor pipelining"])
    sync_floor = lowest(sync["floor"], sync["floor pipelining"])
    copy_throughput = throughput_cell(raw_copy, copy["kubepool"], copy_floor)
    sync_throughput = throughput_cell(raw_tree, sync["kubepool"], sync_floor)
    print(f"throughput copy / raw:        {copy_throughput}")
    print(f"throughput synchronize / raw: {sync_throughput}")
    print(
        f"kubepool / SSH: copies {fmt_ratio(copy['kubepool'], copy['SSH'])}, "
        f"synchronize {fmt_ratio(sync['kubepool'], sync['SSH'])}",
        flush=True,
    )
    return [
        {
            "part": f"{COPIES} × 1 MB copy, ansible-core {version}",
            "floor": fmt_s(copy["floor"]),
            "floor pipelining": fmt_s(copy["floor pipelining"]),
            "kubepool": with_rate(copy["kubepool"], COPIES),
            "stock": with_rate(copy["stock"], COPIES),
            "stock pipelining": with_rate(copy["stock pipelining"], COPIES),
            "SSH": with_rate(copy["SSH"], COPIES),
            "raw exec": with_rate(raw_copy, COPIES),
            "kubepool/floor": fmt_ratio(copy["kubepool"], copy_floor),
            "throughput/raw": copy_throughput,
            "kubepool/SSH": fmt_ratio(copy["kubepool"], copy["SSH"]),
        },
        {
            "part": f"synchronize {mb:.0f} MB / {count:,} files, ansible-core {version}",
            "floor": fmt_s(sync["floor"]),
            "floor pipelining": fmt_s(sync["floor pipelining"]),
            "kubepool": with_rate(sync["kubepool"], mb),
            "stock": stock_sync_cell,
            "stock pipelining": "n/a" if stock_sync is None else "–",
            "SSH": with_rate(sync["SSH"], mb),
            "raw exec": with_rate(raw_tree, mb),
            "kubepool/floor": fmt_ratio(sync["kubepool"], sync_floor),
            "throughput/raw": sync_throughput,
            "kubepool/SSH": fmt_ratio(sync["kubepool"], sync["SSH"]),
        },
    ]


COLUMNS = [
    ("part", "part"),
    ("floor", "local (defaults)"),
    ("floor pipelining", "local, pipelining on"),
    ("kubepool", "kubepool"),
    ("stock", "stock, defaults"),
    ("stock pipelining", "stock, pipelining on"),
    ("SSH", "SSH node"),
    ("raw exec", "raw `kubepool exec`"),
    (
        "kubepool/floor",
        f"kubepool / floor: the lower local (target ≤ {FLOOR_TARGET:.2f})",
    ),
    ("throughput/raw", f"throughput / raw exec (target ≥ {THROUGHPUT_TARGET:.2f})"),
    ("kubepool/SSH", f"kubepool / SSH time (target ≤ {SSH_TARGET:.2f})"),
]


def markdown(rows: list[dict[str, str]], header: list[str]) -> str:
    lines = [*header, ""]
    lines.append("| " + " | ".join(title for _, title in COLUMNS) + " |")
    lines.append("|" + "|".join(" --- " for _ in COLUMNS) + "|")
    for row in rows:
        lines.append("| " + " | ".join(row[key] for key, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    started = time.monotonic()
    cluster = Cluster(
        kubectl=required_env("KUBEPOOL_TEST_KUBECTL"),
        kubeconfig=required_env("KUBECONFIG"),
        image=required_env("KUBEPOOL_TEST_IMAGE"),
        kubepool=kubepool_binary(),
    )
    versions = [(core_version(VENV_BIN), VENV_BIN)]
    venv_219 = ansible_219_venv_bin()
    versions.append((core_version(venv_219), venv_219))
    transfer_version = os.environ.get("BENCH_TRANSFER_ANSIBLE", "2.18")
    transfer = next(
        ((v, b) for v, b in versions if v.startswith(transfer_version + ".")), None
    )
    if transfer is None:
        raise SystemExit(f"BENCH_TRANSFER_ANSIBLE={transfer_version}: no such venv")
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="kubepool-bench-"))
    env = make_pod_env(cluster, tmp, ["main"])
    rows: list[dict[str, str]] = []
    failures: list[str] = []
    try:
        collections = install_collection(tmp, tmp / "collections")
        with ssh_node(
            cluster.kubepool, cluster.kubectl, cluster.image, tmp / "ssh-node"
        ) as node:
            print(
                f"SSH node {node.username}@{node.address}:{node.port} "
                f"(namespace {node.namespace}) ready {node.launch_seconds:.1f} s after its request",
                flush=True,
            )
            bench = Bench(env, tmp, collections, node, failures)
            for version, venv_bin in versions:
                rows.append(small_tasks(bench, version, venv_bin))
            rows += transfers(bench, *transfer)
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        # What the local-connection runs touched on this machine.
        for touched in Path("/tmp").glob(f"{env.namespace}-bench-*"):
            touched.unlink()
    load_after = os.getloadavg()
    header = [
        "# kubepool's Ansible connection: benchmark (tests/bench/ansible_connection.py)",
        "",
        (
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after; kubepool {cluster.kubepool}; "
            f"run took {time.monotonic() - started:.0f} s."
        ),
        (
            f"Times are one ansible-playbook's wall time ({TASKS} tasks"
            + (f", the lowest of {REPEAT} runs" if REPEAT > 1 else "")
            + ") or the sum of the tasks' "
            "own durations (copies, synchronize); ratios of times are measured in this run. "
            "The floor is the lower of the two `local` runs (Ansible's own cost); throughput "
            "/ raw exec is raw exec's time over kubepool's, the floor's beside it."
        ),
    ]
    table = markdown(rows, header)
    out = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target") / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ansible_connection.md").write_text(table)
    print("---- summary (also in " + str(out / "ansible_connection.md") + ")")
    print(table, flush=True)
    if failures:
        print(f"FAILED runs: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
