"""Pushing to Debian's docker-registry on loopback: skiffd driven by the docker CLI, round
trips to a fresh data-root, and the peers (skopeo, podman) reading what skiff pushed."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
from pathlib import Path

import pytest

from engine import DOCKER, SKIFFD
from registry import (PODMAN, REGISTRY, SKOPEO, Registry, UploadProxy, busybox_layer,
                      docker_archive, image_inspect, tar_layer)

pytestmark = pytest.mark.skipif(
    not os.path.exists(SKIFFD) or DOCKER is None or REGISTRY is None,
    reason="needs build/skiffd, the docker CLI and docker-registry (scripts/install-peers)")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("registry")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def source(busybox_engine):
    """A skiffd with busybox imported."""
    return busybox_engine


@pytest.fixture
def fresh(empty_engine):
    return empty_engine


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_push_then_pull_on_fresh_data_root_and_run(registry, source, fresh):
    ref = f"{registry.host}/roundtrip/busybox:v1"
    source.docker("tag", "busybox", ref)
    res = source.docker("push", ref)
    assert f"The push refers to repository [{registry.host}/roundtrip/busybox]" in res.stdout
    assert "Pushed" in res.stdout
    _, manifest = registry.get_manifest("roundtrip/busybox", "v1")
    assert f"v1: digest: {digest_of(manifest)} size: {len(manifest)}" in res.stdout
    assert image_inspect(source, ref)["RepoDigests"] == [
        f"{registry.host}/roundtrip/busybox@{digest_of(manifest)}"]
    fresh.docker("pull", ref)
    assert image_inspect(fresh, ref)["Id"] == image_inspect(source, ref)["Id"]
    assert fresh.docker("run", "--rm", ref, "echo", "round trip").stdout == "round trip\n"


def test_push_again_sends_no_layer(registry, source):
    ref = f"{registry.host}/again/busybox:v1"
    source.docker("tag", "busybox", ref)
    source.docker("push", ref)
    res = source.docker("push", ref)
    assert "Layer already exists" in res.stdout and "Pushed" not in res.stdout


def test_push_mounts_from_another_repository_and_keeps_digest(registry, bb_layer_pushed,
                                                              fresh):
    repo, digest = bb_layer_pushed
    src = f"{registry.host}/{repo}:v1"
    fresh.docker("pull", src)
    dest = f"{registry.host}/mounted/copy:v1"
    fresh.docker("tag", src, dest)
    res = fresh.docker("push", dest)
    assert f"Mounted from {repo}" in res.stdout, res.stdout
    # the manifest it was pulled with is sent again: same digest
    assert f"v1: digest: {digest}" in res.stdout
    _, manifest = registry.get_manifest("mounted/copy", "v1",
                                        accept="application/vnd.oci.image.manifest.v1+json")
    assert digest_of(manifest) == digest


@pytest.fixture(scope="module")
def bb_layer_pushed(registry, rootfs_cache):
    digest, _, _ = registry.push_image("origin/img", "v1", [
        busybox_layer(rootfs_cache), tar_layer({"z": b"zstd layer\n"}, "zstd")])
    return "origin/img", digest


def test_push_all_tags(registry, source):
    for tag in ("a", "b"):
        source.docker("tag", "busybox", f"{registry.host}/alltags/bb:{tag}")
    res = source.docker("push", "--all-tags", f"{registry.host}/alltags/bb")
    assert "a: digest:" in res.stdout and "b: digest:" in res.stdout
    _, _, body = registry.request("GET", "/v2/alltags/bb/tags/list")
    assert sorted(json.loads(body)["tags"]) == ["a", "b"]


def test_push_unknown_image_fails_without_contacting_registry(registry, source):
    res = source.docker("push", f"{registry.host}/nothing/here:v1", check=False)
    assert res.returncode == 1
    assert f"An image does not exist locally with the tag: {registry.host}/nothing/here" \
        in res.stderr


@pytest.mark.skipif(SKOPEO is None, reason="needs skopeo")
def test_skopeo_inspects_what_skiff_pushed(registry, source):
    ref = f"{registry.host}/peers/skopeo:v1"
    source.docker("tag", "busybox", ref)
    source.docker("push", ref)
    out = subprocess.run([SKOPEO, "inspect", "--tls-verify=false", f"docker://{ref}"],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert len(info["Layers"]) == 1
    # skopeo verifies every blob while copying
    subprocess.run([SKOPEO, "copy", "--insecure-policy", "--src-tls-verify=false",
                    f"docker://{ref}", f"oci:{registry.top}/skopeo-copy:v1"],
                   check=True, capture_output=True)


@pytest.mark.skipif(PODMAN is None, reason="needs podman")
def test_podman_pulls_and_runs_what_skiff_pushed(registry, source):
    tmp_path = Path(tempfile.mkdtemp(prefix="skpod"))  # podman wants a short runroot
    ref = f"{registry.host}/peers/podman:v1"
    source.docker("tag", "busybox", ref)
    source.docker("push", ref)
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=20000:20000", '
                    '"nproc=32768:32768"]\n')
    env = dict(os.environ, CONTAINERS_CONF=str(conf))
    base = [PODMAN, "--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"),
            "--tmpdir", str(tmp_path / "tmp"), "--cgroup-manager", "cgroupfs",
            "--events-backend", "file", "--runtime", "runc"]
    try:
        res = subprocess.run([*base, "pull", "--tls-verify=false", ref],
                             capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stderr
        res = subprocess.run([*base, "run", "--rm", "--network", "none", ref, "echo",
                              "podman ran it"], capture_output=True, text=True, env=env,
                             timeout=120)
        assert res.stdout == "podman ran it\n", res.stderr
    finally:
        subprocess.run([*base, "system", "reset", "-f"], capture_output=True, env=env)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_push_to_another_registry_keeps_digest(registry, bb_layer_pushed, fresh,
                                               tmp_path):
    """A pulled layer keeps its compressed blob: pushed elsewhere, the same bytes and so the
    same manifest digest."""
    other = Registry(tmp_path / "other").start()
    try:
        repo, digest = bb_layer_pushed
        src = f"{registry.host}/{repo}:v1"
        fresh.docker("pull", src)
        dest = f"{other.host}/copied/img:v1"
        fresh.docker("tag", src, dest)
        res = fresh.docker("push", dest)
        assert f"v1: digest: {digest}" in res.stdout, res.stdout
        assert res.stdout.count("Pushed") == 2
    finally:
        other.stop()


def test_docker_cli_draws_push_progress(registry, bb_layer_pushed, fresh):
    repo, _ = bb_layer_pushed
    fresh.docker("pull", f"{registry.host}/{repo}:v1")
    # another registry, where no layer is: every one is uploaded
    other = Registry(fresh.top / "other").start()
    try:
        dest = f"{other.host}/bars/push:v1"
        fresh.docker("tag", f"{registry.host}/{repo}:v1", dest)
        res = subprocess.run(["script", "-qec", f"stty cols 150; {DOCKER} push {dest}",
                              "/dev/null"], env=fresh.env, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stdout
        assert "Pushing [" in res.stdout and "\x1b[" in res.stdout and "Pushed" in res.stdout
    finally:
        other.stop()


def test_docker_py_pulls_and_pushes(registry, bb_layer_pushed, fresh):
    docker_py = pytest.importorskip("docker")
    client = docker_py.DockerClient(base_url=f"unix://{fresh.sock}", version="1.45")
    try:
        repo, digest = bb_layer_pushed
        image = client.images.pull(f"{registry.host}/{repo}", tag="v1")
        assert f"{registry.host}/{repo}@{digest}" in image.attrs["RepoDigests"]
        image.tag(f"{registry.host}/dockerpy/img", "v1")
        lines = list(client.images.push(f"{registry.host}/dockerpy/img", tag="v1",
                                        stream=True, decode=True))
        assert not [m for m in lines if "error" in m], lines
        aux = [m["aux"] for m in lines if "aux" in m]
        assert aux and aux[0]["Tag"] == "v1" and aux[0]["Digest"] == digest
    finally:
        client.close()


# ---- several layers at once ----

def load_layers(engine, top, n, tag="layered:v1"):
    """Load into engine an image of n layers of random bytes (gzip cannot shrink them, so
    each upload takes a while); returns its tag."""
    raws = [tar_layer({f"layer{i}/data": os.urandom(512 * 1024)}, compress=None)[2]
            for i in range(n)]
    docker_archive(top / "layered.tar", raws, tag)
    engine.docker("load", "-i", top / "layered.tar")
    return tag


@pytest.fixture
def behind_proxy(tmp_path):
    """make(**kw): a registry on fresh storage and an UploadProxy(**kw) in front of it."""
    made = []

    def make(**kw):
        reg = Registry(tmp_path / f"behind{len(made)}").start()
        made.append(reg)
        proxy = UploadProxy(reg.port, **kw).start()
        made.append(proxy)
        return reg, proxy

    yield make
    for thing in reversed(made):
        thing.stop()


@pytest.fixture
def engine_with_config(tmp_path):
    """make(config): an empty skiffd started with that daemon.json."""
    from engine import new_engine
    engines = []

    def make(config):
        e = new_engine()
        engines.append(e)
        (e.top / "daemon.json").write_text(json.dumps(config))
        e.args = ["--config-file", str(e.top / "daemon.json")]
        e.start()
        return e

    yield make
    for e in engines:
        e.cleanup()


def manifest_absent(reg, repo, tag):
    try:
        reg.request("GET", f"/v2/{repo}/manifests/{tag}")
    except urllib.error.HTTPError as e:
        return e.code == 404
    return False


def test_push_uploads_layers_at_once(fresh, behind_proxy):
    """Each chunk is held 0.5 s on its way: one layer after another, the proxy never has
    two at once."""
    reg, proxy = behind_proxy(hold=0.5)
    src = load_layers(fresh, fresh.top, 4)
    ref = f"{proxy.host}/overlap/img:v1"
    fresh.docker("tag", src, ref)
    res = fresh.docker("push", ref)
    assert proxy.most_at_once("PATCH") >= 3, proxy.events
    assert res.stdout.count("Pushed") == 4 and "Waiting" not in res.stdout
    _, manifest = reg.get_manifest("overlap/img", "v1")
    assert len(json.loads(manifest)["layers"]) == 4


def test_max_concurrent_uploads_from_daemon_json(engine_with_config, behind_proxy):
    engine = engine_with_config({"max-concurrent-uploads": 2})
    reg, proxy = behind_proxy(hold=0.3)
    ref = f"{proxy.host}/limited/img:v1"
    engine.docker("tag", load_layers(engine, engine.top, 4), ref)
    res = engine.docker("push", ref)
    assert proxy.most_at_once("PATCH") == 2, proxy.events
    # docker's messages for the layers that wait for a turn
    assert res.stdout.count("Waiting") == 2, res.stdout
    assert reg.get_manifest("limited/img", "v1")[1]


def test_negative_max_concurrent_uploads_is_refused(engine_with_config):
    with pytest.raises(RuntimeError) as e:
        engine_with_config({"max-concurrent-uploads": -1})
    assert "invalid max concurrent uploads: -1" in str(e.value)


@pytest.mark.parametrize("config, most", [({"max-concurrent-downloads": 1}, 1),
                                          ({"max-concurrent-downloads": 2}, 2),
                                          ({}, 4)], ids=["1", "2", "default"])
def test_max_concurrent_downloads_from_daemon_json(engine_with_config, fresh, behind_proxy,
                                                   config, most):
    # the same setting for pulls, here for want of a better place for the fixtures;
    # skiff's default (8) starts all 4 layers at once
    reg, proxy = behind_proxy(hold_blob_get=0.3)
    ref = f"{proxy.host}/downloads/img:v1"
    fresh.docker("tag", load_layers(fresh, fresh.top, 4), ref)
    fresh.docker("push", ref)
    engine = engine_with_config(config)
    engine.docker("pull", ref)
    assert proxy.most_at_once("GET", "/blobs/") == most, proxy.events
    layers = engine.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", ref)
    assert layers.stdout.strip() == "4"


def test_negative_max_concurrent_downloads_is_refused(engine_with_config):
    with pytest.raises(RuntimeError) as e:
        engine_with_config({"max-concurrent-downloads": -3})
    assert "invalid max concurrent downloads: -3" in str(e.value)


def test_failed_layer_stops_the_others_and_writes_no_manifest(fresh, behind_proxy):
    """The first chunk is cut halfway; the other chunks are held 5 s. The push must fail
    at once naming the layer, cancel the uploads in flight, start no more, and leave the
    registry without a manifest."""
    reg, proxy = behind_proxy(hold=5.0, cut_patch=1)
    src = load_layers(fresh, fresh.top, 7)  # two more than dockerd's five at once
    ref = f"{proxy.host}/cut/img:v1"
    fresh.docker("tag", src, ref)
    t0 = time.monotonic()
    res = fresh.docker("push", ref, check=False)
    elapsed = time.monotonic() - t0
    assert res.returncode == 1, res.stdout
    assert "push layer sha256:" in res.stderr and "Patch" in res.stderr, res.stderr
    assert elapsed < 4.5, f"the held uploads were waited for ({elapsed:.1f} s)"
    assert proxy.cut_at is not None
    assert not [e for e in proxy.events if e[0] == "POST" and e[2] > proxy.cut_at], \
        "an upload started after the failure"
    assert not [e for e in proxy.events if "/manifests/" in e[1] and e[0] == "PUT"]
    assert manifest_absent(reg, "cut/img", "v1")
