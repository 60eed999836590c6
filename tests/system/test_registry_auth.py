"""Registries behind TLS (a CA made by the test, given to skiffd as certs.d) and htpasswd
Basic auth: login with the docker CLI and with skiff's own, credentials read from
config.json, X-Registry-Auth on the API; and registry mirrors for Docker Hub names."""

import base64
import json
import os
import re
import shutil

import pytest

from engine import DOCKER, REPO, SKIFFD, new_engine
from registry import (REGISTRY, Registry, TokenServer, busybox_layer, docker_archive,
                      run_cli as run, tar_layer)
from tmuxterm import TMUX, Term

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


# config.json holding some of everything docker's ConfigFile knows, in no order of docker's
SEEDED_CONFIG = {
    "proxies": {"default": {"noProxy": "localhost", "httpProxy": "http://127.0.0.1:3128"}},
    "psFormat": "table {{.ID}}\t{{.Names}}",
    "credHelpers": {"z.example": "none", "a.example": "none"},
    "auths": {"old.example": {"auth": base64.b64encode(b"old:pw").decode(),
                              "email": "old@example.com"},
              "plain.example": {"username": "plain", "password": "pw"},
              "token.example": {"auth": base64.b64encode(b"tok:").decode(),
                                "identitytoken": "id-token"}},
    "HttpHeaders": {"X-Meta": "<a&b>", "User-Agent": "dropped on save"},
    "detachKeys": "ctrl-p,q",
    "currentContext": "default",
    "aliases": {"builder": "buildx"},
}


@pytest.mark.parametrize("seed", [None, SEEDED_CONFIG], ids=["fresh", "seeded"])
def test_login_and_logout_write_config_json_as_docker_does(engine, client_env, registry,
                                                           tmp_path, seed):
    """docker writes config.json with Go's json.MarshalIndent(..., "", "\t"): tabs, its
    struct's field order, sorted maps, HTML-safe escapes, no newline at the end. skiff's
    login and logout leave the very bytes docker's do, starting from nothing or from a file
    holding other settings."""
    written = {}
    for client in ("docker", "skiff"):
        cfg = tmp_path / f"cfg-{client}"
        cfg.mkdir(mode=0o700)
        if seed:
            (cfg / "config.json").write_text(json.dumps(seed))
            (cfg / "config.json").chmod(0o640)
        env = dict(client_env, DOCKER_CONFIG=str(cfg))
        binary = DOCKER if client == "docker" else SKIFF
        run([binary, "login", "-u", USER, "--password-stdin", registry.host], env,
            input=PASSWORD + "\n")
        after_login = (cfg / "config.json").read_bytes()
        run([binary, "logout", registry.host], env)
        written[client] = (after_login, (cfg / "config.json").read_bytes(),
                           oct((cfg / "config.json").stat().st_mode & 0o777))
    assert written["skiff"] == written["docker"]
    assert written["docker"][0].startswith(b'{\n\t"auths": {\n\t\t"')


def test_skiff_pull_uses_credentials_docker_wrote(engine, client_env, registry,
                                                  image_in_registry):
    run([DOCKER, "login", "-u", USER, "--password-stdin", registry.host], client_env,
        input=PASSWORD + "\n")
    res = run([SKIFF, "pull", image_in_registry], client_env)
    assert "Status: Downloaded newer image" in res.stdout


def neutral(text):
    """docker's CLI names itself where skiff's names skiff."""
    return re.sub(r"\bdocker\b", "skiff", text)


def keep_in_file(cfg_dir, host, user, password, token=None):
    """config.json holding a login for host as `docker login` writes it; its text."""
    entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    if token:
        entry["identitytoken"] = token
    cfg_dir.mkdir(exist_ok=True)
    text = json.dumps({"auths": {host: entry}}, indent="\t")
    (cfg_dir / "config.json").write_text(text)
    return text


KEPT_NOTE = ("Authenticating with existing credentials... [Username: skiffuser]\n\n"
             " Info -> To login with a different account, run 'skiff logout' followed by "
             "'skiff login'\n\n\n")
NO_TTY = "Error: Cannot perform an interactive login from a non TTY device\n"


@pytest.mark.parametrize("kept,rc,stderr", [
    ((PASSWORD, None), 0, KEPT_NOTE),
    (("stale", None), 1, KEPT_NOTE + "Stored credentials invalid or expired\n" + NO_TTY),
    # an identity token is no password: nothing to try, so a prompt (none here)
    (("", "tok"), 1, NO_TTY),
])
def test_login_tries_kept_credentials_before_asking(engine, client_env, registry, tmp_path,
                                                    kept, rc, stderr):
    """`login SERVER` without -u, as docker 28: the credentials config.json keeps are tried
    first, without a prompt; only when the registry refuses them is one needed, and on a
    pipe there is none. A login that changes nothing leaves the file alone."""
    cfg = tmp_path / "cfg"
    seen = {}
    for cli in (DOCKER, SKIFF):
        before = keep_in_file(cfg, registry.host, USER, *kept)
        res = run([cli, "login", registry.host], client_env, input="", check=False)
        seen[cli] = (res.returncode, res.stdout, neutral(res.stderr),
                     (cfg / "config.json").read_text() == before)
    assert seen[SKIFF] == seen[DOCKER]
    assert seen[SKIFF] == (rc, "Login Succeeded\n" if rc == 0 else "", stderr, True)


@pytest.mark.skipif(TMUX is None, reason="needs tmux (scripts/install-deps)")
@pytest.mark.parametrize("cli", ["skiff", "docker"])
def test_refused_kept_credentials_prompt_with_the_kept_user(engine, client_env, registry,
                                                            tmp_path, cli):
    """On a terminal, refused kept credentials lead to docker's prompt offering the kept
    user name: an empty answer takes it, and the new password is kept."""
    cfg = tmp_path / "cfg"
    keep_in_file(cfg, registry.host, USER, "stale")
    prog = SKIFF if cli == "skiff" else DOCKER
    t = Term(client_env)
    try:
        t.type(f"DOCKER_CONFIG={cfg} {prog} login {registry.host}; echo rc=$?")
        t.wait_for(lambda s: f"Username ({USER}): " in s, "the username prompt")
        t.type("")
        t.wait_for(lambda s: "Password: " in s, "the password prompt")
        t.type(PASSWORD)
        t.wait_for(lambda s: re.search(r"^rc=\d+", s, re.M), "the login to finish")
        screen = t.screen()
    finally:
        t.close()
    assert re.search(r"^rc=0$", screen, re.M), screen
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Authenticating"))
    assert lines[start:start + 5] == [
        f"Authenticating with existing credentials... [Username: {USER}]",
        f"i Info \u2192 To login with a different account, run '{cli} logout' followed by "
        f"'{cli} login'",
        "Stored credentials invalid or expired",
        f"Username ({USER}):",
        "Password:"], screen
    assert "Login Succeeded" in lines
    entry = json.loads((cfg / "config.json").read_text())["auths"][registry.host]
    assert base64.b64decode(entry["auth"]).decode() == f"{USER}:{PASSWORD}"


@pytest.mark.parametrize("args", [["-p", "x", "--password-stdin"], ["--password-stdin"],
                                  ["-u", ""], ["-u", USER, "-p", ""]])
def test_login_flag_errors_are_dockers(client_env, registry, args):
    seen = [run([cli, "login", *args, registry.host], client_env, input="", check=False)
            for cli in (DOCKER, SKIFF)]
    docker, skiff = [(r.returncode, r.stdout, r.stderr) for r in seen]
    assert skiff == docker and skiff[0] == 1


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


def test_parallel_uploads_share_one_token(tmp_path):
    """Layers are pushed several at once on one client: when a mount drops the token
    (it must cover the source repository too), all of them meet a 401 together, and one
    new token serves them all."""
    tokens = TokenServer(tmp_path / "tokens", USER, PASSWORD)
    reg = Registry(tmp_path / "reg", token=tokens).start()
    src = engine_with(tmp_path / "src", {})
    try:
        raws = [tar_layer({f"l{i}": os.urandom(4096)}, compress=None)[2] for i in range(5)]
        docker_archive(tmp_path / "five.tar", raws, "five:v1")
        src.docker("load", "-i", tmp_path / "five.tar")
        env = dict(src.env, DOCKER_CONFIG=str(tmp_path / "cfg"))
        run([DOCKER, "login", "-u", USER, "--password-stdin", reg.host], env,
            input=PASSWORD + "\n")
        first, copy = f"{reg.host}/bearer/five:v1", f"{reg.host}/bearer/fivecopy:v1"
        run([DOCKER, "tag", "five:v1", first], env)
        run([DOCKER, "tag", "five:v1", copy], env)
        before = len(tokens.scopes)
        res = run([DOCKER, "push", first], env)
        assert res.stdout.count("Pushed") == 5 and len(tokens.scopes) == before + 1
        res = run([DOCKER, "push", copy], env)
        assert res.stdout.count("Mounted from bearer/five") == 5, res.stdout
        both = (True, ["repository:bearer/fivecopy:pull,push", "repository:bearer/five:pull"])
        assert tokens.scopes.count(both) == 1, tokens.scopes
    finally:
        src.cleanup()
        reg.stop()
        tokens.stop()
