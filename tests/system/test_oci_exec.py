"""`exec`: inline args, --process, --tty, --detach, --pid-file, --cwd, --env, --user, --cap,
--no-new-privs, --preserve-fds, and exit status propagation."""

import json
import os

import pytest

from conftest import pid_alive, wait_for
from test_oci_process import CAP_BITS, status_fields


@pytest.fixture
def running(runtime, bundle):
    """A running container (init: sleep 3600) and its id."""
    return runtime.create_started(bundle)


def test_exec_runs_command_and_returns_output(runtime, running):
    res = runtime.exec(running, "echo", "hello", "exec")
    assert res.returncode == 0 and res.stdout == "hello exec\n"


@pytest.mark.parametrize("code", [0, 1, 7, 126, 255])
def test_exec_propagates_exit_code(runtime, running, code):
    assert runtime.exec(running, "sh", "-c", f"exit {code}").returncode == code


def test_exec_killed_by_signal_returns_128_plus_signal(runtime, running):
    assert runtime.exec(running, "sh", "-c", "kill -9 $$").returncode == 128 + 9


def test_exec_passes_stdin(runtime, running):
    res = runtime.exec(running, "cat", input="to exec\n")
    assert res.stdout == "to exec\n"


def test_exec_missing_binary_fails(runtime, running):
    assert runtime.exec(running, "/no/such/binary").returncode != 0


def test_exec_sets_home_from_passwd(runtime, bundle):
    bundle.process["env"] = ["PATH=/bin:/usr/bin"]
    cid = runtime.create_started(bundle)
    assert runtime.exec(cid, "sh", "-c", 'echo "$HOME"').stdout == "/root\n"
    res = runtime.exec(cid, "sh", "-c", 'echo "$HOME"', opts=("--user", "65534:65534"))
    assert res.stdout == "/nonexistent\n", res


def test_exec_joins_container_namespaces(runtime, running):
    init = runtime.pid(running)
    script = "for n in pid mnt net ipc uts; do readlink /proc/self/ns/$n; done"
    inside = runtime.exec(running, "sh", "-c", script).stdout.split()
    host = [f"{n}:[{os.stat(f'/proc/{init}/ns/{n}').st_ino}]"
            for n in ("pid", "mnt", "net", "ipc", "uts")]
    assert inside == host


def test_exec_joins_container_cgroup(runtime, running):
    # Read both inside the container: with a cgroup namespace the paths are
    # relative to its root, so they only compare within the same view.
    res = runtime.exec(running, "sh", "-c", "cat /proc/self/cgroup; echo --; cat /proc/1/cgroup")
    mine, init = res.stdout.split("--\n")
    assert mine == init
    assert mine.strip()


def test_exec_sees_container_filesystem(runtime, bundle, running):
    (bundle.rootfs / "marker").write_text("in rootfs\n")
    assert runtime.exec(running, "cat", "/marker").stdout == "in rootfs\n"


def test_exec_process_file(runtime, running, workdir):
    proc = {"terminal": False, "user": {"uid": 65534, "gid": 65534},
            "args": ["sh", "-c", "echo $FOO; pwd; id -u"],
            "env": ["PATH=/bin:/usr/bin", "FOO=from-process-file"], "cwd": "/tmp"}
    f = workdir / "process.json"
    f.write_text(json.dumps(proc))
    res = runtime.exec(running, opts=["--process", f])
    assert res.returncode == 0, res
    assert res.stdout.split() == ["from-process-file", "/tmp", "65534"]


def test_exec_cwd(runtime, running):
    assert runtime.exec(running, "pwd", opts=["--cwd", "/tmp"]).stdout == "/tmp\n"


def test_exec_env_adds_variable(runtime, running):
    res = runtime.exec(running, "env", opts=["--env", "FOO=bar", "--env", "BAZ=qux"])
    lines = res.stdout.splitlines()
    assert "FOO=bar" in lines and "BAZ=qux" in lines
    assert any(line.startswith("PATH=") for line in lines)  # the config's env is kept


def test_exec_user_uid_gid(runtime, running):
    res = runtime.exec(running, "sh", "-c", "id -u; id -g", opts=["--user", "65534:65534"])
    assert res.stdout.split() == ["65534", "65534"]


def test_exec_user_uid_only(runtime, running):
    res = runtime.exec(running, "id", "-u", opts=["--user", "65534"])
    assert res.stdout.strip() == "65534"


def test_exec_cap_adds_capability(runtime, running):
    res = runtime.exec(running, "cat", "/proc/self/status", opts=["--cap", "CAP_SYS_ADMIN"])
    st = status_fields(res.stdout)
    bit = 1 << CAP_BITS["CAP_SYS_ADMIN"]
    assert int(st["CapEff"], 16) & bit and int(st["CapBnd"], 16) & bit


def test_exec_without_cap_has_config_capabilities(runtime, running):
    st = status_fields(runtime.exec(running, "cat", "/proc/self/status").stdout)
    assert not int(st["CapEff"], 16) & (1 << CAP_BITS["CAP_SYS_ADMIN"])


def test_exec_no_new_privs(runtime, bundle):
    bundle.process["noNewPrivileges"] = False
    cid = runtime.create_started(bundle)
    plain = status_fields(runtime.exec(cid, "cat", "/proc/self/status").stdout)
    nnp = status_fields(runtime.exec(cid, "cat", "/proc/self/status",
                                     opts=["--no-new-privs"]).stdout)
    assert plain["NoNewPrivs"] == "0" and nnp["NoNewPrivs"] == "1"


def test_exec_detach_with_pid_file(runtime, running, workdir):
    pidfile = workdir / "exec.pid"
    res = runtime.exec(running, "sleep", "3600", opts=["--detach", "--pid-file", pidfile])
    assert res.returncode == 0, res
    pid = int(pidfile.read_text())
    runtime.track_pid(pid)
    assert pid_alive(pid)
    init = runtime.pid(running)
    assert os.stat(f"/proc/{pid}/ns/pid").st_ino == os.stat(f"/proc/{init}/ns/pid").st_ino


def test_exec_detached_process_killed_by_delete_force(runtime, running, workdir):
    pidfile = workdir / "exec.pid"
    runtime.exec(running, "sleep", "3600", opts=["-d", "--pid-file", pidfile])
    pid = int(pidfile.read_text())
    runtime.delete(running, force=True)
    wait_for(lambda: not pid_alive(pid), what="exec'd process to die")


def test_exec_preserve_fds(runtime, running, workdir):
    f = workdir / "preserved"
    f.write_text("through fd 3\n")
    # Open the file as fd 3 in a wrapper shell only: the test process's own fds stay as
    # they are (pytest's capture owns some of them).
    wrapper = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f"', "sh", f]
    res = runtime.exec(running, "sh", "-c", "cat <&3", opts=["--preserve-fds", "1"],
                       prefix=wrapper)
    assert res.stdout == "through fd 3\n", res


def test_exec_without_preserve_fds_closes_extra_fds(runtime, running, workdir):
    f = workdir / "not-preserved"
    f.write_text("must not arrive\n")
    wrapper = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f"', "sh", f]
    res = runtime.exec(running, "sh", "-c", "cat <&3", prefix=wrapper)
    assert "must not arrive" not in res.stdout and res.returncode != 0


def test_exec_does_not_leak_extra_fds(runtime, running, workdir):
    pidfile = workdir / "exec.pid"
    runtime.exec(running, "sleep", "3600", opts=["-d", "--pid-file", pidfile])
    pid = int(pidfile.read_text())
    runtime.track_pid(pid)
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2"]


def test_exec_tty_with_console_socket(runtime, running, console_socket, workdir):
    pidfile = workdir / "exec.pid"
    res = runtime.exec(running, "sh", "-c", "tty; [ -t 0 ] && echo is-a-tty; sleep 3600",
                       opts=["--tty", "--detach", "--console-socket", console_socket.path,
                             "--pid-file", pidfile])
    assert res.returncode == 0, res
    runtime.track_pid(int(pidfile.read_text()))
    out = console_socket.read_until(b"is-a-tty")
    assert b"/dev/pts/" in out and b"is-a-tty" in out


def test_exec_into_stopped_container_fails(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    assert runtime.exec(cid, "true").returncode != 0


def test_exec_into_unknown_container_fails(runtime):
    assert runtime.exec(runtime.token + "-nosuch", "true").returncode != 0


@pytest.mark.cgroup
def test_exec_into_paused_container_fails(runtime, running):
    runtime.run("pause", running)
    assert runtime.exec(running, "true", timeout=10).returncode != 0
    runtime.run("resume", running)
