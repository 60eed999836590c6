"""Registries behind TLS (a CA made by the test, given to skiffd as certs.d) and htpasswd
Basic auth: login with the docker CLI and with skiff's own, credentials read from
config.json, X-Registry-Auth on the API; and registry mirrors for Docker Hub names."""

import json
import os
import shutil

import pytest

from engine import DOCKER, REPO, SKIFFD, new_engine
from registry import REGISTRY, Registry, TokenServer, busybox_layer, run_cli as run

SKIFF = str(REPO / "build" / "skiff")
USER, PASSWORD = "skiffuser", "s3cret-pass"

pytestmark = pytest.mark.skipif(
    not os.path.exists(SKIFFD) or DOCKER is None or REGISTRY is None,
    reason="needs build/skiffd, the docker CLI and docker-registry (scripts/install-peers)")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(tmp_path_factory.mktemp("registry"), tls=True, auth=(USER, PASSWORD)).start()
    yield r
    r.stop()


def engine_with(tmp_path, daemon_json):
    e = new_engine()
    cfg = e.top / "daemon.json"
    cfg.write_text(json.dumps(daemon_json))
    e.args = ["--config-file", str(cfg)]
    e.start()
    return e


@pytest.fixture
def engine(registry, tmp_path):
    """A skiffd trusting the registry's CA through its certs.d."""
    certs = tmp_path / "certs.d"
    (certs / registry.host).mkdir(parents=True)
    shutil.copy(registry.ca, certs / registry.host / "ca.crt")
    e = engine_with(tmp_path, {"registry-certs-dir": str(certs)})
    try:
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def client_env(engine, tmp_path):
    """Environment for the docker and skiff CLIs with a private config dir."""
    env = dict(engine.env, DOCKER_CONFIG=str(tmp_path / "cfg"), SKIFF_HOST=engine.env[
        "DOCKER_HOST"])
    return env


@pytest.fixture(scope="module")
def image_in_registry(registry, rootfs_cache):
    registry.push_image("private/bb", "v1", [busybox_layer(rootfs_cache)])
    return f"{registry.host}/private/bb:v1"


def test_pull_without_credentials_is_refused(engine, client_env, image_in_registry):
    res = run([DOCKER, "pull", image_in_registry], client_env, check=False)
    assert res.returncode == 1
    assert "unauthorized" in res.stderr or "authentication required" in res.stderr


def test_docker_cli_login_then_pull_and_push(engine, client_env, registry,
                                             image_in_registry):
    res = run([DOCKER, "login", "-u", USER, "--password-stdin", registry.host], client_env,
              input=PASSWORD + "\n")
    assert "Login Succeeded" in res.stdout
    run([DOCKER, "pull", image_in_registry], client_env)
    out = run([DOCKER, "run", "--rm", image_in_registry, "echo", "tls+auth"], client_env)
    assert out.stdout == "tls+auth\n"
    pushed = f"{registry.host}/private/pushed:v2"
    run([DOCKER, "tag", image_in_registry, pushed], client_env)
    res = run([DOCKER, "push", pushed], client_env)
    assert "v2: digest: sha256:" in res.stdout
    assert registry.get_manifest("private/pushed", "v2")[1]


def test_wrong_password_is_refused(engine, client_env, registry):
    res = run([DOCKER, "login", "-u", USER, "--password-stdin", registry.host], client_env,
              input="wrong\n", check=False)
    assert res.returncode == 1
    assert "401 Unauthorized" in res.stderr


def test_skiff_login_writes_config_and_logout_removes_it(engine, client_env, registry,
                                                         image_in_registry, tmp_path):
    res = run([SKIFF, "login", "-u", USER, "--password-stdin", registry.host], client_env,
              input=PASSWORD + "\n")
    assert res.stdout == "Login Succeeded\n"
    cfg = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert registry.host in cfg["auths"]
    assert oct((tmp_path / "cfg" / "config.json").stat().st_mode & 0o777) == "0o600"
    # the docker CLI reads what skiff wrote
    run([DOCKER, "pull", image_in_registry], client_env)
    run([SKIFF, "push", image_in_registry], client_env)
    res = run([SKIFF, "logout", registry.host], client_env)
    assert res.stdout == f"Removing login credentials for {registry.host}\n"
    cfg = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert registry.host not in cfg.get("auths", {})
    # docker 28 says the same when there was nothing to remove
    assert run([SKIFF, "logout", registry.host], client_env).stdout == \
        f"Removing login credentials for {registry.host}\n"


def test_skiff_pull_uses_credentials_docker_wrote(engine, client_env, registry,
                                                  image_in_registry):
    run([DOCKER, "login", "-u", USER, "--password-stdin", registry.host], client_env,
        input=PASSWORD + "\n")
    res = run([SKIFF, "pull", image_in_registry], client_env)
    assert "Status: Downloaded newer image" in res.stdout


def test_client_certificate_from_certs_d(tmp_path, rootfs_cache):
    """A registry that asks for a client certificate: skiffd presents the one in
    certs.d/<host>/ (client.cert + client.key), and fails without it."""
    reg = Registry(tmp_path / "mtls", tls=True, client_certs=True).start()
    try:
        reg.push_image("mtls/bb", "v1", [busybox_layer(rootfs_cache)])
        ref = f"{reg.host}/mtls/bb:v1"
        bare = engine_with(tmp_path / "bare", {})
        try:
            res = bare.docker("pull", ref, check=False)
            assert res.returncode == 1 and reg.host in res.stderr
        finally:
            bare.cleanup()
        certs = tmp_path / "certs.d" / reg.host
        certs.mkdir(parents=True)
        for name in ("ca.crt", "client.cert", "client.key"):
            shutil.copy(reg.top / name, certs / name)
        e = engine_with(tmp_path / "withcert", {"registry-certs-dir": str(certs.parent)})
        try:
            e.docker("pull", ref)
            assert e.docker("run", "--rm", ref, "true").returncode == 0
        finally:
            e.cleanup()
    finally:
        reg.stop()


def test_mirror_serves_docker_hub_names(tmp_path, rootfs_cache):
    mirror = Registry(tmp_path / "mirror").start()
    try:
        mirror.push_image("library/mirrored", "latest", [busybox_layer(rootfs_cache)])
        e = engine_with(tmp_path, {"registry-mirrors": [mirror.url]})
        try:
            e.docker("pull", "mirrored")
            assert e.docker("run", "--rm", "mirrored", "echo", "via mirror").stdout == \
                "via mirror\n"
            info = json.loads(e.docker("image", "inspect", "mirrored").stdout)[0]
            assert info["RepoTags"] == ["mirrored:latest"]
        finally:
            e.cleanup()
    finally:
        mirror.stop()


def test_bearer_token_flow(tmp_path, rootfs_cache):
    """A registry with token auth (as Docker Hub): anonymous pulls get a pull token, a push
    needs a login, and the token asked for names the repository and the actions."""
    tokens = TokenServer(tmp_path / "tokens", USER, PASSWORD)
    reg = Registry(tmp_path / "reg", token=tokens).start()
    src = engine_with(tmp_path / "src", {})
    dest = engine_with(tmp_path / "dest", {})
    try:
        src.import_busybox(rootfs_cache)
        env = dict(src.env, DOCKER_CONFIG=str(tmp_path / "cfg"))
        ref = f"{reg.host}/bearer/bb:v1"
        run([DOCKER, "tag", "busybox", ref], env)
        res = run([DOCKER, "push", ref], env, check=False)
        assert res.returncode == 1 and "unauthorized" in res.stderr.lower(), res.stderr
        res = run([DOCKER, "login", "-u", USER, "--password-stdin", reg.host], env,
                  input=PASSWORD + "\n")
        assert "Login Succeeded" in res.stdout
        run([DOCKER, "push", ref], env)
        assert (True, ["repository:bearer/bb:pull,push"]) in tokens.scopes
        # a mount from another repository needs a token for both
        copy = f"{reg.host}/bearer/copy:v1"
        run([DOCKER, "tag", "busybox", copy], env)
        res = run([DOCKER, "push", copy], env)
        assert "Mounted from bearer/bb" in res.stdout, res.stdout
        assert (True, ["repository:bearer/copy:pull,push", "repository:bearer/bb:pull"]) \
            in tokens.scopes
        res = run([DOCKER, "login", "-u", USER, "--password-stdin", reg.host], env,
                  input="wrong\n", check=False)
        assert res.returncode == 1
        # anonymous pull on another daemon
        dest.docker("pull", ref)
        assert (False, ["repository:bearer/bb:pull"]) in tokens.scopes
        assert dest.docker("run", "--rm", ref, "echo", "bearer").stdout == "bearer\n"
    finally:
        src.cleanup()
        dest.cleanup()
        reg.stop()
        tokens.stop()
