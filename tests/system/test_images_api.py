"""The image endpoints over HTTP (curl on skiffd's socket): status codes, JSON shapes and
streams as dockerd gives them (moby api/swagger.yaml)."""

import io
import json
import os
import tarfile

import pytest

from daemon import Skiffd

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, overlayfs)")


@pytest.fixture(scope="module")
def engine(busybox_tar):
    """One daemon with busybox:latest imported; tests add what they need."""
    d = Skiffd().start()
    status, _, body = post_tar(d, "/images/create?fromSrc=-&repo=busybox&tag=latest",
                               busybox_tar)
    assert status == 200, body
    yield d
    d.cleanup()


def post_tar(d, path, tar_path):
    """POST a file as the body: (status, headers, body)."""
    return d.get(path, "-X", "POST", "--data-binary", f"@{tar_path}",
                 "-H", "Content-Type: application/x-tar", "-H", "Expect:")


def json_lines(body):
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_import_answers_a_json_progress_line_with_the_id(engine, busybox_tar):
    status, headers, body = post_tar(
        engine, "/v1.47/images/create?fromSrc=-&repo=imp&tag=1&message=m"
                "&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db", busybox_tar)
    assert status == 200 and headers["content-type"] == "application/json"
    lines = json_lines(body)
    assert len(lines) == 1 and lines[0]["status"].startswith("sha256:")
    status, info = engine.get_json("/images/imp:1/json")
    assert status == 200
    assert info["Id"] == lines[0]["status"]
    assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Env"] == ["A=b"]
    assert info["Comment"] == "m"


def test_import_from_a_url_is_refused_clearly(engine):
    status, _, body = engine.get("/images/create?fromSrc=http%3A%2F%2Fexample%2Fx.tar",
                                 "-X", "POST")
    assert status == 400 and "not supported" in json.loads(body)["message"]


def test_list_has_docker_summary_fields(engine):
    status, images = engine.get_json("/v1.47/images/json")
    assert status == 200
    bb = [i for i in images if "busybox:latest" in i["RepoTags"]][0]
    for key in ("Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size",
                "SharedSize", "Labels", "Containers"):
        assert key in bb, key
    assert "VirtualSize" not in bb
    status, old = engine.get_json("/v1.41/images/json")
    assert [i for i in old if "busybox:latest" in i["RepoTags"]][0]["VirtualSize"] == bb["Size"]


def test_list_rejects_malformed_filters(engine):
    status, body = engine.get_json("/images/json?filters=%7Bnot-json")
    assert status == 400
    status, body = engine.get_json("/images/json?filters=%7B%22nope%22%3A%5B%22x%22%5D%7D")
    assert status == 400 and body["message"] == "invalid filter 'nope'"


def test_inspect_history_and_not_found(engine):
    status, info = engine.get_json("/images/busybox/json")
    assert status == 200 and info["RepoTags"] == ["busybox:latest"]
    assert info["GraphDriver"]["Name"] == "overlay2"
    assert info["Metadata"]["LastTagTime"]
    assert "ContainerConfig" not in info
    status, old = engine.get_json("/v1.44/images/busybox/json")
    assert "ContainerConfig" in old
    status, hist = engine.get_json("/images/busybox/history")
    assert status == 200 and hist[0]["Id"] == info["Id"] and hist[0]["Tags"] == ["busybox:latest"]
    status, body = engine.get_json("/images/nope/json")
    assert status == 404 and body["message"] == "No such image: nope:latest"
    status, body = engine.get_json("/images/NOPE/json")
    assert status == 400 and "must be lowercase" in body["message"]


def test_names_with_registry_and_slashes_route(engine):
    status, _, _ = engine.get("/images/busybox/tag?repo=localhost:5000/a/b&tag=t", "-X", "POST")
    assert status == 201
    status, info = engine.get_json("/images/localhost:5000/a/b:t/json")
    assert status == 200 and "localhost:5000/a/b:t" in info["RepoTags"]
    status, body = engine.get_json("/images/localhost:5000/a/b:t", "-X", "DELETE")
    assert status == 200 and body == [{"Untagged": "localhost:5000/a/b:t"}]


def test_tag_with_bad_input(engine):
    status, body = engine.get_json("/images/busybox/tag?repo=Bad", "-X", "POST")
    assert status == 400
    status, body = engine.get_json("/images/busybox/tag?repo=ok&tag=bad%20tag", "-X", "POST")
    assert (status, body) == (400, {"message": "invalid tag format"})
    status, body = engine.get_json("/images/nope/tag?repo=ok", "-X", "POST")
    assert status == 404


def test_delete_conflict_is_409(engine):
    engine.get("/images/busybox/tag?repo=second", "-X", "POST")
    status, info = engine.get_json("/images/busybox/json")
    status, body = engine.get_json(f"/images/{info['Id'][7:19]}", "-X", "DELETE")
    assert status == 409
    assert "image is referenced in multiple repositories" in body["message"]
    status, body = engine.get_json("/images/second", "-X", "DELETE")
    assert status == 200 and body == [{"Untagged": "second:latest"}]


def test_save_streams_a_tar_and_load_answers_json_stream(engine, tmp_path):
    res = engine.curl("/images/busybox/get", "-D", str(tmp_path / "head"), "-o",
                      str(tmp_path / "a.tar"))
    head = (tmp_path / "head").read_text().lower()
    assert res.returncode == 0 and " 200 " in head.splitlines()[0]
    assert "content-type: application/x-tar" in head
    assert "manifest.json" in tarfile.open(tmp_path / "a.tar").getnames()
    res = engine.curl("/images/get?names=busybox&names=busybox:latest", "-o",
                      str(tmp_path / "b.tar"))
    assert res.returncode == 0
    names = tarfile.open(tmp_path / "b.tar").getnames()
    assert "manifest.json" in names and "index.json" in names
    status, headers, body = post_tar(engine, "/images/load?quiet=1", tmp_path / "b.tar")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json_lines(body) == [{"stream": "Loaded image: busybox:latest\n"}]
    status, body = engine.get_json("/images/get?names=nope")
    assert status == 404 and body["message"] == "No such image: nope:latest"


def test_load_of_a_bad_archive_is_400(engine, tmp_path):
    junk = tmp_path / "junk.tar"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("manifest.json")
        data = b'[{"Config": "../../etc/passwd", "Layers": []}]'
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    junk.write_bytes(buf.getvalue())
    status, _, body = post_tar(engine, "/images/load", junk)
    assert status == 400, body
    assert os.listdir(engine.data / "tmp") == []


def test_prune_answers_docker_report(engine, busybox_tar):
    status, _, body = post_tar(engine, "/images/create?fromSrc=-", busybox_tar)
    dangling = json_lines(body)[0]["status"]
    status, report = engine.get_json("/images/prune?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D",
                                     "-X", "POST")
    assert status == 200
    assert {"Deleted": dangling} in report["ImagesDeleted"]
    assert isinstance(report["SpaceReclaimed"], int)
    status, report = engine.get_json("/images/prune", "-X", "POST")
    assert report["ImagesDeleted"] is None
    status, body = engine.get_json("/images/prune?filters=%7B%22bogus%22%3A%5B%221h%22%5D%7D",
                                   "-X", "POST")
    assert (status, body) == (400, {"message": "invalid filter 'bogus'"})
