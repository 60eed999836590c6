"""Credential helpers (config.json's credsStore and credHelpers) against a registry with
htpasswd Basic auth behind TLS: skiff login stores through the helper, pull and push send
what the helper gives, logout erases, a failing or missing helper is reported in docker's
words, and the docker CLI 28 and skiff share one DOCKER_CONFIG.

The helper is a real program speaking docker-credential-helpers' protocol (get, store,
erase, list on argv[1], the request on stdin), written by the test into a private PATH
directory; it keeps its credentials in a JSON file beside itself and logs every call."""

import json
import os
import shutil
import sys

import pytest

from engine import DOCKER, REPO, SKIFFD, new_engine
from registry import REGISTRY, Registry, busybox_layer, run_cli as run

SKIFF = str(REPO / "build" / "skiff")
USER, PASSWORD = "creduser", "helper-s3cret"

pytestmark = pytest.mark.skipif(
    not os.path.exists(SKIFFD) or DOCKER is None or REGISTRY is None,
    reason="needs build/skiffd, the docker CLI and docker-registry (scripts/install-peers)")

HELPER = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
store_path = os.path.join(here, "{name}.json")
action, request = sys.argv[1], sys.stdin.read()
with open(os.path.join(here, "{name}.calls"), "a") as log:
    log.write(json.dumps([action, request]) + "\\n")
try:
    with open(store_path) as f:
        store = json.load(f)
except FileNotFoundError:
    store = {{}}
def save():
    with open(store_path, "w") as f:
        json.dump(store, f)
if action == "store":
    creds = json.loads(request)
    store[creds["ServerURL"]] = [creds["Username"], creds["Secret"]]
    save()
elif action in ("get", "erase") and request not in store:
    print("credentials not found in native keychain")
    sys.exit(1)
elif action == "get":
    user, secret = store[request]
    json.dump({{"ServerURL": request, "Username": user, "Secret": secret}}, sys.stdout)
elif action == "erase":
    del store[request]
    save()
elif action == "list":
    json.dump({{url: creds[0] for url, creds in store.items()}}, sys.stdout)
else:
    print("unknown action")
    sys.exit(1)
"""

BROKEN = """#!/bin/sh
cat >/dev/null
echo "keychain is locked"
exit 1
"""


class Helpers:
    """A PATH directory of credential helpers and the config dir that names them."""

    def __init__(self, top, env):
        self.bin = top / "bin"
        self.bin.mkdir()
        self.cfg = top / "cfg"
        self.env = dict(env, DOCKER_CONFIG=str(self.cfg),
                        PATH=f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}")

    def add(self, name, script=None):
        prog = self.bin / f"docker-credential-{name}"
        prog.write_text(script or HELPER.format(python=sys.executable, name=name))
        prog.chmod(0o755)

    def store(self, name):
        path = self.bin / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def put(self, name, server, user, secret):
        creds = self.store(name)
        creds[server] = [user, secret]
        (self.bin / f"{name}.json").write_text(json.dumps(creds))

    def reset(self, name):
        """Forget the helper's credentials and its calls."""
        for suffix in ("json", "calls"):
            (self.bin / f"{name}.{suffix}").unlink(missing_ok=True)

    def calls(self, name):
        path = self.bin / f"{name}.calls"
        return [tuple(json.loads(line)) for line in path.read_text().splitlines()] \
            if path.exists() else []

    def configure(self, doc):
        self.cfg.mkdir(exist_ok=True)
        (self.cfg / "config.json").write_text(json.dumps(doc))

    def config(self):
        return json.loads((self.cfg / "config.json").read_text())


@pytest.fixture(scope="module")
def registry(tmp_path_factory, rootfs_cache):
    r = Registry(tmp_path_factory.mktemp("registry"), tls=True, auth=(USER, PASSWORD)).start()
    try:
        r.push_image("creds/bb", "v1", [busybox_layer(rootfs_cache)])
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="module")
def engine(registry, tmp_path_factory):
    """One skiffd for the module, trusting the registry's CA through its certs.d."""
    certs = tmp_path_factory.mktemp("certs") / "certs.d"
    (certs / registry.host).mkdir(parents=True)
    shutil.copy(registry.ca, certs / registry.host / "ca.crt")
    e = new_engine()
    try:
        cfg = e.top / "daemon.json"
        cfg.write_text(json.dumps({"registry-certs-dir": str(certs)}))
        e.args = ["--config-file", str(cfg)]
        e.start()
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def helpers(engine, tmp_path):
    h = Helpers(tmp_path, dict(engine.env, SKIFF_HOST=engine.env["DOCKER_HOST"]))
    yield h
    # every test starts from an empty image store: a pull must reach the registry
    names = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}",
                          check=False).stdout.split()
    pulled = [n for n in names if "/creds/" in n]
    if pulled:
        engine.docker("rmi", "-f", *pulled, check=False)


@pytest.fixture
def image(registry):
    return f"{registry.host}/creds/bb:v1"


def login(cli, helpers, server, password=PASSWORD, check=True):
    return run([cli, "login", "-u", USER, "--password-stdin", server], helpers.env,
               input=password + "\n", check=check)


def test_login_stores_through_creds_store(helpers, registry):
    helpers.add("vault")
    helpers.configure({"credsStore": "vault"})
    res = login(SKIFF, helpers, registry.host)
    assert res.stdout == "Login Succeeded\n"
    assert "unencrypted" not in res.stderr
    assert helpers.config() == {"auths": {registry.host: {}}, "credsStore": "vault"}
    assert helpers.store("vault") == {registry.host: [USER, PASSWORD]}


@pytest.mark.parametrize("secret,rc", [(PASSWORD, 0), ("stale", 1)])
def test_login_tries_the_helpers_credentials_first(helpers, registry, secret, rc):
    """`login SERVER` without -u asks the helper for what it keeps and tries that first,
    as docker 28 does: the same calls (a get, then a store of the same credentials
    whatever the registry said), the same output, and no prompt."""
    helpers.add("vault")
    seen = {}
    for cli in (DOCKER, SKIFF):
        helpers.configure({"auths": {registry.host: {}}, "credsStore": "vault"})
        helpers.reset("vault")
        helpers.put("vault", registry.host, USER, secret)
        res = run([cli, "login", registry.host], helpers.env, input="", check=False)
        seen[cli] = (res.returncode, res.stdout,
                     res.stderr.replace("'docker ", "'skiff "), helpers.calls("vault"),
                     helpers.config())
    assert seen[SKIFF] == seen[DOCKER]
    assert seen[SKIFF][0] == rc
    assert seen[SKIFF][3] == [("get", registry.host), ("store", json.dumps(
        {"ServerURL": registry.host, "Username": USER, "Secret": secret},
        separators=(",", ":")) + "\n")]


def test_pull_and_push_use_the_helper_credentials(helpers, registry, image):
    helpers.add("vault")
    helpers.put("vault", registry.host, USER, PASSWORD)
    helpers.configure({"credsStore": "vault"})
    res = run([SKIFF, "pull", image], helpers.env)
    assert "Status: Downloaded newer image" in res.stdout
    assert ("get", registry.host) in helpers.calls("vault")
    pushed = f"{registry.host}/creds/pushed:v2"
    run([SKIFF, "tag", image, pushed], helpers.env)
    res = run([SKIFF, "push", pushed], helpers.env)
    assert "v2: digest: sha256:" in res.stdout
    assert registry.get_manifest("creds/pushed", "v2")[1]


def test_run_pulls_with_the_helper_credentials(helpers, registry, image):
    helpers.add("vault")
    helpers.put("vault", registry.host, USER, PASSWORD)
    helpers.configure({"credsStore": "vault"})
    res = run([SKIFF, "run", "--rm", image, "echo", "via helper"], helpers.env)
    assert res.stdout.endswith("via helper\n")


def test_cred_helpers_entry_overrides_creds_store(helpers, registry, image):
    helpers.add("vault")
    helpers.add("wrong")
    helpers.put("wrong", registry.host, USER, "not-the-password")
    helpers.configure({"credsStore": "wrong", "credHelpers": {registry.host: "vault"}})
    login(SKIFF, helpers, registry.host)
    assert helpers.store("vault") == {registry.host: [USER, PASSWORD]}
    run([SKIFF, "pull", image], helpers.env)
    assert helpers.calls("wrong") == []
    # the store still serves the registries credHelpers does not name
    res = run([SKIFF, "pull", "127.0.0.1:1/none/such:v1"], helpers.env, check=False)
    assert res.returncode != 0
    assert helpers.calls("wrong") == [("get", "127.0.0.1:1")]


def test_pull_without_helper_credentials_is_refused(helpers, image):
    helpers.add("vault")
    helpers.configure({"credsStore": "vault"})
    res = run([SKIFF, "pull", image], helpers.env, check=False)
    assert res.returncode == 1
    assert "WARNING" not in res.stderr  # "not found" is no error: just no credentials
    assert "unauthorized" in res.stderr or "authentication required" in res.stderr


def test_logout_erases_from_the_helper(helpers, registry, image):
    helpers.add("vault")
    helpers.configure({"credsStore": "vault"})
    login(SKIFF, helpers, registry.host)
    res = run([SKIFF, "logout", registry.host], helpers.env)
    assert res.stdout == f"Removing login credentials for {registry.host}\n"
    assert res.stderr == ""
    assert helpers.store("vault") == {}
    assert ("erase", registry.host) in helpers.calls("vault")
    assert registry.host not in helpers.config()["auths"]
    assert run([SKIFF, "pull", image], helpers.env, check=False).returncode == 1


def test_failing_helper_refuses_login(helpers, registry):
    helpers.add("broken", BROKEN)
    helpers.configure({"credsStore": "broken"})
    res = login(SKIFF, helpers, registry.host, check=False)
    assert res.returncode == 1
    assert "Error saving credentials: error storing credentials - err: exit status 1, " \
        "out: `keychain is locked`" in res.stderr
    assert "Login Succeeded" not in res.stdout
    assert registry.host not in helpers.config().get("auths", {})


def test_missing_helper_refuses_login(helpers, registry):
    helpers.configure({"credsStore": "absent"})
    res = login(SKIFF, helpers, registry.host, check=False)
    assert res.returncode == 1
    assert "Error saving credentials: error storing credentials - err: exec: " \
        "\"docker-credential-absent\": executable file not found in $PATH, out: ``" \
        in res.stderr


@pytest.mark.parametrize("name,why", [
    ("broken", "exit status 1, out: `keychain is locked`"),
    ("absent", "exec: \"docker-credential-absent\": executable file not found in $PATH, "
               "out: ``"),
])
def test_failing_helper_on_pull_is_reported(helpers, registry, image, name, why):
    helpers.add("broken", BROKEN)
    helpers.configure({"auths": {registry.host: {}}, "credsStore": name})
    res = run([SKIFF, "pull", image], helpers.env, check=False)
    assert res.returncode == 1
    assert f"WARNING: error getting credentials - err: {why}" in res.stderr
    assert "unauthorized" in res.stderr or "authentication required" in res.stderr


def test_helper_output_is_bounded(helpers, registry, image):
    helpers.add("chatty", "#!/bin/sh\ncat >/dev/null\nexec yes\n")  # never stops
    helpers.configure({"credsStore": "chatty"})
    res = run([SKIFF, "pull", image], helpers.env, check=False)
    assert res.returncode == 1
    assert "error getting credentials - err: output longer than 1048576 bytes, out: ``" \
        in res.stderr


def test_docker_login_then_skiff_pull(helpers, registry, image):
    helpers.add("vault")
    helpers.configure({"credsStore": "vault"})
    res = login(DOCKER, helpers, registry.host)
    assert "Login Succeeded" in res.stdout
    assert helpers.config()["auths"] == {registry.host: {}}
    assert helpers.store("vault") == {registry.host: [USER, PASSWORD]}
    res = run([SKIFF, "pull", image], helpers.env)
    assert "Status: Downloaded newer image" in res.stdout
    run([SKIFF, "logout", registry.host], helpers.env)
    assert helpers.store("vault") == {}


def test_skiff_login_then_docker_pull_and_logout(helpers, registry, image):
    helpers.add("vault")
    helpers.configure({"credHelpers": {registry.host: "vault"}})
    login(SKIFF, helpers, registry.host)
    res = run([DOCKER, "pull", image], helpers.env)
    assert "Status: Downloaded newer image" in res.stdout
    run([DOCKER, "logout", registry.host], helpers.env)
    assert helpers.store("vault") == {}
    assert registry.host not in helpers.config()["auths"]
