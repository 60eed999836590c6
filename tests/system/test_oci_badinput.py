"""Bad input: every malformed bundle must be refused with a non-zero exit, an error that
names the offending field or file, and nothing left behind (no state entry under --root,
no cgroup, no mount of the bundle, no process).

Marked skiff_only: a malformed config.json (runc 1.1 says only "unexpected EOF") and an
unsupported ociVersion major (runc 1.1 accepts any ociVersion)."""

import os

import pytest

from conftest import cgroup_dirs_containing, mounts_under, processes_rooted_in


def assert_refused(runtime, bundle, res, cid, *names):
    """res failed, its error names one of names, and cid left nothing behind."""
    assert res.returncode not in (0, None), res
    err = (res.stderr + res.stdout).lower()
    if names:
        assert any(n.lower() in err for n in names), f"error does not name {names}: {res}"
    assert_nothing_left(runtime, bundle, cid)


def assert_nothing_left(runtime, bundle, cid):
    if runtime.root.exists():
        assert [e for e in os.listdir(runtime.root) if cid in e] == []
    assert runtime.run("state", cid, check=False).returncode != 0
    assert cid not in runtime.list_ids()
    assert cgroup_dirs_containing(cid) == []
    assert mounts_under(bundle.path) == []
    assert processes_rooted_in(runtime.workdir) == []


def create_with(runtime, bundle, mutate=None, raw=None):
    """create from bundle after mutate(config) or with raw config text; returns (res, id)."""
    cid = runtime.new_id()
    if mutate:
        mutate(bundle.config)
    if raw is not None:
        bundle.write_raw(raw)
    else:
        bundle.write()
    res = runtime.run("create", "--bundle", bundle.path, cid, check=False)
    return res, cid


# ---------------------------------------------------------------- files


def test_malformed_json_refused(runtime, bundle):
    res, cid = create_with(runtime, bundle, raw='{"ociVersion": "1.0.2", "process": {')
    assert_refused(runtime, bundle, res, cid)


# runc 1.1 reports only "unexpected EOF".
@pytest.mark.skiff_only
def test_malformed_json_error_names_config_file(runtime, bundle):
    res, cid = create_with(runtime, bundle, raw='{"ociVersion": "1.0.2", "process": {')
    assert_refused(runtime, bundle, res, cid, "config.json")


def test_config_not_an_object_refused(runtime, bundle):
    res, cid = create_with(runtime, bundle, raw='["not", "an", "object"]')
    assert_refused(runtime, bundle, res, cid)


def test_missing_config_names_config_file(runtime, bundle):
    cid = runtime.new_id()
    os.unlink(bundle.path / "config.json")
    res = runtime.run("create", "--bundle", bundle.path, cid, check=False)
    assert_refused(runtime, bundle, res, cid, "config.json")


def test_missing_bundle_directory_refused(runtime, bundle, workdir):
    cid = runtime.new_id()
    res = runtime.run("create", "--bundle", workdir / "no-such-bundle", cid, check=False)
    assert res.returncode != 0
    assert runtime.run("state", cid, check=False).returncode != 0


def test_missing_rootfs_names_rootfs(runtime, bundle):
    res, cid = create_with(runtime, bundle,
                           lambda c: c["root"].update(path="no-such-rootfs"))
    assert_refused(runtime, bundle, res, cid, "no-such-rootfs")


def test_rootfs_is_a_file_refused(runtime, bundle):
    (bundle.path / "rootfs-file").write_text("not a directory")
    res, cid = create_with(runtime, bundle, lambda c: c["root"].update(path="rootfs-file"))
    assert_refused(runtime, bundle, res, cid)


def test_missing_root_section_names_root(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c.pop("root"))
    assert_refused(runtime, bundle, res, cid, "root")


# ---------------------------------------------------------------- wrong types


def test_args_as_string_names_args(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["process"].update(args="sh"))
    assert_refused(runtime, bundle, res, cid, "args")


def test_empty_args_names_args(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["process"].update(args=[]))
    assert_refused(runtime, bundle, res, cid, "args")


def test_memory_limit_as_string_names_limit(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["linux"].setdefault(
        "resources", {}).update(memory={"limit": "64m"}))
    assert_refused(runtime, bundle, res, cid, "limit")


def test_uid_as_string_names_uid(runtime, bundle):
    res, cid = create_with(runtime, bundle,
                           lambda c: c["process"].update(user={"uid": "root", "gid": 0}))
    assert_refused(runtime, bundle, res, cid, "uid")


def test_env_as_object_names_env(runtime, bundle):
    res, cid = create_with(runtime, bundle,
                           lambda c: c["process"].update(env={"PATH": "/bin"}))
    assert_refused(runtime, bundle, res, cid, "env")


def test_mounts_not_a_list_names_mounts(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c.update(mounts={"destination": "/x"}))
    assert_refused(runtime, bundle, res, cid, "mounts")


# ---------------------------------------------------------------- invalid values


def test_unknown_capability_is_ignored_with_a_warning_naming_it(runtime, bundle):
    # runtime-spec: capabilities that cannot be granted MUST be logged as a warning and
    # SHOULD NOT fail the container.
    def mutate(c):
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k] = ["CAP_CHOWN", "CAP_NO_SUCH_THING"]
    res, cid = create_with(runtime, bundle, mutate)
    assert res.returncode == 0, res
    assert "CAP_NO_SUCH_THING" in res.stderr
    runtime.track_pid(runtime.pid(cid))


def test_unknown_rlimit_names_it(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["process"].update(
        rlimits=[{"type": "RLIMIT_NO_SUCH", "soft": 1, "hard": 1}]))
    assert_refused(runtime, bundle, res, cid, "RLIMIT_NO_SUCH")


def test_unknown_namespace_type_names_it(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["linux"]["namespaces"].append(
        {"type": "nosuchns"}))
    assert_refused(runtime, bundle, res, cid, "nosuchns")


def test_unknown_seccomp_action_names_it(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_NO_SUCH", "syscalls": []}))
    assert_refused(runtime, bundle, res, cid, "SCMP_ACT_NO_SUCH")


def test_mount_without_destination_names_destination(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["mounts"].append(
        {"type": "tmpfs", "source": "tmpfs"}))
    assert_refused(runtime, bundle, res, cid, "destination")


def test_bind_mount_of_missing_source_names_source(runtime, bundle, workdir):
    missing = workdir / "no-such-source"
    res, cid = create_with(runtime, bundle, lambda c: c["mounts"].append(
        {"destination": "/data", "type": "bind", "source": str(missing),
         "options": ["bind"]}))
    assert_refused(runtime, bundle, res, cid, "no-such-source")


def test_hostname_without_uts_namespace_names_hostname(runtime, bundle):
    def mutate(c):
        c["hostname"] = "nope"
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
    res, cid = create_with(runtime, bundle, mutate)
    assert_refused(runtime, bundle, res, cid, "hostname")


def test_missing_cwd_is_refused_or_created_inside(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c["process"].update(cwd="relative/dir"))
    assert_refused(runtime, bundle, res, cid, "cwd")


# skiff-oci refuses a bundle written for a spec major it does not know; runc accepts it.
@pytest.mark.skiff_only
def test_unsupported_oci_version_names_oci_version(runtime, bundle):
    res, cid = create_with(runtime, bundle, lambda c: c.update(ociVersion="9.0.0"))
    assert_refused(runtime, bundle, res, cid, "ociVersion")


# ---------------------------------------------------------------- container ids


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "", ".", ".."])
def test_invalid_container_id_refused(runtime, bundle, workdir, bad_id):
    bundle.write()
    runtime.ids.append(bad_id)  # should the runtime accept it, teardown deletes it
    res = runtime.run("create", "--bundle", bundle.path, bad_id, check=False)
    assert res.returncode != 0
    if runtime.root.exists():
        assert os.listdir(runtime.root) == []
    # Nothing may be created next to --root either (an id like ../escape).
    assert {e for e in os.listdir(workdir) if not e.startswith("io")} <= {"bundle", "state"}
    assert mounts_under(bundle.path) == []


def test_failed_create_leaves_no_cgroup_when_start_fails(runtime, bundle):
    # The config is valid but the process cannot be executed: create succeeds or fails
    # depending on the runtime; either way a failed run must leave nothing behind.
    bundle.args("/no/such/binary")
    cid = runtime.new_id()
    res = runtime.run_container(bundle, cid)
    assert res.returncode != 0
    assert_nothing_left(runtime, bundle, cid)
