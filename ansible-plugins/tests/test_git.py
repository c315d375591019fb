"""Git over exec: ``git push --mirror`` of a repository with 1,000 commits into a pod through
git's ``ext::`` remote helper running ``kubepool exec -i <pod> -- %S <dest>`` (what zuul-jobs'
prepare-workspace-git does with kubectl), into the pod's first container and into a sidecar
whose ``emptyDir`` every container of the pod mounts; ``git fsck`` clean in the pod."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cluster, PodEnv, make_pod_env

COMMITS = 1000


@pytest.fixture(scope="module")
def sidecar_pod(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PodEnv]:
    env = make_pod_env(
        cluster, tmp_path_factory.mktemp("git"), ["main", "git"], shared="/src"
    )
    try:
        yield env
    finally:
        cluster.run("delete", "namespace", env.namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with 1,000 commits on main (each changing a file) and a tag."""
    path = tmp_path_factory.mktemp("repo")
    git = ["git", "-C", str(path)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    stream = []
    for i in range(1, COMMITS + 1):
        content = f"commit {i}\n".encode() + os.urandom(64).hex().encode() + b"\n"
        message = f"change {i}\n".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(
            f"committer Test <test@example.com> {1700000000 + i} +0000\n".encode()
        )
        stream.append(f"data {len(message)}\n".encode() + message)
        stream.append(
            f"M 100644 inline file-{i % 50}.txt\ndata {len(content)}\n".encode()
            + content
            + b"\n"
        )
    subprocess.run([*git, "fast-import", "--quiet"], input=b"".join(stream), check=True)
    subprocess.run([*git, "tag", "v1", "main~10"], check=True)
    subprocess.run([*git, "checkout", "-q", "main"], check=True)
    return path


def head(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def in_pod(
    env: PodEnv, container: str, script: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(env.cluster.kubepool),
            "exec",
            "--kubeconfig",
            str(env.kubeconfig),
            "--context",
            env.context,
            "--agent-socket",
            str(env.agent_socket),
            "-c",
            container,
            env.pod,
            "--",
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBEPOOL_AGENT_IDLE_SECONDS": "30"},
    )


def push(
    env: PodEnv, repo: Path, container: str, dest: str
) -> subprocess.CompletedProcess[str]:
    prepared = in_pod(
        env,
        container,
        f"git init -q -b main {dest} && git -C {dest} config receive.denyCurrentBranch ignore",
    )
    assert prepared.returncode == 0, prepared.stderr
    remote = f"ext::{env.cluster.kubepool} exec --context {env.context} -c {container} -i {env.pod} -- %S {dest}"
    environment = dict(os.environ)
    environment.update(
        {
            "GIT_ALLOW_PROTOCOL": "ext",
            "KUBECONFIG": str(env.kubeconfig),
            "KUBEPOOL_AGENT_SOCKET": str(env.agent_socket),
            "KUBEPOOL_AGENT_IDLE_SECONDS": "30",
        }
    )
    return subprocess.run(
        ["git", "-C", str(repo), "push", "--mirror", remote],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=300,
    )


def check_repo(env: PodEnv, container: str, dest: str, expected_head: str) -> None:
    result = in_pod(
        env,
        container,
        f"cd {dest} && git reset -q --hard main && git fsck --full --strict 2>&1 && "
        "git rev-parse main && git rev-list --count main && git rev-parse v1 && cat file-7.txt | head -1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.split("\n")
    assert expected_head in lines, result.stdout
    assert str(COMMITS) in lines, result.stdout
    assert "commit 957" in lines, (
        result.stdout
    )  # file-7.txt was last changed by commit 957


def test_git_push_mirror_into_the_pod(sidecar_pod: PodEnv, repo: Path) -> None:
    result = push(sidecar_pod, repo, "main", "/home/repo")
    assert result.returncode == 0, result.stderr
    check_repo(sidecar_pod, "main", "/home/repo", head(repo))


def test_git_push_mirror_into_a_sidecar_seen_by_every_container(
    sidecar_pod: PodEnv, repo: Path
) -> None:
    result = push(sidecar_pod, repo, "git", "/src/repo")
    assert result.returncode == 0, result.stderr
    # Pushed through the sidecar, checked out and verified in the other container.
    check_repo(sidecar_pod, "main", "/src/repo", head(repo))
    # And a second push (nothing new) is quick and clean.
    again = push(sidecar_pod, repo, "git", "/src/repo")
    assert again.returncode == 0 and "Everything up-to-date" in again.stderr, (
        again.stderr
    )
