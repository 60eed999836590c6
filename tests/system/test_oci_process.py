"""config.json `process`: args, env, cwd, user, terminal, capabilities, rlimits, and friends."""

import os

import pytest

CAP_BITS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETUID": 7,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29,
}


def caps_mask(names):
    return sum(1 << CAP_BITS[n] for n in names)


def status_fields(text):
    """Parse /proc/PID/status output into a dict."""
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def set_caps(bundle, names, ambient=True, inheritable=False):
    caps = {k: list(names) for k in ("bounding", "effective", "permitted")}
    caps["ambient"] = list(names) if ambient else []
    caps["inheritable"] = list(names) if (inheritable or ambient) else []
    bundle.process["capabilities"] = caps


# ---------------------------------------------------------------- args, env, cwd


def test_args_are_passed_verbatim(runtime, bundle):
    out = runtime.output(bundle, "printf", "%s|", "a b", 'c"d', "", "$HOME", "*")
    assert out == 'a b|c"d||$HOME|*|'


def test_args_resolved_through_container_path(runtime, bundle):
    tool = bundle.rootfs / "opt" / "tools" / "only-in-container"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho found-in-container\n")
    tool.chmod(0o755)
    bundle.process["env"] = ["PATH=/opt/tools:/bin"]
    assert runtime.output(bundle, "only-in-container").strip() == "found-in-container"


def test_missing_executable_fails_run(runtime, bundle):
    bundle.args("/no/such/binary")
    res = runtime.run_container(bundle)
    assert res.returncode != 0


@pytest.mark.parametrize("path,why", [
    ("/no/such/binary", "no such file or directory"),
    ("/etc/passwd", "permission denied"),  # not executable
    ("/tmp", "permission denied"),         # a directory
])
def test_bad_executable_path_fails_create(runtime, bundle, path, why):
    # As runc does: checked at create, with Go's lower-case text, which docker and podman
    # read to exit with 127 (not found) or 126 (cannot be invoked).
    bundle.args(path)
    res = runtime.create(bundle, check=False)
    assert res.returncode != 0, res
    assert why in res.stderr, res


@pytest.mark.parametrize("user,home", [(0, "/root"), (65534, "/nonexistent"), (4444, "/")])
def test_home_set_from_passwd_when_env_has_none(runtime, bundle, user, home):
    # docker and containerd put no HOME in the spec and count on the runtime, as runc and
    # crun set it: the user's home in the container's /etc/passwd, else "/".
    bundle.process["env"] = ["PATH=/bin:/usr/bin"]
    bundle.process["user"] = {"uid": user, "gid": user}
    assert runtime.output(bundle, "sh", "-c", 'echo "$HOME"') == home + "\n"


def test_home_from_env_is_kept(runtime, bundle):
    bundle.process["env"] = ["PATH=/bin:/usr/bin", "HOME=/mine"]
    assert runtime.output(bundle, "sh", "-c", 'echo "$HOME"') == "/mine\n"


def test_env_is_exactly_the_configured_environment(runtime, bundle):
    bundle.process["env"] = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="]
    env = dict(os.environ, SKIFF_HOST_ONLY="leak")
    out = runtime.output(bundle, "env", env=env)
    lines = set(out.splitlines())
    assert {"PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY="} <= lines
    assert not any(line.startswith("SKIFF_HOST_ONLY=") for line in lines)


def test_cwd_sets_working_directory(runtime, bundle):
    (bundle.rootfs / "work" / "dir").mkdir(parents=True)
    bundle.process["cwd"] = "/work/dir"
    assert runtime.output(bundle, "pwd").strip() == "/work/dir"


# ---------------------------------------------------------------- user


def test_user_uid_and_gid(runtime, bundle):
    bundle.process["user"] = {"uid": 65534, "gid": 65534}
    assert runtime.output(bundle, "sh -c 'id -u; id -g'").split() == ["65534", "65534"]


def test_user_additional_gids(runtime, bundle):
    bundle.process["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5, 1234]}
    groups = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))["Groups"]
    assert set(groups.split()) == {"5", "1234"}


def test_user_without_additional_gids_has_no_supplementary_groups(runtime, bundle):
    bundle.process["user"] = {"uid": 65534, "gid": 65534}
    groups = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))["Groups"]
    assert groups == ""


def test_user_umask(runtime, bundle):
    bundle.process["user"] = {"uid": 0, "gid": 0, "umask": 0o027}
    assert runtime.output(bundle, "sh -c umask").strip() == "0027"


def test_user_umask_applies_to_new_files(runtime, bundle):
    bundle.process["user"] = {"uid": 0, "gid": 0, "umask": 0o077}
    assert runtime.output(bundle, "sh -c 'touch /tmp/f; stat -c %a /tmp/f'").strip() == "600"


def test_non_root_user_cannot_write_root_owned_dir(runtime, bundle):
    os.chmod(bundle.rootfs / "root", 0o700)
    bundle.process["user"] = {"uid": 65534, "gid": 65534}
    bundle.args("touch /root/x")
    assert runtime.run_container(bundle).returncode != 0
    assert not (bundle.rootfs / "root" / "x").exists()


# ---------------------------------------------------------------- terminal


def test_terminal_sends_pty_master_to_console_socket(runtime, bundle, console_socket):
    bundle.process["terminal"] = True
    bundle.args("sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo both-ttys; sleep 3600'")
    cid = runtime.create(bundle, None, "--console-socket", console_socket.path)
    runtime.start(cid)
    out = console_socket.read_until(b"both-ttys")
    assert b"/dev/pts/" in out and b"both-ttys" in out


def test_terminal_console_size(runtime, bundle, console_socket):
    bundle.process["terminal"] = True
    bundle.process["consoleSize"] = {"height": 31, "width": 97}
    bundle.args("sh -c 'echo size=$(stty size); sleep 3600'")
    cid = runtime.create(bundle, None, "--console-socket", console_socket.path)
    runtime.start(cid)
    assert b"size=31 97" in console_socket.read_until(b"size=31 97")


def test_terminal_input_reaches_process(runtime, bundle, console_socket):
    bundle.process["terminal"] = True
    bundle.args("sh -c 'read line; echo got:$line; sleep 3600'")
    cid = runtime.create(bundle, None, "--console-socket", console_socket.path)
    runtime.start(cid)
    os.write(console_socket.wait_master(), b"typed\n")
    assert b"got:typed" in console_socket.read_until(b"got:typed")


def test_terminal_without_console_socket_fails_create(runtime, bundle):
    bundle.process["terminal"] = True
    res = runtime.create(bundle, check=False)
    assert res.returncode != 0


# ---------------------------------------------------------------- capabilities


def test_capabilities_sets_match_config(runtime, bundle):
    set_caps(bundle, ["CAP_CHOWN", "CAP_KILL"])
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    want = caps_mask(["CAP_CHOWN", "CAP_KILL"])
    for key in ("CapBnd", "CapPrm", "CapEff", "CapAmb"):
        assert int(st[key], 16) == want, key


def test_missing_capability_denies_operation(runtime, bundle):
    set_caps(bundle, ["CAP_KILL"])
    bundle.args("chown 65534 /tmp")
    assert runtime.run_container(bundle).returncode != 0


def test_granted_capability_allows_operation(runtime, bundle):
    set_caps(bundle, ["CAP_CHOWN"])
    bundle.args("chown 65534 /tmp")
    assert runtime.run_container(bundle).returncode == 0
    assert os.stat(bundle.rootfs / "tmp").st_uid == 65534


def test_default_capabilities_exclude_sys_admin(runtime, bundle):
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    assert not int(st["CapEff"], 16) & (1 << CAP_BITS["CAP_SYS_ADMIN"])
    assert not int(st["CapBnd"], 16) & (1 << CAP_BITS["CAP_SYS_ADMIN"])


def test_ambient_capabilities_survive_for_non_root_user(runtime, bundle):
    bundle.process["user"] = {"uid": 65534, "gid": 65534}
    set_caps(bundle, ["CAP_NET_BIND_SERVICE"])
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    assert int(st["CapEff"], 16) == caps_mask(["CAP_NET_BIND_SERVICE"])


def test_non_root_user_without_ambient_has_no_effective_caps(runtime, bundle):
    bundle.process["user"] = {"uid": 65534, "gid": 65534}
    set_caps(bundle, ["CAP_NET_BIND_SERVICE"], ambient=False)
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    assert int(st["CapEff"], 16) == 0


# ---------------------------------------------------------------- rlimits, nnp, oom


def test_rlimits_applied(runtime, bundle):
    bundle.process["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
    ]
    out = runtime.output(bundle, "cat", "/proc/self/limits")
    rows = {line[:26].strip(): line[26:].split() for line in out.splitlines()[1:]}
    assert rows["Max open files"][:2] == ["256", "512"]
    assert rows["Max core file size"][:2] == ["0", "4096"]


def test_no_new_privileges_true(runtime, bundle):
    bundle.process["noNewPrivileges"] = True
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    assert st["NoNewPrivs"] == "1"


def test_no_new_privileges_false(runtime, bundle):
    bundle.process["noNewPrivileges"] = False
    st = status_fields(runtime.output(bundle, "cat", "/proc/self/status"))
    assert st["NoNewPrivs"] == "0"


def test_oom_score_adj(runtime, bundle):
    bundle.process["oomScoreAdj"] = 789
    assert runtime.output(bundle, "cat", "/proc/self/oom_score_adj").strip() == "789"


# ---------------------------------------------------------------- hostname, domainname


def test_hostname(runtime, bundle):
    bundle.config["hostname"] = "skiffbox"
    assert runtime.output(bundle, "hostname").strip() == "skiffbox"


# runc 1.1 predates runtime-spec 1.1's domainname and ignores it.
@pytest.mark.skiff_only
def test_domainname(runtime, bundle):
    bundle.config["domainname"] = "example.test"
    out = runtime.output(bundle, "cat", "/proc/sys/kernel/domainname")
    assert out.strip() == "example.test"


def test_hostname_does_not_change_host(runtime, bundle):
    before = os.uname().nodename
    bundle.config["hostname"] = "skiffbox2"
    runtime.output(bundle, "hostname")
    assert os.uname().nodename == before
