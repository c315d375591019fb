"""A real ansible-playbook with kubepool's connection plugin against a pod of the test image:
command, shell, copy of a 50 MB binary file, fetch, template, file, a failing task and a 5 MB
stdout (over the pod's persistent channel once the agent has opened it); then the same playbook with the
stock kubernetes.core.kubectl gives the same results."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from ansible_run import KUBEPOOL, STOCK, PlaybookRun, run_playbook
from conftest import PodEnv

BIG = 50 * 1024 * 1024


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    # Random bytes, including NULs and every byte value, not text.
    with path.open("wb") as handle:
        for _ in range(BIG // (1 << 20)):
            handle.write(__import__("os").urandom(1 << 20))
    return path


@pytest.fixture(scope="module")
def runs(
    pod_env: PodEnv,
    big_file: Path,
    collections_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[PlaybookRun, Path]]:
    out = {}
    for name, connection in (("kubepool", KUBEPOOL), ("stock", STOCK)):
        tmp = tmp_path_factory.mktemp(name)
        fetch_dir = tmp / "fetched"
        fetch_dir.mkdir()
        extra = {
            "work": f"/tmp/work-{name}",
            "big_file": str(big_file),
            "fetch_dir": str(fetch_dir),
        }
        out[name] = (
            run_playbook(
                pod_env, connection, "tasks.yml", tmp, collections_path, extra
            ),
            fetch_dir,
        )
    return out


def summary(run: PlaybookRun) -> dict[str, dict[str, Any]]:
    """What a task reports, without what differs between any two runs (timings, paths, tmp)."""
    keep = (
        "rc",
        "stdout",
        "stderr",
        "failed",
        "changed",
        "checksum",
        "md5sum",
        "size",
        "mode",
        "state",
        "msg",
    )
    out = {}
    for name, result in run.tasks:
        entry = {key: result.get(key) for key in keep if key in result}
        if "stat" in result:
            entry["stat"] = {
                k: result["stat"].get(k) for k in ("exists", "size", "checksum", "mode")
            }
        for key in ("msg",):
            if isinstance(entry.get(key), str):
                entry[key] = entry[key].replace("kubepool", "X").replace("stock", "X")
        out[name] = entry
    return out


def test_kubepool_plugin_runs_every_task(
    runs: dict[str, tuple[PlaybookRun, Path]], big_file: Path
) -> None:
    run, fetch_dir = runs["kubepool"]
    assert run.returncode == 0, run.stderr
    assert run.result("command")["stdout"] == "hello from the pod"
    shell = run.result("shell")
    assert (shell["stdout"], shell["stderr"], shell["rc"]) == ("out\n2", "err", 0)
    assert (
        run.result("file")["state"] == "directory"
        and run.result("file")["mode"] == "0750"
    )
    copy = run.result("copy")
    assert copy["changed"] is True and copy["size"] == BIG
    stat = run.result("checksum")["stat"]
    assert stat["size"] == BIG and stat["checksum"] == sha256(big_file)
    assert run.result("read template")["stdout"] == "Hello node in pod node: 42"
    assert sha256(fetch_dir / "big.bin") == sha256(big_file)
    failing = run.result("failing")
    assert failing["failed"] is True and failing["rc"] == 3
    assert (failing["stdout"], failing["stderr"]) == ("failing", "to stderr")
    big = run.result("big stdout")["stdout"]
    assert len(big) == 5 * 1024 * 1024 - 1  # (Ansible strips the last newline)
    assert big.split("\n") == [f"{i:063d}" for i in range(1, 81921)]


def test_stock_kubectl_plugin_gives_the_same_results(
    runs: dict[str, tuple[PlaybookRun, Path]], big_file: Path
) -> None:
    stock, stock_fetch = runs["stock"]
    kubepool, _ = runs["kubepool"]
    assert stock.returncode == 0, stock.stderr
    assert sha256(stock_fetch / "big.bin") == sha256(big_file)
    differing = {
        name: (result, summary(kubepool).get(name))
        for name, result in summary(stock).items()
        if result != summary(kubepool).get(name)
    }
    assert not differing, differing
