"""Prints a JSON manifest of a tree: per relative path, its kind, permission bits and content
(sha256 of a file, the target of a symlink). Runs on the controller and, copied, in the pod."""

import hashlib
import json
import os
import stat
import sys


def manifest(root: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            mode = oct(stat.S_IMODE(info.st_mode))
            relative = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                out[relative] = ["link", os.readlink(path)]
            elif stat.S_ISDIR(info.st_mode):
                out[relative] = ["dir", mode]
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                out[relative] = ["file", mode, digest]
    return out


if __name__ == "__main__":
    print(json.dumps(manifest(sys.argv[1]), sort_keys=True))
