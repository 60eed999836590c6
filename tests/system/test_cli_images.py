"""skiff's image commands (images, tag, rmi, import, save, load, image inspect, image prune)
against the daemon under test, compared with the docker CLI where deterministic."""

import io
import json
import subprocess
import tarfile

import pytest

from test_cli_support import IMAGE, REPO, cli, without_age  # noqa: F401  (cli is a fixture)


@pytest.fixture
def rootfs_tar(tmp_path):
    """A busybox root filesystem as a tar file."""
    subprocess.run([str(REPO / "scripts" / "make-busybox-rootfs"), str(tmp_path / "rootfs")],
                   check=True)
    tar = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(tmp_path / "rootfs"), "-cf", str(tar), "."], check=True)
    return tar


@pytest.fixture
def tags(cli):
    """Tags made by a test (repository names unique to it), removed at teardown."""
    made = []

    def tag(what):
        t = f"skiff-test-{cli.token}-{what}:v1"
        made.append(t)
        return t

    yield tag
    for t in made:
        cli.skiff("rmi", "-f", t)


def same_rows(mine, theirs, header=False):
    """docker orders an image's tags by Go map iteration: compare rows as sets.
    The two commands run a moment apart, so "4 seconds ago" may read "5 seconds
    ago" in the second: relative times compare equal, and so does the padding
    they shift."""
    a, b = [without_age(l) for l in mine.splitlines()], [without_age(l) for l in theirs.splitlines()]
    if header:
        assert a[:1] == b[:1]
        a, b = a[1:], b[1:]
    return sorted(a) == sorted(b)


def test_images_format_matches_docker(cli, tags):
    t = tags("fmt")
    cli.ok("tag", IMAGE, t)
    for fmt in ["{{.Repository}}:{{.Tag}}", "{{.ID}} {{.Size}} {{.Digest}}",
                "table {{.Repository}}\t{{.Tag}}\t{{.ID}}", "{{json .}}", "json",
                "{{.Containers}} {{.SharedSize}} {{.UniqueSize}} {{.VirtualSize}} {{.CreatedAt}}"]:
        mine, theirs = cli.ok("images", "--format", fmt), cli.docker("images", "--format", fmt).out
        assert same_rows(mine, theirs, header=fmt.startswith("table")), fmt


def test_images_table_matches_docker(cli, tags):
    cli.ok("tag", IMAGE, tags("table"))
    for args in (["images"], ["images", "--digests"], ["images", "--no-trunc"], ["image", "ls", "-a"]):
        assert same_rows(cli.ok(*args), cli.docker(*args).out, header=True), args


def test_images_quiet_lists_an_id_per_tag_like_docker(cli, tags):
    cli.ok("tag", IMAGE, tags("q1"))
    cli.ok("tag", IMAGE, tags("q2"))
    mine = cli.ok("images", "-q")
    assert mine == cli.docker("images", "-q").out
    assert cli.ok("images", "-q", "--no-trunc") == cli.docker("images", "-q", "--no-trunc").out


def test_images_filters_by_reference(cli, tags):
    t = tags("ref")
    cli.ok("tag", IMAGE, t)
    repo = t.split(":")[0]
    assert cli.ok("images", "--format", "{{.Repository}}:{{.Tag}}", repo) == t + "\n"
    assert cli.ok("images", "-q", "--filter", f"reference={repo}") != ""


def test_tag_then_rmi_untags(cli, tags):
    t = tags("rmi")
    assert cli.ok("tag", IMAGE, t) == ""
    out = cli.ok("rmi", t)
    assert out == f"Untagged: {t}\n"
    assert cli.ok("images", "-q", t) == ""


def test_rmi_of_a_missing_image_fails_like_docker(cli):
    mine = cli.skiff("rmi", "skiff-no-such-image:x")
    theirs = cli.docker("rmi", "skiff-no-such-image:x")
    assert (mine.rc, mine.out, mine.err) == (theirs.rc, theirs.out, theirs.err)


def test_import_from_a_file_with_changes_and_message(cli, tags, rootfs_tar):
    t = tags("imp")
    out = cli.ok("import", "-c", "CMD [\"echo\", \"from-import\"]", "-c", "ENV A=b",
                 "-m", "imported by skiff", str(rootfs_tar), t)
    assert out.startswith("sha256:") and len(out.strip()) == 71
    img = json.loads(cli.ok("image", "inspect", t))[0]
    assert img["Id"] == out.strip()
    assert img["Config"]["Cmd"] == ["echo", "from-import"]
    assert "A=b" in img["Config"]["Env"]
    assert img["Comment"] == "imported by skiff"
    r = cli.skiff("run", "--rm", "--network", "none", t)
    assert r.out == "from-import\n", r


def test_import_from_stdin(cli, tags, rootfs_tar):
    t = tags("stdin")
    r = cli.skiff("import", "-", t, input=rootfs_tar.read_bytes(), binary=True)
    assert r.rc == 0 and r.out.startswith(b"sha256:"), r
    assert cli.ok("images", "--format", "{{.Repository}}:{{.Tag}}", t) == t + "\n"


def test_save_and_load_round_trip_through_a_file(cli, tags, tmp_path):
    t = tags("save")
    cli.ok("tag", IMAGE, t)
    archive = tmp_path / "image.tar"
    assert cli.ok("save", "-o", str(archive), t) == ""
    with tarfile.open(archive) as tf:
        assert "manifest.json" in tf.getnames()
    cli.ok("rmi", t)
    out = cli.ok("load", "-i", str(archive))
    assert out == f"Loaded image: {t}\n"
    assert cli.ok("images", "-q", t) != ""


def test_save_to_stdout_and_load_from_stdin(cli, tags):
    t = tags("pipe")
    cli.ok("tag", IMAGE, t)
    saved = cli.skiff("save", t, binary=True)
    assert saved.rc == 0
    with tarfile.open(fileobj=io.BytesIO(saved.out)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == [t]
    cli.ok("rmi", t)
    r = cli.skiff("load", "-q", input=saved.out, binary=True)
    assert r.rc == 0 and r.out == b"", r
    assert cli.ok("images", "-q", t) != ""


def test_image_inspect_matches_docker(cli):
    mine, theirs = cli.skiff("image", "inspect", IMAGE), cli.docker("image", "inspect", IMAGE)
    assert mine.rc == 0 and mine.out == theirs.out
    fmt = "{{.Id}} {{.Os}} {{.Architecture}} {{json .RepoTags}} {{.Size}}"
    assert cli.ok("inspect", "--type", "image", "-f", fmt, IMAGE) == \
        cli.docker("inspect", "--type", "image", "-f", fmt, IMAGE).out


def test_image_prune_removes_dangling_images(cli, rootfs_tar, tmp_path):
    # A distinct layer, so the dangling image is not the test image itself.
    marker = tmp_path / "marker"
    marker.write_text(cli.token)
    subprocess.run(["tar", "-rf", str(rootfs_tar), "-C", str(tmp_path), "marker"], check=True)
    image_id = cli.ok("import", str(rootfs_tar)).strip()
    assert cli.ok("images", "-q", "--no-trunc", "--filter", "dangling=true").count(image_id) == 1
    out = cli.ok("image", "prune", "-f")
    assert f"deleted: {image_id}" in out
    assert out.startswith("Deleted Images:\n") and "Total reclaimed space: " in out
    assert cli.skiff("image", "inspect", image_id).rc == 1
    assert cli.ok("images", "-q", IMAGE) != ""
