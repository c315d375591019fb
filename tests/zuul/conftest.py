"""The real-Zuul fixture (harness.py): one Zuul for the session, torn down at the end.

Needs the test bed's environment (``. ~/.cache/kubepool/testbed.env``) and a built kubepool.
The run directory (``$KUBEPOOL_ZUUL_WORK`` or the temp dir, ``kubepool-zuul-*``) is deleted
after a passing session and kept after a failure (its path is printed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import HERE, HarnessError, Zuul, make_work_dir, shut_down, start, tail


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
            left = shut_down(z)
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
