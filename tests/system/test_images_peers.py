"""Image archives between skiff and the peers: docker save from Debian's dockerd loads
into skiffd with the same image id, and skiffd's save loads into dockerd (which then
runs it) and into podman; podman's docker-archive and OCI-archive saves load into
skiffd. Each peer runs on private temp paths and is stopped by its PID; tests that need
a missing peer skip."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from daemon import DOCKER, Skiffd

pytestmark = [pytest.mark.peer,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

DOCKERD = shutil.which("dockerd")
PODMAN = shutil.which("podman")


@pytest.fixture
def skiff():
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    d = Skiffd().start()
    yield d
    d.cleanup()


class Dockerd:
    """Debian's dockerd on private paths (PEERS.md), no bridge, no iptables."""

    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="skdk", dir="/tmp"))
        self.sock = self.top / "docker.sock"
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=str(self.top / "cli"))
        self.env.pop("DOCKER_CONTEXT", None)
        self.log = open(self.top / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            [DOCKERD, "--data-root", str(self.top / "docker"), "--exec-root",
             str(self.top / "exec"), "-H", f"unix://{self.sock}", "--pidfile",
             str(self.top / "docker.pid"), "--bridge", "none", "--iptables=false"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.sock.exists() and self.docker("version").returncode == 0:
                return
            time.sleep(0.2)
        self.stop()
        pytest.skip("dockerd did not start: " + (self.top / "dockerd.log").read_text()[-500:])

    def docker(self, *args, timeout=120):
        return subprocess.run([DOCKER, *map(str, args)], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        # dockerd unmounts its own mounts on a clean stop; anything left is ours to drop.
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            point = line.split()[4]
            if point.startswith(str(self.top)):
                subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd():
    if DOCKERD is None or DOCKER is None:
        pytest.skip("dockerd is not installed (apt-get install docker.io)")
    d = Dockerd()
    yield d
    d.stop()


class Podman:
    def __init__(self):
        self.top = Path(tempfile.mkdtemp(prefix="skpm", dir="/tmp"))

    def run(self, *args, timeout=180):
        argv = [PODMAN, "--root", str(self.top / "root"), "--runroot", str(self.top / "run"),
                "--tmpdir", str(self.top / "tmp"), "--storage-driver", "vfs",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file", *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def cleanup(self):
        shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture
def podman():
    if PODMAN is None:
        pytest.skip("podman is not installed (apt-get install podman)")
    p = Podman()
    yield p
    p.cleanup()


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    return res.stdout


def test_dockerd_save_loads_into_skiff_with_the_same_id(dockerd, skiff, busybox_tar, tmp_path):
    ok(dockerd.docker("import", "-c", "CMD [\"sh\"]", busybox_tar, "fromdocker:1"))
    want = ok(dockerd.docker("image", "inspect", "-f", "{{.Id}}", "fromdocker:1")).strip()
    archive = tmp_path / "fromdocker.tar"
    ok(dockerd.docker("save", "-o", archive, "fromdocker:1"))
    assert "Loaded image: fromdocker:1" in ok(skiff.docker("load", "-i", archive))
    got = ok(skiff.docker("image", "inspect", "-f", "{{.Id}} {{.Config.Cmd}}", "fromdocker:1"))
    assert got.split() == [want, "[sh]"]


def test_skiff_save_loads_into_dockerd_which_runs_it(dockerd, skiff, busybox_tar, tmp_path):
    want = ok(skiff.docker("import", "-c", "CMD [\"sh\"]", busybox_tar, "fromskiff:1")).strip()
    archive = tmp_path / "fromskiff.tar"
    ok(skiff.docker("save", "-o", archive, "fromskiff:1"))
    assert "Loaded image: fromskiff:1" in ok(dockerd.docker("load", "-i", archive))
    got = ok(dockerd.docker("image", "inspect", "-f", "{{.Id}}", "fromskiff:1")).strip()
    assert got == want
    run = dockerd.docker("run", "--rm", "--network", "none", "fromskiff:1", "cat",
                         "/etc/passwd")
    if run.returncode != 0 and "cgroup" in run.stderr:
        pytest.skip(f"dockerd cannot run containers here: {run.stderr.strip()}")
    assert ok(run).startswith("root:x:0:0")


def test_skiff_save_loads_into_podman(podman, skiff, busybox_tar, tmp_path):
    want = ok(skiff.docker("import", busybox_tar, "fromskiff:2")).strip()
    archive = tmp_path / "fromskiff.tar"
    ok(skiff.docker("save", "-o", archive, "fromskiff:2"))
    ok(podman.run("load", "-i", archive))
    got = ok(podman.run("image", "inspect", "--format", "{{.Id}}", "fromskiff:2")).strip()
    assert "sha256:" + got == want or got == want


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_save_loads_into_skiff(podman, skiff, busybox_tar, tmp_path, fmt):
    ok(podman.run("import", busybox_tar, "frompodman:1"))
    archive = tmp_path / f"frompodman-{fmt}.tar"
    name = "localhost/frompodman:1"
    ok(podman.run("save", "--format", fmt, "-o", archive, name))
    out = ok(skiff.docker("load", "-i", archive))
    assert "Loaded image" in out
    want = ok(podman.run("image", "inspect", "--format", "{{.Id}}", name)).strip()
    ids = ok(skiff.docker("images", "-q", "--no-trunc")).split()
    assert f"sha256:{want}" in ids
