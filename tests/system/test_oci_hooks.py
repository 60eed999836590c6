"""config.json `hooks` (all six kinds, state on stdin, timeouts) and `annotations`."""

import json
import os
import time

import pytest

from conftest import wait_for

HOOK_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer",
              "poststart", "poststop"]

# Records the state it gets on stdin and the order it ran in.  startContainer hooks run
# inside the container, so the hook directory is bind-mounted at the same path there.
HOOK_SCRIPT = """#!/bin/sh
cat > "$HOOK_DIR/$1.json"
echo "$1" >> "$HOOK_DIR/order"
"""


@pytest.fixture
def hooks(workdir, bundle):
    d = workdir / "hooks"
    d.mkdir()
    script = d / "hook.sh"
    script.write_text(HOOK_SCRIPT)
    script.chmod(0o755)
    bundle.add_mount(str(d), "bind", d, ["bind"])

    class Hooks:
        dir = d

        def add(self, kind, name=None, **extra):
            name = name or kind
            h = {"path": str(script), "args": ["hook.sh", name], "env": [f"HOOK_DIR={d}"]}
            h.update(extra)
            bundle.config.setdefault("hooks", {}).setdefault(kind, []).append(h)

        def ran(self):
            f = d / "order"
            return f.read_text().split() if f.exists() else []

        def state(self, name):
            return json.loads((d / f"{name}.json").read_text())

    return Hooks()


def all_hooks(hooks):
    for kind in HOOK_KINDS:
        hooks.add(kind)


def test_create_runs_create_phase_hooks(runtime, bundle, hooks):
    all_hooks(hooks)
    runtime.create(bundle)
    ran = set(hooks.ran())
    assert {"prestart", "createRuntime", "createContainer"} <= ran
    assert "startContainer" not in ran and "poststop" not in ran


# runc 1.1 runs poststart hooks at the end of `create`; the spec says after `start`.
@pytest.mark.skiff_only
def test_create_does_not_run_poststart(runtime, bundle, hooks):
    all_hooks(hooks)
    runtime.create(bundle)
    assert set(hooks.ran()) == {"prestart", "createRuntime", "createContainer"}


def test_create_phase_hooks_run_in_spec_order(runtime, bundle, hooks):
    all_hooks(hooks)
    runtime.create(bundle)
    ran = hooks.ran()
    assert ran.index("createRuntime") < ran.index("createContainer")
    assert ran.index("prestart") < ran.index("createContainer")


# runc 1.1 runs poststart at the end of `create` (see above).
@pytest.mark.skiff_only
def test_start_runs_start_container_then_poststart(runtime, bundle, hooks):
    all_hooks(hooks)
    cid = runtime.create(bundle)
    runtime.start(cid)
    wait_for(lambda: "poststart" in hooks.ran(), what="poststart hook")
    assert hooks.ran()[3:] == ["startContainer", "poststart"]


def test_delete_runs_poststop(runtime, bundle, hooks):
    all_hooks(hooks)
    cid = runtime.create_started(bundle)
    runtime.delete(cid, force=True)
    assert hooks.ran()[-1] == "poststop"
    assert hooks.ran().count("poststop") == 1


def test_run_runs_all_six_hooks(runtime, bundle, hooks):
    all_hooks(hooks)
    bundle.args("true")
    assert runtime.run_container(bundle).returncode == 0
    assert sorted(hooks.ran()) == sorted(HOOK_KINDS)


@pytest.mark.parametrize("kind", HOOK_KINDS)
def test_hook_receives_state_on_stdin(runtime, bundle, hooks, kind):
    hooks.add(kind)
    bundle.args("true")
    cid = runtime.new_id()
    assert runtime.run_container(bundle, cid).returncode == 0
    st = hooks.state(kind)
    assert st["id"] == cid
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    assert st["ociVersion"].startswith("1.")
    assert "status" in st
    if kind != "poststop":
        assert st["pid"] > 0


def test_start_runs_start_container_hook(runtime, bundle, hooks):
    all_hooks(hooks)
    cid = runtime.create(bundle)
    assert "startContainer" not in hooks.ran()
    runtime.start(cid)
    wait_for(lambda: "startContainer" in hooks.ran(), what="startContainer hook")


SPEC_STATUS = {"prestart": "creating", "createRuntime": "creating",
               "createContainer": "creating", "startContainer": "created",
               "poststart": "running", "poststop": "stopped"}


# runc 1.1 reports "created" to poststart hooks, which it runs during `create`.
@pytest.mark.skiff_only
def test_hook_state_status_follows_spec(runtime, bundle, hooks):
    all_hooks(hooks)
    cid = runtime.create_started(bundle)
    wait_for(lambda: "poststart" in hooks.ran(), what="poststart hook")
    runtime.delete(cid, force=True)
    assert {k: hooks.state(k)["status"] for k in HOOK_KINDS} == SPEC_STATUS


def test_hook_state_pid_is_container_init(runtime, bundle, hooks):
    hooks.add("poststart")
    cid = runtime.create(bundle)
    runtime.start(cid)
    wait_for(lambda: "poststart" in hooks.ran(), what="poststart hook")
    assert hooks.state("poststart")["pid"] == runtime.pid(cid)


def test_hook_gets_configured_args_and_env(runtime, bundle, hooks, workdir):
    out = workdir / "hooks" / "argv-env"
    bundle.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", f'echo "$0 $1 $SKIFF_HOOK_VAR" > {out}', "first", "second"],
        "env": ["SKIFF_HOOK_VAR=from-config"],
    }]}
    runtime.create(bundle)
    assert out.read_text() == "first second from-config\n"


def test_failing_create_runtime_hook_fails_create(runtime, bundle):
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/false"}]}
    cid = runtime.new_id()
    res = runtime.create(bundle, cid, check=False)
    assert res.returncode != 0
    assert runtime.run("state", cid, check=False).returncode != 0


def test_failing_prestart_hook_fails_run(runtime, bundle):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    bundle.args("true")
    assert runtime.run_container(bundle).returncode != 0


def test_failing_poststop_hook_does_not_block_delete(runtime, bundle):
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/false"}]}
    cid = runtime.create_started(bundle)
    runtime.delete(cid, force=True, check=False)
    assert runtime.run("state", cid, check=False).returncode != 0


def test_hook_timeout_is_honoured(runtime, bundle, token):
    marker = f"SKIFF_HOOK_TIMEOUT_MARK={token}"
    bundle.config["hooks"] = {"createRuntime": [{
        "path": "/bin/sh", "args": ["sh", "-c", "exec sleep 30"], "env": [marker],
        "timeout": 1,
    }]}
    cid = runtime.new_id()
    t0 = time.monotonic()
    res = runtime.create(bundle, cid, check=False, timeout=20)
    elapsed = time.monotonic() - t0
    assert res.returncode != 0
    assert elapsed < 10, f"create took {elapsed:.1f}s with a 1s hook timeout"
    assert runtime.run("state", cid, check=False).returncode != 0
    wait_for(lambda: not processes_with_env(marker), what="timed-out hook to be killed")


def processes_with_env(entry):
    """PIDs whose environment contains entry (only our own hooks carry the token)."""
    found = []
    needle = entry.encode() + b"\0"
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if needle in open(f"/proc/{pid}/environ", "rb").read():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def test_start_container_hook_runs_inside_container(runtime, bundle, hooks, workdir):
    out = workdir / "hooks" / "inside"
    (bundle.rootfs / "only-in-container").write_text("x")
    bundle.config["hooks"] = {"startContainer": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", f"test -e /only-in-container && echo inside > {out}"],
    }]}
    runtime.create_started(bundle)
    wait_for(out.exists, what="startContainer hook output")
    assert out.read_text() == "inside\n"


# ---------------------------------------------------------------- annotations


def test_annotations_reported_by_state(runtime, bundle):
    bundle.config["annotations"] = {"org.example.key": "value", "com.skiff.test": "1"}
    cid = runtime.create(bundle)
    assert runtime.state(cid)["annotations"] == {"org.example.key": "value",
                                                 "com.skiff.test": "1"}


def test_annotations_passed_to_hooks(runtime, bundle, hooks):
    bundle.config["annotations"] = {"org.example.key": "hooked"}
    hooks.add("createRuntime")
    runtime.create(bundle)
    assert hooks.state("createRuntime")["annotations"] == {"org.example.key": "hooked"}
