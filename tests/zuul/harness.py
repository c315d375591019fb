"""A real Zuul 14.3.0 on one machine, with kubepool as its launcher on the test bed.

Started by the ``zuul`` fixture of conftest.py, torn down at the end of the session:

* PostgreSQL from Debian (``/usr/lib/postgresql/*/bin``): an own cluster in the run's directory,
  on a free loopback port, run as the ``postgres`` user;
* the test bed's ZooKeeper over TLS, under an own chroot (``/kubepool-zuul-<id>``), shared by
  Zuul and kubepool;
* bare git repositories served by Zuul's git driver (``poll_delay`` 2 s): ``kubepool-jobs``
  (the contents of ``jobs-library/`` plus this test's pipelines, a config project) and the
  projects the tests create (untrusted);
* ``zuul-scheduler``, ``zuul-executor`` (bubblewrap, Ansible from ``manage-ansible.sh``,
  ``manage_ansible=false``, the load governor off, ``default_username=root``) and ``zuul-web``
  from the test venv, every listener on 127.0.0.1;
* ``kubepool launcher`` with the pod and namespace labels the jobs use.

Every process's output goes to ``<run dir>/logs/<name>.log``; a failing wait names the log and
prints its tail. Nothing under /work/shared is used.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "ansible-plugins/tests"))
# The same proxy as ansible-plugins' tests use.
from cut_proxy import CutProxy

# The job of the dropped-connection scenario prints this line a second; the harness cuts the
# API connections once the third reaches job-output.txt (the task is then running in the pod).
CUT_MARKER = "tick 3"
# The first and last line of the no-Python job's task, a second apart. (Not "tick": the cut
# watcher must not fire on another build's lines.)
LIVE_MARKERS = ("nopython line 1", "nopython line 8")
TENANT = "kubepool"
JOBS_REPO = "kubepool-jobs"


class HarnessError(RuntimeError):
    pass


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise HarnessError(
            f"{name} is not set: source ~/.cache/kubepool/testbed.env first"
        )
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"({path}: {e})"
    return "\n".join(text[-lines:])


def kubepool_binary() -> Path:
    candidates = []
    if os.environ.get("KUBEPOOL_BIN"):
        candidates.append(Path(os.environ["KUBEPOOL_BIN"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug/kubepool")
    candidates.append(ROOT / "target/debug/kubepool")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise HarnessError(
        f"kubepool is not built (looked at {', '.join(map(str, candidates))})"
    )


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="kubepool test",
        GIT_AUTHOR_EMAIL="test@kubepool.invalid",
        GIT_COMMITTER_NAME="kubepool test",
        GIT_COMMITTER_EMAIL="test@kubepool.invalid",
    )
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise HarnessError(f"git {' '.join(args)} in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Zuul:
    """The running Zuul; see the module docstring."""

    work: Path
    image: str
    kubectl: str
    procs: list[Proc] = field(default_factory=list)
    web_port: int = 0
    pg_port: int = 0
    chroot: str = ""
    provider: str = ""
    repos: Path = field(init=False)
    logs: Path = field(init=False)
    # kubepool's connection plugin, installed as `kubectl` (deploy/zuul-executor/install.sh)
    plugin_dir: Path = field(init=False)
    # one line per kubectl call the wrapper hands to kubepool
    kubectl_log: Path = field(init=False)
    # between the `-cut` provider's nodes (so the executor) and the API server
    cut_proxy: CutProxy | None = None
    # the test bed's image without Python
    nopython_image: str = ""
    # zuul-registry, buildah and skopeo (tests/cluster/build-derived-image.sh buildset)
    buildset_image: str = ""
    # when each of LIVE_MARKERS first appeared in a build's job-output.txt (time.monotonic())
    first_seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.repos = self.work / "git"
        self.logs = self.work / "logs"
        self.plugin_dir = self.work / "connection-plugins"
        self.kubectl_log = self.work / "kubectl-calls.log"
        self.repos.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ processes
    def spawn(self, name: str, argv: list[str], env: dict | None = None) -> Proc:
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or os.environ.copy(),
                cwd=self.work,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        for p in self.procs:
            code = p.popen.poll()
            if code is not None:
                raise HarnessError(
                    f"{p.name} exited with {code}; its log {p.log} ends:\n{tail(p.log)}"
                )

    def wait_for(self, what: str, timeout: float, probe, log: Path | None = None):
        end = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                result = probe()
            except Exception:  # noqa: BLE001 - a probe that fails is retried until the deadline
                result = None
            if result:
                return result
            if time.monotonic() > end:
                hint = f"; {log} ends:\n{tail(log)}" if log else ""
                raise HarnessError(
                    f"timed out after {timeout:.0f}s waiting for {what}{hint}"
                )
            time.sleep(0.5)

    def stop_zuul(self) -> None:
        """Stops Zuul's components, leaving the launcher to delete the returned nodes."""
        for p in self.procs:
            if p.name != "launcher" and p.popen.poll() is None:
                os.killpg(p.popen.pid, signal.SIGTERM)
        for p in self.procs:
            if p.name != "launcher":
                try:
                    p.popen.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.popen.pid, signal.SIGKILL)
                    p.popen.wait()

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.popen.poll() is None:
                try:
                    os.killpg(p.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in reversed(self.procs):
            try:
                p.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.popen.pid, signal.SIGKILL)
                p.popen.wait()
        self.procs.clear()
        self.stop_postgres()
        if self.cut_proxy is not None:
            self.cut_proxy.close()

    # ------------------------------------------------------------------ PostgreSQL
    def start_postgres(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise HarnessError(
                "PostgreSQL is not installed (Debian package postgresql)"
            )
        self.pg_bin = bins[-1].parent
        data = self.work / "pg"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        self.work.chmod(0o755)
        pg_log = self.logs / "postgres.log"
        pg_log.touch()
        shutil.chown(pg_log, "postgres", "postgres")
        self.pg_port = free_port()
        self._pg(
            "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.logs / "postgres.log"),
            "-o",
            f"-p {self.pg_port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        self.pg_data = data
        for sql in (
            "CREATE USER zuul PASSWORD 'zuul'",
            "CREATE DATABASE zuul OWNER zuul",
        ):
            self._pg(
                "psql",
                "-h",
                str(data),
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                "-c",
                sql,
            )

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.pg_bin / tool), *args],
            check=False,
            capture_output=True,
            text=True,
            cwd="/",
        )
        if done.returncode != 0:
            raise HarnessError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n"
                f"{tail(self.logs / 'postgres.log')}"
            )

    def stop_postgres(self) -> None:
        data = getattr(self, "pg_data", None)
        if data and (data / "postmaster.pid").exists():
            try:
                self._pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
            except HarnessError as e:
                print(f"[zuul harness] stopping PostgreSQL: {e}", file=sys.stderr)

    # ------------------------------------------------------------------ git
    def create_repo(
        self, name: str, files: dict[str, str | bytes], branches: tuple[str, ...] = ()
    ) -> Path:
        """A bare repo named NAME whose master (and BRANCHES) hold FILES; returns a clone.

        Branches must exist before Zuul starts: the git driver fails on a branch's creation
        (its files-changed query has no old revision) and drops that event.
        """
        bare = self.repos / name
        git(self.repos, "init", "-q", "--bare", "-b", "master", str(bare))
        clone = self.work / "clones" / name
        clone.parent.mkdir(exist_ok=True)
        git(clone.parent, "clone", "-q", str(bare), name)
        self.commit(clone, files, "Initial content")
        for branch in ("master", *branches):
            git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return clone

    def commit(self, clone: Path, files: dict[str, str | bytes], message: str) -> str:
        for rel, content in files.items():
            path = clone / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        git(clone, "add", "-A")
        git(clone, "commit", "-q", "-m", message)
        return git(clone, "rev-parse", "HEAD")

    def push(self, clone: Path, branch: str) -> str:
        sha = git(clone, "rev-parse", "HEAD")
        git(clone, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return sha

    # ------------------------------------------------------------------ Zuul
    def api(self, path: str):
        url = f"http://127.0.0.1:{self.web_port}/api/{path}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def builds(self, **query: str) -> list[dict]:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return self.api(f"tenant/{TENANT}/builds?{q}")

    def wait_build(self, job: str, newrev: str, timeout: float = 300) -> dict:
        """The finished build of JOB for the ref update to NEWREV."""

        def finished():
            for b in self.builds(job_name=job, complete="true"):
                ref = (b.get("ref") or {}) if isinstance(b.get("ref"), dict) else b
                if ref.get("newrev") == newrev:
                    return b
            return None

        build = self.wait_for(
            f"build of {job} at {newrev[:10]}",
            timeout,
            finished,
            self.logs / "executor.log",
        )
        print(
            f"[zuul harness] {job} at {newrev[:10]}: {build['result']} in "
            f"{build.get('duration')}s (start {build.get('start_time')}, "
            f"end {build.get('end_time')})"
        )
        return build

    def encrypt(self, project: str, plaintext: str) -> list[str]:
        """PLAINTEXT as Zuul's `!encrypted/pkcs1-oaep` chunks for PROJECT, with the project's
        public key from zuul-web (what `zuul-client encrypt` does)."""
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        url = f"http://127.0.0.1:{self.web_port}/api/tenant/{TENANT}/key/{project}.pub"
        with urllib.request.urlopen(url, timeout=10) as r:
            key = serialization.load_pem_public_key(r.read())
        assert isinstance(key, rsa.RSAPublicKey)
        oaep = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()),
            algorithm=hashes.SHA1(),
            label=None,
        )
        # the largest block PKCS#1 OAEP with SHA-1 takes: key bytes - 2 * 20 - 2
        size = key.key_size // 8 - 42
        data = plaintext.encode()
        return [
            base64.b64encode(key.encrypt(data[i : i + size], oaep)).decode()
            for i in range(0, len(data), size)
        ]

    def job_dir(self, build: dict) -> Path:
        return self.work / "builds" / build["uuid"]

    def job_output(self, build: dict) -> str:
        path = self.job_dir(build) / "work/logs/job-output.txt"
        return path.read_text(errors="replace") if path.exists() else f"(no {path})"


def zk_client(action):
    """Runs ACTION(client) with a kazoo client on the test bed's ZooKeeper (TLS, no chroot)."""
    from kazoo.client import KazooClient

    zk = KazooClient(
        hosts=required_env("KUBEPOOL_TEST_ZK_TLS"),
        use_ssl=True,
        ca=required_env("KUBEPOOL_TEST_ZK_CA"),
        certfile=required_env("KUBEPOOL_TEST_ZK_CERT"),
        keyfile=required_env("KUBEPOOL_TEST_ZK_KEY"),
    )
    zk.start(timeout=15)
    try:
        return action(zk)
    finally:
        zk.stop()
        zk.close()


def write_nodepool_yaml(z: Zuul, path: Path) -> None:
    def src_container(name: str) -> str:
        """A container of the sidecar pod (JSON is YAML): it waits, with src/ mounted."""
        return json.dumps(
            {
                "name": name,
                "image": z.image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", SLEEP],
                "volumeMounts": [{"name": "src", "mountPath": "/root/src"}],
            }
        )

    zk = required_env("KUBEPOOL_TEST_ZK_TLS")
    host, port = zk.rsplit(":", 1)
    context = subprocess.run(
        [z.kubectl, "config", "current-context"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path.write_text(
        f"""\
zookeeper-servers:
  - host: {host}
    port: {port}
    chroot: {z.chroot}
zookeeper-tls:
  ca: {required_env("KUBEPOOL_TEST_ZK_CA")}
  cert: {required_env("KUBEPOOL_TEST_ZK_CERT")}
  key: {required_env("KUBEPOOL_TEST_ZK_KEY")}
labels:
  - name: kp-tox-pod
  - name: kp-namespace
  - name: kp-tox-ssh
  - name: kp-tox-sidecar
  - name: kp-tox-pod-cut
  - name: kp-nopython-pod
  - name: kp-buildset-pod
providers:
  - name: {z.provider}
    driver: kubernetes
    context: {context}
    pools:
      - name: {z.provider}
        max-servers: 8
        labels:
          - name: kp-tox-pod
            type: pod
            image: {z.image}
            image-pull: IfNotPresent
            python-path: /usr/bin/python3
          - name: kp-namespace
            type: namespace
          # A child of a paused parent goes into the parent's namespace (the buildset registry's)
          - name: kp-buildset-pod
            type: pod
            image: {z.buildset_image}
            image-pull: IfNotPresent
            python-path: /usr/bin/python3
            annotations:
              kubepool.io/buildset-namespace: true
          # Debian without Python: no Ansible module runs there
          - name: kp-nopython-pod
            type: pod
            image: {z.nopython_image}
            image-pull: IfNotPresent
          - name: kp-tox-ssh
            type: pod
            image: {z.image}
            image-pull: IfNotPresent
            python-path: /usr/bin/python3
            annotations:
              kubepool.io/ssh:
                authorized-keys:
                  file: {z.work}/ssh/id_ed25519.pub
                service: NodePort
          # A pod with a sidecar: both containers mount one emptyDir at the home's src/,
          # where prepare-workspace pushes the speculative state (into the first container).
          - name: kp-tox-sidecar
            type: pod
            spec:
              volumes:
                - name: src
                  emptyDir: {{}}
              containers:
                - {src_container("main")}
                - {src_container("sidecar")}
  # Its nodes' records name the cut proxy as their API server (the `cut` context).
  - name: {z.provider}-cut
    driver: kubernetes
    context: cut
    pools:
      - name: {z.provider}-cut
        max-servers: 2
        labels:
          - name: kp-tox-pod-cut
            type: pod
            image: {z.image}
            image-pull: IfNotPresent
            python-path: /usr/bin/python3
"""
    )


def write_cut_kubeconfig(z: Zuul, path: Path) -> None:
    """The test bed's kubeconfig plus a context `cut` whose server is the cut proxy."""
    view = json.loads(
        subprocess.run(
            [z.kubectl, "config", "view", "--raw", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    current = next(c for c in view["contexts"] if c["name"] == view["current-context"])
    cluster = next(
        c for c in view["clusters"] if c["name"] == current["context"]["cluster"]
    )
    server = urlparse(cluster["cluster"]["server"])
    assert server.hostname and server.port
    z.cut_proxy = CutProxy((server.hostname, server.port))
    proxied = json.loads(json.dumps(cluster))
    proxied["name"] = "cut"
    proxied["cluster"]["server"] = f"https://127.0.0.1:{z.cut_proxy.port}"
    view["clusters"].append(proxied)
    view["contexts"].append(
        {"name": "cut", "context": {**current["context"], "cluster": "cut"}}
    )
    path.write_text(json.dumps(view))
    path.chmod(0o600)


def watch_build_logs(z: Zuul) -> None:
    """One thread reading the builds' job-output.txt while they run: it cuts every connection
    through the cut proxy once, when CUT_MARKER is in the cut scenario's build (its run
    playbook is running; never on another build's lines), and notes when each of LIVE_MARKERS
    first appears (a test tells lines that arrived while their task ran from lines written at
    its end)."""

    def cut_pending() -> bool:
        return z.cut_proxy is not None and z.cut_proxy.cuts == 0

    def watch() -> None:
        while cut_pending() or len(z.first_seen) < len(LIVE_MARKERS):
            for log in (z.work / "builds").glob("*/work/logs/job-output.txt"):
                try:
                    text = log.read_text(errors="replace")
                except OSError:
                    continue
                if (
                    cut_pending()
                    and "playbooks/cut.yaml@" in text
                    and CUT_MARKER in text
                ):
                    assert z.cut_proxy is not None
                    z.cut_proxy.cut_all()
                for marker in LIVE_MARKERS:
                    if marker in text and marker not in z.first_seen:
                        z.first_seen[marker] = time.monotonic()
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()


# A container command that waits until the pod is deleted (and exits on SIGTERM at once).
SLEEP = "trap 'exit 0' TERM; while true; do sleep 30 & wait $!; done"


def write_zuul_conf(z: Zuul, ansible_root: Path, bindir: Path) -> Path:
    zk = required_env("KUBEPOOL_TEST_ZK_TLS")
    w = z.work
    for d in ("builds", "executor-state", "executor-git", "scheduler-git", "web-git"):
        (w / d).mkdir(exist_ok=True)
    ro = ":".join(
        [str(bindir), str(Path(z.kubectl).resolve().parent), str(z.plugin_dir)]
    )
    conf = w / "zuul.conf"
    conf.write_text(
        f"""\
[zookeeper]
hosts={zk}{z.chroot}
tls_ca={required_env("KUBEPOOL_TEST_ZK_CA")}
tls_cert={required_env("KUBEPOOL_TEST_ZK_CERT")}
tls_key={required_env("KUBEPOOL_TEST_ZK_KEY")}
session_timeout=40

[keystore]
password={secrets.token_hex(16)}

[database]
dburi=postgresql://zuul:zuul@127.0.0.1:{z.pg_port}/zuul

[scheduler]
tenant_config={w}/main.yaml
command_socket={w}/scheduler.socket
git_dir={w}/scheduler-git

[merger]
git_user_email=zuul@kubepool.invalid
git_user_name=Zuul

[web]
listen_address=127.0.0.1
port={z.web_port}
command_socket={w}/web.socket
git_dir={w}/web-git

[executor]
state_dir={w}/executor-state
job_dir={w}/builds
git_dir={w}/executor-git
command_socket={w}/executor.socket
private_key_file={w}/ssh/id_ed25519
finger_port={free_port()}
manage_ansible=false
ansible_root={ansible_root}
default_username=root
load_multiplier=1000
min_avail_mem=0
min_avail_hdd=0
min_avail_inodes=0
trusted_ro_paths={ro}
untrusted_ro_paths={ro}

[connection git]
driver=git
baseurl=file://{z.repos}
poll_delay=2
"""
    )
    (w / "main.yaml").write_text(
        f"""\
- tenant:
    name: {TENANT}
    source:
      git:
        config-projects:
          - {JOBS_REPO}
        untrusted-projects:
          - demo-project
"""
    )
    return conf


def install_kubepool_executor(z: Zuul, bindir: Path, kubectl: str) -> None:
    """kubepool into the executor's private BINDIR, then deploy/zuul-executor/install.sh: its
    connection plugin as `kubectl` (every pod task runs through kubepool exec) and the
    `kubectl` wrapper that hands Zuul's port-forward to kubepool."""
    shutil.copy2(kubepool_binary(), bindir / "kubepool")
    installed = subprocess.run(
        [
            "sh",
            str(ROOT / "deploy/zuul-executor/install.sh"),
            "--plugin-dir",
            str(z.plugin_dir),
            "--bin-dir",
            str(bindir),
            "--kubectl",
            str(Path(kubectl).resolve()),
            "--kubepool",
            str(bindir / "kubepool"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        raise HarnessError(f"install.sh failed: {installed.stderr.strip()}")


def start(
    work: Path, image: str, buildset_image: str, executor: str = "kubepool"
) -> Zuul:
    """Zuul, kubepool's launcher and PostgreSQL for WORK. EXECUTOR `kubepool`: the executor is
    set up as docs/zuul-executor.md says; `stock`: as Zuul ships (Ansible's kubectl connection,
    the real kubectl on its PATH, no kubepool), for tests/bench/zuul_executor_paths.py."""
    kubectl = required_env("KUBEPOOL_TEST_KUBECTL")
    z = Zuul(work=work, image=image, kubectl=kubectl, buildset_image=buildset_image)
    z.nopython_image = required_env("KUBEPOOL_TEST_NOPYTHON_IMAGE")
    run_id = secrets.token_hex(4)
    z.chroot = f"/kubepool-zuul-{run_id}"
    z.provider = f"zuul-{run_id}"
    zk_client(lambda zk: zk.ensure_path(z.chroot))
    try:
        z.web_port = free_port()
        managed = subprocess.run(
            ["bash", str(HERE / "manage-ansible.sh"), str(VENV_BIN.parent)],
            capture_output=True,
            text=True,
            check=False,
        )
        if managed.returncode != 0:
            raise HarnessError(f"manage-ansible.sh failed: {managed.stderr.strip()}")
        ansible_root = Path(managed.stdout.strip())
        if shutil.which("bwrap") is None:
            raise HarnessError(
                "bubblewrap is not installed (Debian package bubblewrap)"
            )
        # The executor's PATH: its private bin, then the test venv (zuul-bwrap), then the system.
        # kubepool is copied there (for the library's roles and the wrapper) so that bubblewrap
        # needs no read-only path into the build tree.
        bindir = work / "bin"
        bindir.mkdir()
        if executor == "stock":
            (bindir / "kubectl").symlink_to(Path(kubectl).resolve())
            z.plugin_dir.mkdir()
        else:
            install_kubepool_executor(z, bindir, kubectl)

        z.start_postgres()
        jobs_repo_files: dict[str, str | bytes] = {}
        for src in (ROOT / "jobs-library", HERE / "site"):
            for path in sorted(src.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    jobs_repo_files[str(path.relative_to(src))] = path.read_bytes()
        z.create_repo(JOBS_REPO, jobs_repo_files)
        z.demo = z.create_repo("demo-project", demo_project_files(), DEMO_BRANCHES)

        # The executor's SSH key: its ssh-agent needs one, and SSH nodes authorize its public half.
        (work / "ssh").mkdir()
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                str(work / "ssh/id_ed25519"),
            ],
            check=True,
            capture_output=True,
        )
        nodepool_yaml = work / "nodepool.yaml"
        write_nodepool_yaml(z, nodepool_yaml)
        conf = write_zuul_conf(z, ansible_root, bindir)

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KUBECONFIG", "ZUUL_"))
        }
        env["PATH"] = (
            f"{bindir}:{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        )
        if executor != "stock":
            env["ANSIBLE_CONNECTION_PLUGINS"] = str(z.plugin_dir)
        env["KUBEPOOL_KUBECTL_LOG"] = str(z.kubectl_log)
        cut_kubeconfig = work / "launcher.kubeconfig"
        write_cut_kubeconfig(z, cut_kubeconfig)
        watch_build_logs(z)
        launcher_env = dict(os.environ, NO_COLOR="1", KUBECONFIG=str(cut_kubeconfig))
        z.spawn(
            "launcher",
            [str(kubepool_binary()), "launcher", "-c", str(nodepool_yaml)],
            launcher_env,
        )
        z.spawn(
            "scheduler",
            [str(VENV_BIN / "zuul-scheduler"), "-c", str(conf), "-f", "-d"],
            env,
        )
        z.spawn(
            "executor",
            [
                sys.executable,
                str(HERE / "run_executor.py"),
                "-c",
                str(conf),
                "-f",
                "-d",
                "--keep-jobdir",
            ],
            env,
        )
        z.spawn("web", [str(VENV_BIN / "zuul-web"), "-c", str(conf), "-f", "-d"], env)

        def tenant_ready():
            return any(t.get("name") == TENANT for t in z.api("tenants"))

        z.wait_for(
            "zuul-web to list the tenant", 240, tenant_ready, z.logs / "scheduler.log"
        )

        def executor_registered():
            return any(
                c.get("state") == "running"
                for c in z.api("components").get("executor", [])
            )

        z.wait_for(
            "the executor to register",
            120,
            executor_registered,
            z.logs / "executor.log",
        )

        # The git driver takes a project's first ref listing as its baseline (no event): a push
        # before that poll would go unnoticed.
        def baseline_polled():
            return (
                "refs for project demo-project"
                in (z.logs / "scheduler.log").read_text()
            )

        z.wait_for(
            "the git driver's first poll", 60, baseline_polled, z.logs / "scheduler.log"
        )
    except BaseException:
        # (a failed start leaves no process, database or chroot behind; logs stay)
        z.stop()
        zk_client(lambda zk: zk.delete(z.chroot, recursive=True))
        print(f"[zuul harness] start failed; logs kept in {z.logs}", file=sys.stderr)
        raise
    return z


# The branches the tests push to (one build each).
DEMO_BRANCHES = (
    "clean",
    "pep8-error",
    "output",
    "namespace",
    "ssh",
    "sidecar",
    "cut",
    "nopython",
    "tox",
    "pod-layers",
    "registry",
)

TOX_INI = """\
[tox]
envlist = pep8
skipsdist = true

[testenv:pep8]
# No package index inside the pod: Debian's flake8 from the image.
sitepackages = true
skip_install = true
allowlist_externals = flake8
commands = flake8 {posargs}
"""

# The seed's example, verbatim: on a pod node kubepool-project starts tasks in the project.
PEP8_PLAYBOOK = """\
- hosts: all
  tasks:
    - command: tox -e pep8
"""

# SSH nodes start in the home directory, as any machine does.
PEP8_SSH_PLAYBOOK = """\
- hosts: all
  tasks:
    - command: tox -e pep8
      args:
        chdir: "{{ zuul.project.src_dir }}"
"""


OUTPUT_PLAYBOOK = """\
- hosts: all
  tasks:
    - shell: |
        echo "written by {{ inventory_hostname }}" > ~/zuul-output/logs/hello.txt
        git -C {{ zuul.project.src_dir }} rev-parse HEAD > ~/zuul-output/logs/head.txt
        # Which exec runs this task: the in-pod supervisor of kubepool exec (argv[0]
        # kubepool-exec) is an ancestor process when the connection plugin of the executor is
        # the one of kubepool.
        p=$$; found=no
        while [ "$p" -gt 1 ]; do
          if tr '\\0' '\\n' < /proc/$p/cmdline | grep -qx kubepool-exec; then found=yes; break; fi
          p=$(awk '/^PPid:/ {print $2}' /proc/$p/status)
        done
        echo "under the kubepool exec supervisor: $found" > ~/zuul-output/logs/exec.txt
"""

# Both containers of the sidecar pod read the state prepare-workspace pushed once.
SIDECAR_PLAYBOOK = """\
- hosts: all
  tasks:
    - command: git -C {{ zuul.project.src_dir }} rev-parse HEAD
      register: main
    - command: git -C {{ zuul.project.src_dir }} rev-parse HEAD
      register: sidecar
      vars:
        ansible_kubectl_container: sidecar
    - copy:
        dest: "{{ ansible_user_dir }}/zuul-output/logs/heads.txt"
        content: "main {{ main.stdout }}\\nsidecar {{ sidecar.stdout }}\\n"
"""

# A task of 20 s that exits 7; the harness cuts the API connections of its node while it runs.
# Its real result (rc 7, all 20 lines) must reach the build.
CUT_PLAYBOOK = """\
- hosts: all
  tasks:
    - shell: |
        for i in $(seq 1 20); do echo "tick $i"; sleep 1; done
        exit 7
      register: ticked
      failed_when: ticked.rc != 7
    - copy:
        dest: "{{ ansible_user_dir }}/zuul-output/logs/cut.txt"
        content: "rc {{ ticked.rc }} lines {{ ticked.stdout_lines | length }} last {{ ticked.stdout_lines[-1] }}\\n"
"""

# A pod without Python: no facts, and Zuul's command module cannot start there; kubepool's
# plugin runs the command itself and writes its console log on the executor, where the kubectl
# wrapper serves it on the port Zuul forwards for the pod.
NOPYTHON_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - shell: |
        for i in 1 2 3 4 5 6 7 8; do echo "nopython line $i"; sleep 1; done
        command -v python3 python || echo "no python here"
"""

# A namespace node has no inventory host: the playbook uses the namespace's own credentials
# (a context of the build's kubeconfig) from zuul.resources, on the executor.
NAMESPACE_PLAYBOOK = """\
- hosts: localhost
  tasks:
    - name: Write into the namespace with its own credentials
      command: >-
        kubectl --context {{ zuul.resources.ns.context }}
        -n {{ zuul.resources.ns.namespace }}
        create configmap from-zuul --from-literal=build={{ zuul.build }}
    - name: Read it back
      command: >-
        kubectl --context {{ zuul.resources.ns.context }}
        -n {{ zuul.resources.ns.namespace }}
        get configmap from-zuul -o jsonpath={.data.build}
      register: got
    - name: Report what the namespace holds
      debug:
        msg: "namespace {{ zuul.resources.ns.namespace }} holds build {{ got.stdout }}"
    - assert:
        that: got.stdout == zuul.build
"""


# The buildset registry's parent (kubepool-buildset-registry, on a namespace node): a builder pod
# in its namespace builds an image with buildah (from scratch: a static busybox and a file naming
# this build) and pushes it to the registry the pre-run started; the job then pauses.
REGISTRY_BUILD_PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  vars:
    k: kubectl --context {{ zuul.resources.ns.context }} -n {{ zuul.resources.ns.namespace }}
    image: "{{ buildset_registry.host }}:{{ buildset_registry.port }}/demo/hello:{{ zuul.buildset }}"
    certs: /etc/containers/certs.d/{{ buildset_registry.host }}:{{ buildset_registry.port }}
  tasks:
    - name: Read the registry this job started
      include_vars: "{{ zuul.executor.work_root }}/buildset-registry/buildset_registry.yaml"
      no_log: true
    - name: Start a builder pod
      command:
        cmd: "{{ k }} apply -f -"
        stdin: |
          apiVersion: v1
          kind: Pod
          metadata: {name: builder}
          spec:
            automountServiceAccountToken: false
            containers:
              - name: builder
                image: {{ builder_image }}
                imagePullPolicy: IfNotPresent
                command: [sleep, infinity]
    - command: "{{ k }} wait --for=condition=Ready pod/builder --timeout=120s"
    - name: Trust the registry's CA in the builder pod
      command:
        cmd: "{{ k }} exec -i builder -- sh -c 'mkdir -p $0 && cat > $0/ca.crt' {{ certs }}"
        stdin: "{{ buildset_registry.cert }}"
    - name: Log in to the registry from the builder pod (the password on stdin)
      command:
        cmd: >-
          {{ k }} exec -i builder -- buildah login
          --username {{ buildset_registry.username }} --password-stdin
          {{ buildset_registry.host }}:{{ buildset_registry.port }}
        stdin: "{{ buildset_registry.password }}"
      no_log: true
    - name: Build the image and push it to the buildset registry
      command:
        cmd: "{{ k }} exec -i builder -- sh -s"
        stdin: |
          set -eu
          b() { buildah --storage-driver vfs "$@"; }
          echo "built by build {{ zuul.build }}" > /tmp/hello.txt
          c=$(b from scratch)
          b copy "$c" /bin/busybox /bin/busybox
          b copy "$c" /tmp/hello.txt /hello.txt
          b config --entrypoint '["/bin/busybox", "sh", "-c", "cat /hello.txt; exec /bin/busybox sleep 3600"]' "$c"
          b commit -q "$c" demo/hello
          b push -q --digestfile /tmp/digest demo/hello "docker://{{ image }}"
          echo "pushed $(cat /tmp/digest)"
      register: pushed
    - name: Record what was pushed
      copy:
        dest: "{{ zuul.executor.log_root }}/registry.txt"
        content: |
          namespace {{ zuul.resources.ns.namespace }}
          image {{ image }}
          digest {{ pushed.stdout_lines[-1] | replace('pushed ', '') }}
    - name: Tell the children which image to use
      zuul_return:
        data:
          demo_image: "{{ image }}"
          demo_digest: "{{ pushed.stdout_lines[-1] | replace('pushed ', '') }}"
"""

# The child (kubepool-buildset-registry-user, on a buildset pod node): finds the parent's image
# with skopeo (configured by use-buildset-registry), then starts a pod from it, which the
# kubelet pulls from the registry's Service address.
REGISTRY_CHILD_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: Find the parent's image in the buildset registry
      command: skopeo inspect --format "{{ '{{' }} .Digest {{ '}}' }}" docker://{{ demo_image }}
      register: inspected
    - name: Ask which user the tools log in as
      command: skopeo login --get-login {{ buildset_registry.host }}:{{ buildset_registry.port }}
      register: login
    - shell: >-
        printf 'namespace %s\\ndigest %s\\nlogin %s\\n' {{ zuul.resources[inventory_hostname].namespace }}
        {{ inspected.stdout | trim }} {{ login.stdout | trim }} > ~/zuul-output/logs/found.txt

- hosts: localhost
  gather_facts: false
  vars:
    k: >-
      kubectl --context {{ zuul.resources.pod.context }} -n {{ zuul.resources.pod.namespace }}
  tasks:
    - name: Start a pod from the parent's image
      command: "{{ k }} run hello --image={{ demo_image }} --restart=Never"
    - command: "{{ k }} wait --for=condition=Ready pod/hello --timeout=120s"
    - command: "{{ k }} logs hello"
      register: hello_log
    - command: "{{ k }} get pod hello -o jsonpath={.status.containerStatuses[0].imageID}"
      register: image_id
    - copy:
        dest: "{{ zuul.executor.log_root }}/hello.txt"
        content: |
          log {{ hello_log.stdout | trim }}
          image-id {{ image_id.stdout | trim }}
"""


def registry_branch_config(
    ca_cert: str, encrypted_ca_key: list[str], buildset_image: str
) -> str:
    """What the `registry` branch adds to demo-project's .zuul.yaml: the parent and child jobs
    and a secret with the CA the test bed's containerd trusts for buildset registries (its key
    encrypted with the project's key, as a site would give it), passed to the parent's pre-run
    in the job library."""
    cert = "\n".join("        " + line for line in ca_cert.strip().splitlines())
    chunks = "\n".join(f"          - {c}" for c in encrypted_ca_key)
    return f"""
- secret:
    name: demo-registry-ca
    data:
      cert: |
{cert}
      key: !encrypted/pkcs1-oaep
{chunks}

- job:
    name: demo-registry
    parent: kubepool-buildset-registry
    attempts: 1
    secrets:
      - name: buildset_registry_ca
        secret: demo-registry-ca
        pass-to-parent: true
    nodeset:
      nodes:
        - name: ns
          label: kp-namespace
    run: playbooks/registry-build.yaml
    vars:
      buildset_registry_image: {buildset_image}
      builder_image: {buildset_image}

- job:
    name: demo-registry-child
    parent: kubepool-buildset-registry-user
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-buildset-pod
    run: playbooks/registry-child.yaml

- project:
    post:
      jobs:
        - demo-registry:
            branches: ^registry$
        - demo-registry-child:
            branches: ^registry$
            dependencies: [demo-registry]
"""


def demo_project_files() -> dict[str, str | bytes]:
    return {
        "tox.ini": TOX_INI,
        "demo/__init__.py": '"""A demo package."""\n',
        "playbooks/pep8.yaml": PEP8_PLAYBOOK,
        "playbooks/pep8-ssh.yaml": PEP8_SSH_PLAYBOOK,
        "playbooks/sidecar.yaml": SIDECAR_PLAYBOOK,
        "playbooks/cut.yaml": CUT_PLAYBOOK,
        "playbooks/output.yaml": OUTPUT_PLAYBOOK,
        "playbooks/namespace.yaml": NAMESPACE_PLAYBOOK,
        "playbooks/nopython.yaml": NOPYTHON_PLAYBOOK,
        "playbooks/registry-build.yaml": REGISTRY_BUILD_PLAYBOOK,
        "playbooks/registry-child.yaml": REGISTRY_CHILD_PLAYBOOK,
        ".zuul.yaml": """\
- job:
    name: demo-pep8
    parent: kubepool-project
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-tox-pod
    run: playbooks/pep8.yaml

- job:
    name: demo-output
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: first
          label: kp-tox-pod
        - name: second
          label: kp-tox-pod
    run: playbooks/output.yaml

- job:
    name: demo-ssh
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: machine
          label: kp-tox-ssh
    run: playbooks/pep8-ssh.yaml

- job:
    name: demo-sidecar
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-tox-sidecar
    run: playbooks/sidecar.yaml

- job:
    name: demo-cut
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-tox-pod-cut
    run: playbooks/cut.yaml

- job:
    name: demo-namespace
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: ns
          label: kp-namespace
    run: playbooks/namespace.yaml

- job:
    name: demo-tox
    parent: kubepool-tox
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-tox-pod
    vars:
      tox_envlist: pep8

- job:
    name: demo-pod-layers
    parent: kubepool-pod
    attempts: 1
    nodeset:
      nodes:
        - name: first
          label: kp-tox-pod
        - name: second
          label: kp-tox-pod
    run: playbooks/output.yaml

- job:
    name: demo-nopython
    parent: kubepool-base
    attempts: 1
    nodeset:
      nodes:
        - name: pod
          label: kp-nopython-pod
    run: playbooks/nopython.yaml

- project:
    post:
      jobs:
        - demo-pep8:
            branches: ^(clean|pep8-error)$
        - demo-output:
            branches: ^output$
        - demo-namespace:
            branches: ^namespace$
        - demo-ssh:
            branches: ^ssh$
        - demo-sidecar:
            branches: ^sidecar$
        - demo-cut:
            branches: ^cut$
        - demo-nopython:
            branches: ^nopython$
        - demo-tox:
            branches: ^tox$
        - demo-pod-layers:
            branches: ^pod-layers$
""",
    }


def wait_nodes_deleted(z: Zuul, timeout: float = 120) -> list[str]:
    """Namespaces of this run's provider still active (not being deleted) after TIMEOUT.

    Zuul returns a build's nodes when the build ends and kubepool then deletes their
    namespaces; a namespace may stay `Terminating` a while (its pods' grace period).
    """
    end = time.monotonic() + timeout
    active: list[str] = []
    while time.monotonic() < end:
        listed = subprocess.run(
            [
                z.kubectl,
                "get",
                "namespaces",
                "-o",
                "json",
                "-l",
                # both providers of the run (the second reaches the API through the cut proxy)
                f"nodepool_provider_name in ({z.provider},{z.provider}-cut)",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        active = [
            ns["metadata"]["name"]
            for ns in json.loads(listed)["items"]
            if ns.get("status", {}).get("phase") != "Terminating"
        ]
        if not active:
            break
        time.sleep(1)
    return active


def shut_down(z: Zuul) -> list[str]:
    """Waits for kubepool to delete the run's namespaces, stops Zuul, the launcher and
    PostgreSQL, deletes the ZooKeeper chroot; returns the namespaces kubepool left (asked to
    go here, without waiting)."""
    left = wait_nodes_deleted(z)
    z.stop_zuul()
    z.stop()
    if left:
        subprocess.run(
            [z.kubectl, "delete", "namespace", "--wait=false", *left],
            check=False,
            capture_output=True,
        )
    if z.chroot:
        zk_client(lambda zk: zk.delete(z.chroot, recursive=True))
    return left


def make_work_dir() -> Path:
    base = Path(os.environ.get("KUBEPOOL_ZUUL_WORK", tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix="kubepool-zuul-", dir=base))
