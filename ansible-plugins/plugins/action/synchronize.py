# Copyright kubepool developers
# Apache License 2.0 (see the repository's LICENSE)
"""``kubepool.pods.synchronize``: ansible.posix's synchronize, which on hosts of the
``kubepool.pods.kubectl`` connection runs rsync on the controller with ``--rsh`` through
``kubepool exec``. Loading the connection plugin already teaches the stock ``synchronize`` the
same (so playbooks need not name this action); this name is for those who want it explicit."""

from __future__ import annotations

from ansible_collections.ansible.posix.plugins.action.synchronize import (
    ActionModule as PosixSynchronize,
)
from ansible_collections.kubepool.pods.plugins.connection.kubectl import (
    handles_synchronize,
    synchronize_on_pod,
)


class ActionModule(PosixSynchronize):
    def run(self, tmp=None, task_vars=None):
        if handles_synchronize(self):
            return synchronize_on_pod(self, tmp, task_vars)
        return super().run(tmp, task_vars)
