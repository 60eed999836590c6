"""linux.resources (memory, pids, cpu, cpuset), `update` and `events --stats`.

Cgroup files are located through /proc/PID/cgroup (conftest.Cgroup), so every test here also
runs on a pure cgroup v2 host.
"""

import json

import pytest

from conftest import IS_SKIFF, Cgroup

pytestmark = pytest.mark.cgroup

MiB = 1024 * 1024


def started_with(runtime, bundle, **resources):
    bundle.linux.setdefault("resources", {}).update(resources)
    cid = runtime.create_started(bundle)
    return cid, runtime.pid(cid)


def stats(runtime, cid):
    """The data object of `events --stats` (one JSON event)."""
    res = runtime.run("events", "--stats", cid, timeout=15)
    event = json.loads(res.stdout.strip().splitlines()[0])
    assert event["type"] == "stats"
    assert event["id"] == cid
    return event["data"]


def v2_weight(shares):
    # The conversion runc and crun use for cpu.shares on cgroup v2.
    return 1 + ((shares - 2) * 9999) // 262142


# ---------------------------------------------------------------- memory


def test_memory_limit_written_to_cgroup(runtime, bundle):
    cid, pid = started_with(runtime, bundle, memory={"limit": 48 * MiB})
    cg = Cgroup.of(pid, "memory")
    assert int(cg.read(v1="memory.limit_in_bytes", v2="memory.max")) == 48 * MiB


def test_memory_limit_oom_kills_process(runtime, bundle):
    cid, pid = started_with(runtime, bundle, memory={"limit": 16 * MiB})
    res = runtime.exec(cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
    assert res.returncode == 137, res


def test_oom_kill_visible_in_events_stats(runtime, bundle):
    """After an OOM kill, `events --stats` shows it: memory.usage.failcnt > 0 (v1
    memory.failcnt; on v2 e.g. memory.events "max") or memory.raw.oom_kill > 0 (v2
    memory.events "oom_kill")."""
    cid, pid = started_with(runtime, bundle, memory={"limit": 16 * MiB})
    if not IS_SKIFF and not Cgroup.of(pid, "memory").v1:
        pytest.skip("runc 1.1 reports no OOM counter in events --stats on cgroup v2")
    runtime.exec(cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
    mem = stats(runtime, cid)["memory"]
    failcnt = mem.get("usage", {}).get("failcnt", 0)
    oom_kills = mem.get("raw", {}).get("oom_kill", 0)
    assert failcnt > 0 or oom_kills > 0, mem


def test_container_below_memory_limit_is_not_killed(runtime, bundle):
    cid, pid = started_with(runtime, bundle, memory={"limit": 64 * MiB})
    res = runtime.exec(cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1")
    assert res.returncode == 0, res


# ---------------------------------------------------------------- pids


def test_pids_limit_written_to_cgroup(runtime, bundle):
    cid, pid = started_with(runtime, bundle, pids={"limit": 12})
    assert Cgroup.of(pid, "pids").read(v1="pids.max", v2="pids.max") == "12"


def test_pids_limit_makes_fork_fail(runtime, bundle):
    cid, pid = started_with(runtime, bundle, pids={"limit": 6})
    script = ("i=0; while [ $i -lt 10 ]; do sleep 2 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; "
              "echo finished")
    res = runtime.exec(cid, "sh", "-c", script)
    assert "fork" in res.stderr.lower() or res.returncode != 0, res
    cg = Cgroup.of(pid, "pids")
    assert int(cg.read(v1="pids.current", v2="pids.current")) <= 6


# ---------------------------------------------------------------- cpu


def test_cpu_shares_written_to_cgroup(runtime, bundle):
    cid, pid = started_with(runtime, bundle, cpu={"shares": 512})
    cg = Cgroup.of(pid, "cpu")
    if cg.v1:
        assert cg.read(v1="cpu.shares") == "512"
    else:
        assert int(cg.read(v2="cpu.weight")) == v2_weight(512)


def test_cpu_quota_and_period_written_to_cgroup(runtime, bundle):
    cid, pid = started_with(runtime, bundle, cpu={"quota": 25000, "period": 100000})
    cg = Cgroup.of(pid, "cpu")
    if cg.v1:
        assert cg.read(v1="cpu.cfs_quota_us") == "25000"
        assert cg.read(v1="cpu.cfs_period_us") == "100000"
    else:
        assert cg.read(v2="cpu.max") == "25000 100000"


def test_cpuset_cpus_written_to_cgroup(runtime, bundle):
    cid, pid = started_with(runtime, bundle, cpu={"cpus": "0"})
    cg = Cgroup.of(pid, "cpuset")
    assert cg.read(v1="cpuset.cpus", v2="cpuset.cpus") == "0"
    status = open(f"/proc/{pid}/status").read()
    assert "Cpus_allowed_list:\t0\n" in status


# ---------------------------------------------------------------- update


def test_update_resources_file_changes_limits(runtime, bundle, workdir):
    cid, pid = started_with(runtime, bundle, memory={"limit": 64 * MiB}, pids={"limit": 50})
    f = workdir / "resources.json"
    f.write_text(json.dumps({"memory": {"limit": 96 * MiB}, "pids": {"limit": 30}}))
    runtime.run("update", "--resources", f, cid)
    assert int(Cgroup.of(pid, "memory").read(v1="memory.limit_in_bytes",
                                             v2="memory.max")) == 96 * MiB
    assert Cgroup.of(pid, "pids").read(v1="pids.max", v2="pids.max") == "30"


def test_update_resources_from_stdin(runtime, bundle):
    cid, pid = started_with(runtime, bundle, pids={"limit": 50})
    runtime.run("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 25}}))
    assert Cgroup.of(pid, "pids").read(v1="pids.max", v2="pids.max") == "25"


def test_update_memory_flag(runtime, bundle):
    cid, pid = started_with(runtime, bundle, memory={"limit": 64 * MiB})
    runtime.run("update", "--memory", str(80 * MiB), cid)
    cg = Cgroup.of(pid, "memory")
    assert int(cg.read(v1="memory.limit_in_bytes", v2="memory.max")) == 80 * MiB


def test_update_pids_limit_flag(runtime, bundle):
    cid, pid = started_with(runtime, bundle)
    runtime.run("update", "--pids-limit", "17", cid)
    assert Cgroup.of(pid, "pids").read(v1="pids.max", v2="pids.max") == "17"


def test_update_cpu_quota_flags(runtime, bundle):
    cid, pid = started_with(runtime, bundle)
    runtime.run("update", "--cpu-period", "100000", "--cpu-quota", "30000", cid)
    cg = Cgroup.of(pid, "cpu")
    if cg.v1:
        assert cg.read(v1="cpu.cfs_quota_us") == "30000"
    else:
        assert cg.read(v2="cpu.max") == "30000 100000"


def test_update_cpu_share_flag(runtime, bundle):
    cid, pid = started_with(runtime, bundle)
    runtime.run("update", "--cpu-share", "256", cid)
    cg = Cgroup.of(pid, "cpu")
    if cg.v1:
        assert cg.read(v1="cpu.shares") == "256"
    else:
        assert int(cg.read(v2="cpu.weight")) == v2_weight(256)


def test_update_lowered_pids_limit_is_enforced(runtime, bundle):
    cid, pid = started_with(runtime, bundle, pids={"limit": 100})
    runtime.run("update", "--pids-limit", "3", cid)
    script = "for i in 1 2 3 4; do sleep 2 </dev/null >/dev/null 2>&1 & done; echo finished"
    res = runtime.exec(cid, "sh", "-c", script)
    assert "fork" in res.stderr.lower() or res.returncode != 0, res


def test_update_unknown_container_fails(runtime):
    assert runtime.run("update", "--pids-limit", "5", runtime.token + "-nosuch",
                       check=False).returncode != 0


# ---------------------------------------------------------------- events --stats


def test_events_stats_reports_memory_pids_cpu(runtime, bundle):
    cid, pid = started_with(runtime, bundle, pids={"limit": 40})
    data = stats(runtime, cid)
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"]["current"] >= 1
    assert data["pids"]["limit"] == 40
    assert data["cpu"]["usage"]["total"] > 0


def test_events_stats_memory_limit_matches_config(runtime, bundle):
    cid, pid = started_with(runtime, bundle, memory={"limit": 40 * MiB})
    assert stats(runtime, cid)["memory"]["usage"]["limit"] == 40 * MiB


def test_events_stats_of_stopped_container_fails(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    assert runtime.run("events", "--stats", cid, check=False).returncode != 0
