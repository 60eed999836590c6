"""Streams and terminals through skiffd: run -it, attach, detach keys, resize, piped
stdin. A real terminal is tmux (a private server per test, on its own socket); every
interactive scenario runs with skiff's CLI and with the real docker CLI (version 28)."""

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import time

import pytest

from conftest import wait_for
from engine import DOCKER, REPO, SKIFFD
from tmuxterm import TMUX, Term

SKIFF = str(REPO / "build" / "skiff")

pytestmark = pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None,
                                reason="needs build/skiffd and the docker CLI")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="needs tmux (scripts/install-deps)")
CLIENTS = ["skiff", "docker"]


def client_cmd(client):
    return SKIFF if client == "skiff" else DOCKER


def inspect(engine, name):
    return json.loads(engine.docker("inspect", name).stdout)[0]


def unique(prefix):
    return f"{prefix}{secrets.token_hex(3)}"


@pytest.fixture
def term(engine):
    t = Term(engine.env)
    yield t
    t.close()


def start_interactive(term, client, name, *extra):
    """`run -it` busybox sh in the terminal; returns once its prompt shows."""
    term.clear()
    args = " ".join(shlex.quote(a) for a in extra)
    term.type(f"{client_cmd(client)} run -it --name {name} {args} busybox sh; "
              f"printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the container's prompt")


def in_container(term, command, expect):
    term.type(command)
    term.wait_for(lambda s: expect in s, f"{expect!r} after {command!r}")


def rc_shown(term):
    found = term.wait_for(lambda s: re.search(r"^rc=(\d+)", s, re.M), "the exit status")
    return int(found.group(1))


def events(engine, name, since):
    """[action, height, width] (the sizes of resize events only) of name's events."""
    res = engine.docker("events", "--since", str(since), "--until", str(time.time()),
                        "--filter", f"container={name}", "--format", "{{json .}}")
    out = []
    for line in res.stdout.splitlines():
        e = json.loads(line)
        attrs = e["Actor"]["Attributes"]
        out.append([e["Action"]] + [attrs[k] for k in ("height", "width") if k in attrs])
    return out


def stty_settings(term):
    """`stty -a` of the host shell's terminal without its size."""
    out = unique("/tmp/stty-")
    try:
        assert term.shell(f"stty -a > {out}") == 0
        text = open(out).read()
    finally:
        if os.path.exists(out):
            os.unlink(out)
    return re.sub(r"rows \d+; columns \d+;", "", text)


# ---------------------------------------------------------------- interactive (tmux)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_run_it_runs_an_interactive_shell(engine, term, client):
    name = unique("sh")
    start_interactive(term, client, name)
    in_container(term, "echo $((6*7))", "\n42")
    in_container(term, "tty", "/dev/pts/0")
    term.type("exit 3")
    assert rc_shown(term) == 3
    engine.docker("rm", name)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_terminal_size_follows_the_window(engine, term, client):
    name = unique("size")
    since = time.time()
    start_interactive(term, client, name)
    in_container(term, "stty size", "30 100")
    term.resize(80, 20)
    in_container(term, "stty size", "20 80")
    term.type("exit")
    assert rc_shown(term) == 0
    acts = events(engine, name, since)
    assert ["resize", "30", "100"] in acts and ["resize", "20", "80"] in acts
    assert ["attach"] in acts
    engine.docker("rm", name)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_detach_leaves_the_container_running_and_attach_resumes(engine, term, client):
    name = unique("det")
    cli = client_cmd(client)
    start_interactive(term, client, name)
    in_container(term, "echo first > /tmp/mark", "/ #")
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 0  # run prints nothing and exits 0
    assert inspect(engine, name)["State"]["Running"] is True

    term.clear()
    term.type(f"{cli} attach {name}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the prompt after attach")
    in_container(term, "cat /tmp/mark", "first")
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 1  # attach reports the detach, as docker's does
    assert "read escape sequence" in term.screen()
    assert inspect(engine, name)["State"]["Running"] is True

    term.clear()
    term.type(f"{cli} attach {name}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the prompt after attach")
    term.type("exit 7")
    assert rc_shown(term) == 7
    engine.docker("rm", name)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_terminal_is_restored_after_exit_and_detach(engine, term, client):
    before = stty_settings(term)
    name = unique("rst")
    start_interactive(term, client, name)
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 0
    assert stty_settings(term) == before
    term.clear()
    term.type(f"{client_cmd(client)} attach {name}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the prompt after attach")
    term.type("exit")
    assert rc_shown(term) == 0
    assert stty_settings(term) == before
    engine.docker("rm", name)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_terminal_is_restored_when_the_container_is_killed(engine, term, client):
    before = stty_settings(term)
    name = unique("kill")
    start_interactive(term, client, name)
    engine.docker("kill", name)
    assert rc_shown(term) == 137
    assert stty_settings(term) == before
    engine.docker("rm", name)


@needs_tmux
def test_terminal_is_restored_when_skiff_is_terminated(engine, term):
    """attach to a tty does not proxy signals: SIGTERM ends the CLI, not raw mode."""
    name = unique("term")
    engine.docker("run", "-dit", "--name", name, "busybox", "sh")
    before = stty_settings(term)
    term.clear()
    term.type(f"{SKIFF} attach {name}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the prompt after attach")
    pid = int(term.tmux("display-message", "-p", "-t", "t", "#{pane_pid}"))
    children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    assert len(children) == 1
    os.kill(int(children[0]), 15)
    assert rc_shown(term) == 143
    assert stty_settings(term) == before
    assert inspect(engine, name)["State"]["Running"] is True
    engine.docker("rm", "-f", name)


@needs_tmux
@pytest.mark.parametrize("client", CLIENTS)
def test_custom_detach_keys(engine, term, client):
    name = unique("keys")
    start_interactive(term, client, name, "--detach-keys", "ctrl-x,e")
    term.keys("C-p", "C-q")  # not the keys: they reach the shell
    in_container(term, "echo still here", "\nstill here")
    term.keys("C-x", "e")
    assert rc_shown(term) == 0
    assert inspect(engine, name)["State"]["Running"] is True
    engine.docker("rm", "-f", name)


@needs_tmux
def test_start_ai_attaches_and_detaches(engine, term):
    name = unique("start")
    engine.docker("create", "-it", "--name", name, "busybox", "sh")
    term.clear()
    term.type(f"{SKIFF} start -ai {name}; printf '\\nrc=%s\\n' $?")
    term.wait_for(lambda s: "/ #" in s, "the container's prompt")
    in_container(term, "stty size", "30 100")
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 0
    assert inspect(engine, name)["State"]["Running"] is True
    engine.docker("rm", "-f", name)


@needs_tmux
def test_skiff_detach_emits_the_detach_event(engine, term):
    """skiff's CLI lets the daemon see the keys (docker's swallows them itself)."""
    name = unique("ev")
    since = time.time()
    start_interactive(term, "skiff", name)
    term.keys("C-p", "C-q")
    assert rc_shown(term) == 0
    wait_for(lambda: ["detach"] in events(engine, name, since), what="a detach event")
    engine.docker("rm", "-f", name)


# ---------------------------------------------------------------- piped stdin


@pytest.mark.parametrize("client", CLIENTS)
def test_piped_stdin_reaches_the_container_and_its_end_too(engine, client):
    res = subprocess.run([client_cmd(client), "run", "-i", "--rm", "busybox", "cat"],
                         input="hi\n", capture_output=True, text=True, env=engine.env,
                         timeout=30)
    assert (res.returncode, res.stdout) == (0, "hi\n")


@pytest.mark.parametrize("client", CLIENTS)
def test_large_stdin_goes_through_cat_byte_exact(engine, client, tmp_path):
    data = os.urandom(4 * 1024 * 1024)
    res = subprocess.run([client_cmd(client), "run", "-i", "--rm", "busybox", "cat"],
                         input=data, capture_output=True, env=engine.env, timeout=60)
    assert res.returncode == 0
    assert len(res.stdout) == len(data) and res.stdout == data


@pytest.mark.parametrize("client", CLIENTS)
def test_run_it_without_a_terminal_is_refused(engine, client):
    before = engine.docker("ps", "-aq").stdout
    res = subprocess.run([client_cmd(client), "run", "-it", "--rm", "busybox", "true"],
                         input="", capture_output=True, text=True, env=engine.env,
                         timeout=30)
    assert res.returncode == 1
    assert "the input device is not a TTY" in res.stderr
    assert engine.docker("ps", "-aq").stdout == before


def test_shim_stays_idle_after_an_attach_half_closes(engine):
    """The CLI half-closes its input at once; the shim must not spin on that EOF."""
    name = unique("idle")
    engine.docker("run", "-d", "--name", name, "busybox", "sleep", "60")
    proc = subprocess.Popen([SKIFF, "attach", name], env=engine.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        pid = inspect(engine, name)["State"]["Pid"]
        shim = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])

        def cpu_ticks():
            fields = open(f"/proc/{shim}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])

        t0 = cpu_ticks()
        time.sleep(1)
        assert cpu_ticks() - t0 < 10  # ticks of 10 ms: a spinning shim uses ~100
    finally:
        proc.kill()
        proc.wait()
        engine.docker("rm", "-f", name)


# ---------------------------------------------------------------- the API


def api(engine, method, path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(engine.sock))
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n"
              f"Connection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def hijack(engine, path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(engine.sock))
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\n"
              f"Connection: Upgrade\r\nContent-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head.decode(errors="replace")


def test_resize_answers_like_dockerd(engine):
    created = unique("rz")
    engine.docker("create", "-t", "--name", created, "busybox", "sh")
    assert api(engine, "POST", f"/containers/{created}/resize?h=10&w=20")[0] == 409
    assert api(engine, "POST", "/containers/nosuch/resize?h=10&w=20")[0] == 404
    cases = {"h=abc&w=10": 'strconv.Atoi: parsing \\"abc\\": invalid syntax',
             "h=-1&w=10": 'strconv.Atoi: parsing \\"-1\\": invalid syntax',
             "h=10": 'strconv.Atoi: parsing \\"\\": invalid syntax',
             "h=70000&w=5": 'strconv.Atoi: parsing \\"70000\\": value out of range'}
    for query, message in cases.items():
        status, body = api(engine, "POST", f"/containers/{created}/resize?{query}")
        assert (status, message in body) == (400, True), (query, body)
    running = unique("rz")
    engine.docker("run", "-d", "--name", running, "busybox", "sleep", "60")
    since = time.time()
    assert api(engine, "POST", f"/containers/{running}/resize?h=10&w=20")[0] == 200
    assert ["resize", "10", "20"] in events(engine, running, since)
    engine.docker("rm", "-f", created, running)


def test_resize_reaches_the_terminal(engine):
    name = unique("rz")
    engine.docker("run", "-dit", "--name", name, "busybox", "sh")
    assert api(engine, "POST", f"/containers/{name}/resize?h=17&w=43")[0] == 200
    s, head = hijack(engine, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
    assert " 101 " in head
    s.sendall(b"stty size\n")
    out = b""
    s.settimeout(10)
    while b"17 43" not in out:
        out += s.recv(4096)
    s.close()
    engine.docker("rm", "-f", name)


def test_console_size_applies_from_the_start(engine):
    name = unique("cs")
    body = json.dumps({"Image": "busybox", "Cmd": ["stty", "size"], "Tty": True,
                       "HostConfig": {"ConsoleSize": [12, 34]}})
    res = subprocess.run(["curl", "-sf", "--unix-socket", str(engine.sock), "-X", "POST",
                          "-H", "Content-Type: application/json", "-d", body,
                          f"http://d/containers/create?name={name}"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout
    engine.docker("start", name)
    wait_for(lambda: not inspect(engine, name)["State"]["Running"], what="exit")
    assert engine.docker("logs", name).stdout.strip() == "12 34"
    engine.docker("rm", name)


def test_bad_detach_keys_are_refused_before_anything_else(engine):
    status, body = api(engine, "POST", "/containers/nosuch/attach?stream=1&detachKeys=foo")
    assert status == 400
    assert json.loads(body)["message"] == "Invalid detach keys (foo) provided"
    name = unique("bk")
    engine.docker("run", "-dit", "--name", name, "busybox", "sh")
    res = subprocess.run([SKIFF, "attach", "--no-stdin", "--detach-keys", "ctrl-", name],
                         capture_output=True, text=True, env=engine.env, timeout=30)
    assert res.returncode == 1
    assert "Invalid detach keys (ctrl-) provided" in res.stderr
    res = engine.docker("attach", "--no-stdin", "--detach-keys", "ctrl-", name, check=False)
    assert res.returncode == 1 and "400" in res.stderr  # docker's CLI shows the status
    assert inspect(engine, name)["State"]["Running"] is True
    engine.docker("rm", "-f", name)


def test_daemon_ends_the_stream_on_detach_keys(engine):
    name = unique("dk")
    engine.docker("run", "-dit", "--name", name, "busybox", "sh")
    since = time.time()
    s, head = hijack(engine, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1"
                             f"&detachKeys=ctrl-x,a")
    assert " 101 " in head
    # The bytes before the keys go in; the stream ends right after them.
    s.sendall(b"echo marked > /tmp/mark\n\x18a")
    s.settimeout(10)
    while s.recv(4096):
        pass
    s.close()
    assert inspect(engine, name)["State"]["Running"] is True
    s, head = hijack(engine, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
    s.sendall(b"cat /tmp/mark\n")
    out = b""
    while b"\nmarked" not in out:  # the input before the keys went in
        out += s.recv(4096)
    s.close()
    acts = events(engine, name, since)
    assert ["attach"] in acts and ["detach"] in acts
    engine.docker("rm", "-f", name)


def test_detach_keys_are_not_scanned_without_a_tty(engine):
    """dockerd scans only a terminal's input: -i alone passes ctrl-p ctrl-q through."""
    res = subprocess.run([SKIFF, "run", "-i", "--rm", "busybox", "od", "-An", "-tx1"],
                         input=b"\x10\x11", capture_output=True, env=engine.env, timeout=30)
    assert res.returncode == 0
    assert res.stdout.split() == [b"10", b"11"]


@pytest.mark.parametrize("client", CLIENTS)
def test_run_with_bad_detach_keys_exits_1(engine, client):
    res = subprocess.run([client_cmd(client), "run", "-i", "--rm", "--detach-keys", "foo",
                          "busybox", "true"], input="", capture_output=True, text=True,
                         env=engine.env, timeout=30)
    assert res.returncode == 1
    if client == "skiff":
        assert "Invalid detach keys (foo) provided" in res.stderr


def test_attach_to_a_paused_container_is_refused(engine):
    name = unique("pz")
    engine.docker("run", "-d", "--name", name, "busybox", "sleep", "60")
    engine.docker("pause", name)
    status, body = api(engine, "POST", f"/containers/{name}/attach?stream=1&stdout=1")
    assert status == 409
    assert json.loads(body)["message"] == (f"container {name} is paused, unpause the "
                                           "container before attach")
    res = subprocess.run([SKIFF, "attach", name], capture_output=True, text=True,
                         env=engine.env, timeout=30)
    assert res.returncode == 1
    assert "You cannot attach to a paused container, unpause it first" in res.stderr
    engine.docker("rm", "-f", name)
