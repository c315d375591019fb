"""Runs Zuul's own KubeFwd (ZU `zuul/executor/server.py`) with `kubepool port-forward` standing
in for kubectl: KubeFwd reserves two ports, starts its `while ! kubectl … port-forward …; do :;
done` loop and checks the first output line. Prints {"port1", "port2"} once started (or
{"error"}), keeps forwarding until a line arrives on stdin, then stops it as the executor does
at the end of a job and prints {"stopped": true}.
"""

import argparse
import logging

from peer_common import emit, wait_for_line
from zuul.executor.server import KubeFwd


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--kubectl", required=True, help="the command KubeFwd runs as kubectl"
    )
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--context", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--pod", required=True)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    KubeFwd.kubectl_command = args.kubectl
    fwd = KubeFwd(
        zuul_event_id=None,
        build="build",
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace=args.namespace,
        pod=args.pod,
    )
    try:
        fwd.start()
    except Exception as error:  # noqa: BLE001 - KubeFwd raises a bare Exception
        emit({"error": str(error)})
        return
    emit({"port1": fwd.port1, "port2": fwd.port2})
    wait_for_line()
    fwd.stop()
    emit({"stopped": True})


if __name__ == "__main__":
    main()
