"""Registries for the registry tests: Debian's docker-registry on 127.0.0.1 (plain HTTP, or
TLS with a CA made here, optionally with htpasswd Basic auth), the distribution API spoken
with urllib to upload hand-made images, and a tiny fake registry for what a real one never
does (serve a blob whose bytes do not match its digest, serve a blob slowly)."""

import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REGISTRY = shutil.which("docker-registry")
SKOPEO = shutil.which("skopeo")
PODMAN = shutil.which("podman")

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image_inspect(engine, name):
    """`image inspect` of name through the engine's docker CLI, parsed."""
    return json.loads(engine.docker("image", "inspect", name).stdout)[0]


def run_cli(cmd, env, input=None, check=True):
    """Run a client (docker, skiff) with env; with check, a failure raises with its stderr."""
    res = subprocess.run(cmd, env=env, input=input, capture_output=True, text=True,
                         timeout=120)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} -> {res.returncode}: {res.stderr}")
    return res


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_ca(top, host="127.0.0.1"):
    """A CA and a server certificate for host signed by it: (ca.crt, server.crt, server.key)."""
    top = Path(top)
    ca_key, ca_crt = top / "ca.key", top / "ca.crt"
    key, csr, crt = top / "server.key", top / "server.csr", top / "server.crt"
    ext = top / "san.ext"
    ext.write_text(f"subjectAltName=IP:{host},DNS:localhost\n")

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca_crt), "-days", "2", "-subj", "/CN=skiff test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={host}")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(crt), "-days", "2", "-extfile", str(ext))
    # a client identity signed by the same CA (for registries that ask for one)
    ckey, ccsr, ccrt = top / "client.key", top / "client.csr", top / "client.cert"
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ckey), "-out", str(ccsr),
        "-subj", "/CN=skiff test client")
    run("x509", "-req", "-in", str(ccsr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(ccrt), "-days", "2")
    return ca_crt, crt, key


CA_CONFIG = """[ca]
default_ca = ca_default
[ca_default]
database = {db}/index.txt
new_certs_dir = {db}
serial = {db}/serial
default_md = sha256
policy = policy_any
[policy_any]
commonName = supplied
"""


def make_server_cert(ca_dir, out_dir, san, valid=None, cn="skiff test server"):
    """A server certificate signed by make_ca's CA in ca_dir, as out_dir/server.crt and
    server.key: san is its subjectAltName ("DNS:a,IP:192.0.2.9"; None for a certificate with
    none, named by its CN alone), valid its (start, end) as openssl ca takes them
    ("20200101000000Z"), else two days from now."""
    ca_dir, out_dir = Path(ca_dir), Path(out_dir)
    db = out_dir / "ca-db"
    db.mkdir(parents=True)
    (db / "index.txt").write_text("")
    (db / "serial").write_text("1000\n")
    (db / "ca.cnf").write_text(CA_CONFIG.format(db=db))
    # without a SAN, still a v3 certificate (as those in the wild are)
    (db / "san.ext").write_text(f"subjectAltName={san}\n" if san else
                                "basicConstraints=CA:FALSE\n")
    key, csr, crt = out_dir / "server.key", db / "server.csr", out_dir / "server.crt"

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={cn}")
    dates = ["-startdate", valid[0], "-enddate", valid[1]] if valid else ["-days", "2"]
    run("ca", "-batch", "-notext", "-config", str(db / "ca.cnf"), "-cert",
        str(ca_dir / "ca.crt"), "-keyfile", str(ca_dir / "ca.key"), "-in", str(csr),
        "-out", str(crt), "-extfile", str(db / "san.ext"), *dates)
    return crt, key


def bcrypt_htpasswd(path, user, password):
    """An htpasswd line with a bcrypt hash (what docker-registry accepts)."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd:
        subprocess.run([htpasswd, "-Bbc", str(path), user, password], check=True,
                       capture_output=True)
        return
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    Path(path).write_text(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")


class Registry:
    """docker-registry serving from a private directory on 127.0.0.1:<free port>."""

    def __init__(self, top, tls=False, auth=None, client_certs=False, token=None):
        self.top = Path(top)
        self.top.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        self.auth = auth  # (user, password) or None
        self.proc = None
        self.ca = None
        self.client_certs = client_certs  # require a client certificate signed by the CA
        self.token = token  # a TokenServer: Bearer tokens instead of Basic auth

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self):
        cfg = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
               f"    rootdirectory: {self.top / 'data'}", "  delete:", "    enabled: true",
               "http:", f"  addr: {self.host}"]
        if self.tls:
            self.ca, crt, key = make_ca(self.top)
            cfg += ["  tls:", f"    certificate: {crt}", f"    key: {key}"]
            if self.client_certs:
                cfg += ["    clientcas:", f"      - {self.ca}"]
        if self.auth:
            bcrypt_htpasswd(self.top / "htpasswd", *self.auth)
            cfg += ["auth:", "  htpasswd:", "    realm: skiff-test",
                    f"    path: {self.top / 'htpasswd'}"]
        if self.token:
            cfg += self.token.registry_config()
        (self.top / "config.yml").write_text("\n".join(cfg) + "\n")
        self.log = open(self.top / "registry.log", "ab")
        self.proc = subprocess.Popen([REGISTRY, "serve", str(self.top / "config.yml")],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/v2/")
                return self
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return self
            except (urllib.error.URLError, ConnectionError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited: " +
                                   (self.top / "registry.log").read_text()[-2000:])
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    # ---- the distribution API, with urllib ----

    def request(self, method, path, data=None, headers=None):
        req = urllib.request.Request(self.url + path if path.startswith("/") else path,
                                     data=data, method=method, headers=headers or {})
        if self.auth:
            import base64
            token = base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        ctx = None
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.ca))
            if self.client_certs:
                ctx.load_cert_chain(str(self.top / "client.cert"), str(self.top / "client.key"))
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def put_blob(self, repo, data):
        digest = sha256(data)
        _, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        loc = headers["Location"]
        if loc.startswith("/"):
            loc = self.url + loc
        sep = "&" if "?" in loc else "?"
        self.request("PUT", f"{loc}{sep}digest={digest}", data=data,
                     headers={"Content-Type": "application/octet-stream"})
        return digest

    def put_manifest(self, repo, ref, doc, media_type):
        body = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", data=body,
                     headers={"Content-Type": media_type})
        return sha256(body)

    def get_manifest(self, repo, ref, accept=MEDIA_DOCKER_MANIFEST + "," + MEDIA_OCI_MANIFEST):
        _, headers, body = self.request("GET", f"/v2/{repo}/manifests/{ref}",
                                        headers={"Accept": accept})
        return headers.get("Content-Type"), body

    def push_image(self, repo, ref, layers, arch="amd64", os_name="linux", variant=None,
                   config_extra=None, oci=True):
        """Upload an image made of layers [(compressed bytes, media type, uncompressed
        bytes)]; returns (manifest digest, manifest descriptor for an index)."""
        diff_ids = [sha256(raw) for _, _, raw in layers]
        config = {"architecture": arch, "os": os_name,
                  "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "history": [{"created": "2024-01-01T00:00:00Z"} for _ in layers]}
        if variant:
            config["variant"] = variant
        config.update(config_extra or {})
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = self.put_blob(repo, config_bytes)
        descs = []
        for blob, media, _ in layers:
            descs.append({"mediaType": media, "digest": self.put_blob(repo, blob),
                          "size": len(blob)})
        mtype = MEDIA_OCI_MANIFEST if oci else MEDIA_DOCKER_MANIFEST
        manifest = {"schemaVersion": 2, "mediaType": mtype,
                    "config": {"mediaType": MEDIA_OCI_CONFIG if oci else
                               "application/vnd.docker.container.image.v1+json",
                               "digest": config_digest, "size": len(config_bytes)},
                    "layers": descs}
        body = json.dumps(manifest).encode()
        digest = self.put_manifest(repo, ref, body, mtype)
        plat = {"architecture": arch, "os": os_name}
        if variant:
            plat["variant"] = variant
        return digest, {"mediaType": mtype, "digest": digest, "size": len(body),
                        "platform": plat}, config_digest


def tar_layer(files, compress="gzip"):
    """A layer tar of files {path: bytes}: (blob, media type, uncompressed tar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o755
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(content))
    raw = buf.getvalue()
    if compress == "gzip":
        return gzip.compress(raw, mtime=0), MEDIA_OCI_LAYER + "+gzip", raw
    if compress == "zstd":
        blob = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                              check=True).stdout
        return blob, MEDIA_OCI_LAYER + "+zstd", raw
    return raw, MEDIA_OCI_LAYER, raw


def docker_archive(path, raws, tag):
    """A docker-archive (as `docker save` writes it) at path of an image made of the
    uncompressed layer tars raws, tagged tag."""
    diff_ids = [sha256(raw) for raw in raws]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created": "2024-01-01T00:00:00Z"} for _ in raws]}
                        ).encode()
    config_name = sha256(config)[7:] + ".json"
    names = [f"{d[7:]}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": names}]).encode()
    with tarfile.open(path, "w") as t:
        for name, data in [(config_name, config), *zip(names, raws),
                           ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            t.addfile(info, io.BytesIO(data))


def busybox_layer(rootfs):
    """The busybox rootfs as a gzip layer."""
    raw = subprocess.run(["tar", "-C", str(rootfs), "-cf", "-", "."], capture_output=True,
                         check=True).stdout
    return gzip.compress(raw, compresslevel=1, mtime=0), MEDIA_OCI_LAYER + "+gzip", raw


class FakeRegistry:
    """A minimal registry on loopback serving fixed blobs and manifests by path; blobs may
    be served with other bytes than their digest says, or slowly."""

    def __init__(self):
        self.blobs = {}      # digest -> bytes served
        self.manifests = {}  # (repo, ref) -> (media type, bytes)
        self.slow = {}       # digest -> seconds to sleep between 64 KiB chunks
        self.started = threading.Event()  # a slow blob began streaming
        self.cut = False  # slow blobs stop halfway and their connection closes
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, code, body=b"", ctype="application/json", extra=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self):
                parts = self.path.split("/")
                if self.path == "/v2/":
                    return self.send(200, b"{}")
                if "manifests" in parts:
                    i = parts.index("manifests")
                    key = ("/".join(parts[2:i]), parts[i + 1])
                    if key in outer.manifests:
                        mtype, body = outer.manifests[key]
                        return self.send(200, body, mtype,
                                         {"Docker-Content-Digest": sha256(body)})
                elif "blobs" in parts:
                    digest = parts[-1]
                    if digest in outer.blobs:
                        return self.send_blob(digest, outer.blobs[digest])
                self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}')

            do_HEAD = do_GET

            def send_blob(self, digest, body):
                delay = outer.slow.get(digest)
                if not delay:
                    return self.send(200, body, "application/octet-stream")
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    for off in range(0, len(body), 65536):
                        if outer.cut and off >= len(body) // 2:
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.write(body[off:off + 65536])
                        self.wfile.flush()
                        outer.started.set()
                        time.sleep(delay)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_image(self, repo, tag, layers, served=None):
        """layers as tar_layer gives them; served: {index: bytes} to serve instead of the
        real blob of that layer. Returns (manifest digest, [layer digests])."""
        diff_ids = [sha256(raw) for _, _, raw in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": ["sh"]},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        self.blobs[sha256(config)] = config
        descs = []
        for i, (blob, media, _) in enumerate(layers):
            digest = sha256(blob)
            self.blobs[digest] = (served or {}).get(i, blob)
            descs.append({"mediaType": media, "digest": digest, "size": len(blob)})
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
                               "config": {"mediaType": MEDIA_OCI_CONFIG,
                                          "digest": sha256(config), "size": len(config)},
                               "layers": descs}).encode()
        self.manifests[(repo, tag)] = (MEDIA_OCI_MANIFEST, manifest)
        return sha256(manifest), [d["digest"] for d in descs]


def store_files(data_root):
    """Every file and directory under a skiffd data-root that belongs to the image store, as
    relative paths (for checking that nothing stray is left)."""
    out = set()
    for sub in ("blobs", "layers", "images", "tmp", "distribution"):
        base = Path(data_root) / sub
        if not base.exists():
            continue
        for p in base.rglob("*"):
            rel = p.relative_to(data_root)
            # only the top of each layer: its diff/ is the image's content
            if rel.parts[0] == "layers" and len(rel.parts) > 2:
                continue
            out.add(str(rel))
    return out


class TokenServer:
    """A token server for a registry with `auth: token`: the Bearer flow docker uses
    with Docker Hub. Hands out RS256 JWTs (signed with openssl, the certificate in the x5c
    header) granting what the scope asks to holders of (user, password); anonymous
    requests get pull only. Records the scopes it was asked for."""

    def __init__(self, top, user, password, service="skiff-test"):
        self.top = Path(top)
        self.top.mkdir(parents=True, exist_ok=True)
        self.user, self.password, self.service = user, password, service
        self.issuer = "skiff-test-issuer"
        self.key, self.cert = self.top / "token.key", self.top / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(self.key), "-out", str(self.cert), "-days", "2", "-subj",
                        "/CN=skiff token signer"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        import base64
        self.x5c = base64.b64encode(der).decode()
        self.scopes = []
        self.port = free_port()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                import base64
                import urllib.parse
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                ok = auth == "Basic " + base64.b64encode(
                    f"{outer.user}:{outer.password}".encode()).decode()
                if auth and not ok:
                    body = b'{"details":"incorrect username or password"}'
                    self.send_response(401)
                else:
                    scopes = q.get("scope", [])
                    outer.scopes.append((bool(auth), scopes))
                    body = json.dumps({"token": outer.jwt(scopes, ok)}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def realm(self):
        return f"http://127.0.0.1:{self.port}/token"

    def jwt(self, scopes, authenticated):
        import base64

        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":") if scope.count(":") == 2 else \
                (scope.split(":")[0], ":".join(scope.split(":")[1:-1]), scope.split(":")[-1])
            allowed = actions.split(",") if authenticated else \
                [a for a in actions.split(",") if a == "pull"]
            access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": self.user if authenticated else "",
                  "aud": self.service, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": os.urandom(8).hex(), "access": access}
        signing_input = (b64(json.dumps(header).encode()) + "." +
                         b64(json.dumps(claims).encode())).encode()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input, check=True, capture_output=True).stdout
        return signing_input.decode() + "." + b64(sig)

    def registry_config(self):
        return ["auth:", "  token:", f"    realm: {self.realm}",
                f"    service: {self.service}", f"    issuer: {self.issuer}",
                f"    rootcertbundle: {self.cert}"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class UploadProxy:
    """A loopback HTTP proxy in front of a plain-HTTP registry, for what a push or pull
    does in time: it records every request as (method, path, start, end), can hold each
    PATCH (a blob chunk) for `hold` seconds before passing it on (each GET of a blob for
    `hold_blob_get`), and can cut the upload that
    the nth PATCH (counted from 1) belongs to: read half the body of each of its PATCHes
    (a client may retry one on a new connection), then close without an answer.
    Clients name the proxy's host; the Host header is passed on as it is, so that the
    registry's Location headers point back to the proxy."""

    def __init__(self, upstream_port, hold=0.0, cut_patch=None, hold_blob_get=0.0):
        self.upstream_port = upstream_port
        self.hold, self.cut_patch = hold, cut_patch
        self.hold_blob_get = hold_blob_get  # seconds each GET of a blob is held (pulls)
        self.events = []  # (method, path, start, end), in order of ending
        self.cut_at = None  # monotonic time of the cut
        self.lock = threading.Lock()
        self.patches = 0
        self.cut_sessions = set()  # upload sessions whose every PATCH is cut
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                start = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                session = self.path.split("?")[0]
                patch = self.command == "PATCH"
                if patch:
                    with outer.lock:
                        outer.patches += 1
                        if outer.patches == outer.cut_patch:
                            outer.cut_sessions.add(session)
                if patch and session in outer.cut_sessions:
                    self.rfile.read(length // 2)
                    outer.cut_at = time.monotonic()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(length) if length else None
                if patch:
                    time.sleep(outer.hold)
                if self.command == "GET" and "/blobs/" in session:
                    time.sleep(outer.hold_blob_get)
                conn = http.client.HTTPConnection("127.0.0.1", outer.upstream_port,
                                                  timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "transfer-encoding")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding",
                                         "content-length"):
                        self.send_header(k, v)
                # a HEAD's Content-Length is the blob's size
                size = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", size or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()
                with outer.lock:
                    outer.events.append((self.command, self.path.split("?")[0], start,
                                         time.monotonic()))

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = relay

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up on a held request: nothing to tell

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def most_at_once(self, method, path_part=""):
        """The most requests of method (on paths with path_part) that were in the proxy at
        the same time."""
        spans = [(s, e) for m, p, s, e in self.events if m == method and path_part in p]
        edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
        most = now = 0
        for _, step in edges:
            now += step
            most = max(most, now)
        return most
