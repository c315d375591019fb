"""Submits many node requests at once with Zuul's own scheduler code (ZU `zuul/zk/nodepool.py`
submitNodeRequest), each for the given labels, and prints {"ids": [...]}.
"""

import configparser

from peer_common import emit, parser
from zuul import model
from zuul.lib.tracing import Tracing
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--label", action="append", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--priority", type=int, default=200)
    p.add_argument("--requestor", default="0123456789abcdef0123456789abcdef")
    args = p.parse_args()
    Tracing(configparser.ConfigParser())
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        zk_nodepool = ZooKeeperNodepool(client)
        ids = []
        for index in range(args.count):
            request = model.NodeRequest(
                requestor=args.requestor,
                build_set_uuid=f"buildset-{index}",
                tenant_name="example-tenant",
                pipeline_name="check",
                job_uuid=f"job-{index}",
                job_name="burst-job",
                labels=args.label,
                provider=None,
                relative_priority=0,
                event_id=f"event-{index}",
            )
            zk_nodepool.submitNodeRequest(request, args.priority)
            ids.append(request.id)
        emit({"ids": ids})
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
