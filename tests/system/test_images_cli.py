"""The image commands of the real docker CLI (28) against skiffd: import, images, image
inspect, history, tag, rmi, save, load, image prune -- and bad input, which must give a
clear error and leave nothing half-created in the data root."""

import gzip
import json
import os
import subprocess
import tarfile

import pytest

from daemon import DOCKER, Skiffd

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, overlayfs)")


@pytest.fixture
def engine():
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    d = Skiffd().start()
    yield d
    d.cleanup()


def ok(res):
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}"
    return res.stdout


def image_id(engine, name):
    return ok(engine.docker("image", "inspect", "-f", "{{.Id}}", name)).strip()


def store_is_empty(engine):
    """Nothing in images/, layers/, blobs/ or tmp/ of the data root."""
    for sub in ("images", "layers", "blobs/sha256", "tmp"):
        left = os.listdir(engine.data / sub) if (engine.data / sub).exists() else []
        assert left == [], f"{sub} has {left}"


# ---------------------------------------------------------------- import, list, inspect


def test_import_prints_the_id_and_images_lists_it(engine, busybox_tar):
    out = ok(engine.docker("import", busybox_tar, "busybox:latest"))
    assert out.startswith("sha256:") and len(out.strip()) == 71
    table = ok(engine.docker("images")).splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert table[1].split()[:3] == ["busybox", "latest", out.strip()[7:19]]
    assert "1.99MB" in table[1]  # docker's size of this rootfs: files and symlinks


def test_image_id_is_sha256_of_the_stored_config(engine, busybox_tar):
    iid = ok(engine.docker("import", busybox_tar, "busybox")).strip()
    blob = engine.data / "blobs" / "sha256" / iid[7:]
    import hashlib
    assert "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest() == iid
    repos = json.loads((engine.data / "repositories.json").read_text())
    assert repos == {"Repositories": {"busybox": {"busybox:latest": iid}}}


def test_import_from_stdin_with_changes_and_message(engine, busybox_tar):
    res = subprocess.run([DOCKER, "import", "-c", "CMD [\"sh\"]", "-c", "ENV A=b",
                          "-c", "EXPOSE 80", "-c", "WORKDIR /srv", "-m", "from stdin", "-",
                          "bb:changed"], env=engine.docker_env, stdin=open(busybox_tar, "rb"),
                         capture_output=True, text=True, timeout=60)
    ok(res)
    info = json.loads(ok(engine.docker("image", "inspect", "bb:changed")))[0]
    assert info["Config"]["Cmd"] == ["sh"]
    assert info["Config"]["Env"] == ["A=b"]
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert info["Config"]["WorkingDir"] == "/srv"
    assert info["Comment"] == "from stdin"
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Os"] == "linux" and info["Architecture"]


def test_import_of_a_gzipped_tar(engine, busybox_tar, tmp_path):
    gz = tmp_path / "bb.tar.gz"
    gz.write_bytes(gzip.compress(busybox_tar.read_bytes()))
    plain = ok(engine.docker("import", busybox_tar)).strip()
    zipped = ok(engine.docker("import", gz)).strip()
    a = json.loads(ok(engine.docker("image", "inspect", plain)))[0]["RootFS"]["Layers"]
    b = json.loads(ok(engine.docker("image", "inspect", zipped)))[0]["RootFS"]["Layers"]
    assert a == b  # the diff_id is of the uncompressed tar


def test_history_shows_the_import(engine, busybox_tar):
    ok(engine.docker("import", "-m", "hello", busybox_tar, "bb"))
    rows = ok(engine.docker("history", "--format", "{{.ID}}|{{.Comment}}", "bb")).splitlines()
    assert len(rows) == 1 and rows[0].endswith("|hello")


def test_images_filters_and_quiet(engine, busybox_tar):
    a = ok(engine.docker("import", busybox_tar, "alpha:1")).strip()
    ok(engine.docker("import", "-c", "LABEL tier=web", busybox_tar, "beta:1"))
    ok(engine.docker("import", busybox_tar))  # dangling
    assert len(ok(engine.docker("images", "-q")).split()) == 3
    assert ok(engine.docker("images", "-q", "--filter", "dangling=true")).split() != []
    assert ok(engine.docker("images", "--format", "{{.Repository}}",
                            "--filter", "label=tier=web")).split() == ["beta"]
    assert ok(engine.docker("images", "--format", "{{.Repository}}", "alpha")).split() == ["alpha"]
    assert ok(engine.docker("images", "-q", "--no-trunc", "alpha")).split() == [a]
    res = engine.docker("images", "--filter", "bogus=1")
    assert res.returncode != 0 and "invalid filter 'bogus'" in res.stderr


# ---------------------------------------------------------------- tag and rmi


def test_tag_then_rmi_untags_before_deleting(engine, busybox_tar):
    iid = ok(engine.docker("import", busybox_tar, "busybox")).strip()
    ok(engine.docker("tag", "busybox", "localhost:5000/my/app:v1"))
    assert image_id(engine, "localhost:5000/my/app:v1") == iid
    assert ok(engine.docker("rmi", "localhost:5000/my/app:v1")).splitlines() == [
        "Untagged: localhost:5000/my/app:v1"]
    out = ok(engine.docker("rmi", "busybox")).splitlines()
    assert out[0] == "Untagged: busybox:latest"
    assert out[1] == f"Deleted: {iid}"
    store_is_empty(engine)


def test_rmi_by_id_with_two_repositories_needs_force(engine, busybox_tar):
    iid = ok(engine.docker("import", busybox_tar, "one")).strip()
    ok(engine.docker("tag", "one", "two"))
    res = engine.docker("rmi", iid[7:19])
    assert res.returncode == 1
    assert (f"conflict: unable to delete {iid[7:19]} (must be forced) - image is referenced "
            "in multiple repositories") in res.stderr
    out = ok(engine.docker("rmi", "-f", iid[7:19])).splitlines()
    assert sorted(out[:2]) == ["Untagged: one:latest", "Untagged: two:latest"]
    assert f"Deleted: {iid}" in out
    store_is_empty(engine)


def test_missing_images_are_reported_as_docker_does(engine, tmp_path):
    for args in (("rmi", "nope"), ("image", "inspect", "nope"), ("tag", "nope", "x"),
                 ("history", "nope"), ("save", "-o", tmp_path / "out.tar", "nope")):
        res = engine.docker(*args)
        assert res.returncode == 1, args
        assert "No such image: nope:latest" in res.stderr, (args, res.stderr)


def test_image_prune_removes_only_dangling(engine, busybox_tar):
    ok(engine.docker("import", busybox_tar, "kept"))
    dangling = ok(engine.docker("import", busybox_tar)).strip()
    out = ok(engine.docker("image", "prune", "-f"))
    assert f"deleted: {dangling}" in out
    assert ok(engine.docker("images", "--format", "{{.Repository}}")).split() == ["kept"]
    ok(engine.docker("image", "prune", "-a", "-f"))
    assert ok(engine.docker("images", "-q")).split() == []
    store_is_empty(engine)


# ---------------------------------------------------------------- save and load


def test_save_load_round_trip_keeps_id_and_tags(engine, busybox_tar, tmp_path):
    iid = ok(engine.docker("import", busybox_tar, "busybox")).strip()
    ok(engine.docker("tag", "busybox", "busybox:v2"))
    archive = tmp_path / "bb.tar"
    ok(engine.docker("save", "-o", archive, "busybox"))  # a bare name: every tag
    names = tarfile.open(archive).getnames()
    for member in ("manifest.json", "index.json", "oci-layout", "repositories",
                   f"blobs/sha256/{iid[7:]}"):
        assert member in names
    manifest = json.load(tarfile.open(archive).extractfile("manifest.json"))
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "busybox:v2"]
    ok(engine.docker("rmi", "busybox", "busybox:v2"))
    store_is_empty(engine)
    out = ok(engine.docker("load", "-i", archive)).splitlines()
    assert sorted(out) == ["Loaded image: busybox:latest", "Loaded image: busybox:v2"]
    assert image_id(engine, "busybox:v2") == iid


def test_save_to_stdout_and_load_from_stdin(engine, busybox_tar, tmp_path):
    iid = ok(engine.docker("import", busybox_tar, "bb:1")).strip()
    data = subprocess.run([DOCKER, "save", "bb:1"], env=engine.docker_env,
                          capture_output=True, timeout=60)
    assert data.returncode == 0 and len(data.stdout) > 2_000_000
    ok(engine.docker("rmi", "bb:1"))
    res = subprocess.run([DOCKER, "load"], env=engine.docker_env, input=data.stdout,
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert b"Loaded image: bb:1" in res.stdout
    assert image_id(engine, "bb:1") == iid


def test_load_of_gzipped_archive(engine, busybox_tar, tmp_path):
    ok(engine.docker("import", busybox_tar, "bb:z"))
    archive = tmp_path / "bb.tar"
    ok(engine.docker("save", "-o", archive, "bb:z"))
    ok(engine.docker("rmi", "bb:z"))
    gz = tmp_path / "bb.tar.gz"
    gz.write_bytes(gzip.compress(archive.read_bytes()))
    assert "Loaded image: bb:z" in ok(engine.docker("load", "-i", gz))


# ---------------------------------------------------------------- bad input


def test_import_of_garbage_fails_and_leaves_nothing(engine, tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(5000))
    res = engine.docker("import", junk, "junk")
    assert res.returncode == 1 and "invalid layer tar" in res.stderr
    store_is_empty(engine)


def test_import_of_a_tar_escaping_its_layer_fails(engine, tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        t.addfile(info)
        data = tarfile.TarInfo("link/skiff-pwned")
        data.size = 1
        import io
        t.addfile(data, io.BytesIO(b"x"))
    res = engine.docker("import", evil, "evil")
    assert res.returncode == 1 and "symlink" in res.stderr
    assert not os.path.exists("/etc/skiff-pwned")
    store_is_empty(engine)


def test_import_with_a_bad_change_or_reference_fails_before_reading(engine, busybox_tar):
    res = engine.docker("import", "-c", "RUN rm -rf /", busybox_tar, "x")
    assert res.returncode == 1 and "run is not a valid change command" in res.stderr
    status, body = engine.get_json("/images/create?fromSrc=-&repo=Bad%3A%3Aname",
                                   "-X", "POST", "--data-binary", f"@{busybox_tar}",
                                   "-H", "Content-Type: application/x-tar", "-H", "Expect:")
    assert status == 400 and "invalid reference format" in body["message"]
    store_is_empty(engine)


def test_load_of_archive_with_wrong_layer_digest_fails_and_leaves_nothing(
        engine, busybox_tar, tmp_path):
    ok(engine.docker("import", busybox_tar, "bb"))
    good = tmp_path / "good.tar"
    ok(engine.docker("save", "-o", good, "bb"))
    ok(engine.docker("rmi", "bb"))
    bad = tmp_path / "bad.tar"
    manifest = json.load(tarfile.open(good).extractfile("manifest.json"))
    layer_name = manifest[0]["Layers"][0]
    with tarfile.open(good) as src, tarfile.open(bad, "w") as dst:
        for m in src.getmembers():
            f = src.extractfile(m) if m.isfile() else None
            if m.name == layer_name:
                data = f.read()
                mid = len(data) // 2  # inside busybox: the tar stays valid
                data = data[:mid] + bytes([data[mid] ^ 1]) + data[mid + 1:]
                import io
                dst.addfile(m, io.BytesIO(data))
            else:
                dst.addfile(m, f)
    res = engine.docker("load", "-i", bad)
    assert res.returncode == 1 and "invalid diffID for layer 0" in res.stderr
    store_is_empty(engine)


def test_load_of_something_that_is_no_image_archive(engine, tmp_path):
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as t:
        p = tmp_path / "hello.txt"
        p.write_text("hi")
        t.add(p, arcname="hello.txt")
    res = engine.docker("load", "-i", plain)
    assert res.returncode == 1
    assert "neither manifest.json nor index.json" in res.stderr
    store_is_empty(engine)


def test_store_survives_a_daemon_restart(engine, busybox_tar):
    iid = ok(engine.docker("import", busybox_tar, "persist:1")).strip()
    engine.stop()
    engine.start()
    assert image_id(engine, "persist:1") == iid


def test_image_events_are_published(engine, busybox_tar):
    import time
    since = int(time.time())
    iid = ok(engine.docker("import", busybox_tar, "ev:1")).strip()
    ok(engine.docker("tag", "ev:1", "ev:2"))
    ok(engine.docker("rmi", "ev:1", "ev:2"))
    time.sleep(1.1)
    out = ok(engine.docker("events", "--since", since, "--until", int(time.time()),
                           "--filter", "type=image", "--format",
                           "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}"))
    assert out.splitlines() == [f"import {iid} <no value>", f"tag {iid} ev:2",
                                f"untag {iid} ev:1", f"untag {iid} ev:2",
                                f"delete {iid} <no value>"]


def test_rmi_of_an_image_a_container_uses_is_a_conflict(engine, busybox_tar):
    iid = ok(engine.docker("import", busybox_tar, "used")).strip()
    created = engine.docker("create", "--name", "user", "used", "sh")
    if created.returncode != 0:
        pytest.skip(f"containers cannot be created yet: {created.stderr.strip()}")
    try:
        cid = engine.docker("inspect", "-f", "{{.Id}}", "user").stdout.strip()
        res = engine.docker("rmi", "used")
        assert res.returncode == 1
        assert ('conflict: unable to remove repository reference "used" (must force) - '
                f"container {cid[:12]} is using its referenced image {iid[7:19]}") in res.stderr
        res = engine.docker("rmi", iid)
        assert res.returncode == 1 and "(must be forced)" in res.stderr
        # Forced: the tag goes; the image stays (dangling) while the container uses it.
        assert ok(engine.docker("rmi", "-f", "used")).splitlines() == ["Untagged: used:latest"]
        assert image_id(engine, iid) == iid
    finally:
        engine.docker("rm", "-f", "user")
    assert f"Deleted: {iid}" in ok(engine.docker("rmi", iid))
    store_is_empty(engine)
