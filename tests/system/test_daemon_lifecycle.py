"""Starting and stopping skiffd: its configuration, its sockets, its lock and pid file,
and the refusals (a second daemon, a bad daemon.json, tcp without TLS)."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from daemon import CURL, DOCKER, SKIFFD, free_port, new_skiffd  # noqa: F401  (fixture)


def test_sigterm_removes_socket_and_pidfile_and_exits_zero(new_skiffd):
    d = new_skiffd().start()
    assert d.pidfile.read_text().strip() == str(d.pid)
    assert d.stop(signal.SIGTERM) == 0
    assert not d.sock.exists()
    assert not d.pidfile.exists()


def test_sigint_stops_it_as_well(new_skiffd):
    d = new_skiffd().start()
    assert d.stop(signal.SIGINT) == 0
    assert not d.sock.exists()


def test_socket_is_mode_0660(new_skiffd):
    d = new_skiffd().start()
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660


def test_default_socket_is_in_the_exec_root(new_skiffd):
    d = new_skiffd()
    d.start(hosts=[])
    assert d.sock.exists()  # <exec-root>/skiff.sock
    assert d.curl("/_ping").stdout == "OK"


def test_second_daemon_on_the_same_data_root_is_refused(new_skiffd):
    first = new_skiffd().start()
    second = new_skiffd(data_root=first.data)
    res = second.run()
    assert res.returncode != 0
    assert "already running" in res.stderr and str(first.data) in res.stderr
    assert first.curl("/_ping").stdout == "OK"
    assert first.pidfile.exists()


def test_socket_of_a_live_daemon_is_not_taken_over(new_skiffd):
    first = new_skiffd().start()
    second = new_skiffd()
    res = second.run(hosts=[f"unix://{first.sock}"])
    assert res.returncode != 0
    assert "in use" in res.stderr
    assert first.curl("/_ping").stdout == "OK"


def test_stale_socket_of_a_dead_daemon_is_replaced(new_skiffd):
    d = new_skiffd()
    d.exec_root.mkdir(parents=True)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(d.sock))
    s.close()  # the file stays, nobody listens
    d.start()
    assert d.curl("/_ping").stdout == "OK"


def test_malformed_daemon_json_is_refused_naming_file_and_line(new_skiffd):
    d = new_skiffd()
    d.config.write_text('{\n  "debug": true,\n  oops\n}\n')
    res = d.run()
    assert res.returncode == 1
    assert str(d.config) in res.stderr and "line 3" in res.stderr
    assert not d.sock.exists()


def test_wrong_type_in_daemon_json_names_the_key(new_skiffd):
    d = new_skiffd()
    d.config.write_text('{"hosts": "unix:///tmp/x.sock"}')
    res = d.run(hosts=[])
    assert res.returncode == 1
    assert "hosts" in res.stderr and str(d.config) in res.stderr


def test_missing_config_file_named_on_the_command_line_is_refused(new_skiffd):
    d = new_skiffd()
    d.config.unlink()
    res = d.run()
    assert res.returncode == 1 and str(d.config) in res.stderr


def test_setting_given_as_flag_and_in_file_is_refused(new_skiffd):
    d = new_skiffd()
    d.config.write_text(json.dumps({"data-root": str(d.top / "other")}))
    res = d.run()
    assert res.returncode == 1
    assert "data-root" in res.stderr and "from flag" in res.stderr


def test_daemon_json_supplies_roots_and_hosts(new_skiffd):
    d = new_skiffd()
    d.config.write_text(json.dumps({"data-root": str(d.data), "exec-root": str(d.exec_root),
                                    "hosts": [f"unix://{d.sock}"]}))
    d.start(argv=[SKIFFD, "--config-file", str(d.config)])
    status, info = d.get_json("/info")
    assert info["DockerRootDir"] == str(d.data)
    assert d.pidfile.read_text().strip() == str(d.pid)


def test_unknown_flag_exits_1_with_a_hint(new_skiffd):
    res = subprocess.run([SKIFFD, "--no-such-flag"], capture_output=True, text=True)
    assert res.returncode == 1
    assert "--no-such-flag" in res.stderr and "--help" in res.stderr


def test_plain_tcp_is_refused(new_skiffd):
    d = new_skiffd()
    res = d.run(hosts=[f"tcp://127.0.0.1:{free_port()}"])
    assert res.returncode == 1
    assert "TLS" in res.stderr and "--insecure-tcp" in res.stderr


def test_insecure_tcp_serves_with_a_warning(new_skiffd):
    d = new_skiffd()
    port = free_port()
    d.start("--insecure-tcp", hosts=[f"unix://{d.sock}", f"tcp://127.0.0.1:{port}"])
    assert "WITHOUT TLS" in d.log_text()
    res = subprocess.run([CURL, "-s", f"http://127.0.0.1:{port}/_ping"], capture_output=True,
                         text=True, timeout=10)
    assert res.stdout == "OK"
    # skiff's own CLI over tcp, with docker's address forms.
    skiff = os.path.join(os.path.dirname(SKIFFD), "skiff")
    for host in (f"tcp://127.0.0.1:{port}", f"127.0.0.1:{port}", f"tcp://127.0.0.1:{port}/"):
        res = subprocess.run([skiff, "-H", host, "version", "--format", "{{.Server.Os}}"],
                             capture_output=True, text=True, timeout=10)
        assert (res.returncode, res.stdout) == (0, "linux\n"), (host, res.stderr)
    res = subprocess.run([skiff, "-H", f"tcp://127.0.0.1:{free_port()}", "ps"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1 and "Cannot connect to the skiff daemon" in res.stderr


@pytest.fixture
def certs(tmp_path):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out",
        "ca.pem", "-days", "2", "-subj", "/CN=skiff test CA")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        (tmp_path / f"{name}.ext").write_text(ext)
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", f"{name}-cert.pem", "-days", "2", "-extfile",
            f"{name}.ext")
    client = tmp_path / "client"
    client.mkdir()
    shutil.copy(tmp_path / "ca.pem", client / "ca.pem")
    shutil.copy(tmp_path / "client-cert.pem", client / "cert.pem")
    shutil.copy(tmp_path / "client-key.pem", client / "key.pem")
    return tmp_path


def test_tlsverify_serves_clients_with_a_signed_certificate(new_skiffd, certs):
    d = new_skiffd()
    port = free_port()
    d.start("--tlsverify", "--tlscacert", certs / "ca.pem", "--tlscert",
            certs / "server-cert.pem", "--tlskey", certs / "server-key.pem",
            hosts=[f"unix://{d.sock}", f"tcp://127.0.0.1:{port}"])
    if DOCKER is None:
        pytest.skip("the docker CLI is not installed")
    env = dict(d.docker_env, DOCKER_HOST=f"tcp://127.0.0.1:{port}", DOCKER_TLS_VERIFY="1",
               DOCKER_CERT_PATH=str(certs / "client"))
    res = d.docker("version", "--format", "{{.Server.APIVersion}}", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "1.47"


def test_tlsverify_refuses_clients_without_a_certificate(new_skiffd, certs):
    d = new_skiffd()
    port = free_port()
    d.start("--tlsverify", "--tlscacert", certs / "ca.pem", "--tlscert",
            certs / "server-cert.pem", "--tlskey", certs / "server-key.pem",
            hosts=[f"unix://{d.sock}", f"tcp://127.0.0.1:{port}"])
    res = subprocess.run([CURL, "-s", "--cacert", str(certs / "ca.pem"),
                          f"https://127.0.0.1:{port}/_ping"], capture_output=True, text=True,
                         timeout=10)
    assert "certificate" in json.loads(res.stdout)["message"]
