"""skiff's system commands (version, info, system df, events), daemon selection and error
reporting, against the daemon under test."""

import json
import os
import time
from datetime import datetime, timezone

import pytest

from test_cli_support import IMAGE, SKIFF, cli  # noqa: F401  (cli is a fixture)


def test_version_shows_client_and_server_sections(cli):
    out = cli.ok("version")
    assert out.startswith("Client:\n Version:           0.1.0\n API version:       ")
    assert "\nServer:" in out and "\n Engine:\n  Version:" in out


def test_version_format_matches_docker_for_the_server(cli):
    for fmt in ["{{.Server.Version}}", "{{.Server.Os}}/{{.Server.Arch}} {{.Server.KernelVersion}}",
                "{{range .Server.Components}}{{.Name}};{{end}}"]:
        assert cli.ok("version", "--format", fmt) == cli.docker("version", "--format", fmt).out, fmt
    data = json.loads(cli.ok("version", "--format", "json"))
    assert data["Client"]["Version"] == "0.1.0" and data["Server"]["Version"]


def test_version_negotiates_down_to_the_daemon(cli):
    server = cli.ok("version", "--format", "{{.Server.ApiVersion}}").strip()
    client = cli.ok("version", "--format", "{{.Client.APIVersion}}").strip()
    ours = cli.ok("version", "--format", "{{.Client.DefaultAPIVersion}}").strip()
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(client) == min(as_tuple(server), as_tuple(ours))


def test_info_counts_match_docker(cli):
    fmt = "{{.Containers}} {{.Images}} {{.ServerVersion}} {{.OSType}} {{.NCPU}} {{json .Driver}}"
    assert cli.ok("info", "--format", fmt) == cli.docker("info", "--format", fmt).out
    out = cli.ok("info")
    assert out.startswith("Client:\n Version:    0.1.0\n Context:    default\n")
    assert "\nServer:\n Containers: " in out and "\n Server Version: " in out


def test_system_df_matches_docker(cli):
    assert cli.ok("system", "df") == cli.docker("system", "df").out
    fmt = "{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}"
    assert cli.ok("system", "df", "--format", fmt) == cli.docker("system", "df", "--format", fmt).out


def test_events_show_what_happened_between_since_and_until(cli):
    since = str(int(time.time()) - 1)
    name = cli.name()
    cli.ok("create", "--name", name, "--network", "none", IMAGE, "true")
    cli.ok("rm", name)
    until = str(int(time.time()) + 1)
    args = ["events", "--since", since, "--until", until, "--filter", f"container={name}"]
    out = cli.skiff(*args, timeout=30)
    assert out.rc == 0, out
    actions = [line.split()[2] for line in out.out.splitlines()]
    assert actions == ["create", "destroy"], out.out
    assert f"name={name}" in out.out.splitlines()[0]
    assert out.out == cli.docker(*args, timeout=30).out
    fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"
    assert cli.ok(*args, "--format", fmt) == f"container create {name}\ncontainer destroy {name}\n"
    rows = [json.loads(line) for line in cli.ok(*args, "--format", "json").splitlines()]
    assert [r["Action"] for r in rows] == ["create", "destroy"]


def test_events_until_a_moment_ahead_ends_the_stream_then(cli):
    # dockerd ends the stream on a timer set to until, to the nanosecond.
    until = f"{time.time() + 0.3:.9f}"
    start = time.monotonic()
    r = cli.skiff("events", "--until", until, timeout=30)
    took = time.monotonic() - start
    assert (r.rc, r.err) == (0, ""), r
    assert 0.25 <= took < 0.9, took


def test_events_since_and_until_take_fractions_of_a_second(cli):
    name = cli.name()
    start = time.time()
    cli.ok("create", "--name", name, "--network", "none", IMAGE, "true")
    time.sleep(0.2)
    middle = time.time()
    time.sleep(0.2)
    cli.ok("rm", name)
    end = time.time()
    show = ["--filter", f"container={name}", "--format", "{{.Action}}"]
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).isoformat()  # noqa: E731
    windows = [(["--since", f"{start:.9f}", "--until", f"{middle:.9f}"], "create\n"),
               (["--since", f"{middle:.6f}", "--until", f"{end + 0.001:.3f}"], "destroy\n"),
               # RFC 3339 with a fraction: the CLIs send it as SECONDS.NANOS.
               (["--since", iso(start), "--until", iso(end)], "create\ndestroy\n")]
    for window, want in windows:
        args = ["events", *window, *show]
        assert cli.ok(*args, timeout=30) == want, window
        assert cli.docker(*args, timeout=30).out == want, window


@pytest.mark.parametrize("since,until", [("1700000002", "1700000001"),
                                         ("1700000001.5", "1700000001.25"),
                                         ("1e9", "1700000001"), ("1700000000.", "2"),
                                         (".5", "2"), ("0x10", "2")])
def test_events_refuse_what_docker_refuses(cli, since, until):
    args = ["events", "--since", since, "--until", until]
    mine, theirs = cli.skiff(*args, timeout=30), cli.docker(*args, timeout=30)
    assert (mine.rc, mine.out) == (theirs.rc, theirs.out) == (1, "")
    assert mine.err == theirs.err, args


def events_between(cli, since, until, *flags):
    """(Type, Action, Actor.ID, Attributes) of each event between since and until."""
    fmt = "{{json .Type}} {{json .Action}} {{json .Actor.ID}} {{json .Actor.Attributes}}"
    out = cli.ok("events", "--since", since, "--until", until, "--format", fmt, *flags,
                 timeout=30)
    return [tuple(json.loads(part) for part in line.split(" ", 3))
            for line in out.splitlines()]


def run_for_events(cli, *args):
    """Run a container; the events of that run (both types), and its id."""
    name = cli.name()
    since = f"{time.time():.9f}"
    r = cli.skiff("run", "--name", name, *args)
    until = f"{time.time():.9f}"
    got = events_between(cli, since, until)
    cid = next((e[2] for e in got if e[0] == "container" and e[3].get("name") == name), None)
    return r, got, cid


@pytest.mark.parametrize("mode,network,driver", [
    (["--network", "none"], "none", "null"), (["--network", "host"], "host", "host"),
    (["--network", "bridge"], "bridge", "bridge"), ([], "bridge", "bridge")],
    ids=["none", "host", "bridge", "default"])
def test_events_tell_the_network_a_container_joins_and_leaves(cli, mode, network, driver):
    listed = cli.docker("network", "ls", "--format", "{{.Name}}")
    if listed.rc == 0 and network not in listed.out.split():
        # dockerd --bridge none (test_cli_support's) runs these with no network at all.
        pytest.skip(f"the daemon has no {network} network")
    r, got, cid = run_for_events(cli, "--rm", *mode, IMAGE, "true")
    assert r.rc == 0, r
    mine = [(e[1], e[3]) for e in got if e[0] == "network" and e[3].get("container") == cid]
    attrs = {"container": cid, "name": network, "type": driver}
    assert mine == [("connect", attrs), ("disconnect", attrs)], got
    ids = {e[2] for e in got if e[0] == "network" and e[3].get("container") == cid}
    assert len(ids) == 1 and len(ids.pop()) == 64
    # Connected before the start, disconnected beside the die (dockerd 20.10 tells
    # it after the die; moby 25 and later, after the cleanup that comes first).
    order = [e[1] for e in got if e[2] == cid or e[3].get("container") == cid]
    assert order.index("connect") < order.index("start") < order.index("disconnect")
    assert abs(order.index("disconnect") - order.index("die")) == 1, order
    assert order[-1] == "destroy", order


def test_events_tell_a_failed_start_connected_and_disconnected(cli):
    r, got, cid = run_for_events(cli, "--network", "none", IMAGE, "/nonexistent")
    assert r.rc == 127, r
    order = [e[1] for e in got if e[2] == cid or e[3].get("container") == cid]
    assert order == ["create", "attach", "connect", "disconnect"], got


def test_events_filter_network_selects_by_the_networks_name(cli):
    r, got, cid = run_for_events(cli, "--rm", "--network", "none", IMAGE, "true")
    assert r.rc == 0, r
    since, until = f"{time.time() - 30:.9f}", f"{time.time():.9f}"
    for flags in (["--filter", "network=none"], ["--filter", "type=network"]):
        picked = events_between(cli, since, until, *flags)
        assert [e[1] for e in picked if e[3].get("container") == cid] == \
            ["connect", "disconnect"], flags
        args = ["events", "--since", since, "--until", until, *flags]
        assert cli.ok(*args, timeout=30) == cli.docker(*args, timeout=30).out


def test_host_flag_and_environment_select_the_daemon(cli):
    env = {k: v for k, v in cli.env.items() if k not in ("SKIFF_HOST", "DOCKER_HOST")}
    host = f"unix://{cli.sock}"
    r = cli.skiff("-H", host, "version", "--format", "{{.Server.Version}}", env=env)
    assert r.rc == 0 and r.out.strip(), r
    r = cli.skiff("--host", host, "ps", "-q", env=env)
    assert r.rc == 0, r
    r = cli.skiff("version", "--format", "{{.Server.Version}}", env=dict(env, DOCKER_HOST=host))
    assert r.rc == 0 and r.out.strip(), r
    # SKIFF_HOST wins over DOCKER_HOST, and -H over both.
    r = cli.skiff("ps", "-q", env=dict(env, SKIFF_HOST=host, DOCKER_HOST="unix:///nonexistent"))
    assert r.rc == 0, r
    r = cli.skiff("-H", "unix:///nonexistent.sock", "ps", env=dict(env, SKIFF_HOST=host))
    assert r.rc == 1, r


def test_an_absent_daemon_is_one_clear_line(cli, tmp_path):
    env = dict(cli.env, SKIFF_HOST=f"unix://{tmp_path}/none.sock")
    r = cli.skiff("ps", env=env)
    assert (r.rc, r.out) == (1, "")
    assert r.err == f"Cannot connect to the skiff daemon at unix://{tmp_path}/none.sock. " \
                    "Is the daemon running?\n"
    r = cli.skiff("run", "--rm", IMAGE, "true", env=env)
    assert r.rc == 125 and "Cannot connect" in r.err


def test_a_bad_host_is_rejected(cli):
    r = cli.skiff("-H", "ssh://somewhere", "ps")
    assert r.rc == 1 and "Invalid bind address format: ssh://somewhere" in r.err


def test_help_and_usage_errors(cli):
    r = cli.skiff("ps", "--help")
    assert r.rc == 0 and "Usage:  skiff ps [OPTIONS]" in r.out and "--no-trunc" in r.out
    r = cli.skiff("ps", "--bogus")
    assert r.rc == 125 and r.err == ("unknown flag: --bogus\n\nUsage:  skiff ps [OPTIONS]\n\n"
                                     "Run 'skiff ps --help' for more information\n")
    r = cli.skiff("rm")
    assert r.rc == 1 and r.err.startswith("skiff: 'skiff rm' requires at least 1 argument\n")
    r = cli.skiff("frobnicate")
    assert r.rc == 1 and r.err == ("skiff: unknown command: skiff frobnicate\n\n"
                                   "Run 'skiff --help' for more information\n")
    r = cli.skiff("--help")
    assert r.rc == 0 and "Management Commands:" in r.out
    r = cli.skiff("--version")
    assert r.rc == 0 and r.out == "skiff version 0.1.0\n"


def test_every_command_has_help(cli):
    commands = ["attach", "create", "events", "exec", "images", "import", "info", "inspect",
                "kill", "load", "logs", "ps", "pull", "rename", "restart", "rm", "rmi", "run",
                "save", "start", "stop", "tag", "version", "wait", "container prune",
                "image prune", "system df", "system prune", "container ls", "image ls"]
    for c in commands:
        r = cli.skiff(*c.split(), "--help")
        assert r.rc == 0 and f"Usage:  skiff {c}" in r.out, c


def test_system_prune_removes_stopped_containers_and_dangling_images(cli):
    if os.environ.get("SKIFF_DAEMON_SOCKET"):
        pytest.skip("system prune would remove other users' objects from a shared daemon")
    name = cli.name()
    cli.ok("create", "--name", name, "--network", "none", IMAGE, "true")
    out = cli.ok("system", "prune", "-f")
    assert out.startswith("Deleted Containers:\n") and out.endswith("\n")
    assert "Total reclaimed space: " in out.splitlines()[-1]
    assert cli.skiff("inspect", "--type", "container", name).rc == 1
    assert cli.ok("images", "-q", IMAGE) != ""


def test_system_prune_asks_before_removing(cli):
    name = cli.name()
    cli.ok("create", "--name", name, "--network", "none", IMAGE, "true")
    r = cli.skiff("system", "prune", input="n\n")
    assert r.rc == 0 and "Are you sure you want to continue? [y/N]" in r.err
    assert cli.skiff("inspect", "--type", "container", name).rc == 0
