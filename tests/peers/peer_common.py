"""Shared helpers of the Python peer scripts the Rust tests in tests/zk_protocol.rs run.

Each peer is real Zuul, Nodepool or kazoo code talking to the test ZooKeeper; it prints
one JSON document per line on stdout for the Rust side to check.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the ZooKeeper connection options every peer takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--hosts", required=True, help="host:port/chroot, as kazoo takes it")
    p.add_argument("--tls-ca")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    return p


def emit(document: Any) -> None:
    """Prints one JSON line and flushes, so a waiting Rust test sees it at once."""
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    sys.stdout.flush()


def wait_for_line() -> str:
    """Blocks until the Rust test writes a line (or closes stdin)."""
    return sys.stdin.readline().strip()


def nodepool_cli(args: Any, command: list[str]) -> str:
    """Runs `nodepool -c <config> COMMAND` with a config pointing at the test ZooKeeper."""
    hostport, _, chroot = args.hosts.partition("/")
    host, _, port = hostport.rpartition(":")
    config = (
        "zookeeper-servers:\n"
        f"  - host: {host}\n    port: {port}\n    chroot: /{chroot}\n"
        "zookeeper-tls:\n"
        f"  ca: {args.tls_ca}\n  cert: {args.tls_cert}\n  key: {args.tls_key}\n"
        "labels: []\nproviders: []\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(config)
    try:
        executable = os.path.join(os.path.dirname(sys.executable), "nodepool")
        result = subprocess.run(
            [executable, "-c", handle.name] + command,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"nodepool {command} failed: {result.stderr}")
        return result.stdout
    finally:
        os.unlink(handle.name)
