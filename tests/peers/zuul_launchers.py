"""Lists the registered pool components the way Zuul's web "labels" API does
(ZU `zuul/zk/nodepool.py` getRegisteredLaunchers).

Prints {"launchers": [{"id": ..., "supported_labels": [...]}]}.
"""

from peer_common import emit, parser
from zuul.zk import ZooKeeperClient
from zuul.zk.nodepool import ZooKeeperNodepool


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    client = ZooKeeperClient(args.hosts, timeout=10.0)
    client.connect()
    try:
        launchers = ZooKeeperNodepool(client).getRegisteredLaunchers()
        emit(
            {
                "launchers": [
                    {"id": x.id, "supported_labels": sorted(x.supported_labels)}
                    for x in launchers
                ]
            }
        )
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
