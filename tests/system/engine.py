"""A private skiffd for system tests: its own data-root, exec-root and socket under a
temp dir, a busybox image imported into it, and the docker CLI pointed at it."""

import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIFFD = os.environ.get("SKIFFD") or str(REPO / "build" / "skiffd")
DOCKER = shutil.which("docker", path="/usr/local/bin:/usr/bin")


class Engine:
    def __init__(self, top):
        self.top = Path(top)
        self.data = self.top / "data"
        self.exec_root = self.top / "exec"
        self.sock = self.exec_root / "skiff.sock"
        self.proc = None
        self.args = []  # more skiffd arguments (--config-file ...)
        self.prefix = []  # a command that execs skiffd (nsenter --net=... --)
        self.log = open(self.top / "skiffd.log", "ab")

    @property
    def env(self):
        env = dict(os.environ)
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_BUILDKIT"] = "0"
        env.pop("DOCKER_CONTEXT", None)
        return env

    def start(self):
        self.proc = subprocess.Popen(
            [*self.prefix, SKIFFD, "--data-root", str(self.data), "--exec-root", str(self.exec_root),
             "-H", f"unix://{self.sock}", "--debug", *self.args],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skiffd exited with {self.proc.returncode}: "
                                   f"{(self.top / 'skiffd.log').read_text()[-2000:]}")
            if self.sock.exists() and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("skiffd did not answer within 20 s")

    def kill(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def docker(self, *args, check=True, input=None, timeout=60):
        res = subprocess.run([DOCKER, *map(str, args)], env=self.env, input=input,
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(map(str, args))} -> {res.returncode}: "
                                 f"{res.stderr.strip()}")
        return res

    def import_busybox(self, rootfs, tag="busybox:latest"):
        tar_path = self.top / "busybox.tar"
        if not tar_path.exists():
            with tarfile.open(tar_path, "w") as t:
                for entry in sorted(os.listdir(rootfs)):
                    t.add(os.path.join(rootfs, entry), arcname=entry)
        self.docker("import", tar_path, tag)

    def cleanup(self):
        """Remove every container (their shims stop them), then the daemon and its files."""
        if self.proc and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
        self.kill()
        for line in open("/proc/self/mountinfo").read().splitlines():
            mnt = line.split()[4]
            if mnt.startswith(str(self.top)):
                subprocess.run(["umount", "-l", mnt], capture_output=True)
        self.log.close()
        shutil.rmtree(self.top, ignore_errors=True)


def new_engine():
    return Engine(tempfile.mkdtemp(prefix="skiffd-test-"))
