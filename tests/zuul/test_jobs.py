"""Zuul builds on kubepool nodes, through the real Zuul of harness.py and jobs-library/.

Each test pushes to a branch of demo-project (git driver: a push is a ref-updated event, the
`post` pipeline runs the project's jobs) and asserts from the build's result in Zuul's
database (zuul-web's API), its job-output.txt and its log directory.
"""

from __future__ import annotations

from harness import Zuul, git


def branch_commit(z: Zuul, branch: str, files: dict[str, str], message: str) -> str:
    clone = z.demo
    git(clone, "fetch", "-q", "origin")
    git(clone, "checkout", "-q", "-B", branch, "origin/master")
    z.commit(clone, files, message)
    return z.push(clone, branch)


def test_pep8_on_a_pod_passes_clean_and_fails_on_a_pep8_error(zuul: Zuul) -> None:
    """Must-show 1: `command: tox -e pep8` in a pod node, prepared by kubepool-base."""
    clean = branch_commit(
        zuul, "clean", {"demo/good.py": '"""Clean."""\n\nVALUE = 1\n'}, "A clean change"
    )
    bad = branch_commit(
        zuul,
        "pep8-error",
        {"demo/bad.py": "import os\nVALUE=1\n"},
        "A change with pep8 errors",
    )

    good_build = zuul.wait_build("demo-pep8", clean)
    out = zuul.job_output(good_build)
    assert good_build["result"] == "SUCCESS", out[-4000:]
    assert "tox -e pep8" in out
    assert "pep8: commands succeeded" in out, out[-4000:]

    bad_build = zuul.wait_build("demo-pep8", bad)
    out = zuul.job_output(bad_build)
    assert bad_build["result"] == "FAILURE", out[-4000:]
    # flake8 ran on the pushed commit's content inside the pod
    assert "demo/bad.py:1:1: F401 'os' imported but unused" in out, out[-4000:]
    assert "demo/bad.py:2:6: E225" in out, out[-4000:]


def test_fetch_output_per_host(zuul: Zuul) -> None:
    """Must-show 4: each pod's ~/zuul-output/logs lands in the build's logs under its name."""
    newrev = branch_commit(
        zuul, "output", {"demo/output.py": '"""Output."""\n'}, "Output"
    )
    build = zuul.wait_build("demo-output", newrev)
    assert build["result"] == "SUCCESS", zuul.job_output(build)[-4000:]
    logs = zuul.job_dir(build) / "work/logs"
    for host in ("first", "second"):
        assert (logs / host / "hello.txt").read_text() == f"written by {host}\n"
        # the pod held the exact state Zuul prepared for this ref update
        assert (logs / host / "head.txt").read_text().strip() == newrev


def test_namespace_node_uses_zuul_resources(zuul: Zuul) -> None:
    """Must-show 2 (namespace part): kubepool-base on a node with no pod and no host."""
    newrev = branch_commit(
        zuul, "namespace", {"demo/ns.py": '"""Namespace."""\n'}, "Ns"
    )
    build = zuul.wait_build("demo-namespace", newrev)
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    assert f"holds build {build['uuid']}" in out, out[-4000:]
