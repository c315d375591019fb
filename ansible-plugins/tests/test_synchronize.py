"""zuul-jobs' `synchronize` calls (prepare-workspace's push, fetch-output's pull) in a real
ansible-playbook against a pod with kubepool's connection plugin, through the stock
`synchronize` module name: a tree with symlinks, modes, a binary file and a name with spaces is
pushed, mirrored with `delete: true`, and pulled back; each side's manifest (kind, permission
bits, sha256 or link target of every path) must be equal. Without rsync in the pod the task
fails with an error that says so."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from ansible_run import KUBEPOOL, PlaybookRun, run_playbook
from conftest import PodEnv
from manifest import manifest

MANIFEST_SCRIPT = Path(__file__).parent / "manifest.py"


def make_tree(root: Path) -> None:
    project = root / "opendev.org/org/project"
    (project / "sub/deep").mkdir(parents=True)
    (project / "README").write_text("a project\n")
    (project / "data.bin").write_bytes(os.urandom(300 * 1024) + bytes(range(256)))
    (project / "run.sh").write_text("#!/bin/sh\necho run\n")
    (project / "run.sh").chmod(0o755)
    (project / "secret").write_text("private\n")
    (project / "secret").chmod(0o600)
    (project / "sub/deep/file with spaces.txt").write_text("spaces\n")
    (project / "link").symlink_to("README")
    (project / "dirlink").symlink_to("sub/deep")
    (project / "empty").mkdir()
    (project / "empty").chmod(0o750)
    (project / "gone.txt").write_text("removed in v2\n")
    (project / "changed.txt").write_text("version 1\n")


def change_tree(root: Path) -> None:
    project = root / "opendev.org/org/project"
    (project / "gone.txt").unlink()
    (project / "changed.txt").write_text("version 2, longer\n")
    old = time.time() - 3600
    os.utime(project / "changed.txt", (old, old))
    (project / "new.txt").write_text("added in v2\n")
    (project / "run.sh").chmod(0o700)


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("trees")
    v1 = base / "v1/src"
    make_tree(v1)
    v2 = base / "v2/src"
    shutil.copytree(v1, v2, symlinks=True)
    change_tree(v2)
    return v1, v2


@pytest.fixture(scope="module")
def run(
    pod_env: PodEnv,
    trees: tuple[Path, Path],
    collections_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[PlaybookRun, Path]:
    v1, v2 = trees
    tmp = tmp_path_factory.mktemp("sync")
    work_root = tmp / "work"
    log_path = work_root / "logs"
    for path in (log_path, work_root / "artifacts", work_root / "docs"):
        path.mkdir(parents=True)
    extra = {
        "manifest_script": str(MANIFEST_SCRIPT),
        "workspace": "/tmp/ws",
        "src_root": str(v1),
        "src_root_v2": str(v2),
        "zuul_output_dir": "/tmp/ws/zuul-output",
        "log_path": str(log_path),
        "work_root": str(work_root),
        "fetch_output_rsync_opts": [],
    }
    return (
        run_playbook(
            pod_env, KUBEPOOL, "synchronize.yml", tmp, collections_path, extra
        ),
        work_root,
    )


def test_push_keeps_bytes_modes_and_symlinks(
    run: tuple[PlaybookRun, Path], trees: tuple[Path, Path]
) -> None:
    playbook, _ = run
    assert playbook.returncode == 0, (playbook.stderr, playbook.tasks[-1])
    push = playbook.result("Synchronize src repos to workspace directory.")
    assert push["changed"] is True and "kubepool" in push["cmd"], push
    expected = manifest(str(trees[0]))
    assert expected["opendev.org/org/project/link"] == ["link", "README"]
    assert json.loads(playbook.result("pushed")["stdout"]) == expected


def test_push_with_delete_mirrors_the_tree(
    run: tuple[PlaybookRun, Path], trees: tuple[Path, Path]
) -> None:
    playbook, _ = run
    pod = json.loads(playbook.result("mirrored")["stdout"])
    assert pod == manifest(str(trees[1]))
    assert "opendev.org/org/project/gone.txt" not in pod
    assert pod["opendev.org/org/project/run.sh"][1] == "0o700"


def test_the_collection_action_name_works_too(run: tuple[PlaybookRun, Path]) -> None:
    playbook, _ = run
    by_name = playbook.result("by the collection's action name")
    assert by_name.get("failed") is not True and by_name["changed"] is True, by_name


def test_fetch_output_pull_brings_the_files_back(
    run: tuple[PlaybookRun, Path], trees: tuple[Path, Path]
) -> None:
    playbook, work_root = run
    pulls = playbook.result("Collect logs, artifacts and docs")["results"]
    assert [p.get("failed", False) for p in pulls] == [False, False, False], pulls
    assert manifest(str(work_root / "logs")) == manifest(str(trees[1]))
    assert (work_root / "artifacts/a.txt").read_text() == "artifact\n"
    assert list((work_root / "docs").iterdir()) == []


def test_a_pod_without_rsync_gets_a_clear_error(
    pod_env: PodEnv,
    run: tuple[PlaybookRun, Path],
    trees: tuple[Path, Path],
    collections_path: Path,
    tmp_path: Path,
) -> None:
    exec_ = ["-n", pod_env.namespace, "exec", pod_env.pod, "--", "sh", "-c"]
    pod_env.cluster.run(*exec_, "mv /usr/bin/rsync /usr/bin/rsync.off")
    try:
        result = run_playbook(
            pod_env,
            KUBEPOOL,
            "synchronize_no_rsync.yml",
            tmp_path,
            collections_path,
            {"src_root": str(trees[0])},
        )
    finally:
        pod_env.cluster.run(*exec_, "mv /usr/bin/rsync.off /usr/bin/rsync")
    assert result.returncode != 0
    failed = result.result("push without rsync in the pod")
    assert failed["failed"] is True
    assert "has no rsync on its PATH" in failed["msg"] and "pod node" in failed["msg"]
