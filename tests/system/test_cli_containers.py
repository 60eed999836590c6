"""skiff's container commands (ps, stop, kill, restart, wait, rm, rename, logs, inspect,
container prune) against the daemon under test, compared with the docker CLI where the output
is deterministic."""

import json
import re
import time

import pytest

from test_cli_support import IMAGE, cli, wait_for  # noqa: F401  (cli is a fixture)

PS_HEADER = "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES"


def running(cli, what="r"):
    name = cli.name(what)
    cli.ok("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "60")
    return name


def exited(cli, code=0, what="x"):
    name = cli.name(what)
    r = cli.skiff("run", "--name", name, "--network", "none", IMAGE, "sh", "-c",
                  f"echo out; echo err >&2; exit {code}")
    assert r.rc == code, r
    return name


def state(cli, name):
    return json.loads(cli.ok("inspect", name))[0]["State"]


def test_ps_header_is_docker_s(cli):
    out = cli.ok("ps", "-a", "--filter", "name=^/nothing-is-named-like-this$")
    assert out == PS_HEADER + "\n"
    assert cli.docker("ps", "-a", "--filter", "name=^/nothing-is-named-like-this$").out == out


def test_ps_table_matches_docker(cli):
    a, b = running(cli), exited(cli, 3)
    args = ["ps", "-a", "--filter", f"name={cli.token}"]
    # CREATED and STATUS tick; compare twice when a second boundary got in the way.
    for _ in range(3):
        mine, theirs = cli.ok(*args), cli.docker(*args).out
        if mine == theirs:
            break
        time.sleep(0.3)
    assert mine == theirs
    assert f"Exited (3)" in mine and "Up " in mine and a in mine and b in mine


def test_ps_shows_running_only_unless_all(cli):
    a, b = running(cli), exited(cli)
    names = cli.ok("ps", "--filter", f"name={cli.token}", "--format", "{{.Names}}").split()
    assert names == [a]
    names = cli.ok("ps", "-a", "--filter", f"name={cli.token}", "--format", "{{.Names}}").split()
    assert sorted(names) == sorted([a, b])


def test_ps_format_templates_match_docker(cli):
    running(cli)
    exited(cli, 1)
    name = cli.name("l")
    cli.ok("create", "--name", name, "-l", "k=v", "-l", "a=b", "--network", "none", IMAGE,
           "sh", "-c", "echo '<x>' && true")
    base = ["ps", "-a", "--filter", f"name={cli.token}"]
    for fmt in ["{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}}",
                "{{.Names}}\t{{.Labels}}\t{{.Label \"k\"}}",
                "table {{.Names}}\t{{.State}}\t{{upper .Image}}",
                "{{json .Names}} {{.Mounts}} {{.Networks}} {{.LocalVolumes}} {{.Ports}}",
                "{{if eq .State \"running\"}}up{{else}}down{{end}} {{.Names}}",
                "{{.Size}}"]:
        assert cli.ok(*base, "--format", fmt) == cli.docker(*base, "--format", fmt).out, fmt
    for flag in ["-q", "--no-trunc", "-n2", "-l", "-s"]:
        mine = cli.ok(*base, flag, "--format", "{{.ID}} {{.Command}}")
        assert mine == cli.docker(*base, flag, "--format", "{{.ID}} {{.Command}}").out, flag


def test_ps_json_format_matches_docker(cli):
    exited(cli)
    base = ["ps", "-a", "--filter", f"name={cli.token}", "--format", "json"]
    mine = json.loads(cli.ok(*base))
    theirs = json.loads(cli.docker(*base).out)
    for row in (mine, theirs):
        row.pop("RunningFor")
        row.pop("Status")
    assert mine == theirs


def test_ps_quiet_lists_full_ids_with_no_trunc(cli):
    name = running(cli)
    cid = json.loads(cli.ok("inspect", name))[0]["Id"]
    assert cli.ok("ps", "-q", "--filter", f"name={name}") == cid[:12] + "\n"
    assert cli.ok("ps", "-q", "--no-trunc", "--filter", f"name={name}") == cid + "\n"


def test_container_ls_is_ps(cli):
    assert cli.ok("container", "ls", "-a", "--filter", "name=^/nothing$") == PS_HEADER + "\n"
    assert cli.ok("container", "list", "-q", "--filter", "name=^/nothing$") == ""


def test_stop_prints_the_name_and_stops(cli):
    name = running(cli)
    assert cli.ok("stop", "-t", "1", name) == name + "\n"
    st = state(cli, name)
    assert st["Running"] is False and st["ExitCode"] == 137


def api_version(cli):
    v = cli.ok("version", "--format", "{{.Server.ApiVersion}}").strip()
    return tuple(int(x) for x in v.split("."))


def test_stop_with_signal(cli):
    if api_version(cli) < (1, 42):
        pytest.skip("stop --signal needs API 1.42; the daemon speaks less")
    name = cli.name()
    cli.ok("run", "-d", "--name", name, "--network", "none", IMAGE, "sh", "-c",
           "trap 'exit 9' USR1; while true; do sleep 0.1; done")
    assert cli.ok("stop", "-s", "USR1", "-t", "10", name) == name + "\n"
    assert state(cli, name)["ExitCode"] == 9


def test_kill_sends_the_signal(cli):
    name = running(cli)
    assert cli.ok("kill", "-s", "KILL", name) == name + "\n"
    wait_for(lambda: not state(cli, name)["Running"], what="container to die")
    assert state(cli, name)["ExitCode"] == 137


def test_restart_starts_again(cli):
    name = running(cli)
    started = state(cli, name)["StartedAt"]
    assert cli.ok("restart", "-t", "0", name) == name + "\n"
    st = state(cli, name)
    assert st["Running"] is True and st["StartedAt"] != started


def test_wait_prints_exit_codes(cli):
    a = cli.name()
    cli.ok("run", "-d", "--name", a, "--network", "none", IMAGE, "sh", "-c", "sleep 0.3; exit 7")
    b = exited(cli, 2)
    assert cli.ok("wait", a, b) == "7\n2\n"


def test_wait_on_a_missing_container_fails(cli):
    r = cli.skiff("wait", "skiff-missing-container")
    assert r.rc == 1
    assert r.err == "Error response from daemon: No such container: skiff-missing-container\n"


def test_rm_removes_and_force_kills_running(cli):
    a, b = exited(cli), running(cli)
    r = cli.skiff("rm", a, b)
    assert r.rc == 1 and r.out == a + "\n", r
    assert "cannot remove" in r.err.lower() or "stop the container" in r.err.lower()
    assert cli.ok("rm", "-f", b) == b + "\n"
    assert cli.ok("ps", "-a", "-q", "--filter", f"name={cli.token}") == ""


def test_rm_of_a_missing_container_matches_docker(cli):
    mine = cli.skiff("rm", "skiff-missing-container")
    theirs = cli.docker("rm", "skiff-missing-container")
    assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err)
    assert cli.skiff("rm", "-f", "skiff-missing-container").rc == 0


def test_rename_changes_the_name(cli):
    old = exited(cli)
    new = cli.name("renamed")
    r = cli.skiff("rename", old, new)
    assert r.rc == 0 and r.out == "", r
    assert json.loads(cli.ok("inspect", new))[0]["Name"] == "/" + new


def test_logs_keeps_stdout_and_stderr_apart(cli):
    name = exited(cli)
    r = cli.skiff("logs", name)
    assert (r.rc, r.out, r.err) == (0, "out\n", "err\n")


def test_logs_tail_and_timestamps(cli):
    name = cli.name()
    cli.ok("run", "--name", name, "--network", "none", IMAGE, "sh", "-c",
           "for i in 1 2 3 4 5; do echo line$i; done")
    assert cli.ok("logs", "--tail", "2", name) == "line4\nline5\n"
    assert cli.ok("logs", "-n", "1", name) == "line5\n"
    stamped = cli.ok("logs", "-t", "--tail", "1", name)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line5\n", stamped), stamped
    assert cli.ok("logs", "--since", "1h", name).count("line") == 5
    assert cli.ok("logs", "--until", "2000-01-01T00:00:00Z", name) == ""


def test_logs_follow_streams_until_the_container_exits(cli):
    name = cli.name()
    cli.ok("run", "-d", "--name", name, "--network", "none", IMAGE, "sh", "-c",
           "echo a; sleep 1; echo b")
    r = cli.skiff("logs", "-f", name, timeout=30)
    assert r.rc == 0 and r.out == "a\nb\n", r


def test_inspect_output_is_docker_s_byte_for_byte(cli):
    a, b = exited(cli), running(cli)
    mine, theirs = cli.skiff("inspect", a, b), cli.docker("inspect", a, b)
    assert mine.rc == 0 and mine.out == theirs.out


def test_inspect_format_matches_docker(cli):
    name = cli.name()
    cli.ok("create", "--name", name, "-e", "A=1", "-l", "k=v", "--network", "none", IMAGE,
           "sh", "-c", "true")
    for fmt in ["{{.Name}} {{.State.Status}} {{.Config.Image}}", "{{json .Config.Cmd}}",
                "{{.Config.Cmd}} {{.Config.Env}} {{.Config.Labels}}",
                "{{index .Config.Labels \"k\"}}", "{{range .Config.Env}}[{{.}}]{{end}}",
                "{{.Config.Entrypoint}} {{.HostConfig.Binds}} {{.State.Health}}",
                "{{.HostConfig.NetworkMode}} {{len .Config.Cmd}}", "{{json .Config.Labels}}"]:
        assert cli.ok("inspect", "-f", fmt, name) == cli.docker("inspect", "-f", fmt, name).out, fmt


def test_inspect_of_a_missing_object_prints_an_empty_list(cli):
    r = cli.skiff("inspect", "skiff-missing-object")
    assert (r.rc, r.out, r.err) == (1, "[]\n", "Error: No such object: skiff-missing-object\n")
    r = cli.skiff("container", "inspect", "skiff-missing-object")
    assert r.rc == 1 and "No such container: skiff-missing-object" in r.err


def test_container_prune_removes_stopped_containers(cli):
    a, b = exited(cli), running(cli)
    label = f"skiff-test={cli.token}"
    cli.ok("rm", a)
    c = cli.name()
    cli.ok("create", "--name", c, "-l", label, "--network", "none", IMAGE, "true")
    out = cli.ok("container", "prune", "-f", "--filter", f"label={label}")
    cid = out.splitlines()[1]
    assert out.startswith("Deleted Containers:\n") and out.endswith("Total reclaimed space: 0B\n")
    assert len(cid) == 64
    assert cli.skiff("inspect", c).rc == 1
    assert state(cli, b)["Running"] is True
