"""Submits a node request with Zuul's own code (ZU `zuul/zk/nodepool.py` submitNodeRequest,
`zuul/model.py` NodeRequest), as the scheduler does, and prints what it stored.

Prints {"id": request id, "stored": the JSON as stored in ZooKeeper}.
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
    args = p.parse_args()
    # What every Zuul service does at start-up (tracing disabled): installs the SDK tracer
    # provider that submitNodeRequest's saved span needs.
    Tracing(configparser.ConfigParser())
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        zk_nodepool = ZooKeeperNodepool(client)
        request = model.NodeRequest(
            requestor=args.requestor,
            build_set_uuid="buildset-uuid",
            tenant_name=args.tenant,
            pipeline_name="check",
            job_uuid="job-uuid",
            job_name="example-job",
            labels=args.label,
            provider=args.provider,
            relative_priority=args.relative_priority,
            event_id=args.event_id,
        )
        zk_nodepool.submitNodeRequest(request, args.priority)
        data, _ = client.client.get(f"{zk_nodepool.REQUEST_ROOT}/{request.id}")
        emit({"id": request.id, "stored": json.loads(data.decode("utf-8"))})
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
