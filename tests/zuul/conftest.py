"""The real-Zuul fixture (harness.py): one Zuul for the session, torn down at the end.

Needs the test bed's environment (``. ~/.cache/kubepool/testbed.env``) and a built kubepool.
The run directory (``$KUBEPOOL_ZUUL_WORK`` or the temp dir, ``kubepool-zuul-*``) is deleted
after a passing session and kept after a failure (its path is printed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import HERE, HarnessError, Zuul, make_work_dir, start, tail, zk_client


def derived_image(flavour: str) -> str:
    """A derived node image (tox: tox and flake8; buildset: zuul-registry, buildah, skopeo),
    built if needed and imported into the test bed."""
    done = subprocess.run(
        [
            "bash",
            str(HERE.parent / "cluster/build-derived-image.sh"),
            flavour,
            "--import",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise HarnessError(
            f"build-derived-image.sh {flavour} failed: {done.stderr.strip()}"
        )
    return done.stdout.strip().splitlines()[-1]


def wait_nodes_deleted(z: Zuul, timeout: float = 120) -> list[str]:
    """Namespaces of this run's provider still active (not being deleted) after TIMEOUT.

    Zuul returns a build's nodes when the build ends and kubepool then deletes their
    namespaces; a namespace may stay `Terminating` a while (its pods' grace period).
    """
    end = time.monotonic() + timeout
    active: list[str] = []
    while time.monotonic() < end:
        listed = subprocess.run(
            [
                z.kubectl,
                "get",
                "namespaces",
                "-o",
                "json",
                "-l",
                # both providers of the run (the second reaches the API through the cut proxy)
                f"nodepool_provider_name in ({z.provider},{z.provider}-cut)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        active = [
            ns["metadata"]["name"]
            for ns in json.loads(listed)["items"]
            if ns.get("status", {}).get("phase") != "Terminating"
        ]
        if not active:
            break
        time.sleep(1)
    return active


def _interrupt(signum: int, _frame: object) -> None:
    """SIGTERM (a CI timeout) ends the session like Ctrl-C, so the fixture's teardown still
    stops Zuul, the launcher and PostgreSQL (they run in process groups of their own)."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def zuul(request) -> Iterator[Zuul]:
    signal.signal(signal.SIGTERM, _interrupt)
    t0 = time.monotonic()
    work = make_work_dir()
    z = None
    ok = False
    try:
        z = start(work, derived_image("tox"), derived_image("buildset"))
        print(f"\n[zuul harness] up in {time.monotonic() - t0:.1f}s ({work})")
        yield z
        ok = request.session.testsfailed == 0
    finally:
        left: list[str] = []
        t_down = time.monotonic()
        if z is not None:
            left = wait_nodes_deleted(z)
            z.stop_zuul()
            z.stop()
            if left:
                subprocess.run(
                    [z.kubectl, "delete", "namespace", "--wait=false", *left],
                    check=False,
                    capture_output=True,
                )
            if z.chroot:
                zk_client(lambda zk: zk.delete(z.chroot, recursive=True))
        now = time.monotonic()
        print(
            f"[zuul harness] teardown {now - t_down:.1f}s; session took {now - t0:.1f}s"
        )
        if ok and not left and not os.environ.get("KUBEPOOL_ZUUL_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"[zuul harness] kept {work}")
            for log in sorted(Path(work, "logs").glob("*.log")):
                print(f"---- {log.name} (tail)\n{tail(log, 15)}")
        if left:
            raise HarnessError(
                f"kubepool did not delete the namespaces {left} after the builds"
            )
