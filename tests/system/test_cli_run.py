"""skiff run / create / start -a / exec against the daemon under test (see test_cli_support)."""

import json
import signal
import time

from test_cli_support import IMAGE, cli, wait_for  # noqa: F401  (cli is a fixture)


def inspect(cli, name):
    return json.loads(cli.ok("inspect", name))[0]


def test_run_rm_prints_output_and_exits_with_the_container_status(cli):
    r = cli.skiff("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "echo hi; exit 3")
    assert r.rc == 3, r
    assert r.out == "hi\n"


def test_run_rm_removes_the_container(cli):
    name = cli.name()
    r = cli.skiff("run", "--rm", "--name", name, "--network", "none", IMAGE, "true")
    assert r.rc == 0, r
    gone = cli.skiff("inspect", "--type", "container", name)
    assert gone.rc == 1 and "No such container" in gone.err


def test_run_demultiplexes_stdout_and_stderr(cli):
    r = cli.skiff("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                  "echo out; echo err >&2; echo out2")
    assert r.rc == 0, r
    assert r.out == "out\nout2\n"
    assert r.err == "err\n"


def test_run_interactive_pipes_stdin_and_closes_it(cli):
    data = "".join(f"line {i}\n" for i in range(2000))
    r = cli.skiff("run", "--rm", "-i", "--network", "none", IMAGE, "sh", "-c", "cat; echo done",
                  input=data)
    assert r.rc == 0, r
    assert r.out == data + "done\n"


def test_run_missing_command_exits_127(cli):
    r = cli.skiff("run", "--rm", "--network", "none", IMAGE, "no-such-command")
    assert r.rc == 127, r
    lines = r.err.splitlines()
    assert lines[0].startswith("skiff: Error response from daemon: ")
    assert lines[1:] == ["", "Run 'skiff run --help' for more information"]  # as docker 28


def test_run_command_that_cannot_execute_exits_126(cli):
    r = cli.skiff("run", "--rm", "--network", "none", IMAGE, "/etc/passwd")
    assert r.rc == 126, r


def test_run_missing_image_exits_125(cli):
    r = cli.skiff("run", "--rm", "--network", "none", "skiff-no-such-image:never")
    assert r.rc == 125, r
    assert "Unable to find image 'skiff-no-such-image:never' locally" in r.err


def test_run_detached_prints_the_id(cli):
    name = cli.name()
    r = cli.skiff("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "30")
    assert r.rc == 0, r
    cid = r.out.strip()
    assert len(cid) == 64
    assert inspect(cli, name)["Id"] == cid
    assert inspect(cli, name)["State"]["Running"] is True


def test_run_applies_env_workdir_user_and_hostname(cli):
    r = cli.skiff("run", "--rm", "--network", "none", "-e", "A=1", "--env", "B=two words",
                  "-w", "/tmp", "-u", "65534", "-h", "box", IMAGE, "sh", "-c",
                  'echo "$A|$B|$PWD|$(id -u)|$(hostname)"')
    assert r.rc == 0, r
    assert r.out == "1|two words|/tmp|65534|box\n"


def test_run_env_takes_unset_values_from_the_client(cli):
    env = dict(cli.env, SKIFF_TEST_VALUE="from-client")
    r = cli.skiff("run", "--rm", "--network", "none", "-e", "SKIFF_TEST_VALUE", IMAGE, "sh", "-c",
                  'echo "$SKIFF_TEST_VALUE"', env=env)
    assert r.out == "from-client\n", r


def test_run_env_file_is_read_like_docker(cli, tmp_path):
    f = tmp_path / "env"
    f.write_text("# comment\n\nFIRST=1\n  SECOND=with spaces \nEMPTY=\n")
    r = cli.skiff("run", "--rm", "--network", "none", "--env-file", str(f), "-e", "FIRST=override",
                  IMAGE, "sh", "-c", 'echo "$FIRST|$SECOND|${EMPTY-unset}"')
    assert r.out == "override|with spaces |\n", r


def test_run_entrypoint_replaces_the_image_entrypoint(cli):
    r = cli.skiff("run", "--rm", "--network", "none", "--entrypoint", "echo", IMAGE, "a", "b")
    assert r.rc == 0 and r.out == "a b\n", r


def test_run_records_labels_init_restart_and_stop_settings(cli):
    name = cli.name()
    cli.ok("create", "--name", name, "--network", "none", "-l", "a=b", "--label", "flag",
           "--init", "--restart", "on-failure:3", "--stop-signal", "SIGUSR1",
           "--stop-timeout", "7", "--log-opt", "max-size=1m", "--log-driver", "json-file",
           IMAGE, "true")
    c = inspect(cli, name)
    assert c["Config"]["Labels"] == {"a": "b", "flag": ""}
    assert c["HostConfig"]["Init"] is True
    assert c["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert c["Config"]["StopSignal"] == "SIGUSR1"
    assert c["Config"]["StopTimeout"] == 7
    assert c["HostConfig"]["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert c["HostConfig"]["NetworkMode"] == "none"


def test_run_refuses_restart_with_rm(cli):
    r = cli.skiff("run", "--rm", "--restart", "always", IMAGE, "true")
    assert r.rc == 125, r
    assert r.err == ("skiff: conflicting options: cannot specify both --restart and --rm\n\n"
                     "Run 'skiff run --help' for more information\n")


def test_run_unknown_flag_is_a_usage_error(cli):
    r = cli.skiff("run", "--no-such-flag", IMAGE, "true")
    assert r.rc == 125, r
    assert "unknown flag: --no-such-flag" in r.err


def test_run_forwards_signals_to_the_container(cli):
    name = cli.name()
    p = cli.popen("run", "--rm", "--name", name, "--network", "none", IMAGE, "sh", "-c",
                  "trap 'echo got; exit 42' TERM; echo ready; while true; do sleep 0.1; done")
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 42, err
    assert out == "got\n"


def test_create_then_start_attach_returns_the_exit_status(cli):
    name = cli.name()
    cid = cli.ok("create", "--name", name, "--network", "none", IMAGE, "sh", "-c",
                 "echo started; exit 5").strip()
    assert len(cid) == 64
    assert inspect(cli, name)["State"]["Status"] == "created"
    r = cli.skiff("start", "-a", name)
    assert r.rc == 5, r
    assert r.out == "started\n"


def test_exec_runs_in_a_running_container(cli):
    name = cli.name()
    cli.ok("run", "-d", "--name", name, "--network", "none", IMAGE, "sleep", "30")
    r = cli.skiff("exec", name, "sh", "-c", "echo in; echo err >&2; exit 4")
    assert r.rc == 4, r
    assert r.out == "in\n" and r.err == "err\n"
    r = cli.skiff("exec", "-i", name, "cat", input="piped\n")
    assert r.out == "piped\n", r
