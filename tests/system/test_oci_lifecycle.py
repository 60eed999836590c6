"""Lifecycle commands: create, start, run, state, kill, delete, pause, resume."""

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import Cgroup, pid_alive, wait_for

TRAP_SCRIPT = (
    "trap 'exit 10' USR1; trap 'exit 12' USR2; trap 'exit 15' TERM; trap 'exit 1' HUP; "
    "echo ready > /tmp/ready; while :; do sleep 0.05; done"
)


def test_create_leaves_container_in_created_state(runtime, bundle):
    cid = runtime.create(bundle)
    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid
    assert st["pid"] > 0 and pid_alive(st["pid"])


def test_created_init_stands_in_its_cgroup_on_every_hierarchy(runtime, bundle):
    # skiff-oci creates the init straight into its v2 cgroup and the init moves itself into
    # the v1 ones (src/runtime/container.c, clone_init): none may be left out.
    cid = runtime.create(bundle)
    pid = runtime.state(cid)["pid"]
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    ours = set(Path("/proc/self/cgroup").read_text().splitlines())
    assert lines and all(line.split(":", 2)[2].endswith("/" + cid) for line in lines), lines
    assert not ours & set(lines), lines


def test_created_container_does_not_run_user_process_before_start(runtime, bundle):
    bundle.args("sh -c 'touch /started; sleep 3600'")
    cid = runtime.create(bundle)
    time.sleep(0.3)
    assert not (bundle.rootfs / "started").exists()
    runtime.start(cid)
    wait_for(lambda: (bundle.rootfs / "started").exists(), what="process to start")


def test_start_moves_container_to_running(runtime, bundle):
    cid = runtime.create_started(bundle)
    assert runtime.status(cid) == "running"


def test_state_reports_oci_fields(runtime, bundle):
    cid = runtime.create(bundle)
    st = runtime.state(cid)
    assert st["ociVersion"].startswith("1.")
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert isinstance(st["pid"], int)
    assert st["status"] in ("created", "creating")


def test_container_becomes_stopped_when_process_exits(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")


def test_start_twice_fails(runtime, bundle):
    cid = runtime.create_started(bundle)
    res = runtime.start(cid, check=False)
    assert res.returncode != 0
    assert runtime.status(cid) == "running"


def test_create_with_duplicate_id_fails(runtime, bundle):
    cid = runtime.create(bundle)
    res = runtime.create(bundle, cid, check=False)
    assert res.returncode != 0
    assert runtime.status(cid) == "created"


def test_state_of_unknown_container_fails(runtime):
    res = runtime.run("state", runtime.token + "-nosuch", check=False)
    assert res.returncode != 0


def test_run_returns_process_exit_code(runtime, bundle):
    bundle.args("sh", "-c", "exit 3")
    res = runtime.run_container(bundle)
    assert res.returncode == 3


def test_run_returns_zero_and_output(runtime, bundle):
    bundle.args("echo", "hello from the container")
    res = runtime.run_container(bundle)
    assert res.returncode == 0
    assert res.stdout == "hello from the container\n"


def test_run_passes_stdin(runtime, bundle):
    bundle.args("cat")
    res = runtime.run_container(bundle, input="piped in\n")
    assert res.returncode == 0
    assert res.stdout == "piped in\n"


def test_run_killed_by_signal_returns_128_plus_signal(runtime, bundle):
    cid = runtime.new_id()
    bundle.write()
    p = runtime.popen("run", "--bundle", bundle.path, cid)
    runtime.wait_status(cid, "running")
    runtime.kill(cid, "KILL")
    res = runtime.finish(p)
    assert res.returncode == 128 + signal.SIGKILL


def test_run_detached_leaves_container_running(runtime, bundle):
    cid = runtime.new_id()
    bundle.write()
    runtime.run("run", "--detach", "--bundle", bundle.path, cid)
    runtime.track_pid(runtime.pid(cid))
    assert runtime.status(cid) == "running"


def test_run_removes_container_after_exit(runtime, bundle):
    bundle.args("true")
    cid = runtime.new_id()
    assert runtime.run_container(bundle, cid).returncode == 0
    assert runtime.run("state", cid, check=False).returncode != 0


def _run_trapping(runtime, bundle):
    bundle.args(TRAP_SCRIPT)
    cid = runtime.new_id()
    bundle.write()
    p = runtime.popen("run", "--bundle", bundle.path, cid)
    wait_for(lambda: (bundle.rootfs / "tmp" / "ready").exists(), what="traps installed")
    return cid, p


@pytest.mark.parametrize("sig,code", [
    ("TERM", 15), ("SIGTERM", 15), ("15", 15),
    ("USR1", 10), ("SIGUSR1", 10), ("10", 10),
    ("USR2", 12), ("12", 12), ("HUP", 1),
])
def test_kill_delivers_named_and_numbered_signals(runtime, bundle, sig, code):
    cid, p = _run_trapping(runtime, bundle)
    runtime.kill(cid, sig)
    assert runtime.finish(p).returncode == code


def test_kill_default_signal_is_sigterm(runtime, bundle):
    cid, p = _run_trapping(runtime, bundle)
    runtime.kill(cid)
    assert runtime.finish(p).returncode == 15


def test_kill_rejects_unknown_signal(runtime, bundle):
    cid = runtime.create_started(bundle)
    assert runtime.kill(cid, "NOSUCHSIG", check=False).returncode != 0
    assert runtime.status(cid) == "running"


def test_kill_all_signals_every_process(runtime, bundle):
    bundle.args("sh -c 'sleep 3600 & sleep 3600 & echo $! > /tmp/child; wait'")
    cid = runtime.create_started(bundle)
    wait_for(lambda: (bundle.rootfs / "tmp" / "child").exists(), what="children")
    init = runtime.pid(cid)
    runtime.kill(cid, "KILL", "--all")
    runtime.wait_status(cid, "stopped")
    assert not pid_alive(init)


def test_kill_stopped_container_fails(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    assert runtime.kill(cid, "KILL", check=False).returncode != 0


def test_kill_created_container_stops_it(runtime, bundle):
    cid = runtime.create(bundle)
    runtime.kill(cid, "KILL")
    runtime.wait_status(cid, "stopped")


def test_delete_removes_stopped_container(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    runtime.delete(cid)
    assert runtime.run("state", cid, check=False).returncode != 0
    assert cid not in runtime.list_ids()


def test_delete_refuses_running_container_without_force(runtime, bundle):
    cid = runtime.create_started(bundle)
    res = runtime.delete(cid, check=False)
    assert res.returncode != 0
    assert runtime.status(cid) == "running"


def test_delete_force_kills_running_container(runtime, bundle):
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    runtime.delete(cid, force=True)
    wait_for(lambda: not pid_alive(pid), what="container init to die")
    assert runtime.run("state", cid, check=False).returncode != 0


def test_delete_created_container_kills_init(runtime, bundle):
    cid = runtime.create(bundle)
    pid = runtime.pid(cid)
    runtime.delete(cid, force=True)
    wait_for(lambda: not pid_alive(pid), what="container init to die")


def test_delete_unknown_container_fails(runtime):
    assert runtime.delete(runtime.token + "-nosuch", check=False).returncode != 0


@pytest.mark.cgroup
def test_delete_removes_cgroup(runtime, bundle):
    cid = runtime.create_started(bundle)
    cg = Cgroup.of(runtime.pid(cid), "pids")
    assert cg.path.is_dir()
    runtime.delete(cid, force=True)
    wait_for(lambda: not cg.path.exists(), what=f"{cg.path} to be removed")


@pytest.mark.cgroup
def test_pause_sets_state_paused_and_freezes(runtime, bundle):
    cid = runtime.create_started(bundle)
    runtime.run("pause", cid)
    assert runtime.status(cid) == "paused"
    cg = Cgroup.of(runtime.pid(cid), "freezer")
    assert cg.read(v1="freezer.state", v2="cgroup.freeze") in ("FROZEN", "1")


@pytest.mark.cgroup
def test_paused_container_makes_no_progress(runtime, bundle):
    bundle.args("sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done'")
    cid = runtime.create_started(bundle)
    counter = bundle.rootfs / "tmp" / "count"
    wait_for(counter.exists, what="counter")
    runtime.run("pause", cid)
    time.sleep(0.1)
    before = counter.read_text()
    time.sleep(0.3)
    assert counter.read_text() == before
    runtime.run("resume", cid)
    wait_for(lambda: counter.read_text() != before, what="counter to move after resume")


@pytest.mark.cgroup
def test_resume_returns_to_running(runtime, bundle):
    cid = runtime.create_started(bundle)
    runtime.run("pause", cid)
    runtime.run("resume", cid)
    assert runtime.status(cid) == "running"
    cg = Cgroup.of(runtime.pid(cid), "freezer")
    assert cg.read(v1="freezer.state", v2="cgroup.freeze") in ("THAWED", "0")


def test_pause_of_stopped_container_fails(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    assert runtime.run("pause", cid, check=False).returncode != 0
    assert runtime.status(cid) == "stopped"


def test_resume_of_running_container_keeps_it_running(runtime, bundle):
    cid = runtime.create_started(bundle)
    runtime.run("resume", cid, check=False)
    assert runtime.status(cid) == "running"


@pytest.mark.cgroup
def test_delete_force_removes_paused_container(runtime, bundle):
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    runtime.run("pause", cid)
    runtime.delete(cid, force=True)
    wait_for(lambda: not pid_alive(pid), what="paused init to die")
