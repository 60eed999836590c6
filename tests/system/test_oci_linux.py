"""config.json `linux`: devices, sysctl, seccomp, maskedPaths, readonlyPaths."""


import json
import os
import socket
import threading

import pytest

DEFAULT_DEVICES = {  # path: (major, minor)
    "/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
    "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0),
}


def seccomp_profile(syscalls, default="SCMP_ACT_ALLOW"):
    return {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                        "SCMP_ARCH_X32"],
            "syscalls": syscalls}


# ---------------------------------------------------------------- devices


@pytest.mark.parametrize("path", sorted(DEFAULT_DEVICES))
def test_default_device_exists_with_right_numbers(runtime, bundle, path):
    out = runtime.output(bundle, "stat", "-L", "-c", "%F %t %T", path)
    kind, major, minor = out.rsplit(" ", 2)
    assert kind == "character special file"
    assert (int(major, 16), int(minor, 16)) == DEFAULT_DEVICES[path]


def test_default_devices_work(runtime, bundle):
    script = ("head -c 4 /dev/zero | od -An -tx1; head -c 8 /dev/urandom | wc -c; "
              "head -c 8 /dev/random | wc -c; cat /dev/null | wc -c; echo > /dev/null && echo null-ok")
    out = runtime.output(bundle, "sh", "-c", script).split("\n")
    assert out[0].split() == ["00", "00", "00", "00"]
    assert [o.strip() for o in out[1:5]] == ["8", "8", "0", "null-ok"]


def test_dev_full_write_fails(runtime, bundle):
    bundle.args("sh -c 'echo x > /dev/full'")
    assert runtime.run_container(bundle).returncode != 0


def test_dev_ptmx_pts_and_shm_exist(runtime, bundle):
    out = runtime.output(bundle, "sh", "-c",
                         "test -e /dev/ptmx && test -d /dev/pts && test -d /dev/shm && echo ok")
    assert out == "ok\n"


def test_ptmx_allocates_pty_in_container_devpts(runtime, bundle, console_socket):
    bundle.process["terminal"] = True
    bundle.args("sh -c 'ls /dev/pts; sleep 3600'")
    cid = runtime.create(bundle, None, "--console-socket", console_socket.path)
    runtime.start(cid)
    out = console_socket.read_until(b"ptmx")
    assert b"0" in out.split()  # the container's pty is number 0 of its own devpts


def test_host_devices_are_not_visible(runtime, bundle):
    allowed = {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
               "mqueue", "console", "fd", "stdin", "stdout", "stderr", "core"}
    names = set(runtime.output(bundle, "ls", "-A", "/dev").split())
    assert names <= allowed, names - allowed


def test_linux_devices_creates_device_node(runtime, bundle):
    bundle.linux["devices"] = [{"path": "/dev/extra-null", "type": "c", "major": 1, "minor": 3,
                                "fileMode": 0o640, "uid": 0, "gid": 0}]
    bundle.linux.setdefault("resources", {}).setdefault("devices", []).append(
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    out = runtime.output(bundle, "sh", "-c",
                         "stat -c '%F %t %T %a' /dev/extra-null; echo x > /dev/extra-null && echo w")
    assert out == "character special file 1 3 640\nw\n"


@pytest.mark.cgroup
def test_device_not_allowed_by_cgroup_cannot_be_opened(runtime, bundle):
    bundle.linux["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11,
                                "fileMode": 0o644}]
    bundle.linux.setdefault("resources", {})["devices"] = [{"allow": False, "access": "rwm"}]
    bundle.args("head -c 1 /dev/kmsg")
    res = runtime.run_container(bundle)
    assert res.returncode != 0
    assert res.stdout == ""


# ---------------------------------------------------------------- sysctl


def test_sysctl_in_network_namespace(runtime, bundle):
    bundle.set_namespace("network")
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    assert runtime.output(bundle, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"


def test_sysctl_in_ipc_namespace_does_not_touch_host(runtime, bundle):
    host = open("/proc/sys/kernel/msgmax").read()
    bundle.linux["sysctl"] = {"kernel.msgmax": "12345"}
    assert runtime.output(bundle, "cat", "/proc/sys/kernel/msgmax").strip() == "12345"
    assert open("/proc/sys/kernel/msgmax").read() == host


def test_sysctl_not_in_container_namespace_is_refused(runtime, bundle):
    host = open("/proc/sys/kernel/panic").read()
    bundle.linux["sysctl"] = {"kernel.panic": "17"}
    bundle.args("true")
    assert runtime.run_container(bundle).returncode != 0
    assert open("/proc/sys/kernel/panic").read() == host


def test_network_sysctl_without_network_namespace_is_refused(runtime, bundle):
    host = open("/proc/sys/net/ipv4/ip_forward").read()
    bundle.drop_namespace("network")
    bundle.linux["sysctl"] = {"net.ipv4.ip_forward": "0" if host.strip() == "1" else "1"}
    bundle.args("true")
    assert runtime.run_container(bundle).returncode != 0
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host


# ---------------------------------------------------------------- seccomp


class SeccompAgent:
    """A seccomp agent on listenerPath: takes one connection, keeps the state message
    and the notify fd it carries, then closes the fd (notified calls then fail)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.message, self.fds = None, []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            self.message, self.fds = json.loads(msg), fds
            for fd in fds:
                os.close(fd)

    def close(self):
        self.sock.close()
        self.thread.join(5)


def test_seccomp_listener_gets_notify_fd_and_state(runtime, bundle, workdir):
    agent = SeccompAgent(workdir / "agent.sock")
    try:
        profile = seccomp_profile([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}])
        profile["listenerPath"] = agent.path
        profile["listenerMetadata"] = "from-the-test"
        bundle.linux["seccomp"] = profile
        bundle.args("sh", "-c", "mkdir /tmp/notified; echo $?")
        cid = runtime.new_id()
        res = runtime.run_container(bundle, cid)
        agent.thread.join(10)
    finally:
        agent.close()
    assert res.returncode == 0, res
    assert res.stdout.strip() != "0"  # the agent closed the fd: the call fails
    assert len(agent.fds) == 1
    assert agent.message["fds"] == ["seccompFd"]
    assert agent.message["metadata"] == "from-the-test"
    assert agent.message["state"]["id"] == cid
    assert agent.message["pid"] > 0


def test_seccomp_errno_makes_mkdir_fail_with_eperm(runtime, bundle):
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])
    bundle.args("mkdir /tmp/blocked")
    res = runtime.run_container(bundle)
    assert res.returncode != 0
    assert "Operation not permitted" in res.stderr  # busybox's strerror(EPERM)
    assert not (bundle.rootfs / "tmp" / "blocked").exists()


def test_seccomp_leaves_other_syscalls_alone(runtime, bundle):
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])
    runtime.output(bundle, "touch /tmp/allowed")
    assert (bundle.rootfs / "tmp" / "allowed").exists()


def test_seccomp_custom_errno(runtime, bundle):
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}])
    bundle.args("mkdir /tmp/blocked")
    res = runtime.run_container(bundle)
    assert "No space left on device" in res.stderr  # strerror(ENOSPC)


def test_seccomp_kill_process_action(runtime, bundle):
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}])
    bundle.args("uname")
    assert runtime.run_container(bundle).returncode == 128 + 31  # SIGSYS


def test_seccomp_filter_is_installed(runtime, bundle):
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])
    out = runtime.output(bundle, "grep", "^Seccomp:", "/proc/self/status")
    assert out.split()[1] == "2"


def test_seccomp_default_errno_with_allow_list(runtime, bundle):
    # An allow-list profile: everything the shell needs, but not mkdir.
    needed = ["execve", "brk", "arch_prctl", "set_tid_address", "getpid", "getppid",
              "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "getuid", "geteuid", "getgid",
              "getegid", "write", "writev", "exit_group", "exit", "read", "close", "fcntl",
              "openat", "open", "stat", "lstat", "fstat", "newfstatat", "ioctl", "uname",
              "mmap", "munmap", "mprotect", "prlimit64", "getrlimit", "set_robust_list",
              "rseq", "futex", "access", "faccessat", "faccessat2", "statx", "dup2", "dup3",
              "wait4", "clone", "fork", "vfork", "getcwd", "chdir", "sysinfo", "setpgid",
              "getpgid", "getpgrp", "getdents64", "lseek", "capget", "capset", "prctl",
              "setgroups", "setuid", "setgid", "setresuid", "setresgid", "fchown", "fchdir",
              "getppid", "kill", "tgkill", "pipe", "pipe2", "sigaltstack", "nanosleep",
              "clock_nanosleep", "readlink", "readlinkat", "umask", "select", "pselect6",
              "poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_wait",
              "getrandom", "clone3", "madvise", "sched_getaffinity", "sched_yield",
              "close_range", "getsid", "setsid", "pread64", "fstatfs", "statfs",
              "getdents", "gettid"]
    bundle.linux["seccomp"] = seccomp_profile(
        [{"names": needed, "action": "SCMP_ACT_ALLOW"}], default="SCMP_ACT_ERRNO")
    bundle.args("echo alive; mkdir /tmp/blocked")
    res = runtime.run_container(bundle)
    assert res.stdout == "alive\n" and res.returncode != 0, res
    assert not (bundle.rootfs / "tmp" / "blocked").exists()


# ---------------------------------------------------------------- maskedPaths, readonlyPaths


@pytest.mark.parametrize("path", ["/proc/kcore", "/proc/keys", "/proc/timer_list"])
def test_default_masked_proc_files_read_empty(runtime, bundle, path):
    if path not in bundle.linux.get("maskedPaths", []):
        bundle.linux.setdefault("maskedPaths", []).append(path)
    bundle.args("sh", "-c", f"cat {path} 2>/dev/null | wc -c")
    res = runtime.run_container(bundle)
    assert res.stdout.strip() == "0"


def test_masked_directory_is_empty(runtime, bundle):
    secret = bundle.rootfs / "secret-dir"
    secret.mkdir()
    (secret / "key").write_text("hidden\n")
    bundle.linux["maskedPaths"] = ["/secret-dir"]
    assert runtime.output(bundle, "ls", "-A", "/secret-dir") == ""


def test_masked_file_reads_empty(runtime, bundle):
    (bundle.rootfs / "etc" / "secret").write_text("hidden\n")
    bundle.linux["maskedPaths"] = ["/etc/secret"]
    assert runtime.output(bundle, "cat", "/etc/secret") == ""


def test_masked_path_cannot_be_written(runtime, bundle):
    secret = bundle.rootfs / "secret-dir"
    secret.mkdir()
    bundle.linux["maskedPaths"] = ["/secret-dir"]
    bundle.args("touch /secret-dir/new")
    assert runtime.run_container(bundle).returncode != 0
    assert not (secret / "new").exists()


def test_masked_path_that_does_not_exist_is_ignored(runtime, bundle):
    bundle.linux["maskedPaths"] = ["/no/such/path"]
    assert runtime.output(bundle, "echo", "ok") == "ok\n"


def test_readonly_proc_sys_refuses_writes(runtime, bundle):
    if "/proc/sys" not in bundle.linux.get("readonlyPaths", []):
        bundle.linux.setdefault("readonlyPaths", []).append("/proc/sys")
    bundle.args("sh -c 'echo 1 > /proc/sys/kernel/domainname'")
    res = runtime.run_container(bundle)
    assert res.returncode != 0


def test_readonly_path_in_rootfs(runtime, bundle):
    (bundle.rootfs / "ro-dir").mkdir()
    bundle.linux["readonlyPaths"] = ["/ro-dir"]
    bundle.args("sh -c 'touch /ro-dir/f'")
    assert runtime.run_container(bundle).returncode != 0
    runtime.output(bundle, "touch /tmp/elsewhere-ok")


def test_readonly_path_still_readable(runtime, bundle):
    (bundle.rootfs / "ro-dir").mkdir()
    (bundle.rootfs / "ro-dir" / "f").write_text("readable\n")
    bundle.linux["readonlyPaths"] = ["/ro-dir"]
    assert runtime.output(bundle, "cat", "/ro-dir/f") == "readable\n"


def test_readonly_path_keeps_nosuid_nodev_noexec(runtime, bundle):
    # The remount to read-only must not drop the flags of the mount below (proc's here,
    # mounted as docker does); runc carries them over too.
    for m in bundle.config["mounts"]:
        if m["destination"] == "/proc":
            m["options"] = ["nosuid", "noexec", "nodev"]
    bundle.linux["readonlyPaths"] = ["/proc/sys"]
    out = runtime.output(bundle, "cat", "/proc/self/mountinfo")
    opts = {f[4]: set(f[5].split(",")) for f in (line.split() for line in out.splitlines())}
    assert {"ro", "nosuid", "nodev", "noexec"} <= opts["/proc/sys"], opts["/proc/sys"]


def test_dev_core_only_where_proc_kcore_exists(runtime, bundle):
    out = runtime.output(bundle, "sh", "-c", "test -L /dev/core && echo link || echo none")
    assert out.strip() == ("link" if os.path.exists("/proc/kcore") else "none")
