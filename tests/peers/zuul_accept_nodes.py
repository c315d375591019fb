"""The Zuul executor's accept path for a fulfilled request (ZU `zuul/nodepool.py`
acceptNodes → lockNodes → deleteNodeRequest, then useNodeSet; returnNodeSet at the end).

Prints {"accepted": ..., "request_left": bool, "nodes": [...]} while holding the node locks
with the nodes `in-use`; after a line on stdin returns the node set (state `used`, unlocked)
and prints {"returned": true}.
"""

from typing import Any

from peer_common import emit, parser, wait_for_line
from zuul import model
from zuul.nodepool import Nodepool
from zuul.zk import ZooKeeperClient


def describe(node: model.Node) -> dict[str, Any]:
    """What the executor uses of a node, as Zuul's model sees it."""
    return {
        "id": node.id,
        "label": node.label,
        "state": node.state,
        "locked": node.lock is not None,
        "allocated_to": node.allocated_to,
        "provider": node.provider,
        "connection_type": node.connection_type,
        "connection_port": node.connection_port,
        "interface_ip": node.interface_ip,
        "attributes": node.attributes,
        "resources": node.resources,
        "user_data": node.user_data,
        "to_dict": node.toDict(),
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--request", required=True)
    p.add_argument("--system-id", default="0123456789abcdef0123456789abcdef")
    args = p.parse_args()
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        nodepool = Nodepool(client, args.system_id, None)
        request = nodepool.zk_nodepool.getNodeRequest(args.request)
        if request is None:
            emit({"accepted": False, "error": "request not found"})
            return
        nodeset = model.NodeSet()
        for index, label in enumerate(request.labels):
            nodeset.addNode(model.Node([f"node{index}"], label))
        try:
            nodepool.acceptNodes(request, nodeset)
        except Exception as error:  # noqa: BLE001 - Zuul raises a bare Exception; the executor reports NODE_FAILURE
            emit({"accepted": False, "error": str(error)})
            return
        nodepool.useNodeSet(
            nodeset, request.tenant_name, "org/project", request.event_id
        )
        left = nodepool.zk_nodepool.getNodeRequest(args.request) is not None
        emit(
            {
                "accepted": True,
                "request_left": left,
                "nodes": [describe(n) for n in nodeset.getNodes()],
            }
        )
        wait_for_line()
        nodepool.returnNodeSet(nodeset, None, request.tenant_name, "org/project", 0)
        emit({"returned": True, "nodes": [describe(n) for n in nodeset.getNodes()]})
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
