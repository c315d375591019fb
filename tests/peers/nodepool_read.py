"""Reads nodes, requests and pool components with Nodepool 11's own code
(NP `nodepool/zk/zookeeper.py` ZooKeeper, `nodepool/zk/components.py`), and runs the real
`nodepool list` command against the same ZooKeeper.

Prints {"nodes": {...}, "requests": {...}, "pools": [...], "list": stdout of nodepool list}.
Nodepool requires TLS, so the TLS options are mandatory here.
"""

from nodepool.zk import ZooKeeperClient
from nodepool.zk import zookeeper as zk
from nodepool.zk.components import COMPONENT_REGISTRY
from peer_common import emit, nodepool_cli, parser


def main() -> None:
    p = parser(__doc__ or "")
    args = p.parse_args()
    client = ZooKeeperClient(
        args.hosts,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        timeout=10.0,
    )
    client.connect()
    try:
        store = zk.ZooKeeper(client, enable_cache=False)
        nodes = {}
        for node_id in store.getNodes():
            node = store.getNode(node_id)
            if node is not None:
                nodes[node_id] = {
                    "to_dict": node.toDict(),
                    "type": node.type,
                    "contenders": len(store.getNodeLockContenders(node)),
                }
        requests = {}
        for request_id in store.getNodeRequests():
            request = store.getNodeRequest(request_id)
            if request is not None:
                requests[request_id] = {
                    "to_dict": request.toDict(),
                    "priority": list(request.priority),
                }
        COMPONENT_REGISTRY.create(client)
        registry = COMPONENT_REGISTRY.registry
        pools = (
            [dict(component.content) for component in registry.all(kind="pool")]
            if registry
            else []
        )
        emit(
            {
                "nodes": nodes,
                "requests": requests,
                "pools": pools,
                "list": nodepool_cli(args, ["list", "--detail"]),
            }
        )
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
