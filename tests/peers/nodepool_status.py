"""Renders Nodepool 11's status listings for the ZooKeeper state of a test: what its webapp
serves (`nodepool/status.py` output, pretty and JSON, as `nodepool/webapp.py` calls it) and what
the real `nodepool` CLI prints (`list`, `list --detail`, `request-list`, `info PROVIDER`).

Prints {"webapp": {"/node-list": {"pretty": ..., "json": ...}, ...}, "cli": {"list": ..., ...}}.
Nodepool requires TLS, so the TLS options are mandatory here.
"""

from nodepool import status
from nodepool.zk import ZooKeeperClient
from nodepool.zk import zookeeper as zk
from peer_common import emit, nodepool_cli, parser


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--provider", required=True)
    p.add_argument("--node-id", required=True)
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
        listings = {
            "/node-list": lambda: status.node_list(store),
            "/node-list?node_id=" + args.node_id: lambda: status.node_list(
                store, node_id=args.node_id
            ),
            "/request-list": lambda: status.request_list(store),
            "/label-list": lambda: status.label_list(store),
        }
        webapp = {}
        for path, listing in listings.items():
            webapp[path] = {
                "pretty": status.output(listing(), "pretty"),
                "json": status.output(listing(), "json"),
            }
        webapp["/node-list?fields=id,state"] = {
            "pretty": status.output(status.node_list(store), "pretty", ["id", "state"]),
        }
    finally:
        client.disconnect()
    cli = {
        "list": nodepool_cli(args, ["list"]),
        "list --detail": nodepool_cli(args, ["list", "--detail"]),
        "request-list": nodepool_cli(args, ["request-list"]),
        "info": nodepool_cli(args, ["info", args.provider]),
    }
    emit({"webapp": webapp, "cli": cli})


if __name__ == "__main__":
    main()
