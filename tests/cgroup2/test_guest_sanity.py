"""The guest that run-in-qemu boots really is a pure cgroup v2 host.

Runs only there (run-in-qemu sets SKIFF_CGROUP2_GUEST=1): it proves that
the cgroup tests which run beside it saw cgroup2 with every controller,
and that the harness itself works.
"""
import os
import subprocess
import time

import pytest

pytestmark = [
    pytest.mark.cgroup,
    pytest.mark.skipif(os.environ.get("SKIFF_CGROUP2_GUEST") != "1",
                       reason="only in the guest of tests/cgroup2/run-in-qemu"),
]

ROOT = "/sys/fs/cgroup"
CONTROLLERS = {"cpuset", "cpu", "io", "memory", "pids", "hugetlb"}


def mounts():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ")
            yield left.split()[4], right.split()[0]


def test_cgroup2_is_the_only_hierarchy():
    types = dict(mounts())
    assert types.get(ROOT) == "cgroup2"
    out = subprocess.run(["stat", "-f", "-c", "%T", ROOT], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == "cgroup2fs"
    assert [m for m, t in mounts() if t == "cgroup"] == []
    with open("/proc/self/cgroup") as f:
        assert f.read().splitlines() == ["0::/tests.scope"]


def test_every_controller_available_and_enabled():
    with open(f"{ROOT}/cgroup.controllers") as f:
        available = set(f.read().split())
    with open(f"{ROOT}/cgroup.subtree_control") as f:
        enabled = set(f.read().split())
    assert CONTROLLERS <= available
    assert CONTROLLERS <= enabled


def test_limits_apply_to_a_child_cgroup():
    cg = f"{ROOT}/sanity-{os.getpid()}"
    os.mkdir(cg)
    proc = None
    try:
        for name, value in [("memory.max", "67108864"), ("pids.max", "10"),
                            ("cpu.max", "50000 100000"), ("cpu.weight", "50"),
                            ("cpuset.cpus", "0")]:
            with open(f"{cg}/{name}", "w") as f:
                f.write(value)
            with open(f"{cg}/{name}") as f:
                assert f.read().strip() == value
        # Join first, then exec: memory already charged stays where it was,
        # so only pages allocated after the move show in memory.current.
        proc = subprocess.Popen(["sh", "-c", f"echo $$ > {cg}/cgroup.procs && exec sleep 60"])
        for _ in range(100):
            with open(f"/proc/{proc.pid}/comm") as f:
                if f.read().strip() == "sleep":
                    break
            time.sleep(0.05)
        with open(f"/proc/{proc.pid}/cgroup") as f:
            assert f.read().strip() == f"0::/sanity-{os.getpid()}"
        with open(f"{cg}/pids.current") as f:
            assert int(f.read()) == 1
        with open(f"{cg}/memory.current") as f:
            assert int(f.read()) > 0
    finally:
        if proc:
            proc.kill()
            proc.wait()
        for _ in range(50):  # the kernel frees the cgroup a moment after
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
