"""Submits a node request with Zuul's own code (ZU `zuul/zk/nodepool.py` submitNodeRequest,
`zuul/model.py` NodeRequest), as the scheduler does, and prints what it stored.

Prints {"id": request id, "stored": the JSON as stored in ZooKeeper, "ids": every id}; with
--count N it submits N such requests (a burst) and "id"/"stored" are the first one's.
"""

import configparser
import json

from peer_common import emit, parser
from zuul import model
from zuul.lib.tracing import Tracing
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--label", action="append", required=True)
    p.add_argument("--priority", type=int, default=200)
    p.add_argument("--relative-priority", type=int, default=0)
    p.add_argument("--requestor", default="0123456789abcdef0123456789abcdef")
    p.add_argument("--tenant", default="example-tenant")
    p.add_argument("--event-id", default="event-1")
    p.add_argument("--provider")
    p.add_argument("--count", type=int, default=1)
    p.add_argument(
        "--build-set-uuid",
        help="the buildset of every request (default: one per request)",
    )
    args = p.parse_args()
    # What every Zuul service does at start-up (tracing disabled): installs the SDK tracer
    # provider that submitNodeRequest's saved span needs.
    Tracing(configparser.ConfigParser())
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        zk_nodepool = ZooKeeperNodepool(client)
        ids = []
        for index in range(args.count):
            request = model.NodeRequest(
                requestor=args.requestor,
                build_set_uuid=args.build_set_uuid
                or (f"buildset-uuid-{index}" if index else "buildset-uuid"),
                tenant_name=args.tenant,
                pipeline_name="check",
                job_uuid=f"job-uuid-{index}" if index else "job-uuid",
                job_name="example-job",
                labels=args.label,
                provider=args.provider,
                relative_priority=args.relative_priority,
                event_id=args.event_id,
            )
            zk_nodepool.submitNodeRequest(request, args.priority)
            ids.append(request.id)
        data, _ = client.client.get(f"{zk_nodepool.REQUEST_ROOT}/{ids[0]}")
        emit({"id": ids[0], "ids": ids, "stored": json.loads(data.decode("utf-8"))})
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
