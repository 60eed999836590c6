"""top, stats and update through skiffd, driven by the real docker CLI (28), skiff's own
CLI and python3-docker, checked against /proc and the container's cgroup files.

Marked `cgroup`: `make check-cgroup2` runs this module again on a pure cgroup v2 guest,
where the same checks read the v2 files (Cgroup picks the file name per version)."""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

import pytest

from conftest import Cgroup, wait_for
from engine import DOCKER, REPO, SKIFFD

SKIFF = str(REPO / "build" / "skiff")
MiB = 1024 * 1024

pytestmark = [
    pytest.mark.cgroup,
    pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None,
                       reason="needs build/skiffd and the docker CLI"),
]
CLIS = ["docker", "skiff"]


def cli(engine, which, *args, check=True, timeout=60):
    """Run the docker CLI or skiff's against the engine."""
    binary = DOCKER if which == "docker" else SKIFF
    res = subprocess.run([binary, *map(str, args)], env=engine.env, capture_output=True,
                         text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{which} {' '.join(map(str, args))} -> {res.returncode}: "
                             f"{res.stderr.strip()}")
    return res


def api(engine, method, path, body=None, raw=None):
    """One request on the engine's socket: (status, decoded JSON body or text)."""
    conn = http.client.HTTPConnection("localhost", timeout=30)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(str(engine.sock))
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def inspect(engine, ref):
    return json.loads(engine.docker("inspect", ref).stdout)[0]


def name():
    return f"st-{uuid.uuid4().hex[:8]}"


def run(engine, *args):
    """docker run -d ARGS; the container's id once it runs."""
    cid = engine.docker("run", "-d", *args).stdout.strip()
    wait_for(lambda: inspect(engine, cid)["State"]["Pid"] > 0, what="running container")
    return cid


@pytest.fixture
def container(engine):
    """Containers made by a test, removed after it."""
    made = []

    def make(*args):
        cid = run(engine, *args)
        made.append(cid)
        return cid

    yield make
    if made:
        engine.docker("rm", "-f", *made, check=False)


def init_pid(engine, cid):
    return inspect(engine, cid)["State"]["Pid"]


def cgroup_pids(pid):
    """The PIDs in the container's cgroup (cgroup.procs, v1 pids controller or v2)."""
    cg = Cgroup.of(pid, "pids")
    return {int(p) for p in (cg.path / "cgroup.procs").read_text().split()}


def cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().rstrip(b"\0").replace(b"\0", b" ").decode()


def memory_usage(pid):
    return int(Cgroup.of(pid, "memory").read(v1="memory.usage_in_bytes", v2="memory.current"))


def cpu_usage_ns(pid):
    cg = Cgroup.of(pid, "cpuacct" if Cgroup.of(pid, "memory").v1 else "cpu")
    if cg.v1:
        return int(cg.read(v1="cpuacct.usage"))
    stat = dict(line.split() for line in cg.read(v2="cpu.stat").splitlines())
    return int(stat["usage_usec"]) * 1000


def table(text):
    """Rows of a docker table (columns split on 2+ spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


# ---- top ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", CLIS)
def test_top_lists_the_container_processes_with_host_pids(engine, container, which):
    cid = container("busybox", "sh", "-c", "sleep 1001 & sleep 1002 & wait")
    pid = init_pid(engine, cid)
    wait_for(lambda: len(cgroup_pids(pid)) == 3, what="three processes")
    rows = table(cli(engine, which, "top", cid).stdout)
    assert rows[0] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    shown = {int(r[1]): r for r in rows[1:]}
    assert set(shown) == cgroup_pids(pid)
    assert pid in shown
    for p, row in shown.items():
        assert row[-1] == cmdline(p)
        assert int(row[2]) == (pid if p != pid else int(open(f"/proc/{p}/stat").read()
                                                         .rsplit(")", 1)[1].split()[1]))


@pytest.mark.parametrize("which", CLIS)
def test_top_passes_ps_options(engine, container, which):
    cid = container("busybox", "sleep", "1000")
    pid = init_pid(engine, cid)
    rows = table(cli(engine, which, "top", cid, "-o", "pid,comm").stdout)
    assert rows == [["PID", "COMMAND"], [str(pid), "sleep"]]
    rows = table(cli(engine, which, "top", cid, "aux").stdout)
    assert rows[0][:3] == ["USER", "PID", "%CPU"] and rows[0][-1] == "COMMAND"
    assert [r[1] for r in rows[1:]] == [str(pid)]


def test_top_api_answers_like_dockerd(engine, container):
    cid = container("busybox", "sleep", "1000")
    status, body = api(engine, "GET", f"/containers/{cid}/top?ps_args=-o%20pid,args")
    assert status == 200
    assert body["Titles"] == ["PID", "COMMAND"]
    assert body["Processes"] == [[str(init_pid(engine, cid)), "sleep 1000"]]
    status, body = api(engine, "GET", f"/v1.41/containers/{cid}/top?ps_args=--bogus")
    assert status == 500 and body["message"].startswith("ps: ")
    status, body = api(engine, "GET", f"/containers/{cid}/top?ps_args=-o%20user=PIDX")
    assert (status, body["message"]) == (500, 'specifying "user=PIDX" is not allowed')
    status, body = api(engine, "GET", f"/containers/{cid}/top?ps_args=-o%20comm")
    assert (status, body["message"]) == (500, "Couldn't find PID field in ps output")


@pytest.mark.parametrize("which", CLIS)
def test_top_refuses_a_stopped_or_unknown_container(engine, which):
    cid = engine.docker("create", "busybox", "true").stdout.strip()
    try:
        status, body = api(engine, "GET", f"/containers/{cid}/top")
        assert (status, body["message"]) == (409, f"Container {cid} is not running")
        res = cli(engine, which, "top", cid, check=False)
        assert res.returncode == 1
        assert res.stderr.strip() == f"Error response from daemon: Container {cid} is not running"
        res = cli(engine, which, "top", "no-such-ctr", check=False)
        assert res.returncode == 1
        assert "No such container: no-such-ctr" in res.stderr
    finally:
        engine.docker("rm", cid)


# ---- stats: the API -----------------------------------------------------------------------


def test_stats_match_the_cgroup_files(engine, container):
    cid = container("--name", name(), "-m", "64m", "--pids-limit", "20", "busybox", "sh",
                    "-c", "sleep 1001 & sleep 1002 & wait")
    pid = init_pid(engine, cid)
    wait_for(lambda: len(cgroup_pids(pid)) == 3, what="three processes")
    mem_before, cpu_before = memory_usage(pid), cpu_usage_ns(pid)
    status, s = api(engine, "GET", f"/containers/{cid}/stats?stream=0&one-shot=1")
    mem_after, cpu_after = memory_usage(pid), cpu_usage_ns(pid)
    assert status == 200
    assert s["id"] == cid and s["name"] == inspect(engine, cid)["Name"]
    m = s["memory_stats"]
    assert min(mem_before, mem_after) - 256 * 1024 <= m["usage"] <= max(mem_before, mem_after) + 256 * 1024
    assert m["limit"] == 64 * MiB
    assert s["pids_stats"] == {"current": 3, "limit": 20}
    assert int(Cgroup.of(pid, "pids").read(v1="pids.current", v2="pids.current")) == 3
    assert cpu_before <= s["cpu_stats"]["cpu_usage"]["total_usage"] <= cpu_after
    assert s["cpu_stats"]["online_cpus"] == os.cpu_count()
    assert s["cpu_stats"]["system_cpu_usage"] > 0
    assert s["preread"] == "0001-01-01T00:00:00Z"  # one-shot: no earlier sample
    if Cgroup.of(pid, "memory").v1:
        assert "total_inactive_file" in m["stats"] and "max_usage" in m
        assert isinstance(s["blkio_stats"]["io_service_bytes_recursive"], list)
    else:
        assert "inactive_file" in m["stats"] and "max_usage" not in m
    assert "networks" not in s  # only loopback, as docker with --network none


def test_stats_without_stream_waits_for_a_second_sample(engine, container):
    cid = container("busybox", "sleep", "1000")
    t0 = time.monotonic()
    status, s = api(engine, "GET", f"/containers/{cid}/stats?stream=0")
    assert status == 200 and 0.8 <= time.monotonic() - t0 < 3
    assert s["preread"] != "0001-01-01T00:00:00Z"
    assert s["precpu_stats"]["system_cpu_usage"] < s["cpu_stats"]["system_cpu_usage"]


def test_stats_stream_yields_one_object_a_second(engine, container):
    import docker
    cid = container("busybox", "sleep", "1000")
    client = docker.APIClient(base_url=f"unix://{engine.sock}", timeout=30)
    frames = []
    try:
        for frame in client.stats(cid, stream=True, decode=True):
            frames.append((time.monotonic(), frame))
            if len(frames) == 3:
                break
    finally:
        client.close()
    assert frames[0][1]["preread"] == "0001-01-01T00:00:00Z"
    for (t_prev, prev), (t, cur) in zip(frames, frames[1:]):
        assert 0.5 < t - t_prev < 2.5
        assert cur["preread"] == prev["read"] and cur["read"] > prev["read"]
        assert cur["precpu_stats"] == prev["cpu_stats"]


def test_stats_of_a_stopped_container_are_docker_zeros(engine):
    cid = engine.docker("create", "--name", name(), "busybox", "true").stdout.strip()
    try:
        for query in ("stream=0", "stream=0&one-shot=1"):
            status, s = api(engine, "GET", f"/containers/{cid}/stats?{query}")
            assert status == 200
            assert s["read"] == s["preread"] == "0001-01-01T00:00:00Z"
            assert s["memory_stats"] == {} and s["pids_stats"] == {}
            assert s["cpu_stats"]["cpu_usage"]["total_usage"] == 0
            assert s["blkio_stats"]["io_service_bytes_recursive"] is None
            assert s["id"] == cid
    finally:
        engine.docker("rm", cid)


def test_stats_bad_requests(engine, container):
    cid = container("busybox", "sleep", "1000")
    status, body = api(engine, "GET", f"/containers/{cid}/stats?stream=1&one-shot=1")
    assert (status, body["message"]) == (400, "cannot have stream=true and one-shot=true")
    status, body = api(engine, "GET", "/containers/no-such-ctr/stats?stream=0")
    assert (status, body["message"]) == (404, "No such container: no-such-ctr")


@pytest.mark.skipif(not (shutil.which("nsenter") and shutil.which("ip")),
                    reason="needs nsenter and ip")
def test_stats_networks_come_from_the_container_namespace(engine, container):
    cid = container("busybox", "sleep", "1000")
    pid = init_pid(engine, cid)
    ns = ["nsenter", "-t", str(pid), "-n"]
    # A veth pair inside the container's own network namespace (gone with it): the
    # ARP requests of a ping through v0 leave v0 and arrive at v1.
    subprocess.run(ns + ["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                   check=True)
    subprocess.run(ns + ["ip", "addr", "add", "10.123.45.1/24", "dev", "v0"], check=True)
    for link in ("v0", "v1"):
        subprocess.run(ns + ["ip", "link", "set", link, "up"], check=True)
    subprocess.run(ns + ["/bin/busybox", "ping", "-c", "2", "-W", "1", "10.123.45.2"],
                   capture_output=True)

    def counters():
        text = open(f"/proc/{pid}/net/dev").read()
        return {link: [int(x) for x in text.split(f"{link}:")[1].split()[:12]]
                for link in ("v0", "v1")}

    before = counters()
    status, s = api(engine, "GET", f"/containers/{cid}/stats?stream=0&one-shot=1")
    after = counters()
    assert status == 200
    assert sorted(s["networks"]) == ["v0", "v1"]  # loopback is left out, as docker does
    columns = {"rx_bytes": 0, "rx_packets": 1, "rx_errors": 2, "rx_dropped": 3,
               "tx_bytes": 8, "tx_packets": 9, "tx_errors": 10, "tx_dropped": 11}
    for link in ("v0", "v1"):
        for key, col in columns.items():
            assert before[link][col] <= s["networks"][link][key] <= after[link][col], (link, key)
    assert s["networks"]["v0"]["tx_packets"] >= 1 and s["networks"]["v1"]["rx_packets"] >= 1


# ---- stats: the CLIs ----------------------------------------------------------------------

STATS_HEADER = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                "BLOCK I/O", "PIDS"]


@pytest.mark.parametrize("which", CLIS)
def test_stats_table_of_named_containers(engine, container, which):
    n = name()
    cid = container("--name", n, "-m", "64m", "busybox", "sleep", "1000")
    stopped = engine.docker("create", "busybox", "true").stdout.strip()
    try:
        rows = table(cli(engine, which, "stats", "--no-stream", n, stopped[:12]).stdout)
        assert rows[0] == STATS_HEADER
        assert rows[1][:2] == [cid[:12], n]
        assert rows[1][3].endswith(" / 64MiB") and rows[1][7] == "1"
        assert rows[1][5] == "0B / 0B"
        assert rows[2][1:] == [inspect(engine, stopped)["Name"][1:], "0.00%", "0B / 0B",
                               "0.00%", "0B / 0B", "0B / 0B", "0"]
        rows = table(cli(engine, which, "stats", "--no-stream", "--no-trunc", n).stdout)
        assert rows[1][0] == cid
    finally:
        engine.docker("rm", stopped)


@pytest.mark.parametrize("which", CLIS)
def test_stats_format_and_all(engine, container, which):
    n = name()
    cid = container("--name", n, "busybox", "sleep", "1000")
    out = cli(engine, which, "stats", "--no-stream", "--format", "json", n).stdout
    row = json.loads(out)
    assert sorted(row) == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage",
                           "Name", "NetIO", "PIDs"]
    assert (row["Container"], row["ID"], row["Name"], row["PIDs"]) == (n, cid[:12], n, "1")
    out = cli(engine, which, "stats", "--no-stream", "--format",
              "table {{.Name}}\t{{.PIDs}}", n).stdout
    assert table(out) == [["NAME", "PIDS"], [n, "1"]]
    stopped = engine.docker("create", "--name", name(), "busybox", "true").stdout.strip()
    try:
        running_only = cli(engine, which, "stats", "--no-stream").stdout
        everything = cli(engine, which, "stats", "--no-stream", "-a").stdout
        assert cid[:12] in running_only and stopped[:12] not in running_only
        assert cid[:12] in everything and stopped[:12] in everything
    finally:
        engine.docker("rm", stopped)


@pytest.mark.parametrize("which", CLIS)
def test_stats_cpu_percent_of_a_busy_container_under_a_quota(engine, container, which):
    # Half a CPU (--cpus 0.5) spent in a busy loop: docker's formula gives about 50 %.
    cid = container("--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done")
    time.sleep(1)
    rows = table(cli(engine, which, "stats", "--no-stream", cid).stdout)
    percent = float(rows[1][2].rstrip("%"))
    # One sample of about a second: on a loaded machine (or the emulated v2 guest) it
    # strays from 50 %; without the quota it would read about 100 %.
    assert 20.0 <= percent <= 75.0, rows


@pytest.mark.parametrize("which", CLIS)
def test_stats_unknown_container(engine, which):
    res = cli(engine, which, "stats", "--no-stream", "no-such-ctr", check=False)
    assert res.returncode == 1
    assert res.stderr.strip() == "Error response from daemon: No such container: no-such-ctr"
    assert res.stdout == ""


def test_stats_stream_redraws_the_table(engine, container):
    n = name()
    container("--name", n, "busybox", "sleep", "1000")
    p = subprocess.Popen([SKIFF, "stats", n], env=engine.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(3.5)
    p.terminate()
    out, _ = p.communicate(timeout=10)
    frames = [f for f in out.split("\033[H") if f]
    assert len(frames) >= 2
    for frame in frames:
        lines = frame.split("\n")
        assert lines[0].startswith("CONTAINER ID") and lines[0].endswith("\033[K")
        assert n in lines[1]
        assert frame.endswith("\033[J")


# ---- update -------------------------------------------------------------------------------


def cpu_quota(pid):
    cg = Cgroup.of(pid, "cpu")
    if cg.v1:
        return int(cg.read(v1="cpu.cfs_quota_us")), int(cg.read(v1="cpu.cfs_period_us"))
    quota, period = cg.read(v2="cpu.max").split()
    return (-1 if quota == "max" else int(quota)), int(period)


def limits(pid):
    """The limits as the kernel has them, in docker's terms."""
    mem = Cgroup.of(pid, "memory")
    cpu = Cgroup.of(pid, "cpu")
    pids = Cgroup.of(pid, "pids")
    out = {"memory": int(mem.read(v1="memory.limit_in_bytes", v2="memory.max")),
           "pids": pids.read(v1="pids.max", v2="pids.max"),
           "quota": cpu_quota(pid),
           "cpuset": Cgroup.of(pid, "cpuset").read(v1="cpuset.cpus", v2="cpuset.cpus")}
    if mem.v1:
        out["swap"] = int(mem.read(v1="memory.memsw.limit_in_bytes"))
        out["reservation"] = int(mem.read(v1="memory.soft_limit_in_bytes"))
        out["shares"] = int(cpu.read(v1="cpu.shares"))
    else:  # v2 limits swap alone, and weighs CPU on its own scale
        swap = mem.read(v2="memory.swap.max")
        out["swap"] = out["memory"] + int(swap) if swap != "max" else -1
        out["reservation"] = int(mem.read(v2="memory.low"))
        out["shares"] = int(cpu.read(v2="cpu.weight"))
    return out


def shares_seen(shares, pid):
    return shares if Cgroup.of(pid, "cpu").v1 else 1 + ((shares - 2) * 9999) // 262142


RESOURCE_KEYS = ["Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares",
                 "CpuQuota", "CpuPeriod", "CpusetCpus", "PidsLimit", "BlkioWeight",
                 "RestartPolicy"]


def host_limits(engine, cid):
    hc = inspect(engine, cid)["HostConfig"]
    return {k: hc.get(k) for k in RESOURCE_KEYS}


@pytest.mark.parametrize("which", CLIS)
def test_update_changes_the_cgroup_and_inspect(engine, container, which):
    n = name()
    cid = container("--name", n, "-m", "64m", "--pids-limit", "20", "busybox", "sleep",
                    "1000")
    pid = init_pid(engine, cid)
    assert host_limits(engine, cid)["MemorySwap"] == 128 * MiB  # docker's default: twice
    res = cli(engine, which, "update", "-m", "96m", "--memory-swap", "192m",
              "--memory-reservation", "48m", "--cpus", "0.5", "--cpu-shares", "512",
              "--pids-limit", "30", "--cpuset-cpus", "0", n)
    assert res.stdout == f"{n}\n"
    hc = host_limits(engine, cid)
    assert hc["Memory"] == 96 * MiB and hc["MemorySwap"] == 192 * MiB
    assert hc["MemoryReservation"] == 48 * MiB and hc["NanoCpus"] == 500000000
    assert hc["CpuShares"] == 512 and hc["PidsLimit"] == 30 and hc["CpusetCpus"] == "0"
    assert limits(pid) == {"memory": 96 * MiB, "swap": 192 * MiB,
                           "reservation": 48 * MiB, "pids": "30", "quota": (50000, 100000),
                           "cpuset": "0", "shares": shares_seen(512, pid)}
    cli(engine, which, "update", "--pids-limit", "-1", n)
    assert limits(pid)["pids"] == "max"
    assert host_limits(engine, cid)["PidsLimit"] == 0


@pytest.mark.parametrize("which", CLIS)
def test_update_restart_policy(engine, container, which):
    # Set while it runs, the policy decides what happens at its exit.
    # The first run waits for /tmp/go, so the update finds it running however slow the
    # machine; the restarts exit at once.
    cid = container("busybox", "sh", "-c", "test -e /tmp/again || { touch /tmp/again; "
                    "while [ ! -e /tmp/go ]; do sleep 0.1; done; }; exit 3")
    cli(engine, which, "update", "--restart", "on-failure:2", cid)
    engine.docker("exec", cid, "touch", "/tmp/go")
    assert host_limits(engine, cid)["RestartPolicy"] == {"Name": "on-failure",
                                                        "MaximumRetryCount": 2}
    wait_for(lambda: (lambda s: s["RestartCount"] == 2 and s["State"]["Status"] == "exited")(
        inspect(engine, cid)), timeout=20, what="two restarts, then the end")
    assert inspect(engine, cid)["State"]["ExitCode"] == 3


@pytest.mark.parametrize("which", CLIS)
def test_update_refuses_a_restart_policy_for_an_autoremove_container(engine, which):
    n = name()
    cid = run(engine, "--rm", "--name", n, "busybox", "sleep", "1000")
    try:
        before = host_limits(engine, cid)
        res = cli(engine, which, "update", "--restart", "always", n, check=False)
        assert res.returncode == 1
        assert res.stderr.strip() == (
            f"Error response from daemon: Cannot update container {cid}: Restart policy "
            "cannot be updated because AutoRemove is enabled for the container")
        assert host_limits(engine, cid) == before
        cli(engine, which, "update", "--restart", "no", n)  # "no" stays allowed
    finally:
        engine.docker("rm", "-f", cid, check=False)


def test_update_of_a_stopped_container_applies_at_start(engine):
    cid = engine.docker("create", "busybox", "sleep", "1000").stdout.strip()
    try:
        status, body = api(engine, "POST", f"/containers/{cid}/update",
                           {"Memory": 50 * MiB, "MemorySwap": 100 * MiB, "PidsLimit": 7})
        assert (status, body) == (200, {"Warnings": []})
        engine.docker("start", cid)
        pid = init_pid(engine, cid)
        got = limits(pid)
        assert (got["memory"], got["swap"], got["pids"]) == (50 * MiB, 100 * MiB, "7")
    finally:
        engine.docker("rm", "-f", cid)


@pytest.mark.parametrize("body, status, message", [
    ({"Memory": 1000}, 400, "Minimum memory limit allowed is 6MB"),
    ({"MemoryReservation": 1000}, 400, "Minimum memory reservation allowed is 6MB"),
    ({"Memory": 200 * MiB, "MemorySwap": 100 * MiB}, 400,
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"NanoCpus": 500000000, "CpuQuota": 20000}, 400,
     "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 1000 * 10**9}, 400, "Range of CPUs is from 0.01 to"),
    ({"CpuPeriod": 100}, 400, "CPU cfs period can not be less than 1ms (i.e. 1000) or "
                              "larger than 1s (i.e. 1000000)"),
    ({"CpuQuota": 500}, 400, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"CpusetCpus": "x"}, 400, "Invalid value x for cpuset cpus: invalid format: x"),
    ({"CpusetCpus": "4000"}, 400, "Requested CPUs are not available - requested 4000"),
    ({"CpusetMems": "77"}, 400, "Requested memory nodes are not available - requested 77"),
    ({"RestartPolicy": {"Name": "bogus"}}, 400,
     "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', "
     "'on-failure', or 'unless-stopped'"),
    ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, 400,
     "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}, 400,
     "invalid restart policy: maximum retry count cannot be negative"),
    ({"Memory": "64m"}, 400, "json: cannot unmarshal string into Go struct field "
                             "UpdateConfig.Memory of type int64"),
    ({"BlkioWeight": 70000}, 400, "of type uint16"),
    ({"Memory": 300 * MiB}, 409, "Memory limit should be smaller than already set "
                                 "memoryswap limit, update the memoryswap at the same time"),
    ({"CpuPeriod": 50000}, 409, "Conflicting options: CPU Period cannot be updated as "
                                "NanoCPUs has already been set"),
])
def test_update_bad_input_changes_nothing(engine, container, body, status, message):
    cid = container("-m", "64m", "--cpus", "1", "--pids-limit", "20", "busybox", "sleep",
                    "1000")
    pid = init_pid(engine, cid)
    before, kernel_before = host_limits(engine, cid), limits(pid)
    got_status, got = api(engine, "POST", f"/containers/{cid}/update", body)
    assert got_status == status and message in got["message"], got
    assert host_limits(engine, cid) == before
    assert limits(pid) == kernel_before


def test_update_bad_requests(engine, container):
    cid = container("busybox", "sleep", "1000")
    status, body = api(engine, "POST", f"/containers/{cid}/update", raw="{not json")
    assert status == 400 and body["message"].startswith("invalid JSON")
    status, body = api(engine, "POST", "/containers/no-such-ctr/update", {"Memory": 64 * MiB})
    assert (status, body["message"]) == (404, "No such container: no-such-ctr")
    status, body = api(engine, "POST", f"/containers/{cid}/update", {})
    assert (status, body) == (200, {"Warnings": []})


@pytest.mark.parametrize("which", CLIS)
def test_update_cli_errors(engine, container, which):
    n = name()
    container("--name", n, "busybox", "sleep", "1000")
    res = cli(engine, which, "update", n, check=False)
    assert res.returncode == 1
    assert "you must provide one or more flags when using this command" in res.stderr
    res = cli(engine, which, "update", "-m", "10x", n, check=False)
    assert res.returncode == 125
    assert 'invalid argument "10x" for "-m, --memory" flag: invalid suffix: \'x\'' in res.stderr
    res = cli(engine, which, "update", "--cpus", "abc", n, check=False)
    assert res.returncode == 125 and "failed to parse abc as a rational number" in res.stderr
    res = cli(engine, which, "update", "--cpu-shares", "512", n, "no-such-ctr", check=False)
    assert res.returncode == 1 and res.stdout == f"{n}\n"
    assert "Error response from daemon: No such container: no-such-ctr" in res.stderr


@pytest.mark.parametrize("which", CLIS)
def test_create_checks_resources_like_docker(engine, which):
    count = len(engine.docker("ps", "-aq").stdout.split())
    res = cli(engine, which, "run", "-d", "-m", "1m", "busybox", "true", check=False)
    assert res.returncode == 125
    assert "Minimum memory limit allowed is 6MB" in res.stderr
    res = cli(engine, which, "create", "--cpus", "0.5", "--cpu-quota", "20000", "busybox",
              "true", check=False)
    assert res.returncode == 1  # create reports daemon errors with 1, run with 125
    assert "Conflicting options: Nano CPUs and CPU Quota cannot both be set" in res.stderr
    assert len(engine.docker("ps", "-aq").stdout.split()) == count


@pytest.mark.parametrize("which", CLIS)
def test_run_resource_flags_reach_the_cgroup(engine, which):
    n = name()
    res = cli(engine, which, "run", "-d", "--name", n, "-m", "40m", "--memory-swap", "60m",
              "--memory-reservation", "20m", "--cpu-period", "50000", "--cpu-quota", "25000",
              "-c", "300", "--cpuset-cpus", "0", "--pids-limit", "9", "busybox", "sleep",
              "1000")
    try:
        cid = res.stdout.strip()
        wait_for(lambda: init_pid(engine, cid) > 0, what="running")
        pid = init_pid(engine, cid)
        assert limits(pid) == {"memory": 40 * MiB, "swap": 60 * MiB,
                               "reservation": 20 * MiB, "pids": "9",
                               "quota": (25000, 50000), "cpuset": "0",
                               "shares": shares_seen(300, pid)}
        hc = host_limits(engine, cid)
        assert (hc["CpuPeriod"], hc["CpuQuota"], hc["CpuShares"]) == (50000, 25000, 300)
    finally:
        engine.docker("rm", "-f", n, check=False)


# ---- events and docker-py -----------------------------------------------------------------


def test_top_and_update_are_events(engine, container):
    since = time.time()
    cid = container("busybox", "sleep", "1000")
    engine.docker("top", cid)
    engine.docker("update", "--pids-limit", "50", cid)
    until = time.time() + 1
    out = engine.docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}",
                        "--filter", f"container={cid}", "--format", "{{.Action}}").stdout
    actions = out.split()
    assert "top" in actions and "update" in actions


def test_docker_py_top_stats_update(engine, container):
    import docker
    cid = container("-m", "64m", "busybox", "sleep", "1000")
    client = docker.DockerClient(base_url=f"unix://{engine.sock}", timeout=30)
    try:
        c = client.containers.get(cid)
        top = c.top(ps_args="-o pid,comm")
        assert top["Titles"] == ["PID", "COMMAND"]
        assert top["Processes"] == [[str(init_pid(engine, cid)), "sleep"]]
        s = c.stats(stream=False)
        assert s["memory_stats"]["limit"] == 64 * MiB and s["pids_stats"]["current"] == 1
        assert c.update(mem_limit="80m", memswap_limit="160m") == {"Warnings": []}
        c.reload()
        assert c.attrs["HostConfig"]["Memory"] == 80 * MiB
        assert limits(init_pid(engine, cid))["memory"] == 80 * MiB
        with pytest.raises(docker.errors.APIError) as e:
            c.update(mem_limit="1m")
        assert e.value.status_code == 400
        stopped = client.containers.create("busybox", "true")
        try:
            with pytest.raises(docker.errors.APIError) as e:
                stopped.top()
            assert e.value.status_code == 409
        finally:
            stopped.remove()
    finally:
        client.close()


def test_rm_force_of_a_restarting_container_keeps_the_daemon_up(engine):
    # Found by the restart policy test: rm -f during the restart back-off freed the
    # record under the monitor thread, which then crashed skiffd when it woke up.
    for _ in range(3):
        cid = engine.docker("run", "-d", "--restart", "always", "busybox", "sh", "-c",
                            "exit 1").stdout.strip()
        wait_for(lambda: inspect(engine, cid)["State"]["Status"] == "restarting"
                 and inspect(engine, cid)["RestartCount"] >= 2, timeout=10, what="restarting")
        engine.docker("rm", "-f", cid)
    time.sleep(2)  # past the longest back-off the removed containers were in
    assert engine.proc.poll() is None
    assert engine.docker("version", "--format", "{{.Server.Os}}").stdout.strip() == "linux"


def test_rm_force_of_a_running_autoremove_container_keeps_the_daemon_up(engine):
    # Found by the AutoRemove update test: the exit's auto-removal freed the record
    # that rm -f was still waiting on.
    for _ in range(3):
        cid = run(engine, "--rm", "busybox", "sleep", "1000")
        engine.docker("rm", "-f", cid)
        assert engine.proc.poll() is None
        assert engine.docker("ps", "-aq", "--no-trunc").stdout.split().count(cid) == 0
