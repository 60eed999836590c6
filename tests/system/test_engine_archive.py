"""cp, export, diff and commit through skiffd, with both the docker CLI (28) and skiff's own
CLI, and through python3-docker: round trips both ways, tar streams, large files, ownership,
-L, symlink attacks that must stay inside the container, stopped containers and bad input."""

import hashlib
import io
import json
import os
import pty
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from engine import DOCKER, REPO, SKIFFD

SKIFF = os.environ.get("SKIFF_CLI") or str(REPO / "build" / "skiff")

pytestmark = pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None
                                or not os.path.exists(SKIFF),
                                reason="needs build/skiffd, build/skiff and the docker CLI")

CLIS = ["docker", "skiff"]


def run(engine, cli, *args, check=True, input=None, cwd=None, timeout=120):
    """One CLI command against the private skiffd; cli is "docker" or "skiff"."""
    binary = DOCKER if cli == "docker" else SKIFF
    res = subprocess.run([binary, *map(str, args)], env=engine.env, input=input, cwd=cwd,
                         capture_output=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{cli} {' '.join(map(str, args))} -> {res.returncode}: "
                             f"{res.stderr.decode(errors='replace').strip()}")
    return res


def err(res):
    return res.stderr.decode(errors="replace")


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def container(engine, *cmd, start=True):
    """A busybox container (running `cmd`, or sleeping) removed by the module's cleanup."""
    cmd = cmd or ("sleep", "100000")
    verb = ["run", "-d"] if start else ["create"]
    cid = engine.docker(*verb, "busybox", *cmd).stdout.strip()
    if start and cmd[0] != "sleep":
        engine.docker("wait", cid)
    return cid


def actions_of(engine, cid):
    """The event actions of a container so far. The CLI's --until is "now" and skiffd
    compares whole seconds: wait for the second to pass."""
    time.sleep(1.1)
    return engine.docker("events", "--since", "5m", "--until", "0s", "--filter",
                         f"container={cid}", "--format", "{{.Action}}").stdout.split()


def output_of(engine, image, *cmd):
    """What a container of image prints, read from its log (run's attach is not what is
    tested here)."""
    cid = engine.docker("run", "-d", image, *cmd).stdout.strip()
    engine.docker("wait", cid)
    out = engine.docker("logs", cid).stdout
    engine.docker("rm", cid)
    return out


def tar_of(members):
    """A tar built in memory: members is a list of (name, bytes) or (name, TarInfo kwargs)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for entry, data in members:
            info = tarfile.TarInfo(entry)
            if isinstance(data, dict):
                for k, v in data.items():
                    setattr(info, k, v)
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def read_out(engine, cli, cid, path):
    """The tar `cp CID:PATH -` gives, as {name: (TarInfo, bytes or None)}."""
    data = run(engine, cli, "cp", f"{cid}:{path}", "-").stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            f = t.extractfile(m) if m.isfile() else None
            out[m.name] = (m, f.read() if f else None)
    return out


def make_tree(top):
    (top / "sub" / "deep").mkdir(parents=True)
    (top / "a.txt").write_text("alpha\n")
    (top / "sub" / "b.bin").write_bytes(os.urandom(5000))
    (top / "sub" / "deep" / "c").write_text("c\n")
    os.symlink("a.txt", top / "link")
    os.chmod(top / "sub" / "deep" / "c", 0o640)


def same_tree(a, b):
    for root, dirs, files in os.walk(a):
        rel = Path(root).relative_to(a)
        for f in files:
            pa, pb = Path(root) / f, Path(b) / rel / f
            if pa.is_symlink():
                assert os.readlink(pa) == os.readlink(pb)
            else:
                assert pa.read_bytes() == pb.read_bytes(), pa
                assert pa.stat().st_mode == pb.stat().st_mode, pa
        for d in dirs:
            assert (Path(b) / rel / d).is_dir()


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("cli", CLIS)
def test_cp_directory_round_trip(engine, cli, tmp_path):
    make_tree(tmp_path / "src")
    cid = container(engine)
    run(engine, cli, "cp", tmp_path / "src", f"{cid}:/copied")
    run(engine, cli, "cp", f"{cid}:/copied", tmp_path / "back")
    same_tree(tmp_path / "src", tmp_path / "back")
    # into an existing directory: the source keeps its name
    run(engine, cli, "cp", tmp_path / "src", f"{cid}:/tmp")
    assert "tmp/src/a.txt" in read_out(engine, cli, cid, "/tmp")
    # "dir/." copies the contents
    run(engine, cli, "cp", f"{tmp_path}/src/.", f"{cid}:/tmp")
    assert read_out(engine, cli, cid, "/tmp/a.txt")["a.txt"][1] == b"alpha\n"


@pytest.mark.parametrize("cli", CLIS)
def test_cp_file_onto_file_and_into_dir(engine, cli, tmp_path):
    cid = container(engine)
    (tmp_path / "f").write_text("new content\n")
    run(engine, cli, "cp", tmp_path / "f", f"{cid}:/etc/passwd2")
    run(engine, cli, "cp", tmp_path / "f", f"{cid}:/etc/")
    got = read_out(engine, cli, cid, "/etc")
    assert got["etc/passwd2"][1] == got["etc/f"][1] == b"new content\n"
    res = run(engine, cli, "cp", tmp_path / "f", f"{cid}:/nodir/", check=False)
    assert res.returncode == 1 and "no such directory" in err(res) or "Could not find" in err(res)
    res = run(engine, cli, "cp", f"{cid}:/etc", tmp_path / "f", check=False)
    assert res.returncode == 1 and "cannot copy directory" in err(res)


@pytest.mark.parametrize("cli", CLIS)
def test_cp_tar_streams_both_ways(engine, cli, tmp_path):
    cid = container(engine)
    tar = tar_of([("s/", {"type": tarfile.DIRTYPE, "mode": 0o755}), ("s/x", b"from stdin\n")])
    run(engine, cli, "cp", "-", f"{cid}:/tmp", input=tar)
    got = read_out(engine, cli, cid, "/tmp/s")
    assert got["s/x"][1] == b"from stdin\n" and got["s"][0].isdir()
    res = run(engine, cli, "cp", "-", f"{cid}:/etc/passwd", input=tar, check=False)
    assert res.returncode == 1 and "must be a directory" in err(res)


@pytest.mark.parametrize("cli", CLIS)
def test_cp_100mb_random_file_keeps_its_sha256(engine, cli, tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    want = hashlib.sha256(big.read_bytes()).hexdigest()
    cid = container(engine)
    run(engine, cli, "cp", big, f"{cid}:/big", timeout=300)
    run(engine, cli, "cp", f"{cid}:/big", tmp_path / "back", timeout=300)
    assert hashlib.sha256((tmp_path / "back").read_bytes()).hexdigest() == want


@pytest.mark.parametrize("cli", CLIS)
def test_cp_prints_successfully_copied_on_a_terminal(engine, cli, tmp_path):
    cid = container(engine)
    (tmp_path / "f").write_bytes(b"x" * 1234)
    binary = DOCKER if cli == "docker" else SKIFF
    master, slave = pty.openpty()
    res = subprocess.run([binary, "cp", str(tmp_path / "f"), f"{cid}:/f"], env=engine.env,
                         stdout=slave, stderr=subprocess.PIPE, timeout=60)
    os.close(slave)
    os.close(master)
    assert res.returncode == 0
    assert res.stderr.decode() == f"Successfully copied 3.07kB to {cid}:/f\n"
    # not a terminal: quiet
    assert run(engine, cli, "cp", tmp_path / "f", f"{cid}:/f").stderr == b""


def test_cp_archive_mode_owns_files_by_the_container_user(engine, tmp_path):
    (tmp_path / "owned").write_text("o\n")
    os.chown(tmp_path / "owned", 1234, 4321)
    cid = engine.docker("run", "-d", "--user", "4242:4343", "busybox", "sleep", "100000"
                        ).stdout.strip()
    for cli in CLIS:
        run(engine, cli, "cp", tmp_path / "owned", f"{cid}:/tmp/plain-{cli}")
        run(engine, cli, "cp", "-a", tmp_path / "owned", f"{cid}:/tmp/arch-{cli}")
        got = read_out(engine, cli, cid, "/tmp")
        assert (got[f"tmp/plain-{cli}"][0].uid, got[f"tmp/plain-{cli}"][0].gid) == (1234, 4321)
        assert (got[f"tmp/arch-{cli}"][0].uid, got[f"tmp/arch-{cli}"][0].gid) == (4242, 4343)
        # out of the container, files belong to whoever copies
        run(engine, cli, "cp", "-a", f"{cid}:/tmp/arch-{cli}", tmp_path / f"o-{cli}")
        assert (tmp_path / f"o-{cli}").stat().st_uid == os.geteuid()


@pytest.mark.parametrize("cli", CLIS)
def test_cp_follow_link(engine, cli, tmp_path):
    cid = container(engine, "sh", "-c", "echo target > /t; ln -s /t /lnk")
    run(engine, cli, "cp", f"{cid}:/lnk", tmp_path / "plain")
    assert os.readlink(tmp_path / "plain") == "/t"
    run(engine, cli, "cp", "-L", f"{cid}:/lnk", tmp_path / "followed")
    assert (tmp_path / "followed").read_text() == "target\n"
    # -L into the container: the local symlink's target is copied
    (tmp_path / "real").write_text("real\n")
    os.symlink(tmp_path / "real", tmp_path / "locallink")
    run(engine, cli, "cp", "-L", tmp_path / "locallink", f"{cid}:/copied")
    assert read_out(engine, cli, cid, "/copied")["copied"][1] == b"real\n"


# ---- symlink attacks: everything stays inside the container -------------------------------


@pytest.fixture
def trap(engine):
    """A stopped container full of symlinks that point out of it, and host files they name."""
    marker = f"skiff-archive-{uuid.uuid4().hex[:8]}"
    host = Path("/tmp") / marker
    host.write_text("host secret\n")
    cid = container(engine, "sh", "-c",
                    f"ln -s / /root-link; ln -s ../../../../.. /up; ln -s /etc /etc-link; "
                    f"ln -s /tmp/{marker} /host-file; mkdir /tmp/in; echo inside > /tmp/{marker}"
                    f"-c")
    yield cid, host, marker
    host.unlink()
    for p in Path("/tmp").glob(f"{marker}*"):
        p.unlink()


@pytest.mark.parametrize("cli", CLIS)
def test_cp_into_symlinks_stays_in_the_container(engine, cli, trap, tmp_path):
    cid, host, marker = trap
    (tmp_path / "payload").write_text("payload\n")
    run(engine, cli, "cp", tmp_path / "payload", f"{cid}:/root-link/tmp/{marker}-a")
    run(engine, cli, "cp", tmp_path / "payload", f"{cid}:/up/tmp/{marker}-b")
    run(engine, cli, "cp", tmp_path / "payload", f"{cid}:/etc-link/{marker}-c")
    run(engine, cli, "cp", tmp_path / "payload", f"{cid}:/host-file")
    assert not list(Path("/tmp").glob(f"{marker}-[ab]"))
    assert not Path(f"/etc/{marker}-c").exists()
    assert host.read_text() == "host secret\n"
    got = read_out(engine, cli, cid, "/tmp")
    assert got[f"tmp/{marker}-a"][1] == got[f"tmp/{marker}-b"][1] == b"payload\n"
    assert got[f"tmp/{marker}"][1] == b"payload\n"  # /host-file's target, in the container
    assert read_out(engine, cli, cid, f"/etc/{marker}-c")[f"{marker}-c"][1] == b"payload\n"


@pytest.mark.parametrize("cli", CLIS)
def test_cp_out_of_symlinks_reads_the_container(engine, cli, trap, tmp_path):
    cid, host, marker = trap
    res = run(engine, cli, "cp", f"{cid}:/host-file/", tmp_path / "x", check=False)
    assert res.returncode == 1 and b"host secret" not in res.stdout
    run(engine, cli, "cp", "-L", f"{cid}:/up/etc/passwd", tmp_path / "passwd")
    assert (tmp_path / "passwd").read_text() == \
        read_out(engine, cli, cid, "/etc/passwd")["passwd"][1].decode()
    res = run(engine, cli, "cp", f"{cid}:/up/tmp/{marker}", "-", check=False)
    assert res.returncode == 1 and "Could not find the file" in err(res)
    entries = read_out(engine, cli, cid, "/root-link/")
    assert "root-link/etc/passwd" in entries and "root-link/tmp/in" in entries


def test_put_archive_refuses_paths_leaving_the_destination(engine, trap):
    cid, host, marker = trap
    for bad in (tar_of([("ok", b"1"), (f"../../../../tmp/{marker}-d", b"x")]),
                tar_of([("ok", b"1"), ("esc", {"type": tarfile.SYMTYPE, "linkname": "../../.."})]),
                tar_of([("ok", b"1"), ("hl", {"type": tarfile.LNKTYPE, "linkname": "../x"})])):
        res = engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/tmp/in", bad)
        assert res[0] == 400, res
        assert "ok" not in read_out(engine, "docker", cid, "/tmp/in")  # nothing written
    assert not Path(f"/tmp/{marker}-d").exists()
    # a symlink planted by the tar leads through the container, never the host
    tar = tar_of([("etc", {"type": tarfile.SYMTYPE, "linkname": "/etc"}),
                  (f"etc/{marker}-e", b"via link\n")])
    assert engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/tmp/in", tar)[0] == 200
    assert not Path(f"/etc/{marker}-e").exists()
    assert read_out(engine, "docker", cid, f"/etc/{marker}-e")[f"{marker}-e"][1] == b"via link\n"


# ---- stopped containers, bad input ------------------------------------------------------------


@pytest.mark.parametrize("cli", CLIS)
def test_cp_works_on_created_and_exited_containers(engine, cli, tmp_path):
    (tmp_path / "f").write_text("f\n")
    created = container(engine, "true", start=False)
    exited = container(engine, "sh", "-c", "echo done > /done")
    for cid in (created, exited):
        run(engine, cli, "cp", tmp_path / "f", f"{cid}:/f")
        assert read_out(engine, cli, cid, "/f")["f"][1] == b"f\n"
    assert read_out(engine, cli, exited, "/done")["done"][1] == b"done\n"
    engine.docker("start", created)
    # no rootfs mount is left behind by the copies
    mounts = Path("/proc/self/mountinfo").read_text()
    assert f"{exited}/rootfs" not in mounts


@pytest.mark.parametrize("cli", CLIS)
def test_cp_errors_read_like_docker(engine, cli, tmp_path):
    cid = container(engine)
    res = run(engine, cli, "cp", f"{cid}:/no/such", tmp_path, check=False)
    assert res.returncode == 1
    assert err(res) == f"Error response from daemon: Could not find the file /no/such in " \
                       f"container {cid}\n"
    res = run(engine, cli, "cp", "nosuchcontainer:/etc", tmp_path, check=False)
    assert res.returncode == 1 and "No such container: nosuchcontainer" in err(res)
    res = run(engine, cli, "cp", tmp_path / "missing", f"{cid}:/", check=False)
    assert res.returncode == 1 and f"lstat {tmp_path}/missing: no such file or directory" in err(res)
    res = run(engine, cli, "cp", f"{cid}:/etc", f"{cid}:/tmp", check=False)
    assert "copying between containers is not supported" in err(res)
    res = run(engine, cli, "cp", "a", "b", check=False)
    assert "must specify at least one container source" in err(res)
    res = run(engine, cli, "cp", f"{cid}:/etc/passwd", tmp_path / "no" / "dir", check=False)
    assert f'invalid output path: directory "{tmp_path}/no" does not exist' in err(res)


def engine_api(engine, method, path, body=None):
    """A raw API call: (status, body bytes, headers)."""
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(str(engine.sock))

    c = Conn("localhost", timeout=120)
    c.request(method, path, body=body, headers={"Content-Type": "application/x-tar"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, dict(r.getheaders())


def test_archive_api_statuses(engine):
    cid = container(engine)
    st, body, headers = engine_api(engine, "HEAD", f"/containers/{cid}/archive?path=/etc")
    assert st == 200
    import base64
    stat = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
    assert stat["name"] == "etc" and stat["mode"] & (1 << 31) and stat["linkTarget"] == ""
    assert engine_api(engine, "GET", f"/containers/{cid}/archive")[0] == 400
    assert engine_api(engine, "GET", "/containers/nope/archive?path=/")[0] == 404
    st, body, _ = engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/etc/passwd", b"")
    assert st == 400 and b"extraction point is not a directory" in body
    st, body, _ = engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/tmp", b"garbage" * 99)
    assert st == 400
    good = tar_of([("one", b"1" * 5000), ("two", b"2" * 5000)])
    st, body, _ = engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/tmp", good[:2000])
    assert st == 400
    assert "tmp/one" not in read_out(engine, "docker", cid, "/tmp")  # nothing partial


def test_put_into_read_only_rootfs_is_refused(engine):
    cid = engine.docker("run", "-d", "--read-only", "busybox", "sleep", "100000").stdout.strip()
    st, body, _ = engine_api(engine, "PUT", f"/containers/{cid}/archive?path=/tmp",
                             tar_of([("x", b"x")]))
    assert st == 400 and b"container rootfs is marked read-only" in body


# ---- diff, export, commit ----------------------------------------------------------------------


CHANGES_SCRIPT = ("echo new > /etc/newf; echo more >> /etc/passwd; rm /bin/vi; "
                  "rm -rf /usr/sbin; mkdir -p /a/b")


@pytest.mark.parametrize("cli", CLIS)
def test_diff_shows_added_changed_deleted(engine, cli):
    cid = container(engine, "sh", "-c", CHANGES_SCRIPT)
    lines = set(run(engine, cli, "diff", cid).stdout.decode().splitlines())
    assert lines == {"A /a", "A /a/b", "C /bin", "D /bin/vi", "C /etc", "A /etc/newf",
                     "C /etc/passwd", "C /usr", "D /usr/sbin"}
    fresh = container(engine, "true")
    assert run(engine, cli, "diff", fresh).stdout == b""  # the runtime's mount points hidden


@pytest.mark.parametrize("cli", CLIS)
def test_export_writes_the_whole_file_system(engine, cli, tmp_path):
    cid = container(engine, "sh", "-c", "echo e > /exported")
    run(engine, cli, "export", "-o", tmp_path / "fs.tar", cid)
    with tarfile.open(tmp_path / "fs.tar") as t:
        names = set(t.getnames())
        assert t.extractfile("exported").read() == b"e\n"
    assert {"bin/", "bin/busybox", "etc/passwd"} <= names or {"bin", "bin/busybox"} <= names
    assert not any(n.startswith("/") or n.startswith("..") for n in names)
    res = run(engine, cli, "export", "nosuchcontainer", check=False)
    assert res.returncode == 1 and "No such container" in err(res)


@pytest.mark.parametrize("cli", CLIS)
def test_commit_makes_an_image_that_runs_with_the_changes(engine, cli):
    cid = container(engine, "sh", "-c", CHANGES_SCRIPT)
    tag = f"committed-{cli}:{uuid.uuid4().hex[:6]}"
    out = run(engine, cli, "commit", "-m", "my message", "-a", "Me <me@example.com>",
              "-c", 'CMD ["cat", "/etc/newf"]', "-c", "ENV COMMITTED=yes", cid, tag)
    image_id = out.stdout.decode().strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert output_of(engine, tag) == "new\n"
    check = output_of(engine, tag, "sh", "-c",
                      "echo $COMMITTED; ls /bin/vi /usr/sbin 2>&1; tail -1 /etc/passwd")
    assert check.startswith("yes\n") and "No such file" in check and check.endswith("more\n")
    info = json.loads(engine.docker("image", "inspect", tag).stdout)[0]
    base = json.loads(engine.docker("image", "inspect", "busybox").stdout)[0]
    assert info["Parent"] == base["Id"] and info["Author"] == "Me <me@example.com>"
    assert info["Comment"] == "my message"
    assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    history = engine.docker("history", "--no-trunc", "--format", "{{.Comment}}|{{.CreatedBy}}",
                            tag).stdout.splitlines()
    assert history[0] == f"my message|sh -c {CHANGES_SCRIPT}"


def test_commit_pauses_a_running_container_and_resumes_it(engine):
    cid = engine.docker("run", "-d", "busybox", "sh", "-c",
                        "echo x > /running; exec sleep 100000").stdout.strip()
    engine.docker("commit", cid, "pausetest:1")
    assert json.loads(engine.docker("inspect", cid).stdout)[0]["State"]["Status"] == "running"
    events = actions_of(engine, cid)
    assert events[-3:] == ["pause", "unpause", "commit"] or \
        events[-3:] == ["pause", "commit", "unpause"]
    engine.docker("commit", "--pause=false", cid, "pausetest:2")
    assert output_of(engine, "pausetest:2", "cat", "/running") == "x\n"


@pytest.mark.parametrize("cli", CLIS)
def test_commit_bad_input(engine, cli):
    cid = container(engine, "true")
    images = engine.docker("images", "-q").stdout
    res = run(engine, cli, "commit", "-c", "BOGUS x", cid, check=False)
    assert res.returncode == 1 and "bogus is not a valid change command" in err(res)
    res = run(engine, cli, "commit", "nosuchcontainer", check=False)
    assert res.returncode == 1 and "No such container: nosuchcontainer" in err(res)
    res = run(engine, cli, "commit", cid, "UPPER:case", check=False)
    assert res.returncode != 0 and "invalid reference format" in err(res)
    assert engine.docker("images", "-q").stdout == images


def test_events_of_file_operations(engine, tmp_path):
    cid = container(engine)
    (tmp_path / "f").write_text("f")
    engine.docker("cp", tmp_path / "f", f"{cid}:/f")
    engine.docker("cp", f"{cid}:/f", tmp_path / "g")
    subprocess.run([DOCKER, "export", "-o", tmp_path / "e.tar", cid], env=engine.env, check=True)
    engine.docker("commit", cid)
    actions = actions_of(engine, cid)
    for want in ("extract-to-dir", "archive-path", "export", "commit"):
        assert want in actions


# ---- python3-docker -------------------------------------------------------------------------


def test_docker_py_put_get_archive_and_commit(engine):
    docker = pytest.importorskip("docker", reason="needs python3-docker")
    client = docker.DockerClient(base_url=f"unix://{engine.sock}", timeout=60)
    try:
        c = client.containers.run("busybox", ["sleep", "100000"], detach=True)
        assert c.put_archive("/tmp", tar_of([("py.txt", b"from python\n")])) is True
        stream, stat = c.get_archive("/tmp/py.txt")
        data = b"".join(stream)
        assert stat["name"] == "py.txt" and stat["size"] == 12
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            assert t.extractfile("py.txt").read() == b"from python\n"
        image = c.commit(repository="pycommit", tag="1", message="py",
                         changes=["CMD cat /tmp/py.txt"])
        assert client.containers.run(image.id, remove=True) == b"from python\n"
        assert {"Path": "/tmp/py.txt", "Kind": 1} in c.diff()
        with pytest.raises(docker.errors.NotFound):
            c.get_archive("/no/such")
        c.remove(force=True)
    finally:
        client.close()
