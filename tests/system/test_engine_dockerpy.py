"""skiffd driven by Debian's python3-docker (docker-py) through its high-level API."""

import os
import time
import uuid

import pytest

from conftest import wait_for
from engine import DOCKER, SKIFFD

docker = pytest.importorskip("docker", reason="needs python3-docker (apt-get install "
                                              "python3-docker)")

# The fixture starts skiffd and imports busybox with the docker CLI.
pytestmark = pytest.mark.skipif(not os.path.exists(SKIFFD) or DOCKER is None,
                                reason="needs build/skiffd and the docker CLI")


@pytest.fixture(scope="module")
def client(engine):
    c = docker.DockerClient(base_url=f"unix://{engine.sock}", timeout=60)
    try:
        yield c
    finally:
        c.close()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---- system -----------------------------------------------------------------------------


def test_version_and_info(client):
    version = client.version()
    assert version["ApiVersion"] and version["Os"] == "linux"
    assert version["Components"][0]["Name"] == "Engine"
    info = client.info()
    assert info["OSType"] == "linux"
    assert info["Images"] >= 1
    assert client.ping() is True


# ---- images -----------------------------------------------------------------------------


def test_images_list_get_tag_remove(client):
    listed = client.images.list()
    assert any("busybox:latest" in image.tags for image in listed)
    image = client.images.get("busybox")
    assert image.id.startswith("sha256:") and "busybox:latest" in image.tags
    name = unique("dockerpy-tag")
    assert image.tag(name, tag="v1") is True
    tagged = client.images.get(f"{name}:v1")
    assert tagged.id == image.id
    assert f"{name}:v1" in client.images.get("busybox").tags
    client.images.remove(f"{name}:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{name}:v1")
    assert client.images.get("busybox").id == image.id  # the image itself stays


def test_missing_image_is_not_found(client):
    with pytest.raises(docker.errors.ImageNotFound) as info:
        client.images.get("no-such-image:1")
    assert isinstance(info.value, docker.errors.NotFound)
    assert info.value.status_code == 404
    with pytest.raises(docker.errors.NotFound):
        client.images.remove("no-such-image:1")


# ---- containers -------------------------------------------------------------------------


def test_run_returns_output_and_removes(client):
    name = unique("dockerpy-echo")
    out = client.containers.run("busybox", "echo hi", remove=True, name=name,
                                network_mode="none")
    assert out == b"hi\n"
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_run_failing_command_raises_container_error(client):
    with pytest.raises(docker.errors.ContainerError) as info:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True,
                              network_mode="none")
    assert info.value.exit_status == 3
    assert b"bad" in info.value.stderr


def test_detached_logs_reload_stop_wait_remove(client):
    c = client.containers.run("busybox", ["sh", "-c", "echo started; exec sleep 1000"],
                              detach=True, network_mode="none")
    try:
        assert len(c.id) == 64
        wait_for(lambda: b"started" in c.logs(), what="log line")
        c.reload()
        assert c.status == "running"
        assert c.attrs["State"]["Running"] is True
        t0 = time.monotonic()
        c.stop(timeout=1)
        # sleep as PID 1 ignores SIGTERM: SIGKILL after the 1 s timeout
        assert time.monotonic() - t0 >= 1.0
        assert c.wait(timeout=10) == {"StatusCode": 137, "Error": None}
        c.reload()
        assert c.status == "exited"
        assert c.attrs["State"]["ExitCode"] == 137
        assert c.logs() == b"started\n"
    finally:
        c.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_wait_returns_exit_code(client):
    c = client.containers.run("busybox", ["sh", "-c", "exit 5"], detach=True,
                              network_mode="none")
    try:
        assert c.wait(timeout=10)["StatusCode"] == 5
    finally:
        c.remove()


def test_list_with_filters(client):
    label = unique("dockerpy-list")
    running = client.containers.run("busybox", "sleep 1000", detach=True, name=f"{label}-up",
                                    labels={"suite": label}, network_mode="none")
    exited = client.containers.run("busybox", "true", detach=True, name=f"{label}-down",
                                   labels={"suite": label}, network_mode="none")
    try:
        exited.wait(timeout=10)
        ids = lambda cs: sorted(c.id for c in cs)  # noqa: E731
        assert ids(client.containers.list(all=True, filters={"label": f"suite={label}"})) == \
            sorted([running.id, exited.id])
        assert ids(client.containers.list(filters={"label": f"suite={label}"})) == [running.id]
        assert ids(client.containers.list(all=True, filters={"label": f"suite={label}",
                                                             "status": "exited"})) == \
            [exited.id]
        assert ids(client.containers.list(all=True, filters={"name": f"{label}-up"})) == \
            [running.id]
        assert ids(client.containers.list(all=True, filters={"id": exited.id[:12]})) == \
            [exited.id]
        listed = client.containers.list(all=True, filters={"name": f"{label}-up"})[0]
        assert listed.name == f"{label}-up"
        assert listed.labels == {"suite": label}
    finally:
        running.remove(force=True)
        exited.remove(force=True)


def test_rename(client):
    old, new = unique("dockerpy-old"), unique("dockerpy-new")
    c = client.containers.create("busybox", "true", name=old, network_mode="none")
    try:
        c.rename(new)
        c.reload()
        assert c.name == new
        assert client.containers.get(new).id == c.id
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(old)
    finally:
        c.remove()


def test_kill_with_sigkill(client):
    c = client.containers.run("busybox", "sleep 1000", detach=True, network_mode="none")
    try:
        c.kill(signal="SIGKILL")
        assert c.wait(timeout=10)["StatusCode"] == 137
        c.reload()
        assert c.status == "exited"
    finally:
        c.remove(force=True)


def test_restart(client):
    c = client.containers.run("busybox", "sleep 1000", detach=True, network_mode="none")
    try:
        c.reload()
        first = c.attrs["State"]["StartedAt"]
        pid = c.attrs["State"]["Pid"]
        c.restart(timeout=1)
        c.reload()
        assert c.status == "running"
        assert c.attrs["State"]["StartedAt"] != first
        assert c.attrs["State"]["Pid"] != pid
    finally:
        c.remove(force=True)


# ---- errors -----------------------------------------------------------------------------


def test_missing_container_is_not_found(client):
    with pytest.raises(docker.errors.NotFound) as info:
        client.containers.get("no-such-container")
    assert info.value.status_code == 404
    assert "no-such-container" in str(info.value)
    with pytest.raises(docker.errors.NotFound):
        client.api.remove_container("no-such-container")


def test_create_with_missing_image_is_image_not_found(client):
    # containers.create does not pull (run would, and there is no registry here)
    before = {c.id for c in client.containers.list(all=True)}
    with pytest.raises(docker.errors.ImageNotFound) as info:
        client.containers.create("no-such-image:1", "true", network_mode="none")
    assert info.value.status_code == 404
    assert "no-such-image" in str(info.value)
    assert {c.id for c in client.containers.list(all=True)} == before


def test_name_conflict_is_409(client):
    name = unique("dockerpy-dup")
    c = client.containers.create("busybox", "true", name=name, network_mode="none")
    try:
        with pytest.raises(docker.errors.APIError) as info:
            client.containers.create("busybox", "true", name=name, network_mode="none")
        assert info.value.status_code == 409
        assert "already in use" in info.value.explanation
    finally:
        c.remove()


def test_rename_to_a_taken_name_is_409(client):
    a, b = unique("dockerpy-a"), unique("dockerpy-b")
    first = client.containers.create("busybox", "true", name=a, network_mode="none")
    second = client.containers.create("busybox", "true", name=b, network_mode="none")
    try:
        with pytest.raises(docker.errors.APIError) as info:
            second.rename(a)
        assert info.value.status_code == 409
        assert "already in use" in info.value.explanation
        second.reload()
        assert second.name == b
    finally:
        first.remove()
        second.remove()


def test_kill_of_a_stopped_container_is_409(client):
    c = client.containers.create("busybox", "true", network_mode="none")
    try:
        with pytest.raises(docker.errors.APIError) as info:
            c.kill()
        assert info.value.status_code == 409
        assert "is not running" in info.value.explanation
        with pytest.raises(docker.errors.APIError) as info:
            c.pause()
        assert info.value.status_code == 409
    finally:
        c.remove()


# ---- events -----------------------------------------------------------------------------


def test_events_of_a_run(client):
    since = time.time() - 1
    name = unique("dockerpy-events")
    assert client.containers.run("busybox", "true", name=name, remove=True,
                                 network_mode="none") == b""
    time.sleep(0.2)
    events = list(client.events(decode=True, since=int(since), until=int(time.time()) + 1,
                                filters={"container": name}))
    mine = [e for e in events if e.get("Type") == "container" and
            e.get("Actor", {}).get("Attributes", {}).get("name") == name]
    actions = [e["Action"] for e in mine]
    for action in ("create", "start", "die", "destroy"):
        assert action in actions, actions
    assert actions.index("create") < actions.index("start") < actions.index("die") < \
        actions.index("destroy")
    die = mine[actions.index("die")]
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["image"] == "busybox"
    assert len({e["id"] for e in mine}) == 1


def test_events_container_filter_drops_other_types(client):
    since = time.time() - 1
    name = unique("dockerpy-filter")
    tag = unique("dockerpy-filter-tag")
    client.images.get("busybox").tag(tag)
    client.images.remove(tag)
    client.containers.run("busybox", "true", name=name, remove=True, network_mode="none")
    events = list(client.events(decode=True, since=int(since), until=int(time.time()) + 1,
                                filters={"container": name}))
    assert events and {e["Type"] for e in events} == {"container"}


def test_followed_logs_survive_the_removal_of_the_container(client):
    """docker-py's run() reads the followed log stream only after it removed the
    container: every line must still come."""
    c = client.containers.create("busybox", ["sh", "-c", "sleep 0.3; echo one; echo two"],
                                 network_mode="none")
    c.start()
    stream = c.logs(stream=True, follow=True)
    assert c.wait()["StatusCode"] == 0
    c.remove()
    assert b"".join(stream) == b"one\ntwo\n"
