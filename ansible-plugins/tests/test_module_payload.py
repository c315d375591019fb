"""The plugin recognises a pipelined ``command`` module in the payload of both ansible-core
formats, so that a pod without Python still runs the task's command (the bench runs
ansible-core 2.19; make test's venv has 2.18). The payload lines are reproduced as each version
writes them: ansible-core 2.18.19 ``lib/ansible/executor/module_common.py`` (``ACTIVE_ANSIBALLZ_
TEMPLATE``: ``runpy.run_module(mod_name='…')`` and ``ANSIBALLZ_PARAMS = '<json>'``) and
ansible-core 2.19.15 (``_ansiballz_main(`` with one ``key=repr(value),`` line per argument)."""

from __future__ import annotations

import importlib.util
import json

from conftest import COLLECTION

ARGS = {
    "_raw_params": 'echo "hi there"',
    "chdir": "/tmp",
    "_ansible_check_mode": False,
}
PARAMS = json.dumps({"ANSIBLE_MODULE_ARGS": ARGS})

PAYLOAD_2_18 = f"""#!/usr/bin/python3
def invoke_module(modlib_path, temp_path, json_params):
        runpy.run_module(mod_name='ansible.modules.command', init_globals=dict(_module_fqn='ansible.modules.command', _modlib_path=modlib_path),
def _ansiballz_main():
    ANSIBALLZ_PARAMS = {PARAMS!r}
    if PY3:
        ANSIBALLZ_PARAMS = ANSIBALLZ_PARAMS.encode('utf-8')
"""

PAYLOAD_2_19 = f"""#!/usr/bin/python3
def _ansiballz_main(ansible_module, module_fqn, profile, date_time, rlimit_nofile, params, extensions, zip_data):
    pass


if __name__ == "__main__":
    _ansiballz_main(
ansible_module='ansible.legacy.command',
module_fqn='ansible.modules.command',
profile='legacy',
rlimit_nofile=0,
params={PARAMS!r},
extensions={{}},
zip_data='UEsDBA==',
)
"""


def plugin():
    path = COLLECTION / "plugins/connection/kubectl.py"
    spec = importlib.util.spec_from_file_location("kubepool_kubectl_plugin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_module_is_found_in_both_payload_formats() -> None:
    kubectl = plugin()
    for payload in (PAYLOAD_2_18, PAYLOAD_2_19):
        task = kubectl.native_command_task(payload.encode())
        assert task is not None, payload
        assert (task.module, task.interpreter) == ("command", "/usr/bin/python3")
        assert (task.args["_raw_params"], task.args["chdir"]) == (
            'echo "hi there"',
            "/tmp",
        )


def test_other_modules_are_not_taken_for_the_command_module() -> None:
    kubectl = plugin()
    for payload in (PAYLOAD_2_18, PAYLOAD_2_19):
        other = payload.replace("ansible.modules.command", "ansible.modules.file")
        assert kubectl.native_command_task(other.encode()) is None
