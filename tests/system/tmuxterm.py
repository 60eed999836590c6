"""A real terminal for system tests: a shell in a private tmux server (its own socket)
of known size, to type into and read the screen of."""

import os
import re
import secrets
import shlex
import shutil
import subprocess
import time

import pytest

TMUX = shutil.which("tmux")


def unique(prefix):
    return f"{prefix}{secrets.token_hex(3)}"


class Term:
    """A shell in a private tmux server of known size: type into it, read its screen."""

    def __init__(self, env, width=100, height=30):
        self.server = unique("skiff-tty-")
        keep = {k: env[k] for k in ("PATH", "DOCKER_HOST", "DOCKER_BUILDKIT", "HOME")
                if k in env}
        shell_env = " ".join(f"{k}={shlex.quote(v)}" for k, v in keep.items())
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  f"env -i {shell_env} TERM=xterm PS1='$ ' bash --norc --noprofile")
        self.socket_path = self.tmux("display-message", "-p", "#{socket_path}").strip()
        self.wait_for(lambda s: "$" in s, "the shell's prompt")

    def tmux(self, *args):
        return subprocess.run([TMUX, "-L", self.server, "-f", "/dev/null", *args],
                              capture_output=True, text=True, check=True, timeout=10).stdout

    def type(self, text, enter=True):
        self.tmux("send-keys", "-t", "t", "-l", text)
        if enter:
            self.tmux("send-keys", "-t", "t", "Enter")

    def keys(self, *keys):
        """Each key as its own write, as a person types them."""
        for k in keys:
            self.tmux("send-keys", "-t", "t", k)
            time.sleep(0.05)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-J", "-t", "t", "-S", "-200")

    def wait_for(self, predicate, what, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = predicate(screen)
            if found:
                return found
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; the screen:\n"
                            f"{screen}")
            time.sleep(0.05)

    def clear(self):
        self.type("clear")
        self.tmux("clear-history", "-t", "t")
        self.wait_for(lambda s: s.strip() == "$", "a cleared screen")

    def shell(self, command, timeout=30):
        """Run command in the host shell; returns its exit status."""
        marker = unique("rc")
        self.type(f"{command}; printf '\\n{marker}=%s\\n' $?")
        found = self.wait_for(lambda s: re.search(rf"^{marker}=(\d+)", s, re.M), command,
                              timeout)
        return int(found.group(1))

    def resize(self, width, height):
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def close(self):
        subprocess.run([TMUX, "-L", self.server, "kill-server"], capture_output=True)
        if self.socket_path.endswith(self.server) and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)  # kill-server leaves it behind
