"""Pulling from registries: skiffd driven by the docker CLI against Debian's docker-registry
on loopback (images put there by skopeo or uploaded by hand), and against a fake registry
for corrupt and interrupted transfers."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine import DOCKER, REPO, SKIFFD
from registry import (MEDIA_OCI_INDEX, REGISTRY, SKOPEO, FakeRegistry, Registry,
                      busybox_layer, free_port, image_inspect, store_files, tar_layer)
from test_cli_support import start_private_dockerd

SKIFF = str(REPO / "build" / "skiff")

pytestmark = pytest.mark.skipif(
    not os.path.exists(SKIFFD) or DOCKER is None or REGISTRY is None,
    reason="needs build/skiffd, the docker CLI and docker-registry (scripts/install-peers)")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("registry")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def bb_layer(rootfs_cache):
    return busybox_layer(rootfs_cache)


@pytest.fixture(scope="module")
def source(busybox_engine):
    """A skiffd with busybox imported, to make archives from."""
    return busybox_engine


@pytest.fixture
def engine(empty_engine):
    """A skiffd with an empty store."""
    return empty_engine


def skopeo_copy(src, dest):
    subprocess.run([SKOPEO, "copy", "--insecure-policy", "--dest-tls-verify=false", src, dest],
                   check=True, capture_output=True, timeout=120)


def docker_archive(source, tmp_path):
    path = tmp_path / "busybox-save.tar"
    source.docker("save", "-o", path, "busybox:latest")
    return path


needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="needs skopeo")


@needs_skopeo
def test_pull_image_pushed_by_skopeo_and_run(registry, source, engine, tmp_path):
    skopeo_copy(f"docker-archive:{docker_archive(source, tmp_path)}",
                f"docker://{registry.host}/skopeo/busybox:v1")
    ref = f"{registry.host}/skopeo/busybox:v1"
    res = engine.docker("pull", ref)
    assert "Pull complete" in res.stdout and "Downloaded newer image" in res.stdout
    assert res.stdout.strip().endswith(ref)
    out = engine.docker("run", "--rm", ref, "echo", "hello from the registry").stdout
    assert out == "hello from the registry\n"
    # the image keeps its identity: same id as the source, digest of the registry's manifest
    assert image_inspect(engine, ref)["Id"] == image_inspect(source, "busybox")["Id"]
    _, manifest = registry.get_manifest("skopeo/busybox", "v1")
    import hashlib
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    assert image_inspect(engine, ref)["RepoDigests"] == [f"{registry.host}/skopeo/busybox@{digest}"]
    listed = engine.docker("images", "--digests", "--format", "{{.Digest}}").stdout.split()
    assert listed == [digest]


@needs_skopeo
def test_pull_oci_layout_pushed_by_skopeo(registry, source, engine, tmp_path):
    layout = tmp_path / "layout"
    skopeo_copy(f"docker-archive:{docker_archive(source, tmp_path)}", f"oci:{layout}:v1")
    subprocess.run([SKOPEO, "copy", "--insecure-policy", "--dest-tls-verify=false",
                    f"oci:{layout}:v1", f"docker://{registry.host}/oci/busybox:v1"],
                   check=True, capture_output=True)
    mtype, _ = registry.get_manifest("oci/busybox", "v1")
    assert mtype == "application/vnd.oci.image.manifest.v1+json"
    engine.docker("pull", f"{registry.host}/oci/busybox:v1")
    out = engine.docker("run", "--rm", f"{registry.host}/oci/busybox:v1", "cat",
                        "/etc/passwd").stdout
    assert out.startswith("root:")


def test_pull_layers_gzip_zstd_and_plain(registry, bb_layer, engine):
    layers = [bb_layer, tar_layer({"a": b"from gzip\n"}, "gzip"),
              tar_layer({"b": b"from zstd\n"}, "zstd"), tar_layer({"c": b"plain\n"}, None)]
    registry.push_image("multi/layers", "v1", layers)
    ref = f"{registry.host}/multi/layers:v1"
    res = engine.docker("pull", ref)
    assert res.stdout.count("Pull complete") == 4
    out = engine.docker("run", "--rm", ref, "cat", "/a", "/b", "/c").stdout
    assert out == "from gzip\nfrom zstd\nplain\n"
    assert len(image_inspect(engine, ref)["RootFS"]["Layers"]) == 4


def test_pull_again_fetches_nothing(registry, bb_layer, engine):
    registry.push_image("again/base", "v1", [bb_layer])
    registry.push_image("again/child", "v1", [bb_layer, tar_layer({"x": b"x\n"})])
    engine.docker("pull", f"{registry.host}/again/base:v1")
    res = engine.docker("pull", f"{registry.host}/again/base:v1")
    assert "Image is up to date" in res.stdout and "Pull complete" not in res.stdout
    res = engine.docker("pull", f"{registry.host}/again/child:v1")
    assert res.stdout.count("Already exists") == 1 and res.stdout.count("Pull complete") == 1


def test_pull_by_digest(registry, bb_layer, engine):
    digest, _, config = registry.push_image("bydigest/img", "v1", [bb_layer])
    ref = f"{registry.host}/bydigest/img@{digest}"
    engine.docker("pull", ref)
    info = image_inspect(engine, ref)
    assert info["Id"] == config and info["RepoTags"] == []
    assert info["RepoDigests"] == [ref]
    assert engine.docker("run", "--rm", ref, "true").returncode == 0


def test_two_platform_index_and_platform_flag(registry, bb_layer, engine):
    _, amd, _ = registry.push_image("multi/arch", "amd64", [bb_layer, tar_layer(
        {"arch": b"amd64\n"})], arch="amd64")
    _, arm, _ = registry.push_image("multi/arch", "arm64", [bb_layer, tar_layer(
        {"arch": b"arm64\n"})], arch="arm64", variant="v8")
    index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": [arm, amd]}
    registry.put_manifest("multi/arch", "latest", index, MEDIA_OCI_INDEX)
    ref = f"{registry.host}/multi/arch"
    engine.docker("pull", ref)
    assert image_inspect(engine, ref)["Architecture"] == "amd64"
    assert engine.docker("run", "--rm", ref, "cat", "/arch").stdout == "amd64\n"
    engine.docker("pull", "--platform", "linux/arm64", ref)
    info = image_inspect(engine, ref)
    assert info["Architecture"] == "arm64" and info["Variant"] == "v8"
    res = engine.docker("pull", "--platform", "linux/s390x", ref, check=False)
    assert res.returncode != 0 and "no matching manifest for linux/s390x" in res.stderr


def test_platform_mismatch_of_single_manifest(registry, bb_layer, engine):
    registry.push_image("single/arch", "v1", [bb_layer], arch="amd64")
    res = engine.docker("pull", "--platform", "linux/arm64",
                        f"{registry.host}/single/arch:v1", check=False)
    assert res.returncode != 0
    assert "does not match the specified platform: wanted linux/arm64" in res.stderr


def test_pull_all_tags(registry, bb_layer, engine):
    for tag in ("one", "two"):
        registry.push_image("alltags/img", tag, [bb_layer, tar_layer({tag: b"\n"})])
    engine.docker("pull", "-a", f"{registry.host}/alltags/img")
    tags = engine.docker("images", "--format", "{{.Tag}}", f"{registry.host}/alltags/img")
    assert sorted(tags.stdout.split()) == ["one", "two"]


def test_pull_unknown_image_fails_clearly(registry, engine):
    res = engine.docker("pull", f"{registry.host}/no/such:thing", check=False)
    assert res.returncode == 1
    assert f"manifest for {registry.host}/no/such:thing not found" in res.stderr
    assert engine.docker("images", "-q").stdout == ""


def test_run_pulls_a_missing_image(registry, bb_layer, engine):
    registry.push_image("implicit/img", "v1", [bb_layer])
    ref = f"{registry.host}/implicit/img:v1"
    res = engine.docker("run", "--rm", "--pull", "never", ref, "true", check=False)
    assert res.returncode == 125 and "No such image" in res.stderr
    res = engine.docker("run", "--rm", ref, "echo", "pulled")
    assert res.stdout == "pulled\n"
    assert f"Unable to find image '{ref}' locally" in res.stderr
    # a new image under the tag: only --pull always sees it
    registry.push_image("implicit/img", "v1", [bb_layer, tar_layer({"new": b"new\n"})])
    assert engine.docker("run", "--rm", ref, "cat", "/new", check=False).returncode != 0
    res = engine.docker("run", "--rm", "--pull", "always", ref, "cat", "/new")
    assert res.stdout == "new\n"


def test_pull_rejects_blob_with_wrong_digest(bb_layer, engine):
    fake = FakeRegistry().start()
    try:
        good = tar_layer({"good": b"good\n"})
        evil = tar_layer({"good": b"evil\n"})[0]
        _, digests = fake.add_image("bad/img", "v1", [bb_layer, good], served={1: evil})
        before = store_files(engine.data)
        res = engine.docker("pull", f"{fake.host}/bad/img:v1", check=False)
        assert res.returncode == 1
        assert digests[1] in res.stderr, res.stderr
        assert engine.docker("images", "-aq").stdout == ""
        assert store_files(engine.data) == before
    finally:
        fake.stop()


def test_pull_survives_skiffd_killed_mid_pull(bb_layer, engine):
    fake = FakeRegistry().start()
    try:
        big = tar_layer({"big": os.urandom(6 * 1024 * 1024)})
        _, digests = fake.add_image("slow/img", "v1", [bb_layer, big])
        fake.slow[digests[1]] = 0.02
        ref = f"{fake.host}/slow/img:v1"
        before = store_files(engine.data)
        puller = subprocess.Popen([DOCKER, "pull", ref], env=engine.env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert fake.started.wait(20)
        time.sleep(0.5)
        engine.proc.send_signal(signal.SIGKILL)
        engine.proc.wait()
        puller.wait(20)
        engine.start()
        assert engine.docker("images", "-aq").stdout == ""
        assert store_files(engine.data) == before
        fake.slow.clear()
        engine.docker("pull", ref)
        assert engine.docker("run", "--rm", ref, "wc", "-c", "/big").stdout.split()[0] == \
            str(6 * 1024 * 1024)
        files = store_files(engine.data)
        assert not [f for f in files if f.startswith("tmp/")]
        assert len([f for f in files if f.startswith("layers/")]) == 2
        # the config and the two compressed layers; the manifest
        assert len([f for f in files if f.startswith("blobs/sha256/")]) == 3
        assert len([f for f in files if f.startswith("distribution/manifests/")]) == 1
    finally:
        fake.stop()


def test_save_of_a_pulled_image_loads_elsewhere(registry, bb_layer, engine, source,
                                                tmp_path):
    """A pulled layer is stored as its compressed blob; save still writes its tar."""
    registry.push_image("save/img", "v1", [bb_layer, tar_layer({"s": b"saved\n"}, "zstd")])
    ref = f"{registry.host}/save/img:v1"
    engine.docker("pull", ref)
    engine.docker("save", "-o", tmp_path / "img.tar", ref)
    source.docker("load", "-i", tmp_path / "img.tar")
    assert image_inspect(source, ref)["Id"] == image_inspect(engine, ref)["Id"]
    assert source.docker("run", "--rm", ref, "cat", "/s").stdout == "saved\n"
    source.docker("rmi", ref)


def on_terminal(command, env):
    """Run command on a pseudo-terminal 150 columns wide (script(1)); its output."""
    env = dict(env, COLUMNS="150")
    res = subprocess.run(["script", "-qec", f"stty cols 150; {command}", "/dev/null"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture
def slow_image(bb_layer):
    fake = FakeRegistry().start()
    big = tar_layer({"big": os.urandom(2 * 1024 * 1024)})
    _, digests = fake.add_image("bars/img", "v1", [bb_layer, big])
    fake.slow[digests[1]] = 0.01
    yield f"{fake.host}/bars/img:v1"
    fake.stop()


def test_docker_cli_draws_progress_bars(engine, slow_image):
    out = on_terminal(f"{DOCKER} pull {slow_image}", engine.env)
    assert "Downloading [" in out and "\x1b[" in out and "Pull complete" in out


def test_skiff_cli_draws_progress_bars_and_plain_lines_otherwise(engine, slow_image):
    skiff = str(Path(SKIFFD).with_name("skiff"))
    env = dict(engine.env, SKIFF_HOST=engine.env["DOCKER_HOST"])
    out = on_terminal(f"{skiff} pull {slow_image}", env)
    assert "Downloading [" in out and "\x1b[" in out and "Pull complete" in out
    engine.docker("rmi", slow_image)
    plain = subprocess.run([skiff, "pull", slow_image], env=env, capture_output=True,
                           text=True, timeout=120).stdout
    assert "\x1b[" not in plain and "Downloading" not in plain
    assert "Pull complete" in plain and plain.endswith(f"{slow_image}\n")


def test_search_is_not_supported(engine):
    res = engine.docker("search", "busybox", check=False)
    assert res.returncode == 1 and "search is not supported by skiff" in res.stderr


def test_pull_cut_off_mid_layer_leaves_nothing_and_retries(bb_layer, engine):
    fake = FakeRegistry().start()
    try:
        big = tar_layer({"big": os.urandom(2 * 1024 * 1024)})
        _, digests = fake.add_image("cut/img", "v1", [bb_layer, big])
        fake.slow[digests[1]] = 0.005
        fake.cut = True
        ref = f"{fake.host}/cut/img:v1"
        before = store_files(engine.data)
        res = engine.docker("pull", ref, check=False)
        assert res.returncode == 1 and digests[1] in res.stderr, res.stderr
        assert engine.docker("images", "-aq").stdout == ""
        assert store_files(engine.data) == before
        fake.cut = False
        engine.docker("pull", ref)
        assert engine.docker("run", "--rm", ref, "wc", "-c", "/big").stdout.split()[0] == \
            str(2 * 1024 * 1024)
    finally:
        fake.stop()


def api(engine, method, path, body=None, headers=None):
    """One request to skiffd's socket: (status, parsed JSON body or text)."""
    import http.client
    import socket as socketlib

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socketlib.socket(socketlib.AF_UNIX)
            self.sock.connect(str(engine.sock))

    c = Conn("localhost", timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    text = r.read().decode()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


@pytest.mark.parametrize("query, status, message", [
    ("fromImage=Bad/Name&tag=x", 400, "must be lowercase"),
    ("fromImage=a//b&tag=x", 400, "invalid reference format"),
    ("fromImage=busybox&tag=bad%20tag", 400, "invalid reference format"),
    ("fromImage=127.0.0.1:1/x&tag=x&platform=a/b/c/d", 400, "invalid platform"),
    # dockerd's form of a transport failure (Go's url.Error): the URL it failed on
    ("fromImage=127.0.0.1:1/x&tag=v1", 500, 'Get "http://127.0.0.1:1/v2/": '),
])
def test_pull_bad_input_is_refused_clearly(engine, query, status, message):
    code, body = api(engine, "POST", f"/v1.47/images/create?{query}")
    assert code == status and message in body["message"], body
    assert engine.docker("images", "-aq").stdout == ""


def test_push_and_auth_bad_input(engine):
    code, body = api(engine, "POST", "/v1.47/images/127.0.0.1:1/none/push?tag=v1")
    assert code == 404 and "An image does not exist locally with the tag" in body["message"]
    code, body = api(engine, "POST", "/v1.47/auth", body=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert code == 400, body
    code, body = api(engine, "POST", "/v1.47/auth", body=b"[1]",
                     headers={"Content-Type": "application/json"})
    assert code == 400 and "auth configuration" in body["message"], body


# ---- a registry out of reach, in dockerd's (Go's net) words ----

def unreachable_commands(host):
    """pull and login of host (nothing listens there), as argv tails."""
    return {"pull": ["pull", f"{host}/x:v1"],
            "login": ["login", "-u", "u", "--password-stdin", host]}


def refused(port):
    """dockerd's refusal: a loopback registry is insecure, so after https it tries http,
    whose failure is the one reported (distribution/pull.go keeps the last error)."""
    return (f'Error response from daemon: Get "http://127.0.0.1:{port}/v2/": dial tcp '
            f'127.0.0.1:{port}: connect: connection refused\n')


@pytest.mark.parametrize("command", ["pull", "login"])
@pytest.mark.parametrize("client", ["skiff", "docker"])
def test_unreachable_registry_reads_as_dockerd_words(engine, tmp_path, client, command):
    port = free_port()
    env = dict(engine.env, DOCKER_CONFIG=str(tmp_path / "cfg"),
               SKIFF_HOST=engine.env["DOCKER_HOST"])
    argv = [SKIFF if client == "skiff" else DOCKER,
            *unreachable_commands(f"127.0.0.1:{port}")[command]]
    res = subprocess.run(argv, env=env, input="p\n", capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1, res
    assert res.stderr == refused(port), res.stderr


@pytest.fixture(scope="module")
def dockerd():
    """A private dockerd (Debian's docker.io): the judge of what a registry out of reach
    reads as. Its socket's path."""
    sock, stop = start_private_dockerd("rpdk")
    try:
        yield sock
    finally:
        stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("command", ["pull", "login"])
def test_unreachable_registry_words_match_dockerd(engine, dockerd, tmp_path, host,
                                                  command):
    """The docker CLI's line for a registry nothing listens on, from skiffd and from
    dockerd, side by side (a name is reported by the address dialed first)."""
    target = f"{host}:{free_port()}"
    lines = {}
    for name, sock in (("skiffd", engine.env["DOCKER_HOST"]),
                       ("dockerd", f"unix://{dockerd}")):
        env = dict(os.environ, DOCKER_HOST=sock, DOCKER_CONFIG=str(tmp_path / name))
        res = subprocess.run([DOCKER, *unreachable_commands(target)[command]], env=env,
                             input="p\n", capture_output=True, text=True, timeout=60)
        lines[name] = (res.returncode, res.stderr)
    assert lines["skiffd"] == lines["dockerd"]
    assert "connect: connection refused" in lines["dockerd"][1]
