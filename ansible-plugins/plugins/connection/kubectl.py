# Copyright kubepool developers
# Apache License 2.0 (see the repository's LICENSE)
"""A kubectl connection for Ansible built on ``kubepool exec``."""

from __future__ import annotations

import ast
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable
from typing import IO

from ansible import constants as C
from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.plugins.loader import connection_loader
from ansible.utils.display import Display

DOCUMENTATION = r"""
    name: kubectl
    author: kubepool developers
    short_description: Execute tasks in pods through kubepool exec
    description:
      - A drop-in for C(kubernetes.core.kubectl) with the same variables. Commands run through
        C(kubepool exec), which reports the command's real exit status (a stream that ends
        without one is an error, never success), re-attaches to the command after a lost API
        connection, and keeps API connections warm in a per-user agent.
      - Files are copied with tar (binary-safe), modules are pipelined (one exec per module)
        unless C(pipelining) is turned off.
      - Needs C(kubepool) on the controller and C(/bin/sh), coreutils and C(tar) in the container.
      - C(synchronize) (C(ansible.posix.synchronize), as zuul-jobs' C(prepare-workspace) and
        C(fetch-output) use it) works on these hosts unchanged, when C(ansible.posix) is
        installed. rsync runs on the controller with C(--rsh) through C(kubepool exec), and the
        container needs rsync.
    version_added: "0.1.0"
    options:
      kubectl_pod:
        description: The pod (default C(ansible_host), like the stock plugin).
        default: ''
        vars:
          - name: ansible_kubectl_pod
        env:
          - name: K8S_AUTH_POD
      kubectl_container:
        description: The container (default the pod's first).
        default: ''
        vars:
          - name: ansible_kubectl_container
        env:
          - name: K8S_AUTH_CONTAINER
      kubectl_namespace:
        description: The namespace (default the context's).
        default: ''
        vars:
          - name: ansible_kubectl_namespace
        env:
          - name: K8S_AUTH_NAMESPACE
      kubectl_kubeconfig:
        description: Path to a kubeconfig, or a kubeconfig as a dict.
        default: ''
        vars:
          - name: ansible_kubectl_kubeconfig
          - name: ansible_kubectl_config
        env:
          - name: K8S_AUTH_KUBECONFIG
      kubectl_context:
        description: The kubeconfig context.
        default: ''
        vars:
          - name: ansible_kubectl_context
        env:
          - name: K8S_AUTH_CONTEXT
      kubectl_local_env_vars:
        description: Extra local environment variables for the exec process (dict or JSON).
        default: {}
        type: dict
        vars:
          - name: ansible_kubectl_local_env_vars
      kubectl_extra_args:
        description: Not supported (kubectl-specific); an error when set.
        default: ''
        vars:
          - name: ansible_kubectl_extra_args
        env:
          - name: K8S_AUTH_EXTRA_ARGS
      kubectl_host:
        description: Not supported (would pass credentials in process arguments); use a kubeconfig.
        default: ''
        vars:
          - name: ansible_kubectl_host
          - name: ansible_kubectl_server
      kubectl_username:
        description: Not supported; use a kubeconfig.
        default: ''
        vars:
          - name: ansible_kubectl_username
          - name: ansible_kubectl_user
      kubectl_password:
        description: Not supported; use a kubeconfig.
        default: ''
        vars:
          - name: ansible_kubectl_password
      kubectl_token:
        description: Not supported (would pass credentials in process arguments); use a kubeconfig.
        default: ''
        vars:
          - name: ansible_kubectl_token
          - name: ansible_kubectl_api_key
      pipelining:
        description: Run modules through stdin, one exec per module.
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
          - name: ansible_kubepool_pipelining
        env:
          - name: ANSIBLE_KUBEPOOL_PIPELINING
      kubepool_workdir:
        description:
          - The directory every command starts in; a relative path is taken from the user's home
            directory, as an SSH login starts there. While it does not exist, commands start in
            the home directory. Empty (the default) leaves the container's working directory.
          - C(kubepool-base) of jobs-library sets it to the project's source directory, so that
            a plain C(tox -e pep8) command task runs in the project as on a prepared machine.
        default: ''
        vars:
          - name: kubepool_workdir
        env:
          - name: KUBEPOOL_WORKDIR
      kubepool_binary:
        description: The kubepool executable.
        default: kubepool
        vars:
          - name: ansible_kubepool_binary
        env:
          - name: KUBEPOOL_BIN
      kubepool_console_dir:
        description:
          - A local directory; when set, the console log of a pipelined module that carries a
            C(zuul_log_id) (Zuul's command module writes C(/tmp/console-<log id>.log) in the
            pod) is copied live, while the module runs, to C(console-<log id>.log) there, for
            C(kubepool console-server) to serve with the zuul_console protocol. Live logs then
            need neither the zuul_console daemon in the pod nor a port forward.
          - Unset, under Zuul's executor (C(ZUUL_JOBDIR) in the environment) it is
            C($ZUUL_JOBDIR/work/.kubepool-console), the directory kubepool's C(kubectl) wrapper
            serves on the port Zuul forwards for the pod's console (docs/zuul-executor.md).
          - A C(command) or C(shell) task on a pod without the task's Python interpreter runs
            without it (the command through C(/bin/sh), with C(chdir), C(executable),
            C(creates), C(removes), C(stdin) and C(argv)); its output then goes to this
            directory as it arrives.
        default: ''
        vars:
          - name: ansible_kubepool_console_dir
        env:
          - name: KUBEPOOL_CONSOLE_DIR
"""

display = Display()

# The marker `kubepool exec` puts before its own errors (exit 255: status unknown).
KUBEPOOL_ERROR = b"kubepool exec: "
LOG_ID = re.compile(rb'"zuul_log_id":\s*"([A-Za-z0-9_.:-]+)"')
UNSUPPORTED = (
    "kubectl_extra_args",
    "kubectl_host",
    "kubectl_username",
    "kubectl_password",
    "kubectl_token",
)


class Connection(ConnectionBase):
    """Commands and files in a pod through ``kubepool exec``."""

    transport = "kubepool.pods.kubectl"
    has_pipelining = True
    # Not always: async tasks need the module in a file.
    always_pipeline_modules = False

    def __init__(self, play_context, new_stdin, *args, **kwargs):
        super().__init__(play_context, new_stdin, *args, **kwargs)
        self._kubeconfig_file: str | None = None
        install_synchronize_support()

    # ------------------------------------------------------------------ plumbing

    def _connect(self, port=None):
        super()._connect()
        if not self._connected:
            for option in UNSUPPORTED:
                if self.get_option(option):
                    raise AnsibleError(
                        f"kubepool.pods.kubectl does not support {option}; use a kubeconfig"
                    )
            display.vvv(
                "ESTABLISH kubepool exec CONNECTION",
                host=self._play_context.remote_addr,
            )
            self._connected = True
        return self

    def close(self):
        if self._kubeconfig_file:
            os.unlink(self._kubeconfig_file)
            self._kubeconfig_file = None
        super().close()

    def _binary(self) -> str:
        binary = self.get_option("kubepool_binary")
        found = shutil.which(binary)
        if not found:
            raise AnsibleError(
                f"{binary} not found (set ansible_kubepool_binary or KUBEPOOL_BIN)"
            )
        return found

    def _kubeconfig(self) -> str:
        value = self.get_option("kubectl_kubeconfig")
        if isinstance(value, dict):
            if not self._kubeconfig_file:
                fd, path = tempfile.mkstemp(prefix="kubepool-kubeconfig-")
                with os.fdopen(fd, "w") as handle:
                    json.dump(value, handle)
                self._kubeconfig_file = path
            return self._kubeconfig_file
        return value or ""

    def _pod(self) -> str:
        return self.get_option("kubectl_pod") or self._play_context.remote_addr

    def rsync_rsh(self) -> str:
        """rsync's ``--rsh`` for this pod: ``kubepool exec [options] -i``, to which rsync appends
        the pod (the host part of ``pod:path``) and its own command."""
        argv = self._argv([], stdin=True)[:-2]
        extra = self.get_option("kubectl_local_env_vars")
        if isinstance(extra, str):
            extra = json.loads(extra) if extra else {}
        if extra:
            argv = ["env"] + [f"{k}={v}" for k, v in extra.items()] + argv
        for arg in argv:
            # rsync splits its --rsh at spaces and honours quotes, but not backslashes.
            if any(c in arg for c in "'\"\\\n"):
                raise AnsibleError(
                    f"synchronize on {self._pod()}: cannot pass {arg!r} to rsync's --rsh "
                    "(quotes, backslashes or newlines in a kubepool argument)"
                )
        return " ".join(f"'{arg}'" if " " in arg or not arg else arg for arg in argv)

    def _argv(
        self, command: list[str], stdin: bool, stdin_bytes: int | None = None
    ) -> list[str]:
        argv = [self._binary(), "exec"]
        kubeconfig = self._kubeconfig()
        if kubeconfig:
            argv += ["--kubeconfig", kubeconfig]
        for option, flag in (
            ("kubectl_context", "--context"),
            ("kubectl_namespace", "-n"),
            ("kubectl_container", "-c"),
        ):
            value = self.get_option(option)
            if value:
                argv += [flag, value]
        if stdin:
            argv.append("-i")
            if stdin_bytes is not None:
                # A known length lets the agent send it over the pod's persistent channel.
                argv += ["--stdin-bytes", str(stdin_bytes)]
        argv += [self._pod(), "--"]
        return argv + command

    def _env(self) -> dict[str, str] | None:
        extra = self.get_option("kubectl_local_env_vars")
        if isinstance(extra, str):
            extra = json.loads(extra) if extra else {}
        if not extra:
            return None
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in extra.items()})
        return env

    def _run(
        self,
        command: list[str],
        feed: Callable[[IO[bytes]], None] | None,
        stdout_sink: Callable[[bytes], None] | None = None,
        console: IO[bytes] | None = None,
        stdin_bytes: int | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Runs ``command`` in the pod; ``feed`` writes its stdin (exactly ``stdin_bytes``
        when given). Output is read as it comes (to ``stdout_sink`` when given, else kept), and
        copied line by line to ``console``."""
        argv = self._argv(command, stdin=feed is not None, stdin_bytes=stdin_bytes)
        display.vvv(
            f"EXEC {argv[:-1]!r} <command>", host=self._play_context.remote_addr
        )
        process = subprocess.Popen(
            [to_bytes(a, errors="surrogate_or_strict") for a in argv],
            stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env(),
        )
        stdout: list[bytes] = []
        stderr: list[bytes] = []

        def pump(
            stream: IO[bytes],
            keep: list[bytes],
            sink: Callable[[bytes], None] | None,
        ) -> None:
            while True:
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    break
                if sink is not None:
                    sink(chunk)
                else:
                    keep.append(chunk)

        readers = [
            threading.Thread(
                target=pump, args=(process.stdout, stdout, stdout_sink), daemon=True
            ),
            threading.Thread(
                target=pump, args=(process.stderr, stderr, None), daemon=True
            ),
        ]
        for reader in readers:
            reader.start()
        if feed is not None and process.stdin is not None:
            try:
                feed(process.stdin)
            except BrokenPipeError:
                pass
            finally:
                try:
                    process.stdin.close()
                except BrokenPipeError:
                    pass
        for reader in readers:
            reader.join()
        code = process.wait()
        err = b"".join(stderr)
        if code == 255 and KUBEPOOL_ERROR in err:
            # kubepool could not tell the command's exit status: the host is unreachable, not
            # the command failed (as with ssh).
            raise AnsibleConnectionFailure(
                to_text(err, errors="surrogate_or_replace").strip()
            )
        return code, b"".join(stdout), err

    # ------------------------------------------------------------------ the interface

    def exec_command(self, cmd, in_data=None, sudoable=False):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        command = [
            self._play_context.executable,
            "-c",
            self._in_workdir(_reads_all_without_interpreter(cmd, in_data)),
        ]
        feed = None
        size = None
        if in_data is not None:
            data = to_bytes(in_data)
            size = len(data)

            def feed(pipe: IO[bytes]) -> None:
                pipe.write(data)

        follower = self._console_follower(in_data)
        native: NativeCommand | None = None
        try:
            code, stdout, stderr = self._run(command, feed, stdin_bytes=size)
            task = native_command_task(in_data) if code == 127 else None
            if task is None or not task.interpreter_missing(stderr):
                return code, stdout, stderr
            native = task
        finally:
            if follower is not None:
                # the module never started where its interpreter is missing: no log will come
                follower.finish(wait=0 if native is not None else 5)
        # The pod has no Python: run the task's command here, or gather what facts a shell
        # can tell.
        if native.module == "setup":
            return self._shell_facts(cmd, native)
        return self._run_natively(cmd, native)

    def _run_natively(self, cmd: str, task: NativeCommand) -> tuple[int, bytes, bytes]:
        """Runs a ``command``/``shell`` task's command in a pod without Python: ``cmd`` (the
        module's command line, with its environment and become wrapping) with ``/bin/sh`` in
        place of the interpreter, reading :meth:`NativeCommand.script` from stdin. Returns what
        the module would have: its JSON result."""
        display.vvv(
            f"NATIVE {task.module}: no {task.interpreter} in the pod",
            host=self._play_context.remote_addr,
        )
        started = datetime.datetime.now()
        skip = self._creates_removes_skip(task)
        if skip is not None:
            return 0, task.result_json(0, skip, started, changed=False), b""
        if task.internal.get("_ansible_check_mode"):
            skipped = {"skipped": True, "changed": False}
            skipped["msg"] = "Command would have run if not in check mode"
            return 0, json.dumps(skipped).encode(), b""
        console = self._console_log(task.log_id)
        # (no_log: as Zuul's module, the console log gets only the exit code line)
        output = _LineCopier(console, quiet=bool(task.args.get("zuul_no_log")))
        try:
            shell_cmd = task.shell_command(cmd)
            script = task.script()
        except AnsibleError as error:
            # Zuul's log streamer waits for the exit code line: say why there is none.
            output.write(f"[Zuul] kubepool: {error}\n".encode())
            output.close(1)
            raise

        def feed(pipe: IO[bytes]) -> None:
            pipe.write(script)

        try:
            code, _, stderr = self._run(
                [self._play_context.executable, "-c", self._in_workdir(shell_cmd)],
                feed,
                stdout_sink=output.write,
                stdin_bytes=len(script),
            )
        finally:
            output.flush()
        if code == 255 and KUBEPOOL_ERROR in stderr:
            raise AnsibleConnectionFailure(
                to_text(stderr, errors="surrogate_or_replace").strip()
            )
        output.close(code)
        return 0, task.result_json(code, output.text(), started), b""

    def _shell_facts(self, cmd: str, task: NativeCommand) -> tuple[int, bytes, bytes]:
        """``setup`` in a pod without Python: the few facts a shell tells (home directory, user,
        host name, system, architecture), so that fact gathering (and Zuul's variable freeze,
        which gathers facts) gets through."""
        display.vvv(
            f"NATIVE setup: no {task.interpreter} in the pod; facts from the shell",
            host=self._play_context.remote_addr,
        )
        script = (
            b'exec </dev/null; printf \'%s\\n\' "$HOME" "$(id -un 2>/dev/null)" '
            b'"$(id -u 2>/dev/null)" "$(hostname 2>/dev/null || cat /etc/hostname)" '
            b'"$(uname -s)" "$(uname -m)"\n'
        )
        code, stdout, stderr = self._run(
            [
                self._play_context.executable,
                "-c",
                self._in_workdir(task.shell_command(cmd)),
            ],
            lambda pipe: pipe.write(script),
            stdin_bytes=len(script),
        )
        if code != 0:
            raise AnsibleError(
                f"the pod has no {task.interpreter}, and its shell could not tell facts: "
                f"{to_text(stderr).strip()}"
            )
        values = to_text(stdout).splitlines() + [""] * 6
        home, user, uid, hostname, system, machine = values[:6]
        facts = {
            "ansible_user_dir": home,
            "ansible_user_id": user,
            "ansible_user_uid": int(uid) if uid.isdigit() else uid,
            "ansible_hostname": hostname.split(".")[0],
            "ansible_nodename": hostname,
            "ansible_system": system,
            "ansible_architecture": machine,
            "module_setup": True,
        }
        result = {
            "ansible_facts": facts,
            "changed": False,
            "warnings": [
                f"no {task.interpreter} in the pod: only the facts a shell tells were gathered"
            ],
        }
        return 0, json.dumps(result).encode(), b""

    def _creates_removes_skip(self, task: NativeCommand) -> str | None:
        """The module's message when ``creates`` exists or ``removes`` does not."""
        for key, present in (("creates", True), ("removes", False)):
            path = task.args.get(key)
            if not path:
                continue
            check = f"test -e {shlex.quote(path)}"
            if task.args.get("chdir"):
                check = f"cd {shlex.quote(task.args['chdir'])} && {check}"
            code, _, _ = self._run(
                [self._play_context.executable, "-c", self._in_workdir(check)], None
            )
            if (code == 0) == present:
                return (
                    f"skipped, since {path} {'exists' if present else 'does not exist'}"
                )
        return None

    def _console_log(self, log_id: str | None) -> IO[bytes] | None:
        directory = self._console_dir()
        if not directory or not log_id or log_id in ("in-loop-ignore", "skip"):
            return None
        os.makedirs(directory, exist_ok=True)
        return open(os.path.join(directory, f"console-{log_id}.log"), "ab", buffering=0)

    def _console_dir(self) -> str:
        directory = self.get_option("kubepool_console_dir")
        if directory:
            return directory
        jobdir = os.environ.get("ZUUL_JOBDIR")
        if jobdir:
            return os.path.join(jobdir, "work", ".kubepool-console")
        return ""

    def _in_workdir(self, cmd: str) -> str:
        """``cmd`` started in the ``kubepool_workdir`` directory, if one is set."""
        workdir = self.get_option("kubepool_workdir")
        if not workdir:
            return cmd
        home = "" if workdir.startswith("/") else 'cd "$HOME" 2>/dev/null; '
        return f"{home}cd {shlex.quote(workdir)} 2>/dev/null; {cmd}"

    def _console_follower(self, in_data) -> _ConsoleFollower | None:
        directory = self._console_dir()
        if not directory or in_data is None:
            return None
        match = LOG_ID.search(to_bytes(in_data))
        if not match or match.group(1) in (b"in-loop-ignore", b"skip"):
            return None
        log_id = to_text(match.group(1))
        os.makedirs(directory, exist_ok=True)
        return _ConsoleFollower(
            self,
            f"/tmp/console-{log_id}.log",
            os.path.join(directory, f"console-{log_id}.log"),
        )

    @staticmethod
    def _remote_path(path: str) -> str:
        # As the stock plugin: relative paths are taken from "/".
        if not path.startswith(os.path.sep):
            path = os.path.join(os.path.sep, path)
        return os.path.normpath(path)

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._play_context.remote_addr)
        out_path = self._remote_path(out_path)
        local = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.exists(local):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        directory, name = os.path.split(out_path)
        # One tar member, written here so that its length is known up front: the agent then
        # sends it over the pod's persistent channel.
        source = open(local, "rb")  # noqa: SIM115 - closed below
        try:
            info = tarfile.TarInfo(name)
            info.size = os.fstat(source.fileno()).st_size
            info.mtime = int(os.fstat(source.fileno()).st_mtime)
            # As dd (the stock plugin) and sftp create files: 0666 less the umask.
            info.mode = 0o666
            header = info.tobuf(
                tarfile.PAX_FORMAT, sys.getfilesystemencoding(), "surrogateescape"
            )
            trailer = b"\0" * (-info.size % tarfile.BLOCKSIZE + 2 * tarfile.BLOCKSIZE)

            def feed(pipe: IO[bytes]) -> None:
                pipe.write(header)
                left = info.size
                while left > 0:
                    chunk = source.read(min(left, 1024 * 1024))
                    if not chunk:
                        raise AnsibleError(f"{in_path} shrank while it was sent")
                    pipe.write(chunk)
                    left -= len(chunk)
                pipe.write(trailer)

            script = f"exec tar -x -f - --no-same-owner --no-same-permissions -C {shlex.quote(directory)}"
            code, stdout, stderr = self._run(
                [self._play_context.executable, "-c", script],
                feed,
                stdin_bytes=len(header) + info.size + len(trailer),
            )
        finally:
            source.close()
        if code != 0:
            raise AnsibleError(
                f"failed to transfer file {in_path} to {out_path}:\n{to_text(stdout)}\n{to_text(stderr)}"
            )

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv(
            f"FETCH {in_path} TO {out_path}", host=self._play_context.remote_addr
        )
        in_path = self._remote_path(in_path)
        directory, name = os.path.split(in_path)
        script = f"exec tar -c -f - -C {shlex.quote(directory or '/')} -- {shlex.quote(name)}"
        reader, writer = os.pipe()
        received: list[bool] = []
        failure: list[BaseException] = []

        def unpack() -> None:
            try:
                with (
                    os.fdopen(reader, "rb") as stream,
                    tarfile.open(fileobj=stream, mode="r|") as archive,
                ):
                    for member in archive:
                        if member.name != name or not member.isfile():
                            continue
                        source = archive.extractfile(member)
                        if source is None:
                            continue
                        with open(
                            to_bytes(out_path, errors="surrogate_or_strict"), "wb"
                        ) as target:
                            shutil.copyfileobj(source, target, 1024 * 1024)
                        received.append(True)
                    # Drain the rest so the writer never blocks.
                    while stream.read(65536):
                        pass
            except BaseException as error:  # noqa: BLE001 - reported below
                failure.append(error)

        thread = threading.Thread(target=unpack, daemon=True)
        thread.start()
        out = os.fdopen(writer, "wb", buffering=0)
        try:
            code, _, stderr = self._run(
                [self._play_context.executable, "-c", script],
                None,
                stdout_sink=out.write,
            )
        finally:
            out.close()
            thread.join()
        if code != 0 or failure or not received:
            detail = to_text(stderr) or (
                repr(failure[0]) if failure else "no such file in the archive"
            )
            raise AnsibleError(
                f"failed to fetch file {in_path} to {out_path}:\n{detail}"
            )


# Follows a console log in the pod until Zuul's last line, then removes it. A stop file ends it
# early (a module that died before writing that line).
FOLLOW = r"""
f=$1 s=$1.kubepool-stop
while [ ! -e "$f" ]; do
  if [ -e "$s" ]; then rm -f "$s"; exit 0; fi
  sleep 0.1
done
{ tail -c +1 -f "$f" & echo $! >"$s.pid"; wait; } | { sed -u '/ | \[Zuul\] Task exit code: /q'; touch "$s"; } &
while [ ! -e "$s" ]; do sleep 0.1; done
kill "$(cat "$s.pid")" 2>/dev/null
wait
rm -f "$s" "$s.pid" "$f"
"""


class _ConsoleFollower:
    """Copies a console log out of the pod as it grows, through a second ``kubepool exec``."""

    def __init__(self, connection: Connection, remote: str, local: str) -> None:
        self._connection = connection
        self._remote = remote
        argv = connection._argv(
            [
                connection._play_context.executable,
                "-c",
                FOLLOW,
                "kubepool-follow",
                remote,
            ],
            stdin=False,
        )
        self._process = subprocess.Popen(
            [to_bytes(a, errors="surrogate_or_strict") for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=connection._env(),
        )
        self._target = open(local, "ab", buffering=0)  # noqa: SIM115 - closed in finish()
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            self._target.write(chunk)

    def finish(self, wait: float = 5) -> None:
        """Waits ``wait`` seconds for the log's last line; stops the follower if it does not
        come."""
        try:
            self._process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            try:
                self._connection._run(
                    [
                        self._connection._play_context.executable,
                        "-c",
                        f"touch {shlex.quote(self._remote)}.kubepool-stop",
                    ],
                    None,
                )
                self._process.wait(timeout=10)
            except (AnsibleError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._thread.join()
        self._target.close()


# ---------------------------------------------------------------------- pods without Python
#
# A command or shell task is Ansible's (or Zuul's) command module, pipelined as an AnsiballZ
# payload to the task's Python interpreter. A pod without that interpreter answers exit 127 and
# "<interpreter>: not found" before anything ran; the plugin then runs the module's command
# itself through /bin/sh, and answers with the JSON result the module would have given.

# ansible.builtin.command, or Zuul's own command module (a library path module: "legacy"),
# and setup (fact gathering). ansible-core up to 2.18 names the module in
# `runpy.run_module(mod_name='…')` and has a line `ANSIBALLZ_PARAMS = '<json>'`; 2.19 passes
# `module_fqn='…',` and `params='<json>',` lines to `_ansiballz_main(…)`.
MODULE_FQN = re.compile(
    rb"(?:mod_name|^module_fqn)="
    rb"'ansible\.modules\.(?:ansible\.(?:legacy|builtin)\.)?(command|setup)'",
    re.MULTILINE,
)
MODULE_PARAMS = re.compile(
    rb"^(?:\s*ANSIBALLZ_PARAMS = (.+)|params=(.+),)$", re.MULTILINE
)
# The module arguments the native command understands; any other one fails the task, named.
NATIVE_ARGS = {
    "_raw_params",
    "_uses_shell",
    "argv",
    "chdir",
    "executable",
    "creates",
    "removes",
    "stdin",
    "stdin_add_newline",
    "strip_empty_ends",
    "expand_argument_vars",
    "warn",
    "zuul_log_id",
    "zuul_no_log",
    "zuul_output_max_bytes",
    "zuul_ansible_split_streams",
}


class NativeCommand:
    """A command module's task read from its AnsiballZ payload."""

    def __init__(self, module: str, interpreter: str, args: dict) -> None:
        self.module = module
        self.interpreter = interpreter
        # Ansible's own settings for the module (check mode, no_log, ...) apart
        self.internal = {k: v for k, v in args.items() if k.startswith("_ansible_")}
        self.args = {k: v for k, v in args.items() if not k.startswith("_ansible_")}
        self.log_id: str | None = args.get("zuul_log_id")

    def interpreter_missing(self, stderr: bytes) -> bool:
        """True for the shell's answer to a missing interpreter (exit 127)."""
        text = to_text(stderr, errors="surrogate_or_replace")
        return self.interpreter in text and (
            "not found" in text or "No such file" in text
        )

    def shell_command(self, cmd: str) -> str:
        """The module's command line with ``/bin/sh`` in place of the interpreter."""
        if cmd.count(self.interpreter) != 1:
            raise AnsibleError(
                f"the pod has no {self.interpreter}, and kubepool cannot run the {self.module} "
                f"task without it: the interpreter is not once in the command line {cmd!r}"
            )
        return cmd.replace(self.interpreter, "/bin/sh")

    def script(self) -> bytes:
        """One line of shell for ``/bin/sh`` on stdin: the task's command, its output (stdout
        and stderr together, as Zuul's command module gives them) on stdout."""
        unknown = sorted(set(self.args) - NATIVE_ARGS)
        if unknown:
            raise AnsibleError(
                f"the pod has no {self.interpreter}; kubepool runs {self.module} tasks without "
                f"it, but not with {', '.join(unknown)}"
            )
        args = self.args
        raw = args.get("_raw_params") or ""
        argv = args.get("argv")
        if args.get("_uses_shell"):
            executable = args.get("executable") or "/bin/sh"
            run = f"{shlex.quote(executable)} -c {shlex.quote(raw)}"
        else:
            words = list(argv) if argv else shlex.split(raw)
            if not words:
                raise AnsibleError(f"{self.module}: no command given")
            expand = args.get("expand_argument_vars", True)
            run = " ".join(_shell_word(str(w), expand) for w in words)
        steps = []
        if args.get("chdir"):
            chdir = args["chdir"]
            steps.append(
                f"cd {shlex.quote(chdir)} || {{ echo 'Unable to change directory before "
                f"execution: {chdir}'; exit 1; }}"
            )
        data = args.get("stdin")
        if data is not None:
            if args.get("stdin_add_newline", True):
                data += "\n"
            steps.append(f"printf '%s' {shlex.quote(data)} | {run} 2>&1")
        else:
            steps.append(f"exec {run} 2>&1")
        # The script itself arrives on stdin: the command must not read the rest of it.
        return ("exec </dev/null; " + "; ".join(steps) + "\n").encode()

    def result_json(
        self, rc: int, stdout: str, started: datetime.datetime, changed: bool = True
    ) -> bytes:
        ended = datetime.datetime.now()
        if self.args.get("strip_empty_ends", True):
            stdout = stdout.rstrip("\r\n")
        argv = self.args.get("argv")
        result: dict = {
            "changed": changed,
            "cmd": self.args.get("_raw_params")
            if self.args.get("_uses_shell")
            else (argv or shlex.split(self.args.get("_raw_params") or "")),
            "rc": rc,
            "stdout": stdout,
            "stderr": "",
            "start": str(started),
            "end": str(ended),
            "delta": str(ended - started),
            "msg": "" if rc == 0 else "non-zero return code",
        }
        if not self.internal.get("_ansible_no_log"):
            result["invocation"] = {"module_args": self.args}
        if not changed:
            result["msg"] = stdout
            result["stdout"] = stdout
        if rc != 0:
            result["failed"] = True
        if self.log_id:
            result["zuul_log_id"] = self.log_id
        return json.dumps(result).encode()


def _reads_all_without_interpreter(cmd: str, in_data) -> str:
    """``cmd`` for a pipelined module: where its interpreter is missing, the module on stdin
    is read to its end before the shell's answer (exit 127, "<interpreter>: not found"). A
    container runtime holds an exec whose command left a full pipe of stdin unread open for
    ever (``kubectl exec -i`` hangs there as well), and a module is larger than a pipe."""
    interpreter = _shebang_interpreter(in_data)
    if not interpreter.startswith("/"):
        return cmd
    quoted = shlex.quote(interpreter)
    return (
        f"[ -x {quoted} ] || {{ cat >/dev/null; "
        f"echo {shlex.quote(interpreter + ': not found')} >&2; exit 127; }}; {cmd}"
    )


def _shebang_interpreter(in_data) -> str:
    """The interpreter a pipelined module names on its first line (``#!/usr/bin/python3``),
    else an empty string."""
    if in_data is None:
        return ""
    first = to_bytes(in_data).split(b"\n", 1)[0]
    if not first.startswith(b"#!"):
        return ""
    words = to_text(first[2:]).split()
    return words[0] if words else ""


def native_command_task(in_data) -> NativeCommand | None:
    """The command module's task, if ``in_data`` is its pipelined AnsiballZ payload."""
    interpreter = _shebang_interpreter(in_data)
    if not interpreter:
        return None
    data = to_bytes(in_data)
    module = MODULE_FQN.search(data)
    params = MODULE_PARAMS.search(data)
    if module is None or params is None:
        return None
    try:
        literal = ast.literal_eval(to_text(params.group(1) or params.group(2)))
        if isinstance(literal, bytes):
            literal = literal.decode()
        args = json.loads(literal)["ANSIBLE_MODULE_ARGS"]
    except (ValueError, SyntaxError, KeyError, TypeError):
        return None
    if not isinstance(args, dict):
        return None
    return NativeCommand(to_text(module.group(1)), interpreter, args)


def _shell_word(word: str, expand: bool) -> str:
    """``word`` for the shell as the command module passes it to exec: as is, except that with
    ``expand`` a leading ``~`` and ``$VARIABLES`` are expanded (os.path.expanduser/expandvars)."""
    if not expand or ("$" not in word and not word.startswith("~")):
        return shlex.quote(word)
    home = ""
    if word == "~" or word.startswith("~/"):
        home, word = '"$HOME"', word[1:]
    escaped = "".join("\\" + c if c in '\\"`' else c for c in word)
    return f'{home}"{escaped}"'


class _LineCopier:
    """Collects a command's output; with a console log, writes each line there as it arrives,
    stamped as Zuul's command module stamps them, then Zuul's exit code line."""

    def __init__(self, console: IO[bytes] | None, quiet: bool = False) -> None:
        self._console = console
        self._quiet = quiet
        self._kept: list[bytes] = []
        self._partial = b""

    def write(self, chunk: bytes) -> None:
        self._kept.append(chunk)
        if self._console is None:
            return
        self._partial += chunk
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            self._line(line + b"\n")

    def _line(self, line: bytes, always: bool = False) -> None:
        if self._quiet and not always:
            return
        if self._console is not None:
            self._console.write(f"{datetime.datetime.now()} | ".encode() + line)

    def text(self) -> str:
        out = b"".join(self._kept)
        # become's marker line (sudo ... echo BECOME-SUCCESS-...) is not the command's.
        if out.startswith(b"BECOME-SUCCESS-"):
            out = out.split(b"\n", 1)[1] if b"\n" in out else b""
        return to_text(out, errors="surrogate_or_replace")

    def flush(self) -> None:
        """Writes a last line without its newline to the console log."""
        if self._partial:
            self._line(self._partial + b"\n")
            self._partial = b""

    def close(self, rc: int) -> None:
        """Ends the console log with Zuul's exit code line."""
        if self._console is None:
            return
        self.flush()
        self._line(f"[Zuul] Task exit code: {rc}\n".encode(), always=True)
        self._console.close()
        self._console = None


# ---------------------------------------------------------------------- synchronize
#
# ansible.posix's synchronize action refuses every connection but ssh, local, docker, podman and
# buildah. On a host of this plugin it runs rsync on the controller (as it does for ssh), with
# `--rsh` through `kubepool exec` and `<pod>:<path>` as the remote side. The stock action is
# taught this when this connection plugin is loaded, so playbooks and roles (zuul-jobs'
# prepare-workspace and fetch-output) keep calling `synchronize` unchanged, whether the plugin
# comes from the collection or is dropped in as `kubectl.py` (an executor-side shadow). The
# collection's `kubepool.pods.synchronize` action is the same thing, by name.

POSIX_SYNCHRONIZE = "ansible_collections.ansible.posix.plugins.action.synchronize"


def install_synchronize_support() -> None:
    """Makes ansible.posix's synchronize action hand hosts of this plugin to
    :func:`synchronize_on_pod`; other hosts keep the stock behaviour. Idempotent; nothing to do
    when ansible.posix is not installed."""
    try:
        import importlib

        posix = importlib.import_module(POSIX_SYNCHRONIZE)
    except ImportError:
        return
    action = getattr(posix, "ActionModule", None)
    if action is None or getattr(action.run, "kubepool", False):
        return
    stock_run = action.run

    def run(self, tmp=None, task_vars=None):
        if handles_synchronize(self):
            return synchronize_on_pod(self, tmp, task_vars)
        return stock_run(self, tmp, task_vars)

    run.kubepool = True  # type: ignore[attr-defined]
    action.run = run


def handles_synchronize(action) -> bool:
    """True when the task's connection is this plugin and rsync runs on the controller."""
    return callable(getattr(action._connection, "rsync_rsh", None)) and (
        action._task.delegate_to is None
    )


def synchronize_on_pod(action, tmp=None, task_vars=None):
    """ansible.posix.synchronize's action for a host of this plugin (``action`` is an instance
    of that action, whose helpers it uses)."""
    from ansible.plugins.action import ActionBase

    if task_vars is None:
        task_vars = {}
    args = action._task.args.copy()
    result = ActionBase.run(action, tmp, task_vars)
    connection = action._connection
    pod = connection._pod()
    if args.get("src") is None or args.get("dest") is None:
        return {
            "failed": True,
            "msg": "synchronize requires both src and dest parameters are set",
        }
    args.pop("use_ssh_args", None)
    rsh = connection.rsync_rsh()
    rsync_path = args.get("rsync_path")
    if not rsync_path:
        code, _out, err = connection.exec_command(
            "command -v rsync >/dev/null 2>&1 || { echo 'no rsync' >&2; exit 127; }"
        )
        if code != 0:
            container = connection.get_option("kubectl_container")
            where = f"pod {pod}" + (f", container {container}" if container else "")
            return {
                "failed": True,
                "rc": code,
                "msg": (
                    f"synchronize copies with rsync, and the {where} has no rsync on its PATH "
                    f"({to_text(err).strip() or 'exit ' + str(code)}): install rsync in the "
                    "image (or set rsync_path), or use copy/fetch"
                ),
            }
    mode = args.get("mode", "push")
    if mode == "pull":
        args["src"] = _remote(pod, args["src"])
        args["dest"] = action._get_absolute_path(path=args["dest"])
    else:
        args["src"] = action._get_absolute_path(path=args["src"])
        args["dest"] = _remote(pod, args["dest"])
    # The remote end is reached through kubepool exec, not ssh.
    for key in ("dest_port", "private_key", "_ssh_args"):
        args.pop(key, None)
    args["_local_rsync_path"] = task_vars.get("ansible_rsync_path") or "rsync"
    args["_local_rsync_password"] = None
    play_context = action._play_context
    if play_context.become and not rsync_path and play_context.become_method == "sudo":
        rsync_path = (
            f"sudo -u {play_context.become_user} rsync"
            if play_context.become_user
            else "sudo rsync"
        )
    play_context.become = False
    args["rsync_path"] = rsync_path
    opts = args.get("rsync_opts") or []
    if isinstance(opts, str):
        opts = opts.split(",")
    elif not isinstance(opts, list):
        opts = [to_text(opts)]
    opts = list(opts)
    if "--blocking-io" not in opts:
        opts.append("--blocking-io")
    if not any(str(o).startswith("--rsh") or str(o) == "-e" for o in opts):
        opts.append("--rsh=" + shlex.quote(rsh))
    args["rsync_opts"] = opts
    # rsync runs on the controller: the module goes to a local connection, with localhost's
    # shell, executable and interpreter (as the stock action does for ssh hosts).
    play_context.shell = os.path.basename(C.DEFAULT_EXECUTABLE)
    play_context.executable = C.DEFAULT_EXECUTABLE
    try:
        local = connection_loader.get("local", play_context)
    except TypeError:
        local = connection_loader.get("local", play_context, connection._new_stdin)
    local._remote_is_local = True
    action._connection = local
    action._override_module_replaced_vars(task_vars)
    display.vvv(
        f"SYNCHRONIZE {mode} {args['src']} -> {args['dest']} with rsync over kubepool exec",
        host=pod,
    )
    result.update(
        action._execute_module(
            "ansible.posix.synchronize", module_args=args, task_vars=task_vars
        )
    )
    return result


def _remote(pod: str, path: str) -> str:
    if path.startswith("rsync://"):
        raise AnsibleError("synchronize to a pod cannot use an rsync:// URL")
    return f"{pod}:{path}"
