"""config.json `root` and `mounts`: bind, rbind, proc, sysfs, tmpfs, devpts, mqueue, cgroup,
propagation and read-only remounts."""

import os
import subprocess

import pytest


def proc_mounts(text):
    """Parse /proc/mounts output into {mount point: (fstype, set(options))} (last one wins)."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        out[f[1]] = (f[2], set(f[3].split(",")))
    return out


def container_mounts(runtime, bundle):
    return proc_mounts(runtime.output(bundle, "cat", "/proc/mounts"))


@pytest.fixture
def host_dir(workdir):
    d = workdir / "hostdir"
    d.mkdir()
    (d / "hello").write_text("from the host\n")
    return d


# ---------------------------------------------------------------- root


def test_root_readonly_refuses_writes(runtime, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.args("touch /newfile")
    assert runtime.run_container(bundle).returncode != 0
    assert not (bundle.rootfs / "newfile").exists()


def test_root_readonly_keeps_tmpfs_mounts_writable(runtime, bundle):
    bundle.config["root"]["readonly"] = True
    bundle.add_mount("/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev"])
    assert runtime.output(bundle, "sh -c 'echo ok > /tmp/f && cat /tmp/f'") == "ok\n"


def test_root_writable_by_default_in_fixture(runtime, bundle):
    runtime.output(bundle, "touch /newfile")
    assert (bundle.rootfs / "newfile").exists()


def test_root_path_absolute(runtime, bundle):
    bundle.config["root"]["path"] = str(bundle.rootfs)
    assert runtime.output(bundle, "echo", "abs") == "abs\n"


def test_root_is_the_bundle_rootfs(runtime, bundle):
    (bundle.rootfs / "marker-in-rootfs").write_text("yes\n")
    assert runtime.output(bundle, "cat", "/marker-in-rootfs") == "yes\n"


# ---------------------------------------------------------------- bind mounts


def test_bind_mount_shows_host_dir(runtime, bundle, host_dir):
    bundle.add_mount("/data", "bind", host_dir, ["bind"])
    assert runtime.output(bundle, "cat", "/data/hello") == "from the host\n"


def test_bind_mount_writes_reach_host(runtime, bundle, host_dir):
    bundle.add_mount("/data", "bind", host_dir, ["rbind", "rw"])
    runtime.output(bundle, "sh -c 'echo written > /data/out'")
    assert (host_dir / "out").read_text() == "written\n"


def test_bind_mount_ro_refuses_writes(runtime, bundle, host_dir):
    bundle.add_mount("/data", "bind", host_dir, ["bind", "ro"])
    bundle.args("sh -c 'echo x > /data/out'")
    assert runtime.run_container(bundle).returncode != 0
    assert not (host_dir / "out").exists()


def test_bind_mount_ro_is_listed_ro(runtime, bundle, host_dir):
    bundle.add_mount("/data", "bind", host_dir, ["rbind", "ro"])
    _, opts = container_mounts(runtime, bundle)["/data"]
    assert "ro" in opts


def test_bind_mount_ro_does_not_make_host_ro(runtime, bundle, host_dir):
    bundle.add_mount("/data", "bind", host_dir, ["bind", "ro"])
    runtime.output(bundle, "true")
    (host_dir / "still-writable").write_text("yes")


def test_bind_mount_of_file(runtime, bundle, host_dir):
    bundle.add_mount("/etc/injected.conf", "bind", host_dir / "hello", ["bind", "ro"])
    assert runtime.output(bundle, "cat", "/etc/injected.conf") == "from the host\n"


def test_bind_mount_creates_missing_destination(runtime, bundle, host_dir):
    bundle.add_mount("/new/deep/dir", "bind", host_dir, ["bind"])
    assert runtime.output(bundle, "cat", "/new/deep/dir/hello") == "from the host\n"


def test_rbind_includes_submounts(runtime, bundle, host_dir, host_mount):
    (host_dir / "sub").mkdir()
    host_mount("-t", "tmpfs", "skiff-sub", host_dir / "sub")
    (host_dir / "sub" / "inner").write_text("submount\n")
    bundle.add_mount("/data", "bind", host_dir, ["rbind"])
    assert runtime.output(bundle, "cat", "/data/sub/inner") == "submount\n"


def test_bind_without_r_excludes_submounts(runtime, bundle, host_dir, host_mount):
    (host_dir / "sub").mkdir()
    host_mount("-t", "tmpfs", "skiff-sub", host_dir / "sub")
    (host_dir / "sub" / "inner").write_text("submount\n")
    bundle.add_mount("/data", "bind", host_dir, ["bind"])
    assert runtime.output(bundle, "ls", "-A", "/data/sub") == ""


def test_bind_mount_nosuid_nodev_noexec_options(runtime, bundle, host_dir):
    script = host_dir / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    bundle.add_mount("/data", "bind", host_dir, ["bind", "noexec", "nosuid", "nodev"])
    _, opts = container_mounts(runtime, bundle)["/data"]
    assert {"noexec", "nosuid", "nodev"} <= opts
    bundle.args("/data/run.sh")
    assert runtime.run_container(bundle).returncode != 0


# ---------------------------------------------------------------- propagation


def _shared_host_dir(host_dir, host_mount):
    host_mount("--bind", host_dir, host_dir)
    subprocess.run(["mount", "--make-shared", str(host_dir)], check=True)
    (host_dir / "late").mkdir()


def test_rslave_mount_receives_host_mounts(runtime, bundle, host_dir, host_mount):
    _shared_host_dir(host_dir, host_mount)
    # As Docker does for a slave volume: the container's root must be a slave too, or a
    # runtime that makes it private first leaves the bind mount without a master.
    bundle.linux["rootfsPropagation"] = "rslave"
    bundle.add_mount("/shared", "bind", host_dir, ["rbind", "rslave"])
    cid = runtime.create_started(bundle)
    host_mount("-t", "tmpfs", "skiff-late", host_dir / "late")
    (host_dir / "late" / "marker").write_text("propagated\n")
    res = runtime.exec(cid, "cat", "/shared/late/marker")
    assert res.returncode == 0 and res.stdout == "propagated\n"


def test_rprivate_mount_does_not_receive_host_mounts(runtime, bundle, host_dir, host_mount):
    _shared_host_dir(host_dir, host_mount)
    bundle.add_mount("/shared", "bind", host_dir, ["rbind", "rprivate"])
    cid = runtime.create_started(bundle)
    host_mount("-t", "tmpfs", "skiff-late", host_dir / "late")
    (host_dir / "late" / "marker").write_text("propagated\n")
    res = runtime.exec(cid, "ls", "-A", "/shared/late")
    assert res.returncode == 0 and res.stdout == ""


def test_container_mounts_do_not_propagate_to_host(runtime, bundle, host_dir, host_mount):
    _shared_host_dir(host_dir, host_mount)
    bundle.add_mount("/shared", "bind", host_dir, ["rbind", "rslave"])
    set_all_caps(bundle)
    runtime.output(bundle, "mount -t tmpfs inner /shared/late")
    assert not any("late" in line.split()[4]
                   for line in open("/proc/self/mountinfo") if str(host_dir) in line)


def test_rootfs_propagation_private_isolates_host(runtime, bundle, host_dir, host_mount):
    bundle.linux["rootfsPropagation"] = "private"
    _shared_host_dir(host_dir, host_mount)
    bundle.add_mount("/shared", "bind", host_dir, ["rbind", "rprivate"])
    set_all_caps(bundle)
    runtime.output(bundle, "mount -t tmpfs inner /shared/late")
    assert os.listdir(host_dir / "late") == []


def set_all_caps(bundle):
    caps = ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE"]
    bundle.process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}


# ---------------------------------------------------------------- special filesystems


def test_proc_mount(runtime, bundle):
    fstype, _ = container_mounts(runtime, bundle)["/proc"]
    assert fstype == "proc"


def test_proc_shows_only_container_pids(runtime, bundle):
    out = runtime.output(bundle, "sh -c 'ls /proc | grep -E \"^[0-9]+$\"'")
    pids = out.split()
    assert "1" in pids and len(pids) <= 5, pids


def test_sysfs_mount_is_read_only(runtime, bundle):
    fstype, opts = container_mounts(runtime, bundle)["/sys"]
    assert fstype == "sysfs" and "ro" in opts


def test_tmpfs_mount_options(runtime, bundle):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs",
                     ["nosuid", "nodev", "noexec", "mode=1770", "size=2m"])
    out = runtime.output(bundle, "sh -c 'stat -c %a /scratch; grep \" /scratch \" /proc/mounts'")
    mode, line = out.split("\n", 1)
    assert mode == "1770"
    fstype, opts = proc_mounts(line)["/scratch"]
    assert fstype == "tmpfs"
    assert {"nosuid", "nodev", "noexec", "size=2048k"} <= opts


def test_tmpfs_size_limit_enforced(runtime, bundle):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", ["size=1m"])
    bundle.args("dd if=/dev/zero of=/scratch/big bs=1024 count=2048")
    assert runtime.run_container(bundle).returncode != 0


def test_tmpfs_is_private_to_container(runtime, bundle):
    bundle.add_mount("/scratch", "tmpfs", "tmpfs", [])
    runtime.output(bundle, "touch /scratch/only-in-tmpfs")
    assert not (bundle.rootfs / "scratch" / "only-in-tmpfs").exists()


def test_devpts_mount_is_new_instance(runtime, bundle):
    fstype, opts = container_mounts(runtime, bundle)["/dev/pts"]
    assert fstype == "devpts"
    out = runtime.output(bundle, "ls", "/dev/pts")
    assert out.split() == ["ptmx"]  # no host ptys are visible


def test_mqueue_mount(runtime, bundle):
    fstype, _ = container_mounts(runtime, bundle)["/dev/mqueue"]
    assert fstype == "mqueue"


def test_dev_shm_is_tmpfs(runtime, bundle):
    fstype, opts = container_mounts(runtime, bundle)["/dev/shm"]
    assert fstype == "tmpfs"
    assert "nosuid" in opts and "nodev" in opts


def test_cgroup_mount_is_read_only_and_populated(runtime, bundle):
    mounts = container_mounts(runtime, bundle)
    cg = [m for m, (t, _) in mounts.items() if m.startswith("/sys/fs/cgroup") and
          t in ("cgroup", "cgroup2")]
    assert cg, "no cgroup filesystem under /sys/fs/cgroup"
    for m in cg:
        assert "ro" in mounts[m][1], m
    bundle.args("mkdir /sys/fs/cgroup/skiff-should-fail")
    assert runtime.run_container(bundle).returncode != 0


def test_mounts_are_applied_in_order(runtime, bundle, host_dir, workdir):
    other = workdir / "other"
    other.mkdir()
    (other / "over").write_text("second\n")
    bundle.add_mount("/data", "bind", host_dir, ["bind"])
    bundle.add_mount("/data", "bind", other, ["bind"])
    assert runtime.output(bundle, "cat", "/data/over") == "second\n"
