"""Fixtures for the skiff CLI system tests (imported by the test_cli_*.py modules).

The daemon under test is $SKIFF_DAEMON_SOCKET when set (skiffd, or any daemon serving the
Docker Engine API); otherwise a private dockerd is started once per session on paths under a
temporary directory (`--bridge none --iptables=false`, as PEERS.md describes) and stopped by
its PID at exit.  A busybox image made from Debian's busybox-static is imported into it.

Where the output is deterministic, tests compare skiff with the docker CLI pointed at the same
daemon; they skip with a reason when the docker CLI is not installed.
"""

import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIFF = os.environ.get("SKIFF_CLI") or str(REPO / "build" / "skiff")
IMAGE = "skiff-cli-test-busybox:latest"
TIMEOUT = 60

_daemon = {}


def _wait_socket(sock, proc, log):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dockerd exited with {proc.returncode}: {Path(log).read_text()[-2000:]}")
        if os.path.exists(sock):
            r = subprocess.run(["curl", "-sf", "--unix-socket", sock, "http://x/_ping"],
                               capture_output=True, timeout=10)
            if r.returncode == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"dockerd did not answer on {sock}")


def _stop_dockerd(proc, root):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # dockerd leaves its exec-root's netns/default bind-mounted when it stops
    for target in sorted(_mounts_under(root), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def _mounts_under(root):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p.startswith(root.rstrip("/") + "/")]


def start_private_dockerd(prefix):
    """Debian's dockerd on temporary paths under /tmp/<prefix>*, with no networking of its
    own (no bridge, no iptables). Returns its socket's path and a function that stops it
    and removes its paths."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        pytest.skip("dockerd is not installed (apt-get install docker.io)")
    # A short path: the socket must fit in sun_path.
    root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    sock = f"{root}/docker.sock"
    log = f"{root}/dockerd.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [dockerd, "--data-root", f"{root}/docker", "--exec-root", f"{root}/exec",
             "-H", f"unix://{sock}", "--pidfile", f"{root}/docker.pid",
             "--bridge", "none", "--iptables=false"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_socket(sock, proc, log)
    except BaseException:
        _stop_dockerd(proc, root)
        raise
    return sock, lambda: _stop_dockerd(proc, root)


def _start_dockerd():
    if os.geteuid() != 0:
        pytest.skip("the CLI system tests start dockerd, which needs root")
    sock, stop = start_private_dockerd("skcli")
    atexit.register(stop)
    return sock


def _ensure_image(sock):
    env = dict(os.environ, SKIFF_HOST=f"unix://{sock}")
    have = subprocess.run([SKIFF, "images", "-q", IMAGE], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT)
    if have.returncode == 0 and have.stdout.strip():
        return
    with tempfile.TemporaryDirectory(prefix="skrootfs") as d:
        subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs"), f"{d}/rootfs"], check=True)
        tar = subprocess.run(["tar", "-C", f"{d}/rootfs", "-c", "."], capture_output=True, check=True)
        r = subprocess.run([SKIFF, "import", "-", IMAGE], input=tar.stdout, capture_output=True,
                           env=env, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr.decode()


def daemon_socket():
    """The socket of the daemon under test (started and stocked on first use)."""
    if "sock" not in _daemon:
        if not Path(SKIFF).exists():
            pytest.skip(f"{SKIFF} is not built (run make)")
        sock = os.environ.get("SKIFF_DAEMON_SOCKET") or _start_dockerd()
        _ensure_image(sock)
        _daemon["sock"] = sock
    return _daemon["sock"]


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"<rc={self.rc} out={self.out!r} err={self.err!r}>"


class Cli:
    """Runs skiff (and the docker CLI) against the daemon under test."""

    def __init__(self, sock, token):
        self.sock = sock
        self.token = token
        self.env = dict(os.environ, SKIFF_HOST=f"unix://{sock}", DOCKER_HOST=f"unix://{sock}")
        self.env.pop("DOCKER_API_VERSION", None)
        self.names = []

    def name(self, what="c"):
        """A container name unique to this test, removed at teardown."""
        n = f"sk{self.token}{what}{len(self.names)}"
        self.names.append(n)
        return n

    def _run(self, argv, input=None, timeout=TIMEOUT, env=None, binary=False):
        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                           env=env or self.env, text=not binary)
        return Result(p)

    def skiff(self, *args, input=None, timeout=TIMEOUT, env=None, binary=False):
        return self._run([SKIFF, *args], input, timeout, env, binary)

    def ok(self, *args, input=None, timeout=TIMEOUT):
        r = self.skiff(*args, input=input, timeout=timeout)
        assert r.rc == 0, f"skiff {' '.join(args)}: {r}"
        return r.out

    def docker(self, *args, input=None, timeout=TIMEOUT):
        docker = shutil.which("docker")
        if docker is None:
            pytest.skip("the docker CLI is not installed: nothing to compare with")
        return self._run([docker, *args], input, timeout)

    def popen(self, *args, **kw):
        return subprocess.Popen([SKIFF, *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kw)

    def cleanup(self):
        for n in self.names:
            self.skiff("rm", "-f", n)


@pytest.fixture
def cli():
    """A Cli bound to the daemon under test; containers named through cli.name() are removed."""
    c = Cli(daemon_socket(), secrets.token_hex(3))
    yield c
    c.cleanup()


def wait_for(predicate, timeout=15.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def without_age(text):
    """Relative times made neutral, with the column padding they shift: two commands run
    a moment apart may read "4 seconds ago" and "5 seconds ago"."""
    text = re.sub(r"(Less than a second|About an? \w+|\d+ \w+) ago", "AGE ago", text)
    return re.sub(r"  +", "  ", text)
