"""ps, list, spec, features and the global flags (--root, --log, --log-format, --debug,
--systemd-cgroup)."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import RUNTIME_BIN, Runtime

ALL_NAMESPACES = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup"}
ALL_HOOKS = {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
             "poststop"}


# ---------------------------------------------------------------- ps


def test_ps_table_lists_container_processes(runtime, bundle):
    cid = runtime.create_started(bundle)
    pid = runtime.pid(cid)
    out = runtime.run("ps", cid).stdout.splitlines()
    assert "PID" in out[0].split()
    col = out[0].split().index("PID")
    assert str(pid) in [line.split()[col] for line in out[1:]]


def test_ps_json_lists_host_pids(runtime, bundle, workdir):
    cid = runtime.create_started(bundle)
    pidfile = workdir / "exec.pid"
    runtime.exec(cid, "sleep", "3600", opts=["-d", "--pid-file", pidfile])
    pids = json.loads(runtime.run("ps", "--format", "json", cid).stdout)
    assert sorted(pids) == sorted([runtime.pid(cid), int(pidfile.read_text())])


def test_ps_of_unknown_container_fails(runtime):
    assert runtime.run("ps", runtime.token + "-nosuch", check=False).returncode != 0


@pytest.mark.peer
def test_state_has_every_field_runc_reports(runtime, bundle, new_bundle, peer_runtime):
    runc = peer_runtime("runc")
    theirs = runc.state(runc.create(new_bundle("peer")))
    ours = runtime.state(runtime.create(bundle))
    assert set(theirs) - {"owner", "rootfs"} <= set(ours)


@pytest.mark.peer
def test_list_json_has_every_field_runc_reports(runtime, bundle, new_bundle, peer_runtime):
    runc = peer_runtime("runc")
    runc.create(new_bundle("peer"))
    runtime.create(bundle)
    theirs = json.loads(runc.run("list", "--format", "json").stdout)[0]
    ours = json.loads(runtime.run("list", "--format", "json").stdout)[0]
    assert set(theirs) - {"owner", "rootfs"} <= set(ours)


# ---------------------------------------------------------------- list


def test_list_table_shows_containers(runtime, bundle, new_bundle):
    running = runtime.create_started(bundle)
    created = runtime.create(new_bundle("second"))
    lines = runtime.run("list").stdout.splitlines()
    header = lines[0].split()
    assert header[:4] == ["ID", "PID", "STATUS", "BUNDLE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[running][2] == "running"
    assert rows[created][2] == "created"
    assert rows[running][1] == str(runtime.pid(running))


def test_list_quiet_prints_only_ids(runtime, bundle, new_bundle):
    a = runtime.create_started(bundle)
    b = runtime.create(new_bundle("second"))
    assert sorted(runtime.run("list", "-q").stdout.split()) == sorted([a, b])


def test_list_json_fields(runtime, bundle):
    cid = runtime.create_started(bundle)
    entries = json.loads(runtime.run("list", "--format", "json").stdout)
    assert len(entries) == 1
    e = entries[0]
    assert e["id"] == cid and e["status"] == "running" and e["pid"] == runtime.pid(cid)
    assert os.path.realpath(e["bundle"]) == os.path.realpath(bundle.path)
    assert "created" in e


def test_list_empty_root(runtime):
    res = runtime.run("list", "-q")
    assert res.stdout.strip() == ""


def test_list_json_empty_root_is_empty_or_null(runtime):
    out = runtime.run("list", "--format", "json").stdout.strip()
    assert json.loads(out) in (None, [])


def test_list_shows_stopped_container(runtime, bundle):
    bundle.args("true")
    cid = runtime.create_started(bundle)
    runtime.wait_status(cid, "stopped")
    entries = json.loads(runtime.run("list", "--format", "json").stdout)
    assert [(e["id"], e["status"]) for e in entries] == [(cid, "stopped")]


def test_root_flag_separates_containers(runtime, bundle, workdir, token):
    cid = runtime.create(bundle)
    other = Runtime(RUNTIME_BIN, workdir / "other-root", workdir, token)
    assert cid not in other.list_ids()
    assert other.run("state", cid, check=False).returncode != 0


# ---------------------------------------------------------------- spec


def test_spec_writes_valid_config(workdir):
    d = workdir / "spec"
    d.mkdir()
    subprocess.run([RUNTIME_BIN, "spec", "--bundle", str(d)], check=True)
    c = json.loads((d / "config.json").read_text())
    assert c["ociVersion"].startswith("1.")
    assert c["root"]["path"] == "rootfs"
    assert isinstance(c["process"]["args"], list) and c["process"]["args"]
    assert c["process"]["cwd"] == "/"
    assert any(e.startswith("PATH=") for e in c["process"]["env"])
    mounts = {m["destination"]: m for m in c["mounts"]}
    assert mounts["/proc"]["type"] == "proc"
    assert mounts["/dev"]["type"] == "tmpfs"
    assert mounts["/dev/pts"]["type"] == "devpts"
    assert mounts["/sys"]["type"] == "sysfs"
    kinds = {n["type"] for n in c["linux"]["namespaces"]}
    assert {"pid", "mount", "ipc", "uts", "network"} <= kinds


def test_spec_default_is_confined(workdir):
    d = workdir / "spec"
    d.mkdir()
    subprocess.run([RUNTIME_BIN, "spec", "--bundle", str(d)], check=True)
    c = json.loads((d / "config.json").read_text())
    assert "CAP_SYS_ADMIN" not in c["process"]["capabilities"]["bounding"]
    assert c["process"]["noNewPrivileges"] is True
    assert {"/proc/kcore", "/proc/keys", "/sys/firmware"} <= set(c["linux"]["maskedPaths"])
    assert "/proc/sys" in c["linux"]["readonlyPaths"]


def test_spec_in_current_directory(workdir):
    d = workdir / "spec-cwd"
    d.mkdir()
    subprocess.run([RUNTIME_BIN, "spec"], cwd=d, check=True)
    json.loads((d / "config.json").read_text())


def test_spec_refuses_to_overwrite_config(workdir):
    d = workdir / "spec"
    d.mkdir()
    (d / "config.json").write_text("keep me")
    res = subprocess.run([RUNTIME_BIN, "spec", "--bundle", str(d)], capture_output=True)
    assert res.returncode != 0
    assert (d / "config.json").read_text() == "keep me"


def test_spec_rootless_uses_user_namespace(workdir):
    d = workdir / "spec"
    d.mkdir()
    subprocess.run([RUNTIME_BIN, "spec", "--rootless", "--bundle", str(d)], check=True)
    c = json.loads((d / "config.json").read_text())
    assert "user" in {n["type"] for n in c["linux"]["namespaces"]}
    assert c["linux"]["uidMappings"] and c["linux"]["gidMappings"]
    assert "network" not in {n["type"] for n in c["linux"]["namespaces"]}


def test_spec_output_runs_unmodified_except_args(runtime, workdir, rootfs_cache):
    d = workdir / "spec-run"
    d.mkdir()
    subprocess.run([RUNTIME_BIN, "spec", "--bundle", str(d)], check=True)
    shutil.copytree(rootfs_cache, d / "rootfs", symlinks=True)
    c = json.loads((d / "config.json").read_text())
    c["process"]["terminal"] = False
    c["process"]["args"] = ["sh", "-c", "exit 5"]
    (d / "config.json").write_text(json.dumps(c))
    res = runtime.run("run", "--bundle", d, runtime.new_id(), check=False)
    assert res.returncode == 5, res


# ---------------------------------------------------------------- features


@pytest.fixture(scope="module")
def features():
    res = subprocess.run([RUNTIME_BIN, "features"], capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def test_features_versions(features):
    assert features["ociVersionMin"].startswith("1.")
    assert features["ociVersionMax"].startswith("1.")


def test_features_hooks(features):
    assert ALL_HOOKS <= set(features["hooks"])


def test_features_mount_options(features):
    assert {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "rprivate",
            "rslave"} <= set(features["mountOptions"])


def test_features_linux_namespaces(features):
    assert ALL_NAMESPACES <= set(features["linux"]["namespaces"])


def test_features_linux_capabilities(features):
    caps = set(features["linux"]["capabilities"])
    assert {"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_KILL"} <= caps


def test_features_cgroup(features):
    cg = features["linux"]["cgroup"]
    assert cg["v1"] is True or cg["v2"] is True
    assert isinstance(cg.get("systemd", False), bool)


def test_features_seccomp(features):
    sc = features["linux"]["seccomp"]
    assert sc["enabled"] is True
    assert {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS"} <= set(sc["actions"])
    assert "SCMP_ARCH_X86_64" in sc["archs"]


# ---------------------------------------------------------------- global flags


def test_log_format_json_writes_json_lines(runtime, workdir):
    log = workdir / "runtime.log"
    res = runtime.run("state", runtime.token + "-nosuch", check=False,
                      global_args=["--log", log, "--log-format", "json"])
    assert res.returncode != 0
    lines = log.read_text().splitlines()
    assert lines, "nothing logged for a failing command"
    for line in lines:
        entry = json.loads(line)
        assert "msg" in entry and "level" in entry


def test_log_format_text_is_not_json(runtime, workdir):
    log = workdir / "runtime.log"
    runtime.run("state", runtime.token + "-nosuch", check=False,
                global_args=["--log", log, "--log-format", "text"])
    text = log.read_text()
    assert text.strip()
    with pytest.raises(ValueError):
        json.loads(text.splitlines()[0])


def test_debug_logs_more_than_default(runtime, bundle, workdir, new_bundle):
    quiet, loud = workdir / "quiet.log", workdir / "debug.log"
    bundle.write()
    runtime.run("create", "--bundle", bundle.path, runtime.new_id(),
                global_args=["--log", quiet])
    other = new_bundle("second")
    other.write()
    runtime.run("create", "--bundle", other.path, runtime.new_id(),
                global_args=["--debug", "--log", loud])
    size = lambda p: p.stat().st_size if p.exists() else 0  # noqa: E731
    assert size(loud) > size(quiet)


def test_systemd_cgroup_flag_is_accepted(runtime):
    assert runtime.run("list", global_args=["--systemd-cgroup"]).returncode == 0


def test_unknown_command_fails(runtime):
    assert runtime.run("no-such-command", check=False).returncode != 0
