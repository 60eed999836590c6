"""Real engines drive skiff-oci: podman (through conmon), dockerd and ctr (through containerd
and its runc shim, containerd-shim-runc-v2).

Every daemon runs on private paths under one short temp directory per module, is started once
per module and stopped by its PID at the end, whatever the tests did. Images are imported from
the busybox rootfs (no pulls), containers run with `--network none`: nothing leaves loopback.

What these engines still write outside the temp directory, and how it is undone at the end
(only what did not exist before the module started is removed):
  podman: /var/lib/containers/cache (the blob-info cache of `podman import`), skiff-oci's default
      state root /run/skiff-oci (podman passes no --root; its exit-time cleanup would not see
      `--runtime-flag root=...`), the cgroups under --cgroup-parent;
  dockerd: /run/docker/plugins; the cgroups under --cgroup-parent;
  containerd: /run/containerd/s (shim sockets, a fixed path); the cgroups given to `ctr run`.

SKIFF_PEER_TRACE=FILE makes the engines call skiff-oci through a wrapper that appends each
call's argv and exit status to FILE: what a peer asked, and what skiff-oci answered.
"""

import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from conftest import RUNTIME_BIN, cgroup_dirs_containing, mounts_under, pid_alive, remove_cgroups

pytestmark = pytest.mark.peer

SKIFF = str(Path(RUNTIME_BIN).resolve())
TIMEOUT = 60
# A container that exits 7 on SIGTERM, and one (sleep as PID 1) that ignores it.
TRAP_TERM = ["sh", "-c", "trap 'echo got-term; exit 7' TERM; while :; do sleep 0.1; done"]
IGNORE_TERM = ["sleep", "3600"]


# ---------------------------------------------------------------- helpers


class Out:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, rc, stdout, stderr

    def __repr__(self):
        return (f"`{' '.join(map(str, self.argv))}` -> {self.returncode}\n"
                f"stdout: {self.stdout[-1500:]!r}\nstderr: {self.stderr[-1500:]!r}")


def sh(argv, env=None, timeout=TIMEOUT, input=None, check=False, cwd=None):
    """Run argv with output through files (a daemonized child may keep a pipe open)."""
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            p = subprocess.run(argv, stdout=out, stderr=err, env=env, timeout=timeout,
                               stdin=subprocess.DEVNULL if input is None else None,
                               input=input.encode() if isinstance(input, str) else input,
                               cwd=cwd)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = None
        out.seek(0)
        err.seek(0)
        res = Out(argv, rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"))
    if rc is None:
        pytest.fail(f"timed out after {timeout}s: {res}")
    if check and rc != 0:
        pytest.fail(f"command failed: {res}")
    return res


def need(*binaries):
    for b in binaries:
        if shutil.which(b) is None:
            pytest.skip(f"peer {b} is not installed (scripts/install-peers)")


def wait_until(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def skiff_state(root, cid):
    """skiff-oci's own view of a container (proves skiff-oci, not runc, runs it), or None."""
    res = sh([SKIFF, "--root", root, "state", cid])
    return json.loads(res.stdout) if res.returncode == 0 else None


def log_tail(path, n=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def pids_with_cmdline(fragment):
    """PIDs whose command line contains fragment (the daemons' helpers we started)."""
    found = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{e}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in cmd and pid_alive(int(e)):
            found.append(int(e))
    return found


def stop_pid(pid, timeout=15.0):
    """SIGTERM one process we started, then SIGKILL it if it has not gone after timeout."""
    if not pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_popen(proc, timeout=15.0):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def unmount_under(d):
    for m in sorted(mounts_under(d), key=len, reverse=True):
        subprocess.run(["umount", m], capture_output=True)
    for m in sorted(mounts_under(d), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


class Undo:
    """Remove, at the end, host paths an engine creates outside our directory: only those
    that did not exist when the module started, and directories only when empty (another
    engine on this machine may have started using them meanwhile)."""

    def __init__(self, *paths):
        self.fresh = [Path(p) for p in paths if not os.path.lexists(p)]

    def __call__(self):
        for p in sorted(self.fresh, key=lambda p: len(str(p)), reverse=True):
            try:
                p.rmdir() if p.is_dir() and not p.is_symlink() else p.unlink()
            except OSError:
                pass


def leftover_problems(top, token, expected=()):
    """Anything of ours left on the host: mounts under top, cgroups whose name has token."""
    problems = []
    mounts = mounts_under(top)
    if mounts:
        problems.append(f"mounts left: {mounts}")
        unmount_under(top)
    cgs = cgroup_dirs_containing(token)
    # The parent (--cgroup-parent, `ctr run --cgroup P/ID`) is made on the way and never
    # removed by any runtime; what sits below it is the containers' and must be gone
    # (but for the engine's own, expected: podman leaves PARENT/conmon, with runc too).
    below = [c for c in cgs
             if os.path.basename(c) != token and os.path.basename(c) not in expected]
    if below:
        problems.append(f"cgroups left: {below}")
    remove_cgroups(cgs)
    return problems


# ---------------------------------------------------------------- images


@pytest.fixture(scope="module")
def peer_top():
    """A short private directory for the module (AF_UNIX paths are limited to 108 bytes)."""
    token = "skp" + secrets.token_hex(4)
    top = Path("/tmp") / token
    top.mkdir(mode=0o711)
    yield top, token
    unmount_under(top)
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def engine_runtime(peer_top):
    """The runtime path given to the engines: skiff-oci, or a logging wrapper of it."""
    trace = os.environ.get("SKIFF_PEER_TRACE")
    if not trace:
        return SKIFF
    top, _ = peer_top
    wrapper = top / "trace" / Path(SKIFF).name  # same name: engines may look at it
    wrapper.parent.mkdir()
    wrapper.write_text(f"""#!/bin/sh
echo "[$$] argv: $*" >> '{trace}'
'{SKIFF}' "$@"
rc=$?
echo "[$$] exit $rc" >> '{trace}'
exit $rc
""")
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(scope="module")
def rootfs_tar(peer_top, rootfs_cache):
    """The busybox rootfs as a plain tar (for `docker import` / `podman import`)."""
    top, _ = peer_top
    path = top / "busybox.tar"
    with tarfile.open(path, "w") as t:
        t.add(str(rootfs_cache), arcname=".")
    return path


@pytest.fixture(scope="module")
def oci_archive(peer_top, rootfs_tar):
    """An OCI image archive (oci-layout + index.json + blobs) of the rootfs, for
    `ctr images import`: one uncompressed layer, written here so no peer tool is needed."""
    top, _ = peer_top
    ref = "docker.io/library/skiff-busybox:peer"
    blobs = {}

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": "sha256:" + digest, "size": len(data)}

    layer = blob(rootfs_tar.read_bytes())
    config = blob(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    }).encode())
    manifest = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
    }).encode())
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
        "annotations": {"org.opencontainers.image.ref.name": ref}}]}
    path = top / "busybox-oci.tar"
    with tarfile.open(path, "w") as t:
        def put(name, data):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), int(time.time())
            t.addfile(info, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        put("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            put(f"blobs/sha256/{digest}", data)
    return path, ref


# ---------------------------------------------------------------- podman


class Podman:
    IMAGE = "localhost/skiff-busybox:peer"
    # The runtime's default --root: podman passes none (SKIFF_OCI=runc checks the tests).
    STATE_ROOT = {"runc": "/run/runc", "crun": "/run/crun"}.get(Path(SKIFF).name,
                                                                 "/run/skiff-oci")

    def __init__(self, top, token, runtime):
        self.dir = top / "podman"
        self.dir.mkdir()
        self.token = token
        self.runtime = runtime
        self.cgroup_parent = f"/{token}-podman"
        self.ids = set()
        self._n = 0
        conf = self.dir / "containers.conf"
        # File locks under --tmpdir instead of /dev/shm/libpod_lock.
        conf.write_text('[containers]\n'
                        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
                        '[engine]\nlock_type = "file"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf), TMPDIR=str(self.dir / "tmp"))
        (self.dir / "tmp").mkdir()

    def argv(self, *args):
        d = self.dir
        return ["podman", "--root", d / "root", "--runroot", d / "runroot",
                "--tmpdir", d / "tmp", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--runtime", self.runtime, *args]

    def __call__(self, *args, **kw):
        return sh(self.argv(*args), env=self.env, **kw)

    def run(self, *args, **kw):
        """`podman run --network none --cgroup-parent P --cidfile F ARGS`; records the id."""
        self._n += 1
        cidfile = self.dir / f"cid{self._n}"
        res = self("run", "--network", "none", "--cgroup-parent", self.cgroup_parent,
                   "--cidfile", cidfile, *args, **kw)
        if cidfile.exists():
            self.ids.add(cidfile.read_text().strip())
        return res

    def cleanup(self):
        try:
            self("rm", "--force", "--all", "--time", "0", timeout=60)
            self("rmi", "--all", "--force", timeout=60)
        finally:
            # Runtime state podman could not reach; conmon processes of ours.
            for cid in self.ids:
                if os.path.exists(os.path.join(self.STATE_ROOT, cid)):
                    subprocess.run([SKIFF, "delete", "--force", cid], capture_output=True,
                                   timeout=30)
            for pid in pids_with_cmdline(str(self.dir)):
                stop_pid(pid, timeout=3)


@pytest.fixture(scope="module")
def podman(peer_top, rootfs_tar, engine_runtime):
    need("podman", "conmon")
    top, token = peer_top
    undo_cache = Undo("/var/lib/containers/cache/blob-info-cache-v1.boltdb",
                      "/var/lib/containers/cache", "/var/lib/containers")
    undo_root = Undo(Podman.STATE_ROOT)
    p = Podman(top, token, engine_runtime)
    try:
        p("import", rootfs_tar, Podman.IMAGE, check=True)
        yield p
    finally:
        try:
            p.cleanup()
        finally:
            unmount_under(p.dir)
            problems = leftover_problems(p.dir, p.cgroup_parent[1:], expected=("conmon",))
            left = [c for c in p.ids if os.path.exists(os.path.join(Podman.STATE_ROOT, c))]
            if left:
                problems.append(f"skiff-oci state left in {Podman.STATE_ROOT}: {left}")
            undo_root()
            undo_cache()
            if problems:
                pytest.fail("podman left things behind:\n  " + "\n  ".join(problems))


def test_podman_run_rm_echo(podman):
    res = podman.run("--rm", Podman.IMAGE, "echo", "ok")
    assert res.returncode == 0, res
    assert res.stdout == "ok\n", res


def test_podman_detached_exec_stop_rm(podman):
    name = podman.token + "-d"
    res = podman.run("-d", "--name", name, Podman.IMAGE, *TRAP_TERM)
    assert res.returncode == 0, res
    cid = res.stdout.strip().splitlines()[-1]
    st = skiff_state(Podman.STATE_ROOT, cid)
    assert st and st["status"] == "running", f"skiff-oci does not run {cid}: {st}"

    res = podman("exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline")
    assert res.returncode == 0 and res.stdout.startswith("exec-ok\nsh\0-c\0trap"), res
    res = podman("exec", name, "sh", "-c", "exit 5")
    assert res.returncode == 5, res
    res = podman("exec", "-t", name, "tty")
    assert res.returncode == 0 and res.stdout.startswith("/dev/pts/"), res

    started = time.monotonic()
    res = podman("stop", "--time", "20", name)
    assert res.returncode == 0, res
    assert time.monotonic() - started < 10, "SIGTERM did not reach the container's trap"
    res = podman("inspect", "--format", "{{.State.ExitCode}}", name)
    assert res.stdout.strip() == "7", res
    assert "got-term" in podman("logs", name).stdout

    res = podman("rm", name)
    assert res.returncode == 0, res
    assert skiff_state(Podman.STATE_ROOT, cid) is None
    assert podman("ps", "--all", "--quiet").stdout.strip() == ""


def test_podman_stop_falls_back_to_kill(podman):
    name = podman.token + "-k"
    res = podman.run("-d", "--name", name, Podman.IMAGE, *IGNORE_TERM)
    assert res.returncode == 0, res
    res = podman("stop", "--time", "1", name)
    assert res.returncode == 0, res
    res = podman("inspect", "--format", "{{.State.ExitCode}}", name)
    assert res.stdout.strip() == "137", res
    assert podman("rm", name).returncode == 0


@pytest.mark.parametrize("argv,code", [
    (["sh", "-c", "exit 3"], 3),
    (["no-such-command"], 127),
    (["/no/such/path"], 127),
    (["/etc/passwd"], 126),  # not executable
])
def test_podman_exit_codes(podman, argv, code):
    """podman maps runtime errors by their text: 127 "not found", 126 "permission denied"."""
    res = podman.run("--rm", Podman.IMAGE, *argv)
    assert res.returncode == code, res


# ---------------------------------------------------------------- containerd


class Containerd:
    def __init__(self, top, token, runtime):
        self.dir = top / "containerd"
        self.dir.mkdir()
        self.token = token
        self.runtime = runtime
        self.address = str(self.dir / "containerd.sock")
        self.log = self.dir / "containerd.log"
        self.runc_root = self.dir / "runc-root"
        self.fifo_dir = self.dir / "fifo"
        self.namespaces = set()
        for d in ("tmp", "runc-root", "fifo"):
            (self.dir / d).mkdir()
        d = self.dir
        self.config = d / "config.toml"
        self.config.write_text(f"""version = 2
root = "{d}/root"
state = "{d}/state"
temp = "{d}/tmp"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "debug"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
""")
        self.proc = None

    def start(self):
        # TMPDIR reaches the shims: go-runc's --process files and console sockets go there.
        env = dict(os.environ, TMPDIR=str(self.dir / "tmp"))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["containerd", "--config", self.config],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env, start_new_session=True)
        def up():
            if self.proc.poll() is not None:
                pytest.fail(f"containerd exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            return sh(["ctr", "--address", self.address, "version"], timeout=10).returncode == 0
        wait_until(up, what=f"containerd on {self.address}")

    def ctr(self, *args, ns=None, **kw):
        ns = ns or self.token
        self.namespaces.add(ns)
        return sh(["ctr", "--address", self.address, "--connect-timeout", "5s",
                   "--namespace", ns, *args], **kw)

    def why(self):
        return f"containerd log:\n{log_tail(self.log)}"

    def stop(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self._remove_ours()
        finally:
            stop_popen(self.proc)
            # Shims outlive containerd; they carry our socket's path on their command line.
            for pid in pids_with_cmdline(self.address):
                stop_pid(pid, timeout=5)

    def _remove_ours(self):
        for ns in self.namespaces:
            tasks = self.ctr("tasks", "ls", "--quiet", ns=ns).stdout.split()
            for t in tasks:
                self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", t, ns=ns)
            for t in tasks:
                for _ in range(50):
                    if self.ctr("tasks", "delete", t, ns=ns).returncode == 0:
                        break
                    time.sleep(0.1)
            for c in self.ctr("containers", "ls", "--quiet", ns=ns).stdout.split():
                self.ctr("containers", "delete", c, ns=ns)
            for ref in self.ctr("images", "ls", "--quiet", ns=ns).stdout.split():
                self.ctr("images", "rm", ref, ns=ns)


@pytest.fixture(scope="module")
def containerd(peer_top, engine_runtime):
    need("containerd", "ctr", "containerd-shim-runc-v2")
    top, token = peer_top
    undo = Undo("/run/containerd", "/run/containerd/s")
    cd = Containerd(top, token, engine_runtime)
    try:
        cd.start()
        yield cd
    finally:
        try:
            cd.stop()
        finally:
            unmount_under(cd.dir)
            problems = leftover_problems(cd.dir, token + "-ctr")
            state = cd.runc_root / token
            if state.is_dir() and os.listdir(state):
                problems.append(f"skiff-oci state left: {os.listdir(state)}")
            undo()
            if problems:
                pytest.fail("containerd left things behind:\n  " + "\n  ".join(problems))


@pytest.fixture(scope="module")
def ctr(containerd, oci_archive):
    """containerd with the busybox image imported in our namespace; yields (containerd, ref)."""
    path, ref = oci_archive
    res = containerd.ctr("images", "import", path)
    assert res.returncode == 0, f"{res}\n{containerd.why()}"
    return containerd, ref


def ctr_run_args(cd, cid):
    return ["run", "--runc-binary", cd.runtime, "--runc-root", cd.runc_root, "--fifo-dir", cd.fifo_dir,
            "--cgroup", f"/{cd.token}-ctr/{cid}"]


def test_ctr_run_rm_echo(ctr):
    cd, ref = ctr
    cid = cd.token + "-echo"
    res = cd.ctr(*ctr_run_args(cd, cid), "--rm", ref, cid, "echo", "ok")
    assert res.returncode == 0, f"{res}\n{cd.why()}"
    assert res.stdout == "ok\n", res
    assert cd.ctr("containers", "ls", "--quiet").stdout.split() == []


def test_ctr_detached_exec_pause_kill_delete(ctr):
    cd, ref = ctr
    cid = cd.token + "-d"
    res = cd.ctr(*ctr_run_args(cd, cid), "--detach", ref, cid, *TRAP_TERM)
    assert res.returncode == 0, f"{res}\n{cd.why()}"
    # The shim drives skiff-oci with --root RUNC_ROOT/NAMESPACE.
    root = cd.runc_root / cd.token
    st = skiff_state(root, cid)
    assert st and st["status"] == "running", f"skiff-oci does not run {cid}: {st}\n{cd.why()}"

    res = cd.ctr("tasks", "exec", "--fifo-dir", cd.fifo_dir, "--exec-id", "e1", cid,
                 "sh", "-c", "echo exec-ok; exit 4")
    assert res.returncode == 4 and res.stdout == "exec-ok\n", f"{res}\n{cd.why()}"

    res = cd.ctr("tasks", "ps", cid)
    assert res.returncode == 0 and str(st["pid"]) in res.stdout, f"{res}\n{cd.why()}"

    assert cd.ctr("tasks", "pause", cid).returncode == 0, cd.why()
    assert "PAUSED" in cd.ctr("tasks", "ls").stdout
    assert skiff_state(root, cid)["status"] == "paused"
    assert cd.ctr("tasks", "resume", cid).returncode == 0, cd.why()
    assert skiff_state(root, cid)["status"] == "running"

    res = cd.ctr("tasks", "kill", "--signal", "SIGTERM", cid)
    assert res.returncode == 0, f"{res}\n{cd.why()}"
    wait_until(lambda: "STOPPED" in cd.ctr("tasks", "ls").stdout, what=f"{cid} to stop")
    res = cd.ctr("tasks", "delete", cid)
    assert res.returncode == 0, f"{res}\n{cd.why()}"
    assert "exit code 7" in res.stderr, res  # ctr warns about a non-zero exit
    assert cd.ctr("containers", "delete", cid).returncode == 0
    assert skiff_state(root, cid) is None
    assert not (root / cid).exists()


def test_ctr_exit_code_and_missing_executable(ctr):
    cd, ref = ctr
    cid = cd.token + "-x"
    res = cd.ctr(*ctr_run_args(cd, cid), "--rm", ref, cid, "sh", "-c", "exit 9")
    assert res.returncode == 9, f"{res}\n{cd.why()}"
    cid = cd.token + "-m"
    res = cd.ctr(*ctr_run_args(cd, cid), "--rm", ref, cid, "/no/such/path")
    assert res.returncode != 0, res
    # The shim reads skiff-oci's --log (json) to report why create failed.
    assert "no such file or directory" in res.stderr, res
    cd.ctr("containers", "delete", cid)


# ---------------------------------------------------------------- dockerd


class Dockerd:
    IMAGE = "skiff-busybox:peer"

    def __init__(self, top, token, containerd):
        self.dir = top / "docker"
        self.dir.mkdir()
        self.token = token
        self.containerd = containerd
        self.sock = self.dir / "docker.sock"
        self.pidfile = self.dir / "docker.pid"
        self.log = self.dir / "dockerd.log"
        self.exec_root = self.dir / "exec"
        # The shim's --root for the runtimes of dockerd's containers.
        self.state_root = self.exec_root / "runtime-runc" / "moby"
        (self.dir / "tmp").mkdir()
        (self.dir / "cli").mkdir()
        # A config file of our own: /etc/docker/daemon.json is not read, and the daemon's
        # identity key goes here rather than to /etc/docker/key.json.
        self.config = self.dir / "daemon.json"
        self.config.write_text(json.dumps({"deprecated-key-path": str(self.dir / "key.json")}))
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=str(self.dir / "cli"))
        self.env.pop("DOCKER_CONTEXT", None)
        self.proc = None

    def start(self):
        d = self.dir
        argv = ["dockerd", "--config-file", self.config, "--data-root", d / "data",
                "--exec-root", self.exec_root, "-H", f"unix://{self.sock}",
                "--pidfile", self.pidfile, "--bridge", "none", "--iptables=false",
                "--ip6tables=false", "--containerd", self.containerd.address,
                "--cgroup-parent", f"/{self.token}-docker", "--add-runtime", f"skiff={self.containerd.runtime}"]
        env = dict(os.environ, DOCKER_TMPDIR=str(d / "tmp"), TMPDIR=str(d / "tmp"))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env,
                                         start_new_session=True)
        def up():
            if self.proc.poll() is not None:
                pytest.fail(f"dockerd exited ({self.proc.returncode}):\n{log_tail(self.log)}")
            return self.sock.exists() and self("version").returncode == 0
        wait_until(up, what=f"dockerd on {self.sock}")

    def __call__(self, *args, **kw):
        return sh(["docker", *args], env=self.env, **kw)

    def run(self, *args, **kw):
        return self("run", "--runtime", "skiff", "--network", "none", *args, **kw)

    def why(self):
        return f"dockerd log:\n{log_tail(self.log)}\n{self.containerd.why()}"

    def stop(self):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                ids = self("ps", "--all", "--quiet").stdout.split()
                if ids:
                    self("rm", "--force", *ids)
        finally:
            stop_popen(self.proc, timeout=20)


@pytest.fixture(scope="module")
def docker(peer_top, containerd, rootfs_tar):
    need("dockerd", "docker")
    top, token = peer_top
    undo = Undo("/run/docker", "/run/docker/plugins")
    dk = Dockerd(top, token, containerd)
    try:
        dk.start()
        res = dk("import", rootfs_tar, Dockerd.IMAGE)
        assert res.returncode == 0, f"{res}\n{dk.why()}"
        yield dk
    finally:
        try:
            dk.stop()
        finally:
            unmount_under(dk.dir)
            problems = leftover_problems(dk.dir, token + "-docker")
            if dk.state_root.is_dir() and os.listdir(dk.state_root):
                problems.append(f"skiff-oci state left: {os.listdir(dk.state_root)}")
            undo()
            if problems:
                pytest.fail("dockerd left things behind:\n  " + "\n  ".join(problems))


def test_docker_run_rm_echo(docker):
    res = docker.run("--rm", Dockerd.IMAGE, "echo", "ok")
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    assert res.stdout == "ok\n", res


def test_docker_detached_exec_stop_rm(docker):
    name = docker.token + "-d"
    res = docker.run("-d", "--name", name, Dockerd.IMAGE, *TRAP_TERM)
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    cid = res.stdout.strip()
    assert docker("inspect", "--format", "{{.HostConfig.Runtime}}", name).stdout.strip() == "skiff"
    st = skiff_state(docker.state_root, cid)
    assert st and st["status"] == "running", f"skiff-oci does not run {cid}: {st}\n{docker.why()}"

    res = docker("exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline")
    assert res.returncode == 0 and res.stdout.startswith("exec-ok\nsh\0-c\0trap"), res
    res = docker("exec", name, "sh", "-c", "exit 5")
    assert res.returncode == 5, res
    res = docker("exec", "-i", name, "cat", input="from-stdin\n")
    assert res.stdout == "from-stdin\n", res
    res = docker("exec", "-t", name, "tty")  # --console-socket
    assert res.returncode == 0 and res.stdout.startswith("/dev/pts/"), res

    started = time.monotonic()
    res = docker("stop", "--time", "20", name)
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    assert time.monotonic() - started < 10, "SIGTERM did not reach the container's trap"
    assert docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "7"
    assert "got-term" in docker("logs", name).stdout

    res = docker("rm", name)
    assert res.returncode == 0, res
    assert skiff_state(docker.state_root, cid) is None
    assert docker("ps", "--all", "--quiet").stdout.strip() == ""


def test_docker_stop_falls_back_to_kill(docker):
    name = docker.token + "-k"
    res = docker.run("-d", "--name", name, Dockerd.IMAGE, *IGNORE_TERM)
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    res = docker("stop", "--time", "1", name)
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    assert docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "137"
    assert docker("rm", name).returncode == 0


def test_docker_pause_update_top(docker):
    name = docker.token + "-p"
    res = docker.run("-d", "--name", name, Dockerd.IMAGE, *IGNORE_TERM)
    assert res.returncode == 0, f"{res}\n{docker.why()}"
    try:
        assert docker("pause", name).returncode == 0, docker.why()
        assert docker("inspect", "--format", "{{.State.Status}}", name).stdout.strip() == "paused"
        assert docker("unpause", name).returncode == 0, docker.why()
        res = docker("top", name)  # `ps --format json`
        assert res.returncode == 0 and "sleep 3600" in res.stdout, res
        res = docker("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "99",
                     name)  # `update --resources -`
        assert res.returncode == 0, f"{res}\n{docker.why()}"
        res = docker("exec", name, "cat", "/sys/fs/cgroup/pids/pids.max")
        if res.returncode == 0:  # cgroup v1 layout inside the container
            assert res.stdout.strip() == "99", res
    finally:
        docker("rm", "--force", name)


@pytest.mark.parametrize("argv,code", [
    (["sh", "-c", "exit 3"], 3),
    (["no-such-command"], 127),
    (["/no/such/path"], 127),
    (["/etc/passwd"], 126),  # not executable
    (["/tmp"], 126),         # a directory
])
def test_docker_exit_codes(docker, argv, code):
    """dockerd and the CLI map runtime errors by their (Go, lower-case) text: 127 for "no such
    file or directory" / "executable file not found", 126 for "permission denied"."""
    res = docker.run("--rm", Dockerd.IMAGE, *argv)
    assert res.returncode == code, res


def test_docker_home_from_passwd(docker):
    """docker puts no HOME in the spec: the runtime sets it from /etc/passwd, as runc does."""
    res = docker.run("--rm", Dockerd.IMAGE, "sh", "-c", 'echo "$HOME"')
    assert res.stdout == "/root\n", res
    res = docker.run("--rm", "--user", "65534", Dockerd.IMAGE, "sh", "-c", 'echo "$HOME"')
    assert res.stdout == "/nonexistent\n", res
    res = docker.run("--rm", "--user", "4444", Dockerd.IMAGE, "sh", "-c", 'echo "$HOME"')
    assert res.stdout == "/\n", res
    res = docker.run("--rm", "-e", "HOME=/mine", Dockerd.IMAGE, "sh", "-c", 'echo "$HOME"')
    assert res.stdout == "/mine\n", res


def test_docker_readonly_paths_keep_nosuid_nodev_noexec(docker):
    res = docker.run("--rm", Dockerd.IMAGE, "cat", "/proc/self/mountinfo")
    assert res.returncode == 0, res
    opts = {f[4]: set(f[5].split(",")) for f in (l.split() for l in res.stdout.splitlines())}
    for path in ("/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"):
        if path in opts:
            assert {"ro", "nosuid", "nodev", "noexec"} <= opts[path], (path, opts[path])
