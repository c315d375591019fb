"""kazoo's own Lock recipe on a path, as Nodepool and Zuul use it (reference §2.3).

Modes:
  try      acquire(blocking=False); print {"acquired": bool}; release.
  hold     acquire(); print {"acquired": true, "node": ...}; wait for a stdin line; release;
           print {"released": true}.
  wait     acquire(blocking=True, timeout=--timeout); print {"acquired": bool, "waited": s};
           release.
  contenders  print {"contenders": Lock.contenders()}.
"""

import time

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout
from kazoo.recipe.lock import Lock
from peer_common import emit, parser, wait_for_line


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("mode", choices=["try", "hold", "wait", "contenders"])
    p.add_argument("path")
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args()
    client = KazooClient(hosts=args.hosts)
    client.start(timeout=10)
    lock = Lock(client, args.path)
    try:
        if args.mode == "try":
            acquired = lock.acquire(blocking=False)
            emit(
                {
                    "acquired": acquired,
                    "children": sorted(client.get_children(args.path)),
                }
            )
            if acquired:
                lock.release()
        elif args.mode == "hold":
            lock.acquire()
            emit({"acquired": True, "node": lock.node})
            wait_for_line()
            lock.release()
            emit({"released": True})
        elif args.mode == "wait":
            start = time.monotonic()
            try:
                acquired = lock.acquire(blocking=True, timeout=args.timeout)
            except LockTimeout:
                acquired = False
            emit({"acquired": acquired, "waited": time.monotonic() - start})
            if acquired:
                lock.release()
        else:
            emit({"contenders": lock.contenders()})
    finally:
        client.stop()
        client.close()


if __name__ == "__main__":
    main()
