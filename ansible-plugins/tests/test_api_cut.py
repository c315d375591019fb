"""A proxy between Ansible and the API server cuts every connection twice (and refuses new ones
for 3 s each time) while a 60 s command task runs (with kubepool's plugin, on the pod's
persistent channel). With kubepool's connection plugin the task
reports the command's real exit status (7) and its full output; the stock
kubernetes.core.kubectl runs the same playbook through the same proxy at the same time, and what
it reports is printed, not asserted (measured: rc 0, no output, "MODULE FAILURE: No start of json
char found": kubectl exec ended with exit 0 when its stream was cut)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

from ansible_run import KUBEPOOL, STOCK, run_playbook_async
from conftest import PodEnv
from cut_proxy import CutProxy


def kubeconfig_view(env: PodEnv) -> dict:
    """The pod's kubeconfig, flattened, as kubectl reads it."""
    return json.loads(
        subprocess.run(
            [
                env.cluster.kubectl,
                "--kubeconfig",
                str(env.kubeconfig),
                "config",
                "view",
                "--raw",
                "-o",
                "json",
            ],
            check=True,
            capture_output=True,
        ).stdout
    )


def proxied_env(env: PodEnv, tmp: Path, proxy: CutProxy) -> PodEnv:
    view = kubeconfig_view(env)
    for cluster in view["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    kubeconfig = tmp / "proxied.kubeconfig"
    kubeconfig.write_text(json.dumps(view))
    kubeconfig.chmod(0o600)
    return PodEnv(
        env.namespace,
        env.pod,
        env.context,
        kubeconfig,
        tmp / "agent" / "agent.sock",
        env.cluster,
    )


def upstream(env: PodEnv) -> tuple[str, int]:
    view = kubeconfig_view(env)
    url = urlparse(view["clusters"][0]["cluster"]["server"])
    assert url.hostname and url.port
    return url.hostname, url.port


def test_a_cut_api_connection_during_a_60_s_task(
    pod_env: PodEnv, collections_path: Path, tmp_path: Path
) -> None:
    proxy = CutProxy(upstream(pod_env))
    try:
        runs = {}
        for name, connection in (("kubepool", KUBEPOOL), ("stock", STOCK)):
            tmp = tmp_path / name
            tmp.mkdir()
            runs[name] = run_playbook_async(
                proxied_env(pod_env, tmp, proxy),
                connection,
                "long.yml",
                tmp,
                collections_path,
                extra_env={"RUST_LOG": "kubepool::pod_exec=debug"},
            )
        started = time.monotonic()
        for at in (15, 35):
            time.sleep(max(0, started + at - time.monotonic()))
            proxy.refusing = True
            proxy.cut_all()
            time.sleep(3)
            proxy.refusing = False
        kubepool = runs["kubepool"].finish()
        stock = runs["stock"].finish()
    finally:
        proxy.close()

    long = kubepool.result("long")
    lines = long.get("stdout", "").splitlines()
    print(
        f"kubepool: rc={long.get('rc')} failed={long.get('failed')} {len(lines)} of 60 lines, {kubepool.seconds:.0f} s"
    )
    stock_result = stock.result("long")
    stock_lines = [
        line
        for line in stock_result.get("stdout", "").splitlines()
        if line.startswith("line ")
    ]
    print(
        f"stock kubernetes.core.kubectl: rc={stock_result.get('rc')} failed={stock_result.get('failed')} "
        f"unreachable={stock_result.get('unreachable')} {len(stock_lines)} of 60 lines, "
        f"msg={str(stock_result.get('msg'))[:200]!r}"
    )
    agent_log = (tmp_path / "kubepool" / "agent" / "agent.log").read_text()
    # The warm-up took an exec stream of its own, the long task the persistent channel; that
    # was lost in the cuts and the run re-attached on fresh streams.
    assert agent_log.count("agent: exec on a persistent channel") == 1, agent_log
    assert "re-attaching to run" in agent_log, agent_log
    assert proxy.refused > 0, "connections were refused while cut"
    assert long.get("rc") == 7 and long.get("failed") is True, long
    assert lines == [f"line {i}" for i in range(1, 61)], lines
