"""Shared helpers of the Python peer scripts the Rust tests in tests/zk_protocol.rs run.

Each peer is real Zuul, Nodepool or kazoo code talking to the test ZooKeeper; it prints
one JSON document per line on stdout for the Rust side to check.
"""

import argparse
import json
import sys
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
