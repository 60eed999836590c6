"""The container lifecycle through skiffd, driven by the real docker CLI (version 28)."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import wait_for
from engine import DOCKER, SKIFFD

pytestmark = pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None,
                                reason="needs build/skiffd and the docker CLI")


def inspect(engine, cid):
    return json.loads(engine.docker("inspect", cid).stdout)[0]


def test_run_prints_output_and_returns_exit_code(engine):
    res = engine.docker("run", "--rm", "busybox", "sh", "-c", "echo hi; echo oops >&2; exit 3",
                        check=False)
    assert res.returncode == 3
    assert res.stdout == "hi\n"
    assert "oops" in res.stderr


def test_container_process_starts_with_no_blocked_or_ignored_signals(engine):
    # The shim blocks SIGCHLD and ignores SIGPIPE; neither may reach the
    # container (a shell pipeline's `yes | head` relies on SIGPIPE).
    res = engine.docker("run", "--rm", "busybox", "grep", "-E", "^Sig(Blk|Ign)",
                        "/proc/self/status")
    assert res.stdout.split() == ["SigBlk:", "0" * 16, "SigIgn:", "0" * 16]
    res = engine.docker("run", "--rm", "--init", "busybox", "sh", "-c", "yes | head -c 3")
    assert res.stdout == "y\ny"


def test_run_rm_removes_container(engine):
    engine.docker("run", "--rm", "--name", "gone", "busybox", "true")
    assert engine.docker("ps", "-aq", "--filter", "name=gone").stdout.strip() == ""


def test_run_detached_logs_and_stop(engine):
    cid = engine.docker("run", "-d", "busybox", "sh", "-c",
                        "echo started; exec sleep 1000").stdout.strip()
    assert len(cid) == 64
    wait_for(lambda: "started" in engine.docker("logs", cid).stdout, what="log line")
    assert inspect(engine, cid)["State"]["Running"] is True
    assert cid[:12] in engine.docker("ps", "-q").stdout
    t0 = time.monotonic()
    engine.docker("stop", "-t", "1", cid)
    # sleep as PID 1 ignores SIGTERM: the kill comes after the 1 s timeout
    assert time.monotonic() - t0 >= 1.0
    state = inspect(engine, cid)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    engine.docker("rm", cid)


def test_stop_signal_reaches_a_process_that_handles_it(engine):
    cid = engine.docker("run", "-d", "busybox", "sh", "-c",
                        "trap 'exit 42' TERM; while true; do sleep 0.1; done").stdout.strip()
    wait_for(lambda: inspect(engine, cid)["State"]["Running"], what="running")
    time.sleep(0.3)
    engine.docker("stop", cid)
    assert inspect(engine, cid)["State"]["ExitCode"] == 42
    engine.docker("rm", cid)


def test_ps_columns_and_status_text(engine):
    cid = engine.docker("run", "-d", "--name", "lister", "busybox", "sleep", "1000").stdout.strip()
    out = engine.docker("ps").stdout.splitlines()
    assert out[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                              "PORTS", "NAMES"]
    row = next(line for line in out if cid[:12] in line)
    assert "Up " in row and "lister" in row and "busybox" in row
    engine.docker("rm", "-f", cid)


def test_exited_container_shows_exit_code_in_ps(engine):
    cid = engine.docker("run", "-d", "busybox", "sh", "-c", "exit 5").stdout.strip()
    engine.docker("wait", cid)
    status = engine.docker("ps", "-a", "--filter", f"id={cid}", "--format",
                           "{{.Status}}").stdout
    assert status.startswith("Exited (5)")
    engine.docker("rm", cid)


def test_restart_policy_on_failure_retries(engine):
    cid = engine.docker("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c",
                        "exit 1").stdout.strip()
    wait_for(lambda: inspect(engine, cid)["RestartCount"] == 2 and
             inspect(engine, cid)["State"]["Status"] == "exited", timeout=15,
             what="two restarts")
    engine.docker("rm", cid)


def test_network_ids_stay_the_same_after_a_daemon_restart(engine):
    def network_ids():
        since = f"{time.time():.9f}"
        for network in ("none", "host", "bridge"):
            engine.docker("run", "--rm", "--network", network, "busybox", "true")
        out = engine.docker("events", "--since", since, "--until", f"{time.time():.9f}",
                            "--filter", "type=network", "--format",
                            "{{.Actor.Attributes.name}} {{.Actor.ID}}").stdout
        return dict(line.split() for line in out.splitlines())

    before = network_ids()
    assert sorted(before) == ["bridge", "host", "none"]
    assert len(set(before.values())) == 3
    engine.kill()
    engine.start()
    assert network_ids() == before


def test_init_reaps_orphaned_zombies(engine):
    script = "sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat,comm | grep -c '^Z' || true"
    out = engine.docker("run", "--rm", "--init", "busybox", "sh", "-c", script).stdout
    assert out.strip() == "0"


def test_kill_with_signal_name(engine):
    cid = engine.docker("run", "-d", "busybox", "sleep", "1000").stdout.strip()
    engine.docker("kill", "-s", "KILL", cid)
    wait_for(lambda: not inspect(engine, cid)["State"]["Running"], what="killed")
    assert inspect(engine, cid)["State"]["ExitCode"] == 137
    engine.docker("rm", cid)


def test_rename_and_name_conflict(engine):
    a = engine.docker("create", "--name", "first", "busybox", "true").stdout.strip()
    res = engine.docker("create", "--name", "first", "busybox", "true", check=False)
    assert res.returncode != 0 and "already in use" in res.stderr
    assert "File exists" not in res.stderr  # docker's text, nothing appended
    engine.docker("rename", "first", "second")
    assert inspect(engine, a)["Name"] == "/second"
    engine.docker("rm", a)


def test_create_with_unknown_image_fails_cleanly(engine):
    before = engine.docker("ps", "-aq").stdout
    res = engine.docker("create", "--pull", "never", "nosuchimage:1", "true", check=False)
    assert res.returncode != 0
    assert "No such image" in res.stderr or "nosuchimage" in res.stderr
    assert engine.docker("ps", "-aq").stdout == before


def test_rm_of_running_container_needs_force(engine):
    cid = engine.docker("run", "-d", "busybox", "sleep", "1000").stdout.strip()
    res = engine.docker("rm", cid, check=False)
    assert res.returncode != 0 and "force" in res.stderr
    engine.docker("rm", "-f", cid)
    assert engine.docker("ps", "-aq", "--filter", f"id={cid}").stdout.strip() == ""


def test_logs_tail_and_timestamps(engine):
    cid = engine.docker("run", "-d", "busybox", "sh", "-c", "for i in 1 2 3 4; do echo $i; done"
                        ).stdout.strip()
    engine.docker("wait", cid)
    assert engine.docker("logs", "--tail", "2", cid).stdout == "3\n4\n"
    stamped = engine.docker("logs", "-t", cid).stdout.splitlines()
    assert stamped[0].endswith(" 1") and "T" in stamped[0].split()[0]
    engine.docker("rm", cid)


def test_daemon_killed_and_restarted_keeps_containers(engine):
    running = engine.docker("run", "-d", "busybox", "sh", "-c",
                            "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
                            ).stdout.strip()
    ending = engine.docker("run", "-d", "busybox", "sh", "-c", "sleep 1; exit 7").stdout.strip()
    engine.kill(signal.SIGKILL)
    time.sleep(1.5)  # "ending" exits while the daemon is away; the log keeps growing
    engine.start()
    assert inspect(engine, running)["State"]["Running"] is True
    assert running[:12] in engine.docker("ps", "-q").stdout
    wait_for(lambda: inspect(engine, ending)["State"]["Status"] == "exited", what="exit seen")
    assert inspect(engine, ending)["State"]["ExitCode"] == 7
    lines = engine.docker("logs", running).stdout.splitlines()
    assert len(lines) >= 5
    engine.docker("rm", "-f", running, ending)


def test_daemon_killed_and_restarted_keeps_a_running_rm_container_until_it_ends(engine):
    cid = engine.docker("run", "-d", "--rm", "busybox", "sh", "-c",
                        "echo up; exec sleep 1000").stdout.strip()
    wait_for(lambda: "up" in engine.docker("logs", cid).stdout, what="log line")
    engine.kill(signal.SIGKILL)
    engine.start()
    assert inspect(engine, cid)["State"]["Running"] is True
    assert engine.docker("logs", cid).stdout == "up\n"
    assert engine.docker("exec", cid, "cat", "/etc/hostname").stdout == cid[:12] + "\n"
    engine.docker("kill", cid)
    wait_for(lambda: cid[:12] not in engine.docker("ps", "-aq").stdout, what="removal")


def test_rm_container_not_running_when_the_daemon_starts_is_removed(engine):
    # dockerd's restore does the same with a created AutoRemove container
    created = engine.docker("create", "--rm", "busybox", "true").stdout.strip()
    kept = engine.docker("create", "busybox", "true").stdout.strip()
    engine.kill(signal.SIGKILL)
    engine.start()
    listed = engine.docker("ps", "-aq", "--no-trunc").stdout.split()
    assert created not in listed and kept in listed
    assert not (engine.data / "containers" / created).exists()
    engine.docker("rm", kept)


def test_cp_into_created_rm_container_is_seen_when_it_starts(engine, tmp_path):
    # the copy mounts its rootfs, then the start mounts it again
    (tmp_path / "note").write_text("copied before start\n")
    cid = engine.docker("create", "--rm", "busybox", "cat", "/note").stdout.strip()
    engine.docker("cp", tmp_path / "note", f"{cid}:/note")
    assert engine.docker("start", "-a", cid).stdout == "copied before start\n"
    wait_for(lambda: cid[:12] not in engine.docker("ps", "-aq").stdout, what="removal")


def actions_of(engine, cid, since):
    """The event actions of container cid since time.time_ns() was since (--since takes
    whole seconds: the rest is dropped here)."""
    r = engine.docker("events", "--since", str(since // 10**9), "--until",
                      str(time.time_ns() // 10**9 + 1), "--filter", f"container={cid}",
                      "--format", "{{.TimeNano}} {{.Action}}")
    return [a for t, a in (line.split() for line in r.stdout.splitlines()) if int(t) >= since]


# A PID 1 that exits 7 on TERM (the stop) and 3 on USR1.
TRAPPING = ["sh", "-c", "trap 'exit 7' TERM; trap 'exit 3' USR1; echo up; "
            "while :; do sleep 0.1; done"]


def test_restart_keeps_a_running_rm_container(engine):
    # dockerd's restart does not auto-remove in its stop (HasBeenManuallyRestarted)
    cid = engine.docker("run", "-d", "--rm", "busybox", *TRAPPING).stdout.strip()
    wait_for(lambda: "up" in engine.docker("logs", cid).stdout, what="log line")
    since = time.time_ns()
    assert engine.docker("restart", "-t", "5", cid).stdout == cid + "\n"
    state = inspect(engine, cid)
    assert state["State"]["Status"] == "running" and state["HostConfig"]["AutoRemove"]
    assert state["State"]["ExitCode"] == 0
    assert actions_of(engine, cid, since) == ["kill", "die", "stop", "start", "restart"]
    wait_for(lambda: engine.docker("logs", cid).stdout == "up\nup\n", what="second run")
    assert engine.docker("exec", cid, "true").returncode == 0


def test_rm_container_restarted_is_removed_when_it_later_exits(engine):
    cid = engine.docker("run", "-d", "--rm", "busybox", *TRAPPING).stdout.strip()
    wait_for(lambda: "up" in engine.docker("logs", cid).stdout, what="log line")
    engine.docker("restart", "-t", "5", cid)
    wait_for(lambda: engine.docker("logs", cid).stdout == "up\nup\n", what="second run")
    since = time.time_ns()
    engine.docker("kill", "-s", "USR1", cid)
    wait_for(lambda: cid[:12] not in engine.docker("ps", "-aq").stdout, what="removal")
    assert actions_of(engine, cid, since) == ["kill", "die", "destroy"]


def test_stop_of_a_running_rm_container_removes_it_after_its_stop_event(engine):
    for _ in range(3):  # a stop once freed the record it was waiting on
        cid = engine.docker("run", "-d", "--rm", "busybox", *TRAPPING).stdout.strip()
        wait_for(lambda: "up" in engine.docker("logs", cid).stdout, what="log line")
        since = time.time_ns()
        assert engine.docker("stop", cid).stdout == cid + "\n"
        gone = engine.docker("inspect", cid, check=False)
        assert gone.returncode == 1 and "No such object" in gone.stderr
        assert actions_of(engine, cid, since) == ["kill", "die", "stop", "destroy"]


def test_wait_answers_the_exit_code_of_an_rm_container_that_exits(engine):
    # dockerd answers a wait of any condition at the removal, with the exit code
    for condition in ("not-running", "next-exit", "removed"):
        cid = engine.docker("run", "-d", "--rm", "busybox", *TRAPPING).stdout.strip()
        wait_for(lambda: "up" in engine.docker("logs", cid).stdout, what="log line")
        waiter = subprocess.Popen(
            ["curl", "-s", "--unix-socket", str(engine.sock), "-X", "POST",
             f"http://x/containers/{cid}/wait?condition={condition}"],
            text=True, stdout=subprocess.PIPE)
        time.sleep(0.3)  # the wait is registered
        engine.docker("kill", "-s", "USR1", cid)
        out, _ = waiter.communicate(timeout=30)
        assert json.loads(out) == {"StatusCode": 3, "Error": None}, condition


def test_run_rm_of_missing_command_exits_127_and_leaves_nothing(engine):
    before = engine.docker("ps", "-aq").stdout
    res = engine.docker("run", "--rm", "busybox", "nosuchcommand", check=False, timeout=30)
    assert res.returncode == 127
    assert "executable file not found" in res.stderr
    assert engine.docker("ps", "-aq").stdout == before


def test_bind_mount_of_host_directory(engine, tmp_path):
    (tmp_path / "in.txt").write_text("from the host\n")
    out = engine.docker("run", "--rm", "-v", f"{tmp_path}:/data", "busybox", "sh", "-c",
                        "cat /data/in.txt; echo back > /data/out.txt").stdout
    assert out == "from the host\n"
    assert (tmp_path / "out.txt").read_text() == "back\n"


def test_read_only_bind_refuses_writes(engine, tmp_path):
    res = engine.docker("run", "--rm", "-v", f"{tmp_path}:/data:ro", "busybox", "touch",
                        "/data/x", check=False)
    assert res.returncode != 0
    assert not (tmp_path / "x").exists()


def test_bind_of_missing_path_and_named_volume_are_refused_cleanly(engine):
    before = engine.docker("ps", "-aq").stdout
    missing = engine.docker("create", "-v", "/no/such/dir:/data", "busybox", "true",
                            check=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    named = engine.docker("create", "-v", "myvolume:/data", "busybox", "true", check=False)
    assert named.returncode != 0 and "named volumes" in named.stderr
    assert engine.docker("ps", "-aq").stdout == before


def test_mount_flag_type_bind(engine, tmp_path):
    (tmp_path / "f").write_text("mounted\n")
    out = engine.docker("run", "--rm", "--mount", f"type=bind,source={tmp_path},target=/m,readonly",
                        "busybox", "sh", "-c", "cat /m/f; touch /m/g 2>/dev/null || echo ro").stdout
    assert out == "mounted\nro\n"


def test_wait_ends_when_its_client_goes_away(engine):
    cid = engine.docker("run", "-d", "busybox", "sleep", "1000").stdout.strip()
    threads = lambda: len(os.listdir(f"/proc/{engine.proc.pid}/task"))  # noqa: E731
    idle = threads()
    waiter = subprocess.Popen([DOCKER, "wait", cid], env=engine.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: threads() > idle, what="the wait to be served")
    waiter.kill()
    waiter.wait()
    wait_for(lambda: threads() <= idle, timeout=5, what="the wait's thread to end")
    engine.docker("rm", "-f", cid)


def test_removed_containers_leave_nothing_once_the_trash_is_emptied(engine):
    # rm and --rm move a container's directories into <root>/trash in one rename; a
    # thread of skiffd deletes them there.
    cid = engine.docker("create", "busybox", "true").stdout.strip()
    engine.docker("rm", cid)
    assert not (engine.data / "containers" / cid).exists()
    before = [sorted(os.listdir(r / "containers")) for r in (engine.data, engine.exec_root)]
    engine.docker("run", "--rm", "busybox", "true")
    assert [sorted(os.listdir(r / "containers")) for r in (engine.data, engine.exec_root)] \
        == before
    for root in (engine.data, engine.exec_root):
        wait_for(lambda: os.listdir(root / "trash") == [], what=f"{root}/trash emptied")


def test_what_a_crash_left_in_the_trash_is_deleted_at_start(engine):
    engine.kill(signal.SIGKILL)
    for root in (engine.data, engine.exec_root):
        (root / "trash" / "1-left" / "sub").mkdir(parents=True)
        (root / "trash" / "1-left" / "sub" / "file").write_text("x")
    engine.start()
    for root in (engine.data, engine.exec_root):
        wait_for(lambda: os.listdir(root / "trash") == [], what=f"{root}/trash emptied")
