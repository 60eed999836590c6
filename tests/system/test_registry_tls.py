"""Certificate verification against a registry skiffd must really check.

Every other registry test runs on 127.0.0.1, which skiffd (like dockerd) treats as insecure:
TLS without verification. Here a private network namespace carries 192.0.2.1 (TEST-NET-1,
on a veth pair that lives wholly inside the namespace), docker-registry serves TLS there
with a certificate for that address signed by a CA made by the test, and skiffd runs in the
same namespace (its unix socket stays reachable from the host). The registry is then
"secure" by docker's rules: without the CA in certs.d the pull must fail; with it, or with
the registry in insecure-registries, it works; a second registry asks for client
certificates. Nothing touches the host's network: the namespace, its interfaces and every
process in it go away at the end, even when a test fails."""

import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from engine import DOCKER, REPO, SKIFFD, new_engine
from registry import REGISTRY, make_ca, make_server_cert, store_files

SKIFF = str(REPO / "build" / "skiff")
ADDR = "192.0.2.1"
HOST = f"{ADDR}:5443"        # server certificate only
MTLS_HOST = f"{ADDR}:5444"   # also asks for a client certificate
# certificates signed by the CA that are wrong for other reasons: (san, validity)
BAD_CERTS = {
    f"{ADDR}:5445": ("DNS:registry.example,IP:192.0.2.99", None),  # another address
    f"{ADDR}:5446": ("DNS:registry.example", None),                # no address at all
    f"{ADDR}:5447": (f"IP:{ADDR}", ("20200101000000Z", "20200102000000Z")),  # expired
    f"{ADDR}:5448": (None, None),  # no SAN: named by its CN (the address) alone
}
IMAGE = "tls/bb:v1"
TOOLS = ("unshare", "nsenter", "ip", "openssl", "curl")

pytestmark = pytest.mark.skipif(
    not os.path.exists(SKIFFD) or DOCKER is None or REGISTRY is None or
    not all(shutil.which(t) for t in TOOLS),
    reason="needs build/skiffd, the docker CLI, docker-registry, openssl, curl and "
           "util-linux's unshare/nsenter")

# A namespace with lo up and 192.0.2.1 on one end of a veth pair (the kernel here has no
# dummy driver); it lives as long as this shell, which exits when its stdin closes.
NETNS_SETUP = f"""set -e
ip link set lo up
ip link add skt0 type veth peer name skt1
ip addr add {ADDR}/24 dev skt0
ip link set skt0 up
ip link set skt1 up
echo ready
exec cat >/dev/null
"""


class Netns:
    """A private network namespace held by a process of ours."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "--net", "sh", "-c", NETNS_SETUP],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line != "ready\n":
            self.holder.stdin.close()
            err = self.holder.stderr.read()
            self.holder.wait()
            raise RuntimeError(f"cannot set up the test's network namespace: {err}")
        self.path = f"/proc/{self.holder.pid}/ns/net"
        self.inode = os.stat(self.path).st_ino

    @property
    def enter(self):
        """A command prefix that runs a program inside the namespace (nsenter execs it)."""
        return ["nsenter", f"--net={self.path}", "--"]

    def members(self):
        """PIDs in the namespace other than the holder."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.holder.pid:
                continue
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == self.inode:
                    found.append(int(entry))
            except OSError:
                pass
        return found

    def close(self):
        """Kill what is still inside (only processes of this test can be there), then let
        the holder go, which frees the namespace and its veth pair. Returns the PIDs that
        had been left behind."""
        left = self.members()
        for pid in left:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        self.holder.stdin.close()
        try:
            self.holder.wait(10)
        except subprocess.TimeoutExpired:
            self.holder.kill()
            self.holder.wait()
        self.holder.stdout.close()
        self.holder.stderr.close()
        return left


class NsRegistry:
    """docker-registry with TLS on ADDR:port inside the namespace."""

    def __init__(self, netns, top, host, ca_dir, client_certs=False, verify=True):
        self.netns, self.top, self.host = netns, Path(top), host
        self.ca_dir = Path(ca_dir)
        self.client_certs = client_certs
        self.verify = verify  # False: a certificate curl must not check (a bad one)
        self.top.mkdir(parents=True)
        cfg = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
               f"    rootdirectory: {self.top / 'data'}", "http:", f"  addr: {host}",
               "  tls:", f"    certificate: {self.ca_dir / 'server.crt'}",
               f"    key: {self.ca_dir / 'server.key'}"]
        if client_certs:
            cfg += ["    clientcas:", f"      - {self.ca_dir / 'ca.crt'}"]
        (self.top / "config.yml").write_text("\n".join(cfg) + "\n")
        self.log = open(self.top / "registry.log", "ab")
        self.proc = subprocess.Popen([*netns.enter, REGISTRY, "serve",
                                      str(self.top / "config.yml")],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)

    def curl_v2(self):
        """The status curl gets for /v2/ from inside the namespace, verifying the CA."""
        cmd = [*self.netns.enter, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
               "--max-time", "5"]
        cmd += ["--cacert", str(self.ca_dir / "ca.crt")] if self.verify else ["--insecure"]
        if self.client_certs:
            cmd += ["--cert", str(self.ca_dir / "client.cert"),
                    "--key", str(self.ca_dir / "client.key")]
        res = subprocess.run(cmd + [f"https://{self.host}/v2/"], capture_output=True,
                             text=True, timeout=10)
        return res.stdout

    def wait(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited: " +
                                   (self.top / "registry.log").read_text()[-2000:])
            if self.curl_v2() == "200":
                return self
            time.sleep(0.1)
        raise RuntimeError(f"docker-registry on {self.host} did not answer")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class World:
    """The namespace, its two registries, the test's CAs and a place for certs.d trees."""

    def __init__(self, top):
        self.top = Path(top)
        self.netns = None
        self.registries = []
        self.engines = []
        self.ca_dir = self.top / "ca"
        self.other_ca_dir = self.top / "other-ca"

    def start(self):
        self.ca_dir.mkdir()
        self.other_ca_dir.mkdir()
        make_ca(self.ca_dir, host=ADDR)
        make_ca(self.other_ca_dir, host=ADDR)
        self.netns = Netns()
        for host, mtls in ((HOST, False), (MTLS_HOST, True)):
            self.registries.append(NsRegistry(self.netns, self.top / host.replace(":", "_"),
                                              host, self.ca_dir, client_certs=mtls))
        for host, (san, valid) in BAD_CERTS.items():
            certs = self.top / "bad" / host.replace(":", "_")
            make_server_cert(self.ca_dir, certs, san, valid, cn=ADDR)
            shutil.copy(self.ca_dir / "ca.crt", certs / "ca.crt")
            self.registries.append(NsRegistry(self.netns, self.top / host.replace(":", "_"),
                                              host, certs, verify=False))
        for r in self.registries:
            r.wait()
        return self

    def certs_dir(self, name, files):
        """A certs.d tree: files maps "host/name" to the file copied there."""
        (self.top / "certs").mkdir(exist_ok=True)
        d = Path(tempfile.mkdtemp(prefix=name + "-", dir=self.top / "certs"))
        for rel, src in files.items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, d / rel)
        return d

    def engine(self, certs=None, **daemon_json):
        """A private skiffd inside the namespace; certs is its certs.d (an empty one when
        None, so that /etc/skiff/certs.d is never read)."""
        e = new_engine()
        self.engines.append(e)
        cfg = dict(daemon_json)
        cfg["registry-certs-dir"] = str(certs or self.certs_dir("empty", {}))
        (e.top / "daemon.json").write_text(json.dumps(cfg))
        e.args = ["--config-file", str(e.top / "daemon.json")]
        e.prefix = self.netns.enter
        (e.top / "docker-config").mkdir()
        e.start()
        return e

    def trusting(self, with_client=True):
        """certs.d files that trust the CA for both registries (and, with_client, present
        the client identity to the one that asks for it)."""
        files = {f"{HOST}/ca.crt": self.ca_dir / "ca.crt",
                 f"{MTLS_HOST}/ca.crt": self.ca_dir / "ca.crt"}
        if with_client:
            files[f"{MTLS_HOST}/client.cert"] = self.ca_dir / "client.cert"
            files[f"{MTLS_HOST}/client.key"] = self.ca_dir / "client.key"
        return files

    def stop_engines(self):
        while self.engines:
            self.engines.pop().cleanup()

    def close(self):
        problems = []
        self.stop_engines()
        for r in self.registries:
            r.stop()
        if self.netns:
            left = self.netns.close()
            if left:
                problems.append(f"processes left in the network namespace: {left}")
        shutil.rmtree(self.top, ignore_errors=True)
        return problems


def cli(engine, *args, docker=False, check=True, input=""):
    env = dict(engine.env, DOCKER_CONFIG=str(engine.top / "docker-config"))
    env.pop("SKIFF_HOST", None)
    res = subprocess.run([DOCKER if docker else SKIFF, *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=60, input=input)
    if check and res.returncode != 0:
        raise AssertionError(f"{'docker' if docker else 'skiff'} {' '.join(map(str, args))}"
                             f" -> {res.returncode}: {res.stderr.strip()}")
    return res


@pytest.fixture(scope="module")
def tls_world(rootfs_cache):
    """The namespace with both registries, and the busybox image pushed to each of them by
    a skiffd that trusts the CA (the push half of push-then-pull)."""
    w = World(tempfile.mkdtemp(prefix="skiff-regtls-"))
    try:
        w.start()
        pusher = w.engine(w.certs_dir("pusher", w.trusting()))
        pusher.import_busybox(rootfs_cache)
        w.pushed = {}
        for host in (HOST, MTLS_HOST):
            cli(pusher, "tag", "busybox:latest", f"{host}/{IMAGE}")
            res = cli(pusher, "push", f"{host}/{IMAGE}")
            assert "v1: digest: sha256:" in res.stdout, res.stdout
            w.pushed[host] = res.stdout.split("digest: ")[1].split()[0]
        w.stop_engines()
        yield w
    finally:
        problems = w.close()
    if problems:
        pytest.fail("; ".join(problems))


@pytest.fixture
def world(tls_world):
    """tls_world, with the daemons a test started stopped after it."""
    try:
        yield tls_world
    finally:
        tls_world.stop_engines()


def assert_nothing_stored(engine, before):
    assert cli(engine, "images", "-q").stdout == ""
    assert store_files(engine.data) == before


def tls_refusal(host, why):
    """dockerd's words for a certificate it refuses (Go's crypto/tls and x509 texts)."""
    return (f'Error response from daemon: Get "https://{host}/v2/": tls: failed to verify '
            f'certificate: x509: {why}\n')


@pytest.mark.parametrize("command", [["pull", f"{HOST}/{IMAGE}"],
                                     ["login", "-u", "u", "--password-stdin", HOST]])
@pytest.mark.parametrize("client", ["skiff", "docker"])
def test_unknown_ca_is_refused(world, client, command):
    e = world.engine()
    before = store_files(e.data)
    res = cli(e, *command, docker=client == "docker", check=False, input="p\n")
    assert res.returncode == 1, res
    assert res.stderr == tls_refusal(HOST, "certificate signed by unknown authority"), \
        res.stderr
    assert_nothing_stored(e, before)


@pytest.mark.parametrize("host,why", [
    (f"{ADDR}:5445", f"certificate is valid for 192.0.2.99, not {ADDR}"),
    (f"{ADDR}:5446", f"cannot validate certificate for {ADDR} because it doesn't contain "
                     "any IP SANs"),
    (f"{ADDR}:5447", "certificate has expired or is not yet valid: current time "
                     "{now} is after 2020-01-02T00:00:00Z"),
    (f"{ADDR}:5448", "certificate relies on legacy Common Name field, use SANs instead"),
])
def test_certificate_refusals_read_as_dockerd_words(world, host, why):
    """A certificate signed by a trusted CA but for another name, or expired: refused in
    the words dockerd 28 uses (Go's), naming what the certificate holds."""
    e = world.engine(world.certs_dir("bad", {f"{h}/ca.crt": world.ca_dir / "ca.crt"
                                             for h in BAD_CERTS}))
    res = cli(e, "pull", f"{host}/{IMAGE}", check=False)
    assert res.returncode == 1, res
    now = re.search(r"current time (\S+) is", res.stderr)
    assert res.stderr == tls_refusal(host, why.format(now=now and now.group(1))), res.stderr
    if now:
        stamp = datetime.datetime.strptime(now.group(1), "%Y-%m-%dT%H:%M:%SZ")
        assert abs(stamp.replace(tzinfo=datetime.timezone.utc).timestamp() -
                   time.time()) < 120


def test_wrong_ca_is_refused(world):
    e = world.engine(world.certs_dir("wrong", {f"{HOST}/ca.crt":
                                               world.other_ca_dir / "ca.crt"}))
    before = store_files(e.data)
    res = cli(e, "pull", f"{HOST}/{IMAGE}", check=False)
    assert res.returncode == 1, res
    # Go's guess: the CA in certs.d has the name of the server certificate's issuer
    assert res.stderr == tls_refusal(
        HOST, 'certificate signed by unknown authority (possibly because of "crypto/rsa: '
        'verification error" while trying to verify candidate authority certificate '
        '"skiff test CA")'), res.stderr
    assert_nothing_stored(e, before)


def docker_cli_refusal(world, host, certs):
    """What Go's crypto/tls says of host's certificate, as the docker CLI 28 reports it:
    `docker manifest inspect` talks to the registry itself (as dockerd does for a pull),
    trusting the CAs of /etc/docker/certs.d. It runs in the test's network namespace and
    in a private mount namespace where a directory of the test's, whose certs.d is the
    certs.d tree certs, is bind-mounted on /etc/docker: the host's is never touched. Returns
    the text from `Get "https://...` on."""
    etc = Path(tempfile.mkdtemp(prefix="etc-docker-", dir=world.top))
    (etc / "certs.d").symlink_to(certs)
    (etc / "cli-config").mkdir()
    script = 'mount --bind "$1" /etc/docker && shift && exec "$@"'
    res = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                          script, "sh", str(etc), *world.netns.enter, DOCKER, "manifest",
                          "inspect", f"{host}/{IMAGE}"],
                         env=dict(os.environ, DOCKER_CONFIG=str(etc / "cli-config")),
                         capture_output=True, text=True, timeout=60)
    found = re.search(r'Get "https://.*', res.stderr)
    assert res.returncode != 0 and found, res
    return found.group(0)


def neutral_time(text):
    """Two refusals of an expired certificate a moment apart name different times."""
    return re.sub(r"current time \S+ is", "current time NOW is", text)


@pytest.mark.skipif(not os.path.isdir("/etc/docker"),
                    reason="docker_cli_refusal mounts over /etc/docker")
@pytest.mark.parametrize("trust,host", [
    ("ca", f"{ADDR}:5445"),       # another address
    ("ca", f"{ADDR}:5446"),       # no address
    ("ca", f"{ADDR}:5447"),       # expired
    ("ca", f"{ADDR}:5448"),       # the CN alone
    ("other", HOST),              # a CA of the issuer's name, but not the issuer
    (None, HOST),                 # no CA
    (None, f"{ADDR}:5448"),       # no CA and the CN alone: Go reads names first
    (None, f"{ADDR}:5445"),       # no CA and another address
])
def test_certificate_refusals_match_go(world, trust, host):
    """skiffd's refusal of a certificate, word for word what Go's crypto/tls says of it (the
    docker CLI 28's, built with the Go of dockerd 28) with the same certs.d."""
    ca = {"ca": world.ca_dir, "other": world.other_ca_dir}.get(trust)
    certs = world.certs_dir(f"go-{trust}", {f"{host}/ca.crt": ca / "ca.crt"} if ca else {})
    e = world.engine(certs)
    res = cli(e, "pull", f"{host}/{IMAGE}", check=False)
    assert res.returncode == 1, res
    go = docker_cli_refusal(world, host, certs)
    assert neutral_time(res.stderr) == neutral_time(f"Error response from daemon: {go}\n")


def test_ca_for_another_port_does_not_apply(world):
    """certs.d is looked up by host:port: the CA filed under the other port is not used."""
    e = world.engine(world.certs_dir("otherport", {f"{MTLS_HOST}/ca.crt":
                                                   world.ca_dir / "ca.crt"}))
    res = cli(e, "pull", f"{HOST}/{IMAGE}", check=False)
    assert res.returncode == 1 and "certificate" in res.stderr, res


@pytest.mark.parametrize("client", ["skiff", "docker"])
def test_trusted_ca_pulls_and_runs(world, client):
    e = world.engine(world.certs_dir(f"trust-{client}", world.trusting()))
    ref = f"{HOST}/{IMAGE}"
    res = cli(e, "pull", ref, docker=client == "docker")
    assert f"Digest: {world.pushed[HOST]}" in res.stdout, res.stdout
    out = cli(e, "run", "--rm", ref, "echo", "verified", docker=client == "docker")
    assert out.stdout == "verified\n"


def test_client_certificate_is_presented(world):
    e = world.engine(world.certs_dir("mtls", world.trusting()))
    ref = f"{MTLS_HOST}/{IMAGE}"
    res = cli(e, "pull", ref)
    assert f"Digest: {world.pushed[MTLS_HOST]}" in res.stdout, res.stdout
    assert cli(e, "run", "--rm", ref, "echo", "mutual").stdout == "mutual\n"


def test_missing_client_certificate_is_refused(world):
    """Over TLS 1.3 the registry drops the connection after the handshake, and curl's
    error (a reset, an alert, a failed getpeername) varies with timing: skiffd says what to
    do about it in every case."""
    certs = world.certs_dir("nocert", world.trusting(with_client=False))
    e = world.engine(certs)
    before = store_files(e.data)
    res = cli(e, "pull", f"{MTLS_HOST}/{IMAGE}", check=False)
    assert res.returncode == 1, res
    assert f"if it requires a client certificate, put client.cert and client.key in " \
        f"{certs}/{MTLS_HOST}/" in res.stderr, res.stderr
    assert_nothing_stored(e, before)


def test_client_certificate_without_key_is_refused(world):
    files = world.trusting(with_client=False)
    files[f"{MTLS_HOST}/client.cert"] = world.ca_dir / "client.cert"
    e = world.engine(world.certs_dir("halfcert", files))
    res = cli(e, "pull", f"{MTLS_HOST}/{IMAGE}", check=False)
    assert res.returncode == 1, res
    assert "client certificate without its key" in res.stderr, res.stderr


@pytest.mark.parametrize("entry", [HOST, f"{ADDR[:-1]}0/24"])
def test_insecure_registries_skips_verification(world, entry):
    """docker's behaviour: an insecure registry is reached over TLS without checking its
    certificate, by host:port or by network."""
    e = world.engine(**{"insecure-registries": [entry]})
    ref = f"{HOST}/{IMAGE}"
    res = cli(e, "pull", ref)
    assert f"Digest: {world.pushed[HOST]}" in res.stdout, res.stdout
    assert cli(e, "run", "--rm", ref, "echo", "insecure").stdout == "insecure\n"
