"""Each command of issue 3, run once with the docker CLI and once with skiff on the daemon
under test, on twin objects (the same steps on containers and images named for each CLI):
the exit status, what each prints (names and ids made neutral) and what it leaves behind
(inspect fields) must be the same. Complements test_cli_containers/images/run/system,
which compare the listings."""

import io
import json
import re
import shutil
import subprocess
import tarfile
import time

import pytest

from test_cli_support import IMAGE, SKIFF, cli, wait_for, without_age  # noqa: F401  (cli is a fixture)

ID = re.compile(r"\b(sha256:)?[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")
STAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
# What inspect shows of the settings the run flags make. StopSignal and StopTimeout are
# asked with "with": docker's CLI runs templates on its Go types (an absent StopSignal is
# "", a nil StopTimeout "<nil>"); skiff's on the JSON, where an absent key is "<no value>".
SETTINGS = ("{{json .Config.Env}} {{.Config.WorkingDir}} {{.Config.User}} "
            "{{json .Config.Labels}} {{with .Config.StopSignal}}{{.}}{{end}} "
            "{{with .Config.StopTimeout}}{{.}}{{end}} "
            "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .HostConfig.RestartPolicy}} "
            "{{.HostConfig.Init}} {{json .HostConfig.LogConfig.Config}} {{.HostConfig.AutoRemove}} "
            "{{.State.Status}} {{.State.ExitCode}} {{.Path}} {{json .Args}}")


class Twins:
    """The same command for both CLIs: "{n}" is a name of each CLI's own."""

    def __init__(self, cli):
        self.cli = cli
        self.names = {"skiff": cli.name("s"), "docker": cli.name("d")}
        cli.names += [n + "x" for n in self.names.values()]  # renamed ones, removed too

    def args(self, tool, args):
        return [a.replace("{n}", self.names[tool]) for a in args]

    def run(self, *args, input=None, timeout=60):
        mine = self.cli.skiff(*self.args("skiff", args), input=input, timeout=timeout)
        theirs = self.cli.docker(*self.args("docker", args), input=input, timeout=timeout)
        return self.neutral("skiff", mine), self.neutral("docker", theirs)

    def neutral(self, tool, r):
        def clean(text):
            text = text.replace(self.names[tool], "{n}")
            text = STAMP.sub("<time>", text)
            return ID.sub("<id>", re.sub(r"\bdocker\b", "skiff", text))
        return (r.rc, clean(r.out), clean(r.err))

    def same(self, *args, input=None, timeout=60):
        mine, theirs = self.run(*args, input=input, timeout=timeout)
        assert mine == theirs, args
        return mine


@pytest.fixture
def twins(cli):
    return Twins(cli)


RUNS = {
    "foreground": ["sh", "-c", "echo out; echo err >&2; exit 3"],
    "detached": ["-d", IMAGE, "true"],
    "env": ["-e", "A=1", "-e", "B", "--env-file", "{envfile}", IMAGE, "sh", "-c",
            "echo $A $B $C"],
    "workdir": ["-w", "/tmp", IMAGE, "pwd"],
    "user": ["-u", "1000:1000", IMAGE, "id"],
    "init": ["--init", IMAGE, "true"],
    "restart": ["-d", "--restart", "on-failure:2", IMAGE, "true"],
    "entrypoint": ["--entrypoint", "echo", IMAGE, "hi", "there"],
    "entrypoint reset": ["--entrypoint", "", IMAGE, "echo", "reset"],
    "labels": ["--label", "a=b", "-l", "c", IMAGE, "true"],
    "hostname": ["--hostname", "h1", IMAGE, "hostname"],
    "stop settings": ["--stop-signal", "SIGUSR1", "--stop-timeout", "7", IMAGE, "true"],
    "log options": ["--log-opt", "max-size=1m", "--log-opt", "max-file=2", IMAGE, "true"],
}


@pytest.mark.parametrize("what", list(RUNS))
def test_run_flags_act_like_dockers(twins, tmp_path, what):
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nC=from-file\n\nB\n")
    flags = [a.replace("{envfile}", str(envfile)) for a in RUNS[what]]
    if flags[0] == "sh":
        flags = [IMAGE] + flags
    # B comes from the CLIs' environment, through the file and -e alike.
    twins.cli.env["B"] = "from-env"
    twins.same("run", "--name", "{n}", "--network", "none", *flags)
    if "-d" in flags:
        wait_for(lambda: all(r[1] == "exited\n" for r in
                             twins.run("inspect", "-f", "{{.State.Status}}", "{n}")),
                 what="the detached containers to exit")
    if what != "env":
        twins.same("inspect", "-f", SETTINGS, "{n}")
        return
    # The docker CLI itself sends the file's and -e's entries in a varying order
    # (seen through a logging proxy: C,B,A,B in most runs, C,B,B,A in some), so
    # Env is compared as a multiset and the rest as it is.
    twins.same("inspect", "-f", SETTINGS.split(" ", 1)[1], "{n}")
    mine, theirs = twins.run("inspect", "-f", "{{json .Config.Env}}", "{n}")
    assert mine[0] == theirs[0] == 0
    assert sorted(json.loads(mine[1])) == sorted(json.loads(theirs[1]))


def test_run_rm_leaves_nothing(twins):
    twins.same("run", "--rm", "--name", "{n}", "--network", "none", IMAGE, "echo", "gone")
    twins.same("inspect", "--type", "container", "{n}")


def test_create_then_start_attach(twins):
    twins.same("create", "--name", "{n}", "--network", "none", IMAGE, "sh", "-c",
               "echo hi; echo oops >&2; exit 4")
    twins.same("inspect", "-f", SETTINGS, "{n}")
    twins.same("start", "-a", "{n}")
    twins.same("start", "{n}", "nosuch-container-xyz")


@pytest.mark.parametrize("code", [0, 4])
def test_start_attach_of_an_rm_container(twins, code):
    # docker's start -a waits for the removal of an AutoRemove container, as its run
    twins.same("create", "--rm", "--name", "{n}", "--network", "none", IMAGE, "sh", "-c",
               f"echo hi; echo oops >&2; exit {code}")
    assert twins.same("start", "-a", "{n}") == (code, "hi\n", "oops\n")
    twins.same("inspect", "--type", "container", "{n}")


def test_start_attach_interactive_of_an_rm_container(twins):
    twins.same("create", "--rm", "-i", "--name", "{n}", "--network", "none", IMAGE, "sh",
               "-c", "cat; exit 5")
    assert twins.same("start", "-a", "-i", "{n}", input="piped\n") == (5, "piped\n", "")
    twins.same("inspect", "--type", "container", "{n}")


def test_start_attach_of_an_rm_container_that_cannot_start(twins):
    twins.same("create", "--rm", "--name", "{n}", "--network", "none", IMAGE, "nosuchcmd")
    assert twins.same("start", "-a", "{n}")[0] != 0
    twins.same("inspect", "--type", "container", "{n}")


# A PID 1 that says it is up, and exits 7 on TERM (a stop) and 3 on USR1.
TRAPPING = ["sh", "-c", "trap 'exit 7' TERM; trap 'exit 3' USR1; echo up; "
            "while :; do sleep 0.1; done"]


def test_start_attach_of_an_rm_container_outlasts_a_restart(twins, cli):
    # The restart keeps the container: the wait for its removal goes on (the attach
    # ends with the first run), and ends with the exit after.
    twins.same("create", "--rm", "--name", "{n}", "--network", "none", IMAGE, *TRAPPING)
    seen = {}
    for tool in ("skiff", "docker"):
        name = twins.names[tool]
        run = getattr(cli, tool)
        binary = SKIFF if tool == "skiff" else shutil.which("docker")
        attached = subprocess.Popen([binary, "start", "-a", name], env=cli.env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: run("logs", name).out == "up\n", what=f"{tool}'s container")
        assert run("restart", "-t", "5", name).rc == 0
        wait_for(lambda: run("logs", name).out == "up\nup\n", what="its second run")
        time.sleep(0.5)
        assert attached.poll() is None, f"{tool} start -a ended at the restart"
        assert run("kill", "-s", "USR1", name).rc == 0
        out, err = attached.communicate(timeout=30)
        seen[tool] = (attached.returncode, out, err)
    assert seen["skiff"] == seen["docker"] == (3, "up\n", "")
    twins.same("inspect", "--type", "container", "{n}")


def test_restart_of_a_running_rm_container(twins):
    twins.same("run", "-d", "--rm", "--name", "{n}", "--network", "none", IMAGE, *TRAPPING)
    wait_for(lambda: all(r[1] == "up\n" for r in twins.run("logs", "{n}")),
             what="the containers to be up")
    twins.same("restart", "-t", "5", "{n}")
    assert twins.same("inspect", "-f", "{{.State.Status}} {{.HostConfig.AutoRemove}}",
                      "{n}") == (0, "running true\n", "")
    twins.same("stop", "-t", "5", "{n}")
    twins.same("inspect", "--type", "container", "{n}")


def test_lifecycle_commands(twins):
    # PID 1 of a container only gets the signals it handles: this one exits 3 on USR1.
    twins.same("run", "-d", "--name", "{n}", "--network", "none", IMAGE, "sh", "-c",
               "trap 'exit 3' USR1; while :; do sleep 0.1; done")
    twins.same("kill", "-s", "USR1", "{n}")
    twins.same("wait", "{n}")
    twins.same("restart", "-t", "1", "{n}")
    twins.same("inspect", "-f", "{{.State.Status}}", "{n}")
    twins.same("stop", "-t", "1", "{n}")
    twins.same("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "{n}")
    twins.same("stop", "{n}")
    twins.same("kill", "{n}")
    twins.same("rename", "{n}", "{n}x")
    twins.same("rename", "{n}x", "{n}x")
    twins.same("start", "{n}x")
    twins.same("rm", "{n}x")
    twins.same("rm", "-f", "{n}x")
    twins.same("rm", "{n}x")


def test_pause_and_unpause(twins):
    twins.same("create", "--name", "{n}", "--network", "none", IMAGE, "sleep", "60")
    twins.same("pause", "{n}")  # not running
    twins.same("start", "{n}")
    twins.same("pause", "{n}", "nosuch-container")
    twins.same("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "{n}")
    twins.same("pause", "{n}")  # already paused
    twins.same("container", "unpause", "{n}")
    twins.same("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "{n}")
    twins.same("unpause", "{n}")  # not paused
    twins.same("container", "pause", "{n}")
    twins.same("kill", "{n}")  # a SIGKILL ends a paused container too, at once
    assert twins.same("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                      "{n}") == (0, "exited 137\n", "")
    twins.same("rm", "{n}")
    twins.same("pause")


def test_kill_answers_once_the_container_has_exited(twins):
    for _ in range(3):  # a kill answered before the exit made this rm fail at times
        twins.same("run", "-d", "--name", "{n}", "--network", "none", IMAGE, "sleep", "60")
        twins.same("kill", "{n}")
        twins.same("rm", "{n}")


def test_logs_flags(twins):
    # stderr first and alone: the two streams reach the log in no fixed order
    twins.same("run", "--name", "{n}", "--network", "none", IMAGE, "sh", "-c",
               "echo err >&2; sleep 0.3; for i in 1 2 3 4 5; do echo line $i; done")
    for flags in ([], ["--tail", "2"], ["-n", "0"], ["--tail", "all"], ["-t"],
                  ["--since", "1h"], ["--since", "2000-01-01"], ["--until", "1h"],
                  ["-f"], ["-f", "--tail", "1", "-t"]):
        twins.same("logs", *flags, "{n}")


def test_ps_filters_and_flags(twins, cli):
    label = f"tok={cli.token}"
    twins.same("run", "--name", "{n}", "-l", label, "--network", "none", IMAGE, "sh", "-c",
               "exit 3")
    base = ["ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}} {{.State}}"]
    cli.ok("run", "--name", cli.name("b"), "-l", label, "--network", "none", IMAGE, "true")
    middle = twins.names["skiff"]
    for extra in (["--filter", "status=exited"], ["--filter", "exited=3"],
                  ["--filter", "exited=0"], ["--filter", f"ancestor={IMAGE}"],
                  ["--filter", f"name={middle}"], ["--filter", "status=running"],
                  ["--filter", f"before={middle}"], ["--filter", f"since={middle}"],
                  ["--filter", "label=nosuch"], ["--filter", "health=none"],
                  ["--filter", "is-task=false"],
                  ["-n", "1"], ["-l"], ["--no-trunc"], ["-q"]):
        mine = cli.skiff(*base, *extra)
        theirs = cli.docker(*base, *extra)
        assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err), extra


def test_images_flags(cli):
    for args in (["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
                 ["images", "-q", IMAGE], ["images", "--digests", IMAGE],
                 ["images", "--filter", "dangling=false", "--format", "{{.Repository}}"],
                 ["images", "--filter", f"reference={IMAGE}", "--format", "{{.ID}}"],
                 ["images", "--filter", "label=nosuch", "-q"],
                 ["images", "--format", "json", IMAGE]):
        mine, theirs = cli.skiff(*args), cli.docker(*args)
        if "json" in args:
            mine.out = re.sub(r'"CreatedSince":"[^"]*"', "", mine.out)
            theirs.out = re.sub(r'"CreatedSince":"[^"]*"', "", theirs.out)
        mine.out, theirs.out = without_age(mine.out), without_age(theirs.out)
        assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err), args


def test_tag_and_rmi(twins):
    twins.same("tag", IMAGE, "{n}:v1")
    twins.same("tag", IMAGE, "{n}:v2")
    twins.same("images", "--format", "{{.Repository}}:{{.Tag}}", "{n}")
    twins.same("rmi", "{n}:v1")
    twins.same("rmi", "{n}:v1")
    twins.same("rmi", "{n}:v2", "{n}:v3")


def test_import_save_load(twins, tmp_path):
    for tool in ("skiff", "docker"):  # layers of their own: a shared one outlives an rmi
        with tarfile.open(tmp_path / f"{tool}-layer.tar", "w") as t:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(tool)
            t.addfile(info, fileobj=io.BytesIO(tool.encode()))
    for tool, run in (("skiff", twins.cli.skiff), ("docker", twins.cli.docker)):
        r = run("import", "-m", "a message", "-c", "CMD [\"/hello.txt\"]",
                str(tmp_path / f"{tool}-layer.tar"), twins.names[tool] + ":imp")
        assert r.rc == 0 and ID.fullmatch(r.out.strip()), r
    twins.same("image", "inspect", "-f", "{{json .Config.Cmd}} {{.Comment}}", "{n}:imp")
    out = {tool: tmp_path / f"{tool}.tar" for tool in ("skiff", "docker")}
    mine = twins.cli.skiff("save", "-o", str(out["skiff"]), twins.names["skiff"] + ":imp")
    theirs = twins.cli.docker("save", "-o", str(out["docker"]), twins.names["docker"] + ":imp")
    assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err)
    members = {tool: sorted(ID.sub("<id>", m.name) for m in tarfile.open(path))
               for tool, path in out.items()}
    assert members["skiff"] == members["docker"]
    twins.same("rmi", "{n}:imp")
    mine = twins.cli.skiff("load", "-i", str(out["skiff"]))
    theirs = twins.cli.docker("load", "-i", str(out["docker"]))
    assert twins.neutral("skiff", mine) == twins.neutral("docker", theirs)
    twins.same("rmi", "{n}:imp")


def test_inspect_type_and_format(twins):
    twins.same("create", "--name", "{n}", "--network", "none", IMAGE, "true")
    twins.same("inspect", "--type", "image", "{n}")
    twins.same("inspect", "--type", "container", IMAGE)
    twins.same("inspect", "--format", "{{.Name}} {{.Config.Image}}", "{n}")
    twins.same("inspect", "-f", "{{json .State.Running}}", "--type", "container", "{n}")
    twins.same("inspect", "--format", "{{.Id}}", "{n}", "nosuch-object-xyz")
    # Nothing found: docker's template printer still ends with a newline.
    twins.same("inspect", "--format", "{{.Id}}", "nosuch-object-xyz")
    twins.same("inspect", "--type", "container", "-f", "{{.Id}}", "nosuch-object-xyz")


def test_events_filters_and_formats(twins):
    since = str(int(time.time()) - 1)
    twins.same("run", "--name", "{n}", "-l", "ev=1", "--network", "none", IMAGE, "true")
    time.sleep(1.1)
    until = str(int(time.time()))
    base = ["events", "--since", since, "--until", until, "--filter", "container={n}"]
    for extra in (["--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"],
                  ["--filter", "event=start", "--format", "{{.Action}}"],
                  ["--filter", "type=container", "--filter", "event=die",
                   "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}"],
                  ["--filter", "label=ev=1", "--format", "{{.Action}}"],
                  ["--format", "{{json .Actor.Attributes}}"]):
        twins.same(*base, *extra, timeout=30)


def test_prunes_with_filters(twins, cli):
    label = f"prune={cli.token}"
    twins.same("create", "--name", "{n}", "-l", label, "--network", "none", IMAGE, "true")
    mine = cli.skiff("container", "prune", "-f", "--filter", f"label={label}")
    theirs = cli.docker("container", "prune", "-f", "--filter", "label=nothing-has-this")
    # skiff's prune removed both twins; docker's found nothing: compare with the shape.
    assert mine.rc == theirs.rc == 0
    assert mine.out.startswith("Deleted Containers:\n") and "Total reclaimed space:" in mine.out
    assert theirs.out == "Total reclaimed space: 0B\n"
    for args in (["image", "prune", "-f", "--filter", "label=nothing-has-this"],
                 ["system", "prune", "-f", "--filter", "label=nothing-has-this"],
                 ["container", "prune", "-f", "--filter", "until=1h",
                  "--filter", "label=nothing-has-this"]):
        mine, theirs = cli.skiff(*args), cli.docker(*args)
        assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err), args


def test_system_info_and_version(cli):
    for args in (["system", "info", "--format", "{{.Containers}} {{.Images}} {{.Driver}}"],
                 ["info", "--format", "{{json .Swarm.LocalNodeState}}"],
                 ["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"],
                 ["system", "df", "--format", "{{.Type}}"]):
        mine, theirs = cli.skiff(*args), cli.docker(*args)
        assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err), args
