"""deploy/zuul-executor/install.sh and its `kubectl` wrapper, with the real kubectl and kubepool.

The wrapper sends `port-forward` and `exec` (wherever the options put them) to kubepool and
everything else to the real kubectl. A kubeconfig that does not exist makes each program fail
at once with its own message, so which one ran is plain without a cluster.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, VENV_BIN, PodEnv, free_port, kubepool_binary, required_env

INSTALL = ROOT / "deploy/zuul-executor/install.sh"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("executor")
    plugin_dir, bin_dir = base / "connection", base / "bin"
    subprocess.run(
        [
            "sh",
            str(INSTALL),
            "--plugin-dir",
            str(plugin_dir),
            "--bin-dir",
            str(bin_dir),
            "--kubectl",
            required_env("KUBEPOOL_TEST_KUBECTL"),
            "--kubepool",
            str(kubepool_binary()),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return {
        "plugin_dir": plugin_dir,
        "kubectl": bin_dir / "kubectl",
        "log": base / "calls.log",
    }


def run(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KUBEPOOL_KUBECTL_LOG": str(installed["log"])}
    return subprocess.run(
        [str(installed["kubectl"]), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_plugin_is_installed_as_kubectl(installed: dict[str, Path]) -> None:
    plugin = (installed["plugin_dir"] / "kubectl.py").read_text()
    source = (ROOT / "ansible-plugins/plugins/connection/kubectl.py").read_text()
    assert plugin == source


def test_ansible_resolves_kubectl_to_the_installed_plugin(
    installed: dict[str, Path],
) -> None:
    """The shadow: with the directory on ANSIBLE_CONNECTION_PLUGINS, `kubectl` is kubepool's
    plugin, not Ansible's redirect to kubernetes.core.kubectl (and its documentation parses)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "ANSIBLE_CONNECTION_PLUGINS": str(installed["plugin_dir"]),
    }
    doc = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "-t", "connection", "--json", "kubectl"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    assert "kubepool exec" in doc.stdout, doc.stdout[:2000]
    assert '"kubepool_workdir"' in doc.stdout


def test_port_forward_and_exec_go_to_kubepool_wherever_the_options_put_them(
    installed: dict[str, Path],
) -> None:
    missing = "--kubeconfig=/nonexistent/kubeconfig"
    # Zuul's KubeFwd: options first, `-n` with a separate value.
    forward = run(
        installed,
        missing,
        "--context=c",
        "-n",
        "exec",
        "port-forward",
        "pod/p",
        "0:19885",
    )
    # git's ext:: transport and job shell tasks: `kubectl exec` with its options.
    exec_ = run(installed, "exec", missing, "-i", "p", "--", "true")
    calls = installed["log"].read_text().splitlines()
    assert calls == ["kubepool port-forward", "kubepool exec"], calls
    assert forward.returncode != 0 and "kubepool" in forward.stderr, forward.stderr
    assert "nonexistent" in forward.stderr, forward.stderr
    assert exec_.returncode == 255 and exec_.stderr.startswith("kubepool exec:"), (
        exec_.stderr
    )


def test_everything_else_goes_to_the_real_kubectl(installed: dict[str, Path]) -> None:
    before = installed["log"].read_text() if installed["log"].exists() else ""
    version = run(installed, "version", "--client", "-o", "json")
    assert version.returncode == 0, version.stderr
    assert '"clientVersion"' in version.stdout
    # a namespace named like a subcommand is an option's value, not the subcommand
    get = run(
        installed, "-n", "port-forward", "--kubeconfig=/nonexistent/k", "get", "pods"
    )
    assert get.returncode != 0 and "kubepool" not in get.stderr, get.stderr
    after = installed["log"].read_text() if installed["log"].exists() else ""
    assert after == before, "kubepool was not called"


def test_a_zuul_builds_console_port_is_served_from_its_job_dir(
    installed: dict[str, Path], pod_env: PodEnv, tmp_path: Path
) -> None:
    """Zuul's KubeFwd of a build (`--kubeconfig=<job dir>/kube/config ... port-forward pod/<pod>
    <p1>:19885 <p2>:19886`): the wrapper serves <p1> from <job dir>/work/.kubepool-console,
    where kubepool's connection plugin writes the build's console logs; <p2> still goes to the
    pod."""
    job = tmp_path / "builds/0123abcd"
    (job / "kube").mkdir(parents=True)
    console = job / "work/.kubepool-console"
    console.mkdir(parents=True)
    shutil.copy(pod_env.kubeconfig, job / "kube/config")
    log_id = "f00d-1-pod"
    (console / f"console-{log_id}.log").write_text(
        "2026-12-07 10:00:00.000001 | from the job dir\n"
        "2026-12-07 10:00:00.000002 | [Zuul] Task exit code: 0\n"
    )
    p1, p2 = free_port(), free_port()
    env = {"PATH": "/usr/bin:/bin", "KUBEPOOL_KUBECTL_LOG": str(installed["log"])}
    forward = subprocess.Popen(
        [
            str(installed["kubectl"]),
            f"--kubeconfig={job}/kube/config",
            f"--context={pod_env.context}",
            "-n",
            pod_env.namespace,
            "port-forward",
            f"pod/{pod_env.pod}",
            f"{p1}:19885",
            f"{p2}:19886",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert forward.stdout is not None
        # What Zuul's KubeFwd checks.
        first = forward.stdout.readline()
        assert first == f"Forwarding from 127.0.0.1:{p1} -> 19885\n", first
        with socket.create_connection(("127.0.0.1", p1), timeout=10) as client:
            client.sendall(f"s:{log_id}\n".encode())
            reader = client.makefile("rb")
            assert reader.readline().endswith(b"| from the job dir\n")
            assert reader.readline().endswith(b"| [Zuul] Task exit code: 0\n")
        # the other port reaches the pod: a listener there greets
        greeter = subprocess.Popen(
            [
                pod_env.cluster.kubectl,
                f"--kubeconfig={pod_env.kubeconfig}",
                f"--context={pod_env.context}",
                "exec",
                pod_env.pod,
                "--",
                "python3",
                "-c",
                GREETER,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert greeter.stdout is not None
            assert greeter.stdout.readline() == "listening\n"
            with socket.create_connection(("127.0.0.1", p2), timeout=10) as other:
                other.settimeout(30)
                assert other.makefile("rb").readline() == b"from the pod\n"
        finally:
            greeter.kill()
            greeter.wait(timeout=10)
    finally:
        forward.terminate()
        forward.wait(timeout=10)


# Listens on 19886 in the pod and greets one connection.
GREETER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 19886))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
c.sendall(b"from the pod\\n")
c.close()
"""
