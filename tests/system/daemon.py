"""A private skiffd for the daemon-core tests: its own data root, exec root, socket and
(empty) daemon.json under a short temp dir, started from build/skiffd (or $SKIFFD) and
stopped by its PID.  Helpers to talk to it with curl and with the real docker CLI."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIFFD = os.environ.get("SKIFFD") or str(REPO / "build" / "skiffd")
DOCKER = shutil.which("docker", path="/usr/local/bin:/usr/bin")
CURL = shutil.which("curl")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Skiffd:
    """One skiffd process on private paths.  start() waits until /_ping answers."""

    def __init__(self, top=None, data_root=None, config=None):
        self.top = Path(top or tempfile.mkdtemp(prefix="skiffd-t", dir="/tmp"))
        self.data = Path(data_root) if data_root else self.top / "data"
        self.exec_root = self.top / "exec"
        self.sock = self.exec_root / "skiff.sock"
        self.pidfile = self.exec_root / "skiffd.pid"
        self.config = self.top / "daemon.json"
        self.config.write_text(json.dumps(config or {}))
        self.logfile = self.top / "skiffd.log"
        self.proc = None

    def argv(self, *extra, hosts=None):
        hosts = hosts if hosts is not None else [f"unix://{self.sock}"]
        args = [SKIFFD, "--data-root", str(self.data), "--exec-root", str(self.exec_root),
                "--config-file", str(self.config), "--debug"]
        for h in hosts:
            args += ["-H", h]
        return args + list(extra)

    def run(self, *extra, hosts=None, timeout=10):
        """Run skiffd expecting it to exit (a refused start): the CompletedProcess."""
        return subprocess.run(self.argv(*extra, hosts=hosts), capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *extra, hosts=None, ping=True, argv=None):
        """Start skiffd (argv replaces the usual command line) and wait until it answers."""
        if not os.path.exists(SKIFFD):
            pytest.fail(f"{SKIFFD} not found (run `make`)")
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(argv or self.argv(*extra, hosts=hosts),
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"skiffd exited with {self.proc.returncode}:\n{self.log_text()}")
            if self.sock.exists() and (not ping or self.curl("/_ping").returncode == 0):
                return self
            time.sleep(0.05)
        raise AssertionError(f"skiffd did not answer within 15 s:\n{self.log_text()}")

    def log_text(self):
        try:
            return self.logfile.read_text()[-4000:]
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop the process we started, by its PID; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.top, ignore_errors=True)

    # ------------------------------------------------------------ clients

    def curl(self, path, *args, method=None, timeout=10):
        """curl over the unix socket; returns the CompletedProcess (stdout: body)."""
        cmd = [CURL, "-sS", "--unix-socket", str(self.sock)]
        if method:
            cmd += ["-X", method]
        cmd += list(args) + [f"http://skiff{path}"]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def get(self, path, *args):
        """(status, headers dict with lower-case names, body text) of a request."""
        res = self.curl(path, "-i", *args)
        assert res.returncode == 0, res.stderr
        text = res.stdout.replace("\r\n", "\n")
        while text.startswith("HTTP/1.1 100"):  # "100 Continue" before the answer
            text = text.partition("\n\n")[2]
        head, _, body = text.partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, body

    def get_json(self, path, *args):
        status, headers, body = self.get(path, *args)
        return status, json.loads(body)

    @property
    def docker_env(self):
        env = dict(os.environ)
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_CONFIG"] = str(self.top / "docker-config")
        env.pop("DOCKER_CONTEXT", None)
        env.pop("DOCKER_TLS_VERIFY", None)
        return env

    def docker(self, *args, timeout=30, env=None):
        if DOCKER is None:
            pytest.skip("the docker CLI is not installed")
        return subprocess.run([DOCKER, *map(str, args)], env=env or self.docker_env,
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def skiffd():
    """One skiffd for a test module's read-only API checks (each module that imports this
    fixture gets its own)."""
    d = Skiffd().start()
    yield d
    d.cleanup()


@pytest.fixture
def new_skiffd():
    """new_skiffd(**kw): daemons of the test's own (not started); stopped and removed after."""
    made = []

    def make(**kw):
        d = Skiffd(**kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
