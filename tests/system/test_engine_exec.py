"""docker exec through skiffd: the docker CLI (28) and skiff's own CLI side by side, the
Engine API directly (errors, inspect, hijacked streams), events, and python3-docker's
exec_run."""

import base64
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from conftest import wait_for
from engine import DOCKER, REPO, SKIFFD
from tmuxterm import TMUX, Term

SKIFF = os.environ.get("SKIFF") or str(REPO / "build" / "skiff")
SCRIPT = shutil.which("script")

pytestmark = pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None,
                                reason="needs build/skiffd and the docker CLI")

CLIS = ["docker", "skiff"]


def unique(prefix="x"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def argv(engine, which, *args):
    if which == "docker":
        return [DOCKER, *map(str, args)]
    return [SKIFF, "-H", f"unix://{engine.sock}", *map(str, args)]


needs_tmux = pytest.mark.skipif(TMUX is None, reason="needs tmux (scripts/install-deps)")


def run(engine, which, *args, input=None, binary=False, timeout=60, **kw):
    """One CLI command (docker or skiff) against the engine; a CompletedProcess."""
    return subprocess.run(argv(engine, which, *args), env=engine.env, input=input,
                          capture_output=True, text=not binary, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def box(engine):
    """A running container shared by the tests that only exec into it."""
    name = unique("box")
    engine.docker("run", "-d", "--name", name, "-e", "FROM_CTR=ctr", "-e", "SHARED=ctr",
                  "busybox", "sleep", "100000")
    yield name
    engine.docker("rm", "-f", name, check=False)


@pytest.fixture
def fresh(engine):
    """A running container of the test's own, removed after it."""
    name = unique("fresh")
    engine.docker("run", "-d", "--name", name, "busybox", "sleep", "100000")
    yield name
    engine.docker("rm", "-f", name, check=False)


# ---- the Engine API -----------------------------------------------------------------


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def api(engine, method, path, body=None, raw=None):
    """(status, decoded JSON or text) of one request."""
    conn = UnixConnection(str(engine.sock))
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, "/v1.47" + path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    try:
        return resp.status, json.loads(text) if text else None
    except ValueError:
        return resp.status, text


def create_exec(engine, container, **config):
    status, answer = api(engine, "POST", f"/containers/{container}/exec", config)
    assert status == 201, answer
    return answer["Id"]


def hijack(engine, exec_id, body=None, version="1.47"):
    """POST /exec/{id}/start with Upgrade: tcp; the socket after the 101 headers and the
    bytes that came with them."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(engine.sock))
    data = json.dumps(body if body is not None else {"Detach": False, "Tty": False}).encode()
    s.sendall(f"POST /v{version}/exec/{exec_id}/start HTTP/1.1\r\nHost: localhost\r\n"
              f"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    headers, rest = head.split(b"\r\n\r\n", 1)
    return s, headers.decode(), rest


def read_all(s, rest=b""):
    data = rest
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def demux(data):
    """docker's stdcopy frames → {stream: bytes}."""
    out = {1: b"", 2: b""}
    while data:
        assert len(data) >= 8, data
        stream, size = data[0], int.from_bytes(data[4:8], "big")
        out[stream] = out.get(stream, b"") + data[8:8 + size]
        data = data[8 + size:]
    return out


def test_api_create_refuses_bad_input(engine, box):
    status, answer = api(engine, "POST", f"/containers/{box}/exec", raw='{"Cmd": ["true"')
    assert status == 400 and answer["message"].startswith("invalid JSON")
    status, answer = api(engine, "POST", f"/containers/{box}/exec", {"Cmd": []})
    assert (status, answer["message"]) == (400, "No exec command specified")
    status, answer = api(engine, "POST", f"/containers/{box}/exec", raw="")
    assert (status, answer["message"]) == (400, "No exec command specified")
    status, answer = api(engine, "POST", f"/containers/{box}/exec", {"Cmd": "true"})
    assert status == 400
    assert "cannot unmarshal string into Go struct field ExecOptions.Cmd of type []string" \
        in answer["message"]
    status, answer = api(engine, "POST", f"/containers/{box}/exec",
                         {"Cmd": ["true"], "Tty": "yes"})
    assert status == 400 and "ExecOptions.Tty of type bool" in answer["message"]
    status, answer = api(engine, "POST", f"/containers/{box}/exec",
                         {"Cmd": ["true"], "DetachKeys": "ctrl-1"})
    assert (status, answer["message"]) == (400, "Invalid escape keys (ctrl-1) provided")
    status, answer = api(engine, "POST", "/containers/no-such-box/exec", {"Cmd": ["true"]})
    assert (status, answer["message"]) == (404, "No such container: no-such-box")


def test_api_create_decodes_the_body_as_go_does(engine, box):
    """Keys in any case, null as the zero value, numbers checked against their type."""
    exec_id = create_exec(engine, box, cmd=["echo", None, "x"], Env=None, attachStdout=True)
    s, _, rest = hijack(engine, exec_id)
    assert demux(read_all(s, rest))[1] == b" x\n"
    s.close()
    status, answer = api(engine, "POST", f"/containers/{box}/exec",
                         {"Cmd": ["true"], "ConsoleSize": [-1, 2]})
    assert (status, answer["message"]) == (
        400, "invalid JSON: json: cannot unmarshal number -1 into Go struct field "
             "ExecOptions.ConsoleSize of type uint")


def test_api_unknown_exec_is_404_everywhere(engine):
    for method, path, body in [("GET", "/exec/nope/json", None),
                               ("POST", "/exec/nope/start", {"Detach": True}),
                               ("POST", "/exec/nope/resize?h=10&w=10", None)]:
        status, answer = api(engine, method, path, body)
        assert (status, answer["message"]) == (404, "No such exec instance: nope"), path


def test_api_inspect_has_dockers_shape(engine, box):
    cid = engine.docker("inspect", "-f", "{{.Id}}", box).stdout.strip()
    exec_id = create_exec(engine, box, Cmd=["sh", "-c", "exit 5"], User="nobody",
                          Privileged=True, AttachStdout=True, DetachKeys="ctrl-p,a")
    status, info = api(engine, "GET", f"/exec/{exec_id}/json")
    assert status == 200
    assert info == {"ID": exec_id, "Running": False, "ExitCode": None,
                    "ProcessConfig": {"tty": False, "entrypoint": "sh",
                                      "arguments": ["-c", "exit 5"], "privileged": True,
                                      "user": "nobody"},
                    "OpenStdin": False, "OpenStderr": False, "OpenStdout": True,
                    "CanRemove": False, "ContainerID": cid,
                    "DetachKeys": base64.b64encode(b"\x10a").decode(), "Pid": 0}
    assert api(engine, "POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
    wait_for(lambda: api(engine, "GET", f"/exec/{exec_id}/json")[1]["ExitCode"] == 5,
             what="exit code 5")
    info = api(engine, "GET", f"/exec/{exec_id}/json")[1]
    assert info["Running"] is False and info["Pid"] > 0


def test_api_start_twice_is_a_conflict(engine, box):
    exec_id = create_exec(engine, box, Cmd=["sleep", "2"])
    assert api(engine, "POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
    status, answer = api(engine, "POST", f"/exec/{exec_id}/start", {"Detach": True})
    assert (status, answer["message"]) == (
        409, f"Error: Exec command {exec_id} is already running")
    assert api(engine, "GET", f"/exec/{exec_id}/json")[1]["Running"] is True
    wait_for(lambda: api(engine, "GET", f"/exec/{exec_id}/json")[1]["Running"] is False,
             timeout=10, what="the exec to end")
    status, answer = api(engine, "POST", f"/exec/{exec_id}/start", {"Detach": True})
    assert (status, answer["message"]) == (409, f"Error: Exec command {exec_id} has already run")


def test_api_attached_start_of_a_used_exec_reports_in_the_stream(engine, box):
    """dockerd hijacks first and writes later errors into the stream, as stdout."""
    exec_id = create_exec(engine, box, Cmd=["true"], AttachStdout=True)
    s, headers, rest = hijack(engine, exec_id)
    read_all(s, rest)
    s.close()
    s, headers, rest = hijack(engine, exec_id)
    assert headers.startswith("HTTP/1.1 101")
    assert "application/vnd.docker.multiplexed-stream" in headers
    out = demux(read_all(s, rest))
    s.close()
    assert out[1] == f"Error: Exec command {exec_id} has already run\r\n".encode()


def test_api_hijacked_stream_is_framed_and_stdin_half_close_is_eof(engine, box):
    exec_id = create_exec(engine, box, Cmd=["sh", "-c", "cat; echo done >&2"],
                          AttachStdin=True, AttachStdout=True, AttachStderr=True)
    s, headers, rest = hijack(engine, exec_id)
    s.sendall(b"\x00binary\xffdata")
    s.shutdown(socket.SHUT_WR)
    out = demux(read_all(s, rest))
    s.close()
    assert out == {1: b"\x00binary\xffdata", 2: b"done\n"}
    assert api(engine, "GET", f"/exec/{exec_id}/json")[1]["ExitCode"] == 0


def test_api_before_1_42_the_stream_is_framed_but_called_raw(engine, box):
    """dockerd's content type says raw-stream to old clients; the frames are there."""
    exec_id = create_exec(engine, box, Cmd=["echo", "old"], AttachStdout=True)
    s, headers, rest = hijack(engine, exec_id, version="1.41")
    out = demux(read_all(s, rest))
    s.close()
    assert "application/vnd.docker.raw-stream" in headers and out[1] == b"old\n"


def test_api_start_after_the_container_stopped(engine, fresh):
    detached = create_exec(engine, fresh, Cmd=["true"])
    attached = create_exec(engine, fresh, Cmd=["true"], AttachStdout=True)
    cid = engine.docker("inspect", "-f", "{{.Id}}", fresh).stdout.strip()
    engine.docker("stop", "-t", "0", fresh)
    status, answer = api(engine, "POST", f"/exec/{detached}/start", {"Detach": True})
    assert (status, answer["message"]) == (409, f"Container {cid} is not running")
    s, headers, rest = hijack(engine, attached)
    out = demux(read_all(s, rest))
    s.close()
    assert out[1] == f"Container {cid} is not running\r\n".encode()


def test_api_tty_stream_is_raw(engine, box):
    exec_id = create_exec(engine, box, Cmd=["sh", "-c", "tty; stty size"], Tty=True,
                          AttachStdout=True, ConsoleSize=[33, 111])
    s, headers, rest = hijack(engine, exec_id, {"Detach": False, "Tty": True})
    data = read_all(s, rest)
    s.close()
    assert "application/vnd.docker.raw-stream" in headers
    assert data.startswith(b"/dev/pts/") and b"33 111\r\n" in data


def test_api_exec_goes_on_when_its_client_disconnects(engine, box):
    exec_id = create_exec(engine, box, Cmd=["sh", "-c", "sleep 1; echo survived > /survived"],
                          AttachStdout=True, AttachStderr=True)
    s, _, _ = hijack(engine, exec_id)
    s.close()
    wait_for(lambda: api(engine, "GET", f"/exec/{exec_id}/json")[1]["ExitCode"] == 0,
             timeout=10, what="the exec to finish")
    assert engine.docker("exec", box, "cat", "/survived").stdout == "survived\n"


def test_api_resize_reaches_the_exec_terminal(engine, box):
    exec_id = create_exec(engine, box, Cmd=["sh", "-c", "read x; stty size"], Tty=True,
                          AttachStdin=True, AttachStdout=True, ConsoleSize=[10, 20])
    s, _, rest = hijack(engine, exec_id, {"Detach": False, "Tty": True})
    status, _ = api(engine, "POST", f"/exec/{exec_id}/resize?h=41&w=132")
    assert status == 200
    s.sendall(b"go\n")
    data = read_all(s, rest)
    s.close()
    assert b"41 132" in data
    status, answer = api(engine, "POST", f"/exec/{exec_id}/resize?h=x&w=1")
    assert status == 400


def test_exec_records_go_with_their_container(engine, fresh):
    exec_id = create_exec(engine, fresh, Cmd=["true"])
    assert api(engine, "GET", f"/exec/{exec_id}/json")[0] == 200
    engine.docker("rm", "-f", fresh)
    status, answer = api(engine, "GET", f"/exec/{exec_id}/json")
    assert (status, answer["message"]) == (404, f"No such exec instance: {exec_id}")


# ---- both CLIs --------------------------------------------------------------------------


@pytest.mark.parametrize("which", CLIS)
def test_exec_output_streams_and_exit_code(engine, box, which):
    r = run(engine, which, "exec", box, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")


@pytest.mark.parametrize("which", CLIS)
def test_exec_exit_code_of_a_signal(engine, box, which):
    assert run(engine, which, "exec", box, "sh", "-c", "kill -9 $$").returncode == 137


@pytest.mark.parametrize("which", CLIS)
def test_exec_stdin_to_a_file_and_back_byte_exact(engine, box, which):
    data = b"data\n\x00\xff\r\nno newline at the end"
    path = f"/in-{which}"
    r = run(engine, which, "exec", "-i", box, "sh", "-c", f"cat > {path}", input=data,
            binary=True)
    assert r.returncode == 0, r.stderr
    r = run(engine, which, "exec", box, "cat", path, binary=True)
    assert r.stdout == data


@pytest.mark.parametrize("which", CLIS)
def test_exec_100_mib_binary_round_trip(engine, box, which, tmp_path):
    src = tmp_path / "random.bin"
    with open(src, "wb") as f:
        f.write(os.urandom(100 * 1024 * 1024))
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    path = f"/big-{which}"
    with open(src, "rb") as f:
        r = run(engine, which, "exec", "-i", box, "sh", "-c", f"cat > {path}", stdin=f,
                binary=True, timeout=300)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(argv(engine, which, "exec", box, "cat", path), env=engine.env,
                            stdout=subprocess.PIPE)
    h = hashlib.sha256()
    for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
        h.update(chunk)
    assert proc.wait(timeout=300) == 0
    assert h.hexdigest() == want
    run(engine, which, "exec", box, "rm", path)


@pytest.mark.parametrize("which", CLIS)
def test_exec_echoes_a_large_input_without_deadlock(engine, box, which):
    """stdin and stdout at once, larger than every buffer on the way."""
    data = os.urandom(8 * 1024 * 1024)
    r = run(engine, which, "exec", "-i", box, "cat", input=data, binary=True, timeout=120)
    assert r.returncode == 0 and r.stdout == data


@pytest.mark.parametrize("which", CLIS)
def test_exec_env_user_and_workdir(engine, box, which, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# a comment\nFROM_FILE=file\n\n")
    r = run(engine, which, "exec", "-e", "A=1", "--env", "B=two words", "-e", "SHARED=exec",
            "--env-file", env_file, "-u", "65534", "-w", "/tmp", box, "sh", "-c",
            'echo "$A|$B|$FROM_FILE|$FROM_CTR|$SHARED|$PWD|$(id -u)"')
    assert (r.returncode, r.stdout) == (0, "1|two words|file|ctr|exec|/tmp|65534\n")


@pytest.mark.parametrize("which", CLIS)
def test_exec_default_environment_is_dockers(engine, box, which):
    hostname = engine.docker("inspect", "-f", "{{.Config.Hostname}}", box).stdout.strip()
    r = run(engine, which, "exec", box, "env")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         f"HOSTNAME={hostname}"]
    assert "HOME=/root" in lines and "FROM_CTR=ctr" in lines
    assert not any(line.startswith("TERM=") for line in lines)


@pytest.mark.parametrize("which", CLIS)
def test_exec_user_by_name_gets_its_groups(engine, box, which):
    r = run(engine, which, "exec", "-u", "nobody", box, "id")
    assert r.stdout == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n"
    r = run(engine, which, "exec", "-u", "1234:5678", box, "id")
    assert r.stdout == "uid=1234 gid=5678 groups=5678\n"


@pytest.mark.parametrize("which", CLIS)
def test_exec_unknown_user_exits_126(engine, box, which):
    r = run(engine, which, "exec", "-u", "nosuchuser", box, "id")
    assert r.returncode == 126
    assert "unable to find user nosuchuser: no matching entries in passwd file" in r.stdout


@pytest.mark.parametrize("which", CLIS)
def test_exec_command_not_found_exits_127(engine, box, which):
    r = run(engine, which, "exec", box, "nosuchcommand", binary=True)
    assert r.returncode == 127
    assert r.stdout == (b"OCI runtime exec failed: exec failed: unable to start container "
                        b"process: exec: \"nosuchcommand\": executable file not found in "
                        b"$PATH: unknown\r\n")


@pytest.mark.parametrize("which", CLIS)
def test_exec_command_that_cannot_run_exits_126(engine, box, which):
    r = run(engine, which, "exec", box, "/etc/passwd")
    assert r.returncode == 126 and "permission denied" in r.stdout
    r = run(engine, which, "exec", "-w", "/no/such/dir", box, "true")
    assert r.returncode == 126 and "OCI runtime exec failed" in r.stdout


@pytest.mark.parametrize("which", CLIS)
def test_exec_detached_runs_in_the_background(engine, box, which):
    path = f"/detached-{which}"
    r = run(engine, which, "exec", "-d", box, "sh", "-c", f"sleep 0.3; echo done > {path}")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    wait_for(lambda: engine.docker("exec", box, "cat", path, check=False).stdout == "done\n",
             what="the detached exec's file")


@pytest.mark.parametrize("which", CLIS)
def test_exec_detached_command_not_found_is_an_error(engine, box, which):
    r = run(engine, which, "exec", "-d", box, "nosuchcommand")
    assert r.returncode == 1
    assert r.stderr.startswith("Error response from daemon: OCI runtime exec failed")


@pytest.mark.parametrize("which", CLIS)
def test_exec_privileged_has_every_capability(engine, box, which):
    def cap_eff(*flags):
        r = run(engine, which, "exec", *flags, box, "grep", "CapEff", "/proc/self/status")
        return int(r.stdout.split()[1], 16)
    # every capability skiffd holds (it started from us): all the kernel has, unless
    # this machine's root lacks some (CAP_SYS_RESOURCE on some CI hosts)
    bounding = next(int(line.split()[1], 16) for line in open("/proc/self/status")
                    if line.startswith("CapBnd:"))
    assert cap_eff("--privileged") == bounding
    assert cap_eff() == 0xa80425fb  # docker's default set


@pytest.mark.parametrize("which", CLIS)
def test_exec_into_a_paused_container_is_refused(engine, fresh, which):
    engine.docker("pause", fresh)
    r = run(engine, which, "exec", fresh, "true")
    engine.docker("unpause", fresh)
    assert r.returncode == 1
    assert r.stderr == (f"Error response from daemon: Container {fresh} is paused, "
                        "unpause the container before exec\n")


@pytest.mark.parametrize("which", CLIS)
def test_exec_into_a_stopped_container_is_refused(engine, which):
    name = unique("stopped")
    cid = engine.docker("create", "--name", name, "busybox", "true").stdout.strip()
    r = run(engine, which, "exec", name, "true")
    engine.docker("rm", name)
    assert r.returncode == 1
    assert r.stderr == f"Error response from daemon: Container {cid} is not running\n"


@pytest.mark.parametrize("which", CLIS)
def test_exec_into_an_unknown_container(engine, which):
    r = run(engine, which, "exec", "no-such-container", "true")
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: No such container: no-such-container\n"


@pytest.mark.parametrize("which", CLIS)
def test_exec_tty_needs_a_terminal_for_stdin(engine, box, which):
    r = run(engine, which, "exec", "-it", box, "true", stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "the input device is not a TTY" in r.stderr


@pytest.mark.parametrize("which", CLIS)
def test_exec_bad_detach_keys_are_refused(engine, box, which):
    r = run(engine, which, "exec", "--detach-keys", "bogus", box, "true")
    assert r.returncode == 1
    assert r.stderr == "Error response from daemon: Invalid escape keys (bogus) provided\n"


@pytest.mark.skipif(SCRIPT is None, reason="needs script(1) (bsdutils)")
@pytest.mark.parametrize("which", CLIS)
def test_exec_tty_under_script(engine, box, which):
    cmd = " ".join(argv(engine, which, "exec", "-it", box, "sh", "-c",
                        "'tty; echo $TERM; exit 7'"))
    r = subprocess.run([SCRIPT, "-qec", cmd, "/dev/null"], env=engine.env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert r.returncode == 7
    # raw mode as docker's: the container's "\r\n" passes unchanged (no OPOST)
    assert b"/dev/pts/" in r.stdout and b"\nxterm\r\n" in r.stdout
    assert b"\r\r\n" not in r.stdout


# ---- in a real terminal (tmux) ---------------------------------------------------------


@pytest.fixture
def term(engine):
    t = Term(engine.env)
    yield t
    t.close()


def exec_shell(term, engine, which, box, *flags):
    """`exec -it [flags] box sh` in the terminal; returns once its prompt shows."""
    cmd = " ".join(shlex.quote(a) for a in argv(engine, which, "exec", "-it", *flags, box, "sh"))
    term.type(f"{cmd}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the exec's prompt")


def rc_shown(term):
    found = term.wait_for(lambda s: re.search(r"^rc=(\d+)", s, re.M), "the exit status")
    return int(found.group(1))


def remember_shell_pid(engine, term, box):
    """Make the exec's shell write its PID into a file; the file's name."""
    mark = f"/tmp/{unique('pid')}"
    term.type(f"echo $$ > {mark}")
    wait_for(lambda: engine.docker("exec", box, "test", "-s", mark, check=False)
             .returncode == 0, what="the shell's PID file")
    return mark


def shell_alive(engine, box, mark):
    return engine.docker("exec", box, "sh", "-c", f"kill -0 $(cat {mark})",
                         check=False).returncode == 0


@needs_tmux
@pytest.mark.parametrize("which", CLIS)
def test_exec_tty_follows_the_window_size(engine, box, term, which):
    """The initial size, then SIGWINCH → /exec/{id}/resize."""
    exec_shell(term, engine, which, box)
    term.type("stty size")
    term.wait_for(lambda s: "30 100" in s, "30 100")
    term.resize(120, 40)
    term.type("clear; stty size")
    term.wait_for(lambda s: "40 120" in s, "40 120")
    term.type("exit 3")
    assert rc_shown(term) == 3


@needs_tmux
@pytest.mark.parametrize("which", CLIS)
def test_exec_detach_keys_leave_the_exec_running(engine, box, term, which):
    since = time.time()
    exec_shell(term, engine, which, box)
    mark = remember_shell_pid(engine, term, box)
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 1  # docker's exec reports the detach as an error
    assert "read escape sequence" in term.screen()
    assert shell_alive(engine, box, mark)
    if which == "skiff":  # skiff's CLI lets the daemon see the keys; docker's swallows them
        assert "exec_detach" in actions(engine, box, since)
    engine.docker("exec", box, "sh", "-c", f"kill -9 $(cat {mark})")


@needs_tmux
@pytest.mark.parametrize("which", CLIS)
def test_exec_custom_detach_keys(engine, box, term, which):
    exec_shell(term, engine, which, box, "--detach-keys", "ctrl-x,x")
    term.keys("C-p", "C-q")  # not the keys: they reach the shell
    term.type("echo still here")
    term.wait_for(lambda s: "\nstill here" in s, "the shell after ctrl-p ctrl-q")
    mark = remember_shell_pid(engine, term, box)
    term.keys("C-x", "x")
    assert rc_shown(term) == 1
    assert shell_alive(engine, box, mark)
    engine.docker("exec", box, "sh", "-c", f"kill -9 $(cat {mark})")


def test_api_detach_keys_end_the_stream_and_the_exec_runs_on(engine, fresh):
    since = time.time()
    exec_id = create_exec(engine, fresh, Cmd=["sh"], Tty=True, AttachStdin=True,
                          AttachStdout=True, DetachKeys="ctrl-x,a")
    s, _, rest = hijack(engine, exec_id, {"Detach": False, "Tty": True})
    # The bytes before the keys go in; the stream ends right after them.
    s.sendall(b"echo marked > /tmp/mark\n\x18a")
    read_all(s, rest)
    s.close()
    info = api(engine, "GET", f"/exec/{exec_id}/json")[1]
    assert info["Running"] is True and info["ExitCode"] is None
    wait_for(lambda: engine.docker("exec", fresh, "cat", "/tmp/mark", check=False).stdout
             == "marked\n", what="the input before the keys")
    # Still followed after its client left: its end is recorded.
    engine.docker("exec", fresh, "kill", "-9", str(exec_pid_in_container(engine, fresh)))
    wait_for(lambda: api(engine, "GET", f"/exec/{exec_id}/json")[1]["ExitCode"] == 137,
             timeout=10, what="the exec's exit code")
    r = engine.docker("events", "--since", str(since), "--until", str(time.time()),
                      "--filter", f"container={fresh}", "--filter", "event=exec_detach",
                      "--format", "{{json .Actor.Attributes.execID}}")
    assert r.stdout.splitlines() == [json.dumps(exec_id)]


def actions(engine, container, since):
    r = engine.docker("events", "--since", str(since), "--until", str(time.time()),
                      "--filter", f"container={container}", "--format", "{{.Action}}")
    return r.stdout.splitlines()


def exec_pid_in_container(engine, container):
    """The PID (in the container) of its only interactive sh."""
    ps = engine.docker("exec", container, "ps", "-o", "pid,args").stdout.splitlines()
    pids = [line.split()[0] for line in ps[1:] if line.split()[1:] == ["sh"]]
    assert len(pids) == 1, ps
    return pids[0]


@pytest.mark.parametrize("which", CLIS)
def test_exec_detach_keys_are_not_scanned_without_a_tty(engine, box, which):
    """dockerd scans a terminal's input only: -i alone passes ctrl-p ctrl-q through."""
    r = run(engine, which, "exec", "-i", box, "od", "-An", "-tx1", input=b"\x10\x11",
            binary=True)
    assert r.returncode == 0 and r.stdout.split() == [b"10", b"11"]


# ---- events -----------------------------------------------------------------------------


def test_exec_events_like_docker(engine, fresh):
    since = str(int(time.time()) - 1)
    r = engine.docker("exec", fresh, "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    r = engine.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                      "--filter", f"container={fresh}", "--format", "{{json .}}")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    execs = [e for e in events if e["Action"].startswith("exec_")]
    assert [e["Action"] for e in execs] == ["exec_create: sh -c exit 3",
                                            "exec_start: sh -c exit 3", "exec_die"]
    exec_id = execs[0]["Actor"]["Attributes"]["execID"]
    assert len(exec_id) == 64
    for e in execs:
        assert e["Type"] == "container"
        assert e["Actor"]["Attributes"]["execID"] == exec_id
        assert e["Actor"]["Attributes"]["name"] == fresh
        assert e["Actor"]["Attributes"]["image"] == "busybox"
    assert execs[2]["Actor"]["Attributes"]["exitCode"] == "3"


def test_exec_event_of_a_lone_command_keeps_dockers_trailing_space(engine, fresh):
    since = str(int(time.time()) - 1)
    engine.docker("exec", fresh, "true")
    r = engine.docker("events", "--since", since, "--until", str(int(time.time()) + 1),
                      "--filter", f"container={fresh}", "--format", "{{.Action}}")
    assert "exec_create: true " in r.stdout.splitlines()


# ---- python3-docker ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def dockerpy(engine):
    docker = pytest.importorskip("docker", reason="needs python3-docker")
    c = docker.DockerClient(base_url=f"unix://{engine.sock}", timeout=60)
    try:
        yield c
    finally:
        c.close()


def test_dockerpy_exec_run(dockerpy, box):
    container = dockerpy.containers.get(box)
    code, output = container.exec_run(["sh", "-c", "echo hi; echo err >&2; exit 2"])
    assert (code, output) == (2, b"hi\nerr\n")
    code, (out, err) = container.exec_run(["sh", "-c", "echo hi; echo err >&2"], demux=True)
    assert (code, out, err) == (0, b"hi\n", b"err\n")
    code, output = container.exec_run("sh -c 'echo $X $PWD; id -u'", environment={"X": "y"},
                                      workdir="/tmp", user="65534")
    assert (code, output) == (0, b"y /tmp\n65534\n")
    code, output = container.exec_run("tty", tty=True)
    assert code == 0 and output.startswith(b"/dev/pts/")
    result = container.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; done"], stream=True)
    assert b"".join(result.output) == b"1\n2\n3\n"


def test_dockerpy_exec_detached_and_inspect(dockerpy, box):
    api = dockerpy.api
    exec_id = api.exec_create(box, ["sh", "-c", "sleep 0.2; exit 4"])["Id"]
    assert not api.exec_start(exec_id, detach=True)
    wait_for(lambda: api.exec_inspect(exec_id)["ExitCode"] == 4, what="exit code 4")
    info = api.exec_inspect(exec_id)
    assert info["ProcessConfig"]["entrypoint"] == "sh" and info["Running"] is False
