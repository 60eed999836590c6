"""A container in its restart policy's back-off ("restarting"), against the daemon under
test: what inspect, ps and info show of it, and what stop, kill, rm, pause, start, restart
and wait do to it, as dockerd does them. The container runs `true` with --restart always:
dockerd waits 100 ms before the first restart and doubles the wait each time after."""

import json
import re
import time

import pytest

from test_cli_support import IMAGE, cli, wait_for  # noqa: F401  (cli is a fixture)

RESTARTING = re.compile(r"Restarting \(0\) (Less than a second|\d+ seconds?) ago")


def state(cli, name):
    return json.loads(cli.ok("inspect", "-f", "{{json .State}}", name))


def restart_count(cli, name):
    return int(cli.ok("inspect", "-f", "{{.RestartCount}}", name))


def restarting(cli, at_least=3):
    """A container in its back-off after at least at_least restarts (the wait is then
    400 ms or more, time enough to look at it)."""
    name = cli.name("rs")
    cli.ok("run", "-d", "--name", name, "--network", "none", "--restart", "always", IMAGE,
           "true")
    wait_for(lambda: state(cli, name)["Status"] == "restarting" and
             restart_count(cli, name) >= at_least, what=f"{name} restarting")
    return name


def events_of(cli, name, since):
    until = f"{time.time():.9f}"
    out = cli.ok("events", "--since", since, "--until", until, "--filter", f"container={name}",
                 "--format", "{{.Action}}", timeout=30)
    return out.split()


def test_inspect_and_ps_show_the_back_off_as_restarting(cli):
    name = restarting(cli)

    def seen():
        st = state(cli, name)
        listed = cli.ok("ps", "--filter", f"name={name}", "--format", "{{.Status}}").strip()
        return (st["Status"], st["Restarting"], st["Running"], st["Pid"]) == \
            ("restarting", True, True, 0) and RESTARTING.fullmatch(listed) and st
    # Two looks a moment apart may straddle a restart: look until they agree.
    st = wait_for(seen, what="inspect and ps to agree on restarting")
    assert st["Paused"] is False and st["ExitCode"] == 0 and st["FinishedAt"] > st["StartedAt"]
    listed = cli.ok("ps", "--filter", "status=restarting", "--format", "{{.Names}} {{.State}}")
    assert f"{name} restarting" in listed.splitlines()


def test_info_counts_a_restarting_container_stopped(cli):
    name = restarting(cli)

    def counts():
        if state(cli, name)["Status"] != "restarting":
            return None
        info = cli.ok("info", "--format", "{{.ContainersRunning}}").strip()
        running = len(cli.ok("ps", "-q", "--filter", "status=running").split())
        return state(cli, name)["Status"] == "restarting" and (int(info), running)
    seen = wait_for(counts, what="a look at info while restarting")
    assert seen[0] == seen[1]


def test_stop_ends_the_back_off(cli):
    name = restarting(cli)
    since = f"{time.time():.9f}"
    assert cli.ok("stop", name) == name + "\n"
    st = state(cli, name)
    assert (st["Status"], st["Restarting"], st["Running"]) == ("exited", False, False)
    time.sleep(1)  # past the back-off: it stays stopped
    assert state(cli, name)["Status"] == "exited"
    assert events_of(cli, name, since) == ["stop"]


@pytest.mark.parametrize("signal", ["KILL", "HUP"])
def test_kill_ends_the_back_off_whatever_the_signal(cli, signal):
    name = restarting(cli)
    since = f"{time.time():.9f}"
    assert cli.ok("kill", "-s", signal, name) == name + "\n"
    time.sleep(1)
    st = state(cli, name)
    assert (st["Status"], st["Restarting"], st["Running"]) == ("exited", False, False)
    assert events_of(cli, name, since) == []


def test_rm_refuses_a_restarting_container_without_force(cli):
    name = restarting(cli)
    r = cli.skiff("rm", name)
    cid = cli.ok("inspect", "-f", "{{.Id}}", name).strip()
    assert (r.rc, r.out) == (1, "")
    assert r.err == (f"Error response from daemon: You cannot remove a restarting container "
                     f"{cid}. Stop the container before attempting removal or force remove\n")
    assert cli.ok("rm", "-f", name) == name + "\n"


def test_pause_refuses_a_restarting_container(cli):
    name = restarting(cli)
    r = cli.docker("pause", name)  # skiff has no pause command yet
    cid = cli.ok("inspect", "-f", "{{.Id}}", name).strip()
    assert (r.rc, r.out) == (1, "")
    assert r.err == (f"Error response from daemon: Container {cid} is restarting, wait until "
                     f"the container is running\n")


def test_start_leaves_the_back_off_to_the_policy(cli):
    name = restarting(cli, at_least=5)  # 1.6 s of back-off
    count = restart_count(cli, name)
    since = f"{time.time():.9f}"
    assert cli.ok("start", name) == name + "\n"  # dockerd's 304: nothing to start
    assert (state(cli, name)["Status"], restart_count(cli, name)) == ("restarting", count)
    assert events_of(cli, name, since) == []


def test_restart_starts_now_and_counts_from_zero(cli):
    name = restarting(cli, at_least=4)
    since = f"{time.time():.9f}"
    assert cli.ok("restart", "-t", "1", name) == name + "\n"
    assert restart_count(cli, name) <= 1
    assert events_of(cli, name, since)[:3] == ["stop", "start", "restart"]


def test_wait_returns_at_the_next_exit(cli):
    name = restarting(cli)
    assert cli.ok("wait", name, timeout=30) == "0\n"


def test_start_after_the_policy_gave_up_retries_again(cli):
    name = cli.name("of")
    cli.ok("run", "-d", "--name", name, "--network", "none", "--restart", "on-failure:2", IMAGE,
           "false")
    wait_for(lambda: state(cli, name)["Status"] == "exited" and restart_count(cli, name) == 2,
             what="the policy to give up")
    since = f"{time.time():.9f}"
    cli.ok("start", name)
    # dockerd's start makes a new restart manager: two retries again, from a count of 0.
    wait_for(lambda: state(cli, name)["Status"] == "exited" and
             events_of(cli, name, since).count("start") == 3, what="two more retries")
    assert restart_count(cli, name) == 2
