"""Fixtures for the OCI runtime system tests.

The runtime under test is $SKIFF_OCI (default: the repository's build/skiff-oci); run the
suite with SKIFF_OCI=/usr/sbin/runc to check the tests themselves against runc.

Every test gets a short private work directory (/tmp/skt<hex>), a runtime whose --root lives
in it, and container ids that contain the same token.  Teardown force-deletes every container
under that root and then checks that nothing is left behind: no state entry, no cgroup
directory, no mount and no process that belongs to the test.  Anything found is cleaned up
and reported as an error of the test.
"""

import errno
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_BIN = os.environ.get("SKIFF_OCI") or str(REPO / "build" / "skiff-oci")
IS_SKIFF = Path(RUNTIME_BIN).name == "skiff-oci"
BUSYBOX = "/bin/busybox"
DEFAULT_TIMEOUT = 30


# ---------------------------------------------------------------- pytest hooks


def pytest_configure(config):
    # Registered here as well as in pytest.ini, so a run from another rootdir still knows them.
    for line in (
        "cgroup: exercises cgroup limits, freezer or stats",
        "peer: needs a peer runtime installed",
        "skiff_only: checks skiff-oci's own contract; skipped for other runtimes",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config, items):
    not_root = os.geteuid() != 0
    for item in items:
        if not_root:
            item.add_marker(pytest.mark.skip(reason="system tests need root"))
        elif "skiff_only" in item.keywords and not IS_SKIFF:
            item.add_marker(
                pytest.mark.skip(reason=f"skiff_only: runtime under test is {RUNTIME_BIN}")
            )


def pytest_report_header(config):
    return f"OCI runtime under test: {RUNTIME_BIN} (skiff-oci: {IS_SKIFF})"


# ---------------------------------------------------------------- small helpers


def wait_for(predicate, timeout=5.0, interval=0.02, what="condition"):
    """Poll predicate until it returns a truthy value; return it or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_starttime(pid):
    """The start time (field 22 of /proc/PID/stat) of pid, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def pid_alive(pid, starttime=None):
    """True if pid exists, is not a zombie and (if given) still has the same start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return False
    return starttime is None or int(fields[19]) == starttime


def kill_pid(pid, starttime=None):
    """SIGKILL one process we started, by PID, after checking it is still the same process."""
    if pid_alive(pid, starttime):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def mountinfo():
    """The mount points of this mount namespace, as (mount id, mount point) pairs."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        f = line.split()
        out.append((int(f[0]), f[4].replace("\\040", " ")))
    return out


def mounts_under(prefix):
    """Mount points in this namespace whose path contains prefix."""
    return [m for _, m in mountinfo() if str(prefix) in m]


def ns_inode(pid, kind):
    """The inode of /proc/PID/ns/KIND, comparable with `readlink` output inside a container."""
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


# ---------------------------------------------------------------- cgroups (v1 and v2)


def _cgroup_mounts():
    """(version, mount point, mount root, controllers) of every cgroup mount on the host."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        lf, rf = left.split(), right.split()
        fstype, superopts = rf[0], rf[2] if len(rf) > 2 else ""
        if fstype == "cgroup":
            mounts.append((1, lf[4], lf[3], set(superopts.split(","))))
        elif fstype == "cgroup2":
            mounts.append((2, lf[4], lf[3], set()))
    return mounts


def cgroup_roots():
    """Every cgroup hierarchy's mount point (v1 controllers and v2)."""
    return [m[1] for m in _cgroup_mounts()]


class Cgroup:
    """The cgroup of a process for one controller, on cgroup v1 or v2.

    Located through /proc/PID/cgroup and /proc/self/mountinfo, never through fixed v1 paths,
    so the same test works on this hybrid host and on a pure cgroup v2 machine.
    """

    def __init__(self, version, path):
        self.version = version
        self.path = Path(path)

    @property
    def v1(self):
        return self.version == 1

    @classmethod
    def of(cls, pid, controller):
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        mounts = _cgroup_mounts()
        v2_path = None
        for line in lines:
            hid, ctrls, path = line.split(":", 2)
            if hid == "0" and ctrls == "":
                v2_path = path
                continue
            if controller not in ctrls.split(","):
                continue
            for version, point, root, opts in mounts:
                if version == 1 and controller in opts:
                    return cls(1, _join_cgroup(point, root, path))
        if v2_path is not None:
            for version, point, root, _ in mounts:
                if version != 2:
                    continue
                d = Path(_join_cgroup(point, root, v2_path))
                if controller == "freezer":
                    if (d / "cgroup.freeze").exists():
                        return cls(2, d)
                    continue
                try:
                    enabled = (d / "cgroup.controllers").read_text().split()
                except OSError:
                    continue
                if controller in enabled:
                    return cls(2, d)
        raise LookupError(f"no {controller} cgroup found for pid {pid}")

    def file(self, v1=None, v2=None):
        name = v1 if self.v1 else v2
        assert name, f"no file name given for cgroup v{self.version}"
        return self.path / name

    def read(self, v1=None, v2=None):
        return self.file(v1, v2).read_text().strip()


def _join_cgroup(point, root, path):
    rel = os.path.relpath(path, root) if root != "/" else path.lstrip("/")
    return os.path.normpath(os.path.join(point, rel))


def cgroup_dirs_containing(token, exact=False):
    """Cgroup directories on any hierarchy whose name contains (or, exact, is) token,
    with their subdirectories, deepest first."""
    found = []
    for root in cgroup_roots():
        for dirpath, dirnames, _ in os.walk(root):
            for d in dirnames:
                if (d == token) if exact else (token in d):
                    full = os.path.join(dirpath, d)
                    for sub, _, _ in os.walk(full):
                        found.append(sub)
    return sorted(set(found), key=len, reverse=True)


# ---------------------------------------------------------------- rootfs and bundles


@pytest.fixture(scope="session")
def rootfs_cache():
    """A busybox rootfs built once per session by scripts/make-busybox-rootfs (Debian's
    busybox-static), the same one the README's main job uses."""
    if not os.path.exists(BUSYBOX):
        pytest.skip(f"{BUSYBOX} missing (apt-get install busybox-static)")
    top = Path(tempfile.mkdtemp(prefix="skiff-rootfs-"))
    r = top / "rootfs"
    subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs"), str(r)], check=True)
    yield r
    shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def busybox_engine(rootfs_cache):
    """A private skiffd with busybox imported, shared by one test module."""
    from engine import new_engine  # engine.py is a sibling module, not a package
    e = new_engine()
    try:
        e.start()
        e.import_busybox(rootfs_cache)
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def empty_engine():
    """A private skiffd with an empty store, for one test."""
    from engine import new_engine
    e = new_engine()
    try:
        e.start()
        yield e
    finally:
        e.cleanup()


@pytest.fixture(scope="module")
def engine(busybox_engine):
    """The engine tests' daemon; a module that needs another defines its own."""
    return busybox_engine


@pytest.fixture(scope="session")
def busybox_tar(rootfs_cache, tmp_path_factory):
    """rootfs_cache as a tar, for imports."""
    tar = tmp_path_factory.mktemp("bb") / "busybox.tar"
    subprocess.run(["tar", "-C", str(rootfs_cache), "-cf", str(tar), "."], check=True)
    return tar


@pytest.fixture(scope="session")
def base_spec():
    """The runtime's own `spec` output, generated once and deep-copied per bundle."""
    d = Path(tempfile.mkdtemp(prefix="skiff-spec-"))
    try:
        res = subprocess.run(
            [RUNTIME_BIN, "spec", "--bundle", str(d)],
            capture_output=True, text=True, timeout=DEFAULT_TIMEOUT,
        )
        if res.returncode != 0:
            pytest.fail(f"`{RUNTIME_BIN} spec` failed ({res.returncode}): {res.stderr}")
        return (d / "config.json").read_text()
    except FileNotFoundError:
        pytest.fail(f"runtime {RUNTIME_BIN} not found (run `make` or set SKIFF_OCI)")
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Bundle:
    """A bundle directory: rootfs/ plus a config dict written to config.json on demand."""

    def __init__(self, path, config):
        self.path = Path(path)
        self.rootfs = self.path / "rootfs"
        self.config = config

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    def args(self, *argv):
        """Set process.args; a single string is run with `sh -c`."""
        if len(argv) == 1 and isinstance(argv[0], str) and " " in argv[0]:
            argv = ("sh", "-c", argv[0])
        self.process["args"] = list(argv)
        return self

    def add_mount(self, destination, type_="bind", source=None, options=None):
        m = {"destination": destination, "type": type_, "source": str(source or type_)}
        if options is not None:
            m["options"] = list(options)
        self.config.setdefault("mounts", []).append(m)
        return m

    def set_namespace(self, kind, path=None):
        """Add (or replace) a namespace entry, optionally joining path."""
        nss = [n for n in self.linux.setdefault("namespaces", []) if n["type"] != kind]
        entry = {"type": kind}
        if path:
            entry["path"] = str(path)
        nss.append(entry)
        self.linux["namespaces"] = nss

    def drop_namespace(self, kind):
        self.linux["namespaces"] = [
            n for n in self.linux.get("namespaces", []) if n["type"] != kind
        ]

    def write(self):
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))

    def write_raw(self, text):
        """Write config.json verbatim (for malformed-input tests)."""
        (self.path / "config.json").write_text(text)


@pytest.fixture
def token():
    """A per-test token used in the work dir and container ids, to find anything left over."""
    return "skt" + secrets.token_hex(4)


@pytest.fixture
def workdir(token):
    """A short private directory for the test (short, because AF_UNIX paths are limited)."""
    d = Path("/tmp") / token
    d.mkdir(mode=0o755)
    yield d
    left = mounts_under(d)
    for m in sorted(left, key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    if mounts_under(d):
        pytest.fail(f"cannot unmount {mounts_under(d)}; leaving {d} in place")
    shutil.rmtree(d, ignore_errors=True)
    if left:
        pytest.fail(f"mounts left on the host under {d}: {left}")


def make_bundle(path, rootfs_cache, base_spec):
    """Copy the cached rootfs into path/rootfs and patch the spec for non-interactive tests."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(rootfs_cache), str(path / "rootfs")], check=True)
    config = json.loads(base_spec)
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sleep", "3600"]
    config["root"] = {"path": "rootfs", "readonly": False}
    b = Bundle(path, config)
    b.write()
    return b


@pytest.fixture
def bundle(workdir, rootfs_cache, base_spec):
    """A fresh bundle per test: busybox rootfs (writable), terminal off, args `sleep 3600`."""
    return make_bundle(workdir / "bundle", rootfs_cache, base_spec)


@pytest.fixture
def new_bundle(workdir, rootfs_cache, base_spec):
    """A factory for more bundles in the same test: new_bundle("name")."""
    def make(name):
        return make_bundle(workdir / name, rootfs_cache, base_spec)
    return make


# ---------------------------------------------------------------- the runtime


class Result:
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def __repr__(self):
        return (f"Result({' '.join(map(str, self.argv))!r} -> {self.returncode}, "
                f"stdout={self.stdout[-2000:]!r}, stderr={self.stderr[-2000:]!r})")


class Runtime:
    """Drives the runtime under test with --root in the test's work dir.

    Output is captured through files, never pipes: a detached container inherits the
    runtime's stdio, and a pipe would then keep the caller waiting until the container exits.
    """

    def __init__(self, binary, root, workdir, token, id_prefix=None):
        self.binary = binary
        self.root = Path(root)
        self.workdir = Path(workdir)
        self.token = token
        self.id_prefix = id_prefix or token
        self.ids = []
        self.pids = []        # (pid, starttime) of container processes seen by the test
        self.procs = []       # Popen objects started through popen()
        self._n = 0
        self._io = 0

    # -- plumbing

    def argv(self, *args):
        return [self.binary, "--root", str(self.root), *map(str, args)]

    def new_id(self, name="c"):
        self._n += 1
        cid = f"{self.id_prefix}-{name}{self._n}"
        self.ids.append(cid)
        return cid

    def _iofiles(self):
        self._io += 1
        base = self.workdir / f"io{self._io}"
        return open(f"{base}.out", "w+b"), open(f"{base}.err", "w+b")

    def run(self, *args, check=True, input=None, timeout=DEFAULT_TIMEOUT, pass_fds=(),
            env=None, global_args=(), prefix=()):
        """Run `[prefix...] <runtime> --root R [global_args] args...`; return a Result.

        check=True fails the test on a non-zero exit.  input is fed on stdin.  prefix is a
        wrapper command (e.g. a shell that opens extra fds for --preserve-fds).
        """
        argv = [*map(str, prefix), self.binary, "--root", str(self.root), *map(str, global_args), *map(str, args)]
        out, err = self._iofiles()
        with out, err:
            try:
                p = subprocess.run(
                    argv, stdout=out, stderr=err, timeout=timeout, pass_fds=pass_fds,
                    input=input.encode() if isinstance(input, str) else input,
                    stdin=None if input is not None else subprocess.DEVNULL, env=env,
                )
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = None
            out.seek(0)
            err.seek(0)
            res = Result(argv, rc, out.read().decode(errors="replace"),
                         err.read().decode(errors="replace"))
        if rc is None:
            pytest.fail(f"timed out after {timeout}s: {res}")
        if check and rc != 0:
            pytest.fail(f"runtime command failed: {res}")
        return res

    def popen(self, *args, input_pipe=False, **kw):
        """Start the runtime in the background (e.g. an attached `run`); stdout/err to files."""
        argv = self.argv(*args)
        out, err = self._iofiles()
        p = subprocess.Popen(argv, stdout=out, stderr=err,
                             stdin=subprocess.PIPE if input_pipe else subprocess.DEVNULL, **kw)
        p.out_file, p.err_file = out, err
        p.argv = argv
        self.procs.append(p)
        return p

    @staticmethod
    def finish(p, timeout=DEFAULT_TIMEOUT):
        """Wait for a popen() process; return a Result."""
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            pytest.fail(f"timed out after {timeout}s: {p.argv}")
        p.out_file.seek(0)
        p.err_file.seek(0)
        return Result(p.argv, rc, p.out_file.read().decode(errors="replace"),
                      p.err_file.read().decode(errors="replace"))

    def track_pid(self, pid):
        if pid and pid > 0:
            self.pids.append((pid, pid_starttime(pid)))

    # -- commands

    def create(self, bundle, cid=None, *extra, check=True, **kw):
        """`create --bundle B ID` (config written first); returns the id (or Result if check=False)."""
        cid = cid or self.new_id()
        bundle.write()
        res = self.run("create", "--bundle", bundle.path, *extra, cid, check=check, **kw)
        if res.returncode == 0:
            self.track_pid(self.state(cid).get("pid"))
        return cid if check else res

    def start(self, cid, **kw):
        return self.run("start", cid, **kw)

    def create_started(self, bundle, cid=None, *extra):
        """create + start; returns the id once the container is running."""
        cid = self.create(bundle, cid, *extra)
        self.start(cid)
        return cid

    def run_container(self, bundle, cid=None, *extra, check=False, **kw):
        """An attached `run --bundle B ID`; returns the Result (exit code = the container's)."""
        cid = cid or self.new_id()
        bundle.write()
        return self.run("run", "--bundle", bundle.path, *extra, cid, check=check, **kw)

    def output(self, bundle, *argv, **kw):
        """Run argv in a new container from bundle; assert exit 0 and return its stdout."""
        if argv:
            bundle.args(*argv)
        res = self.run_container(bundle, **kw)
        assert res.returncode == 0, res
        return res.stdout

    def state(self, cid):
        return json.loads(self.run("state", cid).stdout)

    def status(self, cid):
        return self.state(cid)["status"]

    def try_state(self, cid):
        """The state, or None if the runtime does not (yet) know the container."""
        res = self.run("state", cid, check=False)
        return json.loads(res.stdout) if res.returncode == 0 else None

    def wait_status(self, cid, want, timeout=5.0):
        """Wait until `state` reports want (the container may not exist yet)."""
        def reached():
            st = self.try_state(cid)
            return st is not None and st["status"] == want
        return wait_for(reached, timeout=timeout, what=f"{cid} to be {want}")

    def pid(self, cid):
        return self.state(cid)["pid"]

    def exec(self, cid, *argv, opts=(), check=False, **kw):
        """`exec [opts] ID argv...`; returns the Result."""
        return self.run("exec", *opts, cid, *argv, check=check, **kw)

    def kill(self, cid, sig=None, *extra, check=True):
        args = ["kill", *extra, cid] + ([str(sig)] if sig is not None else [])
        return self.run(*args, check=check)

    def delete(self, cid, force=False, check=True):
        return self.run("delete", *(["--force"] if force else []), cid, check=check)

    def list_ids(self):
        res = self.run("list", "-q", check=False)
        return [line for line in res.stdout.splitlines() if line] if res.returncode == 0 else []

    # -- teardown

    def cleanup(self, whole_test=True):
        """Force-delete every container and report anything the test left behind.

        whole_test=False (a second runtime in the same test) checks only this runtime's own
        containers; the main fixture's cleanup then checks everything carrying the token.
        """
        problems = []
        ids = set(self.list_ids()) | set(self.ids)
        if self.root.exists():
            ids |= {e for e in os.listdir(self.root) if self.id_prefix in e}
        for cid in sorted(ids):
            self.run("delete", "--force", cid, check=False, timeout=20)
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    problems.append(f"runtime process {p.pid} ({p.argv}) still running")
                    p.kill()
                    p.wait()
            p.out_file.close()
            p.err_file.close()
        if self.root.exists():
            left = [e for e in os.listdir(self.root) if self.id_prefix in e]
            if left:
                problems.append(f"state entries left under --root: {left}")
        # delete --force may return as soon as SIGKILL is sent: give the kernel a moment.
        deadline = time.monotonic() + 3
        while any(pid_alive(p, s) for p, s in self.pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid, start in self.pids:
            if pid_alive(pid, start):
                problems.append(f"container process {pid} still alive after delete --force")
                kill_pid(pid, start)
        if not whole_test:
            cgs = [d for cid in self.ids for d in cgroup_dirs_containing(cid)]
            if cgs:
                problems.append(f"cgroups left: {cgs}")
                remove_cgroups(cgs)
            return problems
        rootfs_procs = processes_rooted_in(self.workdir)
        if rootfs_procs:
            problems.append(f"processes still running in the test's rootfs: {rootfs_procs}")
            for pid in rootfs_procs:
                kill_pid(pid)
        cgs = cgroup_dirs_containing(self.token)
        # Ids a test chose itself (e.g. invalid ones a runtime wrongly accepted).
        for cid in self.ids:
            if self.token not in cid and cid not in ("", ".", "..") and "/" not in cid:
                cgs += cgroup_dirs_containing(cid, exact=True)
        if cgs:
            problems.append(f"cgroups left: {cgs}")
            remove_cgroups(cgs)
        return problems


def processes_rooted_in(workdir):
    """PIDs whose root directory is one of the rootfs directories under workdir.

    After pivot_root, /proc/PID/root reads as "/", so roots are compared by device and inode.
    """
    roots = set()
    for r in list(Path(workdir).glob("*/rootfs")) + list(Path(workdir).glob("*/*/rootfs")):
        try:
            st = os.stat(r)
            roots.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            st = os.stat(f"/proc/{entry}/root")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in roots and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def remove_cgroups(dirs):
    """Kill the processes in leaked cgroups of this test, then remove the directories."""
    for d in dirs:
        try:
            pids = Path(d, "cgroup.procs").read_text().split()
        except OSError:
            pids = []
        for pid in pids:
            kill_pid(int(pid))
    for d in dirs:
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY:
                    break
                time.sleep(0.05)


@pytest.fixture
def runtime(workdir, token):
    """The runtime under test, with --root in the test's work dir; cleans up on teardown."""
    if not os.path.exists(RUNTIME_BIN):
        pytest.fail(f"runtime {RUNTIME_BIN} not found (run `make` or set SKIFF_OCI)")
    rt = Runtime(RUNTIME_BIN, workdir / "state", workdir, token)
    yield rt
    problems = rt.cleanup()
    if problems:
        pytest.fail("test left things behind:\n  " + "\n  ".join(problems))


PEERS = {"runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}


@pytest.fixture
def peer_runtime(workdir, token):
    """peer_runtime("runc"): a peer runtime with its own --root; skipped when not installed."""
    made = []

    def get(name):
        binary = shutil.which(name) or PEERS.get(name, name)
        if not os.access(binary, os.X_OK):
            pytest.skip(f"peer {name} is not installed (scripts/install-peers)")
        rt = Runtime(binary, workdir / f"peer-{name}-root", workdir, token,
                     id_prefix=f"{token}-{name}")
        made.append(rt)
        return rt

    yield get
    problems = [p for rt in made for p in rt.cleanup(whole_test=False)]
    if problems:
        pytest.fail("peer left things behind:\n  " + "\n  ".join(problems))


@pytest.fixture
def host_procs():
    """Start helper processes on the host (e.g. a namespace holder); killed by PID afterwards."""
    started = []

    def start(argv, **kw):
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()


# ---------------------------------------------------------------- console socket


class ConsoleSocket:
    """A --console-socket server: accepts one connection and receives the pty master fd."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.master = None
        self.error = None
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        try:
            self.sock.settimeout(DEFAULT_TIMEOUT)
            conn, _ = self.sock.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
        except OSError as e:
            self.error = e

    def wait_master(self, timeout=10):
        self._thread.join(timeout)
        assert self.master is not None, f"no pty master received on {self.path}: {self.error}"
        return self.master

    def read_until(self, needle, timeout=5.0):
        """Read from the pty master until needle (bytes) appears, EOF/EIO, or timeout."""
        import select
        fd = self.wait_master()
        buf = b""
        deadline = time.monotonic() + timeout
        while needle not in buf and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not r:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO once every slave fd is closed
                break
            if not chunk:
                break
            buf += chunk
        return buf

    def close(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.sock.close()


@pytest.fixture
def console_socket(workdir):
    cs = ConsoleSocket(workdir / "console.sock")
    yield cs
    cs.close()


# ---------------------------------------------------------------- network namespaces


@pytest.fixture
def netns(token):
    """A named network namespace from `ip netns add`; removed (with /run/netns if we made it)."""
    name = token + "-ns"
    run_netns_existed = os.path.isdir("/run/netns")
    was_mount = any(m == "/run/netns" for _, m in mountinfo())
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield Path("/run/netns") / name
    subprocess.run(["ip", "netns", "delete", name], check=False)
    # `ip netns add` turns /run/netns into a shared bind mount the first time; undo that only
    # if it was ours and nobody else has put a namespace there since.
    if not was_mount and not os.listdir("/run/netns"):
        subprocess.run(["umount", "/run/netns"], check=False)
        if not run_netns_existed:
            try:
                os.rmdir("/run/netns")
            except OSError:
                pass


# ---------------------------------------------------------------- host mounts made by a test


@pytest.fixture
def host_mount(workdir):
    """Make mounts on the host for a test (`host_mount("-t", "tmpfs", "x", dir)`); all undone."""
    made = []

    def mount(*args, target=None):
        target = str(target or args[-1])
        subprocess.run(["mount", *map(str, args)], check=True)
        made.append(target)
        return target

    yield mount
    for target in reversed(made):
        if subprocess.run(["umount", target], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", target], capture_output=True)
