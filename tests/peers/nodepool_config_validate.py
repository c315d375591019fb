"""Runs Nodepool 11's own `config-validate` on many files in one process.

`nodepool -c FILE config-validate` is `ConfigValidator(FILE).validate()`
(nodepool/cmd/nodepoolcmd.py, `config_validate`), its return value the exit status. Starting
the `nodepool` command once per file costs a Python start and Nodepool's imports each time
(10-50 s a file on a loaded 2-core machine); this peer imports once and validates each file
named on the command line with the same call, in a fresh validator, with the same environment.

Prints {"valid": {FILE: bool}}.
"""

import argparse
import logging

from nodepool.cmd.config_validator import ConfigValidator
from peer_common import emit

log = logging.getLogger("kubepool.peer.config_validate")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("files", nargs="+")
    args = p.parse_args()
    # As the command: Nodepool's own log lines (the reasons) go to stderr, not stdout.
    logging.basicConfig(level=logging.INFO)
    emit({"valid": {path: validates(path) for path in args.files}})


def validates(path: str) -> bool:
    """The command's exit status is 0: validate() returned 0 (an exception escaping it exits 1)."""
    try:
        return ConfigValidator(path).validate() == 0
    except Exception:
        log.exception("config-validate raised")
        return False


if __name__ == "__main__":
    main()
