"""Escape attempts that must fail: CVE-2019-5736 (overwriting the runtime binary through
/proc/PID/exe), CVE-2024-21626 (leaked fds as cwd), mount destinations that are symlinks out
of the rootfs, and writes through masked / read-only kernel interfaces."""

import hashlib
import os
import shutil
import stat
import time

import pytest

from conftest import Runtime, mountinfo, wait_for


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ---------------------------------------------------------------- CVE-2019-5736

# The container's init is the attacker.  For every process it can see it tries to write the
# process's executable through /proc/PID/exe, and it keeps the first foreign executable open
# read-only so it can retry the write through /proc/self/fd/3 once the runtime has exited
# (the original exploit's trick, since the binary is busy while it runs). "command exec": a
# plain exec whose redirection fails (the process just exited) ends the shell.
ATTACKER = r"""#!/bin/sh
log=/tmp/attack.log
: > $log
held=""
echo ready > /tmp/ready
while [ ! -e /tmp/stop ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    [ "$p" = 1 ] && continue
    [ $d/exe -ef /bin/busybox ] && continue
    [ -e $d/exe ] && echo "saw $p" >> $log
    (echo PWNED >> $d/exe) 2>/dev/null && echo "WROTE $p" >> $log
    if [ -z "$held" ] && command exec 3< $d/exe 2>/dev/null; then
      held=$p; echo "held $p $(readlink /proc/$$/fd/3)" >> $log
    fi
  done
  if [ -n "$held" ]; then
    (echo PWNED >> /proc/$$/fd/3) 2>/dev/null && echo "WROTE-fd $held" >> $log
  fi
done
echo done >> $log
"""

# Executed by the runtime during `exec`: the kernel runs it with /proc/self/exe of the
# process doing the execve as its interpreter, i.e. the runtime's own binary if that is
# what the container-side process is still running.
EVIL_INTERPRETER = "#!/proc/self/exe\n"


def test_cve_2019_5736_runtime_binary_not_overwritable_during_exec(runtime, bundle, workdir):
    # The attack runs against a copy of the runtime, so a vulnerable runtime corrupts only
    # the copy; the copy keeps its file name (skiff-oci, runc) in case the binary cares.
    copy_dir = workdir / "runtime-copy"
    copy_dir.mkdir()
    binary = copy_dir / os.path.basename(runtime.binary)
    shutil.copy2(runtime.binary, binary)
    before = sha256(binary)
    rt = Runtime(str(binary), runtime.root, workdir, runtime.token)
    rt.ids, rt.pids = runtime.ids, runtime.pids  # the fixture's cleanup covers these too

    attacker = bundle.rootfs / "attack.sh"
    attacker.write_text(ATTACKER)
    attacker.chmod(0o755)
    evil = bundle.rootfs / "bin" / "evil"
    evil.write_text(EVIL_INTERPRETER)
    evil.chmod(0o755)
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_PTRACE",
            "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_FOWNER"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    bundle.process["noNewPrivileges"] = False
    bundle.args("/attack.sh")
    cid = rt.create(bundle)
    rt.start(cid)
    wait_for(lambda: (bundle.rootfs / "tmp" / "ready").exists(), what="attacker loop")

    for _ in range(15):
        rt.exec(cid, "/bin/evil", timeout=10)
        rt.exec(cid, "true", timeout=10)
    time.sleep(0.5)  # let the loop retry through the held fd after the runtime exited
    (bundle.rootfs / "tmp" / "stop").write_text("")
    log = bundle.rootfs / "tmp" / "attack.log"
    wait_for(lambda: "done" in log.read_text(), timeout=10, what="attacker to stop")

    assert sha256(binary) == before, "runtime binary was modified from inside the container"
    assert "WROTE" not in log.read_text(), log.read_text()


def test_cve_2019_5736_exec_process_does_not_run_host_runtime_binary(runtime, bundle):
    # `exec /bin/evil` re-executes /proc/self/exe of the runtime's container-side process.
    # Whatever that runs, it must not be the runtime binary on the host (by inode).
    evil = bundle.rootfs / "bin" / "evil"
    evil.write_text("#!/proc/self/exe\n")
    evil.chmod(0o755)
    bundle.args("sh -c 'while :; do for d in /proc/[0-9]*; do "
                "[ -e $d/exe ] && ! [ $d/exe -ef /bin/busybox ] && "
                "stat -L -c \"%d:%i\" $d/exe >> /tmp/seen; done; done'")
    cid = runtime.create_started(bundle)
    for _ in range(10):
        runtime.exec(cid, "/bin/evil", timeout=10)
    st = os.stat(runtime.binary)
    host_id = f"{st.st_dev}:{st.st_ino}"
    seen = (bundle.rootfs / "tmp" / "seen")
    seen_ids = set(seen.read_text().split()) if seen.exists() else set()
    assert host_id not in seen_ids


# ---------------------------------------------------------------- CVE-2024-21626


@pytest.fixture
def host_secret(workdir):
    """A file on the host, outside the rootfs, that no container may read."""
    f = workdir / "host-secret"
    f.write_text("HOST-SECRET-CONTENT\n")
    return f


def _escape_script(secret):
    rel = "../" * 12 + str(secret).lstrip("/")
    return f"cat {rel} 2>/dev/null; cat {secret} 2>/dev/null; pwd -P; true"


@pytest.mark.parametrize("fd", range(3, 11))
def test_cve_2024_21626_cwd_through_leaked_fd_cannot_reach_host(runtime, bundle, host_secret,
                                                                 fd):
    bundle.process["cwd"] = f"/proc/self/fd/{fd}"
    bundle.args("sh", "-c", _escape_script(host_secret))
    res = runtime.run_container(bundle)
    assert "HOST-SECRET-CONTENT" not in res.stdout, res


@pytest.mark.parametrize("fd", range(3, 9))
def test_cve_2024_21626_exec_cwd_through_leaked_fd_cannot_reach_host(runtime, bundle,
                                                                      host_secret, fd):
    cid = runtime.create_started(bundle)
    res = runtime.exec(cid, "sh", "-c", _escape_script(host_secret),
                       opts=["--cwd", f"/proc/self/fd/{fd}"])
    assert "HOST-SECRET-CONTENT" not in res.stdout, res


def test_container_init_has_only_stdio_fds(runtime, bundle):
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2"]


def test_container_init_fds_seen_from_inside(runtime, bundle):
    out = runtime.output(bundle, "sh", "-c", "ls /proc/$$/fd; true")
    assert sorted(out.split(), key=int) == ["0", "1", "2"]


def test_preserved_fds_are_the_only_extra_fds(runtime, bundle, workdir):
    f = workdir / "preserved"
    f.write_text("x")
    bundle.write()
    cid = runtime.new_id()
    wrapper = ["sh", "-c", 'f=$1; shift; exec "$@" 3<"$f" 4<"$f" 5<"$f"', "sh", f]
    runtime.run("create", "--preserve-fds", "2", "--bundle", bundle.path, cid, prefix=wrapper)
    runtime.track_pid(runtime.pid(cid))
    runtime.start(cid)
    pid = runtime.pid(cid)
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2", "3", "4"]


def test_container_cwd_is_inside_rootfs(runtime, bundle):
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    # After pivot_root the links read "/", so compare the directories by device and inode.
    root, cwd, rootfs = (os.stat(p) for p in (f"/proc/{pid}/root", f"/proc/{pid}/cwd",
                                               bundle.rootfs))
    assert (root.st_dev, root.st_ino) == (rootfs.st_dev, rootfs.st_ino)
    assert (cwd.st_dev, cwd.st_ino) == (rootfs.st_dev, rootfs.st_ino)  # cwd "/"


# ---------------------------------------------------------------- symlinked mount targets


@pytest.fixture
def host_target(workdir):
    d = workdir / "host-target"
    d.mkdir()
    return d


@pytest.fixture
def mount_source(workdir):
    d = workdir / "mount-source"
    d.mkdir()
    (d / "marker").write_text("mounted content\n")
    return d


def _in_rootfs(bundle, host_path):
    """The directory host_path names when resolved inside the rootfs (created)."""
    d = bundle.rootfs / str(host_path).lstrip("/")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _assert_mount_landed_inside(runtime, bundle, host_target, dest):
    # Only mounts at or above the symlink's host target, or in this test's own
    # directory, can come from the attack (other software may mount elsewhere).
    def relevant():
        roots = (str(host_target), str(bundle.path.parent))
        return [m for _, m in mountinfo() if any(m == r or m.startswith(r + "/") or
                                                 r.startswith(m.rstrip("/") + "/") and m != "/"
                                                 for r in roots)]
    before = relevant()
    out = runtime.output(bundle, "sh", "-c", f"cat {dest}/marker; touch {dest}/written")
    assert out == "mounted content\n"
    assert os.listdir(host_target) == []
    assert relevant() == before


# The symlink's target also exists inside the rootfs, so a runtime that resolves the
# destination in the container's root (openat2 RESOLVE_IN_ROOT) has somewhere to mount.
def test_mount_destination_absolute_symlink_stays_in_rootfs(runtime, bundle, host_target,
                                                            mount_source):
    inside = _in_rootfs(bundle, host_target)
    (bundle.rootfs / "etc" / "evil").symlink_to(host_target)
    bundle.add_mount("/etc/evil", "bind", mount_source, ["bind"])
    _assert_mount_landed_inside(runtime, bundle, host_target, "/etc/evil")
    assert os.listdir(inside) == []  # the mount was in the container's namespace only


def test_mount_destination_relative_symlink_stays_in_rootfs(runtime, bundle, host_target,
                                                            mount_source):
    _in_rootfs(bundle, host_target)
    rel = "../" * 12 + str(host_target).lstrip("/")
    (bundle.rootfs / "etc" / "evil").symlink_to(rel)
    bundle.add_mount("/etc/evil", "bind", mount_source, ["bind"])
    _assert_mount_landed_inside(runtime, bundle, host_target, "/etc/evil")


def test_tmpfs_destination_symlink_stays_in_rootfs(runtime, bundle, host_target):
    _in_rootfs(bundle, host_target)
    (bundle.rootfs / "evil").symlink_to("../../../../../../" + str(host_target).lstrip("/"))
    bundle.add_mount("/evil", "tmpfs", "tmpfs", ["size=1m"])
    runtime.output(bundle, "sh", "-c", "touch /evil/written")
    assert os.listdir(host_target) == []


def test_mount_destination_symlink_in_parent_dir_stays_in_rootfs(runtime, bundle, host_target,
                                                                 mount_source):
    _in_rootfs(bundle, host_target)
    (bundle.rootfs / "parent").symlink_to(host_target)
    bundle.add_mount("/parent/sub", "bind", mount_source, ["bind"])
    _assert_mount_landed_inside(runtime, bundle, host_target, "/parent/sub")


# ---------------------------------------------------------------- masked and read-only paths


@pytest.mark.parametrize("path", ["/proc/kcore", "/proc/keys", "/proc/timer_list",
                                  "/proc/sched_debug"])
def test_masked_proc_file_reveals_nothing(runtime, bundle, path):
    masked = bundle.linux.setdefault("maskedPaths", [])
    if path not in masked:
        masked.append(path)
    bundle.args("sh", "-c", f"cat {path} 2>/dev/null | wc -c")
    assert runtime.run_container(bundle).stdout.strip() == "0"


def test_masked_sys_firmware_is_empty(runtime, bundle):
    masked = bundle.linux.setdefault("maskedPaths", [])
    if "/sys/firmware" not in masked:
        masked.append("/sys/firmware")
    assert runtime.output(bundle, "ls", "-A", "/sys/firmware") == ""


def test_core_pattern_cannot_be_changed_from_container(runtime, bundle):
    before = open("/proc/sys/kernel/core_pattern").read()
    bundle.args("sh -c 'echo \"|/tmp/pwn\" > /proc/sys/kernel/core_pattern'")
    assert runtime.run_container(bundle).returncode != 0
    assert open("/proc/sys/kernel/core_pattern").read() == before


def test_sysrq_trigger_is_read_only(runtime, bundle):
    bundle.args("sh -c 'echo h > /proc/sysrq-trigger'")
    assert runtime.run_container(bundle).returncode != 0


def test_cgroup_release_agent_cannot_be_written(runtime, bundle):
    bundle.args("sh -c 'for f in /sys/fs/cgroup/*/release_agent /sys/fs/cgroup/release_agent; "
                "do [ -e $f ] && echo /tmp/pwn > $f && echo WROTE $f; done; true'")
    res = runtime.run_container(bundle)
    assert "WROTE" not in res.stdout, res


@pytest.mark.cgroup
def test_host_disk_cannot_be_read_even_with_mknod(runtime, bundle):
    disks = [d for d in ("/dev/vda", "/dev/sda", "/dev/nvme0n1") if os.path.exists(d)]
    if not disks:
        pytest.skip("no host disk device found")
    rdev = os.stat(disks[0]).st_rdev
    caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
    bundle.args("sh", "-c", f"mknod /tmp/disk b {os.major(rdev)} {os.minor(rdev)}; "
                            "head -c 512 /tmp/disk | wc -c")
    res = runtime.run_container(bundle)
    assert res.stdout.strip() in ("", "0"), res
    assert stat.S_ISDIR(os.stat(bundle.rootfs / "tmp").st_mode)
