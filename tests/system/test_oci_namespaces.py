"""linux.namespaces: new namespaces of each type, user namespace mappings, joining by path."""

import os
import re

import pytest

from conftest import ns_inode, wait_for

NS_FILES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
            "user": "user", "cgroup": "cgroup"}


def inside_ns_inodes(runtime, bundle):
    """{type: inode} of the namespaces of a container process, read from inside."""
    script = "for n in pid net mnt ipc uts user cgroup; do echo $n $(readlink /proc/self/ns/$n); done"
    out = runtime.output(bundle, "sh", "-c", script)
    result = {}
    for line in out.splitlines():
        name, link = line.split(" ", 1)
        result[name] = int(re.search(r"\[(\d+)\]", link).group(1))
    return result


@pytest.mark.parametrize("kind", ["pid", "network", "mount", "ipc", "uts", "cgroup"])
def test_namespace_is_new_when_configured(runtime, bundle, kind):
    bundle.set_namespace(kind)
    inodes = inside_ns_inodes(runtime, bundle)
    f = NS_FILES[kind]
    assert inodes[f] != ns_inode("self", f)


@pytest.mark.parametrize("kind", ["network", "ipc", "uts", "cgroup"])
def test_namespace_is_shared_with_host_when_absent(runtime, bundle, kind):
    bundle.drop_namespace(kind)
    if kind == "uts":
        bundle.config.pop("hostname", None)
        bundle.config.pop("domainname", None)
    inodes = inside_ns_inodes(runtime, bundle)
    f = NS_FILES[kind]
    assert inodes[f] == ns_inode("self", f)


def test_pid_namespace_makes_process_pid_1(runtime, bundle):
    assert runtime.output(bundle, "sh -c 'echo $$'").strip() == "1"


def test_network_namespace_has_only_loopback(runtime, bundle):
    bundle.set_namespace("network")
    out = runtime.output(bundle, "cat", "/proc/net/dev")
    ifaces = {line.split(":")[0].strip() for line in out.splitlines()[2:]}
    assert ifaces == {"lo"}


def test_ipc_namespace_hides_host_sysv_objects(runtime, bundle):
    out = runtime.output(bundle, "cat", "/proc/sysvipc/shm")
    assert len(out.strip().splitlines()) == 1  # header only


def test_cgroup_namespace_root_is_container_cgroup(runtime, bundle):
    bundle.set_namespace("cgroup")
    out = runtime.output(bundle, "cat", "/proc/self/cgroup")
    for line in out.splitlines():
        assert line.split(":", 2)[2] == "/", line


# ---------------------------------------------------------------- user namespace


def userns(bundle, host_uid=100000, size=65536):
    bundle.set_namespace("user")
    bundle.linux["uidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
    bundle.linux["gidMappings"] = [{"containerID": 0, "hostID": host_uid, "size": size}]
    # sysfs and cgroup cannot be mounted in a user namespace that does not own the network
    # namespace; the usual rootless recipe binds the host's /sys instead.
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    bundle.add_mount("/sys", "bind", "/sys", ["rbind", "nosuid", "noexec", "nodev", "ro"])


def test_user_namespace_uid_map(runtime, bundle):
    userns(bundle)
    out = runtime.output(bundle, "cat", "/proc/self/uid_map", "/proc/self/gid_map")
    rows = [line.split() for line in out.splitlines()]
    assert rows == [["0", "100000", "65536"], ["0", "100000", "65536"]]


def test_user_namespace_root_is_unprivileged_on_host(runtime, bundle):
    userns(bundle)
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    st = os.stat(f"/proc/{pid}")
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    res = runtime.exec(cid, "id", "-u")
    assert res.stdout.strip() == "0"


def test_user_namespace_unmapped_files_appear_as_overflow_id(runtime, bundle):
    userns(bundle, host_uid=200000, size=1000)
    assert runtime.output(bundle, "stat", "-c", "%u", "/bin/busybox").strip() == "65534"


def test_user_namespace_maps_container_uid_to_host_range(runtime, bundle):
    userns(bundle)
    os.chown(bundle.rootfs / "tmp", 100000, 100000)
    runtime.output(bundle, "touch /tmp/made-inside")
    st = os.stat(bundle.rootfs / "tmp" / "made-inside")
    assert (st.st_uid, st.st_gid) == (100000, 100000)


# ---------------------------------------------------------------- joining by path


def test_join_network_namespace_by_path(runtime, bundle, netns):
    bundle.set_namespace("network", netns)
    out = runtime.output(bundle, "readlink", "/proc/self/ns/net")
    assert out.strip() == f"net:[{os.stat(netns).st_ino}]"


def test_join_uts_namespace_of_host_process(runtime, bundle, host_procs):
    holder = host_procs(["unshare", "--uts", "sh", "-c", "hostname held-ns; exec sleep 600"])
    wait_for(lambda: os.readlink(f"/proc/{holder.pid}/exe").endswith("sleep"),
             what="namespace holder")
    bundle.set_namespace("uts", f"/proc/{holder.pid}/ns/uts")
    bundle.config.pop("hostname", None)
    assert runtime.output(bundle, "hostname").strip() == "held-ns"


def test_join_ipc_namespace_of_other_container(runtime, bundle, new_bundle):
    first = runtime.create_started(bundle)
    pid = runtime.pid(first)
    second = new_bundle("second")
    second.set_namespace("ipc", f"/proc/{pid}/ns/ipc")
    out = second_out = runtime.output(second, "readlink", "/proc/self/ns/ipc")
    assert out.strip() == f"ipc:[{ns_inode(pid, 'ipc')}]", second_out


def test_join_nonexistent_namespace_path_fails(runtime, bundle, workdir):
    bundle.set_namespace("network", workdir / "no-such-ns")
    bundle.args("true")
    assert runtime.run_container(bundle).returncode != 0


@pytest.mark.skiff_only  # runc 1.1 has no time namespaces (1.2 added them)
def test_time_namespace_applies_boottime_offset(runtime, bundle):
    bundle.set_namespace("time")
    bundle.linux["timeOffsets"] = {"boottime": {"secs": 86400, "nanosecs": 0}}
    host_uptime = float(open("/proc/uptime").read().split()[0])
    inside = float(runtime.output(bundle, "cat", "/proc/uptime").split()[0])
    assert inside - host_uptime >= 86400 - 5
