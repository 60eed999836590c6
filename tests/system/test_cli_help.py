"""--help for every command of issue 3, compared with the docker CLI's: the same usage
line, summary and aliases, and every flag skiff offers is one of docker's with the same
shorthand, value name and description (docker wraps its descriptions to the terminal;
they are compared unwrapped). skiff implements a subset of docker's flags; the ones it
lacks are not checked here."""

import re

import pytest

from test_cli_support import cli  # noqa: F401  (cli is a fixture)

COMMANDS = [
    "run", "create", "start", "stop", "restart", "kill", "wait", "rm", "rename", "ps",
    "logs", "images", "tag", "rmi", "import", "save", "load", "inspect", "events",
    "version", "info", "system df", "system info", "system prune", "system events",
    "container prune", "image prune", "container ls", "container run", "container create",
    "container start", "container stop", "container restart", "container kill",
    "container wait", "container rm", "container rename", "container logs",
    "container inspect", "image ls", "image tag", "image rm", "image import", "image save",
    "image load", "image inspect", "pause", "unpause", "container pause",
    "container unpause",
]

FLAG = re.compile(r"^  (?:-(\w), )?\s*--([\w-]+)(?: ([\w-]+))?\s{2,}(.*)$")


def parse_help(text):
    """{"usage", "summary", "aliases", "flags": {name: (short, value name, text)}}."""
    text = re.sub(r"(?<![./])\bdocker\b", "skiff", text).replace("Docker", "skiff")
    text = text.replace('"|missing"', '"missing"')  # a typo in docker create's --pull
    lines = text.splitlines()
    out = {"usage": "", "summary": "", "aliases": "", "flags": {}}
    section, flag = None, None
    for i, line in enumerate(lines):
        if line.startswith("Usage:"):
            out["usage"] = line
            rest = [s for s in lines[i + 1:] if s.strip()]
            out["summary"] = rest[0] if rest else ""
        elif line.endswith(":") and not line.startswith(" "):
            section = line[:-1]
        elif section == "Aliases" and line.strip():
            out["aliases"] = line.strip()
        elif section == "Options" and (m := FLAG.match(line)):
            flag = m.group(2)
            out["flags"][flag] = [m.group(1), m.group(3), m.group(4).strip()]
        elif section == "Options" and flag and line.startswith("      ") and line.strip():
            out["flags"][flag][2] += " " + line.strip()
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_matches_dockers(cli, command):
    mine = cli.skiff(*command.split(), "--help")
    theirs = cli.docker(*command.split(), "--help")
    assert mine.rc == theirs.rc == 0, (mine, theirs)
    m, t = parse_help(mine.out), parse_help(theirs.out)
    assert m["usage"] == t["usage"]
    assert m["summary"] == t["summary"]
    assert m["aliases"] == t["aliases"]
    m["flags"].pop("help", None)
    for name, (short, value, text) in m["flags"].items():
        assert name in t["flags"], f"--{name} is not docker's"
        assert [short, value, text] == t["flags"][name], name
