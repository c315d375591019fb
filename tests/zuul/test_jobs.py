"""Zuul builds on kubepool nodes, through the real Zuul of harness.py and jobs-library/.

Every change is pushed at once (module fixture ``pushed``) so that the builds run side by side;
each test then waits for its own. The git driver has refs, not reviews: a push to a branch of
demo-project is a ref-updated event and the `post` pipeline runs that branch's job. Assertions
come from the build's result in Zuul's database (zuul-web's API), its job-output.txt and its
log directory.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from harness import LIVE_MARKERS, Zuul, git, registry_branch_config

CHANGES = {
    "clean": ({"demo/good.py": '"""Clean."""\n\nVALUE = 1\n'}, "A clean change"),
    "pep8-error": (
        {"demo/bad.py": "import os\nVALUE=1\n"},
        "A change with pep8 errors",
    ),
    "ssh": ({"demo/ssh.py": '"""SSH."""\n'}, "A clean change for the SSH node"),
    "output": ({"demo/output.py": '"""Output."""\n'}, "Output"),
    "namespace": ({"demo/ns.py": '"""Namespace."""\n'}, "Namespace"),
    "sidecar": ({"demo/sidecar.py": '"""Sidecar."""\n'}, "Sidecar"),
    "cut": ({"demo/cut.py": '"""Cut."""\n'}, "Cut"),
    "nopython": ({"demo/nopython.py": '"""No Python."""\n'}, "No Python"),
    "tox": ({"demo/tox.py": '"""Tox."""\n'}, "Tox"),
    "pod-layers": ({"demo/layers.py": '"""Layers."""\n'}, "Pod layers"),
    # (its .zuul.yaml additions are made once Zuul is up: registry_change)
    "registry": ({}, "Buildset registry"),
}


def registry_change(zuul: Zuul, clone: Path) -> dict[str, str | bytes]:
    """The `registry` branch's change: the buildset registry jobs, with the test bed's
    buildset-registry CA as a secret encrypted for demo-project."""
    ca = os.environ["KUBEPOOL_TEST_REGISTRY_CA"]
    config = registry_branch_config(
        Path(f"{ca}.crt").read_text(),
        zuul.encrypt("demo-project", Path(f"{ca}.key").read_text()),
        zuul.buildset_image,
    )
    return {".zuul.yaml": (clone / ".zuul.yaml").read_text() + config}


@pytest.fixture(scope="module")
def pushed(zuul: Zuul) -> dict[str, str]:
    """Each branch of CHANGES gets its commit pushed; returns branch -> new revision."""
    clone = zuul.demo
    revs = {}
    for branch, (files, message) in CHANGES.items():
        git(clone, "checkout", "-q", "-B", branch, "origin/master")
        if branch == "registry":
            files = registry_change(zuul, clone)
        zuul.commit(clone, files, message)
        revs[branch] = zuul.push(clone, branch)
    return revs


def test_pep8_on_a_pod_passes_clean_and_fails_on_a_pep8_error(
    zuul: Zuul, pushed: dict[str, str]
) -> None:
    """Must-show 1: `command: tox -e pep8` in a pod node, prepared by kubepool-base.

    The playbook is the seed's, with no `chdir`: tox finds the project's tox.ini only because
    the job's parent kubepool-project starts pod tasks in the project's source directory
    (`kubepool_workdir`, read by kubepool's connection plugin on the executor).
    """
    good_build = zuul.wait_build("demo-pep8", pushed["clean"])
    out = zuul.job_output(good_build)
    assert good_build["result"] == "SUCCESS", out[-4000:]
    assert "tox -e pep8" in out
    # the live log of the pod (zuul_console, Zuul's port-forward through the kubectl wrapper,
    # i.e. kubepool port-forward) reached job-output.txt
    assert "pep8: commands succeeded" in out, out[-4000:]
    assert "kubepool port-forward" in zuul.kubectl_log.read_text().splitlines()
    # the workspace went in (and the output came out) through kubepool's trusted exec
    assert "pod commands run with: kubepool exec --no-agent" in out, out[-4000:]

    bad_build = zuul.wait_build("demo-pep8", pushed["pep8-error"])
    out = zuul.job_output(bad_build)
    assert bad_build["result"] == "FAILURE", out[-4000:]
    # flake8 ran on the pushed commit's content inside the pod
    assert "demo/bad.py:1:1: F401 'os' imported but unused" in out, out[-4000:]
    assert "demo/bad.py:2:6: E225" in out, out[-4000:]


def test_pep8_on_an_ssh_node(zuul: Zuul, pushed: dict[str, str]) -> None:
    """Must-show 2 (SSH part): the same base job and playbook on kubepool's SSHD pod label."""
    build = zuul.wait_build("demo-ssh", pushed["ssh"])
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    assert "pep8: commands succeeded" in out, out[-4000:]


def test_namespace_node_uses_zuul_resources(zuul: Zuul, pushed: dict[str, str]) -> None:
    """Must-show 2 (namespace part): kubepool-base on a node with no pod and no host."""
    build = zuul.wait_build("demo-namespace", pushed["namespace"])
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    assert f"holds build {build['uuid']}" in out, out[-4000:]
    # namespace-logs (kubepool-base's post-run) listed what the namespace held
    resources = (zuul.job_dir(build) / "work/logs/ns/resources.txt").read_text()
    assert "configmap/from-zuul" in resources, resources
    assert (zuul.job_dir(build) / "work/logs/ns/events.txt").exists()


@pytest.mark.parametrize(
    ("job", "branch"),
    [
        ("demo-output", "output"),
        # kubepool-pod: the same pod layers under the site's own base job (tests/zuul/site)
        ("demo-pod-layers", "pod-layers"),
    ],
)
def test_fetch_output_per_host(
    zuul: Zuul, pushed: dict[str, str], job: str, branch: str
) -> None:
    """Must-show 4: each pod's ~/zuul-output/logs lands in the build's logs under its name."""
    newrev = pushed[branch]
    build = zuul.wait_build(job, newrev)
    assert build["result"] == "SUCCESS", zuul.job_output(build)[-4000:]
    logs = zuul.job_dir(build) / "work/logs"
    for host in ("first", "second"):
        assert (logs / host / "hello.txt").read_text() == f"written by {host}\n"
        # the pod held the exact state Zuul prepared for this ref update
        assert (logs / host / "head.txt").read_text().strip() == newrev
        # the playbook's task ran through kubepool exec: the executor's `kubectl` connection
        # is kubepool's plugin (deploy/zuul-executor/install.sh)
        exec_txt = (logs / host / "exec.txt").read_text()
        assert exec_txt == "under the kubepool exec supervisor: yes\n", exec_txt


def test_a_sidecar_sees_the_state_pushed_once(
    zuul: Zuul, pushed: dict[str, str]
) -> None:
    """Must-show 3: a pod with a sidecar and a shared emptyDir; prepare-workspace pushes the
    speculative state once (into the first container) and both containers see it."""
    newrev = pushed["sidecar"]
    build = zuul.wait_build("demo-sidecar", newrev)
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    heads = (zuul.job_dir(build) / "work/logs/pod/heads.txt").read_text()
    assert heads == f"main {newrev}\nsidecar {newrev}\n", heads
    pushes = [
        line
        for line in out.splitlines()
        if "Push the speculative git state into the pod" in line
    ]
    assert len(pushes) == 1, pushes


def test_a_dropped_api_connection_during_a_pod_task(
    zuul: Zuul, pushed: dict[str, str]
) -> None:
    """Must-show 6: every API connection of the node (the executor's exec, its console
    forward) is cut while a 20 s task runs; the build still gets the task's real result."""
    build = zuul.wait_build("demo-cut", pushed["cut"])
    out = zuul.job_output(build)
    assert zuul.cut_proxy is not None and zuul.cut_proxy.cuts == 1, "the cut happened"
    assert build["result"] == "SUCCESS", out[-4000:]
    cut = (zuul.job_dir(build) / "work/logs/pod/cut.txt").read_text()
    assert cut == "rc 7 lines 20 last tick 20\n", cut


def test_live_log_from_a_pod_without_python(zuul: Zuul, pushed: dict[str, str]) -> None:
    """Must-show 5: a task printing a line a second in an image without Python. kubepool's
    plugin runs the command (Zuul's command module cannot start there) and writes its console
    log on the executor; the kubectl wrapper serves it on the port Zuul forwards for the pod.
    The lines reach job-output.txt while the task runs."""
    build = zuul.wait_build("demo-nopython", pushed["nopython"])
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    assert "no python here" in out, out[-4000:]
    first, last = LIVE_MARKERS
    # job-output.txt had the first line seconds before the last (a log written at the task's
    # end gets them all at once)
    seen = zuul.first_seen
    assert first in seen and last in seen, (seen, out[-4000:])
    assert seen[last] - seen[first] > 4, seen
    # each line carries the time it was written, a second apart
    stamps = [
        line.split(" | ", 1)[0]
        for line in out.splitlines()
        if line.endswith(LIVE_MARKERS)
    ]
    assert len(stamps) == 2, out[-4000:]
    start, end = (datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f") for s in stamps)
    assert (end - start).total_seconds() > 5, stamps
    # no zuul_console daemon in the pod: the executor served the console
    assert "kubepool port-forward" in zuul.kubectl_log.read_text().splitlines()
    lines = out.splitlines()
    (start,) = [
        i for i, line in enumerate(lines) if "Start zuul_console on the node" in line
    ]
    assert lines[start + 1].endswith(
        "| pod | skipping: Conditional result was False"
    ), lines[start : start + 3]
    # every console stream ended with Zuul's exit code line
    assert "Log Stream did not terminate" not in out, out[-4000:]


def test_the_kubepool_tox_example_job(zuul: Zuul, pushed: dict[str, str]) -> None:
    """jobs-library's kubepool-tox, given only a pod label and tox_envlist."""
    build = zuul.wait_build("demo-tox", pushed["tox"])
    out = zuul.job_output(build)
    assert build["result"] == "SUCCESS", out[-4000:]
    assert "Run tox -e pep8" in out, out[-4000:]
    assert "pep8: commands succeeded" in out, out[-4000:]


def fields(path: Path) -> dict[str, str]:
    """`key value` lines of a file a job wrote."""
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def test_a_buildset_registry_serves_its_child_and_the_kubelet(
    zuul: Zuul, pushed: dict[str, str]
) -> None:
    """Must-show 7: the parent (kubepool-buildset-registry, a namespace node) runs zuul-registry,
    builds an image with buildah in a pod of its namespace, pushes it and pauses. The child, on
    a buildset pod node, is in the same namespace: skopeo finds the image there, and a pod
    started from it is pulled by the kubelet through the registry's Service address (the
    registry's certificate is signed by the CA the test bed's containerd trusts, given to the
    parent as a Zuul secret). When the buildset ends, its namespace is gone."""
    newrev = pushed["registry"]
    child = zuul.wait_build("demo-registry-child", newrev)
    parent = zuul.wait_build("demo-registry", newrev)
    child_out, parent_out = zuul.job_output(child), zuul.job_output(parent)
    assert parent["result"] == "SUCCESS", parent_out[-4000:]
    assert child["result"] == "SUCCESS", child_out[-4000:]
    # the parent paused until its child was done
    assert "Job paused" in parent_out, parent_out[-4000:]
    assert child["end_time"] <= parent["end_time"], (child, parent)

    pushed_by_parent = fields(zuul.job_dir(parent) / "work/logs/registry.txt")
    found = fields(zuul.job_dir(child) / "work/logs/pod/found.txt")
    namespace, digest = pushed_by_parent["namespace"], pushed_by_parent["digest"]
    assert digest.startswith("sha256:"), pushed_by_parent
    # the child's pod is in the parent's namespace; skopeo found the pushed image there, and
    # use-buildset-registry gave it the registry's credentials
    assert found == {"namespace": namespace, "digest": digest, "login": "zuul"}, found
    # the kubelet pulled the image from the registry's Service address
    hello = fields(zuul.job_dir(child) / "work/logs/hello.txt")
    assert hello["log"] == f"built by build {parent['uuid']}", hello
    image = pushed_by_parent["image"]
    assert hello["image-id"] == f"{image.rsplit(':', 1)[0]}@{digest}", (hello, image)

    # the buildset's end returned the parent's node: its namespace (registry, builder, the
    # child's pods) goes
    deadline = time.monotonic() + 120
    while True:
        got = subprocess.run(
            [zuul.kubectl, "get", "namespace", namespace, "-o", "name"],
            check=False,
            capture_output=True,
            text=True,
        )
        if got.returncode != 0 and "NotFound" in got.stderr:
            break
        assert time.monotonic() < deadline, f"namespace {namespace} still exists"
        time.sleep(1)
