"""Bad flags and arguments: skiff must print what the docker CLI (28) prints, with "skiff"
for "docker", and exit with the same status (125 for a bad flag, 1 for a bad argument
count, 125 for what `run` cannot create, 127/126 for what it cannot start), against the
daemon under test. Every row runs both CLIs on the same daemon and compares."""

import re

import pytest

from test_cli_support import IMAGE, cli  # noqa: F401  (cli is a fixture)

ID = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")

# Argument counts, flag grammar and flag values, for every command of issue 3.
USAGE = [
    ["run"], ["create"], ["start"], ["stop"], ["restart"], ["kill"], ["wait"], ["rm"],
    ["rename"], ["rename", "a"], ["rename", "a", "b", "c"], ["logs"], ["logs", "a", "b"],
    ["inspect"], ["tag"], ["tag", "a"], ["tag", "a", "b", "c"], ["rmi"], ["save"],
    ["import"], ["import", "a", "b", "c"], ["load", "x"], ["ps", "x"], ["images", "a", "b"],
    ["events", "x"], ["version", "x"], ["info", "x"], ["system", "df", "x"],
    ["system", "info", "x"], ["system", "prune", "x"], ["container", "prune", "x"],
    ["image", "prune", "x"], ["container", "ls", "x"], ["image", "ls", "a", "b"],
    ["ps", "--bogus"], ["ps", "-Z"], ["ps", "-a=x"], ["ps", "-n", "abc"],
    ["ps", "--last=abc"], ["ps", "--filter"], ["ps", "--filter", "bogus"],
    ["images", "--digests=maybe"], ["images", "--filter", "=x"], ["events", "--filter", "x"],
    ["logs", "--tail"], ["logs", "-f=no", "x"], ["stop", "-t", "abc", "x"],
    ["restart", "--time=x", "x"], ["rm", "-f=x", "x"], ["kill", "--signal"],
    ["run", "--bogus", IMAGE], ["run", "-e"], ["run", "-m", "abc", IMAGE],
    ["run", "--shm-size", "1q", IMAGE], ["run", "-e", "=x", IMAGE], ["run", "--init=x", IMAGE],
    ["run", "--stop-timeout=x", IMAGE], ["create", "--bogus", IMAGE],
    ["system", "prune", "--filter", "x"], ["container", "prune", "--filter", "x"],
    ["image", "prune", "--filter", "x"], ["save", "-o"], ["load", "--input"],
    ["--bogus"], ["-H"], ["bogus"], ["container", "bogus"], ["image", "bogus"],
    ["system", "bogus"],
]

# What run and create check themselves, and what the daemon refuses (both CLIs then
# print the daemon's words, run's with "skiff: ..." and where to read more).
RUN = [
    ["run", "--restart", "on-failure:abc", IMAGE, "true"],
    ["run", "--restart", ":3", IMAGE, "true"],
    ["run", "--restart", "bogus", IMAGE, "true"],
    ["run", "--restart", "always:3", IMAGE, "true"],
    ["run", "--rm", "--restart", "always", IMAGE, "true"],
    ["run", "-d", "-a", "stdout", IMAGE, "true"],
    ["run", "--env-file", "/nonexistent/env", IMAGE, "true"],
    ["run", "--env-file", "/etc", IMAGE, "true"],
    ["run", "--pull", "bogus", IMAGE, "true"],
    ["run", "--log-opt", "bogus", IMAGE, "true"],
    ["run", "--log-driver", "bogus", IMAGE, "true"],
    ["run", "--stop-signal", "NOPE", IMAGE, "true"],
    ["run", "-w", "relative", IMAGE, "true"],
    ["run", "--name", "a/b", IMAGE, "true"],
    ["run", "-u", "nosuchuser", IMAGE, "true"],
    ["run", "--rm", IMAGE, "nosuchcommand"],
    ["create", "--restart", ":3", IMAGE, "true"],
    ["create", "--stop-signal", "NOPE", IMAGE, "true"],
    ["create", "--name", "a/b", IMAGE, "true"],
    ["load", "-i", "/nonexistent/x.tar"],
    ["import", "/nonexistent/x.tar"],
    ["inspect", "--type", "bogus", "x"],
    ["logs", "--since", "garbage", "nosuchcontainer"],
    ["events", "--since", "garbage"],
    ["ps", "--filter", "bogus=x"],
    ["images", "--filter", "bogus=x"],
    ["container", "prune", "-f", "--filter", "bogus=x"],
    ["image", "prune", "-f", "--filter", "bogus=x"],
    ["system", "prune", "-f", "--filter", "bogus=x"],
    ["start", "nosuchcontainer"],
    ["rm", "nosuchcontainer"],
    ["rmi", "nosuch-image-xyz"],
    ["tag", "nosuch-image-xyz", "x"],
    ["tag", IMAGE, "UPPER"],
    ["inspect", "--format", "{{", IMAGE],
    ["info", "--format", "{{"],
    ["ps", "--format", "{{"],
    ["images", "--format", "{{"],
    ["events", "--since", "1", "--until", "2", "--format", "{{"],
    ["system", "df", "--format", "{{"],
]


def normalize(text):
    """docker's words with skiff's name; cobra's "SRun" typo (RequiresMaxArgs) read as
    the "Run" it means; ids as <id>; the daemon's filter wording as moby 23's."""
    text = re.sub(r"\bdocker\b", "skiff", text)
    text = text.replace("SRun 'skiff", "Run 'skiff")
    text = text.replace("Invalid filter '", "invalid filter '")
    return ID.sub("<id>", text)


def differs_by_runtime(args, mine, theirs):
    """A command that does not exist fails in the runtime, whose words are its own."""
    return args[-1] == "nosuchcommand" and mine.rc == theirs.rc == 127


@pytest.mark.parametrize("args", USAGE + RUN, ids=[" ".join(a) for a in USAGE + RUN])
def test_bad_input_is_reported_like_docker(cli, args):
    mine = cli.skiff(*args)
    theirs = cli.docker(*args)
    if differs_by_runtime(args, mine, theirs):
        assert "nosuchcommand" in mine.err and "Run 'skiff run --help'" in mine.err
        return
    assert (mine.rc, normalize(mine.err)) == (theirs.rc, normalize(theirs.err))
    assert mine.out == theirs.out
